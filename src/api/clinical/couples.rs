//! Couples, partners and care teams.

use crate::practice::MemberId;
use crate::records::couples::CoupleId;
use axum::{extract::State, http::StatusCode, response::IntoResponse};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::Tagged;
use crate::{
    state::AppState,
    access::{self, Need},
    api::{Json, Path, Problem, Query},
    audit::AuditContext,
    auth::CurrentMember,
    error::AppError,
    records::{
        common::{IfMatch, Page, PageQuery, PartnerSlot},
        couples::{self, CareTeamMember, CoupleSummary, CoupleView, CouplePatch, NewCouple, PartnerInput, PartnerView},
        milestones,
        overview::{self, CoupleOverview, OverviewAt},
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_couples, create_couple))
        .routes(routes!(get_couple, update_couple))
        .routes(routes!(get_overview))
        .routes(routes!(update_partner))
        .routes(routes!(list_care_team, add_care_team_member))
        .routes(routes!(remove_care_team_member))
}

/// Couples the caller cares for, supervises, or belongs to.
#[utoipa::path(get, path = "/couples", tag = "clinical", params(PageQuery),
    responses((status = 200, body = Page<CoupleSummary>), (status = 401, body = Problem)))]
async fn list_couples(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Query(page): Query<PageQuery>,
) -> Result<axum::Json<Page<CoupleSummary>>, AppError> {
    access::practice_level(&audit, &current, None, false);
    Ok(axum::Json(couples::list(&state, &current, &page).await?))
}

/// Takes a couple into care; the counselor creating it joins its care team.
#[utoipa::path(post, path = "/couples", tag = "clinical", request_body = NewCouple,
    responses((status = 201, body = CoupleView, headers(("ETag" = String))),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn create_couple(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Json(body): Json<NewCouple>,
) -> Result<impl IntoResponse, AppError> {
    Ok((StatusCode::CREATED, Tagged(couples::create(&state, &audit, &current, body).await?)))
}

/// A couple with its partners and care team. Partners see each other's names,
/// not each other's personal details.
#[utoipa::path(get, path = "/couples/{couple_id}", tag = "clinical", params(("couple_id" = Uuid, Path)),
    responses((status = 200, body = CoupleView, headers(("ETag" = String))), (status = 404, body = Problem)))]
async fn get_couple(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
) -> Result<Tagged<CoupleView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(Tagged(couples::view(&access).await?))
}

/// Everything about the couple the caller may see, in one answer: partners
/// and care team, sobriety, the current plan, boundaries, safety plans, a
/// page of sessions with their notes, a page of lapses and (care team) the
/// caller's own private notes. Each list gives `next_cursor` when there is
/// more; pass it back in the parameter named after the list.
#[utoipa::path(get, path = "/couples/{couple_id}/overview", tag = "clinical", params(("couple_id" = Uuid, Path), OverviewAt),
    responses((status = 200, body = CoupleOverview), (status = 404, body = Problem), (status = 400, body = Problem)))]
async fn get_overview(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    Query(at): Query<OverviewAt>,
) -> Result<axum::response::Response, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    // A view of the couple's records, as the couple page is.
    audit.describe_as("couple", "view");
    let today = milestones::practice_today(&state, &current.practice.time_zone);
    // Serialized once per kept overview (an unchanged couple's JSON is kept).
    let json = overview::couple_as(&access, today, &at, "json", |seen: &CoupleOverview| {
        Ok(axum::body::Bytes::from(serde_json::to_vec(seen).map_err(anyhow::Error::from)?))
    })
    .await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], axum::body::Bytes::clone(&json)).into_response())
}

/// Changes status, label, secrets policy or start date (care team; needs If-Match).
#[utoipa::path(patch, path = "/couples/{couple_id}", tag = "clinical", params(("couple_id" = Uuid, Path),
        ("If-Match" = String, Header, description = "ETag of the version being changed")),
    request_body = CouplePatch,
    responses((status = 200, body = CoupleView, headers(("ETag" = String))), (status = 404, body = Problem),
        (status = 412, body = Problem), (status = 428, body = Problem), (status = 422, body = Problem)))]
async fn update_couple(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    if_match: IfMatch,
    Json(body): Json<CouplePatch>,
) -> Result<Tagged<CoupleView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    Ok(Tagged(couples::update(state.clock.now(), &access, if_match, body).await?))
}

/// Replaces one partner's details, including the link to their portal account (care team; If-Match).
#[utoipa::path(put, path = "/couples/{couple_id}/partners/{slot}", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("slot" = PartnerSlot, Path),
        ("If-Match" = String, Header, description = "The partner's version as ETag")),
    request_body = PartnerInput,
    responses((status = 200, body = PartnerView, headers(("ETag" = String))), (status = 404, body = Problem),
        (status = 412, body = Problem), (status = 428, body = Problem), (status = 422, body = Problem)))]
async fn update_partner(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, slot)): Path<(CoupleId, PartnerSlot)>,
    if_match: IfMatch,
    Json(body): Json<PartnerInput>,
) -> Result<Tagged<PartnerView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    Ok(Tagged(couples::update_partner(state.clock.now(), &current, &access, slot, if_match, body).await?))
}

/// The counselors on the couple's care team.
#[utoipa::path(get, path = "/couples/{couple_id}/care-team", tag = "clinical", params(("couple_id" = Uuid, Path)),
    responses((status = 200, body = Vec<CareTeamMember>), (status = 404, body = Problem)))]
async fn list_care_team(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
) -> Result<axum::Json<Vec<CareTeamMember>>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(axum::Json(couples::care_team(&access).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CareTeamBody {
    /// An active counselor of the practice.
    member_id: MemberId,
}

/// Adds a counselor to the care team (care team only).
#[utoipa::path(post, path = "/couples/{couple_id}/care-team", tag = "clinical", params(("couple_id" = Uuid, Path)),
    request_body = CareTeamBody,
    responses((status = 200, body = Vec<CareTeamMember>), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn add_care_team_member(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    Json(body): Json<CareTeamBody>,
) -> Result<axum::Json<Vec<CareTeamMember>>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    let (team, change) = couples::add_to_care_team(state.clock.now(), &access, body.member_id).await?;
    if let Some(change) = change {
        audit.changed_access("care_team_add", &change);
    }
    Ok(axum::Json(team))
}

/// Takes a counselor off the care team; the last one stays.
#[utoipa::path(delete, path = "/couples/{couple_id}/care-team/{member_id}", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("member_id" = Uuid, Path)),
    responses((status = 200, body = Vec<CareTeamMember>), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn remove_care_team_member(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, member_id)): Path<(CoupleId, MemberId)>,
) -> Result<axum::Json<Vec<CareTeamMember>>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    let (team, change) = couples::remove_from_care_team(&access, member_id).await?;
    audit.changed_access("care_team_remove", &change);
    Ok(axum::Json(team))
}
