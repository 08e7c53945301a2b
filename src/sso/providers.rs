//! A practice's identity providers as its admins manage them. The client
//! secret goes in and never comes out: it is sealed before it is stored (or
//! named as a file in the operator's secret folder) and no view carries it.

use entity::ids::MemberId;
use std::path::{Path, PathBuf};

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, IntoActiveModel, QueryFilter, QueryOrder};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use entity::identity_providers;

use crate::{
    state::AppState,
    audit::{
        RequestMeta,
        changes::{self, Change},
    },
    auth::CurrentMember,
    config::Secret,
    error::{AppError, on_unique},
    practice::{Fields, parse_name},
    scope::PracticeScope,
};

/// What an admin sends to add or change a provider, as typed.
#[derive(Clone, Debug, Default)]
pub struct ProviderInput {
    pub display_name: String,
    pub issuer: String,
    pub client_id: String,
    /// Empty when changing a provider: keep the stored secret.
    pub client_secret: Secret<String>,
    /// A file name in the practice's folder `TANDEM_SSO_SECRET_DIR/<slug>/`, instead of a secret.
    pub client_secret_file: String,
    pub allowed_domains: Vec<String>,
    pub enabled: bool,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ProviderView {
    pub id: Uuid,
    /// Shown on the sign-in page as "Sign in with <name>".
    pub display_name: String,
    pub issuer: String,
    pub client_id: String,
    /// Where the client secret is kept: `sealed` (entered, stored encrypted) or `file`.
    pub client_secret_source: &'static str,
    pub client_secret_file: Option<String>,
    /// Only people whose verified email is in one of these domains may link; empty means any.
    pub allowed_domains: Vec<String>,
    pub enabled: bool,
    /// Register this redirect URI with the provider.
    pub redirect_uri: String,
    /// Register this as a post-logout redirect URI with the provider.
    pub post_logout_redirect_uri: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// The address a practice's providers send people back to.
pub fn redirect_uri(state: &AppState, slug: &str) -> String {
    format!("{}/p/{slug}/sso/callback", state.config.public_base())
}

/// Where a provider sends people after signing them out.
pub fn post_logout_redirect_uri(state: &AppState, slug: &str) -> String {
    format!("{}/sign-in?practice={slug}", state.config.public_base())
}

pub fn domains_of(stored: &str) -> Vec<String> {
    stored.split(',').filter(|d| !d.is_empty()).map(str::to_owned).collect()
}

fn view(state: &AppState, slug: &str, m: identity_providers::Model) -> ProviderView {
    ProviderView {
        id: m.id,
        display_name: m.display_name,
        issuer: m.issuer,
        client_id: m.client_id,
        client_secret_source: if m.client_secret_file.is_some() { "file" } else { "sealed" },
        client_secret_file: m.client_secret_file,
        allowed_domains: domains_of(&m.allowed_domains),
        enabled: m.enabled,
        redirect_uri: redirect_uri(state, slug),
        post_logout_redirect_uri: post_logout_redirect_uri(state, slug),
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

/// `https://` at an address on the public internet. With `allow_local`
/// (`TANDEM_SSO_ALLOW_INSECURE_ISSUERS`, for tests and development), also
/// this machine and private networks, and plain `http://` on loopback.
pub fn parse_issuer(raw: &str, allow_local: bool) -> Result<String, String> {
    let issuer = raw.trim();
    let url = url::Url::parse(issuer).map_err(|_| "enter the provider's issuer URL, like https://login.example.org".to_owned())?;
    super::reach::check(&url, allow_local)?;
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || issuer.len() > 500 {
        return Err("the issuer URL has no query, fragment or user name, and at most 500 characters".into());
    }
    Ok(issuer.to_owned())
}

fn parse_client_id(raw: &str) -> Result<String, String> {
    let id = raw.trim();
    if id.is_empty() || id.len() > 200 || id.chars().any(char::is_control) {
        Err("enter the client id the provider gave you (at most 200 characters)".into())
    } else {
        Ok(id.to_owned())
    }
}

fn parse_domains(raw: &[String]) -> Result<String, String> {
    let mut domains = Vec::new();
    for d in raw.iter().flat_map(|d| d.split([',', ' ', '\n'])) {
        let d = d.trim().trim_start_matches('@').to_lowercase();
        if d.is_empty() {
            continue;
        }
        let ok = d.len() <= 200
            && d.contains('.')
            && !d.starts_with('.')
            && !d.ends_with('.')
            && d.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !ok {
            return Err(format!("`{d}` is not a domain like example.org"));
        }
        if !domains.contains(&d) {
            domains.push(d);
        }
    }
    if domains.len() > 20 {
        return Err("name at most 20 domains".into());
    }
    Ok(domains.join(","))
}

/// A file name (no folders) in the practice's own folder of the operator's
/// secret folder, `<TANDEM_SSO_SECRET_DIR>/<practice slug>/`.
fn parse_secret_file(state: &AppState, slug: &str, raw: &str) -> Result<String, String> {
    let name = raw.trim();
    let Some(dir) = &state.config.sso_secret_dir else {
        return Err("this Tandem has no secret folder (TANDEM_SSO_SECRET_DIR); enter the secret instead".into());
    };
    let ok = !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !ok {
        return Err("use a file name of letters, digits, dots, hyphens and underscores, without folders".into());
    }
    secret_file_path(dir, slug, name)?;
    Ok(name.to_owned())
}

/// The file `name` in `<dir>/<slug>/`, if it is a file there after following
/// links: a link that leads out of the practice's folder (to another
/// practice's secret, say) is refused.
fn secret_file_path(dir: &Path, slug: &str, name: &str) -> Result<PathBuf, String> {
    let folder = dir
        .join(slug)
        .canonicalize()
        .map_err(|_| format!("the secret folder has no folder for this practice yet ({slug}/); ask your Tandem operator"))?;
    let file = folder
        .join(name)
        .canonicalize()
        .map_err(|_| format!("there is no file named {name} in this practice's secret folder ({slug}/)"))?;
    if !file.starts_with(&folder) || !file.is_file() {
        return Err(format!("{name} must be a file inside this practice's secret folder ({slug}/)"));
    }
    Ok(file)
}

enum SecretChange {
    Keep,
    Sealed(String),
    File(String),
}

struct Parsed {
    display_name: String,
    issuer: String,
    client_id: String,
    secret: SecretChange,
    allowed_domains: String,
}

fn parse(state: &AppState, slug: &str, input: &ProviderInput, creating: bool) -> Result<Parsed, AppError> {
    let mut fields = Fields::default();
    let display_name = fields.check("display_name", parse_name(&input.display_name));
    let issuer = fields.check("issuer", parse_issuer(&input.issuer, state.config.sso_allow_insecure_issuers));
    let client_id = fields.check("client_id", parse_client_id(&input.client_id));
    let allowed_domains = fields.check("allowed_domains", parse_domains(&input.allowed_domains));
    let secret = input.client_secret.expose().trim();
    let secret = match (secret.is_empty(), input.client_secret_file.trim().is_empty()) {
        (false, false) => fields.check("client_secret", Err("enter a secret or name a secret file, not both".into())),
        (true, true) if creating => fields.check("client_secret", Err("enter the client secret the provider gave you".into())),
        (true, true) => Some(SecretChange::Keep),
        (false, true) if secret.len() > 1000 => fields.check("client_secret", Err("use at most 1000 characters".into())),
        (false, true) => Some(SecretChange::Sealed(secret.to_owned())),
        (true, false) => fields.check("client_secret_file", parse_secret_file(state, slug, &input.client_secret_file)).map(SecretChange::File),
    };
    fields.finish_with(|| {
        Some(Parsed { display_name: display_name?, issuer: issuer?, client_id: client_id?, secret: secret?, allowed_domains: allowed_domains? })
    })
}

fn apply(state: &AppState, row: &mut identity_providers::ActiveModel, id: Uuid, parsed: Parsed, enabled: bool, now: OffsetDateTime) {
    row.display_name = Set(parsed.display_name);
    row.issuer = Set(parsed.issuer);
    row.client_id = Set(parsed.client_id);
    row.allowed_domains = Set(parsed.allowed_domains);
    row.enabled = Set(enabled);
    row.updated_at = Set(now);
    match parsed.secret {
        SecretChange::Keep => {}
        SecretChange::Sealed(secret) => {
            row.client_secret_sealed = Set(Some(state.sealing_key.seal(&secret, &id.to_string())));
            row.client_secret_file = Set(None);
        }
        SecretChange::File(name) => {
            row.client_secret_sealed = Set(None);
            row.client_secret_file = Set(Some(name));
        }
    }
}

const DUPLICATE: &str = "this practice already has a provider with this issuer";

pub async fn list(state: &AppState, scope: PracticeScope, slug: &str) -> Result<Vec<ProviderView>, AppError> {
    Ok(scope
        .select::<identity_providers::Entity>()
        .order_by_asc(identity_providers::Column::DisplayName)
        .order_by_asc(identity_providers::Column::Id)
        .all(&state.db)
        .await?
        .into_iter()
        .map(|m| view(state, slug, m))
        .collect())
}

/// The providers `member_id` has connected an account at.
pub async fn connected(state: &AppState, scope: PracticeScope, member_id: MemberId) -> Result<Vec<Uuid>, AppError> {
    Ok(scope
        .select::<entity::member_identities::Entity>()
        .filter(entity::member_identities::Column::MemberId.eq(member_id))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|i| i.provider_id)
        .collect())
}

/// The enabled providers, for the sign-in page: (id, name).
pub async fn buttons(state: &AppState, scope: PracticeScope) -> Result<Vec<(Uuid, String)>, AppError> {
    Ok(scope
        .select::<identity_providers::Entity>()
        .filter(identity_providers::Column::Enabled.eq(true))
        .order_by_asc(identity_providers::Column::DisplayName)
        .all(&state.db)
        .await?
        .into_iter()
        .map(|m| (m.id, m.display_name))
        .collect())
}

pub async fn find(state: &AppState, scope: PracticeScope, id: Uuid) -> Result<identity_providers::Model, AppError> {
    scope.by_id::<identity_providers::Entity>(id).one(&state.db).await?.ok_or(AppError::NotFound)
}

pub async fn get(state: &AppState, scope: PracticeScope, slug: &str, id: Uuid) -> Result<ProviderView, AppError> {
    Ok(view(state, slug, find(state, scope, id).await?))
}

/// Adds a provider, with its access event: a provider can vouch for the
/// practice's members, so adding one changes who can see what.
pub async fn create(state: &AppState, current: &CurrentMember, input: &ProviderInput, meta: &RequestMeta) -> Result<ProviderView, AppError> {
    let scope = current.scope;
    let parsed = parse(state, &current.practice.slug, input, true)?;
    let now = state.clock.now();
    let id = Uuid::now_v7();
    let mut row = identity_providers::ActiveModel {
        id: Set(id),
        practice_id: Set(scope.practice_id()),
        created_at: Set(now),
        client_secret_sealed: Set(None),
        client_secret_file: Set(None),
        ..Default::default()
    };
    apply(state, &mut row, id, parsed, input.enabled, now);
    let txn = crate::audit::begin_write(&state.db).await?;
    let created = row.insert(&txn).await.map_err(|e| on_unique(e, "issuer", DUPLICATE))?;
    let change = Change::new(Vec::<Uuid>::new(), None::<()>, settings(&created));
    let event = changes::event(current, "identity_provider_add", "identity_provider", Some(id), &change, meta, now);
    crate::audit::chain::append(&txn, &[event]).await?;
    txn.commit().await?;
    tracing::info!(provider_id = %id, practice_id = %scope.practice_id(), "identity provider added");
    Ok(view(state, &current.practice.slug, created))
}

/// Changes a provider, with its access event (settings before and after;
/// never the secret itself).
pub async fn update(
    state: &AppState,
    current: &CurrentMember,
    id: Uuid,
    input: &ProviderInput,
    meta: &RequestMeta,
) -> Result<ProviderView, AppError> {
    let scope = current.scope;
    // Another practice's provider is not found, whatever the form holds.
    find(state, scope, id).await?;
    let parsed = parse(state, &current.practice.slug, input, false)?;
    let txn = crate::audit::begin_write(&state.db).await?;
    let existing = scope.by_id::<identity_providers::Entity>(id).one(&txn).await?.ok_or(AppError::NotFound)?;
    let before = settings(&existing);
    let old_issuer = existing.issuer.clone();
    let now = state.clock.now();
    let mut row = existing.into_active_model();
    apply(state, &mut row, id, parsed, input.enabled, now);
    let updated = row.update(&txn).await.map_err(|e| on_unique(e, "issuer", DUPLICATE))?;
    let change = Change::new(Vec::<Uuid>::new(), before, settings(&updated));
    let event = changes::event(current, "identity_provider_change", "identity_provider", Some(id), &change, meta, now);
    crate::audit::chain::append(&txn, &[event]).await?;
    txn.commit().await?;
    state.sso.forget(&old_issuer);
    tracing::info!(provider_id = %id, practice_id = %scope.practice_id(), enabled = updated.enabled, "identity provider changed");
    Ok(view(state, &current.practice.slug, updated))
}

/// A provider's settings as the access log records a change to them: where
/// its secret is kept, never the secret.
fn settings(m: &identity_providers::Model) -> serde_json::Value {
    serde_json::json!({
        "display_name": m.display_name,
        "issuer": m.issuer,
        "client_id": m.client_id,
        "allowed_domains": domains_of(&m.allowed_domains),
        "enabled": m.enabled,
        "client_secret_file": m.client_secret_file,
        "client_secret_changed_at": m.updated_at.unix_timestamp(),
    })
}

/// The client secret, opened or read from its file in the folder of the
/// practice `slug`; never logged.
pub fn client_secret(state: &AppState, slug: &str, provider: &identity_providers::Model) -> Result<Secret<String>, AppError> {
    if let Some(name) = &provider.client_secret_file {
        let dir = state
            .config
            .sso_secret_dir
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("provider {} names a secret file but TANDEM_SSO_SECRET_DIR is not set", provider.id))?;
        // Checked again on every use: the folder may have changed since the admin named the file.
        let path = secret_file_path(dir, slug, name)
            .map_err(|e| anyhow::anyhow!("the secret file of provider {}: {e}", provider.id))?;
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading the secret file of provider {}: {e}", provider.id))?;
        return Ok(Secret::new(text.trim().to_owned()));
    }
    let sealed = provider
        .client_secret_sealed
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("provider {} has no client secret", provider.id))?;
    state
        .sealing_key
        .open(sealed, &provider.id.to_string())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("provider {}: {e}", provider.id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_must_be_public_https_unless_local_ones_are_allowed() {
        for allow_local in [false, true] {
            assert!(parse_issuer("https://login.example.org", allow_local).is_ok());
            assert!(parse_issuer("http://login.example.org", allow_local).is_err());
            assert!(parse_issuer("https://login.example.org/?x=1", allow_local).is_err());
            assert!(parse_issuer("not a url", allow_local).is_err());
        }
        for local in ["http://127.0.0.1:4444", "http://localhost:4444", "http://[::1]:4444", "https://127.0.0.1:4444"] {
            assert!(parse_issuer(local, true).is_ok(), "{local}");
            assert!(parse_issuer(local, false).is_err(), "{local}");
        }
        for private in ["https://10.1.2.3", "https://192.168.0.10", "https://169.254.169.254", "https://[fd00::1]", "https://0.0.0.0", "https://[::ffff:127.0.0.1]"] {
            assert!(parse_issuer(private, false).is_err(), "{private}");
        }
        assert!(parse_issuer("http://10.1.2.3", true).is_err(), "plain http only on loopback");
    }

    #[test]
    fn domains_are_normalised_and_checked() {
        assert_eq!(parse_domains(&["Example.ORG, @clinic.example".into()]).unwrap(), "example.org,clinic.example");
        assert_eq!(parse_domains(&[]).unwrap(), "");
        assert!(parse_domains(&["exa mple".into(), "nodot".into()]).is_err());
        assert!(parse_domains(&["ex_ample.org".into()]).is_err());
    }
}
