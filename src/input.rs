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

/// JSON has one kind of number: `30.0` is the integer 30 to JSON Schema (and
/// to the OpenAPI document), so it is read as one. Numbers with a fraction,
/// or too large for an integer, stay as they are.
pub fn whole_numbers_as_integers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            // Exactly representable and inside i64: the cast loses nothing.
            if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
                *value = serde_json::Value::from(f as i64);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
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

/// Size limits, stated once: validation and the OpenAPI document use these.
pub mod limits {
    /// Names, labels, places: one line.
    pub const SHORT: usize = 200;
    /// Descriptions and list items: may span lines.
    pub const MEDIUM: usize = 2_000;
    /// Note sections, lessons learned and other long texts.
    pub const LONG: usize = 20_000;
    /// Phone numbers and pronouns: one line.
    pub const TINY: usize = 40;
    /// An email address (RFC 5321).
    pub const EMAIL: usize = 254;
    /// The name of an API token.
    pub const TOKEN_NAME: usize = 80;
    pub const LIST_ITEMS: usize = 50;
}

/// The rule as the OpenAPI document states it, for text fields whose Rust
/// type is a plain `String`: `#[schema(schema_with = crate::input::schema::short)]`.
/// Each function matches a check in `records::common` (`required_text`,
/// `optional_text`): "required" text must carry a character other than
/// white space; text of at most [`limits::SHORT`] characters is one line.
pub mod schema {
    use utoipa::openapi::{
        Array, ArrayBuilder, Object, ObjectBuilder, RefOr, Schema,
        schema::{SchemaType, Type},
    };

    use super::limits;

    /// No control character at all (C0, DEL, C1).
    pub const SINGLE_LINE: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$";
    /// Line breaks and tabs allowed, no other control character.
    pub const MULTI_LINE: &str = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*$";
    /// One line with a character that is neither control nor white space
    /// (white space as Rust's `trim` sees it).
    const SINGLE_LINE_REQUIRED: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*\
        [^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]\
        [^\\u0000-\\u001F\\u007F-\\u009F]*$";
    const MULTI_LINE_REQUIRED: &str = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*\
        [^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]\
        [^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*$";

    /// Text of at most `max` characters. `required`: not blank, never
    /// null; otherwise blank means none, and `nullable` admits null.
    pub fn text(max: usize, required: bool, nullable: bool) -> Object {
        let one_line = max <= limits::SHORT;
        let pattern = match (one_line, required) {
            (true, true) => SINGLE_LINE_REQUIRED,
            (true, false) => SINGLE_LINE,
            (false, true) => MULTI_LINE_REQUIRED,
            (false, false) => MULTI_LINE,
        };
        let kind = if nullable { SchemaType::from_iter([Type::String, Type::Null]) } else { SchemaType::new(Type::String) };
        ObjectBuilder::new()
            .schema_type(kind)
            .min_length(required.then_some(1))
            .max_length(Some(max))
            .pattern(Some(pattern))
            .build()
    }

    fn list(item: Object) -> Array {
        ArrayBuilder::new().items(RefOr::T(Schema::Object(item))).max_items(Some(limits::LIST_ITEMS)).build()
    }

    pub fn short() -> Object {
        text(limits::SHORT, true, false)
    }
    /// What an API token is for, as `auth::tokens::parse_token_name` takes it.
    pub fn token_name() -> Object {
        text(limits::TOKEN_NAME, true, false)
    }

    /// A change to required text: null (or left out) keeps it.
    pub fn short_or_keep() -> Object {
        text(limits::SHORT, true, true)
    }
    pub fn short_or_none() -> Object {
        text(limits::SHORT, false, true)
    }
    pub fn tiny_or_none() -> Object {
        text(limits::TINY, false, true)
    }
    pub fn medium() -> Object {
        text(limits::MEDIUM, true, false)
    }
    pub fn medium_or_none() -> Object {
        text(limits::MEDIUM, false, true)
    }
    pub fn long() -> Object {
        text(limits::LONG, true, false)
    }
    pub fn long_or_none() -> Object {
        text(limits::LONG, false, true)
    }
    /// Long text that may be empty, never null (a note's section).
    pub fn long_or_empty() -> Object {
        text(limits::LONG, false, false)
    }
    pub fn short_list() -> Array {
        list(short())
    }
    pub fn medium_list() -> Array {
        list(medium())
    }

    /// Why emergency access is needed: at least 10 characters besides the
    /// white space around them.
    pub fn emergency_reason() -> Object {
        const REASON: &str = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*\
            [^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]\
            [^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]{8,}\
            [^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]\
            [^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*$";
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(10))
            .max_length(Some(limits::MEDIUM))
            .pattern(Some(REASON))
            .build()
    }

    /// An email address as `practice::Email` accepts it.
    pub fn email() -> Object {
        email_schema(SchemaType::new(Type::String))
    }

    /// An email address as `practice::Email` accepts it, or null.
    pub fn email_or_none() -> Object {
        email_schema(SchemaType::from_iter([Type::String, Type::Null]))
    }

    fn email_schema(kind: SchemaType) -> Object {
        // Printable ASCII without white space; one @; a domain with a dot
        // inside it, not at either end.
        const EMAIL: &str = "^[!-?A-~]+@[!-\\-/-?A-~][!-?A-~]*\\.[!-?A-~]*[!-\\-/-?A-~]$";
        ObjectBuilder::new().schema_type(kind).max_length(Some(limits::EMAIL)).pattern(Some(EMAIL)).build()
    }

    /// A password typed again to confirm an action, or null.
    pub fn password_or_none() -> Object {
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
            .pattern(Some(MULTI_LINE))
            .build()
    }

    /// Any single-line text, such as a filter.
    pub fn single_line() -> Object {
        ObjectBuilder::new().schema_type(Type::String).pattern(Some(SINGLE_LINE)).build()
    }

    /// Any JSON value.
    pub fn any_value() -> Object {
        ObjectBuilder::new().schema_type(SchemaType::AnyValue).build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_are_read_as_integers() {
        let mut value = serde_json::json!({"days": 30.0, "ratio": 0.5, "list": [2.0, -0.0], "big": 1e300});
        whole_numbers_as_integers(&mut value);
        assert_eq!(value, serde_json::json!({"days": 30, "ratio": 0.5, "list": [2, 0], "big": 1e300}));
    }

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
