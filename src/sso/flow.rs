//! Signing in through a practice's OpenID Connect provider: the
//! authorization code flow with PKCE (S256), state and nonce.
//!
//! [`start`] stores what the callback will need (the state's hash, the
//! nonce, the sealed PKCE verifier, practice and provider) in the database
//! with a short expiry, so that any replica can finish the sign-in, and the
//! browser's session remembers the state so that nobody else's browser can.
//! [`finish`] takes the stored flow first and deletes it (used once, whatever
//! happens next), then checks, in order: the practice, the browser, the
//! expiry, the provider's answer and its issuer, the code exchange (with the
//! verifier), and the ID token (signature and algorithm, issuer, audience,
//! expiry, nonce). Only then is the person looked up: by (issuer, subject).
//! A provider's account is linked to an existing member only by that member:
//! from their own signed-in profile ("Connect"), or at a first sign-in whose
//! verified email address is theirs, by typing their Tandem password (an
//! admin can add a provider that vouches for any address, so the address
//! alone never links). Signing in never creates a member and never changes
//! a role. A sign-in started from an
//! invitation link accepts that invitation: the invitation (an admin's
//! decision) creates the member with its roles; the provider only vouches
//! for the invited address. Every outcome is an access event.

use entity::ids::{MemberId, PracticeId};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl, RequestTokenError, Scope,
    SignatureVerificationError, TokenResponse,
    core::{CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreIdTokenClaims, CoreJwsSigningAlgorithm},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, QueryFilter, sea_query::Expr,
};
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

use entity::{identity_providers, invitations, member_identities, members, sso_flows};

use super::{discovery::error_chain, providers};
use crate::{
    state::AppState,
    audit::{NewEvent, RequestMeta, begin_write, chain, changes::Change},
    error::AppError,
    practice::{Member, Practice},
    scope::PracticeScope,
    secret,
};

/// Session key: the state of the sign-in this browser started.
pub const SESSION_STATE: &str = "sso_state";
/// Session key: the provider a session was signed in with (for signing out there too).
pub const SESSION_PROVIDER: &str = "sso_provider";

/// Signature algorithms accepted on ID tokens: the provider's own keys only,
/// never `none` and never a MAC keyed with our client secret.
const ALGORITHMS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

pub struct Started {
    pub authorize_url: String,
    /// Kept in the browser's session, to be matched at the callback.
    pub state: String,
}

fn unreachable_message(provider: &identity_providers::Model, cause: impl std::fmt::Display) -> String {
    tracing::warn!(provider_id = %provider.id, error = %cause, "identity provider unreachable");
    format!(
        "{} cannot be reached right now, so signing in with it is not possible. Try again in a few minutes, or sign in with your password.",
        provider.display_name
    )
}

fn unreachable(provider: &identity_providers::Model, cause: impl std::fmt::Display) -> AppError {
    AppError::Unavailable(unreachable_message(provider, cause))
}

/// A provider that stopped answering half-way through a sign-in: a refusal,
/// logged as an access event like the others.
fn unreachable_now(provider: &identity_providers::Model, cause: impl std::fmt::Display) -> Failure {
    refuse("provider_unreachable", unreachable_message(provider, cause))
}

/// What a sign-in started at the provider is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Sign in a member already linked to their account at the provider.
    SignIn,
    /// Accept this (open) invitation: the invitation creates the member.
    Join(Uuid),
    /// The signed-in member connects their own account at the provider.
    Connect(MemberId),
}

/// Begins a sign-in with one of `practice`'s enabled providers. `replaces`
/// is the state of a sign-in this browser started earlier, now abandoned.
pub async fn start(
    state: &AppState,
    practice: &Practice,
    provider_id: Uuid,
    replaces: Option<&str>,
    purpose: Purpose,
) -> Result<Started, AppError> {
    let scope = PracticeScope::trusted(practice.id);
    let provider = providers::find(state, scope, provider_id).await?;
    if !provider.enabled {
        return Err(AppError::NotFound);
    }
    let now = state.clock.now();
    let metadata = state.sso.metadata(&provider.issuer, now).await.map_err(|e| unreachable(&provider, e))?;
    let redirect = RedirectUrl::new(providers::redirect_uri(state, &practice.slug))
        .map_err(|e| anyhow::anyhow!("redirect URI: {e}"))?;
    let client = CoreClient::from_provider_metadata(metadata, ClientId::new(provider.client_id.clone()), None)
        .set_redirect_uri(redirect);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let state_hash = secret::hash(csrf.secret());
    if let Some(old) = replaces {
        scope
            .delete_many::<sso_flows::Entity>()
            .filter(sso_flows::Column::StateHash.eq(secret::hash(old)))
            .exec(&state.db)
            .await?;
    }
    sso_flows::ActiveModel {
        pkce_verifier_sealed: Set(state.sealing_key.seal(verifier.secret(), &state_hash)),
        state_hash: Set(state_hash),
        practice_id: Set(practice.id),
        provider_id: Set(provider.id),
        nonce: Set(nonce.secret().clone()),
        created_at: Set(now),
        expires_at: Set(now + time::Duration::minutes(state.config.sso_flow_minutes.into())),
        invitation_id: Set(match purpose {
            Purpose::Join(invitation) => Some(invitation),
            _ => None,
        }),
        link_member_id: Set(match purpose {
            Purpose::Connect(member) => Some(member),
            _ => None,
        }),
    }
    .insert(&state.db)
    .await?;
    tracing::info!(provider_id = %provider.id, practice_id = %practice.id, "single sign-on started");
    Ok(Started { authorize_url: url.to_string(), state: csrf.secret().clone() })
}

/// What the provider sent the browser back with.
#[derive(Debug, Default, Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    /// RFC 9207: the issuer that answered, when the provider says.
    pub iss: Option<String>,
    pub error: Option<String>,
}

/// Why a sign-in was refused: a short code for the access log and the
/// person's explanation.
#[derive(Debug)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
    member_id: Option<MemberId>,
    role: Option<String>,
    provider_id: Option<Uuid>,
}

pub enum Failure {
    Refused(Refusal),
    Error(AppError),
}

impl From<AppError> for Failure {
    fn from(err: AppError) -> Self {
        Self::Error(err)
    }
}

impl From<DbErr> for Failure {
    fn from(err: DbErr) -> Self {
        Self::Error(err.into())
    }
}

fn refuse(code: &'static str, message: impl Into<String>) -> Failure {
    Failure::Refused(Refusal { code, message: message.into(), member_id: None, role: None, provider_id: None })
}

const START_AGAIN: &str = "Start again from your practice's sign-in page.";

/// Who signed in, through which provider.
pub struct SignedIn {
    pub member: Member,
    pub provider_id: Uuid,
    /// The member connected their account at the provider from their profile.
    pub connected: bool,
}

/// How a callback ended that was not refused.
pub enum Finished {
    SignedIn(SignedIn),
    /// The provider vouches for the address of a member whose account is not
    /// linked to it yet. Whoever runs a provider can make it vouch for any
    /// address, so only the member may link it: by typing their Tandem
    /// password ([`confirm_link`]) or from their own profile.
    ConfirmLink(PendingLink),
}

/// A link waiting for the member's password, kept in the browser's session.
#[derive(Clone, Debug, serde::Serialize, Deserialize)]
pub struct PendingLink {
    pub practice_id: PracticeId,
    pub provider_id: Uuid,
    pub provider_name: String,
    pub member_id: MemberId,
    pub email: String,
    pub subject: String,
    /// Unix seconds after which the password is no longer asked for.
    pub expires_at: i64,
}

/// Session key: the [`PendingLink`] of this browser.
pub const SESSION_PENDING_LINK: &str = "sso_pending_link";

/// Completes a sign-in at `practice`'s callback. `bound_state` is the state
/// this browser's session holds, if any. Refusals are logged as access
/// events here; the caller shows the message.
pub async fn finish(
    state: &AppState,
    practice: &Practice,
    callback: Callback,
    bound_state: Option<String>,
    signed_in_as: Option<MemberId>,
    meta: &RequestMeta,
) -> Result<Finished, Failure> {
    match complete(state, practice, callback, bound_state, signed_in_as, meta).await {
        Err(Failure::Refused(refusal)) => {
            tracing::info!(practice_id = %practice.id, provider_id = ?refusal.provider_id, reason = refusal.code, "single sign-on refused");
            let event = event(state, practice.id, meta, &refusal.role, refusal.member_id, refusal.provider_id, "sso_sign_in", Some(refusal.code));
            if let Err(err) = crate::audit::record(&state.db, &[event]).await {
                tracing::error!(error = %err, "could not store the sign-in event");
                return Err(Failure::Error(unavailable()));
            }
            Err(Failure::Refused(refusal))
        }
        other => other,
    }
}

fn unavailable() -> AppError {
    AppError::Unavailable("Signing in is not possible right now. Try again shortly.".into())
}

#[allow(clippy::too_many_arguments)]
fn event(
    state: &AppState,
    practice_id: PracticeId,
    meta: &RequestMeta,
    role: &Option<String>,
    member_id: Option<MemberId>,
    provider_id: Option<Uuid>,
    action: &str,
    refused: Option<&str>,
) -> NewEvent {
    NewEvent {
        practice_id: practice_id.uuid(),
        occurred_at: state.clock.now(),
        member_id: member_id.map(MemberId::uuid),
        role: role.clone().unwrap_or_else(|| "unknown".into()),
        action: action.into(),
        record_kind: provider_id.map(|_| "identity_provider".into()),
        record_id: provider_id,
        couple_id: None,
        outcome: if refused.is_some() { "denied" } else { "success" }.into(),
        status: if refused.is_some() { 403 } else { 303 },
        client_addr: meta.client_addr.clone(),
        user_agent: meta.user_agent.clone(),
        request_id: meta.request_id.clone(),
        reason: refused.map(|code| format!("single sign-on refused: {code}")),
        emergency: false,
        detail: None,
    }
}

/// The flow named by the presented state, taken out of the database: after
/// this nobody can use it again, whether or not the rest succeeds.
async fn take_flow(state: &AppState, practice: &Practice, callback: &Callback, bound_state: Option<&str>) -> Result<sso_flows::Model, Failure> {
    let unknown = || refuse("unknown_state", format!("This sign-in is unknown, has expired or was already used. {START_AGAIN}"));
    let presented = callback.state.as_deref().filter(|s| !s.is_empty()).ok_or_else(unknown)?;
    let hash = secret::hash(presented);
    crate::tenant::reveal(&hash);
    // unscoped: found by the hash of a secret before its practice is known; compared with the callback's practice below.
    let flow = sso_flows::Entity::find_by_id(hash.clone()).one(&state.db).await?.ok_or_else(unknown)?;
    // Taken at once, in the practice it was started for, whatever happens next.
    let txn = state.db.begin_for(flow.practice_id, Default::default()).await?;
    // unscoped: the same row, by the same hash. Only one request can delete it.
    let taken = sso_flows::Entity::delete_by_id(hash).exec(&txn).await?;
    txn.commit().await?;
    if taken.rows_affected != 1 {
        return Err(unknown());
    }
    if flow.practice_id != practice.id {
        return Err(refuse("other_practice", format!("This sign-in was started for another practice. {START_AGAIN}")));
    }
    let same_browser = bound_state.is_some_and(|bound| secret::constant_time_eq(bound.as_bytes(), presented.as_bytes()));
    if !same_browser {
        return Err(refuse("other_browser", format!("This sign-in was started in another browser or window. {START_AGAIN}")));
    }
    if flow.expires_at <= state.clock.now() {
        return Err(refuse("flow_expired", format!("This sign-in took too long. {START_AGAIN}")));
    }
    Ok(flow)
}

async fn complete(
    state: &AppState,
    practice: &Practice,
    callback: Callback,
    bound_state: Option<String>,
    signed_in_as: Option<MemberId>,
    meta: &RequestMeta,
) -> Result<Finished, Failure> {
    let flow = take_flow(state, practice, &callback, bound_state.as_deref()).await?;
    let scope = PracticeScope::trusted(practice.id);
    let provider = match providers::find(state, scope, flow.provider_id).await {
        Ok(p) if p.enabled => p,
        Ok(_) | Err(AppError::NotFound) => {
            return Err(refuse("provider_disabled", "This sign-in provider has been turned off by your practice."));
        }
        Err(other) => return Err(other.into()),
    };
    let with_provider = |failure: Failure| match failure {
        Failure::Refused(mut r) => {
            r.provider_id = Some(provider.id);
            Failure::Refused(r)
        }
        other => other,
    };
    let verified = verify(state, practice, &provider, &flow, callback).await.map_err(with_provider)?;
    let purpose = match (flow.invitation_id, flow.link_member_id) {
        (Some(invitation), _) => Purpose::Join(invitation),
        (None, Some(member)) => Purpose::Connect(member),
        (None, None) => Purpose::SignIn,
    };
    match purpose {
        Purpose::Join(invitation_id) => {
            join(state, practice, &provider, verified, invitation_id, meta).await.map(Finished::SignedIn).map_err(with_provider)
        }
        Purpose::Connect(member_id) => {
            if signed_in_as != Some(member_id) {
                return Err(with_provider(refuse(
                    "other_member",
                    "This connection was started by someone who is no longer signed in here. Sign in, then connect again from your profile.",
                )));
            }
            connect(state, practice, &provider, verified, member_id, meta).await.map(Finished::SignedIn).map_err(with_provider)
        }
        Purpose::SignIn => sign_in(state, practice, &provider, verified, meta).await.map_err(with_provider),
    }
}

/// What a verified ID token says about the person.
struct Verified {
    subject: String,
    email: Option<String>,
    email_verified: bool,
    /// The person's name, if the provider gave one: the new member's
    /// display name when an invitation is accepted.
    name: Option<String>,
}

async fn verify(
    state: &AppState,
    practice: &Practice,
    provider: &identity_providers::Model,
    flow: &sso_flows::Model,
    callback: Callback,
) -> Result<Verified, Failure> {
    let name = &provider.display_name;
    if let Some(error) = &callback.error {
        // Only a plain error code is repeated back; anything else could be text an attacker chose.
        let code = if error.len() <= 40 && error.chars().all(|c| c.is_ascii_lowercase() || c == '_') { error.as_str() } else { "error" };
        return Err(refuse("provider_error", format!("{name} did not sign you in ({code}).")));
    }
    let code = callback.code.filter(|c| !c.is_empty()).ok_or_else(|| refuse("missing_code", format!("{name} sent no sign-in code. {START_AGAIN}")))?;
    let wrong_issuer = || refuse("wrong_issuer", format!("The answer did not come from {name} (wrong issuer). Nobody was signed in."));
    if callback.iss.as_deref().is_some_and(|iss| iss != provider.issuer) {
        return Err(wrong_issuer());
    }
    let verifier = state
        .sealing_key
        .open(&flow.pkce_verifier_sealed, &flow.state_hash)
        .ok()
        .filter(|v| !v.expose().is_empty())
        .ok_or_else(|| refuse("missing_pkce_verifier", format!("This sign-in has lost its PKCE verifier. {START_AGAIN}")))?;

    let now = state.clock.now();
    let metadata = state.sso.metadata(&provider.issuer, now).await.map_err(|e| unreachable_now(provider, e))?;
    let secret = providers::client_secret(state, &practice.slug, provider)?;
    let redirect = RedirectUrl::new(providers::redirect_uri(state, &practice.slug)).map_err(|e| AppError::Internal(anyhow::anyhow!("redirect URI: {e}")))?;
    let client = |metadata: ProviderMetadataWithLogout| {
        CoreClient::from_provider_metadata(metadata, ClientId::new(provider.client_id.clone()), Some(ClientSecret::new(secret.expose().clone())))
            .set_redirect_uri(redirect.clone())
    };
    let exchange = client(metadata.clone())
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| AppError::Internal(anyhow::anyhow!("provider {} has no token endpoint: {e}", provider.id)))?
        .set_pkce_verifier(PkceCodeVerifier::new(verifier.expose().clone()))
        .request_async(state.sso.http())
        .await;
    let tokens = match exchange {
        Ok(tokens) => tokens,
        Err(RequestTokenError::ServerResponse(response)) => {
            let error = response.error().to_string();
            return Err(refuse("code_refused", format!("{name} refused to complete the sign-in ({error}). {START_AGAIN}")));
        }
        Err(other) => {
            // Not the parse error's text: it may quote the response, tokens and all.
            let cause = match &other {
                RequestTokenError::Request(e) => error_chain(e),
                RequestTokenError::Parse(..) => "the response could not be parsed".into(),
                _ => other.to_string(),
            };
            tracing::warn!(provider_id = %provider.id, error = %cause, "token request failed");
            return Err(refuse("token_request_failed", format!("{name} could not be asked to complete the sign-in. Try again shortly.")));
        }
    };
    let id_token = tokens.id_token().ok_or_else(|| refuse("no_id_token", format!("{name} sent no ID token. Nobody was signed in.")))?;
    let nonce = Nonce::new(flow.nonce.clone());
    let mut claims = check_token(&client(metadata), id_token, &nonce, now);
    // The provider may have rotated its keys since we fetched them, under a
    // new key id or the same one: fetch them once more (unless that was done
    // a moment ago) and check again.
    if matches!(
        &claims,
        Err(ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey | SignatureVerificationError::CryptoError(_)
        ))
    ) && let Some(metadata) = state.sso.refresh_keys(&provider.issuer, now).await.map_err(|e| unreachable_now(provider, e))?
    {
        claims = check_token(&client(metadata), id_token, &nonce, now);
    }
    let claims = claims.map_err(|err| {
        tracing::info!(provider_id = %provider.id, error = %err, "ID token refused");
        match err {
            ClaimsVerificationError::InvalidIssuer(_) => wrong_issuer(),
            ClaimsVerificationError::InvalidAudience(_) => {
                refuse("wrong_audience", format!("The ID token from {name} was issued to another application. Nobody was signed in."))
            }
            ClaimsVerificationError::Expired(_) => refuse(
                "token_expired",
                format!("The ID token from {name} has expired. If this keeps happening, the clocks of {name} and Tandem disagree."),
            ),
            ClaimsVerificationError::InvalidNonce(_) => {
                refuse("nonce_mismatch", format!("The ID token from {name} belongs to another sign-in (nonce mismatch). {START_AGAIN}"))
            }
            ClaimsVerificationError::SignatureVerification(_) => refuse(
                "bad_signature",
                format!("The ID token from {name} is unsigned or not signed with one of {name}'s keys. Nobody was signed in."),
            ),
            _ => refuse("invalid_token", format!("The ID token from {name} could not be verified. Nobody was signed in.")),
        }
    })?;
    Ok(Verified {
        subject: claims.subject().as_str().to_owned(),
        email: claims.email().map(|e| e.as_str().trim().to_lowercase()),
        email_verified: claims.email_verified() == Some(true),
        name: claims.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned()),
    })
}

fn check_token(
    client: &CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    >,
    id_token: &CoreIdToken,
    nonce: &Nonce,
    now: OffsetDateTime,
) -> Result<CoreIdTokenClaims, ClaimsVerificationError> {
    let now = chrono::DateTime::from_timestamp(now.unix_timestamp(), now.nanosecond()).unwrap_or_default();
    let verifier = client.id_token_verifier().set_allowed_algs(ALGORITHMS).set_time_fn(move || now);
    id_token.claims(&verifier, nonce).cloned()
}

fn as_member(failure: Failure, member: &members::Model) -> Failure {
    match failure {
        Failure::Refused(mut r) => {
            r.member_id = Some(member.id);
            r.role = Some(member.roles.clone());
            Failure::Refused(r)
        }
        other => other,
    }
}

/// Signs in the member linked to this account at the provider. An account
/// not linked yet is never linked here by its email address alone: the
/// member whose verified address it is must confirm with their password.
async fn sign_in(
    state: &AppState,
    practice: &Practice,
    provider: &identity_providers::Model,
    person: Verified,
    meta: &RequestMeta,
) -> Result<Finished, Failure> {
    let name = &provider.display_name;
    let scope = PracticeScope::trusted(practice.id);
    let now = state.clock.now();
    let Some(identity) = identity_of(state, scope, provider, &person).await? else {
        let email = verified_email(provider, &person)?;
        let member = scope
            .select::<members::Entity>()
            .filter(members::Column::Email.eq(&email))
            .one(&state.db)
            .await?
            .filter(|m| m.active)
            .ok_or_else(|| {
                refuse("no_member", "No active member of this practice has your email address. Ask your practice admin for an invitation.")
            })?;
        if linked_at_issuer(state, scope, provider, member.id).await? {
            return Err(as_member(already_linked(name), &member));
        }
        if member.password_hash.is_none() {
            return Err(as_member(
                refuse(
                    "link_needs_member",
                    format!("Your Tandem account is not connected to {name} yet. Sign in as you usually do, then connect {name} from your profile."),
                ),
                &member,
            ));
        }
        let role = Some(member.roles.clone());
        let event = event(state, practice.id, meta, &role, Some(member.id), Some(provider.id), "sso_sign_in", Some("link_needs_password"));
        crate::audit::record(&state.db, &[event]).await.map_err(|err| {
            tracing::error!(error = %err, "could not store the sign-in event");
            Failure::Error(unavailable())
        })?;
        return Ok(Finished::ConfirmLink(PendingLink {
            practice_id: practice.id,
            provider_id: provider.id,
            provider_name: name.clone(),
            member_id: member.id,
            email,
            subject: person.subject,
            expires_at: (now + time::Duration::minutes(state.config.sso_flow_minutes.into())).unix_timestamp(),
        }));
    };
    let member = match scope.by_id::<members::Entity>(identity.member_id).one(&state.db).await? {
        Some(m) if m.active => m,
        Some(m) => return Err(as_member(refuse("member_inactive", "Your Tandem account is deactivated. Ask your practice admin."), &m)),
        None => return Err(refuse("member_missing", "Your Tandem account no longer exists.")),
    };
    let role = Some(member.roles.clone());
    let txn = begin_write(&state.db).await?;
    scope
        .update_many::<member_identities::Entity>()
        .col_expr(member_identities::Column::LastSignInAt, Expr::value(now))
        .filter(member_identities::Column::Issuer.eq(&provider.issuer))
        .filter(member_identities::Column::Subject.eq(&person.subject))
        .exec(&txn)
        .await?;
    let events = [event(state, practice.id, meta, &role, Some(member.id), Some(provider.id), "sso_sign_in", None)];
    if let Err(err) = chain::append(&txn, &events).await {
        tracing::error!(error = %err, "could not store the sign-in event");
        return Err(Failure::Error(unavailable()));
    }
    txn.commit().await?;
    tracing::info!(member_id = %member.id, practice_id = %practice.id, provider_id = %provider.id, "signed in with single sign-on");
    Ok(Finished::SignedIn(SignedIn { member: member.into(), provider_id: provider.id, connected: false }))
}

/// Links the signed-in member who started this from their profile to the
/// account the provider vouched for.
async fn connect(
    state: &AppState,
    practice: &Practice,
    provider: &identity_providers::Model,
    person: Verified,
    member_id: MemberId,
    meta: &RequestMeta,
) -> Result<SignedIn, Failure> {
    let scope = PracticeScope::trusted(practice.id);
    let member = scope
        .by_id::<members::Entity>(member_id)
        .one(&state.db)
        .await?
        .filter(|m| m.active)
        .ok_or_else(|| refuse("member_inactive", "Your Tandem account is deactivated. Ask your practice admin."))?;
    if identity_of(state, scope, provider, &person).await?.is_some() {
        return Err(as_member(
            refuse(
                "already_linked",
                format!("This {} account already belongs to a member of this practice.", provider.display_name),
            ),
            &member,
        ));
    }
    let mut signed_in = link(state, practice, provider, &member, &person.subject, meta).await?;
    signed_in.connected = true;
    Ok(signed_in)
}

/// Completes a sign-in that waited for the member's password: `member` is
/// the member [`PendingLink`] named, whose password was just checked.
pub async fn confirm_link(
    state: &AppState,
    practice: &Practice,
    pending: &PendingLink,
    member: &Member,
    meta: &RequestMeta,
) -> Result<SignedIn, Failure> {
    let scope = PracticeScope::trusted(practice.id);
    let gone = || refuse("link_expired", format!("This sign-in took too long. {START_AGAIN}"));
    if pending.practice_id != practice.id || pending.member_id != member.id || pending.expires_at <= state.clock.now().unix_timestamp() {
        return Err(gone());
    }
    let member = &scope.by_id::<members::Entity>(member.id).one(&state.db).await?.ok_or_else(gone)?;
    let provider = match providers::find(state, scope, pending.provider_id).await {
        Ok(p) if p.enabled => p,
        Ok(_) | Err(AppError::NotFound) => return Err(gone()),
        Err(other) => return Err(other.into()),
    };
    link(state, practice, &provider, member, &pending.subject, meta).await
}

/// Links `member` to (issuer, `subject`) and signs them in, with the link as
/// a change to who can see what (it lets the provider's account act as them).
async fn link(
    state: &AppState,
    practice: &Practice,
    provider: &identity_providers::Model,
    member: &members::Model,
    subject: &str,
    meta: &RequestMeta,
) -> Result<SignedIn, Failure> {
    let name = &provider.display_name;
    let scope = PracticeScope::trusted(practice.id);
    if linked_at_issuer(state, scope, provider, member.id).await? {
        return Err(as_member(already_linked(name), member));
    }
    let now = state.clock.now();
    let role = Some(member.roles.clone());
    let txn = begin_write(&state.db).await?;
    let inserted = member_identities::ActiveModel {
        id: Set(Uuid::now_v7()),
        practice_id: Set(practice.id),
        member_id: Set(member.id),
        provider_id: Set(provider.id),
        issuer: Set(provider.issuer.clone()),
        subject: Set(subject.to_owned()),
        linked_at: Set(now),
        last_sign_in_at: Set(Some(now)),
    }
    .insert(&txn)
    .await;
    if let Err(err) = inserted {
        // Someone linked the same account or member a moment ago.
        drop(txn);
        return Err(match err.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => as_member(already_linked(name), member),
            _ => err.into(),
        });
    }
    let events = [
        link_event(state, practice.id, meta, member, provider),
        event(state, practice.id, meta, &role, Some(member.id), Some(provider.id), "sso_sign_in", None),
    ];
    if let Err(err) = chain::append(&txn, &events).await {
        tracing::error!(error = %err, "could not store the sign-in event");
        return Err(Failure::Error(unavailable()));
    }
    txn.commit().await?;
    tracing::info!(member_id = %member.id, practice_id = %practice.id, provider_id = %provider.id, "account linked at single sign-on");
    Ok(SignedIn { member: member.clone().into(), provider_id: provider.id, connected: false })
}

/// The `sso_link` event: a change to who can act as `member`.
fn link_event(
    state: &AppState,
    practice_id: PracticeId,
    meta: &RequestMeta,
    member: &members::Model,
    provider: &identity_providers::Model,
) -> NewEvent {
    let role = Some(member.roles.clone());
    let mut linked = event(state, practice_id, meta, &role, Some(member.id), Some(provider.id), "sso_link", None);
    let after = serde_json::json!({"display_name": provider.display_name, "issuer": provider.issuer});
    linked.detail = Some(Change::new(vec![member.id], None::<()>, after).to_detail());
    linked
}

/// Whether `member` has an account at this provider's issuer linked already.
async fn linked_at_issuer(
    state: &AppState,
    scope: PracticeScope,
    provider: &identity_providers::Model,
    member_id: MemberId,
) -> Result<bool, DbErr> {
    Ok(scope
        .select::<member_identities::Entity>()
        .filter(member_identities::Column::MemberId.eq(member_id))
        .filter(member_identities::Column::Issuer.eq(&provider.issuer))
        .one(&state.db)
        .await?
        .is_some())
}

/// The person's email address, when the provider vouches for it and its
/// domain may use this provider: the only way an email links an account.
fn verified_email(provider: &identity_providers::Model, person: &Verified) -> Result<String, Failure> {
    let name = &provider.display_name;
    let email = match (&person.email, person.email_verified) {
        (Some(email), true) => email.clone(),
        (None, _) => return Err(refuse("no_email", format!("{name} did not tell Tandem your email address, so your account cannot be found."))),
        (Some(_), false) => {
            return Err(refuse(
                "unverified_email",
                format!("{name} has not verified your email address, so it cannot be linked to a Tandem account. Verify it with {name}, then try again."),
            ));
        }
    };
    let domains = providers::domains_of(&provider.allowed_domains);
    let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    if !domains.is_empty() && !domains.iter().any(|d| d == domain) {
        return Err(refuse("domain_not_allowed", format!("Your email address's domain may not sign in to this practice with {name}.")));
    }
    Ok(email)
}

/// Accepts an invitation with the provider's account: the invitation (an
/// admin's decision) creates the member with its roles; the provider only
/// vouches that the person holds the invited, verified email address. The
/// new member has no password and is linked to (issuer, subject).
async fn join(
    state: &AppState,
    practice: &Practice,
    provider: &identity_providers::Model,
    person: Verified,
    invitation_id: Uuid,
    meta: &RequestMeta,
) -> Result<SignedIn, Failure> {
    let name = &provider.display_name;
    let scope = PracticeScope::trusted(practice.id);
    let gone = || refuse("invitation_gone", crate::practice::invitations::INVITATION_GONE);
    let now = state.clock.now();
    let invitation = scope
        .by_id::<invitations::Entity>(invitation_id)
        .one(&state.db)
        .await?
        .filter(|i| i.accepted_at.is_none() && i.revoked_at.is_none() && i.expires_at > now)
        .ok_or_else(gone)?;
    let linked = identity_of(state, scope, provider, &person).await?;
    if linked.is_some() {
        return Err(refuse(
            "already_linked",
            format!("This {name} account already belongs to a member of this practice. Sign in with it instead, or join with another account."),
        ));
    }
    let email = verified_email(provider, &person)?;
    if email != invitation.email {
        return Err(refuse(
            "invitation_email_mismatch",
            format!("This invitation is for another email address than the one {name} gave. Sign in to {name} with the invited address, or ask your practice admin."),
        ));
    }
    let display_name = person
        .name
        .as_deref()
        .and_then(|n| crate::practice::parse_name(n).ok())
        .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());

    let txn = begin_write(&state.db).await?;
    let member = match crate::practice::invitations::claim(&txn, &invitation, display_name, None, now).await {
        Ok(member) => member,
        Err(AppError::Conflict(_)) => return Err(gone()),
        Err(other) => return Err(other.into()),
    };
    member_identities::ActiveModel {
        id: Set(Uuid::now_v7()),
        practice_id: Set(practice.id),
        member_id: Set(member.id),
        provider_id: Set(provider.id),
        issuer: Set(provider.issuer.clone()),
        subject: Set(person.subject.clone()),
        linked_at: Set(now),
        last_sign_in_at: Set(Some(now)),
    }
    .insert(&txn)
    .await?;
    let role = Some(member.roles.clone());
    let events = [
        link_event(state, practice.id, meta, &member, provider),
        event(state, practice.id, meta, &role, Some(member.id), Some(provider.id), "sso_sign_in", None),
    ];
    if let Err(err) = chain::append(&txn, &events).await {
        tracing::error!(error = %err, "could not store the sign-in event");
        return Err(Failure::Error(unavailable()));
    }
    txn.commit().await?;
    tracing::info!(member_id = %member.id, practice_id = %practice.id, provider_id = %provider.id, invitation_id = %invitation.id, "invitation accepted with single sign-on");
    Ok(SignedIn { member: member.into(), provider_id: provider.id, connected: false })
}

/// The link of this account at this provider, if it has one in the practice.
async fn identity_of(
    state: &AppState,
    scope: PracticeScope,
    provider: &identity_providers::Model,
    person: &Verified,
) -> Result<Option<member_identities::Model>, DbErr> {
    scope
        .select::<member_identities::Entity>()
        .filter(member_identities::Column::Issuer.eq(&provider.issuer))
        .filter(member_identities::Column::Subject.eq(&person.subject))
        .one(&state.db)
        .await
}

fn already_linked(name: &str) -> Failure {
    refuse(
        "already_linked",
        format!("Your Tandem account is already linked to a different {name} account. Ask your practice admin."),
    )
}

/// Where to send someone who signed in with `provider_id` to sign out there
/// too, if the provider offers it (RP-initiated logout). `None` when it does
/// not, or cannot be reached: Tandem's own sign-out has happened either way.
pub async fn end_session_url(state: &AppState, practice: &Practice, provider_id: Uuid) -> Option<(String, String)> {
    let provider = providers::find(state, PracticeScope::trusted(practice.id), provider_id).await.ok()?;
    let metadata = match state.sso.metadata(&provider.issuer, state.clock.now()).await {
        Ok(m) => m,
        Err(err) => {
            tracing::warn!(provider_id = %provider.id, error = %err, "no sign-out at the provider: unreachable");
            return None;
        }
    };
    let endpoint = metadata.additional_metadata().end_session_endpoint.clone()?;
    let back = PostLogoutRedirectUrl::new(providers::post_logout_redirect_uri(state, &practice.slug)).ok()?;
    let url = openidconnect::LogoutRequest::from(endpoint)
        .set_client_id(ClientId::new(provider.client_id.clone()))
        .set_post_logout_redirect_uri(back)
        .http_get_url();
    Some((url.to_string(), provider.display_name))
}

/// Deletes sign-ins that were started and never finished.
pub async fn prune(state: &AppState) -> Result<u64, DbErr> {
    let mut done = 0;
    // Practice by practice, each a unit of work acting in it.
    for practice_id in crate::practice::practices::all_ids(&state.db).await? {
        let expired = crate::scope::PracticeScope::trusted(practice_id)
            .delete_many::<sso_flows::Entity>()
            .filter(sso_flows::Column::ExpiresAt.lt(state.clock.now()))
            .exec(&state.db);
        done += crate::tenant::within(practice_id, expired).await?.rows_affected;
    }
    Ok(done)
}
