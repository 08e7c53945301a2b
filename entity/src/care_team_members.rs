use sea_orm::entity::prelude::*;

use crate::ids::{CoupleId, MemberId, PracticeId};

/// A counselor on a couple's care team.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "care_team_members")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub practice_id: PracticeId,
    pub couple_id: CoupleId,
    pub member_id: MemberId,
    pub added_by: MemberId,
    pub added_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
