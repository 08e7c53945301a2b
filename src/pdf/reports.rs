//! The two PDFs: the session-prep summary for the care team, and each
//! partner's own plan. Both are built from records read through the
//! caller's [`CoupleAccess`], so a partner's plan holds exactly what that
//! partner's audience allows; private notes never appear in either.

use time::{Date, OffsetDateTime};

use super::{Block, Document};
use crate::{
    access::CoupleAccess,
    error::AppError,
    records::{
        boundaries::{BoundaryStatus, Holder},
        common::{PartnerSlot, StoredEnum},
        couples::{self, CoupleView, RecoveryRole},
        lapse_response::StepView,
        lapses::{LapseKind, LapseView},
        notes::RiskLevel,
        overview::CoupleOverview,
        session_prep::SessionPrep,
        sessions::SessionView,
        plans::{self, PlanContentView, TimelineWhen, TimelineWho},
        safety_plans,
    },
};

/// Said on every page of every PDF Tandem makes.
pub const NOTICE: &str = "Confidential: this is a protected substance use disorder treatment record. \
    It may not be shared further without the written consent of the person it concerns, except as the law allows.";

fn name_of(couple: &CoupleView, slot: PartnerSlot) -> String {
    couple
        .partners
        .iter()
        .find(|p| p.slot == slot)
        .map(|p| p.preferred_name.clone().unwrap_or_else(|| p.full_name.clone()))
        .unwrap_or_else(|| "Partner".into())
}

fn role_words(role: RecoveryRole) -> &'static str {
    match role {
        RecoveryRole::InRecovery => "partner in recovery",
        RecoveryRole::Supporting => "supporting partner",
    }
}

fn when_words(when: TimelineWhen) -> &'static str {
    match when {
        TimelineWhen::Immediately => "Right away (first 24 hours)",
        TimelineWhen::FirstWeek => "In the first week",
        TimelineWhen::FirstMonth => "In the first month",
    }
}

fn risk_words(level: RiskLevel) -> Option<&'static str> {
    match level {
        RiskLevel::None => None,
        RiskLevel::Low => Some("low"),
        RiskLevel::Moderate => Some("moderate"),
        RiskLevel::High => Some("HIGH"),
    }
}

/// "Safety first", ahead of everything else, while a partner's fear of
/// violence is open: no joint work until that partner has been seen alone.
fn safety_first(seen: &CoupleOverview, time_zone: &str) -> Vec<Block> {
    if seen.safety.open.is_empty() {
        return Vec::new();
    }
    let mut b = vec![Block::Heading("Safety first".into())];
    b.push(Block::Bullets(
        seen.safety
            .open
            .iter()
            .map(|f| {
                let by = if f.raised_by_partner { "said so from the portal" } else { "recorded by the care team" };
                format!("{} fears violence ({by}, {}).", name_of(&seen.couple, f.partner), local(f.raised_at, time_zone))
            })
            .collect(),
    ));
    b.push(Block::Paragraph(
        "Joint check-ins are paused. See this partner alone before any joint session or joint exercise; \
         review their own safety plan with them; say nothing of this in front of the other partner."
            .into(),
    ));
    b
}

fn local(at: OffsetDateTime, time_zone: &str) -> String {
    crate::display::local_time(at, time_zone)
}

/// The session-prep summary: what a counselor needs in the five minutes
/// before a joint session, from the couple overview as the counselor sees
/// it, `now` and `today` being the moment and the day in `time_zone`.
pub fn session_prep(
    prep: &SessionPrep,
    now: OffsetDateTime,
    practice: &str,
    time_zone: &str,
    prepared_for: &str,
) -> Document {
    let seen = &prep.overview;
    let couple = &seen.couple;
    let today = seen.sobriety.today;
    let sobriety = &seen.sobriety;
    let last_session = prep.last_joint.as_ref();
    let since: Date = prep.since;
    let plan = seen.plan.as_ref().map(|p| &p.content);
    let boundaries = &seen.boundaries.items;
    let last_note = seen.notes.iter().find(|n| Some(n.id) == prep.last_note_id);

    let mut b = Vec::new();
    b.extend(safety_first(seen, time_zone));
    b.push(Block::Heading("The couple".into()));
    let mut facts = vec![
        ("Prepares".to_owned(), prep.session.as_ref().map_or("no session is booked".into(), |s| session_words(s, time_zone))),
        ("Couple".to_owned(), couple.label.clone()),
        ("Status".to_owned(), couple.status.as_str()),
        ("In care since".to_owned(), format!("{} ({})", crate::display::date(couple.care_started_on), crate::display::count(crate::records::sobriety::days_in_care(couple.care_started_on, today).into(), "day"))),
        ("Care team".to_owned(), couple.care_team.iter().map(|m| m.display_name.as_str()).collect::<Vec<_>>().join(", ")),
        (
            "Last joint session".to_owned(),
            last_session.map_or("none yet".into(), |s| local(s.starts_at, time_zone)),
        ),
    ];
    for p in &couple.partners {
        facts.push((
            format!("Partner {}", p.slot.as_str().to_uppercase()),
            format!("{} ({})", p.full_name, role_words(p.recovery_role)),
        ));
    }
    b.push(Block::KeyValues(facts));

    b.push(Block::Heading("Sobriety and milestones".into()));
    for s in &sobriety.partners {
        b.push(Block::SubHeading(name_of(couple, s.partner)));
        // The summary is for clinicians, who see every lapse; the check keeps
        // an incomplete figure out should that ever change.
        let Some(f) = &s.figures else {
            b.push(Block::Paragraph("These figures are not shared with you.".into()));
            continue;
        };
        let reached = f.reached.iter().map(|m| m.label.as_str()).collect::<Vec<_>>().join(", ");
        let mut kv = vec![
            ("Current streak".to_owned(), format!("{} (sober since {})", crate::display::count(f.current_streak_days.into(), "day"), crate::display::date(f.sober_since))),
            ("Total abstinent days".to_owned(), format!("{} of {} in care", f.total_abstinent_days, crate::display::count(s.days_in_care.into(), "day"))),
            ("Milestones reached".to_owned(), if reached.is_empty() { "none yet".into() } else { reached }),
        ];
        if let Some(next) = &f.next {
            kv.push(("Next milestone".to_owned(), format!("{} on {} ({} to go)", next.label, crate::display::date(next.on), crate::display::count(next.days_to_go.into(), "day"))));
        }
        b.push(Block::KeyValues(kv));
    }
    if !sobriety.custom_milestones.is_empty() {
        b.push(Block::Bullets(sobriety.custom_milestones.iter().map(|m| format!("{}: {}", crate::display::date(m.achieved_on), m.title)).collect()));
    }

    b.push(Block::Heading("Months in care".into()));
    b.extend(super::pictures::timeline(&prep.progress, &|p| name_of(couple, p)));

    b.push(Block::Heading("Lapses since the last session".into()));
    let new_lapses: Vec<&LapseView> = prep.lapses.iter().collect();
    if new_lapses.is_empty() {
        b.push(Block::Paragraph("None recorded.".into()));
    } else {
        b.push(Block::Bullets(
            new_lapses
                .iter()
                .map(|l| {
                    let kind = if l.kind == LapseKind::Relapse { "relapse" } else { "lapse" };
                    let learned = l.learned.as_deref().map(|t| format!(" Learned: {t}")).unwrap_or_default();
                    format!("{} ({}, {}), {}: {}.{learned}", crate::display::date(l.occurred_on), crate::display::count(l.days.into(), "day"), kind, name_of(couple, l.partner), l.substance)
                })
                .collect(),
        ));
    }

    since_last_session(&mut b, prep);

    b.push(Block::Heading("Boundaries".into()));
    if boundaries.is_empty() {
        b.push(Block::Paragraph("No boundaries yet.".into()));
    }
    for boundary in boundaries.iter().filter(|x| x.status != BoundaryStatus::Retired) {
        let holder = match boundary.holder {
            Holder::PartnerA => name_of(couple, PartnerSlot::A),
            Holder::PartnerB => name_of(couple, PartnerSlot::B),
            Holder::Both => "Both".into(),
        };
        let changed = if boundary.current.created_at.date() >= since && boundary.current.number > 1 {
            " (reworded since the last session)"
        } else {
            ""
        };
        b.push(Block::Bullets(vec![format!(
            "{holder}, {}{changed}: {} Consequence: {}",
            status_words(boundary.status),
            boundary.current.statement,
            boundary.current.consequence
        )]));
    }

    if seen.boundaries.next_cursor.is_some() {
        b.push(Block::Paragraph("More boundaries are on the couple page.".into()));
    }

    b.push(Block::Heading("Relapse-prevention plan: key points".into()));
    match plan {
        None => b.push(Block::Paragraph("No plan yet.".into())),
        Some(plan) => plan_key_points(&mut b, plan, seen.lapse_response.is_empty()),
    }
    lapse_response_blocks(&mut b, seen, now, time_zone);

    b.push(Block::Heading("From the last note".into()));
    match last_note {
        None => b.push(Block::Paragraph("No signed note yet.".into())),
        Some(_) => b.push(Block::KeyValues(vec![
            ("Plan".into(), prep.last_plan.clone().unwrap_or_else(|| "none written".into())),
            ("Homework".into(), prep.last_homework.clone().unwrap_or_else(|| "none set".into())),
        ])),
    }

    b.push(Block::Heading("Open risks".into()));
    let mut risks: Vec<String> = prep
        .risk_flags
        .iter()
        .filter_map(|r| Some(format!("{}: {} risk {}", name_of(couple, r.partner), r.risk, risk_words(r.level)?)))
        .collect();
    if !seen.safety_plans.is_empty() {
        risks.push(format!("{} safety plan(s) on file", seen.safety_plans.len()));
    }
    if risks.is_empty() {
        risks.push("No open risks recorded at the last screen.".into());
    }
    b.push(Block::Bullets(risks));

    b.push(Block::Heading("Unsigned drafts".into()));
    if prep.drafts.is_empty() {
        b.push(Block::Paragraph("None: every note is signed.".into()));
    } else {
        b.push(Block::Bullets(prep.drafts.iter().map(|n| format!("{} draft of the session of {}", n.format.as_str().to_uppercase(), session_day(seen, n.session_id, time_zone))).collect()));
    }

    b.push(Block::Heading("Agenda".into()));
    if !prep.agenda.text.is_empty() {
        b.push(Block::Bullets(prep.agenda.text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()));
        return document(b, now, practice, time_zone, prepared_for);
    }
    let mut agenda = vec!["Recovery contract: review the calendar together".to_owned()];
    if !new_lapses.is_empty() {
        agenda.push("The lapse: what happened, what was learned, which timeline step is under way".into());
    }
    if boundaries.iter().any(|x| matches!(x.status, BoundaryStatus::Proposed | BoundaryStatus::Revised)) {
        agenda.push("Boundaries waiting for agreement".into());
    }
    if last_note.is_some_and(|n| n.content.homework.is_some()) {
        agenda.push("Homework from last time".into());
    }
    if let Some(review) = plan.and_then(|p| p.review_on).filter(|r| (*r - today).whole_days() <= 14) {
        agenda.push(format!("Plan review due {}", crate::display::date(review)));
    }
    agenda.push("Celebrate progress; next steps".into());
    b.push(Block::Bullets(agenda));
    document(b, now, practice, time_zone, prepared_for)
}

fn document(blocks: Vec<Block>, now: OffsetDateTime, practice: &str, time_zone: &str, prepared_for: &str) -> Document {
    let b = blocks;
    Document {
        title: "Session-prep summary".into(),
        practice: practice.into(),
        made_for: format!("Prepared for {prepared_for}"),
        generated_at: local(now, time_zone),
        notice: NOTICE.into(),
        blocks: b,
    }
}

/// "Joint session, Thursday 10 December 2026, 17:00 CST".
fn session_words(s: &SessionView, time_zone: &str) -> String {
    crate::display::session(&s.kind.as_str(), s.starts_at, time_zone)
}

fn session_day(seen: &CoupleOverview, id: uuid::Uuid, time_zone: &str) -> String {
    seen.sessions.items.iter().find(|s| s.id == id).map_or_else(|| "an earlier session".into(), |s| crate::display::local_date(s.starts_at, time_zone))
}

/// Check-ins, boundaries kept or tested, and milestones since the last joint session.
fn since_last_session(b: &mut Vec<Block>, prep: &SessionPrep) {
    let couple = &prep.overview.couple;
    b.push(Block::Heading("Check-in adherence".into()));
    if prep.adherence.is_empty() {
        b.push(Block::Paragraph("No recovery contract yet.".into()));
    } else {
        b.push(Block::KeyValues(
            prep.adherence
                .iter()
                .map(|a| (name_of(couple, a.partner), format!("{}% ({} of {})", a.percent, a.checked_in, crate::display::count(a.days.into(), "day"))))
                .collect(),
        ));
        for days in &prep.checkin_days {
            b.extend(super::pictures::heatmap(days, &name_of(couple, days.partner)));
        }
    }
    b.push(Block::Heading("Boundaries kept or tested".into()));
    if prep.boundary_moments.is_empty() {
        b.push(Block::Paragraph("None logged.".into()));
    } else {
        b.push(Block::Bullets(
            prep.boundary_moments.iter().map(|m| format!("{}: {} ({})", crate::display::date(m.occurred_on), m.statement, m.kind.as_str())).collect(),
        ));
    }
    let picture = super::pictures::boundaries(&prep.progress);
    if !picture.is_empty() {
        b.push(Block::SubHeading("Since care began".into()));
        b.extend(picture);
    }
    b.push(Block::Heading("Milestones reached".into()));
    if prep.milestones.is_empty() {
        b.push(Block::Paragraph("None since the last joint session.".into()));
    } else {
        b.push(Block::Bullets(
            prep.milestones.iter().map(|m| format!("{}: {} on {}", name_of(couple, m.partner), m.milestone.label, crate::display::date(m.milestone.reached_on))).collect(),
        ));
    }
}

fn status_words(status: BoundaryStatus) -> &'static str {
    match status {
        BoundaryStatus::Proposed => "proposed, waiting for agreement",
        BoundaryStatus::Agreed => "agreed by both",
        BoundaryStatus::Revised => "reworded, waiting for agreement",
        BoundaryStatus::Retired => "retired",
    }
}

/// The timelines under way: the step due next by name and due time, then
/// every step with where it stands.
fn lapse_response_blocks(b: &mut Vec<Block>, seen: &CoupleOverview, now: OffsetDateTime, time_zone: &str) {
    let steps = &seen.lapse_response;
    let Some(next) = crate::records::lapse_response::due_next(steps) else { return };
    let who = |s: &StepView| s.owner.map_or_else(|| "Counselor".to_owned(), |p| name_of(&seen.couple, p));
    b.push(Block::SubHeading("Lapse response under way".into()));
    let late = if next.is_overdue(now) { "overdue since" } else { "due" };
    b.push(Block::KeyValues(vec![(
        "Due next".into(),
        format!("{}: {} ({}, {late} {})", who(next), next.action, when_words(next.when).to_lowercase(), local(next.due_at, time_zone)),
    )]));
    b.push(Block::Bullets(
        steps
            .iter()
            .map(|s| {
                let state = match s.done_at {
                    Some(at) => format!("done {}", local(at, time_zone)),
                    None if s.is_overdue(now) => format!("OVERDUE since {}", local(s.due_at, time_zone)),
                    None => format!("due {}", local(s.due_at, time_zone)),
                };
                format!("{}: {} ({state})", who(s), s.action)
            })
            .collect(),
    ));
}

/// Key points of the plan; with no timeline under way, what its first
/// 24 hours ask should a lapse happen.
fn plan_key_points(b: &mut Vec<Block>, plan: &PlanContentView, no_timeline: bool) {
    if let Some(s) = plan.high_risk_situations.as_ref().filter(|s| !s.items.is_empty()) {
        b.push(Block::SubHeading("High-risk situations".into()));
        b.push(Block::Bullets(
            s.items
                .iter()
                .map(|h| match &h.coping_skill {
                    Some(skill) => format!("{} ({}): {skill}", h.situation, h.response.as_str()),
                    None => format!("{} ({})", h.situation, h.response.as_str()),
                })
                .collect(),
        ));
    }
    if let Some(s) = plan.warning_signs.as_ref().filter(|s| !s.items.is_empty()) {
        b.push(Block::SubHeading("Early warning signs".into()));
        b.push(Block::Bullets(s.items.iter().map(|w| format!("{}: {}", w.sign, w.what_to_do)).collect()));
    }
    if let Some(s) = plan.support_people.as_ref().filter(|s| !s.items.is_empty()) {
        b.push(Block::SubHeading("Support people".into()));
        b.push(Block::Bullets(
            s.items
                .iter()
                .map(|p| format!("{} ({}) {}", p.name, p.role, p.phone.clone().unwrap_or_default()).trim_end().to_owned())
                .collect(),
        ));
    }
    if let Some(timeline) = plan.lapse_response.as_ref().filter(|_| no_timeline) {
        let step = TimelineWhen::Immediately;
        let now: Vec<String> = timeline
            .items
            .iter()
            .filter(|t| t.when == step)
            .map(|t| format!("{}: {}", who_words(t.who), t.action))
            .collect();
        if !now.is_empty() {
            b.push(Block::SubHeading(format!("If a lapse happens: {}", when_words(step).to_lowercase())));
            b.push(Block::Bullets(now));
        }
    }
}

/// "In a crisis": every contact of the safety plans the reader sees, and
/// the emergency line, together at the top of the plan.
fn crisis_blocks(safety: &[safety_plans::SafetyPlanView]) -> Vec<Block> {
    let mut crisis: Vec<(String, String)> = Vec::new();
    for contact in safety.iter().flat_map(|p| p.content.people_to_ask_for_help.iter().chain(&p.content.professionals_and_crisis_lines)) {
        let line = (contact.name.clone(), contact.phone.clone().unwrap_or_default());
        if !crisis.contains(&line) {
            crisis.push(line);
        }
    }
    let mut b = vec![Block::Heading("In a crisis".into())];
    if !crisis.is_empty() {
        b.push(Block::KeyValues(crisis));
    }
    b.push(Block::Paragraph("If you or someone else is in immediate danger, call your local emergency number now.".into()));
    b
}

/// The recovery part of the plan: to the partner in recovery as "you"
/// (`by: None`), or to the supporting partner as what `by` agreed to do.
fn recovery_steps(b: &mut Vec<Block>, plan: &plans::PlanContentView, by: Option<&str>) {
    let heading = |yours: &str, theirs: String| by.map_or_else(|| yours.to_owned(), |_| theirs);
    let who = by.unwrap_or("you");
    if let Some(by) = by {
        b.push(Block::Heading(format!("What {by} has agreed to do")));
    }
    let mut list = |heading: String, items: Vec<String>| {
        if !items.is_empty() {
            b.push(if by.is_some() { Block::SubHeading(heading) } else { Block::Heading(heading) });
            b.push(Block::Bullets(items));
        }
    };
    if let Some(s) = &plan.reasons_for_recovery {
        list(heading("Why we are doing this", format!("Why {who} is doing this")), s.items.clone());
    }
    if let Some(s) = &plan.high_risk_situations {
        let items = s.items.iter().map(|h| h.coping_skill.as_ref().map_or_else(|| h.situation.clone(), |skill| format!("{}: {}", h.situation, skill))).collect();
        list(heading("Situations that raise the risk, and what you will do", format!("Situations that raise the risk for {who}, and what {who} will do")), items);
    }
    if let Some(s) = &plan.warning_signs {
        list(heading("Early warning signs", format!("Early warning signs in {who}")), s.items.iter().map(|w| format!("{}: {}", w.sign, w.what_to_do)).collect());
    }
    if let Some(s) = &plan.coping_strategies {
        list(heading("What helps", format!("What helps {who}")), s.items.clone());
    }
    if let Some(s) = &plan.daily_habits {
        list(heading("Every day", format!("What {who} does every day")), s.items.clone());
    }
    if let Some(s) = &plan.meetings_and_medications {
        list(heading("Meetings and medication", format!("{who}'s meetings and medication")), s.items.clone());
    }
}

/// The lapse-response timeline, the reader's own steps first as "You".
fn lapse_response(b: &mut Vec<Block>, plan: &plans::PlanContentView, couple: &CoupleView, slot: PartnerSlot, my_role: TimelineWho) {
    let Some(timeline) = plan.lapse_response.as_ref().filter(|t| !t.items.is_empty()) else { return };
    b.push(Block::Heading("If a lapse happens".into()));
    for when in [TimelineWhen::Immediately, TimelineWhen::FirstWeek, TimelineWhen::FirstMonth] {
        let steps: Vec<_> = timeline.items.iter().filter(|t| t.when == when).collect();
        if steps.is_empty() {
            continue;
        }
        b.push(Block::SubHeading(when_words(when).into()));
        let mut lines: Vec<String> = steps.iter().filter(|t| t.who == my_role).map(|t| format!("You: {}", t.action)).collect();
        lines.extend(steps.iter().filter(|t| t.who != my_role).map(|t| {
            let who = match t.who {
                TimelineWho::Counselor => "Your counselor".to_owned(),
                _ => name_of(couple, slot.other()),
            };
            format!("{who}: {}", t.action)
        }));
        b.push(Block::Bullets(lines));
    }
}

fn people_to_call(b: &mut Vec<Block>, plan: &plans::PlanContentView) {
    let Some(s) = plan.support_people.as_ref().filter(|s| !s.items.is_empty()) else { return };
    b.push(Block::Heading("People to call".into()));
    b.push(Block::KeyValues(
        s.items
            .iter()
            .map(|p| {
                let when = p.reachable.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
                (format!("{} ({})", p.name, p.role), format!("{}{when}", p.phone.clone().unwrap_or_else(|| "no phone".into())))
            })
            .collect(),
    ));
}

fn who_words(who: TimelineWho) -> &'static str {
    match who {
        TimelineWho::PartnerInRecovery => "Partner in recovery",
        TimelineWho::SupportingPartner => "Supporting partner",
        TimelineWho::Counselor => "Counselor",
    }
}

/// A partner's plan, in plain words: what that partner's audience allows,
/// written to that partner. Crisis contacts come first, never alone on a
/// last page; then the reader's own part (for the partner in recovery the
/// plan's steps, for the supporting partner their own care), then what the
/// other partner has agreed to do, named, in the third person, then what
/// the couple shares. `access` must see as that partner does (see
/// `CoupleAccess::as_partner`). With `pictures` (the partner's own copy,
/// never one disclosed under a consent to share the plan), it ends with
/// the months in care and the boundaries over time, as that partner sees them.
pub async fn partner_plan(
    now: OffsetDateTime,
    access: &CoupleAccess,
    slot: PartnerSlot,
    practice: &str,
    time_zone: &str,
    pictures: bool,
) -> Result<Document, AppError> {
    let couple = couples::view(access).await?;
    let me = couple.partners.iter().find(|p| p.slot == slot).ok_or(AppError::NotFound)?;
    let my_role = match me.recovery_role {
        RecoveryRole::InRecovery => TimelineWho::PartnerInRecovery,
        RecoveryRole::Supporting => TimelineWho::SupportingPartner,
    };
    let name = name_of(&couple, slot);
    let other = name_of(&couple, slot.other());
    let plan = plans::current_content(&access.db(), access).await?;
    let safety = safety_plans::list(access).await?;

    let mut b = vec![Block::Paragraph(format!(
        "{name}, this is your copy of the plan you made with your counselor. Keep it somewhere you can find it on a hard day."
    ))];
    b.extend(crisis_blocks(&safety));
    let texts = |b: &mut Vec<Block>, heading: String, items: &[String]| {
        if !items.is_empty() {
            b.push(Block::Heading(heading));
            b.push(Block::Bullets(items.to_vec()));
        }
    };
    match &plan {
        None => b.push(Block::Paragraph("Your plan has not been written yet. Ask your counselor at your next session.".into())),
        Some(plan) if my_role == TimelineWho::SupportingPartner => {
            if let Some(s) = &plan.supporting_partner_care {
                texts(&mut b, "Taking care of yourself".into(), &s.items);
            }
            lapse_response(&mut b, plan, &couple, slot, my_role);
            recovery_steps(&mut b, plan, Some(&other));
            people_to_call(&mut b, plan);
        }
        Some(plan) => {
            recovery_steps(&mut b, plan, None);
            lapse_response(&mut b, plan, &couple, slot, my_role);
            people_to_call(&mut b, plan);
            if let Some(s) = &plan.supporting_partner_care {
                texts(&mut b, format!("How {other} takes care of themselves"), &s.items);
            }
        }
    }
    for plan in &safety {
        let c = &plan.content;
        b.push(Block::Heading(match plan.owner {
            safety_plans::SafetyPlanOwner::Couple => format!("The safety plan you share with {other}"),
            _ => "Your safety plan".into(),
        }));
        for (heading, items) in [
            ("Warning signs", &c.warning_signs),
            ("Things I can do on my own", &c.internal_coping),
            ("People and places that help me take my mind off it", &c.distraction_people_and_places),
            ("Making my surroundings safe", &c.making_environment_safe),
        ] {
            if !items.is_empty() {
                b.push(Block::SubHeading(heading.into()));
                b.push(Block::Bullets(items.clone()));
            }
        }
        if let Some(reasons) = &c.reasons_for_living {
            b.push(Block::SubHeading("What matters most to me".into()));
            b.push(Block::Paragraph(reasons.clone()));
        }
    }
    if pictures {
        let today = crate::records::milestones::today_in(now, time_zone);
        let seen = crate::records::overview::couple(access, today, &Default::default()).await?;
        let progress = crate::records::progress::read(access, &seen, time_zone).await?;
        b.push(Block::Heading("Your months in care".into()));
        b.extend(super::pictures::timeline(&progress, &|p| name_of(&couple, p)));
        let boundaries = super::pictures::boundaries(&progress);
        if !boundaries.is_empty() {
            b.push(Block::Heading("Your boundaries, kept and tested".into()));
            b.extend(boundaries);
        }
    }
    Ok(Document {
        title: "My plan".into(),
        practice: practice.into(),
        made_for: format!("Prepared for {} ({})", me.full_name, role_words(me.recovery_role)),
        generated_at: local(now, time_zone),
        notice: NOTICE.into(),
        blocks: b,
    })
}
