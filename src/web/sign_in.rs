//! Signing in with a password, and signing out.

use axum::{
    Router,
    extract::{Query, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use serde::Deserialize;
use tower_sessions::Session;

use super::{CsrfForm, CsrfOnly, PageResult, render, sso, templates::*};
use crate::{
    audit::RequestMeta,
    auth::{
        ClientAddr, csrf,
        current::{end, establish},
        devices::DeviceCookie,
        sign_in::{self, WRONG_CREDENTIALS},
    },
    error::AppError,
    practice::practices,
    state::AppState,
};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/sign-in", get(form).post(submit))
        .route("/sign-out", post(sign_out))
        .route("/quick-exit", post(quick_exit))
}

#[derive(Deserialize)]
struct SignInQuery {
    practice: Option<String>,
}

async fn form(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<SignInQuery>,
) -> PageResult {
    // With a single practice there is nothing to choose; fill it in.
    let practice = match query.practice {
        Some(p) => p,
        None => practices::only_slug(&state.db).await?.unwrap_or_default(),
    };
    Ok(sign_in_view(&state, &session, practice, String::new(), None).await?)
}

/// The sign-in page, with "Sign in with ..." buttons of the practice named
/// in `practice` when it has providers.
pub(crate) async fn sign_in_view(
    state: &AppState,
    session: &Session,
    practice: String,
    email: String,
    error: Option<String>,
) -> Result<Response, AppError> {
    let found = practices::by_slug(&state.db, &practice).await?;
    if let Some(found) = &found {
        crate::tenant::enter(found.id);
    }
    let providers = match found {
        Some(found) => crate::sso::providers::buttons(state, crate::scope::PracticeScope::trusted(found.id))
            .await?
            .into_iter()
            .map(|(id, name)| ProviderButton { name, start_url: format!("/p/{}/sso/{id}/start", found.slug) })
            .collect(),
        None => Vec::new(),
    };
    Ok(render(&SignInPage { nav: None, csrf_token: csrf::token(session).await?, practice, email, error, providers }))
}

#[derive(Deserialize)]
struct SignInForm {
    practice: String,
    email: String,
    password: String,
}

async fn submit(
    State(state): State<AppState>,
    session: Session,
    addr: ClientAddr,
    device: DeviceCookie,
    meta: RequestMeta,
    CsrfForm(form): CsrfForm<SignInForm>,
) -> PageResult {
    let error = match sign_in::with_password(&state, &form.practice, &form.email, &form.password, addr, &device, &meta).await {
        Ok(signed_in) => {
            establish(&session, &state, &signed_in.member).await?;
            let mut response = Redirect::to("/").into_response();
            response.headers_mut().append(header::SET_COOKIE, signed_in.device_cookie);
            return Ok(response);
        }
        Err(AppError::Unauthenticated) => WRONG_CREDENTIALS.to_owned(),
        Err(err @ AppError::TooManyRequests { .. }) => {
            let mut response = sign_in_view(&state, &session, form.practice, form.email, Some(err.detail())).await?;
            *response.status_mut() = err.status();
            if let AppError::TooManyRequests { retry_after_secs, .. } = err {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            }
            return Ok(response);
        }
        Err(other) => return Err(other.into()),
    };
    let mut response = sign_in_view(&state, &session, form.practice, form.email, Some(error)).await?;
    *response.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
    Ok(response)
}

/// Leaves Tandem at once for a page that gives nothing away: the session
/// ends, the browser is told to forget Tandem's cookies and storage, and a
/// neutral page replaces this one (a page, not a redirect, for the
/// form-action policy). For a partner who must not be seen using it.
async fn quick_exit(session: Session, CsrfForm(_): CsrfForm<CsrfOnly>) -> PageResult {
    end(&session).await?;
    let mut response = render(&QuickExitPage { neutral_url: QUICK_EXIT_URL });
    response.headers_mut().insert("clear-site-data", HeaderValue::from_static("\"cache\", \"cookies\", \"storage\""));
    Ok(response)
}

/// Where quick exit goes: a page anyone might be looking at.
pub const QUICK_EXIT_URL: &str = "https://www.google.com/search?q=weather";

/// Ends the session. Someone who signed in with a provider that offers
/// sign-out is sent there next (by a page, not a redirect: the form-action
/// policy would stop a form's redirect to another site).
async fn sign_out(State(state): State<AppState>, session: Session, CsrfForm(_): CsrfForm<CsrfOnly>) -> PageResult {
    let at_provider = sso::end_session_after_sign_out(&state, &session).await?;
    end(&session).await?;
    Ok(match at_provider {
        Some((end_session_url, provider_name)) => render(&SignedOutPage { nav: None, provider_name, end_session_url }),
        None => Redirect::to("/sign-in").into_response(),
    })
}
