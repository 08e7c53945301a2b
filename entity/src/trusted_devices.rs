use sea_orm::entity::prelude::*;

use crate::ids::{MemberId, PracticeId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "trusted_devices")]
pub struct Model {
    /// SHA-256 (hex) of the random token in the browser's device cookie.
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_hash: String,
    pub practice_id: PracticeId,
    /// The member who signed in with the right password in that browser.
    pub member_id: MemberId,
    pub created_at: TimeDateTimeWithTimeZone,
    pub last_used_at: TimeDateTimeWithTimeZone,
    pub expires_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
