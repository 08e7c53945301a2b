//! Password sign-in, sessions (rotation, idle and absolute timeouts, sign-out)
//! and throttling of failed attempts.

use axum::http::StatusCode;
use sea_orm::ConnectionTrait;
use time::Duration;

use crate::{both, helpers::*};

/// The `Set-Cookie` header of a response that sets the cookie `name`.
fn set_cookie(res: &TestResponse, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    res.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).find(|c| c.starts_with(&prefix))
}

async fn sign_in_rotates_the_session_and_sign_out_ends_it(app: TestApp) {
    let practice = app.practice("oak").await;
    drop(practice);
    let mut browser = app.client();
    let page = browser.get("/sign-in").await;
    assert_eq!(page.status, StatusCode::OK);
    // One practice: its short name is filled in.
    assert!(page.text().contains("value=\"oak\""));
    let before = browser.cookies.get("tandem_session").cloned().expect("anonymous session for the form");

    let res = browser.sign_in("oak", "admin@oak.example", PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    // The session's cookie (the browser's device cookie comes too).
    let set_cookie = set_cookie(&res, "tandem_session").unwrap();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    assert!(!set_cookie.contains("Secure"), "plain http must not set Secure: {set_cookie}");
    let after = browser.cookies.get("tandem_session").cloned().unwrap();
    assert_ne!(before, after, "the session id changes at sign-in");

    let home = browser.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.text().contains("Ada Admin") && home.text().contains("Practice oak"));

    // The pre-sign-in id is worthless.
    let mut planted = app.client();
    planted.cookies.insert("tandem_session".into(), before);
    assert_eq!(planted.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);

    // Sign-out ends the session server-side: a stolen copy of the cookie stops working.
    let mut copy = app.client();
    copy.cookies.insert("tandem_session".into(), after);
    assert_eq!(copy.get("/api/v1/me").await.status, StatusCode::OK);
    let res = browser.submit("/tokens", "/sign-out", &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(copy.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(browser.get("/").await.location(), Some("/sign-in"));
}

async fn wrong_password_and_unknown_account_look_the_same(app: TestApp) {
    app.practice("elm").await;
    let mut a = app.client_from("203.0.113.1:1");
    let wrong_password = a.sign_in("elm", "admin@elm.example", "not the right password").await;
    let mut b = app.client_from("203.0.113.2:1");
    let unknown_account = b.sign_in("elm", "nobody@elm.example", "not the right password").await;
    let mut c = app.client_from("203.0.113.3:1");
    let unknown_practice = c.sign_in("nope", "admin@elm.example", "not the right password").await;
    for res in [&wrong_password, &unknown_account, &unknown_practice] {
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert!(res.text().contains("The practice, email or password is not right."));
    }
    let strip = |s: String| s.replace("nobody@", "admin@").replace("value=\"nope\"", "value=\"elm\"");
    let normalise = |res: &TestResponse| {
        let text = res.text();
        let token = res.csrf_token();
        strip(text.replace(&token, "TOKEN"))
    };
    assert_eq!(normalise(&wrong_password), normalise(&unknown_account));
    assert_eq!(normalise(&wrong_password), normalise(&unknown_practice));
}

async fn deactivated_members_cannot_sign_in(app: TestApp) {
    let mut practice = app.practice("ash").await;
    let (id, mut counselor) = practice.member("c@ash.example", &["counselor"]).await;
    let res = practice
        .admin
        .json(axum::http::Method::POST, &format!("/api/v1/members/{id}/deactivate"), None)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    // Their open session ends at once...
    assert_eq!(counselor.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
    // ...and the right password no longer works.
    let res = app.client().sign_in("ash", "c@ash.example", PASSWORD).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

async fn sessions_expire_after_idle_time(app: TestApp) {
    app.practice("fir").await;
    let mut browser = app.client();
    browser.sign_in("fir", "admin@fir.example", PASSWORD).await;
    // Activity keeps the session alive past the idle limit in total...
    for _ in 0..3 {
        app.clock.advance(Duration::minutes(20));
        assert_eq!(browser.get("/").await.status, StatusCode::OK);
    }
    // ...but 31 quiet minutes end it.
    app.clock.advance(Duration::minutes(31));
    let res = browser.get("/").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), Some("/sign-in"));
    assert_eq!(browser.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
}

async fn sessions_end_at_the_absolute_limit(app: TestApp) {
    app.practice("yew").await;
    let mut browser = app.client();
    browser.sign_in("yew", "admin@yew.example", PASSWORD).await;
    // Active every 25 minutes for 11.9 hours: still signed in.
    for _ in 0..28 {
        app.clock.advance(Duration::minutes(25));
        assert_eq!(browser.get("/api/v1/me").await.status, StatusCode::OK);
    }
    app.clock.advance(Duration::minutes(25));
    assert_eq!(browser.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
}

async fn failed_sign_ins_lock_the_account_for_a_while(app: TestApp) {
    app.practice("pine").await;
    for i in 0..5 {
        // From different addresses: the per-account counter is what locks.
        let mut attacker = app.client_from(&format!("203.0.113.{}:1", 10 + i));
        let res = attacker.sign_in("pine", "admin@pine.example", "guess number one").await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    }
    let mut owner = app.client_from("192.0.2.50:1");
    let res = owner.sign_in("pine", "admin@pine.example", PASSWORD).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.text());
    assert!(res.header("retry-after").is_some());
    assert!(res.text().contains("Too many failed sign-ins"));

    app.clock.advance(Duration::minutes(16));
    let res = owner.sign_in("pine", "admin@pine.example", PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
}

async fn failed_sign_ins_lock_the_address(app: TestApp) {
    app.practice("cedar").await;
    let max = app.state.config.sign_in_max_failures_per_address as usize;
    let mut attacker = app.client_from("203.0.113.99:1");
    for i in 0..max {
        // A different account each time: the per-address counter is what locks.
        let res = attacker.sign_in("cedar", &format!("guess{i}@cedar.example"), "password guess x").await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let res = attacker.sign_in("cedar", "admin@cedar.example", PASSWORD).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    // Someone else, elsewhere, is not affected.
    let res = app.client_from("192.0.2.1:1").sign_in("cedar", "admin@cedar.example", PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
}

/// Issue 12, defect 6: a stranger's wrong guesses (at the account from
/// anywhere, and at other accounts from the office's shared address) must not
/// lock the owner out of the browser they signed in from before; unknown
/// browsers stay locked out, and the known browser has a budget of its own.
async fn a_stranger_cannot_lock_the_owner_out_of_their_usual_browser(app: TestApp) {
    app.practice("birch").await;
    let office = "192.0.2.80:1";
    let mut owner = app.client_from(office);
    let res = owner.sign_in("birch", "admin@birch.example", PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let device = set_cookie(&res, "tandem_device").expect("a device cookie after a sign-in with the right password");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="] {
        assert!(device.contains(attribute), "{attribute} in {device}");
    }
    owner.submit("/tokens", "/sign-out", &[]).await;
    assert!(owner.cookies.contains_key("tandem_device"), "signing out keeps the browser known");

    // A stranger guesses at the account from several addresses, and at
    // other accounts from the office's shared address.
    for i in 0..app.state.config.sign_in_max_failures_per_account {
        let res = app.client_from(&format!("203.0.113.{}:1", 20 + i)).sign_in("birch", "admin@birch.example", "guess one").await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    }
    let mut in_the_office = app.client_from(office);
    for i in 0..app.state.config.sign_in_max_failures_per_address {
        let res = in_the_office.sign_in("birch", &format!("someone{i}@birch.example"), "guess two").await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    // Unknown browsers are locked out, wherever they are...
    for addr in [office, "198.51.100.9:1"] {
        let res = app.client_from(addr).sign_in("birch", "admin@birch.example", PASSWORD).await;
        assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{addr}: {}", res.text());
    }
    // ...a cookie the server never handed out changes nothing...
    let mut forged = app.client_from("198.51.100.9:1");
    forged.cookies.insert("tandem_device".into(), "A".repeat(43));
    assert_eq!(forged.sign_in("birch", "admin@birch.example", PASSWORD).await.status, StatusCode::TOO_MANY_REQUESTS);
    // ...and the owner, in their usual browser at the office, signs in.
    let res = owner.sign_in("birch", "admin@birch.example", PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(owner.get("/api/v1/me").await.status, StatusCode::OK);
    // Their success does not reset the strangers' lockout.
    let res = app.client_from("198.51.100.9:1").sign_in("birch", "admin@birch.example", PASSWORD).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);

    // The known browser's own failures lock it (a stolen device cookie is
    // no licence to guess), for the lockout time.
    owner.submit("/tokens", "/sign-out", &[]).await;
    for _ in 0..app.state.config.sign_in_max_failures_per_device {
        let res = owner.sign_in("birch", "admin@birch.example", "guess three").await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    }
    let res = owner.sign_in("birch", "admin@birch.example", PASSWORD).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.text());
    app.clock.advance(Duration::minutes(16));
    let res = owner.sign_in("birch", "admin@birch.example", PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
}

/// A device cookie counts for the account it was given for only: the
/// owner's browser is an unknown browser to every other account.
async fn a_device_cookie_is_for_its_own_account_only(app: TestApp) {
    let mut practice = app.practice("alder").await;
    practice.member("c@alder.example", &["counselor"]).await;
    let mut shared = app.client();
    assert_eq!(shared.sign_in("alder", "admin@alder.example", PASSWORD).await.status, StatusCode::SEE_OTHER);
    shared.submit("/tokens", "/sign-out", &[]).await;
    for i in 0..app.state.config.sign_in_max_failures_per_account {
        let res = app.client_from(&format!("203.0.113.{}:1", 40 + i)).sign_in("alder", "c@alder.example", "guess").await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    }
    let res = shared.sign_in("alder", "c@alder.example", PASSWORD).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.text());

    // Once the counselor has signed in there, the browser is known to both.
    app.clock.advance(Duration::minutes(16));
    assert_eq!(shared.sign_in("alder", "c@alder.example", PASSWORD).await.status, StatusCode::SEE_OTHER);
    shared.submit("/tokens", "/sign-out", &[]).await;
    for email in ["admin@alder.example", "c@alder.example"] {
        for i in 0..app.state.config.sign_in_max_failures_per_account {
            let res = app.client_from(&format!("203.0.113.{}:1", 60 + i)).sign_in("alder", email, "guess").await;
            assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        }
        let res = shared.sign_in("alder", email, PASSWORD).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{email}: {}", res.text());
        shared.submit("/tokens", "/sign-out", &[]).await;
    }
}

/// A signed-in session's next request begins in its practice (on
/// PostgreSQL its first statement, `tandem_session`, sets the practice in
/// the request's transaction and then reads the session's row) and is
/// still checked against the database.
async fn a_remembered_session_is_read_in_its_practice_and_still_checked(app: TestApp) {
    let practice = app.practice("birch").await;
    let (recorded, sql) = recording(&app);
    let mut browser = recorded.client();
    browser.cookies = practice.admin.cookies.clone();
    assert_eq!(browser.get("/api/v1/me").await.status, StatusCode::OK);
    sql.lock().unwrap().clear();
    assert_eq!(browser.get("/api/v1/me").await.status, StatusCode::OK);
    let statements = sql.lock().unwrap().clone();
    if app.db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        // One statement tells the practice and reads the session's row.
        assert!(statements[0].contains("tandem_session("), "{statements:#?}");
        assert!(!statements.iter().any(|s| s.contains("set_config") || s.contains("web_sessions")), "{statements:#?}");
        // A column added while the service runs (an upgrade's migration)
        // leaves the opening statement working, prepared or not.
        app.db.execute_unprepared("ALTER TABLE web_sessions ADD COLUMN added_later integer").await.unwrap();
        for _ in 0..4 {
            assert_eq!(browser.get("/api/v1/me").await.status, StatusCode::OK);
        }
    } else {
        assert!(statements[0].contains("web_sessions"), "{statements:#?}");
    }

    // Ended in the database, around the service: the next request is refused.
    app.db.execute_unprepared("DELETE FROM web_sessions").await.unwrap();
    assert_eq!(browser.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
}

/// A session is read in the practice its hint names only while it is
/// signed in to that practice: gone, or signed in elsewhere, the request
/// leaves the practice again and the hint is forgotten.
async fn a_session_hint_never_outlives_the_session(app: TestApp) {
    use tower_sessions::{SessionStore, session::Id};
    let birch = app.practice("birch").await;
    let rowan = app.practice("rowan").await;
    let hints = tandem::auth::hints::PracticeHints::new(8);
    let store = tandem::auth::session_store::DbSessionStore::new(app.state.db.clone(), app.state.clock.clone(), Duration::minutes(30), hints.clone());
    let load = |id: Id| {
        let store = store.clone();
        async move {
            let (found, committed) = tandem::tenant::scope(async move {
                let record = store.load(&id).await.unwrap();
                (record.is_some(), tandem::tenant::current())
            })
            .await;
            committed.unwrap();
            found
        }
    };
    let signed_in: Id = birch.admin.cookies["tandem_session"].parse().unwrap();
    let key = tandem::auth::session_store::key(&signed_in);

    hints.remember(&key, birch.id);
    assert_eq!(load(signed_in).await, (true, Some(birch.id)));
    // A hint naming another practice than the session's own.
    hints.remember(&key, rowan.id);
    assert_eq!(load(signed_in).await, (true, None));
    assert_eq!(hints.get(&key), None);
    // A session that is gone.
    let gone = Id::default();
    hints.remember(&tandem::auth::session_store::key(&gone), birch.id);
    assert_eq!(load(gone).await, (false, None));
    assert_eq!(hints.get(&tandem::auth::session_store::key(&gone)), None);

    // A request that already acts in a practice keeps it, whatever the
    // session it reads later was signed in to.
    hints.remember(&key, birch.id);
    let (store, own) = (store.clone(), rowan.id);
    let (kept, committed) = tandem::tenant::scope(async move {
        tandem::tenant::enter(own);
        store.load(&signed_in).await.unwrap();
        tandem::tenant::current()
    })
    .await;
    committed.unwrap();
    assert_eq!(kept, Some(own), "birch {} rowan {}", birch.id, rowan.id);
}

/// Fewer failures per address, so the test does not hash fifty passwords.
fn small_address_budget() -> tandem::config::Config {
    tandem::config::Config { sign_in_max_failures_per_address: 8, ..test_config() }
}

both!(config = super::small_address_budget(); a_stranger_cannot_lock_the_owner_out_of_their_usual_browser);
both!(a_device_cookie_is_for_its_own_account_only);

both!(
    sign_in_rotates_the_session_and_sign_out_ends_it,
    wrong_password_and_unknown_account_look_the_same,
    deactivated_members_cannot_sign_in,
    sessions_expire_after_idle_time,
    sessions_end_at_the_absolute_limit,
    failed_sign_ins_lock_the_account_for_a_while,
    failed_sign_ins_lock_the_address,
    a_remembered_session_is_read_in_its_practice_and_still_checked,
    a_session_hint_never_outlives_the_session,
);

#[tokio::test]
async fn cookies_are_secure_behind_https() {
    let _watchdog = Watchdog::start();
    let config = tandem::config::Config {
        public_url: Some("https://tandem.example.org".parse().unwrap()),
        ..test_config()
    };
    let app = TestApp::sqlite_with(config).await;
    let res = app.client().get("/sign-in").await;
    let set_cookie = res.header("set-cookie").unwrap();
    assert!(set_cookie.starts_with("__Host-tandem_session="), "{set_cookie}");
    assert!(set_cookie.contains("Secure") && set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(res.header("strict-transport-security").is_some());
}
