//! A practice's members as its admins manage them.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use entity::{members, practices, supervisions};

use super::{Role, Roles};
use crate::{
    AppState,
    audit::RequestMeta,
    auth::{CurrentMember, session_store::DbSessionStore, tokens},
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
    let txn = crate::audit::begin_write(&state.db).await?;
    ensure_another_admin(&txn, scope, &member).await?;
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

/// Changes a member's roles, as an access event in the same transaction. An
/// admin cannot take away their own admin role, and no change may leave the
/// practice without an active admin.
pub async fn set_roles(
    state: &AppState,
    current: &CurrentMember,
    id: Uuid,
    roles: Roles,
    meta: &RequestMeta,
) -> Result<MemberView, AppError> {
    let scope = current.scope;
    let txn = crate::audit::begin_write(&state.db).await?;
    let member = scope.by_id::<members::Entity>(id).one(&txn).await?.ok_or(AppError::NotFound)?;
    if member.id == current.id() && !roles.contains(Role::Admin) {
        return Err(AppError::Conflict("You cannot remove your own admin role.".into()));
    }
    if !roles.contains(Role::Admin) {
        ensure_another_admin(&txn, scope, &member).await?;
    }
    let now = state.clock.now();
    let mut active = member.into_active_model();
    active.roles = Set(roles.to_stored());
    active.updated_at = Set(now);
    let updated = active.update(&txn).await?;
    let event = crate::audit::account_event(current, "role_change", Some(updated.id), 200, meta, now);
    crate::audit::chain::append(&txn, &[event]).await?;
    txn.commit().await?;
    tracing::info!(member_id = %updated.id, "member roles changed");
    updated.try_into()
}

/// Refuses a change that takes `member` out of the practice's admins when no
/// other active admin is left. The practice's row is locked first (PostgreSQL;
/// SQLite's write transaction is already exclusive), so two admins removing
/// each other at the same moment cannot both succeed.
async fn ensure_another_admin(
    txn: &DatabaseTransaction,
    scope: PracticeScope,
    member: &members::Model,
) -> Result<(), AppError> {
    let is_admin = |m: &members::Model| m.active && Roles::from_stored(&m.roles).is_ok_and(|r| r.contains(Role::Admin));
    if !is_admin(member) {
        return Ok(());
    }
    practices::Entity::find_by_id(scope.practice_id()).lock_exclusive().one(txn).await?;
    let others = scope
        .select::<members::Entity>()
        .filter(members::Column::Id.ne(member.id))
        .filter(members::Column::Active.eq(true))
        .all(txn)
        .await?;
    if others.iter().any(is_admin) {
        Ok(())
    } else {
        Err(AppError::Conflict(LAST_ADMIN.into()))
    }
}

pub const LAST_ADMIN: &str = "A practice needs at least one active admin: give someone else the admin role first.";

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
