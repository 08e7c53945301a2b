//! The JSON API under `/api/v1`, for scripts and integrations. Callers
//! authenticate with `Authorization: Bearer <token>` (or, from Tandem's own
//! pages, the session cookie plus `X-CSRF-Token`). Errors are problem+json.

mod members;
mod me;

use axum::{
    Router,
    extract::{FromRequest, FromRequestParts},
};

use crate::{AppState, error::AppError};

pub fn routes() -> Router<AppState> {
    Router::new().merge(me::routes()).merge(members::routes())
}

/// JSON request bodies; malformed ones answer problem+json naming the problem.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct Json<T>(pub T);

/// Path parameters; a malformed id answers 404 like an unknown one.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct Path<T>(pub T);
