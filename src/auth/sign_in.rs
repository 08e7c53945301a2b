//! Signing in with a practice, an email address and a password. Unknown
//! practice, unknown account, deactivated account and wrong password all get
//! the same answer after the same amount of work. Failures are counted as
//! [`throttle::Source`] says: a browser that signed in to the account before
//! is not locked out by a stranger's guesses.

use axum::http::HeaderValue;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use entity::{members, practices};

use super::{
    ClientAddr,
    devices::{self, DeviceCookie},
    password,
    throttle::{self, Source},
};
use crate::{
    state::AppState,
    audit::{NewEvent, RequestMeta},
    error::AppError,
    practice::{Email, Member},
    scope::PracticeScope,
};

pub const WRONG_CREDENTIALS: &str = "The practice, email or password is not right.";

/// A member who gave the right password, and the `Set-Cookie` value that
/// makes this browser known to their account next time.
pub struct PasswordSignIn {
    pub member: Member,
    pub device_cookie: HeaderValue,
}

/// How a password attempt on the account `email` of `slug` from this
/// browser and address is counted: against the browser's device cookie when
/// it has a live one for `member`, else as an unknown browser's.
pub async fn source(
    state: &AppState,
    slug: &str,
    email: &str,
    member: Option<&members::Model>,
    addr: ClientAddr,
    device: &DeviceCookie,
) -> Result<Source, AppError> {
    Ok(match devices::recognised(&state.db, device, member, state.clock.now()).await? {
        Some(token_hash) => Source::KnownBrowser { token_hash },
        None => Source::Unknown { account: throttle::account_key(slug, email), address: throttle::address_key(&addr.key()) },
    })
}

pub async fn with_password(
    state: &AppState,
    practice_slug: &str,
    email: &str,
    password_given: &str,
    addr: ClientAddr,
    device: &DeviceCookie,
    meta: &RequestMeta,
) -> Result<PasswordSignIn, AppError> {
    let slug = practice_slug.trim().to_lowercase();
    let email = Email::parse(email).map(String::from).unwrap_or_else(|_| email.trim().to_lowercase());

    let practice = practices::Entity::find()
        .filter(practices::Column::Slug.eq(&slug))
        .one(&state.db)
        .await?;
    if let Some(practice) = &practice {
        crate::tenant::enter(practice.id);
    }
    let member = match &practice {
        Some(practice) => PracticeScope::trusted(practice.id)
            .select::<members::Entity>()
            .filter(members::Column::Email.eq(&email))
            .one(&state.db)
            .await?
            .filter(|m| m.active),
        None => None,
    };
    let source = source(state, &slug, &email, member.as_ref(), addr, device).await?;
    source.check(state).await?;
    let stored = member.as_ref().and_then(|m| m.password_hash.clone());
    let ok = password::verify(password_given.to_owned(), stored).await?;
    let succeeded = ok && member.is_some();
    // A sign-in into a known practice is an access event, refused or not; an
    // attempt on a practice that does not exist has no log to go to.
    if let Some(practice) = &practice {
        let event = NewEvent {
            practice_id: practice.id.uuid(),
            occurred_at: state.clock.now(),
            member_id: member.as_ref().map(|m| m.id.uuid()),
            role: member.as_ref().map(|m| m.roles.clone()).unwrap_or_else(|| "unknown".into()),
            action: "sign_in".into(),
            record_kind: None,
            record_id: None,
            couple_id: None,
            outcome: if succeeded { "success" } else { "denied" }.into(),
            status: if succeeded { 303 } else { 401 },
            client_addr: meta.client_addr.clone(),
            user_agent: meta.user_agent.clone(),
            request_id: meta.request_id.clone(),
            reason: None,
            emergency: false,
            detail: None,
        };
        if let Err(err) = crate::audit::record(&state.db, &[event]).await {
            tracing::error!(error = %err, "could not store the sign-in event");
            return Err(AppError::Unavailable("Signing in is not possible right now. Try again shortly.".into()));
        }
    }
    match member {
        Some(member) if ok => {
            source.succeeded(state).await?;
            let device_cookie = devices::remember(state, device, &member, source.known_browser()).await?;
            let known_browser = source.known_browser().is_some();
            tracing::info!(member_id = %member.id, practice_id = %member.practice_id, known_browser, "signed in");
            Ok(PasswordSignIn { member: member.into(), device_cookie })
        }
        _ => {
            source.failed(state).await?;
            tracing::info!(known_browser = source.known_browser().is_some(), "sign-in refused");
            Err(AppError::Unauthenticated)
        }
    }
}
