use sea_orm::entity::prelude::*;

use crate::ids::{CoupleId, MemberId, PracticeId};

use crate::values::{Audience, PartnerSlot};

/// A return to use: when, what, and what was learned.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "lapses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub practice_id: PracticeId,
    pub couple_id: CoupleId,
    pub partner_slot: PartnerSlot,
    pub occurred_on: TimeDate,
    pub days: i32,
    pub substance: String,
    pub amount: Option<String>,
    pub setting: Option<String>,
    pub high_risk_category: Option<String>,
    pub reported_by: String,
    pub kind: String,
    #[sea_orm(column_type = "Text")]
    pub learned: Option<String>,
    pub timeline_step: Option<String>,
    pub safety_checked: bool,
    pub audience: Audience,
    pub created_by: MemberId,
    pub created_at: TimeDateTimeWithTimeZone,
    pub updated_at: TimeDateTimeWithTimeZone,
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
