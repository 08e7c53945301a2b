//! The per-request side of the access log: what the access module learned
//! about the caller, the request's write transaction, and the layer that
//! turns both into one appended event before the response leaves.

use entity::ids::{CoupleId, MemberId, PracticeId};
use std::sync::{Arc, Mutex};

use axum::{
    body::Body,
    extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State},
    http::{StatusCode, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};
use http_body_util::BodyExt;
use sea_orm::{DatabaseTransaction, DbErr};
use uuid::Uuid;

use super::{chain::NewEvent, describe::describe};
use crate::{state::AppState, auth::ClientAddr, error::AppError};

/// Who acted, as the access module established it.
#[derive(Clone, Debug)]
pub struct Actor {
    pub practice_id: PracticeId,
    pub member_id: MemberId,
    /// care_team, supervisor, partner_a, partner_b, emergency; or, with no
    /// relation, the member's practice roles.
    pub role: String,
    pub couple_id: Option<CoupleId>,
    /// The access check said no.
    pub denied: bool,
    pub emergency: bool,
    pub reason: Option<String>,
    /// Overrides what the route says the record is (for routes that are not
    /// about one couple's records, such as the access log itself).
    pub kind: Option<&'static str>,
    /// Overrides the action the route implies (an export is read with GET).
    pub action: Option<&'static str>,
    /// What a change to who can see what changed (see [`super::changes`]).
    pub detail: Option<String>,
}

#[derive(Default)]
struct Recorded {
    actor: Option<Actor>,
    txn: Option<Arc<DatabaseTransaction>>,
    /// The record a page's form created (an API POST names it in its body).
    created: Option<Uuid>,
}

struct Inner {
    meta: RequestMeta,
    recorded: Mutex<Recorded>,
}

/// Where a request came from, as the access log records it.
#[derive(Clone, Debug, Default)]
pub struct RequestMeta {
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    pub user_agent: Option<String>,
}

impl FromRequestParts<AppState> for RequestMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let client = ClientAddr::from_request_parts(parts, state).await.unwrap_or(ClientAddr(None));
        let header_text = |name: &str| {
            parts.headers.get(name).and_then(|v| v.to_str().ok()).map(|v| v.chars().take(300).collect::<String>())
        };
        Ok(RequestMeta {
            request_id: header_text("x-request-id"),
            client_addr: client.0.map(|ip| ip.to_string()),
            user_agent: header_text(header::USER_AGENT.as_str()),
        })
    }
}

/// Carried in the request's extensions by [`record_requests`].
#[derive(Clone)]
pub struct AuditContext(Arc<Inner>);

impl AuditContext {
    pub fn set_actor(&self, actor: Actor) {
        self.0.recorded.lock().expect("audit context lock").actor = Some(actor);
    }

    /// Names what the request did when the route alone does not say it (a
    /// PDF is an export of a couple's records).
    pub fn describe_as(&self, kind: &'static str, action: &'static str) {
        if let Some(actor) = self.0.recorded.lock().expect("audit context lock").actor.as_mut() {
            actor.kind = Some(kind);
            actor.action = Some(action);
        }
    }

    /// Marks the request as a change to who can see what (a care team's
    /// members), with what it changed.
    pub fn changed_access(&self, action: &'static str, change: &super::changes::Change) {
        if let Some(actor) = self.0.recorded.lock().expect("audit context lock").actor.as_mut() {
            actor.action = Some(action);
            actor.detail = Some(change.to_detail());
        }
    }

    /// Names the record a form created, for pages that answer with a redirect.
    pub fn created(&self, id: impl Into<Uuid>) {
        self.0.recorded.lock().expect("audit context lock").created = Some(id.into());
    }

    /// Names the record a request was about when its route does not (a
    /// partner's plan PDF names that partner), so that who-viewed lists can
    /// tell whose it was.
    pub fn about(&self, id: impl Into<Uuid>) {
        self.created(id);
    }

    /// The request's write transaction, begun on first use. The event is
    /// appended to it and it commits after the handler, so the writes and
    /// their event land together or not at all.
    pub async fn write_txn(&self, db: &crate::tenant::Db) -> Result<Arc<DatabaseTransaction>, DbErr> {
        if let Some(txn) = self.0.recorded.lock().expect("audit context lock").txn.clone() {
            return Ok(txn);
        }
        let txn = Arc::new(super::begin_write(db).await?);
        self.0.recorded.lock().expect("audit context lock").txn = Some(txn.clone());
        Ok(txn)
    }

    /// A context for work done outside a request, such as `tandem demo`.
    pub fn offline() -> Self {
        Self(Arc::new(Inner { meta: RequestMeta::default(), recorded: Mutex::new(Recorded::default()) }))
    }

    /// Commits the write transaction of an offline context.
    pub async fn commit_offline(&self) -> Result<(), DbErr> {
        let recorded = self.take();
        match recorded.txn.map(Arc::try_unwrap) {
            Some(Ok(txn)) => txn.commit().await,
            Some(Err(_)) => Err(DbErr::Custom("the transaction is still in use".into())),
            None => Ok(()),
        }
    }

    fn take(&self) -> Recorded {
        std::mem::take(&mut *self.0.recorded.lock().expect("audit context lock"))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuditContext {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<AuditContext>()
            .cloned()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("audit layer missing on a clinical route")))
    }
}

fn unavailable() -> Response {
    AppError::Unavailable("The access log could not be written, so nothing is shown. Try again shortly.".into()).into_response()
}

/// Wraps clinical routes: every request that reached the access check
/// leaves exactly one event, stored before the response is sent.
pub async fn record_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let Ok(meta) = RequestMeta::from_request_parts(&mut parts, &state).await;
    let ctx = AuditContext(Arc::new(Inner { meta, recorded: Mutex::new(Recorded::default()) }));
    let method = parts.method.to_string();
    let route = parts.extensions.get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let params: Vec<(String, String)> = RawPathParams::from_request_parts(&mut parts, &state)
        .await
        .map(|raw| raw.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
        .unwrap_or_default();
    parts.extensions.insert(ctx.clone());

    let response = next.run(Request::from_parts(parts, body)).await;
    let status = response.status();
    // A page's form answers a change it made with a redirect (Post/Redirect/Get).
    let succeeded = status.is_success() || status.is_redirection();
    let recorded = ctx.take();
    let Some(actor) = recorded.actor else {
        // (A redirect without a decision shows nothing: the sign-in redirect.)
        if status.is_success() {
            // A clinical route answered without asking the access module:
            // a bug, and its response must not leave unrecorded.
            tracing::error!(route = %route, "clinical route answered without an access decision");
            return unavailable();
        }
        return response;
    };

    let described = describe(&method, &route, &params);
    let (response, created_id) = if method == "POST" && status == StatusCode::CREATED {
        created_id(response).await
    } else {
        (response, None)
    };
    let event = NewEvent {
        practice_id: actor.practice_id.uuid(),
        occurred_at: state.clock.now(),
        member_id: Some(actor.member_id.uuid()),
        role: actor.role,
        action: actor.action.unwrap_or(described.action).to_owned(),
        record_kind: Some(actor.kind.map(str::to_owned).unwrap_or(described.kind)),
        record_id: described.record_id.or(created_id).or(recorded.created),
        couple_id: actor.couple_id.map(CoupleId::uuid),
        // A record the caller may not see answers 404 like one that does not
        // exist; either way the caller was refused.
        outcome: if actor.denied || matches!(status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN) {
            "denied"
        } else if succeeded {
            "success"
        } else {
            "failed"
        }
        .to_owned(),
        status: status.as_u16(),
        client_addr: ctx.0.meta.client_addr.clone(),
        user_agent: ctx.0.meta.user_agent.clone(),
        request_id: ctx.0.meta.request_id.clone(),
        reason: actor.reason,
        emergency: actor.emergency,
        detail: actor.detail,
    };

    let txn = match recorded.txn.map(Arc::try_unwrap) {
        Some(Ok(txn)) => Some(txn),
        Some(Err(_)) => {
            tracing::error!(route = %route, "the request's transaction outlived its handler");
            return unavailable();
        }
        None => None,
    };
    let event = std::slice::from_ref(&event);
    let stored = match txn {
        Some(txn) if succeeded => match super::chain::append(&txn, event).await {
            Ok(()) => txn.commit().await,
            Err(err) => Err(err),
        },
        Some(txn) => {
            // A failed request's writes are undone; its event is stored alone.
            if let Err(err) = txn.rollback().await {
                tracing::warn!(error = %err, "rollback of a failed request");
            }
            super::record(&state.db, event).await
        }
        // A read's event joins the appender's next shared commit. The
        // request is done with its own transaction: a successful one commits
        // first, so its connection is not held while the event waits for
        // the shared commit (the event is stored either way; a failed
        // commit still answers an error).
        None => {
            let released = if succeeded { crate::tenant::commit_now().await } else { Ok(()) };
            let appended = state.appender.append(event[0].clone()).await;
            released.and(appended)
        }
    };
    match stored {
        Ok(()) => response,
        Err(err) => {
            tracing::error!(error = %err, route = %route, "could not store the access event");
            unavailable()
        }
    }
}

/// The id of a record a POST created, read from the response body.
async fn created_id(response: Response) -> (Response, Option<Uuid>) {
    let (parts, body) = response.into_parts();
    let Ok(collected) = body.collect().await else {
        return (AppError::Internal(anyhow::anyhow!("response body unreadable")).into_response(), None);
    };
    let bytes = collected.to_bytes();
    let id = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v.get("id").and_then(|id| id.as_str()).and_then(|s| Uuid::parse_str(s).ok()));
    (Response::from_parts(parts, Body::from(bytes)), id)
}
