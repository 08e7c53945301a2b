//! Access-log benchmarks (issue: access log).
//!
//! 1. Audited read throughput: `GET /api/v1/couples/{id}` (a couple overview)
//!    with and without the events of reads, at 1, 16 and 64 concurrent
//!    clients, on SQLite and PostgreSQL, next to each database's own ceiling
//!    for one-row insert transactions measured in the same run (a tight
//!    commit loop for SQLite; pgbench with a one-INSERT script for PostgreSQL).
//! 2. Supervisor queries over 1,000,000 events on PostgreSQL: p95 of a filter
//!    by member and month.
//!
//! The unaudited baseline is not a mode of Tandem: no setting or library
//! call turns the access log off. The benchmark mounts a handler of its own
//! ([`unaudited_router`]) that does what the API's `get_couple` does (the
//! same extractor, `access::couple`, `couples::view`, the same HTTP layers
//! through `tandem::http::wrap`) on a route without the access-log layer, so
//! the difference between the two columns is the audit and nothing else.
//!
//! Run: `cargo bench --bench audit` (PostgreSQL parts need
//! `TANDEM_TEST_POSTGRES_URL`, as the tests do; `tests/run` sets it up).
//! `BENCH_SECONDS` sets each measurement's length (default 3), `BENCH_ROUNDS`
//! how many alternating rounds of audited and unaudited are run (default 3;
//! the median of each side is reported).

#[path = "support/postgres.rs"]
mod postgres;
#[path = "support/state.rs"]
mod state;
#[path = "support/ceiling.rs"]
mod ceiling;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{body::Body, http::Request};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, EntityTrait};
use tower::ServiceExt;

fn seconds() -> Duration {
    Duration::from_secs(std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3))
}

/// Rounds of each measurement (`BENCH_ROUNDS`, default 3); the median counts.
fn rounds() -> usize {
    std::env::var("BENCH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3).max(1)
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

struct Fixture {
    state: tandem::state::AppState,
    couple: uuid::Uuid,
    token: String,
}

async fn fixture(url: &str) -> Fixture {
    let config = tandem::config::Config {
        database_url: tandem::config::Secret::new(url.to_owned()),
        database_max_connections: 16,
        ..Default::default()
    };
    let state = state::connected(config).await;
    tandem::demo::load(&state).await.expect("demo data");
    let couple = entity::couples::Entity::find().one(&state.db).await.unwrap().unwrap();
    let counselor = entity::members::Entity::find()
        .all(&state.db)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.roles == "counselor")
        .unwrap();
    let token = tandem::auth::tokens::create(
        &state.db,
        tandem::scope::PracticeScope::for_benchmarks(counselor.practice_id),
        counselor.id,
        "bench".into(),
        30,
        time::OffsetDateTime::now_utc(),
    )
    .await
    .unwrap()
    .secret;
    Fixture { state, couple: couple.id.uuid(), token }
}

/// The baseline: `GET /api/v1/couples/{id}` as the API serves it, minus
/// the access log. The handler is the benchmark's own copy of the API's
/// (which is private to Tandem's router and always wrapped by the access
/// log); the offline context is the one `tandem demo` uses for work done
/// outside a request, so no event is stored for it.
fn unaudited_router(state: tandem::state::AppState) -> axum::Router {
    use axum::{
        extract::{Path, State},
        http::header,
        response::IntoResponse,
    };
    use tandem::{access, audit::AuditContext, auth::CurrentMember, records};

    async fn get_couple(
        State(state): State<tandem::state::AppState>,
        current: CurrentMember,
        Path(couple_id): Path<uuid::Uuid>,
    ) -> Result<axum::response::Response, tandem::error::AppError> {
        let access = access::couple(&state, &AuditContext::offline(), &current, couple_id, access::Need::Read).await?;
        let view = records::couples::view(&access).await?;
        let etag = records::common::etag(records::common::Versioned::version(&view));
        Ok(([(header::ETAG, etag)], axum::Json(view)).into_response())
    }

    let routes = axum::Router::new().route("/api/v1/couples/{couple_id}", axum::routing::get(get_couple));
    tandem::http::wrap(routes, state, tandem::web::error_page)
}

/// Requests per second at `clients` concurrent clients.
async fn throughput(router: axum::Router, path: &str, token: &str, clients: usize) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + seconds();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (router, path, token, done) = (router.clone(), path.to_owned(), token.to_owned(), done.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let req = Request::get(&path).header("authorization", format!("Bearer {token}")).body(Body::empty()).unwrap();
                let res = router.clone().oneshot(req).await.unwrap();
                assert!(res.status().is_success(), "{}", res.status());
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / seconds().as_secs_f64()
}

/// Access events per second committed through the appender (group commit)
/// by `clients` concurrent writers, each waiting for its event's commit as a
/// request does: the audit's own ceiling, without the request around it.
async fn appender_throughput(f: &Fixture, clients: usize) -> f64 {
    let practice_id = entity::practices::Entity::find().one(&f.state.db).await.unwrap().unwrap().id.uuid();
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + seconds();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (appender, done, couple) = (f.state.appender.clone(), done.clone(), f.couple);
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let event = tandem::audit::NewEvent {
                    practice_id,
                    occurred_at: time::OffsetDateTime::now_utc(),
                    member_id: None,
                    role: "care_team".into(),
                    action: "view".into(),
                    record_kind: Some("couple".into()),
                    record_id: Some(couple),
                    couple_id: Some(couple),
                    outcome: "success".into(),
                    status: 200,
                    client_addr: Some("198.51.100.7".into()),
                    user_agent: Some("bench".into()),
                    request_id: Some(uuid::Uuid::now_v7().to_string()),
                    reason: None,
                    emergency: false,
                    detail: None,
                };
                appender.append(event).await.unwrap();
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / seconds().as_secs_f64()
}

async fn read_benchmark(name: &str, url: &str, ceiling: impl AsyncFn(usize) -> Option<f64>) {
    let f = fixture(url).await;
    let path = format!("/api/v1/couples/{}", f.couple);
    let audited = tandem::app(f.state.clone());
    let unaudited = unaudited_router(f.state.clone());
    println!("\n{name}: GET /api/v1/couples/{{id}}, requests per second (median of {} alternating rounds of {}s)", rounds(), seconds().as_secs());
    println!("| clients | unaudited | audited | audited / unaudited | insert ceiling (tx/s) | audited / ceiling | events through the appender (/s) | appender / ceiling |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for clients in [1, 16, 64] {
        // Alternating rounds, and the median of each side: one short run of
        // each was seen to swing the ratio by 20 points on a shared machine.
        let (mut base, mut with) = (Vec::new(), Vec::new());
        for _ in 0..rounds() {
            base.push(throughput(unaudited.clone(), &path, &f.token, clients).await);
            with.push(throughput(audited.clone(), &path, &f.token, clients).await);
        }
        let (base, with) = (median(base), median(with));
        let ceiling = ceiling(clients).await;
        let events = appender_throughput(&f, clients).await;
        let of_ceiling = |x: f64| ceiling.map(|c| format!("{:.2}", x / c)).unwrap_or_else(|| "n/a".into());
        println!(
            "| {clients} | {base:.0} | {with:.0} | {:.2} | {} | {} | {events:.0} | {} |",
            with / base,
            ceiling.map(|c| format!("{c:.0}")).unwrap_or_else(|| "n/a".into()),
            of_ceiling(with),
            of_ceiling(events),
        );
    }
}

async fn supervisor_queries(url: &str, db: &DatabaseConnection) {
    let f = fixture(url).await;
    let practice = entity::practices::Entity::find().one(&f.state.db).await.unwrap().unwrap();
    let members: Vec<uuid::Uuid> = (0..50).map(|_| uuid::Uuid::new_v4()).collect();
    let array = members.iter().map(|m| format!("'{m}'::uuid")).collect::<Vec<_>>().join(",");
    let started = Instant::now();
    // One million events spread over a year, fifty members (hashes are not
    // checked here; this measures the supervisor's search).
    db.execute_unprepared(&format!(
        "INSERT INTO access_events (id, practice_id, seq, prev_hash, hash, format_version, occurred_at, member_id, role, action, \
         record_kind, record_id, couple_id, outcome, status, client_addr, user_agent, request_id, reason, emergency) \
         SELECT gen_random_uuid(), '{}', 1000000 + g, '', '', 1, timestamptz '2025-01-01' + g * interval '31 seconds', \
         (ARRAY[{array}])[1 + g % 50], 'care_team', 'view', 'note', NULL, NULL, 'success', 200, NULL, NULL, NULL, NULL, false \
         FROM generate_series(1, 1000000) g",
        practice.id
    ))
    .await
    .unwrap();
    db.execute_unprepared("ANALYZE access_events").await.unwrap();
    println!("\nSupervisor search over 1,000,000 events (loaded in {:.1}s): filter by member and month, first page of 100", started.elapsed().as_secs_f64());
    let scope = tandem::scope::PracticeScope::for_benchmarks(practice.id);
    let mut times = Vec::new();
    for i in 0..200 {
        let month = 1 + (i % 12) as u8;
        let from = time::Date::from_calendar_date(2025, time::Month::try_from(month).unwrap(), 1).unwrap().midnight().assume_utc();
        let filter = tandem::audit::review::EventFilter {
            member_id: Some(members[i % 50]),
            from: tandem::input::BoundedDateTime::new(from).ok(),
            to: tandem::input::BoundedDateTime::new(from + time::Duration::days(30)).ok(),
            ..Default::default()
        };
        let t = Instant::now();
        let page = tandem::audit::review::search(&f.state.db, scope, &filter).await.unwrap();
        times.push(t.elapsed());
        assert!(!page.items.is_empty());
    }
    times.sort();
    let p = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)].as_secs_f64() * 1000.0;
    println!("| queries | p50 (ms) | p95 (ms) | max (ms) |\n|---:|---:|---:|---:|\n| {} | {:.1} | {:.1} | {:.1} |", times.len(), p(0.5), p(0.95), p(1.0));
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display());
        let ceiling_db = format!("sqlite://{}?mode=rwc", dir.path().join("ceiling.db").display());
        read_benchmark("SQLite (WAL, synchronous=FULL)", &sqlite, async |clients| Some(ceiling::sqlite(&ceiling_db, clients.min(16), seconds()).await)).await;

        let name = "tandem_bench";
        let Some((admin, pg)) = postgres::fresh(name).await else { return };
        let db = Database::connect(pg.clone()).await.unwrap();
        db.execute_unprepared("CREATE TABLE bench_ceiling (x INTEGER)").await.unwrap();
        let pg_for_ceiling = pg.clone();
        read_benchmark("PostgreSQL", &pg, async move |clients| ceiling::pgbench(&pg_for_ceiling, clients, seconds())).await;
        // A fresh database for the search benchmark.
        db.close().await.unwrap();
        postgres::recreate(&admin, name).await;
        let db = Database::connect(pg.clone()).await.unwrap();
        supervisor_queries(&pg, &db).await;
        db.close().await.unwrap();
        postgres::drop(&admin, name).await;
    });
}
