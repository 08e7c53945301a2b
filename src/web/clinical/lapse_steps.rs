//! The live lapse-response timeline on the couple page: each step with its
//! due time, who it belongs to, and a button for that person to mark it
//! done (or take the mark back).

use crate::records::couples::CoupleId;
use axum::{
    extract::State,
    response::{IntoResponse, Redirect},
};
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{CoupleContext, PageResult, editing::parse_version, forms::label};
use crate::{
    state::AppState,
    access::{self, Need},
    audit::AuditContext,
    records::{common::IfMatch, lapse_response::{self, StepView}},
    web::{CsrfForm, Path, SignedIn, local_time},
};

pub struct StepRow {
    pub id: Uuid,
    pub version: i32,
    pub when: String,
    pub who: String,
    pub action: String,
    pub due: String,
    /// When it was done, if it was.
    pub done: Option<String>,
    pub overdue: bool,
    /// The step the timeline is at: the open one due first.
    pub next: bool,
    /// The reader is the person the step belongs to.
    pub mine: bool,
}

/// The steps as the reader sees them, by due time.
pub fn rows(steps: &[StepView], ctx: &CoupleContext, now: OffsetDateTime) -> Vec<StepRow> {
    let next = lapse_response::due_next(steps).map(|s| s.id);
    steps
        .iter()
        .map(|s| StepRow {
            id: s.id,
            version: s.version,
            when: label(s.when),
            who: s.owner.map_or_else(|| "Counselor".to_owned(), |p| ctx.who(p)),
            action: s.action.clone(),
            due: local_time(s.due_at, &ctx.time_zone),
            done: s.done_at.map(|at| local_time(at, &ctx.time_zone)),
            overdue: s.is_overdue(now),
            next: next == Some(s.id),
            mine: match (ctx.partner, s.owner) {
                (Some(me), Some(owner)) => me == owner,
                (None, None) => ctx.care_team,
                _ => false,
            },
        })
        .collect()
}

#[derive(Deserialize)]
pub struct MarkForm {
    version: String,
    /// "1" marks it done; anything else takes the mark back.
    #[serde(default)]
    done: String,
}

/// The owner of a step marks it done, or not done after all.
pub async fn mark(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path((couple_id, step_id)): Path<(CoupleId, Uuid)>,
    CsrfForm(form): CsrfForm<MarkForm>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::PartnerOrCareTeam).await?;
    let version = IfMatch(parse_version(&form.version)?);
    lapse_response::mark(state.clock.now(), &access, step_id, version, form.done == "1").await?;
    Ok(Redirect::to(&format!("/couples/{couple_id}#step-{step_id}")).into_response())
}
