//! Page types, one per file under `templates/`. Askama checks them at compile
//! time and escapes every value.

use std::collections::HashMap;

use askama::Template;

use crate::error::FieldError;

/// What the page header shows for a signed-in member.
pub struct Nav {
    pub display_name: String,
    pub practice_name: String,
    pub is_admin: bool,
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
}

#[derive(Template)]
#[template(path = "join.html")]
pub struct JoinPage {
    pub nav: Option<Nav>,
    pub csrf_token: String,
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
