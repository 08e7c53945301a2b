//! A member's own profile (name, password), the practice's settings and its
//! members' roles (admins). Nothing here is clinical; a password or role
//! change is still an access event, like a sign-in.

use crate::practice::MemberId;
use askama::Template;
use axum::{
    Router,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect},
    routing::{get, post},
};
use serde::Deserialize;
use tower_sessions::Session;
use uuid::Uuid;

use super::{
    PageResult,
    members::{InviteDraft, RolesEdit, members_view},
    nav, render,
    templates::*,
};
use crate::{
    state::AppState,
    web::{CsrfForm, Path, SignedIn},
    audit::RequestMeta,
    auth::{
        ClientAddr, CurrentMember,
        csrf,
        current::establish,
        devices::DeviceCookie,
        password_change::{PasswordChange, change_password},
        tokens,
    },
    error::AppError,
    practice::{Role, Roles, members, settings},
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/profile", get(profile_page))
        .route("/profile/name", post(name_submit))
        .route("/profile/password", post(password_submit))
        .route("/settings", get(settings_page).post(settings_submit))
        .route("/members/{id}/roles", post(roles_submit))
}

/// Says on the page what the last form saved (Post/Redirect/Get).
#[derive(Default, Deserialize)]
struct Saved {
    saved: Option<String>,
}

// ---- profile ------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "profile.html")]
pub struct ProfilePage {
    pub nav: Option<Nav>,
    pub csrf_token: String,
    pub display_name: String,
    pub email: String,
    pub roles: String,
    /// Members who sign in only through the practice's identity provider
    /// have no Tandem password to change.
    pub has_password: bool,
    /// The member's API tokens still in force, offered for revocation
    /// with a password change.
    pub live_tokens: usize,
    /// Whether "revoke my API tokens" is ticked (by default, and as sent).
    pub revoke_tokens: bool,
    /// The practice's sign-in providers, each connected to this member's
    /// account or offered for connecting.
    pub providers: Vec<ProviderLink>,
    pub saved: Option<&'static str>,
    pub errors: FormErrors,
}

pub struct ProviderLink {
    pub id: Uuid,
    pub name: String,
    pub connected: bool,
}

/// What the profile's forms hold besides the stored values.
struct ProfileDraft {
    display_name: String,
    revoke_tokens: bool,
    saved: Option<&'static str>,
    errors: FormErrors,
}

async fn profile_view(state: &AppState, session: &Session, current: &CurrentMember, status: StatusCode, draft: ProfileDraft) -> PageResult {
    let now = state.clock.now();
    let live_tokens = tokens::list(&state.db, current.scope, current.id())
        .await?
        .iter()
        .filter(|t| t.revoked_at.is_none() && t.expires_at > now)
        .count();
    let linked = crate::sso::providers::connected(state, current.scope, current.id()).await?;
    let providers = crate::sso::providers::buttons(state, current.scope)
        .await?
        .into_iter()
        .map(|(id, name)| ProviderLink { id, name, connected: linked.contains(&id) })
        .collect();
    let ProfileDraft { display_name, revoke_tokens, saved, errors } = draft;
    let page = ProfilePage {
        nav: nav(session, current).await?,
        csrf_token: csrf::token(session).await?,
        display_name,
        email: current.member.email.clone(),
        roles: current.roles.labels(),
        has_password: members::has_password(&state.db, &current.member).await?,
        live_tokens,
        revoke_tokens,
        providers,
        saved,
        errors,
    };
    Ok((status, render(&page)).into_response())
}

async fn profile_page(State(state): State<AppState>, session: Session, SignedIn(current): SignedIn, Query(saved): Query<Saved>) -> PageResult {
    let saved = match saved.saved.as_deref() {
        Some("name") => Some("Your name has been saved."),
        Some("connected") => Some("Your account at the sign-in provider is connected: you can sign in with it from now on."),
        Some("password") => Some("Your password has been changed. Your other sessions have been signed out."),
        Some("password-and-tokens") => {
            Some("Your password has been changed. Your other sessions have been signed out and your API tokens revoked.")
        }
        _ => None,
    };
    let draft = ProfileDraft { display_name: current.member.display_name.clone(), revoke_tokens: true, saved, errors: FormErrors::default() };
    profile_view(&state, &session, &current, StatusCode::OK, draft).await
}

#[derive(Deserialize)]
struct NameForm {
    #[serde(default)]
    display_name: String,
}

async fn name_submit(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    CsrfForm(form): CsrfForm<NameForm>,
) -> PageResult {
    match members::rename(&state.db, &current.member, &form.display_name, state.clock.now()).await {
        Ok(()) => Ok(Redirect::to("/profile?saved=name").into_response()),
        Err(AppError::Invalid(errors)) => {
            let draft = ProfileDraft { display_name: form.display_name, revoke_tokens: true, saved: None, errors: errors.into() };
            profile_view(&state, &session, &current, StatusCode::UNPROCESSABLE_ENTITY, draft).await
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_again: String,
    /// A ticked checkbox sends "on"; an unticked one sends nothing.
    #[serde(default)]
    revoke_tokens: Option<String>,
}

/// Changes the member's password (`auth::password_change`); this browser
/// gets a fresh session, the member's others have ended.
async fn password_submit(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    addr: ClientAddr,
    device: DeviceCookie,
    meta: RequestMeta,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> PageResult {
    let revoke_tokens = form.revoke_tokens.is_some();
    let change = PasswordChange {
        current_password: form.current_password,
        new_password: form.new_password,
        new_password_again: form.new_password_again,
        revoke_tokens,
    };
    match change_password(&state, &current, change, addr, &device, &meta).await {
        Ok(member) => {
            establish(&session, &state, &member).await?;
            let saved = if revoke_tokens { "password-and-tokens" } else { "password" };
            Ok(Redirect::to(&format!("/profile?saved={saved}")).into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let draft = ProfileDraft { display_name: current.member.display_name.clone(), revoke_tokens, saved: None, errors: errors.into() };
            profile_view(&state, &session, &current, StatusCode::UNPROCESSABLE_ENTITY, draft).await
        }
        Err(other) => Err(other.into()),
    }
}

// ---- practice settings (admins) -------------------------------------------------------

#[derive(Template)]
#[template(path = "settings.html")]
pub struct SettingsPage {
    pub nav: Option<Nav>,
    pub csrf_token: String,
    pub name: String,
    pub time_zone: String,
    pub saved: bool,
    pub errors: FormErrors,
}

async fn settings_view(
    session: &Session,
    current: &CurrentMember,
    status: StatusCode,
    form: SettingsForm,
    saved: bool,
    errors: FormErrors,
) -> PageResult {
    let page = SettingsPage {
        nav: nav(session, current).await?,
        csrf_token: csrf::token(session).await?,
        name: form.name,
        time_zone: form.time_zone,
        saved,
        errors,
    };
    Ok((status, render(&page)).into_response())
}

async fn settings_page(session: Session, SignedIn(current): SignedIn, Query(saved): Query<Saved>) -> PageResult {
    current.require(Role::Admin)?;
    let form = SettingsForm { name: current.practice.name.clone(), time_zone: current.practice.time_zone.clone() };
    settings_view(&session, &current, StatusCode::OK, form, saved.saved.is_some(), FormErrors::default()).await
}

#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    time_zone: String,
}

async fn settings_submit(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    CsrfForm(form): CsrfForm<SettingsForm>,
) -> PageResult {
    current.require(Role::Admin)?;
    let update = settings::Settings { name: form.name, time_zone: form.time_zone };
    match settings::update(&state.db, current.scope, &update).await {
        Ok(()) => Ok(Redirect::to("/settings?saved=1").into_response()),
        Err(AppError::Invalid(errors)) => {
            let form = SettingsForm { name: update.name, time_zone: update.time_zone };
            settings_view(&session, &current, StatusCode::UNPROCESSABLE_ENTITY, form, false, errors.into()).await
        }
        Err(other) => Err(other.into()),
    }
}

// ---- members' roles (admins) -----------------------------------------------------------

#[derive(Deserialize)]
struct RolesForm {
    #[serde(default)]
    roles: Vec<String>,
    /// Asked for on the admin's own row: a solo admin giving themselves a role.
    #[serde(default)]
    password: Option<String>,
}

/// Replaces a member's roles from the form on the members page; a refusal
/// (no role, a client with another role, the last admin) is shown next to
/// that member's form, with the boxes as they were ticked.
async fn roles_submit(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    meta: RequestMeta,
    Path(id): Path<MemberId>,
    CsrfForm(form): CsrfForm<RolesForm>,
) -> PageResult {
    current.require(Role::Admin)?;
    let result = match Roles::parse_list(&form.roles) {
        Ok(roles) => members::set_roles(&state, &current, id, roles, form.password.as_deref(), &meta).await,
        Err(message) => Err(AppError::invalid("roles", &message)),
    };
    let message = match result {
        Ok(_) => return Ok(Redirect::to("/members").into_response()),
        Err(AppError::Invalid(errors)) => errors.into_iter().map(|e| e.message).next().unwrap_or_default(),
        Err(AppError::Conflict(message) | AppError::Forbidden(message)) => message,
        Err(other) => return Err(other.into()),
    };
    let draft = InviteDraft {
        roles_edit: Some(RolesEdit { member_id: id, roles: form.roles, error: message }),
        ..InviteDraft::default()
    };
    let page = members_view(&state, &session, &current, draft).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}
