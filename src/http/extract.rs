//! Extractors both front ends use, answering a bad request with the
//! service's own errors (problem+json naming the field) instead of axum's
//! plain-text rejections.

use axum::extract::{FromRequest, FromRequestParts, Request};
use serde::de::DeserializeOwned;

use crate::error::{AppError, FieldError};

/// JSON request bodies; malformed ones answer problem+json naming the
/// problem. Text anywhere in the body is checked for control characters
/// before the handler sees it ([`crate::input`]).
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(mut value) = axum::Json::<serde_json::Value>::from_request(req, state).await?;
        // Every request body Tandem takes is an object; serde would also
        // read a struct from an array of its fields in order.
        if !value.is_object() {
            return Err(AppError::invalid("body", "must be a JSON object"));
        }
        crate::input::whole_numbers_as_integers(&mut value);
        if let Some(field) = crate::input::find_control_characters(&value) {
            return Err(AppError::invalid(&field, crate::input::CONTROL_CHARACTERS));
        }
        serde_path_to_error::deserialize(value).map(Json).map_err(|err| {
            let path = err.path().to_string();
            let field = if path == "." { "body".to_owned() } else { path };
            AppError::Invalid(vec![FieldError::new(field, err.into_inner().to_string())])
        })
    }
}

/// Path parameters; a malformed id answers 404 like an unknown one.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct Path<T>(pub T);

/// Query parameters; bad ones answer 422 naming the parameter.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct Query<T>(pub T);
