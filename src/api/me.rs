//! The caller's own account: who they are, and their API tokens.

use crate::practice::{MemberId, PracticeId};
use axum::{extract::State, http::StatusCode, response::IntoResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{Json, Path, Problem};
use crate::{
    state::AppState,
    auth::{CurrentMember, tokens},
    error::AppError,
    practice::{Fields, Practice, Roles},
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(practice))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
}

#[derive(Serialize, ToSchema)]
struct Me {
    id: MemberId,
    email: String,
    display_name: String,
    #[schema(value_type = Vec<String>, example = json!(["counselor"]))]
    roles: Roles,
    practice: PracticeView,
}

#[derive(Serialize, ToSchema)]
struct PracticeView {
    id: PracticeId,
    slug: String,
    name: String,
    time_zone: String,
}

impl From<&Practice> for PracticeView {
    fn from(p: &Practice) -> Self {
        Self { id: p.id, slug: p.slug.clone(), name: p.name.clone(), time_zone: p.time_zone.clone() }
    }
}

/// Who the caller is, with their roles and practice.
#[utoipa::path(get, path = "/me", tag = "account",
    responses((status = 200, body = Me), (status = 401, body = Problem)))]
async fn me(current: CurrentMember) -> axum::Json<Me> {
    axum::Json(Me {
        id: current.member.id,
        email: current.member.email.clone(),
        display_name: current.member.display_name.clone(),
        roles: current.roles.clone(),
        practice: (&current.practice).into(),
    })
}

/// The caller's practice.
#[utoipa::path(get, path = "/practice", tag = "account",
    responses((status = 200, body = PracticeView), (status = 401, body = Problem)))]
async fn practice(current: CurrentMember) -> axum::Json<PracticeView> {
    axum::Json((&current.practice).into())
}

/// The caller's API tokens (never their secrets).
#[utoipa::path(get, path = "/tokens", tag = "account",
    responses((status = 200, body = Vec<tokens::TokenView>), (status = 401, body = Problem)))]
async fn list_tokens(
    State(state): State<AppState>,
    current: CurrentMember,
) -> Result<axum::Json<Vec<tokens::TokenView>>, AppError> {
    Ok(axum::Json(tokens::list(&state.db, current.scope, current.id()).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "nightly export", "expires_in_days": 30}))]
struct NewTokenBody {
    /// What will use the token (1-80 characters).
    #[schema(schema_with = crate::input::schema::token_name)]
    name: String,
    /// 1-365, default 90.
    #[schema(minimum = 1, maximum = 365)]
    expires_in_days: Option<i64>,
}

#[derive(Serialize, ToSchema)]
struct CreatedToken {
    #[serde(flatten)]
    token: tokens::TokenView,
    /// The secret, shown this once.
    token_secret: String,
}

/// Creates an API token; its secret is in this response only.
#[utoipa::path(post, path = "/tokens", tag = "account", request_body = NewTokenBody,
    responses((status = 201, body = CreatedToken), (status = 422, body = Problem)))]
async fn create_token(
    State(state): State<AppState>,
    current: CurrentMember,
    Json(body): Json<NewTokenBody>,
) -> Result<impl IntoResponse, AppError> {
    let mut fields = Fields::default();
    let name = fields.check("name", tokens::parse_token_name(&body.name));
    let days = fields.check("expires_in_days", tokens::parse_days(body.expires_in_days));
    let (name, days) = fields.finish_with(|| Some((name?, days?)))?;
    let created =
        tokens::create(&state.db, current.scope, current.id(), name, days, state.clock.now()).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedToken { token: created.view, token_secret: created.secret }),
    ))
}

/// Revokes one of the caller's tokens.
#[utoipa::path(delete, path = "/tokens/{id}", tag = "account", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
async fn revoke_token(
    State(state): State<AppState>,
    current: CurrentMember,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, AppError> {
    tokens::revoke(&state.db, current.scope, current.id(), id, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
