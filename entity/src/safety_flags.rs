use sea_orm::entity::prelude::*;

use crate::ids::{CoupleId, MemberId, PracticeId};

use crate::values::PartnerSlot;

/// A partner's fear of violence, raised by them or the care team; open
/// while `cleared_at` is empty. Rows are kept when cleared.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "safety_flags")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub practice_id: PracticeId,
    pub couple_id: CoupleId,
    pub partner_slot: PartnerSlot,
    pub raised_by: MemberId,
    pub raised_by_partner: bool,
    pub raised_at: TimeDateTimeWithTimeZone,
    pub cleared_by: Option<MemberId>,
    pub cleared_at: Option<TimeDateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
