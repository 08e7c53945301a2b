//! The safety gate: a partner who fears violence says so, privately from
//! the portal, or their counselor records it for them; the counselor clears
//! it. While a flag is open the care team is warned on every joint tool and
//! in the session-prep material, and joint check-ins pause.
//!
//! What each reader learns, and why:
//! - The care team (and supervisors, emergency readers) see every open flag.
//! - A partner sees only their own flag. The other partner's answer is the
//!   same as when nothing is flagged: no count, date, or "who raised it"
//!   reaches them. Paused check-ins answer both partners with one neutral
//!   message that does not say why ([`PAUSED_FOR_PARTNERS`]).
//! - Only the care team clears a flag: a partner who is afraid may be made
//!   to "take it back", and the counselor should hear that in person.
//!
//! Raising and clearing are access events (`safety_flag`, actions `flag`
//! and `clear`) in the couple's chain, which supervisors read; a partner's
//! "who viewed" never lists the kind, and never lists partners' own acts.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, QueryFilter, QueryOrder, sea_query::Expr};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use entity::safety_flags;

use super::common::PartnerSlot;
use crate::{access::CoupleAccess, error::AppError};

/// What partners are told when they try a joint check-in while a flag is
/// open, whichever partner they are: it does not say why.
pub const PAUSED_FOR_PARTNERS: &str = "Daily check-ins are paused for now. Your counselor will talk with you about them.";

/// What the care team is told instead.
pub const PAUSED_FOR_CARE_TEAM: &str =
    "Joint check-ins are paused while a partner's fear of violence is open. Clear it on the couple's safety page when it is safe again.";

/// One open flag.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OpenFlag {
    /// The partner who fears violence.
    pub partner: PartnerSlot,
    /// Whether that partner raised it themself (from the portal).
    pub raised_by_partner: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub raised_at: OffsetDateTime,
}

/// The safety gate as the caller may know it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SafetyGateView {
    /// For the care team: some partner's flag is open. For a partner: their own is.
    pub flagged: bool,
    /// The open flags the caller may know of.
    pub open: Vec<OpenFlag>,
}

impl SafetyGateView {
    /// The open flag of `slot`, if the caller may know of it.
    pub fn of(&self, slot: PartnerSlot) -> Option<&OpenFlag> {
        self.open.iter().find(|f| f.partner == slot)
    }
}

/// Who a flag is raised or cleared for: a partner leaves it out (they act
/// for themself), the care team names the partner.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"partner": "b"}))]
pub struct SafetyFlagInput {
    pub partner: Option<PartnerSlot>,
}

/// Every open flag of the couple, oldest first, whoever asks: for the
/// rules here only, never handed out as it stands.
async fn open_rows(access: &CoupleAccess) -> Result<Vec<safety_flags::Model>, AppError> {
    Ok(access
        .records::<safety_flags::Entity>()
        .filter(safety_flags::Column::ClearedAt.is_null())
        .order_by_asc(safety_flags::Column::RaisedAt)
        .all(&access.db())
        .await?)
}

/// The gate as the caller may know it (see the module docs).
pub async fn status(access: &CoupleAccess) -> Result<SafetyGateView, AppError> {
    let mine = access.partner_slot();
    let mut open: Vec<OpenFlag> = Vec::new();
    for row in open_rows(access).await? {
        let may_know = access.is_clinician() || mine == Some(row.partner_slot);
        if may_know && !open.iter().any(|f| f.partner == row.partner_slot) {
            open.push(OpenFlag { partner: row.partner_slot, raised_by_partner: row.raised_by_partner, raised_at: row.raised_at });
        }
    }
    Ok(SafetyGateView { flagged: !open.is_empty(), open })
}

/// Whether joint work is paused: any open flag, whoever asks. Callers
/// answer partners only with [`PAUSED_FOR_PARTNERS`].
pub async fn pauses_joint_work(access: &CoupleAccess) -> Result<bool, AppError> {
    Ok(!open_rows(access).await?.is_empty())
}

/// The refusal of a joint check-in while the gate is closed, worded for the caller.
pub fn paused(access: &CoupleAccess) -> AppError {
    AppError::Conflict(if access.is_clinician() { PAUSED_FOR_CARE_TEAM } else { PAUSED_FOR_PARTNERS }.into())
}

/// Raises a flag for a partner: that partner for themself, or the care
/// team for them. Raising an open flag again changes nothing.
pub async fn raise(access: &CoupleAccess, now: OffsetDateTime, input: SafetyFlagInput) -> Result<SafetyGateView, AppError> {
    let slot = access.acting_for(input.partner)?;
    if !open_rows(access).await?.iter().any(|r| r.partner_slot == slot) {
        safety_flags::ActiveModel {
            id: Set(Uuid::now_v7()),
            practice_id: Set(access.scope.practice_id()),
            couple_id: Set(access.couple_id()),
            partner_slot: Set(slot),
            raised_by: Set(access.member_id),
            raised_by_partner: Set(access.partner_slot().is_some()),
            raised_at: Set(now),
            cleared_by: Set(None),
            cleared_at: Set(None),
        }
        .insert(&access.db())
        .await?;
    }
    status(access).await
}

/// Clears a partner's open flag (care team only: see the module docs).
pub async fn clear(access: &CoupleAccess, now: OffsetDateTime, input: SafetyFlagInput) -> Result<SafetyGateView, AppError> {
    if !access.is_clinician() {
        return Err(AppError::NotFound);
    }
    let slot = access.acting_for(input.partner)?;
    let cleared = access
        .update_records::<safety_flags::Entity>()
        .filter(safety_flags::Column::PartnerSlot.eq(slot))
        .filter(safety_flags::Column::ClearedAt.is_null())
        .col_expr(safety_flags::Column::ClearedAt, Expr::value(now))
        .col_expr(safety_flags::Column::ClearedBy, Expr::value(access.member_id))
        .exec(&access.db())
        .await?;
    if cleared.rows_affected == 0 {
        return Err(AppError::Conflict("That partner has no open safety flag.".into()));
    }
    status(access).await
}
