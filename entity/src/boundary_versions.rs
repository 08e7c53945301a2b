use sea_orm::entity::prelude::*;

use crate::ids::{MemberId, PracticeId};

/// One wording of a boundary; versions are kept, never edited.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "boundary_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub practice_id: PracticeId,
    pub boundary_id: Uuid,
    pub number: i32,
    #[sea_orm(column_type = "Text")]
    pub statement: String,
    #[sea_orm(column_type = "Text")]
    pub consequence: String,
    pub effective_on: Option<TimeDate>,
    pub review_on: Option<TimeDate>,
    pub created_by: MemberId,
    pub created_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
