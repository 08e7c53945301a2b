//! Where a signed-in member lands: for a counselor, their couples, today's
//! and upcoming sessions, recent lapses and plans due for review; for a
//! supervisor, the couples of the counselors they supervise; for a partner,
//! their couple. One access event records that the dashboard was viewed.

use askama::Template;
use axum::{extract::State, response::IntoResponse};
use time::Duration;
use tower_sessions::Session;
use uuid::Uuid;

use super::{Chrome, PageResult, forms::label};
use crate::{
    state::AppState,
    access::{self, Need},
    audit::AuditContext,
    web::SignedIn,
    practice::Role,
    records::{
        common::PageQuery,
        couples, lapses, milestones, plans, sessions,
    },
    web::{local_time, render, templates::Nav},
};

pub struct CoupleLink {
    pub id: Uuid,
    pub label: String,
    pub status: String,
}

pub struct Upcoming {
    pub couple_id: Uuid,
    pub couple: String,
    pub when: String,
    pub kind: String,
    pub today: bool,
}

pub struct RecentLapse {
    pub couple_id: Uuid,
    pub couple: String,
    pub occurred_on: String,
    pub kind: String,
}

pub struct ReviewDue {
    pub couple_id: Uuid,
    pub couple: String,
    pub review_on: String,
    pub overdue: bool,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    pub nav: Option<Nav>,
    pub display_name: String,
    pub counselor: bool,
    pub supervisor: bool,
    pub client: bool,
    pub couples: Vec<CoupleLink>,
    pub sessions: Vec<Upcoming>,
    pub lapses: Vec<RecentLapse>,
    pub reviews: Vec<ReviewDue>,
}

/// How far ahead sessions are listed and plan reviews flagged.
const AHEAD: Duration = Duration::days(14);
/// How far back lapses count as recent.
const RECENT: Duration = Duration::days(30);

pub async fn page(State(state): State<AppState>, session: Session, SignedIn(current): SignedIn, audit: AuditContext) -> PageResult {
    let tz = current.practice.time_zone.clone();
    let now = state.clock.now();
    let today = milestones::practice_today(&state, &tz);
    let list = couples::list(&state, &current, &PageQuery { limit: Some(200), cursor: None }).await?.items;
    let (mut upcoming, mut recent, mut reviews) = (Vec::new(), Vec::new(), Vec::new());
    for c in &list {
        let access = access::couple(&state, &audit, &current, c.id, Need::Read).await?;
        for s in sessions::list(&access, &PageQuery { limit: Some(20), cursor: None }).await?.items {
            if s.ends_at >= now && s.starts_at <= now + AHEAD {
                let today_too = super::forms::datetime_input(s.starts_at, &tz).starts_with(&today.to_string());
                upcoming.push((s.starts_at, Upcoming { couple_id: c.id, couple: c.label.clone(), when: local_time(s.starts_at, &tz), kind: label(s.kind), today: today_too }));
            }
        }
        if access.is_clinician() {
            for l in lapses::list(&access, &PageQuery { limit: Some(10), cursor: None }).await?.items {
                if l.occurred_on >= today - RECENT {
                    recent.push((l.occurred_on, RecentLapse { couple_id: c.id, couple: c.label.clone(), occurred_on: l.occurred_on.to_string(), kind: label(l.kind) }));
                }
            }
            if let Ok(plan) = plans::current(&access).await
                && let Some(review_on) = plan.content.review_on
                && review_on <= today + AHEAD
            {
                reviews.push(ReviewDue { couple_id: c.id, couple: c.label.clone(), review_on: review_on.to_string(), overdue: review_on < today });
            }
        }
    }
    // The page is one view of the dashboard, whatever it read to build it.
    access::practice_level(&audit, &current, Some("dashboard"), false);
    upcoming.sort_by_key(|(at, _)| *at);
    recent.sort_by_key(|(on, _)| std::cmp::Reverse(*on));
    reviews.sort_by(|a, b| a.review_on.cmp(&b.review_on));
    let chrome = Chrome::of(&session, &current).await?;
    let page = DashboardPage {
        nav: chrome.nav,
        display_name: current.member.display_name.clone(),
        counselor: current.roles.contains(Role::Counselor),
        supervisor: current.roles.contains(Role::Supervisor),
        client: current.roles.contains(Role::Client),
        couples: list.into_iter().map(|c| CoupleLink { id: c.id, label: c.label, status: label(c.status) }).collect(),
        sessions: upcoming.into_iter().map(|(_, u)| u).collect(),
        lapses: recent.into_iter().map(|(_, l)| l).collect(),
        reviews,
    };
    Ok(render(&page).into_response())
}
