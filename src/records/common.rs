//! Pieces every clinical record shares: audiences, partner slots, optimistic
//! versions (ETag / If-Match), bounded text, and pages of results.

use axum::{
    extract::FromRequestParts,
    http::{HeaderValue, header, request::Parts},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::AppError;

/// The partner slots and audiences are typed values of the columns that
/// hold them (`entity::values`); which partner an audience includes is
/// decided there too, next to the values.
pub use entity::values::{Audience, PartnerSlot};

/// A simple string enum stored as text, with its accepted values listed in
/// errors and in the OpenAPI document.
pub trait StoredEnum: Sized + Copy + Serialize + for<'de> Deserialize<'de> {
    fn as_str(&self) -> String {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(s)) => s,
            _ => unreachable!("stored enums serialise as strings"),
        }
    }

    fn from_stored(stored: &str) -> Result<Self, AppError> {
        serde_json::from_value(serde_json::Value::String(stored.to_owned()))
            .map_err(|_| anyhow::anyhow!("stored value {stored:?} is not valid").into())
    }
}

impl StoredEnum for Audience {}
impl StoredEnum for PartnerSlot {}

/// A view of an editable record, which knows the version it shows.
pub trait Versioned {
    fn version(&self) -> i32;
}

/// Implements [`Versioned`] for views with a `version` field.
#[macro_export]
macro_rules! versioned {
    ($($view:ty),+ $(,)?) => {$(
        impl $crate::records::common::Versioned for $view {
            fn version(&self) -> i32 {
                self.version
            }
        }
    )+};
}

/// The strong ETag for version `n` of a record.
pub fn etag(version: i32) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("digits are a valid header value")
}

/// The version a write was based on, from `If-Match`. Writes to editable
/// records require it: without it the server cannot tell a stale edit from a
/// fresh one.
#[derive(Clone, Copy, Debug)]
pub struct IfMatch(pub i32);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::IF_MATCH) else {
            return Err(AppError::PreconditionRequired);
        };
        value
            .to_str()
            .ok()
            .map(|v| v.trim().trim_start_matches("W/").trim_matches('"'))
            .and_then(|v| v.parse::<i32>().ok())
            .map(IfMatch)
            // An ETag we never issued cannot match the current version.
            .ok_or(AppError::PreconditionFailed)
    }
}

/// Checks a bounded text field: trimmed, not empty, at most `max` characters.
pub fn required_text(value: &str, max: usize) -> Result<String, String> {
    if value.trim().is_empty() {
        return Err("this is required".into());
    }
    bounded(value, max).map(|v| v.trim().to_owned())
}

/// Like [`required_text`], but empty means "none".
pub fn optional_text(value: Option<&str>, max: usize) -> Result<Option<String>, String> {
    match value {
        None => Ok(None),
        Some(v) if v.trim().is_empty() => bounded(v, max).map(|_| None),
        Some(v) => bounded(v, max).map(|v| Some(v.trim().to_owned())),
    }
}

/// Short fields (names, labels, places) are single-line text; longer ones
/// may span lines (see crate::input).
fn bounded(value: &str, max: usize) -> Result<&str, String> {
    if value.chars().count() > max {
        Err(format!("use at most {max} characters"))
    } else if max <= limits::SHORT {
        crate::input::check_single_line(value).map(|()| value)
    } else {
        crate::input::check_text(value).map(|()| value)
    }
}

/// Size limits, stated once and published in the OpenAPI document.
pub mod limits {
    pub use crate::input::limits::*;
    /// Items per page of a list.
    pub const PAGE: usize = 200;
    pub(crate) const PAGE_U64: u64 = PAGE as u64;
}

/// `?limit=&cursor=`: newest first; pass `next_cursor` back for the next page.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// At most this many items (1-200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<Uuid>,
}

impl PageQuery {
    pub fn limit(&self) -> Result<u64, AppError> {
        page_limit(self.limit)
    }
}

/// The page size asked for: 1 to [`limits::PAGE`], default 50.
pub fn page_limit(limit: Option<u64>) -> Result<u64, AppError> {
    match limit.unwrap_or(50) {
        n @ 1..=limits::PAGE_U64 => Ok(n),
        _ => Err(AppError::invalid("limit", &format!("choose between 1 and {}", limits::PAGE))),
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    /// Present when there are more items.
    pub next_cursor: Option<Uuid>,
}

/// Cuts a page of `limit` from rows fetched with `limit + 1`, returning the
/// cursor of the next page when there is one.
pub fn split_page<T>(mut rows: Vec<T>, limit: u64, id: impl Fn(&T) -> Uuid) -> (Vec<T>, Option<Uuid>) {
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next = if more { rows.last().map(&id) } else { None };
    (rows, next)
}
