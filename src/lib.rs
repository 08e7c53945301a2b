//! Tandem: case management for counselors who work with couples in which one
//! partner is in recovery. [`app`] builds the whole HTTP service from an
//! [`AppState`]; `main` only wires configuration to it, and tests drive it
//! without a socket.

pub mod access;
pub mod api;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod config;
pub mod db;
pub mod demo;
pub mod error;
mod health;
mod http;
pub mod practice;
pub mod records;
pub mod scope;
pub mod secret;
pub mod telemetry;
pub mod web;

use std::sync::Arc;

use axum::Router;
use sea_orm::DatabaseConnection;

use crate::{clock::Clock, config::Config};

/// Everything a request handler may reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    /// Signs access-log checkpoints; read from a file outside the database.
    pub checkpoint_key: Arc<audit::checkpoints::CheckpointKey>,
}

impl AppState {
    pub fn new(
        db: DatabaseConnection,
        config: Config,
        clock: Arc<dyn Clock>,
        checkpoint_key: audit::checkpoints::CheckpointKey,
    ) -> Self {
        Self { db, config: Arc::new(config), clock, checkpoint_key: Arc::new(checkpoint_key) }
    }
}

/// The complete service: pages, API, health checks and the layers around them.
pub fn app(state: AppState) -> Router {
    let routes = Router::new()
        .merge(web::routes())
        .merge(api::router(state.clone()))
        .merge(health::routes());
    http::wrap(routes, state)
}
