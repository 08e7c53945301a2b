//! Scaling benchmark (issue 16): audited couple-overview reads per second
//! from 1, 2 and 3 real `tandem` processes (the release binary) sharing one
//! PostgreSQL, at 64 concurrent clients spread round-robin over them, next
//! to pgbench's one-INSERT ceiling measured in the same run. For each step
//! it reports what the CPU went to (Tandem's processes, PostgreSQL's, this
//! load generator's, from /proc), how many backends waited on a lock (the
//! chain head) or on WAL (pg_stat_activity, pg_locks), and the resident
//! memory of one process idle and at 64 clients (VmRSS, VmHWM).
//!
//! Run: `TANDEM_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench replicas`
//! `BENCH_SECONDS` sets each measurement's length (default 5), `BENCH_CLIENTS`
//! the concurrency (default 64). Needs PostgreSQL; prints why when it is missing.

#[path = "support/postgres.rs"]
mod postgres;
#[path = "support/state.rs"]
mod state;
#[path = "support/cpu.rs"]
#[allow(dead_code)]
mod cpu;
// Only pgbench's ceiling: replicas need PostgreSQL.
#[path = "support/ceiling.rs"]
#[allow(dead_code)]
mod ceiling;

use cpu::{cpu_seconds, load_average, postgres_pids};
use std::{
    collections::BTreeMap,
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use openidconnect::reqwest;
use sea_orm::{ColumnTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait, QueryFilter, Statement};

const BIN: &str = env!("CARGO_BIN_EXE_tandem");

fn seconds() -> Duration {
    Duration::from_secs(std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5))
}

fn clients() -> usize {
    std::env::var("BENCH_CLIENTS").ok().and_then(|s| s.parse().ok()).unwrap_or(64)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The demo practice, and an API token of its counselor.
async fn seed(url: &str) -> (uuid::Uuid, String) {
    let config = tandem::config::Config { database_url: tandem::config::Secret::new(url.to_owned()), ..Default::default() };
    let state = state::connected(config).await;
    let demo = tandem::demo::load(&state).await.expect("demo data");
    let casey = demo.accounts.iter().find(|a| a.role == "counselor").unwrap();
    let member = entity::members::Entity::find()
        .filter(entity::members::Column::Email.eq(casey.email))
        .one(&state.db)
        .await
        .unwrap()
        .unwrap();
    let scope = tandem::scope::PracticeScope::for_benchmarks(member.practice_id);
    let token = tandem::auth::tokens::create(&state.db, scope, member.id, "bench".into(), 30, time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    let couple = entity::couples::Entity::find()
        .filter(entity::couples::Column::PracticeId.eq(member.practice_id))
        .one(&state.db)
        .await
        .unwrap()
        .unwrap();
    (couple.id.uuid(), token.secret)
}

/// A `tandem serve` process, stopped (SIGTERM, then waited for) when dropped.
struct Process {
    child: Child,
    port: u16,
}

impl Process {
    async fn start(url: &str, keys: &std::path::Path) -> Self {
        let port = free_port();
        let child = Command::new(BIN)
            .env("TANDEM_DATABASE_URL", url)
            .env("TANDEM_BIND", format!("127.0.0.1:{port}"))
            .env("TANDEM_AUDIT_KEY_FILE", keys.join("audit.key"))
            .env("TANDEM_SECRET_KEY_FILE", keys.join("secret.key"))
            .env("TANDEM_LOG_FORMAT", "json")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let process = Process { child, port };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !http.get(format!("http://127.0.0.1:{port}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            assert!(Instant::now() < deadline, "tandem did not become ready on :{port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        process
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

/// A field of /proc/PID/status in MB (VmRSS, VmHWM).
fn memory_mb(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.trim_start_matches(':').trim().strip_suffix(" kB")?.trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// What PostgreSQL's backends for the database waited on, sampled every
/// 50 ms while the load ran.
#[derive(Default)]
struct Waits {
    samples: usize,
    /// Sum over samples of backends waiting, by `type:event`.
    by_event: BTreeMap<String, usize>,
    active: usize,
    ungranted_locks: usize,
}

async fn sample_waits(db: &DatabaseConnection, stop: Arc<AtomicBool>) -> Waits {
    let mut waits = Waits::default();
    let backend = db.get_database_backend();
    while !stop.load(Ordering::SeqCst) {
        let rows = db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT state, COALESCE(wait_event_type, '') AS t, COALESCE(wait_event, '') AS e FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
            ))
            .await
            .unwrap();
        for row in rows {
            let state: Option<String> = row.try_get("", "state").unwrap();
            if state.as_deref() != Some("active") {
                continue;
            }
            waits.active += 1;
            let (t, e): (String, String) = (row.try_get("", "t").unwrap(), row.try_get("", "e").unwrap());
            if !t.is_empty() && t != "Client" {
                *waits.by_event.entry(format!("{t}:{e}")).or_default() += 1;
            }
        }
        let locks = db
            .query_one_raw(Statement::from_string(backend, "SELECT COUNT(*) AS n FROM pg_locks WHERE NOT granted"))
            .await
            .unwrap()
            .unwrap();
        waits.ungranted_locks += locks.try_get::<i64>("", "n").unwrap() as usize;
        waits.samples += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    waits
}

struct Step {
    processes: usize,
    per_second: f64,
    p50: f64,
    p99: f64,
    /// CPU cores used on average while loaded.
    tandem_cores: f64,
    postgres_cores: f64,
    client_cores: f64,
    waits: Waits,
    rss_each: Vec<f64>,
}

/// `clients()` clients read the overview round-robin over `processes`, with
/// keep-alive connections, for `seconds()`.
async fn measure(processes: &[Process], path: &str, token: &str, db: &DatabaseConnection) -> Step {
    let http = reqwest::Client::builder().pool_max_idle_per_host(clients()).build().unwrap();
    let ports: Vec<u16> = processes.iter().map(|p| p.port).collect();
    let next = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let tandem_pids: Vec<u32> = processes.iter().map(Process::pid).collect();
    let pg_pids = postgres_pids();
    let cpu = |pids: &[u32]| pids.iter().map(|p| cpu_seconds(*p)).sum::<f64>();
    let me = std::process::id();
    let (tandem0, pg0, me0) = (cpu(&tandem_pids), cpu(&pg_pids), cpu_seconds(me));
    let stop = Arc::new(AtomicBool::new(false));
    let waits = tokio::spawn(sample_waits_owned(db.clone(), stop.clone()));
    let started = Instant::now();
    let deadline = started + seconds();
    let mut tasks = Vec::new();
    for _ in 0..clients() {
        let (http, ports, next, latencies) = (http.clone(), ports.clone(), next.clone(), latencies.clone());
        let (path, token) = (path.to_owned(), token.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while Instant::now() < deadline {
                let port = ports[next.fetch_add(1, Ordering::Relaxed) % ports.len()];
                let t = Instant::now();
                let res = http.get(format!("http://127.0.0.1:{port}{path}")).bearer_auth(&token).send().await.unwrap();
                assert!(res.status().is_success(), "{path}: {}", res.status());
                res.bytes().await.unwrap();
                mine.push(t.elapsed());
            }
            latencies.lock().unwrap().extend(mine);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::SeqCst);
    let waits = waits.await.unwrap();
    let (tandem1, pg1, me1) = (cpu(&tandem_pids), cpu(&pg_pids), cpu_seconds(me));
    let mut all = std::mem::take(&mut *latencies.lock().unwrap());
    all.sort();
    let p = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)].as_secs_f64() * 1000.0;
    Step {
        processes: processes.len(),
        per_second: all.len() as f64 / elapsed,
        p50: p(0.5),
        p99: p(0.99),
        tandem_cores: (tandem1 - tandem0) / elapsed,
        postgres_cores: (pg1 - pg0) / elapsed,
        client_cores: (me1 - me0) / elapsed,
        waits,
        rss_each: tandem_pids.iter().map(|p| memory_mb(*p, "VmHWM")).collect(),
    }
}

async fn sample_waits_owned(db: DatabaseConnection, stop: Arc<AtomicBool>) -> Waits {
    sample_waits(&db, stop).await
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let name = "tandem_bench_replicas";
        let Some((admin, url)) = postgres::fresh(name).await else { return };
        let (couple, token) = seed(&url).await;
        let path = format!("/api/v1/couples/{couple}/overview");
        let keys = tempfile::tempdir().unwrap();
        let db = Database::connect(url.clone()).await.unwrap();
        println!("\nload average before: {}", load_average());

        // Memory of one process: idle (started, ready, nothing asked), then
        // its peak under the load.
        let first = Process::start(&url, keys.path()).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let idle = (memory_mb(first.pid(), "VmRSS"), memory_mb(first.pid(), "VmHWM"));

        let mut steps = Vec::new();
        let mut processes = vec![first];
        for n in 1..=3 {
            while processes.len() < n {
                processes.push(Process::start(&url, keys.path()).await);
            }
            // One warm-up pass so every process has its connections open.
            let _ = measure_short(&processes, &path, &token).await;
            steps.push(measure(&processes, &path, &token, &db).await);
        }
        drop(processes);

        db.execute_unprepared("CREATE TABLE bench_ceiling (x INTEGER)").await.unwrap();
        let ceiling = ceiling::pgbench(&url, clients(), seconds()).unwrap_or(f64::NAN);
        println!("load average after: {}", load_average());

        println!("\nPostgreSQL, {} clients, {}s each, audited couple overview; pgbench one-INSERT ceiling {ceiling:.0} tx/s", clients(), seconds().as_secs());
        println!("| processes | reads/s | / ceiling | p50 (ms) | p99 (ms) | CPU cores: Tandem | PostgreSQL | load generator | backends active (avg) | waiting on (avg backends) | ungranted locks (avg) | VmHWM per process (MB) |");
        println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|");
        for s in &steps {
            let n = s.waits.samples.max(1) as f64;
            let mut top: Vec<(&String, &usize)> = s.waits.by_event.iter().collect();
            top.sort_by(|a, b| b.1.cmp(a.1));
            let top: Vec<String> = top.iter().take(3).map(|(e, c)| format!("{e} {:.1}", **c as f64 / n)).collect();
            let rss: Vec<String> = s.rss_each.iter().map(|m| format!("{m:.0}")).collect();
            println!(
                "| {} | {:.0} | {:.2} | {:.1} | {:.1} | {:.2} | {:.2} | {:.2} | {:.1} | {} | {:.1} | {} |",
                s.processes,
                s.per_second,
                s.per_second / ceiling,
                s.p50,
                s.p99,
                s.tandem_cores,
                s.postgres_cores,
                s.client_cores,
                s.waits.active as f64 / n,
                top.join(", "),
                s.waits.ungranted_locks as f64 / n,
                rss.join(" / ")
            );
        }
        println!("\none process: idle VmRSS {:.1} MB (VmHWM {:.1} MB before any request)", idle.0, idle.1);
        // What the access log costs on disk, for sizing a year of it.
        let size = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT pg_total_relation_size('access_events')::bigint AS bytes, (SELECT COUNT(*) FROM access_events) AS n",
            ))
            .await
            .unwrap()
            .unwrap();
        let (bytes, events): (i64, i64) = (size.try_get("", "bytes").unwrap(), size.try_get("", "n").unwrap());
        println!("access_events: {events} events, {bytes} bytes with indexes: {:.0} bytes per event", bytes as f64 / events.max(1) as f64);
        db.close().await.unwrap();
        postgres::drop(&admin, name).await;
    });
}

/// A second of load to warm connections up; its figures are thrown away.
async fn measure_short(processes: &[Process], path: &str, token: &str) {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut tasks = Vec::new();
    for i in 0..clients().min(16) {
        let (http, path, token) = (http.clone(), path.to_owned(), token.to_owned());
        let port = processes[i % processes.len()].port;
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let _ = http.get(format!("http://127.0.0.1:{port}{path}")).bearer_auth(&token).send().await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}
