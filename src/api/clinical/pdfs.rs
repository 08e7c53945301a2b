//! PDFs: the session-prep summary and each partner's plan. Rendering runs on
//! the blocking pool, unless an equal document was just rendered
//! (`pdf::Renderings`); each PDF is an export event in the access log.

use crate::records::couples::CoupleId;
use axum::{
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    state::AppState,
    access::{self, Need, Relation},
    api::{Path, Problem, Query},
    audit::AuditContext,
    auth::CurrentMember,
    error::AppError,
    pdf::{self, reports},
    records::{
        common::PartnerSlot,
        milestones,
        session_prep,
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(session_prep_pdf)).routes(routes!(partner_plan_pdf))
}

pub(super) async fn pdf_response(state: &AppState, doc: pdf::Document, file_name: &'static str) -> Result<Response, AppError> {
    let bytes = state.renderings.render(doc).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (header::CONTENT_DISPOSITION, format!("inline; filename=\"{file_name}\"")),
        ],
        bytes,
    )
        .into_response())
}

/// The session-prep summary for a joint session (care team and supervisors).
#[utoipa::path(get, path = "/couples/{couple_id}/summary.pdf", tag = "clinical", params(("couple_id" = Uuid, Path), PrepFor),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 404, body = Problem)))]
async fn session_prep_pdf(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    Query(prep_for): Query<PrepFor>,
) -> Result<Response, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    audit.describe_as("session_prep_summary", "export");
    if !access.is_clinician() {
        return Err(AppError::NotFound);
    }
    let prepared_for = format!("{} ({})", current.member.display_name, access.relation.as_str().replace('_', " "));
    let today = milestones::practice_today(&state, &current.practice.time_zone);
    let prep = session_prep::prepare(&access, prep_for.session_id, today, state.clock.now(), &current.practice.time_zone).await?;
    let doc = reports::session_prep(&prep, state.clock.now(), &current.practice.name, &current.practice.time_zone, &prepared_for);
    pdf_response(&state, doc, "session-prep-summary.pdf").await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PrepFor {
    /// The session to prepare; default: the couple's next one.
    session_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PlanFor {
    /// Whose plan: a partner gets their own; the care team names the partner.
    partner: Option<PartnerSlot>,
}

/// A partner's own plan, with exactly what that partner may see, support
/// contacts and crisis lines.
#[utoipa::path(get, path = "/couples/{couple_id}/plan.pdf", tag = "clinical", params(("couple_id" = Uuid, Path), PlanFor),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn partner_plan_pdf(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    Query(query): Query<PlanFor>,
) -> Result<Response, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    audit.describe_as("partner_plan", "export");
    let slot = match (access.relation, query.partner) {
        (Relation::Partner(me), None) => me,
        (Relation::Partner(me), Some(asked)) if asked == me => me,
        (Relation::Partner(_), Some(_)) => return Err(AppError::NotFound),
        (_, Some(asked)) => asked,
        (_, None) => return Err(AppError::invalid("partner", "say whose plan: a or b")),
    };
    // The event names whose plan it is: it holds that partner's own safety plan.
    if let Some(partner) = crate::records::couples::partner_id(&access, slot).await? {
        audit.about(partner);
    }
    let seen_as_partner = access.as_partner(slot);
    let doc = reports::partner_plan(state.clock.now(), &seen_as_partner, slot, &current.practice.name, &current.practice.time_zone, true).await?;
    pdf_response(&state, doc, "my-plan.pdf").await
}
