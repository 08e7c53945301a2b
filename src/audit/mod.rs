//! The access log. Every request to a clinical route leaves exactly one
//! event: the access module says who is acting and how they stand to the
//! couple ([`context::AuditContext`]), the [`context::record_requests`] layer
//! adds what was done and how it went, and appends the event before the
//! response leaves (in the same transaction as the request's writes). If the
//! event cannot be stored, the request fails with 503 and shows nothing.

pub mod appender;
pub mod chain;
pub mod changes;
pub mod checkpoints;
pub mod context;
pub mod journal;
pub mod review;
pub mod viewings;
mod describe;

use sea_orm::{DatabaseConnection, DbErr, TransactionTrait};

use crate::tenant::Db;
use entity::ids::PracticeId;
use uuid::Uuid;

pub use chain::NewEvent;
pub use context::{Actor, AuditContext, RequestMeta};

/// Begins a transaction that will write: on SQLite it takes the write lock
/// at once, so reads inside it never meet a snapshot another writer moved on.
pub async fn begin_write(db: &Db) -> Result<sea_orm::DatabaseTransaction, DbErr> {
    db.begin_with_options(write_options()).await
}

fn write_options() -> sea_orm::TransactionOptions {
    sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    }
}

/// Appends events in a transaction of their own and commits them (inside a
/// request on PostgreSQL: a savepoint of the request's transaction).
pub async fn record(db: &Db, events: &[NewEvent]) -> Result<(), DbErr> {
    let txn = begin_write(db).await?;
    chain::append(&txn, events).await?;
    txn.commit().await
}

/// [`record`] on a pool of its own (the appender's), outside any request.
pub async fn record_on(pool: &DatabaseConnection, events: &[NewEvent]) -> Result<(), DbErr> {
    let txn = pool.begin_with_options(write_options()).await?;
    chain::append(&txn, events).await?;
    txn.commit().await
}

/// Signs the practice's current head, in the database and in the journal
/// (the journal first: it is the copy the database's writer cannot reach).
pub async fn checkpoint(state: &crate::state::AppState, practice_id: impl Into<PracticeId>) -> Result<Option<i64>, DbErr> {
    let practice_id = practice_id.into().uuid();
    // Its own transaction, committed before the journal is written: never
    // part of a request's unit of work that might still roll back.
    let txn = state.db.begin_for(practice_id, write_options()).await?;
    let Some(signed) = checkpoints::checkpoint(&txn, &state.checkpoint_key, practice_id, state.clock.now()).await? else {
        return Ok(None);
    };
    txn.commit().await?;
    state
        .journal
        .append(&signed)
        .await
        .map_err(|e| DbErr::Custom(format!("could not append to the checkpoint journal {}: {e}", state.journal.path().display())))?;
    metrics::counter!(crate::metrics::CHECKPOINTS_SIGNED, "practice_id" => practice_id.to_string()).increment(1);
    Ok(Some(signed.seq))
}

/// Signs the head of every practice whose chain has grown since its last
/// checkpoint: the service does this every `audit_checkpoint_minutes` and
/// when it stops, so a checkpoint follows the newest event within a minute
/// by default, and an idle practice adds nothing to the journal.
pub async fn checkpoint_all(state: &crate::state::AppState) -> Result<usize, DbErr> {
    use sea_orm::EntityTrait;
    let mut signed = 0;
    for practice in entity::practices::Entity::find().all(&state.db).await? {
        let signed_one = crate::tenant::within(practice.id, async {
            Ok::<_, DbErr>(checkpoints::head_moved(&state.db, practice.id.uuid()).await? && checkpoint(state, practice.id).await?.is_some())
        });
        if signed_one.await? {
            signed += 1;
        }
    }
    Ok(signed)
}

/// Verifies the chains of all practices (or the one with `slug`) against
/// the journal and the database's checkpoints, without writing anything:
/// what an auditor runs with only the public key. A practice whose chain
/// cannot be read is reported and the others are still checked; practices
/// the journal knows and the database no longer does are reported by id.
pub async fn verify_chains(
    db: &Db,
    key: &ed25519_dalek::VerifyingKey,
    journal: &journal::Journal,
    slug: Option<&str>,
) -> Result<Vec<(String, checkpoints::Verification)>, DbErr> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    // Read before the database's snapshot, so no journaled checkpoint is
    // newer than the entries verification sees.
    let journaled = journal.read().map_err(|e| format!("the checkpoint journal {} could not be read: {e}", journal.path().display()));
    let mut query = entity::practices::Entity::find().order_by_asc(entity::practices::Column::Slug);
    if let Some(slug) = slug {
        query = query.filter(entity::practices::Column::Slug.eq(slug));
    }
    let practices = query.all(db).await?;
    let mut results = Vec::new();
    for practice in &practices {
        let v = match &journaled {
            Err(why) => checkpoints::Verification::could_not_run(practice.id.uuid(), why.clone()),
            Ok(journaled) => {
                let theirs = journaled.get(&practice.id.uuid()).map(Vec::as_slice).unwrap_or_default();
                verify_or_report(db, key, theirs, practice.id.uuid()).await
            }
        };
        results.push((practice.slug.clone(), v));
    }
    if let (None, Ok(journaled)) = (slug, &journaled) {
        let known: std::collections::HashSet<Uuid> = practices.iter().map(|p| p.id.uuid()).collect();
        let mut gone: Vec<_> = journaled.iter().filter(|(id, _)| !known.contains(id)).collect();
        gone.sort_by_key(|(id, _)| **id);
        for (id, theirs) in gone {
            let v = verify_or_report(db, key, theirs, *id).await;
            results.push((id.to_string(), v));
        }
    }
    Ok(results)
}

/// Verifies one chain; a failure to read it becomes a result that says so.
async fn verify_or_report(
    db: &Db,
    key: &ed25519_dalek::VerifyingKey,
    journaled: &[journal::SignedCheckpoint],
    practice_id: Uuid,
) -> checkpoints::Verification {
    match checkpoints::verify(db, key, journaled, practice_id).await {
        Ok(v) => v,
        Err(err) => {
            tracing::error!(practice_id = %practice_id, error = %err, "could not verify the access log");
            checkpoints::Verification::could_not_run(practice_id, "verification could not finish: the database could not be read".into())
        }
    }
}

/// Stores signed results for supervisors, and logs failures.
pub async fn record_results(db: &Db, key: &checkpoints::CheckpointKey, results: &[(String, checkpoints::Verification)], now: time::OffsetDateTime) {
    for (_, v) in results {
        let practice_id = v.practice_id.to_string();
        let result = match (v.could_not_run, v.ok()) {
            (true, _) => "not_checked",
            (false, true) => "ok",
            (false, false) => "failed",
        };
        metrics::counter!(crate::metrics::VERIFICATIONS, "practice_id" => practice_id.clone(), "result" => result).increment(1);
        if !v.could_not_run {
            metrics::gauge!(crate::metrics::VERIFICATION_OK, "practice_id" => practice_id.clone()).set(if v.ok() { 1.0 } else { 0.0 });
            metrics::gauge!(crate::metrics::VERIFICATION_TIME, "practice_id" => practice_id).set(now.unix_timestamp() as f64);
        }
        if v.could_not_run {
            tracing::error!(practice_id = %v.practice_id, "access log verification could not run");
        } else if !v.ok() {
            tracing::error!(practice_id = %v.practice_id, first_bad_seq = ?v.first_bad_seq, "access log verification failed");
        }
        if let Err(err) = crate::tenant::within(v.practice_id, checkpoints::record(db, key, v, now)).await {
            tracing::error!(practice_id = %v.practice_id, error = %err, "could not store an access log verification result");
        }
    }
}

/// Verifies the chains of all practices (or the one with `slug`), storing
/// each result for supervisors to see.
pub async fn verify_all(state: &crate::state::AppState, slug: Option<&str>) -> Result<Vec<(String, checkpoints::Verification)>, DbErr> {
    let results = verify_chains(&state.db, &state.checkpoint_key.verifying(), &state.journal, slug).await?;
    record_results(&state.db, &state.checkpoint_key, &results, state.clock.now()).await;
    Ok(results)
}

/// Verifies one practice's chain against the journal, storing nothing.
pub async fn verify_one(state: &crate::state::AppState, practice_id: impl Into<PracticeId>) -> checkpoints::Verification {
    let practice_id = practice_id.into().uuid();
    let key = state.checkpoint_key.verifying();
    match state.journal.read() {
        Ok(journaled) => verify_or_report(&state.db, &key, journaled.get(&practice_id).map(Vec::as_slice).unwrap_or_default(), practice_id).await,
        Err(e) => checkpoints::Verification::could_not_run(practice_id, format!("the checkpoint journal could not be read: {e}")),
    }
}

/// Signs the head of one practice's chain, verifies the chain and stores the
/// result: what a supervisor's "verify now" does, from the API or a page.
pub async fn verify_practice(state: &crate::state::AppState, practice_id: impl Into<PracticeId>) -> Result<checkpoints::Verification, DbErr> {
    let practice_id = practice_id.into().uuid();
    if let Err(err) = checkpoint(state, practice_id).await {
        tracing::warn!(practice_id = %practice_id, error = %err, "could not sign a checkpoint before verifying");
    }
    let v = verify_one(state, practice_id).await;
    record_results(&state.db, &state.checkpoint_key, &[(String::new(), v.clone())], state.clock.now()).await;
    Ok(v)
}

/// An event about a member's own account or the practice's membership (a
/// password or role change), not about a couple's records: the member acts
/// in their practice roles.
pub fn account_event(
    current: &crate::auth::CurrentMember,
    action: &str,
    record_id: Option<uuid::Uuid>,
    status: u16,
    meta: &RequestMeta,
    now: time::OffsetDateTime,
) -> NewEvent {
    let outcome = match status {
        200..=399 => "success",
        401 | 403 | 404 | 422 => "denied",
        _ => "failed",
    };
    NewEvent {
        practice_id: current.scope.practice_id().uuid(),
        occurred_at: now,
        member_id: Some(current.id().uuid()),
        role: current.roles.to_stored(),
        action: action.to_owned(),
        record_kind: Some("member".into()),
        record_id,
        couple_id: None,
        outcome: outcome.into(),
        status,
        client_addr: meta.client_addr.clone(),
        user_agent: meta.user_agent.clone(),
        request_id: meta.request_id.clone(),
        reason: None,
        emergency: false,
        detail: None,
    }
}
