//! The access log as supervisors review it, and emergency ("break-the-glass")
//! access as counselors open it. Every route here goes through the access-log
//! layer and asks the access module first, exactly as the API's
//! `api::clinical::access_log` does, so a page and an API call leave the same
//! event.

use crate::records::couples::CoupleId;
use askama::Template;
use axum::{
    Router,
    extract::{Query, State},
    http::{StatusCode, header},
    response::{IntoResponse, Redirect},
    routing::{get, post},
};
use serde::Deserialize;
use time::OffsetDateTime;
use tower_sessions::Session;
use uuid::Uuid;


use super::{CsrfOnly, PageResult, local_time, nav, render, templates::*};
use crate::input::BoundedDateTime;
use crate::{
    state::AppState,
    access,
    web::{CsrfForm, Path, SignedIn},
    audit::{
        AuditContext,
        review::{self, EventFilter},
    },
    auth::{
        CurrentMember,
        csrf,
    },
    error::AppError,
    practice::{Fields, Role, members},
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/access-log", get(access_log_page))
        .route("/access-log/export.csv", get(export_csv))
        .route("/access-log/verification", post(verify_now))
        .route("/access-log/emergency/{access_id}/acknowledge", post(acknowledge))
        .route("/emergency-access", get(emergency_form).post(emergency_submit))
}

/// Events shown on one page of the log.
const PAGE_SIZE: u64 = 50;

/// The actions a supervisor can filter by, as the log names them.
const ACTIONS: [&str; 18] = [
    "view",
    "create",
    "update",
    "delete",
    "sign",
    "cosign",
    "agree",
    "retire",
    "share",
    "export",
    "sign_in",
    "password_change",
    "role_change",
    "emergency_access",
    "acknowledge",
    "verify",
    "flag",
    "clear",
];

const OUTCOMES: [&str; 3] = ["success", "denied", "failed"];

/// One option of a filter's select.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

fn choices(selected: &str, options: impl IntoIterator<Item = (String, String)>) -> Vec<Choice> {
    options
        .into_iter()
        .map(|(value, label)| Choice { selected: value == selected, value, label })
        .collect()
}

pub struct EventRow {
    pub at: String,
    pub member: String,
    pub role: String,
    pub action: String,
    pub record: String,
    pub couple: String,
    pub outcome: String,
    pub status: i32,
    pub emergency: bool,
    pub reason: String,
}

pub struct VerificationSummary {
    pub ran_at: String,
    pub ok: bool,
    pub events_checked: i64,
    pub first_bad_seq: String,
    pub problem: String,
}

pub struct EmergencyRow {
    pub id: String,
    pub couple_label: String,
    pub member_name: String,
    pub reason: String,
    pub started_at: String,
    pub expires_at: String,
}

#[derive(Template)]
#[template(path = "access_log.html")]
pub struct AccessLogPage {
    pub nav: Option<Nav>,
    pub csrf_token: String,
    pub time_zone: String,
    pub members: Vec<Choice>,
    pub couples: Vec<Choice>,
    pub actions: Vec<Choice>,
    pub outcomes: Vec<Choice>,
    pub from: String,
    pub to: String,
    pub errors: FormErrors,
    pub filtered: bool,
    pub events: Vec<EventRow>,
    pub older_link: Option<String>,
    pub export_link: String,
    pub verification: Option<VerificationSummary>,
    pub queue: Vec<EmergencyRow>,
}

/// The filter as the page's form sends it: every field a string, so an
/// empty select or a mistyped date is a message next to the field, not a
/// rejected request.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct LogQuery {
    member: String,
    couple: String,
    action: String,
    outcome: String,
    from: String,
    to: String,
    before: String,
}

impl LogQuery {
    /// The filter as a query string, with `before` set or left out.
    fn query_string(&self, before: Option<i64>) -> String {
        let before = before.map(|b| b.to_string()).unwrap_or_default();
        let pairs: Vec<(&str, &str)> = [
            ("member", self.member.as_str()),
            ("couple", &self.couple),
            ("action", &self.action),
            ("outcome", &self.outcome),
            ("from", &self.from),
            ("to", &self.to),
            ("before", &before),
        ]
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .collect();
        serde_html_form::to_string(pairs).unwrap_or_default()
    }

    fn is_empty(&self) -> bool {
        self.query_string(None).is_empty()
    }

    /// Parses the filter; dates are whole days in the practice's time zone,
    /// `to` included.
    fn parse(&self, time_zone: &str) -> Result<EventFilter, AppError> {
        let mut fields = Fields::default();
        let member_id = fields.check("member", optional_id(&self.member));
        let couple_id = fields.check("couple", optional_id(&self.couple));
        let action = fields.check("action", one_of(&self.action, &ACTIONS, "choose an action from the list"));
        let outcome = fields.check("outcome", one_of(&self.outcome, &OUTCOMES, "choose an outcome from the list"));
        let from = fields.check("from", day_start(&self.from, time_zone, false));
        let to = fields.check("to", day_start(&self.to, time_zone, true));
        if let (Some(Some(from)), Some(Some(to))) = (from, to)
            && to <= from
        {
            fields.check::<()>("to", Err("choose an end date on or after the start date".into()));
        }
        let before = fields.check(
            "before",
            match self.before.trim() {
                "" => Ok(None),
                raw => raw.parse::<i64>().map(Some).map_err(|_| "this page link is broken; start again".to_owned()),
            },
        );
        fields.finish_with(|| {
            Some(EventFilter {
                member_id: member_id?,
                couple_id: couple_id?,
                action: action?,
                outcome: outcome?,
                from: from?,
                to: to?,
                before: before?,
                limit: Some(PAGE_SIZE),
            })
        })
    }
}

fn optional_id(raw: &str) -> Result<Option<Uuid>, String> {
    match raw.trim() {
        "" => Ok(None),
        raw => Uuid::parse_str(raw).map(Some).map_err(|_| "choose from the list".into()),
    }
}

fn one_of(raw: &str, allowed: &[&str], message: &str) -> Result<Option<String>, String> {
    match raw.trim() {
        "" => Ok(None),
        raw if allowed.contains(&raw) => Ok(Some(raw.to_owned())),
        _ => Err(message.to_owned()),
    }
}

/// The start of the day `raw` (YYYY-MM-DD) in the practice's time zone, or of
/// the day after it for the end of a range, as a UTC instant.
fn day_start(raw: &str, time_zone: &str, day_after: bool) -> Result<Option<BoundedDateTime>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let bad = |_| "enter a date as YYYY-MM-DD".to_owned();
    let mut date: jiff::civil::Date = raw.parse().map_err(bad)?;
    if day_after {
        date = date.tomorrow().map_err(bad)?;
    }
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let start = date.to_zoned(tz).map_err(bad)?;
    let at = OffsetDateTime::from_unix_timestamp(start.timestamp().as_second()).map_err(|_| "enter a date as YYYY-MM-DD".to_owned())?;
    BoundedDateTime::new(at).map(Some)
}

async fn access_log_page(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Query(query): Query<LogQuery>,
) -> PageResult {
    access::supervisor_only(&audit, &current, "access_event", None)?;
    let tz = current.practice.time_zone.as_str();
    let couples = review::couple_labels(&state.db, current.scope).await?;
    let (events, older_link, errors, status) = found_events(&state, &current, &query, &couples).await?;
    let members = members::list(&state.db, current.scope)
        .await?
        .into_iter()
        .map(|m| (m.id.to_string(), format!("{} ({})", m.display_name, m.email)));
    let verification = review::last_verification(&state.db, current.scope, &state.checkpoint_key.verifying()).await?;
    let queue = review::emergency_queue(&state.db, current.scope, true).await?.into_iter().map(|g| emergency_row(g, tz)).collect();
    let page = AccessLogPage {
        nav: nav(&session, &current).await?,
        csrf_token: csrf::token(&session).await?,
        time_zone: tz.to_owned(),
        members: choices(&query.member, members),
        couples: choices(&query.couple, couples.into_iter().map(|(id, label)| (id.to_string(), label))),
        actions: choices(&query.action, ACTIONS.map(|a| (a.to_owned(), a.replace('_', " ")))),
        outcomes: choices(&query.outcome, OUTCOMES.map(|o| (o.to_owned(), o.to_owned()))),
        from: query.from.clone(),
        to: query.to.clone(),
        filtered: !query.is_empty(),
        events,
        older_link,
        export_link: format!("/access-log/export.csv?{}", LogQuery { before: String::new(), ..query }.query_string(None)),
        verification: verification.map(|v| verification_summary(v, tz)),
        queue,
        errors,
    };
    Ok((status, render(&page)).into_response())
}

/// The events the filter finds, with the link to the older ones; or, for a
/// filter that does not parse, none and what to correct.
async fn found_events(
    state: &AppState,
    current: &CurrentMember,
    query: &LogQuery,
    couples: &[(CoupleId, String)],
) -> Result<(Vec<EventRow>, Option<String>, FormErrors, StatusCode), AppError> {
    let tz = current.practice.time_zone.as_str();
    match query.parse(tz) {
        Ok(filter) => {
            let page = review::search(&state.db, current.scope, &filter).await?;
            let rows = event_rows(page.items, couples, tz);
            let older = page.next_before.map(|b| format!("/access-log?{}", query.query_string(Some(b))));
            Ok((rows, older, FormErrors::default(), StatusCode::OK))
        }
        Err(AppError::Invalid(errors)) => Ok((Vec::new(), None, errors.into(), StatusCode::UNPROCESSABLE_ENTITY)),
        Err(other) => Err(other),
    }
}

/// The events table, each couple named by its label.
fn event_rows(events: Vec<review::AccessEventView>, couples: &[(CoupleId, String)], tz: &str) -> Vec<EventRow> {
    let labels: std::collections::HashMap<Uuid, &str> = couples.iter().map(|(id, l)| (id.uuid(), l.as_str())).collect();
    events
        .into_iter()
        .map(|e| EventRow {
            at: local_time(e.at, tz),
            member: e.member_name.unwrap_or_else(|| "—".into()),
            role: e.role,
            action: e.action,
            record: e.record_kind.unwrap_or_default(),
            couple: e.couple_id.and_then(|c| labels.get(&c).map(|l| (*l).to_owned())).unwrap_or_default(),
            outcome: e.outcome,
            status: e.status,
            emergency: e.emergency,
            reason: e.reason.unwrap_or_default(),
        })
        .collect()
}

fn verification_summary(v: review::VerificationView, tz: &str) -> VerificationSummary {
    VerificationSummary {
        ran_at: local_time(v.ran_at, tz),
        ok: v.ok,
        events_checked: v.events_checked,
        first_bad_seq: v.first_bad_seq.map(|s| s.to_string()).unwrap_or_default(),
        problem: v.problem.unwrap_or_default(),
    }
}

fn emergency_row(g: review::EmergencyAccessView, tz: &str) -> EmergencyRow {
    EmergencyRow {
        id: g.id.to_string(),
        couple_label: g.couple_label,
        member_name: g.member_name,
        reason: g.reason,
        started_at: local_time(g.started_at, tz),
        expires_at: local_time(g.expires_at, tz),
    }
}

/// The same events as CSV; the export is itself an event, with action export.
async fn export_csv(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Query(query): Query<LogQuery>,
) -> PageResult {
    access::supervisor_only(&audit, &current, "access_event", Some("export"))?;
    let filter = EventFilter { before: None, limit: None, ..query.parse(&current.practice.time_zone)? };
    let body = axum::body::Body::from_stream(review::csv(state.db.clone(), current.scope, filter));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"access-log.csv\""),
        ],
        body,
    )
        .into_response())
}

async fn verify_now(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> PageResult {
    access::supervisor_only(&audit, &current, "access_log_verification", Some("verify"))?;
    crate::audit::verify_practice(&state, current.scope.practice_id()).await?;
    Ok(Redirect::to("/access-log#verification").into_response())
}

async fn acknowledge(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path(access_id): Path<Uuid>,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> PageResult {
    access::supervisor_only(&audit, &current, "emergency_access", Some("acknowledge"))?;
    review::acknowledge(&state.db, current.scope, access_id, current.id(), state.clock.now()).await?;
    Ok(Redirect::to("/access-log#emergency").into_response())
}

// ---- emergency access (counselors) ------------------------------------------------

#[derive(Template)]
#[template(path = "emergency_access.html")]
pub struct EmergencyAccessPage {
    pub nav: Option<Nav>,
    pub csrf_token: String,
    pub minutes: u32,
    pub couple_label: String,
    pub reason: String,
    pub errors: FormErrors,
}

const EMERGENCY: &str = "emergency_access";

/// Logs a request that did not reach `access::open_emergency`: the caller in
/// their practice roles, the record `emergency_access`. A form that tried to
/// open access is named as `open_emergency` names it (action
/// `emergency_access`); showing the form is a view.
fn log_emergency(audit: &AuditContext, current: &CurrentMember, denied: bool, opening: bool) {
    access::practice_level(audit, current, Some(EMERGENCY), denied);
    if opening {
        audit.describe_as(EMERGENCY, EMERGENCY);
    }
}

fn counselors_only(audit: &AuditContext, current: &CurrentMember, opening: bool) -> Result<(), AppError> {
    if current.roles.contains(Role::Counselor) {
        Ok(())
    } else {
        log_emergency(audit, current, true, opening);
        Err(AppError::Forbidden("Emergency access is for counselors.".into()))
    }
}

async fn emergency_view(
    state: &AppState,
    session: &Session,
    current: &CurrentMember,
    status: StatusCode,
    couple_label: String,
    reason: String,
    errors: FormErrors,
) -> PageResult {
    let page = EmergencyAccessPage {
        nav: nav(session, current).await?,
        csrf_token: csrf::token(session).await?,
        minutes: state.config.emergency_access_minutes,
        couple_label,
        reason,
        errors,
    };
    Ok((status, render(&page)).into_response())
}

/// The empty form. Showing it reveals nothing, but a counselor reaching for
/// emergency access is worth a line in the log, and so is anyone else's try.
async fn emergency_form(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
) -> PageResult {
    counselors_only(&audit, &current, false)?;
    log_emergency(&audit, &current, false, false);
    emergency_view(&state, &session, &current, StatusCode::OK, String::new(), String::new(), FormErrors::default()).await
}

#[derive(Deserialize)]
struct EmergencyForm {
    #[serde(default)]
    couple_label: String,
    #[serde(default)]
    reason: String,
}

/// How a couple is found without listing the practice's couples to a
/// counselor (which would tell them who is in care): the counselor types the
/// label, matched whole and ignoring case and surrounding spaces. Where
/// labels differ only in case, the exact spelling picks one; labels that are
/// the same twice cannot be told apart here.
enum LabelMatch {
    One(CoupleId),
    None,
    Several,
}

impl LabelMatch {
    /// Why a label that names no one couple is refused, and with what status.
    fn refusal(&self) -> (StatusCode, String) {
        match self {
            LabelMatch::Several => (
                StatusCode::CONFLICT,
                "more than one couple has this label; type it with its exact capitals, or ask a supervisor".into(),
            ),
            LabelMatch::None | LabelMatch::One(_) => (StatusCode::NOT_FOUND, AppError::NotFound.detail()),
        }
    }
}

async fn couple_by_label(state: &AppState, current: &CurrentMember, typed: &str) -> Result<LabelMatch, AppError> {
    let typed = typed.trim();
    let wanted = typed.to_lowercase();
    // Compared here rather than in SQL: SQLite's lower() folds ASCII only.
    let matching: Vec<(CoupleId, String)> = review::couple_labels(&state.db, current.scope)
        .await?
        .into_iter()
        .filter(|(_, label)| label.trim().to_lowercase() == wanted)
        .collect();
    let exact: Vec<&(CoupleId, String)> = matching.iter().filter(|(_, label)| label.trim() == typed).collect();
    Ok(match (matching.as_slice(), exact.as_slice()) {
        ([], _) => LabelMatch::None,
        ([(id, _)], _) | (_, [(id, _)]) => LabelMatch::One(*id),
        _ => LabelMatch::Several,
    })
}

async fn emergency_submit(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    CsrfForm(form): CsrfForm<EmergencyForm>,
) -> PageResult {
    counselors_only(&audit, &current, true)?;
    let again = |status: StatusCode, field: &str, message: String| {
        let errors = FormErrors::from(vec![crate::error::FieldError::new(field, message)]);
        emergency_view(&state, &session, &current, status, form.couple_label.clone(), form.reason.clone(), errors)
    };
    if form.couple_label.trim().is_empty() {
        log_emergency(&audit, &current, false, true);
        return again(StatusCode::UNPROCESSABLE_ENTITY, "couple_label", "enter the couple's label".into()).await;
    }
    let couple_id = match couple_by_label(&state, &current, &form.couple_label).await? {
        LabelMatch::One(id) => id,
        // Answered like the API answers a couple id it does not know: refused, logged.
        unmatched => {
            log_emergency(&audit, &current, true, true);
            let (status, message) = unmatched.refusal();
            return again(status, "couple_label", message).await;
        }
    };
    match access::open_emergency(&state, &audit, &current, couple_id, &form.reason).await {
        Ok(grant) => {
            audit.created(grant.id);
            Ok(Redirect::to(&format!("/couples/{}", grant.couple_id)).into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let errors = errors.into_iter().next().map(|e| (e.field, e.message)).unwrap_or_default();
            again(StatusCode::UNPROCESSABLE_ENTITY, &errors.0, errors.1).await
        }
        Err(err @ (AppError::Conflict(_) | AppError::NotFound)) => {
            again(err.status(), "couple_label", err.detail()).await
        }
        Err(other) => Err(other.into()),
    }
}
