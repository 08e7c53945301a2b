//! Stanley-Brown safety plans: the couple's, or one partner's own (which
//! the other partner never sees).

use askama::Template;
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

use super::{
    CoupleContext,
    editing::{EditableRecord, FormPage, html, version_field},
    forms::{self, lines, pick_required},
};
use crate::{
    state::AppState,
    access::CoupleAccess,
    error::AppError,
    records::{
        common::{IfMatch, StoredEnum},
        safety_plans::{self, Contact, SafetyPlanContent, SafetyPlanInput, SafetyPlanOwner, SafetyPlanView},
    },
    web::templates::{Choice, Nav},
};

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct SafetyPlanForm {
    pub version: String,
    pub owner: String,
    pub warning_signs: String,
    pub internal_coping: String,
    pub distraction_people_and_places: String,
    /// One contact per line: name | phone | note.
    pub people_to_ask_for_help: String,
    pub professionals_and_crisis_lines: String,
    pub making_environment_safe: String,
    pub reasons_for_living: String,
}

/// "Ana (sister) | +1 312 555 0177 | evenings" -> a contact.
fn contacts(raw: &str) -> Vec<Contact> {
    lines(raw)
        .into_iter()
        .map(|line| {
            let mut parts = line.split('|').map(str::trim);
            Contact {
                name: parts.next().unwrap_or_default().to_owned(),
                phone: parts.next().and_then(forms::opt),
                note: parts.next().and_then(forms::opt),
            }
        })
        .collect()
}

fn contact_lines(list: &[Contact]) -> String {
    list.iter()
        .map(|c| {
            let mut parts = vec![c.name.clone(), c.phone.clone().unwrap_or_default()];
            if let Some(note) = &c.note {
                parts.push(note.clone());
            }
            parts.join(" | ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

version_field!(SafetyPlanForm);

impl SafetyPlanForm {
    fn input(&self) -> Result<SafetyPlanInput, AppError> {
        let owner = pick_required::<SafetyPlanOwner>(&self.owner).map_err(|m| AppError::invalid("owner", &m))?;
        Ok(SafetyPlanInput {
            owner,
            content: SafetyPlanContent {
                warning_signs: lines(&self.warning_signs),
                internal_coping: lines(&self.internal_coping),
                distraction_people_and_places: lines(&self.distraction_people_and_places),
                people_to_ask_for_help: contacts(&self.people_to_ask_for_help),
                professionals_and_crisis_lines: contacts(&self.professionals_and_crisis_lines),
                making_environment_safe: lines(&self.making_environment_safe),
                reasons_for_living: forms::opt(&self.reasons_for_living),
            },
        })
    }
}

pub struct StepField {
    pub name: &'static str,
    pub title: &'static str,
    pub hint: &'static str,
    pub value: String,
}

#[derive(Template)]
#[template(path = "safety_plan_form.html")]
pub struct SafetyPlanFormPage {
    pub nav: Option<Nav>,
    pub page: FormPage<SafetyPlanForm>,
    pub owners: Vec<Choice>,
    pub steps: Vec<StepField>,
    pub theirs: Option<Vec<String>>,
}

pub struct SafetyPlans;

#[async_trait::async_trait]
impl EditableRecord for SafetyPlans {
    type Form = SafetyPlanForm;
    type View = SafetyPlanView;
    const SEGMENT: &'static str = "safety-plans";

    fn blank(_: &CoupleContext) -> SafetyPlanForm {
        SafetyPlanForm {
            owner: "couple".into(),
            professionals_and_crisis_lines: "988 Suicide & Crisis Lifeline | 988".into(),
            ..SafetyPlanForm::default()
        }
    }
    fn form_of(p: &SafetyPlanView, _: &CoupleContext) -> SafetyPlanForm {
        let c = &p.content;
        SafetyPlanForm {
            version: p.version.to_string(),
            owner: p.owner.as_str(),
            warning_signs: c.warning_signs.join("\n"),
            internal_coping: c.internal_coping.join("\n"),
            distraction_people_and_places: c.distraction_people_and_places.join("\n"),
            people_to_ask_for_help: contact_lines(&c.people_to_ask_for_help),
            professionals_and_crisis_lines: contact_lines(&c.professionals_and_crisis_lines),
            making_environment_safe: c.making_environment_safe.join("\n"),
            reasons_for_living: c.reasons_for_living.clone().unwrap_or_default(),
        }
    }
    async fn load(access: &CoupleAccess, id: Uuid) -> Result<SafetyPlanView, AppError> {
        safety_plans::get(access, id).await
    }
    async fn create(state: &AppState, access: &CoupleAccess, _: &CoupleContext, form: &SafetyPlanForm) -> Result<SafetyPlanView, AppError> {
        safety_plans::create(state.clock.now(), access, form.input()?).await
    }
    async fn update(
        state: &AppState,
        access: &CoupleAccess,
        _: &CoupleContext,
        id: Uuid,
        version: IfMatch,
        form: &SafetyPlanForm,
    ) -> Result<SafetyPlanView, AppError> {
        safety_plans::update(state.clock.now(), access, id, version, form.input()?).await
    }

    fn render(page: FormPage<SafetyPlanForm>, theirs: Option<SafetyPlanView>) -> Response {
        let v = &page.values;
        let names = &page.couple.names;
        let owners = [SafetyPlanOwner::Couple, SafetyPlanOwner::PartnerA, SafetyPlanOwner::PartnerB]
            .into_iter()
            .map(|o| Choice {
                selected: o.as_str() == v.owner,
                label: match o {
                    SafetyPlanOwner::Couple => "The couple (both partners see it)".into(),
                    SafetyPlanOwner::PartnerA => format!("{} only", names.a),
                    SafetyPlanOwner::PartnerB => format!("{} only", names.b),
                },
                value: o.as_str(),
            })
            .collect();
        let one = "One per line.";
        let contacts = "One per line: name | phone | when to call.";
        let steps = vec![
            StepField { name: "warning_signs", title: "1. Warning signs that a crisis may be developing", hint: one, value: v.warning_signs.clone() },
            StepField { name: "internal_coping", title: "2. Things I can do on my own", hint: one, value: v.internal_coping.clone() },
            StepField { name: "distraction_people_and_places", title: "3. People and places that take my mind off it", hint: one, value: v.distraction_people_and_places.clone() },
            StepField { name: "people_to_ask_for_help", title: "4. People I can ask for help", hint: contacts, value: v.people_to_ask_for_help.clone() },
            StepField { name: "professionals_and_crisis_lines", title: "5. Professionals and crisis lines", hint: contacts, value: v.professionals_and_crisis_lines.clone() },
            StepField { name: "making_environment_safe", title: "6. Making the environment safe", hint: one, value: v.making_environment_safe.clone() },
        ];
        let theirs = theirs.map(|p| p.content.warning_signs.into_iter().chain(p.content.internal_coping).collect());
        html(&SafetyPlanFormPage { nav: page.chrome.nav.clone(), owners, steps, theirs, page })
    }
}
