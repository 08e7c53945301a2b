//! A test app per test: fresh database, real migrations, a manual clock, and
//! a small cookie-keeping client that drives `tandem::app` without a socket.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex, Once},
};

use axum::{
    Router,
    body::Body,
    extract::ConnectInfo,
    http::{HeaderMap, Method, Request, StatusCode, header},
};
use http_body_util::BodyExt;
use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;
use tandem::{state::AppState, clock::ManualClock, config::Config};
use tower::ServiceExt;

/// Runs each named `async fn(TestApp)` on SQLite and on PostgreSQL, with
/// [`test_config`] or, given `config = EXPR;` first, with that configuration
/// (the expression is read inside the test's module: `super::my_config()`).
#[macro_export]
macro_rules! both {
    ($($name:ident),+ $(,)?) => {
        $crate::both!(config = $crate::helpers::test_config(); $($name),+);
    };
    (config = $config:expr; $($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let _watchdog = $crate::helpers::Watchdog::start();
                super::$name($crate::helpers::TestApp::sqlite_with($config).await).await;
            }
            #[tokio::test]
            async fn postgres() {
                let _watchdog = $crate::helpers::Watchdog::start();
                if let Some(app) = $crate::helpers::TestApp::postgres_with($config).await {
                    super::$name(app).await;
                }
            }
        }
    )+};
}

/// Marks the running test as skipped, for `reason`. The line goes straight
/// to stderr (the harness would swallow an `eprintln!` of a passing test), and
/// `tests/run` counts these lines so a green run says what did not run.
pub fn skip(reason: &str) {
    use std::io::Write;
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let _ = writeln!(std::io::stderr().lock(), "{SKIPPED} {test}: {reason}");
}

/// A tool tests/run installs and names in the environment variable `var`
/// (its path); `None`, the test marked skipped, when it is missing, except
/// in CI, where that fails the test.
pub fn installed_tool(var: &str, what: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(path) => Some(path),
        Err(_) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but {var} is not set: tests/run installs {what}")
        }
        Err(_) => {
            skip(&format!("{what} is not installed ({var}; tests/run installs it)"));
            None
        }
    }
}

/// The start of every line [`skip`] writes; `tests/run` looks for it.
pub const SKIPPED: &str = "tandem-test skipped:";

/// Ends the whole test run when one test takes far longer than any should
/// (`TANDEM_TEST_TIMEOUT_SECONDS`, default 300), naming it and printing the
/// last log lines, so a hang fails CI in minutes instead of at its time
/// limit. Start one at the top of every test; it stands down when dropped.
pub struct Watchdog {
    done: Option<std::sync::mpsc::Sender<()>>,
}

impl Watchdog {
    pub fn start() -> Self {
        Self::start_scaled(1)
    }

    /// For a test that is long by design: `times` the usual limit.
    pub fn start_scaled(times: u64) -> Self {
        let limit = times * std::env::var("TANDEM_TEST_TIMEOUT_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(300);
        let test = std::thread::current().name().unwrap_or("a test").to_owned();
        let (done, stood_down) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stood_down.recv_timeout(std::time::Duration::from_secs(limit)) {
                // Straight to stderr: the test harness captures eprintln! of the test's threads.
                use std::io::Write;
                let logs = captured_logs();
                let tail: Vec<&str> = logs.lines().rev().take(40).collect();
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "\n{test} has run for over {limit} s: stopping the test run.\nLast log lines (newest first):");
                for line in tail {
                    let _ = writeln!(err, "  {line}");
                }
                std::process::exit(101);
            }
        });
        Self { done: Some(done) }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            let _ = done.send(());
        }
    }
}

pub const PASSWORD: &str = "a long enough test password";

/// Everything the suite logged, as JSON lines, unless `TEST_LOG` sends it to
/// the terminal instead. Uses the production default filter, so tests can
/// check what a real deployment would write.
static CAPTURED: Mutex<Vec<u8>> = Mutex::new(Vec::new());

#[derive(Clone, Copy)]
struct Capture;

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURED.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn init_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            tandem::telemetry::init(tandem::config::LogFormat::Pretty, "debug,sqlx=warn");
        } else {
            tracing_subscriber::fmt()
                .json()
                .with_env_filter(tandem::config::Config::default().log_filter)
                .with_writer(|| Capture)
                .init();
        }
    });
}

/// The logs captured so far (empty when `TEST_LOG` is set).
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&CAPTURED.lock().unwrap()).into_owned()
}

pub fn test_config() -> Config {
    // The test OpenID provider runs on loopback over plain http.
    Config { database_max_connections: 5, sso_allow_insecure_issuers: true, ..Config::default() }
}

/// The PostgreSQL role the service runs as in tests: it owns nothing and
/// bypasses nothing, as the README asks of a deployment.
pub const SERVICE_ROLE: &str = "tandem_service";

/// Creates [`SERVICE_ROLE`] once per server; tests race to do it, and the
/// losers find it made.
async fn ensure_service_role(admin: &sea_orm::DatabaseConnection) {
    let made = admin
        .execute_unprepared(&format!(
            "DO $$ BEGIN \
               IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{SERVICE_ROLE}') THEN \
                 CREATE ROLE {SERVICE_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE; \
               END IF; \
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; \
             END $$"
        ))
        .await;
    made.expect("create the service role");
}

enum Store {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
    /// Another process's view of a database some other `TestApp` owns.
    Borrowed,
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Store::Postgres { admin_url, name } = self {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs inside the test's runtime; use a runtime of our own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    if let Ok(db) = Database::connect(admin_url).await {
                        let _ = db
                            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

pub struct TestApp {
    pub state: AppState,
    /// The database as its owner sees it, for tests that set up or inspect
    /// rows directly: on PostgreSQL the schema's owner, whom row-level
    /// security does not bind (the service itself runs as a role it binds);
    /// on SQLite the service's own pool.
    pub db: tandem::tenant::Db,
    pub clock: ManualClock,
    pub router: Router,
    _store: Store,
    /// Holds the checkpoint journal, outside the database as in production.
    _journal_dir: Option<tempfile::TempDir>,
}

impl TestApp {
    pub async fn sqlite() -> Self {
        Self::sqlite_with(test_config()).await
    }

    pub async fn sqlite_with(config: Config) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("tandem.db").display());
        Self::build(url, config, Store::Sqlite(dir)).await
    }

    /// A SQLite database in `dir`, which the caller owns (a filesystem the
    /// test mounted, say).
    pub async fn sqlite_in(dir: &std::path::Path) -> Self {
        let url = format!("sqlite://{}?mode=rwc", dir.join("tandem.db").display());
        Self::build(url, test_config(), Store::Borrowed).await
    }

    /// Another Tandem with `state` (its own database connection, say), the
    /// same clock.
    pub fn with_state(&self, state: AppState) -> TestApp {
        let router = tandem::app(state.clone());
        TestApp { state, db: self.db.clone(), clock: self.clock.clone(), router, _store: Store::Borrowed, _journal_dir: None }
    }

    /// The same service with more audited routes about couples' records.
    pub fn with_clinical_routes(mut self, extra: Router<AppState>) -> Self {
        self.router = tandem::app_with_clinical_routes(self.state.clone(), extra);
        self
    }

    /// `None` (skip) when no PostgreSQL is configured, except in CI, where
    /// a missing PostgreSQL fails the test.
    pub async fn postgres_with(config: Config) -> Option<Self> {
        let Ok(admin_url) = std::env::var("TANDEM_TEST_POSTGRES_URL") else {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true but TANDEM_TEST_POSTGRES_URL is not set: PostgreSQL tests must run in CI");
            }
            skip("no PostgreSQL: TANDEM_TEST_POSTGRES_URL is not set");
            return None;
        };
        let name = format!("tandem_test_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(admin_url.clone())
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at TANDEM_TEST_POSTGRES_URL is unreachable: {e}"));
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create test database");
        ensure_service_role(&admin).await;
        admin.close().await.ok();
        let mut owner = url::Url::parse(&admin_url).expect("TANDEM_TEST_POSTGRES_URL is a URL");
        owner.set_path(&name);
        // As in production: the schema's owner migrates and secures the
        // rows; the service runs as a role that owns nothing, which
        // row-level security binds.
        let mut service = owner.clone();
        service.set_username(SERVICE_ROLE).expect("a user name fits the URL");
        service.set_password(None).expect("no password");
        let mut config = config;
        config.database_owner_url = Some(tandem::config::Secret::new(owner.to_string()));
        Some(Self::build(service.to_string(), config, Store::Postgres { admin_url, name }).await)
    }

    async fn build(url: String, mut config: Config, store: Store) -> Self {
        init_logs();
        config.database_url = tandem::config::Secret::new(url.clone());
        let journal_dir = tempfile::tempdir().expect("temp dir");
        config.audit_journal_file = Some(journal_dir.path().join("audit-journal.jsonl"));
        // A key file, as in production: the real binary, started on this
        // database by some tests, must open the same practices' keys.
        config.master_key_file = journal_dir.path().join("master.keys");
        let db = tandem::db::connect(&config).await.expect("connect");
        tandem::db::prepare(&config, &db).await.expect("migrate and secure the rows");
        let owner = match &config.database_owner_url {
            Some(url) => tandem::db::connect_url(url.expose(), 3).await.expect("connect as the owner"),
            None => db.clone(),
        };
        let clock = ManualClock::new(time::OffsetDateTime::now_utc());
        let master_key_file = config.master_key_file.clone();
        let state = AppState::new(
            db,
            config,
            Arc::new(clock.clone()),
            tandem::audit::checkpoints::CheckpointKey::generate(),
            tandem::sealed::SealingKey::generate(),
            tandem::vault::Vault::from_file(&master_key_file).expect("master key file"),
        );
        state.journal.create_if_missing().expect("checkpoint journal");
        let router = tandem::app(state.clone());
        Self { state, db: tandem::tenant::Db::new(owner), clock, router, _store: store, _journal_dir: Some(journal_dir) }
    }

    /// A second Tandem process on the same database: its own connection
    /// pool, caches and router; the same key files and clock.
    pub async fn another_process(&self) -> TestApp {
        let config = (*self.state.config).clone();
        let db = tandem::db::connect(&config).await.expect("connect");
        let state = AppState::new(
            db,
            config,
            Arc::new(self.clock.clone()),
            (*self.state.checkpoint_key).clone(),
            (*self.state.sealing_key).clone(),
            self.state.vault.another(),
        );
        let router = tandem::app(state.clone());
        TestApp { state, db: self.db.clone(), clock: self.clock.clone(), router, _store: Store::Borrowed, _journal_dir: None }
    }

    pub fn client(&self) -> Client<'_> {
        self.client_from("198.51.100.7:50000")
    }

    pub fn client_from(&self, addr: &str) -> Client<'_> {
        Client { app: self, cookies: HashMap::new(), bearer: None, addr: addr.parse().unwrap() }
    }

    /// A practice made the way a script would make it, with its first admin
    /// signed in through the pages.
    pub async fn practice(&self, slug: &str) -> Practice<'_> {
        let (practice, link) = tandem::practice::setup::create_from_cli(
            &self.state,
            tandem::practice::setup::NewPractice {
                name: format!("Practice {slug}"),
                slug: slug.into(),
                time_zone: "Europe/Berlin".into(),
            },
            tandem::practice::Email::parse(&format!("admin@{slug}.example")).unwrap(),
        )
        .await
        .unwrap_or_else(|e| panic!("create practice: {e}"));
        let mut admin = self.client();
        admin.accept_invitation(&link, "Ada Admin").await;
        Practice { id: practice.id.uuid(), admin }
    }
}

/// The display name [`Practice::member`] gives the member invited as `email`:
/// its local part and the first label of its domain, capitalised
/// ("casey@harbor.example" is "Casey Harbor"), so every fixture member has a
/// name of their own and "who did it" checks can tell people apart.
pub fn member_name(email: &str) -> String {
    let (local, domain) = email.split_once('@').expect("an email address");
    let label = domain.split('.').next().unwrap_or(domain);
    let capitalised = |word: &str| {
        let mut chars = word.chars();
        chars.next().map(|first| first.to_uppercase().chain(chars).collect::<String>()).unwrap_or_default()
    };
    format!("{} {}", capitalised(local), capitalised(label))
}

pub struct Practice<'a> {
    pub id: uuid::Uuid,
    pub admin: Client<'a>,
}

impl<'a> Practice<'a> {
    /// Invites `email` with `roles`, and has them accept; returns them signed in.
    pub async fn member(&mut self, email: &str, roles: &[&str]) -> (uuid::Uuid, Client<'a>) {
        let link = self.admin.invite(email, roles).await;
        let mut client = self.admin.app.client();
        client.accept_invitation(&link, &member_name(email)).await;
        let me = client.get("/api/v1/me").await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.text());
        (me.json()["id"].as_str().unwrap().parse().unwrap(), client)
    }
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl TestResponse {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }

    /// The CSRF token of the first form on the page.
    pub fn csrf_token(&self) -> String {
        let text = self.text();
        let marker = "name=\"csrf_token\" value=\"";
        let start = text.find(marker).unwrap_or_else(|| panic!("no CSRF token in: {text}")) + marker.len();
        text[start..start + text[start..].find('"').unwrap()].to_owned()
    }
}

/// A browser-like client: keeps cookies, or sends a bearer token.
pub struct Client<'a> {
    pub app: &'a TestApp,
    pub cookies: HashMap<String, String>,
    pub bearer: Option<String>,
    pub addr: SocketAddr,
}

impl<'a> Client<'a> {
    pub fn with_bearer(app: &'a TestApp, token: &str) -> Self {
        let mut client = app.client();
        client.bearer = Some(token.to_owned());
        client
    }

    pub async fn send(&mut self, method: Method, path: &str, headers: &[(&str, &str)], body: Body) -> TestResponse {
        let mut req = Request::builder().method(method).uri(path);
        if !self.cookies.is_empty() {
            let cookie = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
            req = req.header(header::COOKIE, cookie);
        }
        if let Some(token) = &self.bearer {
            req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let mut req = req.body(body).unwrap();
        req.extensions_mut().insert(ConnectInfo(self.addr));
        let res = self.app.router.clone().oneshot(req).await.unwrap();
        let (parts, body) = res.into_parts();
        for value in parts.headers.get_all(header::SET_COOKIE) {
            let value = value.to_str().unwrap();
            let pair = value.split(';').next().unwrap();
            let (name, val) = pair.split_once('=').unwrap();
            let removed = value.to_ascii_lowercase().contains("max-age=0") || val.is_empty();
            if removed {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), val.to_owned());
            }
        }
        let body = body.collect().await.unwrap().to_bytes().to_vec();
        TestResponse { status: parts.status, headers: parts.headers, body }
    }

    pub async fn get(&mut self, path: &str) -> TestResponse {
        self.send(Method::GET, path, &[], Body::empty()).await
    }

    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> TestResponse {
        let body = serde_html_form::to_string(fields).unwrap();
        self.send(
            Method::POST,
            path,
            &[("content-type", "application/x-www-form-urlencoded")],
            Body::from(body),
        )
        .await
    }

    /// Posts a form the way a browser would after showing `page`: with its CSRF token.
    pub async fn submit(&mut self, page: &str, action: &str, fields: &[(&str, &str)]) -> TestResponse {
        let token = self.get(page).await.csrf_token();
        let mut all = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        self.post_form(action, &all).await
    }

    /// Sends JSON. With a session cookie it adds the session's CSRF header, as
    /// Tandem's own pages would.
    pub async fn json(&mut self, method: Method, path: &str, body: Option<Value>) -> TestResponse {
        let csrf = if self.bearer.is_none() && method != Method::GET {
            Some(self.get("/tokens").await.csrf_token())
        } else {
            None
        };
        let mut headers = vec![("content-type", "application/json")];
        if let Some(token) = &csrf {
            headers.push(("x-csrf-token", token.as_str()));
        }
        let body = body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty);
        self.send(method, path, &headers, body).await
    }

    pub async fn sign_in(&mut self, practice: &str, email: &str, password: &str) -> TestResponse {
        self.submit(
            "/sign-in",
            "/sign-in",
            &[("practice", practice), ("email", email), ("password", password)],
        )
        .await
    }

    pub async fn accept_invitation(&mut self, link: &str, name: &str) -> TestResponse {
        let path = link_path(link);
        let res = self.submit(&path, &path, &[("display_name", name), ("password", PASSWORD)]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "accepting {path}: {}", res.text());
        res
    }

    /// Invites through the API (as an admin) and returns the link.
    pub async fn invite(&mut self, email: &str, roles: &[&str]) -> String {
        let res = self
            .json(Method::POST, "/api/v1/invitations", Some(serde_json::json!({ "email": email, "roles": roles })))
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
        res.json()["link"].as_str().unwrap().to_owned()
    }

    /// Creates the couple Okafor & Reyes (Daniel Okafor, in recovery, and
    /// Marisol Reyes) through the API; returns its JSON view.
    pub async fn create_couple(&mut self) -> Value {
        let body = serde_json::json!({
            "label": "Okafor & Reyes", "status": "active",
            "secrets_policy": "individual_confidential", "care_started_on": "2026-03-02",
            "partner_a": {"recovery_role": "in_recovery", "full_name": "Daniel Okafor", "preferred_name": "Dan"},
            "partner_b": {"recovery_role": "supporting", "full_name": "Marisol Reyes"}
        });
        let res = self.json(Method::POST, "/api/v1/couples", Some(body)).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
        res.json()
    }

    pub async fn create_token(&mut self, name: &str) -> (uuid::Uuid, String) {
        let res = self
            .json(Method::POST, "/api/v1/tokens", Some(serde_json::json!({ "name": name, "expires_in_days": 30 })))
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
        let body = res.json();
        (body["id"].as_str().unwrap().parse().unwrap(), body["token_secret"].as_str().unwrap().to_owned())
    }
}

/// Blocks until `reached` holds, checking every 10 ms: for a test that
/// needs concurrent work to have made some progress (so many writes, so many
/// answers) rather than to have run for some time. Panics with `what` after
/// a minute without it.
pub fn progress(what: &str, reached: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !reached() {
        assert!(std::time::Instant::now() < deadline, "no progress in a minute: {what}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// `http://host/join/abc` -> `/join/abc`
pub fn link_path(link: &str) -> String {
    let url = url::Url::parse(link).expect("absolute link");
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

/// `app` with `seen` told of every statement through its request pool (the
/// access log's appender has connections of its own, and is not seen); the
/// same caches, keys and clock.
fn observed(app: &TestApp, seen: impl Fn(&sea_orm::metric::Info<'_>) + Send + Sync + 'static) -> TestApp {
    let mut pool = app.state.db.pool().clone();
    pool.set_metric_callback(seen);
    app.with_state(app.state.clone().with_db(tandem::tenant::Db::new(pool)))
}

/// `app` with a counter of every statement through its request pool.
pub fn counting(app: &TestApp) -> (TestApp, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = count.clone();
    let counted = observed(app, move |_| {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    });
    (counted, count)
}

/// `app` with the SQL of every statement through its request pool, in order.
pub fn recording(app: &TestApp) -> (TestApp, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let sql = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = sql.clone();
    let recorded = observed(app, move |info| log.lock().unwrap().push(info.statement.sql.clone()));
    (recorded, sql)
}

/// Statements the service's pool runs for `path`, fetched by `client`'s
/// session through a router whose connection counts them.
pub async fn statements_for(app: &TestApp, client: &Client<'_>, path: &str) -> (u64, String) {
    use std::sync::atomic::Ordering;
    let (counted, count) = counting(app);
    let mut browser = counted.client();
    browser.cookies = client.cookies.clone();
    let res = browser.get(path).await;
    assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.text());
    (count.load(Ordering::Relaxed), res.text())
}
