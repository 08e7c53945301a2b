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
pub mod review;
pub mod viewings;
mod describe;

use sea_orm::{DatabaseConnection, DbErr, TransactionTrait};

pub use chain::NewEvent;
pub use context::{Actor, AuditContext, RequestMeta};

/// Begins a transaction that will write: on SQLite it takes the write lock
/// at once, so reads inside it never meet a snapshot another writer moved on.
pub async fn begin_write(db: &DatabaseConnection) -> Result<sea_orm::DatabaseTransaction, DbErr> {
    db.begin_with_options(sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Appends events in a transaction of their own and commits them.
pub async fn record(db: &DatabaseConnection, events: &[NewEvent]) -> Result<(), DbErr> {
    let txn = begin_write(db).await?;
    chain::append(&txn, events).await?;
    txn.commit().await
}

/// Signs the current head of every practice's chain.
pub async fn checkpoint_all(state: &crate::AppState) -> Result<usize, DbErr> {
    use sea_orm::EntityTrait;
    let mut signed = 0;
    for practice in entity::practices::Entity::find().all(&state.db).await? {
        if checkpoints::checkpoint(&state.db, &state.checkpoint_key, practice.id, state.clock.now()).await?.is_some() {
            signed += 1;
        }
    }
    Ok(signed)
}

/// Verifies the chains of all practices (or the one with `slug`), storing
/// each result for supervisors to see.
pub async fn verify_all(state: &crate::AppState, slug: Option<&str>) -> Result<Vec<(String, checkpoints::Verification)>, DbErr> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let mut query = entity::practices::Entity::find().order_by_asc(entity::practices::Column::Slug);
    if let Some(slug) = slug {
        query = query.filter(entity::practices::Column::Slug.eq(slug));
    }
    let mut results = Vec::new();
    for practice in query.all(&state.db).await? {
        let v = checkpoints::verify(&state.db, &state.checkpoint_key.verifying(), practice.id, expectation(state)).await?;
        checkpoints::record(&state.db, &v, state.clock.now()).await?;
        if !v.ok() {
            tracing::error!(practice_id = %practice.id, first_bad_seq = ?v.first_bad_seq, "access log verification failed");
        }
        results.push((practice.slug, v));
    }
    Ok(results)
}

/// Signs the head of one practice's chain, verifies the chain and stores the
/// result: what a supervisor's "verify now" does, from the API or a page.
pub async fn verify_practice(state: &crate::AppState, practice_id: uuid::Uuid) -> Result<checkpoints::Verification, DbErr> {
    checkpoints::checkpoint(&state.db, &state.checkpoint_key, practice_id, state.clock.now()).await?;
    let v = checkpoints::verify(&state.db, &state.checkpoint_key.verifying(), practice_id, expectation(state)).await?;
    checkpoints::record(&state.db, &v, state.clock.now()).await?;
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
        practice_id: current.scope.practice_id(),
        occurred_at: now,
        member_id: Some(current.id()),
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

/// Entries may wait for a checkpoint for three checkpoint intervals (a
/// restart or a missed round is not tampering); older unsigned entries are.
pub fn expectation(state: &crate::AppState) -> checkpoints::Expectation {
    checkpoints::Expectation {
        now: state.clock.now(),
        max_unsigned_age: time::Duration::minutes(3 * i64::from(state.config.audit_checkpoint_minutes.max(1))),
    }
}
