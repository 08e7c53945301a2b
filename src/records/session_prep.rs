//! "Prepare the next session": the read model of the prep page and of the
//! session-prep PDF, built on the couple overview. It answers what a
//! counselor needs before a session: what changed since the last joint
//! session (lapses, check-in adherence per partner, boundaries tested or
//! kept, boundaries awaiting agreement, milestones), the lapse-response
//! steps still open, risk flags from the partner blocks of the last notes,
//! unsigned drafts, the last session's plan and homework, and the agenda
//! the counselor keeps for this session (sealed). For clinicians only.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, QueryFilter, sea_query::Expr};
use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use entity::session_agendas;

use super::{
    boundaries::{BoundaryEventKind, BoundaryStatus, BoundaryView},
    common::{IfMatch, PartnerSlot, limits, optional_text},
    contract::{self, DayRange},
    lapse_response::StepView,
    lapses::LapseView,
    milestones::ReachedMilestoneView,
    notes::{NoteStatus, NoteView, RiskLevel},
    overview::{self, CoupleOverview, OverviewAt},
    progress::Progress,
    sessions::{self, SessionKind, SessionView},
};
use crate::{
    access::{CoupleAccess, exec_at_version},
    error::AppError,
    input::BoundedDate,
    vault::fields::SESSION_AGENDA_BODY as BODY,
};

/// How far back check-in adherence is counted at most.
const ADHERENCE_DAYS: i64 = 90;

/// One partner's daily check-ins since the last joint session.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Adherence {
    pub partner: PartnerSlot,
    /// Days counted: from the last joint session (at most 90 days back) to today.
    pub days: u32,
    /// Days the partner checked off the trust discussion.
    pub checked_in: u32,
    /// `checked_in` of `days`, rounded down.
    pub percent: u32,
}

/// What one day of a partner's recovery calendar holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DayMark {
    /// Checked off, with the trust discussion.
    TrustDiscussion,
    /// Checked off, without the trust discussion.
    CheckedIn,
    /// Not checked off.
    Missed,
}

/// One partner's last 90 days of check-ins, oldest first, ending today.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CheckinDays {
    pub partner: PartnerSlot,
    pub first_day: Date,
    pub days: Vec<DayMark>,
}

impl CheckinDays {
    /// The heat map in words: "Dan: trust discussion on 8 of the last 90 days; …".
    pub fn sentence(&self, who: &str) -> String {
        let count = |mark| self.days.iter().filter(|d| **d == mark).count();
        format!(
            "{who}: trust discussion on {} of the last {} days; checked in without it on {}; no check-in on {}.",
            count(DayMark::TrustDiscussion),
            self.days.len(),
            count(DayMark::CheckedIn),
            count(DayMark::Missed)
        )
    }
}

/// A boundary kept or tested since the last joint session.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BoundaryMoment {
    pub boundary_id: Uuid,
    pub statement: String,
    pub kind: BoundaryEventKind,
    pub occurred_on: Date,
}

/// A milestone a partner reached since the last joint session.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MilestoneReached {
    pub partner: PartnerSlot,
    pub milestone: ReachedMilestoneView,
}

/// A risk recorded in a partner block of the last signed note.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RiskFlag {
    pub partner: PartnerSlot,
    /// "self-harm" or "intimate-partner violence".
    pub risk: String,
    pub level: RiskLevel,
    pub notes: Option<String>,
}

/// The counselor's agenda for the session: version 0 while none is saved.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Agenda {
    pub text: String,
    /// Also the ETag; 0 until the first save.
    pub version: i32,
}

crate::versioned!(Agenda);

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"text": "1. The slip on Thursday: what happened, what was learned\n2. Calendar review\n3. Marisol's boundary about money"}))]
pub struct AgendaInput {
    /// At most 2,000 characters; empty clears it.
    #[schema(schema_with = crate::input::schema::medium_or_none)]
    pub text: Option<String>,
}

/// Everything the prep page and PDF show, in the order they show it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SessionPrep {
    /// The session being prepared (none: no session is booked).
    pub session: Option<SessionView>,
    /// The joint session before it, which "since" counts from.
    pub last_joint: Option<SessionView>,
    /// The day changes are counted from: the last joint session's, or the start of care.
    pub since: Date,
    pub lapses: Vec<LapseView>,
    pub adherence: Vec<Adherence>,
    /// Each partner's last 90 days (none without a recovery contract).
    pub checkin_days: Vec<CheckinDays>,
    pub boundary_moments: Vec<BoundaryMoment>,
    pub awaiting_agreement: Vec<BoundaryView>,
    pub milestones: Vec<MilestoneReached>,
    /// Open steps of the lapse-response timelines, by due time.
    pub open_steps: Vec<StepView>,
    pub risk_flags: Vec<RiskFlag>,
    /// Notes not yet signed, of the sessions on the overview's first page.
    pub drafts: Vec<NoteView>,
    /// The plan section of the last signed note.
    pub last_plan: Option<String>,
    pub last_homework: Option<String>,
    /// The signed note those come from.
    pub last_note_id: Option<Uuid>,
    pub agenda: Agenda,
    /// The couple overview it was built from (the PDF's facts).
    #[serde(skip)]
    pub overview: CoupleOverview,
    /// The pictures' facts: the months in care, boundaries over time.
    #[serde(skip)]
    pub progress: Progress,
}

fn agenda_row_query(access: &CoupleAccess, session_id: Uuid) -> sea_orm::Select<session_agendas::Entity> {
    access.records::<session_agendas::Entity>().filter(session_agendas::Column::SessionId.eq(session_id))
}

/// The agenda of a session (clinicians).
pub async fn get_agenda(access: &CoupleAccess, session_id: Uuid) -> Result<Agenda, AppError> {
    if !access.is_clinician() {
        return Err(AppError::NotFound);
    }
    sessions::get(access, session_id).await?;
    agenda(access, session_id).await
}

async fn agenda(access: &CoupleAccess, session_id: Uuid) -> Result<Agenda, AppError> {
    overview::kept(access, overview::Part::Agenda(session_id), || async {
        Ok(match agenda_row_query(access, session_id).one(&access.db()).await? {
            Some(row) => Agenda { text: access.cipher().open(BODY, row.id, &row.body)?, version: row.version },
            None => Agenda { text: String::new(), version: 0 },
        })
    })
    .await
}

/// Saves the agenda of a session (care team; If-Match, 0 for the first).
pub async fn save_agenda(now: OffsetDateTime, access: &CoupleAccess, session_id: Uuid, IfMatch(expected): IfMatch, input: AgendaInput) -> Result<Agenda, AppError> {
    sessions::get(access, session_id).await?;
    let text = optional_text(input.text.as_deref(), limits::MEDIUM).map_err(|m| AppError::invalid("text", &m))?.unwrap_or_default();
    match agenda_row_query(access, session_id).one(&access.db()).await? {
        None if expected == 0 => {
            let id = Uuid::now_v7();
            session_agendas::ActiveModel {
                id: Set(id),
                practice_id: Set(access.scope.practice_id()),
                couple_id: Set(access.couple_id()),
                session_id: Set(session_id),
                body: Set(access.cipher().seal(BODY, id, &text)),
                updated_by: Set(access.member_id),
                updated_at: Set(now),
                version: Set(1),
            }
            .insert(&access.db())
            .await
            // Two first saves at once: the second lost the race.
            .map_err(|e| match crate::error::on_unique(e, "version", "saved first elsewhere") {
                AppError::Conflict(_) => AppError::PreconditionFailed,
                other => other,
            })?;
        }
        Some(row) if row.version == expected => {
            let update = access
                .update_records::<session_agendas::Entity>()
                .filter(session_agendas::Column::Id.eq(row.id))
                .filter(session_agendas::Column::Version.eq(expected))
                .col_expr(session_agendas::Column::Body, Expr::value(access.cipher().seal(BODY, row.id, &text)))
                .col_expr(session_agendas::Column::UpdatedBy, Expr::value(access.member_id))
                .col_expr(session_agendas::Column::UpdatedAt, Expr::value(now))
                .col_expr(session_agendas::Column::Version, Expr::value(expected + 1));
            exec_at_version(update, &access.db()).await?;
        }
        _ => return Err(AppError::PreconditionFailed),
    }
    agenda(access, session_id).await
}

/// The prep of session `session_id` (or, without one, of the couple's next
/// session, if one is booked), `today` and `now` in the practice's zone
/// `time_zone`.
pub async fn prepare(access: &CoupleAccess, session_id: Option<Uuid>, today: Date, now: OffsetDateTime, time_zone: &str) -> Result<SessionPrep, AppError> {
    if !access.is_clinician() {
        return Err(AppError::NotFound);
    }
    let seen = overview::couple(access, today, &OverviewAt::default()).await?;
    let session = match session_id {
        Some(id) => Some(sessions::get(access, id).await?),
        None => seen.sessions.items.iter().filter(|s| s.starts_at > now).min_by_key(|s| s.starts_at).cloned(),
    };
    let before = session.as_ref().map_or(now, |s| s.starts_at);
    let last_joint = seen
        .sessions
        .items
        .iter()
        .filter(|s| s.kind == SessionKind::Joint && s.starts_at < before)
        .max_by_key(|s| s.starts_at)
        .cloned();
    let since = last_joint.as_ref().map_or(seen.couple.care_started_on, |s| s.starts_at.date());
    let (adherence, checkin_days) = adherence(access, &seen, since, today).await?;
    let boundary_moments = seen
        .boundaries
        .items
        .iter()
        .flat_map(|b| b.events.iter().filter(|e| e.occurred_on >= since).map(move |e| (b, e)))
        .map(|(b, e)| BoundaryMoment { boundary_id: b.id, statement: b.current.statement.clone(), kind: e.kind, occurred_on: e.occurred_on })
        .collect();
    let awaiting_agreement =
        seen.boundaries.items.iter().filter(|b| matches!(b.status, BoundaryStatus::Proposed | BoundaryStatus::Revised)).cloned().collect();
    let milestones = seen
        .sobriety
        .partners
        .iter()
        .flat_map(|p| p.figures.iter().flat_map(|f| f.reached.iter()).filter(|m| m.reached_on >= since).map(|m| MilestoneReached { partner: p.partner, milestone: m.clone() }))
        .collect();
    // The signed note of the latest session that has one (before the one prepared).
    let starts = |id: Uuid| seen.sessions.items.iter().find(|s| s.id == id).map(|s| s.starts_at);
    let last_note = seen
        .notes
        .iter()
        .filter(|n| n.status == NoteStatus::Signed && starts(n.session_id).is_some_and(|at| at < before))
        .max_by_key(|n| (starts(n.session_id), n.signed_at));
    let mut risk_flags = Vec::new();
    for block in last_note.iter().flat_map(|n| n.content.partner_blocks.iter()) {
        if let Some(risk) = &block.risk {
            for (what, level) in [("self-harm", risk.self_harm), ("intimate-partner violence", risk.partner_violence)] {
                if level != RiskLevel::None {
                    risk_flags.push(RiskFlag { partner: block.partner, risk: what.into(), level, notes: risk.notes.clone() });
                }
            }
        }
    }
    Ok(SessionPrep {
        lapses: seen.all_lapses.iter().filter(|l| l.occurred_on >= since).cloned().collect(),
        adherence,
        checkin_days,
        boundary_moments,
        awaiting_agreement,
        milestones,
        open_steps: seen.lapse_response.iter().filter(|s| s.done_at.is_none()).cloned().collect(),
        risk_flags,
        drafts: seen.notes.iter().filter(|n| n.status == NoteStatus::Draft).cloned().collect(),
        last_plan: last_note.and_then(|n| n.content.sections.get("plan")).map(|s| s.text.clone()).filter(|t| !t.is_empty()),
        last_note_id: last_note.map(|n| n.id),
        last_homework: last_note.and_then(|n| n.content.homework.as_ref()).map(|h| h.text.clone()).filter(|t| !t.is_empty()),
        agenda: match &session {
            Some(s) => agenda(access, s.id).await?,
            None => Agenda { text: String::new(), version: 0 },
        },
        progress: super::progress::read(access, &seen, time_zone).await?,
        session,
        last_joint,
        since,
        overview: seen,
    })
}

/// The couple's last 90 days of check-ins as the caller may read them
/// (none without a recovery contract they may see).
async fn last_days(access: &CoupleAccess, today: Date) -> Result<Option<Vec<contract::DayView>>, AppError> {
    let first_day = today - Duration::days(ADHERENCE_DAYS - 1);
    let range = DayRange { from: BoundedDate::new(first_day).ok(), to: BoundedDate::new(today).ok() };
    overview::kept(access, overview::Part::CheckinDays(today), || async {
        match contract::days(access, &range, today).await {
            Ok(days) => Ok(Some(days)),
            Err(AppError::NotFound) => Ok(None),
            Err(other) => Err(other),
        }
    })
    .await
}

fn strip(days: &[contract::DayView], partner: PartnerSlot, today: Date) -> CheckinDays {
    let first_day = today - Duration::days(ADHERENCE_DAYS - 1);
    let marks = (0..ADHERENCE_DAYS)
        .map(|i| match days.iter().find(|d| d.partner == partner && d.day == first_day + Duration::days(i)) {
            Some(d) if d.check_in.trust_discussion => DayMark::TrustDiscussion,
            Some(_) => DayMark::CheckedIn,
            None => DayMark::Missed,
        })
        .collect();
    CheckinDays { partner, first_day, days: marks }
}

/// Each partner's last 90 days of check-ins, for the pictures on the couple
/// page: drawn from what the caller may read, like the calendar itself.
pub async fn checkin_days(access: &CoupleAccess, partners: &[PartnerSlot], today: Date) -> Result<Vec<CheckinDays>, AppError> {
    Ok(match last_days(access, today).await? {
        Some(days) => partners.iter().map(|p| strip(&days, *p, today)).collect(),
        None => Vec::new(),
    })
}

/// Each partner's trust-discussion check-offs from `since` (at most 90 days
/// back) to today, and their last 90 days day by day; none without a
/// recovery contract.
async fn adherence(access: &CoupleAccess, seen: &CoupleOverview, since: Date, today: Date) -> Result<(Vec<Adherence>, Vec<CheckinDays>), AppError> {
    let Some(days) = last_days(access, today).await? else { return Ok((Vec::new(), Vec::new())) };
    let from = since.max(today - Duration::days(ADHERENCE_DAYS - 1)).min(today);
    let counted = ((today - from).whole_days() + 1) as u32;
    let mut adherence = Vec::new();
    let mut strips = Vec::new();
    for p in &seen.couple.partners {
        let checked_in = days.iter().filter(|d| d.partner == p.slot && d.day >= from && d.check_in.trust_discussion).count() as u32;
        adherence.push(Adherence { partner: p.slot, days: counted, checked_in, percent: checked_in * 100 / counted.max(1) });
        strips.push(strip(&days, p.slot, today));
    }
    Ok((adherence, strips))
}
