//! The safety gate: a partner's fear of violence (see `records::safety_gate`).

use crate::records::couples::CoupleId;
use axum::extract::State;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    state::AppState,
    access::{self, Need},
    api::{Json, Path, Problem},
    audit::AuditContext,
    auth::CurrentMember,
    error::AppError,
    records::safety_gate::{self, SafetyFlagInput, SafetyGateView},
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_safety_flag, raise_safety_flag)).routes(routes!(clear_safety_flag))
}

/// The safety gate as the caller may know it: the care team sees every open
/// flag, a partner only their own (for the other partner it reads as unflagged).
#[utoipa::path(get, path = "/couples/{couple_id}/safety-flag", tag = "clinical", params(("couple_id" = Uuid, Path)),
    responses((status = 200, body = SafetyGateView), (status = 404, body = Problem)))]
async fn get_safety_flag(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
) -> Result<axum::Json<SafetyGateView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(axum::Json(safety_gate::status(&access).await?))
}

/// Says that a partner fears violence: a partner for themself (leave
/// `partner` out), or the care team for a partner. Joint check-ins pause.
#[utoipa::path(post, path = "/couples/{couple_id}/safety-flag", tag = "clinical", params(("couple_id" = Uuid, Path)),
    request_body = SafetyFlagInput,
    responses((status = 200, body = SafetyGateView), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn raise_safety_flag(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    Json(body): Json<SafetyFlagInput>,
) -> Result<axum::Json<SafetyGateView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::PartnerOrCareTeam).await?;
    audit.describe_as("safety_flag", "flag");
    Ok(axum::Json(safety_gate::raise(&access, state.clock.now(), body).await?))
}

/// Clears a partner's flag (care team).
#[utoipa::path(post, path = "/couples/{couple_id}/safety-flag/clear", tag = "clinical", params(("couple_id" = Uuid, Path)),
    request_body = SafetyFlagInput,
    responses((status = 200, body = SafetyGateView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn clear_safety_flag(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    Json(body): Json<SafetyFlagInput>,
) -> Result<axum::Json<SafetyGateView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    audit.describe_as("safety_flag", "clear");
    Ok(axum::Json(safety_gate::clear(&access, state.clock.now(), body).await?))
}
