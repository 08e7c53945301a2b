//! `tandem backup` and `tandem restore` on the real binary: a backup taken
//! while clients write restores into an empty instance, its access log
//! verifies against the restored journal, and every write acknowledged
//! before the backup began is in it. A damaged backup and a restore over a
//! live database are refused.

use std::{
    path::Path,
    process::{Command, Output},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use serde_json::json;

use crate::{
    binary::{BIN, free_port, serve_database, wait_until_listening},
    helpers::*,
    kill::{couple_and_token, id_of, request, same_master_key},
};

const WRITERS: usize = 3;
const SAMPLE_NOTE: &str = "Sample note: Dan named the shame under the lapse";

#[tokio::test]
async fn a_backup_under_write_load_restores_whole() {
    let _watchdog = Watchdog::start();
    let app = TestApp::sqlite().await;
    let (couple, token) = couple_and_token(&app).await;
    let database = app.state.config.database_url.expose().clone();
    let master_key = app.state.config.master_key_file.clone();
    tokio::task::spawn_blocking(move || backup_and_restore(&database, &master_key, &couple, &token)).await.unwrap();
}

/// Serves `database` with its key in `live` while clients write and read;
/// signs a checkpoint, then calls `take_backup` with writes still going.
/// Returns the ids of the writes acknowledged before the backup began, the
/// first a private note reading [`SAMPLE_NOTE`].
fn under_write_load(database: &str, live: &tempfile::TempDir, couple: &str, token: &str, take_backup: impl FnOnce()) -> Vec<String> {
    let port = free_port();
    let (mut running, rx) = serve_database(database, live, port, &[]);
    wait_until_listening(&rx);
    // Clinical text, sealed under the practice's key: it must open after the restore.
    let sample = json!({"text": SAMPLE_NOTE});
    let (status, body) = request(port, "POST", &format!("/api/v1/couples/{couple}/private-notes"), token, Some(&sample)).unwrap();
    assert_eq!(status, 201, "{body}");
    let sample_id = id_of(&body);

    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (stop, acknowledged) = (stop.clone(), acknowledged.clone());
            let (couple, token) = (couple.to_owned(), token.to_owned());
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let body = json!({"title": format!("writer {writer} #{n}"), "achieved_on": "2026-04-01", "audience": "clinician"});
                    let path = format!("/api/v1/couples/{couple}/milestones");
                    if let Some((201, body)) = request(port, "POST", &path, &token, Some(&body)) {
                        acknowledged.lock().unwrap().push(id_of(&body));
                    }
                    // Reads append access events too: the chain grows from both.
                    let _ = request(port, "GET", &format!("/api/v1/couples/{couple}"), &token, None);
                }
            })
        })
        .collect();

    // A signed checkpoint in the journal, then more writes past it.
    let written = || acknowledged.lock().unwrap().len();
    progress("three writes before the checkpoint", || written() >= 3);
    let signed = run(|cmd| live_env(cmd, database, live), &["audit", "checkpoint"]);
    assert!(signed.status.success(), "{}", text(&signed));
    let at_checkpoint = written();
    progress("two writes past the checkpoint", || written() >= at_checkpoint + 2);

    let mut before_backup = acknowledged.lock().unwrap().clone();
    before_backup.insert(0, sample_id);
    take_backup();
    // Writes acknowledged while and after the backup ran, which the restore
    // may or may not hold.
    progress("a write after the backup began", || written() > before_backup.len());
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.join().unwrap();
    }
    let during_and_after = acknowledged.lock().unwrap().len() - before_backup.len();
    assert!(before_backup.len() >= 3 && during_and_after >= 1, "too few writes to prove anything: {} then {during_and_after}", before_backup.len());
    stop_cleanly(&mut running);
    before_backup
}

fn live_env(cmd: &mut Command, database: &str, live: &tempfile::TempDir) {
    cmd.env("TANDEM_DATABASE_URL", database).env("TANDEM_AUDIT_KEY_FILE", live.path().join("audit.key")).env("TANDEM_MASTER_KEY_FILE", live.path().join("master.keys"));
}

fn stop_cleanly(running: &mut crate::binary::Running) {
    let child = running.0.as_mut().unwrap();
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    assert!(child.wait().unwrap().success());
}

/// Serves the restored `database` (journal `journal`, key in `live`) and
/// checks every id in `expected` is stored.
fn holds_every_write(database: &str, journal: &Path, live: &tempfile::TempDir, couple: &str, token: &str, expected: &[String]) {
    let port = free_port();
    let (mut running, rx) = serve_database(database, live, port, &[("TANDEM_AUDIT_JOURNAL_FILE", journal.to_str().unwrap())]);
    wait_until_listening(&rx);
    let (status, body) = request(port, "GET", &format!("/api/v1/couples/{couple}/private-notes/{}", expected[0]), token, None).unwrap();
    assert_eq!(status, 200, "the sample note opens after the restore: {body}");
    assert!(body.contains(SAMPLE_NOTE), "{body}");
    let expected = &expected[1..];
    let (status, body) = request(port, "GET", &format!("/api/v1/couples/{couple}/milestones"), token, None).unwrap();
    assert_eq!(status, 200, "{body}");
    let stored: serde_json::Value = serde_json::from_str(&body).unwrap();
    let stored: Vec<&str> = stored.as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    let lost: Vec<&String> = expected.iter().filter(|id| !stored.contains(&id.as_str())).collect();
    assert!(lost.is_empty(), "{} of {} writes acknowledged before the backup are missing: {lost:?}", lost.len(), expected.len());
    stop_cleanly(&mut running);
}

fn backup_and_restore(database: &str, master_key: &Path, couple: &str, token: &str) {
    let live = tempfile::tempdir().unwrap();
    same_master_key(master_key, &live);
    let backup = live.path().join("backup-1");
    let before_backup = under_write_load(database, &live, couple, token, || {
        let made = run(|cmd| live_env(cmd, database, &live), &["backup", backup.to_str().unwrap()]);
        assert!(made.status.success(), "{}", text(&made));
        assert!(text(&made).contains("Keys are not in the backup"), "{}", text(&made));
    });

    // What a backup holds: the database, the journal and the manifest; never a key.
    let mut files: Vec<String> = std::fs::read_dir(&backup).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    files.sort();
    assert_eq!(files, ["audit-journal.jsonl", "manifest.json", "tandem.db"]);
    let journal = std::fs::read_to_string(backup.join("audit-journal.jsonl")).unwrap();
    assert!(journal.lines().count() >= 1, "the checkpoint signed before the backup is in it");
    let key = std::fs::read(live.path().join("audit.key")).unwrap();
    for file in &files {
        let bytes = std::fs::read(backup.join(file)).unwrap();
        assert!(!bytes.windows(key.len()).any(|w| w == key.as_slice()), "the signing key leaked into {file}");
    }

    // Into an empty instance, with the keys kept apart from the backup.
    let fresh = tempfile::tempdir().unwrap();
    let restored_url = format!("sqlite://{}?mode=rwc", fresh.path().join("t.db").display());
    let fresh_env = |cmd: &mut Command| {
        cmd.env("TANDEM_DATABASE_URL", &restored_url)
            .env("TANDEM_AUDIT_KEY_FILE", live.path().join("audit.key")).env("TANDEM_MASTER_KEY_FILE", live.path().join("master.keys"))
            .env("TANDEM_AUDIT_JOURNAL_FILE", fresh.path().join("journal.jsonl"));
    };
    let restored = run(fresh_env, &["restore", backup.to_str().unwrap()]);
    assert!(restored.status.success(), "{}", text(&restored));
    assert!(text(&restored).contains("harbor: ok"), "the restored access log verifies: {}", text(&restored));

    // Every write acknowledged before the backup began is there.
    holds_every_write(&restored_url, &fresh.path().join("journal.jsonl"), &live, couple, token, &before_backup);

    // A restore never overwrites a database, live or not.
    let again = run(fresh_env, &["restore", backup.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(text(&again).contains("move the database files") && text(&again).contains("aside"), "{}", text(&again));

    // A damaged backup is refused before anything is written.
    let damaged = live.path().join("damaged");
    copy_dir(&backup, &damaged);
    let mut bytes = std::fs::read(damaged.join("tandem.db")).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(damaged.join("tandem.db"), bytes).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let elsewhere_url = format!("sqlite://{}?mode=rwc", elsewhere.path().join("t.db").display());
    let refused = run(|cmd| { cmd.env("TANDEM_DATABASE_URL", &elsewhere_url).env("TANDEM_AUDIT_KEY_FILE", live.path().join("audit.key")).env("TANDEM_MASTER_KEY_FILE", live.path().join("master.keys")); }, &["restore", damaged.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(text(&refused).contains("damaged"), "{}", text(&refused));
    assert!(!elsewhere.path().join("t.db").exists(), "nothing restored from a damaged backup");

    // A second backup into an existing folder is refused; nothing is overwritten.
    let over = run(|cmd| live_env(cmd, database, &live), &["backup", backup.to_str().unwrap()]);
    assert!(!over.status.success() && text(&over).contains("already exists"), "{}", text(&over));
}

/// README's PostgreSQL procedure, step by step, under write load: the
/// journal first, then `pg_dump`; `pg_restore` into an empty database, the
/// journal back in place, `tandem audit verify`.
#[tokio::test]
async fn the_documented_postgres_backup_restores_whole() {
    let _watchdog = Watchdog::start();
    let Some(app) = TestApp::postgres_with(test_config()).await else { return };
    let (Some(pg_dump), Some(pg_restore)) = (pg_tool("pg_dump"), pg_tool("pg_restore")) else {
        assert!(std::env::var("CI").map_or(true, |v| v != "true"), "CI=true but pg_dump/pg_restore are missing");
        skip("pg_dump and pg_restore are not installed");
        return;
    };
    let (couple, token) = couple_and_token(&app).await;
    let database = app.state.config.database_url.expose().clone();
    // The dump is taken as the schema's owner: row-level security keeps the
    // service's role from reading every practice at once, and pg_dump
    // refuses rather than write a partial copy.
    let owner = app.state.config.database_owner_url.as_ref().expect("tests run as the service role").expose().clone();
    let admin_url = std::env::var("TANDEM_TEST_POSTGRES_URL").unwrap();
    let restored_name = format!("tandem_restored_{}", uuid::Uuid::new_v4().simple());
    let mut restored_url = url::Url::parse(&admin_url).unwrap();
    restored_url.set_path(&restored_name);
    let restored_url = restored_url.to_string();
    let admin = sea_orm::Database::connect(admin_url.clone()).await.unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(&admin, &format!("CREATE DATABASE \"{restored_name}\"")).await.unwrap();

    let restored = restored_url.clone();
    let master_key = app.state.config.master_key_file.clone();
    tokio::task::spawn_blocking(move || {
        let live = tempfile::tempdir().unwrap();
        same_master_key(&master_key, &live);
        let backup = live.path().join("backup");
        std::fs::create_dir(&backup).unwrap();
        let before_backup = under_write_load(&database, &live, &couple, &token, || {
            // 1. The journal first: every checkpoint it names is then in the dump.
            std::fs::copy(live.path().join("audit-journal.jsonl"), backup.join("audit-journal.jsonl")).unwrap();
            // 2. One consistent snapshot while Tandem serves.
            let dumped = Command::new(&pg_dump).args(["--format=custom", "--file"]).arg(backup.join("tandem.dump")).arg(&owner).output().unwrap();
            assert!(dumped.status.success(), "{}", text(&dumped));
        });
        // Restore into the empty database, then the journal, then verify.
        let loaded = Command::new(&pg_restore).args(["--no-owner", "--exit-on-error", "--dbname", &restored]).arg(backup.join("tandem.dump")).output().unwrap();
        assert!(loaded.status.success(), "{}", text(&loaded));
        let journal = live.path().join("restored-journal.jsonl");
        std::fs::copy(backup.join("audit-journal.jsonl"), &journal).unwrap();
        let verified = run(|cmd| { live_env(cmd, &restored, &live); cmd.env("TANDEM_AUDIT_JOURNAL_FILE", &journal); }, &["audit", "verify"]);
        assert!(verified.status.success() && text(&verified).contains("harbor: ok"), "{}", text(&verified));
        holds_every_write(&restored, &journal, &live, &couple, &token, &before_backup);
    })
    .await
    .unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(&admin, &format!("DROP DATABASE IF EXISTS \"{restored_name}\" WITH (FORCE)")).await.ok();
}

/// A PostgreSQL client tool: on PATH, or where Debian keeps the server's.
fn pg_tool(name: &str) -> Option<std::path::PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file());
    on_path.or_else(|| {
        let mut found: Vec<_> = std::fs::read_dir("/usr/lib/postgresql").ok()?.filter_map(|e| Some(e.ok()?.path().join("bin").join(name))).filter(|p| p.is_file()).collect();
        found.sort();
        found.pop()
    })
}

/// PostgreSQL is backed up with its own tools: the command says so instead
/// of pretending.
#[tokio::test]
async fn backup_on_postgres_points_to_the_documented_procedure() {
    let Some(app) = TestApp::postgres_with(test_config()).await else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["backup", dir.path().join("b").to_str().unwrap()])
        .env("TANDEM_DATABASE_URL", app.state.config.database_url.expose())
        .env("TANDEM_AUDIT_KEY_FILE", dir.path().join("audit.key")).env("TANDEM_MASTER_KEY_FILE", dir.path().join("master.keys"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("pg_dump"), "{}", text(&out));
    assert!(!dir.path().join("b").exists());
}

fn run(env: impl Fn(&mut Command), args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env("TANDEM_LOG_FORMAT", "json");
    env(&mut cmd);
    cmd.output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}
