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
pub mod input;
pub mod pdf;
pub mod practice;
pub mod records;
mod key_file;
pub mod scope;
pub mod sealed;
pub mod serve;
pub mod secret;
pub mod sso;
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
    /// Every signed checkpoint, also kept outside the database.
    pub journal: audit::journal::Journal,
    /// Stores the events of reads, several per commit.
    pub appender: audit::appender::Appender,
    /// Seals secrets stored in the database; read from a file outside it.
    pub sealing_key: Arc<sealed::SealingKey>,
    /// Identity providers' discovery documents and keys, cached in this process.
    pub sso: Arc<sso::Discovery>,
    /// Always true in the service. Only the benchmark harness turns it off,
    /// to measure what auditing reads costs; no setting reaches it.
    audit_reads: bool,
    /// Set when shutdown begins: readiness answers 503 so load balancers
    /// stop sending requests while those in flight finish.
    draining: Arc<std::sync::atomic::AtomicBool>,
}

impl AppState {
    pub fn new(
        db: DatabaseConnection,
        config: Config,
        clock: Arc<dyn Clock>,
        checkpoint_key: audit::checkpoints::CheckpointKey,
        sealing_key: sealed::SealingKey,
    ) -> Self {
        // Must run inside a Tokio runtime: it starts the access-log appender.
        let appender = audit::appender::Appender::start(db.clone(), config.database_url.expose().clone());
        let sso = sso::Discovery::new(
            std::time::Duration::from_secs(config.sso_http_timeout_seconds.max(1)),
            time::Duration::minutes(config.sso_discovery_cache_minutes.into()),
            config.sso_allow_insecure_issuers,
        );
        let journal = audit::journal::Journal::new(config.audit_journal_path());
        Self {
            db,
            journal,
            config: Arc::new(config),
            clock,
            checkpoint_key: Arc::new(checkpoint_key),
            appender,
            sealing_key: Arc::new(sealing_key),
            sso: Arc::new(sso),
            audit_reads: true,
            draining: Arc::default(),
        }
    }

    /// For the benchmark harness only: the same service without the events
    /// of reads, as the baseline that auditing is measured against.
    #[doc(hidden)]
    pub fn without_read_auditing_for_benchmarks(mut self) -> Self {
        self.audit_reads = false;
        self
    }

    /// Shutdown has begun: report not ready, finish what is in flight.
    pub fn start_draining(&self) {
        self.draining.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub(crate) fn audits_reads(&self) -> bool {
        self.audit_reads
    }
}

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
    http::wrap(routes, state)
}
