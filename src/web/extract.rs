//! What page handlers take from a request, with the page's answer when it
//! cannot be had: the signed-in member (or the sign-in page), a form whose
//! CSRF token matched the session, and path parameters (a malformed id is
//! the "not found" page; the API's extractors answer problem+json).

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, OptionalFromRequestParts, Request},
    http::{StatusCode, header, request::Parts},
};
use serde::de::DeserializeOwned;

use super::PageError;
use crate::{
    auth::{CurrentMember, csrf, current},
    error::AppError,
    state::AppState,
};

/// Path parameters of pages; a malformed id answers the "not found" page
/// (the API's [`crate::http::extract::Path`] answers problem+json).
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(PageError))]
pub struct Path<T>(pub T);

/// A signed-in member on a web page: not signed in sends the browser to the
/// sign-in page. CSRF for forms is checked by [`CsrfForm`].
#[derive(Clone, Debug)]
pub struct SignedIn(pub CurrentMember);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(SignedIn(current::authenticate(parts, state, false).await?))
    }
}

impl OptionalFromRequestParts<AppState> for SignedIn {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Option<Self>, Self::Rejection> {
        match current::authenticate(parts, state, false).await {
            Ok(member) => Ok(Some(SignedIn(member))),
            Err(AppError::Unauthenticated) => Ok(None),
            Err(other) => Err(other.into()),
        }
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
        let session = crate::auth::current::session_of(&mut parts, state).await?;
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
                AppError::TooLarge(crate::input::MAX_BODY_BYTES)
            } else {
                AppError::BadRequest(e.body_text())
            }
        })?;
        let TokenField { csrf_token } = serde_html_form::from_bytes(&bytes)
            .map_err(|e| AppError::invalid("form", &e.to_string()))?;
        csrf::verify(&session, &csrf_token).await?;
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

/// A file sent from a page's upload form (`multipart/form-data`) with the
/// form's `csrf_token` checked against the session: the `file` field's
/// bytes and the type the browser declared for them.
pub struct CsrfUpload {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
}

impl FromRequest<AppState> for CsrfUpload {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let session = crate::auth::current::session_of(&mut parts, state).await?;
        let mut form = axum::extract::Multipart::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|e| AppError::BadRequest(e.body_text()))?;
        let unreadable = |e: axum::extract::multipart::MultipartError| -> AppError {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::TooLarge(crate::input::MAX_BODY_BYTES)
            } else {
                AppError::BadRequest(e.body_text())
            }
        };
        let (mut token, mut upload) = (String::new(), CsrfUpload { bytes: Vec::new(), content_type: None });
        while let Some(field) = form.next_field().await.map_err(unreadable)? {
            match field.name() {
                Some("csrf_token") => token = field.text().await.map_err(unreadable)?,
                Some("file") => {
                    upload.content_type = field.content_type().map(str::to_owned);
                    upload.bytes = field.bytes().await.map_err(unreadable)?.to_vec();
                }
                _ => {}
            }
        }
        csrf::verify(&session, &token).await?;
        Ok(upload)
    }
}
