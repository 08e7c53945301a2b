//! Records that are only ever added to: milestones the couple celebrates,
//! and each time a boundary was kept or tested. One small form each.

use crate::records::couples::CoupleId;
use askama::Template;
use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Redirect},
};
use serde::Deserialize;
use tower_sessions::Session;
use uuid::Uuid;

use super::{Chrome, CoupleContext, PageResult, Rejected, again, forms};
use crate::{
    state::AppState,
    access::{self, CoupleAccess, Need},
    web::Path,
    audit::AuditContext,
    auth::CurrentMember,
    web::{CsrfForm, SignedIn},
    error::AppError,
    practice::Fields,
    records::{
        boundaries::{self, BoundaryEventInput, BoundaryEventKind},
        common::Audience,
        milestones::{self, CustomMilestoneInput},
    },
    web::{render, templates::{Choice, FormErrors, Nav}},
};

/// One add-only form: a milestone, or an entry in a boundary's log.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct EntryForm {
    /// The milestone's title, or what happened with the boundary.
    pub text: String,
    pub on: String,
    /// A milestone's audience, or the boundary entry's kind (kept, tested).
    pub choice: String,
}

#[derive(Template)]
#[template(path = "log_entry_form.html")]
pub struct EntryPage {
    pub nav: Option<Nav>,
    pub csrf_token: String,
    pub couple: CoupleContext,
    pub heading: String,
    pub action: String,
    pub text_label: &'static str,
    pub choice_label: &'static str,
    pub values: EntryForm,
    pub choices: Vec<Choice>,
    pub errors: FormErrors,
}

enum Entry {
    Milestone,
    BoundaryEvent { boundary_id: Uuid, statement: String },
}

async fn entry_page(
    session: &Session,
    current: &CurrentMember,
    access: &CoupleAccess,
    entry: &Entry,
    values: EntryForm,
    errors: FormErrors,
) -> Result<EntryPage, AppError> {
    let couple = CoupleContext::of(access, current).await?;
    let chrome = Chrome::of(session, current).await?;
    let (heading, action, text_label, choice_label, choices) = match entry {
        Entry::Milestone => (
            "Celebrate a milestone".to_owned(),
            format!("{}/milestones", couple.href()),
            "What the couple achieved",
            "Who sees it",
            forms::audience_choices(&couple.names, &values.choice),
        ),
        Entry::BoundaryEvent { boundary_id, statement } => (
            format!("Log the boundary: {statement}"),
            format!("{}/boundaries/{boundary_id}/events", couple.href()),
            "What happened (optional)",
            "The boundary was",
            forms::choices(&[BoundaryEventKind::Kept, BoundaryEventKind::Tested], &values.choice),
        ),
    };
    Ok(EntryPage { nav: chrome.nav, csrf_token: chrome.csrf_token, couple, heading, action, text_label, choice_label, values, choices, errors })
}

async fn save(state: &AppState, access: &CoupleAccess, entry: &Entry, form: &EntryForm) -> Result<Uuid, AppError> {
    let mut f = Fields::default();
    let on = f.check("on", forms::date_required(&form.on));
    match entry {
        Entry::Milestone => {
            let audience = f.check("choice", forms::pick::<Audience>(&form.choice));
            let input = f.finish_with(|| Some(CustomMilestoneInput { title: form.text.clone(), achieved_on: on?, audience: audience? }))?;
            Ok(milestones::add_custom(state.clock.now(), access, input).await?.id)
        }
        Entry::BoundaryEvent { boundary_id, .. } => {
            let kind = f.check("choice", forms::pick_required::<BoundaryEventKind>(&form.choice));
            let input = f.finish_with(|| Some(BoundaryEventInput { kind: kind?, occurred_on: on?, note: forms::opt(&form.text) }))?;
            boundaries::log_event(state.clock.now(), access, *boundary_id, input).await?;
            Ok(*boundary_id)
        }
    }
}

async fn entry_of(access: &CoupleAccess, boundary_id: Option<Uuid>) -> Result<Entry, AppError> {
    Ok(match boundary_id {
        None => Entry::Milestone,
        Some(boundary_id) => Entry::BoundaryEvent { boundary_id, statement: boundaries::get(access, boundary_id).await?.current.statement },
    })
}

async fn show(state: AppState, session: Session, current: CurrentMember, audit: AuditContext, couple_id: CoupleId, boundary_id: Option<Uuid>) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    let entry = entry_of(&access, boundary_id).await?;
    let today = milestones::practice_today(&state, &current.practice.time_zone);
    let choice = if boundary_id.is_some() { "kept" } else { "couple" };
    let values = EntryForm { on: today.to_string(), choice: choice.into(), ..EntryForm::default() };
    Ok(render(&entry_page(&session, &current, &access, &entry, values, FormErrors::default()).await?))
}

async fn add(
    state: AppState,
    session: Session,
    current: CurrentMember,
    audit: AuditContext,
    couple_id: CoupleId,
    boundary_id: Option<Uuid>,
    form: EntryForm,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    let entry = entry_of(&access, boundary_id).await?;
    match save(&state, &access, &entry, &form).await {
        Ok(id) => {
            if boundary_id.is_none() {
                audit.created(id);
            }
            let anchor = boundary_id.map_or("progress".to_owned(), |b| format!("boundary-{b}"));
            Ok(Redirect::to(&format!("/couples/{couple_id}#{anchor}")).into_response())
        }
        Err(err) => match Rejected::from(err)? {
            Rejected::Invalid(errors) => {
                let page = entry_page(&session, &current, &access, &entry, form, errors).await?;
                Ok(again(StatusCode::UNPROCESSABLE_ENTITY, render(&page)))
            }
            Rejected::Stale => Err(AppError::PreconditionFailed.into()),
        },
    }
}

pub async fn new_milestone(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
) -> PageResult {
    show(state, session, current, audit, couple_id, None).await
}

pub async fn add_milestone(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    CsrfForm(form): CsrfForm<EntryForm>,
) -> PageResult {
    add(state, session, current, audit, couple_id, None, form).await
}

pub async fn new_boundary_event(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path((couple_id, boundary_id)): Path<(CoupleId, Uuid)>,
) -> PageResult {
    show(state, session, current, audit, couple_id, Some(boundary_id)).await
}

pub async fn add_boundary_event(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path((couple_id, boundary_id)): Path<(CoupleId, Uuid)>,
    CsrfForm(form): CsrfForm<EntryForm>,
) -> PageResult {
    add(state, session, current, audit, couple_id, Some(boundary_id), form).await
}
