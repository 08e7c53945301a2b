use sea_orm::entity::prelude::*;

use crate::ids::{CoupleId, MemberId, PracticeId};

use crate::values::PartnerSlot;

/// A partner's written consent to disclose (42 CFR 2.31). Text columns
/// other than the typed ones are sealed by the service.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub practice_id: PracticeId,
    pub couple_id: CoupleId,
    pub partner_slot: PartnerSlot,
    /// None: the practice may disclose; otherwise only this member.
    pub discloser_member_id: Option<MemberId>,
    /// Comma-separated kinds of record.
    pub record_kinds: String,
    pub recipient_kind: String,
    #[sea_orm(column_type = "Text")]
    pub recipient_name: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub purpose: String,
    pub expires_on: Option<TimeDate>,
    #[sea_orm(column_type = "Text")]
    pub expiry_event: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub signature_name: String,
    pub signed_via: String,
    pub signed_at: TimeDateTimeWithTimeZone,
    pub recorded_by: MemberId,
    pub revoked_at: Option<TimeDateTimeWithTimeZone>,
    pub revoked_by: Option<MemberId>,
    /// When a consent that expires on an event ended because it happened.
    pub event_ended_at: Option<TimeDateTimeWithTimeZone>,
    pub event_ended_by: Option<MemberId>,
    /// Why: `event_recorded` (the care team recorded the event) or
    /// `discharged` (the couple's care was closed).
    pub event_end_cause: Option<String>,
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
