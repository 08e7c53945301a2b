//! Probes for orchestrators: `/healthz` says the process answers, `/readyz`
//! says it can serve requests: PostgreSQL answers, or SQLite commits a write
//! (a readable file on a full disk, or behind a stuck writer, is not ready).
//! While the process drains for shutdown, `/readyz` answers 503 first.

use std::time::Duration;

use axum::{Json, Router, extract::State, routing::get};
use serde_json::{Value, json};

use crate::{state::AppState, error::AppError};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(live))
        .route("/readyz", get(ready))
}

async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn ready(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    if state.is_draining() {
        return Err(AppError::Unavailable("Tandem is shutting down.".into()));
    }
    match tokio::time::timeout(Duration::from_secs(2), crate::db::can_serve(state.db.pool(), state.clock.now())).await {
        Ok(Ok(())) => Ok(Json(json!({ "status": "ready" }))),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness check: the database cannot serve");
            Err(AppError::Unavailable("The database is not reachable or cannot store changes.".into()))
        }
        Err(_) => {
            tracing::warn!("readiness check: database timed out");
            Err(AppError::Unavailable("The database did not answer in time.".into()))
        }
    }
}
