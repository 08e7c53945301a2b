//! The couple page, for the care team, supervisors and each partner (who
//! sees only what is shared with them), and the form that takes a couple
//! into care.

use crate::practice::MemberId;
use crate::records::couples::CoupleId;
use askama::Template;
use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Redirect},
};
use std::collections::HashMap;

use serde::Deserialize;

use tower_sessions::Session;
use uuid::Uuid;

use super::{
    Chrome, CoupleContext, PageResult, again,
    editing::parse_version,
    forms::{self, label, pick, pick_required},
    plan::{PartnerRoles, PlanDisplay},
};
use crate::{
    state::AppState,
    access::{self, CoupleAccess, Need},
    http::extract::Query,
    web::Path,
    audit::{AuditContext, viewings},
    web::{CsrfForm, SignedIn},
    error::AppError,
    practice::{Fields, Role, members},
    records::{
        boundaries, lapses, milestones, notes, progress, safety_plans, sessions, session_prep,
        common::{IfMatch, PartnerSlot, StoredEnum},
        couples::{self, CoupleStatus, NewCouple, PartnerInput, RecoveryRole, SecretsPolicy},
        overview::{self, CoupleOverview, OverviewAt},
    },
    web::{
        local_time, render,
        templates::{Choice, FormErrors, Nav},
    },
};

// ---- the couple page ------------------------------------------------------------

pub struct PartnerRow {
    pub heading: String,
    pub role: String,
    pub details: Vec<(&'static str, String)>,
    pub portal: bool,
}

pub struct SobrietyRow {
    pub name: String,
    /// None when the figures are not shared with the reader.
    pub figures: Option<FiguresRow>,
    /// Why not, as a sentence for the reader.
    pub not_shared: String,
}

pub struct FiguresRow {
    pub sober_since: String,
    pub streak: u32,
    pub total: u32,
    pub use_days: u32,
    pub reached: Vec<String>,
    pub next: Option<String>,
}

pub struct BoundaryRow {
    pub id: Uuid,
    pub holder: String,
    pub category: String,
    pub statement: String,
    pub consequence: String,
    pub status: String,
    pub audience: String,
    pub agreed_a: bool,
    pub agreed_b: bool,
    pub retired: bool,
    /// The partner reading may agree to it now.
    pub can_agree: bool,
    pub review_on: String,
    pub version: i32,
    pub kept: usize,
    pub tested: usize,
}

pub struct SafetyPlanRow {
    pub id: Uuid,
    pub owner: String,
    pub audience: String,
    pub steps: Vec<(&'static str, Vec<PlanItem>)>,
    pub reasons_for_living: Option<String>,
}

/// A line of a safety plan; a contact's number dials and texts from a phone.
#[derive(Clone)]
pub struct PlanItem {
    pub text: String,
    pub phone: Option<String>,
    /// The number as `tel:`/`sms:` take it: digits and a leading +.
    pub dial: Option<String>,
}

impl PlanItem {
    fn text(text: String) -> Self {
        Self { text, phone: None, dial: None }
    }

    fn contact(c: safety_plans::Contact) -> Self {
        let dial = c.phone.as_deref().map(dialable).filter(|d| d.chars().any(|ch| ch.is_ascii_digit()));
        Self { text: [Some(c.name), c.note].into_iter().flatten().collect::<Vec<_>>().join(" · "), phone: c.phone, dial }
    }
}

/// "+1 312 555 0117" -> "+13125550117".
fn dialable(phone: &str) -> String {
    phone.chars().enumerate().filter(|(i, c)| c.is_ascii_digit() || (*i == 0 && *c == '+')).map(|(_, c)| c).collect()
}

pub struct NoteRow {
    pub id: Uuid,
    pub summary: String,
    pub signed: bool,
}

pub struct SessionRow {
    pub id: Uuid,
    pub when: String,
    pub kind: String,
    pub modality: String,
    pub notes: Vec<NoteRow>,
    /// Offer "Write a note": the session has begun and has no note yet.
    pub can_write_note: bool,
    /// Offer "Prepare" (clinicians, sessions still to come).
    pub can_prepare: bool,
    /// Partners read what a signed note shares with them right here.
    pub shared: Vec<(String, String)>,
}

pub struct LapseRow {
    pub id: Uuid,
    pub who: String,
    pub occurred_on: String,
    pub days: i32,
    pub substance: String,
    pub kind: String,
    pub learned: Option<String>,
    pub audience: String,
}

pub struct ViewingRow {
    pub day: String,
    pub who: String,
    pub role: String,
    pub what: String,
    pub record: String,
    pub times: u32,
}

/// Where the "who viewed" list is: `viewings` is the page's cursor, and
/// `viewings_trail` the cursors of the pages before it, so "newer" can go back
/// without JavaScript.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ViewingsAt {
    pub viewings: Option<String>,
    pub viewings_trail: Option<String>,
}

/// Links to the neighbouring pages of the "who viewed" list.
pub struct ViewingLinks {
    pub newer: Option<String>,
    pub older: Option<String>,
}

/// Rows of the "who viewed" list shown on the couple page.
const VIEWINGS_PER_PAGE: u64 = 20;

impl ViewingsAt {
    /// The cursors of the pages before this one, oldest first (the first page has none).
    fn trail(&self) -> Vec<&str> {
        self.viewings_trail.as_deref().unwrap_or_default().split(',').filter(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit() || b == b'-')).take(500).collect()
    }

    fn links(&self, base: &str, next: Option<&str>) -> ViewingLinks {
        let href = |cursor: Option<&str>, trail: &[&str]| match cursor {
            None => format!("{base}#viewings"),
            Some(c) => format!("{base}?viewings={c}&viewings_trail={}#viewings", trail.join(",")),
        };
        let trail = self.trail();
        let newer = self.viewings.as_ref().map(|_| match trail.split_last() {
            Some((previous, before)) => href(Some(previous), before),
            None => href(None, &[]),
        });
        let older = next.map(|next| {
            let mut with_this = trail.clone();
            with_this.extend(self.viewings.as_deref());
            href(Some(next), &with_this)
        });
        ViewingLinks { newer, older }
    }
}

#[derive(Template)]
#[template(path = "couple.html")]
pub struct CouplePage {
    pub nav: Option<Nav>,
    pub csrf_token: String,
    pub couple: CoupleContext,
    pub status: String,
    pub care_started_on: String,
    pub days_in_care: u32,
    pub care_team_names: String,
    pub partners: Vec<PartnerRow>,
    pub sobriety: Vec<SobrietyRow>,
    pub custom_milestones: Vec<(String, String)>,
    pub plan: Option<PlanDisplay>,
    pub plan_shared: bool,
    pub boundaries: Vec<BoundaryRow>,
    pub safety_plans: Vec<SafetyPlanRow>,
    /// For a partner: the contacts of the safety plans they see, their own
    /// plan's first, shown at the top of the page.
    pub help_now: Vec<PlanItem>,
    /// For a partner who said they fear violence: that partner's own safety
    /// plans, offered first (and left out of `safety_plans`).
    pub own_flag: bool,
    pub own_plans_first: Vec<SafetyPlanRow>,
    /// The reader is the supporting partner: their CRAFT steps are linked at the top.
    pub supporting: bool,
    pub sessions: Vec<SessionRow>,
    pub lapses: Vec<LapseRow>,
    pub viewings: Vec<ViewingRow>,
    pub viewing_links: ViewingLinks,
    /// The reader's own private notes (id, when, text).
    pub private_notes: Vec<(Uuid, String, String)>,
    pub sessions_more: Pager,
    pub boundaries_more: Pager,
    pub lapses_more: Pager,
    pub private_notes_more: Pager,
    /// The lapse-response timelines under way.
    pub lapse_response: Vec<super::lapse_steps::StepRow>,
    /// Each partner's last 90 days of check-ins, drawn.
    pub heatmaps: Vec<super::pictures::Heatmap>,
    /// The months in care, drawn from what the reader sees.
    pub timeline: Option<super::pictures::Timeline>,
    /// Boundaries kept and tested over time (none: no boundary the reader sees).
    pub boundary_picture: Option<super::pictures::BoundaryPicture>,
}

/// What a partner reads instead of figures that are not shared with them.
fn not_shared_sentence(why: Option<milestones::NotShared>, name: &str, own: bool) -> String {
    match (why, own) {
        (None, _) => String::new(),
        (Some(milestones::NotShared::IndividualConfidentiality), _) => format!(
            "{name}'s sobriety figures are not shared with you: under your agreement to keep individual matters confidential, \
             each partner's streak and milestones are shown to that partner and the care team only."
        ),
        (Some(milestones::NotShared::HiddenRecords), false) => format!(
            "{name}'s sobriety figures are not shared with you: not everything they are counted from is shared with you, \
             so any streak or total shown here would not be true."
        ),
        (Some(milestones::NotShared::HiddenRecords), true) => "Your sobriety figures are not shown here: some of what they are counted from \
             is kept with your care team, so a streak or total shown here would not be true. Ask your counselor."
            .into(),
    }
}

/// Where the couple page's lists start: the "who viewed" list's cursors
/// and, for each record list, the cursor of its page (see [`OverviewAt`]).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CoupleAt {
    pub viewings: Option<String>,
    pub viewings_trail: Option<String>,
    pub sessions: Option<Uuid>,
    pub boundaries: Option<Uuid>,
    pub lapses: Option<Uuid>,
    pub private_notes: Option<Uuid>,
}

impl CoupleAt {
    fn lists(&self) -> OverviewAt {
        OverviewAt { sessions: self.sessions, boundaries: self.boundaries, lapses: self.lapses, private_notes: self.private_notes }
    }

    fn viewings(&self) -> ViewingsAt {
        ViewingsAt { viewings: self.viewings.clone(), viewings_trail: self.viewings_trail.clone() }
    }

    /// The page's address with list `key` at `cursor` (its newest page when
    /// `None`) and every other list where it is now, so paging one list
    /// does not send the others back to their first page.
    fn with(&self, base: &str, key: &str, cursor: Option<Uuid>) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in [("sessions", self.sessions), ("boundaries", self.boundaries), ("lapses", self.lapses), ("private_notes", self.private_notes)] {
            if let Some(value) = if name == key { cursor } else { value } {
                query.append_pair(name, &value.to_string());
            }
        }
        for (name, value) in [("viewings", &self.viewings), ("viewings_trail", &self.viewings_trail)] {
            if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                query.append_pair(name, value);
            }
        }
        let query = query.finish();
        if query.is_empty() { base.to_owned() } else { format!("{base}?{query}") }
    }
}

/// Links under one list of the couple page: back to its newest page, and on
/// to the next. A list longer than a page always says so.
pub struct Pager {
    pub label: &'static str,
    pub newest: Option<String>,
    pub older: Option<String>,
}

impl Pager {
    fn of(label: &'static str, base: &str, key: &str, anchor: &str, at: &CoupleAt, current: Option<Uuid>, next: Option<Uuid>) -> Self {
        Pager {
            label,
            newest: current.map(|_| format!("{}#{anchor}", at.with(base, key, None))),
            older: next.map(|next| format!("{}#{anchor}", at.with(base, key, Some(next)))),
        }
    }
}

pub async fn page(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    Query(at): Query<CoupleAt>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    let today = milestones::practice_today(&state, &current.practice.time_zone);
    let seen = overview::couple(&access, today, &at.lists()).await?;
    let mut ctx = CoupleContext::from_view(&access, &current, &seen.couple);
    ctx.note_safety(&seen.safety);
    // Partners see who looked at their records; the care team and
    // supervisors have the access log for that.
    let viewings = match ctx.partner {
        Some(_) => Some(viewings_of(&access, &ctx, &at.viewings()).await?),
        None => None,
    };
    let partners: Vec<PartnerSlot> = seen.couple.partners.iter().map(|p| p.slot).collect();
    let checkins = session_prep::checkin_days(&access, &partners, today).await?;
    let progress = progress::read(&access, &seen, &current.practice.time_zone).await?;
    let chrome = Chrome::of(&session, &current).await?;
    let mut page = CouplePage::of(seen, ctx, chrome, &at, viewings, state.clock.now());
    page.heatmaps = checkins.iter().map(|d| super::pictures::heatmap(d, &page.couple.who(d.partner))).collect();
    page.timeline = Some(super::pictures::timeline(&progress, &page.couple.names));
    page.boundary_picture = super::pictures::boundaries(&progress, &page.couple.names);
    Ok(render(&page).into_response())
}

async fn viewings_of(access: &CoupleAccess, ctx: &CoupleContext, at: &ViewingsAt) -> Result<(Vec<ViewingRow>, ViewingLinks), AppError> {
    let query = viewings::ViewingQuery { limit: Some(VIEWINGS_PER_PAGE), cursor: at.viewings.clone() };
    let page = viewings::viewings(access, &ctx.time_zone, &query).await?;
    let links = at.links(&ctx.href(), page.next_cursor.as_deref());
    let rows = page
        .items
        .into_iter()
        .map(|v| ViewingRow {
            day: crate::display::date(v.day),
            who: v.who,
            role: forms::humanize(&v.role),
            what: match v.action.as_str() {
                "export" => "Downloaded".into(),
                _ => "Viewed".into(),
            },
            record: v.record,
            times: v.times,
        })
        .collect();
    Ok((rows, links))
}

impl CouplePage {
    fn of(seen: CoupleOverview, ctx: CoupleContext, chrome: Chrome, at: &CoupleAt, viewings: Option<(Vec<ViewingRow>, ViewingLinks)>, now: time::OffsetDateTime) -> Self {
        let href = ctx.href();
        let (plan, plan_shared) = plan_of(&seen, &ctx);
        let pager = |label, key, anchor, current, next| Pager::of(label, &href, key, anchor, at, current, next);
        let (viewings, viewing_links) = viewings.unwrap_or_else(|| (Vec::new(), ViewingLinks { newer: None, older: None }));
        // A partner's view of the gate holds only their own flag.
        let own_flag = ctx.partner.is_some() && seen.safety.flagged;
        let (first, rest): (Vec<_>, Vec<_>) =
            seen.safety_plans.clone().into_iter().partition(|p| own_flag && ctx.partner.map(|slot| owned_by(p, slot)).unwrap_or(false));
        CouplePage {
            nav: chrome.nav,
            csrf_token: chrome.csrf_token,
            status: label(seen.couple.status),
            care_started_on: crate::display::date(seen.couple.care_started_on),
            days_in_care: crate::records::sobriety::days_in_care(seen.sobriety.care_started_on, seen.sobriety.today),
            care_team_names: seen.couple.care_team.iter().map(|m| m.display_name.clone()).collect::<Vec<_>>().join(", "),
            partners: seen.couple.partners.iter().map(partner_row).collect(),
            sobriety: seen.sobriety.partners.iter().map(|s| sobriety_row(s, &ctx)).collect(),
            custom_milestones: seen.sobriety.custom_milestones.iter().map(|m| (m.title.clone(), crate::display::date(m.achieved_on))).collect(),
            plan,
            plan_shared,
            boundaries_more: pager("boundaries", "boundaries", "boundaries", at.boundaries, seen.boundaries.next_cursor),
            boundaries: seen.boundaries.items.into_iter().map(|b| boundary_row(b, &ctx)).collect(),
            help_now: help_now(&seen.safety_plans, &ctx),
            own_flag,
            supporting: seen.couple.partners.iter().any(|p| Some(p.slot) == ctx.partner && p.recovery_role == RecoveryRole::Supporting),
            own_plans_first: first.into_iter().map(|p| safety_plan_row(p, &ctx)).collect(),
            safety_plans: rest.into_iter().map(|p| safety_plan_row(p, &ctx)).collect(),
            sessions_more: pager("sessions", "sessions", "sessions", at.sessions, seen.sessions.next_cursor),
            sessions: seen.sessions.items.into_iter().map(|s| session_row(s, &seen.notes, &ctx, now)).collect(),
            lapses_more: pager("lapses", "lapses", "lapses", at.lapses, seen.lapses.next_cursor),
            lapses: seen.lapses.items.into_iter().map(|l| lapse_row(l, &ctx)).collect(),
            private_notes_more: pager(
                "private notes",
                "private_notes",
                "private-notes",
                at.private_notes,
                seen.private_notes.as_ref().and_then(|p| p.next_cursor),
            ),
            private_notes: seen
                .private_notes
                .map(|p| p.items.into_iter().map(|n| (n.id, local_time(n.updated_at, &ctx.time_zone), n.text)).collect())
                .unwrap_or_default(),
            viewings,
            viewing_links,
            lapse_response: super::lapse_steps::rows(&seen.lapse_response, &ctx, now),
            heatmaps: Vec::new(),
            timeline: None,
            boundary_picture: None,
            couple: ctx,
        }
    }
}

fn plan_of(seen: &CoupleOverview, ctx: &CoupleContext) -> (Option<PlanDisplay>, bool) {
    let Some(plan) = &seen.plan else { return (None, false) };
    let role = |slot| seen.couple.partners.iter().find(|p| p.slot == slot).map(|p| p.recovery_role);
    let roles = PartnerRoles { a: role(PartnerSlot::A), b: role(PartnerSlot::B) };
    let mine = ctx.partner.and_then(role);
    (Some(PlanDisplay::of(plan, ctx, &roles, mine)), super::plan::fully_shared(&plan.content))
}

fn partner_row(p: &couples::PartnerView) -> PartnerRow {
    let mut details = Vec::new();
    for (name, value) in [("Pronouns", &p.pronouns), ("Phone", &p.phone), ("Email", &p.email), ("Emergency contact", &p.emergency_contact)] {
        if let Some(v) = value {
            details.push((name, v.clone()));
        }
    }
    if let Some(dob) = p.date_of_birth {
        details.push(("Date of birth", crate::display::date(dob)));
    }
    PartnerRow {
        heading: match &p.preferred_name {
            Some(called) if called != &p.full_name => format!("{} ({called})", p.full_name),
            _ => p.full_name.clone(),
        },
        role: match p.recovery_role {
            RecoveryRole::InRecovery => "In recovery".into(),
            RecoveryRole::Supporting => "Supporting partner".into(),
        },
        details,
        portal: p.has_portal_account,
    }
}

fn sobriety_row(s: &milestones::PartnerSobriety, ctx: &CoupleContext) -> SobrietyRow {
    let name = ctx.names.of(s.partner).to_owned();
    let own = ctx.partner == Some(s.partner);
    SobrietyRow {
        not_shared: not_shared_sentence(s.not_shared_because, &name, own),
        figures: s.figures.as_ref().map(|f| FiguresRow {
            sober_since: crate::display::date(f.sober_since),
            streak: f.current_streak_days,
            total: f.total_abstinent_days,
            use_days: f.use_days,
            reached: f.reached.iter().map(|m| format!("{} (on {})", m.label, crate::display::date(m.reached_on))).collect(),
            next: f.next.as_ref().map(|n| format!("{} on {}, in {}", n.label, crate::display::date(n.on), crate::display::count(n.days_to_go.into(), "day"))),
        }),
        name,
    }
}

fn boundary_row(b: boundaries::BoundaryView, ctx: &CoupleContext) -> BoundaryRow {
    let agreed_a = b.agreed_by_a_at.is_some();
    let agreed_b = b.agreed_by_b_at.is_some();
    let retired = b.status == boundaries::BoundaryStatus::Retired;
    let can_agree = match ctx.partner {
        Some(PartnerSlot::A) => !agreed_a && !retired,
        Some(PartnerSlot::B) => !agreed_b && !retired,
        None => false,
    };
    let count = |kind| b.events.iter().filter(|e| e.kind == kind).count();
    BoundaryRow {
        id: b.id,
        holder: match b.holder {
            boundaries::Holder::PartnerA => ctx.names.a.clone(),
            boundaries::Holder::PartnerB => ctx.names.b.clone(),
            boundaries::Holder::Both => "Both".into(),
        },
        category: label(b.category),
        status: label(b.status),
        audience: ctx.names.audience(b.audience),
        agreed_a,
        agreed_b,
        retired,
        can_agree,
        review_on: crate::display::optional_date(b.current.review_on),
        version: b.version,
        kept: count(boundaries::BoundaryEventKind::Kept),
        tested: count(boundaries::BoundaryEventKind::Tested),
        statement: b.current.statement,
        consequence: b.current.consequence,
    }
}

/// A partner's "Need help now": every contact with a number in the safety
/// plans they may see, their own plan's before the couple's, each once.
/// Whether `p` is partner `slot`'s own safety plan.
fn owned_by(p: &safety_plans::SafetyPlanView, slot: PartnerSlot) -> bool {
    match p.owner {
        safety_plans::SafetyPlanOwner::PartnerA => slot == PartnerSlot::A,
        safety_plans::SafetyPlanOwner::PartnerB => slot == PartnerSlot::B,
        safety_plans::SafetyPlanOwner::Couple => false,
    }
}

fn help_now(plans: &[safety_plans::SafetyPlanView], ctx: &CoupleContext) -> Vec<PlanItem> {
    let Some(slot) = ctx.partner else { return Vec::new() };
    let (mine, rest): (Vec<_>, Vec<_>) = plans.iter().partition(|p| owned_by(p, slot));
    let mut seen = std::collections::HashSet::new();
    mine.into_iter()
        .chain(rest)
        .flat_map(|p| p.content.people_to_ask_for_help.iter().chain(&p.content.professionals_and_crisis_lines))
        .map(|c| PlanItem::contact(c.clone()))
        .filter(|item| item.dial.as_ref().is_some_and(|d| seen.insert(d.clone())))
        .collect()
}

fn safety_plan_row(p: safety_plans::SafetyPlanView, ctx: &CoupleContext) -> SafetyPlanRow {
    let c = p.content;
    let contacts = |list: Vec<safety_plans::Contact>| list.into_iter().map(PlanItem::contact).collect::<Vec<_>>();
    let texts = |list: Vec<String>| list.into_iter().map(PlanItem::text).collect::<Vec<_>>();
    SafetyPlanRow {
        id: p.id,
        owner: match p.owner {
            safety_plans::SafetyPlanOwner::Couple => "The couple".into(),
            safety_plans::SafetyPlanOwner::PartnerA => ctx.names.a.clone(),
            safety_plans::SafetyPlanOwner::PartnerB => ctx.names.b.clone(),
        },
        audience: ctx.names.audience(p.audience),
        steps: vec![
            ("1. Warning signs", texts(c.warning_signs)),
            ("2. Things I can do on my own", texts(c.internal_coping)),
            ("3. People and places that take my mind off it", texts(c.distraction_people_and_places)),
            ("4. People I can ask for help", contacts(c.people_to_ask_for_help)),
            ("5. Professionals and crisis lines", contacts(c.professionals_and_crisis_lines)),
            ("6. Making the environment safe", texts(c.making_environment_safe)),
        ],
        reasons_for_living: c.reasons_for_living,
    }
}

fn session_row(s: sessions::SessionView, notes: &[notes::NoteView], ctx: &CoupleContext, now: time::OffsetDateTime) -> SessionRow {
    let mine: Vec<&notes::NoteView> = notes.iter().filter(|n| n.session_id == s.id).collect();
    SessionRow {
        id: s.id,
        // A note documents a session that has begun, once: a second one on
        // the same session was being written by mistake.
        can_write_note: ctx.care_team && mine.is_empty() && s.starts_at <= now,
        can_prepare: ctx.is_clinician() && s.starts_at > now,
        when: local_time(s.starts_at, &ctx.time_zone),
        kind: match (s.kind, s.partner) {
            (sessions::SessionKind::Individual, Some(p)) => format!("Individual ({})", ctx.names.of(p)),
            (kind, _) => label(kind),
        },
        modality: label(s.modality),
        notes: mine
            .iter()
            .map(|n| NoteRow { id: n.id, summary: format!("{} note", n.format.as_str().to_uppercase()), signed: n.status == notes::NoteStatus::Signed })
            .collect(),
        shared: if ctx.is_clinician() { Vec::new() } else { mine.iter().flat_map(|n| super::notes::shared_parts(n)).collect() },
    }
}

fn lapse_row(l: lapses::LapseView, ctx: &CoupleContext) -> LapseRow {
    LapseRow {
        id: l.id,
        who: ctx.who(l.partner),
        occurred_on: crate::display::date(l.occurred_on),
        days: l.days,
        substance: l.substance,
        kind: label(l.kind),
        learned: l.learned,
        audience: ctx.names.audience(l.audience),
    }
}

// ---- taking a couple into care -------------------------------------------------

#[derive(Default, Clone)]
pub struct PartnerFields {
    pub recovery_role: String,
    pub full_name: String,
    pub preferred_name: String,
    pub pronouns: String,
    pub date_of_birth: String,
    pub phone: String,
    pub email: String,
    pub emergency_contact: String,
    pub member_id: String,
}

#[derive(Default)]
pub struct NewCoupleForm {
    pub label: String,
    pub status: String,
    pub secrets_policy: String,
    pub care_started_on: String,
    pub a: PartnerFields,
    pub b: PartnerFields,
}

impl NewCoupleForm {
    /// The form's fields carry the API's names (`partner_a.full_name`...).
    fn from_fields(all: &HashMap<String, String>) -> Self {
        let get = |f: &str| all.get(f).cloned().unwrap_or_default();
        let partner = |prefix: &str| PartnerFields {
            recovery_role: get(&format!("{prefix}recovery_role")),
            full_name: get(&format!("{prefix}full_name")),
            preferred_name: get(&format!("{prefix}preferred_name")),
            pronouns: get(&format!("{prefix}pronouns")),
            date_of_birth: get(&format!("{prefix}date_of_birth")),
            phone: get(&format!("{prefix}phone")),
            email: get(&format!("{prefix}email")),
            emergency_contact: get(&format!("{prefix}emergency_contact")),
            member_id: get(&format!("{prefix}member_id")),
        };
        Self {
            label: get("label"),
            status: get("status"),
            secrets_policy: get("secrets_policy"),
            care_started_on: get("care_started_on"),
            a: partner("partner_a."),
            b: partner("partner_b."),
        }
    }
}

pub struct PartnerFormView {
    pub prefix: &'static str,
    pub legend: String,
    pub values: PartnerFields,
    pub roles: Vec<Choice>,
    pub accounts: Vec<Choice>,
}

impl PartnerFormView {
    async fn of(state: &AppState, current: &crate::auth::CurrentMember, prefix: &'static str, legend: String, values: PartnerFields) -> Result<Self, AppError> {
        Ok(Self {
            prefix,
            legend,
            roles: forms::choices(&[RecoveryRole::InRecovery, RecoveryRole::Supporting], &values.recovery_role),
            accounts: client_accounts(state, current, &values.member_id).await?,
            values,
        })
    }
}

#[derive(Template)]
#[template(path = "couple_new.html")]
pub struct NewCouplePage {
    pub nav: Option<Nav>,
    pub csrf_token: String,
    pub label: String,
    pub care_started_on: String,
    pub statuses: Vec<Choice>,
    pub policies: Vec<Choice>,
    pub partners: Vec<PartnerFormView>,
    pub errors: FormErrors,
}

async fn client_accounts(state: &AppState, current: &crate::auth::CurrentMember, selected: &str) -> Result<Vec<Choice>, AppError> {
    let mut choices = vec![Choice { value: String::new(), label: "No portal account yet".into(), selected: selected.is_empty() }];
    for m in members::list(&state.db, current.scope).await? {
        let value = m.id.to_string();
        let is_client = m.active && m.roles.contains(Role::Client);
        // The account a partner is linked to stays on offer (and chosen)
        // even when it is no longer an active client, so that saving other
        // details does not quietly unlink it.
        if is_client || value == selected {
            let mut label = format!("{} ({})", m.display_name, m.email);
            if !is_client {
                label.push_str(", no longer an active client");
            }
            choices.push(Choice { selected: value == selected, label, value });
        }
    }
    Ok(choices)
}

async fn new_couple_page(
    state: &AppState,
    session: &Session,
    current: &crate::auth::CurrentMember,
    form: NewCoupleForm,
    errors: FormErrors,
) -> Result<NewCouplePage, AppError> {
    let partners = vec![
        PartnerFormView::of(state, current, "partner_a.", "Partner A".into(), form.a).await?,
        PartnerFormView::of(state, current, "partner_b.", "Partner B".into(), form.b).await?,
    ];
    let chrome = Chrome::of(session, current).await?;
    Ok(NewCouplePage {
        nav: chrome.nav,
        csrf_token: chrome.csrf_token,
        statuses: forms::choices(&[CoupleStatus::Intake, CoupleStatus::Active, CoupleStatus::Paused, CoupleStatus::Closed], &form.status),
        policies: forms::choices(&[SecretsPolicy::NoSecrets, SecretsPolicy::IndividualConfidential], &form.secrets_policy),
        label: form.label,
        care_started_on: form.care_started_on,
        partners,
        errors,
    })
}

pub async fn new_form(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
) -> PageResult {
    let allowed = current.roles.contains(Role::Counselor);
    access::practice_level(&audit, &current, Some("couple"), !allowed);
    current.require(Role::Counselor)?;
    let today = milestones::practice_today(&state, &current.practice.time_zone);
    let form = NewCoupleForm {
        status: "active".into(),
        secrets_policy: "no_secrets".into(),
        care_started_on: today.to_string(),
        a: PartnerFields { recovery_role: "in_recovery".into(), ..PartnerFields::default() },
        b: PartnerFields { recovery_role: "supporting".into(), ..PartnerFields::default() },
        ..NewCoupleForm::default()
    };
    Ok(render(&new_couple_page(&state, &session, &current, form, FormErrors::default()).await?))
}

fn partner_input(fields: &mut Fields, prefix: &str, f: &PartnerFields) -> Option<PartnerInput> {
    let recovery_role = fields.check(&format!("{prefix}recovery_role"), pick_required(&f.recovery_role));
    let date_of_birth = fields.check(&format!("{prefix}date_of_birth"), forms::date(&f.date_of_birth));
    let member_id = fields.check(
        &format!("{prefix}member_id"),
        match f.member_id.trim() {
            "" => Ok(Some(None)),
            id => id.parse::<MemberId>().map(|id| Some(Some(id))).map_err(|_| "choose one of the accounts".to_owned()),
        },
    );
    Some(PartnerInput {
        recovery_role: recovery_role?,
        full_name: f.full_name.clone(),
        preferred_name: forms::opt(&f.preferred_name),
        pronouns: forms::opt(&f.pronouns),
        date_of_birth: date_of_birth?,
        phone: forms::opt(&f.phone),
        email: forms::opt(&f.email),
        emergency_contact: forms::opt(&f.emergency_contact),
        member_id: member_id?,
    })
}

impl NewCoupleForm {
    /// The new couple the form describes, or what to correct in it.
    fn parse(&self) -> Result<NewCouple, AppError> {
        let mut fields = Fields::default();
        let status = fields.check("status", pick::<CoupleStatus>(&self.status));
        let secrets_policy = fields.check("secrets_policy", pick_required(&self.secrets_policy));
        let care_started_on = fields.check("care_started_on", forms::date_required(&self.care_started_on));
        let a = partner_input(&mut fields, "partner_a.", &self.a);
        let b = partner_input(&mut fields, "partner_b.", &self.b);
        fields.finish_with(|| {
            Some(NewCouple {
                label: self.label.clone(),
                status: status?,
                secrets_policy: secrets_policy?,
                care_started_on: care_started_on?,
                partner_a: a?,
                partner_b: b?,
            })
        })
    }
}

pub async fn create(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    CsrfForm(raw): CsrfForm<HashMap<String, String>>,
) -> PageResult {
    let form = NewCoupleForm::from_fields(&raw);
    let result = match form.parse() {
        Ok(input) => couples::create(&state, &audit, &current, input).await,
        Err(err) => {
            // Nothing reached the records: the attempt is still the counselor's.
            access::practice_level(&audit, &current, Some("couple"), !current.roles.contains(Role::Counselor));
            Err(err)
        }
    };
    match result {
        Ok(created) => {
            audit.created(created.id);
            Ok(Redirect::to(&format!("/couples/{}", created.id)).into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let page = new_couple_page(&state, &session, &current, form, errors.into()).await?;
            Ok(again(StatusCode::UNPROCESSABLE_ENTITY, render(&page)))
        }
        Err(other) => Err(other.into()),
    }
}


// ---- changing the couple's details ------------------------------------------------

pub struct PartnerEdit {
    pub form: PartnerFormView,
    pub action: String,
    pub version: String,
}

#[derive(Template)]
#[template(path = "couple_edit.html")]
pub struct EditCouplePage {
    pub nav: Option<Nav>,
    pub csrf_token: String,
    pub couple: CoupleContext,
    pub version: String,
    pub label: String,
    pub care_started_on: String,
    pub statuses: Vec<Choice>,
    pub policies: Vec<Choice>,
    pub partners: Vec<PartnerEdit>,
    pub errors: FormErrors,
}

/// What the couple form held when it was sent (or the stored values).
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct CoupleForm {
    pub version: String,
    pub label: String,
    pub status: String,
    pub secrets_policy: String,
    pub care_started_on: String,
}

fn partner_fields(p: &couples::PartnerView) -> PartnerFields {
    PartnerFields {
        recovery_role: p.recovery_role.as_str(),
        full_name: p.full_name.clone(),
        preferred_name: p.preferred_name.clone().unwrap_or_default(),
        pronouns: p.pronouns.clone().unwrap_or_default(),
        date_of_birth: forms::show_date(p.date_of_birth),
        phone: p.phone.clone().unwrap_or_default(),
        email: p.email.clone().unwrap_or_default(),
        emergency_contact: p.emergency_contact.clone().unwrap_or_default(),
        member_id: String::new(),
    }
}

/// A form per partner on the edit page, holding what was sent for the
/// partner whose form came back, else what is stored (with the portal
/// account linked to that partner).
async fn partner_edits(
    state: &AppState,
    current: &crate::auth::CurrentMember,
    access: &crate::access::CoupleAccess,
    ctx: &CoupleContext,
    view: &couples::CoupleView,
    sent: &Sent,
) -> Result<Vec<PartnerEdit>, AppError> {
    let links = crate::records::couples::portal_accounts(access).await?;
    let mut partners = Vec::new();
    for p in &view.partners {
        let prefix = match p.slot {
            PartnerSlot::A => "partner_a.",
            PartnerSlot::B => "partner_b.",
        };
        let (values, version) = match sent {
            Sent::Partner(slot, values, version) if *slot == p.slot => (values.clone(), version.clone()),
            _ => {
                let mut values = partner_fields(p);
                values.member_id = links.iter().find(|(slot, _)| *slot == p.slot).and_then(|(_, m)| *m).map(|m| m.to_string()).unwrap_or_default();
                (values, p.version.to_string())
            }
        };
        partners.push(PartnerEdit {
            action: format!("{}/partners/{}", ctx.href(), p.slot.as_str()),
            version,
            form: PartnerFormView::of(state, current, prefix, ctx.names.of(p.slot).to_owned(), values).await?,
        });
    }
    Ok(partners)
}

/// What came back with a rejected save of the edit page: nothing (a plain
/// read, or a stale save that shows what is stored), the couple's own form,
/// or one partner's form with the version it was sent at.
enum Sent {
    Nothing,
    Couple(CoupleForm),
    Partner(PartnerSlot, PartnerFields, String),
}

/// The edit page; `sent` replaces the stored values of the form that was sent.
async fn edit_page(
    state: &AppState,
    session: &Session,
    current: &crate::auth::CurrentMember,
    access: &crate::access::CoupleAccess,
    sent: Sent,
    errors: FormErrors,
) -> Result<EditCouplePage, AppError> {
    let ctx = CoupleContext::of(access, current).await?;
    let view = couples::view(access).await?;
    let partners = partner_edits(state, current, access, &ctx, &view, &sent).await?;
    let c = match sent {
        Sent::Couple(form) => form,
        _ => CoupleForm {
            version: view.version.to_string(),
            label: view.label.clone(),
            status: view.status.as_str(),
            secrets_policy: view.secrets_policy.as_str(),
            care_started_on: view.care_started_on.to_string(),
        },
    };
    let chrome = Chrome::of(session, current).await?;
    Ok(EditCouplePage {
        nav: chrome.nav,
        csrf_token: chrome.csrf_token,
        statuses: forms::choices(&[CoupleStatus::Intake, CoupleStatus::Active, CoupleStatus::Paused, CoupleStatus::Closed], &c.status),
        policies: forms::choices(&[SecretsPolicy::NoSecrets, SecretsPolicy::IndividualConfidential], &c.secrets_policy),
        version: c.version,
        label: c.label,
        care_started_on: c.care_started_on,
        couple: ctx,
        partners,
        errors,
    })
}

pub async fn edit_form(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    Ok(render(&edit_page(&state, &session, &current, &access, Sent::Nothing, FormErrors::default()).await?))
}

/// A failed save of the edit page: shown again with what was sent (422), or
/// with a note that someone else saved first (409, the stored values shown).
async fn edit_rejected(
    err: AppError,
    state: &AppState,
    session: &Session,
    current: &crate::auth::CurrentMember,
    access: &crate::access::CoupleAccess,
    sent: Sent,
) -> PageResult {
    Ok(match super::Rejected::from(err)? {
        super::Rejected::Invalid(errors) => {
            again(StatusCode::UNPROCESSABLE_ENTITY, render(&edit_page(state, session, current, access, sent, errors).await?))
        }
        super::Rejected::Stale => {
            let page = edit_page(state, session, current, access, Sent::Nothing, FormErrors::form(super::STALE_DETAILS)).await?;
            again(StatusCode::CONFLICT, render(&page))
        }
    })
}

pub async fn update(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    CsrfForm(form): CsrfForm<CoupleForm>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    let mut fields = Fields::default();
    let status = fields.check("status", pick::<CoupleStatus>(&form.status));
    let policy = fields.check("secrets_policy", pick::<SecretsPolicy>(&form.secrets_policy));
    let started = fields.check("care_started_on", forms::date_required(&form.care_started_on));
    let patch = fields.finish_with(|| {
        Some(couples::CouplePatch { label: Some(form.label.clone()), status: status?, secrets_policy: policy?, care_started_on: Some(started?) })
    });
    let result = match (patch, parse_version(&form.version)) {
        (Ok(patch), Ok(version)) => couples::update(state.clock.now(), &access, IfMatch(version), patch).await.map(|_| ()),
        (Err(err), _) | (_, Err(err)) => Err(err),
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/couples/{couple_id}")).into_response()),
        Err(err) => edit_rejected(err, &state, &session, &current, &access, Sent::Couple(form)).await,
    }
}

pub async fn update_partner(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path((couple_id, slot)): Path<(CoupleId, PartnerSlot)>,
    CsrfForm(raw): CsrfForm<HashMap<String, String>>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    let prefix = match slot {
        PartnerSlot::A => "partner_a.",
        PartnerSlot::B => "partner_b.",
    };
    let sent = NewCoupleForm::from_fields(&raw);
    let values = if slot == PartnerSlot::A { sent.a } else { sent.b };
    let version = raw.get("version").cloned().unwrap_or_default();
    let mut fields = Fields::default();
    let mut input = partner_input(&mut fields, prefix, &values);
    if !raw.contains_key(&format!("{prefix}member_id")) {
        // A form without the account choice leaves the link alone.
        if let Some(input) = &mut input {
            input.member_id = None;
        }
    }
    let result = match (fields.finish_with(|| input), parse_version(&version)) {
        (Ok(input), Ok(v)) => couples::update_partner(state.clock.now(), &current, &access, slot, IfMatch(v), input).await.map(|_| ()),
        (Err(err), _) | (_, Err(err)) => Err(err),
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/couples/{couple_id}")).into_response()),
        Err(err) => edit_rejected(err, &state, &session, &current, &access, Sent::Partner(slot, values, version)).await,
    }
}
