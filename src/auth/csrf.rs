//! Cross-site request forgery protection for browser requests that change
//! state, in two layers:
//! 1. `same_origin` middleware (in `crate::http`) refuses unsafe requests
//!    whose `Sec-Fetch-Site` or `Origin` shows they were started by another site.
//! 2. A synchronizer token kept in the server-side session (here) must come
//!    back in every form (`web::extract::CsrfForm`) or, for API calls made
//!    with the session cookie, in the `X-CSRF-Token` header.
//!
//! Requests authenticated with `Authorization: Bearer` are not exposed to CSRF
//! (browsers never add that header on their own) and skip both.

use tower_sessions::Session;

use crate::error::AppError;

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
