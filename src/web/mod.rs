//! Server-rendered pages. Handlers parse the form, call the same services the
//! API uses, and render a template; validation errors re-render the form with
//! the person's input and a message next to each field.

mod access_changes;
mod account;
pub mod clinical;
mod error;
pub mod extract;
mod identity_providers;
mod join;
mod members;
pub mod review;
mod setup;
mod sign_in;
mod sso;
mod supervisions;
pub mod templates;
mod tokens;

use askama::Template;
use axum::{
    Router,
    http::{HeaderValue, header},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use tower_sessions::Session;

pub use self::{
    error::{PageError, error_page},
    extract::{CsrfForm, CsrfUpload, Path, SignedIn},
};
use self::templates::*;
use crate::{
    auth::{CurrentMember, csrf},
    error::AppError,
    practice::Role,
    state::AppState,
};

type PageResult = Result<Response, PageError>;

/// A form with nothing but its CSRF token (a button).
pub type CsrfOnly = serde::de::IgnoredAny;

pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .merge(audited(clinical::routes(), state.clone()))
        .merge(audited(review::routes(), state.clone()))
        .merge(account::routes())
        .merge(setup::routes())
        .merge(sign_in::routes())
        .merge(join::routes())
        .merge(members::routes())
        .merge(supervisions::routes())
        .merge(tokens::routes())
        .route("/", get(home))
        .route("/static/tandem.css", get(stylesheet))
        .route("/p/{slug}/sign-in", get(sso::practice_sign_in))
        .route("/p/{slug}/sso/{provider}/start", get(sso::start))
        .route("/p/{slug}/sso/callback", get(sso::callback))
        .route("/p/{slug}/sso/confirm", post(sso::confirm))
        .route("/profile/sso/{provider}", post(sso::connect))
        .route("/identity-providers", get(identity_providers::page).post(identity_providers::create))
        .route("/identity-providers/{id}", get(identity_providers::edit).post(identity_providers::update))
        .route("/join/{token}/sso/{provider}", get(sso::join))
        .route("/access-changes", get(access_changes::page))
}

/// Pages that show or change clinical records or the access log: like the
/// API's clinical routes, each request leaves exactly one access event,
/// stored before the page leaves (and a form's writes commit with it).
pub fn audited(routes: Router<AppState>, state: AppState) -> Router<AppState> {
    routes
        .route_layer(crate::http::catch_panics())
        .route_layer(axum::middleware::from_fn_with_state(state, crate::audit::context::record_requests))
}

/// Renders a page; a template error is an internal error, not a blank page.
pub fn render<T: Template>(page: &T) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(err) => AppError::Internal(anyhow::anyhow!("template: {err}")).into_response(),
    }
}

pub use crate::display::local_time;

/// The page header of a signed-in member: links for each of their roles.
pub async fn nav(session: &Session, current: &CurrentMember) -> Result<Option<Nav>, AppError> {
    Ok(Some(Nav {
        display_name: current.member.display_name.clone(),
        practice_name: current.practice.name.clone(),
        is_admin: current.roles.contains(Role::Admin),
        is_counselor: current.roles.contains(Role::Counselor),
        is_supervisor: current.roles.contains(Role::Supervisor),
        is_client: current.roles.contains(Role::Client),
        csrf_token: csrf::token(session).await?,
    }))
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
        ],
        include_str!("../../templates/static/tandem.css"),
    )
}

async fn home(session: Session, current: Option<SignedIn>) -> PageResult {
    let Some(SignedIn(current)) = current else {
        return Ok(Redirect::to("/sign-in").into_response());
    };
    // Counselors, supervisors and partners work from the dashboard; a
    // practice admin without a clinical role gets the admin's home.
    if [Role::Counselor, Role::Supervisor, Role::Client].into_iter().any(|r| current.roles.contains(r)) {
        return Ok(Redirect::to("/dashboard").into_response());
    }
    Ok(render(&HomePage {
        nav: nav(&session, &current).await?,
        display_name: current.member.display_name.clone(),
        practice_name: current.practice.name.clone(),
        roles: current.roles.labels(),
        is_admin: current.roles.contains(Role::Admin),
    }))
}
