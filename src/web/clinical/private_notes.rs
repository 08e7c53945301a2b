//! Private notes: a counselor's own working notes about a couple, read by
//! their author alone (never by partners, supervisors or the rest of the care team).

use askama::Template;
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

use super::{
    CoupleContext,
    editing::{EditableRecord, FormPage, html, version_field},
};
use crate::{
    state::AppState,
    access::CoupleAccess,
    error::AppError,
    records::{
        common::IfMatch,
        private_notes::{self, PrivateNoteEdit, PrivateNoteInput, PrivateNoteView},
    },
    web::templates::Nav,
};

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct PrivateNoteForm {
    pub version: String,
    pub text: String,
}

version_field!(PrivateNoteForm);

#[derive(Template)]
#[template(path = "private_note_form.html")]
pub struct PrivateNoteFormPage {
    pub nav: Option<Nav>,
    pub page: FormPage<PrivateNoteForm>,
    pub theirs: Option<String>,
}

pub struct PrivateNotes;

#[async_trait::async_trait]
impl EditableRecord for PrivateNotes {
    type Form = PrivateNoteForm;
    type View = PrivateNoteView;
    const SEGMENT: &'static str = "private-notes";

    fn blank(_: &CoupleContext) -> PrivateNoteForm {
        PrivateNoteForm::default()
    }
    fn form_of(n: &PrivateNoteView, _: &CoupleContext) -> PrivateNoteForm {
        PrivateNoteForm { version: n.version.to_string(), text: n.text.clone() }
    }
    async fn load(access: &CoupleAccess, id: Uuid) -> Result<PrivateNoteView, AppError> {
        private_notes::get(access, id).await
    }
    async fn create(state: &AppState, access: &CoupleAccess, _: &CoupleContext, form: &PrivateNoteForm) -> Result<PrivateNoteView, AppError> {
        private_notes::create(state.clock.now(), access, PrivateNoteInput { session_id: None, text: form.text.clone() }).await
    }
    async fn update(
        state: &AppState,
        access: &CoupleAccess,
        _: &CoupleContext,
        id: Uuid,
        version: IfMatch,
        form: &PrivateNoteForm,
    ) -> Result<PrivateNoteView, AppError> {
        private_notes::update(state.clock.now(), access, id, version, PrivateNoteEdit { text: form.text.clone() }).await
    }

    fn render(page: FormPage<PrivateNoteForm>, theirs: Option<PrivateNoteView>) -> Response {
        html(&PrivateNoteFormPage { nav: page.chrome.nav.clone(), theirs: theirs.map(|n| n.text), page })
    }
}
