//! The recovery contract of behavioural couples therapy: the daily trust
//! discussion (the partner in recovery states the intention not to use
//! today, the supporting partner thanks them, and neither brings up past use
//! at home), meetings, medication and tests; and a calendar on which each
//! partner checks off each day. The care team reviews the calendar at the
//! start of each joint session.

use entity::ids::MemberId;
use entity::ids::CoupleId;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    sea_query::{Expr, OnConflict},
};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use entity::{contract_checkin_revisions, contract_checkins, recovery_contracts};

use super::common::{Audience, IfMatch, PartnerSlot, StoredEnum, limits, optional_text, required_text};
use crate::input::BoundedDate;
use crate::{
    access::{CoupleAccess, Relation, exec_at_version},
    error::AppError,
    practice::Fields,
    vault::fields::{CHECKIN_CONTENT, CHECKIN_REVISION_CONTENT, CONTRACT_CONTENT},
};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "intention_statement": "I intend not to drink or use today. Thank you for listening.",
    "trust_discussion_time": "9 pm, kitchen table",
    "meetings": ["AA Tuesday and Thursday, 7 am"],
    "medication": "Naltrexone 50 mg each morning, taken while Marisol is there",
    "tests": "Breathalyzer on request, any time",
    "other_commitments": ["No talk about past use at home; it goes to the session"],
    "audience": "couple"
}))]
pub struct ContractContent {
    /// What the partner in recovery says at the daily trust discussion.
    #[schema(schema_with = crate::input::schema::medium)]
    pub intention_statement: String,
    #[schema(schema_with = crate::input::schema::short_or_none)]
    pub trust_discussion_time: Option<String>,
    #[serde(default)]
    #[schema(schema_with = crate::input::schema::medium_list)]
    pub meetings: Vec<String>,
    #[schema(schema_with = crate::input::schema::medium_or_none)]
    pub medication: Option<String>,
    /// Agreed testing, if any.
    #[schema(schema_with = crate::input::schema::medium_or_none)]
    pub tests: Option<String>,
    #[serde(default)]
    #[schema(schema_with = crate::input::schema::medium_list)]
    pub other_commitments: Vec<String>,
    /// Default: couple.
    #[serde(default = "couple")]
    pub audience: Audience,
}

fn couple() -> Audience {
    Audience::Couple
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ContractView {
    pub couple_id: CoupleId,
    pub content: ContractContent,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: i32,
}

crate::versioned!(ContractView);

impl StoredEnum for TestResult {}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TestResult {
    Negative,
    Positive,
    NotDone,
}

/// What one partner checks off for one day.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"trust_discussion": true, "meeting_attended": false, "medication_taken": true, "note": "Short one tonight; both tired."}))]
pub struct CheckIn {
    /// Which partner. A partner signed in to the portal checks off their own
    /// day and may leave this out; the care team recording for a partner names them.
    #[serde(default, skip_serializing)]
    pub partner: Option<PartnerSlot>,
    pub trust_discussion: bool,
    pub meeting_attended: Option<bool>,
    pub medication_taken: Option<bool>,
    pub test: Option<TestResult>,
    /// At most 2,000 characters.
    #[schema(schema_with = crate::input::schema::medium_or_none)]
    pub note: Option<String>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct DayView {
    pub day: Date,
    pub partner: PartnerSlot,
    pub check_in: CheckIn,
    pub recorded_by: MemberId,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DayRange {
    /// First day (inclusive); default: 13 days before `to`.
    pub from: Option<BoundedDate>,
    /// Last day (inclusive), at most 92 days after `from`; default: today.
    pub to: Option<BoundedDate>,
}

fn validate(content: &ContractContent) -> Result<String, AppError> {
    let mut f = Fields::default();
    f.check("intention_statement", required_text(&content.intention_statement, limits::MEDIUM));
    f.check("trust_discussion_time", optional_text(content.trust_discussion_time.as_deref(), limits::SHORT));
    f.check("medication", optional_text(content.medication.as_deref(), limits::MEDIUM));
    f.check("tests", optional_text(content.tests.as_deref(), limits::MEDIUM));
    for (name, list) in [("meetings", &content.meetings), ("other_commitments", &content.other_commitments)] {
        if list.len() > limits::LIST_ITEMS {
            f.check::<()>(name, Err(format!("at most {} items", limits::LIST_ITEMS)));
        }
        for (i, item) in list.iter().enumerate() {
            f.check(&format!("{name}[{i}]"), required_text(item, limits::MEDIUM));
        }
    }
    f.finish()?;
    Ok(serde_json::to_string(content).map_err(anyhow::Error::from)?)
}

async fn row(access: &CoupleAccess) -> Result<Option<recovery_contracts::Model>, AppError> {
    Ok(access.records::<recovery_contracts::Entity>().one(&access.db()).await?)
}

fn audience_of(row: &recovery_contracts::Model) -> Result<Audience, AppError> {
    Ok(row.audience)
}

pub async fn get(access: &CoupleAccess) -> Result<ContractView, AppError> {
    let row = row(access).await?.ok_or(AppError::NotFound)?;
    access.require_sees(audience_of(&row)?)?;
    Ok(ContractView {
        couple_id: row.couple_id,
        content: serde_json::from_str(&access.cipher().open(CONTRACT_CONTENT, row.id, &row.content)?).map_err(anyhow::Error::from)?,
        updated_at: row.updated_at,
        version: row.version,
    })
}

/// Writes the contract. `If-Match: "0"` creates it; afterwards the current ETag.
pub async fn save(now: OffsetDateTime, access: &CoupleAccess, IfMatch(expected): IfMatch, content: ContractContent) -> Result<ContractView, AppError> {
    let json = validate(&content)?;
    match row(access).await? {
        None if expected == 0 => {
            let id = Uuid::now_v7();
            recovery_contracts::ActiveModel {
                id: Set(id),
                practice_id: Set(access.scope.practice_id()),
                couple_id: Set(access.couple_id()),
                content: Set(access.cipher().seal(CONTRACT_CONTENT, id, &json)),
                audience: Set(content.audience),
                created_by: Set(access.member_id),
                created_at: Set(now),
                updated_at: Set(now),
                version: Set(1),
            }
            .insert(&access.db())
            .await
            .map_err(|e| match e.sql_err() {
                // Someone else created it first.
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => AppError::PreconditionFailed,
                _ => e.into(),
            })?;
        }
        Some(existing) => {
            let update = access
                .update_at_version::<recovery_contracts::Entity>(existing.id, expected)
                .col_expr(recovery_contracts::Column::Content, Expr::value(access.cipher().seal(CONTRACT_CONTENT, existing.id, &json)))
                .col_expr(recovery_contracts::Column::Audience, Expr::value(content.audience))
                .col_expr(recovery_contracts::Column::UpdatedAt, Expr::value(now));
            exec_at_version(update, &access.db()).await?;
        }
        None => return Err(AppError::PreconditionFailed),
    }
    get(access).await
}

/// The id of a new check-in row: the same for the same couple, day and
/// partner, whoever writes it first.
fn checkin_id(couple_id: CoupleId, day: Date, slot: PartnerSlot) -> Uuid {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("tandem-checkin|{couple_id}|{day}|{}", slot.as_str()));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// The calendar between two days, both partners' check-offs.
pub async fn days(access: &CoupleAccess, range: &DayRange, today: Date) -> Result<Vec<DayView>, AppError> {
    get(access).await?;
    let to = range.to.map_or(today, BoundedDate::get);
    let from = match range.from {
        Some(from) => from.get(),
        None => to.checked_sub(time::Duration::days(13)).ok_or_else(|| AppError::invalid("to", "choose a later day"))?,
    };
    if to < from || (to - from).whole_days() > 92 {
        return Err(AppError::invalid("to", "choose a range of at most 92 days, ending on or after `from`"));
    }
    access
        .records::<contract_checkins::Entity>()
        .filter(contract_checkins::Column::Day.between(from, to))
        .order_by_asc(contract_checkins::Column::Day)
        .order_by_asc(contract_checkins::Column::PartnerSlot)
        .all(&access.db())
        .await?
        .into_iter()
        .map(|r| {
            let mut check_in: CheckIn = serde_json::from_str(&access.cipher().open(CHECKIN_CONTENT, r.id, &r.content)?).map_err(anyhow::Error::from)?;
            check_in.partner = None;
            Ok(DayView { day: r.day, partner: r.partner_slot, check_in, recorded_by: r.recorded_by })
        })
        .collect()
}

/// Checks off one day for one partner (again, to correct it). Partners check
/// off their own days, up to a week back; the care team may record any past
/// day for a partner. Days after today cannot be checked off.
pub async fn check_in(now: OffsetDateTime, access: &CoupleAccess, day: BoundedDate, today: Date, input: CheckIn) -> Result<DayView, AppError> {
    get(access).await?;
    // Joint check-ins pause while a partner fears violence (see safety_gate).
    if super::safety_gate::pauses_joint_work(access).await? {
        return Err(super::safety_gate::paused(access));
    }
    let slot = access.acting_for(input.partner)?;
    let day = day.get();
    if day > today {
        return Err(AppError::invalid("day", "days can be checked off once they have come"));
    }
    if matches!(access.relation, Relation::Partner(_)) && (today - day).whole_days() > 7 {
        return Err(AppError::invalid("day", "check off days within a week; your counselor can fill in older ones"));
    }
    let note = optional_text(input.note.as_deref(), limits::MEDIUM).map_err(|e| AppError::invalid("note", &e))?;
    let stored = CheckIn { partner: None, note, ..input };
    let content = serde_json::to_string(&stored).map_err(anyhow::Error::from)?;
    let earlier = access
        .records::<contract_checkins::Entity>()
        .filter(contract_checkins::Column::Day.eq(day))
        .filter(contract_checkins::Column::PartnerSlot.eq(slot.as_str()))
        .one(&access.db())
        .await?;
    // The row's id seals its text: the one stored, or for a new day one
    // derived from the couple, day and partner, so that two first check-ins
    // racing into the same row seal under the id the row keeps.
    let id = earlier.as_ref().map_or_else(|| checkin_id(access.couple_id(), day, slot), |row| row.id);
    match earlier {
        // Saving the answers as they stand changes nothing, not even who recorded them.
        Some(row) if access.cipher().open(CHECKIN_CONTENT, row.id, &row.content)? == content => {
            return Ok(DayView { day, partner: slot, check_in: stored, recorded_by: row.recorded_by });
        }
        // A correction keeps what was said before.
        Some(row) => {
            let revision_id = Uuid::now_v7();
            let before = access.cipher().open(CHECKIN_CONTENT, row.id, &row.content)?;
            contract_checkin_revisions::ActiveModel {
                id: Set(revision_id),
                practice_id: Set(row.practice_id),
                checkin_id: Set(row.id),
                content: Set(access.cipher().seal(CHECKIN_REVISION_CONTENT, revision_id, &before)),
                recorded_by: Set(row.recorded_by),
                recorded_at: Set(row.updated_at),
                replaced_by: Set(access.member_id),
                replaced_at: Set(now),
            }
            .insert(&access.db())
            .await?;
        }
        None => {}
    }
    contract_checkins::Entity::insert(contract_checkins::ActiveModel {
        id: Set(id),
        practice_id: Set(access.scope.practice_id()),
        couple_id: Set(access.couple_id()),
        day: Set(day),
        partner_slot: Set(slot),
        content: Set(access.cipher().seal(CHECKIN_CONTENT, id, &content)),
        recorded_by: Set(access.member_id),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            contract_checkins::Column::CoupleId,
            contract_checkins::Column::Day,
            contract_checkins::Column::PartnerSlot,
        ])
        .update_columns([
            contract_checkins::Column::Content,
            contract_checkins::Column::RecordedBy,
            contract_checkins::Column::UpdatedAt,
        ])
        .to_owned(),
    )
    .exec(&access.db())
    .await?;
    Ok(DayView { day, partner: slot, check_in: stored, recorded_by: access.member_id })
}
