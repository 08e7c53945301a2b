//! Device cookies, as OWASP describes them ("Slow down online guessing
//! attacks with device cookies"). A browser in which a member signed in with
//! the right password gets a random token; the database keeps its SHA-256
//! for that member. Later password sign-ins to that account from that
//! browser are counted against the token alone: a stranger's wrong guesses
//! lock the account for unknown browsers (and a shared office address), not
//! for its owner's usual browser, and a token is locked after its own few
//! failures. The token proves nothing else: the password is always needed.
//!
//! One browser may be the usual browser of several members (a shared office
//! computer): the cookie holds up to [`PER_BROWSER`] tokens.

use axum::{
    extract::{FromRef, FromRequestParts},
    http::{HeaderValue, header, request::Parts},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, QueryFilter,
    sea_query::Expr,
};
use time::OffsetDateTime;
use tower_sessions::cookie::{Cookie, SameSite};

use entity::{members, trusted_devices};

use crate::{state::AppState, error::AppError, scope::PracticeScope, secret};

/// How many members' tokens one browser keeps; the oldest goes first.
pub const PER_BROWSER: usize = 5;

pub fn cookie_name(https: bool) -> &'static str {
    if https { "__Host-tandem_device" } else { "tandem_device" }
}

/// The device tokens a browser sent (none is fine).
#[derive(Clone, Debug, Default)]
pub struct DeviceCookie(Vec<String>);

impl DeviceCookie {
    pub fn from_headers(headers: &axum::http::HeaderMap, https: bool) -> Self {
        let name = cookie_name(https);
        let tokens = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| Cookie::split_parse(v.to_owned()).filter_map(Result::ok).collect::<Vec<_>>())
            .filter(|c| c.name() == name)
            .flat_map(|c| c.value().split('.').map(str::to_owned).collect::<Vec<_>>())
            .filter(|t| t.len() == 43 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
            .take(PER_BROWSER)
            .collect();
        Self(tokens)
    }
}

impl<S> FromRequestParts<S> for DeviceCookie
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        Ok(Self::from_headers(&parts.headers, state.config.is_https()))
    }
}

/// The hash of this browser's token for `member`, if it has a live one.
/// Without a member (unknown practice or account) the same query runs for
/// nobody, so that a cookie does not make known accounts slower to refuse.
pub async fn recognised(
    db: &impl ConnectionTrait,
    cookie: &DeviceCookie,
    member: Option<&members::Model>,
    now: OffsetDateTime,
) -> Result<Option<String>, DbErr> {
    if cookie.0.is_empty() {
        return Ok(None);
    }
    let (practice_id, member_id) = member.map(|m| (m.practice_id, m.id)).unwrap_or_default();
    let hashes: Vec<String> = cookie.0.iter().map(|t| secret::hash(t)).collect();
    Ok(PracticeScope::trusted(practice_id)
        .select::<trusted_devices::Entity>()
        .filter(trusted_devices::Column::TokenHash.is_in(hashes))
        .filter(trusted_devices::Column::MemberId.eq(member_id))
        .filter(trusted_devices::Column::ExpiresAt.gt(now))
        .one(db)
        .await?
        .map(|row| row.token_hash))
}

/// After a sign-in with the right password: remembers this browser for
/// `member` (a new token, or the one it has, for longer) and returns the
/// `Set-Cookie` value that keeps it.
pub async fn remember(
    state: &AppState,
    cookie: &DeviceCookie,
    member: &members::Model,
    recognised: Option<&str>,
) -> Result<HeaderValue, AppError> {
    let now = state.clock.now();
    let expires_at = now + time::Duration::days(state.config.sign_in_device_days.into());
    let scope = PracticeScope::trusted(member.practice_id);
    let token = match recognised.and_then(|hash| cookie.0.iter().find(|t| secret::hash(t) == hash)) {
        Some(token) => {
            scope
                .update_many::<trusted_devices::Entity>()
                .col_expr(trusted_devices::Column::LastUsedAt, Expr::value(now))
                .col_expr(trusted_devices::Column::ExpiresAt, Expr::value(expires_at))
                .filter(trusted_devices::Column::TokenHash.eq(secret::hash(token)))
                .exec(&state.db)
                .await?;
            token.clone()
        }
        None => {
            let token = secret::generate();
            trusted_devices::ActiveModel {
                token_hash: Set(secret::hash(&token)),
                practice_id: Set(member.practice_id),
                member_id: Set(member.id),
                created_at: Set(now),
                last_used_at: Set(now),
                expires_at: Set(expires_at),
            }
            .insert(&state.db)
            .await?;
            token
        }
    };
    // This member's token first; other members' after it, the oldest dropped.
    let mut tokens = vec![token.clone()];
    tokens.extend(cookie.0.iter().filter(|t| **t != token).take(PER_BROWSER - 1).cloned());
    let https = state.config.is_https();
    let set = Cookie::build((cookie_name(https), tokens.join(".")))
        .path("/")
        .http_only(true)
        .secure(https)
        .same_site(SameSite::Strict)
        .max_age(time::Duration::days(state.config.sign_in_device_days.into()))
        .build();
    HeaderValue::from_str(&set.to_string()).map_err(|e| AppError::Internal(anyhow::anyhow!("device cookie: {e}")))
}

/// Forgets every browser `member_id` signed in from except the ones in
/// `keep` (the browser changing the password): after a password change, a
/// browser that only knew the old password is a stranger again, and its
/// failures count against the account like anyone else's.
pub async fn forget_others(db: &impl sea_orm::ConnectionTrait, scope: PracticeScope, member_id: entity::ids::MemberId, keep: &DeviceCookie) -> Result<u64, DbErr> {
    let kept: Vec<String> = keep.0.iter().map(|t| secret::hash(t)).collect();
    Ok(scope
        .delete_many::<trusted_devices::Entity>()
        .filter(trusted_devices::Column::MemberId.eq(member_id))
        .filter(trusted_devices::Column::TokenHash.is_not_in(kept))
        .exec(db)
        .await?
        .rows_affected)
}

/// Deletes tokens past their expiry.
pub async fn prune(state: &AppState) -> Result<u64, DbErr> {
    let mut done = 0;
    // Practice by practice, each a unit of work acting in it.
    for practice_id in crate::practice::practices::all_ids(&state.db).await? {
        let expired = PracticeScope::trusted(practice_id)
            .delete_many::<trusted_devices::Entity>()
            .filter(trusted_devices::Column::ExpiresAt.lte(state.clock.now()))
            .exec(&state.db);
        done += crate::tenant::within(practice_id, expired).await?.rows_affected;
    }
    Ok(done)
}
