use sea_orm::entity::prelude::*;

use crate::ids::{CoupleId, MemberId, PracticeId};

use crate::values::Audience;

/// A correction or addition appended to a signed note.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "note_addenda")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub practice_id: PracticeId,
    pub couple_id: CoupleId,
    pub note_id: Uuid,
    pub author_id: MemberId,
    pub reason: String,
    #[sea_orm(column_type = "Text")]
    pub body: String,
    pub audience: Audience,
    pub created_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
