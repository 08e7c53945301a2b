use sea_orm::entity::prelude::*;

use crate::ids::{CoupleId, MemberId, PracticeId};

/// The scanned copy of a consent signed on paper: one per consent, kept as
/// uploaded. `content` is the file, base64-encoded and sealed by the service.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consent_scans")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub practice_id: PracticeId,
    pub couple_id: CoupleId,
    pub consent_id: Uuid,
    /// `application/pdf`, `image/png` or `image/jpeg`, as its first bytes say.
    pub content_type: String,
    pub size_bytes: i32,
    #[sea_orm(column_type = "Text")]
    pub content: String,
    pub uploaded_by: MemberId,
    pub uploaded_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
