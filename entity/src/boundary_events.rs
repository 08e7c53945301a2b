use sea_orm::entity::prelude::*;

use crate::ids::{MemberId, PracticeId};

/// A time a boundary was tested or kept, logged without blame.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "boundary_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub practice_id: PracticeId,
    pub boundary_id: Uuid,
    pub kind: String,
    pub occurred_on: TimeDate,
    #[sea_orm(column_type = "Text")]
    pub note: Option<String>,
    pub recorded_by: MemberId,
    pub created_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
