use sea_orm::entity::prelude::*;

use crate::ids::{MemberId, PracticeId};

/// A single sign-on under way: used once, then deleted; expires soon.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sso_flows")]
pub struct Model {
    /// SHA-256 (hex) of the `state` sent to the provider.
    #[sea_orm(primary_key, auto_increment = false)]
    pub state_hash: String,
    pub practice_id: PracticeId,
    pub provider_id: Uuid,
    pub nonce: String,
    /// The PKCE verifier, sealed with the key kept outside the database.
    #[sea_orm(column_type = "Text")]
    pub pkce_verifier_sealed: String,
    pub created_at: TimeDateTimeWithTimeZone,
    pub expires_at: TimeDateTimeWithTimeZone,
    /// The invitation this sign-in accepts, when it was started from one.
    pub invitation_id: Option<Uuid>,
    /// The signed-in member connecting their own account at the provider.
    pub link_member_id: Option<MemberId>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
