//! Members and invitations, for practice admins.

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    response::IntoResponse,
    routing::{delete, get, post, put},
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Json, Path};
use crate::{
    AppState,
    auth::CurrentMember,
    error::AppError,
    practice::{
        Email, Fields, Role, Roles,
        invitations::{self, InvitationView},
        members::{self, MemberView},
    },
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/members", get(list_members))
        .route("/members/{id}", get(get_member))
        .route("/members/{id}/deactivate", post(deactivate))
        .route("/members/{id}/reactivate", post(reactivate))
        .route("/members/{id}/roles", put(set_roles))
        .route("/invitations", get(list_invitations).post(invite))
        .route("/invitations/{id}", delete(revoke_invitation))
}

fn admin(current: &CurrentMember) -> Result<(), AppError> {
    current.require(Role::Admin)
}

async fn list_members(
    State(state): State<AppState>,
    current: CurrentMember,
) -> Result<axum::Json<Vec<MemberView>>, AppError> {
    admin(&current)?;
    Ok(axum::Json(members::list(&state, current.scope).await?))
}

async fn get_member(
    State(state): State<AppState>,
    current: CurrentMember,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<MemberView>, AppError> {
    admin(&current)?;
    Ok(axum::Json(members::get(&state, current.scope, id).await?.try_into()?))
}

async fn deactivate(
    State(state): State<AppState>,
    current: CurrentMember,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<MemberView>, AppError> {
    admin(&current)?;
    Ok(axum::Json(members::deactivate(&state, current.scope, current.id(), id).await?))
}

async fn reactivate(
    State(state): State<AppState>,
    current: CurrentMember,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<MemberView>, AppError> {
    admin(&current)?;
    Ok(axum::Json(members::reactivate(&state, current.scope, id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RolesBody {
    roles: Vec<String>,
}

fn parse_roles(raw: &[String]) -> Result<Roles, String> {
    let roles = raw.iter().map(|r| r.parse::<Role>()).collect::<Result<Vec<_>, _>>()?;
    Roles::new(roles)
}

async fn set_roles(
    State(state): State<AppState>,
    current: CurrentMember,
    Path(id): Path<Uuid>,
    Json(body): Json<RolesBody>,
) -> Result<axum::Json<MemberView>, AppError> {
    admin(&current)?;
    let roles = parse_roles(&body.roles).map_err(|e| AppError::invalid("roles", &e))?;
    Ok(axum::Json(members::set_roles(&state, current.scope, current.id(), id, roles).await?))
}

async fn list_invitations(
    State(state): State<AppState>,
    current: CurrentMember,
) -> Result<axum::Json<Vec<InvitationView>>, AppError> {
    admin(&current)?;
    Ok(axum::Json(invitations::list(&state, current.scope).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InviteBody {
    email: String,
    roles: Vec<String>,
}

#[derive(Serialize)]
struct CreatedInvitation {
    #[serde(flatten)]
    invitation: InvitationView,
    /// The single-use link to send to the person, shown this once.
    link: String,
}

async fn invite(
    State(state): State<AppState>,
    current: CurrentMember,
    Json(body): Json<InviteBody>,
) -> Result<impl IntoResponse, AppError> {
    admin(&current)?;
    let mut fields = Fields::default();
    let email = fields.check("email", Email::parse(&body.email));
    let roles = fields.check("roles", parse_roles(&body.roles));
    fields.finish()?;
    let (Some(email), Some(roles)) = (email, roles) else { unreachable!("checked above") };
    let created = invitations::create(&state, current.scope, current.id(), email, roles).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedInvitation { invitation: created.view, link: created.link }),
    ))
}

async fn revoke_invitation(
    State(state): State<AppState>,
    current: CurrentMember,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<InvitationView>, AppError> {
    admin(&current)?;
    Ok(axum::Json(invitations::revoke(&state, current.scope, id).await?))
}
