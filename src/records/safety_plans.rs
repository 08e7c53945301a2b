//! Stanley-Brown safety plans. A plan belongs to the couple or to one partner;
//! a partner's own plan (for example, a supporting partner's plan for
//! violence at home) has that partner as its only client audience.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, QueryFilter, QueryOrder, sea_query::Expr};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use entity::safety_plans;

use super::common::{Audience, IfMatch, PartnerSlot, StoredEnum, limits, optional_text, required_text};
use crate::{access::{CoupleAccess, exec_at_version}, error::AppError, practice::Fields, vault::fields::SAFETY_PLAN_CONTENT as CONTENT};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SafetyPlanOwner {
    Couple,
    PartnerA,
    PartnerB,
}

impl StoredEnum for SafetyPlanOwner {}

impl SafetyPlanOwner {
    /// A partner's own plan is for that partner (and the care team) only.
    pub fn audience(self) -> Audience {
        match self {
            SafetyPlanOwner::Couple => Audience::Couple,
            SafetyPlanOwner::PartnerA => PartnerSlot::A.own_audience(),
            SafetyPlanOwner::PartnerB => PartnerSlot::B.own_audience(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    #[schema(schema_with = crate::input::schema::short)]
    pub name: String,
    #[schema(schema_with = crate::input::schema::tiny_or_none)]
    pub phone: Option<String>,
    /// When or how to reach them.
    #[schema(schema_with = crate::input::schema::short_or_none)]
    pub note: Option<String>,
}

/// The six steps of a Stanley-Brown safety plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SafetyPlanContent {
    /// 1. Warning signs that a crisis may be developing.
    #[serde(default)]
    #[schema(schema_with = crate::input::schema::medium_list)]
    pub warning_signs: Vec<String>,
    /// 2. Things I can do on my own to take my mind off it.
    #[serde(default)]
    #[schema(schema_with = crate::input::schema::medium_list)]
    pub internal_coping: Vec<String>,
    /// 3. People and places that provide distraction.
    #[serde(default)]
    #[schema(schema_with = crate::input::schema::medium_list)]
    pub distraction_people_and_places: Vec<String>,
    /// 4. People I can ask for help.
    #[serde(default)]
    pub people_to_ask_for_help: Vec<Contact>,
    /// 5. Professionals and crisis lines.
    #[serde(default)]
    pub professionals_and_crisis_lines: Vec<Contact>,
    /// 6. Making the environment safe.
    #[serde(default)]
    #[schema(schema_with = crate::input::schema::medium_list)]
    pub making_environment_safe: Vec<String>,
    /// The one thing most important to me and worth living for.
    #[schema(schema_with = crate::input::schema::medium_or_none)]
    pub reasons_for_living: Option<String>,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "owner": "partner_b",
    "content": {
        "warning_signs": ["He comes home late and won't say where he was", "Raised voice, slammed doors"],
        "internal_coping": ["Box breathing", "Walk around the block"],
        "distraction_people_and_places": ["My sister's kitchen", "The library"],
        "people_to_ask_for_help": [{"name": "Ana (sister)", "phone": "+1 312 555 0177"}],
        "professionals_and_crisis_lines": [
            {"name": "988 Suicide & Crisis Lifeline", "phone": "988"},
            {"name": "National Domestic Violence Hotline", "phone": "1-800-799-7233"}],
        "making_environment_safe": ["Keep car keys and phone charged by the door"],
        "reasons_for_living": "Our daughter, Lucía"
    }
}))]
pub struct SafetyPlanInput {
    pub owner: SafetyPlanOwner,
    pub content: SafetyPlanContent,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SafetyPlanView {
    pub id: Uuid,
    pub owner: SafetyPlanOwner,
    pub audience: Audience,
    pub content: SafetyPlanContent,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: i32,
}

crate::versioned!(SafetyPlanView);

fn validate(input: &SafetyPlanInput) -> Result<String, AppError> {
    let mut f = Fields::default();
    let c = &input.content;
    for (name, list) in [
        ("warning_signs", &c.warning_signs),
        ("internal_coping", &c.internal_coping),
        ("distraction_people_and_places", &c.distraction_people_and_places),
        ("making_environment_safe", &c.making_environment_safe),
    ] {
        if list.len() > limits::LIST_ITEMS {
            f.check::<()>(&format!("content.{name}"), Err(format!("at most {} items", limits::LIST_ITEMS)));
        }
        for (i, t) in list.iter().enumerate() {
            f.check(&format!("content.{name}[{i}]"), required_text(t, limits::MEDIUM));
        }
    }
    for (name, list) in [("people_to_ask_for_help", &c.people_to_ask_for_help), ("professionals_and_crisis_lines", &c.professionals_and_crisis_lines)] {
        if list.len() > limits::LIST_ITEMS {
            f.check::<()>(&format!("content.{name}"), Err(format!("at most {} items", limits::LIST_ITEMS)));
        }
        for (i, contact) in list.iter().enumerate() {
            f.check(&format!("content.{name}[{i}].name"), required_text(&contact.name, limits::SHORT));
            f.check(&format!("content.{name}[{i}].phone"), optional_text(contact.phone.as_deref(), 40));
            f.check(&format!("content.{name}[{i}].note"), optional_text(contact.note.as_deref(), limits::SHORT));
        }
    }
    f.check("content.reasons_for_living", optional_text(c.reasons_for_living.as_deref(), limits::MEDIUM));
    f.finish()?;
    Ok(serde_json::to_string(c).map_err(anyhow::Error::from)?)
}

fn to_view(access: &CoupleAccess, row: safety_plans::Model) -> Result<SafetyPlanView, AppError> {
    Ok(SafetyPlanView {
        id: row.id,
        owner: SafetyPlanOwner::from_stored(&row.owner)?,
        audience: row.audience,
        content: serde_json::from_str(&access.cipher().open(CONTENT, row.id, &row.content)?).map_err(anyhow::Error::from)?,
        updated_at: row.updated_at,
        version: row.version,
    })
}

pub async fn create(now: OffsetDateTime, access: &CoupleAccess, input: SafetyPlanInput) -> Result<SafetyPlanView, AppError> {
    let content = validate(&input)?;
    let id = Uuid::now_v7();
    let row = safety_plans::ActiveModel {
        id: Set(id),
        practice_id: Set(access.scope.practice_id()),
        couple_id: Set(access.couple_id()),
        owner: Set(input.owner.as_str()),
        audience: Set(input.owner.audience()),
        content: Set(access.cipher().seal(CONTENT, id, &content)),
        created_by: Set(access.member_id),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
    }
    .insert(&access.db())
    .await?;
    to_view(access, row)
}

pub async fn get(access: &CoupleAccess, id: Uuid) -> Result<SafetyPlanView, AppError> {
    to_view(access, access.shared_record::<safety_plans::Entity>(&access.db(), id).await?)
}

pub async fn list(access: &CoupleAccess) -> Result<Vec<SafetyPlanView>, AppError> {
    access
        .records::<safety_plans::Entity>()
        .filter(safety_plans::Column::Audience.is_in(access.visible_audiences()))
        .order_by_asc(safety_plans::Column::Id)
        .all(&access.db())
        .await?
        .into_iter()
        .map(|row| to_view(access, row))
        .collect()
}

pub async fn update(
    now: OffsetDateTime,
    access: &CoupleAccess,
    id: Uuid,
    IfMatch(expected): IfMatch,
    input: SafetyPlanInput,
) -> Result<SafetyPlanView, AppError> {
    let existing = get(access, id).await?;
    if existing.owner != input.owner {
        return Err(AppError::invalid("owner", "a safety plan keeps its owner; write a new plan for someone else"));
    }
    let content = validate(&input)?;
    let update = access
        .update_at_version::<safety_plans::Entity>(id, expected)
        .col_expr(safety_plans::Column::Content, Expr::value(access.cipher().seal(CONTENT, id, &content)))
        .col_expr(safety_plans::Column::UpdatedAt, Expr::value(now));
    exec_at_version(update, &access.db()).await?;
    get(access, id).await
}
