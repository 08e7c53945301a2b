//! Tampering with the access log, each way the issue lists, on both
//! databases: verification fails and names the entry every time.

use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::{both, helpers::*};

pub fn event(practice_id: Uuid) -> tandem::audit::NewEvent {
    tandem::audit::NewEvent {
        practice_id,
        occurred_at: time::OffsetDateTime::now_utc(),
        member_id: Some(Uuid::now_v7()),
        role: "care_team".into(),
        action: "view".into(),
        record_kind: Some("note".into()),
        record_id: Some(Uuid::now_v7()),
        couple_id: Some(Uuid::now_v7()),
        outcome: "success".into(),
        status: 200,
        client_addr: Some("198.51.100.7".into()),
        user_agent: Some("test".into()),
        request_id: Some(Uuid::new_v4().to_string()),
        reason: None,
        emergency: false,
        detail: None,
    }
}

/// A practice with ten entries, a checkpoint at entry 10, then five more.
async fn chain(app: &TestApp) -> Uuid {
    let practice = app.practice("ledger").await;
    for _ in 0..10 {
        tandem::audit::record(&app.db, &[event(practice.id)]).await.unwrap();
    }
    tandem::audit::checkpoint(&app.state, practice.id).await.unwrap();
    for _ in 0..5 {
        tandem::audit::record(&app.db, &[event(practice.id)]).await.unwrap();
    }
    let v = verify(app, practice.id).await;
    assert!(v.ok(), "{v:?}");
    practice.id
}

async fn verify(app: &TestApp, practice: Uuid) -> tandem::audit::checkpoints::Verification {
    tandem::audit::verify_one(&app.state, practice).await
}

pub async fn sql(db: &impl ConnectionTrait, statement: &str) {
    db.execute_unprepared(statement).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
}

/// How a practice id is written in SQL: SQLite keeps UUIDs as 16-byte blobs.
pub fn id_sql(app: &TestApp, id: Uuid) -> String {
    match app.db.get_database_backend() {
        sea_orm::DatabaseBackend::Sqlite => format!("x'{}'", id.simple()),
        _ => format!("'{id}'"),
    }
}

async fn assert_caught(app: &TestApp, practice: Uuid, seq: i64, what: &str) {
    let v = verify(app, practice).await;
    assert!(!v.ok(), "{what} went unnoticed");
    assert_eq!(v.first_bad_seq, Some(seq), "{what}: {v:?}");
}

async fn a_changed_column_is_caught(app: TestApp) {
    let id = chain(&app).await;
    let p = id_sql(&app, id);
    for (column, value) in [("action", "'export'"), ("outcome", "'denied'"), ("status", "500"), ("role", "'supervisor'"), ("reason", "'x'"), ("emergency", "true")] {
        sql(&app.db, &format!("UPDATE access_events SET {column} = {value} WHERE seq = 7 AND practice_id = {p}")).await;
        assert_caught(&app, id, 7, &format!("changing {column}")).await;
    }
}

async fn a_deleted_entry_is_caught(app: TestApp) {
    let id = chain(&app).await;
    let p = id_sql(&app, id);
    sql(&app.db, &format!("DELETE FROM access_events WHERE seq = 4 AND practice_id = {p}")).await;
    assert_caught(&app, id, 4, "deleting entry 4").await;
}

async fn an_inserted_entry_is_caught(app: TestApp) {
    let id = chain(&app).await;
    let p = id_sql(&app, id);
    // Copy entry 15 as a new entry 16 without going through the chain.
    sql(&app.db, &format!(
        "INSERT INTO access_events (id, practice_id, seq, prev_hash, hash, format_version, occurred_at, member_id, role, action, \
         record_kind, record_id, couple_id, outcome, status, client_addr, user_agent, request_id, reason, emergency) \
         SELECT {}, practice_id, 16, hash, hash, format_version, occurred_at, member_id, role, action, record_kind, record_id, \
         couple_id, outcome, status, client_addr, user_agent, request_id, reason, emergency FROM access_events \
         WHERE seq = 15 AND practice_id = {p}", id_sql(&app, Uuid::now_v7()))).await;
    assert_caught(&app, id, 16, "appending a forged entry").await;
}

async fn swapped_entries_are_caught(app: TestApp) {
    let id = chain(&app).await;
    let p = id_sql(&app, id);
    // Exchange what entries 5 and 6 say, leaving their numbers in place.
    for (from, to) in [(5, -5), (6, 5), (-5, 6)] {
        sql(&app.db, &format!("UPDATE access_events SET seq = {to} WHERE seq = {from} AND practice_id = {p}")).await;
    }
    assert_caught(&app, id, 5, "swapping entries 5 and 6").await;
}

async fn a_truncated_tail_is_caught_by_a_newer_checkpoint(app: TestApp) {
    let id = chain(&app).await;
    let p = id_sql(&app, id);
    tandem::audit::checkpoint(&app.state, id).await.unwrap();
    // Remove entries 13-15 and move the head back so the chain looks whole.
    sql(&app.db, &format!("DELETE FROM access_events WHERE seq > 12 AND practice_id = {p}")).await;
    sql(&app.db, &format!(
        "UPDATE audit_heads SET seq = 12, hash = (SELECT hash FROM access_events WHERE seq = 12 AND practice_id = {p}) WHERE practice_id = {p}"
    )).await;
    assert!(tandem::audit::chain::walk(&app.db, id).await.unwrap().problem.is_none(), "the chain itself looks whole");
    assert_caught(&app, id, 13, "truncating the tail").await;
}

async fn a_replaced_chain_is_caught(app: TestApp) {
    let id = chain(&app).await;
    let p = id_sql(&app, id);
    // Rebuild the whole chain from scratch, internally consistent.
    sql(&app.db, &format!("DELETE FROM access_events WHERE practice_id = {p}")).await;
    sql(&app.db, &format!("DELETE FROM audit_heads WHERE practice_id = {p}")).await;
    for _ in 0..15 {
        tandem::audit::record(&app.db, &[event(id)]).await.unwrap();
    }
    assert!(tandem::audit::chain::walk(&app.db, id).await.unwrap().problem.is_none());
    // The checkpoint at entry 10 no longer matches: entries 1 to 10 were rewritten.
    assert_caught(&app, id, 1, "replacing the chain").await;
}

async fn a_forged_checkpoint_is_caught(app: TestApp) {
    let id = chain(&app).await;
    let other_key = tandem::audit::checkpoints::CheckpointKey::generate();
    tandem::audit::checkpoints::checkpoint(&app.db, &other_key, id, app.state.clock.now()).await.unwrap();
    assert_caught(&app, id, 15, "a checkpoint signed with another key").await;
}

async fn removing_every_checkpoint_row_is_caught_by_the_journal(app: TestApp) {
    let id = chain(&app).await;
    // Rewrite the chain and remove every checkpoint that could contradict it.
    let p = id_sql(&app, id);
    sql(&app.db, &format!("DELETE FROM audit_checkpoints WHERE practice_id = {p}")).await;
    sql(&app.db, &format!("DELETE FROM access_events WHERE practice_id = {p}")).await;
    sql(&app.db, &format!("DELETE FROM audit_heads WHERE practice_id = {p}")).await;
    for _ in 0..15 {
        tandem::audit::record(&app.db, &[event(id)]).await.unwrap();
    }
    // The journal outside the database still holds the checkpoint at entry 10.
    assert_caught(&app, id, 1, "removing every checkpoint row").await;
}

both!(
    removing_every_checkpoint_row_is_caught_by_the_journal,
    a_changed_column_is_caught,
    a_deleted_entry_is_caught,
    an_inserted_entry_is_caught,
    swapped_entries_are_caught,
    a_truncated_tail_is_caught_by_a_newer_checkpoint,
    a_replaced_chain_is_caught,
    a_forged_checkpoint_is_caught,
);

/// A group commit large enough to be split into several INSERT statements
/// (see `audit::chain`) is still one unbroken stretch of the chain.
async fn a_large_batch_is_one_unbroken_stretch_of_the_chain(app: TestApp) {
    let practice = app.practice("batch").await;
    let before = verify(&app, practice.id).await.events_checked;
    let events: Vec<_> = (0..200).map(|_| event(practice.id)).collect();
    tandem::audit::record(&app.db, &events).await.unwrap();
    let v = verify(&app, practice.id).await;
    assert!(v.ok(), "{v:?}");
    assert_eq!(v.events_checked, before + 200);
}

both!(a_large_batch_is_one_unbroken_stretch_of_the_chain);
