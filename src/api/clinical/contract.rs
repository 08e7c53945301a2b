//! The recovery contract and its daily calendar.

use crate::records::couples::CoupleId;
use axum::extract::State;
use time::Date;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::Tagged;
use crate::{
    state::AppState,
    access::{self, Need},
    api::{Json, Path, Problem, Query},
    audit::AuditContext,
    auth::CurrentMember,
    error::AppError,
    input::BoundedDate,
    records::{
        common::IfMatch,
        contract::{self, CheckIn, ContractContent, ContractView, DayRange, DayView},
        milestones::practice_today,
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_contract, save_contract))
        .routes(routes!(list_days))
        .routes(routes!(check_in_day))
}

/// The couple's recovery contract.
#[utoipa::path(get, path = "/couples/{couple_id}/recovery-contract", tag = "clinical", params(("couple_id" = Uuid, Path)),
    responses((status = 200, body = ContractView, headers(("ETag" = String))), (status = 404, body = Problem)))]
async fn get_contract(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
) -> Result<Tagged<ContractView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(Tagged(contract::get(&access).await?))
}

/// Writes the recovery contract (care team). `If-Match: "0"` creates it.
#[utoipa::path(put, path = "/couples/{couple_id}/recovery-contract", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("If-Match" = String, Header)), request_body = ContractContent,
    responses((status = 200, body = ContractView, headers(("ETag" = String))), (status = 404, body = Problem),
        (status = 412, body = Problem), (status = 428, body = Problem), (status = 422, body = Problem)))]
async fn save_contract(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    if_match: IfMatch,
    Json(body): Json<ContractContent>,
) -> Result<Tagged<ContractView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    Ok(Tagged(contract::save(state.clock.now(), &access, if_match, body).await?))
}

/// The calendar between two days: what each partner checked off.
#[utoipa::path(get, path = "/couples/{couple_id}/recovery-contract/days", tag = "clinical",
    params(("couple_id" = Uuid, Path), DayRange),
    responses((status = 200, body = Vec<DayView>), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn list_days(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    Query(range): Query<DayRange>,
) -> Result<axum::Json<Vec<DayView>>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    let today = practice_today(&state, &current.practice.time_zone);
    Ok(axum::Json(contract::days(&access, &range, today).await?))
}

/// Checks off a day: a partner for themself, or the care team for a partner.
#[utoipa::path(put, path = "/couples/{couple_id}/recovery-contract/days/{day}", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("day" = BoundedDate, Path)), request_body = CheckIn,
    responses((status = 200, body = DayView), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn check_in_day(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, day)): Path<(CoupleId, Date)>,
    Json(body): Json<CheckIn>,
) -> Result<axum::Json<DayView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::PartnerOrCareTeam).await?;
    let day = BoundedDate::new(day).map_err(|m| AppError::invalid("day", &m))?;
    let today = practice_today(&state, &current.practice.time_zone);
    Ok(axum::Json(contract::check_in(state.clock.now(), &access, day, today, body).await?))
}
