//! Consents to disclose under 42 CFR 2.31, one partner's each: who may
//! disclose (the practice, or one named member), what (kinds of record, and
//! explicitly the substance-use information), to whom (a named person or
//! organisation, or the other partner), why, until when (a date or an
//! event), the right to revoke, and the signature: a typed name with the
//! partner's own confirmation in the portal, or a paper consent the care
//! team records. Revocation is a column read on every request that needs a
//! consent (see `access::consent`), so it takes effect on the next one.

use entity::ids::MemberId;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, QueryFilter, QueryOrder, sea_query::Expr};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use entity::consents;

use super::{consent_scans as scans, common::{PartnerSlot, StoredEnum, limits, optional_text, required_text}};
use crate::{
    access::CoupleAccess,
    error::AppError,
    input::BoundedDate,
    practice::Fields,
    vault::{
        PracticeCipher,
        fields::{CONSENT_EXPIRY_EVENT as EXPIRY_EVENT, CONSENT_PURPOSE as PURPOSE, CONSENT_RECIPIENT as RECIPIENT, CONSENT_SIGNATURE as SIGNATURE},
    },
};

/// A kind of record a consent covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// Lapses and relapses (substance, amount, setting, lessons).
    Lapses,
    /// The relapse-prevention plan, as the partner's copy shows it.
    Plan,
    SafetyPlans,
    Boundaries,
    Sessions,
    /// Signed session notes.
    Notes,
    /// Sobriety figures and milestones.
    Sobriety,
}

impl StoredEnum for RecordKind {}

impl RecordKind {
    pub const ALL: [RecordKind; 7] = [
        RecordKind::Lapses,
        RecordKind::Plan,
        RecordKind::SafetyPlans,
        RecordKind::Boundaries,
        RecordKind::Sessions,
        RecordKind::Notes,
        RecordKind::Sobriety,
    ];

    /// In the words of a consent form.
    pub fn words(self) -> &'static str {
        match self {
            RecordKind::Lapses => "lapses and relapses",
            RecordKind::Plan => "the relapse-prevention plan",
            RecordKind::SafetyPlans => "safety plans",
            RecordKind::Boundaries => "boundary agreements",
            RecordKind::Sessions => "sessions",
            RecordKind::Notes => "signed session notes",
            RecordKind::Sobriety => "sobriety figures and milestones",
        }
    }
}

/// To whom the records may be disclosed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecipientKind {
    /// The other partner of the couple.
    OtherPartner,
    /// A person or organisation named in `recipient_name`.
    Named,
}

impl StoredEnum for RecipientKind {}

/// How the consent was signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignedVia {
    /// The partner typed their name and confirmed it, signed in to the portal.
    Portal,
    /// The care team recorded a consent the partner signed on paper.
    Paper,
}

impl StoredEnum for SignedVia {}

/// Why a consent that expires on an event ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventEndCause {
    /// The care team recorded that the event happened.
    EventRecorded,
    /// The couple was discharged (its care closed): after that nobody is
    /// left to record the event, so the consent ends with the care it was
    /// given in rather than staying open without an end.
    Discharged,
}

impl StoredEnum for EventEndCause {}

/// The scanned copy of a paper consent, without its bytes.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ScanInfo {
    /// `application/pdf`, `image/png` or `image/jpeg`.
    pub content_type: String,
    pub size_bytes: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub uploaded_at: OffsetDateTime,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "partner": "a", "record_kinds": ["lapses", "plan"], "substance_use_information": true,
    "recipient_kind": "named", "recipient_name": "Dr. Lee, Riverside Family Medicine",
    "purpose": "Coordinating medication for alcohol use disorder", "expires_on": "2027-06-30",
    "right_to_revoke_acknowledged": true, "signature_name": "Jordan Rivera", "confirmed": true
}))]
pub struct ConsentInput {
    /// Whose consent: a partner gives their own; the care team names the partner.
    pub partner: Option<PartnerSlot>,
    /// Who may disclose: a member of the practice by id; left out, the practice.
    pub discloser_member_id: Option<MemberId>,
    /// What may be disclosed.
    pub record_kinds: Vec<RecordKind>,
    /// The consent must say explicitly that it covers substance-use information.
    pub substance_use_information: bool,
    pub recipient_kind: RecipientKind,
    /// Required when `recipient_kind` is `named`.
    #[schema(schema_with = crate::input::schema::medium_or_none)]
    pub recipient_name: Option<String>,
    #[schema(schema_with = crate::input::schema::medium)]
    pub purpose: String,
    /// The last day the consent is in force; give this or `expiry_event`.
    pub expires_on: Option<BoundedDate>,
    /// The event that ends the consent (e.g. "end of treatment").
    #[schema(schema_with = crate::input::schema::medium_or_none)]
    pub expiry_event: Option<String>,
    /// The partner was told they may revoke the consent at any time.
    pub right_to_revoke_acknowledged: bool,
    /// The partner's name, typed as their signature.
    #[schema(schema_with = crate::input::schema::short)]
    pub signature_name: String,
    /// A partner signing in the portal confirms the signature is theirs;
    /// the care team confirms they hold the signed paper consent.
    pub confirmed: bool,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ConsentView {
    pub id: Uuid,
    pub partner: PartnerSlot,
    /// None: any member of the practice on the care team may disclose.
    pub discloser_member_id: Option<MemberId>,
    pub record_kinds: Vec<RecordKind>,
    /// Always true: a consent without it is refused.
    pub substance_use_information: bool,
    pub recipient_kind: RecipientKind,
    pub recipient_name: Option<String>,
    pub purpose: String,
    pub expires_on: Option<Date>,
    pub expiry_event: Option<String>,
    pub right_to_revoke_acknowledged: bool,
    pub signature_name: String,
    pub signed_via: SignedVia,
    #[serde(with = "time::serde::rfc3339")]
    pub signed_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// When a consent that expires on an event ended because it happened.
    #[serde(with = "time::serde::rfc3339::option")]
    pub event_ended_at: Option<OffsetDateTime>,
    pub event_end_cause: Option<EventEndCause>,
    /// The scanned paper consent, once uploaded.
    pub scan: Option<ScanInfo>,
    pub version: i32,
}

crate::versioned!(ConsentView);

impl ConsentView {
    /// Whether the consent is in force on `today`: not revoked, not past
    /// its date, and the event it expires on has not happened.
    pub fn in_force(&self, today: Date) -> bool {
        self.revoked_at.is_none() && self.event_ended_at.is_none() && self.expires_on.is_none_or(|last| today <= last)
    }

    /// The recipient in words.
    pub fn recipient_words(&self) -> String {
        match (self.recipient_kind, &self.recipient_name) {
            (RecipientKind::Named, Some(name)) => name.clone(),
            _ => format!("partner {} (the other partner)", self.partner.other().as_str().to_uppercase()),
        }
    }
}

struct Parsed {
    recipient_name: Option<String>,
    purpose: String,
    expiry_event: Option<String>,
    signature_name: String,
}

fn parse(input: &ConsentInput) -> Result<Parsed, AppError> {
    let mut f = Fields::default();
    f.check("record_kinds", if input.record_kinds.is_empty() { Err("name at least one kind of record".to_owned()) } else { Ok(()) });
    f.check(
        "substance_use_information",
        if input.substance_use_information { Ok(()) } else { Err("a consent must say that it covers substance-use information".to_owned()) },
    );
    f.check(
        "right_to_revoke_acknowledged",
        if input.right_to_revoke_acknowledged { Ok(()) } else { Err("the partner must be told they may revoke it".to_owned()) },
    );
    f.check("confirmed", if input.confirmed { Ok(()) } else { Err("confirm the signature".to_owned()) });
    let recipient_name = f.check(
        "recipient_name",
        match (input.recipient_kind, optional_text(input.recipient_name.as_deref(), limits::MEDIUM)) {
            (RecipientKind::Named, Ok(None)) => Err("name the person or organisation".to_owned()),
            (RecipientKind::OtherPartner, Ok(_)) => Ok(None),
            (_, other) => other,
        },
    );
    let purpose = f.check("purpose", required_text(&input.purpose, limits::MEDIUM));
    let expiry_event = f.check(
        "expiry_event",
        match (input.expires_on, optional_text(input.expiry_event.as_deref(), limits::MEDIUM)) {
            (None, Ok(None)) => Err("give an expiry date or the event that ends the consent".to_owned()),
            (_, other) => other,
        },
    );
    let signature_name = f.check("signature_name", required_text(&input.signature_name, limits::SHORT));
    f.finish_with(|| Some(Parsed { recipient_name: recipient_name?, purpose: purpose?, expiry_event: expiry_event?, signature_name: signature_name? }))
}

fn to_view(cipher: &PracticeCipher, row: consents::Model) -> Result<ConsentView, AppError> {
    let record_kinds =
        row.record_kinds.split(',').filter(|k| !k.is_empty()).map(RecordKind::from_stored).collect::<Result<Vec<_>, _>>()?;
    Ok(ConsentView {
        id: row.id,
        partner: row.partner_slot,
        discloser_member_id: row.discloser_member_id,
        record_kinds,
        substance_use_information: true,
        recipient_kind: RecipientKind::from_stored(&row.recipient_kind)?,
        recipient_name: cipher.open_opt(RECIPIENT, row.id, row.recipient_name.as_deref())?,
        purpose: cipher.open(PURPOSE, row.id, &row.purpose)?,
        expires_on: row.expires_on,
        expiry_event: cipher.open_opt(EXPIRY_EVENT, row.id, row.expiry_event.as_deref())?,
        right_to_revoke_acknowledged: true,
        signature_name: cipher.open(SIGNATURE, row.id, &row.signature_name)?,
        signed_via: SignedVia::from_stored(&row.signed_via)?,
        signed_at: row.signed_at,
        revoked_at: row.revoked_at,
        event_ended_at: row.event_ended_at,
        event_end_cause: row.event_end_cause.as_deref().map(EventEndCause::from_stored).transpose()?,
        scan: None,
        version: row.version,
    })
}

/// Records a consent: a partner signs their own in the portal; the care
/// team records a partner's paper consent. Supervisors only read.
pub async fn create(access: &CoupleAccess, now: OffsetDateTime, input: ConsentInput) -> Result<ConsentView, AppError> {
    let partner = access.acting_for(input.partner)?;
    let p = parse(&input)?;
    if let Some(member) = input.discloser_member_id {
        let on_team = crate::access::on_care_team(&access.db(), access.scope, access.couple_id(), member).await?;
        if !on_team {
            return Err(AppError::invalid("discloser_member_id", "name a member of the couple's care team"));
        }
    }
    let signed_via = if access.partner_slot().is_some() { SignedVia::Portal } else { SignedVia::Paper };
    let mut kinds: Vec<String> = Vec::new();
    for kind in &input.record_kinds {
        if !kinds.contains(&kind.as_str()) {
            kinds.push(kind.as_str());
        }
    }
    let id = Uuid::now_v7();
    let c = access.cipher();
    let row = consents::ActiveModel {
        id: Set(id),
        practice_id: Set(access.scope.practice_id()),
        couple_id: Set(access.couple_id()),
        partner_slot: Set(partner),
        discloser_member_id: Set(input.discloser_member_id),
        record_kinds: Set(kinds.join(",")),
        recipient_kind: Set(input.recipient_kind.as_str()),
        recipient_name: Set(c.seal_opt(RECIPIENT, id, p.recipient_name.as_deref())),
        purpose: Set(c.seal(PURPOSE, id, &p.purpose)),
        expires_on: Set(input.expires_on.map(BoundedDate::get)),
        expiry_event: Set(c.seal_opt(EXPIRY_EVENT, id, p.expiry_event.as_deref())),
        signature_name: Set(c.seal(SIGNATURE, id, &p.signature_name)),
        signed_via: Set(signed_via.as_str()),
        signed_at: Set(now),
        recorded_by: Set(access.member_id),
        revoked_at: Set(None),
        revoked_by: Set(None),
        event_ended_at: Set(None),
        event_ended_by: Set(None),
        event_end_cause: Set(None),
        version: Set(1),
    }
    .insert(&access.db())
    .await?;
    to_view(c, row)
}

/// The consents the caller may read: the care team and supervisors every
/// one of the couple's; a partner only their own.
pub async fn list(access: &CoupleAccess) -> Result<Vec<ConsentView>, AppError> {
    let mut query = access.records::<consents::Entity>().order_by_desc(consents::Column::Id);
    if let Some(me) = access.partner_slot() {
        query = query.filter(consents::Column::PartnerSlot.eq(me.as_str()));
    }
    let mut views = query.all(&access.db()).await?.into_iter().map(|row| to_view(access.cipher(), row)).collect::<Result<Vec<_>, _>>()?;
    let mut scans = scans::infos(access, views.iter().map(|c| c.id).collect()).await?;
    for view in &mut views {
        view.scan = scans.remove(&view.id);
    }
    Ok(views)
}

/// The consents partner `partner` gave, for deciding a disclosure (any caller).
pub async fn of_partner(access: &CoupleAccess, partner: PartnerSlot) -> Result<Vec<ConsentView>, AppError> {
    access
        .records::<consents::Entity>()
        .filter(consents::Column::PartnerSlot.eq(partner.as_str()))
        .order_by_asc(consents::Column::Id)
        .all(&access.db())
        .await?
        .into_iter()
        .map(|row| to_view(access.cipher(), row))
        .collect()
}

/// One consent; "not found" for a partner asking about the other's.
pub async fn get(access: &CoupleAccess, id: Uuid) -> Result<ConsentView, AppError> {
    let row = access.records::<consents::Entity>().filter(consents::Column::Id.eq(id)).one(&access.db()).await?.ok_or(AppError::NotFound)?;
    if access.partner_slot().is_some_and(|me| me != row.partner_slot) {
        return Err(AppError::NotFound);
    }
    let mut view = to_view(access.cipher(), row)?;
    view.scan = scans::infos(access, vec![id]).await?.remove(&id);
    Ok(view)
}

/// Revokes a consent, from now on: the partner their own, or the care team
/// recording a partner's revocation. Disclosures made under it stay in the
/// register. Revoked is final: revoking again changes nothing and answers
/// the consent as it is, with `false` for "nothing changed".
pub async fn revoke(access: &CoupleAccess, now: OffsetDateTime, id: Uuid) -> Result<(ConsentView, bool), AppError> {
    let stored = get(access, id).await?;
    if stored.revoked_at.is_some() {
        return Ok((stored, false));
    }
    let update = access
        .update_records::<consents::Entity>()
        .col_expr(consents::Column::RevokedAt, Expr::value(now))
        .col_expr(consents::Column::RevokedBy, Expr::value(access.member_id))
        .col_expr(consents::Column::Version, Expr::value(stored.version + 1))
        .filter(consents::Column::Id.eq(id))
        .filter(consents::Column::RevokedAt.is_null());
    let changed = update.exec(&access.db()).await?.rows_affected == 1;
    Ok((get(access, id).await?, changed))
}

/// Records that the event a consent expires on has happened (the care
/// team): from the next request on the consent is no longer in force, and
/// its page says why. Ended is final, like a revocation: recording it again
/// changes nothing and answers `false`.
pub async fn record_event(access: &CoupleAccess, now: OffsetDateTime, id: Uuid) -> Result<(ConsentView, bool), AppError> {
    let stored = get(access, id).await?;
    if stored.expiry_event.is_none() {
        return Err(AppError::Conflict("This consent ends on a date, not on an event; revoke it to end it sooner.".into()));
    }
    if stored.revoked_at.is_some() || stored.event_ended_at.is_some() {
        return Ok((stored, false));
    }
    let update = end_on_event(access, now, EventEndCause::EventRecorded).filter(consents::Column::Id.eq(id));
    let changed = update.exec(&access.db()).await?.rows_affected == 1;
    Ok((get(access, id).await?, changed))
}

/// Ends every consent of the couple that expires on an event and is still
/// open, because the couple was discharged (in the discharge's transaction).
pub async fn end_at_discharge(access: &CoupleAccess, now: OffsetDateTime) -> Result<(), AppError> {
    end_on_event(access, now, EventEndCause::Discharged).exec(&access.db()).await?;
    Ok(())
}

/// The update ending open event-expiring consents of the couple.
fn end_on_event(access: &CoupleAccess, now: OffsetDateTime, cause: EventEndCause) -> sea_orm::UpdateMany<consents::Entity> {
    use sea_orm::sea_query::ExprTrait;
    access
        .update_records::<consents::Entity>()
        .col_expr(consents::Column::EventEndedAt, Expr::value(now))
        .col_expr(consents::Column::EventEndedBy, Expr::value(access.member_id))
        .col_expr(consents::Column::EventEndCause, Expr::value(cause.as_str()))
        .col_expr(consents::Column::Version, Expr::col(consents::Column::Version).add(1))
        .filter(consents::Column::ExpiryEvent.is_not_null())
        .filter(consents::Column::EventEndedAt.is_null())
        .filter(consents::Column::RevokedAt.is_null())
}

/// How a consent is ended before its date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The partner revokes it, or the care team records their revocation.
    Revocation,
    /// The care team records that the event it ends on happened.
    Event,
}

impl Ending {
    /// Who may end a consent this way.
    pub fn need(self) -> crate::access::Need {
        match self {
            Ending::Revocation => crate::access::Need::PartnerOrCareTeam,
            Ending::Event => crate::access::Need::Write,
        }
    }
}

/// Ends consent `id` as `how` says and, when that changed it, marks the
/// request as a change to who may receive the partner's records.
pub async fn end(access: &CoupleAccess, audit: &crate::audit::AuditContext, now: OffsetDateTime, id: Uuid, how: Ending) -> Result<ConsentView, AppError> {
    let (consent, changed, action) = match how {
        Ending::Revocation => {
            audit.describe_as("consent", "revoke");
            let (consent, changed) = revoke(access, now, id).await?;
            (consent, changed, "consent_revoke")
        }
        Ending::Event => {
            let (consent, changed) = record_event(access, now, id).await?;
            (consent, changed, "consent_event")
        }
    };
    if changed {
        mark_change(access, audit, action, &consent).await?;
    }
    Ok(consent)
}

/// Marks the request's access event as a change to who may receive a
/// partner's records: the partner's account is its subject; the detail
/// holds the consent's id and whether it is in force, never its text.
pub async fn mark_change(access: &CoupleAccess, audit: &crate::audit::AuditContext, action: &'static str, consent: &ConsentView) -> Result<(), AppError> {
    use entity::partners;
    let account = access
        .records::<partners::Entity>()
        .filter(partners::Column::Slot.eq(consent.partner.as_str()))
        .one(&access.db())
        .await?
        .and_then(|p| p.member_id);
    let state = |in_force: bool| serde_json::json!({ "consent": consent.id, "in_force": in_force });
    let (before, after) = match action {
        "consent_revoke" | "consent_event" => (state(true), state(false)),
        _ => (serde_json::Value::Null, state(true)),
    };
    audit.changed_access(action, &crate::audit::changes::Change::new(account, before, after));
    Ok(())
}
