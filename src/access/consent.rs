//! Whether a disclosure may go ahead: sharing one partner's own item with
//! the other partner, or handing a copy to someone outside the care team,
//! needs a consent of that partner in force that covers it (42 CFR 2.31).
//! The consents are read afresh on every request, so a revocation (or the
//! event a consent expires on) refuses the very next disclosure; the
//! decision itself is [`covers`], plain Rust.
//!
//! Where one partner's own item reaches the other partner, and so asks
//! here first (registering the share on success):
//! - a lapse (it is the partner who used's), created with or changed to an
//!   audience that includes the other partner;
//! - a session note's block about one partner (use, risk screen, mood)
//!   with such an audience, when the note is signed: partners read notes
//!   only once signed.
//!
//! Not here, by the clinical model: boundaries (an agreement both partners
//! agree to, even when one holds it), the plan, the recovery contract and
//! its calendar, the couple's safety plan, sessions and milestones are the
//! couple's joint records; a partner's own safety plan and CRAFT items
//! never have the other partner in their audience, by any route.

use time::{Date, OffsetDateTime};
use entity::ids::MemberId;
use uuid::Uuid;

use super::CoupleAccess;
use crate::{
    error::AppError,
    records::{
        common::{PartnerSlot, StoredEnum},
        consents::{self, ConsentView, RecipientKind, RecordKind},
    },
};

/// To whom a disclosure goes.
#[derive(Clone, Copy, Debug)]
pub enum Recipient<'a> {
    /// The other partner of the couple.
    OtherPartner,
    /// A person or organisation outside the care team, as the request names it.
    Named(&'a str),
}

/// The consent a disclosure rests on.
#[derive(Clone, Debug)]
pub struct ConsentInForce {
    pub id: Uuid,
    /// Whose records the consent lets go.
    pub partner: PartnerSlot,
    /// The recipient in the consent's words.
    pub recipient: String,
    pub purpose: String,
}

/// Whether `consent` lets `discloser` disclose `kind` of its partner's
/// records to `recipient` on `today`. A named recipient matches the
/// consent's name ignoring case and surrounding space.
pub fn covers(consent: &ConsentView, discloser: MemberId, kind: RecordKind, recipient: Recipient<'_>, today: Date) -> bool {
    let to_whom = match (recipient, consent.recipient_kind, consent.recipient_name.as_deref()) {
        (Recipient::OtherPartner, RecipientKind::OtherPartner, _) => true,
        (Recipient::Named(asked), RecipientKind::Named, Some(named)) => asked.trim().to_lowercase() == named.trim().to_lowercase(),
        _ => false,
    };
    consent.in_force(today)
        && to_whom
        && consent.substance_use_information
        && consent.record_kinds.contains(&kind)
        && consent.discloser_member_id.is_none_or(|m| m == discloser)
}

/// The consent of `partner` in force that covers disclosing `kind` of their
/// records to `recipient`, by the caller, now; otherwise 409 naming the
/// consent that is missing.
pub async fn consent_in_force(
    access: &CoupleAccess,
    now: OffsetDateTime,
    partner: PartnerSlot,
    kind: RecordKind,
    recipient: Recipient<'_>,
) -> Result<ConsentInForce, AppError> {
    let today = now.date();
    let found = consents::of_partner(access, partner)
        .await?
        .into_iter()
        .rev()
        .find(|c| covers(c, access.member_id, kind, recipient, today));
    match found {
        Some(c) => Ok(ConsentInForce { id: c.id, partner, recipient: c.recipient_words(), purpose: c.purpose }),
        None => Err(AppError::Conflict(missing(partner, kind, recipient))),
    }
}

/// The newest consent of `partner` in force that lets the caller disclose
/// any kind of their records to `recipient` now, with the kinds it covers:
/// what an export of their chart may carry. Otherwise 409 naming the
/// consent that is missing.
pub async fn consent_for_export(
    access: &CoupleAccess,
    now: OffsetDateTime,
    partner: PartnerSlot,
    recipient: Recipient<'_>,
) -> Result<(ConsentInForce, Vec<RecordKind>), AppError> {
    let today = now.date();
    let found = consents::of_partner(access, partner).await?.into_iter().rev().find_map(|c| {
        let kinds: Vec<RecordKind> = RecordKind::ALL.into_iter().filter(|k| covers(&c, access.member_id, *k, recipient, today)).collect();
        (!kinds.is_empty()).then_some((c, kinds))
    });
    match found {
        Some((c, kinds)) => Ok((ConsentInForce { id: c.id, partner, recipient: c.recipient_words(), purpose: c.purpose }, kinds)),
        None => Err(AppError::Conflict(missing_words(partner, "any of their records (an export of the chart)", recipient))),
    }
}

/// The refusal, naming the consent that would allow it.
fn missing(partner: PartnerSlot, kind: RecordKind, recipient: Recipient<'_>) -> String {
    missing_words(partner, &format!("{} ({})", kind.words(), kind.as_str()), recipient)
}

fn missing_words(partner: PartnerSlot, what: &str, recipient: Recipient<'_>) -> String {
    let to = match recipient {
        Recipient::OtherPartner => format!("partner {}", partner.other().as_str().to_uppercase()),
        Recipient::Named(name) => format!("\"{}\"", name.trim()),
    };
    format!(
        "No consent in force from partner {} allows disclosing {what} to {to}. \
         A written consent under 42 CFR 2.31 naming this recipient and these records is needed; \
         it may have expired or been revoked.",
        partner.as_str().to_uppercase(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::consents::SignedVia;

    fn consent(kind: RecipientKind, name: Option<&str>) -> ConsentView {
        ConsentView {
            id: Uuid::nil(),
            partner: PartnerSlot::A,
            discloser_member_id: None,
            record_kinds: vec![RecordKind::Lapses],
            substance_use_information: true,
            recipient_kind: kind,
            recipient_name: name.map(str::to_owned),
            purpose: "care".into(),
            expires_on: Some(time::macros::date!(2026 - 12 - 31)),
            expiry_event: None,
            right_to_revoke_acknowledged: true,
            signature_name: "A".into(),
            signed_via: SignedVia::Portal,
            signed_at: OffsetDateTime::UNIX_EPOCH,
            revoked_at: None,
            event_ended_at: None,
            event_end_cause: None,
            scan: None,
            version: 1,
        }
    }

    #[test]
    fn a_consent_covers_only_its_recipient_records_time_and_discloser() {
        let today = time::macros::date!(2026 - 12 - 06);
        let me = MemberId::new();
        let c = consent(RecipientKind::OtherPartner, None);
        assert!(covers(&c, me, RecordKind::Lapses, Recipient::OtherPartner, today));
        assert!(!covers(&c, me, RecordKind::Plan, Recipient::OtherPartner, today));
        assert!(!covers(&c, me, RecordKind::Lapses, Recipient::Named("Dr Lee"), today));
        assert!(!covers(&c, me, RecordKind::Lapses, Recipient::OtherPartner, time::macros::date!(2027 - 01 - 01)));
        let revoked = ConsentView { revoked_at: Some(OffsetDateTime::UNIX_EPOCH), ..c.clone() };
        assert!(!covers(&revoked, me, RecordKind::Lapses, Recipient::OtherPartner, today));
        let event_happened = ConsentView { event_ended_at: Some(OffsetDateTime::UNIX_EPOCH), ..c.clone() };
        assert!(!covers(&event_happened, me, RecordKind::Lapses, Recipient::OtherPartner, today));
        let someone_else = ConsentView { discloser_member_id: Some(MemberId::new()), ..c };
        assert!(!covers(&someone_else, me, RecordKind::Lapses, Recipient::OtherPartner, today));
        let named = consent(RecipientKind::Named, Some("Dr. Lee"));
        assert!(covers(&named, me, RecordKind::Lapses, Recipient::Named(" dr. lee "), today));
        assert!(!covers(&named, me, RecordKind::Lapses, Recipient::Named("Dr. Leeds"), today));
    }
}
