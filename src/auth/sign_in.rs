//! Signing in with a practice, an email address and a password. Unknown
//! practice, unknown account, deactivated account and wrong password all get
//! the same answer after the same amount of work.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use entity::{members, practices};

use super::{ClientAddr, password, throttle};
use crate::{
    AppState,
    audit::{NewEvent, RequestMeta},
    error::AppError,
    practice::Email,
    scope::PracticeScope,
};

pub const WRONG_CREDENTIALS: &str = "The practice, email or password is not right.";

pub async fn with_password(
    state: &AppState,
    practice_slug: &str,
    email: &str,
    password_given: &str,
    addr: ClientAddr,
    meta: &RequestMeta,
) -> Result<members::Model, AppError> {
    let slug = practice_slug.trim().to_lowercase();
    let email = Email::parse(email).map(String::from).unwrap_or_else(|_| email.trim().to_lowercase());
    let account_key = throttle::account_key(&slug, &email);
    let address_key = throttle::address_key(&addr.key());
    throttle::check(state, &[account_key.clone(), address_key.clone()]).await?;

    let practice = practices::Entity::find()
        .filter(practices::Column::Slug.eq(&slug))
        .one(&state.db)
        .await?;
    let member = match &practice {
        Some(practice) => PracticeScope::trusted(practice.id)
            .select::<members::Entity>()
            .filter(members::Column::Email.eq(&email))
            .one(&state.db)
            .await?
            .filter(|m| m.active),
        None => None,
    };
    let stored = member.as_ref().and_then(|m| m.password_hash.clone());
    let ok = password::verify(password_given.to_owned(), stored).await?;
    let succeeded = ok && member.is_some();
    // A sign-in into a known practice is an access event, refused or not; an
    // attempt on a practice that does not exist has no log to go to.
    if let Some(practice) = &practice {
        let event = NewEvent {
            practice_id: practice.id,
            occurred_at: state.clock.now(),
            member_id: member.as_ref().map(|m| m.id),
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
            throttle::clear(state, &account_key).await?;
            tracing::info!(member_id = %member.id, practice_id = %member.practice_id, "signed in");
            Ok(member)
        }
        _ => {
            let config = &state.config;
            throttle::record_failure(state, &account_key, config.sign_in_max_failures_per_account).await?;
            throttle::record_failure(state, &address_key, config.sign_in_max_failures_per_address).await?;
            tracing::info!("sign-in refused");
            Err(AppError::Unauthenticated)
        }
    }
}
