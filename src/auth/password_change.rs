//! A member changes their own password. The current password is checked like
//! a sign-in (and counts against the same lockout, so a borrowed session
//! cannot be used to guess it; the member's own usual browser is not held
//! back by a stranger's guesses); a check is an access event, granted or not.
//! On success every browser session of the member ends (the caller gives
//! this browser a fresh one) and the member's API tokens are revoked too
//! unless they chose to keep them (someone who had the old password may have
//! made one).

use sea_orm::{ActiveModelTrait, ActiveValue::Set, IntoActiveModel};

use super::{ClientAddr, CurrentMember, devices::DeviceCookie, password, session_store::DbSessionStore, sign_in, tokens};
use crate::{
    audit::{self, RequestMeta},
    error::{AppError, FieldError},
    practice::{Fields, Member, members, parse_new_password},
    state::AppState,
};

/// What the member typed.
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
    pub new_password_again: String,
    pub revoke_tokens: bool,
}

/// Changes `current`'s password. A form that does not hold, or a wrong
/// current password, is `AppError::Invalid` naming the field.
pub async fn change_password(
    state: &AppState,
    current: &CurrentMember,
    change: PasswordChange,
    addr: ClientAddr,
    device: &DeviceCookie,
    meta: &RequestMeta,
) -> Result<Member, AppError> {
    let mut fields = Fields::default();
    if change.current_password.is_empty() {
        fields.check::<()>("current_password", Err("enter your current password".into()));
    }
    let new_password = fields.check("new_password", parse_new_password(&change.new_password));
    if new_password.is_some() && change.new_password != change.new_password_again {
        fields.check::<()>("new_password_again", Err("type the same new password twice".into()));
    }
    let new_password = fields.finish_with(|| new_password)?;

    let stored = members::get(&state.db, current.scope, current.id()).await?;
    let source = sign_in::source(state, &current.practice.slug, &current.member.email, Some(&stored), addr, device).await?;
    source.check(state).await?;
    let right = password::verify(change.current_password, stored.password_hash.clone()).await?;
    let now = state.clock.now();
    if !right {
        let event = audit::account_event(current, "password_change", Some(current.id().uuid()), 422, meta, now);
        audit::record(&state.db, &[event]).await?;
        source.failed(state).await?;
        return Err(AppError::Invalid(vec![FieldError::new("current_password", "this is not your current password")]));
    }

    let hash = password::hash(new_password).await?;
    let txn = audit::begin_write(&state.db).await?;
    let mut member = stored.into_active_model();
    member.password_hash = Set(Some(hash));
    member.updated_at = Set(now);
    let member = member.update(&txn).await?;
    // Every session of the member ends, the caller's too, and every browser
    // but this one is a stranger again.
    DbSessionStore::end_sessions_of(&txn, member.id).await?;
    super::devices::forget_others(&txn, current.scope, member.id, device).await?;
    if change.revoke_tokens {
        tokens::revoke_all(&txn, current.scope, member.id, now).await?;
    }
    let event = audit::account_event(current, "password_change", Some(member.id.uuid()), 303, meta, now);
    audit::chain::append(&txn, &[event]).await?;
    txn.commit().await?;
    tracing::info!(member_id = %member.id, "password changed");
    Ok(member.into())
}
