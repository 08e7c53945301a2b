//! Sessions, session notes (with signing, co-signing and addenda) and private notes.

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
        notes::{self, AddendumInput, NoteInput, NoteView},
        private_notes::{self, PrivateNoteEdit, PrivateNoteInput, PrivateNoteView},
        sessions::{self, SessionInput, SessionView},
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sessions, create_session))
        .routes(routes!(get_session, update_session))
        .routes(routes!(list_session_notes, create_note))
        .routes(routes!(list_notes))
        .routes(routes!(get_note, update_note))
        .routes(routes!(sign_note))
        .routes(routes!(cosign_note))
        .routes(routes!(add_addendum))
        .routes(routes!(list_private_notes, create_private_note))
        .routes(routes!(get_private_note, update_private_note))
}

/// The couple's sessions the caller may know about, latest first.
#[utoipa::path(get, path = "/couples/{couple_id}/sessions", tag = "clinical",
    params(("couple_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<SessionView>), (status = 404, body = Problem)))]
async fn list_sessions(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    Query(page): Query<PageQuery>,
) -> Result<axum::Json<Page<SessionView>>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(axum::Json(sessions::list(&access, &page).await?))
}

/// Schedules or records a session (care team).
#[utoipa::path(post, path = "/couples/{couple_id}/sessions", tag = "clinical",
    params(("couple_id" = Uuid, Path)), request_body = SessionInput,
    responses((status = 201, body = SessionView, headers(("ETag" = String))), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn create_session(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    Json(body): Json<SessionInput>,
) -> Result<impl IntoResponse, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    Ok((StatusCode::CREATED, Tagged(sessions::create(state.clock.now(), &access, body).await?)))
}

/// One session.
#[utoipa::path(get, path = "/couples/{couple_id}/sessions/{session_id}", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("session_id" = Uuid, Path)),
    responses((status = 200, body = SessionView, headers(("ETag" = String))), (status = 404, body = Problem)))]
async fn get_session(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, session_id)): Path<(CoupleId, Uuid)>,
) -> Result<Tagged<SessionView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(Tagged(sessions::get(&access, session_id).await?))
}

/// Replaces a session's details (care team; If-Match).
#[utoipa::path(put, path = "/couples/{couple_id}/sessions/{session_id}", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("session_id" = Uuid, Path), ("If-Match" = String, Header)),
    request_body = SessionInput,
    responses((status = 200, body = SessionView, headers(("ETag" = String))), (status = 404, body = Problem),
        (status = 412, body = Problem), (status = 428, body = Problem), (status = 422, body = Problem)))]
async fn update_session(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, session_id)): Path<(CoupleId, Uuid)>,
    if_match: IfMatch,
    Json(body): Json<SessionInput>,
) -> Result<Tagged<SessionView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    Ok(Tagged(sessions::update(state.clock.now(), &access, session_id, if_match, body).await?))
}

/// Notes of one session. Partners see signed notes, and only the parts shared with them.
#[utoipa::path(get, path = "/couples/{couple_id}/sessions/{session_id}/notes", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("session_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<NoteView>), (status = 404, body = Problem)))]
async fn list_session_notes(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, session_id)): Path<(CoupleId, Uuid)>,
    Query(page): Query<PageQuery>,
) -> Result<axum::Json<Page<NoteView>>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(axum::Json(notes::list(&access, Some(session_id), &page).await?))
}

/// Starts a draft note for a session (care team); the caller is its author.
#[utoipa::path(post, path = "/couples/{couple_id}/sessions/{session_id}/notes", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("session_id" = Uuid, Path)), request_body = NoteInput,
    responses((status = 201, body = NoteView, headers(("ETag" = String))), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn create_note(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, session_id)): Path<(CoupleId, Uuid)>,
    Json(body): Json<NoteInput>,
) -> Result<impl IntoResponse, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    Ok((StatusCode::CREATED, Tagged(notes::create(state.clock.now(), &access, session_id, body).await?)))
}

/// All notes of the couple, newest first.
#[utoipa::path(get, path = "/couples/{couple_id}/notes", tag = "clinical",
    params(("couple_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<NoteView>), (status = 404, body = Problem)))]
async fn list_notes(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    Query(page): Query<PageQuery>,
) -> Result<axum::Json<Page<NoteView>>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(axum::Json(notes::list(&access, None, &page).await?))
}

/// One note, with its addenda.
#[utoipa::path(get, path = "/couples/{couple_id}/notes/{note_id}", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("note_id" = Uuid, Path)),
    responses((status = 200, body = NoteView, headers(("ETag" = String))), (status = 404, body = Problem)))]
async fn get_note(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, note_id)): Path<(CoupleId, Uuid)>,
) -> Result<Tagged<NoteView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(Tagged(notes::get(&access, note_id).await?))
}

/// Edits a draft (its author; If-Match). A signed note answers 409.
#[utoipa::path(put, path = "/couples/{couple_id}/notes/{note_id}", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("note_id" = Uuid, Path), ("If-Match" = String, Header)),
    request_body = NoteInput,
    responses((status = 200, body = NoteView, headers(("ETag" = String))), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 412, body = Problem), (status = 428, body = Problem), (status = 422, body = Problem)))]
async fn update_note(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, note_id)): Path<(CoupleId, Uuid)>,
    if_match: IfMatch,
    Json(body): Json<NoteInput>,
) -> Result<Tagged<NoteView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    Ok(Tagged(notes::update(state.clock.now(), &access, note_id, if_match, body).await?))
}

/// Signs a draft (its author; If-Match). From then on the note never changes.
/// Partners read a note once signed, so a partner's own block shown to the
/// other partner needs that partner's consent (409 naming it) and is
/// registered as a disclosure.
#[utoipa::path(post, path = "/couples/{couple_id}/notes/{note_id}/sign", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("note_id" = Uuid, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = NoteView, headers(("ETag" = String))), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 412, body = Problem), (status = 428, body = Problem)))]
async fn sign_note(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, note_id)): Path<(CoupleId, Uuid)>,
    if_match: IfMatch,
) -> Result<Tagged<NoteView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    Ok(Tagged(notes::sign(state.clock.now(), &access, note_id, if_match).await?))
}

/// Co-signs a signed note (a supervisor of the care team).
#[utoipa::path(post, path = "/couples/{couple_id}/notes/{note_id}/cosign", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("note_id" = Uuid, Path)),
    responses((status = 200, body = NoteView), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn cosign_note(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, note_id)): Path<(CoupleId, Uuid)>,
) -> Result<axum::Json<NoteView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Cosign).await?;
    Ok(axum::Json(notes::cosign(state.clock.now(), &access, note_id).await?))
}

/// Appends an addendum to a signed note (care team).
#[utoipa::path(post, path = "/couples/{couple_id}/notes/{note_id}/addenda", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("note_id" = Uuid, Path)), request_body = AddendumInput,
    responses((status = 201, body = NoteView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn add_addendum(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, note_id)): Path<(CoupleId, Uuid)>,
    Json(body): Json<AddendumInput>,
) -> Result<impl IntoResponse, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    Ok((StatusCode::CREATED, axum::Json(notes::add_addendum(state.clock.now(), &access, note_id, body).await?)))
}

/// The caller's own private notes about the couple (nobody else's, ever).
#[utoipa::path(get, path = "/couples/{couple_id}/private-notes", tag = "clinical",
    params(("couple_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<PrivateNoteView>), (status = 404, body = Problem)))]
async fn list_private_notes(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    Query(page): Query<PageQuery>,
) -> Result<axum::Json<Page<PrivateNoteView>>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    Ok(axum::Json(private_notes::list(&access, &page).await?))
}

/// Writes a private note (care team; only its author will read it).
#[utoipa::path(post, path = "/couples/{couple_id}/private-notes", tag = "clinical",
    params(("couple_id" = Uuid, Path)), request_body = PrivateNoteInput,
    responses((status = 201, body = PrivateNoteView, headers(("ETag" = String))), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn create_private_note(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    Json(body): Json<PrivateNoteInput>,
) -> Result<impl IntoResponse, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    Ok((StatusCode::CREATED, Tagged(private_notes::create(state.clock.now(), &access, body).await?)))
}

/// One of the caller's private notes.
#[utoipa::path(get, path = "/couples/{couple_id}/private-notes/{note_id}", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("note_id" = Uuid, Path)),
    responses((status = 200, body = PrivateNoteView, headers(("ETag" = String))), (status = 404, body = Problem)))]
async fn get_private_note(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, note_id)): Path<(CoupleId, Uuid)>,
) -> Result<Tagged<PrivateNoteView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    Ok(Tagged(private_notes::get(&access, note_id).await?))
}

/// Rewrites one of the caller's private notes (If-Match).
#[utoipa::path(put, path = "/couples/{couple_id}/private-notes/{note_id}", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("note_id" = Uuid, Path), ("If-Match" = String, Header)),
    request_body = PrivateNoteEdit,
    responses((status = 200, body = PrivateNoteView, headers(("ETag" = String))), (status = 404, body = Problem),
        (status = 412, body = Problem), (status = 428, body = Problem), (status = 422, body = Problem)))]
async fn update_private_note(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, note_id)): Path<(CoupleId, Uuid)>,
    if_match: IfMatch,
    Json(body): Json<PrivateNoteEdit>,
) -> Result<Tagged<PrivateNoteView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    Ok(Tagged(private_notes::update(state.clock.now(), &access, note_id, if_match, body).await?))
}
