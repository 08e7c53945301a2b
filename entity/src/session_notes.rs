use sea_orm::entity::prelude::*;

use crate::ids::{CoupleId, MemberId, PracticeId};

use crate::values::NoteStatus;

/// Clinical documentation of a session; immutable once signed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "session_notes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub practice_id: PracticeId,
    pub couple_id: CoupleId,
    pub session_id: Uuid,
    pub author_id: MemberId,
    pub format: String,
    #[sea_orm(column_type = "Text")]
    pub content: String,
    pub status: NoteStatus,
    pub signed_by: Option<MemberId>,
    pub signed_at: Option<TimeDateTimeWithTimeZone>,
    pub cosigned_by: Option<MemberId>,
    pub cosigned_at: Option<TimeDateTimeWithTimeZone>,
    pub created_at: TimeDateTimeWithTimeZone,
    pub updated_at: TimeDateTimeWithTimeZone,
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
