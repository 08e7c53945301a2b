//! Errors for people using a browser: the same [`AppError`]s the API answers
//! with problem+json, drawn as an HTML page, or the sign-in page when they
//! are not signed in.

use axum::{
    http::{HeaderValue, header},
    response::{IntoResponse, Redirect, Response},
};

use crate::error::AppError;

/// The same errors, for people using a browser: an HTML page, or the sign-in
/// page when they are not signed in.
#[derive(Debug)]
pub struct PageError(pub AppError);

impl<E: Into<AppError>> From<E> for PageError {
    fn from(err: E) -> Self {
        Self(err.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let err = self.0;
        if matches!(err, AppError::Unauthenticated) {
            return Redirect::to("/sign-in").into_response();
        }
        err.log();
        let status = err.status();
        let page = super::templates::ErrorPage {
            nav: None,
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            message: err.detail(),
            status: status.as_u16(),
        };
        let mut response = (status, super::render(&page)).into_response();
        if let Some(seconds) = err.retry_after() {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The error page for `err`; what `crate::http` draws for a page's path.
pub fn error_page(err: AppError) -> Response {
    PageError(err).into_response()
}
