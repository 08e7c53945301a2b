//! Under any fault Tandem answers an error rather than an unlogged success,
//! and recovers without a restart once the fault ends: a panicking handler,
//! an unreachable database, a stuck writer, a full disk.

use std::{
    collections::HashSet,
    io::Write,
    process::Command,
    sync::Arc,
    time::Duration,
};

use axum::{
    Router,
    extract::{Path, State},
    http::{Method, StatusCode},
    routing::get,
};
use sea_orm::{ColumnTrait, ConnectOptions, ConnectionTrait, Database, EntityTrait, QueryFilter};
use tandem::{
    state::AppState,
    access::{self, Need},
    audit::AuditContext,
    auth::CurrentMember,
};
use uuid::Uuid;

use crate::{
    both,
    clinical_world::{Actor, World, csrf, session},
    helpers::*,
};

/// Authorizes a write, changes the couple's label, then panics.
async fn panicking_handler(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<Uuid>,
) -> &'static str {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await.expect("care team");
    access
        .db()
        .execute_unprepared("UPDATE couples SET label = 'changed by a request that panicked'")
        .await
        .expect("update");
    panic!("a bug in a handler");
}

/// A panic answers 500 problem+json (not a dropped connection), its writes
/// are undone, and it leaves its access event. Before, the days calendar
/// with `to=-9999-01-01` panicked and the request had no response at all.
async fn a_panic_answers_500_with_its_event(app: TestApp) {
    let app = app.with_clinical_routes(Router::new().route("/couples/{couple_id}/panic", get(panicking_handler)));
    let mut w = World::build(&app).await;
    let couple = w.couple;
    let res = w.client(Actor::CareTeam).get(&format!("/couples/{couple}/panic")).await;
    assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", res.text());
    assert_eq!(res.header("content-type"), Some("application/problem+json"));
    assert!(!res.text().contains("a bug in a handler"), "the cause stays in the log");
    let stored = entity::couples::Entity::find_by_id(couple).one(&app.db).await.unwrap().unwrap();
    assert_eq!(stored.label, "Okafor & Reyes", "the panicking request's write was rolled back");
    let request_id = res.header("x-request-id").unwrap();
    let event = entity::access_events::Entity::find()
        .filter(entity::access_events::Column::RequestId.eq(request_id))
        .one(&app.db)
        .await
        .unwrap()
        .expect("the panicking request left its access event");
    assert_eq!((event.status, event.outcome.as_str(), event.couple_id), (500, "failed", Some(couple)));
    // The service goes on.
    assert_eq!(w.client(Actor::CareTeam).get(&format!("/api/v1/couples/{couple}")).await.status, StatusCode::OK);
}

/// A second Tandem on a database that cannot be reached: every request that
/// needs it answers 503 with Retry-After, pages included. Before, 500.
async fn an_unreachable_database_answers_503_with_retry_after(app: TestApp) {
    let practice = app.practice("outage").await;
    let session_cookie = practice.admin.cookies.clone();
    let db = if app.db.get_database_backend() == sea_orm::DatabaseBackend::Sqlite {
        // SQLite has no server to lose: a pool that has been closed stands in.
        let db = tandem::db::connect_url(app.state.config.database_url.expose(), 2).await.unwrap();
        db.close_by_ref().await.unwrap();
        db
    } else {
        let mut options = ConnectOptions::new("postgres://postgres@127.0.0.1:1/nowhere");
        options.connect_lazy(true).acquire_timeout(Duration::from_secs(1)).sqlx_logging(false);
        Database::connect(options).await.unwrap()
    };
    let state = AppState::new(
        db,
        (*app.state.config).clone(),
        Arc::new(app.clock.clone()),
        (*app.state.checkpoint_key).clone(),
        (*app.state.sealing_key).clone(),
        app.state.vault.another(),
    );
    let down = app.with_state(state);
    let mut script = Client::with_bearer(&down, "tdm_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB");
    for path in ["/api/v1/me", "/api/v1/couples"] {
        let res = script.get(path).await;
        assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {}", res.text());
        assert_eq!(res.header("content-type"), Some("application/problem+json"), "{path}");
        assert!(res.header("retry-after").is_some_and(|s| s.parse::<u64>().is_ok()), "{path}");
    }
    let res = down.client().get("/readyz").await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.header("retry-after").is_some());
    let mut browser = down.client();
    browser.cookies = session_cookie;
    let res = browser.get("/dashboard").await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{}", res.text());
    assert!(res.header("content-type").unwrap().starts_with("text/html"));
    assert!(res.header("retry-after").is_some());
}

both!(a_panic_answers_500_with_its_event, an_unreachable_database_answers_503_with_retry_after);

/// PostgreSQL drops every connection Tandem holds (a restart, a failover,
/// an operator ending backends). With the default check (a connection
/// idle for under `database_check_idle_ms` is handed out unchecked) a
/// request may meet a dropped one: it answers 503, never a 2xx without its
/// access event, and the next ones succeed. Checked before every use (0),
/// a dropped connection is replaced before any request sees it.
#[tokio::test]
async fn connections_the_server_dropped_are_replaced_without_a_restart() {
    let _watchdog = Watchdog::start();
    let Some(app) = TestApp::postgres_with(test_config()).await else { return };
    let mut w = World::build(&app).await;
    let path = format!("/api/v1/couples/{}", w.couple);
    assert_eq!(w.client(Actor::CareTeam).get(&path).await.status, StatusCode::OK);
    end_every_connection(&app).await;
    let mut answered = Vec::new();
    let mut succeeded = None;
    for _ in 0..40 {
        let res = w.client(Actor::CareTeam).get(&path).await;
        answered.push(res.status);
        match res.status {
            StatusCode::OK => {
                succeeded = res.header("x-request-id").map(str::to_owned);
                break;
            }
            StatusCode::SERVICE_UNAVAILABLE => assert!(res.header("retry-after").is_some()),
            other => panic!("{other}: {}", res.text()),
        }
    }
    assert_eq!(answered.last(), Some(&StatusCode::OK), "back without a restart: {answered:?}");
    assert!(logged(&app, &succeeded.unwrap()).await, "a 200 has its access event");

    let checked = tandem::config::Config { database_check_idle_ms: 0, ..test_config() };
    let Some(app) = TestApp::postgres_with(checked).await else { return };
    let mut w = World::build(&app).await;
    let path = format!("/api/v1/couples/{}", w.couple);
    assert_eq!(w.client(Actor::CareTeam).get(&path).await.status, StatusCode::OK);
    end_every_connection(&app).await;
    let res = w.client(Actor::CareTeam).get(&path).await;
    assert_eq!(res.status, StatusCode::OK, "every connection is checked before use: {}", res.text());
    assert!(logged(&app, res.header("x-request-id").unwrap()).await);
}

/// Ends every connection to `app`'s database but the one that asks.
async fn end_every_connection(app: &TestApp) {
    app.db
        .execute_unprepared("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        .await
        .unwrap();
}

/// Whether the request `request_id` left its access event, read on a new
/// connection (the test's own pool lost its connections too).
async fn logged(app: &TestApp, request_id: &str) -> bool {
    let owner = app.state.config.database_owner_url.as_ref().unwrap().expose();
    let db = tandem::db::connect_url(owner, 1).await.unwrap();
    entity::access_events::Entity::find()
        .filter(entity::access_events::Column::RequestId.eq(request_id))
        .one(&db)
        .await
        .unwrap()
        .is_some()
}

/// `/readyz` on SQLite proves a write commits: with another process holding
/// the write lock it answers 503, and 200 again once the lock is let go.
/// Before, it only pinged and answered 200 while nothing could be written.
#[tokio::test]
async fn sqlite_readiness_proves_it_can_write() {
    let _watchdog = Watchdog::start();
    let app = TestApp::sqlite().await;
    assert_eq!(app.client().get("/readyz").await.status, StatusCode::OK);
    let url = app.state.config.database_url.expose().clone();
    let other = tandem::db::connect_url(&url, 1).await.unwrap();
    let txn = sea_orm::TransactionTrait::begin(&other).await.unwrap();
    // The write lock, held as a stuck writer would hold it.
    txn.execute_unprepared("CREATE TABLE held_by_another_process (x INTEGER)").await.unwrap();
    let res = app.client().get("/readyz").await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{}", res.text());
    assert!(res.header("retry-after").is_some());
    txn.rollback().await.unwrap();
    assert_eq!(app.client().get("/readyz").await.status, StatusCode::OK, "ready again without a restart");
}

/// A filesystem of `size` the test mounts for itself, unmounted on drop.
struct SmallFilesystem(tempfile::TempDir);

impl SmallFilesystem {
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true but a tmpfs cannot be mounted here: the disk-full test must run in CI");
            }
            crate::helpers::skip("cannot mount a tmpfs (needs root)");
            return None;
        }
        Some(Self(dir))
    }

    /// Fills the filesystem to the last byte; returns the filler's path.
    fn fill(&self) -> std::path::PathBuf {
        let path = self.0.path().join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 4096];
        while file.write_all(&chunk).and_then(|()| file.flush()).is_ok() {}
        while file.write_all(&chunk[..1]).is_ok() {}
        path
    }
}

impl Drop for SmallFilesystem {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0.path()).status();
    }
}

/// A full disk under SQLite while readers and a writer run: no 2xx without
/// its access event; once space is back, writes work again without a
/// restart and the chain verifies. Before, reads answered 200 with no event
/// stored and writes failed with "database is locked" until a restart.
#[tokio::test]
async fn sqlite_on_a_full_disk_fails_closed_and_recovers() {
    let _watchdog = Watchdog::start();
    let Some(fs) = SmallFilesystem::mount("8m") else { return };
    let app = TestApp::sqlite_in(fs.0.path()).await;
    let mut w = World::build(&app).await;
    let base = format!("/api/v1/couples/{}", w.couple);
    let mut writer = w.clients.iter().find(|(a, _)| *a == Actor::CareTeam).unwrap().1.cookies.clone();
    let filler = fs.fill();

    let mut acknowledged = Vec::new();
    let mut refused = 0;
    for round in 0..6 {
        let cookies: Vec<_> = [Actor::CareTeam, Actor::Supervisor, Actor::PartnerA, Actor::PartnerB]
            .into_iter()
            .map(|actor| w.client(actor).cookies.clone())
            .collect();
        let read = |cookies: &std::collections::HashMap<String, String>| {
            let mut client = app.client();
            client.cookies = cookies.clone();
            let path = base.clone();
            async move { client.get(&path).await }
        };
        let mut c = app.client();
        c.cookies = writer.clone();
        let token = csrf(&mut c).await;
        let body = session("joint", None, &format!("Room {round}")).to_string();
        let path = format!("{base}/sessions");
        let headers = [("content-type", "application/json"), ("x-csrf-token", token.as_str())];
        let write = c.send(Method::POST, &path, &headers, body.into());
        let (r1, r2, r3, r4, write) = tokio::join!(read(&cookies[0]), read(&cookies[1]), read(&cookies[2]), read(&cookies[3]), write);
        let reads = [r1, r2, r3, r4];
        for res in reads.iter().chain(std::iter::once(&write)) {
            if res.status.is_success() {
                acknowledged.push(res.header("x-request-id").unwrap().to_owned());
            } else {
                assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{}", res.text());
                assert!(res.header("retry-after").is_some());
                refused += 1;
            }
        }
        writer = c.cookies.clone();
    }
    assert!(refused > 0, "the full disk refused something");
    let res = app.client().get("/readyz").await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "not ready on a full disk: {}", res.text());

    std::fs::remove_file(filler).unwrap();
    // Space is back: the same process writes again.
    let c = w.client(Actor::CareTeam);
    let token = csrf(c).await;
    let res = c
        .send(Method::POST, &format!("{base}/sessions"), &[("content-type", "application/json"), ("x-csrf-token", &token)], session("joint", None, "After").to_string().into())
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "writes work again without a restart: {}", res.text());
    acknowledged.push(res.header("x-request-id").unwrap().to_owned());
    assert_eq!(app.client().get("/readyz").await.status, StatusCode::OK);

    let stored: HashSet<String> = entity::access_events::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| e.request_id)
        .collect();
    for id in &acknowledged {
        assert!(stored.contains(id), "a 2xx answer ({id}) without its access event");
    }
    for (slug, v) in tandem::audit::verify_all(&app.state, None).await.unwrap() {
        assert!(v.ok(), "{slug}: {:?}", v.problem);
    }
}

/// A read that is done with the database commits its own transaction before
/// it waits for its access event's group commit, so its pooled connection
/// serves others meanwhile. With a pool of one connection and the practice's
/// access-log head held (as a slow WAL flush would hold it), the read waits
/// for its event, and the readiness check still gets the connection; once
/// the head is free the read answers, audited.
#[tokio::test]
async fn a_read_waiting_for_its_event_holds_no_connection() {
    use sea_orm::{DatabaseBackend, Statement, TransactionTrait};
    let _watchdog = Watchdog::start();
    let config = tandem::config::Config { database_max_connections: 1, ..test_config() };
    let Some(app) = TestApp::postgres_with(config).await else { return };
    let mut practice = app.practice("waits").await;
    let (_, mut counselor) = practice.member("casey.wait@waits.example", &["counselor"]).await;
    let couple = counselor.create_couple().await;
    let path = format!("/api/v1/couples/{}/overview", couple["id"].as_str().unwrap());
    let (_, token) = counselor.create_token("waits").await;
    let practice_id = practice.id;

    let owner = app.db.pool();
    let hold = owner.begin().await.unwrap();
    hold.execute_raw(Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        "SELECT seq FROM audit_heads WHERE practice_id = $1 FOR UPDATE",
        [practice_id.into()],
    ))
    .await
    .unwrap();

    let mut reader = Client::with_bearer(&app, &token);
    let read = reader.get(&path);
    let meanwhile = async {
        // Until the appender's commit waits on the held head.
        let waiting = Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        );
        for _ in 0..200 {
            let row = owner.query_one_raw(waiting.clone()).await.unwrap().unwrap();
            if row.try_get_by_index::<i64>(0).unwrap() > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let ready = app.client().get("/readyz").await;
        hold.commit().await.unwrap();
        ready
    };
    let (read, ready) = tokio::join!(read, meanwhile);
    assert_eq!(ready.status, StatusCode::OK, "the waiting read held the only connection: {}", ready.text());
    assert_eq!(read.status, StatusCode::OK, "{}", read.text());
    tandem::audit::verify_practice(&app.state, practice_id).await.unwrap();
}
