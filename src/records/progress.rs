//! The pictures of progress as facts for one reader: the months in care
//! with the sessions, lapses and milestones in them, and each boundary's
//! times kept and tested. Built only from what the reader may see (the
//! overview's lists, already cut to the reader's audience, and the sessions
//! the reader may see), so a partner's picture cannot show, even as an
//! unlabelled mark, what is kept from them. The couple page, the prep page
//! and the session-prep PDF draw these facts and say them in words
//! ([`Progress::timeline_sentence`], [`Progress::rows`]), the same words
//! everywhere.

use time::{Date, Month};
use uuid::Uuid;

use super::{
    boundaries::{BoundaryCategory, BoundaryEventKind, BoundaryStatus, Holder},
    common::{PartnerSlot, StoredEnum},
    lapses::LapseKind,
    overview::CoupleOverview,
    sessions::{self, SessionKind, SessionView},
};
use crate::{access::CoupleAccess, display, error::AppError};

/// Something that happened on a day of care.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Happening {
    /// A session, on its day in the practice's time zone; `booked`: still to come.
    Session { kind: SessionKind, booked: bool },
    /// A lapse or relapse of `partner`, lasting `days` days.
    Lapse { partner: PartnerSlot, relapse: bool, days: u32, substance: String },
    /// A sobriety milestone of `partner`, or (none) one celebrated together.
    Milestone { partner: Option<PartnerSlot>, label: String },
}

/// A happening on its day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    pub on: Date,
    pub what: Happening,
}

/// A boundary with the days it was kept or tested, oldest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoundaryTrack {
    pub id: Uuid,
    pub statement: String,
    pub category: BoundaryCategory,
    pub holder: Holder,
    pub retired: bool,
    pub events: Vec<(Date, BoundaryEventKind)>,
}

impl BoundaryTrack {
    pub fn count(&self, kind: BoundaryEventKind) -> usize {
        self.events.iter().filter(|(_, k)| *k == kind).count()
    }
}

/// The facts the pictures draw, for one reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    pub care_started_on: Date,
    pub today: Date,
    /// The first day of the first month drawn: care's start, or an earlier
    /// record's month.
    pub first_month: Date,
    /// The first day of the last month drawn: today's.
    pub last_month: Date,
    /// Sessions, lapses and milestones in the months drawn, by day.
    pub marks: Vec<Mark>,
    /// The boundaries the reader sees, oldest first (a retired one only if
    /// it was ever kept or tested).
    pub boundaries: Vec<BoundaryTrack>,
}

/// The first day of `day`'s month.
pub fn month_of(day: Date) -> Date {
    day.replace_day(1).unwrap_or(day)
}

/// The first day of the month after `first`.
pub fn next_month(first: Date) -> Date {
    let (year, month) = if first.month() == Month::December { (first.year() + 1, Month::January) } else { (first.year(), first.month().next()) };
    Date::from_calendar_date(year, month, 1).unwrap_or(first)
}

impl Progress {
    /// The pictures' facts from what the reader sees: the couple overview
    /// (lapses, sobriety milestones, celebrations, boundaries) and every
    /// session the reader may see, on their days in `time_zone`.
    pub fn of(seen: &CoupleOverview, sessions: &[SessionView], time_zone: &str) -> Self {
        let today = seen.sobriety.today;
        let started = seen.couple.care_started_on;
        let mut marks = Vec::new();
        for s in sessions {
            let on = display::local_day(s.starts_at, time_zone);
            marks.push(Mark { on, what: Happening::Session { kind: s.kind, booked: on > today } });
        }
        for l in &seen.all_lapses {
            let what = Happening::Lapse {
                partner: l.partner,
                relapse: l.kind == LapseKind::Relapse,
                days: l.days.max(1) as u32,
                substance: l.substance.clone(),
            };
            marks.push(Mark { on: l.occurred_on, what });
        }
        // Figures kept from the reader carry no milestones (`figures` is none).
        for p in &seen.sobriety.partners {
            for m in p.figures.iter().flat_map(|f| f.reached.iter()) {
                marks.push(Mark { on: m.reached_on, what: Happening::Milestone { partner: Some(p.partner), label: m.label.clone() } });
            }
        }
        for m in &seen.sobriety.custom_milestones {
            marks.push(Mark { on: m.achieved_on, what: Happening::Milestone { partner: None, label: m.title.clone() } });
        }
        let last_month = month_of(today);
        let end = next_month(last_month);
        marks.retain(|m| m.on < end);
        marks.sort_by_key(|m| (m.on, order(&m.what)));
        let mut boundaries: Vec<BoundaryTrack> = seen
            .boundaries
            .items
            .iter()
            .map(|b| BoundaryTrack {
                id: b.id,
                statement: b.current.statement.clone(),
                category: b.category,
                holder: b.holder,
                retired: b.status == BoundaryStatus::Retired,
                events: b.events.iter().filter(|e| e.occurred_on < end).map(|e| (e.occurred_on, e.kind)).collect(),
            })
            .filter(|b| !b.retired || !b.events.is_empty())
            .collect();
        boundaries.sort_by_key(|b| b.id);
        let earliest = marks.first().map(|m| m.on).into_iter().chain(boundaries.iter().filter_map(|b| b.events.first().map(|e| e.0)));
        let first = earliest.chain([started, today]).min().unwrap_or(today);
        Progress { care_started_on: started, today, first_month: month_of(first), last_month, marks, boundaries }
    }

    /// The months drawn, each as its first day.
    pub fn months(&self) -> Vec<Date> {
        let mut months = vec![self.first_month];
        while let Some(&last) = months.last()
            && last < self.last_month
        {
            months.push(next_month(last));
        }
        months
    }

    /// Where `day` falls on the axis, in months from the first month drawn:
    /// its middle, or its start with `start` (a picture multiplies by its
    /// month's width).
    pub fn offset(&self, day: Date, start: bool) -> f32 {
        let first = self.first_month;
        let index = (day.year() - first.year()) as f32 * 12.0 + f32::from(u8::from(day.month())) - f32::from(u8::from(first.month()));
        let length = f32::from(time::util::days_in_month(day.month(), day.year()));
        let within = f32::from(day.day()) - if start { 1.0 } else { 0.5 };
        index + within / length
    }

    /// The months drawn across a picture `width` units wide.
    pub fn scale(&self, width: f32) -> Scale<'_> {
        let months = self.months();
        Scale { month_width: width / months.len().max(1) as f32, months, progress: self }
    }

    /// Whole months from the start of care to today.
    pub fn months_in_care(&self) -> i64 {
        if self.today < self.care_started_on {
            return 0;
        }
        let (a, b) = (self.care_started_on, self.today);
        let months = i64::from(b.year() - a.year()) * 12 + i64::from(u8::from(b.month())) - i64::from(u8::from(a.month()));
        if b.day() < a.day() { months - 1 } else { months }
    }

    fn count(&self, f: impl Fn(&Happening) -> bool) -> usize {
        self.marks.iter().filter(|m| f(&m.what)).count()
    }

    /// The timeline in one sentence, for screen readers and the PDF:
    /// every lapse and milestone by day, sessions counted.
    pub fn timeline_sentence(&self, name: &dyn Fn(PartnerSlot) -> String) -> String {
        let sessions = self.count(|h| matches!(h, Happening::Session { booked: false, .. }));
        let booked = self.count(|h| matches!(h, Happening::Session { booked: true, .. }));
        let lapses: Vec<String> = self
            .marks
            .iter()
            .filter_map(|m| match &m.what {
                Happening::Lapse { partner, relapse, days, .. } => Some(format!(
                    "{} on {} ({}, {})",
                    name(*partner),
                    display::day(m.on),
                    if *relapse { "relapse" } else { "lapse" },
                    display::count(i64::from(*days), "day")
                )),
                _ => None,
            })
            .collect();
        let milestones: Vec<String> = self
            .marks
            .iter()
            .filter_map(|m| match &m.what {
                Happening::Milestone { partner, label } => Some(match partner {
                    Some(p) => format!("{} reached {label} on {}", name(*p), display::day(m.on)),
                    None => format!("{label} on {}", display::day(m.on)),
                }),
                _ => None,
            })
            .collect();
        let mut s = format!(
            "Months in care since {}: {}.",
            display::day(self.care_started_on),
            display::count(self.months_in_care(), "month")
        );
        if self.marks.is_empty() {
            s.push_str(" Nothing is recorded on the timeline yet: no sessions, lapses or milestones.");
            return s;
        }
        s.push_str(&format!(" {} held", display::count(sessions as i64, "session")));
        if booked > 0 {
            s.push_str(&format!(" and {booked} booked"));
        }
        s.push('.');
        s.push_str(&match lapses.len() {
            0 => " No lapses.".to_owned(),
            n => format!(" {}: {}.", display::count(n as i64, "lapse"), lapses.join("; ")),
        });
        s.push_str(&match milestones.len() {
            0 => " No milestones yet.".to_owned(),
            n => format!(" {}: {}.", display::count(n as i64, "milestone"), milestones.join("; ")),
        });
        s
    }

    /// Every mark as a row (day, what), for the table beside the picture.
    pub fn rows(&self, name: &dyn Fn(PartnerSlot) -> String) -> Vec<(String, String)> {
        self.marks.iter().map(|m| (display::day(m.on), mark_words(&m.what, name))).collect()
    }

    /// The boundaries picture in one sentence per boundary.
    pub fn boundary_sentences(&self) -> Vec<String> {
        self.boundaries.iter().map(BoundaryTrack::sentence).collect()
    }
}

/// Where the days of care fall across a picture (see [`Progress::scale`]).
pub struct Scale<'a> {
    progress: &'a Progress,
    pub months: Vec<Date>,
    pub month_width: f32,
}

/// What to write under a month: its short name and year, where there is room.
pub struct MonthName {
    /// Where the month starts.
    pub x: f32,
    pub month: Option<String>,
    pub year: Option<String>,
}

impl Scale<'_> {
    /// From the left edge to the middle of `day` (to its start with `start`).
    pub fn x(&self, day: Date, start: bool) -> f32 {
        self.progress.offset(day, start) * self.month_width
    }

    /// "Mar", "2026": a name under every month while each has `room`
    /// (else every second, third, …), the year under the first month and
    /// each January at least `year_room` apart.
    pub fn names(&self, room: f32, year_room: f32) -> Vec<MonthName> {
        let every = (room / self.month_width).ceil().max(1.0) as usize;
        let mut last_year = f32::MIN;
        let mut names = Vec::new();
        for (i, m) in self.months.iter().enumerate() {
            let x = i as f32 * self.month_width;
            let month = (i % every == 0).then(|| m.month().to_string().chars().take(3).collect());
            let year = ((i == 0 || m.month() == Month::January) && x - last_year >= year_room).then(|| m.year().to_string());
            if year.is_some() {
                last_year = x;
            }
            if month.is_some() || year.is_some() {
                names.push(MonthName { x, month, year });
            }
        }
        names
    }
}

impl BoundaryTrack {
    /// "If …: kept 2 times (…); tested once (…)." (nothing logged: says so).
    pub fn sentence(&self) -> String {
        let times = |kind, word: &str| {
            let on: Vec<String> = self.events.iter().filter(|(_, k)| *k == kind).map(|(d, _)| display::day(*d)).collect();
            match on.len() {
                0 => None,
                1 => Some(format!("{word} once ({})", on[0])),
                n => Some(format!("{word} {n} times ({})", on.join(", "))),
            }
        };
        let logged: Vec<String> = [times(BoundaryEventKind::Kept, "kept"), times(BoundaryEventKind::Tested, "tested")].into_iter().flatten().collect();
        let retired = if self.retired { " (retired)" } else { "" };
        let logged = if logged.is_empty() { "not logged as kept or tested yet".to_owned() } else { logged.join("; ") };
        format!("{}{retired}: {logged}.", self.statement.trim_end_matches('.'))
    }

    /// "Money · held by both", a short name for the row.
    pub fn category_words(&self) -> String {
        display::humanize(&self.category.as_str())
    }
}

/// A mark in words: "Lapse: Daniel Okafor, 2 days, alcohol".
pub fn mark_words(what: &Happening, name: &dyn Fn(PartnerSlot) -> String) -> String {
    match what {
        Happening::Session { kind, booked } => {
            format!("{} session{}", display::humanize(&kind.as_str()), if *booked { " (booked)" } else { "" })
        }
        Happening::Lapse { partner, relapse, days, substance } => format!(
            "{}: {}, {}, {substance}",
            if *relapse { "Relapse" } else { "Lapse" },
            name(*partner),
            display::count(i64::from(*days), "day")
        ),
        Happening::Milestone { partner: Some(p), label } => format!("Milestone: {} reached {label}", name(*p)),
        Happening::Milestone { partner: None, label } => format!("Celebrated together: {label}"),
    }
}

/// Lapses before milestones before sessions on the same day.
fn order(what: &Happening) -> u8 {
    match what {
        Happening::Lapse { .. } => 0,
        Happening::Milestone { .. } => 1,
        Happening::Session { .. } => 2,
    }
}

/// The pictures' facts for the reader of `access`, from the overview they
/// were shown: reads the sessions they may see (one query).
pub async fn read(access: &CoupleAccess, seen: &CoupleOverview, time_zone: &str) -> Result<Progress, AppError> {
    let sessions = super::overview::kept(access, super::overview::Part::AllSessions, || sessions::all(access)).await?;
    Ok(Progress::of(seen, &sessions, time_zone))
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    fn progress(started: Date, today: Date, marks: Vec<Mark>) -> Progress {
        Progress { care_started_on: started, today, first_month: month_of(started), last_month: month_of(today), marks, boundaries: Vec::new() }
    }

    #[test]
    fn months_run_from_the_start_of_care_to_today() {
        let p = progress(date!(2025 - 11 - 20), date!(2026 - 02 - 03), Vec::new());
        assert_eq!(p.months(), [date!(2025 - 11 - 01), date!(2025 - 12 - 01), date!(2026 - 01 - 01), date!(2026 - 02 - 01)]);
        assert_eq!(p.months_in_care(), 2, "20 November to 3 February: two whole months");
        assert_eq!(progress(date!(2026 - 03 - 02), date!(2026 - 03 - 02), Vec::new()).months(), [date!(2026 - 03 - 01)]);
        assert_eq!(progress(date!(2026 - 12 - 10), date!(2026 - 12 - 06), Vec::new()).months_in_care(), 0, "care not yet begun");
        assert_eq!(next_month(date!(2026 - 12 - 01)), date!(2027 - 01 - 01));
    }

    #[test]
    fn the_sentence_says_every_lapse_and_milestone() {
        let name = |p: PartnerSlot| if p == PartnerSlot::A { "Dan".to_owned() } else { "Marisol".to_owned() };
        let empty = progress(date!(2026 - 03 - 02), date!(2026 - 12 - 06), Vec::new());
        assert_eq!(
            empty.timeline_sentence(&name),
            "Months in care since Monday 2 March 2026: 9 months. Nothing is recorded on the timeline yet: no sessions, lapses or milestones."
        );
        let marks = vec![
            Mark { on: date!(2026 - 03 - 10), what: Happening::Lapse { partner: PartnerSlot::A, relapse: true, days: 1, substance: "alcohol".into() } },
            Mark { on: date!(2026 - 03 - 12), what: Happening::Session { kind: SessionKind::Joint, booked: false } },
        ];
        let p = progress(date!(2026 - 03 - 02), date!(2026 - 12 - 06), marks);
        assert_eq!(
            p.timeline_sentence(&name),
            "Months in care since Monday 2 March 2026: 9 months. 1 session held. 1 lapse: Dan on Tuesday 10 March 2026 (relapse, 1 day). No milestones yet."
        );
        assert_eq!(p.rows(&name)[0], ("Tuesday 10 March 2026".to_owned(), "Relapse: Dan, 1 day, alcohol".to_owned()));
    }
}
