//! Single sign-on against a real OpenID Connect provider: panva's
//! `oidc-provider` (tests/oidc/provider.mjs), started per test on loopback.
//! A small client plays the browser at the provider (following its
//! redirects and finishing its login step); Tandem is driven as usual.
//!
//! Where a refusal can be produced by the real provider, it is: another
//! provider instance (wrong issuer), a short ID token lifetime (expiry), a
//! client that signs with HS256 (disallowed algorithm), an authorization
//! request changed on its way (nonce, PKCE). Three cannot come from a
//! correct provider and are made by the harness rewriting the ID token the
//! real token endpoint returned (see provider.mjs `tamper`): an unsigned
//! token, another audience, another issuer.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, ChildStdin, Command, Stdio},
    sync::Once,
};

use axum::http::{Method, StatusCode};
use openidconnect::reqwest;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use time::Duration;

use crate::{both, helpers::*};

pub(crate) const SECRET: &str = "a-client-secret-of-some-length-0123456789";

/// Installs the provider from the npm registry (tests/oidc/package-lock.json)
/// unless it is there already.
fn npm_ci() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if Path::new("tests/oidc/node_modules/oidc-provider/package.json").exists() {
            return;
        }
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir("tests/oidc")
            .status()
            .expect("npm (Node.js) is needed for the single sign-on tests");
        assert!(status.success(), "npm ci in tests/oidc failed");
    });
}

/// A running provider; killed when dropped.
pub(crate) struct Provider {
    child: Child,
    _stdin: ChildStdin,
    pub(crate) issuer: String,
    config: Value,
    config_file: tempfile::NamedTempFile,
}

impl Provider {
    /// `clients`: (client_id, extra metadata) registered for the practices named by `slugs`.
    fn start(slugs: &[&str], clients: &[(&str, Value)], accounts: Value) -> Self {
        npm_ci();
        let redirect_uris: Vec<String> = slugs.iter().map(|s| format!("http://127.0.0.1:8080/p/{s}/sso/callback")).collect();
        let logout_uris: Vec<String> = slugs.iter().map(|s| format!("http://127.0.0.1:8080/sign-in?practice={s}")).collect();
        let clients: Vec<Value> = clients
            .iter()
            .map(|(id, extra)| {
                let mut client = json!({
                    "client_id": id, "client_secret": SECRET,
                    "redirect_uris": redirect_uris, "post_logout_redirect_uris": logout_uris,
                });
                for (k, v) in extra.as_object().unwrap() {
                    client[k] = v.clone();
                }
                client
            })
            .collect();
        let config = json!({ "clients": clients, "accounts": accounts, "tamper": {} });
        let config_file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(config_file.path(), config.to_string()).unwrap();
        let (child, stdin, issuer) = Self::spawn(config_file.path());
        Provider { child, _stdin: stdin, issuer, config, config_file }
    }

    /// Runs provider.mjs with `config_file`; returns once it listens.
    fn spawn(config_file: &Path) -> (Child, ChildStdin, String) {
        let mut child = Command::new("node")
            .arg("tests/oidc/provider.mjs")
            .arg(config_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node is needed for the single sign-on tests");
        let stdin = child.stdin.take().unwrap();
        // Read off the test's thread, so a provider that never starts fails
        // the test with a message instead of blocking it.
        let stdout = child.stdout.take().unwrap();
        let (sent, started) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = sent.send(line);
        });
        let line = started.recv_timeout(std::time::Duration::from_secs(30)).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("the OpenID provider (node tests/oidc/provider.mjs) did not start within 30 s")
        });
        let started: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("the provider did not start: {line:?}"));
        (child, stdin, started["issuer"].as_str().unwrap().to_owned())
    }

    /// Restarts the provider at the same address with a new signing key
    /// (key id `kid`), as a provider rotating its keys looks from outside.
    fn rotate_key(&mut self, kid: &str) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let port: u16 = self.issuer.rsplit(':').next().unwrap().parse().unwrap();
        self.set("port", json!(port));
        self.set("kid", json!(kid));
        let (child, stdin, issuer) = Self::spawn(self.config_file.path());
        assert_eq!(issuer, self.issuer, "restarted at the same address");
        (self.child, self._stdin) = (child, stdin);
    }

    /// One client, `tandem`, for the practice `slug`, and one person, alice,
    /// whose verified address is that of the practice's member.
    pub(crate) fn for_practice(slug: &str) -> Self {
        Self::start(&[slug], &[("tandem", json!({}))], json!({ "alice": account(&format!("casey@{slug}.example"), true) }))
    }

    /// Changes the harness's settings (accounts, tampering); read on each request.
    fn set(&mut self, key: &str, value: Value) {
        self.config[key] = value;
        std::fs::write(self.config_file.path(), self.config.to_string()).unwrap();
    }
}

/// How a provider fails half-way through a sign-in.
#[derive(Clone, Copy)]
enum Outage {
    /// Its port refuses connections (the process is gone).
    Refuses,
    /// Its port takes connections and never answers (a hung process or a
    /// black-holing firewall): only Tandem's timeouts end the wait.
    Silent,
}

/// What keeps a stopped provider's port from being taken by anyone else.
#[allow(dead_code)] // held, never read
enum HeldPort {
    Bound(tokio::net::TcpSocket),
    Listening(tokio::net::TcpListener),
}

impl Provider {
    /// Stops the provider and keeps its port, so no other process (another
    /// test's provider, chromedriver, a server) picks it up while the test
    /// still points Tandem at it.
    fn stop(mut self, outage: Outage) -> HeldPort {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let addr: std::net::SocketAddr = self.issuer.trim_start_matches("http://").parse().unwrap();
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        // The provider's closed connections may linger in TIME_WAIT.
        socket.set_reuseaddr(true).unwrap();
        socket.bind(addr).unwrap_or_else(|e| panic!("holding the stopped provider's port {addr}: {e}"));
        match outage {
            Outage::Refuses => HeldPort::Bound(socket),
            // Never accepted: connections wait in the backlog, unanswered.
            Outage::Silent => HeldPort::Listening(socket.listen(64).unwrap()),
        }
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn account(email: &str, verified: bool) -> Value {
    json!({ "email": email, "email_verified": verified, "name": "Casey" })
}

/// The browser's side at the provider: follows redirects itself, keeps cookies.
pub(crate) struct Browser {
    http: reqwest::Client,
    cookies: HashMap<String, String>,
}

impl Browser {
    pub(crate) fn new() -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .unwrap();
        Browser { http, cookies: HashMap::new() }
    }

    pub(crate) async fn send(&mut self, method: reqwest::Method, url: &str, form: Option<&[(&str, &str)]>) -> (u16, Option<String>, String) {
        let mut req = self.http.request(method, url);
        if !self.cookies.is_empty() {
            let cookie = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
            req = req.header("cookie", cookie);
        }
        if let Some(form) = form {
            let body = serde_html_form::to_string(form).unwrap();
            req = req.header("content-type", "application/x-www-form-urlencoded").body(body);
        }
        let res = req.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
        for value in res.headers().get_all("set-cookie") {
            let value = value.to_str().unwrap();
            let (name, val) = value.split(';').next().unwrap().split_once('=').unwrap();
            if val.is_empty() || value.contains("1970") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), val.to_owned());
            }
        }
        let base = url::Url::parse(url).unwrap();
        let location = res.headers().get("location").map(|l| base.join(l.to_str().unwrap()).unwrap().to_string());
        let status = res.status().as_u16();
        (status, location, res.text().await.unwrap())
    }

    pub(crate) async fn get(&mut self, url: &str) -> (u16, Option<String>, String) {
        self.send(reqwest::Method::GET, url, None).await
    }

    /// Signs in at the provider as `account` and returns where it sends the
    /// browser back to (Tandem's callback, with code, state and iss).
    pub(crate) async fn authorize(&mut self, authorize_url: &str, account: &str) -> String {
        let (status, interaction, body) = self.get(authorize_url).await;
        assert!((300..400).contains(&status), "authorization request: {status} {body}");
        let interaction = interaction.unwrap();
        assert!(interaction.contains("/interaction/"), "{interaction}");
        let (status, resume, body) = self.get(&format!("{interaction}/login?account={account}")).await;
        assert!((300..400).contains(&status), "login: {status} {body}");
        let (status, back, body) = self.get(&resume.unwrap()).await;
        assert!((300..400).contains(&status), "resuming the authorization: {status} {body}");
        back.unwrap()
    }
}

/// A practice with one member (`casey@<slug>.example`, counselor) and a
/// provider configured through the API.
struct Setup<'a> {
    practice: Practice<'a>,
    member_id: uuid::Uuid,
    provider_id: String,
}

async fn set_up<'a>(app: &'a TestApp, slug: &str, provider: &Provider, client_id: &str) -> Setup<'a> {
    let mut practice = app.practice(slug).await;
    let (member_id, _) = practice.member(&format!("casey@{slug}.example"), &["counselor"]).await;
    let provider_id = add_provider(&mut practice.admin, &provider.issuer, client_id).await;
    Setup { practice, member_id, provider_id }
}

async fn add_provider(admin: &mut Client<'_>, issuer: &str, client_id: &str) -> String {
    let body = json!({ "display_name": "Clinic login", "issuer": issuer, "client_id": client_id, "client_secret": SECRET });
    let res = admin.json(Method::POST, "/api/v1/identity-providers", Some(body)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let view = res.json();
    assert!(!res.text().contains(SECRET), "the secret is never returned");
    view["id"].as_str().unwrap().to_owned()
}

/// Starts a sign-in in `tandem` (as a browser that opened the sign-in page)
/// and returns the provider's authorization URL.
async fn start(tandem: &mut Client<'_>, slug: &str, provider_id: &str) -> String {
    let page = tandem.get(&format!("/sign-in?practice={slug}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let link = format!("/p/{slug}/sso/{provider_id}/start");
    assert!(page.text().contains(&link), "no button: {}", page.text());
    let res = tandem.get(&link).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    res.location().unwrap().to_owned()
}

/// Signs in at the provider and brings the answer back to Tandem.
async fn come_back(tandem: &mut Client<'_>, authorize: &str, account: &str) -> TestResponse {
    let back = Browser::new().authorize(authorize, account).await;
    tandem.get(&link_path(&back)).await
}

/// The whole round trip; returns Tandem's answer to the callback.
async fn sign_in_via(tandem: &mut Client<'_>, slug: &str, provider_id: &str, account: &str) -> TestResponse {
    let authorize = start(tandem, slug, provider_id).await;
    come_back(tandem, &authorize, account).await
}

/// Answers the page a first sign-in stops at, which asks the member for
/// their Tandem password before their account is linked to the provider's.
async fn confirm_with_password(tandem: &mut Client<'_>, slug: &str, page: &TestResponse, password: &str) -> TestResponse {
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    assert!(page.text().contains("type your Tandem password"), "{}", page.text());
    let token = page.csrf_token();
    tandem.post_form(&format!("/p/{slug}/sso/confirm"), &[("csrf_token", token.as_str()), ("password", password)]).await
}

/// A member's first sign-in with the provider: the round trip, then their
/// password to link the two accounts.
async fn first_sign_in_via(tandem: &mut Client<'_>, slug: &str, provider_id: &str, account: &str) -> TestResponse {
    let page = sign_in_via(tandem, slug, provider_id, account).await;
    confirm_with_password(tandem, slug, &page, PASSWORD).await
}

fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url).unwrap().query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

fn with_param(url: &str, name: &str, value: Option<&str>) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> =
        parsed.query_pairs().filter(|(k, _)| k != name).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    {
        let mut q = parsed.query_pairs_mut();
        q.clear();
        for (k, v) in &pairs {
            q.append_pair(k, v);
        }
        if let Some(value) = value {
            q.append_pair(name, value);
        }
    }
    parsed.to_string()
}

async fn identities(app: &TestApp) -> u64 {
    entity::member_identities::Entity::find().count(&app.db).await.unwrap()
}

async fn flows(app: &TestApp) -> u64 {
    entity::sso_flows::Entity::find().count(&app.db).await.unwrap()
}

async fn last_event(app: &TestApp, practice_id: uuid::Uuid) -> entity::access_events::Model {
    entity::access_events::Entity::find()
        .filter(entity::access_events::Column::PracticeId.eq(practice_id))
        .order_by_desc(entity::access_events::Column::Seq)
        .one(&app.db)
        .await
        .unwrap()
        .expect("an access event")
}

/// A refusal: a clear message on the sign-in page, no session, no link
/// stored, the flow gone, and a denied access event naming the reason.
async fn assert_refused(app: &TestApp, tandem: &mut Client<'_>, res: &TestResponse, practice_id: uuid::Uuid, code: &str, message: &str) {
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{code}: {}", res.text());
    assert!(res.text().contains(message), "{code}: expected {message:?} in {}", res.text());
    assert!(res.text().contains("Sign in with Clinic login"), "the sign-in page, to try again");
    assert_eq!(tandem.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED, "{code}: no session");
    assert_eq!(identities(app).await, 0, "{code}: nothing linked");
    assert_eq!(flows(app).await, 0, "{code}: the flow is used up");
    let event = last_event(app, practice_id).await;
    assert_eq!((event.action.as_str(), event.outcome.as_str()), ("sso_sign_in", "denied"), "{code}");
    assert_eq!(event.reason.as_deref(), Some(format!("single sign-on refused: {code}").as_str()));
}

// ---- acceptance 1: a member signs in through a real provider ------------------

async fn a_member_signs_in_through_a_real_provider(app: TestApp) {
    let provider = Provider::for_practice("harbor");
    let s = set_up(&app, "harbor", &provider, "tandem").await;

    let mut tandem = app.client();
    let authorize = start(&mut tandem, "harbor", &s.provider_id).await;
    assert!(authorize.starts_with(&format!("{}/auth?", provider.issuer)), "{authorize}");
    assert_eq!(query_param(&authorize, "code_challenge_method").as_deref(), Some("S256"));
    assert!(query_param(&authorize, "code_challenge").is_some() && query_param(&authorize, "nonce").is_some());
    assert_eq!(query_param(&authorize, "redirect_uri").as_deref(), Some("http://127.0.0.1:8080/p/harbor/sso/callback"));
    let before = tandem.cookies.get("tandem_session").cloned().expect("a session before sign-in");
    assert_eq!(flows(&app).await, 1);

    let back = Browser::new().authorize(&authorize, "alice").await;
    let state = query_param(&back, "state").unwrap();
    let code = query_param(&back, "code").unwrap();
    let page = tandem.get(&link_path(&back)).await;
    // The account is not linked by its address alone: Casey confirms.
    assert_eq!(identities(&app).await, 0);
    assert_eq!(tandem.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
    let res = confirm_with_password(&mut tandem, "harbor", &page, PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(res.location(), Some("/"));
    let after = tandem.cookies.get("tandem_session").cloned().unwrap();
    assert_ne!(before, after, "the session id changes at sign-in");
    let me = tandem.get("/api/v1/me").await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json()["id"], s.member_id.to_string());
    assert_eq!(identities(&app).await, 1);
    assert_eq!(flows(&app).await, 0);
    let events = entity::access_events::Entity::find()
        .filter(entity::access_events::Column::PracticeId.eq(s.practice.id))
        .filter(entity::access_events::Column::Action.starts_with("sso_"))
        .order_by_asc(entity::access_events::Column::Seq)
        .all(&app.db)
        .await
        .unwrap();
    let summary: Vec<_> = events.iter().map(|e| (e.action.as_str(), e.outcome.as_str(), e.member_id)).collect();
    assert_eq!(
        summary,
        [
            ("sso_sign_in", "denied", Some(s.member_id)),
            ("sso_link", "success", Some(s.member_id)),
            ("sso_sign_in", "success", Some(s.member_id))
        ]
    );
    assert_eq!(events[0].reason.as_deref(), Some("single sign-on refused: link_needs_password"));

    // The pre-sign-in session id is worthless.
    let mut planted = app.client();
    planted.cookies.insert("tandem_session".into(), before);
    assert_eq!(planted.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);

    // Next time the link alone counts: no second link.
    let mut again = app.client();
    let res = sign_in_via(&mut again, "harbor", &s.provider_id, "alice").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(identities(&app).await, 1);
    assert_eq!(last_event(&app, s.practice.id).await.action, "sso_sign_in");

    // RP-initiated sign-out: Tandem's session ends, then the provider's.
    let out = tandem.submit("/tokens", "/sign-out", &[]).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.text());
    assert_eq!(tandem.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
    let text = out.text();
    let start = text.find(&format!("{}/session/end", provider.issuer)).expect("a link to the provider's sign-out");
    let end_session = text[start..start + text[start..].find('"').unwrap()].replace("&amp;", "&");
    assert_eq!(query_param(&end_session, "client_id").as_deref(), Some("tandem"));
    let mut browser = Browser::new();
    let (status, _, confirm) = browser.get(&end_session).await;
    assert_eq!(status, 200, "the provider accepts the sign-out request: {confirm}");
    assert!(confirm.contains("xsrf"), "{confirm}");

    // Nothing secret reaches the logs: not the code, the state, the email.
    if std::env::var_os("TEST_LOG").is_none() {
        let logs = captured_logs();
        assert!(logs.contains("signed in with single sign-on"));
        for secret in [code.as_str(), state.as_str(), "casey@harbor.example", SECRET] {
            assert!(!logs.contains(secret), "logs contain {secret:?}");
        }
    }
    // The secret is stored sealed.
    let stored = entity::identity_providers::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert!(!stored.client_secret_sealed.unwrap().contains(SECRET));
}

// ---- acceptance 2: every refusal ---------------------------------------------

async fn wrong_issuer_is_refused(app: TestApp) {
    let accounts = json!({ "alice": account("casey@wharf.example", true) });
    let mut provider = Provider::start(&["wharf"], &[("tandem", json!({}))], accounts.clone());
    let s = set_up(&app, "wharf", &provider, "tandem").await;
    let pid = s.practice.id;

    // A second, real provider with the same client answers the request sent
    // to the first (a mix-up): its callback names its own issuer.
    let other = Provider::start(&["wharf"], &[("tandem", json!({}))], accounts);
    let mut tandem = app.client();
    let authorize = start(&mut tandem, "wharf", &s.provider_id).await;
    let elsewhere = authorize.replace(&provider.issuer, &other.issuer);
    let back = Browser::new().authorize(&elsewhere, "alice").await;
    assert_eq!(query_param(&back, "iss").as_deref(), Some(other.issuer.as_str()));
    let res = tandem.get(&link_path(&back)).await;
    assert_refused(&app, &mut tandem, &res, pid, "wrong_issuer", "(wrong issuer)").await;

    // The real provider's ID token, re-signed by the harness with another `iss`.
    provider.set("tamper", json!({ "tandem": "iss" }));
    let mut tandem = app.client();
    let res = sign_in_via(&mut tandem, "wharf", &s.provider_id, "alice").await;
    assert_refused(&app, &mut tandem, &res, pid, "wrong_issuer", "(wrong issuer)").await;
}

async fn wrong_audience_is_refused(app: TestApp) {
    let mut provider = Provider::for_practice("quay");
    // Harness-made: a correct provider never issues our client a token for another.
    provider.set("tamper", json!({ "tandem": "aud" }));
    let s = set_up(&app, "quay", &provider, "tandem").await;
    let mut tandem = app.client();
    let res = sign_in_via(&mut tandem, "quay", &s.provider_id, "alice").await;
    assert_refused(&app, &mut tandem, &res, s.practice.id, "wrong_audience", "issued to another application").await;
}

async fn a_sign_in_that_takes_too_long_is_refused(app: TestApp) {
    let provider = Provider::for_practice("pier");
    let s = set_up(&app, "pier", &provider, "tandem").await;
    let mut tandem = app.client();
    let authorize = start(&mut tandem, "pier", &s.provider_id).await;
    let back = Browser::new().authorize(&authorize, "alice").await;
    // A sign-in must be finished within 10 minutes.
    app.clock.advance(Duration::minutes(11));
    let res = tandem.get(&link_path(&back)).await;
    assert_refused(&app, &mut tandem, &res, s.practice.id, "flow_expired", "took too long").await;
}

async fn a_token_past_its_expiry_is_refused(app: TestApp) {
    let provider = Provider::for_practice("dock");
    let s = set_up(&app, "dock", &provider, "tandem").await;
    let mut tandem = app.client();
    // Tandem's clock runs 70 minutes ahead of the provider's; the flow is
    // started after the jump, so only the real token's expiry is off.
    app.clock.advance(Duration::minutes(70));
    let authorize = start(&mut tandem, "dock", &s.provider_id).await;
    let res = come_back(&mut tandem, &authorize, "alice").await;
    assert_refused(&app, &mut tandem, &res, s.practice.id, "token_expired", "has expired").await;
}

async fn a_nonce_mismatch_is_refused(app: TestApp) {
    let provider = Provider::for_practice("ferry");
    let s = set_up(&app, "ferry", &provider, "tandem").await;
    let mut tandem = app.client();
    let authorize = start(&mut tandem, "ferry", &s.provider_id).await;
    // The request is changed on its way to the provider: the real ID token
    // then carries a nonce this sign-in never issued.
    let changed = with_param(&authorize, "nonce", Some("a-nonce-someone-else-chose"));
    let back = Browser::new().authorize(&changed, "alice").await;
    let res = tandem.get(&link_path(&back)).await;
    assert_refused(&app, &mut tandem, &res, s.practice.id, "nonce_mismatch", "nonce mismatch").await;
}

async fn replayed_and_unknown_states_are_refused(app: TestApp) {
    let provider = Provider::for_practice("buoy");
    let s = set_up(&app, "buoy", &provider, "tandem").await;
    let mut tandem = app.client();
    let unknown = tandem.get("/p/buoy/sso/callback?code=whatever&state=never-issued").await;
    assert_refused(&app, &mut tandem, &unknown, s.practice.id, "unknown_state", "unknown, has expired or was already used").await;

    let authorize = start(&mut tandem, "buoy", &s.provider_id).await;
    let back = Browser::new().authorize(&authorize, "alice").await;
    // Someone else's browser with the callback address: it was not started there.
    let mut thief = app.client();
    let stolen = thief.get(&link_path(&back)).await;
    assert_refused(&app, &mut thief, &stolen, s.practice.id, "other_browser", "started in another browser").await;
    // And now it is used up, for its own browser too.
    let replayed = tandem.get(&link_path(&back)).await;
    assert_refused(&app, &mut tandem, &replayed, s.practice.id, "unknown_state", "already used").await;

    // A completed sign-in cannot be replayed either.
    let mut fresh = app.client();
    let authorize = start(&mut fresh, "buoy", &s.provider_id).await;
    let back = Browser::new().authorize(&authorize, "alice").await;
    let page = fresh.get(&link_path(&back)).await;
    assert_eq!(confirm_with_password(&mut fresh, "buoy", &page, PASSWORD).await.status, StatusCode::SEE_OTHER);
    let mut other = app.client();
    let again = other.get(&link_path(&back)).await;
    assert_eq!(again.status, StatusCode::FORBIDDEN);
    assert!(again.text().contains("already used"), "{}", again.text());
    assert_eq!(other.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
}

async fn a_missing_pkce_verifier_is_refused(app: TestApp) {
    let provider = Provider::for_practice("mast");
    let s = set_up(&app, "mast", &provider, "tandem").await;

    // The stored verifier is gone (or does not open): refused before the code is redeemed.
    let mut tandem = app.client();
    let authorize = start(&mut tandem, "mast", &s.provider_id).await;
    let back = Browser::new().authorize(&authorize, "alice").await;
    entity::sso_flows::Entity::update_many()
        .col_expr(entity::sso_flows::Column::PkceVerifierSealed, sea_orm::sea_query::Expr::value(""))
        .exec(&app.db)
        .await
        .unwrap();
    let res = tandem.get(&link_path(&back)).await;
    assert_refused(&app, &mut tandem, &res, s.practice.id, "missing_pkce_verifier", "lost its PKCE verifier").await;

    // The challenge is stripped from the request on its way: the real
    // provider issues a code without PKCE, and refuses to redeem it with
    // the verifier Tandem always sends.
    let mut tandem = app.client();
    let authorize = start(&mut tandem, "mast", &s.provider_id).await;
    let stripped = with_param(&with_param(&authorize, "code_challenge", None), "code_challenge_method", None);
    let back = Browser::new().authorize(&stripped, "alice").await;
    let res = tandem.get(&link_path(&back)).await;
    assert_refused(&app, &mut tandem, &res, s.practice.id, "code_refused", "refused to complete the sign-in (invalid_grant)").await;
}

async fn unsigned_and_mac_signed_tokens_are_refused(app: TestApp) {
    let accounts = json!({ "alice": account("casey@keel.example", true) });
    let mut provider = Provider::start(
        &["keel"],
        &[("tandem", json!({})), ("tandem-hs256", json!({ "id_token_signed_response_alg": "HS256" }))],
        accounts,
    );
    let s = set_up(&app, "keel", &provider, "tandem").await;
    // Harness-made: the real token with its signature removed (alg "none").
    provider.set("tamper", json!({ "tandem": "none" }));
    let mut tandem = app.client();
    let res = sign_in_via(&mut tandem, "keel", &s.provider_id, "alice").await;
    assert_refused(&app, &mut tandem, &res, s.practice.id, "bad_signature", "is unsigned or not signed").await;

    // Real: a client the provider signs for with HS256 (a MAC keyed with the
    // client secret), which Tandem never accepts.
    let mut admin = s.practice.admin;
    let res = admin
        .json(
            Method::PUT,
            &format!("/api/v1/identity-providers/{}", s.provider_id),
            Some(json!({ "display_name": "Clinic login", "issuer": provider.issuer, "client_id": "tandem-hs256" })),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let mut tandem = app.client();
    let res = sign_in_via(&mut tandem, "keel", &s.provider_id, "alice").await;
    assert_refused(&app, &mut tandem, &res, s.practice.id, "bad_signature", "is unsigned or not signed").await;
}

async fn a_state_from_practice_a_is_refused_at_practice_b(app: TestApp) {
    let accounts = json!({ "alice": account("casey@north.example", true) });
    let provider = Provider::start(&["north", "south"], &[("tandem", json!({}))], accounts);
    let a = set_up(&app, "north", &provider, "tandem").await;
    let b = set_up(&app, "south", &provider, "tandem").await;
    let mut tandem = app.client();
    let authorize = start(&mut tandem, "north", &a.provider_id).await;
    let back = Browser::new().authorize(&authorize, "alice").await;
    let at_b = link_path(&back).replace("/p/north/", "/p/south/");
    let res = tandem.get(&at_b).await;
    assert_refused(&app, &mut tandem, &res, b.practice.id, "other_practice", "started for another practice").await;
    // ...and it cannot be finished at A afterwards.
    let res = tandem.get(&link_path(&back)).await;
    assert_refused(&app, &mut tandem, &res, a.practice.id, "unknown_state", "already used").await;
}

async fn an_unverified_email_is_refused(app: TestApp) {
    let provider = Provider::start(&["sail"], &[("tandem", json!({}))], json!({ "alice": account("casey@sail.example", false) }));
    let s = set_up(&app, "sail", &provider, "tandem").await;
    let mut tandem = app.client();
    let res = sign_in_via(&mut tandem, "sail", &s.provider_id, "alice").await;
    assert_refused(&app, &mut tandem, &res, s.practice.id, "unverified_email", "has not verified your email address").await;
}

async fn a_subject_is_tied_to_the_member_it_was_first_linked_to(app: TestApp) {
    let mut provider = Provider::start(
        &["cove"],
        &[("tandem", json!({}))],
        json!({ "alice": account("casey@cove.example", true), "mallory": account("casey@cove.example", true) }),
    );
    let mut s = set_up(&app, "cove", &provider, "tandem").await;
    let (other_id, _) = s.practice.member("robin@cove.example", &["counselor"]).await;
    let mut first = app.client();
    assert_eq!(first_sign_in_via(&mut first, "cove", &s.provider_id, "alice").await.status, StatusCode::SEE_OTHER);
    assert_eq!(identities(&app).await, 1);

    // Another account at the provider with the same (verified) address may
    // not take over the member alice is linked to.
    let mut tandem = app.client();
    let res = sign_in_via(&mut tandem, "cove", &s.provider_id, "mallory").await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(res.text().contains("already linked to a different Clinic login account"), "{}", res.text());
    assert_eq!(tandem.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(identities(&app).await, 1);
    let event = last_event(&app, s.practice.id).await;
    assert_eq!((event.outcome.as_str(), event.member_id), ("denied", Some(s.member_id)));

    // alice's address at the provider now names another member: the link,
    // not the address, decides who signs in.
    provider.set("accounts", json!({ "alice": account("robin@cove.example", true) }));
    let mut tandem = app.client();
    assert_eq!(sign_in_via(&mut tandem, "cove", &s.provider_id, "alice").await.status, StatusCode::SEE_OTHER);
    assert_eq!(tandem.get("/api/v1/me").await.json()["id"], s.member_id.to_string());

    // With the linked member deactivated, alice is refused, not re-linked to robin.
    let res = s.practice.admin.json(Method::POST, &format!("/api/v1/members/{}/deactivate", s.member_id), None).await;
    assert_eq!(res.status, StatusCode::OK);
    let mut tandem = app.client();
    let res = sign_in_via(&mut tandem, "cove", &s.provider_id, "alice").await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(res.text().contains("deactivated"), "{}", res.text());
    assert_eq!(tandem.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(identities(&app).await, 1);
    let _ = other_id;
}

async fn only_members_of_allowed_domains_link(app: TestApp) {
    let provider = Provider::start(
        &["reef"],
        &[("tandem", json!({}))],
        json!({ "alice": account("casey@reef.example", true), "nobody": account("stranger@reef.example", true) }),
    );
    let mut s = set_up(&app, "reef", &provider, "tandem").await;
    // Nobody with that address: refused, and no member is created.
    let mut tandem = app.client();
    let res = sign_in_via(&mut tandem, "reef", &s.provider_id, "nobody").await;
    assert_refused(&app, &mut tandem, &res, s.practice.id, "no_member", "Ask your practice admin for an invitation").await;
    let members = s.practice.admin.get("/api/v1/members").await.json();
    assert_eq!(members.as_array().unwrap().len(), 2, "sign-in never creates a member");

    let res = s
        .practice
        .admin
        .json(
            Method::PUT,
            &format!("/api/v1/identity-providers/{}", s.provider_id),
            Some(json!({ "display_name": "Clinic login", "issuer": provider.issuer, "client_id": "tandem", "allowed_domains": ["clinic.example"] })),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let mut tandem = app.client();
    let res = sign_in_via(&mut tandem, "reef", &s.provider_id, "alice").await;
    assert_refused(&app, &mut tandem, &res, s.practice.id, "domain_not_allowed", "domain may not sign in").await;
}

// ---- nobody but the member links their account ---------------------------------------

/// An admin adds a provider of her own that vouches for a counselor's
/// address. Its first sign-in does not link to the counselor's account or
/// sign anyone in: only the counselor's password would.
async fn an_admins_provider_cannot_take_over_an_account(app: TestApp) {
    let provider = Provider::for_practice("glen");
    let s = set_up(&app, "glen", &provider, "tandem").await;
    let mut avery = app.client();
    let page = sign_in_via(&mut avery, "glen", &s.provider_id, "alice").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    assert_eq!(avery.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED, "nobody is signed in");
    assert_eq!(identities(&app).await, 0, "nothing is linked");
    for guess in ["password", "casey", "123456789012"] {
        let res = confirm_with_password(&mut avery, "glen", &page, guess).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.text());
        assert!(res.text().contains("not your Tandem password"));
    }
    assert_eq!(avery.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(identities(&app).await, 0);
    // A later sign-in through the provider still links nothing.
    let mut again = app.client();
    assert_eq!(sign_in_via(&mut again, "glen", &s.provider_id, "alice").await.status, StatusCode::OK);
    assert_eq!(again.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(identities(&app).await, 0);
}

/// A member connects their own account from their profile; the link is a
/// change to who can act as them, in their list of changes.
async fn a_member_connects_their_account_from_their_profile(app: TestApp) {
    let provider = Provider::for_practice("moor");
    let s = set_up(&app, "moor", &provider, "tandem").await;
    let mut casey = app.client();
    casey.sign_in("moor", "casey@moor.example", PASSWORD).await;
    let profile = casey.get("/profile").await;
    let action = format!("/profile/sso/{}", s.provider_id);
    assert!(profile.text().contains(&action), "{}", profile.text());
    let res = casey.submit("/profile", &action, &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let res = come_back(&mut casey, res.location().unwrap(), "alice").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(res.location(), Some("/profile?saved=connected"));
    assert_eq!(identities(&app).await, 1);
    assert!(casey.get("/profile").await.text().contains("Clinic login:\n      connected"));
    let changes = casey.get("/api/v1/access-changes").await.json();
    let link = &changes["items"][0];
    assert_eq!(link["action"], "sso_link");
    assert_eq!(link["subjects"][0]["id"], s.member_id.to_string());
    assert_eq!(link["after"]["issuer"], provider.issuer);

    // From now on the provider alone signs Casey in.
    let mut later = app.client();
    assert_eq!(sign_in_via(&mut later, "moor", &s.provider_id, "alice").await.status, StatusCode::SEE_OTHER);
    assert_eq!(later.get("/api/v1/me").await.json()["id"], s.member_id.to_string());

    // A connection started by one member cannot be finished by another who
    // signed in to the same browser meanwhile.
    let mut shared = app.client();
    shared.sign_in("moor", "admin@moor.example", PASSWORD).await;
    let res = shared.submit("/profile", &action, &[]).await;
    let authorize = res.location().unwrap().to_owned();
    shared.sign_in("moor", "casey@moor.example", PASSWORD).await;
    let res = come_back(&mut shared, &authorize, "alice").await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text());
    assert_eq!(identities(&app).await, 1);
}

both!(an_admins_provider_cannot_take_over_an_account, a_member_connects_their_account_from_their_profile);

// ---- key rotation ------------------------------------------------------------------

/// The provider signs with a key Tandem has not seen, while Tandem's copy of
/// its documents is still fresh: Tandem fetches the keys once more and the
/// sign-in goes through.
async fn a_new_signing_key_is_fetched_when_a_token_names_it(app: TestApp) {
    let mut provider = Provider::for_practice("isle");
    let s = set_up(&app, "isle", &provider, "tandem").await;
    let res = first_sign_in_via(&mut app.client(), "isle", &s.provider_id, "alice").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());

    provider.rotate_key("test-key-2");
    let mut tandem = app.client();
    let res = sign_in_via(&mut tandem, "isle", &s.provider_id, "alice").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(tandem.get("/api/v1/me").await.json()["id"], s.member_id.to_string());

    // Issue 12, defect 7: a new key under the same key id. The cached key
    // does not verify the signature; the keys were fetched again a moment
    // ago, so not yet again (tokens that do not verify cannot make Tandem
    // hammer a provider)...
    provider.rotate_key("test-key-2");
    let res = sign_in_via(&mut app.client(), "isle", &s.provider_id, "alice").await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text());
    assert!(res.text().contains("not signed with one of"), "{}", res.text());
    // ...but a little later, while the cached documents are still fresh,
    // the keys are fetched again and the sign-in goes through.
    let interval = tandem::sso::discovery::KEY_REFRESH_INTERVAL;
    app.clock.advance(interval + Duration::seconds(1));
    assert!(interval + Duration::seconds(1) < Duration::minutes(app.state.config.sso_discovery_cache_minutes.into()));
    let mut tandem = app.client();
    let res = sign_in_via(&mut tandem, "isle", &s.provider_id, "alice").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(tandem.get("/api/v1/me").await.json()["id"], s.member_id.to_string());
}

both!(a_new_signing_key_is_fetched_when_a_token_names_it);

// ---- where Tandem may call a provider ----------------------------------------------

fn local_issuers_refused() -> tandem::config::Config {
    tandem::config::Config { sso_allow_insecure_issuers: false, ..test_config() }
}

/// Issue 12, defect 7: by default a practice admin cannot make Tandem call
/// this machine or its private network, nor a provider over plain http.
async fn local_and_plain_http_issuers_are_refused_by_default(app: TestApp) {
    assert!(!tandem::config::Config::default().sso_allow_insecure_issuers, "refused unless the operator allows it");
    let mut practice = app.practice("shoal").await;
    for (issuer, message) in [
        ("http://127.0.0.1:5432", "must start with https://"),
        ("http://localhost:8080", "must start with https://"),
        ("https://127.0.0.1:5432", "not on this machine or a private network"),
        ("https://localhost", "not on this machine or a private network"),
        ("https://[::1]:9000", "not on this machine or a private network"),
        ("https://169.254.169.254", "not on this machine or a private network"),
        ("https://10.20.30.40", "not on this machine or a private network"),
        ("https://192.168.1.20", "not on this machine or a private network"),
    ] {
        let body = json!({ "display_name": "Clinic login", "issuer": issuer, "client_id": "tandem", "client_secret": SECRET });
        let res = practice.admin.json(Method::POST, "/api/v1/identity-providers", Some(body)).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{issuer}: {}", res.text());
        assert!(res.header("content-type").unwrap().starts_with("application/problem+json"));
        let errors = res.json()["errors"].clone();
        assert_eq!(errors[0]["field"], "issuer", "{issuer}: {errors}");
        assert!(errors[0]["message"].as_str().unwrap().contains(message), "{issuer}: {errors}");
    }
    let body = json!({ "display_name": "Clinic login", "issuer": "https://login.shoal.example", "client_id": "tandem", "client_secret": SECRET });
    let res = practice.admin.json(Method::POST, "/api/v1/identity-providers", Some(body)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
}

both!(config = super::local_issuers_refused(); local_and_plain_http_issuers_are_refused_by_default);

// ---- secret files: each practice its own folder ------------------------------------

async fn provider_of(app: &TestApp, practice_id: uuid::Uuid) -> entity::identity_providers::Model {
    entity::identity_providers::Entity::find()
        .filter(entity::identity_providers::Column::PracticeId.eq(practice_id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}

fn with_secret_folder() -> tandem::config::Config {
    let dir = std::env::temp_dir().join(format!("tandem-sso-secrets-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    tandem::config::Config { sso_secret_dir: Some(dir), ..test_config() }
}

/// Issue 12, defect 3: hillside's admin names riverside's secret file (by
/// name, by path, through a link) and is refused; each practice reads files
/// in its own folder `<dir>/<slug>/` only.
async fn a_practice_names_secret_files_in_its_own_folder_only(app: TestApp) {
    let dir = app.state.config.sso_secret_dir.clone().unwrap();
    for (slug, file, secret) in [("riverside", "clinic-secret", "riverside's secret"), ("hillside", "hillside-secret", "hillside's secret")] {
        std::fs::create_dir_all(dir.join(slug)).unwrap();
        std::fs::write(dir.join(slug).join(file), secret).unwrap();
    }
    std::fs::write(dir.join("shared-secret"), "a secret at the top").unwrap();
    std::os::unix::fs::symlink("../riverside/clinic-secret", dir.join("hillside").join("sneaky")).unwrap();
    let mut riverside = app.practice("riverside").await;
    let mut hillside = app.practice("hillside").await;
    let add = |file: &str| {
        json!({ "display_name": "Clinic login", "issuer": "https://login.clinic.example", "client_id": "tandem", "client_secret_file": file })
    };

    let riverside_path = dir.join("riverside").join("clinic-secret").display().to_string();
    for file in ["clinic-secret", "shared-secret", "../riverside/clinic-secret", "riverside/clinic-secret", riverside_path.as_str(), "sneaky", ".."] {
        let res = hillside.admin.json(Method::POST, "/api/v1/identity-providers", Some(add(file))).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{file}: {}", res.text());
        assert_eq!(res.json()["errors"][0]["field"], "client_secret_file", "{file}: {}", res.text());
        assert!(!res.text().contains("riverside's secret"));
    }
    let res = hillside.admin.json(Method::POST, "/api/v1/identity-providers", Some(add("hillside-secret"))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let res = riverside.admin.json(Method::POST, "/api/v1/identity-providers", Some(add("clinic-secret"))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());

    let hillside_provider = provider_of(&app, hillside.id).await;
    let secret = tandem::sso::providers::client_secret(&app.state, "hillside", &hillside_provider).unwrap();
    assert_eq!(secret.expose(), "hillside's secret");
    let secret = tandem::sso::providers::client_secret(&app.state, "riverside", &provider_of(&app, riverside.id).await).unwrap();
    assert_eq!(secret.expose(), "riverside's secret");

    // The folder is checked at every use: a file swapped for a link to
    // another practice's secret is not read.
    std::fs::remove_file(dir.join("hillside").join("hillside-secret")).unwrap();
    std::os::unix::fs::symlink("../riverside/clinic-secret", dir.join("hillside").join("hillside-secret")).unwrap();
    assert!(tandem::sso::providers::client_secret(&app.state, "hillside", &hillside_provider).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

both!(config = super::with_secret_folder(); a_practice_names_secret_files_in_its_own_folder_only);

// ---- accepting an invitation through the provider ----------------------------------

/// A practice with a provider and an open invitation for
/// `dana@<slug>.example` as counselor; returns the join page's path.
async fn invited<'a>(app: &'a TestApp, slug: &str, provider: &Provider) -> (Practice<'a>, String, String) {
    let mut practice = app.practice(slug).await;
    let provider_id = add_provider(&mut practice.admin, &provider.issuer, "tandem").await;
    let link = practice.admin.invite(&format!("dana@{slug}.example"), &["counselor"]).await;
    let join = url::Url::parse(&link).unwrap().path().to_owned();
    (practice, provider_id, join)
}

/// Opens the invitation and follows its "Join with" button to the provider.
async fn join_start(tandem: &mut Client<'_>, join: &str, provider_id: &str) -> String {
    let page = tandem.get(join).await;
    assert_eq!(page.status, StatusCode::OK);
    let button = format!("{join}/sso/{provider_id}");
    assert!(page.text().contains(&button) && page.text().contains("Join with Clinic login"), "{}", page.text());
    let res = tandem.get(&button).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    res.location().unwrap().to_owned()
}

async fn members(app: &TestApp) -> u64 {
    entity::members::Entity::find().count(&app.db).await.unwrap()
}

async fn an_invitation_is_accepted_through_the_provider(app: TestApp) {
    let provider = Provider::start(
        &["bay"],
        &[("tandem", json!({}))],
        json!({
            "dana": account("dana@bay.example", true),
            "someone": account("someone@bay.example", true),
            "unverified": account("dana@bay.example", false),
        }),
    );
    let (mut practice, provider_id, join) = invited(&app, "bay", &provider).await;
    let mut tandem = app.client();

    // Another address, or the right one unverified: refused, and the
    // invitation stays open for a later try.
    for (account, code, message) in [
        ("someone", "invitation_email_mismatch", "invitation is for another email address"),
        ("unverified", "unverified_email", "has not verified your email address"),
    ] {
        let authorize = join_start(&mut tandem, &join, &provider_id).await;
        let res = come_back(&mut tandem, &authorize, account).await;
        assert_refused(&app, &mut tandem, &res, practice.id, code, message).await;
        assert_eq!(members(&app).await, 1, "{code}: only the admin");
    }

    let authorize = join_start(&mut tandem, &join, &provider_id).await;
    let res = come_back(&mut tandem, &authorize, "dana").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let me = tandem.get("/api/v1/me").await.json();
    assert_eq!((me["email"].as_str(), me["display_name"].as_str()), (Some("dana@bay.example"), Some("Casey")), "{me}");
    assert_eq!(me["roles"], json!(["counselor"]), "the invitation's roles");
    let member_id: uuid::Uuid = me["id"].as_str().unwrap().parse().unwrap();
    let stored = entity::members::Entity::find_by_id(member_id).one(&app.db).await.unwrap().unwrap();
    assert!(stored.password_hash.is_none(), "joined without a password");
    assert_eq!(identities(&app).await, 1);
    let events: Vec<_> = entity::access_events::Entity::find()
        .filter(entity::access_events::Column::MemberId.eq(member_id))
        .order_by_asc(entity::access_events::Column::Seq)
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.action, e.outcome))
        .collect();
    assert_eq!(events[..2], [("sso_link".to_owned(), "success".to_owned()), ("sso_sign_in".to_owned(), "success".to_owned())]);
    assert_eq!(app.client().get(&join).await.status, StatusCode::CONFLICT, "the invitation is used");

    // Later sign-ins go by the linked account.
    let mut later = app.client();
    let res = sign_in_via(&mut later, "bay", &provider_id, "dana").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(later.get("/api/v1/me").await.json()["id"], member_id.to_string());

    // An account that already belongs to a member cannot take another invitation.
    let link = practice.admin.invite("dana.second@bay.example", &["supervisor"]).await;
    let second = url::Url::parse(&link).unwrap().path().to_owned();
    let mut other = app.client();
    let authorize = join_start(&mut other, &second, &provider_id).await;
    let res = come_back(&mut other, &authorize, "dana").await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text());
    assert!(res.text().contains("already belongs to a member of this practice"), "{}", res.text());
    assert_eq!(members(&app).await, 2);
    assert_eq!(other.get(&second).await.status, StatusCode::OK, "still open");
}

async fn an_invitation_withdrawn_during_the_sign_in_is_not_accepted(app: TestApp) {
    let provider = Provider::start(&["fen"], &[("tandem", json!({}))], json!({ "dana": account("dana@fen.example", true) }));
    let (mut practice, provider_id, join) = invited(&app, "fen", &provider).await;
    let mut tandem = app.client();
    let authorize = join_start(&mut tandem, &join, &provider_id).await;
    let invitation = practice.admin.get("/api/v1/invitations").await.json()[0]["id"].as_str().unwrap().to_owned();
    let res = practice.admin.json(Method::DELETE, &format!("/api/v1/invitations/{invitation}"), None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let res = come_back(&mut tandem, &authorize, "dana").await;
    assert_refused(&app, &mut tandem, &res, practice.id, "invitation_gone", "was withdrawn").await;
    assert_eq!(members(&app).await, 1);
}

both!(an_invitation_is_accepted_through_the_provider, an_invitation_withdrawn_during_the_sign_in_is_not_accepted);

// ---- a provider that is down ---------------------------------------------------

async fn a_provider_that_is_down_fails_its_button_not_the_page(app: TestApp) {
    provider_outage(app, Outage::Refuses).await;
}

/// Tandem gives up on a provider that does not answer after
/// `sso_http_timeout_seconds` (1 s here), with the same clear messages.
async fn a_provider_that_stops_answering_is_given_up_on(app: TestApp) {
    provider_outage(app, Outage::Silent).await;
}

fn one_second_timeout() -> tandem::config::Config {
    tandem::config::Config { sso_http_timeout_seconds: 1, ..test_config() }
}

async fn provider_outage(app: TestApp, outage: Outage) {
    let provider = Provider::for_practice("tide");
    let issuer = provider.issuer.clone();
    let s = set_up(&app, "tide", &provider, "tandem").await;
    let mut tandem = app.client();
    let authorize = start(&mut tandem, "tide", &s.provider_id).await;
    let back = Browser::new().authorize(&authorize, "alice").await;
    let _port = provider.stop(outage); // half-way through a sign-in

    let res = tandem.get(&link_path(&back)).await;
    assert_refused(&app, &mut tandem, &res, s.practice.id, "token_request_failed", "could not be asked to complete the sign-in").await;

    // Its documents are cached for a while: starting still works...
    start(&mut tandem, "tide", &s.provider_id).await;
    // ...until they expire. Then the button fails with a clear page; the
    // sign-in page itself is fine.
    app.clock.advance(Duration::minutes(11));
    let page = tandem.get("/sign-in?practice=tide").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("Sign in with Clinic login"));
    let res = tandem.get(&format!("/p/tide/sso/{}/start", s.provider_id)).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{}", res.text());
    assert!(res.header("content-type").unwrap().starts_with("text/html"));
    assert!(res.text().contains("Clinic login cannot be reached right now"), "{}", res.text());
    assert!(!res.text().contains(&issuer), "no internals on the page");
}

// ---- admins manage providers -----------------------------------------------------

async fn admins_manage_providers_on_a_page(app: TestApp) {
    let mut practice = app.practice("lagoon").await;
    let (_, mut counselor) = practice.member("c@lagoon.example", &["counselor"]).await;
    let admin = &mut practice.admin;
    let page = admin.get("/identity-providers").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("http://127.0.0.1:8080/p/lagoon/sso/callback"), "the redirect URI to register");
    assert!(admin.get("/").await.text().contains("href=\"/identity-providers\""), "in the nav for admins");
    assert_eq!(counselor.get("/identity-providers").await.status, StatusCode::FORBIDDEN);
    assert_eq!(counselor.get("/api/v1/identity-providers").await.status, StatusCode::FORBIDDEN);

    let form = [
        ("display_name", "Lagoon staff login"),
        ("issuer", "http://lagoon.example"),
        ("client_id", "tandem"),
        ("client_secret", "page-secret-value-1"),
        ("allowed_domains", "lagoon.example"),
        ("enabled", "on"),
    ];
    let res = admin.submit("/identity-providers", "/identity-providers", &form).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("must start with https://"), "{}", res.text());
    assert!(!res.text().contains("page-secret-value-1"), "a secret is never shown again");

    let mut form = form;
    form[1] = ("issuer", "https://login.lagoon.example");
    let res = admin.submit("/identity-providers", "/identity-providers", &form).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let list = admin.get("/api/v1/identity-providers").await.json();
    let id = list[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(list[0]["allowed_domains"], json!(["lagoon.example"]));
    assert_eq!(list[0]["client_secret_source"], "sealed");
    assert!(app.client().get("/sign-in?practice=lagoon").await.text().contains("Sign in with Lagoon staff login"));

    // Change it without re-entering the secret, and turn it off.
    let edit = admin.get(&format!("/identity-providers/{id}")).await;
    assert_eq!(edit.status, StatusCode::OK);
    assert!(!edit.text().contains("page-secret-value-1"));
    let res = admin
        .submit(
            &format!("/identity-providers/{id}"),
            &format!("/identity-providers/{id}"),
            &[("display_name", "Lagoon login"), ("issuer", "https://login.lagoon.example"), ("client_id", "tandem"), ("allowed_domains", "")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let stored = entity::identity_providers::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert!(!stored.enabled && stored.client_secret_sealed.is_some(), "secret kept");
    let sign_in = app.client().get("/sign-in?practice=lagoon").await;
    assert!(!sign_in.text().contains("Lagoon login"), "a provider turned off has no button");
    assert_eq!(app.client().get(&format!("/p/lagoon/sso/{id}/start")).await.status, StatusCode::NOT_FOUND);

    // The same issuer twice is refused with a message.
    let res = admin
        .json(
            Method::POST,
            "/api/v1/identity-providers",
            Some(json!({ "display_name": "Again", "issuer": "https://login.lagoon.example", "client_id": "x", "client_secret": "y" })),
        )
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text());
}

both!(
    a_member_signs_in_through_a_real_provider,
    wrong_issuer_is_refused,
    wrong_audience_is_refused,
    a_sign_in_that_takes_too_long_is_refused,
    a_token_past_its_expiry_is_refused,
    a_nonce_mismatch_is_refused,
    replayed_and_unknown_states_are_refused,
    a_missing_pkce_verifier_is_refused,
    unsigned_and_mac_signed_tokens_are_refused,
    a_state_from_practice_a_is_refused_at_practice_b,
    an_unverified_email_is_refused,
    a_subject_is_tied_to_the_member_it_was_first_linked_to,
    only_members_of_allowed_domains_link,
    a_provider_that_is_down_fails_its_button_not_the_page,
    admins_manage_providers_on_a_page,
);

// ---- acceptance 3: several processes on one database ------------------------------

/// Two Tandem processes (separate connection pools, caches and routers) on
/// one database: the sign-in starts on one and finishes on the other.
async fn a_sign_in_started_on_one_process_finishes_on_another(app: TestApp) {
    let provider = Provider::for_practice("delta");
    let s = set_up(&app, "delta", &provider, "tandem").await;
    let other = app.another_process().await;
    let mut on_one = app.client();
    let authorize = start(&mut on_one, "delta", &s.provider_id).await;
    let back = Browser::new().authorize(&authorize, "alice").await;
    let mut on_two = other.client();
    on_two.cookies = on_one.cookies.clone();
    let page = on_two.get(&link_path(&back)).await;
    on_one.cookies = on_two.cookies.clone();
    let res = confirm_with_password(&mut on_one, "delta", &page, PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    on_two.cookies = on_one.cookies.clone();
    assert_eq!(on_two.get("/api/v1/me").await.json()["id"], s.member_id.to_string());
    on_one.cookies = on_two.cookies.clone();
    assert_eq!(on_one.get("/api/v1/me").await.json()["id"], s.member_id.to_string(), "and the session works on both");
}

both!(a_sign_in_started_on_one_process_finishes_on_another);
both!(config = super::one_second_timeout(); a_provider_that_stops_answering_is_given_up_on);
