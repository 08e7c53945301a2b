//! "Prepare the next session": one page per couple and session, for the
//! care team and supervisors, saying what the session-prep PDF says in the
//! same order; the counselor edits the session's agenda here.

use crate::records::couples::CoupleId;
use askama::Template;
use axum::{
    extract::State,
    response::{IntoResponse, Redirect},
};
use serde::Deserialize;
use tower_sessions::Session;
use uuid::Uuid;

use super::{
    Chrome, CoupleContext, PageResult,
    editing::parse_version,
    forms::label,
    lapse_steps::StepRow,
    pictures::{BoundaryPicture, Heatmap, Timeline, heatmap},
};
use crate::{
    state::AppState,
    access::{self, Need},
    audit::AuditContext,
    records::{
        common::{IfMatch, StoredEnum},
        milestones,
        session_prep::{self, AgendaInput, SessionPrep},
    },
    web::{CsrfForm, Path, SignedIn, render, templates::Nav},
};

#[derive(Template)]
#[template(path = "prep.html")]
pub struct PrepPage {
    pub nav: Option<Nav>,
    pub csrf_token: String,
    pub couple: CoupleContext,
    pub session_id: Uuid,
    pub session: String,
    pub last_joint: String,
    pub lapses: Vec<String>,
    /// (partner, "80% (8 of 10 days)")
    pub adherence: Vec<(String, String)>,
    /// Each partner's last 90 days, drawn as SVG with a text alternative.
    pub heatmaps: Vec<Heatmap>,
    /// The months in care, drawn.
    pub timeline: Timeline,
    /// Boundaries kept and tested over time, drawn (none: no boundaries).
    pub boundary_picture: Option<BoundaryPicture>,
    pub boundary_moments: Vec<String>,
    pub awaiting: Vec<String>,
    pub milestones: Vec<String>,
    pub steps: Vec<StepRow>,
    pub risks: Vec<String>,
    /// (note id, "DAP draft of the session of ...")
    pub drafts: Vec<(Uuid, String)>,
    pub last_plan: String,
    pub last_homework: String,
    pub agenda: String,
    pub agenda_version: i32,
}

pub async fn page(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path((couple_id, session_id)): Path<(CoupleId, Uuid)>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    let today = milestones::practice_today(&state, &current.practice.time_zone);
    let prep = session_prep::prepare(&access, Some(session_id), today, state.clock.now(), &current.practice.time_zone).await?;
    let ctx = CoupleContext::from_view(&access, &current, &prep.overview.couple);
    let chrome = Chrome::of(&session, &current).await?;
    Ok(render(&PrepPage::of(prep, ctx, chrome, session_id, state.clock.now())).into_response())
}

impl PrepPage {
    fn of(prep: SessionPrep, ctx: CoupleContext, chrome: Chrome, session_id: Uuid, now: time::OffsetDateTime) -> Self {
        let tz = ctx.time_zone.clone();
        let name = |p| ctx.names.of(p).to_owned();
        let when = |s: &crate::records::sessions::SessionView| crate::display::session(&s.kind.as_str(), s.starts_at, &tz);
        let session_day = |id: Uuid| {
            prep.overview.sessions.items.iter().find(|s| s.id == id).map_or_else(|| "an earlier session".into(), |s| crate::display::local_date(s.starts_at, &tz))
        };
        PrepPage {
            nav: chrome.nav,
            csrf_token: chrome.csrf_token,
            session_id,
            session: prep.session.as_ref().map(when).unwrap_or_default(),
            last_joint: prep.last_joint.as_ref().map_or_else(|| format!("none yet (in care since {})", crate::display::date(prep.since)), when),
            lapses: prep
                .lapses
                .iter()
                .map(|l| format!("{} · {} · {}, {}: {}", crate::display::date(l.occurred_on), name(l.partner), label(l.kind), crate::display::count(l.days.into(), "day"), l.substance))
                .collect(),
            adherence: prep
                .adherence
                .iter()
                .map(|a| (name(a.partner), format!("{}% ({} of {})", a.percent, a.checked_in, crate::display::count(a.days.into(), "day"))))
                .collect(),
            heatmaps: prep.checkin_days.iter().map(|d| heatmap(d, ctx.names.of(d.partner))).collect(),
            timeline: super::pictures::timeline(&prep.progress, &ctx.names),
            boundary_picture: super::pictures::boundaries(&prep.progress, &ctx.names),
            boundary_moments: prep.boundary_moments.iter().map(|m| format!("{}: {} ({})", crate::display::date(m.occurred_on), m.statement, m.kind.as_str())).collect(),
            awaiting: prep
                .awaiting_agreement
                .iter()
                .map(|b| format!("{} ({})", b.current.statement, label(b.status)))
                .collect(),
            milestones: prep.milestones.iter().map(|m| format!("{}: {} on {}", name(m.partner), m.milestone.label, crate::display::date(m.milestone.reached_on))).collect(),
            steps: super::lapse_steps::rows(&prep.open_steps, &ctx, now),
            risks: prep.risk_flags.iter().map(|r| format!("{}: {} risk {}", name(r.partner), r.risk, label(r.level))).collect(),
            drafts: prep.drafts.iter().map(|n| (n.id, format!("{} draft of the session of {}", n.format.as_str().to_uppercase(), session_day(n.session_id)))).collect(),
            last_plan: prep.last_plan.clone().unwrap_or_default(),
            last_homework: prep.last_homework.clone().unwrap_or_default(),
            agenda: prep.agenda.text.clone(),
            agenda_version: prep.agenda.version,
            couple: ctx,
        }
    }
}

#[derive(Deserialize)]
pub struct AgendaForm {
    version: String,
    #[serde(default)]
    text: String,
}

/// The counselor saves the session's agenda.
pub async fn save_agenda(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path((couple_id, session_id)): Path<(CoupleId, Uuid)>,
    CsrfForm(form): CsrfForm<AgendaForm>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    let version = IfMatch(parse_version(&form.version)?);
    session_prep::save_agenda(state.clock.now(), &access, session_id, version, AgendaInput { text: Some(form.text) }).await?;
    Ok(Redirect::to(&format!("/couples/{couple_id}/sessions/{session_id}/prep#agenda")).into_response())
}
