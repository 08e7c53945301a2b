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
pub mod plans;
pub mod private_notes;
pub mod safety_plans;
pub mod sessions;
pub mod sobriety;

use uuid::Uuid;

use crate::{access::CoupleAccess, error::AppError};

/// Whether the caller may see the record an access event names: used to keep
/// a partner's view of the access log to records they may see themself.
pub async fn visible_to(access: &CoupleAccess, kind: Option<&str>, id: Option<Uuid>) -> Result<bool, AppError> {
    let Some(id) = id else {
        // Lists and couple-level documents: filtered for them when read.
        return Ok(!matches!(kind, Some("private_note" | "access_event")));
    };
    let seen = match kind {
        Some("couple") => Ok(()),
        Some("session") => sessions::get(access, id).await.map(drop),
        Some("note") => notes::get(access, id).await.map(drop),
        Some("boundary") => boundaries::get(access, id).await.map(drop),
        Some("safety_plan") => safety_plans::get(access, id).await.map(drop),
        Some("lapse") => lapses::get(access, id).await.map(drop),
        _ => Err(AppError::NotFound),
    };
    match seen {
        Ok(()) => Ok(true),
        Err(AppError::NotFound) => Ok(false),
        Err(other) => Err(other),
    }
}
