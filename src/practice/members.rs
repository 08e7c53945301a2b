//! A practice's members as its admins manage them.

use super::MemberId;
use crate::tenant::Db;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use entity::{members, practices, supervisions};

use super::{Member, Role, Roles};
use crate::{
    state::AppState,
    audit::{
        RequestMeta,
        changes::{self, Change},
    },
    auth::{CurrentMember, session_store::DbSessionStore, throttle, tokens},
    error::AppError,
    scope::PracticeScope,
};

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct MemberView {
    pub id: MemberId,
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

impl MemberView {
    /// What [`acts_as`] says of the stored member: the choices a form offers.
    pub fn may_act_as(&self, role: Role) -> bool {
        self.active && self.roles.contains(role)
    }
}

/// Whether a member found (or not) in the practice may be given work of
/// `role`: active, with that role (a supervision's supervisor or counselor,
/// a care team's counselor, a partner's portal account).
pub fn acts_as(member: Option<&members::Model>, role: Role) -> bool {
    member
        .filter(|m| m.active)
        .and_then(|m| Roles::from_stored(&m.roles).ok())
        .is_some_and(|r| r.contains(role))
}

pub async fn list(db: &impl ConnectionTrait, scope: PracticeScope) -> Result<Vec<MemberView>, AppError> {
    scope
        .select::<members::Entity>()
        .order_by_asc(members::Column::DisplayName)
        .order_by_asc(members::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(MemberView::try_from)
        .collect()
}

pub async fn get(db: &impl ConnectionTrait, scope: PracticeScope, id: MemberId) -> Result<members::Model, AppError> {
    scope.by_id::<members::Entity>(id).one(db).await?.ok_or(AppError::NotFound)
}

/// Whether `member` has a Tandem password (members who join through the
/// practice's identity provider have none to change).
pub async fn has_password(db: &impl ConnectionTrait, member: &Member) -> Result<bool, AppError> {
    Ok(row(db, member).await?.password_hash.is_some())
}

async fn row(db: &impl ConnectionTrait, member: &Member) -> Result<members::Model, AppError> {
    PracticeScope::trusted(member.practice_id).by_id::<members::Entity>(member.id).one(db).await?.ok_or(AppError::NotFound)
}

/// The member's own new display name; `AppError::Invalid` when it is not one.
pub async fn rename(db: &impl ConnectionTrait, member: &Member, display_name: &str, now: OffsetDateTime) -> Result<(), AppError> {
    let name = super::parse_name(display_name).map_err(|message| AppError::invalid("display_name", &message))?;
    let mut stored = row(db, member).await?.into_active_model();
    stored.display_name = Set(name);
    stored.updated_at = Set(now);
    stored.update(db).await?;
    Ok(())
}

/// Deactivates a member: they can no longer sign in, their browser sessions
/// end and their API tokens are revoked, all in one transaction with its
/// access event. Their records and history stay. An admin cannot deactivate
/// themselves (someone must be left to undo it).
pub async fn deactivate(db: &Db, now: OffsetDateTime, current: &CurrentMember, id: MemberId, meta: &RequestMeta) -> Result<MemberView, AppError> {
    let scope = current.scope;
    let member = get(db, scope, id).await?;
    if member.id == current.id() {
        return Err(AppError::Conflict("You cannot deactivate your own account.".into()));
    }
    let txn = crate::audit::begin_write(db).await?;
    ensure_another_admin(&txn, scope, &member).await?;
    let updated = if member.active {
        let mut active = member.into_active_model();
        active.active = Set(false);
        active.deactivated_at = Set(Some(now));
        active.updated_at = Set(now);
        let updated = active.update(&txn).await?;
        let change = Change::new(vec![updated.id], "active", "deactivated");
        let event = changes::event(current, "member_deactivate", "member", Some(updated.id.uuid()), &change, meta, now);
        crate::audit::chain::append(&txn, &[event]).await?;
        updated
    } else {
        member
    };
    DbSessionStore::end_sessions_of(&txn, updated.id).await?;
    tokens::revoke_all(&txn, scope, updated.id, now).await?;
    txn.commit().await?;
    tracing::info!(member_id = %updated.id, "member deactivated");
    updated.try_into()
}

/// Lets a deactivated member sign in again, with its access event.
pub async fn reactivate(db: &Db, now: OffsetDateTime, current: &CurrentMember, id: MemberId, meta: &RequestMeta) -> Result<MemberView, AppError> {
    let member = get(db, current.scope, id).await?;
    if member.active {
        return member.try_into();
    }
    let txn = crate::audit::begin_write(db).await?;
    let mut active = member.into_active_model();
    active.active = Set(true);
    active.deactivated_at = Set(None);
    active.updated_at = Set(now);
    let updated = active.update(&txn).await?;
    let change = Change::new(vec![updated.id], "deactivated", "active");
    let event = changes::event(current, "member_reactivate", "member", Some(updated.id.uuid()), &change, meta, now);
    crate::audit::chain::append(&txn, &[event]).await?;
    txn.commit().await?;
    tracing::info!(member_id = %updated.id, "member reactivated");
    updated.try_into()
}

/// Changes a member's roles, as an access event (with the roles before and
/// after) in the same transaction. An admin cannot take away their own admin
/// role, no change may leave the practice without an active admin, and
/// nobody gives themselves a role they do not have (see [`grant_to_self`]).
pub async fn set_roles(
    state: &AppState,
    current: &CurrentMember,
    id: impl Into<MemberId>,
    roles: Roles,
    password: Option<&str>,
    meta: &RequestMeta,
) -> Result<MemberView, AppError> {
    let id = id.into();
    let scope = current.scope;
    if id == current.id() && !roles.contains(Role::Admin) {
        return Err(AppError::Conflict("You cannot remove your own admin role.".into()));
    }
    if id == current.id() && roles.iter().any(|r| !current.roles.contains(r)) {
        grant_to_self(state, current, password, meta).await?;
    }
    let txn = crate::audit::begin_write(&state.db).await?;
    let member = scope.by_id::<members::Entity>(id).one(&txn).await?.ok_or(AppError::NotFound)?;
    let before = Roles::from_stored(&member.roles).map_err(|e| anyhow::anyhow!("stored roles: {e}"))?;
    if !roles.contains(Role::Admin) {
        ensure_another_admin(&txn, scope, &member).await?;
    }
    let now = state.clock.now();
    let mut active = member.into_active_model();
    active.roles = Set(roles.to_stored());
    active.updated_at = Set(now);
    let updated = active.update(&txn).await?;
    let change = Change::new(vec![updated.id], &before, &roles);
    let event = changes::event(current, "role_change", "member", Some(updated.id.uuid()), &change, meta, now);
    crate::audit::chain::append(&txn, &[event]).await?;
    txn.commit().await?;
    tracing::info!(member_id = %updated.id, "member roles changed");
    updated.try_into()
}

/// Refuses a grant of access to the admin making it. Nobody gives themselves
/// a role or a supervision: another admin does it. Only an admin who is the
/// practice's single active admin (a solo practice) may, and only after
/// typing their password again, so that a stolen session or token cannot.
/// Wrong passwords count towards the account's sign-in throttling.
/// Runs before the change's transaction, which a wrong password's event
/// and throttling count must not wait for.
async fn grant_to_self(
    state: &AppState,
    current: &CurrentMember,
    password: Option<&str>,
    meta: &RequestMeta,
) -> Result<(), AppError> {
    let scope = current.scope;
    let other_admins = scope
        .select::<members::Entity>()
        .filter(members::Column::Id.ne(current.id()))
        .filter(members::Column::Active.eq(true))
        .all(&state.db)
        .await?
        .iter()
        .any(|m| Roles::from_stored(&m.roles).is_ok_and(|r| r.contains(Role::Admin)));
    if other_admins {
        return Err(AppError::Forbidden(SELF_GRANT.into()));
    }
    let Some(password) = password.filter(|p| !p.is_empty()) else {
        return Err(AppError::invalid("password", CONFIRM_SELF_GRANT));
    };
    let key = throttle::account_key(&current.practice.slug, &current.member.email);
    throttle::check(state, std::slice::from_ref(&key)).await?;
    let stored = get(&state.db, current.scope, current.id()).await?.password_hash;
    if !crate::auth::password::verify(password.to_owned(), stored).await? {
        let event = crate::audit::account_event(current, "self_grant_confirm", Some(current.id().uuid()), 422, meta, state.clock.now());
        crate::audit::record(&state.db, &[event]).await?;
        throttle::record_failure(state, &key, state.config.sign_in_max_failures_per_account).await?;
        return Err(AppError::invalid("password", "this is not your password"));
    }
    Ok(())
}

pub const SELF_GRANT: &str =
    "Nobody gives themselves access: ask another admin of your practice to make this change.";
pub const CONFIRM_SELF_GRANT: &str =
    "you are the practice's only admin: type your password to give yourself this access";

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
    pub supervisor_id: MemberId,
    pub counselor_id: MemberId,
}

pub async fn supervisions(db: &impl ConnectionTrait, scope: PracticeScope) -> Result<Vec<Supervision>, AppError> {
    Ok(scope
        .select::<supervisions::Entity>()
        .order_by_asc(supervisions::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|s| Supervision { id: s.id, supervisor_id: s.supervisor_id, counselor_id: s.counselor_id })
        .collect())
}

/// Makes `supervisor_id` a reader of `counselor_id`'s couples, as an access
/// event in the same transaction. An admin cannot make themselves anyone's
/// supervisor (see [`grant_to_self`]).
pub async fn add_supervision(
    state: &AppState,
    current: &CurrentMember,
    supervisor_id: MemberId,
    counselor_id: MemberId,
    password: Option<&str>,
    meta: &RequestMeta,
) -> Result<Supervision, AppError> {
    let scope = current.scope;
    if supervisor_id == current.id() {
        grant_to_self(state, current, password, meta).await?;
    }
    let txn = crate::audit::begin_write(&state.db).await?;
    let supervisor = scope.by_id::<members::Entity>(supervisor_id).one(&txn).await?;
    let counselor = scope.by_id::<members::Entity>(counselor_id).one(&txn).await?;
    let mut fields = super::Fields::default();
    if !acts_as(supervisor.as_ref(), Role::Supervisor) {
        fields.check::<()>("supervisor_id", Err("choose an active supervisor of this practice".into()));
    }
    if !acts_as(counselor.as_ref(), Role::Counselor) || supervisor_id == counselor_id {
        fields.check::<()>("counselor_id", Err("choose another active counselor of this practice".into()));
    }
    fields.finish()?;
    let existing = scope
        .select::<supervisions::Entity>()
        .filter(supervisions::Column::SupervisorId.eq(supervisor_id))
        .filter(supervisions::Column::CounselorId.eq(counselor_id))
        .one(&txn)
        .await?;
    if let Some(row) = existing {
        return Ok(Supervision { id: row.id, supervisor_id: row.supervisor_id, counselor_id: row.counselor_id });
    }
    let now = state.clock.now();
    let row = supervisions::ActiveModel {
        id: Set(Uuid::now_v7()),
        practice_id: Set(scope.practice_id()),
        supervisor_id: Set(supervisor_id),
        counselor_id: Set(counselor_id),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let change = Change::new(vec![supervisor_id, counselor_id], None::<()>, "supervises");
    let event = changes::event(current, "supervision_add", "supervision", Some(row.id), &change, meta, now);
    crate::audit::chain::append(&txn, &[event]).await?;
    txn.commit().await?;
    tracing::info!(supervision_id = %row.id, "supervision added");
    Ok(Supervision { id: row.id, supervisor_id: row.supervisor_id, counselor_id: row.counselor_id })
}

/// Ends a supervision, as an access event in the same transaction.
pub async fn remove_supervision(db: &Db, now: OffsetDateTime, current: &CurrentMember, id: Uuid, meta: &RequestMeta) -> Result<(), AppError> {
    let txn = crate::audit::begin_write(db).await?;
    let row = current.scope.by_id::<supervisions::Entity>(id).one(&txn).await?.ok_or(AppError::NotFound)?;
    current
        .scope
        .delete_many::<supervisions::Entity>()
        .filter(supervisions::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    let change = Change::new(vec![row.supervisor_id, row.counselor_id], "supervises", None::<()>);
    let event = changes::event(current, "supervision_remove", "supervision", Some(id), &change, meta, now);
    crate::audit::chain::append(&txn, &[event]).await?;
    txn.commit().await?;
    tracing::info!(supervision_id = %id, "supervision ended");
    Ok(())
}
