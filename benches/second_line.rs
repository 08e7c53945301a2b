//! The second line's cost (issue 17): the audited couple overview and note
//! read on PostgreSQL with row-level security binding the service (a role
//! that owns nothing), next to the same build and database served as the
//! owner, whom row-level security does not bind, in one run at 64 clients.
//! Encryption cannot be switched off in the build (no configuration or
//! caller may turn it off), so its cost is measured where it is paid: the
//! CPU time of opening every sealed value the demo practice holds, timed on
//! a real sealed note section, as a share of a request's CPU time.
//!
//! Run: `TANDEM_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench second_line`
//! (`BENCH_SECONDS`, `BENCH_CLIENTS` as for the other benchmarks; `BENCH_ROUNDS`
//! how often the two sides alternate, default 3).

#[path = "support/load.rs"]
mod load;
#[path = "support/postgres.rs"]
mod postgres;
#[path = "support/state.rs"]
mod state;
#[path = "support/cpu.rs"]
#[allow(dead_code)]
mod cpu;

use std::time::Instant;

use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use uuid::Uuid;

use load::{Auth, clients, load, request, seconds, send, sign_in};

const SERVICE_ROLE: &str = "tandem_service";

fn config(url: &str, owner: Option<&str>) -> tandem::config::Config {
    tandem::config::Config {
        database_url: tandem::config::Secret::new(url.to_owned()),
        database_owner_url: owner.map(|o| tandem::config::Secret::new(o.to_owned())),
        database_max_connections: 16,
        ..Default::default()
    }
}

async fn json(router: &axum::Router, path: &str, auth: &Auth) -> serde_json::Value {
    let (status, _, body) = send(router, request("GET", path, auth, None)).await;
    assert!(status.is_success(), "{path}: {status}");
    serde_json::from_slice(&body).unwrap()
}

/// How many sealed values the practice holds, and the time to open one
/// (the demo's first note section, opened 20,000 times).
async fn opening(state: &tandem::state::AppState, owner: &impl ConnectionTrait, practice: Uuid) -> (u64, f64) {
    let mut sealed = 0;
    for field in tandem::vault::fields::ALL {
        let sql = format!("SELECT count(*) FROM {} WHERE practice_id = '{practice}' AND {} LIKE 'enc1.%'", field.table, field.column);
        let row = owner.query_one_raw(Statement::from_string(DatabaseBackend::Postgres, sql)).await.unwrap().unwrap();
        sealed += row.try_get_by_index::<i64>(0).unwrap() as u64;
    }
    let field = tandem::vault::fields::NOTE_CONTENT;
    let sql = format!("SELECT id, {} FROM {} WHERE practice_id = '{practice}' LIMIT 1", field.column, field.table);
    let row = owner.query_one_raw(Statement::from_string(DatabaseBackend::Postgres, sql)).await.unwrap().unwrap();
    let (id, stored): (Uuid, String) = (row.try_get_by_index(0).unwrap(), row.try_get_by_index(1).unwrap());
    let cipher = tandem::tenant::within(practice, state.vault.practice(&state.db, practice)).await.unwrap();
    let started = Instant::now();
    for _ in 0..20_000 {
        std::hint::black_box(cipher.open(field, id, &stored).unwrap());
    }
    (sealed, started.elapsed().as_secs_f64() / 20_000.0)
}

/// How many times the two sides alternate (`BENCH_ROUNDS`, default 3).
fn rounds() -> usize {
    std::env::var("BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let name = "tandem_bench_second_line";
        let Some((admin, owner_url)) = postgres::fresh(name).await else { return };
        admin
            .execute_unprepared(&format!(
                "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{SERVICE_ROLE}') THEN \
                 CREATE ROLE {SERVICE_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS; END IF; END $$"
            ))
            .await
            .unwrap();
        let mut service_url = url::Url::parse(&owner_url).unwrap();
        service_url.set_username(SERVICE_ROLE).unwrap();
        service_url.set_password(None).unwrap();

        // Bound: the service's role, under row-level security. The demo is
        // loaded through it, as `tandem demo` would.
        let keyring = tandem::vault::Vault::in_memory(tandem::vault::Keyring::generate());
        let bound = state::with_vault(config(service_url.as_str(), Some(&owner_url)), keyring.another()).await;
        let demo = tandem::demo::load(&bound).await.expect("demo data");
        // Unbound: the same build on the same rows, as the owner.
        let unbound = state::with_vault(config(&owner_url, None), keyring).await;

        let casey = demo.accounts.iter().find(|a| a.role == "counselor").unwrap();
        let mut routers = Vec::new();
        for (label, state) in [("row-level security binds the service", &bound), ("served as the owner (not bound)", &unbound)] {
            let router = tandem::app(state.clone());
            let auth = sign_in(&router, casey.email, &casey.password).await;
            routers.push((label, router, auth));
        }
        let (_, router, auth) = &routers[0];
        let couple = json(router, "/api/v1/couples", auth).await["items"][0]["id"].as_str().unwrap().to_owned();
        let notes = json(router, &format!("/api/v1/couples/{couple}/notes"), auth).await;
        let note = notes.get("items").unwrap_or(&notes)[0]["id"].as_str().expect("the demo couple has a note").to_owned();
        let cases = [
            ("API couple overview, GET /couples/{id}/overview", format!("/api/v1/couples/{couple}/overview")),
            ("note read, GET /couples/{id}/notes/{note_id}", format!("/api/v1/couples/{couple}/notes/{note}")),
        ];

        let c = clients();
        let rounds = rounds();
        println!(
            "\nPostgreSQL, {c} clients, {}s each, audited, same build and rows; the two sides alternate {rounds} times, medians; load average {}",
            seconds().as_secs(),
            cpu::load_average()
        );
        println!(
            "| request | RLS binds the service (per second) | served as the owner (per second) | cost in rate | CPU per request, bound / owner (ms) | cost in CPU | p99 bound / owner (ms) |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|");
        let mut cpu_per_request = Vec::new();
        for (what, path) in &cases {
            // Alternate the two so neither always runs on a warmer cache or a
            // quieter machine; CPU per request (this process, which is Tandem
            // and its clients, plus every PostgreSQL process) swings less
            // with the neighbours' load than the rate does.
            let mut rate = [Vec::new(), Vec::new()];
            let mut cpu_ms = [Vec::new(), Vec::new()];
            let mut p99 = [Vec::new(), Vec::new()];
            for _ in 0..rounds {
                for (i, (_, router, auth)) in routers.iter().enumerate() {
                    let (ours0, pg0) = cpu::ours_and_postgres();
                    let m = load(router, path, auth, c).await;
                    let (ours1, pg1) = cpu::ours_and_postgres();
                    let requests = m.per_second * seconds().as_secs_f64();
                    rate[i].push(m.per_second);
                    cpu_ms[i].push((ours1 - ours0 + pg1 - pg0) / requests * 1000.0);
                    p99[i].push(m.p99);
                }
            }
            let [rate, cpu_ms, p99] = [rate, cpu_ms, p99].map(|sides| sides.map(median));
            println!(
                "| {what} | {:.0} | {:.0} | {:.1}% | {:.2} / {:.2} | {:.1}% | {:.1} / {:.1} |",
                rate[0],
                rate[1],
                (1.0 - rate[0] / rate[1]) * 100.0,
                cpu_ms[0],
                cpu_ms[1],
                (cpu_ms[0] / cpu_ms[1] - 1.0) * 100.0,
                p99[0],
                p99[1]
            );
            cpu_per_request.push(cpu_ms[0]);
        }

        let owner = sea_orm::Database::connect(owner_url.clone()).await.unwrap();
        let sql = format!("SELECT id FROM practices WHERE slug = '{}'", demo.practice_slug);
        let row = owner.query_one_raw(Statement::from_string(DatabaseBackend::Postgres, sql)).await.unwrap().unwrap();
        let practice: Uuid = row.try_get_by_index(0).unwrap();
        let (sealed, per_open) = opening(&bound, &owner, practice).await;
        println!("\nEncryption: the demo practice holds {sealed} sealed values; opening one takes {:.2} µs.", per_open * 1e6);
        for ((what, _), cpu_ms) in cases.iter().zip(cpu_per_request) {
            let share = sealed as f64 * per_open * 1000.0 / cpu_ms;
            println!("- {what}: opening all {sealed} (an upper bound on what it opens) is {:.2}% of a request's CPU time", share * 100.0);
        }
        println!("load average after: {}", cpu::load_average());
        owner.close().await.unwrap();
        drop(routers);
        postgres::drop(&admin, name).await;
    });
}
