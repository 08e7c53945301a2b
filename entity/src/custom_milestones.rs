use sea_orm::entity::prelude::*;

use crate::ids::{CoupleId, MemberId, PracticeId};

use crate::values::Audience;

/// A milestone the couple chose to celebrate, such as a first meeting.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "custom_milestones")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub practice_id: PracticeId,
    pub couple_id: CoupleId,
    pub title: String,
    pub achieved_on: TimeDate,
    pub audience: Audience,
    pub created_by: MemberId,
    pub created_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
