//! The consents page of a couple: the consents to disclose (42 CFR 2.31) and
//! the register of disclosures. The care team records a paper consent and
//! sees the couple's register; a partner signs their own consent in the
//! portal, revokes it, and reads who received their records. The rules are
//! those of `/api/v1/couples/{id}/consents` (records::consents).

use askama::Template;
use axum::{
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Redirect},
};
use serde::Deserialize;
use tower_sessions::Session;
use uuid::Uuid;

use super::{Chrome, CoupleContext, PageResult, again, forms};
use crate::{
    access::{self, CoupleAccess, Need, Relation},
    audit::AuditContext,
    auth::CurrentMember,
    error::AppError,
    records::{
        common::StoredEnum,
        consent_scans,
        consents::{self, ConsentInput, ConsentView, Ending, EventEndCause, RecipientKind, RecordKind},
        disclosures::{self, DisclosureView},
    },
    state::AppState,
    web::{CsrfForm, CsrfOnly, CsrfUpload, Path, SignedIn, render, templates::{FormErrors, Nav}},
};

/// A consent as the page lists it.
pub struct ConsentRow {
    pub id: Uuid,
    pub partner: String,
    pub what: String,
    pub recipient: String,
    pub purpose: String,
    pub until: String,
    pub signed: String,
    pub in_force: bool,
    pub revoked: String,
    /// Why a consent that expires on an event ended, and when.
    pub ended: String,
    /// Whether the reader may revoke it here.
    pub revocable: bool,
    /// Whether the reader (the care team) may record that its event happened.
    pub event_recordable: bool,
    /// The scanned paper consent, in words; empty when there is none.
    pub scan: String,
    /// Whether the reader may download the scan (the care team, the partner who signed).
    pub scan_downloadable: bool,
    /// Whether the reader (the care team) may upload the scan of this paper consent.
    pub scan_uploadable: bool,
    /// Whether the upload just refused was this consent's (its message shows here).
    pub scan_refused: bool,
}

/// A disclosure as the page lists it.
pub struct RegisterRow {
    pub at: String,
    pub whose: String,
    pub recipient: String,
    pub what: String,
    pub purpose: String,
}

impl RegisterRow {
    fn of(d: DisclosureView, couple: &CoupleContext) -> Self {
        Self {
            at: crate::display::local_time(d.disclosed_at, &couple.time_zone),
            whose: couple.names.of(d.partner).to_owned(),
            recipient: d.recipient,
            what: d.what,
            purpose: d.purpose,
        }
    }
}

#[derive(Template)]
#[template(path = "consents.html")]
pub struct ConsentsPage {
    pub nav: Option<Nav>,
    pub csrf_token: String,
    pub couple: CoupleContext,
    pub consents: Vec<ConsentRow>,
    pub register: Vec<RegisterRow>,
    pub form: ConsentForm,
    pub kinds: Vec<(String, String, bool)>,
    pub errors: FormErrors,
    /// Whether a scan upload was refused (its message shows beside its consent).
    pub scan_refused: bool,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct ConsentForm {
    pub partner: String,
    pub kind_lapses: String,
    pub kind_plan: String,
    pub kind_safety_plans: String,
    pub kind_boundaries: String,
    pub kind_sessions: String,
    pub kind_notes: String,
    pub kind_sobriety: String,
    pub substance_use_information: String,
    pub recipient_kind: String,
    pub recipient_name: String,
    pub purpose: String,
    pub expires_on: String,
    pub expiry_event: String,
    pub right_to_revoke_acknowledged: String,
    pub signature_name: String,
    pub confirmed: String,
}

impl ConsentForm {
    fn kind(&self, kind: RecordKind) -> bool {
        let ticked = match kind {
            RecordKind::Lapses => &self.kind_lapses,
            RecordKind::Plan => &self.kind_plan,
            RecordKind::SafetyPlans => &self.kind_safety_plans,
            RecordKind::Boundaries => &self.kind_boundaries,
            RecordKind::Sessions => &self.kind_sessions,
            RecordKind::Notes => &self.kind_notes,
            RecordKind::Sobriety => &self.kind_sobriety,
        };
        !ticked.is_empty()
    }

    fn input(&self) -> Result<ConsentInput, AppError> {
        let mut f = crate::practice::Fields::default();
        let partner = f.check("partner", forms::pick(&self.partner));
        let recipient_kind = f.check("recipient_kind", forms::pick_required::<RecipientKind>(&self.recipient_kind));
        let expires_on = f.check("expires_on", forms::date(&self.expires_on));
        let (partner, recipient_kind, expires_on) = f.finish_with(|| Some((partner?, recipient_kind?, expires_on?)))?;
        Ok(ConsentInput {
            partner,
            discloser_member_id: None,
            record_kinds: RecordKind::ALL.into_iter().filter(|k| self.kind(*k)).collect(),
            substance_use_information: !self.substance_use_information.is_empty(),
            recipient_kind,
            recipient_name: forms::opt(&self.recipient_name),
            purpose: self.purpose.clone(),
            expires_on,
            expiry_event: forms::opt(&self.expiry_event),
            right_to_revoke_acknowledged: !self.right_to_revoke_acknowledged.is_empty(),
            signature_name: self.signature_name.clone(),
            confirmed: !self.confirmed.is_empty(),
        })
    }
}

fn row(c: ConsentView, couple: &CoupleContext, access: &CoupleAccess, today: time::Date) -> ConsentRow {
    let until = match (c.expires_on, &c.expiry_event) {
        (Some(day), Some(event)) => format!("{} or {event}, whichever is first", crate::display::date(day)),
        (Some(day), None) => crate::display::date(day),
        (None, Some(event)) => event.clone(),
        (None, None) => String::new(),
    };
    let via = if c.signed_via == consents::SignedVia::Portal { "in the portal" } else { "on paper" };
    let ended = match (c.event_ended_at, c.event_end_cause) {
        (Some(at), Some(EventEndCause::Discharged)) => format!("At discharge, {}: the couple's care was closed", crate::display::local_time(at, &couple.time_zone)),
        (Some(at), _) => format!("{}: the care team recorded that \"{}\" happened", crate::display::local_time(at, &couple.time_zone), c.expiry_event.as_deref().unwrap_or_default()),
        (None, _) => String::new(),
    };
    let open = c.revoked_at.is_none() && c.event_ended_at.is_none();
    let paper = c.signed_via == consents::SignedVia::Paper;
    ConsentRow {
        id: c.id,
        partner: couple.names.of(c.partner).to_owned(),
        what: c.record_kinds.iter().map(|k| k.words()).collect::<Vec<_>>().join(", "),
        recipient: match c.recipient_kind {
            RecipientKind::OtherPartner => couple.names.of(c.partner.other()).to_owned(),
            RecipientKind::Named => c.recipient_name.clone().unwrap_or_default(),
        },
        in_force: c.in_force(today),
        revoked: c.revoked_at.map(|at| crate::display::local_time(at, &couple.time_zone)).unwrap_or_default(),
        signed: format!("{} {via}, {}", c.signature_name, crate::display::local_time(c.signed_at, &couple.time_zone)),
        revocable: c.revoked_at.is_none() && (couple.care_team || access.partner_slot() == Some(c.partner)),
        event_recordable: couple.care_team && open && c.expiry_event.is_some(),
        scan: c.scan.as_ref().map(|s| format!("{}, {} KiB, uploaded {}", s.content_type, (s.size_bytes + 1023) / 1024, crate::display::local_time(s.uploaded_at, &couple.time_zone))).unwrap_or_default(),
        scan_downloadable: c.scan.is_some() && (access.relation == Relation::CareTeam || access.partner_slot() == Some(c.partner)),
        scan_uploadable: couple.care_team && paper && c.scan.is_none(),
        scan_refused: false,
        ended,
        purpose: c.purpose,
        until,
    }
}

async fn consents_page(
    state: &AppState,
    session: &Session,
    current: &CurrentMember,
    access: &CoupleAccess,
    form: ConsentForm,
    errors: FormErrors,
    scan_refused: Option<Uuid>,
) -> Result<ConsentsPage, AppError> {
    let couple = CoupleContext::of(access, current).await?;
    let today = state.clock.now().date();
    let consents = consents::list(access)
        .await?
        .into_iter()
        .map(|c| ConsentRow { scan_refused: scan_refused == Some(c.id), ..row(c, &couple, access, today) })
        .collect();
    let register = disclosures::list(access).await?.into_iter().map(|d| RegisterRow::of(d, &couple)).collect();
    let chrome = Chrome::of(session, current).await?;
    let kinds = RecordKind::ALL.into_iter().map(|k| (format!("kind_{}", k.as_str()), k.words().to_owned(), form.kind(k))).collect();
    let scan_refused = scan_refused.is_some();
    Ok(ConsentsPage { nav: chrome.nav, csrf_token: chrome.csrf_token, couple, consents, register, form, kinds, errors, scan_refused })
}

pub async fn page(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path(couple_id): Path<Uuid>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(render(&consents_page(&state, &session, &current, &access, ConsentForm::default(), FormErrors::default(), None).await?))
}

pub async fn create(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path(couple_id): Path<Uuid>,
    CsrfForm(form): CsrfForm<ConsentForm>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::PartnerOrCareTeam).await?;
    let created = match form.input() {
        Ok(input) => consents::create(&access, state.clock.now(), input).await,
        Err(err) => Err(err),
    };
    match created {
        Ok(consent) => {
            consents::mark_change(&access, &audit, "consent_create", &consent).await?;
            Ok(Redirect::to(&format!("/couples/{couple_id}/consents")).into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let page = consents_page(&state, &session, &current, &access, form, errors.into(), None).await?;
            Ok(again(StatusCode::UNPROCESSABLE_ENTITY, render(&page)))
        }
        Err(other) => Err(other.into()),
    }
}

/// Ends a consent (revoked, or its event recorded) and shows the page again.
async fn end(state: &AppState, current: &CurrentMember, audit: &AuditContext, (couple_id, consent_id): (Uuid, Uuid), how: Ending) -> PageResult {
    let access = access::couple(state, audit, current, couple_id, how.need()).await?;
    consents::end(&access, audit, state.clock.now(), consent_id, how).await?;
    Ok(Redirect::to(&format!("/couples/{couple_id}/consents")).into_response())
}

pub async fn revoke(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path(ids): Path<(Uuid, Uuid)>,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> PageResult {
    end(&state, &current, &audit, ids, Ending::Revocation).await
}

/// The care team records that the event a consent expires on happened.
pub async fn record_event(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path(ids): Path<(Uuid, Uuid)>,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> PageResult {
    end(&state, &current, &audit, ids, Ending::Event).await
}

/// The care team uploads the scan of a paper consent; a refused file is
/// named beside that consent's upload form.
pub async fn upload_scan(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path((couple_id, consent_id)): Path<(Uuid, Uuid)>,
    upload: CsrfUpload,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    match consent_scans::upload(&access, state.clock.now(), consent_id, &upload.bytes, upload.content_type.as_deref()).await {
        Ok(_) => Ok(Redirect::to(&format!("/couples/{couple_id}/consents")).into_response()),
        Err(AppError::Invalid(errors)) => {
            let page = consents_page(&state, &session, &current, &access, ConsentForm::default(), errors.into(), Some(consent_id)).await?;
            Ok(again(StatusCode::UNPROCESSABLE_ENTITY, render(&page)))
        }
        Err(other) => Err(other.into()),
    }
}

/// The scan of a paper consent, for the care team and the partner who signed it.
pub async fn download_scan(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path((couple_id, consent_id)): Path<(Uuid, Uuid)>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    let scan = consent_scans::download(&access, consent_id).await?;
    Ok(([(header::CONTENT_TYPE, scan.content_type), (header::CONTENT_DISPOSITION, scan.disposition)], scan.bytes).into_response())
}
