//! A practice's single sign-on providers, for its admins. The client secret
//! is accepted, sealed and never returned.

use axum::{extract::State, http::StatusCode, response::IntoResponse};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{Json, Path, Problem};
use crate::{
    state::AppState,
    audit::RequestMeta,
    auth::CurrentMember,
    config::Secret,
    error::AppError,
    practice::Role,
    sso::providers::{self, ProviderInput, ProviderView},
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_providers, add_provider))
        .routes(routes!(get_provider, change_provider))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "display_name": "Clinic login", "issuer": "https://login.clinic.example", "client_id": "tandem",
    "client_secret": "the secret the provider issued", "allowed_domains": ["clinic.example"], "enabled": true
}))]
struct ProviderBody {
    display_name: String,
    /// Exactly as the provider's discovery document states it; https (http only on loopback).
    issuer: String,
    client_id: String,
    /// Write-only: stored sealed, never returned. Omit when changing a provider to keep the current one.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    client_secret: Option<Secret<String>>,
    /// Instead of a secret: the name of a file in this practice's own folder,
    /// `TANDEM_SSO_SECRET_DIR/<practice slug>/`, of the operator's secret folder.
    #[serde(default)]
    client_secret_file: Option<String>,
    /// Only verified emails in these domains may link; empty or absent means any.
    #[serde(default)]
    allowed_domains: Vec<String>,
    #[serde(default = "enabled_by_default")]
    enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

impl From<ProviderBody> for ProviderInput {
    fn from(body: ProviderBody) -> Self {
        ProviderInput {
            display_name: body.display_name,
            issuer: body.issuer,
            client_id: body.client_id,
            client_secret: body.client_secret.unwrap_or_default(),
            client_secret_file: body.client_secret_file.unwrap_or_default(),
            allowed_domains: body.allowed_domains,
            enabled: body.enabled,
        }
    }
}

/// The practice's identity providers.
#[utoipa::path(get, path = "/identity-providers", tag = "practice",
    responses((status = 200, body = Vec<ProviderView>), (status = 403, body = Problem)))]
async fn list_providers(State(state): State<AppState>, current: CurrentMember) -> Result<axum::Json<Vec<ProviderView>>, AppError> {
    current.require(Role::Admin)?;
    Ok(axum::Json(providers::list(&state, current.scope, &current.practice.slug).await?))
}

/// Adds an OpenID Connect provider members may sign in with.
#[utoipa::path(post, path = "/identity-providers", tag = "practice", request_body = ProviderBody,
    responses((status = 201, body = ProviderView), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn add_provider(
    State(state): State<AppState>,
    current: CurrentMember,
    meta: RequestMeta,
    Json(body): Json<ProviderBody>,
) -> Result<impl IntoResponse, AppError> {
    current.require(Role::Admin)?;
    let created = providers::create(&state, &current, &body.into(), &meta).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

/// One identity provider (never its secret).
#[utoipa::path(get, path = "/identity-providers/{id}", tag = "practice", params(("id" = Uuid, Path)),
    responses((status = 200, body = ProviderView), (status = 404, body = Problem)))]
async fn get_provider(
    State(state): State<AppState>,
    current: CurrentMember,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<ProviderView>, AppError> {
    current.require(Role::Admin)?;
    Ok(axum::Json(providers::get(&state, current.scope, &current.practice.slug, id).await?))
}

/// Replaces a provider's settings; `"enabled": false` turns it off.
#[utoipa::path(put, path = "/identity-providers/{id}", tag = "practice", params(("id" = Uuid, Path)),
    request_body = ProviderBody,
    responses((status = 200, body = ProviderView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn change_provider(
    State(state): State<AppState>,
    current: CurrentMember,
    meta: RequestMeta,
    Path(id): Path<Uuid>,
    Json(body): Json<ProviderBody>,
) -> Result<axum::Json<ProviderView>, AppError> {
    current.require(Role::Admin)?;
    Ok(axum::Json(providers::update(&state, &current, id, &body.into(), &meta).await?))
}
