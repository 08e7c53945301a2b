//! The relapse-prevention plan and safety plans.

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
        plans::{self, PlanContent, PlanVersionSummary, PlanView},
        safety_plans::{self, SafetyPlanInput, SafetyPlanView},
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_plan, save_plan))
        .routes(routes!(plan_versions))
        .routes(routes!(plan_version))
        .routes(routes!(list_safety_plans, create_safety_plan))
        .routes(routes!(get_safety_plan, update_safety_plan))
}

/// The current relapse-prevention plan, with the sections shared with the caller.
#[utoipa::path(get, path = "/couples/{couple_id}/plan", tag = "clinical", params(("couple_id" = Uuid, Path)),
    responses((status = 200, body = PlanView, headers(("ETag" = String))), (status = 404, body = Problem)))]
async fn get_plan(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
) -> Result<Tagged<PlanView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(Tagged(plans::current(&access).await?))
}

/// Saves a new version of the plan (care team). Send `If-Match` with the
/// current version's ETag, or `"0"` for the first plan.
#[utoipa::path(put, path = "/couples/{couple_id}/plan", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("If-Match" = String, Header)), request_body = PlanContent,
    responses((status = 200, body = PlanView, headers(("ETag" = String))), (status = 404, body = Problem),
        (status = 412, body = Problem), (status = 428, body = Problem), (status = 422, body = Problem)))]
async fn save_plan(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    if_match: IfMatch,
    Json(body): Json<PlanContent>,
) -> Result<Tagged<PlanView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    Ok(Tagged(plans::save(state.clock.now(), &access, if_match, body).await?))
}

/// Every version of the plan, newest first (care team and supervisors).
#[utoipa::path(get, path = "/couples/{couple_id}/plan/versions", tag = "clinical", params(("couple_id" = Uuid, Path)),
    responses((status = 200, body = Vec<PlanVersionSummary>), (status = 404, body = Problem)))]
async fn plan_versions(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
) -> Result<axum::Json<Vec<PlanVersionSummary>>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(axum::Json(plans::versions(&access).await?))
}

/// One version of the plan, with the sections shared with the caller.
#[utoipa::path(get, path = "/couples/{couple_id}/plan/versions/{version}", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("version" = i32, Path)),
    responses((status = 200, body = PlanView), (status = 404, body = Problem)))]
async fn plan_version(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, version)): Path<(CoupleId, i32)>,
) -> Result<axum::Json<PlanView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(axum::Json(plans::version(&access, version).await?))
}

/// Safety plans shared with the caller.
#[utoipa::path(get, path = "/couples/{couple_id}/safety-plans", tag = "clinical", params(("couple_id" = Uuid, Path)),
    responses((status = 200, body = Vec<SafetyPlanView>), (status = 404, body = Problem)))]
async fn list_safety_plans(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
) -> Result<axum::Json<Vec<SafetyPlanView>>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(axum::Json(safety_plans::list(&access).await?))
}

/// Writes a safety plan for the couple or for one partner (care team).
#[utoipa::path(post, path = "/couples/{couple_id}/safety-plans", tag = "clinical",
    params(("couple_id" = Uuid, Path)), request_body = SafetyPlanInput,
    responses((status = 201, body = SafetyPlanView, headers(("ETag" = String))), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn create_safety_plan(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    Json(body): Json<SafetyPlanInput>,
) -> Result<impl IntoResponse, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    Ok((StatusCode::CREATED, Tagged(safety_plans::create(state.clock.now(), &access, body).await?)))
}

/// One safety plan.
#[utoipa::path(get, path = "/couples/{couple_id}/safety-plans/{plan_id}", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("plan_id" = Uuid, Path)),
    responses((status = 200, body = SafetyPlanView, headers(("ETag" = String))), (status = 404, body = Problem)))]
async fn get_safety_plan(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, plan_id)): Path<(CoupleId, Uuid)>,
) -> Result<Tagged<SafetyPlanView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(Tagged(safety_plans::get(&access, plan_id).await?))
}

/// Rewrites a safety plan (care team; If-Match).
#[utoipa::path(put, path = "/couples/{couple_id}/safety-plans/{plan_id}", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("plan_id" = Uuid, Path), ("If-Match" = String, Header)),
    request_body = SafetyPlanInput,
    responses((status = 200, body = SafetyPlanView, headers(("ETag" = String))), (status = 404, body = Problem),
        (status = 412, body = Problem), (status = 428, body = Problem), (status = 422, body = Problem)))]
async fn update_safety_plan(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, plan_id)): Path<(CoupleId, Uuid)>,
    if_match: IfMatch,
    Json(body): Json<SafetyPlanInput>,
) -> Result<Tagged<SafetyPlanView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    Ok(Tagged(safety_plans::update(state.clock.now(), &access, plan_id, if_match, body).await?))
}
