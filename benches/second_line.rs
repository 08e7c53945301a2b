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
//! (`BENCH_SECONDS`, `BENCH_CLIENTS` as for the other benchmarks).

#[path = "support/load.rs"]
mod load;
#[path = "support/postgres.rs"]
mod postgres;
#[path = "support/state.rs"]
mod state;

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
        println!("\nPostgreSQL, {c} clients, {}s each, audited, same build and rows", seconds().as_secs());
        println!("| request | row-level security binds the service (per second) | served as the owner (per second) | cost | p99 bound / owner (ms) |");
        println!("|---|---:|---:|---:|---:|");
        let mut rates = Vec::new();
        for (what, path) in &cases {
            // Alternate the two, twice, so neither always runs on a warmer cache.
            let mut sums = [0.0, 0.0];
            let mut p99 = [0.0, 0.0];
            for _ in 0..2 {
                for (i, (_, router, auth)) in routers.iter().enumerate() {
                    let m = load(router, path, auth, c).await;
                    sums[i] += m.per_second / 2.0;
                    p99[i] = f64::max(p99[i], m.p99);
                }
            }
            let cost = 1.0 - sums[0] / sums[1];
            println!("| {what} | {:.0} | {:.0} | {:.1}% | {:.1} / {:.1} |", sums[0], sums[1], cost * 100.0, p99[0], p99[1]);
            rates.push(sums[0]);
        }

        let owner = sea_orm::Database::connect(owner_url.clone()).await.unwrap();
        let sql = format!("SELECT id FROM practices WHERE slug = '{}'", demo.practice_slug);
        let row = owner.query_one_raw(Statement::from_string(DatabaseBackend::Postgres, sql)).await.unwrap().unwrap();
        let practice: Uuid = row.try_get_by_index(0).unwrap();
        let (sealed, per_open) = opening(&bound, &owner, practice).await;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        println!("\nEncryption: the demo practice holds {sealed} sealed values; opening one takes {:.2} µs.", per_open * 1e6);
        for ((what, _), rate) in cases.iter().zip(rates) {
            // CPU time per request at this rate, if every core were busy.
            let per_request = cores / rate;
            let share = sealed as f64 * per_open / per_request;
            println!("- {what}: opening all {sealed} (an upper bound on what it opens) is {:.2}% of a request's CPU time", share * 100.0);
        }
        owner.close().await.unwrap();
        drop(routers);
        postgres::drop(&admin, name).await;
    });
}
