use sea_orm::entity::prelude::*;

use crate::ids::{CoupleId, MemberId, PracticeId};

use crate::values::PartnerSlot;

/// One disclosure of a partner's records, and the consent it rested on.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "disclosures")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub practice_id: PracticeId,
    pub couple_id: CoupleId,
    /// Whose records were disclosed.
    pub partner_slot: PartnerSlot,
    pub consent_id: Uuid,
    /// share, pdf, export
    pub channel: String,
    pub record_kind: String,
    pub record_id: Option<Uuid>,
    #[sea_orm(column_type = "Text")]
    pub what: String,
    #[sea_orm(column_type = "Text")]
    pub recipient: String,
    #[sea_orm(column_type = "Text")]
    pub purpose: String,
    pub disclosed_by: MemberId,
    pub disclosed_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
