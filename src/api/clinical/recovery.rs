//! Lapses, sobriety figures and milestones.

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
        common::{IfMatch, Page, PageQuery},
        lapses::{self, LapseInput, LapseView},
        milestones::{self, CustomMilestoneInput, CustomMilestoneView, SobrietyView},
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_lapses, record_lapse))
        .routes(routes!(get_lapse, update_lapse))
        .routes(routes!(get_sobriety))
        .routes(routes!(list_milestones, add_milestone))
}

/// Lapses shared with the caller, most recently recorded first.
#[utoipa::path(get, path = "/couples/{couple_id}/lapses", tag = "clinical",
    params(("couple_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<LapseView>), (status = 404, body = Problem)))]
async fn list_lapses(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    Query(page): Query<PageQuery>,
) -> Result<axum::Json<Page<LapseView>>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(axum::Json(lapses::list(&access, &page).await?))
}

/// Records a lapse (care team). It resets the streak, never the total. The
/// answer states the audience as stored (without `audience`, the couple's
/// secrets policy resolves it) and `seen_by`, the partners who will see it;
/// a partner left out is told the figures of the partner who used are not
/// shared with them. Shown to the other partner from the start, it needs the
/// consent of the partner who used (409 naming the missing consent) and is
/// registered as a disclosure.
#[utoipa::path(post, path = "/couples/{couple_id}/lapses", tag = "clinical",
    params(("couple_id" = Uuid, Path)), request_body = LapseInput,
    responses((status = 201, body = LapseView, headers(("ETag" = String))), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
async fn record_lapse(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    Json(body): Json<LapseInput>,
) -> Result<impl IntoResponse, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    Ok((StatusCode::CREATED, Tagged(lapses::create(state.clock.now(), &access, body).await?)))
}

/// One lapse.
#[utoipa::path(get, path = "/couples/{couple_id}/lapses/{lapse_id}", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("lapse_id" = Uuid, Path)),
    responses((status = 200, body = LapseView, headers(("ETag" = String))), (status = 404, body = Problem)))]
async fn get_lapse(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, lapse_id)): Path<(CoupleId, Uuid)>,
) -> Result<Tagged<LapseView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(Tagged(lapses::get(&access, lapse_id).await?))
}

/// Corrects a lapse record (care team; If-Match). Showing a partner's lapse
/// to the other partner is a disclosure: it needs that partner's consent in
/// force (409 naming it otherwise) and lands in the register.
#[utoipa::path(put, path = "/couples/{couple_id}/lapses/{lapse_id}", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("lapse_id" = Uuid, Path), ("If-Match" = String, Header)),
    request_body = LapseInput,
    responses((status = 200, body = LapseView, headers(("ETag" = String))), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 412, body = Problem), (status = 428, body = Problem), (status = 422, body = Problem)))]
async fn update_lapse(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, lapse_id)): Path<(CoupleId, Uuid)>,
    if_match: IfMatch,
    Json(body): Json<LapseInput>,
) -> Result<Tagged<LapseView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    Ok(Tagged(lapses::update(state.clock.now(), &access, lapse_id, if_match, body).await?))
}

/// Current streak and total abstinent days for each partner in recovery,
/// with milestones reached and the next one. A partner is given a partner's
/// figures only when every lapse of that partner is shared with them (and,
/// under individual confidentiality, only their own): otherwise
/// `figures_shared` is false, `not_shared_because` says why and no figure
/// is given, rather than one computed without what is hidden.
#[utoipa::path(get, path = "/couples/{couple_id}/sobriety", tag = "clinical", params(("couple_id" = Uuid, Path)),
    responses((status = 200, body = SobrietyView), (status = 404, body = Problem)))]
async fn get_sobriety(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
) -> Result<axum::Json<SobrietyView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(axum::Json(milestones::sobriety(state.clock.now(), &access, &current.practice.time_zone).await?))
}

/// Custom milestones shared with the caller.
#[utoipa::path(get, path = "/couples/{couple_id}/milestones", tag = "clinical", params(("couple_id" = Uuid, Path)),
    responses((status = 200, body = Vec<CustomMilestoneView>), (status = 404, body = Problem)))]
async fn list_milestones(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
) -> Result<axum::Json<Vec<CustomMilestoneView>>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(axum::Json(milestones::custom(&access).await?))
}

/// Adds a milestone to celebrate, such as a first meeting together (care team).
#[utoipa::path(post, path = "/couples/{couple_id}/milestones", tag = "clinical",
    params(("couple_id" = Uuid, Path)), request_body = CustomMilestoneInput,
    responses((status = 201, body = CustomMilestoneView), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn add_milestone(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    Json(body): Json<CustomMilestoneInput>,
) -> Result<impl IntoResponse, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    Ok((StatusCode::CREATED, axum::Json(milestones::add_custom(state.clock.now(), &access, body).await?)))
}
