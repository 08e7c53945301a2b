//! Cross-site request forgery protection for browser requests that change
//! state, in two layers:
//! 1. [`same_origin`] middleware refuses unsafe requests whose `Sec-Fetch-Site`
//!    or `Origin` shows they were started by another site.
//! 2. A synchronizer token kept in the server-side session must come back in
//!    every form ([`CsrfForm`]) or, for API calls made with the session cookie,
//!    in the `X-CSRF-Token` header.
//!
//! Requests authenticated with `Authorization: Bearer` are not exposed to CSRF
//! (browsers never add that header on their own) and skip both.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::{Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde::de::DeserializeOwned;
use tower_sessions::Session;

use crate::{
    state::AppState,
    error::{AppError, PageError},
};

pub const HEADER: &str = "x-csrf-token";
const SESSION_KEY: &str = "csrf";

/// The session's CSRF token, created on first use.
pub async fn token(session: &Session) -> Result<String, AppError> {
    if let Some(existing) = session
        .get::<String>(SESSION_KEY)
        .await
        ?
    {
        return Ok(existing);
    }
    rotate(session).await
}

pub async fn rotate(session: &Session) -> Result<String, AppError> {
    let fresh = crate::secret::generate();
    session
        .insert(SESSION_KEY, &fresh)
        .await
        ?;
    Ok(fresh)
}

pub async fn verify(session: &Session, presented: &str) -> Result<(), AppError> {
    let expected = session
        .get::<String>(SESSION_KEY)
        .await
        ?;
    match expected {
        Some(expected) if crate::secret::constant_time_eq(expected.as_bytes(), presented.as_bytes()) => Ok(()),
        _ => Err(AppError::Forbidden(
            "This form has expired or did not come from Tandem. Reload the page and try again.".into(),
        )),
    }
}

/// A form whose hidden `csrf_token` field has been checked against the
/// session. `T` describes the other fields; repeated fields (checkboxes) can
/// be collected into a `Vec`.
pub struct CsrfForm<T>(pub T);

#[derive(serde::Deserialize)]
struct TokenField {
    #[serde(default)]
    csrf_token: String,
}

impl<T> FromRequest<AppState> for CsrfForm<T>
where
    T: DeserializeOwned + Send,
{
    type Rejection = PageError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let session = super::current::session_of(&mut parts, state).await?;
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(AppError::BadRequest("Send the form as application/x-www-form-urlencoded.".into()).into());
        }
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::TooLarge(crate::http::MAX_BODY_BYTES)
            } else {
                AppError::BadRequest(e.body_text())
            }
        })?;
        let TokenField { csrf_token } = serde_html_form::from_bytes(&bytes)
            .map_err(|e| AppError::invalid("form", &e.to_string()))?;
        verify(&session, &csrf_token).await?;
        // Text of every field, before any handler reads it (see crate::input).
        let pairs: Vec<(String, String)> =
            serde_html_form::from_bytes(&bytes).map_err(|e| AppError::invalid("form", &e.to_string()))?;
        if let Some((name, _)) = pairs.iter().find(|(name, value)| {
            crate::input::check_text(name).is_err() || crate::input::check_text(value).is_err()
        }) {
            let field = if crate::input::check_text(name).is_ok() { name.as_str() } else { "form" };
            return Err(AppError::invalid(field, crate::input::CONTROL_CHARACTERS).into());
        }
        let form = serde_html_form::from_bytes(&bytes).map_err(|e| AppError::invalid("form", &e.to_string()))?;
        Ok(CsrfForm(form))
    }
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Refuses state-changing browser requests that another site started.
pub async fn same_origin(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if is_unsafe(req.method()) && !req.headers().contains_key(header::AUTHORIZATION) {
        let headers = req.headers();
        let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
        let cross_site = matches!(fetch_site, Some(site) if site != "same-origin" && site != "none");
        // Browsers that send Sec-Fetch-Site are judged by it: under our
        // `Referrer-Policy: no-referrer` they send `Origin: null` with a
        // form post, which says nothing. Older browsers are judged by Origin.
        let origin_mismatch = fetch_site.is_none()
            && headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|origin| {
                let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
                let same_host = url::Url::parse(origin).ok().is_some_and(|u| {
                    let authority = match u.port() {
                        Some(port) => format!("{}:{port}", u.host_str().unwrap_or_default()),
                        None => u.host_str().unwrap_or_default().to_owned(),
                    };
                    Some(authority.as_str()) == host
                });
                origin != state.config.public_base() && !same_host
            });
        if cross_site || origin_mismatch {
            let err = AppError::Forbidden("Cross-site requests are refused.".into());
            return if req.uri().path().starts_with("/api/") {
                err.into_response()
            } else {
                PageError(err).into_response()
            };
        }
    }
    next.run(req).await
}
