//! One error type for the whole service. API responses become RFC 9457
//! problem+json; pages wrap it in `web::PageError` to get an HTML error page
//! (drawn there: this module knows no templates).
//! Internal causes are logged once (inside the request's span, which carries
//! the request id) and never reach the client.

use axum::{
    Json,
    extract::rejection::{BytesRejection, FormRejection, JsonRejection, PathRejection, QueryRejection},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use sea_orm::{DbErr, SqlErr};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("authentication required")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    Conflict(String),
    #[error("send If-Match with the ETag of the version you edited")]
    PreconditionRequired,
    #[error("someone else changed this since you loaded it; reload, compare, and try again")]
    PreconditionFailed,
    #[error("{detail}")]
    TooManyRequests { retry_after_secs: u64, detail: String },
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Unavailable(String),
    /// Stored clinical text that does not decrypt where it is: moved to
    /// another row or practice, altered, or written outside Tandem.
    #[error("this record's text does not decrypt: it was moved, altered or written outside Tandem; the attempt is in the access log")]
    Undecryptable,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn invalid(field: &str, message: &str) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Undecryptable | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the person is told. Internal errors say nothing about their cause.
    pub fn detail(&self) -> String {
        match self {
            Self::NotFound => "There is nothing here, or you may not see it.".into(),
            Self::Unauthenticated => "Sign in, or send a valid API token.".into(),
            Self::PreconditionRequired => {
                "Send If-Match with the ETag of the version you edited.".into()
            }
            Self::PreconditionFailed => {
                "Someone else changed this since you loaded it. Reload it, compare, and try again.".into()
            }
            Self::Invalid(errors) => errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; "),
            Self::Internal(_) => "Something went wrong on our side. It has been logged.".into(),
            Self::Undecryptable => "This record's text does not decrypt: it was moved, altered or written outside Tandem. Nothing of it is shown; the attempt is in the access log.".into(),
            other => other.to_string(),
        }
    }

    /// Seconds to wait before trying again, for the Retry-After header.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::TooManyRequests { retry_after_secs, .. } => Some(*retry_after_secs),
            Self::Unavailable(_) => Some(RETRY_AFTER_SECONDS),
            _ => None,
        }
    }

    /// Logs an internal error's cause (once, in the request's span).
    pub fn log(&self) {
        if let Self::Internal(err) = self {
            tracing::error!(error = format!("{err:#}"), "request failed");
        }
    }
}

/// What a caller is told while the database cannot serve: a 503 with
/// Retry-After, so clients and load balancers try again instead of giving up.
pub const DATABASE_UNAVAILABLE: &str = "The database is unavailable just now, so nothing was read or changed. Try again shortly.";

/// Seconds a client should wait before trying again after a 503.
pub const RETRY_AFTER_SECONDS: u64 = 5;

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        if database_unavailable(&err) {
            tracing::warn!(error = %err, "database unavailable");
            Self::Unavailable(DATABASE_UNAVAILABLE.into())
        } else {
            Self::Internal(anyhow::Error::new(err))
        }
    }
}

/// Whether `err` says the database cannot serve just now (unreachable,
/// restarting, out of connections, out of disk, locked) rather than that
/// the request was wrong or Tandem has a bug: the former is a 503 that
/// ends when the fault does.
pub fn database_unavailable(err: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx::Error as Sqlx};
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => match e.as_ref() {
            Sqlx::Io(_) | Sqlx::Tls(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::WorkerCrashed => true,
            Sqlx::Database(db) => db.code().is_some_and(|code| unavailable_code(&code)),
            _ => false,
        },
        _ => false,
    }
}

fn unavailable_code(code: &str) -> bool {
    // PostgreSQL SQLSTATE: 08 connection exception, 53 insufficient
    // resources (disk full, out of memory, too many connections), 57P0x the
    // server is shutting down or starting.
    if code.len() == 5 && (code.starts_with("08") || code.starts_with("53") || code.starts_with("57P0")) {
        return true;
    }
    // SQLite result codes (extended codes keep the primary one in the low
    // byte): BUSY, LOCKED, IOERR, FULL, CANTOPEN, READONLY, PROTOCOL.
    code.parse::<i32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6 | 8 | 10 | 13 | 14 | 15))
}

impl From<tower_sessions::session::Error> for AppError {
    fn from(err: tower_sessions::session::Error) -> Self {
        use tower_sessions::{session::Error, session_store::Error as Store};
        match &err {
            Error::Store(Store::Backend(message)) if message.starts_with(DATABASE_UNAVAILABLE) => {
                Self::Unavailable(DATABASE_UNAVAILABLE.into())
            }
            _ => Self::Internal(anyhow::anyhow!("session: {err}")),
        }
    }
}

/// Turns a unique-constraint violation into a 409 naming the field; any other
/// database error stays internal.
pub fn on_unique(err: DbErr, field: &str, message: &str) -> AppError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => {
            AppError::Conflict(format!("{field}: {message}"))
        }
        _ => err.into(),
    }
}

#[derive(Serialize)]
struct Problem {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'static str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FieldError>,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        let status = self.status();
        let problem = Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: self.detail(),
            errors: match &self {
                Self::Invalid(errors) => errors.clone(),
                _ => Vec::new(),
            },
        };
        let mut response = (status, Json(problem)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = self.retry_after() {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(err) => AppError::Invalid(vec![FieldError::new(
                "body",
                std::error::Error::source(&err)
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| err.body_text()),
            )]),
            JsonRejection::JsonSyntaxError(_) => {
                AppError::BadRequest("The request body is not valid JSON.".into())
            }
            JsonRejection::BytesRejection(err) if err.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                AppError::TooLarge(crate::input::MAX_BODY_BYTES)
            }
            JsonRejection::MissingJsonContentType(_) => AppError::BadRequest(
                "Send the body as JSON with Content-Type: application/json.".into(),
            ),
            other => AppError::BadRequest(other.body_text()),
        }
    }
}

/// A raw body that could not be read (an upload): too large, or cut off.
impl From<BytesRejection> for AppError {
    fn from(rejection: BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::TooLarge(crate::input::MAX_BODY_BYTES)
        } else {
            AppError::BadRequest(rejection.body_text())
        }
    }
}

impl From<FormRejection> for AppError {
    fn from(rejection: FormRejection) -> Self {
        match rejection {
            FormRejection::FailedToDeserializeForm(err) => {
                AppError::Invalid(vec![FieldError::new("form", err.body_text())])
            }
            other => AppError::BadRequest(other.body_text()),
        }
    }
}

impl From<QueryRejection> for AppError {
    fn from(rejection: QueryRejection) -> Self {
        AppError::Invalid(vec![FieldError::new("query", rejection.body_text())])
    }
}

impl From<PathRejection> for AppError {
    // A malformed id cannot name anything the caller may see.
    fn from(_: PathRejection) -> Self {
        AppError::NotFound
    }
}

pub type AppResult<T> = Result<T, AppError>;
