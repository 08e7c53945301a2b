//! Creating a practice: from the one-time link printed on first start, or
//! from the command line (`tandem practice create`).

use entity::ids::MemberId;
use entity::ids::PracticeId;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait,
    EntityTrait, PaginatorTrait, QueryFilter, sea_query::Expr,
};
use time::OffsetDateTime;
use uuid::Uuid;

use entity::{members, practices, setup_tokens};

use super::{Email, Member, Role, Roles, invitations};
use crate::{
    state::AppState,
    auth::password,
    error::{AppError, on_unique},
    scope::PracticeScope,
};

pub struct NewPractice {
    pub name: String,
    pub slug: String,
    pub time_zone: String,
}

pub struct FirstAdmin {
    pub display_name: String,
    pub email: Email,
    pub password: String,
}

pub async fn practice_count(db: &impl ConnectionTrait) -> Result<u64, AppError> {
    Ok(practices::Entity::find().count(db).await?)
}

/// On a database without any practice, replaces any earlier setup link with a
/// new one and returns its URL. With a practice already there, returns `None`.
pub async fn issue_setup_link(state: &AppState) -> Result<Option<String>, AppError> {
    if practice_count(&state.db).await? > 0 {
        return Ok(None);
    }
    let now = state.clock.now();
    let secret = crate::secret::generate();
    let txn = state.db.begin().await?;
    setup_tokens::Entity::delete_many()
        .filter(setup_tokens::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    setup_tokens::ActiveModel {
        id: Set(Uuid::now_v7()),
        token_hash: Set(crate::secret::hash(&secret)),
        created_at: Set(now),
        expires_at: Set(now + time::Duration::hours(state.config.setup_ttl_hours.into())),
        used_at: Set(None),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(Some(format!("{}/setup?token={secret}", state.config.public_base())))
}

/// True when the secret names a setup link that can still be used.
pub async fn setup_link_is_valid(state: &AppState, secret: &str) -> Result<bool, AppError> {
    Ok(setup_tokens::Entity::find()
        .filter(setup_tokens::Column::TokenHash.eq(crate::secret::hash(secret)))
        .filter(setup_tokens::Column::UsedAt.is_null())
        .filter(setup_tokens::Column::ExpiresAt.gt(state.clock.now()))
        .one(&state.db)
        .await?
        .is_some())
}

const SETUP_LINK_GONE: &str = "This setup link has been used or has expired. Restart Tandem on an empty database for a new one, or use `tandem practice create`.";

/// What the setup page sends, before it is checked.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct SetupInput {
    pub practice_name: String,
    pub slug: String,
    pub time_zone: String,
    pub display_name: String,
    pub email: String,
    pub password: String,
}

impl SetupInput {
    /// The practice and its first admin; `AppError::Invalid` names each
    /// field that does not hold.
    pub fn parse(&self) -> Result<(NewPractice, FirstAdmin), AppError> {
        let mut fields = super::Fields::default();
        let name = fields.check("practice_name", super::parse_name(&self.practice_name));
        let slug = fields.check("slug", super::parse_slug(&self.slug));
        let time_zone = fields.check("time_zone", super::parse_time_zone(&self.time_zone));
        let display_name = fields.check("display_name", super::parse_name(&self.display_name));
        let email = fields.check("email", Email::parse(&self.email));
        let password = fields.check("password", super::parse_new_password(&self.password));
        fields.finish_with(|| {
            Some((NewPractice { name: name?, slug: slug?, time_zone: time_zone? }, FirstAdmin { display_name: display_name?, email: email?, password: password? }))
        })
    }
}

/// Uses the setup link once: creates the practice and its first admin.
pub async fn complete_setup(
    state: &AppState,
    secret: &str,
    practice: NewPractice,
    admin: FirstAdmin,
) -> Result<Member, AppError> {
    let password_hash = password::hash(admin.password).await?;
    let now = state.clock.now();
    let txn = state.db.begin().await?;
    // Claim the link atomically: of two concurrent uses only one updates the row.
    let claimed = setup_tokens::Entity::update_many()
        .col_expr(setup_tokens::Column::UsedAt, Expr::value(now))
        .filter(setup_tokens::Column::TokenHash.eq(crate::secret::hash(secret)))
        .filter(setup_tokens::Column::UsedAt.is_null())
        .filter(setup_tokens::Column::ExpiresAt.gt(now))
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Err(AppError::Conflict(SETUP_LINK_GONE.into()));
    }
    let practice = insert_practice(&txn, &state.vault, practice, now).await?;
    let member = insert_member(
        &txn,
        PracticeScope::trusted(practice.id),
        &admin.email,
        admin.display_name,
        Some(password_hash),
        &Roles::one(Role::Admin),
        now,
    )
    .await?;
    txn.commit().await?;
    tracing::info!(practice_id = %practice.id, member_id = %member.id, "practice created through setup link");
    Ok(member.into())
}

/// For scripts: creates a practice and invites its first admin, returning the
/// invitation link (the admin chooses their own password through it).
pub async fn create_from_cli(
    state: &AppState,
    practice: NewPractice,
    admin_email: Email,
) -> Result<(practices::Model, String), AppError> {
    let now = state.clock.now();
    let txn = state.db.begin().await?;
    let practice = insert_practice(&txn, &state.vault, practice, now).await?;
    let (_, secret) = invitations::insert(
        &txn,
        state,
        PracticeScope::trusted(practice.id),
        None,
        admin_email,
        Roles::one(Role::Admin),
    )
    .await?;
    txn.commit().await?;
    Ok((practice, invitations::link(state, &secret)))
}

/// A new practice, with its key for clinical text made in the same
/// transaction (so no write ever waits to make one).
async fn insert_practice(
    db: &impl ConnectionTrait,
    vault: &crate::vault::Vault,
    practice: NewPractice,
    now: OffsetDateTime,
) -> Result<practices::Model, AppError> {
    // The unit of work acts in the new practice from its first row on.
    let id = PracticeId::new();
    crate::tenant::enter(id);
    crate::tenant::act_in(db, id).await?;
    let row = practices::ActiveModel {
        id: Set(id),
        slug: Set(practice.slug),
        name: Set(practice.name),
        time_zone: Set(practice.time_zone),
        created_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(|e| on_unique(e, "slug", "another practice already uses this short name"))?;
    vault.practice(db, row.id).await?;
    Ok(row)
}

pub(crate) async fn insert_member(
    db: &impl ConnectionTrait,
    scope: PracticeScope,
    email: &Email,
    display_name: String,
    password_hash: Option<String>,
    roles: &Roles,
    now: OffsetDateTime,
) -> Result<members::Model, AppError> {
    members::ActiveModel {
        id: Set(MemberId::new()),
        practice_id: Set(scope.practice_id()),
        email: Set(email.as_str().to_owned()),
        display_name: Set(display_name),
        password_hash: Set(password_hash),
        roles: Set(roles.to_stored()),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        deactivated_at: Set(None),
    }
    .insert(db)
    .await
    .map_err(|e| on_unique(e, "email", "a member of this practice already uses this email address"))
}
