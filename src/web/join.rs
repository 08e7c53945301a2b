//! Accepting an invitation: a name and a password, or the practice's
//! identity providers.

use axum::{
    Router,
    extract::State,
    response::{IntoResponse, Redirect},
    routing::get,
};
use serde::Deserialize;
use tower_sessions::Session;

use super::{CsrfForm, PageResult, Path, render, templates::*};
use crate::{
    auth::{csrf, current::establish},
    error::AppError,
    practice::{Fields, invitations, parse_name, parse_new_password},
    state::AppState,
};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/join/{token}", get(form).post(submit))
}

async fn form(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
) -> PageResult {
    let Some(invitation) = invitations::open(&state, &token).await? else {
        return Err(AppError::Conflict(invitations::INVITATION_GONE.into()).into());
    };
    join_view(&state, &session, token, invitation, String::new(), FormErrors::default()).await
}

/// The invitation page: name and password, or the practice's identity
/// providers ("Join with ...").
async fn join_view(
    state: &AppState,
    session: &Session,
    token: String,
    invitation: invitations::OpenInvitation,
    display_name: String,
    errors: FormErrors,
) -> PageResult {
    let providers = crate::sso::providers::buttons(state, crate::scope::PracticeScope::trusted(invitation.practice.id))
        .await?
        .into_iter()
        .map(|(id, name)| ProviderButton { name, start_url: format!("/join/{token}/sso/{id}") })
        .collect();
    Ok(render(&JoinPage {
        nav: None,
        csrf_token: csrf::token(session).await?,
        providers,
        token,
        practice_name: invitation.practice.name,
        email: invitation.email,
        roles: invitation.roles.labels(),
        display_name,
        errors,
    }))
}

#[derive(Deserialize)]
struct JoinForm {
    display_name: String,
    password: String,
}

async fn submit(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
    CsrfForm(form): CsrfForm<JoinForm>,
) -> PageResult {
    let Some(invitation) = invitations::open(&state, &token).await? else {
        return Err(AppError::Conflict(invitations::INVITATION_GONE.into()).into());
    };
    let mut fields = Fields::default();
    let display_name = fields.check("display_name", parse_name(&form.display_name));
    let password = fields.check("password", parse_new_password(&form.password));
    let result = match fields.finish_with(|| Some((display_name?, password?))) {
        Ok((display_name, password)) => invitations::accept(&state, &token, display_name, password).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(member) => {
            establish(&session, &state, &member).await?;
            Ok(Redirect::to("/").into_response())
        }
        Err(AppError::Invalid(errors)) => join_view(&state, &session, token, invitation, form.display_name, errors.into()).await,
        Err(other) => Err(other.into()),
    }
}
