//! The consents page of a couple: the consents to disclose (42 CFR 2.31) and
//! the register of disclosures. The care team records a paper consent,
//! sees the couple's register, and discloses records to a recipient a
//! consent in force names (the plan as a PDF with the 2.32 notice, or the
//! chart as FHIR R4 JSON); a partner signs their own consent in the
//! portal, revokes it, and reads who received their records. The rules are
//! those of `/api/v1/couples/{id}/consents`, `.../disclosures/plan.pdf`
//! and `.../fhir-export` (records::consents, disclosures, fhir).

use crate::records::couples::CoupleId;
use askama::Template;
use axum::{
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Redirect, Response},
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
        common::PartnerSlot,
        consent_scans,
        consents::{self, ConsentInput, ConsentView, Ending, EventEndCause, RecipientKind, RecordKind},
        disclosures::{self, DisclosedCopyInput, DisclosureView},
        fhir::{self, FhirExportInput},
    },
    state::AppState,
    web::{CsrfForm, CsrfOnly, CsrfUpload, Path, SignedIn, render, templates::{Choice, FormErrors, Nav}},
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
    pub disclose: DiscloseForm,
    pub disclose_errors: FormErrors,
    /// For the care team: the recipients the consents in force name, by partner.
    pub recipients: Vec<RecipientGroup>,
    /// Whether a scan upload was refused (its message shows beside its consent).
    pub scan_refused: bool,
}

/// The recipients one partner's consents in force name.
pub struct RecipientGroup {
    pub label: String,
    pub options: Vec<Choice>,
}

/// What the page's forms were sent with, shown again with their errors.
#[derive(Default)]
pub struct Typed {
    pub consent: ConsentForm,
    pub consent_errors: FormErrors,
    pub disclose: DiscloseForm,
    pub disclose_errors: FormErrors,
    /// The consent whose scan upload was refused.
    pub scan_refused: Option<Uuid>,
}

/// The "Disclose records" form, with the API's field names.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct DiscloseForm {
    pub partner: String,
    pub recipient: String,
    pub purpose: String,
    pub format: String,
}

/// What leaves: the partner's plan as a PDF, or their chart as FHIR R4 JSON.
#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    PlanPdf,
    Fhir,
}

impl DiscloseForm {
    fn parse(&self) -> Result<(Format, PartnerSlot), AppError> {
        let mut f = crate::practice::Fields::default();
        let partner = f.check("partner", forms::pick_required::<PartnerSlot>(&self.partner));
        let format = f.check("format", forms::pick_required::<Format>(&self.format));
        f.finish_with(|| Some((format?, partner?)))
    }
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

/// The recipients the care team may pick: those named by each partner's
/// consents in force that the caller may act on. (The disclosure itself is
/// decided again by `access::consent_in_force` when the form is sent.)
fn recipients(all: &[ConsentView], couple: &CoupleContext, access: &CoupleAccess, today: time::Date, typed: &DiscloseForm) -> Vec<RecipientGroup> {
    if !couple.care_team {
        return Vec::new();
    }
    [PartnerSlot::A, PartnerSlot::B]
        .into_iter()
        .filter_map(|slot| {
            let options: Vec<Choice> = all
                .iter()
                .filter(|c| c.partner == slot && c.in_force(today) && c.recipient_kind == RecipientKind::Named)
                .filter(|c| c.discloser_member_id.is_none_or(|m| m == access.member_id))
                .filter_map(|c| {
                    let name = c.recipient_name.clone()?;
                    let what = c.record_kinds.iter().map(|k| k.words()).collect::<Vec<_>>().join(", ");
                    let selected = typed.partner == slot.as_str() && typed.recipient == name;
                    Some(Choice { label: format!("{name} ({what})"), value: name, selected })
                })
                .collect();
            (!options.is_empty()).then(|| RecipientGroup { label: format!("Named in {}'s consents", couple.names.of(slot)), options })
        })
        .collect()
}

async fn consents_page(
    state: &AppState,
    session: &Session,
    current: &CurrentMember,
    access: &CoupleAccess,
    typed: Typed,
) -> Result<ConsentsPage, AppError> {
    let couple = CoupleContext::of(access, current).await?;
    let today = state.clock.now().date();
    let all = consents::list(access).await?;
    let recipients = recipients(&all, &couple, access, today, &typed.disclose);
    let consents = all
        .into_iter()
        .map(|c| ConsentRow { scan_refused: typed.scan_refused == Some(c.id), ..row(c, &couple, access, today) })
        .collect();
    let register = disclosures::list(access).await?.into_iter().map(|d| RegisterRow::of(d, &couple)).collect();
    let chrome = Chrome::of(session, current).await?;
    let form = typed.consent;
    let kinds = RecordKind::ALL.into_iter().map(|k| (format!("kind_{}", k.as_str()), k.words().to_owned(), form.kind(k))).collect();
    Ok(ConsentsPage {
        nav: chrome.nav,
        csrf_token: chrome.csrf_token,
        couple,
        consents,
        register,
        form,
        kinds,
        errors: typed.consent_errors,
        disclose: typed.disclose,
        disclose_errors: typed.disclose_errors,
        recipients,
        scan_refused: typed.scan_refused.is_some(),
    })
}

pub async fn page(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(render(&consents_page(&state, &session, &current, &access, Typed::default()).await?))
}

pub async fn create(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
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
            let typed = Typed { consent: form, consent_errors: errors.into(), ..Typed::default() };
            let page = consents_page(&state, &session, &current, &access, typed).await?;
            Ok(again(StatusCode::UNPROCESSABLE_ENTITY, render(&page)))
        }
        Err(other) => Err(other.into()),
    }
}

/// Ends a consent (revoked, or its event recorded) and shows the page again.
async fn end(state: &AppState, current: &CurrentMember, audit: &AuditContext, (couple_id, consent_id): (CoupleId, Uuid), how: Ending) -> PageResult {
    let access = access::couple(state, audit, current, couple_id, how.need()).await?;
    consents::end(&access, audit, state.clock.now(), consent_id, how).await?;
    Ok(Redirect::to(&format!("/couples/{couple_id}/consents")).into_response())
}

pub async fn revoke(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path(ids): Path<(CoupleId, Uuid)>,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> PageResult {
    end(&state, &current, &audit, ids, Ending::Revocation).await
}

/// The care team records that the event a consent expires on happened.
pub async fn record_event(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path(ids): Path<(CoupleId, Uuid)>,
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
    Path((couple_id, consent_id)): Path<(CoupleId, Uuid)>,
    upload: CsrfUpload,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    match consent_scans::upload(&access, state.clock.now(), consent_id, &upload.bytes, upload.content_type.as_deref()).await {
        Ok(_) => Ok(Redirect::to(&format!("/couples/{couple_id}/consents")).into_response()),
        Err(AppError::Invalid(errors)) => {
            let typed = Typed { consent_errors: errors.into(), scan_refused: Some(consent_id), ..Typed::default() };
            let page = consents_page(&state, &session, &current, &access, typed).await?;
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
    Path((couple_id, consent_id)): Path<(CoupleId, Uuid)>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    let scan = consent_scans::download(&access, consent_id).await?;
    Ok(([(header::CONTENT_TYPE, scan.content_type), (header::CONTENT_DISPOSITION, scan.disposition)], scan.bytes).into_response())
}

/// Discloses a partner's records to a recipient their consent names (care
/// team only, as through the API): the file downloads, with the register
/// row and the access event the API's disclosure leaves. Without a consent
/// in force the page says which one is missing, and nothing leaves.
pub async fn disclose(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    CsrfForm(form): CsrfForm<DiscloseForm>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    let (practice, zone) = (&current.practice.name, &current.practice.time_zone);
    let (recipient, purpose) = (form.recipient.clone(), form.purpose.clone());
    let disclosed = match form.parse() {
        Ok((Format::PlanPdf, partner)) => {
            audit.describe_as("partner_plan", "export");
            let input = DisclosedCopyInput { partner, recipient, purpose };
            match disclosures::disclosed_plan(state.clock.now(), &access, input, practice, zone).await {
                Ok(doc) => crate::pdf::render_off_runtime(doc).await.map(|pdf| download("application/pdf", "disclosed-plan.pdf", pdf)),
                Err(err) => Err(err),
            }
        }
        Ok((Format::Fhir, partner)) => {
            audit.describe_as("couple_chart", "export");
            let input = FhirExportInput { partner, recipient, purpose };
            fhir::export(state.clock.now(), &access, input, practice, zone).await.map(|bundle| download("application/fhir+json", "chart.fhir.json", bundle.to_string()))
        }
        Err(err) => Err(err),
    };
    let (status, disclose_errors) = match disclosed {
        Ok(file) => return Ok(file),
        Err(AppError::Invalid(errors)) => (StatusCode::UNPROCESSABLE_ENTITY, errors.into()),
        Err(AppError::Conflict(message)) => (StatusCode::CONFLICT, FormErrors::form(message)),
        Err(other) => return Err(other.into()),
    };
    let typed = Typed { disclose: form, disclose_errors, ..Typed::default() };
    Ok(again(status, render(&consents_page(&state, &session, &current, &access, typed).await?)))
}

/// A file the browser saves rather than shows.
fn download(content_type: &'static str, file_name: &'static str, body: impl IntoResponse) -> Response {
    let disposition = format!("attachment; filename=\"{file_name}\"");
    ([(header::CONTENT_TYPE, content_type.to_owned()), (header::CONTENT_DISPOSITION, disposition)], body).into_response()
}
