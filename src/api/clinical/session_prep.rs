//! Preparing a session: the prep read model and the counselor's agenda.

use crate::records::couples::CoupleId;
use axum::extract::State;
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
        milestones,
        session_prep::{self, Agenda, AgendaInput, SessionPrep},
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_prep)).routes(routes!(get_agenda, save_agenda))
}

/// What to know before a session (care team and supervisors): what changed
/// since the last joint session, open lapse-response steps, risk flags,
/// unsigned drafts, the last plan and homework, and the agenda.
#[utoipa::path(get, path = "/couples/{couple_id}/sessions/{session_id}/prep", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("session_id" = Uuid, Path)),
    responses((status = 200, body = SessionPrep), (status = 404, body = Problem)))]
async fn get_prep(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, session_id)): Path<(CoupleId, Uuid)>,
) -> Result<axum::Json<SessionPrep>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    let today = milestones::practice_today(&state, &current.practice.time_zone);
    Ok(axum::Json(session_prep::prepare(&access, Some(session_id), today, state.clock.now(), &current.practice.time_zone).await?))
}

/// The counselor's agenda for a session (care team and supervisors).
#[utoipa::path(get, path = "/couples/{couple_id}/sessions/{session_id}/agenda", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("session_id" = Uuid, Path)),
    responses((status = 200, body = Agenda, headers(("ETag" = String))), (status = 404, body = Problem)))]
async fn get_agenda(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, session_id)): Path<(CoupleId, Uuid)>,
) -> Result<Tagged<Agenda>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(Tagged(session_prep::get_agenda(&access, session_id).await?))
}

/// Saves the counselor's agenda for a session (care team; If-Match, `"0"`
/// for the first save).
#[utoipa::path(put, path = "/couples/{couple_id}/sessions/{session_id}/agenda", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("session_id" = Uuid, Path), ("If-Match" = String, Header)),
    request_body = AgendaInput,
    responses((status = 200, body = Agenda, headers(("ETag" = String))), (status = 404, body = Problem),
        (status = 412, body = Problem), (status = 428, body = Problem), (status = 422, body = Problem)))]
async fn save_agenda(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, session_id)): Path<(CoupleId, Uuid)>,
    if_match: IfMatch,
    Json(body): Json<AgendaInput>,
) -> Result<Tagged<Agenda>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    Ok(Tagged(session_prep::save_agenda(state.clock.now(), &access, session_id, if_match, body).await?))
}
