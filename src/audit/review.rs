//! Reading the access log: supervisors' search and export, the latest
//! verification results and the emergency-access review queue. Each
//! partner's view of who looked at their records is in [`super::viewings`].

use ed25519_dalek::VerifyingKey;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use entity::ids::{CoupleId, MemberId};
use uuid::Uuid;

use entity::{access_events, audit_verifications, couples, emergency_accesses, members};

use crate::input::BoundedDateTime;
use crate::{error::AppError, scope::PracticeScope};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventFilter {
    pub member_id: Option<Uuid>,
    pub couple_id: Option<Uuid>,
    /// view, create, update, delete, sign, cosign, agree, retire, share, export, sign_in, emergency_access
    #[param(schema_with = crate::input::schema::single_line)]
    pub action: Option<String>,
    /// success, denied or failed
    #[param(schema_with = crate::input::schema::single_line)]
    pub outcome: Option<String>,
    /// From this time (RFC 3339), inclusive.
    pub from: Option<BoundedDateTime>,
    /// Before this time (RFC 3339).
    pub to: Option<BoundedDateTime>,
    /// Only events before this sequence number: pass `next_before` back for the next page.
    pub before: Option<i64>,
    /// 1-500, default 100.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AccessEventView {
    pub seq: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub member_id: Option<Uuid>,
    pub member_name: Option<String>,
    pub role: String,
    pub action: String,
    pub record_kind: Option<String>,
    pub record_id: Option<Uuid>,
    pub couple_id: Option<Uuid>,
    pub outcome: String,
    pub status: i32,
    pub client_addr: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub reason: Option<String>,
    pub emergency: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub items: Vec<AccessEventView>,
    /// Present when older events match: send it as `before`.
    pub next_before: Option<i64>,
}

fn filtered(scope: PracticeScope, f: &EventFilter) -> sea_orm::Select<access_events::Entity> {
    let mut q = scope.select::<access_events::Entity>();
    if let Some(m) = f.member_id {
        q = q.filter(access_events::Column::MemberId.eq(m));
    }
    if let Some(c) = f.couple_id {
        q = q.filter(access_events::Column::CoupleId.eq(c));
    }
    if let Some(a) = &f.action {
        q = q.filter(access_events::Column::Action.eq(a.as_str()));
    }
    if let Some(o) = &f.outcome {
        q = q.filter(access_events::Column::Outcome.eq(o.as_str()));
    }
    if let Some(from) = f.from {
        q = q.filter(access_events::Column::OccurredAt.gte(from.get()));
    }
    if let Some(to) = f.to {
        q = q.filter(access_events::Column::OccurredAt.lt(to.get()));
    }
    if let Some(before) = f.before {
        q = q.filter(access_events::Column::Seq.lt(before));
    }
    q.order_by_desc(access_events::Column::Seq)
}

/// Members' display names by id, for the access log's views.
pub(crate) async fn names(db: &impl ConnectionTrait, scope: PracticeScope, mut ids: Vec<Uuid>) -> Result<std::collections::HashMap<Uuid, String>, DbErr> {
    ids.sort_unstable();
    ids.dedup();
    Ok(scope
        .select::<members::Entity>()
        .filter(members::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|m| (m.id.uuid(), m.display_name))
        .collect())
}

async fn views(db: &impl ConnectionTrait, scope: PracticeScope, rows: Vec<access_events::Model>) -> Result<Vec<AccessEventView>, DbErr> {
    let names = names(db, scope, rows.iter().filter_map(|r| r.member_id).collect()).await?;
    Ok(rows
        .into_iter()
        .map(|r| AccessEventView {
            member_name: r.member_id.and_then(|m| names.get(&m).cloned()),
            seq: r.seq,
            at: r.occurred_at,
            member_id: r.member_id,
            role: r.role,
            action: r.action,
            record_kind: r.record_kind,
            record_id: r.record_id,
            couple_id: r.couple_id,
            outcome: r.outcome,
            status: r.status,
            client_addr: r.client_addr,
            user_agent: r.user_agent,
            request_id: r.request_id,
            reason: r.reason,
            emergency: r.emergency,
        })
        .collect())
}

/// One page of events matching the filter, newest first.
/// The practice's couples by label, for a supervisor's filter of the log
/// (supervisors may see labels; counselors are never shown this list).
pub async fn couple_labels(db: &impl ConnectionTrait, scope: PracticeScope) -> Result<Vec<(CoupleId, String)>, AppError> {
    Ok(scope
        .select::<couples::Entity>()
        .order_by_asc(couples::Column::Label)
        .order_by_asc(couples::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.label))
        .collect())
}

pub async fn search(db: &impl ConnectionTrait, scope: PracticeScope, f: &EventFilter) -> Result<EventPage, AppError> {
    let limit = match f.limit.unwrap_or(100) {
        n @ 1..=500 => n,
        _ => return Err(AppError::invalid("limit", "choose between 1 and 500")),
    };
    let mut rows = filtered(scope, f).limit(limit + 1).all(db).await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next_before = if more { rows.last().map(|r| r.seq) } else { None };
    Ok(EventPage { items: views(db, scope, rows).await?, next_before })
}

/// Events per page of the export: one query for the events and one for
/// their members' names (a few hundred parameters at most) per page.
const EXPORT_PAGE: u64 = 1_000;

const CSV_HEADER: &str = "seq,at,member_id,member_name,role,action,record_kind,record_id,couple_id,outcome,status,client_addr,user_agent,request_id,emergency,reason\n";

/// Every matching event as CSV, newest first, produced a page at a time as
/// the response is sent: memory stays bounded however many events match.
/// The pages are read after the request's own work has committed, each in
/// a short transaction of its own that acts in the practice.
pub fn csv(
    db: crate::tenant::Db,
    scope: PracticeScope,
    mut filter: EventFilter,
) -> impl futures_util::Stream<Item = Result<axum::body::Bytes, DbErr>> + Send + 'static {
    use futures_util::TryStreamExt;
    filter.limit = None;
    let start = (db, filter, Some(CSV_HEADER.to_owned()), false);
    futures_util::stream::try_unfold(start, move |(db, mut filter, header, done)| async move {
        if done {
            return Ok(None);
        }
        let txn = db.begin_for(scope.practice_id(), sea_orm::TransactionOptions::default()).await?;
        let rows = filtered(scope, &filter).limit(EXPORT_PAGE).all(&txn).await?;
        let done = (rows.len() as u64) < EXPORT_PAGE;
        filter.before = rows.last().map(|r| r.seq);
        let mut out = header.unwrap_or_default();
        for row in views(&txn, scope, rows).await? {
            csv_line(&mut out, row);
        }
        txn.rollback().await?;
        Ok(Some((axum::body::Bytes::from(out), (db, filter, None, done))))
    })
    .inspect_err(|err| tracing::error!(error = %err, "the access-log export stopped part-way"))
}

fn csv_line(out: &mut String, r: AccessEventView) {
    let fields = [
        r.seq.to_string(),
        r.at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        r.member_id.map(|m| m.to_string()).unwrap_or_default(),
        r.member_name.unwrap_or_default(),
        r.role,
        r.action,
        r.record_kind.unwrap_or_default(),
        r.record_id.map(|m| m.to_string()).unwrap_or_default(),
        r.couple_id.map(|m| m.to_string()).unwrap_or_default(),
        r.outcome,
        r.status.to_string(),
        r.client_addr.unwrap_or_default(),
        r.user_agent.unwrap_or_default(),
        r.request_id.unwrap_or_default(),
        r.emergency.to_string(),
        r.reason.unwrap_or_default(),
    ];
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&csv_field(field));
    }
    out.push('\n');
}

/// Quotes a CSV field, and defuses text a spreadsheet would run as a
/// formula (OWASP's list: `=`, `+`, `-`, `@`, tab, carriage return) by
/// starting it with an apostrophe. None of the export's own numbers starts so.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerificationView {
    #[serde(with = "time::serde::rfc3339")]
    pub ran_at: OffsetDateTime,
    pub ok: bool,
    pub events_checked: i64,
    pub first_bad_seq: Option<i64>,
    pub problem: Option<String>,
}

/// The latest stored result, if the key signed it as it stands; a result
/// it did not sign (written straight into the database) is shown as a
/// failure, never as what it claims.
pub async fn last_verification(db: &impl ConnectionTrait, scope: PracticeScope, key: &VerifyingKey) -> Result<Option<VerificationView>, AppError> {
    Ok(scope
        .select::<audit_verifications::Entity>()
        .order_by_desc(audit_verifications::Column::RanAt)
        .order_by_desc(audit_verifications::Column::Id)
        .one(db)
        .await?
        .map(|v| {
            if crate::audit::checkpoints::result_is_genuine(&v, key) {
                VerificationView { ran_at: v.ran_at, ok: v.ok, events_checked: v.events_checked, first_bad_seq: v.first_bad_seq, problem: v.problem }
            } else {
                VerificationView {
                    ran_at: v.ran_at,
                    ok: false,
                    events_checked: v.events_checked,
                    first_bad_seq: None,
                    problem: Some("The latest stored result is not signed by this installation's key, so it may have been forged. Verify now to see the log's state.".into()),
                }
            }
        }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmergencyAccessView {
    pub id: Uuid,
    pub couple_id: CoupleId,
    pub couple_label: String,
    pub member_id: MemberId,
    pub member_name: String,
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub acknowledged_by: Option<MemberId>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub acknowledged_at: Option<OffsetDateTime>,
}

/// Emergency accesses, those not yet acknowledged first.
pub async fn emergency_queue(db: &impl ConnectionTrait, scope: PracticeScope, pending_only: bool) -> Result<Vec<EmergencyAccessView>, AppError> {
    let mut q = scope.select::<emergency_accesses::Entity>().order_by_desc(emergency_accesses::Column::StartedAt);
    if pending_only {
        q = q.filter(emergency_accesses::Column::AcknowledgedAt.is_null());
    }
    let rows = q.limit(500).all(db).await?;
    let names = names(db, scope, rows.iter().map(|r| r.member_id.uuid()).collect()).await?;
    let labels: std::collections::HashMap<CoupleId, String> = scope
        .select::<couples::Entity>()
        .filter(couples::Column::Id.is_in(rows.iter().map(|r| r.couple_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.label))
        .collect();
    Ok(rows
        .into_iter()
        .map(|r| EmergencyAccessView {
            couple_label: labels.get(&r.couple_id).cloned().unwrap_or_default(),
            member_name: names.get(&r.member_id.uuid()).cloned().unwrap_or_default(),
            id: r.id,
            couple_id: r.couple_id,
            member_id: r.member_id,
            reason: r.reason,
            started_at: r.started_at,
            expires_at: r.expires_at,
            acknowledged_by: r.acknowledged_by,
            acknowledged_at: r.acknowledged_at,
        })
        .collect())
}

pub async fn acknowledge(db: &impl ConnectionTrait, scope: PracticeScope, id: Uuid, supervisor: MemberId, now: OffsetDateTime) -> Result<(), AppError> {
    let row = scope.by_id::<emergency_accesses::Entity>(id).one(db).await?.ok_or(AppError::NotFound)?;
    if row.acknowledged_at.is_some() {
        return Err(AppError::Conflict("This emergency access has already been reviewed.".into()));
    }
    scope
        .update_many::<emergency_accesses::Entity>()
        .col_expr(emergency_accesses::Column::AcknowledgedBy, Expr::value(supervisor))
        .col_expr(emergency_accesses::Column::AcknowledgedAt, Expr::value(now))
        .filter(emergency_accesses::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
