//! Read models of whole screens: the couple overview (the couple page, the
//! session-prep PDF and `GET /couples/{id}/overview` read it) and the
//! caseload (the dashboard). Each is built from an access grant, the day
//! and paging input, in a fixed number of queries (batched per kind of
//! record, never one per item), and cuts nothing off silently: every list
//! is a page with the cursor of the next one.
//!
//! A clinician's (care team's or supervisor's) couple overview, and the
//! other reads of the couple the couple page and session prep make (the
//! [`Part`]s), are kept in memory by [`Overviews`] under the couple's
//! revision, which the database moves on every change to the couple's
//! records (triggers, migration m20261207_000300); a reader whose access
//! decision reads the same revision gets the kept copy instead of a dozen
//! queries. A clinician's caseload is kept the same way, under the
//! revisions of all its couples (see [`caseload`]). Every read is still
//! decided and audited as before: only the loading of records is saved.

use entity::ids::MemberId;
use entity::ids::CoupleId;
use std::{sync::Arc, time::Instant};

use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    boundaries::{self, BoundaryView},
    common::{Page, PageQuery},
    couples::{self, CoupleStatus, CoupleView, RecoveryRole},
    lapse_response,
    lapses::{self, LapseView},
    milestones::{self, SobrietyView},
    notes::{self, NoteView},
    plans::{self, PlanView},
    private_notes::{self, PrivateNoteView},
    safety_plans::{self, SafetyPlanView},
    sessions::{self, SessionView},
};
use crate::{
    access::{Caseload, CaseloadRevisions, CoupleAccess, Relation},
    error::AppError,
};

/// Sessions on one page of the overview (with all their notes).
pub const SESSIONS_PER_PAGE: u64 = 25;
/// Boundaries on one page of the overview.
pub const BOUNDARIES_PER_PAGE: u64 = 50;
/// Lapses on one page of the overview.
pub const LAPSES_PER_PAGE: u64 = 50;
/// The reader's own private notes on one page of the overview.
pub const PRIVATE_NOTES_PER_PAGE: u64 = 25;

/// Where each list of the overview starts: the `next_cursor` of its
/// previous page, or nothing for the newest.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct OverviewAt {
    /// Sessions older than this one (a `sessions.next_cursor`).
    pub sessions: Option<Uuid>,
    /// Boundaries older than this one (a `boundaries.next_cursor`).
    pub boundaries: Option<Uuid>,
    /// Lapses recorded before this one (a `lapses.next_cursor`).
    pub lapses: Option<Uuid>,
    /// Private notes older than this one (a `private_notes.next_cursor`).
    pub private_notes: Option<Uuid>,
}

/// Everything about one couple the caller may see, in one answer. Each
/// list is one page; `next_cursor` says there is more, and passing it back
/// in the parameter of the same name gives the next page.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CoupleOverview {
    pub couple: CoupleView,
    pub sobriety: SobrietyView,
    /// The current relapse-prevention plan, cut to what the caller may see.
    pub plan: Option<PlanView>,
    pub boundaries: Page<BoundaryView>,
    pub safety_plans: Vec<SafetyPlanView>,
    /// Sessions, latest start first.
    pub sessions: Page<SessionView>,
    /// Every note the caller may see of the sessions on this page.
    pub notes: Vec<NoteView>,
    /// Lapses, most recently recorded first.
    pub lapses: Page<LapseView>,
    /// The caller's own private notes: the care team only.
    pub private_notes: Option<Page<PrivateNoteView>>,
    /// The safety gate as the caller may know it (a partner: only their own flag).
    pub safety: super::safety_gate::SafetyGateView,
    /// Every lapse the caller may see, oldest first: what the sobriety
    /// figures count, for summaries in this process (not sent: `lapses` pages them).
    #[serde(skip)]
    pub all_lapses: Vec<LapseView>,
    /// Every step the caller may see of the lapse-response timelines still
    /// under way, by due time.
    pub lapse_response: Vec<lapse_response::StepView>,
}

fn page(per_page: u64, cursor: Option<Uuid>) -> PageQuery {
    PageQuery { limit: Some(per_page), cursor }
}

/// The couple overview as `access` may see it, `today` being the day in the
/// practice's time zone (sobriety figures count to it): the kept copy when
/// the couple has not changed since it was read, else read and kept.
pub async fn couple(access: &CoupleAccess, today: Date, at: &OverviewAt) -> Result<CoupleOverview, AppError> {
    kept(access, Part::Overview(today, at.clone()), || read(access, today, at)).await
}

/// [`couple`] as `present` shows it (`variant` names the presentation, e.g.
/// "json"): made once per kept overview and kept beside it, so an unchanged
/// couple is neither copied nor presented again.
pub async fn couple_as<P: Send + Sync + 'static>(
    access: &CoupleAccess,
    today: Date,
    at: &OverviewAt,
    variant: &'static str,
    present: impl FnOnce(&CoupleOverview) -> Result<P, AppError>,
) -> Result<Arc<P>, AppError> {
    let overview = Part::Overview(today, at.clone());
    shared(access, Part::Presented(Box::new(overview.clone()), variant), || async {
        present(&*shared(access, overview, || read(access, today, at)).await?)
    })
    .await
}

/// What a screen reads of one couple that may be kept: the overview at
/// some pages, and the reads the couple page and the session prep add to it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    /// The overview on `today`, at these pages.
    Overview(Date, OverviewAt),
    /// Every session, oldest first (the months-in-care picture).
    AllSessions,
    /// The check-ins of the 90 days to this day.
    CheckinDays(Date),
    /// A session's agenda.
    Agenda(Uuid),
    /// A part as a front end presents it (`couple_as`).
    Presented(Box<Part>, &'static str),
}

/// `part` of the couple as `access` may see it: the kept copy when the
/// couple has not changed since it was read, else `read`, kept when the
/// reader is a clinician outside a write.
pub async fn kept<T, F, Fut>(access: &CoupleAccess, part: Part, read: F) -> Result<T, AppError>
where
    T: Clone + Send + Sync + 'static,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<T, AppError>>,
{
    shared(access, part, read).await.map(Arc::unwrap_or_clone)
}

/// [`kept`], handing out the kept copy itself rather than a copy of it.
async fn shared<T, F, Fut>(access: &CoupleAccess, part: Part, read: F) -> Result<Arc<T>, AppError>
where
    T: Send + Sync + 'static,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<T, AppError>>,
{
    let Some((cache, key)) = access.overviews().keyed(access, part) else {
        metrics::counter!(crate::metrics::OVERVIEW_READS, "cache" => "bypass").increment(1);
        return read().await.map(Arc::new);
    };
    let found = cache.get(&key).filter(|kept| kept.read_at.elapsed() < KEPT_FOR);
    if let Some(value) = found.and_then(|kept| kept.value.downcast::<T>().ok()) {
        metrics::counter!(crate::metrics::OVERVIEW_READS, "cache" => "hit").increment(1);
        return Ok(value);
    }
    metrics::counter!(crate::metrics::OVERVIEW_READS, "cache" => "miss").increment(1);
    let value = Arc::new(read().await?);
    cache.insert(key, Kept { read_at: Instant::now(), value: value.clone() });
    Ok(value)
}

/// How long a kept read may serve, even at an unchanged revision: a bound
/// on how long clinical text stays open in memory, and on what a change
/// made around the triggers (by hand, with triggers disabled) could leave
/// unseen.
pub const KEPT_FOR: std::time::Duration = std::time::Duration::from_secs(60);

/// The reads of couples this process keeps, shared by every request: at
/// most the configured number (`overview_cache_entries`; 0 keeps none), the
/// least used leaving first. Only clinicians' reads are kept (a partner's
/// depends on consents in force at the moment, and an emergency view is
/// rare), and only outside a write.
#[derive(Clone, Default)]
pub struct Overviews(Option<Arc<quick_cache::sync::Cache<Key, Kept>>>);

impl std::fmt::Debug for Overviews {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Overviews").field(&self.0.as_ref().map(|c| c.len())).finish()
    }
}

/// What a kept read was read for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    /// The same part of the same couple at the same revision and version,
    /// by the same reader in the same relation.
    Couple {
        couple: CoupleId,
        revision: i64,
        version: i32,
        reader: MemberId,
        relation: &'static str,
        part: Part,
    },
    /// The same reader's caseload on the same day: the same couples, each
    /// at the same revision and version and in the same relation.
    Caseload {
        reader: MemberId,
        today: Date,
        couples: Vec<(CoupleId, i64, i32, &'static str)>,
    },
    /// A presentation of the kept caseload read under `caseload` at
    /// `read_at`, as cut at a moment that keeps the same items of it
    /// (`kept`, one flag per item of its time-bound lists), made for
    /// `variant` (whatever else the presentation shows).
    Presented {
        caseload: Box<Key>,
        read_at: OffsetDateTime,
        kept: Vec<bool>,
        variant: String,
    },
}

#[derive(Clone)]
struct Kept {
    read_at: Instant,
    value: Arc<dyn std::any::Any + Send + Sync>,
}

impl Overviews {
    /// Keeps at most `entries` reads; none when `entries` is 0.
    pub fn new(entries: usize) -> Self {
        Self((entries > 0).then(|| Arc::new(quick_cache::sync::Cache::new(entries))))
    }

    fn keyed(&self, access: &CoupleAccess, part: Part) -> Option<(&quick_cache::sync::Cache<Key, Kept>, Key)> {
        let cache = self.0.as_deref()?;
        if access.writes() || !matches!(access.relation, Relation::CareTeam | Relation::Supervisor) {
            return None;
        }
        let key = Key::Couple {
            couple: access.couple.id,
            revision: access.couple.revision,
            version: access.couple.version,
            reader: access.member_id,
            relation: access.relation.as_str(),
            part,
        };
        Some((cache, key))
    }

    /// The key of `caseload` as `reader` sees it on `today`, if it may be
    /// kept: only a clinician's (a partner's view of their couple turns on
    /// consents in force at the moment).
    fn caseload_key(&self, caseload: &CaseloadRevisions, reader: MemberId, today: Date) -> Option<(&quick_cache::sync::Cache<Key, Kept>, Key)> {
        let cache = self.0.as_deref()?;
        if !caseload.couples.iter().all(|c| matches!(c.relation, Relation::CareTeam | Relation::Supervisor)) {
            return None;
        }
        let couples = caseload.couples.iter().map(|c| (c.id, c.revision, c.version, c.relation.as_str())).collect();
        Some((cache, Key::Caseload { reader, today, couples }))
    }
}

/// The overview read from the database.
async fn read(access: &CoupleAccess, today: Date, at: &OverviewAt) -> Result<CoupleOverview, AppError> {
    let couple = couples::view(access).await?;
    let in_recovery: Vec<_> = couple.partners.iter().filter(|p| p.recovery_role == RecoveryRole::InRecovery).map(|p| p.slot).collect();
    let all_lapses = lapses::for_sobriety(&access.db(), access).await?;
    let sobriety = milestones::sobriety_of(access, today, &in_recovery, &all_lapses, milestones::custom(access).await?);
    let plan = match plans::current(access).await {
        Ok(plan) => Some(plan),
        Err(AppError::NotFound) => None,
        Err(other) => return Err(other),
    };
    let sessions = sessions::list(access, &page(SESSIONS_PER_PAGE, at.sessions)).await?;
    let notes = notes::of_sessions(access, sessions.items.iter().map(|s| s.id).collect()).await?;
    let private_notes = match access.relation {
        Relation::CareTeam => Some(private_notes::list(access, &page(PRIVATE_NOTES_PER_PAGE, at.private_notes)).await?),
        _ => None,
    };
    Ok(CoupleOverview {
        sobriety,
        plan,
        boundaries: boundaries::list(access, &page(BOUNDARIES_PER_PAGE, at.boundaries)).await?,
        safety_plans: safety_plans::list(access).await?,
        safety: super::safety_gate::status(access).await?,
        notes,
        lapses: all_lapses.page(&page(LAPSES_PER_PAGE, at.lapses))?,
        lapse_response: lapse_response::live(access).await?,
        all_lapses: all_lapses.visible,
        sessions,
        private_notes,
        couple,
    })
}

/// A couple of the caseload, in a list.
#[derive(Clone, Debug)]
pub struct CaseloadCouple {
    pub id: CoupleId,
    pub label: String,
    pub status: CoupleStatus,
}

/// Something on the dashboard, with the couple it is about.
#[derive(Clone, Debug)]
pub struct About<T> {
    pub couple_id: CoupleId,
    pub couple: String,
    pub item: T,
}

impl About<()> {
    fn with<T>(self, item: T) -> About<T> {
        About { couple_id: self.couple_id, couple: self.couple, item }
    }
}

/// The dashboard: every couple the caller has a standing relation to, their
/// sessions coming up, recent lapses and plans due for review.
#[derive(Clone, Debug)]
pub struct CaseloadOverview {
    /// Newest couple first; all of them.
    pub couples: Vec<CaseloadCouple>,
    /// Sessions from now until `now + ahead`, soonest first.
    pub upcoming: Vec<About<SessionView>>,
    /// Lapses on or after `today - recent`, newest first (care team and supervisors).
    pub recent_lapses: Vec<About<LapseView>>,
    /// Current plans whose review falls before `today + ahead`, soonest first.
    pub reviews_due: Vec<About<Date>>,
    /// The caller's own notes still to sign, oldest first.
    pub drafts: Vec<About<notes::Draft>>,
    /// Boundaries waiting for a partner's agreement.
    pub awaiting_agreement: Vec<About<boundaries::Awaiting>>,
    /// Emergency accesses to couples of the caller's care team, opened
    /// since `today - recent`, newest first.
    pub emergencies: Vec<About<crate::access::EmergencyOpened>>,
    /// Open lapse-response steps past their due time, the longest overdue first.
    pub overdue_steps: Vec<About<lapse_response::StepView>>,
}

/// The dashboard's read model: a fixed number of queries whatever the size
/// of the caseload (one per kind of record), or none when a clinician's
/// caseload is unchanged since it was read less than [`KEPT_FOR`] ago. A
/// kept read covers the whole minute it may serve (sessions starting, steps
/// falling due, emergencies opened by its end) and is cut to `now` each
/// time it serves, so it lists what a read at `now` would.
///
/// What comes back is what `present` makes of the caseload (the dashboard
/// renders it). A clinician's presentation is kept with the kept read,
/// under the items the cut at `now` keeps and `variant`, which must name
/// everything else `present` depends on (time zone, roles): an unchanged
/// caseload, cut the same way, is not presented again.
pub async fn caseload<P: Send + Sync + 'static>(
    caseload: &CaseloadRevisions,
    reader: MemberId,
    at: Window,
    variant: String,
    present: impl FnOnce(CaseloadOverview) -> Result<P, AppError>,
) -> Result<Arc<P>, AppError> {
    let Window { now, today, .. } = at;
    let Some((cache, key)) = caseload.overviews().caseload_key(caseload, reader, today) else {
        metrics::counter!(crate::metrics::OVERVIEW_READS, "cache" => "bypass").increment(1);
        let wide = read_caseload(&caseload.load().await?, reader, at).await?;
        return Ok(Arc::new(present(wide.at(at))?));
    };
    let found = cache
        .get(&key)
        .filter(|kept| kept.read_at.elapsed() < KEPT_FOR)
        .and_then(|kept| kept.value.downcast::<WideCaseload>().ok())
        .filter(|wide| wide.covers(now));
    let wide = match found {
        Some(wide) => {
            metrics::counter!(crate::metrics::OVERVIEW_READS, "cache" => "hit").increment(1);
            wide
        }
        None => {
            metrics::counter!(crate::metrics::OVERVIEW_READS, "cache" => "miss").increment(1);
            let wide = Arc::new(read_caseload(&caseload.load().await?, reader, at).await?);
            cache.insert(key.clone(), Kept { read_at: Instant::now(), value: wide.clone() });
            wide
        }
    };
    let presented = Key::Presented { caseload: Box::new(key), read_at: wide.read_at, kept: wide.kept_at(at), variant };
    let kept = cache.get(&presented).filter(|kept| kept.read_at.elapsed() < KEPT_FOR).and_then(|kept| kept.value.downcast::<P>().ok());
    if let Some(kept) = kept {
        return Ok(kept);
    }
    let value = Arc::new(present(WideCaseload::clone(&wide).at(at))?);
    cache.insert(presented, Kept { read_at: Instant::now(), value: value.clone() });
    Ok(value)
}

/// The moment a caseload is read for, and how far its lists look: sessions
/// and plan reviews up to `ahead`, lapses and emergency accesses back to
/// `recent`; `today` is the day in the practice's time zone.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub now: OffsetDateTime,
    pub today: Date,
    pub ahead: Duration,
    pub recent: Duration,
}

/// A caseload read at `read_at` for every moment of the [`KEPT_FOR`] after it.
#[derive(Clone)]
struct WideCaseload {
    read_at: OffsetDateTime,
    overview: CaseloadOverview,
}

/// Whether a session is listed at `now`: not yet over, starting within `ahead`.
fn upcoming_at(session: &SessionView, now: OffsetDateTime, ahead: Duration) -> bool {
    session.ends_at >= now && session.starts_at <= now + ahead
}

/// Whether an emergency access is listed at `now`: opened within `recent`.
fn emergency_at(opened: &crate::access::EmergencyOpened, now: OffsetDateTime, recent: Duration) -> bool {
    opened.started_at >= now - recent
}

/// Whether a lapse-response step is overdue at `now`.
fn overdue_at(step: &lapse_response::StepView, now: OffsetDateTime) -> bool {
    step.due_at < now
}

impl WideCaseload {
    /// Whether `now` falls in the time this read covers (the clock may be
    /// set back, or jump ahead, between two reads).
    fn covers(&self, now: OffsetDateTime) -> bool {
        now >= self.read_at && now - self.read_at < KEPT_FOR
    }

    /// The caseload as a read at `now` lists it.
    fn at(self, Window { now, ahead, recent, .. }: Window) -> CaseloadOverview {
        let mut seen = self.overview;
        seen.upcoming.retain(|s| upcoming_at(&s.item, now, ahead));
        seen.emergencies.retain(|e| emergency_at(&e.item, now, recent));
        seen.overdue_steps.retain(|s| overdue_at(&s.item, now));
        seen
    }

    /// Which items of its time-bound lists [`Self::at`] keeps at `now`:
    /// two moments with the same flags list the same caseload.
    fn kept_at(&self, Window { now, ahead, recent, .. }: Window) -> Vec<bool> {
        let seen = &self.overview;
        let upcoming = seen.upcoming.iter().map(|s| upcoming_at(&s.item, now, ahead));
        let emergencies = seen.emergencies.iter().map(|e| emergency_at(&e.item, now, recent));
        let overdue = seen.overdue_steps.iter().map(|s| overdue_at(&s.item, now));
        upcoming.chain(emergencies).chain(overdue).collect()
    }
}

/// The caseload read from the database at `now`, with what the next
/// [`KEPT_FOR`] will add to its lists of sessions coming up and steps overdue.
async fn read_caseload(
    caseload: &Caseload,
    reader: MemberId,
    Window { now, today, ahead, recent }: Window,
) -> Result<WideCaseload, AppError> {
    let until = now + KEPT_FOR;
    let about = |couple_id: CoupleId| About {
        couple_id,
        couple: caseload.of(couple_id).map(|a| a.couple.label.clone()).unwrap_or_default(),
        item: (),
    };
    let upcoming = sessions::between(caseload, now, until + ahead).await?.into_iter().map(|s| about(s.couple_id).with(s)).collect();
    let recent_lapses = lapses::since(caseload, today - recent).await?.into_iter().map(|(c, l)| about(c).with(l)).collect();
    let mut reviews_due: Vec<About<Date>> =
        plans::review_dates(caseload).await?.into_iter().filter(|(_, on)| *on <= today + ahead).map(|(c, on)| about(c).with(on)).collect();
    reviews_due.sort_by_key(|r| r.item);
    let drafts = notes::drafts(caseload, reader).await?.into_iter().map(|d| about(d.couple_id).with(d)).collect();
    let awaiting_agreement = boundaries::awaiting_agreement(caseload).await?.into_iter().map(|b| about(b.couple_id).with(b)).collect();
    let emergencies =
        crate::access::emergencies_on_care_team(caseload, now - recent).await?.into_iter().map(|e| about(e.couple_id).with(e)).collect();
    let overdue_steps = lapse_response::overdue_in(caseload, until).await?.into_iter().map(|(c, s)| about(c).with(s)).collect();
    let overview = CaseloadOverview {
        overdue_steps,
        couples: caseload
            .couples
            .iter()
            .map(|a| CaseloadCouple { id: a.couple.id, label: a.couple.label.clone(), status: a.couple.status })
            .collect(),
        upcoming,
        recent_lapses,
        reviews_due,
        drafts,
        awaiting_agreement,
        emergencies,
    };
    Ok(WideCaseload { read_at: now, overview })
}
