use sea_orm::entity::prelude::*;

use crate::ids::{MemberId, PracticeId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invitations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub practice_id: PracticeId,
    pub email: String,
    pub roles: String,
    /// SHA-256 of the secret in the invitation link; the secret itself is never stored.
    #[sea_orm(unique)]
    pub token_hash: String,
    pub invited_by: Option<MemberId>,
    pub created_at: TimeDateTimeWithTimeZone,
    pub expires_at: TimeDateTimeWithTimeZone,
    pub accepted_at: Option<TimeDateTimeWithTimeZone>,
    pub accepted_member_id: Option<MemberId>,
    pub revoked_at: Option<TimeDateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
