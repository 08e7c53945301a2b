//! Sobriety and milestones for a couple: for each partner in recovery, the
//! current streak and total abstinent days since care started, the standard
//! milestones reached and the next one, plus custom milestones the couple
//! chose to celebrate. Figures are derived from the lapses the caller may
//! see, so a lapse kept confidential to one partner does not show itself to
//! the other through a reset streak.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::ToSchema;
use uuid::Uuid;

use entity::{custom_milestones, partners};

use super::{
    common::{Audience, PartnerSlot, StoredEnum, limits, required_text},
    couples::RecoveryRole,
    lapses,
    sobriety::{self, UsePeriod},
};
use crate::input::BoundedDate;
use crate::{AppState, access::CoupleAccess, error::AppError};

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ReachedMilestoneView {
    pub days: u32,
    pub label: String,
    pub reached_on: Date,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct NextMilestoneView {
    pub days: u32,
    pub label: String,
    pub on: Date,
    pub days_to_go: u32,
}

/// One partner's figures.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PartnerSobriety {
    pub partner: PartnerSlot,
    pub sober_since: Date,
    pub current_streak_days: u32,
    pub total_abstinent_days: u32,
    pub days_in_care: u32,
    pub use_days: u32,
    pub reached: Vec<ReachedMilestoneView>,
    pub next: Option<NextMilestoneView>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CustomMilestoneView {
    pub id: Uuid,
    pub title: String,
    pub achieved_on: Date,
    pub audience: Audience,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SobrietyView {
    pub care_started_on: Date,
    /// The day the figures are for, in the practice's time zone.
    pub today: Date,
    pub partners: Vec<PartnerSobriety>,
    pub custom_milestones: Vec<CustomMilestoneView>,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": "First AA meeting together", "achieved_on": "2026-03-19", "audience": "couple"}))]
pub struct CustomMilestoneInput {
    /// At most 200 characters.
    pub title: String,
    pub achieved_on: BoundedDate,
    /// Default: couple.
    pub audience: Option<Audience>,
}

/// Today's date where the practice is.
pub fn practice_today(state: &AppState, time_zone: &str) -> Date {
    let now = state.clock.now();
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let offset_seconds = jiff::Timestamp::from_second(now.unix_timestamp())
        .map(|ts| tz.to_offset(ts).seconds())
        .unwrap_or(0);
    (now + time::Duration::seconds(offset_seconds.into())).date()
}

pub async fn sobriety(state: &AppState, access: &CoupleAccess, time_zone: &str) -> Result<SobrietyView, AppError> {
    let today = practice_today(state, time_zone);
    let start = access.couple.care_started_on;
    let lapses = lapses::all_visible(&access.db(), access).await?;
    let in_recovery = access
        .records::<partners::Entity>()
        .filter(partners::Column::RecoveryRole.eq(RecoveryRole::InRecovery.as_str()))
        .order_by_asc(partners::Column::Slot)
        .all(&access.db())
        .await?;
    let mut partners = Vec::new();
    for p in in_recovery {
        let slot = PartnerSlot::from_stored(&p.slot)?;
        let periods: Vec<UsePeriod> = lapses
            .iter()
            .filter(|l| l.partner == slot)
            .map(|l| UsePeriod { first_day: l.occurred_on, days: l.days.max(1) as u32 })
            .collect();
        let s = sobriety::compute(start, &periods, today);
        partners.push(PartnerSobriety {
            partner: slot,
            sober_since: s.sober_since,
            current_streak_days: s.current_streak_days,
            total_abstinent_days: s.total_abstinent_days,
            days_in_care: s.days_in_care,
            use_days: s.use_days,
            reached: s.reached.into_iter().map(|m| ReachedMilestoneView { days: m.days, label: m.label, reached_on: m.reached_on }).collect(),
            next: s.next.map(|n| NextMilestoneView { days: n.days, label: n.label, on: n.on, days_to_go: n.days_to_go }),
        });
    }
    Ok(SobrietyView { care_started_on: start, today, partners, custom_milestones: custom(access).await? })
}

pub async fn custom(access: &CoupleAccess) -> Result<Vec<CustomMilestoneView>, AppError> {
    access
        .records::<custom_milestones::Entity>()
        .filter(custom_milestones::Column::Audience.is_in(access.visible_audiences()))
        .order_by_asc(custom_milestones::Column::AchievedOn)
        .all(&access.db())
        .await?
        .into_iter()
        .map(|m| {
            Ok(CustomMilestoneView { id: m.id, title: m.title, achieved_on: m.achieved_on, audience: Audience::from_stored(&m.audience)? })
        })
        .collect()
}

pub async fn add_custom(state: &AppState, access: &CoupleAccess, input: CustomMilestoneInput) -> Result<CustomMilestoneView, AppError> {
    let title = required_text(&input.title, limits::SHORT).map_err(|e| AppError::invalid("title", &e))?;
    let audience = input.audience.unwrap_or(Audience::Couple);
    let row = custom_milestones::ActiveModel {
        id: Set(Uuid::now_v7()),
        practice_id: Set(access.scope.practice_id()),
        couple_id: Set(access.couple_id()),
        title: Set(title),
        achieved_on: Set(input.achieved_on.get()),
        audience: Set(audience.as_str()),
        created_by: Set(access.member_id),
        created_at: Set(state.clock.now()),
    }
    .insert(&access.db())
    .await?;
    Ok(CustomMilestoneView { id: row.id, title: row.title, achieved_on: row.achieved_on, audience })
}
