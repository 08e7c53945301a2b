//! Each database's own ceiling for one-row insert transactions, measured in
//! the same run as the requests they are compared with. Include with
//! `#[path = "support/ceiling.rs"] mod ceiling;`.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use sea_orm::ConnectionTrait;

/// One-row insert transactions per second on SQLite with `clients`
/// connections: a tight commit loop on Tandem's own settings.
pub async fn sqlite(url: &str, clients: usize, seconds: Duration) -> f64 {
    let db = tandem::db::connect_url(url, clients as u32).await.unwrap();
    db.execute_unprepared("CREATE TABLE IF NOT EXISTS bench_ceiling (x INTEGER)").await.unwrap();
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + seconds;
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (db, done) = (db.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                db.execute_unprepared("INSERT INTO bench_ceiling (x) VALUES (1)").await.unwrap();
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / seconds.as_secs_f64()
}

/// pgbench's rate with a one-INSERT script into `bench_ceiling` (which the
/// caller creates) with `clients` sessions; `None` without pgbench.
pub fn pgbench(url: &str, clients: usize, seconds: Duration) -> Option<f64> {
    let pgbench = ["pgbench", "/usr/lib/postgresql/15/bin/pgbench", "/usr/lib/postgresql/16/bin/pgbench"]
        .into_iter()
        .find(|p| std::process::Command::new(p).arg("--version").output().is_ok())?;
    let script = std::env::temp_dir().join("tandem-bench-insert.sql");
    std::fs::write(&script, "INSERT INTO bench_ceiling (x) VALUES (1);\n").ok()?;
    let out = std::process::Command::new(pgbench)
        .args(["-n", "-f"])
        .arg(&script)
        .args(["-c", &clients.to_string(), "-j", "2", "-T", &seconds.as_secs().to_string(), url])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.trim_start_matches("tps = ").split_whitespace().next()?.parse().ok())
}
