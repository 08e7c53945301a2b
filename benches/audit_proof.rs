//! Access-log proof benchmarks (issue 13): how long `tandem audit verify`
//! takes over one practice's chain of 1,000,000 events, and how long the CSV
//! export of those events takes and how much memory it holds at its peak,
//! on SQLite and PostgreSQL.
//!
//! Run: `cargo bench --bench audit_proof` (PostgreSQL needs
//! `TANDEM_TEST_POSTGRES_URL`, as the tests do). `BENCH_EVENTS` changes the
//! number of events (default 1,000,000).

#[path = "support/counting.rs"]
mod counting;
#[path = "support/postgres.rs"]
mod postgres;
#[path = "support/state.rs"]
mod state;

use std::{sync::atomic::Ordering, time::Instant};

use futures_util::TryStreamExt;

fn events() -> usize {
    std::env::var("BENCH_EVENTS").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000)
}

fn event(practice_id: uuid::Uuid, member: uuid::Uuid, i: usize) -> tandem::audit::NewEvent {
    tandem::audit::NewEvent {
        practice_id,
        occurred_at: time::OffsetDateTime::now_utc(),
        member_id: Some(member),
        role: "care_team".into(),
        action: "view".into(),
        record_kind: Some("note".into()),
        record_id: Some(uuid::Uuid::now_v7()),
        couple_id: Some(uuid::Uuid::now_v7()),
        outcome: "success".into(),
        status: 200,
        client_addr: Some("198.51.100.7".into()),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0".into()),
        request_id: Some(uuid::Uuid::now_v7().to_string()),
        reason: i.is_multiple_of(1000).then(|| "=HYPERLINK(\"x\")".to_owned()),
        emergency: false,
        detail: None,
    }
}

async fn run(name: &str, url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let config = tandem::config::Config {
        database_url: tandem::config::Secret::new(url.to_owned()),
        audit_journal_file: Some(dir.path().join("audit-journal.jsonl")),
        ..Default::default()
    };
    let state = state::connected(config).await;
    state.journal.create_if_missing().unwrap();
    let (practice, _) = tandem::practice::setup::create_from_cli(
        &state,
        tandem::practice::setup::NewPractice { name: "Bench".into(), slug: "bench".into(), time_zone: "UTC".into() },
        tandem::practice::Email::parse("admin@bench.example").unwrap(),
    )
    .await
    .unwrap();
    // Fifty members' reads, appended through the chain in batches of 5,000,
    // with a checkpoint every 100,000 events.
    let members: Vec<uuid::Uuid> = (0..50).map(|_| uuid::Uuid::now_v7()).collect();
    let started = Instant::now();
    let n = events();
    let mut done = 0;
    while done < n {
        let batch: Vec<_> = (done..(done + 5_000).min(n)).map(|i| event(practice.id.uuid(), members[i % 50], i)).collect();
        done += batch.len();
        tandem::audit::record(&state.db, &batch).await.unwrap();
        if done.is_multiple_of(100_000) || done == n {
            tandem::audit::checkpoint(&state, practice.id).await.unwrap();
        }
    }
    println!("\n{name}: {n} events appended through the chain in {:.1}s", started.elapsed().as_secs_f64());

    let key = state.checkpoint_key.verifying();
    let t = Instant::now();
    let results = tandem::audit::verify_chains(&state.db, &key, &state.journal, Some("bench")).await.unwrap();
    let verify_seconds = t.elapsed().as_secs_f64();
    let v = &results[0].1;
    assert!(v.ok(), "{v:?}");

    let scope = tandem::scope::PracticeScope::for_benchmarks(practice.id);
    let before = counting::reset_peak();
    let t = Instant::now();
    let (bytes, lines) = tandem::audit::review::csv(state.db.clone(), scope, Default::default())
        .try_fold((0usize, 0usize), |(b, l), chunk| async move { Ok((b + chunk.len(), l + chunk.iter().filter(|c| **c == b'\n').count())) })
        .await
        .unwrap();
    let export_seconds = t.elapsed().as_secs_f64();
    let peak = counting::PEAK.load(Ordering::Relaxed) - before;
    assert!(lines > n, "{lines} lines for {n} events");
    println!("| database | events | verify (s) | checkpoints | export (s) | export size (MB) | export peak heap (MiB) |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {name} | {} | {verify_seconds:.1} | {} | {export_seconds:.1} | {:.0} | {:.1} |",
        v.events_checked,
        v.checkpoints_checked,
        bytes as f64 / 1e6,
        peak as f64 / 1048576.0
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        run("SQLite", &format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display())).await;
        let name = "tandem_bench_proof";
        let Some((admin, url)) = postgres::fresh(name).await else { return };
        run("PostgreSQL", &url).await;
        postgres::drop(&admin, name).await;
    });
}
