//! The access log. Every request to a clinical route leaves exactly one
//! event: the access module says who is acting and how they stand to the
//! couple ([`context::AuditContext`]), the [`context::record_requests`] layer
//! adds what was done and how it went, and appends the event before the
//! response leaves (in the same transaction as the request's writes). If the
//! event cannot be stored, the request fails with 503 and shows nothing.

pub mod chain;
pub mod checkpoints;
pub mod context;
mod describe;

use sea_orm::{DatabaseConnection, DbErr, TransactionTrait};

pub use chain::NewEvent;
pub use context::{Actor, AuditContext};

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
