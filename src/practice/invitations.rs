//! Invitations: an admin names an email address and roles; the person gets a
//! single-use link that expires, and through it chooses a name and password.

use entity::ids::MemberId;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, sea_query::Expr,
};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use entity::{invitations, members, practices};

use super::{Email, Member, Practice, Roles, setup::insert_member};
use crate::{state::AppState, auth::password, error::AppError, scope::PracticeScope};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct InvitationView {
    pub id: Uuid,
    pub email: String,
    #[schema(value_type = Vec<String>, example = json!(["counselor"]))]
    pub roles: Roles,
    pub status: InvitationStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl InvitationView {
    fn from_model(m: invitations::Model, now: OffsetDateTime) -> Result<Self, AppError> {
        let status = if m.accepted_at.is_some() {
            InvitationStatus::Accepted
        } else if m.revoked_at.is_some() {
            InvitationStatus::Revoked
        } else if m.expires_at <= now {
            InvitationStatus::Expired
        } else {
            InvitationStatus::Pending
        };
        Ok(Self {
            id: m.id,
            email: m.email,
            roles: Roles::from_stored(&m.roles).map_err(|e| anyhow::anyhow!("stored roles: {e}"))?,
            status,
            created_at: m.created_at,
            expires_at: m.expires_at,
        })
    }
}

pub fn link(state: &AppState, secret: &str) -> String {
    format!("{}/join/{secret}", state.config.public_base())
}

/// Creates an invitation inside `db` (a transaction or a connection) and
/// returns it with its secret, which is shown once and never stored.
pub(crate) async fn insert(
    db: &impl ConnectionTrait,
    state: &AppState,
    scope: PracticeScope,
    invited_by: Option<MemberId>,
    email: Email,
    roles: Roles,
) -> Result<(invitations::Model, String), AppError> {
    let taken = scope
        .select::<members::Entity>()
        .filter(members::Column::Email.eq(email.as_str()))
        .one(db)
        .await?
        .is_some();
    if taken {
        return Err(AppError::Conflict(
            "email: a member of this practice already uses this email address".into(),
        ));
    }
    let now = state.clock.now();
    let secret = crate::secret::generate();
    let row = invitations::ActiveModel {
        id: Set(Uuid::now_v7()),
        practice_id: Set(scope.practice_id()),
        email: Set(email.as_str().to_owned()),
        roles: Set(roles.to_stored()),
        token_hash: Set(crate::secret::hash(&secret)),
        invited_by: Set(invited_by),
        created_at: Set(now),
        expires_at: Set(now + time::Duration::hours(state.config.invitation_ttl_hours.into())),
        accepted_at: Set(None),
        accepted_member_id: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok((row, secret))
}

pub struct CreatedInvitation {
    pub view: InvitationView,
    pub link: String,
}

/// Invites someone with `roles`: a change to who can see what once they
/// accept, so it is an access event (the roles offered; never the link).
pub async fn create(
    state: &AppState,
    current: &crate::auth::CurrentMember,
    email: Email,
    roles: Roles,
    meta: &crate::audit::RequestMeta,
) -> Result<CreatedInvitation, AppError> {
    let scope = current.scope;
    let txn = crate::audit::begin_write(&state.db).await?;
    let (row, secret) = insert(&txn, state, scope, Some(current.id()), email, roles.clone()).await?;
    let change = crate::audit::changes::Change::new(Vec::<Uuid>::new(), None::<()>, &roles);
    let event = crate::audit::changes::event(current, "invitation_create", "invitation", Some(row.id), &change, meta, state.clock.now());
    crate::audit::chain::append(&txn, &[event]).await?;
    txn.commit().await?;
    tracing::info!(invitation_id = %row.id, practice_id = %scope.practice_id(), "invitation created");
    Ok(CreatedInvitation {
        view: InvitationView::from_model(row, state.clock.now())?,
        link: link(state, &secret),
    })
}

pub async fn list(db: &impl ConnectionTrait, now: OffsetDateTime, scope: PracticeScope) -> Result<Vec<InvitationView>, AppError> {
    scope
        .select::<invitations::Entity>()
        .order_by_desc(invitations::Column::CreatedAt)
        // Ids are UUIDv7: a tie on the timestamp still lists newest first.
        .order_by_desc(invitations::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|m| InvitationView::from_model(m, now))
        .collect()
}

pub async fn revoke(db: &impl ConnectionTrait, now: OffsetDateTime, scope: PracticeScope, id: Uuid) -> Result<InvitationView, AppError> {
    let invitation = scope
        .by_id::<invitations::Entity>(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    if invitation.accepted_at.is_some() {
        return Err(AppError::Conflict("This invitation has already been accepted.".into()));
    }
    if invitation.revoked_at.is_none() {
        scope
            .update_many::<invitations::Entity>()
            .col_expr(invitations::Column::RevokedAt, Expr::value(now))
            .filter(invitations::Column::Id.eq(id))
            .exec(db)
            .await?;
    }
    let updated = scope.by_id::<invitations::Entity>(id).one(db).await?.ok_or(AppError::NotFound)?;
    InvitationView::from_model(updated, now)
}

/// An invitation that can still be accepted, as its page shows it.
pub struct OpenInvitation {
    pub id: Uuid,
    pub email: String,
    pub roles: Roles,
    pub practice: Practice,
}

/// The invitation the link's `secret` opens, if it can still be accepted.
pub async fn open(state: &AppState, secret: &str) -> Result<Option<OpenInvitation>, AppError> {
    let Some((invitation, practice)) = find_open(state, secret).await? else {
        return Ok(None);
    };
    Ok(Some(OpenInvitation {
        id: invitation.id,
        roles: Roles::from_stored(&invitation.roles).map_err(|e| anyhow::anyhow!("stored roles: {e}"))?,
        email: invitation.email,
        practice: practice.into(),
    }))
}

/// An invitation that can still be accepted, with its practice. Looked up by
/// the hash of the link's secret: the link names the practice.
async fn find_open(
    state: &AppState,
    secret: &str,
) -> Result<Option<(invitations::Model, practices::Model)>, AppError> {
    let now = state.clock.now();
    let hash = crate::secret::hash(secret);
    crate::tenant::reveal(&hash);
    // unscoped: the secret's hash is the key; the row names the practice.
    let Some(invitation) = invitations::Entity::find()
        .filter(invitations::Column::TokenHash.eq(hash))
        .one(&state.db)
        .await?
        .filter(|i| i.accepted_at.is_none() && i.revoked_at.is_none() && i.expires_at > now)
    else {
        return Ok(None);
    };
    crate::tenant::enter(invitation.practice_id);
    let practice = practices::Entity::find_by_id(invitation.practice_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("invitation without practice"))?;
    Ok(Some((invitation, practice)))
}

pub const INVITATION_GONE: &str =
    "This invitation link has been used, was withdrawn, or has expired. Ask your practice admin for a new one.";

/// Uses the invitation once and creates the member.
pub async fn accept(
    state: &AppState,
    secret: &str,
    display_name: String,
    new_password: String,
) -> Result<Member, AppError> {
    let Some((invitation, _)) = find_open(state, secret).await? else {
        return Err(AppError::Conflict(INVITATION_GONE.into()));
    };
    let password_hash = password::hash(new_password).await?;
    let txn = state.db.begin().await?;
    let member = claim(&txn, &invitation, display_name, Some(password_hash), state.clock.now()).await?;
    txn.commit().await?;
    tracing::info!(invitation_id = %invitation.id, member_id = %member.id, "invitation accepted");
    Ok(member.into())
}

/// Marks `invitation` used and creates its member, in `txn`, with the
/// invitation's email and roles; someone who joins through an identity
/// provider has no password. Refused (409) when the invitation was used,
/// withdrawn or has expired meanwhile.
pub(crate) async fn claim(
    txn: &impl ConnectionTrait,
    invitation: &invitations::Model,
    display_name: String,
    password_hash: Option<String>,
    now: OffsetDateTime,
) -> Result<members::Model, AppError> {
    let scope = PracticeScope::trusted(invitation.practice_id);
    let email = Email::parse(&invitation.email).map_err(|e| anyhow::anyhow!("stored email: {e}"))?;
    let roles = Roles::from_stored(&invitation.roles).map_err(|e| anyhow::anyhow!("stored roles: {e}"))?;
    let claimed = scope
        .update_many::<invitations::Entity>()
        .col_expr(invitations::Column::AcceptedAt, Expr::value(now))
        .filter(invitations::Column::Id.eq(invitation.id))
        .filter(invitations::Column::AcceptedAt.is_null())
        .filter(invitations::Column::RevokedAt.is_null())
        .filter(invitations::Column::ExpiresAt.gt(now))
        .exec(txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Err(AppError::Conflict(INVITATION_GONE.into()));
    }
    let member = insert_member(txn, scope, &email, display_name, password_hash, &roles, now).await?;
    scope
        .update_many::<invitations::Entity>()
        .col_expr(invitations::Column::AcceptedMemberId, Expr::value(member.id))
        .filter(invitations::Column::Id.eq(invitation.id))
        .exec(txn)
        .await?;
    Ok(member)
}
