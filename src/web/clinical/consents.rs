//! The consents page of a couple: the consents to disclose (42 CFR 2.31) and
//! the register of disclosures. The care team records a paper consent and
//! sees the couple's register; a partner signs their own consent in the
//! portal, revokes it, and reads who received their records. The rules are
//! those of `/api/v1/couples/{id}/consents` (records::consents).

use askama::Template;
use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Redirect},
};
use serde::Deserialize;
use tower_sessions::Session;
use uuid::Uuid;

use super::{Chrome, CoupleContext, PageResult, again, forms};
use crate::{
    access::{self, CoupleAccess, Need},
    audit::AuditContext,
    auth::CurrentMember,
    error::AppError,
    records::{
        common::StoredEnum,
        consents::{self, ConsentInput, ConsentView, RecipientKind, RecordKind},
        disclosures::{self, DisclosureView},
    },
    state::AppState,
    web::{CsrfForm, CsrfOnly, Path, SignedIn, render, templates::{FormErrors, Nav}},
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
    /// Whether the reader may revoke it here.
    pub revocable: bool,
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
) -> Result<ConsentsPage, AppError> {
    let couple = CoupleContext::of(access, current).await?;
    let today = state.clock.now().date();
    let consents = consents::list(access).await?.into_iter().map(|c| row(c, &couple, access, today)).collect();
    let register = disclosures::list(access).await?.into_iter().map(|d| RegisterRow::of(d, &couple)).collect();
    let chrome = Chrome::of(session, current).await?;
    let kinds = RecordKind::ALL.into_iter().map(|k| (format!("kind_{}", k.as_str()), k.words().to_owned(), form.kind(k))).collect();
    Ok(ConsentsPage { nav: chrome.nav, csrf_token: chrome.csrf_token, couple, consents, register, form, kinds, errors })
}

pub async fn page(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path(couple_id): Path<Uuid>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(render(&consents_page(&state, &session, &current, &access, ConsentForm::default(), FormErrors::default()).await?))
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
            let page = consents_page(&state, &session, &current, &access, form, errors.into()).await?;
            Ok(again(StatusCode::UNPROCESSABLE_ENTITY, render(&page)))
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn revoke(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path((couple_id, consent_id)): Path<(Uuid, Uuid)>,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::PartnerOrCareTeam).await?;
    audit.describe_as("consent", "revoke");
    let (consent, changed) = consents::revoke(&access, state.clock.now(), consent_id).await?;
    if changed {
        consents::mark_change(&access, &audit, "consent_revoke", &consent).await?;
    }
    Ok(Redirect::to(&format!("/couples/{couple_id}/consents")).into_response())
}
