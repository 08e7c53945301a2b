//! Lapses and relapses: what happened, what was learned, which step of the
//! lapse-response timeline is under way.

use askama::Template;
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

use super::{
    CoupleContext,
    editing::{EditableRecord, FormPage, html, version_field},
    forms::{self, choices, pick, pick_required},
};
use crate::{
    AppState,
    access::CoupleAccess,
    error::AppError,
    practice::Fields,
    records::{
        common::{Audience, IfMatch, PartnerSlot, StoredEnum},
        lapses::{self, LapseInput, LapseKind, LapseView, ReportedBy},
        plans::{HighRiskCategory, TimelineWhen},
    },
    web::templates::{Choice, Nav},
};

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct LapseForm {
    pub version: String,
    pub partner: String,
    pub occurred_on: String,
    pub days: String,
    pub substance: String,
    pub amount: String,
    pub setting: String,
    pub high_risk_category: String,
    pub reported_by: String,
    pub kind: String,
    pub learned: String,
    pub timeline_step: String,
    pub safety_checked: String,
    /// Empty: the couple's secrets policy decides.
    pub audience: String,
}

version_field!(LapseForm);

impl LapseForm {
    fn input(&self) -> Result<LapseInput, AppError> {
        let mut f = Fields::default();
        let partner = f.check("partner", pick_required::<PartnerSlot>(&self.partner));
        let occurred_on = f.check("occurred_on", forms::date_required(&self.occurred_on));
        let days = f.check(
            "days",
            match self.days.trim() {
                "" => Ok(None),
                d => d.parse::<i32>().map(Some).map_err(|_| "give a number of days".to_owned()),
            },
        );
        let category = f.check("high_risk_category", pick::<HighRiskCategory>(&self.high_risk_category));
        let reported_by = f.check("reported_by", pick_required::<ReportedBy>(&self.reported_by));
        let kind = f.check("kind", pick_required::<LapseKind>(&self.kind));
        let step = f.check("timeline_step", pick::<TimelineWhen>(&self.timeline_step));
        let audience = f.check("audience", pick::<Audience>(&self.audience));
        f.finish_with(|| {
            Some(LapseInput {
                partner: partner?,
                occurred_on: occurred_on?,
                days: days?,
                substance: self.substance.clone(),
                amount: forms::opt(&self.amount),
                setting: forms::opt(&self.setting),
                high_risk_category: category?,
                reported_by: reported_by?,
                kind: kind?,
                learned: forms::opt(&self.learned),
                timeline_step: step?,
                safety_checked: self.safety_checked == "yes",
                audience: audience?,
            })
        })
    }
}

#[derive(Template)]
#[template(path = "lapse_form.html")]
pub struct LapseFormPage {
    pub nav: Option<Nav>,
    pub page: FormPage<LapseForm>,
    pub partners: Vec<Choice>,
    pub categories: Vec<Choice>,
    pub reporters: Vec<Choice>,
    pub kinds: Vec<Choice>,
    pub steps: Vec<Choice>,
    pub audiences: Vec<Choice>,
    pub theirs: Option<String>,
}

/// A choice list with a first "none" entry.
fn with_none(label: &str, selected: &str, rest: Vec<Choice>) -> Vec<Choice> {
    let mut all = vec![Choice { value: String::new(), label: label.into(), selected: selected.is_empty() }];
    all.extend(rest);
    all
}

pub struct Lapses;

#[async_trait::async_trait]
impl EditableRecord for Lapses {
    type Form = LapseForm;
    type View = LapseView;
    const SEGMENT: &'static str = "lapses";

    fn blank(_: &CoupleContext) -> LapseForm {
        LapseForm { partner: "a".into(), days: "1".into(), reported_by: "self".into(), kind: "lapse".into(), ..LapseForm::default() }
    }
    fn form_of(l: &LapseView, _: &CoupleContext) -> LapseForm {
        LapseForm {
            version: l.version.to_string(),
            partner: l.partner.as_str(),
            occurred_on: l.occurred_on.to_string(),
            days: l.days.to_string(),
            substance: l.substance.clone(),
            amount: l.amount.clone().unwrap_or_default(),
            setting: l.setting.clone().unwrap_or_default(),
            high_risk_category: l.high_risk_category.map(|c| c.as_str()).unwrap_or_default(),
            reported_by: l.reported_by.as_str(),
            kind: l.kind.as_str(),
            learned: l.learned.clone().unwrap_or_default(),
            timeline_step: l.timeline_step.map(|s| s.as_str()).unwrap_or_default(),
            safety_checked: if l.safety_checked { "yes" } else { "" }.into(),
            audience: l.audience.as_str(),
        }
    }
    async fn load(access: &CoupleAccess, id: Uuid) -> Result<LapseView, AppError> {
        lapses::get(access, id).await
    }
    async fn create(state: &AppState, access: &CoupleAccess, _: &CoupleContext, form: &LapseForm) -> Result<LapseView, AppError> {
        lapses::create(state, access, form.input()?).await
    }
    async fn update(state: &AppState, access: &CoupleAccess, _: &CoupleContext, id: Uuid, version: IfMatch, form: &LapseForm) -> Result<LapseView, AppError> {
        lapses::update(state, access, id, version, form.input()?).await
    }

    fn render(page: FormPage<LapseForm>, theirs: Option<LapseView>) -> Response {
        let v = &page.values;
        let names = &page.couple.names;
        let partners = names.partner_choices(&v.partner);
        let categories = with_none("Not named", &v.high_risk_category, choices(&super::plan::HIGH_RISK, &v.high_risk_category));
        let reporters = vec![
            Choice { value: "self".into(), label: "The partner who used".into(), selected: v.reported_by == "self" },
            Choice { value: "partner".into(), label: "The other partner".into(), selected: v.reported_by == "partner" },
            Choice { value: "test".into(), label: "A test".into(), selected: v.reported_by == "test" },
        ];
        let kinds = choices(&[LapseKind::Lapse, LapseKind::Relapse], &v.kind);
        let steps = with_none(
            "None yet",
            &v.timeline_step,
            choices(&[TimelineWhen::Immediately, TimelineWhen::FirstWeek, TimelineWhen::FirstMonth], &v.timeline_step),
        );
        let audiences = with_none("As the couple's secrets agreement says", &v.audience, forms::audience_choices(names, &v.audience));
        let theirs = theirs.map(|l| format!("{}: {} day(s), {}; learned: {}", l.occurred_on, l.days, l.substance, l.learned.unwrap_or_default()));
        html(&LapseFormPage { nav: page.chrome.nav.clone(), partners, categories, reporters, kinds, steps, audiences, theirs, page })
    }
}
