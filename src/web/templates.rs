//! Page types, one per file under `templates/`. Askama checks them at compile
//! time and escapes every value.

use std::collections::HashMap;

use askama::Template;

use crate::error::FieldError;

/// What the page header shows for a signed-in member.
#[derive(Clone)]
pub struct Nav {
    pub display_name: String,
    pub practice_name: String,
    pub is_admin: bool,
    pub is_counselor: bool,
    pub is_supervisor: bool,
    pub is_client: bool,
    pub csrf_token: String,
}

/// Validation messages by field name, shown next to each field.
#[derive(Default)]
pub struct FormErrors(HashMap<String, String>);

impl FormErrors {
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub fn form(message: impl Into<String>) -> Self {
        Self(HashMap::from([("form".to_owned(), message.into())]))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every message, for the summary at the top of a form (sorted by field,
    /// so the page reads the same each time).
    pub fn all(&self) -> Vec<(String, String)> {
        let mut all: Vec<_> = self.0.iter().map(|(f, m)| (f.clone(), m.clone())).collect();
        all.sort();
        all.into_iter()
            .map(|(field, message)| {
                // "content.sections.plan.text" -> "sections plan text"; the form's own message has no field.
                let place = field.trim_start_matches("content.").replace(['.', '_'], " ");
                (if field == "form" { String::new() } else { place }, message)
            })
            .collect()
    }
}

impl From<Vec<FieldError>> for FormErrors {
    fn from(errors: Vec<FieldError>) -> Self {
        let mut map = HashMap::new();
        for e in errors {
            map.entry(e.field).or_insert(e.message);
        }
        Self(map)
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub nav: Option<Nav>,
    pub title: String,
    pub message: String,
    pub status: u16,
}

#[derive(Default)]
pub struct SetupValues {
    pub practice_name: String,
    pub slug: String,
    pub time_zone: String,
    pub display_name: String,
    pub email: String,
}

#[derive(Template)]
#[template(path = "setup.html")]
pub struct SetupPage {
    pub nav: Option<Nav>,
    pub csrf_token: String,
    pub token: String,
    pub values: SetupValues,
    pub errors: FormErrors,
}

#[derive(Template)]
#[template(path = "sign_in.html")]
pub struct SignInPage {
    pub nav: Option<Nav>,
    pub csrf_token: String,
    pub practice: String,
    pub email: String,
    pub error: Option<String>,
    /// "Sign in with <name>" buttons of the practice named in `practice`.
    pub providers: Vec<ProviderButton>,
}

pub struct ProviderButton {
    pub name: String,
    pub start_url: String,
}

#[derive(Template)]
#[template(path = "quick_exit.html")]
pub struct QuickExitPage {
    pub neutral_url: &'static str,
}

#[derive(Template)]
#[template(path = "signed_out.html")]
pub struct SignedOutPage {
    pub nav: Option<Nav>,
    pub provider_name: String,
    pub end_session_url: String,
}

/// The add or change form of an identity provider, as typed (never the secret).
#[derive(Default)]
pub struct ProviderValues {
    pub display_name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret_file: String,
    pub allowed_domains: String,
    pub enabled: bool,
}

#[derive(Template)]
#[template(path = "identity_providers.html")]
pub struct IdentityProvidersPage {
    pub nav: Option<Nav>,
    pub csrf_token: String,
    pub practice_name: String,
    pub providers: Vec<crate::sso::providers::ProviderView>,
    pub redirect_uri: String,
    pub post_logout_redirect_uri: String,
    pub sign_in_url: String,
    /// The provider being changed, if any; otherwise the form adds one.
    pub editing: Option<uuid::Uuid>,
    pub action: String,
    pub values: ProviderValues,
    pub secret_dir: bool,
    pub errors: FormErrors,
}

#[derive(Template)]
#[template(path = "join.html")]
pub struct JoinPage {
    pub nav: Option<Nav>,
    pub csrf_token: String,
    /// "Join with ..." links, one per enabled identity provider.
    pub providers: Vec<ProviderButton>,
    pub token: String,
    pub practice_name: String,
    pub email: String,
    pub roles: String,
    pub display_name: String,
    pub errors: FormErrors,
}

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    pub nav: Option<Nav>,
    pub display_name: String,
    pub practice_name: String,
    pub roles: String,
    pub is_admin: bool,
}

pub struct MemberRow {
    pub id: String,
    pub display_name: String,
    pub email: String,
    pub roles: String,
    pub active: bool,
    pub is_self: bool,
    /// Where the deactivate or reactivate button posts, and what it says.
    pub toggle_action: String,
    pub toggle_label: &'static str,
    /// The member's roles form: boxes as stored, or as a refused form sent them.
    pub role_options: Vec<RoleOption>,
    pub roles_error: Option<String>,
}

pub struct InvitationRow {
    pub id: String,
    pub email: String,
    pub roles: String,
    pub status: &'static str,
    pub pending: bool,
    pub expires_at: String,
}

pub struct RoleOption {
    pub value: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "members.html")]
pub struct MembersPage {
    pub nav: Option<Nav>,
    pub csrf_token: String,
    pub practice_name: String,
    pub members: Vec<MemberRow>,
    pub invitations: Vec<InvitationRow>,
    pub new_link: Option<String>,
    pub invitation_ttl_hours: u32,
    pub invite_email: String,
    pub role_options: Vec<RoleOption>,
    pub errors: FormErrors,
}

pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub expires_at: String,
    pub last_used_at: String,
    pub revoked: bool,
}

#[derive(Template)]
#[template(path = "tokens.html")]
pub struct TokensPage {
    pub nav: Option<Nav>,
    pub csrf_token: String,
    pub tokens: Vec<TokenRow>,
    pub new_secret: Option<String>,
    pub name: String,
    pub expires_in_days: String,
    pub errors: FormErrors,
}

/// One `<option>` of a `<select>`.
#[derive(Clone, Debug)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}
