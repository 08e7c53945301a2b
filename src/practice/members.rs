//! A practice's members as its admins manage them.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, IntoActiveModel, QueryOrder, TransactionTrait,
};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use entity::members;

use super::{Role, Roles};
use crate::{
    AppState,
    auth::{session_store::DbSessionStore, tokens},
    error::AppError,
    scope::PracticeScope,
};

#[derive(Clone, Debug, Serialize)]
pub struct MemberView {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub roles: Roles,
    pub active: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deactivated_at: Option<OffsetDateTime>,
}

impl TryFrom<members::Model> for MemberView {
    type Error = AppError;
    fn try_from(m: members::Model) -> Result<Self, AppError> {
        Ok(Self {
            roles: Roles::from_stored(&m.roles).map_err(|e| anyhow::anyhow!("stored roles: {e}"))?,
            id: m.id,
            email: m.email,
            display_name: m.display_name,
            active: m.active,
            created_at: m.created_at,
            deactivated_at: m.deactivated_at,
        })
    }
}

pub async fn list(state: &AppState, scope: PracticeScope) -> Result<Vec<MemberView>, AppError> {
    scope
        .select::<members::Entity>()
        .order_by_asc(members::Column::DisplayName)
        .order_by_asc(members::Column::Id)
        .all(&state.db)
        .await?
        .into_iter()
        .map(MemberView::try_from)
        .collect()
}

pub async fn get(state: &AppState, scope: PracticeScope, id: Uuid) -> Result<members::Model, AppError> {
    scope.by_id::<members::Entity>(id).one(&state.db).await?.ok_or(AppError::NotFound)
}

/// Deactivates a member: they can no longer sign in, their browser sessions
/// end and their API tokens are revoked, all in one transaction. Their records
/// and history stay. An admin cannot deactivate themselves (someone must be
/// left to undo it).
pub async fn deactivate(
    state: &AppState,
    scope: PracticeScope,
    actor: Uuid,
    id: Uuid,
) -> Result<MemberView, AppError> {
    let member = get(state, scope, id).await?;
    if member.id == actor {
        return Err(AppError::Conflict("You cannot deactivate your own account.".into()));
    }
    let now = state.clock.now();
    let txn = state.db.begin().await?;
    let updated = if member.active {
        let mut active = member.into_active_model();
        active.active = Set(false);
        active.deactivated_at = Set(Some(now));
        active.updated_at = Set(now);
        active.update(&txn).await?
    } else {
        member
    };
    DbSessionStore::end_sessions_of(&txn, updated.id).await?;
    tokens::revoke_all(&txn, scope, updated.id, now).await?;
    txn.commit().await?;
    tracing::info!(member_id = %updated.id, "member deactivated");
    updated.try_into()
}

pub async fn reactivate(state: &AppState, scope: PracticeScope, id: Uuid) -> Result<MemberView, AppError> {
    let member = get(state, scope, id).await?;
    if member.active {
        return member.try_into();
    }
    let mut active = member.into_active_model();
    active.active = Set(true);
    active.deactivated_at = Set(None);
    active.updated_at = Set(state.clock.now());
    let updated = active.update(&state.db).await?;
    tracing::info!(member_id = %updated.id, "member reactivated");
    updated.try_into()
}

/// Changes a member's roles. An admin cannot take away their own admin role.
pub async fn set_roles(
    state: &AppState,
    scope: PracticeScope,
    actor: Uuid,
    id: Uuid,
    roles: Roles,
) -> Result<MemberView, AppError> {
    let member = get(state, scope, id).await?;
    if member.id == actor && !roles.contains(Role::Admin) {
        return Err(AppError::Conflict("You cannot remove your own admin role.".into()));
    }
    let mut active = member.into_active_model();
    active.roles = Set(roles.to_stored());
    active.updated_at = Set(state.clock.now());
    active.update(&state.db).await?.try_into()
}
