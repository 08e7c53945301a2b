//! The week's sessions as a calendar: a counselor's across their caseload,
//! a supervisor's across the couples they supervise, a partner's of their
//! own couple (with where it takes place). Sessions come from the caseload's
//! read model, so each is shown only to whom its audience allows; the page
//! is one practice-level access event, like the dashboard.

use crate::records::couples::CoupleId;
use askama::Template;
use axum::{extract::State, response::IntoResponse};
use serde::Deserialize;
use time::{Date, Duration};
use tower_sessions::Session;

use super::{Chrome, PageResult, forms::label};
use crate::{
    access,
    audit::AuditContext,
    display,
    error::AppError,
    records::{milestones, sessions},
    state::AppState,
    http::extract::Query,
    web::{SignedIn, render, templates::Nav},
};

pub struct CalendarSession {
    pub couple_id: CoupleId,
    pub couple: String,
    pub time: String,
    pub kind: String,
    pub place: String,
}

pub struct CalendarDay {
    pub label: String,
    pub today: bool,
    pub sessions: Vec<CalendarSession>,
}

#[derive(Template)]
#[template(path = "calendar.html")]
pub struct CalendarPage {
    pub nav: Option<Nav>,
    pub week: String,
    pub previous: String,
    pub next: String,
    pub days: Vec<CalendarDay>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WeekQuery {
    /// Any day of the week to show (YYYY-MM-DD); this week when absent.
    week: Option<String>,
}

pub async fn page(State(state): State<AppState>, session: Session, SignedIn(current): SignedIn, audit: AuditContext, Query(query): Query<WeekQuery>) -> PageResult {
    let tz = current.practice.time_zone.clone();
    let today = milestones::practice_today(&state, &tz);
    let monday = monday_of(week_of(query.week.as_deref(), today)?);
    let caseload = access::caseload(&state, &current).await?.load().await?;
    // Where each of the 7 days begins in the practice's zone, and the next week.
    let starts: Vec<_> = (0..8).map(|i| display::day_start(monday + Duration::days(i), &tz)).collect();
    let found = sessions::between(&caseload, starts[0], starts[7]).await?;
    access::practice_level(&audit, &current, Some("calendar"), false);
    let chrome = Chrome::of(&session, &current).await?;
    let days = (0..7)
        .map(|i| (monday + Duration::days(i as i64), starts[i], starts[i + 1]))
        .map(|(day, from, to)| CalendarDay {
            label: display::day(day),
            today: day == today,
            sessions: found
                .iter()
                .filter(|s| from <= s.starts_at && s.starts_at < to)
                .map(|s| CalendarSession {
                    couple_id: s.couple_id,
                    couple: caseload.of(s.couple_id).map(|a| a.couple.label.clone()).unwrap_or_default(),
                    time: display::clock_time(s.starts_at, &tz),
                    kind: label(s.kind),
                    place: place(s),
                })
                .collect(),
        })
        .collect();
    let href = |d: Date| format!("/calendar?week={d}");
    let page = CalendarPage {
        nav: chrome.nav,
        week: format!("Week of {}", display::day(monday)),
        previous: href(monday - Duration::days(7)),
        next: href(monday + Duration::days(7)),
        days,
    };
    Ok(render(&page).into_response())
}

fn week_of(asked: Option<&str>, today: Date) -> Result<Date, AppError> {
    match asked.map(str::trim).filter(|w| !w.is_empty()) {
        None => Ok(today),
        Some(text) => Date::parse(text, time::macros::format_description!("[year]-[month]-[day]"))
            .ok()
            .and_then(|d| crate::input::check_date(d).ok())
            .ok_or_else(|| AppError::BadRequest("Choose a week by one of its days, like 2026-12-07.".into())),
    }
}

fn monday_of(day: Date) -> Date {
    day - Duration::days(i64::from(day.weekday().number_days_from_monday()))
}

fn place(s: &sessions::SessionView) -> String {
    match (&s.location, s.telehealth) {
        (Some(place), true) => format!("{place} (video)"),
        (Some(place), false) => place.clone(),
        (None, true) => "Video session".into(),
        (None, false) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    #[test]
    fn a_week_starts_on_monday() {
        assert_eq!(super::monday_of(date!(2026 - 12 - 06)), date!(2026 - 11 - 30));
        assert_eq!(super::monday_of(date!(2026 - 12 - 07)), date!(2026 - 12 - 07));
    }
}
