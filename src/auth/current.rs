use entity::ids::{CoupleId, MemberId, PracticeId};
use axum::{
    extract::{FromRequestParts, OptionalFromRequestParts, RawPathParams},
    http::{Method, header, request::Parts},
};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;
use uuid::Uuid;

use entity::{members, practices};

use super::{AUTH_KEY, csrf, tokens};
use crate::{
    state::AppState,
    error::AppError,
    practice::{Member, Practice, Roles},
    scope::PracticeScope,
};

/// What a browser session remembers about the person signed in to it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuthState {
    pub member_id: MemberId,
    pub practice_id: PracticeId,
    /// Unix seconds; the absolute timeout counts from here.
    pub signed_in_at: i64,
    /// Unix seconds; refreshed at most once a minute.
    pub last_seen_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    Session,
    Token { token_id: Uuid },
}

/// The signed-in member a request acts for, with their practice's scope.
/// Domain views only: no row models, no password hash.
#[derive(Clone, Debug)]
pub struct CurrentMember {
    pub member: Member,
    pub practice: Practice,
    pub roles: Roles,
    pub scope: PracticeScope,
    pub method: AuthMethod,
}

impl CurrentMember {
    pub fn id(&self) -> MemberId {
        self.member.id
    }

    pub fn require(&self, role: crate::practice::Role) -> Result<(), AppError> {
        if self.roles.contains(role) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!("This needs the {} role.", role.as_str())))
        }
    }
}

/// Gives the session of the request; the session layer wraps every route.
pub(crate) async fn session_of(parts: &mut Parts, state: &AppState) -> Result<Session, AppError> {
    Session::from_request_parts(parts, state)
        .await
        .map_err(|(_, msg)| AppError::Internal(anyhow::anyhow!("session layer missing: {msg}")))
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

pub(crate) async fn authenticate(parts: &mut Parts, state: &AppState, api: bool) -> Result<CurrentMember, AppError> {
    let current = credential_holder(parts, state, api).await;
    if current.is_err() {
        // A practice entered on the credential's word (a hint, or the
        // session's own state before the member was found inactive) is
        // left: the request goes on, if at all, acting in none.
        crate::tenant::leave();
    }
    current
}

async fn credential_holder(parts: &mut Parts, state: &AppState, api: bool) -> Result<CurrentMember, AppError> {
    if parts.headers.contains_key(header::AUTHORIZATION) {
        let named = if api && !is_unsafe(&parts.method) { named_couple(parts, state).await } else { None };
        // A request that names a credential is judged by it alone; it never
        // falls back to a cookie.
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(AppError::Unauthenticated)?;
        let (token, member) = tokens::authenticate(state, presented.trim(), named).await?;
        return member_in_practice(member, AuthMethod::Token { token_id: token.id });
    }

    let session = session_of(parts, state).await?;
    let Some(mut auth) = session
        .get::<AuthState>(AUTH_KEY)
        .await
        ?
    else {
        return Err(AppError::Unauthenticated);
    };
    let now = state.clock.now().unix_timestamp();
    let expired = now - auth.signed_in_at > state.config.session_max().whole_seconds()
        || now - auth.last_seen_at > state.config.session_idle().whole_seconds();
    if expired {
        end(&session).await?;
        return Err(AppError::Unauthenticated);
    }
    crate::tenant::enter(auth.practice_id);
    let scope = PracticeScope::trusted(auth.practice_id);
    let Some(member) = active_member(&state.db, scope, auth.member_id).await? else {
        end(&session).await?;
        return Err(AppError::Unauthenticated);
    };
    if api && is_unsafe(&parts.method) {
        // Cookies ride along on cross-site requests; a header a page on
        // another site cannot set proves the request came from our pages.
        let presented = parts
            .headers
            .get(csrf::HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        csrf::verify(&session, presented).await?;
    }
    if now - auth.last_seen_at >= 60 {
        auth.last_seen_at = now;
        session
            .insert(AUTH_KEY, &auth)
            .await
            ?;
    }
    if let Some(id) = session.id() {
        state.session_practices.remember(&super::session_store::key(&id), auth.practice_id.uuid());
    }
    member_in_practice(member, AuthMethod::Session)
}

/// The couple a read's path names (`/couples/{couple_id}/...`): the token's
/// statement reads it ahead for the access decision.
async fn named_couple(parts: &mut Parts, state: &AppState) -> Option<CoupleId> {
    let params = RawPathParams::from_request_parts(parts, state).await.ok()?;
    let (_, value) = params.iter().find(|(name, _)| *name == "couple_id")?;
    Uuid::parse_str(value).ok().map(CoupleId::from)
}

/// Member `id` of the practice `scope` with their practice, in one
/// statement, if they are still active.
pub(crate) async fn active_member(
    db: &impl ConnectionTrait,
    scope: PracticeScope,
    id: MemberId,
) -> Result<Option<(members::Model, practices::Model)>, AppError> {
    match scope.by_id::<members::Entity>(id).find_also_related(practices::Entity).one(db).await? {
        Some((member, _)) if !member.active => Ok(None),
        Some((member, Some(practice))) => Ok(Some((member, practice))),
        Some((_, None)) => Err(anyhow::anyhow!("member without practice").into()),
        None => Ok(None),
    }
}

fn member_in_practice((member, practice): (members::Model, practices::Model), method: AuthMethod) -> Result<CurrentMember, AppError> {
    let roles = Roles::from_stored(&member.roles).map_err(|e| anyhow::anyhow!("stored roles: {e}"))?;
    Ok(CurrentMember {
        scope: PracticeScope::trusted(member.practice_id),
        member: member.into(),
        practice: practice.into(),
        roles,
        method,
    })
}

/// Signs the browser session in as `member`: a new session id (so an id
/// planted before sign-in is worthless), a new CSRF token, fresh timestamps.
pub async fn establish(session: &Session, state: &AppState, member: &Member) -> Result<(), AppError> {
    session.cycle_id().await.map_err(|e| anyhow::anyhow!("cycling session id: {e}"))?;
    let now = state.clock.now().unix_timestamp();
    let auth = AuthState {
        member_id: member.id,
        practice_id: member.practice_id,
        signed_in_at: now,
        last_seen_at: now,
    };
    session
        .insert(AUTH_KEY, &auth)
        .await
        ?;
    csrf::rotate(session).await?;
    Ok(())
}

/// Signs the session out and forgets everything in it.
pub async fn end(session: &Session) -> Result<(), AppError> {
    session.flush().await.map_err(|e| anyhow::anyhow!("ending session: {e}"))?;
    Ok(())
}

impl FromRequestParts<AppState> for CurrentMember {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        authenticate(parts, state, true).await
    }
}

impl OptionalFromRequestParts<AppState> for CurrentMember {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Option<Self>, Self::Rejection> {
        match authenticate(parts, state, true).await {
            Ok(member) => Ok(Some(member)),
            Err(AppError::Unauthenticated) => Ok(None),
            Err(other) => Err(other),
        }
    }
}
