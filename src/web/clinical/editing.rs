//! The four handlers every simple record's form needs (new, create, edit,
//! update), written once. A record kind says how its form maps to its input
//! and view; these handlers do the access check, Post/Redirect/Get, showing
//! the form again with messages (422), and the lost race (409): the form
//! keeps what was typed and shows the version that won beside it.

use crate::records::couples::CoupleId;
use askama::Template;
use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::de::DeserializeOwned;
use tower_sessions::Session;
use uuid::Uuid;

use super::{Chrome, CoupleContext, PageResult, Rejected, STALE, again};
use crate::{
    state::AppState,
    access::{self, CoupleAccess, Need},
    web::Path,
    audit::AuditContext,
    web::{CsrfForm, SignedIn},
    error::AppError,
    records::{
        boundaries::BoundaryView,
        common::{IfMatch, Versioned},
        lapses::LapseView,
        private_notes::PrivateNoteView,
        safety_plans::SafetyPlanView,
        sessions::SessionView,
    },
    web::{render, templates::FormErrors},
};

/// Where a form posts and what it is for.
pub struct FormTarget {
    pub action: String,
    pub editing: bool,
}

/// The form page of one record kind, with whatever it needs to show.
pub struct FormPage<F> {
    pub chrome: Chrome,
    pub couple: CoupleContext,
    pub target: FormTarget,
    pub values: F,
    pub errors: FormErrors,
}

/// A form that carries the version it was filled in from (a hidden field).
pub trait VersionField {
    fn version(&self) -> &str;
    fn set_version(&mut self, version: i32);
}

/// Implements [`VersionField`] for forms with a `version: String` field.
macro_rules! version_field {
    ($($form:ty),+ $(,)?) => {$(
        impl $crate::web::clinical::editing::VersionField for $form {
            fn version(&self) -> &str {
                &self.version
            }
            fn set_version(&mut self, version: i32) {
                self.version = version.to_string();
            }
        }
    )+};
}
pub(crate) use version_field;

/// A record view that knows its id.
pub trait Identified {
    fn id(&self) -> Uuid;
}

macro_rules! identified {
    ($($view:ty),+ $(,)?) => {$(
        impl Identified for $view {
            fn id(&self) -> Uuid {
                self.id
            }
        }
    )+};
}
identified!(BoundaryView, SessionView, LapseView, SafetyPlanView, PrivateNoteView);

#[async_trait::async_trait]
pub trait EditableRecord: Send + Sync + 'static {
    /// The fields as the browser sends them (all text).
    type Form: DeserializeOwned + Default + Clone + Send + Sync + VersionField;
    type View: Send + Versioned + Identified;
    /// The path segment under the couple: `sessions`, `lapses`...
    const SEGMENT: &'static str;

    fn blank(couple: &CoupleContext) -> Self::Form;
    fn form_of(view: &Self::View, couple: &CoupleContext) -> Self::Form;

    async fn load(access: &CoupleAccess, id: Uuid) -> Result<Self::View, AppError>;
    async fn create(state: &AppState, access: &CoupleAccess, couple: &CoupleContext, form: &Self::Form) -> Result<Self::View, AppError>;
    async fn update(
        state: &AppState,
        access: &CoupleAccess,
        couple: &CoupleContext,
        id: Uuid,
        version: IfMatch,
        form: &Self::Form,
    ) -> Result<Self::View, AppError>;

    /// Renders the form; `theirs` is the version that won a race, to show beside it.
    fn render(page: FormPage<Self::Form>, theirs: Option<Self::View>) -> Response;
}

/// Renders an askama page (for `EditableRecord::render`).
/// The record version a form was filled in against (its hidden `version`
/// field), for the If-Match check of the save.
pub fn parse_version(raw: &str) -> Result<i32, AppError> {
    raw.trim().parse().map_err(|_| AppError::invalid("version", "reload the page and try again"))
}

pub fn html<T: Template>(page: &T) -> Response {
    render(page)
}

fn target<R: EditableRecord>(couple: &CoupleContext, editing: Option<Uuid>) -> FormTarget {
    match editing {
        Some(id) => FormTarget { action: format!("{}/{}/{id}", couple.href(), R::SEGMENT), editing: true },
        None => FormTarget { action: format!("{}/{}", couple.href(), R::SEGMENT), editing: false },
    }
}

fn back<R: EditableRecord>(couple_id: CoupleId) -> Response {
    Redirect::to(&format!("/couples/{couple_id}#{}", R::SEGMENT)).into_response()
}

pub async fn new_form<R: EditableRecord>(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    let couple = CoupleContext::of(&access, &current).await?;
    let values = R::blank(&couple);
    let page = FormPage { chrome: Chrome::of(&session, &current).await?, target: target::<R>(&couple, None), couple, values, errors: FormErrors::default() };
    Ok(R::render(page, None))
}

pub async fn create<R: EditableRecord>(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    CsrfForm(form): CsrfForm<R::Form>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    let couple = CoupleContext::of(&access, &current).await?;
    match R::create(&state, &access, &couple, &form).await {
        Ok(created) => {
            audit.created(created.id());
            Ok(back::<R>(couple_id))
        }
        Err(err) => match Rejected::from(err)? {
            Rejected::Invalid(errors) => {
                let chrome = Chrome::of(&session, &current).await?;
                let page = FormPage { chrome, target: target::<R>(&couple, None), couple, values: form, errors };
                Ok(again(StatusCode::UNPROCESSABLE_ENTITY, R::render(page, None)))
            }
            Rejected::Stale => Err(AppError::PreconditionFailed.into()),
        },
    }
}

pub async fn edit_form<R: EditableRecord>(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path((couple_id, id)): Path<(CoupleId, Uuid)>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    let couple = CoupleContext::of(&access, &current).await?;
    let view = R::load(&access, id).await?;
    let values = R::form_of(&view, &couple);
    let chrome = Chrome::of(&session, &current).await?;
    let page = FormPage { chrome, target: target::<R>(&couple, Some(id)), couple, values, errors: FormErrors::default() };
    Ok(R::render(page, None))
}

pub async fn update<R: EditableRecord>(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path((couple_id, id)): Path<(CoupleId, Uuid)>,
    CsrfForm(form): CsrfForm<R::Form>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    let couple = CoupleContext::of(&access, &current).await?;
    let version = parse_version(form.version())?;
    let rejected = match R::update(&state, &access, &couple, id, IfMatch(version), &form).await {
        Ok(_) => return Ok(back::<R>(couple_id)),
        Err(err) => Rejected::from(err)?,
    };
    let chrome = Chrome::of(&session, &current).await?;
    Ok(match rejected {
        Rejected::Invalid(errors) => {
            let page = FormPage { chrome, target: target::<R>(&couple, Some(id)), couple, values: form, errors };
            again(StatusCode::UNPROCESSABLE_ENTITY, R::render(page, None))
        }
        Rejected::Stale => {
            let theirs = R::load(&access, id).await?;
            let mut values = form;
            // Saving again replaces the version shown beside the form.
            values.set_version(theirs.version());
            let page = FormPage { chrome, target: target::<R>(&couple, Some(id)), couple, values, errors: FormErrors::form(STALE) };
            again(StatusCode::CONFLICT, R::render(page, Some(theirs)))
        }
    })
}
