//! The pages of single sign-on: a practice's own sign-in address, the start
//! of a sign-in (off to the provider) and the callback (back from it).

use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tower_sessions::Session;
use uuid::Uuid;

use entity::practices;

use super::{PageResult, sign_in_view};
use crate::{
    AppState,
    web::Path,
    audit::RequestMeta,
    auth::{AUTH_KEY, AuthState, current::establish},
    error::AppError,
    practice::invitations,
    sso::flow::{self, Callback, Failure, SESSION_PROVIDER, SESSION_STATE},
};

fn session_error(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(anyhow::anyhow!("session: {e}"))
}

pub(crate) async fn practice_by_slug(state: &AppState, slug: &str) -> Result<Option<practices::Model>, AppError> {
    let slug = slug.trim().to_lowercase();
    if slug.is_empty() {
        return Ok(None);
    }
    Ok(practices::Entity::find().filter(practices::Column::Slug.eq(slug)).one(&state.db).await?)
}

async fn practice_or_404(state: &AppState, slug: &str) -> Result<practices::Model, AppError> {
    practice_by_slug(state, slug).await?.ok_or(AppError::NotFound)
}

/// `/p/{slug}/sign-in`: the address a practice gives its members.
pub async fn practice_sign_in(State(state): State<AppState>, Path(slug): Path<String>) -> PageResult {
    let practice = practice_or_404(&state, &slug).await?;
    Ok(Redirect::to(&format!("/sign-in?practice={}", practice.slug)).into_response())
}

/// Sends the browser to the provider. A provider that cannot be reached
/// gets a page saying so (503); the sign-in page itself never asks it.
pub async fn start(
    State(state): State<AppState>,
    session: Session,
    Path((slug, provider_id)): Path<(String, Uuid)>,
) -> PageResult {
    let practice = practice_or_404(&state, &slug).await?;
    off_to_provider(&state, &session, &practice, provider_id, None).await
}

/// `/join/{token}/sso/{provider}`: accepts an invitation with the practice's
/// provider; the callback checks that the provider vouches for the invited
/// email address.
pub async fn join(
    State(state): State<AppState>,
    session: Session,
    Path((token, provider_id)): Path<(String, Uuid)>,
) -> PageResult {
    let Some((invitation, practice)) = invitations::find_open(&state, &token).await? else {
        return Err(AppError::Conflict(invitations::INVITATION_GONE.into()).into());
    };
    off_to_provider(&state, &session, &practice, provider_id, Some(invitation.id)).await
}

/// Starts the flow, binds its state to this browser's session and sends the
/// browser to the provider.
async fn off_to_provider(
    state: &AppState,
    session: &Session,
    practice: &practices::Model,
    provider_id: Uuid,
    invitation: Option<Uuid>,
) -> PageResult {
    let earlier = session.get::<String>(SESSION_STATE).await.map_err(session_error)?;
    let started = flow::start(state, practice, provider_id, earlier.as_deref(), invitation).await?;
    session.insert(SESSION_STATE, &started.state).await.map_err(session_error)?;
    Ok(Redirect::to(&started.authorize_url).into_response())
}

/// Back from the provider: sign the member in, or say why not on the
/// practice's sign-in page.
pub async fn callback(
    State(state): State<AppState>,
    session: Session,
    meta: RequestMeta,
    Path(slug): Path<String>,
    Query(query): Query<Callback>,
) -> PageResult {
    let practice = practice_or_404(&state, &slug).await?;
    // Whatever happens, this browser's sign-in is over.
    let bound = session.remove::<String>(SESSION_STATE).await.map_err(session_error)?;
    match flow::finish(&state, &practice, query, bound, &meta).await {
        Ok(signed_in) => {
            establish(&session, &state, &signed_in.member).await?;
            session.insert(SESSION_PROVIDER, signed_in.provider_id).await.map_err(session_error)?;
            Ok(Redirect::to("/").into_response())
        }
        Err(Failure::Refused(refusal)) => {
            let mut page = sign_in_view(&state, &session, practice.slug, String::new(), Some(refusal.message)).await?;
            *page.status_mut() = StatusCode::FORBIDDEN;
            Ok(page)
        }
        Err(Failure::Error(err)) => Err(err.into()),
    }
}

/// For a session signed in with a provider that offers sign-out: where to
/// send the browser, and the provider's name. Read before the session ends.
pub async fn end_session_after_sign_out(state: &AppState, session: &Session) -> Result<Option<(String, String)>, AppError> {
    let Some(provider_id) = session.get::<Uuid>(SESSION_PROVIDER).await.map_err(session_error)? else {
        return Ok(None);
    };
    let Some(auth) = session.get::<AuthState>(AUTH_KEY).await.map_err(session_error)? else {
        return Ok(None);
    };
    let Some(practice) = practices::Entity::find_by_id(auth.practice_id).one(&state.db).await? else {
        return Ok(None);
    };
    Ok(flow::end_session_url(state, &practice, provider_id).await)
}
