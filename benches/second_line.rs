//! The second line's cost (issue 17): the audited couple overview and note
//! read on PostgreSQL with row-level security binding the service (a role
//! that owns nothing), next to the same build and database served as the
//! owner, whom row-level security does not bind, in one run at 64 clients.
//! Encryption cannot be switched off in the build (no configuration or
//! caller may turn it off), so its cost is measured where it is paid: the
//! time the requests spent opening sealed values (counted by the vault, as
//! `/metrics` exports it), as a share of their CPU time.
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

use sea_orm::ConnectionTrait;

use load::{Auth, clients, load, request, seconds, send, sign_in};

const SERVICE_ROLE: &str = "tandem_service";

fn config(url: &str, owner: Option<&str>) -> tandem::config::Config {
    tandem::config::Config {
        database_url: tandem::config::Secret::new(url.to_owned()),
        database_owner_url: owner.map(|o| tandem::config::Secret::new(o.to_owned())),
        database_max_connections: 16,
        // What the second line costs is paid on the record reads: an
        // overview kept in memory would skip them on both sides.
        overview_cache_entries: 0,
        ..Default::default()
    }
}

async fn json(router: &axum::Router, path: &str, auth: &Auth) -> serde_json::Value {
    let (status, _, body) = send(router, request("GET", path, auth, None)).await;
    assert!(status.is_success(), "{path}: {status}");
    serde_json::from_slice(&body).unwrap()
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
            "| request | RLS binds the service (per second) | served as the owner (per second) | RLS cost in rate | CPU per request, bound / owner (ms) | RLS cost in CPU | sealed values opened per request | opening them (µs) | encryption's share of CPU | RLS and encryption together | p99 bound / owner (ms) |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (what, path) in &cases {
            // Alternate the two so neither always runs on a warmer cache or a
            // quieter machine; CPU per request (this process, which is Tandem
            // and its clients, plus every PostgreSQL process) swings less
            // with the neighbours' load than the rate does.
            let mut rate = [Vec::new(), Vec::new()];
            let mut cpu_ms = [Vec::new(), Vec::new()];
            let mut p99 = [Vec::new(), Vec::new()];
            // Of the bound side: sealed values opened per request, and the
            // microseconds that took.
            let (mut opens, mut open_us) = (Vec::new(), Vec::new());
            for _ in 0..rounds {
                for (i, (_, router, auth)) in routers.iter().enumerate() {
                    let (ours0, pg0) = cpu::ours_and_postgres();
                    let (opened0, took0) = tandem::metrics::sealed_values_opened();
                    let m = load(router, path, auth, c).await;
                    let (opened1, took1) = tandem::metrics::sealed_values_opened();
                    let (ours1, pg1) = cpu::ours_and_postgres();
                    let requests = m.per_second * seconds().as_secs_f64();
                    rate[i].push(m.per_second);
                    cpu_ms[i].push((ours1 - ours0 + pg1 - pg0) / requests * 1000.0);
                    p99[i].push(m.p99);
                    if i == 0 {
                        opens.push((opened1 - opened0) as f64 / requests);
                        open_us.push((took1 - took0).as_secs_f64() * 1e6 / requests);
                    }
                }
            }
            let [rate, cpu_ms, p99] = [rate, cpu_ms, p99].map(|sides| sides.map(median));
            let (opens, open_us) = (median(opens), median(open_us));
            let rls = cpu_ms[0] / cpu_ms[1] - 1.0;
            // Both sides open the same values; without encryption the owner's
            // request would cost its CPU less that time: the baseline with
            // both off, against which the bound side's CPU is the cost of both.
            let baseline = cpu_ms[1] - open_us / 1000.0;
            let encryption = open_us / 1000.0 / baseline;
            let together = cpu_ms[0] / baseline - 1.0;
            println!(
                "| {what} | {:.0} | {:.0} | {:.1}% | {:.2} / {:.2} | {:.1}% | {opens:.1} | {open_us:.1} | {:.1}% | {:.1}% | {:.1} / {:.1} |",
                rate[0],
                rate[1],
                (1.0 - rate[0] / rate[1]) * 100.0,
                cpu_ms[0],
                cpu_ms[1],
                rls * 100.0,
                encryption * 100.0,
                together * 100.0,
                p99[0],
                p99[1]
            );
        }

        println!("load average after: {}", cpu::load_average());
        drop(routers);
        postgres::drop(&admin, name).await;
    });
}
