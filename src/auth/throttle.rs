//! Failed sign-ins, counted in the database so every replica sees the same
//! counts. After too many failures in the window a key is locked for the
//! lockout time. Who a failure counts against depends on the browser (see
//! [`Source`]): a browser with a device cookie for the account counts against
//! that cookie alone; any other browser against the account's shared budget
//! for unknown browsers and against its address. A success clears the
//! counter it was checked against (never the address's: one right password
//! must not reset an attacker's budget for guessing other accounts).

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, OnConflict},
};
use time::OffsetDateTime;

use entity::sign_in_throttle as throttle;

use crate::{state::AppState, error::AppError};

pub fn account_key(practice_slug: &str, email: &str) -> String {
    format!("account:{practice_slug}:{email}")
}

pub fn address_key(addr: &str) -> String {
    format!("address:{addr}")
}

pub fn device_key(token_hash: &str) -> String {
    format!("device:{token_hash}")
}

/// Where a password attempt comes from, as far as counting failures goes.
#[derive(Clone, Debug)]
pub enum Source {
    /// A browser that signed in to this account before (its device cookie,
    /// by the token's hash): not held back by the lockout of unknown
    /// browsers or of its address, and locked after its own failures.
    KnownBrowser { token_hash: String },
    /// Any other browser: the account's budget for unknown browsers, and
    /// the address's across all accounts.
    Unknown { account: String, address: String },
}

impl Source {
    /// Fails with 429 while this source is locked.
    pub async fn check(&self, state: &AppState) -> Result<(), AppError> {
        match self {
            Source::KnownBrowser { token_hash } => check(state, &[device_key(token_hash)]).await,
            Source::Unknown { account, address } => check(state, &[account.clone(), address.clone()]).await,
        }
    }

    pub async fn failed(&self, state: &AppState) -> Result<(), AppError> {
        let config = &state.config;
        match self {
            Source::KnownBrowser { token_hash } => {
                record_failure(state, &device_key(token_hash), config.sign_in_max_failures_per_device).await
            }
            Source::Unknown { account, address } => {
                record_failure(state, account, config.sign_in_max_failures_per_account).await?;
                record_failure(state, address, config.sign_in_max_failures_per_address).await
            }
        }
    }

    pub async fn succeeded(&self, state: &AppState) -> Result<(), AppError> {
        match self {
            Source::KnownBrowser { token_hash } => clear(state, &device_key(token_hash)).await,
            Source::Unknown { account, .. } => clear(state, account).await,
        }
    }

    /// The device token's hash, for a browser known to the account.
    pub fn known_browser(&self) -> Option<&str> {
        match self {
            Source::KnownBrowser { token_hash } => Some(token_hash),
            Source::Unknown { .. } => None,
        }
    }
}

/// Fails with 429 if any of the keys is locked now.
pub async fn check(state: &AppState, keys: &[String]) -> Result<(), AppError> {
    let now = state.clock.now();
    let locked = throttle::Entity::find()
        .filter(throttle::Column::Key.is_in(keys.iter().cloned()))
        .filter(throttle::Column::LockedUntil.gt(now))
        .all(&state.db)
        .await?;
    if let Some(until) = locked.iter().filter_map(|r| r.locked_until).max() {
        let secs = Ord::max((until - now).whole_seconds(), 1) as u64;
        return Err(AppError::TooManyRequests {
            retry_after_secs: secs,
            detail: format!(
                "Too many failed sign-ins. Try again in {}.",
                crate::display::count(secs.div_ceil(60) as i64, "minute")
            ),
        });
    }
    Ok(())
}

/// Counts one failure against `key`, locking it once `max` is reached.
pub async fn record_failure(state: &AppState, key: &str, max: u32) -> Result<(), AppError> {
    let now = state.clock.now();
    let window = time::Duration::minutes(state.config.sign_in_lockout_minutes.into());
    let existing = throttle::Entity::find_by_id(key.to_owned()).one(&state.db).await?;
    let fresh_window = existing
        .as_ref()
        .is_none_or(|row| row.window_started_at + window <= now);
    if fresh_window {
        upsert(&state.db, key, 1, now, lock_if(1, max, now, window)).await?;
        return Ok(());
    }
    // Increment in SQL so concurrent failures all count.
    throttle::Entity::update_many()
        .col_expr(throttle::Column::Failures, Expr::col(throttle::Column::Failures).add(1))
        .filter(throttle::Column::Key.eq(key))
        .exec(&state.db)
        .await?;
    if let Some(row) = throttle::Entity::find_by_id(key.to_owned()).one(&state.db).await?
        && let Some(until) = lock_if(row.failures, max, now, window)
    {
        throttle::Entity::update_many()
            .col_expr(throttle::Column::LockedUntil, Expr::value(until))
            .filter(throttle::Column::Key.eq(key))
            .exec(&state.db)
            .await?;
    }
    Ok(())
}

fn lock_if(failures: i32, max: u32, now: OffsetDateTime, window: time::Duration) -> Option<OffsetDateTime> {
    (failures >= max as i32).then_some(now + window)
}

async fn upsert(
    db: &impl ConnectionTrait,
    key: &str,
    failures: i32,
    now: OffsetDateTime,
    locked_until: Option<OffsetDateTime>,
) -> Result<(), AppError> {
    throttle::Entity::insert(throttle::ActiveModel {
        key: Set(key.to_owned()),
        failures: Set(failures),
        window_started_at: Set(now),
        locked_until: Set(locked_until),
    })
    .on_conflict(
        OnConflict::column(throttle::Column::Key)
            .update_columns([
                throttle::Column::Failures,
                throttle::Column::WindowStartedAt,
                throttle::Column::LockedUntil,
            ])
            .to_owned(),
    )
    .exec(db)
    .await?;
    Ok(())
}

pub async fn clear(state: &AppState, key: &str) -> Result<(), AppError> {
    throttle::Entity::delete_by_id(key.to_owned()).exec(&state.db).await?;
    Ok(())
}

/// Drops counters whose window and lock have both passed.
pub async fn prune(state: &AppState) -> Result<(), AppError> {
    let now = state.clock.now();
    let window = time::Duration::minutes(state.config.sign_in_lockout_minutes.into());
    throttle::Entity::delete_many()
        .filter(throttle::Column::WindowStartedAt.lte(now - window))
        .filter(
            throttle::Column::LockedUntil
                .is_null()
                .or(throttle::Column::LockedUntil.lte(now)),
        )
        .exec(&state.db)
        .await?;
    Ok(())
}
