//! A practice's members as its admins manage them.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, IntoActiveModel, QueryFilter, QueryOrder,
    TransactionTrait,
};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use entity::{members, supervisions};

use super::{Role, Roles};
use crate::{
    AppState,
    auth::{session_store::DbSessionStore, tokens},
    error::AppError,
    scope::PracticeScope,
};

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct MemberView {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    #[schema(value_type = Vec<String>, example = json!(["counselor"]))]
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

/// A supervisor reviewing a counselor's work: they may read (never change)
/// the records of couples that counselor cares for.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Supervision {
    pub id: Uuid,
    pub supervisor_id: Uuid,
    pub counselor_id: Uuid,
}

pub async fn supervisions(state: &AppState, scope: PracticeScope) -> Result<Vec<Supervision>, AppError> {
    Ok(scope
        .select::<supervisions::Entity>()
        .order_by_asc(supervisions::Column::Id)
        .all(&state.db)
        .await?
        .into_iter()
        .map(|s| Supervision { id: s.id, supervisor_id: s.supervisor_id, counselor_id: s.counselor_id })
        .collect())
}

pub async fn add_supervision(
    state: &AppState,
    scope: PracticeScope,
    supervisor_id: Uuid,
    counselor_id: Uuid,
) -> Result<Supervision, AppError> {
    let has = |m: &Option<members::Model>, role: Role| {
        m.as_ref()
            .filter(|m| m.active)
            .and_then(|m| Roles::from_stored(&m.roles).ok())
            .is_some_and(|r| r.contains(role))
    };
    let supervisor = scope.by_id::<members::Entity>(supervisor_id).one(&state.db).await?;
    let counselor = scope.by_id::<members::Entity>(counselor_id).one(&state.db).await?;
    let mut fields = super::Fields::default();
    if !has(&supervisor, Role::Supervisor) {
        fields.check::<()>("supervisor_id", Err("choose an active supervisor of this practice".into()));
    }
    if !has(&counselor, Role::Counselor) || supervisor_id == counselor_id {
        fields.check::<()>("counselor_id", Err("choose another active counselor of this practice".into()));
    }
    fields.finish()?;
    let existing = scope
        .select::<supervisions::Entity>()
        .filter(supervisions::Column::SupervisorId.eq(supervisor_id))
        .filter(supervisions::Column::CounselorId.eq(counselor_id))
        .one(&state.db)
        .await?;
    let row = match existing {
        Some(row) => row,
        None => {
            supervisions::ActiveModel {
                id: Set(Uuid::now_v7()),
                practice_id: Set(scope.practice_id()),
                supervisor_id: Set(supervisor_id),
                counselor_id: Set(counselor_id),
                created_at: Set(state.clock.now()),
            }
            .insert(&state.db)
            .await?
        }
    };
    Ok(Supervision { id: row.id, supervisor_id: row.supervisor_id, counselor_id: row.counselor_id })
}

pub async fn remove_supervision(state: &AppState, scope: PracticeScope, id: Uuid) -> Result<(), AppError> {
    let deleted = scope
        .delete_many::<supervisions::Entity>()
        .filter(supervisions::Column::Id.eq(id))
        .exec(&state.db)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}
