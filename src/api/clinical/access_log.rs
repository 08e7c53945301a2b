//! The access log, for supervisors; each partner's view of who looked at
//! their records; emergency access and its review queue.

use crate::records::couples::CoupleId;
use axum::{
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    state::AppState,
    access::{self, Need},
    api::{Json, Path, Problem, Query},
    audit::{
        self, AuditContext,
        review::{self, EmergencyAccessView, EventFilter, EventPage, VerificationView},
        viewings::{self, ViewingPage, ViewingQuery},
    },
    auth::CurrentMember,
    error::AppError,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search_events))
        .routes(routes!(export_events))
        .routes(routes!(last_verification, verify_now))
        .routes(routes!(emergency_queue))
        .routes(routes!(acknowledge_emergency))
        .routes(routes!(open_emergency_access))
        .routes(routes!(couple_viewings))
}

/// Access events of the practice, newest first, by member, couple, action,
/// outcome and time (supervisors). Keyset-paginated by sequence number.
#[utoipa::path(get, path = "/access-events", tag = "clinical", params(EventFilter),
    responses((status = 200, body = EventPage), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn search_events(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Query(filter): Query<EventFilter>,
) -> Result<axum::Json<EventPage>, AppError> {
    access::supervisor_only(&audit, &current, "access_event", None)?;
    Ok(axum::Json(review::search(&state.db, current.scope, &filter).await?))
}

/// The same events as CSV (supervisors). The export is itself an event.
#[utoipa::path(get, path = "/access-events/export", tag = "clinical", params(EventFilter),
    responses((status = 200, content_type = "text/csv", body = String), (status = 403, body = Problem)))]
async fn export_events(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Query(filter): Query<EventFilter>,
) -> Result<impl IntoResponse, AppError> {
    access::supervisor_only(&audit, &current, "access_event", Some("export"))?;
    let body = axum::body::Body::from_stream(review::csv(state.db.clone(), current.scope, filter));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"access-log.csv\""),
        ],
        body,
    ))
}

/// The latest verification of the practice's access log (supervisors).
#[utoipa::path(get, path = "/access-log/verification", tag = "clinical",
    responses((status = 200, body = Option<VerificationView>), (status = 403, body = Problem)))]
async fn last_verification(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
) -> Result<axum::Json<Option<VerificationView>>, AppError> {
    access::supervisor_only(&audit, &current, "access_log_verification", None)?;
    Ok(axum::Json(review::last_verification(&state.db, current.scope, &state.checkpoint_key.verifying()).await?))
}

/// Verifies the practice's access log now and returns the result (supervisors).
#[utoipa::path(post, path = "/access-log/verification", tag = "clinical",
    responses((status = 200, body = Option<VerificationView>), (status = 403, body = Problem)))]
async fn verify_now(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
) -> Result<axum::Json<Option<VerificationView>>, AppError> {
    access::supervisor_only(&audit, &current, "access_log_verification", Some("verify"))?;
    audit::verify_practice(&state, current.scope.practice_id()).await?;
    Ok(axum::Json(review::last_verification(&state.db, current.scope, &state.checkpoint_key.verifying()).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct QueueQuery {
    /// Only accesses no supervisor has acknowledged yet (default true).
    pending: Option<bool>,
}

/// Emergency accesses for review, newest first (supervisors).
#[utoipa::path(get, path = "/emergency-accesses", tag = "clinical", params(QueueQuery),
    responses((status = 200, body = Vec<EmergencyAccessView>), (status = 403, body = Problem)))]
async fn emergency_queue(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Query(query): Query<QueueQuery>,
) -> Result<axum::Json<Vec<EmergencyAccessView>>, AppError> {
    access::supervisor_only(&audit, &current, "emergency_access", None)?;
    Ok(axum::Json(review::emergency_queue(&state.db, current.scope, query.pending.unwrap_or(true)).await?))
}

/// Marks an emergency access as reviewed (supervisors).
#[utoipa::path(post, path = "/emergency-accesses/{access_id}/acknowledge", tag = "clinical",
    params(("access_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn acknowledge_emergency(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(access_id): Path<Uuid>,
) -> Result<StatusCode, AppError> {
    access::supervisor_only(&audit, &current, "emergency_access", Some("acknowledge"))?;
    review::acknowledge(&state.db, current.scope, access_id, current.id(), state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Covering for Casey: Dan called in crisis and asked for his safety plan."}))]
struct EmergencyBody {
    /// Why access is needed now (10-2,000 characters). Supervisors review it.
    #[schema(schema_with = crate::input::schema::emergency_reason)]
    reason: String,
}

/// An emergency access just opened.
#[derive(Serialize, ToSchema)]
struct EmergencyGrant {
    id: Uuid,
    couple_id: CoupleId,
    reason: String,
    /// When the access ends.
    #[serde(with = "time::serde::rfc3339")]
    expires_at: time::OffsetDateTime,
}

/// Opens emergency access to a couple for a counselor outside its care team:
/// read-only, for a limited time (default one hour), every view marked and
/// queued for supervisors' review.
#[utoipa::path(post, path = "/couples/{couple_id}/emergency-access", tag = "clinical",
    params(("couple_id" = Uuid, Path)), request_body = EmergencyBody,
    responses((status = 201, body = EmergencyGrant), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn open_emergency_access(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    Json(body): Json<EmergencyBody>,
) -> Result<impl IntoResponse, AppError> {
    let grant = access::open_emergency(&state, &audit, &current, couple_id, &body.reason).await?;
    let grant = EmergencyGrant { id: grant.id, couple_id: grant.couple_id, reason: grant.reason, expires_at: grant.expires_at };
    Ok((StatusCode::CREATED, axum::Json(grant)))
}

/// Who viewed or downloaded this couple's records: one row per person,
/// record and day (in the practice's time zone), newest first, paged with
/// `cursor`. A partner sees views of records they may read themself, by
/// others than the partners: never the other partner's activity, never
/// views of the other partner's own items.
#[utoipa::path(get, path = "/couples/{couple_id}/viewings", tag = "clinical", params(("couple_id" = Uuid, Path), ViewingQuery),
    responses((status = 200, body = ViewingPage), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn couple_viewings(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    Query(query): Query<ViewingQuery>,
) -> Result<axum::Json<ViewingPage>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(axum::Json(viewings::viewings(&access, &current.practice.time_zone, &query).await?))
}
