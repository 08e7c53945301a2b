//! The live lapse-response timeline: its steps, and marking one done.

use crate::records::couples::CoupleId;
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;
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
        common::{IfMatch, Page},
        lapse_response::{self, StepQuery, StepView},
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_steps)).routes(routes!(get_step, mark_step))
}

/// Steps of the lapse-response timelines the caller may see (those of
/// lapses shared with them), in the order they were started. Each has its
/// due time; it is overdue once that has passed and `done_at` is null.
#[utoipa::path(get, path = "/couples/{couple_id}/lapse-steps", tag = "clinical",
    params(("couple_id" = Uuid, Path), StepQuery),
    responses((status = 200, body = Page<StepView>), (status = 404, body = Problem)))]
async fn list_steps(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    Query(query): Query<StepQuery>,
) -> Result<axum::Json<Page<StepView>>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(axum::Json(lapse_response::list(&access, &query).await?))
}

/// One step, with its ETag.
#[utoipa::path(get, path = "/couples/{couple_id}/lapse-steps/{step_id}", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("step_id" = Uuid, Path)),
    responses((status = 200, body = StepView, headers(("ETag" = String))), (status = 404, body = Problem)))]
async fn get_step(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, step_id)): Path<(CoupleId, Uuid)>,
) -> Result<Tagged<StepView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(Tagged(lapse_response::get(&access, step_id).await?))
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"done": true}))]
pub struct StepDone {
    /// Done (true) or, to take a mark back, not done (false).
    pub done: bool,
}

/// Marks a step done, or not done (If-Match). Only the person the step
/// belongs to may: the partner it names, or a counselor of the care team
/// for the counselor's steps (403 for anyone else who may see it).
#[utoipa::path(put, path = "/couples/{couple_id}/lapse-steps/{step_id}", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("step_id" = Uuid, Path), ("If-Match" = String, Header)),
    request_body = StepDone,
    responses((status = 200, body = StepView, headers(("ETag" = String))), (status = 404, body = Problem),
        (status = 412, body = Problem), (status = 428, body = Problem), (status = 422, body = Problem)))]
async fn mark_step(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, step_id)): Path<(CoupleId, Uuid)>,
    if_match: IfMatch,
    Json(body): Json<StepDone>,
) -> Result<Tagged<StepView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::PartnerOrCareTeam).await?;
    Ok(Tagged(lapse_response::mark(state.clock.now(), &access, step_id, if_match, body.done).await?))
}
