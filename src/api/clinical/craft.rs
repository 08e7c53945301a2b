//! The CRAFT track of a supporting partner (see `records::craft`).

use crate::records::couples::CoupleId;
use axum::{extract::State, http::StatusCode, response::IntoResponse};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::Tagged;
use crate::{
    state::AppState,
    access::{self, Need},
    api::{Json, Path, Problem},
    audit::AuditContext,
    auth::CurrentMember,
    error::AppError,
    records::{
        common::IfMatch,
        craft::{self, CheckOffInput, CraftItemInput, CraftItemView},
        milestones::practice_today,
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_craft_items, create_craft_item))
        .routes(routes!(get_craft_item, update_craft_item))
        .routes(routes!(check_off_craft_item))
}

/// The CRAFT items the caller may read: every partner's for the care team,
/// a partner's own for that partner.
#[utoipa::path(get, path = "/couples/{couple_id}/craft-items", tag = "clinical", params(("couple_id" = Uuid, Path)),
    responses((status = 200, body = Vec<CraftItemView>), (status = 404, body = Problem)))]
async fn list_craft_items(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
) -> Result<axum::Json<Vec<CraftItemView>>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(axum::Json(craft::list(&access).await?))
}

/// Adds an item to a partner's track: the care team for a partner, a partner to their own.
#[utoipa::path(post, path = "/couples/{couple_id}/craft-items", tag = "clinical", params(("couple_id" = Uuid, Path)),
    request_body = CraftItemInput,
    responses((status = 201, body = CraftItemView, headers(("ETag" = String))), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn create_craft_item(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    Json(body): Json<CraftItemInput>,
) -> Result<impl IntoResponse, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::PartnerOrCareTeam).await?;
    Ok((StatusCode::CREATED, Tagged(craft::create(&access, state.clock.now(), body).await?)))
}

/// One CRAFT item with its check-offs.
#[utoipa::path(get, path = "/couples/{couple_id}/craft-items/{item_id}", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("item_id" = Uuid, Path)),
    responses((status = 200, body = CraftItemView, headers(("ETag" = String))), (status = 404, body = Problem)))]
async fn get_craft_item(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, item_id)): Path<(CoupleId, Uuid)>,
) -> Result<Tagged<CraftItemView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(Tagged(craft::get(&access, item_id).await?))
}

/// Rewrites an item (If-Match); its owner, kind and check-offs stay.
#[utoipa::path(put, path = "/couples/{couple_id}/craft-items/{item_id}", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("item_id" = Uuid, Path), ("If-Match" = String, Header)), request_body = CraftItemInput,
    responses((status = 200, body = CraftItemView, headers(("ETag" = String))), (status = 404, body = Problem),
        (status = 412, body = Problem), (status = 428, body = Problem), (status = 422, body = Problem)))]
async fn update_craft_item(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, item_id)): Path<(CoupleId, Uuid)>,
    if_match: IfMatch,
    Json(body): Json<CraftItemInput>,
) -> Result<Tagged<CraftItemView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::PartnerOrCareTeam).await?;
    Ok(Tagged(craft::update(&access, state.clock.now(), item_id, if_match, body).await?))
}

/// Checks an item off: done on a day, and how it went (the owner, or the care team in session).
#[utoipa::path(post, path = "/couples/{couple_id}/craft-items/{item_id}/check-offs", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("item_id" = Uuid, Path)), request_body = CheckOffInput,
    responses((status = 201, body = CraftItemView, headers(("ETag" = String))), (status = 404, body = Problem),
        (status = 412, body = Problem), (status = 422, body = Problem)))]
async fn check_off_craft_item(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, item_id)): Path<(CoupleId, Uuid)>,
    Json(body): Json<CheckOffInput>,
) -> Result<impl IntoResponse, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::PartnerOrCareTeam).await?;
    let today = practice_today(&state, &current.practice.time_zone);
    Ok((StatusCode::CREATED, Tagged(craft::check_off(&access, state.clock.now(), today, item_id, body).await?)))
}
