//! The layers every request passes through, outermost first: request id,
//! trace span, timeout, body limit, security headers, sessions, and the
//! cross-site check. Spans carry the method, the matched route template and
//! the request id; never the raw URI (links carry secrets) nor a body.
//!
//! This is the HTTP layer under both front ends: `api` and `web` use its
//! extractors ([`extract`]) and `lib.rs` wraps their routes with [`wrap`].
//! It knows neither of them: errors on a page's path are drawn by the
//! [`ErrorPage`] function `wrap` is given.

pub mod extract;

use std::time::Duration;

use axum::{
    Router,
    extract::{DefaultBodyLimit, MatchedPath, Request, State},
    http::{HeaderName, HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use tower::ServiceBuilder;
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
    timeout::TimeoutLayer,
    trace::TraceLayer,
};
use tower_sessions::{SessionManagerLayer, cookie::SameSite};
use tracing::{Span, field::Empty};

use crate::{auth::session_store::DbSessionStore, error::AppError, state::AppState};

/// Draws an error for a browser (not under `/api/`): the web layer's error
/// page, handed to [`wrap`] by `lib.rs`.
pub type ErrorPage = fn(AppError) -> Response;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub use crate::input::MAX_BODY_BYTES;

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn session_cookie_name(https: bool) -> &'static str {
    // The __Host- prefix makes browsers refuse the cookie unless it is Secure,
    // host-only and for the whole site.
    if https { "__Host-tandem_session" } else { "tandem_session" }
}

pub fn wrap(routes: Router<AppState>, state: AppState, error_page: ErrorPage) -> Router {
    let https = state.config.is_https();
    let sessions = SessionManagerLayer::new(DbSessionStore::new(
        state.db.clone(),
        state.clock.clone(),
        state.config.session_idle(),
        state.session_practices.clone(),
    ))
    .with_name(session_cookie_name(https))
    .with_secure(https)
    .with_http_only(true)
    .with_same_site(SameSite::Lax)
    .with_path("/");

    let trace = TraceLayer::new_for_http()
        .make_span_with(|req: &Request| {
            let request_id = req
                .headers()
                .get(&REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), route = Empty, request_id = %request_id)
        })
        .on_request(())
        .on_response(|res: &Response, latency: Duration, _span: &Span| {
            tracing::info!(status = res.status().as_u16(), latency_ms = latency.as_millis() as u64, "response");
        });

    let hsts = https.then(|| HeaderValue::from_static("max-age=31536000; includeSubDomains"));

    // Route layers run only for matched routes, innermost first: the
    // request's unit of work commits before the session layer stores the
    // session (which may name a member the request created), and the route
    // is recorded before the session layer opens a span of its own.
    let routes = routes
        .route_layer(middleware::from_fn_with_state(error_page, unit_of_work))
        .route_layer(sessions)
        .route_layer(middleware::from_fn(record_route))
        .fallback(move |req: Request| async move { error_for(&req, AppError::NotFound, error_page) })
        .layer(catch_panics())
        .layer(middleware::from_fn_with_state((state.clone(), error_page), same_origin))
        .layer(middleware::from_fn_with_state(error_page, refuse_control_characters))
        .layer(middleware::from_fn_with_state(error_page, refuse_undecodable_bodies))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));

    routes
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(trace)
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                // Every 503 (a timeout, a database outage, draining) tells
                // clients when to try again.
                .layer(SetResponseHeaderLayer::if_not_present(header::RETRY_AFTER, |res: &Response| {
                    (res.status() == StatusCode::SERVICE_UNAVAILABLE)
                        .then(|| HeaderValue::from(crate::error::RETRY_AFTER_SECONDS))
                }))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::SERVICE_UNAVAILABLE,
                    Duration::from_secs(state.config.request_timeout_seconds),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(CONTENT_SECURITY_POLICY),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::X_FRAME_OPTIONS,
                    HeaderValue::from_static("DENY"),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("no-referrer"),
                ))
                // Records of care must not linger in shared or proxy caches;
                // the stylesheet opts out of this explicitly.
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("no-store"),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::STRICT_TRANSPORT_SECURITY,
                    hsts,
                )),
        )
        .layer(middleware::from_fn(measure))
        .with_state(state)
}

/// Each request is one unit of work on the database: on PostgreSQL its
/// statements share one transaction that carries its practice (see
/// `tenant`) and commits here, before the response leaves. A failed commit
/// answers an error, never the success the handler had prepared.
async fn unit_of_work(State(error_page): State<ErrorPage>, req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let (response, committed) = crate::tenant::scope(next.run(req)).await;
    match committed {
        Ok(()) => response,
        // The handler already answered an error, which stays the answer.
        Err(err) if response.status().is_client_error() || response.status().is_server_error() => {
            tracing::warn!(error = %err, status = %response.status(), "the request's work was not stored");
            response
        }
        Err(err) => {
            tracing::error!(error = %err, "could not commit the request's work");
            let err = AppError::from(err);
            if api { err.into_response() } else { error_page(err) }
        }
    }
}

async fn record_route(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    if let Some(path) = &route {
        Span::current().record("route", path.as_str());
    }
    let mut response = next.run(req).await;
    // Handed out to `measure`, which sees only the response.
    if let Some(path) = route {
        response.extensions_mut().insert(path);
    }
    response
}

/// Counts and times every request by method, route template and status
/// (the outermost layer, so timeouts and refusals count too). A request
/// that matched no route counts as `unmatched`: the raw path, which
/// carries ids and tokens, is never a label.
async fn measure(req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let method = match *req.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    let response = next.run(req).await;
    let route = response.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let status = response.status().as_str().to_owned();
    metrics::counter!(crate::metrics::HTTP_REQUESTS, "method" => method, "route" => route.clone(), "status" => status.clone()).increment(1);
    metrics::histogram!(crate::metrics::HTTP_DURATION, "method" => method, "route" => route, "status" => status)
        .record(started.elapsed().as_secs_f64());
    response
}

/// An API error as problem+json, anything else as an HTML page.
fn error_for(req: &Request, err: AppError, error_page: ErrorPage) -> Response {
    if req.uri().path().starts_with("/api/") { err.into_response() } else { error_page(err) }
}

/// Paths and query strings carry no control characters: they name records
/// and filter lists, and PostgreSQL refuses NUL in text (see crate::input).
async fn refuse_control_characters(State(error_page): State<ErrorPage>, req: Request, next: Next) -> Response {
    let uri = req.uri();
    let path = percent_encoding::percent_decode_str(uri.path()).decode_utf8_lossy();
    let bad_path = crate::input::check_single_line(&path).is_err();
    let bad_query = uri.query().is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .any(|(k, v)| crate::input::check_single_line(&k).is_err() || crate::input::check_single_line(&v).is_err())
    });
    if bad_path || bad_query {
        let field = if bad_path { "path" } else { "query" };
        return error_for(&req, AppError::invalid(field, crate::input::CONTROL_CHARACTERS), error_page);
    }
    next.run(req).await
}

/// Tandem reads bodies as they come, in UTF-8: a compressed body or another
/// character set would be misread, so it is refused (415) rather than
/// accepted silently.
async fn refuse_undecodable_bodies(State(error_page): State<ErrorPage>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let encoded = headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| !v.to_str().is_ok_and(|v| v.trim().eq_ignore_ascii_case("identity")));
    let charset = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').skip(1).find_map(|p| p.trim().strip_prefix("charset=").map(|c| c.trim_matches('"').to_ascii_lowercase())));
    let other_charset = charset.is_some_and(|c| c != "utf-8" && c != "utf8");
    if encoded || other_charset {
        let why = if encoded { "Send the body uncompressed (no Content-Encoding)." } else { "Send the body in UTF-8." };
        return error_for(&req, AppError::UnsupportedMediaType(why.into()), error_page);
    }
    next.run(req).await
}

/// A handler that panicked answers a generic 500 (problem+json) instead of
/// a dropped connection; the panic is logged inside the request's span.
pub fn catch_panics() -> tower_http::catch_panic::CatchPanicLayer<fn(Box<dyn std::any::Any + Send>) -> Response> {
    tower_http::catch_panic::CatchPanicLayer::custom(panic_response as fn(Box<dyn std::any::Any + Send>) -> Response)
}

fn panic_response(panic: Box<dyn std::any::Any + Send>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    AppError::Internal(anyhow::anyhow!("a request handler panicked: {message}")).into_response()
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Refuses state-changing browser requests that another site started: the
/// first of the two CSRF defences (the second, the session's token, is
/// `auth::csrf` and the forms' extractor in `web`).
async fn same_origin(State((state, error_page)): State<(AppState, ErrorPage)>, req: Request, next: Next) -> Response {
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
            return error_for(&req, err, error_page);
        }
    }
    next.run(req).await
}
