//! What the clinical forms share: turning the strings a browser sends into
//! the records' own types, `<select>` choices, and labels for stored values.
//! Forms use the API's field names, so the records' validation messages land
//! next to the right field.

use serde::de::DeserializeOwned;
use time::{Date, OffsetDateTime, macros::format_description};

use crate::input::{BoundedDate, BoundedDateTime};
use crate::{
    records::common::{Audience, PartnerSlot, StoredEnum},
    web::templates::Choice,
};

pub use crate::display::humanize;

pub fn label<T: StoredEnum>(value: T) -> String {
    humanize(&value.as_str())
}

/// The `<option>`s for one of the records' enums.
pub fn choices<T: StoredEnum + PartialEq>(all: &[T], selected: &str) -> Vec<Choice> {
    all.iter()
        .map(|v| {
            let value = v.as_str();
            Choice { selected: value == selected, label: humanize(&value), value }
        })
        .collect()
}

/// The audiences an item can have, named with the partners' names.
pub fn audience_choices(names: &PartnerNames, selected: &str) -> Vec<Choice> {
    [Audience::Clinician, Audience::Couple, Audience::PartnerA, Audience::PartnerB]
        .into_iter()
        .map(|a| Choice { selected: a.as_str() == selected, label: names.audience(a), value: a.as_str() })
        .collect()
}

/// The partners' names, for labels such as "Dan only".
#[derive(Clone, Debug, Default)]
pub struct PartnerNames {
    pub a: String,
    pub b: String,
}

impl PartnerNames {
    pub fn of(&self, slot: PartnerSlot) -> &str {
        match slot {
            PartnerSlot::A => &self.a,
            PartnerSlot::B => &self.b,
        }
    }

    pub fn audience(&self, audience: Audience) -> String {
        match audience {
            Audience::Clinician => "Care team only".into(),
            Audience::Couple => "Both partners".into(),
            Audience::PartnerA => format!("{} only", self.a),
            Audience::PartnerB => format!("{} only", self.b),
        }
    }

    pub fn partner_choices(&self, selected: &str) -> Vec<Choice> {
        [PartnerSlot::A, PartnerSlot::B]
            .into_iter()
            .map(|s| Choice { selected: s.as_str() == selected, label: self.of(s).to_owned(), value: s.as_str() })
            .collect()
    }
}

/// One of the records' enums from a form value; an empty value is "none".
pub fn pick<T: DeserializeOwned>(raw: &str) -> Result<Option<T>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    serde_json::from_value(serde_json::Value::String(raw.to_owned()))
        .map(Some)
        .map_err(|_| "choose one of the options".to_owned())
}

/// Like [`pick`], for a choice the form cannot leave out.
pub fn pick_required<T: DeserializeOwned>(raw: &str) -> Result<T, String> {
    pick(raw)?.ok_or_else(|| "choose one of the options".to_owned())
}

/// A date from `<input type="date">`, within Tandem's range; empty is "none".
pub fn date(raw: &str) -> Result<Option<BoundedDate>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let day = Date::parse(raw, format_description!("[year]-[month]-[day]")).map_err(|_| "give a date as YYYY-MM-DD".to_owned())?;
    BoundedDate::new(day).map(Some)
}

pub fn date_required(raw: &str) -> Result<BoundedDate, String> {
    date(raw)?.ok_or_else(|| "this is required".to_owned())
}

pub fn show_date(date: Option<Date>) -> String {
    date.map(|d| d.to_string()).unwrap_or_default()
}

/// A wall-clock time from `<input type="datetime-local">`, read in the
/// practice's time zone.
pub fn local_datetime(raw: &str, time_zone: &str) -> Result<BoundedDateTime, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("this is required".into());
    }
    let civil: jiff::civil::DateTime = raw.parse().map_err(|_| "give a date and time".to_owned())?;
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let zoned = civil.to_zoned(tz).map_err(|_| "that time does not exist here".to_owned())?;
    let at = OffsetDateTime::from_unix_timestamp(zoned.timestamp().as_second()).map_err(|_| "that time is out of range".to_owned())?;
    BoundedDateTime::new(at)
}

/// The value for `<input type="datetime-local">` showing `at` in the practice's time zone.
pub fn datetime_input(at: OffsetDateTime, time_zone: &str) -> String {
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    match jiff::Timestamp::from_second(at.unix_timestamp()) {
        Ok(ts) => ts.to_zoned(tz).strftime("%Y-%m-%dT%H:%M").to_string(),
        Err(_) => String::new(),
    }
}

/// Text, one item per line, as a list; blank lines dropped.
pub fn lines(raw: &str) -> Vec<String> {
    raw.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

pub fn opt(raw: &str) -> Option<String> {
    let raw = raw.trim();
    (!raw.is_empty()).then(|| raw.to_owned())
}

/// The n-th value of a repeated form field ("" past its end).
pub fn nth(values: &[String], i: usize) -> &str {
    values.get(i).map(String::as_str).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_become_record_values() {
        assert_eq!(humanize("substances_at_home"), "Substances at home");
        assert_eq!(pick::<Audience>("partner_a"), Ok(Some(Audience::PartnerA)));
        assert_eq!(pick::<Audience>(""), Ok(None));
        assert!(pick::<Audience>("everyone").is_err());
        assert_eq!(date("2026-03-02").unwrap().map(|d| d.to_string()), Some("2026-03-02".into()));
        assert!(date("02/03/2026").is_err());
        assert_eq!(lines(" one\n\n two \r\n"), vec!["one", "two"]);
        let at = local_datetime("2026-07-01T09:30", "America/Chicago").unwrap();
        assert_eq!(at.unix_timestamp(), 1_782_916_200);
        assert_eq!(datetime_input(at.get(), "America/Chicago"), "2026-07-01T09:30");
        assert!(date("1899-12-31").is_err() && local_datetime("2100-01-01T00:30", "UTC").is_err(), "out of range");
    }
}
