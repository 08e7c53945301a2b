//! Consents to disclose (42 CFR 2.31), the register of disclosures, the
//! disclosed copy of a partner's plan and the FHIR export of their chart. Creating or revoking a consent
//! changes who may receive a partner's records: each is an access event
//! that says so.

use crate::records::couples::CoupleId;
use axum::{
    body::Bytes,
    extract::{State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::Tagged;
use crate::{
    access::{self, Need},
    api::{Json, Path, Problem},
    audit::AuditContext,
    auth::CurrentMember,
    error::AppError,
    records::{
        consent_scans,
        consents::{self, ConsentInput, ConsentView, Ending, ScanInfo},
        disclosures::{self, DisclosedCopyInput, DisclosureView},
        fhir::{self, FhirExportInput},
    },
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_consents, create_consent))
        .routes(routes!(get_consent))
        .routes(routes!(revoke_consent))
        .routes(routes!(record_consent_event))
        .routes(routes!(upload_consent_scan, download_consent_scan))
        .routes(routes!(list_disclosures))
        .routes(routes!(disclosures_csv))
        .routes(routes!(disclosed_plan_pdf))
        .routes(routes!(fhir_export))
}

/// Consents the caller may read: the care team and supervisors all of the
/// couple's, a partner their own.
#[utoipa::path(get, path = "/couples/{couple_id}/consents", tag = "clinical", params(("couple_id" = Uuid, Path)),
    responses((status = 200, body = Vec<ConsentView>), (status = 404, body = Problem)))]
async fn list_consents(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
) -> Result<axum::Json<Vec<ConsentView>>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(axum::Json(consents::list(&access).await?))
}

/// Records a consent: a partner signs their own in the portal (typed name
/// and `confirmed`); the care team records a paper consent, naming the partner.
#[utoipa::path(post, path = "/couples/{couple_id}/consents", tag = "clinical",
    params(("couple_id" = Uuid, Path)), request_body = ConsentInput,
    responses((status = 201, body = ConsentView, headers(("ETag" = String))), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn create_consent(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    Json(body): Json<ConsentInput>,
) -> Result<impl IntoResponse, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::PartnerOrCareTeam).await?;
    let consent = consents::create(&access, state.clock.now(), body).await?;
    consents::mark_change(&access, &audit, "consent_create", &consent).await?;
    Ok((StatusCode::CREATED, Tagged(consent)))
}

/// One consent (a partner: only their own).
#[utoipa::path(get, path = "/couples/{couple_id}/consents/{consent_id}", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("consent_id" = Uuid, Path)),
    responses((status = 200, body = ConsentView, headers(("ETag" = String))), (status = 404, body = Problem)))]
async fn get_consent(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, consent_id)): Path<(CoupleId, Uuid)>,
) -> Result<Tagged<ConsentView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(Tagged(consents::get(&access, consent_id).await?))
}

/// Revokes a consent from now on (the partner their own, or the care team
/// recording a revocation; revoking again changes nothing). The next share or disclosed copy it covered is
/// refused; disclosures made before stay in the register.
#[utoipa::path(post, path = "/couples/{couple_id}/consents/{consent_id}/revoke", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("consent_id" = Uuid, Path)),
    responses((status = 200, body = ConsentView, headers(("ETag" = String))), (status = 404, body = Problem)))]
async fn revoke_consent(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, consent_id)): Path<(CoupleId, Uuid)>,
) -> Result<Tagged<ConsentView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Ending::Revocation.need()).await?;
    Ok(Tagged(consents::end(&access, &audit, state.clock.now(), consent_id, Ending::Revocation).await?))
}

/// Records that the event a consent expires on has happened (the care
/// team): from the next request the consent is no longer in force, and the
/// consent says why it ended. A consent that ends on a date answers 409.
#[utoipa::path(post, path = "/couples/{couple_id}/consents/{consent_id}/event", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("consent_id" = Uuid, Path)),
    responses((status = 200, body = ConsentView, headers(("ETag" = String))), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
async fn record_consent_event(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, consent_id)): Path<(CoupleId, Uuid)>,
) -> Result<Tagged<ConsentView>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Ending::Event.need()).await?;
    Ok(Tagged(consents::end(&access, &audit, state.clock.now(), consent_id, Ending::Event).await?))
}

/// Uploads the scan of a paper consent (the care team, once): the body is
/// the file itself, a PDF, PNG or JPEG of at most 768 KiB, checked by its
/// first bytes (a `Content-Type` other than `application/octet-stream`
/// must agree). Stored encrypted.
#[utoipa::path(post, path = "/couples/{couple_id}/consents/{consent_id}/scan", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("consent_id" = Uuid, Path)),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The scanned consent: PDF, PNG or JPEG"),
    responses((status = 201, body = ScanInfo), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 413, body = Problem), (status = 422, body = Problem)))]
async fn upload_consent_scan(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, consent_id)): Path<(CoupleId, Uuid)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    let declared = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let scan = consent_scans::upload(&access, state.clock.now(), consent_id, &body?, declared).await?;
    Ok((StatusCode::CREATED, axum::Json(scan)))
}

/// The scan of a paper consent, as uploaded: for the care team and the
/// partner who signed it (the other partner: 404; supervisors: 403).
#[utoipa::path(get, path = "/couples/{couple_id}/consents/{consent_id}/scan", tag = "clinical",
    params(("couple_id" = Uuid, Path), ("consent_id" = Uuid, Path)),
    responses((status = 200, description = "The scan as uploaded", content((Vec<u8> = "application/pdf"), (Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"))),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn download_consent_scan(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path((couple_id, consent_id)): Path<(CoupleId, Uuid)>,
) -> Result<Response, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    let scan = consent_scans::download(&access, consent_id).await?;
    Ok(([(header::CONTENT_TYPE, scan.content_type), (header::CONTENT_DISPOSITION, scan.disposition)], scan.bytes).into_response())
}

/// The register of disclosures, newest first: the couple's for the care
/// team and supervisors; for a partner, who received their own records.
#[utoipa::path(get, path = "/couples/{couple_id}/disclosures", tag = "clinical", params(("couple_id" = Uuid, Path)),
    responses((status = 200, body = Vec<DisclosureView>), (status = 404, body = Problem)))]
async fn list_disclosures(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
) -> Result<axum::Json<Vec<DisclosureView>>, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(axum::Json(disclosures::list(&access).await?))
}

/// The register as CSV (supervisors).
#[utoipa::path(get, path = "/couples/{couple_id}/disclosures.csv", tag = "clinical", params(("couple_id" = Uuid, Path)),
    responses((status = 200, content_type = "text/csv", body = String), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn disclosures_csv(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
) -> Result<Response, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    audit.describe_as("disclosure", "export");
    let body = disclosures::csv(&access, &current).await?;
    let disposition = "attachment; filename=\"disclosures.csv\"";
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8"), (header::CONTENT_DISPOSITION, disposition)], body).into_response())
}

/// A copy of a partner's plan for someone outside the care team (care
/// team): needs that partner's consent in force naming the recipient and
/// covering the plan (409 naming the missing consent otherwise); lands in
/// the register; every page carries the 42 CFR 2.32 notice.
#[utoipa::path(post, path = "/couples/{couple_id}/disclosures/plan.pdf", tag = "clinical",
    params(("couple_id" = Uuid, Path)), request_body = DisclosedCopyInput,
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn disclosed_plan_pdf(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    Json(body): Json<DisclosedCopyInput>,
) -> Result<Response, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    audit.describe_as("partner_plan", "export");
    let doc = disclosures::disclosed_plan(state.clock.now(), &access, body, &current.practice.name, &current.practice.time_zone).await?;
    super::pdfs::pdf_response(&state, doc, "disclosed-plan.pdf").await
}

/// A partner's chart as a FHIR R4 Bundle (type `collection`) for someone
/// outside the care team (care team): needs that partner's consent in force
/// naming the recipient (409 naming the missing consent otherwise); holds
/// only the kinds of record that consent covers, as the partner may see
/// them, never private notes; lands in the register (channel `export`);
/// every resource is labelled restricted and 42 CFR Part 2, and the Bundle
/// carries the 2.32 notice.
#[utoipa::path(post, path = "/couples/{couple_id}/fhir-export", tag = "clinical",
    params(("couple_id" = Uuid, Path)), request_body = FhirExportInput,
    responses((status = 200, description = "A FHIR R4 Bundle of type collection", content_type = "application/fhir+json", body = serde_json::Value), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn fhir_export(
    State(state): State<AppState>,
    current: CurrentMember,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    Json(body): Json<FhirExportInput>,
) -> Result<Response, AppError> {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    audit.describe_as("couple_chart", "export");
    let bundle = fhir::export(state.clock.now(), &access, body, &current.practice.name, &current.practice.time_zone).await?;
    let disposition = "attachment; filename=\"chart.fhir.json\"";
    Ok(([(header::CONTENT_TYPE, "application/fhir+json"), (header::CONTENT_DISPOSITION, disposition)], bundle.to_string()).into_response())
}
