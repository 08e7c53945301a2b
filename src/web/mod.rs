//! Server-rendered pages. Handlers parse the form, call the same services the
//! API uses, and render a template; validation errors re-render the form with
//! the person's input and a message next to each field.

mod access_changes;
mod account;
pub mod clinical;
mod error;
pub mod extract;
mod identity_providers;
pub mod review;
mod sso;
pub mod templates;

use askama::Template;
use axum::{
    Router,
    extract::{Query, State},
    http::{HeaderValue, header},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use serde::Deserialize;
use tower_sessions::Session;
use uuid::Uuid;

pub use self::{
    error::{PageError, error_page},
    extract::{CsrfForm, Path, SignedIn},
};
use self::templates::*;
use crate::{
    state::AppState,
    audit::RequestMeta,
    auth::{
        ClientAddr, CurrentMember,
        csrf,
        current::{end, establish},
        devices::DeviceCookie,
        sign_in::{self, WRONG_CREDENTIALS},
        tokens,
    },
    error::AppError,
    practice::{
        Email, Fields, Role, Roles, invitations, members, practices, parse_name, parse_new_password,
        parse_slug, parse_time_zone,
        setup::{self, FirstAdmin, NewPractice},
    },
};

type PageResult = Result<Response, PageError>;

pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .merge(audited(clinical::routes(), state.clone()))
        .merge(audited(review::routes(), state.clone()))
        .merge(account::routes())
        .route("/", get(home))
        .route("/static/tandem.css", get(stylesheet))
        .route("/setup", get(setup_form).post(setup_submit))
        .route("/sign-in", get(sign_in_form).post(sign_in_submit))
        .route("/sign-out", post(sign_out))
        .route("/p/{slug}/sign-in", get(sso::practice_sign_in))
        .route("/p/{slug}/sso/{provider}/start", get(sso::start))
        .route("/p/{slug}/sso/callback", get(sso::callback))
        .route("/p/{slug}/sso/confirm", post(sso::confirm))
        .route("/profile/sso/{provider}", post(sso::connect))
        .route("/identity-providers", get(identity_providers::page).post(identity_providers::create))
        .route("/identity-providers/{id}", get(identity_providers::edit).post(identity_providers::update))
        .route("/join/{token}", get(join_form).post(join_submit))
        .route("/join/{token}/sso/{provider}", get(sso::join))
        .route("/members", get(members_page))
        .route("/access-changes", get(access_changes::page))
        .route("/members/invite", post(invite_submit))
        .route("/members/{id}/deactivate", post(deactivate_submit))
        .route("/members/{id}/reactivate", post(reactivate_submit))
        .route("/invitations/{id}/revoke", post(revoke_invitation_submit))
        .route("/tokens", get(tokens_page).post(token_submit))
        .route("/tokens/{id}/revoke", post(revoke_token_submit))
}

/// Pages that show or change clinical records or the access log: like the
/// API's clinical routes, each request leaves exactly one access event,
/// stored before the page leaves (and a form's writes commit with it).
pub fn audited(routes: Router<AppState>, state: AppState) -> Router<AppState> {
    routes
        .route_layer(crate::http::catch_panics())
        .route_layer(axum::middleware::from_fn_with_state(state, crate::audit::context::record_requests))
}

/// Renders a page; a template error is an internal error, not a blank page.
pub fn render<T: Template>(page: &T) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(err) => AppError::Internal(anyhow::anyhow!("template: {err}")).into_response(),
    }
}

pub use crate::display::local_time;

/// The page header of a signed-in member: links for each of their roles.
pub async fn nav(session: &Session, current: &CurrentMember) -> Result<Option<Nav>, AppError> {
    Ok(Some(Nav {
        display_name: current.member.display_name.clone(),
        practice_name: current.practice.name.clone(),
        is_admin: current.roles.contains(Role::Admin),
        is_counselor: current.roles.contains(Role::Counselor),
        is_supervisor: current.roles.contains(Role::Supervisor),
        is_client: current.roles.contains(Role::Client),
        csrf_token: csrf::token(session).await?,
    }))
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
        ],
        include_str!("../../templates/static/tandem.css"),
    )
}

async fn home(session: Session, current: Option<SignedIn>) -> PageResult {
    let Some(SignedIn(current)) = current else {
        return Ok(Redirect::to("/sign-in").into_response());
    };
    // Counselors, supervisors and partners work from the dashboard; a
    // practice admin without a clinical role gets the admin's home.
    if [Role::Counselor, Role::Supervisor, Role::Client].into_iter().any(|r| current.roles.contains(r)) {
        return Ok(Redirect::to("/dashboard").into_response());
    }
    Ok(render(&HomePage {
        nav: nav(&session, &current).await?,
        display_name: current.member.display_name.clone(),
        practice_name: current.practice.name.clone(),
        roles: current.roles.labels(),
        is_admin: current.roles.contains(Role::Admin),
    }))
}

// ---- first-start setup -------------------------------------------------------

#[derive(Deserialize)]
struct SetupQuery {
    #[serde(default)]
    token: String,
}

async fn setup_form(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<SetupQuery>,
) -> PageResult {
    if !setup::setup_link_is_valid(&state, &query.token).await? {
        return Err(AppError::Conflict(
            "This setup link has been used or has expired.".into(),
        )
        .into());
    }
    Ok(render(&SetupPage {
        nav: None,
        csrf_token: csrf::token(&session).await?,
        token: query.token,
        values: SetupValues { time_zone: "UTC".into(), ..SetupValues::default() },
        errors: FormErrors::default(),
    }))
}

#[derive(Deserialize)]
struct SetupForm {
    token: String,
    practice_name: String,
    slug: String,
    time_zone: String,
    display_name: String,
    email: String,
    password: String,
}

async fn setup_submit(
    State(state): State<AppState>,
    session: Session,
    CsrfForm(form): CsrfForm<SetupForm>,
) -> PageResult {
    let mut fields = Fields::default();
    let practice_name = fields.check("practice_name", parse_name(&form.practice_name));
    let slug = fields.check("slug", parse_slug(&form.slug));
    let time_zone = fields.check("time_zone", parse_time_zone(&form.time_zone));
    let display_name = fields.check("display_name", parse_name(&form.display_name));
    let email = fields.check("email", Email::parse(&form.email));
    let password = fields.check("password", parse_new_password(&form.password));
    let checked = fields.finish_with(|| Some((practice_name?, slug?, time_zone?, display_name?, email?, password?)));
    let result = match checked {
        Ok((name, slug, time_zone, display_name, email, password)) => {
            setup::complete_setup(
                &state,
                &form.token,
                NewPractice { name, slug, time_zone },
                FirstAdmin { display_name, email, password },
            )
            .await
        }
        Err(err) => Err(err),
    };
    match result {
        Ok(member) => {
            establish(&session, &state, &member).await?;
            Ok(Redirect::to("/members").into_response())
        }
        Err(err) => {
            let errors = match err {
                AppError::Invalid(errors) => errors.into(),
                AppError::Conflict(message) if message.starts_with("slug:") => {
                    FormErrors::from(vec![crate::error::FieldError::new("slug", message.trim_start_matches("slug: "))])
                }
                AppError::Conflict(message) => FormErrors::form(message),
                other => return Err(other.into()),
            };
            Ok(render(&SetupPage {
                nav: None,
                csrf_token: csrf::token(&session).await?,
                values: SetupValues {
                    practice_name: form.practice_name,
                    slug: form.slug,
                    time_zone: form.time_zone,
                    display_name: form.display_name,
                    email: form.email,
                },
                token: form.token,
                errors,
            }))
        }
    }
}

// ---- sign-in and sign-out -------------------------------------------------------

#[derive(Deserialize)]
struct SignInQuery {
    practice: Option<String>,
}

async fn sign_in_form(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<SignInQuery>,
) -> PageResult {
    // With a single practice there is nothing to choose; fill it in.
    let practice = match query.practice {
        Some(p) => p,
        None => practices::only_slug(&state.db).await?.unwrap_or_default(),
    };
    Ok(sign_in_view(&state, &session, practice, String::new(), None).await?)
}

/// The sign-in page, with "Sign in with ..." buttons of the practice named
/// in `practice` when it has providers.
pub(crate) async fn sign_in_view(
    state: &AppState,
    session: &Session,
    practice: String,
    email: String,
    error: Option<String>,
) -> Result<Response, AppError> {
    let providers = match practices::by_slug(&state.db, &practice).await? {
        Some(found) => crate::sso::providers::buttons(state, crate::scope::PracticeScope::trusted(found.id))
            .await?
            .into_iter()
            .map(|(id, name)| ProviderButton { name, start_url: format!("/p/{}/sso/{id}/start", found.slug) })
            .collect(),
        None => Vec::new(),
    };
    Ok(render(&SignInPage { nav: None, csrf_token: csrf::token(session).await?, practice, email, error, providers }))
}

#[derive(Deserialize)]
struct SignInForm {
    practice: String,
    email: String,
    password: String,
}

async fn sign_in_submit(
    State(state): State<AppState>,
    session: Session,
    addr: ClientAddr,
    device: DeviceCookie,
    meta: RequestMeta,
    CsrfForm(form): CsrfForm<SignInForm>,
) -> PageResult {
    let error = match sign_in::with_password(&state, &form.practice, &form.email, &form.password, addr, &device, &meta).await {
        Ok(signed_in) => {
            establish(&session, &state, &signed_in.member).await?;
            let mut response = Redirect::to("/").into_response();
            response.headers_mut().append(header::SET_COOKIE, signed_in.device_cookie);
            return Ok(response);
        }
        Err(AppError::Unauthenticated) => WRONG_CREDENTIALS.to_owned(),
        Err(err @ AppError::TooManyRequests { .. }) => {
            let mut response = sign_in_view(&state, &session, form.practice, form.email, Some(err.detail())).await?;
            *response.status_mut() = err.status();
            if let AppError::TooManyRequests { retry_after_secs, .. } = err {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            }
            return Ok(response);
        }
        Err(other) => return Err(other.into()),
    };
    let mut response = sign_in_view(&state, &session, form.practice, form.email, Some(error)).await?;
    *response.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
    Ok(response)
}

/// For forms that carry nothing but their CSRF token (buttons).
/// A form with nothing but its CSRF token (a button).
pub type CsrfOnly = serde::de::IgnoredAny;

/// Ends the session. Someone who signed in with a provider that offers
/// sign-out is sent there next (by a page, not a redirect: the form-action
/// policy would stop a form's redirect to another site).
async fn sign_out(State(state): State<AppState>, session: Session, CsrfForm(_): CsrfForm<CsrfOnly>) -> PageResult {
    let at_provider = sso::end_session_after_sign_out(&state, &session).await?;
    end(&session).await?;
    Ok(match at_provider {
        Some((end_session_url, provider_name)) => render(&SignedOutPage { nav: None, provider_name, end_session_url }),
        None => Redirect::to("/sign-in").into_response(),
    })
}

// ---- accepting an invitation --------------------------------------------------

async fn join_form(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
) -> PageResult {
    let Some(invitation) = invitations::open(&state, &token).await? else {
        return Err(AppError::Conflict(invitations::INVITATION_GONE.into()).into());
    };
    join_view(&state, &session, token, invitation, String::new(), FormErrors::default()).await
}

/// The invitation page: name and password, or the practice's identity
/// providers ("Join with ...").
async fn join_view(
    state: &AppState,
    session: &Session,
    token: String,
    invitation: invitations::OpenInvitation,
    display_name: String,
    errors: FormErrors,
) -> PageResult {
    let providers = crate::sso::providers::buttons(state, crate::scope::PracticeScope::trusted(invitation.practice.id))
        .await?
        .into_iter()
        .map(|(id, name)| ProviderButton { name, start_url: format!("/join/{token}/sso/{id}") })
        .collect();
    Ok(render(&JoinPage {
        nav: None,
        csrf_token: csrf::token(session).await?,
        providers,
        token,
        practice_name: invitation.practice.name,
        email: invitation.email,
        roles: invitation.roles.labels(),
        display_name,
        errors,
    }))
}

#[derive(Deserialize)]
struct JoinForm {
    display_name: String,
    password: String,
}

async fn join_submit(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
    CsrfForm(form): CsrfForm<JoinForm>,
) -> PageResult {
    let Some(invitation) = invitations::open(&state, &token).await? else {
        return Err(AppError::Conflict(invitations::INVITATION_GONE.into()).into());
    };
    let mut fields = Fields::default();
    let display_name = fields.check("display_name", parse_name(&form.display_name));
    let password = fields.check("password", parse_new_password(&form.password));
    let result = match fields.finish_with(|| Some((display_name?, password?))) {
        Ok((display_name, password)) => invitations::accept(&state, &token, display_name, password).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(member) => {
            establish(&session, &state, &member).await?;
            Ok(Redirect::to("/").into_response())
        }
        Err(AppError::Invalid(errors)) => join_view(&state, &session, token, invitation, form.display_name, errors.into()).await,
        Err(other) => Err(other.into()),
    }
}

// ---- members and invitations (admins) -------------------------------------------

#[derive(Default)]
struct InviteDraft {
    email: String,
    roles: Vec<String>,
    errors: FormErrors,
    new_link: Option<String>,
    /// A member's roles form that was refused, shown again as it was sent.
    roles_edit: Option<RolesEdit>,
}

struct RolesEdit {
    member_id: Uuid,
    roles: Vec<String>,
    error: String,
}

/// The role checkboxes of a form, ticked as `checked` says.
fn role_options(checked: impl Fn(Role) -> bool) -> Vec<RoleOption> {
    Role::ALL
        .into_iter()
        .map(|r| RoleOption { value: r.as_str(), label: r.label(), checked: checked(r) })
        .collect()
}

async fn members_view(state: &AppState, session: &Session, current: &CurrentMember, draft: InviteDraft) -> PageResult {
    current.require(Role::Admin)?;
    let tz = current.practice.time_zone.as_str();
    let members = members::list(state, current.scope)
        .await?
        .into_iter()
        .map(|m| {
            let edit = draft.roles_edit.as_ref().filter(|e| e.member_id == m.id);
            MemberRow {
            role_options: match edit {
                Some(edit) => role_options(|r| edit.roles.iter().any(|x| x == r.as_str())),
                None => role_options(|r| m.roles.contains(r)),
            },
            roles_error: edit.map(|e| e.error.clone()),
            id: m.id.to_string(),
            toggle_action: format!("/members/{}/{}", m.id, if m.active { "deactivate" } else { "reactivate" }),
            toggle_label: if m.active { "Deactivate" } else { "Reactivate" },
            is_self: m.id == current.id(),
            display_name: m.display_name,
            email: m.email,
            roles: m.roles.labels(),
            active: m.active,
        }})
        .collect();
    let invitations = invitations::list(state, current.scope)
        .await?
        .into_iter()
        .map(|i| InvitationRow {
            id: i.id.to_string(),
            email: i.email,
            roles: i.roles.labels(),
            pending: i.status == invitations::InvitationStatus::Pending,
            status: match i.status {
                invitations::InvitationStatus::Pending => "Waiting",
                invitations::InvitationStatus::Accepted => "Accepted",
                invitations::InvitationStatus::Revoked => "Withdrawn",
                invitations::InvitationStatus::Expired => "Expired",
            },
            expires_at: local_time(i.expires_at, tz),
        })
        .collect();
    let role_options = role_options(|r| draft.roles.iter().any(|x| x == r.as_str()));
    Ok(render(&MembersPage {
        nav: nav(session, current).await?,
        csrf_token: csrf::token(session).await?,
        practice_name: current.practice.name.clone(),
        members,
        invitations,
        new_link: draft.new_link,
        invitation_ttl_hours: state.config.invitation_ttl_hours,
        invite_email: draft.email,
        role_options,
        errors: draft.errors,
    }))
}

async fn members_page(State(state): State<AppState>, session: Session, SignedIn(current): SignedIn) -> PageResult {
    members_view(&state, &session, &current, InviteDraft::default()).await
}

async fn invite_submit(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    meta: RequestMeta,
    CsrfForm(form): CsrfForm<InviteForm>,
) -> PageResult {
    current.require(Role::Admin)?;
    let mut fields = Fields::default();
    let email = fields.check("email", Email::parse(&form.email));
    let roles = fields.check("roles", Roles::parse_list(&form.roles));
    let result = match fields.finish_with(|| Some((email?, roles?))) {
        Ok((email, roles)) => invitations::create(&state, &current, email, roles, &meta).await,
        Err(err) => Err(err),
    };
    let draft = match result {
        Ok(created) => InviteDraft {
            email: String::new(),
            roles: vec![],
            new_link: Some(created.link),
            ..InviteDraft::default()
        },
        Err(AppError::Invalid(errors)) => {
            InviteDraft { email: form.email, roles: form.roles, errors: errors.into(), ..InviteDraft::default() }
        }
        Err(AppError::Conflict(message)) => InviteDraft {
            email: form.email,
            roles: form.roles,
            errors: vec![crate::error::FieldError::new("email", message.trim_start_matches("email: "))].into(),
            ..InviteDraft::default()
        },
        Err(other) => return Err(other.into()),
    };
    members_view(&state, &session, &current, draft).await
}

#[derive(Deserialize)]
struct InviteForm {
    email: String,
    #[serde(default)]
    roles: Vec<String>,
}

async fn deactivate_submit(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    meta: RequestMeta,
    Path(id): Path<Uuid>,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> PageResult {
    current.require(Role::Admin)?;
    members::deactivate(&state, &current, id, &meta).await?;
    Ok(Redirect::to("/members").into_response())
}

async fn reactivate_submit(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    meta: RequestMeta,
    Path(id): Path<Uuid>,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> PageResult {
    current.require(Role::Admin)?;
    members::reactivate(&state, &current, id, &meta).await?;
    Ok(Redirect::to("/members").into_response())
}

async fn revoke_invitation_submit(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    Path(id): Path<Uuid>,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> PageResult {
    current.require(Role::Admin)?;
    invitations::revoke(&state, current.scope, id).await?;
    Ok(Redirect::to("/members").into_response())
}

// ---- personal API tokens --------------------------------------------------------

struct TokenDraft {
    name: String,
    expires_in_days: String,
    errors: FormErrors,
    new_secret: Option<String>,
}

async fn tokens_view(state: &AppState, session: &Session, current: &CurrentMember, draft: TokenDraft) -> PageResult {
    let tz = current.practice.time_zone.as_str();
    let tokens = tokens::list(&state.db, current.scope, current.id())
        .await?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id.to_string(),
            name: t.name,
            prefix: t.prefix,
            expires_at: local_time(t.expires_at, tz),
            last_used_at: t.last_used_at.map(|at| local_time(at, tz)).unwrap_or_else(|| "Never".into()),
            revoked: t.revoked_at.is_some(),
        })
        .collect();
    Ok(render(&TokensPage {
        nav: nav(session, current).await?,
        csrf_token: csrf::token(session).await?,
        tokens,
        new_secret: draft.new_secret,
        name: draft.name,
        expires_in_days: draft.expires_in_days,
        errors: draft.errors,
    }))
}

async fn tokens_page(State(state): State<AppState>, session: Session, SignedIn(current): SignedIn) -> PageResult {
    let draft = TokenDraft {
        name: String::new(),
        expires_in_days: tokens::DEFAULT_DAYS.to_string(),
        errors: FormErrors::default(),
        new_secret: None,
    };
    tokens_view(&state, &session, &current, draft).await
}

#[derive(Deserialize)]
struct TokenForm {
    name: String,
    expires_in_days: String,
}

async fn token_submit(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    CsrfForm(form): CsrfForm<TokenForm>,
) -> PageResult {
    let mut fields = Fields::default();
    let name = fields.check("name", tokens::parse_token_name(&form.name));
    let days = fields.check(
        "expires_in_days",
        form.expires_in_days
            .trim()
            .parse::<i64>()
            .map_err(|_| "enter a number of days".to_owned())
            .and_then(|d| tokens::parse_days(Some(d))),
    );
    let draft = match fields.finish_with(|| Some((name?, days?))) {
        Ok((name, days)) => {
            let created =
                tokens::create(&state.db, current.scope, current.id(), name, days, state.clock.now()).await?;
            TokenDraft {
                name: String::new(),
                expires_in_days: tokens::DEFAULT_DAYS.to_string(),
                errors: FormErrors::default(),
                new_secret: Some(created.secret),
            }
        }
        Err(AppError::Invalid(errors)) => TokenDraft {
            name: form.name,
            expires_in_days: form.expires_in_days,
            errors: errors.into(),
            new_secret: None,
        },
        Err(other) => return Err(other.into()),
    };
    tokens_view(&state, &session, &current, draft).await
}

async fn revoke_token_submit(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    Path(id): Path<Uuid>,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> PageResult {
    tokens::revoke(&state.db, current.scope, current.id(), id, state.clock.now()).await?;
    Ok(Redirect::to("/tokens").into_response())
}
