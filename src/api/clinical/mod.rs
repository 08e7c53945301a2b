//! Routes for clinical records. Every handler starts with
//! `access::couple(...)`; the records module only accepts what it returns.
//! Responses carry `Cache-Control: no-store` (set for every response by the
//! HTTP layers) and, for editable records, an `ETag`.

mod access_log;
mod boundaries;
mod consents;
mod contract;
mod couples;
mod pdfs;
mod plans;
mod recovery;
mod sessions;
mod safety_gate;
mod craft;
mod lapse_steps;
mod session_prep;

use axum::{
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;

use crate::{
    state::AppState,
    records::common::{Versioned, etag},
};

/// Clinical routes, each wrapped by the access log.
pub fn routes(state: AppState) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(couples::routes())
        .merge(sessions::routes())
        .merge(boundaries::routes())
        .merge(plans::routes())
        .merge(recovery::routes())
        .merge(contract::routes())
        .merge(access_log::routes())
        .merge(pdfs::routes())
        .merge(consents::routes())
        .merge(safety_gate::routes())
        .merge(craft::routes())
        .merge(lapse_steps::routes())
        .merge(session_prep::routes())
        // A panic becomes a 500 inside the access log, so it is recorded too.
        .route_layer(crate::http::catch_panics())
        .route_layer(axum::middleware::from_fn_with_state(state, crate::audit::context::record_requests))
}

/// A JSON body with the ETag of the version it shows.
pub struct Tagged<T>(pub T);

impl<T: Serialize + Versioned> IntoResponse for Tagged<T> {
    fn into_response(self) -> Response {
        let mut headers = HeaderMap::new();
        headers.insert(header::ETAG, etag(self.0.version()));
        (headers, axum::Json(self.0)).into_response()
    }
}
