//! Three `tandem` processes on three ports sharing one PostgreSQL database,
//! as replicas behind a load balancer: a session made on one works on the
//! others, a single sign-on started on one finishes on another, concurrent
//! audited reads spread round-robin over all three leave one chain that
//! verifies (no gap, no fork), SIGTERM to one under load fails no request
//! it had started, and the once-per-practice work ran once.
//!
//! The clients play the load balancer as Kubernetes runs it: a prober
//! polls each process's `/readyz` and requests go round-robin to the ready
//! ones; a client moves to the next process only when a connection is
//! refused, never after its request has started.

use std::{
    io::{Read, Write},
    net::TcpStream,
    process::Command,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use openidconnect::reqwest;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::{
    binary::{BIN, Running, free_port, serve_database, wait_until_listening},
    helpers::*,
    sso::{Browser, Provider, SECRET},
};

const REPLICAS: usize = 3;
const CLIENTS: usize = 9;
/// Where the processes say they are reached: the load balancer's address.
/// Nothing listens there; the clients send each request to a replica.
const PUBLIC_URL: &str = "http://127.0.0.1:8080";

struct Replica {
    port: u16,
    metrics_port: u16,
    running: Running,
}

/// How one request went.
#[derive(Debug)]
enum Sent {
    Answered(u16, String),
    /// Nobody listens: the one failure a client may retry elsewhere.
    Refused,
    /// Connected, and then no whole answer: a request cut off.
    Broken(String),
}

fn get(port: u16, path: &str, token: Option<&str>) -> Sent {
    let mut stream = match TcpStream::connect(("127.0.0.1", port)) {
        Ok(stream) => stream,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return Sent::Refused,
        Err(e) => return Sent::Broken(format!("connect: {e}")),
    };
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let sent = write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}Connection: close\r\n\r\n");
    let mut response = String::new();
    if let Err(e) = sent.and_then(|()| stream.read_to_string(&mut response).map(drop)) {
        return Sent::Broken(format!("{e} after {} bytes", response.len()));
    }
    let Some((head, body)) = response.split_once("\r\n\r\n") else { return Sent::Broken(format!("no head: {response:?}")) };
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let length = head.lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").and_then(|v| v.trim().parse::<usize>().ok()));
    match length {
        Some(length) if body.len() != length => Sent::Broken(format!("{} of {length} bytes", body.len())),
        _ => Sent::Answered(status, body.to_owned()),
    }
}

/// The value of the counter sample `series` (as rendered, labels and all) in
/// one process's metrics; 0 if it was never recorded.
fn counter(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0.0)
}

fn metrics(replica: &Replica) -> String {
    match get(replica.metrics_port, "/metrics", None) {
        Sent::Answered(200, body) => body,
        other => panic!("metrics of :{}: {other:?}", replica.port),
    }
}

#[tokio::test]
async fn three_processes_on_one_postgresql_behave_as_one() {
    let _watchdog = Watchdog::start();
    let Some(app) = TestApp::postgres_with(test_config()).await else { return };
    let mut practice = app.practice("harbor").await;
    let email = "casey@harbor.example";
    let (_, mut counselor) = practice.member(email, &["counselor"]).await;
    let couple = counselor.create_couple().await["id"].as_str().unwrap().to_owned();
    let (_, reader) = counselor.create_token("scale-out reads").await;
    let (_, admin) = practice.admin.create_token("scale-out admin").await;
    let provider = tokio::task::spawn_blocking(|| Provider::for_practice("harbor")).await.unwrap();
    let database = app.state.config.database_url.expose().clone();

    // One after another: the first creates the key files the others read.
    let dir = tempfile::tempdir().unwrap();
    crate::kill::same_master_key(&app.state.config.master_key_file, &dir);
    let secret_key = dir.path().join("secret.key").display().to_string();
    let mut replicas = Vec::new();
    for _ in 0..REPLICAS {
        let (port, metrics_port) = (free_port(), free_port());
        let metrics_bind = format!("127.0.0.1:{metrics_port}");
        let env = [
            ("TANDEM_PUBLIC_URL", PUBLIC_URL),
            ("TANDEM_SECRET_KEY_FILE", secret_key.as_str()),
            ("TANDEM_METRICS_BIND", metrics_bind.as_str()),
            ("TANDEM_SSO_ALLOW_INSECURE_ISSUERS", "true"),
            ("TANDEM_SHUTDOWN_DRAIN_SECONDS", "2"),
            ("TANDEM_SHUTDOWN_GRACE_SECONDS", "20"),
        ];
        let (running, rx) = serve_database(&database, &dir, port, &env);
        tokio::task::spawn_blocking(move || wait_until_listening(&rx)).await.unwrap();
        replicas.push(Replica { port, metrics_port, running });
    }
    let base = |i: usize| format!("http://127.0.0.1:{}", replicas[i % REPLICAS].port);

    // A session made on the first works on the others.
    let mut browser = Browser::new();
    let (status, _, page) = browser.get(&format!("{}/sign-in?practice=harbor", base(0))).await;
    assert_eq!(status, 200, "{page}");
    let csrf = csrf_token(&page);
    let form = [("csrf_token", csrf.as_str()), ("practice", "harbor"), ("email", email), ("password", PASSWORD)];
    let (status, _, page) = browser.send(reqwest::Method::POST, &format!("{}/sign-in", base(0)), Some(&form[..])).await;
    assert_eq!(status, 303, "{page}");
    for i in 1..REPLICAS {
        let (status, _, me) = browser.get(&format!("{}/api/v1/me", base(i))).await;
        assert_eq!(status, 200, "the session from :{} on :{}: {me}", replicas[0].port, replicas[i].port);
        assert!(me.contains(email), "{me}");
    }

    // A single sign-on started on one replica finishes on the next two.
    let body = json!({ "display_name": "Clinic login", "issuer": provider.issuer, "client_id": "tandem", "client_secret": SECRET });
    let added = reqwest::Client::new()
        .post(format!("{}/api/v1/identity-providers", base(1)))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(added.status().as_u16(), 201);
    let added: serde_json::Value = serde_json::from_str(&added.text().await.unwrap()).unwrap();
    let provider_id = added["id"].as_str().unwrap().to_owned();
    let mut sso = Browser::new();
    let (status, _, page) = sso.get(&format!("{}/sign-in?practice=harbor", base(0))).await;
    assert!(status == 200 && page.contains(&format!("/p/harbor/sso/{provider_id}/start")), "{page}");
    let start = format!("{}/p/harbor/sso/{provider_id}/start", base(0));
    let (status, authorize, page) = sso.get(&start).await;
    assert_eq!(status, 303, "{page}");
    let back = Browser::new().authorize(&authorize.unwrap(), "alice").await;
    assert!(back.starts_with(&format!("{PUBLIC_URL}/p/harbor/sso/callback")), "{back}");
    let (status, _, page) = sso.get(&format!("{}{}", base(1), link_path(&back))).await;
    assert_eq!(status, 200, "the callback on :{}: {page}", replicas[1].port);
    assert!(page.contains("type your Tandem password"), "{page}");
    let form = [("csrf_token", csrf_token(&page)), ("password", PASSWORD.to_owned())];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, page) = sso.send(reqwest::Method::POST, &format!("{}/p/harbor/sso/confirm", base(2)), Some(&form[..])).await;
    assert_eq!(status, 303, "confirming on :{}: {page}", replicas[2].port);
    let (status, _, me) = sso.get(&format!("{}/api/v1/me", base(0))).await;
    assert_eq!(status, 200, "{me}");
    assert!(me.contains(email), "{me}");

    // Each ticked both jobs on start; the first ran them, the others found
    // the round done.
    for job in ["checkpoints", "housekeeping"] {
        let series = |outcome: &str| format!("tandem_background_rounds_total{{job=\"{job}\",outcome=\"{outcome}\"}}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let (ran, skipped) = loop {
            let texts: Vec<String> = replicas.iter().map(metrics).collect();
            let sum = |outcome: &str| texts.iter().map(|t| counter(t, &series(outcome))).sum::<f64>();
            let (ran, skipped) = (sum("ran"), sum("skipped"));
            if ran + skipped >= REPLICAS as f64 || Instant::now() > deadline {
                break (ran, skipped);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!((ran, skipped), (1.0, (REPLICAS - 1) as f64), "{job}: rounds run and skipped across the replicas");
    }
    let practice_id = practice.id;
    let verifications = count(&app, &format!("SELECT COUNT(*) AS n FROM audit_verifications WHERE practice_id = '{practice_id}'")).await;
    assert_eq!(verifications, 1, "the chain was verified once, not once per replica");

    // Audited reads from all three at once; one replica stops half-way.
    let ports: Vec<u16> = replicas.iter().map(|r| r.port).collect();
    let path = format!("/api/v1/couples/{couple}/overview");
    let stopped = replicas[2].running.0.take().unwrap();
    let load = tokio::task::spawn_blocking(move || read_under_a_stop(&ports, &path, &reader, stopped)).await.unwrap();
    eprintln!(
        "scale-out: {} reads answered, {} moved on after a refused connection, the stopped replica exited {}",
        load.answered, load.refused, load.exit
    );
    assert!(load.failures.is_empty(), "{} requests failed: {:?}", load.failures.len(), load.failures);
    assert!(load.exit.success(), "the stopped replica exited {}", load.exit);
    assert!(load.answered >= 30, "too few reads to prove anything: {}", load.answered);

    for replica in &mut replicas[..REPLICAS - 1] {
        let mut child = replica.running.0.take().unwrap();
        assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
        assert!(child.wait().unwrap().success());
    }

    // One chain: every seq once, none missing; every answered read in it.
    let events = format!("FROM access_events WHERE practice_id = '{practice_id}'");
    let total = count(&app, &format!("SELECT COUNT(*) AS n {events}")).await;
    let distinct = count(&app, &format!("SELECT COUNT(DISTINCT seq) AS n {events}")).await;
    let last = count(&app, &format!("SELECT MAX(seq) AS n {events}")).await;
    assert_eq!((distinct, last), (total, total), "a fork (a seq twice) or a gap (a seq missing)");
    let reads = count(&app, &format!("SELECT COUNT(*) AS n {events} AND couple_id = '{couple}' AND outcome = 'success'")).await;
    assert!(reads >= load.answered as i64, "{reads} events for {} answered reads", load.answered);
    let verified = Command::new(BIN)
        .args(["audit", "verify"])
        .env("TANDEM_DATABASE_URL", &database)
        .env("TANDEM_AUDIT_KEY_FILE", dir.path().join("audit.key"))
        .env("TANDEM_MASTER_KEY_FILE", dir.path().join("master.keys"))
        .env("TANDEM_LOG_FILTER", "error")
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&verified.stdout);
    assert!(verified.status.success() && printed.contains("harbor: ok"), "{printed}{}", String::from_utf8_lossy(&verified.stderr));
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let row = app
        .db
        .query_one_raw(Statement::from_string(app.db.get_database_backend(), sql.to_owned()))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<Option<i64>>("", "n").unwrap().unwrap_or(0)
}

fn csrf_token(page: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = page.find(marker).unwrap_or_else(|| panic!("no CSRF token in: {page}")) + marker.len();
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

struct Load {
    answered: usize,
    refused: usize,
    failures: Vec<String>,
    exit: std::process::ExitStatus,
}

/// `CLIENTS` clients read `path` round-robin over the ready replicas; once
/// they have made some reads the last replica gets SIGTERM, and they go on
/// against the others until they have made more.
fn read_under_a_stop(ports: &[u16], path: &str, token: &str, mut stopping: std::process::Child) -> Load {
    let ready: Arc<Vec<AtomicBool>> = Arc::new(ports.iter().map(|_| AtomicBool::new(true)).collect());
    let done = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicUsize::new(0));
    let (answered, refused) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let failures = Arc::new(Mutex::new(Vec::new()));

    // The load balancer's readiness checks.
    let prober = {
        let (ports, ready, done) = (ports.to_vec(), ready.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                for (i, port) in ports.iter().enumerate() {
                    let up = matches!(get(*port, "/readyz", None), Sent::Answered(200, _));
                    ready[i].store(up, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (ports, path, token) = (ports.to_vec(), path.to_owned(), token.to_owned());
            let (ready, done, next) = (ready.clone(), done.clone(), next.clone());
            let (answered, refused, failures) = (answered.clone(), refused.clone(), failures.clone());
            std::thread::spawn(move || {
                while !done.load(Ordering::SeqCst) {
                    // Round-robin over the ready replicas; on a refused
                    // connection, the next one.
                    let mut tries = 0;
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst) % ports.len();
                        if !ready[i].load(Ordering::SeqCst) {
                            continue;
                        }
                        match get(ports[i], &path, Some(&token)) {
                            Sent::Answered(200, _) => {
                                answered.fetch_add(1, Ordering::SeqCst);
                            }
                            Sent::Answered(status, body) => failures.lock().unwrap().push(format!(":{} answered {status}: {body}", ports[i])),
                            Sent::Broken(why) => failures.lock().unwrap().push(format!(":{} cut off: {why}", ports[i])),
                            Sent::Refused => {
                                refused.fetch_add(1, Ordering::SeqCst);
                                tries += 1;
                                assert!(tries < 100, "every replica refuses connections");
                                continue;
                            }
                        }
                        break;
                    }
                }
            })
        })
        .collect();

    let reads = || answered.load(Ordering::SeqCst);
    progress("reads on every replica before the stop", || reads() >= 15);
    assert!(Command::new("kill").args(["-TERM", &stopping.id().to_string()]).status().unwrap().success());
    let exit = stopping.wait().unwrap();
    // The clients go on against the replicas left.
    let at_exit = reads();
    progress("reads after the stopped replica exited", || reads() >= (at_exit + 15).max(30));
    done.store(true, Ordering::SeqCst);
    for client in clients {
        client.join().unwrap();
    }
    prober.join().unwrap();
    let failures = failures.lock().unwrap().clone();
    Load { answered: answered.load(Ordering::SeqCst), refused: refused.load(Ordering::SeqCst), failures, exit }
}
