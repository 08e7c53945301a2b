//! The recovery contract of behavioural couples therapy: the intention
//! statement said at the daily trust discussion, the commitments, and the
//! calendar each partner checks off day by day.

use crate::records::couples::CoupleId;
use askama::Template;
use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect},
};
use serde::Deserialize;
use time::{Date, Duration};
use tower_sessions::Session;

use super::{Chrome, CoupleContext, PageResult, Rejected, STALE, again, editing::parse_version, forms};
use crate::{
    state::AppState,
    access::{self, CoupleAccess, Need},
    web::Path,
    audit::AuditContext,
    auth::CurrentMember,
    web::{CsrfForm, SignedIn},
    error::AppError,
    practice::Fields,
    records::{
        common::{Audience, IfMatch, PartnerSlot, StoredEnum},
        contract::{self, CheckIn, ContractContent, ContractView, DayRange, TestResult},
        milestones::practice_today,
    },
    web::{render, templates::{Choice, FormErrors, Nav}},
};

/// One row of the calendar: a day and what each partner checked off.
pub struct DayRow {
    pub day: String,
    pub a: String,
    pub b: String,
}

#[derive(Template)]
#[template(path = "contract.html")]
pub struct ContractPage {
    pub nav: Option<Nav>,
    pub csrf_token: String,
    pub couple: CoupleContext,
    pub contract: Option<ContractView>,
    pub days: Vec<DayRow>,
    pub today: Day,
    /// Whose day the check-in form records (the partner themself, or a choice for the care team).
    pub partners: Vec<Choice>,
    /// The day the form checks off: today, or one of the two before it, to correct.
    pub check_day: Day,
    /// Links to the other days the form can check off.
    pub other_days: Vec<Day>,
    /// The form, filled with what was already checked off for that day.
    pub answers: Answers,
}

/// A day the form can check off: in links as the address needs it, in
/// words as people read it.
#[derive(PartialEq)]
pub struct Day {
    pub iso: String,
    pub shown: String,
}

impl Day {
    fn of(day: Date) -> Self {
        Day { iso: day.to_string(), shown: crate::display::day(day) }
    }
}

/// The check-in form's fields as last saved (or blank).
pub struct Answers {
    pub trust_discussion: bool,
    pub meeting: Vec<Choice>,
    pub medication: Vec<Choice>,
    pub test: Vec<Choice>,
    pub note: String,
}

impl Answers {
    fn of(saved: Option<&CheckIn>, medication_in_contract: bool) -> Self {
        let flag = |b: Option<bool>| match b {
            Some(true) => "yes",
            Some(false) => "no",
            None => "",
        };
        let choices = |selected: &str, options: &[(&str, &str)]| {
            options
                .iter()
                .map(|(value, label)| Choice { value: (*value).into(), label: (*label).into(), selected: *value == selected })
                .collect::<Vec<_>>()
        };
        let not_recorded = if medication_in_contract { "Not recorded" } else { "Not part of my contract" };
        let test = saved.and_then(|c| c.test).map(|t| t.as_str()).unwrap_or_default();
        Self {
            trust_discussion: saved.is_some_and(|c| c.trust_discussion),
            meeting: choices(flag(saved.and_then(|c| c.meeting_attended)), &[("", "Not today"), ("yes", "Went"), ("no", "Missed")]),
            medication: choices(flag(saved.and_then(|c| c.medication_taken)), &[("", not_recorded), ("yes", "Taken"), ("no", "Not taken")]),
            test: choices(&test, &[("", "None"), ("negative", "Negative"), ("positive", "Positive"), ("not_done", "Not done")]),
            note: saved.and_then(|c| c.note.clone()).unwrap_or_default(),
        }
    }
}

/// `?day=` (today or the two days before) and, for the care team, `?partner=`.
/// Each partner's check-in of the last fourteen days, today first.
fn last_two_weeks(checked: &[contract::DayView], today: Date) -> Vec<DayRow> {
    (0..14)
        .map(|n| {
            let day: Date = today - Duration::days(n);
            let of = |slot| checked.iter().find(|d| d.day == day && d.partner == slot).map(|d| summary(&d.check_in)).unwrap_or_else(|| "—".into());
            DayRow { day: crate::display::day(day), a: of(PartnerSlot::A), b: of(PartnerSlot::B) }
        })
        .collect()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CheckInChoice {
    day: String,
    partner: String,
}

/// Days the form offers: today and the two before, which a partner may correct.
const CORRECTABLE_DAYS: i64 = 2;

fn summary(c: &CheckIn) -> String {
    let yes = |b: Option<bool>, what: &str| match b {
        Some(true) => Some(what.to_owned()),
        Some(false) => Some(format!("no {what}")),
        None => None,
    };
    [yes(Some(c.trust_discussion), "trust discussion"), yes(c.meeting_attended, "meeting"), yes(c.medication_taken, "medication")]
        .into_iter()
        .flatten()
        .chain(c.test.map(|t| format!("test {}", forms::label(t).to_lowercase())))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn contract_of(access: &CoupleAccess) -> Result<Option<ContractView>, AppError> {
    match contract::get(access).await {
        Ok(c) => Ok(Some(c)),
        Err(AppError::NotFound) => Ok(None),
        Err(other) => Err(other),
    }
}

impl CheckInChoice {
    /// The days a check-in may still be entered or corrected, today first,
    /// and the one chosen (today unless another of them is asked for).
    fn days(&self, today: Date) -> (Vec<Date>, Date) {
        let offered: Vec<Date> = (0..=CORRECTABLE_DAYS).filter_map(|n| today.checked_sub(Duration::days(n))).collect();
        let chosen = match forms::date(&self.day) {
            Ok(Some(day)) if offered.contains(&day.get()) => day.get(),
            _ => today,
        };
        (offered, chosen)
    }
}

pub async fn page(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    Query(choice): Query<CheckInChoice>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    let couple = CoupleContext::of(&access, &current).await?;
    let today = practice_today(&state, &couple.time_zone);
    let contract = contract_of(&access).await?;
    let (offered, check_day) = choice.days(today);
    let slot = couple.partner.unwrap_or(if choice.partner == "b" { PartnerSlot::B } else { PartnerSlot::A });
    let checked = match contract {
        Some(_) => contract::days(&access, &DayRange { from: None, to: None }, today).await?,
        None => Vec::new(),
    };
    let saved = checked.iter().find(|d| d.day == check_day && d.partner == slot).map(|d| d.check_in.clone());
    let days = if contract.is_some() { last_two_weeks(&checked, today) } else { Vec::new() };
    let partners = match couple.partner {
        Some(_) => Vec::new(),
        None => couple.names.partner_choices(&slot.as_str()),
    };
    let answers = Answers::of(saved.as_ref(), contract.as_ref().is_some_and(|c| c.content.medication.is_some()));
    let other_days = offered.iter().filter(|d| **d != check_day).map(|d| Day::of(*d)).collect();
    let chrome = Chrome::of(&session, &current).await?;
    Ok(render(&ContractPage {
        nav: chrome.nav,
        csrf_token: chrome.csrf_token,
        couple,
        contract,
        days,
        today: Day::of(today),
        partners,
        check_day: Day::of(check_day),
        other_days,
        answers,
    }))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CheckInForm {
    partner: String,
    trust_discussion: String,
    meeting_attended: String,
    medication_taken: String,
    test: String,
    note: String,
}

/// A partner checks off their own day; the care team records a partner's.
pub async fn check_in(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path((couple_id, day)): Path<(CoupleId, String)>,
    CsrfForm(form): CsrfForm<CheckInForm>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::PartnerOrCareTeam).await?;
    let day = forms::date_required(&day).map_err(|m| AppError::invalid("day", &m))?;
    let flag = |v: &str| match v {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    };
    let mut f = Fields::default();
    let partner = f.check("partner", forms::pick::<PartnerSlot>(&form.partner));
    let test = f.check("test", forms::pick::<TestResult>(&form.test));
    let input = f.finish_with(|| {
        Some(CheckIn {
            partner: partner?,
            trust_discussion: form.trust_discussion == "yes",
            meeting_attended: flag(&form.meeting_attended),
            medication_taken: flag(&form.medication_taken),
            test: test?,
            note: forms::opt(&form.note),
        })
    })?;
    let today = practice_today(&state, &current.practice.time_zone);
    contract::check_in(state.clock.now(), &access, day, today, input).await?;
    Ok(Redirect::to(&format!("/couples/{couple_id}/recovery-contract")).into_response())
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct ContractForm {
    pub version: String,
    pub intention_statement: String,
    pub trust_discussion_time: String,
    pub meetings: String,
    pub medication: String,
    pub tests: String,
    pub other_commitments: String,
    pub audience: String,
}

impl ContractForm {
    fn of(c: &ContractView) -> Self {
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        Self {
            version: c.version.to_string(),
            intention_statement: c.content.intention_statement.clone(),
            trust_discussion_time: o(&c.content.trust_discussion_time),
            meetings: c.content.meetings.join("\n"),
            medication: o(&c.content.medication),
            tests: o(&c.content.tests),
            other_commitments: c.content.other_commitments.join("\n"),
            audience: c.content.audience.as_str(),
        }
    }

    fn content(&self) -> Result<ContractContent, AppError> {
        let audience = forms::pick_required::<Audience>(&self.audience).map_err(|m| AppError::invalid("audience", &m))?;
        Ok(ContractContent {
            intention_statement: self.intention_statement.clone(),
            trust_discussion_time: forms::opt(&self.trust_discussion_time),
            meetings: forms::lines(&self.meetings),
            medication: forms::opt(&self.medication),
            tests: forms::opt(&self.tests),
            other_commitments: forms::lines(&self.other_commitments),
            audience,
        })
    }
}

#[derive(Template)]
#[template(path = "contract_form.html")]
pub struct ContractFormPage {
    pub nav: Option<Nav>,
    pub csrf_token: String,
    pub couple: CoupleContext,
    pub values: ContractForm,
    pub audiences: Vec<Choice>,
    pub errors: FormErrors,
    pub theirs: Option<ContractView>,
}

async fn form_page(session: &Session, current: &CurrentMember, access: &CoupleAccess, values: ContractForm, errors: FormErrors, theirs: Option<ContractView>) -> Result<ContractFormPage, AppError> {
    let couple = CoupleContext::of(access, current).await?;
    let chrome = Chrome::of(session, current).await?;
    let audiences = forms::audience_choices(&couple.names, &values.audience);
    Ok(ContractFormPage { nav: chrome.nav, csrf_token: chrome.csrf_token, couple, values, audiences, errors, theirs })
}

pub async fn edit_form(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    let values = match contract_of(&access).await? {
        Some(c) => ContractForm::of(&c),
        None => ContractForm { version: "0".into(), audience: "couple".into(), intention_statement: "I intend not to drink or use today. Thank you for listening.".into(), ..ContractForm::default() },
    };
    Ok(render(&form_page(&session, &current, &access, values, FormErrors::default(), None).await?))
}

pub async fn save(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    CsrfForm(form): CsrfForm<ContractForm>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    let version = parse_version(&form.version)?;
    let result = match form.content() {
        Ok(content) => contract::save(state.clock.now(), &access, IfMatch(version), content).await.map(|_| ()),
        Err(err) => Err(err),
    };
    let rejected = match result {
        Ok(()) => return Ok(Redirect::to(&format!("/couples/{couple_id}/recovery-contract")).into_response()),
        Err(err) => Rejected::from(err)?,
    };
    Ok(match rejected {
        Rejected::Invalid(errors) => again(StatusCode::UNPROCESSABLE_ENTITY, render(&form_page(&session, &current, &access, form, errors, None).await?)),
        Rejected::Stale => {
            let theirs = contract_of(&access).await?;
            let mut values = form;
            values.version = theirs.as_ref().map_or(0, |c| c.version).to_string();
            again(StatusCode::CONFLICT, render(&form_page(&session, &current, &access, values, FormErrors::form(STALE), theirs).await?))
        }
    })
}
