//! Pages for clinical records: the counselor's dashboard, the couple page
//! (which partners see too, cut to what is shared with them) and the forms
//! for each record. Every handler reaches records through `access::couple`,
//! exactly as the API does, and every route sits behind the access-log layer
//! (`web::audited`), so each page view or form post leaves one event.
//!
//! Forms follow Post/Redirect/Get. A form with errors is shown again with
//! what was typed, a message next to each field, and status 422; an edit
//! that lost a race to someone else's is shown again with both versions
//! (status 409) and nothing typed is lost.

mod boundaries;
mod care_team;
mod consents;
mod contract;
mod couple;
mod calendar;
mod dashboard;
mod editing;
pub mod forms;
mod lapses;
mod logs;
mod notes;
mod plan;
mod private_notes;
mod safety_plans;
mod sessions;
mod safety_gate;
mod craft;
mod lapse_steps;
mod pictures;
mod prep;

use crate::records::couples::CoupleId;
use axum::{
    Router,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use tower_sessions::Session;

use self::forms::PartnerNames;
use crate::{
    state::AppState,
    access::{CoupleAccess, Relation},
    auth::{CurrentMember, csrf},
    error::AppError,
    web::PageError,
    records::{common::{PartnerSlot, StoredEnum}, couples::{self, SecretsPolicy}},
    web::templates::{FormErrors, Nav},
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(dashboard::page))
        .route("/calendar", get(calendar::page))
        .route("/couples/new", get(couple::new_form))
        .route("/couples", post(couple::create))
        .route("/couples/{couple_id}", get(couple::page).post(couple::update))
        .route("/couples/{couple_id}/edit", get(couple::edit_form))
        .route("/couples/{couple_id}/partners/{slot}", post(couple::update_partner))
        .route("/couples/{couple_id}/care-team", get(care_team::page).post(care_team::add))
        .route("/couples/{couple_id}/care-team/{member_id}/remove", post(care_team::remove))
        .route("/couples/{couple_id}/plan/edit", get(plan::edit_form))
        .route("/couples/{couple_id}/plan", post(plan::save))
        .route("/couples/{couple_id}/plan/share", post(plan::share))
        .route("/couples/{couple_id}/recovery-contract", get(contract::page).post(contract::save))
        .route("/couples/{couple_id}/recovery-contract/edit", get(contract::edit_form))
        .route("/couples/{couple_id}/recovery-contract/days/{day}", post(contract::check_in))
        .route("/couples/{couple_id}/milestones/new", get(logs::new_milestone))
        .route("/couples/{couple_id}/milestones", post(logs::add_milestone))
        .route("/couples/{couple_id}/boundaries/{boundary_id}/events/new", get(logs::new_boundary_event))
        .route("/couples/{couple_id}/boundaries/{boundary_id}/events", post(logs::add_boundary_event))
        .route("/couples/{couple_id}/boundaries/{boundary_id}/agree", post(boundaries::agree))
        .route("/couples/{couple_id}/boundaries/{boundary_id}/retire", post(boundaries::retire))
        .route("/couples/{couple_id}/sessions/{session_id}/notes/new", get(notes::new_form))
        .route("/couples/{couple_id}/sessions/{session_id}/notes", post(notes::create))
        .route("/couples/{couple_id}/notes/{note_id}", get(notes::page).post(notes::update))
        .route("/couples/{couple_id}/notes/{note_id}/edit", get(notes::edit_form))
        .route("/couples/{couple_id}/notes/{note_id}/sign", post(notes::sign))
        .route("/couples/{couple_id}/notes/{note_id}/cosign", post(notes::cosign))
        .route("/couples/{couple_id}/notes/{note_id}/addenda", post(notes::add_addendum))
        .route("/couples/{couple_id}/lapse-steps/{step_id}", post(lapse_steps::mark))
        .route("/couples/{couple_id}/sessions/{session_id}/prep", get(prep::page))
        .route("/couples/{couple_id}/sessions/{session_id}/agenda", post(prep::save_agenda))
        .merge(editable::<boundaries::Boundaries>("boundary_id"))
        .merge(editable::<sessions::Sessions>("session_id"))
        .merge(editable::<lapses::Lapses>("lapse_id"))
        .merge(editable::<safety_plans::SafetyPlans>("plan_id"))
        .merge(editable::<private_notes::PrivateNotes>("note_id"))
        .route("/couples/{couple_id}/consents", get(consents::page).post(consents::create))
        .route("/couples/{couple_id}/consents/{consent_id}/revoke", post(consents::revoke))
        .route("/couples/{couple_id}/disclosures", post(consents::disclose))
        .route("/couples/{couple_id}/consents/{consent_id}/event", post(consents::record_event))
        .route("/couples/{couple_id}/consents/{consent_id}/scan", get(consents::download_scan).post(consents::upload_scan))
        .route("/couples/{couple_id}/safety-flag", get(safety_gate::page).post(safety_gate::raise))
        .route("/couples/{couple_id}/safety-flag/clear", post(safety_gate::clear))
        .route("/couples/{couple_id}/craft-items", get(craft::page).post(craft::create))
        .route("/couples/{couple_id}/craft-items/{item_id}/check-offs", post(craft::check_off))
}

/// New, create, edit and update for one kind of record, named as the API
/// names it (`/couples/{couple_id}/lapses/{lapse_id}`), so the access log
/// describes page and API requests alike.
fn editable<R: editing::EditableRecord>(id: &str) -> Router<AppState> {
    let base = format!("/couples/{{couple_id}}/{}", R::SEGMENT);
    let one = format!("{base}/{{{id}}}");
    Router::new()
        .route(&format!("{base}/new"), get(editing::new_form::<R>))
        .route(&base, post(editing::create::<R>))
        .route(&format!("{one}/edit"), get(editing::edit_form::<R>))
        .route(&one, post(editing::update::<R>))
}

type PageResult = Result<Response, PageError>;

/// What every page about one couple shows in its heading, and how the
/// reader stands to the couple.
pub struct CoupleContext {
    pub id: CoupleId,
    pub label: String,
    pub names: PartnerNames,
    /// A counselor on the care team: may edit.
    pub care_team: bool,
    pub supervisor: bool,
    /// The partner reading, when a partner reads.
    pub partner: Option<PartnerSlot>,
    pub emergency: bool,
    pub time_zone: String,
    /// What the couple agreed at intake: it sets who sees material left at its default audience.
    pub secrets_policy: SecretsPolicy,
    /// For the care team while a partner fears violence: the warning every
    /// page about the couple shows first. Never set for a partner.
    pub safety_first: Option<String>,
    /// Joint check-ins are paused (partners are told so without the reason).
    pub checkins_paused: bool,
}

impl CoupleContext {
    pub async fn of(access: &CoupleAccess, current: &CurrentMember) -> Result<Self, AppError> {
        let gate = crate::records::safety_gate::status(access).await?;
        let mut ctx = Self::from_view(access, current, &couples::view(access).await?);
        ctx.checkins_paused = crate::records::safety_gate::pauses_joint_work(access).await?;
        ctx.note_safety(&gate);
        Ok(ctx)
    }

    /// Sets the care team's warning from the safety gate as the reader knows it.
    pub fn note_safety(&mut self, gate: &crate::records::safety_gate::SafetyGateView) {
        if !self.is_clinician() || gate.open.is_empty() {
            return;
        }
        let who: Vec<String> = gate
            .open
            .iter()
            .map(|f| format!("{} fears violence (since {})", self.names.of(f.partner), crate::display::local_time(f.raised_at, &self.time_zone)))
            .collect();
        let alone: Vec<&str> = gate.open.iter().map(|f| self.names.of(f.partner)).collect();
        self.safety_first = Some(format!(
            "Safety first: {}. Joint check-ins are paused. See {} alone before any joint session or joint exercise, \
             and say nothing of this in front of the other partner.",
            who.join("; "),
            alone.join(" and ")
        ));
    }

    /// The context from a view of the couple already read.
    pub fn from_view(access: &CoupleAccess, current: &CurrentMember, view: &couples::CoupleView) -> Self {
        let name = |slot: PartnerSlot| {
            view.partners
                .iter()
                .find(|p| p.slot == slot)
                .map(|p| p.preferred_name.clone().unwrap_or_else(|| p.full_name.clone()))
                .unwrap_or_else(|| format!("Partner {}", slot.as_str().to_uppercase()))
        };
        Self {
            id: access.couple_id(),
            label: view.label.clone(),
            names: PartnerNames { a: name(PartnerSlot::A), b: name(PartnerSlot::B) },
            care_team: access.relation == Relation::CareTeam,
            supervisor: access.relation == Relation::Supervisor,
            partner: access.partner_slot(),
            emergency: access.relation == Relation::Emergency,
            time_zone: current.practice.time_zone.clone(),
            secrets_policy: view.secrets_policy,
            safety_first: None,
            checkins_paused: false,
        }
    }

    /// A partner as the page names them to its reader: "You" to that
    /// partner, their name to everyone else.
    pub fn who(&self, slot: PartnerSlot) -> String {
        if self.partner == Some(slot) { "You".into() } else { self.names.of(slot).to_owned() }
    }

    /// "You agreed", "Dan has not agreed yet".
    pub fn agreement(&self, slot: PartnerSlot, agreed: bool) -> String {
        let verb = match (agreed, self.partner == Some(slot)) {
            (true, _) => "agreed",
            (false, true) => "have not agreed yet",
            (false, false) => "has not agreed yet",
        };
        format!("{} {verb}", self.who(slot))
    }

    /// For templates: partner A and B as [`Self::who`] names them, and
    /// their agreement as [`Self::agreement`] says it.
    pub fn who_a(&self) -> String {
        self.who(PartnerSlot::A)
    }

    pub fn who_b(&self) -> String {
        self.who(PartnerSlot::B)
    }

    pub fn agreement_a(&self, agreed: &bool) -> String {
        self.agreement(PartnerSlot::A, *agreed)
    }

    pub fn agreement_b(&self, agreed: &bool) -> String {
        self.agreement(PartnerSlot::B, *agreed)
    }

    pub fn href(&self) -> String {
        format!("/couples/{}", self.id)
    }

    pub fn is_clinician(&self) -> bool {
        self.partner.is_none()
    }

    /// Why the check-in form is not shown, worded for the reader.
    pub fn paused_message(&self) -> &'static str {
        use crate::records::safety_gate::{PAUSED_FOR_CARE_TEAM, PAUSED_FOR_PARTNERS};
        if self.is_clinician() { PAUSED_FOR_CARE_TEAM } else { PAUSED_FOR_PARTNERS }
    }
}

/// The header and CSRF token every signed-in page needs.
pub struct Chrome {
    pub nav: Option<Nav>,
    pub csrf_token: String,
}

impl Chrome {
    pub async fn of(session: &Session, current: &CurrentMember) -> Result<Self, AppError> {
        Ok(Self { nav: crate::web::nav(session, current).await?, csrf_token: csrf::token(session).await? })
    }
}

/// A page that shows a form again: with errors (422) or after losing a race (409).
pub fn again(status: StatusCode, html: Response) -> Response {
    (status, html).into_response()
}

/// What a failed save means for the form: show it again with these
/// messages, or (for anything else) an error page.
pub enum Rejected {
    Invalid(FormErrors),
    /// Someone saved a newer version first.
    Stale,
}

impl Rejected {
    pub fn from(err: AppError) -> Result<Self, AppError> {
        match err {
            AppError::Invalid(errors) => Ok(Rejected::Invalid(errors.into())),
            AppError::Conflict(message) => Ok(Rejected::Invalid(FormErrors::form(message))),
            AppError::PreconditionFailed => Ok(Rejected::Stale),
            other => Err(other),
        }
    }
}

/// The message above the couple's details when someone else saved first.
pub const STALE_DETAILS: &str = "Someone else changed these details while you were editing. The page now shows their version; \
make your change again.";

/// The message above a form that lost a race.
pub const STALE: &str = "Someone else saved this while you were editing. Their version is shown next to your form, \
and what you typed is still in the form. Save again to replace their version with yours, or change your text first.";
