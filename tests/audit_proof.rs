//! Issue 13: the access log's proof says "ok" only when the log is whole,
//! and never cries wolf. Each defect of the issue is a test here, on both
//! databases; the attacker can write the database (and recompute hashes,
//! which need no secret) but not the signing key or the journal beside it.

use axum::http::{Method, StatusCode};
use entity::{access_events, audit_checkpoints, audit_heads};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder,
    sea_query::Expr,
};
use uuid::Uuid;

use crate::{
    audit_tamper::{event, id_sql, sql},
    both,
    helpers::*,
};

/// Appends `n` events to the practice's chain.
async fn append(app: &TestApp, practice: Uuid, n: usize) {
    for _ in 0..n {
        tandem::audit::record(&app.db, &[event(practice)]).await.unwrap();
    }
}

/// What the service's checkpoint round does a minute after the last event.
async fn checkpoint_round(app: &TestApp) {
    app.clock.advance(time::Duration::minutes(1));
    tandem::audit::checkpoint_all(&app.state).await.unwrap();
}

/// A practice with ten entries signed by a checkpoint round, then five more
/// signed by the next round.
async fn signed_chain(app: &TestApp, slug: &str) -> Uuid {
    let practice = app.practice(slug).await.id;
    append(app, practice, 10).await;
    checkpoint_round(app).await;
    append(app, practice, 5).await;
    checkpoint_round(app).await;
    let v = verify(app, slug).await;
    assert!(v.ok(), "{v:?}");
    practice
}

/// `tandem audit verify --practice SLUG`, as the service and the CLI run it.
async fn verify(app: &TestApp, slug: &str) -> tandem::audit::checkpoints::Verification {
    let mut results = tandem::audit::verify_all(&app.state, Some(slug)).await.expect("verification runs");
    assert_eq!(results.len(), 1, "{results:?}");
    let (named, v) = results.pop().unwrap();
    assert_eq!(named, slug);
    v
}

async fn assert_caught(app: &TestApp, slug: &str, seq: i64, what: &str) {
    let v = verify(app, slug).await;
    assert!(!v.ok(), "{what} went unnoticed: {v:?}");
    assert_eq!(v.first_bad_seq, Some(seq), "{what}: {v:?}");
}

/// The attacker's tool: change the practice's events with `change`, then
/// number and hash them again from the start, move the head to match and
/// remove the checkpoints stored in the database.
pub async fn rechain(app: &TestApp, practice: Uuid, change: impl FnOnce(&mut Vec<access_events::Model>)) {
    let db = &app.db;
    let mut events = access_events::Entity::find()
        .filter(access_events::Column::PracticeId.eq(practice))
        .order_by_asc(access_events::Column::Seq)
        .all(db)
        .await
        .unwrap();
    change(&mut events);
    let mut prev = tandem::audit::chain::GENESIS.to_owned();
    for (i, e) in events.iter_mut().enumerate() {
        e.seq = i as i64 + 1;
        e.prev_hash = prev.clone();
        e.hash = tandem::audit::chain::hash(e.seq, &prev, &(&*e).into());
        prev = e.hash.clone();
    }
    access_events::Entity::delete_many().filter(access_events::Column::PracticeId.eq(practice)).exec(db).await.unwrap();
    audit_checkpoints::Entity::delete_many().filter(audit_checkpoints::Column::PracticeId.eq(practice)).exec(db).await.unwrap();
    for e in &events {
        e.clone().into_active_model().reset_all().insert(db).await.unwrap();
    }
    audit_heads::Entity::update_many()
        .col_expr(audit_heads::Column::Seq, Expr::value(events.len() as i64))
        .col_expr(audit_heads::Column::Hash, Expr::value(prev))
        .filter(audit_heads::Column::PracticeId.eq(practice))
        .exec(db)
        .await
        .unwrap();
}

/// Defect 1: events, head and checkpoint rows all deleted.
async fn deleting_a_practices_whole_log_is_caught(app: TestApp) {
    let id = signed_chain(&app, "ledger").await;
    let p = id_sql(&app, id);
    for table in ["access_events", "audit_heads", "audit_checkpoints", "audit_verifications"] {
        sql(&app.db, &format!("DELETE FROM {table} WHERE practice_id = {p}")).await;
    }
    assert_caught(&app, "ledger", 1, "deleting the whole log").await;
    // What caught it lives outside the database: the journal file, and a
    // copy in the structured logs for the log pipeline.
    let journal = std::fs::read_to_string(app.state.journal.path()).unwrap();
    assert_eq!(journal.lines().filter(|l| l.contains(&id.to_string())).count(), 2, "{journal}");
    if std::env::var_os("TEST_LOG").is_none() {
        let logs = captured_logs();
        assert!(logs.lines().any(|l| l.contains("access-log checkpoint signed") && l.contains(&id.to_string())));
    }
}

/// Defect 2: with the checkpoint rows gone and the chain recomputed,
/// re-dated, reordered and replaced chains are each caught.
async fn re_dated_reordered_and_re_chained_logs_are_caught(app: TestApp) {
    let now = app.state.clock.now();
    let redated = signed_chain(&app, "redated").await;
    rechain(&app, redated, |events| events.iter_mut().for_each(|e| e.occurred_at = now)).await;
    assert_caught(&app, "redated", 1, "re-dating every entry").await;

    let reordered = signed_chain(&app, "reordered").await;
    rechain(&app, reordered, |events| events.swap(3, 4)).await;
    assert_caught(&app, "reordered", 1, "swapping entries 4 and 5").await;

    let replaced = signed_chain(&app, "replaced").await;
    rechain(&app, replaced, |events| events.truncate(3)).await;
    assert_caught(&app, "replaced", 4, "replacing the chain with three entries").await;
}

/// Defect 3: a tail cut after its checkpoint, with the head moved back and
/// the newest checkpoint row deleted; caught because a checkpoint follows
/// the newest event within a minute by default.
async fn a_cut_tail_is_caught_once_its_checkpoint_is_signed(app: TestApp) {
    let id = signed_chain(&app, "ledger").await;
    let p = id_sql(&app, id);
    sql(&app.db, &format!("DELETE FROM access_events WHERE seq > 12 AND practice_id = {p}")).await;
    sql(&app.db, &format!(
        "UPDATE audit_heads SET seq = 12, hash = (SELECT hash FROM access_events WHERE seq = 12 AND practice_id = {p}) WHERE practice_id = {p}"
    )).await;
    sql(&app.db, &format!("DELETE FROM audit_checkpoints WHERE seq > 10 AND practice_id = {p}")).await;
    assert_caught(&app, "ledger", 13, "cutting entries 13 to 15").await;
    assert_eq!(tandem::config::Config::default().audit_checkpoint_minutes, 1, "a checkpoint within a minute by default");
}

/// A practice with a supervisor signed in, and `n` events.
async fn supervised<'a>(app: &'a TestApp, slug: &str, n: usize) -> (Uuid, Client<'a>) {
    let mut practice = app.practice(slug).await;
    let (_, supervisor) = practice.member(&format!("sup@{slug}.example"), &["supervisor"]).await;
    append(app, practice.id, n).await;
    (practice.id, supervisor)
}

/// Makes entry 7 of the practice unreadable: a member id that is no UUID
/// (SQLite keeps any value in any column), or on PostgreSQL, which checks
/// types, a role of NULL once the writer has dropped the constraint.
async fn garble_entry_7(app: &TestApp, practice: Uuid) {
    let p = id_sql(app, practice);
    if app.db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        sql(&app.db, "ALTER TABLE access_events ALTER COLUMN role DROP NOT NULL").await;
        sql(&app.db, &format!("UPDATE access_events SET role = NULL WHERE seq = 7 AND practice_id = {p}")).await;
    } else {
        sql(&app.db, &format!("UPDATE access_events SET member_id = 'not-a-uuid' WHERE seq = 7 AND practice_id = {p}")).await;
    }
}

/// Defect 4: one unreadable row is tampering at that entry; the other
/// practices are still checked; supervisors see the failure.
async fn an_unreadable_row_is_tampering_at_its_entry(app: TestApp) {
    let (alpha, mut supervisor) = supervised(&app, "alpha", 10).await;
    let (beta, _) = supervised(&app, "beta", 10).await;
    let res = supervisor.json(Method::POST, "/api/v1/access-log/verification", None).await;
    assert_eq!((res.status, &res.json()["ok"]), (StatusCode::OK, &serde_json::json!(true)), "{}", res.text());
    garble_entry_7(&app, alpha).await;

    let results = tandem::audit::verify_all(&app.state, None).await.expect("verification runs");
    let find = |slug: &str| results.iter().find(|(s, _)| s == slug).map(|(_, v)| v.clone()).unwrap();
    assert_eq!(find("alpha").first_bad_seq, Some(7), "{results:?}");
    assert!(find("beta").ok(), "the other practice is still checked: {results:?}");
    let _ = beta;

    let res = supervisor.json(Method::POST, "/api/v1/access-log/verification", None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let shown = supervisor.get("/api/v1/access-log/verification").await.json();
    assert_eq!((&shown["ok"], &shown["first_bad_seq"]), (&serde_json::json!(false), &serde_json::json!(7)), "{shown}");
}

/// Defect 4: a verification that cannot run is a failure supervisors see,
/// not the last "ok" left standing.
async fn a_verification_that_cannot_run_is_shown_as_failed(app: TestApp) {
    let (_, mut supervisor) = supervised(&app, "alpha", 3).await;
    let res = supervisor.json(Method::POST, "/api/v1/access-log/verification", None).await;
    assert_eq!(res.json()["ok"], true, "{}", res.text());
    sql(&app.db, "DROP TABLE audit_checkpoints").await;
    let _ = tandem::audit::verify_all(&app.state, None).await;
    let shown = supervisor.get("/api/v1/access-log/verification").await.json();
    assert_eq!(shown["ok"], false, "{shown}");
    let page = supervisor.get("/access-log").await.text();
    assert!(page.contains("the check did not pass. verification could not finish"), "{page}");
}

/// Defect 5: verification beside eight busy appenders never reports an
/// append in progress as tampering, from the CLI's code or the API's.
async fn verification_beside_busy_appenders_raises_no_alarm(app: TestApp) {
    let (practice, mut supervisor) = supervised(&app, "busy", 5).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Eight readers' events, stored as the service stores them: through the
    // appender, several per commit.
    let mut writers = Vec::new();
    for _ in 0..8 {
        let (appender, stop) = (app.state.appender.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                appender.append(event(practice)).await.unwrap();
            }
        }));
    }
    let mut failures = Vec::new();
    for round in 0..10 {
        let v = verify(&app, "busy").await;
        if !v.ok() {
            failures.push(format!("verify {round}: {v:?}"));
        }
        let res = supervisor.json(Method::POST, "/api/v1/access-log/verification", None).await;
        if res.json()["ok"] != true {
            failures.push(format!("API {round}: {}", res.text()));
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    assert!(failures.is_empty(), "false alarms: {failures:#?}");
    assert!(verify(&app, "busy").await.ok());
}

/// Defect 6: a tail not yet signed when Tandem stops is no alarm however
/// long it stays stopped.
async fn a_quiet_night_raises_no_alarm(app: TestApp) {
    let id = signed_chain(&app, "quiet").await;
    append(&app, id, 3).await;
    app.clock.advance(time::Duration::hours(14));
    let v = verify(&app, "quiet").await;
    assert!(v.ok(), "{v:?}");
}

/// Defect 7: a stored result of a past verification that the key did not
/// sign is not shown to supervisors as it is.
async fn a_forged_verification_result_is_not_shown_as_ok(app: TestApp) {
    let (practice, mut supervisor) = supervised(&app, "alpha", 10).await;
    garble_entry_7(&app, practice).await;
    let res = supervisor.json(Method::POST, "/api/v1/access-log/verification", None).await;
    assert_eq!(res.json()["ok"], false, "{}", res.text());
    // The writer adds a newer result that says all is well.
    entity::audit_verifications::ActiveModel {
        id: sea_orm::Set(Uuid::now_v7()),
        practice_id: sea_orm::Set(practice),
        ran_at: sea_orm::Set(app.state.clock.now() + time::Duration::minutes(5)),
        ok: sea_orm::Set(true),
        events_checked: sea_orm::Set(40),
        first_bad_seq: sea_orm::Set(None),
        problem: sea_orm::Set(None),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap();
    let shown = supervisor.get("/api/v1/access-log/verification").await.json();
    assert_eq!(shown["ok"], false, "a forged result is shown as it is: {shown}");
}

/// Defect 8: more events than SQLite takes variables in one statement, and
/// a reason a spreadsheet would run as a formula.
async fn the_export_streams_many_events_and_defuses_formulas(app: TestApp) {
    let (practice, mut supervisor) = supervised(&app, "big", 1).await;
    let mut formula = event(practice);
    formula.reason = Some("\r=1+1".into());
    tandem::audit::record(&app.db, &[formula]).await.unwrap();
    // 40,000 copies of a plain event (the chain does not matter to the export).
    // The plain event just before the formula's: the head's entry minus one.
    let head = audit_heads::Entity::find_by_id(practice).one(&app.db).await.unwrap().unwrap().seq;
    let p = id_sql(&app, practice);
    let new_id = match app.db.get_database_backend() {
        sea_orm::DatabaseBackend::Sqlite => "randomblob(16)",
        _ => "gen_random_uuid()",
    };
    sql(&app.db, &format!(
        "INSERT INTO access_events (id, practice_id, seq, prev_hash, hash, format_version, occurred_at, member_id, role, action, \
         record_kind, record_id, couple_id, outcome, status, client_addr, user_agent, request_id, reason, emergency) \
         WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 40000) \
         SELECT {new_id}, practice_id, 1000 + n, prev_hash, hash, format_version, occurred_at, member_id, role, action, \
         record_kind, record_id, couple_id, outcome, status, client_addr, user_agent, request_id, reason, emergency \
         FROM access_events, g WHERE seq = {} AND practice_id = {p}", head - 1
    )).await;
    let res = supervisor.get("/api/v1/access-events/export?action=view").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let text = res.text();
    let views = access_events::Entity::find()
        .filter(access_events::Column::PracticeId.eq(practice))
        .filter(access_events::Column::Action.eq("view"))
        .count(&app.db)
        .await
        .unwrap();
    assert!(views > 40_000);
    assert_eq!(text.lines().count() as u64, 1 + views, "a header and every event");
    assert!(text.contains(",\"'\r=1+1\"\n"), "the formula is defused");
    assert!(!text.contains(",\"\r="), "no formula cell left raw");
}

both!(
    deleting_a_practices_whole_log_is_caught,
    re_dated_reordered_and_re_chained_logs_are_caught,
    a_cut_tail_is_caught_once_its_checkpoint_is_signed,
    an_unreadable_row_is_tampering_at_its_entry,
    a_verification_that_cannot_run_is_shown_as_failed,
    verification_beside_busy_appenders_raises_no_alarm,
    a_quiet_night_raises_no_alarm,
    a_forged_verification_result_is_not_shown_as_ok,
    the_export_streams_many_events_and_defuses_formulas,
);
