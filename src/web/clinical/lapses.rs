//! Lapses and relapses: what happened, what was learned, which step of the
//! lapse-response timeline is under way.

use askama::Template;
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

use super::{
    CoupleContext,
    editing::{EditableRecord, FormPage, html, version_field},
    forms::{self, PartnerNames, choices, pick, pick_required},
};
use crate::{
    state::AppState,
    access::CoupleAccess,
    error::AppError,
    practice::Fields,
    records::{
        common::{Audience, IfMatch, PartnerSlot, StoredEnum},
        couples::SecretsPolicy,
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
    pub audiences: Vec<AudienceOption>,
    /// What the choice means for the sobriety figures each partner sees.
    pub figures_note: String,
    pub theirs: Option<String>,
}

/// One "who sees it" choice, with who will and will not see the lapse.
pub struct AudienceOption {
    pub value: String,
    pub label: String,
    pub who: String,
    pub selected: bool,
}

/// Each audience a lapse can have, resolved to the partners' names under the
/// couple's secrets agreement, so the counselor knows before saving who will
/// and will not see it.
pub fn audience_options(names: &PartnerNames, policy: SecretsPolicy, selected: &str) -> Vec<AudienceOption> {
    let (a, b) = (names.a.as_str(), names.b.as_str());
    let default = match policy {
        SecretsPolicy::NoSecrets => format!(
            "The couple agreed to no secrets, so {a}, {b} and the care team will see it. Showing one partner's lapse to the other \
             needs that partner's consent in force (42 CFR 2.31); without one it is refused, saying which consent is missing."
        ),
        SecretsPolicy::IndividualConfidential => format!(
            "The couple keeps individual matters confidential, so only the partner who used sees it, with the care team: \
             {a} alone if {a} used ({b} will not see it), {b} alone if {b} used ({a} will not see it)."
        ),
    };
    let option = |value: &str, label: String, who: String| AudienceOption { selected: value == selected, value: value.into(), label, who };
    vec![
        option("", "As the couple's secrets agreement says".into(), default),
        option("clinician", names.audience(Audience::Clinician), format!("Only the care team. Neither {a} nor {b} will see it.")),
        option("couple", names.audience(Audience::Couple), format!("{a}, {b} and the care team will see it.")),
        option("partner_a", names.audience(Audience::PartnerA), format!("{a} and the care team will see it. {b} will not.")),
        option("partner_b", names.audience(Audience::PartnerB), format!("{b} and the care team will see it. {a} will not.")),
    ]
}

/// What a lapse's audience does to the sobriety figures the partners see.
pub fn figures_note(policy: SecretsPolicy) -> String {
    let rule = "A partner who will not see this lapse is not shown the sobriety figures of the partner who used \
        (streak, total, milestones): they read that the figures are not shared with them, never figures that leave the lapse out.";
    match policy {
        SecretsPolicy::NoSecrets => format!("{rule} Under the couple's no-secrets agreement they may notice that change."),
        SecretsPolicy::IndividualConfidential => {
            format!("{rule} Under individual confidentiality, neither partner is shown the other's figures in any case.")
        }
    }
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
        lapses::create(state.clock.now(), access, form.input()?).await
    }
    async fn update(state: &AppState, access: &CoupleAccess, _: &CoupleContext, id: Uuid, version: IfMatch, form: &LapseForm) -> Result<LapseView, AppError> {
        lapses::update(state.clock.now(), access, id, version, form.input()?).await
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
        let audiences = audience_options(names, page.couple.secrets_policy, &v.audience);
        let figures_note = figures_note(page.couple.secrets_policy);
        let theirs = theirs.map(|l| format!("{}: {}, {}; learned: {}", crate::display::date(l.occurred_on), crate::display::count(l.days.into(), "day"), l.substance, l.learned.unwrap_or_default()));
        html(&LapseFormPage { nav: page.chrome.nav.clone(), partners, categories, reporters, kinds, steps, audiences, figures_note, theirs, page })
    }
}
