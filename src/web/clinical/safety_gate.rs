//! The safety gate's page: a partner says privately that they fear
//! violence; the care team records it for a partner, or clears it.
//! (The rules, and what each reader may learn, are in `records::safety_gate`.)

use crate::records::couples::CoupleId;
use askama::Template;
use axum::{
    extract::State,
    response::{IntoResponse, Redirect},
};
use serde::Deserialize;
use tower_sessions::Session;

use super::{Chrome, CoupleContext, PageResult, forms};
use crate::{
    state::AppState,
    access::{self, Need},
    audit::AuditContext,
    auth::CurrentMember,
    records::{
        common::PartnerSlot,
        safety_gate::{self, SafetyFlagInput},
    },
    web::{CsrfForm, Path, SignedIn, render, templates::Nav},
};

/// One partner's line on the care team's view of the gate.
pub struct FlagRow {
    pub slot: String,
    pub name: String,
    /// "Since ... (said so from the portal)", when their flag is open.
    pub open: Option<String>,
}

#[derive(Template)]
#[template(path = "safety_flag.html")]
pub struct SafetyFlagPage {
    pub nav: Option<Nav>,
    pub csrf_token: String,
    pub couple: CoupleContext,
    /// For a partner: when their own flag was raised, if it is open.
    pub mine: Option<String>,
    /// For the care team: each partner.
    pub partners: Vec<FlagRow>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct FlagForm {
    /// The care team names the partner; a partner leaves it empty.
    pub partner: String,
}

pub async fn page(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    let gate = safety_gate::status(&access).await?;
    let couple = CoupleContext::of(&access, &current).await?;
    let when = |slot: PartnerSlot| {
        gate.of(slot).map(|f| {
            let by = if f.raised_by_partner { "said so from the portal" } else { "recorded by the care team" };
            format!("since {} ({by})", crate::display::local_time(f.raised_at, &couple.time_zone))
        })
    };
    let mine = couple.partner.and_then(|slot| gate.of(slot)).map(|f| crate::display::local_time(f.raised_at, &couple.time_zone));
    let partners = match couple.partner {
        Some(_) => Vec::new(),
        None => [PartnerSlot::A, PartnerSlot::B]
            .into_iter()
            .map(|slot| FlagRow { slot: crate::records::common::StoredEnum::as_str(&slot), name: couple.names.of(slot).to_owned(), open: when(slot) })
            .collect(),
    };
    let chrome = Chrome::of(&session, &current).await?;
    Ok(render(&SafetyFlagPage { nav: chrome.nav, csrf_token: chrome.csrf_token, couple, mine, partners }).into_response())
}

pub async fn raise(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    CsrfForm(form): CsrfForm<FlagForm>,
) -> PageResult {
    change(&state, &current, &audit, couple_id, &form, false).await
}

pub async fn clear(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    CsrfForm(form): CsrfForm<FlagForm>,
) -> PageResult {
    change(&state, &current, &audit, couple_id, &form, true).await
}

/// Raises (a partner for themself, or the care team) or clears (the care team) a flag.
async fn change(state: &AppState, current: &CurrentMember, audit: &AuditContext, couple_id: CoupleId, form: &FlagForm, clearing: bool) -> PageResult {
    let need = if clearing { Need::Write } else { Need::PartnerOrCareTeam };
    let access = access::couple(state, audit, current, couple_id, need).await?;
    audit.describe_as("safety_flag", if clearing { "clear" } else { "flag" });
    let partner = forms::pick::<PartnerSlot>(&form.partner).map_err(|m| crate::error::AppError::invalid("partner", &m))?;
    let input = SafetyFlagInput { partner };
    if clearing {
        safety_gate::clear(&access, state.clock.now(), input).await?;
    } else {
        safety_gate::raise(&access, state.clock.now(), input).await?;
    }
    Ok(Redirect::to(&format!("/couples/{couple_id}/safety-flag")).into_response())
}
