//! The real `tandem` binary: command-line help, redacted config, the setup
//! link printed on first start, serving over TCP, and a bounded graceful
//! shutdown on SIGTERM.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use crate::helpers::Watchdog;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_tandem");

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn http_get(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// Kills the server if a test fails before it stops it.
pub(crate) struct Running(pub(crate) Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `tandem serve` on `port` with its database, key and journal in `dir`,
/// logging JSON; its standard output arrives line by line on the receiver.
fn serve(dir: &tempfile::TempDir, port: u16, env: &[(&str, &str)]) -> (Running, mpsc::Receiver<String>) {
    let database = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    serve_database(&database, dir, port, env)
}

/// `tandem serve` on `port` with `database`, its key and journal in `dir`.
pub(crate) fn serve_database(
    database: &str,
    dir: &tempfile::TempDir,
    port: u16,
    env: &[(&str, &str)],
) -> (Running, mpsc::Receiver<String>) {
    let child = Command::new(BIN)
        .env("TANDEM_DATABASE_URL", database)
        .env("TANDEM_BIND", format!("127.0.0.1:{port}"))
        .env("TANDEM_AUDIT_KEY_FILE", dir.path().join("audit.key"))
        .env("TANDEM_MASTER_KEY_FILE", dir.path().join("master.keys"))
        .env("TANDEM_LOG_FORMAT", "json")
        .env("TANDEM_SHUTDOWN_GRACE_SECONDS", "2")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut running = Running(Some(child));
    let stdout = running.0.as_mut().unwrap().stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (running, rx)
}

#[test]
fn help_documents_the_configuration() {
    let _watchdog = Watchdog::start();
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for name in ["TANDEM_DATABASE_URL", "TANDEM_BIND", "TANDEM_PUBLIC_URL", "TANDEM_LOG_FORMAT", "practice", "migrate"] {
        assert!(help.contains(name), "--help does not mention {name}");
    }
}

/// `tandem config` prints a file `--config` reads back as the same
/// settings, with a PostgreSQL password (and nothing else) redacted.
#[test]
fn printed_config_is_a_settings_file_with_only_the_password_redacted() {
    let _watchdog = Watchdog::start();
    let config = |env: &[(&str, &str)], args: &[&str]| {
        let out = Command::new(BIN).args(args).arg("config").envs(env.iter().copied()).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let printed = config(&[("TANDEM_DATABASE_URL", "postgres://tandem:s3cret-pw@db.internal/tandem")], &[]);
    assert!(printed.contains("database_url = \"postgres://tandem:redacted@db.internal/tandem\""), "{printed}");
    assert!(!printed.contains("s3cret-pw"), "{printed}");
    assert!(!printed.contains("Url {") && !printed.contains("Pretty"), "not a debug dump: {printed}");

    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let env = [("TANDEM_DATABASE_URL", sqlite.as_str()), ("TANDEM_SESSION_IDLE_MINUTES", "7"), ("TANDEM_PUBLIC_URL", "https://tandem.example")];
    let printed = config(&env, &[]);
    assert!(printed.contains(&format!("database_url = \"{sqlite}\"")), "a password-less URL is shown: {printed}");
    assert!(!printed.contains("redacted"), "{printed}");
    let file = dir.path().join("printed.toml");
    std::fs::write(&file, &printed).unwrap();
    assert_eq!(config(&[], &["--config", file.to_str().unwrap()]), printed, "the file reads back as the same settings");
}

/// A mistyped key or variable, or a value Tandem would misbehave with, stops
/// it with the setting named, instead of being ignored.
#[test]
fn unknown_or_unusable_settings_are_refused_by_name() {
    let _watchdog = Watchdog::start();
    let refused = |env: &[(&str, &str)], args: &[&str]| {
        let out = Command::new(BIN).args(args).arg("config").envs(env.iter().copied()).output().unwrap();
        assert!(!out.status.success(), "accepted {env:?} {args:?}");
        String::from_utf8(out.stderr).unwrap()
    };
    let said = refused(&[("TANDEM_BINDD", "0.0.0.0:8080")], &[]);
    assert!(said.contains("unknown environment variable TANDEM_BINDD") && said.contains("did you mean TANDEM_BIND?"), "{said}");
    let said = refused(&[("TANDEM_SESSION_IDLE_MINUTES", "0")], &[]);
    assert!(said.contains("session_idle_minutes (TANDEM_SESSION_IDLE_MINUTES) must be at least 1"), "{said}");
    let said = refused(&[("TANDEM_PUBLIC_URL", "ftp://x")], &[]);
    assert!(said.contains("public_url (TANDEM_PUBLIC_URL) must be an http:// or https:// address"), "{said}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tandem.toml");
    std::fs::write(&file, "sesion_idle_minutes = 5\n").unwrap();
    let said = refused(&[], &["--config", file.to_str().unwrap()]);
    assert!(said.contains("unknown setting `sesion_idle_minutes`") && said.contains("did you mean `session_idle_minutes`?"), "{said}");
    // The test suite's own variables (tests/run exports TANDEM_TEST_*) are not settings and not refused.
    let out = Command::new(BIN).arg("config").env("TANDEM_TEST_SOMETHING", "x").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A PostgreSQL that is not there is reported at once with the real cause,
/// and a missing database plainly, without the server's source line.
#[test]
fn an_unreachable_postgres_or_missing_database_is_named_at_once() {
    let _watchdog = Watchdog::start();
    let migrate = |url: &str| {
        let started = Instant::now();
        let out = Command::new(BIN).arg("migrate").env("TANDEM_DATABASE_URL", url).env("RUST_BACKTRACE", "0").output().unwrap();
        assert!(!out.status.success());
        (String::from_utf8(out.stderr).unwrap(), started.elapsed())
    };
    let port = free_port();
    let (said, took) = migrate(&format!("postgres://tandem:pw-x@127.0.0.1:{port}/tandem"));
    assert!(said.contains(&format!("could not connect to PostgreSQL at 127.0.0.1:{port}, database tandem")), "{said}");
    assert!(said.to_lowercase().contains("connection refused"), "{said}");
    assert!(!said.contains("pool timed out") && !said.contains("pw-x"), "{said}");
    assert!(took < Duration::from_secs(5), "took {took:?}");

    let Ok(server) = std::env::var("TANDEM_TEST_POSTGRES_URL") else {
        crate::helpers::skip("no PostgreSQL configured (TANDEM_TEST_POSTGRES_URL) for the missing database");
        return;
    };
    let mut missing = url::Url::parse(&server).unwrap();
    missing.set_path("tandem_no_such_database");
    let (said, _) = migrate(missing.as_str());
    assert!(said.contains("database \"tandem_no_such_database\" does not exist"), "{said}");
    assert!(said.contains("createdb"), "{said}");
    assert!(!said.contains("at line"), "{said}");
}

/// Colour codes are for a terminal; written to a pipe the log is plain text.
#[test]
fn pretty_logs_in_a_pipe_carry_no_colour() {
    let _watchdog = Watchdog::start();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let secret = dir.path().join("secret.key");
    let (_running, rx) = serve(&dir, port, &[("TANDEM_LOG_FORMAT", "pretty"), ("TANDEM_SECRET_KEY_FILE", secret.to_str().unwrap())]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut lines = Vec::new();
    while Instant::now() < deadline && !lines.iter().any(|l: &String| l.contains("listening")) {
        if let Ok(line) = rx.recv_timeout(Duration::from_secs(1)) {
            lines.push(line);
        }
    }
    assert!(lines.iter().any(|l| l.contains("INFO") && l.contains("listening")), "{lines:#?}");
    assert!(!lines.iter().any(|l| l.contains('\u{1b}')), "colour codes in a pipe: {lines:#?}");
}

/// `tandem demo` a second time refuses, and says how to start over; doing
/// what it says works.
#[test]
fn demo_twice_says_how_to_start_over() {
    let _watchdog = Watchdog::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let demo = || {
        Command::new(BIN)
            .arg("demo")
            .env("TANDEM_DATABASE_URL", format!("sqlite://{}?mode=rwc", db.display()))
            .env("TANDEM_AUDIT_KEY_FILE", dir.path().join("audit.key")).env("TANDEM_MASTER_KEY_FILE", dir.path().join("master.keys"))
            .env("TANDEM_SECRET_KEY_FILE", dir.path().join("secret.key"))
            .env("TANDEM_LOG_FILTER", "error")
            .output()
            .unwrap()
    };
    assert!(demo().status.success());
    let again = demo();
    assert!(!again.status.success());
    let said = String::from_utf8(again.stderr).unwrap();
    let journal = dir.path().join("audit-journal.jsonl");
    assert!(said.contains("the demo practice \"riverside\" is already in this database"), "{said}");
    assert!(said.contains("To start over") && said.contains(&format!("delete the database file {}", db.display())), "{said}");
    assert!(said.contains(&journal.display().to_string()), "{said}");
    std::fs::remove_file(&db).unwrap();
    std::fs::remove_file(&journal).unwrap();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let fresh = demo();
    assert!(fresh.status.success(), "{}", String::from_utf8_lossy(&fresh.stderr));
}

#[test]
fn practice_create_prints_an_invitation_link() {
    let _watchdog = Watchdog::start();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let out = Command::new(BIN)
        .args(["practice", "create", "--name", "Harbor Counseling", "--slug", "harbor", "--admin-email", "owner@harbor.example"])
        .env("TANDEM_DATABASE_URL", &url)
        .env("TANDEM_AUDIT_KEY_FILE", dir.path().join("audit.key")).env("TANDEM_MASTER_KEY_FILE", dir.path().join("master.keys"))
        .env("TANDEM_PUBLIC_URL", "https://tandem.harbor.example")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(printed.contains("https://tandem.harbor.example/join/"), "{printed}");

    let out = Command::new(BIN)
        .args(["practice", "create", "--name", "X", "--slug", "Bad Slug!", "--admin-email", "a@b.example"])
        .env("TANDEM_DATABASE_URL", &url)
        .env("TANDEM_AUDIT_KEY_FILE", dir.path().join("audit.key")).env("TANDEM_MASTER_KEY_FILE", dir.path().join("master.keys"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--slug"));
}

#[test]
fn serves_prints_the_setup_link_and_stops_on_sigterm_within_the_grace_period() {
    let _watchdog = Watchdog::start();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (mut running, rx) =
        serve(&dir, port, &[("TANDEM_SHUTDOWN_DRAIN_SECONDS", "3"), ("TANDEM_SHUTDOWN_GRACE_SECONDS", "60")]);

    let deadline = Instant::now() + Duration::from_secs(60);
    let mut link = None;
    let mut listening = false;
    while (link.is_none() || !listening) && Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(1)) else { continue };
        if line.starts_with('{') {
            let event: serde_json::Value = serde_json::from_str(&line).expect("json log lines");
            listening |= event["fields"]["message"] == "listening";
        } else if let Some(start) = line.find("http://") {
            link = Some(line[start..].trim().to_owned());
        }
    }
    let link = link.expect("setup link printed on first start");
    assert!(listening, "server said it is listening");
    assert!(link.starts_with(&format!("http://127.0.0.1:{port}/setup?token=")), "{link}");

    assert!(http_get(port, "/readyz").starts_with("HTTP/1.1 200"));
    let path = link.split_once(&format!(":{port}")).unwrap().1;
    let page = http_get(port, path);
    assert!(page.starts_with("HTTP/1.1 200") && page.contains("Set up your practice"));

    // A client that never finishes its request holds no work: it must not
    // hold the process up, however long the grace period.
    let mut stuck = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stuck, "GET /healthz HTTP/1.1\r\nHost: x\r\n").unwrap();

    let mut child = running.0.take().unwrap();
    let stopping = Instant::now();
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let (exited, exit) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = exited.send(child.wait());
    });
    // Draining: still serving, but no longer ready, so a load balancer
    // stops sending traffic before connections are refused.
    // (The signal takes a moment to arrive on a busy machine: ask until the
    // answer changes, well within the 3 s drain.)
    let asked = Instant::now();
    let mut ready = http_get(port, "/readyz");
    while !ready.starts_with("HTTP/1.1 503") && asked.elapsed() < Duration::from_millis(2500) {
        std::thread::sleep(Duration::from_millis(20));
        ready = http_get(port, "/readyz");
    }
    assert!(ready.starts_with("HTTP/1.1 503"), "{ready}");
    assert!(ready.to_ascii_lowercase().contains("retry-after:"), "{ready}");
    assert!(http_get(port, "/healthz").starts_with("HTTP/1.1 200"));

    // Drain is 3 s and grace 60 s: the stalled client must not cost the grace.
    let status = exit.recv_timeout(Duration::from_secs(30)).expect("still running after SIGTERM").unwrap();
    assert!(status.success(), "exit status {status}");
    assert!(stopping.elapsed() < Duration::from_secs(30), "took {:?}", stopping.elapsed());
    drop(stuck);
}

/// A second instance on a port in use fails before it touches its
/// database or creates a key, so it cannot disturb the first (a new setup
/// link would revoke the first one's).
#[test]
fn a_second_instance_on_a_port_in_use_touches_nothing() {
    let _watchdog = Watchdog::start();
    let first = tempfile::tempdir().unwrap();
    let port = free_port();
    let (_running, rx) = serve(&first, port, &[("TANDEM_SECRET_KEY_FILE", first.path().join("secret.key").to_str().unwrap())]);
    wait_until_listening(&rx);

    let second = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .env("TANDEM_DATABASE_URL", format!("sqlite://{}?mode=rwc", second.path().join("t.db").display()))
        .env("TANDEM_BIND", format!("127.0.0.1:{port}"))
        .env("TANDEM_AUDIT_KEY_FILE", second.path().join("audit.key")).env("TANDEM_MASTER_KEY_FILE", second.path().join("master.keys"))
        .env("TANDEM_SECRET_KEY_FILE", second.path().join("secret.key"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("could not listen on 127.0.0.1:{port}")), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("/setup?token="), "a second setup link");
    let touched: Vec<_> = std::fs::read_dir(second.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(touched.is_empty(), "the second instance created {touched:?}");
    assert!(http_get(port, "/healthz").starts_with("HTTP/1.1 200"), "the first still serves");
}

/// A client that starts a request and never finishes its headers is cut
/// off, so slow clients cannot pile up open connections.
#[test]
fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let _watchdog = Watchdog::start();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (_running, rx) = serve(&dir, port, &[]);
    wait_until_listening(&rx);

    let mut stuck = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stuck, "GET /healthz HTTP/1.1\r\nHost: x\r\n").unwrap();
    stuck.set_read_timeout(Some(Duration::from_secs(40))).unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    // Either a clean close or a 408: never the answer to a request that was
    // not finished, and never a connection held open.
    let _ = stuck.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(30), "held for {:?}", started.elapsed());
    // The service itself is unaffected.
    assert!(http_get(port, "/healthz").starts_with("HTTP/1.1 200"));
}

/// A request still writing when the grace period ends is cut off, and the
/// process says so with a non-zero exit instead of a clean 0.
#[test]
fn a_stop_that_cuts_a_request_off_exits_non_zero() {
    let _watchdog = Watchdog::start();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (mut running, rx) = serve(&dir, port, &[("TANDEM_SHUTDOWN_DRAIN_SECONDS", "1"), ("TANDEM_SHUTDOWN_GRACE_SECONDS", "1")]);
    let link = wait_for_setup_link(&rx);
    let setup_path = link.split_once(&format!(":{port}")).unwrap().1.to_owned();

    // Another writer holds SQLite's write lock, so the setup page (which
    // stores its form token in the session) waits on it for far longer than
    // the grace period.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let (db, lock) = runtime.block_on(async {
        use sea_orm::{ConnectionTrait, TransactionTrait};
        let db = sea_orm::Database::connect(&url).await.unwrap();
        let lock = db.begin().await.unwrap();
        lock.execute_unprepared("CREATE TABLE holds_the_write_lock (x INTEGER)").await.unwrap();
        (db, lock)
    });
    // The request is sent before the signal (the drain second keeps
    // accepting, so it is in flight either way); its answer is read apart.
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(stream, "GET {setup_path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n").unwrap();
    let waiting = std::thread::spawn(move || {
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        String::from_utf8_lossy(&response).into_owned()
    });

    let mut child = running.0.take().unwrap();
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let (exited, exit) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = exited.send(child.wait());
    });
    let status = exit.recv_timeout(Duration::from_secs(60)).expect("still running after SIGTERM").unwrap();
    assert_eq!(status.code(), Some(3), "exit status {status}");
    let logged: Vec<String> = rx.try_iter().collect();
    assert!(
        logged.iter().any(|line| line.contains("stopped with requests unanswered")),
        "{logged:#?}"
    );
    // The cut-off client got no success.
    let answer = waiting.join().unwrap();
    assert!(!answer.starts_with("HTTP/1.1 2"), "{answer}");
    runtime.block_on(async move {
        lock.rollback().await.unwrap();
        db.close().await.unwrap();
    });
}

/// Waits for the JSON log line that says the server is listening.
pub(crate) fn wait_until_listening(rx: &mpsc::Receiver<String>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(1)) else { continue };
        if line.starts_with('{') && line.contains("\"listening\"") {
            return;
        }
    }
    panic!("the server did not start listening");
}

/// Waits for the setup link printed on first start, then for listening.
fn wait_for_setup_link(rx: &mpsc::Receiver<String>) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(1)) else { continue };
        if let Some(start) = line.find("http://") {
            let link = line[start..].trim().to_owned();
            wait_until_listening(rx);
            return link;
        }
    }
    panic!("no setup link printed");
}

/// `tandem audit verify` passes on an intact log and fails, naming the
/// entry, once an entry is changed behind Tandem's back.
#[test]
fn audit_verify_names_the_first_bad_entry() {
    let _watchdog = Watchdog::start();
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("t.db");
    let url = format!("sqlite://{}?mode=rwc", db_path.display());
    let tandem = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env("TANDEM_DATABASE_URL", &url)
            .env("TANDEM_AUDIT_KEY_FILE", dir.path().join("audit.key")).env("TANDEM_MASTER_KEY_FILE", dir.path().join("master.keys"))
            .env("TANDEM_LOG_FILTER", "error")
            .output()
            .unwrap()
    };
    assert!(tandem(&["demo"]).status.success());
    // Give the chain a few entries: the demo's sign-ins are not events (its
    // one event is Avery making Sasha Casey's supervisor), so append some
    // through the library on the same file.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use sea_orm::EntityTrait;
        let db = tandem::db::connect_url(&url, 1).await.unwrap();
        let practice = entity::practices::Entity::find().one(&db).await.unwrap().unwrap();
        for _ in 0..5 {
            tandem::audit::record_on(&db, &[crate::audit_tamper::event(practice.id.uuid())]).await.unwrap();
        }
        db.close().await.unwrap();
    });
    assert!(tandem(&["audit", "checkpoint"]).status.success());
    let ok = tandem(&["audit", "verify"]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("riverside: ok (6 entries, 1 checkpoints)"));

    rt.block_on(async {
        use sea_orm::ConnectionTrait;
        let db = tandem::db::connect_url(&url, 1).await.unwrap();
        db.execute_unprepared("UPDATE access_events SET action = 'export' WHERE seq = 3").await.unwrap();
        db.close().await.unwrap();
    });
    let bad = tandem(&["audit", "verify", "--practice", "riverside"]);
    assert!(!bad.status.success());
    let printed = String::from_utf8_lossy(&bad.stdout);
    assert!(printed.contains("riverside: FAILED at entry 3"), "{printed}");
}

/// Issue 13, defect 7: `verify` refuses to run without the key file and
/// never creates one; `public-key` prints the key an auditor pins, and
/// `verify --public-key` checks with it alone.
#[test]
fn audit_verify_never_creates_a_key_and_takes_a_pinned_public_key() {
    let _watchdog = Watchdog::start();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let tandem = |key: &str, args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env("TANDEM_DATABASE_URL", &url)
            .env("TANDEM_AUDIT_KEY_FILE", dir.path().join(key)).env("TANDEM_MASTER_KEY_FILE", dir.path().join("master.keys"))
            .env("TANDEM_LOG_FILTER", "error")
            .output()
            .unwrap()
    };
    // The demo's one event (a supervision) and one more.
    assert!(tandem("audit.key", &["demo"]).status.success());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use sea_orm::EntityTrait;
        let db = tandem::db::connect_url(&url, 1).await.unwrap();
        let practice = entity::practices::Entity::find().one(&db).await.unwrap().unwrap();
        tandem::audit::record_on(&db, &[crate::audit_tamper::event(practice.id.uuid())]).await.unwrap();
        db.close().await.unwrap();
    });
    assert!(tandem("audit.key", &["audit", "checkpoint"]).status.success());

    let refused = tandem("missing.key", &["audit", "verify"]);
    assert!(!refused.status.success(), "{}", String::from_utf8_lossy(&refused.stdout));
    assert!(!dir.path().join("missing.key").exists(), "verify created a key");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("never creates one"), "{}", String::from_utf8_lossy(&refused.stderr));

    let printed = tandem("audit.key", &["audit", "public-key"]);
    assert!(printed.status.success(), "{}", String::from_utf8_lossy(&printed.stderr));
    let public_key = String::from_utf8(printed.stdout).unwrap().trim().to_owned();
    assert_eq!(public_key.len(), 44, "32 bytes in base64: {public_key}");
    let pinned = tandem("missing.key", &["audit", "verify", "--public-key", &public_key]);
    assert!(pinned.status.success(), "{}{}", String::from_utf8_lossy(&pinned.stdout), String::from_utf8_lossy(&pinned.stderr));
    assert!(String::from_utf8_lossy(&pinned.stdout).contains("riverside: ok (2 entries, 1 checkpoints)"));
    assert!(!dir.path().join("missing.key").exists());

    let other = tandem::audit::checkpoints::public_key_text(&tandem::audit::checkpoints::CheckpointKey::generate().verifying());
    let wrong = tandem("missing.key", &["audit", "verify", "--public-key", &other]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong.stdout).contains("not signed by this installation's key"));
}

/// Issue 13, defect 6: a clean stop signs what the last requests appended,
/// in the database and in the journal beside the key.
#[test]
fn a_clean_stop_signs_the_newest_entries() {
    let _watchdog = Watchdog::start();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let port = free_port();
    let made = Command::new(BIN)
        .args(["practice", "create", "--name", "Harbor Counseling", "--slug", "harbor", "--admin-email", "owner@harbor.example"])
        .env("TANDEM_DATABASE_URL", &url)
        .env("TANDEM_AUDIT_KEY_FILE", dir.path().join("audit.key")).env("TANDEM_MASTER_KEY_FILE", dir.path().join("master.keys"))
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let (mut running, rx) = serve(&dir, port, &[("TANDEM_AUDIT_CHECKPOINT_MINUTES", "600")]);
    let message = |line: &str| -> Option<serde_json::Value> {
        let event: serde_json::Value = serde_json::from_str(line).ok()?;
        Some(event["fields"].clone())
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(1)) else { continue };
        if message(&line).is_some_and(|f| f["message"] == "listening") {
            break;
        }
    }
    // Events appended while it runs (as another replica would), after the
    // start-up round and long before the next.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let head = rt.block_on(async {
        use sea_orm::EntityTrait;
        let db = tandem::db::connect_url(&url, 1).await.unwrap();
        let practice = entity::practices::Entity::find().one(&db).await.unwrap().unwrap();
        for _ in 0..3 {
            tandem::audit::record_on(&db, &[crate::audit_tamper::event(practice.id.uuid())]).await.unwrap();
        }
        let head = entity::audit_heads::Entity::find_by_id(practice.id).one(&db).await.unwrap().unwrap().seq;
        db.close().await.unwrap();
        head
    });
    // A request served means the SIGTERM handler is in place ("listening"
    // is logged just before it is).
    assert!(http_get(port, "/readyz").starts_with("HTTP/1.1 200"));
    let mut child = running.0.take().unwrap();
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let status = child.wait().unwrap();
    let mut shutdown_round = None;
    let mut log = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) {
        if let Some(fields) = message(&line).filter(|f| f["message"] == "signed access-log checkpoints at shutdown") {
            shutdown_round = Some(fields);
        }
        log.push(line);
    }
    assert!(status.success(), "{status}; its log after the signal:\n{}", log.join("\n"));
    // On a loaded machine the start-up round (its own task) can run after
    // the appends and sign them itself; then the shutdown round has nothing
    // left. Either way the round at shutdown runs and the newest entry ends
    // up signed, which is the promise.
    let signed_at_shutdown = shutdown_round.expect("a checkpoint round at shutdown")["practices"].as_u64();
    assert!(matches!(signed_at_shutdown, Some(0 | 1)), "{signed_at_shutdown:?}");
    let signed = rt.block_on(async {
        use sea_orm::{EntityTrait, QueryOrder};
        let db = tandem::db::connect_url(&url, 1).await.unwrap();
        entity::audit_checkpoints::Entity::find()
            .order_by_desc(entity::audit_checkpoints::Column::Seq)
            .one(&db)
            .await
            .unwrap()
            .map(|c| c.seq)
    });
    assert_eq!(signed, Some(head), "the newest entry is signed");
    let journal = std::fs::read_to_string(dir.path().join("audit-journal.jsonl")).unwrap();
    assert!(journal.contains(&format!("\"seq\":{head},")), "{journal}");
}

/// Started with a master key file its practices' keys were not wrapped
/// under, Tandem refuses to start and says which setting to check, rather
/// than serving pages that cannot open.
#[test]
fn a_wrong_master_key_file_stops_the_start_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let made = Command::new(BIN)
        .args(["practice", "create", "--name", "Harbor Counseling", "--slug", "harbor", "--admin-email", "owner@harbor.example"])
        .env("TANDEM_DATABASE_URL", &url)
        .env("TANDEM_AUDIT_KEY_FILE", dir.path().join("audit.key"))
        .env("TANDEM_MASTER_KEY_FILE", dir.path().join("master.keys"))
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let out = Command::new(BIN)
        .arg("serve")
        .env("TANDEM_DATABASE_URL", &url)
        .env("TANDEM_BIND", format!("127.0.0.1:{}", free_port()))
        .env("TANDEM_AUDIT_KEY_FILE", dir.path().join("audit.key"))
        .env("TANDEM_MASTER_KEY_FILE", dir.path().join("another.keys"))
        .output()
        .unwrap();
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "{printed}");
    assert!(printed.contains("TANDEM_MASTER_KEY_FILE") && printed.contains("another.keys"), "{printed}");
    assert!(!printed.contains("listening"), "{printed}");
}
