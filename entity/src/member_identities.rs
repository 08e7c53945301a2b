use sea_orm::entity::prelude::*;

use crate::ids::{MemberId, PracticeId};

/// A member's account at an identity provider, keyed by (issuer, subject).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "member_identities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub practice_id: PracticeId,
    pub member_id: MemberId,
    pub provider_id: Uuid,
    pub issuer: String,
    pub subject: String,
    pub linked_at: TimeDateTimeWithTimeZone,
    pub last_sign_in_at: Option<TimeDateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
