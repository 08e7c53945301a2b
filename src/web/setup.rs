//! First start: the setup link creates the practice and its first admin.

use axum::{
    Router,
    extract::{Query, State},
    response::{IntoResponse, Redirect},
    routing::get,
};
use serde::Deserialize;
use tower_sessions::Session;

use super::{CsrfForm, PageResult, render, templates::*};
use crate::{
    auth::{csrf, current::establish},
    error::{AppError, FieldError},
    practice::setup::{self, SetupInput},
    state::AppState,
};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/setup", get(form).post(submit))
}

#[derive(Deserialize)]
struct SetupQuery {
    #[serde(default)]
    token: String,
}

async fn form(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<SetupQuery>,
) -> PageResult {
    if !setup::setup_link_is_valid(&state, &query.token).await? {
        return Err(AppError::Conflict(
            "This setup link has been used or has expired.".into(),
        )
        .into());
    }
    Ok(render(&SetupPage {
        nav: None,
        csrf_token: csrf::token(&session).await?,
        token: query.token,
        values: SetupValues { time_zone: "UTC".into(), ..SetupValues::default() },
        errors: FormErrors::default(),
    }))
}

#[derive(Deserialize)]
struct SetupForm {
    token: String,
    #[serde(flatten)]
    input: SetupInput,
}

async fn submit(State(state): State<AppState>, session: Session, CsrfForm(form): CsrfForm<SetupForm>) -> PageResult {
    let result = match form.input.parse() {
        Ok((practice, admin)) => setup::complete_setup(&state, &form.token, practice, admin).await,
        Err(err) => Err(err),
    };
    let err = match result {
        Ok(member) => {
            establish(&session, &state, &member).await?;
            return Ok(Redirect::to("/members").into_response());
        }
        Err(err) => err,
    };
    let errors = match err {
        AppError::Invalid(errors) => errors.into(),
        AppError::Conflict(message) if message.starts_with("slug:") => {
            FormErrors::from(vec![FieldError::new("slug", message.trim_start_matches("slug: "))])
        }
        AppError::Conflict(message) => FormErrors::form(message),
        other => return Err(other.into()),
    };
    let SetupInput { practice_name, slug, time_zone, display_name, email, password: _ } = form.input;
    let values = SetupValues { practice_name, slug, time_zone, display_name, email };
    let csrf_token = csrf::token(&session).await?;
    Ok(render(&SetupPage { nav: None, csrf_token, values, token: form.token, errors }))
}
