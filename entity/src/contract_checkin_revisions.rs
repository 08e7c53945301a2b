use sea_orm::entity::prelude::*;

use crate::ids::{MemberId, PracticeId};

/// An earlier answer of a day's check-off, kept when it was corrected.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "contract_checkin_revisions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub practice_id: PracticeId,
    pub checkin_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub content: String,
    pub recorded_by: MemberId,
    pub recorded_at: TimeDateTimeWithTimeZone,
    pub replaced_by: MemberId,
    pub replaced_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
