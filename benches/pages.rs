//! Page benchmarks (issue 15): the couple page (HTML), the API's couple
//! overview, the session-prep PDF and a counselor's dashboard with 200
//! couples, all audited, at 64 concurrent clients, with latency percentiles,
//! next to each database's one-row insert ceiling measured in the same run
//! (pgbench with a one-INSERT script on PostgreSQL, a tight commit loop on
//! SQLite), the SQL statements each request makes, and the CPU each costs
//! (this process, which serves and loads, and PostgreSQL's processes).
//!
//! Run: `TANDEM_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench pages`
//! (without the variable only SQLite runs). `BENCH_SECONDS` sets each
//! measurement's length (default 3), `BENCH_CLIENTS` the concurrency (default 64),
//! `BENCH_OVERVIEW_CACHE_ENTRIES=0` turns off keeping couple reads in memory
//! (every request then reads its records from the database).

/// The allocator of the `tandem` binary (src/main.rs), so the service here
/// allocates as it does in production.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "support/postgres.rs"]
mod postgres;
#[path = "support/state.rs"]
mod state;
#[path = "support/ceiling.rs"]
mod ceiling;
#[path = "support/load.rs"]
mod load;
// Only part of it.
#[allow(dead_code)]
#[path = "support/cpu.rs"]
mod cpu;

use load::{Auth, api, clients, join, load, request, seconds, send, sign_in, statements, token};

use std::sync::{Arc, atomic::AtomicU64};

use sea_orm::{ConnectionTrait, Database};
use serde_json::json;

struct Fixture {
    router: axum::Router,
    statements: Arc<AtomicU64>,
    couple: uuid::Uuid,
    /// Casey, the demo's counselor, signed in to pages.
    cookie: Auth,
    token: Auth,
    /// A second counselor with 200 couples, for the dashboard.
    busy_cookie: Auth,
}

async fn fixture(url: &str) -> Fixture {
    let (router, statements, demo) = state::demo(url).await;
    let casey = demo.accounts.iter().find(|a| a.role == "counselor").unwrap();
    let admin = demo.accounts.iter().find(|a| a.role == "admin").unwrap();
    let cookie = sign_in(&router, casey.email, &casey.password).await;
    let admin_cookie = sign_in(&router, admin.email, &admin.password).await;
    let token_casey = token(&router, &cookie).await;
    let admin_token = token(&router, &admin_cookie).await;

    // A second counselor with 200 couples, each with a session next week.
    let busy_cookie = join(&router, &admin_token, "busy@riverside.example", &["counselor"], "Blair Busy").await;
    let busy_token = token(&router, &busy_cookie).await;
    let next_week = time::OffsetDateTime::now_utc() + time::Duration::days(7);
    let fmt = |t: time::OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).unwrap();
    for i in 0..200 {
        let couple = api(&router, &busy_token, "POST", "/api/v1/couples", json!({
            "label": format!("Couple {i}"), "status": "active", "secrets_policy": "no_secrets", "care_started_on": "2026-01-05",
            "partner_a": {"recovery_role": "in_recovery", "full_name": format!("A {i}")},
            "partner_b": {"recovery_role": "supporting", "full_name": format!("B {i}")}
        }))
        .await;
        let id = couple["id"].as_str().unwrap();
        api(&router, &busy_token, "POST", &format!("/api/v1/couples/{id}/sessions"), json!({
            "starts_at": fmt(next_week + time::Duration::minutes(i)), "ends_at": fmt(next_week + time::Duration::minutes(i + 50)),
            "kind": "joint", "modality": "behavioral_couples_therapy"
        }))
        .await;
    }
    let couple = demo_couple(&router, &token_casey).await;
    // Statistics as autovacuum keeps them on a database in use: just after
    // the 200 couples arrive the planner still takes their tables for empty.
    if url.starts_with("postgres") {
        Database::connect(url).await.unwrap().execute_unprepared("ANALYZE").await.unwrap();
    }
    Fixture { router, statements, couple, cookie, token: token_casey, busy_cookie }
}

async fn demo_couple(router: &axum::Router, token: &Auth) -> uuid::Uuid {
    let (_, _, body) = send(router, request("GET", "/api/v1/couples", token, None)).await;
    let list: serde_json::Value = serde_json::from_slice(&body).unwrap();
    list["items"][0]["id"].as_str().unwrap().parse().unwrap()
}

async fn run(name: &str, url: &str, ceiling: f64) {
    let f = fixture(url).await;
    let c = clients();
    let couple = f.couple;
    let cases = [
        ("couple page (HTML)", format!("/couples/{couple}"), f.cookie.clone()),
        // The couple with partners and care team (what the issue first measured).
        ("API couple, GET /couples/{id}", format!("/api/v1/couples/{couple}"), f.token.clone()),
        // Everything the couple page shows, as JSON: the read model itself.
        ("API couple overview, GET /couples/{id}/overview", format!("/api/v1/couples/{couple}/overview"), f.token.clone()),
        ("session-prep PDF", format!("/api/v1/couples/{couple}/summary.pdf"), f.token.clone()),
        ("dashboard, 200 couples", "/dashboard".to_owned(), f.busy_cookie.clone()),
    ];
    println!("\n{name}, {c} clients, {}s each, audited; insert ceiling {ceiling:.0} tx/s", seconds().as_secs());
    println!("| request | per second | / insert ceiling | p50 (ms) | p95 (ms) | p99 (ms) | SQL statements per request | CPU ms per request: Tandem and load / PostgreSQL |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    // `BENCH_ONLY=dashboard` measures only the requests whose name contains it.
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    for (what, path, auth) in cases.into_iter().filter(|(what, _, _)| what.contains(only.as_str())) {
        let sql = statements(&f.router, &f.statements, &path, &auth).await;
        // CPU the requests cost, whatever else the machine did meanwhile
        // (PostgreSQL's share on SQLite is the idle server's).
        let (ours, postgres) = cpu::ours_and_postgres();
        let m = load(&f.router, &path, &auth, c).await;
        let (ours_after, postgres_after) = cpu::ours_and_postgres();
        let per_request = |seconds: f64| seconds * 1000.0 / m.requests.max(1) as f64;
        println!(
            "| {what} | {:.0} | {:.2} | {:.1} | {:.1} | {:.1} | {sql:.1} | {:.3} / {:.3} |",
            m.per_second,
            m.per_second / ceiling,
            m.p50,
            m.p95,
            m.p99,
            per_request(ours_after - ours),
            per_request(postgres_after - postgres)
        );
    }
    // The dashboard alone, one request at a time: its own cost.
    if "dashboard".contains(only.as_str()) {
        let m = load(&f.router, "/dashboard", &f.busy_cookie, 1).await;
        println!("| dashboard, 200 couples, 1 client | {:.0} | | {:.1} | {:.1} | {:.1} | |", m.per_second, m.p50, m.p95, m.p99);
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display());
        let ceiling_db = format!("sqlite://{}?mode=rwc", dir.path().join("ceiling.db").display());
        // `BENCH_DATABASES=postgres` skips SQLite.
        if std::env::var("BENCH_DATABASES").map_or(true, |d| d.contains("sqlite")) {
            let ceiling = ceiling::sqlite(&ceiling_db, clients().min(16), seconds()).await;
            run("SQLite (WAL, synchronous=FULL)", &sqlite, ceiling).await;
        }

        let name = "tandem_bench_pages";
        let Some((admin, pg)) = postgres::fresh(name).await else { return };
        let db = Database::connect(pg.clone()).await.unwrap();
        db.execute_unprepared("CREATE TABLE bench_ceiling (x INTEGER)").await.unwrap();
        let ceiling = ceiling::pgbench(&pg, clients(), seconds()).unwrap_or(f64::NAN);
        run("PostgreSQL", &pg, ceiling).await;
        db.close().await.unwrap();
        postgres::drop(&admin, name).await;
    });
}
