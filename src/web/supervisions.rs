//! Who supervises whom, as a practice's admins manage it: the rules of
//! `/api/v1/supervisions` (practice::members), on a page.

use crate::practice::MemberId;
use askama::Template;
use axum::{
    Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Redirect},
    routing::get,
};
use serde::Deserialize;
use tower_sessions::Session;
use uuid::Uuid;

use super::{CsrfForm, CsrfOnly, PageResult, Path, SignedIn, nav, render, templates::*};
use crate::{
    audit::RequestMeta,
    auth::{CurrentMember, csrf},
    error::AppError,
    practice::{
        Fields, Role,
        members::{self, MemberView, Supervision},
    },
    state::AppState,
};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/supervisions", get(page).post(add))
        .route("/supervisions/{id}/end", get(confirm_end).post(end))
}

#[derive(Template)]
#[template(path = "supervisions.html")]
struct SupervisionsPage {
    nav: Option<Nav>,
    csrf_token: String,
    rows: Vec<SupervisionRow>,
    supervisors: Vec<Choice>,
    counselors: Vec<Choice>,
    /// The admin is among the supervisors offered: choosing themselves needs their password.
    may_choose_self: bool,
    errors: FormErrors,
}

#[derive(Template)]
#[template(path = "supervision_end.html")]
struct EndPage {
    nav: Option<Nav>,
    csrf_token: String,
    row: SupervisionRow,
}

struct SupervisionRow {
    id: Uuid,
    supervisor: String,
    counselor: String,
}

/// The add form as it was sent (the password is never shown again).
#[derive(Deserialize, Default)]
#[serde(default)]
struct SupervisionForm {
    supervisor_id: String,
    counselor_id: String,
    password: String,
}

fn row(s: &Supervision, members: &[MemberView]) -> SupervisionRow {
    let name = |id: MemberId| match members.iter().find(|m| m.id == id) {
        Some(m) if m.active => m.display_name.clone(),
        Some(m) => format!("{} (deactivated)", m.display_name),
        None => "someone who left".into(),
    };
    SupervisionRow { id: s.id, supervisor: name(s.supervisor_id), counselor: name(s.counselor_id) }
}

async fn view(state: &AppState, session: &Session, current: &CurrentMember, sent: &SupervisionForm, errors: FormErrors) -> Result<SupervisionsPage, AppError> {
    current.require(Role::Admin)?;
    let members = members::list(&state.db, current.scope).await?;
    let rows = members::supervisions(&state.db, current.scope).await?.iter().map(|s| row(s, &members)).collect();
    let choices = |role: Role, sent: &str| -> Vec<Choice> {
        let offered = members.iter().filter(|m| m.may_act_as(role));
        offered.map(|m| Choice { value: m.id.to_string(), label: m.display_name.clone(), selected: m.id.to_string() == sent }).collect()
    };
    let supervisors = choices(Role::Supervisor, &sent.supervisor_id);
    Ok(SupervisionsPage {
        nav: nav(session, current).await?,
        csrf_token: csrf::token(session).await?,
        rows,
        may_choose_self: supervisors.iter().any(|c| c.value == current.id().to_string()),
        supervisors,
        counselors: choices(Role::Counselor, &sent.counselor_id),
        errors,
    })
}

async fn page(State(state): State<AppState>, session: Session, SignedIn(current): SignedIn) -> PageResult {
    Ok(render(&view(&state, &session, &current, &SupervisionForm::default(), FormErrors::default()).await?))
}

/// Adds a supervision; a refusal (not a supervisor or counselor, a grant to
/// oneself) is shown on the page with the choices as they were sent.
async fn add(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    meta: RequestMeta,
    CsrfForm(form): CsrfForm<SupervisionForm>,
) -> PageResult {
    current.require(Role::Admin)?;
    let chosen = |id: &str, what: &str| id.parse::<MemberId>().map_err(|_| format!("choose {what}"));
    let mut fields = Fields::default();
    let supervisor = fields.check("supervisor_id", chosen(&form.supervisor_id, "a supervisor"));
    let counselor = fields.check("counselor_id", chosen(&form.counselor_id, "a counselor"));
    let password = Some(form.password.as_str()).filter(|p| !p.is_empty());
    let result = match fields.finish_with(|| Some((supervisor?, counselor?))) {
        Ok((s, c)) => members::add_supervision(&state, &current, s, c, password, &meta).await.map(|_| ()),
        Err(err) => Err(err),
    };
    let (status, errors) = match result {
        Ok(()) => return Ok(Redirect::to("/supervisions").into_response()),
        Err(AppError::Invalid(errors)) => (StatusCode::UNPROCESSABLE_ENTITY, errors.into()),
        Err(AppError::Forbidden(message)) => (StatusCode::FORBIDDEN, FormErrors::form(message)),
        Err(other) => return Err(other.into()),
    };
    Ok((status, render(&view(&state, &session, &current, &form, errors).await?)).into_response())
}

/// Asks before ending a supervision: the supervisor stops seeing the counselor's couples.
async fn confirm_end(State(state): State<AppState>, session: Session, SignedIn(current): SignedIn, Path(id): Path<Uuid>) -> PageResult {
    current.require(Role::Admin)?;
    let members = members::list(&state.db, current.scope).await?;
    let supervisions = members::supervisions(&state.db, current.scope).await?;
    let found = supervisions.iter().find(|s| s.id == id).ok_or(AppError::NotFound)?;
    Ok(render(&EndPage { nav: nav(&session, &current).await?, csrf_token: csrf::token(&session).await?, row: row(found, &members) }))
}

async fn end(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    meta: RequestMeta,
    Path(id): Path<Uuid>,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> PageResult {
    current.require(Role::Admin)?;
    members::remove_supervision(&state.db, state.clock.now(), &current, id, &meta).await?;
    Ok(Redirect::to("/supervisions").into_response())
}
