//! Clinical records and their rules. Every function here takes a
//! [`crate::access::CoupleAccess`] (or creates the couple it will hand out),
//! so no record is reachable without the access check.

pub mod boundaries;
pub mod common;
pub mod contract;
pub mod lapses;
pub mod milestones;
pub mod couples;
pub mod notes;
pub mod overview;
pub mod plans;
pub mod private_notes;
pub mod safety_plans;
pub mod sessions;
pub mod sobriety;
pub mod consent_scans;
pub mod consents;
pub mod disclosures;
pub mod fhir;
pub mod safety_gate;
pub mod craft;
pub mod lapse_response;
pub mod session_prep;
pub mod progress;

use sea_orm::{ColumnTrait, QueryFilter};
use uuid::Uuid;

use crate::{access::CoupleAccess, error::AppError};
use common::{PageQuery, StoredEnum};

/// What an access event was about, in words for the person reading "who
/// viewed your records": the kind of record and, to tell records apart, a
/// date or category, never clinical text. `None` when that person may not
/// see it (the rules are in [`crate::audit::viewings`]).
pub async fn viewed_record(access: &CoupleAccess, kind: Option<&str>, id: Option<Uuid>) -> Result<Option<String>, AppError> {
    let kind = kind.unwrap_or_default();
    let words = match id {
        Some(id) => named_record(access, kind, id).await,
        None => kind_of_record(access, kind).await,
    };
    match words {
        Ok(words) => Ok(words),
        Err(AppError::NotFound) => Ok(None),
        Err(other) => Err(other),
    }
}

/// A record named by id: shown when the caller may read it now.
async fn named_record(access: &CoupleAccess, kind: &str, id: Uuid) -> Result<Option<String>, AppError> {
    Ok(Some(match kind {
        "couple" if id == access.couple_id() => "The couple's records".into(),
        "session" => format!("Session of {}", sessions::get(access, id).await?.starts_at.date()),
        "note" => format!("Session note ({})", notes::get(access, id).await?.format.as_str().to_uppercase()),
        "boundary" => format!("Boundary about {}", boundaries::get(access, id).await?.category.as_str().replace('_', " ")),
        "lapse" => format!("Lapse of {}", lapses::get(access, id).await?.occurred_on),
        "safety_plan" => match (safety_plans::get(access, id).await?.owner, access.partner_slot()) {
            (safety_plans::SafetyPlanOwner::Couple, _) => "The couple's safety plan".into(),
            (_, Some(_)) => "Your safety plan".into(),
            (owner, None) => format!("Safety plan of partner {}", owner.as_str().trim_start_matches("partner_").to_uppercase()),
        },
        "partner_plan" => {
            let slot = couples::partner_slot(access, id).await?;
            match access.partner_slot() {
                Some(me) if me == slot => "Your plan (PDF)".into(),
                Some(_) => return Ok(None),
                None => format!("Plan (PDF) of partner {}", slot.as_str().to_uppercase()),
            }
        }
        "consent" => format!("Consent signed {}", consents::get(access, id).await?.signed_at.date()),
        "craft_item" => match (craft::get(access, id).await?.owner, access.partner_slot()) {
            (_, Some(_)) => "Your CRAFT track".into(),
            (owner, None) => format!("CRAFT track of partner {}", owner.as_str().to_uppercase()),
        },
        _ if access.is_clinician() => crate::display::humanize(kind),
        _ => return Ok(None),
    }))
}

/// A kind of record with no id (a list, or a document the couple has one
/// of): shown to a partner when they may read at least one record of it.
async fn kind_of_record(access: &CoupleAccess, kind: &str) -> Result<Option<String>, AppError> {
    let some = PageQuery { limit: Some(200), cursor: None };
    let audiences = access.visible_audiences();
    let (words, any) = match kind {
        "couple" => ("The couple's records", true),
        "sobriety" => ("Sobriety figures", true),
        "session_prep_summary" => ("Session-prep summary (PDF)", true),
        "viewing" => ("Who viewed the records", true),
        "plan" => ("Relapse-prevention plan", plans::current(access).await.is_ok_and(|p| !p.content.is_empty())),
        "lapse" => ("Lapses", exists::<entity::lapses::Entity>(access, entity::lapses::Column::Audience, &audiences).await?),
        "boundary" => ("Boundaries", exists::<entity::boundaries::Entity>(access, entity::boundaries::Column::Audience, &audiences).await?),
        "safety_plan" => ("Safety plans", exists::<entity::safety_plans::Entity>(access, entity::safety_plans::Column::Audience, &audiences).await?),
        "milestone" => (
            "Milestones",
            exists::<entity::custom_milestones::Entity>(access, entity::custom_milestones::Column::Audience, &audiences).await?,
        ),
        "session" => ("Sessions", !sessions::list(access, &some).await?.items.is_empty()),
        "note" => ("Session notes", !notes::list(access, None, &some).await?.items.is_empty()),
        "recovery_contract" => ("Recovery contract", contract::get(access).await.is_ok()),
        "contract_day" => ("Recovery contract calendar", contract::get(access).await.is_ok()),
        "consent" => ("Consents", !consents::list(access).await?.is_empty()),
        "disclosure" => ("Who received the records", !disclosures::list(access).await?.is_empty()),
        "craft_item" => ("CRAFT track", exists::<entity::craft_items::Entity>(access, entity::craft_items::Column::Audience, &audiences).await?),
        _ if access.is_clinician() => return Ok(Some(crate::display::humanize(kind))),
        _ => return Ok(None),
    };
    Ok((any || access.is_clinician()).then(|| words.to_owned()))
}

/// Whether the couple has a row of `E` whose audience is one of `audiences`.
async fn exists<E: crate::scope::CoupleOwned>(access: &CoupleAccess, audience: E::Column, audiences: &[String]) -> Result<bool, AppError> {
    Ok(access.records::<E>().filter(audience.is_in(audiences.iter().cloned())).one(&access.db()).await?.is_some())
}
