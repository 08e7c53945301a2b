//! How stored values read to a person, wherever they are shown (pages, PDFs,
//! the access log's descriptions): times in the practice's own zone, stored
//! words as text. Depends on nothing else in Tandem, so every layer may use it.

use time::OffsetDateTime;

fn zoned(at: OffsetDateTime, time_zone: &str) -> Option<jiff::Zoned> {
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    jiff::Timestamp::from_second(at.unix_timestamp()).ok().map(|ts| ts.to_zoned(tz))
}

/// A time as the practice reads it: its own time zone, to the minute,
/// written as people write it: "7 December 2026, 17:00 CST".
pub fn local_time(at: OffsetDateTime, time_zone: &str) -> String {
    match zoned(at, time_zone) {
        Some(z) => z.strftime("%-d %B %Y, %H:%M %Z").to_string(),
        None => at.to_string(),
    }
}

/// The time of day alone, in the practice's zone: "17:00".
pub fn clock_time(at: OffsetDateTime, time_zone: &str) -> String {
    match zoned(at, time_zone) {
        Some(z) => z.strftime("%H:%M").to_string(),
        None => at.time().to_string(),
    }
}

/// The day an instant falls on in the practice's zone, as people write it:
/// "7 December 2026".
pub fn local_date(at: OffsetDateTime, time_zone: &str) -> String {
    match zoned(at, time_zone) {
        Some(z) => z.strftime("%-d %B %Y").to_string(),
        None => date(at.date()),
    }
}

/// A calendar day as people write it: "7 December 2026".
pub fn date(day: time::Date) -> String {
    format!("{} {} {}", day.day(), day.month(), day.year())
}

/// [`date`], or nothing for no day.
pub fn optional_date(day: Option<time::Date>) -> String {
    day.map(date).unwrap_or_default()
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

/// A session as the prep page and PDF name it: "Joint session, Thursday 10
/// December 2026, 17:00 CST".
pub fn session(kind: &str, starts_at: OffsetDateTime, time_zone: &str) -> String {
    match zoned(starts_at, time_zone) {
        Some(z) => format!("{} session, {}", humanize(kind), z.strftime("%A %-d %B %Y, %H:%M %Z")),
        None => format!("{} session, {starts_at}", humanize(kind)),
    }
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
    fn dates_and_times_read_as_people_write_them() {
        use time::macros::{date, datetime};
        let at = datetime!(2026-12-10 23:00 UTC);
        assert_eq!(super::local_time(at, "America/Chicago"), "10 December 2026, 17:00 CST");
        assert_eq!(super::local_time(at, "Europe/Berlin"), "11 December 2026, 00:00 CET");
        assert_eq!(super::local_date(at, "Europe/Berlin"), "11 December 2026");
        assert_eq!(super::clock_time(at, "America/Chicago"), "17:00");
        assert_eq!(super::date(date!(2026 - 03 - 02)), "2 March 2026");
        assert_eq!(super::optional_date(None), "");
        assert_eq!(super::session("joint", at, "America/Chicago"), "Joint session, Thursday 10 December 2026, 17:00 CST");
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
