//! Tandem: case management for counselors who work with couples in which one
//! partner is in recovery. [`app`] builds the whole HTTP service from an
//! [`AppState`]; `main` only wires configuration to it, and tests drive it
//! without a socket. This file declares the modules and composes the
//! service; ARCHITECTURE.md says which layer each module belongs to.

pub mod access;
pub mod api;
pub mod audit;
pub mod backup;
pub mod auth;
pub mod background;
pub mod clock;
pub mod config;
pub mod db;
pub mod demo;
pub mod display;
pub mod error;
mod health;
pub mod http;
pub mod input;
pub mod metrics;
pub mod pdf;
pub mod practice;
pub mod records;
mod key_file;
pub mod scope;
pub mod sealed;
pub mod serve;
pub mod secret;
pub mod sso;
pub mod state;
pub mod telemetry;
pub mod tenant;
pub mod vault;
pub mod web;

use axum::Router;

use crate::state::AppState;

/// The complete service: pages, API, health checks and the layers around them.
pub fn app(state: AppState) -> Router {
    app_with_clinical_routes(state, Router::new())
}

/// The service with more routes about couples' records, audited like
/// Tandem's own: for tests that need a handler Tandem does not have (one
/// that panics, or one that waits on an event).
#[doc(hidden)]
pub fn app_with_clinical_routes(state: AppState, extra: Router<AppState>) -> Router {
    let mut routes = Router::new()
        .merge(web::routes(state.clone()))
        .merge(api::router(state.clone()))
        .merge(health::routes());
    if extra.has_routes() {
        routes = routes.merge(web::audited(extra, state.clone()));
    }
    http::wrap(routes, state, web::error_page)
}
