//! Where a signed-in member lands: for a counselor, their couples, today's
//! and upcoming sessions, recent lapses and plans due for review; for a
//! supervisor, the couples of the counselors they supervise; for a partner,
//! their couple. One access event records that the dashboard was viewed.

use crate::records::couples::CoupleId;
use std::sync::Arc;

use askama::Template;
use axum::{extract::State, response::IntoResponse};
use time::{Date, Duration};
use tower_sessions::Session;
use uuid::Uuid;

use super::{Chrome, PageResult, forms::label};
use crate::{
    state::AppState,
    access,
    audit::AuditContext,
    auth::CurrentMember,
    error::AppError,
    web::SignedIn,
    practice::Role,
    access::EmergencyOpened,
    records::{
        boundaries,
        common::StoredEnum,
        lapse_response::StepView,
        lapses::LapseView,
        milestones, notes,
        overview::{self, About, CaseloadOverview},
        sessions::SessionView,
    },
    web::{local_time, render, templates::Nav},
};

pub struct CoupleLink {
    pub id: CoupleId,
    pub label: String,
    pub status: String,
}

pub struct Upcoming {
    pub session_id: Uuid,
    pub couple_id: CoupleId,
    pub couple: String,
    pub when: String,
    pub kind: String,
    pub today: bool,
}

pub struct RecentLapse {
    pub couple_id: CoupleId,
    pub couple: String,
    pub occurred_on: String,
    pub kind: String,
}

pub struct DraftLink {
    pub couple_id: CoupleId,
    pub couple: String,
    pub id: Uuid,
    pub format: String,
    pub updated: String,
}

pub struct EmergencyLine {
    pub couple_id: CoupleId,
    pub couple: String,
    pub opened_by: String,
    pub when: String,
    pub reason: String,
    pub reviewed: bool,
}

pub struct AwaitingLink {
    pub couple_id: CoupleId,
    pub couple: String,
    pub what: String,
    pub waiting_for: String,
}

pub struct ReviewDue {
    pub couple_id: CoupleId,
    pub couple: String,
    pub review_on: String,
    pub overdue: bool,
}

pub struct OverdueStep {
    pub couple_id: CoupleId,
    pub couple: String,
    pub who: String,
    pub action: String,
    pub due: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    pub nav: Option<Nav>,
    pub display_name: String,
    /// [`DashboardLists`], rendered (and kept with the caseload it shows).
    pub lists: Arc<String>,
}

/// Everything on the dashboard below the greeting: what the caseload holds,
/// as the caller's roles and the practice's time zone present it.
#[derive(Template)]
#[template(path = "dashboard_lists.html")]
pub struct DashboardLists {
    pub counselor: bool,
    pub supervisor: bool,
    pub client: bool,
    pub couples: Vec<CoupleLink>,
    pub sessions: Vec<Upcoming>,
    pub lapses: Vec<RecentLapse>,
    pub reviews: Vec<ReviewDue>,
    pub drafts: Vec<DraftLink>,
    pub awaiting: Vec<AwaitingLink>,
    pub emergencies: Vec<EmergencyLine>,
    pub overdue_steps: Vec<OverdueStep>,
}

/// How far ahead sessions are listed and plan reviews flagged.
const AHEAD: Duration = Duration::days(14);
/// How far back lapses count as recent.
const RECENT: Duration = Duration::days(30);

pub async fn page(State(state): State<AppState>, session: Session, SignedIn(current): SignedIn, audit: AuditContext) -> PageResult {
    let tz = current.practice.time_zone.clone();
    let today = milestones::practice_today(&state, &tz);
    let caseload = access::caseload(&state, &current).await?;
    // What the lists show besides the caseload: the time zone and the roles.
    let variant = format!("{tz} {}", current.roles.to_stored());
    let present = |seen| DashboardLists::of(seen, &current, today).render().map_err(|e| AppError::Internal(anyhow::anyhow!("template: {e}")));
    let window = overview::Window { now: state.clock.now(), today, ahead: AHEAD, recent: RECENT };
    let lists = overview::caseload(&caseload, current.id(), window, variant, present).await?;
    // The page is one view of the dashboard, whatever it read to build it.
    access::practice_level(&audit, &current, Some("dashboard"), false);
    let chrome = Chrome::of(&session, &current).await?;
    let page = DashboardPage { nav: chrome.nav, display_name: current.member.display_name.clone(), lists };
    Ok(render(&page).into_response())
}

impl DashboardLists {
    fn of(seen: CaseloadOverview, current: &CurrentMember, today: Date) -> Self {
        let tz = current.practice.time_zone.as_str();
        DashboardLists {
            counselor: current.roles.contains(Role::Counselor),
            supervisor: current.roles.contains(Role::Supervisor),
            client: current.roles.contains(Role::Client),
            couples: seen.couples.into_iter().map(|c| CoupleLink { id: c.id, label: c.label, status: label(c.status) }).collect(),
            sessions: seen.upcoming.into_iter().map(|s| Upcoming::of(s, tz, today)).collect(),
            lapses: seen.recent_lapses.into_iter().map(RecentLapse::of).collect(),
            reviews: seen.reviews_due.into_iter().map(|r| ReviewDue::of(r, today)).collect(),
            drafts: seen.drafts.into_iter().map(|d| DraftLink::of(d, tz)).collect(),
            awaiting: seen.awaiting_agreement.into_iter().map(AwaitingLink::of).collect(),
            emergencies: seen.emergencies.into_iter().map(|e| EmergencyLine::of(e, tz)).collect(),
            overdue_steps: seen.overdue_steps.into_iter().map(|s| OverdueStep::of(s, tz)).collect(),
        }
    }
}

// Each line of the lists, from the read model's item about one couple.

impl Upcoming {
    fn of(s: About<SessionView>, tz: &str, today: Date) -> Self {
        Upcoming {
            session_id: s.item.id,
            today: crate::display::local_day(s.item.starts_at, tz) == today,
            when: local_time(s.item.starts_at, tz),
            kind: label(s.item.kind),
            couple_id: s.couple_id,
            couple: s.couple,
        }
    }
}

impl RecentLapse {
    fn of(l: About<LapseView>) -> Self {
        RecentLapse { occurred_on: crate::display::date(l.item.occurred_on), kind: label(l.item.kind), couple_id: l.couple_id, couple: l.couple }
    }
}

impl ReviewDue {
    fn of(r: About<Date>, today: Date) -> Self {
        ReviewDue { review_on: crate::display::date(r.item), overdue: r.item < today, couple_id: r.couple_id, couple: r.couple }
    }
}

impl DraftLink {
    fn of(d: About<notes::Draft>, tz: &str) -> Self {
        DraftLink {
            id: d.item.id,
            format: d.item.format.as_str().to_uppercase(),
            updated: local_time(d.item.updated_at, tz),
            couple_id: d.couple_id,
            couple: d.couple,
        }
    }
}

impl AwaitingLink {
    fn of(b: About<boundaries::Awaiting>) -> Self {
        let waiting_for = b.item.waiting_for.iter().map(|p| crate::display::humanize(&format!("partner_{}", p.as_str())));
        AwaitingLink {
            what: format!("{} boundary (held by {})", label(b.item.category), label(b.item.holder)),
            waiting_for: waiting_for.collect::<Vec<_>>().join(" and "),
            couple_id: b.couple_id,
            couple: b.couple,
        }
    }
}

impl EmergencyLine {
    fn of(e: About<EmergencyOpened>, tz: &str) -> Self {
        EmergencyLine {
            opened_by: e.item.opened_by,
            when: local_time(e.item.started_at, tz),
            reason: e.item.reason,
            reviewed: e.item.reviewed,
            couple_id: e.couple_id,
            couple: e.couple,
        }
    }
}

impl OverdueStep {
    fn of(s: About<StepView>, tz: &str) -> Self {
        OverdueStep { who: label(s.item.who), action: s.item.action, due: local_time(s.item.due_at, tz), couple_id: s.couple_id, couple: s.couple }
    }
}
