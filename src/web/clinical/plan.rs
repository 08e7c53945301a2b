//! The relapse-prevention plan: how each reader sees it, the form that
//! writes a new version of it, and sharing it with the couple.

use crate::records::couples::CoupleId;
use askama::Template;
use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Redirect},
};
use serde::Deserialize;
use tower_sessions::Session;

use super::{
    Chrome, CoupleContext, PageResult, Rejected, STALE, again,
    editing::parse_version,
    forms::{self, PartnerNames, choices, label, lines, nth, opt, pick_required},
};
use crate::{
    state::AppState,
    access::{self, Need},
    web::Path,
    audit::AuditContext,
    web::{CsrfForm, SignedIn},
    error::AppError,
    practice::Fields,
    records::{
        common::{Audience, IfMatch, StoredEnum},
        couples::RecoveryRole,
        plans::{
            self, HighRiskCategory, HighRiskSection, HighRiskSituation, NoticedBy, PlanContent, PlanContentView,
            PlanView, PlannedResponse, SignKind, SupportPerson, SupportSection, TextSection, TimelineSection,
            TimelineStep, TimelineWhen, TimelineWho, WarningSign, WarningSignSection,
        },
    },
    web::{render, templates::{Choice, FormErrors, Nav}},
};

// ---- showing the plan ------------------------------------------------------------

pub struct SectionDisplay {
    pub title: String,
    pub audience: String,
    pub items: Vec<String>,
}

pub struct StepDisplay {
    pub who: String,
    pub action: String,
    /// A step for the partner reading the plan.
    pub mine: bool,
}

pub struct TimelineGroup {
    pub when: &'static str,
    pub steps: Vec<StepDisplay>,
}

/// The plan as one reader may see it.
pub struct PlanDisplay {
    pub version: i32,
    pub review_on: String,
    pub sections: Vec<SectionDisplay>,
    pub timeline_audience: Option<String>,
    pub timeline: Vec<TimelineGroup>,
}

const WHEN: [(TimelineWhen, &str); 3] = [
    (TimelineWhen::Immediately, "In the first 24 hours"),
    (TimelineWhen::FirstWeek, "In the first week"),
    (TimelineWhen::FirstMonth, "In the first month"),
];

fn who_label(who: TimelineWho, names: &PartnerNames, roles: &PartnerRoles) -> String {
    match who {
        TimelineWho::Counselor => "Counselor".into(),
        TimelineWho::PartnerInRecovery => roles.named(RecoveryRole::InRecovery, names).unwrap_or_else(|| "Partner in recovery".into()),
        TimelineWho::SupportingPartner => roles.named(RecoveryRole::Supporting, names).unwrap_or_else(|| "Supporting partner".into()),
    }
}

/// Which partner holds which recovery role, for naming timeline steps.
#[derive(Default)]
pub struct PartnerRoles {
    pub a: Option<RecoveryRole>,
    pub b: Option<RecoveryRole>,
}

impl PartnerRoles {
    fn named(&self, role: RecoveryRole, names: &PartnerNames) -> Option<String> {
        match (self.a == Some(role), self.b == Some(role)) {
            (true, false) => Some(names.a.clone()),
            (false, true) => Some(names.b.clone()),
            _ => None,
        }
    }
}

impl PlanDisplay {
    /// `my_role` is the reading partner's recovery role, to mark their steps.
    pub fn of(plan: &PlanView, ctx: &CoupleContext, roles: &PartnerRoles, my_role: Option<RecoveryRole>) -> Self {
        let c = &plan.content;
        let names = &ctx.names;
        // Written to the partner reading: their own part as "your", the
        // other partner's by name; the care team reads the plain titles.
        let other = ctx.partner.map(|slot| names.of(slot.other()).to_owned()).unwrap_or_default();
        let title = |plain: &str, yours: &str, theirs: String| match my_role {
            None => plain.to_owned(),
            Some(RecoveryRole::InRecovery) => yours.to_owned(),
            Some(RecoveryRole::Supporting) => theirs,
        };
        let section = |title: String, audience: Audience, items: Vec<String>| SectionDisplay { title, audience: names.audience(audience), items };
        let text = |title: String, s: &Option<TextSection>| s.as_ref().map(|s| section(title, s.audience, s.items.clone()));
        let mut sections = Vec::new();
        sections.extend(text(title("Reasons for recovery", "Your reasons for recovery", format!("{other}'s reasons for recovery")), &c.reasons_for_recovery));
        sections.extend(c.high_risk_situations.as_ref().map(|s| {
            let title = title("High-risk situations", "Your high-risk situations", format!("High-risk situations for {other}"));
            section(title, s.audience, s.items.iter().map(high_risk_line).collect())
        }));
        sections.extend(c.warning_signs.as_ref().map(|s| {
            section(title("Warning signs", "Your warning signs", format!("Warning signs in {other}")), s.audience, s.items.iter().map(warning_sign_line).collect())
        }));
        sections.extend(text(title("Coping strategies", "What helps you", format!("What helps {other}")), &c.coping_strategies));
        sections.extend(text(title("Daily habits", "Your daily habits", format!("{other}'s daily habits")), &c.daily_habits));
        sections.extend(c.support_people.as_ref().map(|s| section("Support people".into(), s.audience, s.items.iter().map(support_person_line).collect())));
        sections.extend(text(title("Meetings and medications", "Your meetings and medications", format!("{other}'s meetings and medications")), &c.meetings_and_medications));
        let own_care = text(
            title("The supporting partner's own support", &format!("How {other} takes care of themselves"), "Taking care of yourself".into()),
            &c.supporting_partner_care,
        );
        match (my_role, own_care) {
            // The supporting partner reads her own care first.
            (Some(RecoveryRole::Supporting), Some(care)) => sections.insert(0, care),
            (_, care) => sections.extend(care),
        }
        PlanDisplay {
            version: plan.version,
            review_on: crate::display::optional_date(c.review_on),
            sections,
            timeline_audience: c.lapse_response.as_ref().map(|t| names.audience(t.audience)),
            timeline: c.lapse_response.as_ref().map(|t| timeline(t, names, roles, my_role)).unwrap_or_default(),
        }
    }
}

fn high_risk_line(h: &HighRiskSituation) -> String {
    let mut line = format!("{} ({}): {}", h.situation, label(h.category), label(h.response));
    if let Some(skill) = &h.coping_skill {
        line.push_str(&format!("; coping: {skill}"));
    }
    if let Some(call) = &h.who_to_call {
        line.push_str(&format!("; call: {call}"));
    }
    line
}

fn warning_sign_line(w: &WarningSign) -> String {
    let by = match w.noticed_by {
        NoticedBy::Myself => "noticed by the partner in recovery",
        NoticedBy::Partner => "noticed by the supporting partner",
    };
    format!("{} ({}, {by}): {}", w.sign, label(w.kind).to_lowercase(), w.what_to_do)
}

fn support_person_line(p: &SupportPerson) -> String {
    [Some(format!("{} ({})", p.name, p.role)), p.phone.clone(), p.reachable.clone()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · ")
}

/// The steps after a lapse, grouped by when; the reading partner's own
/// steps are marked.
fn timeline(t: &TimelineSection, names: &PartnerNames, roles: &PartnerRoles, my_role: Option<RecoveryRole>) -> Vec<TimelineGroup> {
    let my_who = my_role.map(|r| match r {
        RecoveryRole::InRecovery => TimelineWho::PartnerInRecovery,
        RecoveryRole::Supporting => TimelineWho::SupportingPartner,
    });
    WHEN.iter()
        .map(|(when, title)| TimelineGroup {
            when: title,
            steps: t
                .items
                .iter()
                .filter(|s| s.when == *when)
                .map(|s| StepDisplay { who: who_label(s.who, names, roles), action: s.action.clone(), mine: Some(s.who) == my_who })
                .collect(),
        })
        .filter(|g| !g.steps.is_empty())
        .collect()
}

/// Whether no section is kept from the couple (sections for one partner count as shared).
pub fn fully_shared(c: &PlanContentView) -> bool {
    audiences(c).into_iter().all(|a| a != Audience::Clinician)
}

fn audiences(c: &PlanContentView) -> Vec<Audience> {
    [
        c.reasons_for_recovery.as_ref().map(|s| s.audience),
        c.high_risk_situations.as_ref().map(|s| s.audience),
        c.warning_signs.as_ref().map(|s| s.audience),
        c.coping_strategies.as_ref().map(|s| s.audience),
        c.daily_habits.as_ref().map(|s| s.audience),
        c.support_people.as_ref().map(|s| s.audience),
        c.meetings_and_medications.as_ref().map(|s| s.audience),
        c.lapse_response.as_ref().map(|s| s.audience),
        c.supporting_partner_care.as_ref().map(|s| s.audience),
    ]
    .into_iter()
    .flatten()
    .collect()
}

// ---- the form ------------------------------------------------------------------

/// The plan form as the browser sends it. Rows of the structured sections
/// are repeated fields, read by position; a row left blank is dropped.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct PlanForm {
    pub version: String,
    pub review_on: String,
    pub reasons_for_recovery: String,
    pub reasons_for_recovery_audience: String,
    pub coping_strategies: String,
    pub coping_strategies_audience: String,
    pub daily_habits: String,
    pub daily_habits_audience: String,
    pub meetings_and_medications: String,
    pub meetings_and_medications_audience: String,
    pub supporting_partner_care: String,
    pub supporting_partner_care_audience: String,
    pub high_risk_situations_audience: String,
    pub hr_category: Vec<String>,
    pub hr_situation: Vec<String>,
    pub hr_response: Vec<String>,
    pub hr_coping_skill: Vec<String>,
    pub hr_who_to_call: Vec<String>,
    pub warning_signs_audience: String,
    pub ws_kind: Vec<String>,
    pub ws_sign: Vec<String>,
    pub ws_noticed_by: Vec<String>,
    pub ws_what_to_do: Vec<String>,
    pub support_people_audience: String,
    pub sp_name: Vec<String>,
    pub sp_role: Vec<String>,
    pub sp_phone: Vec<String>,
    pub sp_reachable: Vec<String>,
    pub sp_consent: Vec<String>,
    pub lapse_response_audience: String,
    pub tl_when: Vec<String>,
    pub tl_who: Vec<String>,
    pub tl_action: Vec<String>,
}

/// Rows a form shows: the ones there are and two blank ones to add more.
const BLANK_ROWS: usize = 2;

fn rows(n: usize) -> Vec<usize> {
    (0..n + BLANK_ROWS).collect()
}

impl PlanForm {
    fn from_content(c: &PlanContentView, version: i32) -> Self {
        let text = |s: &Option<TextSection>| s.as_ref().map(|s| s.items.join("\n")).unwrap_or_default();
        let aud = |a: Option<Audience>, default: Audience| a.unwrap_or(default).as_str();
        let hr = c.high_risk_situations.clone().unwrap_or_default();
        let ws = c.warning_signs.clone().unwrap_or_default();
        let sp = c.support_people.clone().unwrap_or_default();
        let tl = c.lapse_response.clone().unwrap_or_default();
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        PlanForm {
            version: version.to_string(),
            review_on: forms::show_date(c.review_on),
            reasons_for_recovery: text(&c.reasons_for_recovery),
            reasons_for_recovery_audience: aud(c.reasons_for_recovery.as_ref().map(|s| s.audience), Audience::Clinician),
            coping_strategies: text(&c.coping_strategies),
            coping_strategies_audience: aud(c.coping_strategies.as_ref().map(|s| s.audience), Audience::Clinician),
            daily_habits: text(&c.daily_habits),
            daily_habits_audience: aud(c.daily_habits.as_ref().map(|s| s.audience), Audience::Clinician),
            meetings_and_medications: text(&c.meetings_and_medications),
            meetings_and_medications_audience: aud(c.meetings_and_medications.as_ref().map(|s| s.audience), Audience::Clinician),
            supporting_partner_care: text(&c.supporting_partner_care),
            supporting_partner_care_audience: aud(c.supporting_partner_care.as_ref().map(|s| s.audience), Audience::Clinician),
            high_risk_situations_audience: aud(c.high_risk_situations.as_ref().map(|s| s.audience), Audience::Clinician),
            hr_category: hr.items.iter().map(|h| h.category.as_str()).collect(),
            hr_situation: hr.items.iter().map(|h| h.situation.clone()).collect(),
            hr_response: hr.items.iter().map(|h| h.response.as_str()).collect(),
            hr_coping_skill: hr.items.iter().map(|h| o(&h.coping_skill)).collect(),
            hr_who_to_call: hr.items.iter().map(|h| o(&h.who_to_call)).collect(),
            warning_signs_audience: aud(c.warning_signs.as_ref().map(|s| s.audience), Audience::Clinician),
            ws_kind: ws.items.iter().map(|w| w.kind.as_str()).collect(),
            ws_sign: ws.items.iter().map(|w| w.sign.clone()).collect(),
            ws_noticed_by: ws.items.iter().map(|w| w.noticed_by.as_str()).collect(),
            ws_what_to_do: ws.items.iter().map(|w| w.what_to_do.clone()).collect(),
            support_people_audience: aud(c.support_people.as_ref().map(|s| s.audience), Audience::Clinician),
            sp_name: sp.items.iter().map(|p| p.name.clone()).collect(),
            sp_role: sp.items.iter().map(|p| p.role.clone()).collect(),
            sp_phone: sp.items.iter().map(|p| o(&p.phone)).collect(),
            sp_reachable: sp.items.iter().map(|p| o(&p.reachable)).collect(),
            sp_consent: sp.items.iter().map(|p| if p.consent_to_contact { "yes" } else { "no" }.to_owned()).collect(),
            lapse_response_audience: aud(c.lapse_response.as_ref().map(|s| s.audience), Audience::Clinician),
            tl_when: tl.items.iter().map(|s| s.when.as_str()).collect(),
            tl_who: tl.items.iter().map(|s| s.who.as_str()).collect(),
            tl_action: tl.items.iter().map(|s| s.action.clone()).collect(),
        }
    }

    /// The plan content the form describes, or every problem with it.
    fn content(&self) -> Result<PlanContent, AppError> {
        let mut f = Fields::default();
        let audience = |f: &mut Fields, name: &str, raw: &str| f.check(&format!("{name}.audience"), pick_required::<Audience>(raw));
        let text = |f: &mut Fields, name: &str, raw: &str, aud: &str| {
            audience(f, name, aud).map(|audience| TextSection { items: lines(raw), audience })
        };
        let reasons = text(&mut f, "reasons_for_recovery", &self.reasons_for_recovery, &self.reasons_for_recovery_audience);
        let coping = text(&mut f, "coping_strategies", &self.coping_strategies, &self.coping_strategies_audience);
        let habits = text(&mut f, "daily_habits", &self.daily_habits, &self.daily_habits_audience);
        let meetings = text(&mut f, "meetings_and_medications", &self.meetings_and_medications, &self.meetings_and_medications_audience);
        let care = text(&mut f, "supporting_partner_care", &self.supporting_partner_care, &self.supporting_partner_care_audience);

        let (high_risk, signs, people, steps) = (self.high_risk(&mut f), self.warning_signs(&mut f), self.support_people(), self.lapse_steps(&mut f));
        let hr_aud = audience(&mut f, "high_risk_situations", &self.high_risk_situations_audience);
        let ws_aud = audience(&mut f, "warning_signs", &self.warning_signs_audience);
        let sp_aud = audience(&mut f, "support_people", &self.support_people_audience);
        let tl_aud = audience(&mut f, "lapse_response", &self.lapse_response_audience);
        let review_on = f.check("review_on", forms::date(&self.review_on));
        f.finish_with(|| {
            Some(PlanContent {
                reasons_for_recovery: reasons?,
                high_risk_situations: HighRiskSection { items: high_risk, audience: hr_aud? },
                warning_signs: WarningSignSection { items: signs, audience: ws_aud? },
                coping_strategies: coping?,
                daily_habits: habits?,
                support_people: SupportSection { items: people, audience: sp_aud? },
                meetings_and_medications: meetings?,
                lapse_response: TimelineSection { items: steps, audience: tl_aud? },
                supporting_partner_care: care?,
                review_on: review_on?,
            })
        })
    }

    /// The high-risk situation rows filled in; a row left blank is dropped.
    fn high_risk(&self, f: &mut Fields) -> Vec<HighRiskSituation> {
        let mut rows = Vec::new();
        for i in 0..self.hr_situation.len() {
            let (situation, skill, call) = (nth(&self.hr_situation, i), nth(&self.hr_coping_skill, i), nth(&self.hr_who_to_call, i));
            if [situation, skill, call].iter().all(|t| t.trim().is_empty()) {
                continue;
            }
            let n = rows.len();
            let category = f.check(&format!("high_risk_situations.items[{n}].category"), pick_required::<HighRiskCategory>(nth(&self.hr_category, i)));
            let response = f.check(&format!("high_risk_situations.items[{n}].response"), pick_required::<PlannedResponse>(nth(&self.hr_response, i)));
            if let (Some(category), Some(response)) = (category, response) {
                rows.push(HighRiskSituation { category, situation: situation.to_owned(), response, coping_skill: opt(skill), who_to_call: opt(call) });
            }
        }
        rows
    }

    fn warning_signs(&self, f: &mut Fields) -> Vec<WarningSign> {
        let mut rows = Vec::new();
        for i in 0..self.ws_sign.len() {
            let (sign, todo) = (nth(&self.ws_sign, i), nth(&self.ws_what_to_do, i));
            if sign.trim().is_empty() && todo.trim().is_empty() {
                continue;
            }
            let n = rows.len();
            let kind = f.check(&format!("warning_signs.items[{n}].kind"), pick_required::<SignKind>(nth(&self.ws_kind, i)));
            let by = f.check(&format!("warning_signs.items[{n}].noticed_by"), pick_required::<NoticedBy>(nth(&self.ws_noticed_by, i)));
            if let (Some(kind), Some(noticed_by)) = (kind, by) {
                rows.push(WarningSign { kind, sign: sign.to_owned(), noticed_by, what_to_do: todo.to_owned() });
            }
        }
        rows
    }

    fn support_people(&self) -> Vec<SupportPerson> {
        (0..self.sp_name.len())
            .filter_map(|i| {
                let fields = [nth(&self.sp_name, i), nth(&self.sp_role, i), nth(&self.sp_phone, i), nth(&self.sp_reachable, i)];
                (!fields.iter().all(|t| t.trim().is_empty())).then(|| SupportPerson {
                    name: fields[0].to_owned(),
                    role: fields[1].to_owned(),
                    phone: opt(fields[2]),
                    reachable: opt(fields[3]),
                    consent_to_contact: nth(&self.sp_consent, i) == "yes",
                })
            })
            .collect()
    }

    fn lapse_steps(&self, f: &mut Fields) -> Vec<TimelineStep> {
        let mut rows = Vec::new();
        for i in 0..self.tl_action.len() {
            let action = nth(&self.tl_action, i);
            if action.trim().is_empty() {
                continue;
            }
            let n = rows.len();
            let when = f.check(&format!("lapse_response.items[{n}].when"), pick_required::<TimelineWhen>(nth(&self.tl_when, i)));
            let who = f.check(&format!("lapse_response.items[{n}].who"), pick_required::<TimelineWho>(nth(&self.tl_who, i)));
            if let (Some(when), Some(who)) = (when, who) {
                rows.push(TimelineStep { when, who, action: action.to_owned() });
            }
        }
        rows
    }
}

pub struct TextField {
    pub name: &'static str,
    pub title: &'static str,
    pub hint: &'static str,
    pub value: String,
    pub audiences: Vec<Choice>,
}

pub struct HighRiskRow {
    pub categories: Vec<Choice>,
    pub situation: String,
    pub responses: Vec<Choice>,
    pub coping_skill: String,
    pub who_to_call: String,
}

pub struct SignRow {
    pub kinds: Vec<Choice>,
    pub sign: String,
    pub noticed_by: Vec<Choice>,
    pub what_to_do: String,
}

pub struct PersonRow {
    pub name: String,
    pub role: String,
    pub phone: String,
    pub reachable: String,
    pub consent: Vec<Choice>,
}

pub struct StepRow {
    pub when: Vec<Choice>,
    pub who: Vec<Choice>,
    pub action: String,
}

#[derive(Template)]
#[template(path = "plan_form.html")]
pub struct PlanFormPage {
    pub nav: Option<Nav>,
    pub csrf_token: String,
    pub couple: CoupleContext,
    pub version: String,
    pub review_on: String,
    pub texts: Vec<TextField>,
    pub high_risk_audience: Vec<Choice>,
    pub high_risk: Vec<HighRiskRow>,
    pub signs_audience: Vec<Choice>,
    pub signs: Vec<SignRow>,
    pub people_audience: Vec<Choice>,
    pub people: Vec<PersonRow>,
    pub timeline_audience: Vec<Choice>,
    pub timeline: Vec<StepRow>,
    pub errors: FormErrors,
    /// The version saved by someone else while this form was being filled in.
    pub theirs: Option<PlanDisplay>,
}

fn with_blank<T: Clone + Default>(values: &[T], n: usize) -> Vec<T> {
    let mut v = values.to_vec();
    v.resize(n, T::default());
    v
}

fn form_page(chrome: Chrome, couple: CoupleContext, form: PlanForm, errors: FormErrors, theirs: Option<PlanDisplay>) -> PlanFormPage {
    let aud = |selected: &str| forms::audience_choices(&couple.names, selected);
    let text = |name: &'static str, title: &'static str, hint: &'static str, value: &str, audience: &str| TextField {
        name,
        title,
        hint,
        value: value.to_owned(),
        audiences: aud(audience),
    };
    let texts = vec![
        text("reasons_for_recovery", "Reasons for recovery", "One per line.", &form.reasons_for_recovery, &form.reasons_for_recovery_audience),
        text("coping_strategies", "Coping strategies", "One per line.", &form.coping_strategies, &form.coping_strategies_audience),
        text("daily_habits", "Daily habits", "One per line, e.g. the daily trust discussion.", &form.daily_habits, &form.daily_habits_audience),
        text("meetings_and_medications", "Meetings and medications", "One per line.", &form.meetings_and_medications, &form.meetings_and_medications_audience),
        text("supporting_partner_care", "The supporting partner's own support", "One per line.", &form.supporting_partner_care, &form.supporting_partner_care_audience),
    ];
    PlanFormPage {
        nav: chrome.nav,
        csrf_token: chrome.csrf_token,
        version: form.version.clone(),
        review_on: form.review_on.clone(),
        texts,
        high_risk_audience: aud(&form.high_risk_situations_audience),
        high_risk: form.high_risk_rows(),
        signs_audience: aud(&form.warning_signs_audience),
        signs: form.sign_rows(),
        people_audience: aud(&form.support_people_audience),
        people: form.person_rows(),
        timeline_audience: aud(&form.lapse_response_audience),
        timeline: form.step_rows(),
        errors,
        theirs,
        couple,
    }
}

/// The structured sections' rows as the form shows them: what was sent (or
/// stored), then blank rows to add more.
impl PlanForm {
    fn high_risk_rows(&self) -> Vec<HighRiskRow> {
        rows(self.hr_situation.len())
            .into_iter()
            .map(|i| HighRiskRow {
                categories: choices(&HIGH_RISK, nth(&self.hr_category, i)),
                situation: nth(&self.hr_situation, i).to_owned(),
                responses: choices(&[PlannedResponse::Avoid, PlannedResponse::Escape, PlannedResponse::Cope], nth(&self.hr_response, i)),
                coping_skill: nth(&self.hr_coping_skill, i).to_owned(),
                who_to_call: nth(&self.hr_who_to_call, i).to_owned(),
            })
            .collect()
    }

    fn sign_rows(&self) -> Vec<SignRow> {
        rows(self.ws_sign.len())
            .into_iter()
            .map(|i| SignRow {
                kinds: choices(&[SignKind::Emotional, SignKind::Mental, SignKind::Physical], nth(&self.ws_kind, i)),
                sign: nth(&self.ws_sign, i).to_owned(),
                noticed_by: vec![
                    Choice { value: "self".into(), label: "The partner in recovery".into(), selected: nth(&self.ws_noticed_by, i) == "self" },
                    Choice { value: "partner".into(), label: "The supporting partner".into(), selected: nth(&self.ws_noticed_by, i) == "partner" },
                ],
                what_to_do: nth(&self.ws_what_to_do, i).to_owned(),
            })
            .collect()
    }

    fn person_rows(&self) -> Vec<PersonRow> {
        let consent = with_blank(&self.sp_consent, self.sp_name.len() + BLANK_ROWS);
        rows(self.sp_name.len())
            .into_iter()
            .map(|i| PersonRow {
                name: nth(&self.sp_name, i).to_owned(),
                role: nth(&self.sp_role, i).to_owned(),
                phone: nth(&self.sp_phone, i).to_owned(),
                reachable: nth(&self.sp_reachable, i).to_owned(),
                consent: vec![
                    Choice { value: "no".into(), label: "No".into(), selected: consent[i] != "yes" },
                    Choice { value: "yes".into(), label: "Yes".into(), selected: consent[i] == "yes" },
                ],
            })
            .collect()
    }

    fn step_rows(&self) -> Vec<StepRow> {
        rows(self.tl_action.len())
            .into_iter()
            .map(|i| StepRow {
                when: choices(&[TimelineWhen::Immediately, TimelineWhen::FirstWeek, TimelineWhen::FirstMonth], nth(&self.tl_when, i)),
                who: choices(&[TimelineWho::PartnerInRecovery, TimelineWho::SupportingPartner, TimelineWho::Counselor], nth(&self.tl_who, i)),
                action: nth(&self.tl_action, i).to_owned(),
            })
            .collect()
    }
}

const EMPTY: PlanContentView = PlanContentView {
    reasons_for_recovery: None,
    high_risk_situations: None,
    warning_signs: None,
    coping_strategies: None,
    daily_habits: None,
    support_people: None,
    meetings_and_medications: None,
    lapse_response: None,
    supporting_partner_care: None,
    review_on: None,
};

pub const HIGH_RISK: [HighRiskCategory; 6] = [
    HighRiskCategory::NegativeEmotions,
    HighRiskCategory::Conflict,
    HighRiskCategory::SocialPressure,
    HighRiskCategory::PositiveEmotions,
    HighRiskCategory::Cravings,
    HighRiskCategory::TestingControl,
];

pub async fn partner_roles(access: &crate::access::CoupleAccess) -> Result<PartnerRoles, AppError> {
    let view = crate::records::couples::view(access).await?;
    let role = |slot| view.partners.iter().find(|p| p.slot == slot).map(|p| p.recovery_role);
    Ok(PartnerRoles { a: role(crate::records::common::PartnerSlot::A), b: role(crate::records::common::PartnerSlot::B) })
}

/// The plan as `access` sees it now, if there is one.
async fn current_plan(access: &crate::access::CoupleAccess) -> Result<Option<PlanView>, AppError> {
    match plans::current(access).await {
        Ok(plan) => Ok(Some(plan)),
        Err(AppError::NotFound) => Ok(None),
        Err(other) => Err(other),
    }
}

pub async fn edit_form(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    let ctx = CoupleContext::of(&access, &current).await?;
    let form = match current_plan(&access).await? {
        Some(plan) => PlanForm::from_content(&plan.content, plan.version),
        // A new plan starts shared with nobody: the counselor decides.
        None => PlanForm::from_content(&EMPTY, 0),
    };
    Ok(render(&form_page(Chrome::of(&session, &current).await?, ctx, form, FormErrors::default(), None)))
}

pub async fn save(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    CsrfForm(form): CsrfForm<PlanForm>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    let version = parse_version(&form.version)?;
    let result = match form.content() {
        Ok(content) => plans::save(state.clock.now(), &access, IfMatch(version), content).await.map(|_| ()),
        Err(err) => Err(err),
    };
    let rejected = match result {
        Ok(()) => return Ok(Redirect::to(&format!("/couples/{couple_id}#plan")).into_response()),
        Err(err) => Rejected::from(err)?,
    };
    let ctx = CoupleContext::of(&access, &current).await?;
    let chrome = Chrome::of(&session, &current).await?;
    Ok(match rejected {
        Rejected::Invalid(errors) => again(StatusCode::UNPROCESSABLE_ENTITY, render(&form_page(chrome, ctx, form, errors, None))),
        Rejected::Stale => {
            let theirs = current_plan(&access).await?;
            let roles = partner_roles(&access).await?;
            let mut form = form;
            // Saving again replaces the version shown beside the form.
            form.version = theirs.as_ref().map_or(0, |p| p.version).to_string();
            let theirs = theirs.map(|p| PlanDisplay::of(&p, &ctx, &roles, None));
            again(StatusCode::CONFLICT, render(&form_page(chrome, ctx, form, FormErrors::form(STALE), theirs)))
        }
    })
}

#[derive(Deserialize)]
pub struct ShareForm {
    version: i32,
}

/// Shares every section still kept from the couple with both partners.
/// Sections meant for one partner stay that partner's.
pub async fn share(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    CsrfForm(form): CsrfForm<ShareForm>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    audit.describe_as("plan", "share");
    let plan = plans::current(&access).await?;
    let content = PlanForm::from_content(&plan.content, plan.version);
    let shared = |a: &str| if a == Audience::Clinician.as_str() { Audience::Couple.as_str() } else { a.to_owned() };
    let content = PlanForm {
        reasons_for_recovery_audience: shared(&content.reasons_for_recovery_audience),
        coping_strategies_audience: shared(&content.coping_strategies_audience),
        daily_habits_audience: shared(&content.daily_habits_audience),
        meetings_and_medications_audience: shared(&content.meetings_and_medications_audience),
        supporting_partner_care_audience: shared(&content.supporting_partner_care_audience),
        high_risk_situations_audience: shared(&content.high_risk_situations_audience),
        warning_signs_audience: shared(&content.warning_signs_audience),
        support_people_audience: shared(&content.support_people_audience),
        lapse_response_audience: shared(&content.lapse_response_audience),
        ..content
    }
    .content()?;
    plans::save(state.clock.now(), &access, IfMatch(form.version), content).await?;
    Ok(Redirect::to(&format!("/couples/{couple_id}#plan")).into_response())
}
