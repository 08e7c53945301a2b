use sea_orm::entity::prelude::*;

use crate::ids::{CoupleId, MemberId, PracticeId};

/// One version of a couple's relapse-prevention plan; the highest number is current.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "relapse_plans")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub practice_id: PracticeId,
    pub couple_id: CoupleId,
    pub number: i32,
    #[sea_orm(column_type = "Text")]
    pub content: String,
    pub review_on: Option<TimeDate>,
    pub created_by: MemberId,
    pub created_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
