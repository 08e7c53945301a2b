//! Boundary agreements.

use crate::records::couples::CoupleId;
use axum::{extract::State, http::StatusCode, response::IntoResponse};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::Tagged;
use crate::{
    state::AppState,
    access::{self, Need},
    api::{Json, Path, Problem, Query},
    audit::AuditContext,
    auth::CurrentMember,
    error::AppError,
    records::{
        boundaries::{self, AgreeInput, BoundaryEventInput, BoundaryInput, BoundaryVersionView, BoundaryView},
        common::{IfMatch, Page, PageQuery},
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_boundaries, create_boundary))
        .routes(routes!(get_boundary, revise_boundary))
        .routes(routes!(boundary_versions))
        .routes(routes!(agree_to_boundary))
        .routes(routes!(retire_boundary))
        .routes(routes!(log_boundary_event))
}

/// Boundaries shared with the caller, newest first.
#[utoipa::path(get, path = "/couples/{couple_id}/boundaries", tag = "clinical",
    params(("couple_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<BoundaryView>), (status = 404, body = Problem)))]
async fn list_boundaries(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    Query(page): Query<PageQuery>,
) -> Result<axum::Json<Page<BoundaryView>>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(axum::Json(boundaries::list(&access, &page).await?))
}

/// Proposes a boundary (care team); both partners then agree to it.
#[utoipa::path(post, path = "/couples/{couple_id}/boundaries", tag = "clinical",
    params(("couple_id" = Uuid, Path)), request_body = BoundaryInput,
    responses((status = 201, body = BoundaryView, headers(("ETag" = String))), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn create_boundary(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    Json(body): Json<BoundaryInput>,
) -> Result<impl IntoResponse, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    Ok((StatusCode::CREATED, Tagged(boundaries::create(state.clock.now(), &access, body).await?)))
}

/// One boundary with its current wording, agreements and log.
#[utoipa::path(get, path = "/couples/{couple_id}/boundaries/{boundary_id}", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("boundary_id" = Uuid, Path)),
    responses((status = 200, body = BoundaryView, headers(("ETag" = String))), (status = 404, body = Problem)))]
async fn get_boundary(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, boundary_id)): Path<(CoupleId, Uuid)>,
) -> Result<Tagged<BoundaryView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(Tagged(boundaries::get(&access, boundary_id).await?))
}

/// Rewords a boundary as a new version (care team; If-Match). Agreements start over.
#[utoipa::path(put, path = "/couples/{couple_id}/boundaries/{boundary_id}", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("boundary_id" = Uuid, Path), ("If-Match" = String, Header)),
    request_body = BoundaryInput,
    responses((status = 200, body = BoundaryView, headers(("ETag" = String))), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 412, body = Problem), (status = 428, body = Problem), (status = 422, body = Problem)))]
async fn revise_boundary(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, boundary_id)): Path<(CoupleId, Uuid)>,
    if_match: IfMatch,
    Json(body): Json<BoundaryInput>,
) -> Result<Tagged<BoundaryView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    Ok(Tagged(boundaries::revise(state.clock.now(), &access, boundary_id, if_match, body).await?))
}

/// Every wording the boundary has had, oldest first.
#[utoipa::path(get, path = "/couples/{couple_id}/boundaries/{boundary_id}/versions", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("boundary_id" = Uuid, Path)),
    responses((status = 200, body = Vec<BoundaryVersionView>), (status = 404, body = Problem)))]
async fn boundary_versions(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, boundary_id)): Path<(CoupleId, Uuid)>,
) -> Result<axum::Json<Vec<BoundaryVersionView>>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(axum::Json(boundaries::versions(&access, boundary_id).await?))
}

/// Records a partner's agreement to the current wording: a partner for
/// themself, or the care team for an agreement made in session (If-Match).
#[utoipa::path(post, path = "/couples/{couple_id}/boundaries/{boundary_id}/agree", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("boundary_id" = Uuid, Path), ("If-Match" = String, Header)),
    request_body = AgreeInput,
    responses((status = 200, body = BoundaryView, headers(("ETag" = String))), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 412, body = Problem), (status = 428, body = Problem), (status = 422, body = Problem)))]
async fn agree_to_boundary(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, boundary_id)): Path<(CoupleId, Uuid)>,
    if_match: IfMatch,
    Json(body): Json<AgreeInput>,
) -> Result<Tagged<BoundaryView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::PartnerOrCareTeam).await?;
    Ok(Tagged(boundaries::agree(state.clock.now(), &access, boundary_id, if_match, body).await?))
}

/// Retires a boundary; it stays in the record (care team; If-Match).
#[utoipa::path(post, path = "/couples/{couple_id}/boundaries/{boundary_id}/retire", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("boundary_id" = Uuid, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = BoundaryView, headers(("ETag" = String))), (status = 404, body = Problem),
        (status = 412, body = Problem), (status = 428, body = Problem)))]
async fn retire_boundary(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, boundary_id)): Path<(CoupleId, Uuid)>,
    if_match: IfMatch,
) -> Result<Tagged<BoundaryView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    Ok(Tagged(boundaries::retire(state.clock.now(), &access, boundary_id, if_match).await?))
}

/// Logs a time the boundary was tested or kept (care team).
#[utoipa::path(post, path = "/couples/{couple_id}/boundaries/{boundary_id}/events", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("boundary_id" = Uuid, Path)), request_body = BoundaryEventInput,
    responses((status = 201, body = BoundaryView), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn log_boundary_event(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, boundary_id)): Path<(CoupleId, Uuid)>,
    Json(body): Json<BoundaryEventInput>,
) -> Result<impl IntoResponse, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    Ok((StatusCode::CREATED, axum::Json(boundaries::log_event(state.clock.now(), &access, boundary_id, body).await?)))
}
