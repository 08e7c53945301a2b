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

/// "substances_at_home" -> "Substances at home"; a letter that names
/// something reads as one: "partner_a" -> "Partner A".
pub fn humanize(stored: &str) -> String {
    let words: Vec<String> = stored
        .split('_')
        .enumerate()
        .map(|(i, word)| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) if i == 0 || word.len() == 1 => first.to_uppercase().chain(chars).collect(),
                Some(first) => std::iter::once(first).chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect();
    words.join(" ")
}

/// The instant a day begins in `time_zone` (midnight there, or the first
/// moment of the day where a clock change skips midnight).
pub fn day_start(day: time::Date, time_zone: &str) -> OffsetDateTime {
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let seconds = jiff::civil::Date::new(day.year() as i16, day.month() as i8, day.day() as i8)
        .and_then(|d| d.to_zoned(tz))
        .map(|z| z.timestamp().as_second())
        .unwrap_or_else(|_| day.midnight().assume_utc().unix_timestamp());
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or_else(|_| day.midnight().assume_utc())
}

/// The day an instant falls on in `time_zone` (UTC where the zone is unknown).
pub fn local_day(at: OffsetDateTime, time_zone: &str) -> time::Date {
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    jiff::Timestamp::from_second(at.unix_timestamp())
        .ok()
        .and_then(|ts| {
            let d = ts.to_zoned(tz).date();
            time::Month::try_from(d.month() as u8).ok().and_then(|m| time::Date::from_calendar_date(d.year().into(), m, d.day() as u8).ok())
        })
        .unwrap_or(at.date())
}

/// A month as people write it: "March 2026".
pub fn month(first: time::Date) -> String {
    format!("{} {}", first.month(), first.year())
}

/// A day as people write it: "Monday 7 December 2026".
pub fn day(day: time::Date) -> String {
    format!("{} {} {} {}", day.weekday(), day.day(), day.month(), day.year())
}

/// A session as the prep page and PDF name it: "Joint session, 2026-12-10 17:00 CST".
pub fn session(kind: &str, starts_at: OffsetDateTime, time_zone: &str) -> String {
    format!("{} session, {}", humanize(kind), local_time(starts_at, time_zone))
}

/// A count with its unit as people write it: "1 day", "240 days".
pub fn count(n: i64, unit: &str) -> String {
    if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") }
}

#[cfg(test)]
mod tests {
    use super::{count, humanize};

    #[test]
    fn days_begin_at_local_midnight() {
        use time::macros::{date, datetime};
        assert_eq!(super::day_start(date!(2026 - 12 - 07), "America/Chicago"), datetime!(2026-12-07 06:00 UTC));
        assert_eq!(super::day_start(date!(2026 - 07 - 06), "Europe/Berlin"), datetime!(2026-07-05 22:00 UTC));
        assert_eq!(super::day_start(date!(2026 - 12 - 07), "Not/AZone"), datetime!(2026-12-07 00:00 UTC));
        assert_eq!(super::day(date!(2026 - 12 - 07)), "Monday 7 December 2026");
        // Late evening in Chicago is already the next day in UTC.
        assert_eq!(super::local_day(datetime!(2026-12-08 03:30 UTC), "America/Chicago"), date!(2026 - 12 - 07));
        assert_eq!(super::local_day(datetime!(2026-12-08 03:30 UTC), "Europe/Berlin"), date!(2026 - 12 - 08));
        assert_eq!(super::month(date!(2026 - 03 - 01)), "March 2026");
    }

    #[test]
    fn stored_words_read_as_people_write_them() {
        assert_eq!(humanize("substances_at_home"), "Substances at home");
        assert_eq!(humanize("partner_a"), "Partner A");
        assert_eq!(humanize("care_team"), "Care team");
        assert_eq!(humanize(""), "");
        assert_eq!(count(1, "day"), "1 day");
        assert_eq!(count(0, "day"), "0 days");
        assert_eq!(count(240, "minute"), "240 minutes");
    }
}
