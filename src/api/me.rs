//! The caller's own account: who they are, and their API tokens.

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    response::IntoResponse,
    routing::{delete, get},
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Json, Path};
use crate::{
    AppState,
    auth::{CurrentMember, tokens},
    error::AppError,
    practice::{Fields, Roles},
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/me", get(me))
        .route("/practice", get(practice))
        .route("/tokens", get(list_tokens).post(create_token))
        .route("/tokens/{id}", delete(revoke_token))
}

#[derive(Serialize)]
struct Me {
    id: Uuid,
    email: String,
    display_name: String,
    roles: Roles,
    practice: PracticeView,
}

#[derive(Serialize)]
struct PracticeView {
    id: Uuid,
    slug: String,
    name: String,
    time_zone: String,
}

impl From<&entity::practices::Model> for PracticeView {
    fn from(p: &entity::practices::Model) -> Self {
        Self { id: p.id, slug: p.slug.clone(), name: p.name.clone(), time_zone: p.time_zone.clone() }
    }
}

async fn me(current: CurrentMember) -> axum::Json<Me> {
    axum::Json(Me {
        id: current.member.id,
        email: current.member.email.clone(),
        display_name: current.member.display_name.clone(),
        roles: current.roles.clone(),
        practice: (&current.practice).into(),
    })
}

async fn practice(current: CurrentMember) -> axum::Json<PracticeView> {
    axum::Json((&current.practice).into())
}

async fn list_tokens(
    State(state): State<AppState>,
    current: CurrentMember,
) -> Result<axum::Json<Vec<tokens::TokenView>>, AppError> {
    Ok(axum::Json(tokens::list(&state.db, current.scope, current.id()).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTokenBody {
    name: String,
    expires_in_days: Option<i64>,
}

#[derive(Serialize)]
struct CreatedToken {
    #[serde(flatten)]
    token: tokens::TokenView,
    /// The secret, shown this once.
    token_secret: String,
}

async fn create_token(
    State(state): State<AppState>,
    current: CurrentMember,
    Json(body): Json<NewTokenBody>,
) -> Result<impl IntoResponse, AppError> {
    let mut fields = Fields::default();
    let name = fields.check("name", tokens::parse_token_name(&body.name));
    let days = fields.check("expires_in_days", tokens::parse_days(body.expires_in_days));
    fields.finish()?;
    let (Some(name), Some(days)) = (name, days) else { unreachable!("checked above") };
    let created =
        tokens::create(&state.db, current.scope, current.id(), name, days, state.clock.now()).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedToken { token: created.view, token_secret: created.secret }),
    ))
}

async fn revoke_token(
    State(state): State<AppState>,
    current: CurrentMember,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, AppError> {
    tokens::revoke(&state.db, current.scope, current.id(), id, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
