use sea_orm::entity::prelude::*;

use crate::ids::{CoupleId, MemberId, PracticeId};

/// A time-boxed emergency (break-the-glass) access to a couple, with its reason.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "emergency_accesses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub practice_id: PracticeId,
    pub couple_id: CoupleId,
    pub member_id: MemberId,
    #[sea_orm(column_type = "Text")]
    pub reason: String,
    pub started_at: TimeDateTimeWithTimeZone,
    pub expires_at: TimeDateTimeWithTimeZone,
    pub acknowledged_by: Option<MemberId>,
    pub acknowledged_at: Option<TimeDateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
