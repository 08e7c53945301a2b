use sea_orm::entity::prelude::*;

use crate::ids::{CoupleId, MemberId, PracticeId};

use crate::values::{Audience, PartnerSlot};

/// One step of a lapse's response timeline: copied from the plan when the
/// lapse was recorded, due at a time, done by the person it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "lapse_steps")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub practice_id: PracticeId,
    pub couple_id: CoupleId,
    pub lapse_id: Uuid,
    pub position: i32,
    /// immediately, first_week, first_month.
    pub step_when: String,
    /// partner_in_recovery, supporting_partner, counselor.
    pub who: String,
    /// The partner the step belongs to; none: the counselor's.
    pub owner_slot: Option<PartnerSlot>,
    #[sea_orm(column_type = "Text")]
    pub action: String,
    pub due_at: TimeDateTimeWithTimeZone,
    pub done_at: Option<TimeDateTimeWithTimeZone>,
    pub done_by: Option<MemberId>,
    /// The audience of the plan's timeline section when it was copied.
    pub section_audience: Audience,
    /// Who reads the step: the narrower of the lapse's and the section's.
    pub audience: Audience,
    pub created_at: TimeDateTimeWithTimeZone,
    pub updated_at: TimeDateTimeWithTimeZone,
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
