//! How stored values read to a person, wherever they are shown (pages, PDFs,
//! the access log's descriptions): times in the practice's own zone, stored
//! words as text. Depends on nothing else in Tandem, so every layer may use it.

use time::OffsetDateTime;

/// A time as the practice reads it: its own time zone, to the minute.
pub fn local_time(at: OffsetDateTime, time_zone: &str) -> String {
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    match jiff::Timestamp::from_second(at.unix_timestamp()) {
        Ok(ts) => ts.to_zoned(tz).strftime("%Y-%m-%d %H:%M %Z").to_string(),
        Err(_) => at.to_string(),
    }
}

/// "substances_at_home" -> "Substances at home".
pub fn humanize(stored: &str) -> String {
    let spaced = stored.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
