//! Members, invitations and supervision, for practice admins.

use crate::practice::MemberId;
use axum::{extract::State, http::StatusCode, response::IntoResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{Json, Path, Problem, Query};
use crate::records::common::page_limit;
use crate::{
    state::AppState,
    audit::{
        RequestMeta,
        changes::{self, ChangePage},
    },
    auth::CurrentMember,
    error::AppError,
    practice::{
        Email, Fields, Role, Roles,
        invitations::{self, InvitationView},
        members::{self, MemberView, Supervision},
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_members))
        .routes(routes!(get_member))
        .routes(routes!(deactivate))
        .routes(routes!(reactivate))
        .routes(routes!(set_roles))
        .routes(routes!(list_invitations, invite))
        .routes(routes!(revoke_invitation))
        .routes(routes!(list_supervisions, add_supervision))
        .routes(routes!(remove_supervision))
        .routes(routes!(access_changes))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ChangesQuery {
    /// At most this many (1 to 200, default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<i64>,
}

/// Changes to who can see what: roles, supervisions, care teams, sign-in
/// providers and linked accounts, newest first, each with what it was
/// before and after. Supervisors and admins see all of their practice's;
/// everyone else sees the changes that affect them.
#[utoipa::path(get, path = "/access-changes", tag = "practice", params(ChangesQuery),
    responses((status = 200, body = ChangePage), (status = 401, body = Problem)))]
async fn access_changes(
    State(state): State<AppState>,
    current: CurrentMember,
    Query(query): Query<ChangesQuery>,
) -> Result<axum::Json<ChangePage>, AppError> {
    Ok(axum::Json(changes::list(&state.db, &current, query.cursor, page_limit(query.limit)?).await?))
}

fn admin(current: &CurrentMember) -> Result<(), AppError> {
    current.require(Role::Admin)
}

/// Every member of the practice.
#[utoipa::path(get, path = "/members", tag = "practice",
    responses((status = 200, body = Vec<MemberView>), (status = 403, body = Problem)))]
async fn list_members(
    State(state): State<AppState>,
    current: CurrentMember,
) -> Result<axum::Json<Vec<MemberView>>, AppError> {
    admin(&current)?;
    Ok(axum::Json(members::list(&state.db, current.scope).await?))
}

/// One member.
#[utoipa::path(get, path = "/members/{id}", tag = "practice", params(("id" = Uuid, Path)),
    responses((status = 200, body = MemberView), (status = 404, body = Problem)))]
async fn get_member(
    State(state): State<AppState>,
    current: CurrentMember,
    Path(id): Path<MemberId>,
) -> Result<axum::Json<MemberView>, AppError> {
    admin(&current)?;
    Ok(axum::Json(members::get(&state.db, current.scope, id).await?.try_into()?))
}

/// Ends a member's access: sessions end, tokens are revoked, records stay.
#[utoipa::path(post, path = "/members/{id}/deactivate", tag = "practice", params(("id" = Uuid, Path)),
    responses((status = 200, body = MemberView), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn deactivate(
    State(state): State<AppState>,
    current: CurrentMember,
    meta: RequestMeta,
    Path(id): Path<MemberId>,
) -> Result<axum::Json<MemberView>, AppError> {
    admin(&current)?;
    Ok(axum::Json(members::deactivate(&state.db, state.clock.now(), &current, id, &meta).await?))
}

/// Lets a deactivated member sign in again.
#[utoipa::path(post, path = "/members/{id}/reactivate", tag = "practice", params(("id" = Uuid, Path)),
    responses((status = 200, body = MemberView), (status = 404, body = Problem)))]
async fn reactivate(
    State(state): State<AppState>,
    current: CurrentMember,
    meta: RequestMeta,
    Path(id): Path<MemberId>,
) -> Result<axum::Json<MemberView>, AppError> {
    admin(&current)?;
    Ok(axum::Json(members::reactivate(&state.db, state.clock.now(), &current, id, &meta).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"roles": ["counselor", "supervisor"]}))]
struct RolesBody {
    /// Any of admin, counselor, supervisor, client; a client has no other role.
    #[schema(schema_with = crate::practice::roles_schema)]
    roles: Vec<String>,
    /// Only for giving yourself a role, which only a practice's single admin
    /// may do: your password, typed again. Otherwise another admin does it.
    #[serde(default)]
    #[schema(schema_with = crate::input::schema::password_or_none)]
    password: Option<String>,
}

/// Replaces a member's roles. Nobody gives themselves a role: another admin
/// does (403), except the single admin of a practice, with their password.
#[utoipa::path(put, path = "/members/{id}/roles", tag = "practice", params(("id" = Uuid, Path)),
    request_body = RolesBody,
    responses((status = 200, body = MemberView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)))]
async fn set_roles(
    State(state): State<AppState>,
    current: CurrentMember,
    meta: RequestMeta,
    Path(id): Path<MemberId>,
    Json(body): Json<RolesBody>,
) -> Result<axum::Json<MemberView>, AppError> {
    admin(&current)?;
    let roles = Roles::parse_list(&body.roles).map_err(|e| AppError::invalid("roles", &e))?;
    Ok(axum::Json(members::set_roles(&state, &current, id, roles, body.password.as_deref(), &meta).await?))
}

/// All invitations, newest first.
#[utoipa::path(get, path = "/invitations", tag = "practice",
    responses((status = 200, body = Vec<InvitationView>), (status = 403, body = Problem)))]
async fn list_invitations(
    State(state): State<AppState>,
    current: CurrentMember,
) -> Result<axum::Json<Vec<InvitationView>>, AppError> {
    admin(&current)?;
    Ok(axum::Json(invitations::list(&state.db, state.clock.now(), current.scope).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "sam.rivera@example.org", "roles": ["counselor"]}))]
struct InviteBody {
    #[schema(schema_with = crate::input::schema::email)]
    email: String,
    #[schema(schema_with = crate::practice::roles_schema)]
    roles: Vec<String>,
}

#[derive(Serialize, ToSchema)]
struct CreatedInvitation {
    #[serde(flatten)]
    invitation: InvitationView,
    /// The single-use link to send to the person, shown this once.
    link: String,
}

/// Creates a single-use, expiring invitation link.
#[utoipa::path(post, path = "/invitations", tag = "practice", request_body = InviteBody,
    responses((status = 201, body = CreatedInvitation), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn invite(
    State(state): State<AppState>,
    current: CurrentMember,
    meta: RequestMeta,
    Json(body): Json<InviteBody>,
) -> Result<impl IntoResponse, AppError> {
    admin(&current)?;
    let mut fields = Fields::default();
    let email = fields.check("email", Email::parse(&body.email));
    let roles = fields.check("roles", Roles::parse_list(&body.roles));
    let (email, roles) = fields.finish_with(|| Some((email?, roles?)))?;
    let created = invitations::create(&state, &current, email, roles, &meta).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedInvitation { invitation: created.view, link: created.link }),
    ))
}

/// Withdraws an invitation that has not been accepted.
#[utoipa::path(delete, path = "/invitations/{id}", tag = "practice", params(("id" = Uuid, Path)),
    responses((status = 200, body = InvitationView), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn revoke_invitation(
    State(state): State<AppState>,
    current: CurrentMember,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<InvitationView>, AppError> {
    admin(&current)?;
    Ok(axum::Json(invitations::revoke(&state.db, state.clock.now(), current.scope, id).await?))
}

/// Who supervises whom.
#[utoipa::path(get, path = "/supervisions", tag = "practice",
    responses((status = 200, body = Vec<Supervision>), (status = 403, body = Problem)))]
async fn list_supervisions(
    State(state): State<AppState>,
    current: CurrentMember,
) -> Result<axum::Json<Vec<Supervision>>, AppError> {
    admin(&current)?;
    Ok(axum::Json(members::supervisions(&state.db, current.scope).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SupervisionBody {
    supervisor_id: MemberId,
    counselor_id: MemberId,
    /// Only for making yourself a supervisor, which only a practice's single
    /// admin may do: your password, typed again.
    #[serde(default)]
    #[schema(schema_with = crate::input::schema::password_or_none)]
    password: Option<String>,
}

/// Makes a supervisor responsible for reviewing a counselor's work. Nobody
/// makes themselves a supervisor: another admin does (403), except the
/// single admin of a practice, with their password.
#[utoipa::path(post, path = "/supervisions", tag = "practice", request_body = SupervisionBody,
    responses((status = 201, body = Supervision), (status = 403, body = Problem), (status = 422, body = Problem),
        (status = 429, body = Problem)))]
async fn add_supervision(
    State(state): State<AppState>,
    current: CurrentMember,
    meta: RequestMeta,
    Json(body): Json<SupervisionBody>,
) -> Result<impl IntoResponse, AppError> {
    admin(&current)?;
    let created =
        members::add_supervision(&state, &current, body.supervisor_id, body.counselor_id, body.password.as_deref(), &meta).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

/// Ends a supervision.
#[utoipa::path(delete, path = "/supervisions/{id}", tag = "practice", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
async fn remove_supervision(
    State(state): State<AppState>,
    current: CurrentMember,
    meta: RequestMeta,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, AppError> {
    admin(&current)?;
    members::remove_supervision(&state.db, state.clock.now(), &current, id, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}
