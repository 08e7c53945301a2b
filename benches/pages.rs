//! Page benchmarks (issue 15): the couple page (HTML), the API's couple
//! overview, the session-prep PDF and a counselor's dashboard with 200
//! couples, all audited, at 64 concurrent clients, with latency percentiles,
//! next to each database's one-row insert ceiling measured in the same run
//! (pgbench with a one-INSERT script on PostgreSQL, a tight commit loop on
//! SQLite), and the SQL statements each request makes.
//!
//! Run: `TANDEM_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench pages`
//! (without the variable only SQLite runs). `BENCH_SECONDS` sets each
//! measurement's length (default 3), `BENCH_CLIENTS` the concurrency (default 64).

#[path = "support/postgres.rs"]
mod postgres;
#[path = "support/state.rs"]
mod state;
#[path = "support/ceiling.rs"]
mod ceiling;
#[path = "support/load.rs"]
mod load;

use load::{Auth, clients, cookies_of, csrf_of, load, request, seconds, send, sign_in};

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use axum::{
    body::Body,
    http::{Request, header},
};
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

async fn api(router: &axum::Router, auth: &Auth, method: &str, path: &str, body: serde_json::Value) -> serde_json::Value {
    let (status, _, body) = send(router, request(method, path, auth, Some(body))).await;
    assert!(status.is_success(), "{method} {path}: {status} {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

async fn fixture(url: &str) -> Fixture {
    let config = tandem::config::Config {
        database_url: tandem::config::Secret::new(url.to_owned()),
        database_max_connections: 16,
        ..Default::default()
    };
    let mut state = state::connected(config).await;
    let statements = Arc::new(AtomicU64::new(0));
    let counter = statements.clone();
    // Every statement through the service's pool (the access log's appender
    // has its own connections, and is not counted).
    let mut pool = state.db.pool().clone();
    pool.set_metric_callback(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    });
    state.db = tandem::tenant::Db::new(pool);
    let demo = tandem::demo::load(&state).await.expect("demo data");
    let router = tandem::app(state.clone());
    let casey = demo.accounts.iter().find(|a| a.role == "counselor").unwrap();
    let admin = demo.accounts.iter().find(|a| a.role == "admin").unwrap();
    let cookie = sign_in(&router, casey.email, &casey.password).await;
    let admin_cookie = sign_in(&router, admin.email, &admin.password).await;
    let token = |auth: Auth| {
        let router = router.clone();
        async move {
            let Auth::Cookie(c) = &auth else { unreachable!() };
            // A token is created from a signed-in session with its CSRF header.
            let (_, _, page) = send(&router, request("GET", "/tokens", &auth, None)).await;
            let csrf = csrf_of(page);
            let req = Request::post("/api/v1/tokens")
                .header(header::COOKIE, c)
                .header("x-csrf-token", csrf)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(json!({"name": "bench", "expires_in_days": 30}).to_string()))
                .unwrap();
            let (status, _, body) = send(&router, req).await;
            assert!(status.is_success(), "token: {status}");
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            Auth::Bearer(body["token_secret"].as_str().unwrap().to_owned())
        }
    };
    let token_casey = token(cookie.clone()).await;
    let admin_token = token(admin_cookie).await;

    // A second counselor with 200 couples, each with a session next week.
    let invitation = api(&router, &admin_token, "POST", "/api/v1/invitations", json!({"email": "busy@riverside.example", "roles": ["counselor"]})).await;
    let link = url::Url::parse(invitation["link"].as_str().unwrap()).unwrap();
    let join = match link.query() {
        Some(q) => format!("{}?{q}", link.path()),
        None => link.path().to_owned(),
    };
    let (_, headers, page) = send(&router, Request::get(&join).body(Body::empty()).unwrap()).await;
    let (jar, csrf) = (cookies_of(&headers), csrf_of(page));
    let password = "a long bench password 1";
    let form = serde_html_form::to_string([("csrf_token", csrf.as_str()), ("display_name", "Blair Busy"), ("password", password)]).unwrap();
    let req = Request::post(&join).header(header::COOKIE, jar).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(Body::from(form)).unwrap();
    let (status, _, _) = send(&router, req).await;
    assert!(status.is_redirection(), "joining: {status}");
    let busy_cookie = sign_in(&router, "busy@riverside.example", password).await;
    let busy_token = token(busy_cookie.clone()).await;
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
    Fixture { router, statements, couple, cookie, token: token_casey, busy_cookie }
}

async fn demo_couple(router: &axum::Router, token: &Auth) -> uuid::Uuid {
    let (_, _, body) = send(router, request("GET", "/api/v1/couples", token, None)).await;
    let list: serde_json::Value = serde_json::from_slice(&body).unwrap();
    list["items"][0]["id"].as_str().unwrap().parse().unwrap()
}

/// SQL statements one request makes through the service's pool (the
/// average of ten, one at a time).
async fn statements(f: &Fixture, path: &str, auth: &Auth) -> f64 {
    let before = f.statements.load(Ordering::Relaxed);
    for _ in 0..10 {
        let (status, _, _) = send(&f.router, request("GET", path, auth, None)).await;
        assert!(status.is_success(), "{path}: {status}");
    }
    (f.statements.load(Ordering::Relaxed) - before) as f64 / 10.0
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
    println!("| request | per second | / insert ceiling | p50 (ms) | p95 (ms) | p99 (ms) | SQL statements per request |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (what, path, auth) in cases {
        let sql = statements(&f, &path, &auth).await;
        let m = load(&f.router, &path, &auth, c).await;
        println!(
            "| {what} | {:.0} | {:.2} | {:.1} | {:.1} | {:.1} | {sql:.1} |",
            m.per_second,
            m.per_second / ceiling,
            m.p50,
            m.p95,
            m.p99
        );
    }
    // The dashboard alone, one request at a time: its own cost.
    let m = load(&f.router, "/dashboard", &f.busy_cookie, 1).await;
    println!("| dashboard, 200 couples, 1 client | {:.0} | | {:.1} | {:.1} | {:.1} | |", m.per_second, m.p50, m.p95, m.p99);
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display());
        let ceiling_db = format!("sqlite://{}?mode=rwc", dir.path().join("ceiling.db").display());
        let ceiling = ceiling::sqlite(&ceiling_db, clients().min(16), seconds()).await;
        run("SQLite (WAL, synchronous=FULL)", &sqlite, ceiling).await;

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
