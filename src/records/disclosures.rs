//! The register of disclosures (42 CFR 2.24, 2.32): every share of one
//! partner's record with the other partner, and every copy handed outside
//! the care team, is written here in the same transaction as the disclosure
//! and its access event: when, to whom, what, why, and the consent it
//! rested on. Rows are never changed or removed, so a disclosure made
//! before a revocation stays listed. A partner reads the disclosures of
//! their own records ("who received my records"); the care team reads the
//! couple's; a supervisor exports them as CSV.

use entity::ids::MemberId;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use entity::disclosures;

use super::{
    common::{PartnerSlot, StoredEnum, limits, required_text},
    consents::RecordKind,
};
use crate::{
    access::{ConsentInForce, CoupleAccess, Recipient, consent_in_force},
    auth::CurrentMember,
    error::AppError,
    pdf::{self, reports},
    practice::{Fields, Role},
    vault::{PracticeCipher, fields::{DISCLOSURE_PURPOSE as PURPOSE, DISCLOSURE_RECIPIENT as RECIPIENT, DISCLOSURE_WHAT as WHAT}},
};

/// The notice 42 CFR 2.32(a)(1) prescribes for each disclosure made with
/// the patient's consent; on every page of every disclosed copy.
pub const NOTICE_2_32: &str = "This record which has been disclosed to you is protected by Federal confidentiality rules \
(42 CFR part 2). These rules prohibit you from using or disclosing this record, or testimony that describes the information \
contained in this record, in any civil, criminal, administrative, or legislative proceedings by any Federal, State, or local \
authority, against the patient, unless authorized by the consent of the patient, except as provided at 42 CFR 2.12(c)(5) or as \
authorized by a court in accordance with 42 CFR 2.64 or 2.65. In addition, the Federal rules prohibit you from making any other \
use or disclosure of this record unless at least one of the following applies: (A) Further use or disclosure is expressly \
permitted by the written consent of the individual whose information is being disclosed in this record or as otherwise \
permitted by 42 CFR part 2. (B) You are a covered entity or business associate and have received the record for treatment, \
payment, or health care operations, or (C) You have received the record from a covered entity or business associate as \
permitted by 45 CFR part 164, subparts A and E. A general authorization for the release of medical or other information is \
NOT sufficient to meet the required elements of written consent to further use or redisclose the record (see 42 CFR 2.31).";

/// How the records left.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// An item shared with the other partner.
    Share,
    /// A disclosed PDF copy.
    Pdf,
    /// An export of records.
    Export,
}

impl StoredEnum for Channel {}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct DisclosureView {
    pub id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub disclosed_at: OffsetDateTime,
    /// Whose records.
    pub partner: PartnerSlot,
    pub recipient: String,
    pub what: String,
    pub record_kind: RecordKind,
    pub record_id: Option<Uuid>,
    pub purpose: String,
    pub channel: Channel,
    /// The consent it rested on (it stays listed after a revocation).
    pub consent_id: Uuid,
    pub disclosed_by: MemberId,
}

/// One disclosure about to be registered.
pub struct Disclosed<'a> {
    pub consent: &'a ConsentInForce,
    pub channel: Channel,
    pub kind: RecordKind,
    pub record_id: Option<Uuid>,
    pub what: String,
    pub recipient: String,
    pub purpose: String,
}

/// Registers a disclosure in the request's transaction (the caller's access
/// must be a write access, so it lands with the disclosure and its event).
pub async fn record(access: &CoupleAccess, now: OffsetDateTime, d: Disclosed<'_>) -> Result<(), AppError> {
    let id = Uuid::now_v7();
    let c = access.cipher();
    disclosures::ActiveModel {
        id: Set(id),
        practice_id: Set(access.scope.practice_id()),
        couple_id: Set(access.couple_id()),
        partner_slot: Set(d.consent.partner),
        consent_id: Set(d.consent.id),
        channel: Set(d.channel.as_str()),
        record_kind: Set(d.kind.as_str()),
        record_id: Set(d.record_id),
        what: Set(c.seal(WHAT, id, &d.what)),
        recipient: Set(c.seal(RECIPIENT, id, &d.recipient)),
        purpose: Set(c.seal(PURPOSE, id, &d.purpose)),
        disclosed_by: Set(access.member_id),
        disclosed_at: Set(now),
    }
    .insert(&access.db())
    .await?;
    Ok(())
}

fn to_view(cipher: &PracticeCipher, row: disclosures::Model) -> Result<DisclosureView, AppError> {
    Ok(DisclosureView {
        id: row.id,
        disclosed_at: row.disclosed_at,
        partner: row.partner_slot,
        recipient: cipher.open(RECIPIENT, row.id, &row.recipient)?,
        what: cipher.open(WHAT, row.id, &row.what)?,
        record_kind: RecordKind::from_stored(&row.record_kind)?,
        record_id: row.record_id,
        purpose: cipher.open(PURPOSE, row.id, &row.purpose)?,
        channel: Channel::from_stored(&row.channel)?,
        consent_id: row.consent_id,
        disclosed_by: row.disclosed_by,
    })
}

/// The register, newest first: the care team and supervisors see the
/// couple's; a partner the disclosures of their own records only.
pub async fn list(access: &CoupleAccess) -> Result<Vec<DisclosureView>, AppError> {
    let mut query = access.records::<disclosures::Entity>().order_by_desc(disclosures::Column::Id);
    if let Some(me) = access.partner_slot() {
        query = query.filter(disclosures::Column::PartnerSlot.eq(me.as_str()));
    }
    query.all(&access.db()).await?.into_iter().map(|row| to_view(access.cipher(), row)).collect()
}

/// The couple's register as CSV, for a supervisor (someone who supervises
/// the care team, or a supervisor on it).
pub async fn csv(access: &CoupleAccess, current: &CurrentMember) -> Result<String, AppError> {
    if !(access.is_clinician() && current.roles.contains(Role::Supervisor)) {
        return Err(AppError::Forbidden("The register is exported by supervisors.".into()));
    }
    let mut out = String::from("disclosed_at,partner,recipient,what,purpose,channel,record_kind,consent_id\r\n");
    for d in list(access).await? {
        let at = d.disclosed_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        let row = [at, d.partner.as_str(), d.recipient, d.what, d.purpose, d.channel.as_str(), d.record_kind.as_str(), d.consent_id.to_string()];
        out.push_str(&row.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    Ok(out)
}

/// A CSV field, quoted; a leading formula character is defused so a
/// spreadsheet shows the text rather than running it.
fn csv_field(value: &str) -> String {
    let defused = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{value}") } else { value.to_owned() };
    format!("\"{}\"", defused.replace('"', "\"\""))
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"partner": "a", "recipient": "Dr. Lee, Riverside Family Medicine", "purpose": "Coordinating medication"}))]
pub struct DisclosedCopyInput {
    /// Whose plan.
    pub partner: PartnerSlot,
    /// The person or organisation receiving the copy, as the consent names them.
    #[schema(schema_with = crate::input::schema::medium)]
    pub recipient: String,
    #[schema(schema_with = crate::input::schema::medium)]
    pub purpose: String,
}

/// A copy of partner `input.partner`'s plan for someone outside the care
/// team (care team only): refused unless that partner's consent in force
/// covers the plan and names the recipient; registered; every page carries
/// the 2.32 notice in place of the internal footer.
pub async fn disclosed_plan(
    now: OffsetDateTime,
    access: &CoupleAccess,
    input: DisclosedCopyInput,
    practice: &str,
    time_zone: &str,
) -> Result<pdf::Document, AppError> {
    let mut f = Fields::default();
    let recipient = f.check("recipient", required_text(&input.recipient, limits::MEDIUM));
    let purpose = f.check("purpose", required_text(&input.purpose, limits::MEDIUM));
    let (recipient, purpose) = f.finish_with(|| Some((recipient?, purpose?)))?;
    let consent = consent_in_force(access, now, input.partner, RecordKind::Plan, Recipient::Named(&recipient)).await?;
    let mut doc = reports::partner_plan(now, &access.as_partner(input.partner), input.partner, practice, time_zone, false).await?;
    doc.title = "Plan (disclosed copy)".into();
    doc.made_for = format!("Disclosed to {recipient} for: {purpose}");
    doc.notice = NOTICE_2_32.into();
    let what = format!("Relapse-prevention plan of partner {} (PDF)", input.partner.as_str().to_uppercase());
    record(access, now, Disclosed { consent: &consent, channel: Channel::Pdf, kind: RecordKind::Plan, record_id: None, what, recipient, purpose }).await?;
    Ok(doc)
}
