//! The JSON API under `/api/v1`, for scripts and integrations, described by
//! an OpenAPI document at `/api/openapi.json` generated from the handlers
//! themselves. Callers authenticate with `Authorization: Bearer <token>` (or,
//! from Tandem's own pages, the session cookie plus `X-CSRF-Token`). Errors
//! are RFC 9457 problem+json.

mod clinical;
mod identity_providers;
mod members;
mod me;

use axum::{Router, routing::get};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};
use utoipa_axum::router::OpenApiRouter;

pub use crate::http::extract::{Json, Path, Query};
use crate::state::AppState;

/// Tag of every route that reads or changes clinical records.
pub const CLINICAL: &str = "clinical";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tandem API",
        description = "Case management for counselors who work with couples in recovery. \
            Authenticate with a personal API token: `Authorization: Bearer tdm_…`. \
            Editable records return an `ETag`; send it back as `If-Match` to change them \
            (428 without it, 412 when someone else changed the record first). \
            Errors are application/problem+json (RFC 9457); 422 responses list each bad field in `errors`. \
            Ids of other practices, and of records you may not see, answer 404. \n\n\
            Size limits: request bodies at most 1 MiB (413 beyond); names and other short \
            fields at most 200 characters; descriptions and list items at most 2,000; note \
            sections, lessons learned and other long texts at most 20,000; lists at most 50 \
            items; pages at most 200 items (`limit`, default 50)."
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "account", description = "The caller's own account and API tokens"),
        (name = "practice", description = "Members, invitations, supervision and sign-in providers (practice admins)"),
        (name = "clinical", description = "Couples and their clinical records")
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// States every error each operation can answer, as problem+json: the
/// annotations name the errors particular to an operation; this adds the
/// ones every operation shares (401, 403, 500, 503 with Retry-After; 400,
/// 413 and 415 for a body; 422 for a body and for query and path parameters) and gives all of them the
/// content type they are sent with.
struct ErrorResponses;

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{
            Content, Ref, RefOr, Response, header::Header, path::ParameterIn, schema::{ObjectBuilder, Type},
        };
        const PROBLEM: &str = "application/problem+json";
        let problem = |description: &str| {
            let mut response = Response::new(description);
            response.content.insert(PROBLEM.into(), RefOr::T(Content::new(Some(Ref::from_schema_name("Problem")))));
            response
        };
        for item in openapi.paths.paths.values_mut() {
            let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for operation in operations.into_iter().flatten() {
                let has_body = operation.request_body.is_some();
                let has = |place: ParameterIn| {
                    operation.parameters.iter().flatten().any(|p| matches!(p, RefOr::T(p) if p.parameter_in == place))
                };
                let (has_query, has_path) = (has(ParameterIn::Query), has(ParameterIn::Path));
                let responses = &mut operation.responses.responses;
                for (status, response) in responses.iter_mut() {
                    if let (true, RefOr::T(response)) = (status.starts_with('4') || status.starts_with('5'), response)
                        && let Some(content) = response.content.shift_remove("application/json")
                    {
                        response.content.insert(PROBLEM.into(), content);
                    }
                }
                let mut add = |status: &str, response: Response| {
                    responses.entry(status.into()).or_insert(RefOr::T(response));
                };
                add("401", problem("Sign in, or send a valid API token."));
                add("403", problem("Your role does not allow this."));
                add("500", problem("Tandem failed; the cause is logged."));
                let mut unavailable = problem("The database is unavailable, or Tandem is shutting down; try again after Retry-After seconds.");
                unavailable
                    .headers
                    .insert("Retry-After".into(), Header::new(ObjectBuilder::new().schema_type(Type::Integer)).into());
                add("503", unavailable);
                if has_body {
                    add("400", problem("The body is not JSON, or not sent as application/json."));
                    add("413", problem("The body is larger than 1 MiB."));
                    add("415", problem("The body is compressed, or not in UTF-8."));
                }
                if has_body || has_query || has_path {
                    add("422", problem("A field or parameter is invalid; `errors` names each."));
                }
            }
        }
    }
}

/// The API routes and the OpenAPI document describing exactly them.
pub fn router(state: AppState) -> Router<AppState> {
    let (router, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(
            "/api/v1",
            OpenApiRouter::new()
                .merge(me::routes())
                .merge(members::routes())
                .merge(identity_providers::routes())
                .merge(clinical::routes(state)),
        )
        .split_for_parts();
    // After the routes are in: a modifier in #[openapi] runs before them.
    let mut doc = doc;
    ErrorResponses.modify(&mut doc);
    let doc = std::sync::Arc::new(doc);
    router.route(
        "/api/openapi.json",
        get(move || {
            let doc = doc.clone();
            async move { axum::Json((*doc).clone()) }
        }),
    )
}

/// The problem+json body of every error response, for the OpenAPI document.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Problem {
    #[schema(rename = "type")]
    kind: String,
    title: String,
    status: u16,
    detail: String,
    errors: Option<Vec<ProblemField>>,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ProblemField {
    field: String,
    message: String,
}
