//! The pages of single sign-on: a practice's own sign-in address, the start
//! of a sign-in (off to the provider) and the callback (back from it).

use askama::Template;
use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect},
};
use serde::Deserialize;
use tower_sessions::Session;
use uuid::Uuid;

use super::{PageResult, sign_in::sign_in_view};
use crate::{
    state::AppState,
    web::{CsrfForm, Path, SignedIn as SignedInMember},
    audit::RequestMeta,
    auth::{
        AUTH_KEY, AuthState, ClientAddr,
        csrf,
        current::establish,
        devices::DeviceCookie,
        sign_in,
    },
    error::AppError,
    practice::{Practice, invitations, practices},
    sso::flow::{self, Callback, Failure, Finished, PendingLink, Purpose, SESSION_PENDING_LINK, SESSION_PROVIDER, SESSION_STATE, SignedIn},
};

fn session_error(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(anyhow::anyhow!("session: {e}"))
}

/// The practice in the address; the request acts in it from here on.
async fn practice_or_404(state: &AppState, slug: &str) -> Result<Practice, AppError> {
    let practice = practices::by_slug(&state.db, slug).await?.ok_or(AppError::NotFound)?;
    crate::tenant::enter(practice.id);
    Ok(practice)
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
    off_to_provider(&state, &session, &practice, provider_id, Purpose::SignIn).await
}

/// `/join/{token}/sso/{provider}`: accepts an invitation with the practice's
/// provider; the callback checks that the provider vouches for the invited
/// email address.
pub async fn join(
    State(state): State<AppState>,
    session: Session,
    Path((token, provider_id)): Path<(String, Uuid)>,
) -> PageResult {
    let Some(invitation) = invitations::open(&state, &token).await? else {
        return Err(AppError::Conflict(invitations::INVITATION_GONE.into()).into());
    };
    off_to_provider(&state, &session, &invitation.practice, provider_id, Purpose::Join(invitation.id)).await
}

/// `/profile/sso/{provider}`: the signed-in member connects their own account
/// at one of the practice's providers.
pub async fn connect(
    State(state): State<AppState>,
    session: Session,
    SignedInMember(current): SignedInMember,
    Path(provider_id): Path<Uuid>,
    CsrfForm(_): CsrfForm<super::CsrfOnly>,
) -> PageResult {
    off_to_provider(&state, &session, &current.practice, provider_id, Purpose::Connect(current.id())).await
}

/// Starts the flow, binds its state to this browser's session and sends the
/// browser to the provider.
async fn off_to_provider(
    state: &AppState,
    session: &Session,
    practice: &Practice,
    provider_id: Uuid,
    purpose: Purpose,
) -> PageResult {
    let earlier = session.get::<String>(SESSION_STATE).await.map_err(session_error)?;
    let started = flow::start(state, practice, provider_id, earlier.as_deref(), purpose).await?;
    session.insert(SESSION_STATE, &started.state).await.map_err(session_error)?;
    Ok(Redirect::to(&started.authorize_url).into_response())
}

/// Back from the provider: sign the member in, ask for their password
/// before linking their account, or say why not on the sign-in page.
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
    session.remove::<PendingLink>(SESSION_PENDING_LINK).await.map_err(session_error)?;
    let signed_in_as = session.get::<AuthState>(AUTH_KEY).await.map_err(session_error)?.map(|a| a.member_id);
    match flow::finish(&state, &practice, query, bound, signed_in_as, &meta).await {
        Ok(Finished::SignedIn(signed_in)) => signed_in_page(&state, &session, signed_in).await,
        Ok(Finished::ConfirmLink(pending)) => {
            session.insert(SESSION_PENDING_LINK, &pending).await.map_err(session_error)?;
            confirm_view(&session, &practice, &pending, None, StatusCode::OK).await
        }
        Err(failure) => refused(&state, &session, practice, failure).await,
    }
}

async fn signed_in_page(state: &AppState, session: &Session, signed_in: SignedIn) -> PageResult {
    establish(session, state, &signed_in.member).await?;
    session.insert(SESSION_PROVIDER, signed_in.provider_id).await.map_err(session_error)?;
    Ok(Redirect::to(if signed_in.connected { "/profile?saved=connected" } else { "/" }).into_response())
}

async fn refused(state: &AppState, session: &Session, practice: Practice, failure: Failure) -> PageResult {
    match failure {
        Failure::Refused(refusal) => {
            let mut page = sign_in_view(state, session, practice.slug, String::new(), Some(refusal.message)).await?;
            *page.status_mut() = StatusCode::FORBIDDEN;
            Ok(page)
        }
        Failure::Error(err) => Err(err.into()),
    }
}

#[derive(Template)]
#[template(path = "sso_confirm.html")]
struct ConfirmPage {
    nav: Option<super::Nav>,
    csrf_token: String,
    action: String,
    provider_name: String,
    email: String,
    error: Option<String>,
}

async fn confirm_view(session: &Session, practice: &Practice, pending: &PendingLink, error: Option<String>, status: StatusCode) -> PageResult {
    let page = ConfirmPage {
        nav: None,
        csrf_token: csrf::token(session).await?,
        action: format!("/p/{}/sso/confirm", practice.slug),
        provider_name: pending.provider_name.clone(),
        email: pending.email.clone(),
        error,
    };
    Ok((status, super::render(&page)).into_response())
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    password: String,
}

/// `POST /p/{slug}/sso/confirm`: the member types their Tandem password to
/// link the provider's account to theirs. Wrong passwords count like failed
/// sign-ins; after the throttle's limit the page says to wait.
pub async fn confirm(
    State(state): State<AppState>,
    session: Session,
    addr: ClientAddr,
    device: DeviceCookie,
    meta: RequestMeta,
    Path(slug): Path<String>,
    CsrfForm(form): CsrfForm<ConfirmForm>,
) -> PageResult {
    let practice = practice_or_404(&state, &slug).await?;
    let Some(pending) = session.get::<PendingLink>(SESSION_PENDING_LINK).await.map_err(session_error)? else {
        let message = "This sign-in is unknown or has expired. Start again from your practice's sign-in page.";
        let mut page = sign_in_view(&state, &session, practice.slug, String::new(), Some(message.into())).await?;
        *page.status_mut() = StatusCode::FORBIDDEN;
        return Ok(page);
    };
    match sign_in::with_password(&state, &practice.slug, &pending.email, &form.password, addr, &device, &meta).await {
        Ok(password) if password.member.id == pending.member_id => {
            session.remove::<PendingLink>(SESSION_PENDING_LINK).await.map_err(session_error)?;
            let mut page = match flow::confirm_link(&state, &practice, &pending, &password.member, &meta).await {
                Ok(signed_in) => signed_in_page(&state, &session, signed_in).await?,
                Err(failure) => refused(&state, &session, practice, failure).await?,
            };
            // The password was right: this browser is the member's, as after any sign-in.
            page.headers_mut().append(axum::http::header::SET_COOKIE, password.device_cookie);
            Ok(page)
        }
        Ok(_) | Err(AppError::Unauthenticated) => {
            confirm_view(&session, &practice, &pending, Some("That is not your Tandem password.".into()), StatusCode::UNAUTHORIZED).await
        }
        Err(err @ AppError::TooManyRequests { .. }) => {
            let status = err.status();
            confirm_view(&session, &practice, &pending, Some(err.detail()), status).await
        }
        Err(other) => Err(other.into()),
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
    crate::tenant::enter(auth.practice_id);
    let Some(practice) = practices::by_id(&state.db, auth.practice_id).await? else {
        return Ok(None);
    };
    Ok(flow::end_session_url(state, &practice, provider_id).await)
}
