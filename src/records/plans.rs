//! The relapse-prevention plan: one current version per couple, every
//! earlier version kept. Each section carries its own audience; the plan is
//! typically shared with the couple, while some sections (say, the supporting
//! partner's own support) may be for one partner only.

use entity::ids::CoupleId;
use entity::ids::MemberId;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use entity::relapse_plans;

use super::common::{Audience, IfMatch, StoredEnum, limits, optional_text, required_text};
use crate::input::BoundedDate;
use crate::{access::{Caseload, CoupleAccess}, error::AppError, practice::Fields, vault::fields::PLAN_CONTENT};

fn couple() -> Audience {
    Audience::Couple
}

/// Declares a plan section: a list of `$item` with an audience.
macro_rules! section {
    ($name:ident, $item:ty, $doc:literal, $($items_schema:tt)*) => {
        #[doc = $doc]
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            #[serde(default)]
            #[schema($($items_schema)*)]
            pub items: Vec<$item>,
            /// Default: couple.
            #[serde(default = "couple")]
            pub audience: Audience,
        }

        impl Default for $name {
            fn default() -> Self {
                Self { items: Vec::new(), audience: couple() }
            }
        }
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HighRiskCategory {
    NegativeEmotions,
    Conflict,
    SocialPressure,
    PositiveEmotions,
    Cravings,
    TestingControl,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlannedResponse {
    Avoid,
    Escape,
    Cope,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HighRiskSituation {
    pub category: HighRiskCategory,
    #[schema(schema_with = crate::input::schema::medium)]
    pub situation: String,
    pub response: PlannedResponse,
    #[schema(schema_with = crate::input::schema::medium_or_none)]
    pub coping_skill: Option<String>,
    #[schema(schema_with = crate::input::schema::short_or_none)]
    pub who_to_call: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignKind {
    Emotional,
    Mental,
    Physical,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoticedBy {
    /// The partner in recovery notices it in themself.
    #[serde(rename = "self")]
    Myself,
    Partner,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WarningSign {
    pub kind: SignKind,
    #[schema(schema_with = crate::input::schema::medium)]
    pub sign: String,
    pub noticed_by: NoticedBy,
    #[schema(schema_with = crate::input::schema::medium)]
    pub what_to_do: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupportPerson {
    #[schema(schema_with = crate::input::schema::short)]
    pub name: String,
    /// Sponsor, counselor, peer group, family...
    #[schema(schema_with = crate::input::schema::short)]
    pub role: String,
    #[schema(schema_with = crate::input::schema::tiny_or_none)]
    pub phone: Option<String>,
    /// When they can be reached.
    #[schema(schema_with = crate::input::schema::short_or_none)]
    pub reachable: Option<String>,
    /// Whether the care team may contact them.
    pub consent_to_contact: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimelineWhen {
    /// Within the first 24 hours.
    Immediately,
    FirstWeek,
    FirstMonth,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimelineWho {
    PartnerInRecovery,
    SupportingPartner,
    Counselor,
}

/// One action in the lapse-response timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimelineStep {
    pub when: TimelineWhen,
    pub who: TimelineWho,
    #[schema(schema_with = crate::input::schema::medium)]
    pub action: String,
}

impl StoredEnum for HighRiskCategory {}
impl StoredEnum for PlannedResponse {}
impl StoredEnum for TimelineWhen {}
impl StoredEnum for TimelineWho {}
impl StoredEnum for SignKind {}
impl StoredEnum for NoticedBy {}

// At most `limits::LIST_ITEMS` items in every section, stated in the schema.
const _: () = assert!(limits::LIST_ITEMS == 50);
section!(TextSection, String, "A list of short texts with an audience.",
    schema_with = crate::input::schema::medium_list);
section!(HighRiskSection, HighRiskSituation, "High-risk situations and the planned response to each.",
    max_items = 50);
section!(WarningSignSection, WarningSign, "Early warning signs and what to do when they appear.",
    max_items = 50);
section!(SupportSection, SupportPerson, "People to call.", max_items = 50);
section!(TimelineSection, TimelineStep, "What each person does after a lapse: first 24 hours, first week, first month.",
    max_items = 50);

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "reasons_for_recovery": {"items": ["Be present for our daughter", "Trust each other again"], "audience": "couple"},
    "high_risk_situations": {"items": [{"category": "social_pressure", "situation": "Friday drinks after work",
        "response": "avoid", "coping_skill": "Leave by 5:30 and call Marisol on the way", "who_to_call": "Sponsor (Luis)"}], "audience": "couple"},
    "warning_signs": {"items": [{"kind": "emotional", "sign": "Snapping at small things, skipping dinner together",
        "noticed_by": "partner", "what_to_do": "Name it gently and suggest a walk; no accusations"}], "audience": "couple"},
    "coping_strategies": {"items": ["Urge surfing for 20 minutes", "Call Luis"], "audience": "couple"},
    "daily_habits": {"items": ["Daily trust discussion at 9 pm", "Morning meeting on Tue/Thu"], "audience": "couple"},
    "support_people": {"items": [{"name": "Luis", "role": "sponsor", "phone": "+1 312 555 0117", "reachable": "any time", "consent_to_contact": true}], "audience": "couple"},
    "meetings_and_medications": {"items": ["AA Tue/Thu 7 am", "Naltrexone 50 mg daily"], "audience": "couple"},
    "lapse_response": {"items": [
        {"when": "immediately", "who": "partner_in_recovery", "action": "Tell Marisol and call Luis the same day"},
        {"when": "immediately", "who": "supporting_partner", "action": "Stay safe; go to your sister's if you need to"},
        {"when": "first_week", "who": "counselor", "action": "Joint session within 7 days to review what happened"},
        {"when": "first_month", "who": "partner_in_recovery", "action": "Add a third weekly meeting"}], "audience": "couple"},
    "supporting_partner_care": {"items": ["Al-Anon on Wednesdays", "Weekly call with a friend"], "audience": "partner_b"},
    "review_on": "2026-06-01"
}))]
pub struct PlanContent {
    #[serde(default)]
    pub reasons_for_recovery: TextSection,
    #[serde(default)]
    pub high_risk_situations: HighRiskSection,
    #[serde(default)]
    pub warning_signs: WarningSignSection,
    #[serde(default)]
    pub coping_strategies: TextSection,
    #[serde(default)]
    pub daily_habits: TextSection,
    #[serde(default)]
    pub support_people: SupportSection,
    #[serde(default)]
    pub meetings_and_medications: TextSection,
    #[serde(default)]
    pub lapse_response: TimelineSection,
    /// The supporting partner's own support and self-care.
    #[serde(default)]
    pub supporting_partner_care: TextSection,
    pub review_on: Option<BoundedDate>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PlanView {
    pub couple_id: CoupleId,
    /// The version number; also the ETag.
    pub version: i32,
    /// Sections outside the caller's audience are left out (null).
    pub content: PlanContentView,
    pub created_by: MemberId,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// The plan with the sections the caller may not see removed.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PlanContentView {
    pub reasons_for_recovery: Option<TextSection>,
    pub high_risk_situations: Option<HighRiskSection>,
    pub warning_signs: Option<WarningSignSection>,
    pub coping_strategies: Option<TextSection>,
    pub daily_habits: Option<TextSection>,
    pub support_people: Option<SupportSection>,
    pub meetings_and_medications: Option<TextSection>,
    pub lapse_response: Option<TimelineSection>,
    pub supporting_partner_care: Option<TextSection>,
    pub review_on: Option<Date>,
}

impl PlanContentView {
    /// Nothing of the plan is shown (none of it is shared with the reader).
    pub fn is_empty(&self) -> bool {
        self.reasons_for_recovery.is_none()
            && self.high_risk_situations.is_none()
            && self.warning_signs.is_none()
            && self.coping_strategies.is_none()
            && self.daily_habits.is_none()
            && self.support_people.is_none()
            && self.meetings_and_medications.is_none()
            && self.lapse_response.is_none()
            && self.supporting_partner_care.is_none()
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PlanVersionSummary {
    pub version: i32,
    pub created_by: MemberId,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

crate::versioned!(PlanView);

fn validate(content: &PlanContent) -> Result<String, AppError> {
    let mut f = Fields::default();
    let mut texts = |name: &str, items: &[String]| {
        if items.len() > limits::LIST_ITEMS {
            f.check::<()>(name, Err(format!("at most {} items", limits::LIST_ITEMS)));
        }
        for (i, t) in items.iter().enumerate() {
            f.check(&format!("{name}.items[{i}]"), required_text(t, limits::MEDIUM));
        }
    };
    texts("reasons_for_recovery", &content.reasons_for_recovery.items);
    texts("coping_strategies", &content.coping_strategies.items);
    texts("daily_habits", &content.daily_habits.items);
    texts("meetings_and_medications", &content.meetings_and_medications.items);
    texts("supporting_partner_care", &content.supporting_partner_care.items);
    for (i, s) in content.high_risk_situations.items.iter().enumerate() {
        let p = |x: &str| format!("high_risk_situations.items[{i}].{x}");
        f.check(&p("situation"), required_text(&s.situation, limits::MEDIUM));
        f.check(&p("coping_skill"), optional_text(s.coping_skill.as_deref(), limits::MEDIUM));
        f.check(&p("who_to_call"), optional_text(s.who_to_call.as_deref(), limits::SHORT));
    }
    for (i, s) in content.warning_signs.items.iter().enumerate() {
        let p = |x: &str| format!("warning_signs.items[{i}].{x}");
        f.check(&p("sign"), required_text(&s.sign, limits::MEDIUM));
        f.check(&p("what_to_do"), required_text(&s.what_to_do, limits::MEDIUM));
    }
    for (i, s) in content.support_people.items.iter().enumerate() {
        let p = |x: &str| format!("support_people.items[{i}].{x}");
        f.check(&p("name"), required_text(&s.name, limits::SHORT));
        f.check(&p("role"), required_text(&s.role, limits::SHORT));
        f.check(&p("phone"), optional_text(s.phone.as_deref(), 40));
        f.check(&p("reachable"), optional_text(s.reachable.as_deref(), limits::SHORT));
    }
    for (i, s) in content.lapse_response.items.iter().enumerate() {
        f.check(&format!("lapse_response.items[{i}].action"), required_text(&s.action, limits::MEDIUM));
    }
    let counts = [
        content.high_risk_situations.items.len(),
        content.warning_signs.items.len(),
        content.support_people.items.len(),
        content.lapse_response.items.len(),
    ];
    if counts.iter().any(|n| *n > limits::LIST_ITEMS) {
        f.check::<()>("content", Err(format!("at most {} items per section", limits::LIST_ITEMS)));
    }
    f.finish()?;
    Ok(serde_json::to_string(content).map_err(anyhow::Error::from)?)
}

fn filtered(access: &CoupleAccess, c: PlanContent) -> PlanContentView {
    macro_rules! keep {
        ($s:expr) => {
            Some($s).filter(|s| access.sees(s.audience))
        };
    }
    PlanContentView {
        reasons_for_recovery: keep!(c.reasons_for_recovery),
        high_risk_situations: keep!(c.high_risk_situations),
        warning_signs: keep!(c.warning_signs),
        coping_strategies: keep!(c.coping_strategies),
        daily_habits: keep!(c.daily_habits),
        support_people: keep!(c.support_people),
        meetings_and_medications: keep!(c.meetings_and_medications),
        lapse_response: keep!(c.lapse_response),
        supporting_partner_care: keep!(c.supporting_partner_care),
        review_on: c.review_on.map(BoundedDate::get),
    }
}

fn to_view(access: &CoupleAccess, row: relapse_plans::Model) -> Result<PlanView, AppError> {
    let content: PlanContent = serde_json::from_str(&access.cipher().open(PLAN_CONTENT, row.id, &row.content)?).map_err(anyhow::Error::from)?;
    Ok(PlanView {
        couple_id: row.couple_id,
        version: row.number,
        content: filtered(access, content),
        created_by: row.created_by,
        created_at: row.created_at,
    })
}

async fn latest(db: &impl ConnectionTrait, access: &CoupleAccess) -> Result<Option<relapse_plans::Model>, AppError> {
    Ok(access
        .records::<relapse_plans::Entity>()
        .order_by_desc(relapse_plans::Column::Number)
        .one(db)
        .await?)
}

/// The current plan as the caller may see it.
pub async fn current(access: &CoupleAccess) -> Result<PlanView, AppError> {
    let row = latest(&access.db(), access).await?.ok_or(AppError::NotFound)?;
    to_view(access, row)
}

/// The full current content, for the care team's own use (PDFs, summaries).
pub async fn current_content(db: &impl ConnectionTrait, access: &CoupleAccess) -> Result<Option<PlanContentView>, AppError> {
    Ok(match latest(db, access).await? {
        Some(row) => Some(to_view(access, row)?.content),
        None => None,
    })
}

/// The review date of each current plan among the caseload's couples the
/// caller treats (care team, supervisor): one query.
pub async fn review_dates(caseload: &Caseload) -> Result<Vec<(CoupleId, Date)>, AppError> {
    let rows: Vec<(CoupleId, i32, Option<Date>)> = caseload
        .records::<relapse_plans::Entity>(CoupleAccess::is_clinician)
        .select_only()
        .column(relapse_plans::Column::CoupleId)
        .column(relapse_plans::Column::Number)
        .column(relapse_plans::Column::ReviewOn)
        .into_tuple()
        .all(caseload.db())
        .await?;
    let mut current: std::collections::HashMap<CoupleId, (i32, Option<Date>)> = std::collections::HashMap::new();
    for (couple, number, review_on) in rows {
        let entry = current.entry(couple).or_insert((number, review_on));
        if number > entry.0 {
            *entry = (number, review_on);
        }
    }
    Ok(current.into_iter().filter_map(|(couple, (_, on))| on.map(|on| (couple, on))).collect())
}

/// Saves a new version. `If-Match` names the version being replaced (`"0"`
/// when the couple has no plan yet); two saves from the same version cannot
/// both land, because version numbers are unique per couple.
pub async fn save(now: OffsetDateTime, access: &CoupleAccess, IfMatch(expected): IfMatch, content: PlanContent) -> Result<PlanView, AppError> {
    let json = validate(&content)?;
    let current = latest(&access.db(), access).await?.map_or(0, |r| r.number);
    if current != expected {
        return Err(AppError::PreconditionFailed);
    }
    let id = Uuid::now_v7();
    let row = relapse_plans::ActiveModel {
        id: Set(id),
        practice_id: Set(access.scope.practice_id()),
        couple_id: Set(access.couple_id()),
        number: Set(expected + 1),
        content: Set(access.cipher().seal(PLAN_CONTENT, id, &json)),
        review_on: Set(content.review_on.map(BoundedDate::get)),
        created_by: Set(access.member_id),
        created_at: Set(now),
    }
    .insert(&access.db())
    .await
    .map_err(|e| match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => AppError::PreconditionFailed,
        _ => e.into(),
    })?;
    to_view(access, row)
}

/// Earlier versions, newest first (care team and supervisors).
pub async fn versions(access: &CoupleAccess) -> Result<Vec<PlanVersionSummary>, AppError> {
    if !access.is_clinician() {
        return Err(AppError::NotFound);
    }
    Ok(access
        .records::<relapse_plans::Entity>()
        .order_by_desc(relapse_plans::Column::Number)
        .all(&access.db())
        .await?
        .into_iter()
        .map(|r| PlanVersionSummary { version: r.number, created_by: r.created_by, created_at: r.created_at })
        .collect())
}

/// One earlier version, as the caller may see it.
pub async fn version(access: &CoupleAccess, number: i32) -> Result<PlanView, AppError> {
    let row = access
        .records::<relapse_plans::Entity>()
        .filter(relapse_plans::Column::Number.eq(number))
        .one(&access.db())
        .await?
        .ok_or(AppError::NotFound)?;
    to_view(access, row)
}
