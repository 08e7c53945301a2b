//! Liveness and readiness probes.

use axum::http::StatusCode;

use crate::{both, helpers::*};

async fn ready_while_the_database_answers(app: TestApp) {
    let mut probe = app.client();
    assert_eq!(probe.get("/healthz").await.status, StatusCode::OK);
    let ready = probe.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.json()["status"], "ready");

    app.state.db.pool().close_by_ref().await.unwrap();
    let ready = probe.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.header("content-type"), Some("application/problem+json"));
    // The process itself is still alive.
    assert_eq!(probe.get("/healthz").await.status, StatusCode::OK);
}

/// Shutdown turns readiness to 503 first, while requests are still served,
/// so a load balancer stops sending new ones before the listener closes.
/// Before, readiness stayed 200 while draining.
async fn not_ready_while_draining(app: TestApp) {
    let mut probe = app.client();
    assert_eq!(probe.get("/readyz").await.status, StatusCode::OK);
    app.state.start_draining();
    let ready = probe.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(ready.header("retry-after").is_some());
    assert_eq!(probe.get("/healthz").await.status, StatusCode::OK, "still serving");
}

both!(ready_while_the_database_answers, not_ready_while_draining);
