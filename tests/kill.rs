//! The real process killed with SIGKILL at random moments while clients
//! write: after each kill the access log verifies, and after a restart every
//! write that was acknowledged is there. Bounded: a few rounds per database.

use std::{
    io::{Read, Write},
    net::TcpStream,
    process::Command,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use axum::http::{Method, StatusCode};
use rand::Rng;
use serde_json::json;

use crate::{
    binary::{BIN, free_port, serve_database, wait_until_listening},
    both,
    helpers::*,
};

const ROUNDS: usize = 4;
const WRITERS: usize = 4;

async fn acknowledged_writes_survive_sigkill(app: TestApp) {
    let (couple, token) = couple_and_token(&app).await;
    let database = app.state.config.database_url.expose().clone();

    // The processes and the clients block; keep them off the test's runtime.
    let master_key = app.state.config.master_key_file.clone();
    tokio::task::spawn_blocking(move || kill_rounds(&database, &master_key, &couple, &token)).await.unwrap();
}

fn kill_rounds(database: &str, master_key: &std::path::Path, couple: &str, token: &str) {
    let dir = tempfile::tempdir().unwrap();
    same_master_key(master_key, &dir);
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut rng = rand::rng();
    for round in 0..ROUNDS {
        let port = free_port();
        let (mut running, rx) = serve_database(database, &dir, port, &[]);
        wait_until_listening(&rx);
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let (stop, acknowledged) = (stop.clone(), acknowledged.clone());
                let (couple, token) = (couple.to_owned(), token.to_owned());
                std::thread::spawn(move || {
                    let mut n = 0;
                    while !stop.load(Ordering::SeqCst) {
                        n += 1;
                        let title = format!("round {round} writer {writer} #{n}");
                        let body = json!({"title": title, "achieved_on": "2026-04-01", "audience": "clinician"});
                        let path = format!("/api/v1/couples/{couple}/milestones");
                        // Refused or cut off is not acknowledged: no promise to keep.
                        if let Some((201, body)) = request(port, "POST", &path, &token, Some(&body)) {
                            acknowledged.lock().unwrap().push(id_of(&body));
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(rng.random_range(300..1500)));
        let mut child = running.0.take().unwrap();
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        stop.store(true, Ordering::SeqCst);
        for writer in writers {
            writer.join().unwrap();
        }
        // Whatever the kill cut off, the log must not cry wolf.
        verify(database, &dir);
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= ROUNDS, "the writers wrote too little to prove anything: {}", acknowledged.len());

    let port = free_port();
    let (mut running, rx) = serve_database(database, &dir, port, &[]);
    wait_until_listening(&rx);
    let (status, body) = request(port, "GET", &format!("/api/v1/couples/{couple}/milestones"), token, None).unwrap();
    assert_eq!(status, 200, "{body}");
    let stored: serde_json::Value = serde_json::from_str(&body).unwrap();
    let stored: Vec<&str> = stored.as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    let lost: Vec<&String> = acknowledged.iter().filter(|id| !stored.contains(&id.as_str())).collect();
    assert!(lost.is_empty(), "{} of {} acknowledged writes lost: {lost:?}", lost.len(), acknowledged.len());
    eprintln!("kill test: {ROUNDS} kills, {} acknowledged writes, none lost", acknowledged.len());

    let child = running.0.as_mut().unwrap();
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    assert!(child.wait().unwrap().success());
    verify(database, &dir);
}

/// A practice "harbor" with one couple, and a counselor's API token for it:
/// what the tests of the real binary write to.
pub(crate) async fn couple_and_token(app: &TestApp) -> (String, String) {
    let mut practice = app.practice("harbor").await;
    let (_, mut counselor) = practice.member("kai@harbor.example", &["counselor"]).await;
    let couple = counselor
        .json(
            Method::POST,
            "/api/v1/couples",
            Some(json!({
                "label": "Okafor & Reyes",
                "status": "active",
                "secrets_policy": "individual_confidential",
                "care_started_on": "2026-03-02",
                "partner_a": {"recovery_role": "in_recovery", "full_name": "Daniel Okafor"},
                "partner_b": {"recovery_role": "supporting", "full_name": "Marisol Reyes"}
            })),
        )
        .await;
    assert_eq!(couple.status, StatusCode::CREATED, "{}", couple.text());
    let couple = couple.json()["id"].as_str().unwrap().to_owned();
    let (_, token) = counselor.create_token("binary test").await;
    (couple, token)
}

/// The binary, serving a test's database from `dir`, opens its practices'
/// keys with the test's master key (`serve_database` points it at `dir`).
pub(crate) fn same_master_key(master_key: &std::path::Path, dir: &tempfile::TempDir) {
    std::fs::copy(master_key, dir.path().join("master.keys")).unwrap();
}

/// `tandem audit verify` with the key and journal the killed processes used.
fn verify(database: &str, dir: &tempfile::TempDir) {
    let out = Command::new(BIN)
        .args(["audit", "verify"])
        .env("TANDEM_DATABASE_URL", database)
        .env("TANDEM_AUDIT_KEY_FILE", dir.path().join("audit.key")).env("TANDEM_MASTER_KEY_FILE", dir.path().join("master.keys"))
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{printed}{}", String::from_utf8_lossy(&out.stderr));
    assert!(printed.contains("harbor: ok"), "{printed}");
}

/// One HTTP/1.1 request with a bearer token: `None` when the connection
/// failed or was cut before a whole response arrived.
pub(crate) fn request(port: u16, method: &str, path: &str, token: &str, body: Option<&serde_json::Value>) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))?;
    // A response cut short by the kill is not an acknowledgement.
    (body.len() == length).then(|| (status, body.to_owned()))
}

pub(crate) fn id_of(body: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    value["id"].as_str().unwrap_or_else(|| panic!("no id in {body}")).to_owned()
}

both!(acknowledged_writes_survive_sigkill);
