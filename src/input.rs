//! One rule for what Tandem accepts, the same on SQLite and PostgreSQL and
//! checked before either database sees it:
//! - dates (and the dates of times) from 1900-01-01 to 2099-12-31, which
//!   both databases store and Tandem's date arithmetic handles;
//! - text without NUL or other control characters; multi-line text may
//!   carry line breaks and tabs, single-line text (names, labels) not even those.
//!
//! Dates in request bodies and queries are [`BoundedDate`] and
//! [`BoundedDateTime`], which cannot be built outside the range; text is
//! checked as a whole where it comes in (JSON bodies, forms, paths and query
//! strings), so no field can be forgotten.

use std::{fmt, ops::Deref};

use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};
use time::{Date, OffsetDateTime, macros::date};
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{KnownFormat, ObjectBuilder, RefOr, Schema, SchemaFormat, Type},
};

/// The largest request body accepted; larger ones answer 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub const EARLIEST_DATE: Date = date!(1900 - 01 - 01);
pub const LATEST_DATE: Date = date!(2099 - 12 - 31);

/// The range as the OpenAPI document states it (JSON Schema has no
/// minimum for dates, so a pattern says it).
const YEAR_MONTH_DAY: &str = "(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])";
const CLOCK_AND_OFFSET: &str = "[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])";

fn out_of_range() -> String {
    format!("choose a date from {EARLIEST_DATE} to {LATEST_DATE}")
}

/// Checks that `day` lies in the accepted range.
pub fn check_date(day: Date) -> Result<Date, String> {
    if (EARLIEST_DATE..=LATEST_DATE).contains(&day) { Ok(day) } else { Err(out_of_range()) }
}

/// A calendar date from 1900-01-01 to 2099-12-31.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BoundedDate(Date);

impl BoundedDate {
    pub fn new(day: Date) -> Result<Self, String> {
        check_date(day).map(Self)
    }

    pub fn get(self) -> Date {
        self.0
    }
}

impl Deref for BoundedDate {
    type Target = Date;
    fn deref(&self) -> &Date {
        &self.0
    }
}

impl From<BoundedDate> for Date {
    fn from(value: BoundedDate) -> Self {
        value.0
    }
}

impl fmt::Display for BoundedDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for BoundedDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::new(Date::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

impl Serialize for BoundedDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl PartialSchema for BoundedDate {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
            .pattern(Some(format!("^{YEAR_MONTH_DAY}$")))
            .description(Some(format!("A date from {EARLIEST_DATE} to {LATEST_DATE}.")))
            .into()
    }
}

impl ToSchema for BoundedDate {}

/// A moment in RFC 3339 whose date, as written, lies in the accepted range.
/// (With an offset of at most a day, its UTC date lies within a day of it.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BoundedDateTime(OffsetDateTime);

impl BoundedDateTime {
    pub fn new(at: OffsetDateTime) -> Result<Self, String> {
        check_date(at.date()).map(|_| Self(at))
    }

    pub fn get(self) -> OffsetDateTime {
        self.0
    }
}

impl Deref for BoundedDateTime {
    type Target = OffsetDateTime;
    fn deref(&self) -> &OffsetDateTime {
        &self.0
    }
}

impl From<BoundedDateTime> for OffsetDateTime {
    fn from(value: BoundedDateTime) -> Self {
        value.0
    }
}

impl<'de> Deserialize<'de> for BoundedDateTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::new(time::serde::rfc3339::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

impl Serialize for BoundedDateTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        time::serde::rfc3339::serialize(&self.0, serializer)
    }
}

impl PartialSchema for BoundedDateTime {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .pattern(Some(format!("^{YEAR_MONTH_DAY}{CLOCK_AND_OFFSET}$")))
            .description(Some(format!(
                "An RFC 3339 time whose date, as written, is from {EARLIEST_DATE} to {LATEST_DATE}."
            )))
            .into()
    }
}

impl ToSchema for BoundedDateTime {}

/// Control characters no text may carry: all but line breaks and tabs.
pub fn is_forbidden_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\n' | '\r' | '\t')
}

pub const CONTROL_CHARACTERS: &str = "remove control characters (such as NUL)";

/// Checks text that may span lines.
pub fn check_text(value: &str) -> Result<(), String> {
    if value.chars().any(is_forbidden_control) { Err(CONTROL_CHARACTERS.into()) } else { Ok(()) }
}

/// Checks text that must stay on one line: no control character at all.
pub fn check_single_line(value: &str) -> Result<(), String> {
    if value.chars().any(char::is_control) {
        Err("use one line, without tabs or control characters".into())
    } else {
        Ok(())
    }
}

/// The first string in a JSON document (keys included) that carries a
/// forbidden control character, as a path such as `partners[1].full_name`.
pub fn find_control_characters(value: &serde_json::Value) -> Option<String> {
    fn walk(value: &serde_json::Value, path: &mut String) -> bool {
        match value {
            serde_json::Value::String(s) => check_text(s).is_err(),
            serde_json::Value::Array(items) => items.iter().enumerate().any(|(i, item)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            serde_json::Value::Object(fields) => fields.iter().any(|(key, item)| {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&key.chars().filter(|c| !c.is_control()).collect::<String>());
                let found = check_text(key).is_err() || walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            _ => false,
        }
    }
    let mut path = String::new();
    walk(value, &mut path).then(|| if path.is_empty() { "body".into() } else { path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_is_inclusive_at_both_ends() {
        assert!(BoundedDate::new(date!(1900 - 01 - 01)).is_ok());
        assert!(BoundedDate::new(date!(2099 - 12 - 31)).is_ok());
        assert!(BoundedDate::new(date!(1899 - 12 - 31)).is_err());
        assert!(BoundedDate::new(date!(2100 - 01 - 01)).is_err());
    }

    #[test]
    fn control_characters_are_found_with_their_path() {
        let doc = serde_json::json!({"a": ["ok", {"b": "x\u{0}y"}]});
        assert_eq!(find_control_characters(&doc).as_deref(), Some("a[1].b"));
        let fine = serde_json::json!({"note": "line\nline\ttab"});
        assert_eq!(find_control_characters(&fine), None);
        assert!(check_single_line("line\nline").is_err());
        assert!(check_text("del\u{7f}").is_err());
    }
}
