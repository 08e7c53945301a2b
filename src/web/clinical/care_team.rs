//! A couple's care team, changed by its counselors from the couple's pages
//! with the rules of `/api/v1/couples/{id}/care-team` (records::couples):
//! only the care team may, only active counselors join, the last one stays.
//! Admins outside the care team may not (the API refuses them too).

use crate::practice::MemberId;
use crate::records::couples::CoupleId;
use askama::Template;
use axum::{
    extract::State,
    response::{IntoResponse, Redirect},
};
use serde::Deserialize;
use tower_sessions::Session;

use super::{Chrome, CoupleContext, PageResult, again};
use crate::{
    access::{self, CoupleAccess, Need},
    audit::AuditContext,
    auth::CurrentMember,
    error::AppError,
    practice::{Role, members},
    records::couples,
    state::AppState,
    web::{CsrfForm, CsrfOnly, Path, SignedIn, render, templates::{Choice, FormErrors, Nav}},
};

#[derive(Template)]
#[template(path = "care_team.html")]
pub struct CareTeamPage {
    pub nav: Option<Nav>,
    pub csrf_token: String,
    pub couple: CoupleContext,
    pub team: Vec<couples::CareTeamMember>,
    /// Active counselors not on the team yet.
    pub counselors: Vec<Choice>,
    pub errors: FormErrors,
}

async fn care_team_page(
    state: &AppState,
    session: &Session,
    current: &CurrentMember,
    access: &CoupleAccess,
    errors: FormErrors,
) -> Result<CareTeamPage, AppError> {
    let team = couples::care_team(access).await?;
    let counselors = members::list(&state.db, current.scope)
        .await?
        .into_iter()
        .filter(|m| m.may_act_as(Role::Counselor) && !team.iter().any(|t| t.member_id == m.id))
        .map(|m| Choice { value: m.id.to_string(), label: m.display_name, selected: false })
        .collect();
    let chrome = Chrome::of(session, current).await?;
    Ok(CareTeamPage {
        nav: chrome.nav,
        csrf_token: chrome.csrf_token,
        couple: CoupleContext::of(access, current).await?,
        team,
        counselors,
        errors,
    })
}

/// A refused change: the page again with the reason (422 for a member who
/// cannot join, 409 for taking off the last counselor); nothing was changed.
async fn rejected(err: AppError, state: &AppState, session: &Session, current: &CurrentMember, access: &CoupleAccess) -> PageResult {
    let status = err.status();
    let errors = match err {
        AppError::Invalid(errors) => errors.into(),
        AppError::Conflict(message) => FormErrors::form(message),
        other => return Err(other.into()),
    };
    Ok(again(status, render(&care_team_page(state, session, current, access, errors).await?)))
}

pub async fn page(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    Ok(render(&care_team_page(&state, &session, &current, &access, FormErrors::default()).await?))
}

#[derive(Deserialize)]
pub struct AddForm {
    #[serde(default)]
    member_id: String,
}

pub async fn add(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    CsrfForm(form): CsrfForm<AddForm>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    let result = match form.member_id.parse::<MemberId>() {
        Ok(member_id) => couples::add_to_care_team(state.clock.now(), &access, member_id).await,
        Err(_) => Err(AppError::invalid("member_id", couples::CHOOSE_COUNSELOR)),
    };
    match result {
        Ok((_, change)) => {
            if let Some(change) = change {
                audit.changed_access("care_team_add", &change);
            }
            Ok(Redirect::to(&format!("/couples/{couple_id}/care-team")).into_response())
        }
        Err(err) => rejected(err, &state, &session, &current, &access).await,
    }
}

pub async fn remove(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path((couple_id, member_id)): Path<(CoupleId, MemberId)>,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    match couples::remove_from_care_team(&access, member_id).await {
        Ok((_, change)) => {
            audit.changed_access("care_team_remove", &change);
            // Who took themselves off no longer has the couple's pages.
            let next = if member_id == current.id() { "/dashboard".to_owned() } else { format!("/couples/{couple_id}/care-team") };
            Ok(Redirect::to(&next).into_response())
        }
        Err(err) => rejected(err, &state, &session, &current, &access).await,
    }
}
