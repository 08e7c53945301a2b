//! Values a practice's data is made of, parsed once at the edge so the rest of
//! the code can trust them.

use std::{collections::BTreeSet, fmt, str::FromStr};

use serde::{Deserialize, Serialize};
pub use entity::ids::{MemberId, PracticeId};

use crate::error::{AppError, FieldError};

/// A member as the rest of Tandem sees them: who they are, never how they
/// prove it (the password hash stays with the code that checks it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub id: MemberId,
    pub practice_id: PracticeId,
    pub display_name: String,
    pub email: String,
    pub active: bool,
}

impl From<entity::members::Model> for Member {
    fn from(m: entity::members::Model) -> Self {
        Self { id: m.id, practice_id: m.practice_id, display_name: m.display_name, email: m.email, active: m.active }
    }
}

/// A practice as its members and pages see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Practice {
    pub id: PracticeId,
    pub name: String,
    /// The practice's part of sign-in and provider addresses (`/p/{slug}/...`).
    pub slug: String,
    /// IANA name; times are shown in it.
    pub time_zone: String,
}

impl From<entity::practices::Model> for Practice {
    fn from(p: entity::practices::Model) -> Self {
        Self { id: p.id, name: p.name, slug: p.slug, time_zone: p.time_zone }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the practice: members, settings, sign-in providers. No clinical access by default.
    Admin,
    /// Therapist or recovery coach; sees the couples on their care team.
    Counselor,
    /// Reviews access logs; reads records of the counselors they supervise.
    Supervisor,
    /// A partner in a couple; sees only what is shared with them.
    Client,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Counselor, Role::Supervisor, Role::Client];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Counselor => "counselor",
            Role::Supervisor => "supervisor",
            Role::Client => "client",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Practice admin",
            Role::Counselor => "Counselor",
            Role::Supervisor => "Supervisor",
            Role::Client => "Client",
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| format!("unknown role `{}`", s.trim()))
    }
}

/// The roles a request may name, as the OpenAPI document states them: at
/// least one, and a client account is a client only.
pub fn roles_schema() -> utoipa::openapi::Schema {
    use utoipa::openapi::{ArrayBuilder, ObjectBuilder, Schema, schema::{AnyOfBuilder, Type}};
    let list = |roles: Vec<&'static str>| {
        ArrayBuilder::new()
            .items(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(roles)))
            .min_items(Some(1))
            .build()
    };
    let staff = Role::ALL.into_iter().filter(|r| *r != Role::Client).map(Role::as_str).collect();
    Schema::AnyOf(AnyOfBuilder::new().item(list(staff)).item(list(vec![Role::Client.as_str()])).build())
}

/// A member's roles: at least one; a client account is a client only, so a
/// partner's portal login can never carry clinical or administrative rights.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Role>", into = "Vec<Role>")]
pub struct Roles(BTreeSet<Role>);

impl Roles {
    pub fn new(roles: impl IntoIterator<Item = Role>) -> Result<Self, String> {
        let set: BTreeSet<Role> = roles.into_iter().collect();
        if set.is_empty() {
            return Err("choose at least one role".into());
        }
        if set.contains(&Role::Client) && set.len() > 1 {
            return Err("a client account cannot have other roles".into());
        }
        Ok(Self(set))
    }

    /// Parses role names as a form or body sends them.
    pub fn parse_list(raw: &[String]) -> Result<Self, String> {
        Self::new(raw.iter().map(|r| r.parse::<Role>()).collect::<Result<Vec<_>, _>>()?)
    }

    pub fn one(role: Role) -> Self {
        Self(BTreeSet::from([role]))
    }

    /// Parses the stored form, `admin,counselor`.
    pub fn from_stored(stored: &str) -> Result<Self, String> {
        let roles = stored
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(Role::from_str)
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(roles)
    }

    pub fn to_stored(&self) -> String {
        self.0.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
    }

    pub fn contains(&self, role: Role) -> bool {
        self.0.contains(&role)
    }

    pub fn iter(&self) -> impl Iterator<Item = Role> + '_ {
        self.0.iter().copied()
    }

    pub fn labels(&self) -> String {
        self.0.iter().map(|r| r.label()).collect::<Vec<_>>().join(", ")
    }
}

impl TryFrom<Vec<Role>> for Roles {
    type Error = String;
    fn try_from(value: Vec<Role>) -> Result<Self, Self::Error> {
        Roles::new(value)
    }
}

impl From<Roles> for Vec<Role> {
    fn from(value: Roles) -> Self {
        value.0.into_iter().collect()
    }
}

/// An email address, trimmed and lower-cased. Only the shape is checked; an
/// invitation link proves the person can read mail sent there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let email = raw.trim().to_lowercase();
        let valid = email.len() <= 254
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && match email.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && !domain.is_empty()
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                }
                None => false,
            };
        if valid { Ok(Self(email)) } else { Err("enter an email address like name@example.org".into()) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Email::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's or practice's name as shown to others: trimmed, 1-120 characters.
pub fn parse_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    let count = name.chars().count();
    if count == 0 {
        Err("enter a name".into())
    } else if count > 120 {
        Err("use at most 120 characters".into())
    } else {
        crate::input::check_single_line(name).map(|()| name.to_owned())
    }
}

/// The short name in a practice's URLs: 2-40 of a-z, 0-9 and inner hyphens.
pub fn parse_slug(raw: &str) -> Result<String, String> {
    let slug = raw.trim().to_lowercase();
    let ok = (2..=40).contains(&slug.len())
        && slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if ok { Ok(slug) } else { Err("use 2-40 lower-case letters, digits and hyphens".into()) }
}

/// An IANA time zone name such as `Europe/Berlin`.
pub fn parse_time_zone(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    jiff::tz::TimeZone::get(name)
        .map(|_| name.to_owned())
        .map_err(|_| "choose a time zone such as Europe/Berlin or America/Chicago".into())
}

/// A new password: long enough to resist guessing, short enough to hash quickly.
pub fn parse_new_password(raw: &str) -> Result<String, String> {
    let count = raw.chars().count();
    if count < 12 {
        Err("use at least 12 characters".into())
    } else if count > 256 {
        Err("use at most 256 characters".into())
    } else {
        Ok(raw.to_owned())
    }
}

/// Collects field errors while parsing a form or body, then fails with all of them at once.
#[derive(Default)]
pub struct Fields(Vec<FieldError>);

impl Fields {
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(message) => {
                self.0.push(FieldError::new(field, message));
                None
            }
        }
    }

    pub fn finish(self) -> Result<(), AppError> {
        if self.0.is_empty() { Ok(()) } else { Err(AppError::Invalid(self.0)) }
    }

    /// Fails with every collected error; otherwise builds the value from the
    /// checked fields, which are all `Some` once no check failed:
    /// `let (a, b) = fields.finish_with(|| Some((a?, b?)))?;`
    pub fn finish_with<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, AppError> {
        self.finish()?;
        build().ok_or_else(|| AppError::Internal(anyhow::anyhow!("a field passed its check without a value")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_reject_mixed_client() {
        let roles = Roles::from_stored("supervisor,counselor").unwrap();
        assert_eq!(roles.to_stored(), "counselor,supervisor");
        assert!(Roles::from_stored("client,counselor").is_err());
        assert!(Roles::from_stored("").is_err());
        assert!(Roles::from_stored("wizard").is_err());
    }

    #[test]
    fn emails_are_normalised() {
        assert_eq!(Email::parse("  Ana@Example.ORG ").unwrap().as_str(), "ana@example.org");
        for bad in ["", "ana", "ana@", "@example.org", "ana@example", "a b@example.org", "a@b@c.org"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slugs_names_time_zones_passwords() {
        assert_eq!(parse_slug("Riverside-Counseling").unwrap(), "riverside-counseling");
        assert!(parse_slug("-x").is_err());
        assert!(parse_slug("a").is_err());
        assert!(parse_slug("a/b").is_err());
        assert_eq!(parse_name("  Zoë Ñúñez-Øberg ").unwrap(), "Zoë Ñúñez-Øberg");
        assert!(parse_name("   ").is_err());
        assert!(parse_time_zone("Europe/Berlin").is_ok());
        assert!(parse_time_zone("Mars/Olympus").is_err());
        assert!(parse_new_password("short").is_err());
        assert!(parse_new_password("correct horse battery").is_ok());
    }
}
