//! Probes for orchestrators: `/healthz` says the process answers, `/readyz`
//! says it can reach its database and so can serve requests.

use std::time::Duration;

use axum::{Json, Router, extract::State, routing::get};
use serde_json::{Value, json};

use crate::{AppState, error::AppError};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(live))
        .route("/readyz", get(ready))
}

async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn ready(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    match tokio::time::timeout(Duration::from_secs(2), state.db.ping()).await {
        Ok(Ok(())) => Ok(Json(json!({ "status": "ready" }))),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness check: database unreachable");
            Err(AppError::Unavailable("The database is not reachable.".into()))
        }
        Err(_) => {
            tracing::warn!("readiness check: database timed out");
            Err(AppError::Unavailable("The database did not answer in time.".into()))
        }
    }
}
