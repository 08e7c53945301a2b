//! The admin page of a practice's sign-in providers: list, add, change, turn off.

use axum::{extract::State, http::StatusCode, response::IntoResponse};
use serde::Deserialize;
use tower_sessions::Session;
use uuid::Uuid;

use super::{PageResult, nav, render, templates::*};
use crate::{
    state::AppState,
    audit::RequestMeta,
    web::Path,
    auth::{CurrentMember, csrf},
    web::{CsrfForm, SignedIn},
    config::Secret,
    error::AppError,
    practice::Role,
    sso::providers::{self, ProviderInput},
};

/// The form as posted. Every field may be missing, so that a post for an
/// unknown provider answers 404, not a complaint about the form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ProviderForm {
    display_name: String,
    issuer: String,
    client_id: String,
    client_secret: String,
    client_secret_file: String,
    allowed_domains: String,
    enabled: Option<String>,
}

impl ProviderForm {
    fn input(&self) -> ProviderInput {
        ProviderInput {
            display_name: self.display_name.clone(),
            issuer: self.issuer.clone(),
            client_id: self.client_id.clone(),
            client_secret: Secret::new(self.client_secret.clone()),
            client_secret_file: self.client_secret_file.clone(),
            allowed_domains: vec![self.allowed_domains.clone()],
            enabled: self.enabled.is_some(),
        }
    }

    fn values(self) -> ProviderValues {
        ProviderValues {
            enabled: self.enabled.is_some(),
            display_name: self.display_name,
            issuer: self.issuer,
            client_id: self.client_id,
            client_secret_file: self.client_secret_file,
            allowed_domains: self.allowed_domains,
        }
    }
}

async fn view(
    state: &AppState,
    session: &Session,
    current: &CurrentMember,
    editing: Option<Uuid>,
    values: ProviderValues,
    errors: FormErrors,
) -> PageResult {
    current.require(Role::Admin)?;
    let slug = current.practice.slug.as_str();
    Ok(render(&IdentityProvidersPage {
        nav: nav(session, current).await?,
        csrf_token: csrf::token(session).await?,
        practice_name: current.practice.name.clone(),
        providers: providers::list(state, current.scope, slug).await?,
        redirect_uri: providers::redirect_uri(state, slug),
        post_logout_redirect_uri: providers::post_logout_redirect_uri(state, slug),
        sign_in_url: format!("{}/p/{slug}/sign-in", state.config.public_base()),
        action: match editing {
            Some(id) => format!("/identity-providers/{id}"),
            None => "/identity-providers".into(),
        },
        editing,
        values,
        secret_dir: state.config.sso_secret_dir.is_some(),
        errors,
    }))
}

pub async fn page(State(state): State<AppState>, session: Session, SignedIn(current): SignedIn) -> PageResult {
    let values = ProviderValues { enabled: true, ..ProviderValues::default() };
    view(&state, &session, &current, None, values, FormErrors::default()).await
}

pub async fn edit(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    Path(id): Path<Uuid>,
) -> PageResult {
    current.require(Role::Admin)?;
    let p = providers::get(&state, current.scope, &current.practice.slug, id).await?;
    let values = ProviderValues {
        display_name: p.display_name,
        issuer: p.issuer,
        client_id: p.client_id,
        client_secret_file: p.client_secret_file.unwrap_or_default(),
        allowed_domains: p.allowed_domains.join(", "),
        enabled: p.enabled,
    };
    view(&state, &session, &current, Some(id), values, FormErrors::default()).await
}

/// Turns a service result into the page: the list again, or the form with
/// the messages next to its fields.
async fn after_save(
    state: &AppState,
    session: &Session,
    current: &CurrentMember,
    editing: Option<Uuid>,
    form: ProviderForm,
    result: Result<providers::ProviderView, AppError>,
) -> PageResult {
    let errors: FormErrors = match result {
        Ok(_) => return Ok(axum::response::Redirect::to("/identity-providers").into_response()),
        Err(AppError::Invalid(errors)) => errors.into(),
        Err(AppError::Conflict(message)) => {
            vec![crate::error::FieldError::new("issuer", message.trim_start_matches("issuer: "))].into()
        }
        Err(other) => return Err(other.into()),
    };
    let mut page = view(state, session, current, editing, form.values(), errors).await?;
    *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    Ok(page)
}

pub async fn create(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    meta: RequestMeta,
    CsrfForm(form): CsrfForm<ProviderForm>,
) -> PageResult {
    current.require(Role::Admin)?;
    let result = providers::create(&state, &current, &form.input(), &meta).await;
    after_save(&state, &session, &current, None, form, result).await
}

pub async fn update(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    meta: RequestMeta,
    Path(id): Path<Uuid>,
    CsrfForm(form): CsrfForm<ProviderForm>,
) -> PageResult {
    current.require(Role::Admin)?;
    let result = providers::update(&state, &current, id, &form.input(), &meta).await;
    after_save(&state, &session, &current, Some(id), form, result).await
}
