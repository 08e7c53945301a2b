//! Boundary agreements: "If X happens, I will Y", held by one partner or
//! both. Each partner's agreement is recorded separately; a revision is a new
//! numbered version (old wording is kept) that needs agreeing again; a
//! retired boundary stays in the record. Times a boundary was tested or kept
//! are logged without blame.

use entity::ids::MemberId;
use entity::ids::CoupleId;
use std::collections::{HashMap, HashSet};

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use entity::{boundaries, boundary_events, boundary_versions};

use super::common::{
    Audience, IfMatch, Page, PageQuery, PartnerSlot, StoredEnum, limits, optional_text, required_text, split_page,
};
use crate::input::BoundedDate;
use crate::{
    access::{CoupleAccess, exec_at_version},
    error::AppError,
    practice::Fields,
    vault::fields::{BOUNDARY_CONSEQUENCE as CONSEQUENCE, BOUNDARY_EVENT_NOTE as EVENT_NOTE, BOUNDARY_STATEMENT as STATEMENT},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Holder {
    PartnerA,
    PartnerB,
    Both,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BoundaryCategory {
    Money,
    SubstancesAtHome,
    ContactWithPeopleWhoUse,
    HonestyAndDisclosure,
    SelfCare,
    ContactAndSeparation,
    Safety,
}

pub use entity::values::BoundaryStatus;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BoundaryEventKind {
    Tested,
    Kept,
}

impl StoredEnum for Holder {}
impl StoredEnum for BoundaryCategory {}
impl StoredEnum for BoundaryStatus {}
impl StoredEnum for BoundaryEventKind {}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "holder": "partner_b", "category": "substances_at_home",
    "statement": "If alcohol is brought into our home, I will stay at my sister's that night.",
    "consequence": "Marisol leaves for the night; we talk about it with our counselor, not at home.",
    "effective_on": "2026-03-16", "review_on": "2026-06-16", "audience": "couple"
}))]
pub struct BoundaryInput {
    pub holder: Holder,
    pub category: BoundaryCategory,
    /// "If X happens, I will Y" (at most 2,000 characters).
    #[schema(schema_with = crate::input::schema::medium)]
    pub statement: String,
    /// What both understand will happen (at most 2,000 characters).
    #[schema(schema_with = crate::input::schema::medium)]
    pub consequence: String,
    pub effective_on: Option<BoundedDate>,
    pub review_on: Option<BoundedDate>,
    /// Default: couple.
    pub audience: Option<Audience>,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"partner": "a"}))]
pub struct AgreeInput {
    /// Which partner agrees. A partner signed in to the portal agrees for
    /// themself and may leave this out; the care team recording an agreement
    /// made in session must name the partner.
    pub partner: Option<PartnerSlot>,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "kept", "occurred_on": "2026-04-02", "note": "Dan texted before the work party and left early."}))]
pub struct BoundaryEventInput {
    pub kind: BoundaryEventKind,
    pub occurred_on: BoundedDate,
    /// At most 2,000 characters.
    #[schema(schema_with = crate::input::schema::medium_or_none)]
    pub note: Option<String>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BoundaryEventView {
    pub id: Uuid,
    pub kind: BoundaryEventKind,
    pub occurred_on: Date,
    pub note: Option<String>,
    pub recorded_by: MemberId,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BoundaryVersionView {
    pub number: i32,
    pub statement: String,
    pub consequence: String,
    pub effective_on: Option<Date>,
    pub review_on: Option<Date>,
    pub created_by: MemberId,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BoundaryView {
    pub id: Uuid,
    pub holder: Holder,
    pub category: BoundaryCategory,
    pub audience: Audience,
    pub status: BoundaryStatus,
    /// The current wording.
    pub current: BoundaryVersionView,
    #[serde(with = "time::serde::rfc3339::option")]
    pub agreed_by_a_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub agreed_by_b_at: Option<OffsetDateTime>,
    pub events: Vec<BoundaryEventView>,
    pub version: i32,
}

crate::versioned!(BoundaryView);

struct Wording {
    statement: String,
    consequence: String,
}

fn parse(input: &BoundaryInput) -> Result<Wording, AppError> {
    let mut fields = Fields::default();
    let statement = fields.check("statement", required_text(&input.statement, limits::MEDIUM));
    let consequence = fields.check("consequence", required_text(&input.consequence, limits::MEDIUM));
    if let (Some(from), Some(review)) = (input.effective_on, input.review_on)
        && review < from
    {
        fields.check::<()>("review_on", Err("review on or after the day it takes effect".into()));
    }
    let (statement, consequence) = fields.finish_with(|| Some((statement?, consequence?)))?;
    Ok(Wording { statement, consequence })
}

fn version_view(access: &CoupleAccess, v: boundary_versions::Model) -> Result<BoundaryVersionView, AppError> {
    Ok(BoundaryVersionView {
        number: v.number,
        statement: access.cipher().open(STATEMENT, v.id, &v.statement)?,
        consequence: access.cipher().open(CONSEQUENCE, v.id, &v.consequence)?,
        effective_on: v.effective_on,
        review_on: v.review_on,
        created_by: v.created_by,
        created_at: v.created_at,
    })
}

async fn load_row(db: &impl ConnectionTrait, access: &CoupleAccess, id: Uuid) -> Result<boundaries::Model, AppError> {
    access.shared_record::<boundaries::Entity>(db, id).await
}

async fn to_view(db: &impl ConnectionTrait, access: &CoupleAccess, row: boundaries::Model) -> Result<BoundaryView, AppError> {
    let mut views = to_views(db, access, vec![row]).await?;
    views.pop().ok_or_else(|| anyhow::anyhow!("a boundary without its view").into())
}

/// Views of `rows` with their current wording and logged events: three
/// queries however many boundaries there are.
async fn to_views(db: &impl ConnectionTrait, access: &CoupleAccess, rows: Vec<boundaries::Model>) -> Result<Vec<BoundaryView>, AppError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut versions: HashMap<(Uuid, i32), boundary_versions::Model> = HashMap::new();
    let wanted: HashMap<Uuid, i32> = rows.iter().map(|r| (r.id, r.current_version)).collect();
    for v in access
        .scope
        .select::<boundary_versions::Entity>()
        .filter(boundary_versions::Column::BoundaryId.is_in(ids.clone()))
        .filter(boundary_versions::Column::Number.is_in(wanted.values().copied().collect::<HashSet<_>>()))
        .all(db)
        .await?
    {
        if wanted.get(&v.boundary_id) == Some(&v.number) {
            versions.insert((v.boundary_id, v.number), v);
        }
    }
    let mut events: HashMap<Uuid, Vec<BoundaryEventView>> = HashMap::new();
    for e in access
        .scope
        .select::<boundary_events::Entity>()
        .filter(boundary_events::Column::BoundaryId.is_in(ids))
        .order_by_asc(boundary_events::Column::OccurredOn)
        .order_by_asc(boundary_events::Column::Id)
        .all(db)
        .await?
    {
        events.entry(e.boundary_id).or_default().push(BoundaryEventView {
            kind: BoundaryEventKind::from_stored(&e.kind)?,
            id: e.id,
            occurred_on: e.occurred_on,
            note: access.cipher().open_opt(EVENT_NOTE, e.id, e.note.as_deref())?,
            recorded_by: e.recorded_by,
        });
    }
    rows.into_iter()
        .map(|row| {
            let current = versions
                .remove(&(row.id, row.current_version))
                .ok_or_else(|| anyhow::anyhow!("boundary without its current version"))?;
            Ok(BoundaryView {
                id: row.id,
                holder: Holder::from_stored(&row.holder)?,
                category: BoundaryCategory::from_stored(&row.category)?,
                audience: row.audience,
                status: row.status,
                current: version_view(access, current)?,
                agreed_by_a_at: row.agreed_a_at,
                agreed_by_b_at: row.agreed_b_at,
                events: events.remove(&row.id).unwrap_or_default(),
                version: row.version,
            })
        })
        .collect()
}

async fn insert_version(
    db: &impl ConnectionTrait,
    access: &CoupleAccess,
    boundary_id: Uuid,
    number: i32,
    wording: Wording,
    input: &BoundaryInput,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let id = Uuid::now_v7();
    boundary_versions::ActiveModel {
        id: Set(id),
        practice_id: Set(access.scope.practice_id()),
        boundary_id: Set(boundary_id),
        number: Set(number),
        statement: Set(access.cipher().seal(STATEMENT, id, &wording.statement)),
        consequence: Set(access.cipher().seal(CONSEQUENCE, id, &wording.consequence)),
        effective_on: Set(input.effective_on.map(BoundedDate::get)),
        review_on: Set(input.review_on.map(BoundedDate::get)),
        created_by: Set(access.member_id),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}

pub async fn create(now: OffsetDateTime, access: &CoupleAccess, input: BoundaryInput) -> Result<BoundaryView, AppError> {
    let wording = parse(&input)?;
    let id = Uuid::now_v7();
    let txn = access.db().begin().await?;
    boundaries::ActiveModel {
        id: Set(id),
        practice_id: Set(access.scope.practice_id()),
        couple_id: Set(access.couple_id()),
        holder: Set(input.holder.as_str()),
        category: Set(input.category.as_str()),
        audience: Set(input.audience.unwrap_or(Audience::Couple)),
        status: Set(BoundaryStatus::Proposed),
        current_version: Set(1),
        agreed_a_at: Set(None),
        agreed_a_by: Set(None),
        agreed_b_at: Set(None),
        agreed_b_by: Set(None),
        created_by: Set(access.member_id),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
    }
    .insert(&txn)
    .await?;
    insert_version(&txn, access, id, 1, wording, &input, now).await?;
    let row = load_row(&txn, access, id).await?;
    let view = to_view(&txn, access, row).await?;
    txn.commit().await?;
    Ok(view)
}

pub async fn get(access: &CoupleAccess, id: Uuid) -> Result<BoundaryView, AppError> {
    let row = load_row(&access.db(), access, id).await?;
    to_view(&access.db(), access, row).await
}

pub async fn list(access: &CoupleAccess, page: &PageQuery) -> Result<Page<BoundaryView>, AppError> {
    let limit = page.limit()?;
    let mut query = access
        .records::<boundaries::Entity>()
        .filter(boundaries::Column::Audience.is_in(access.visible_audiences()))
        .order_by_desc(boundaries::Column::Id)
        .limit(limit + 1);
    if let Some(cursor) = page.cursor {
        query = query.filter(boundaries::Column::Id.lt(cursor));
    }
    let (rows, next_cursor) = split_page(query.all(&access.db()).await?, limit, |r| r.id);
    Ok(Page { items: to_views(&access.db(), access, rows).await?, next_cursor })
}

pub async fn versions(access: &CoupleAccess, id: Uuid) -> Result<Vec<BoundaryVersionView>, AppError> {
    load_row(&access.db(), access, id).await?;
    access
        .scope
        .select::<boundary_versions::Entity>()
        .filter(boundary_versions::Column::BoundaryId.eq(id))
        .order_by_asc(boundary_versions::Column::Number)
        .all(&access.db())
        .await?
        .into_iter()
        .map(|v| version_view(access, v))
        .collect()
}

/// A boundary whose current wording still waits for a partner's agreement.
#[derive(Clone, Debug)]
pub struct Awaiting {
    pub id: Uuid,
    pub couple_id: CoupleId,
    pub category: BoundaryCategory,
    pub holder: Holder,
    /// The partners who have not agreed yet.
    pub waiting_for: Vec<PartnerSlot>,
}

/// Boundaries of the caseload's couples the caller treats (care team,
/// supervisor) that wait for a partner's agreement: one query, nothing
/// decrypted (the wording stays on the couple's page).
pub async fn awaiting_agreement(caseload: &crate::access::Caseload) -> Result<Vec<Awaiting>, AppError> {
    let rows = caseload
        .records::<boundaries::Entity>(CoupleAccess::is_clinician)
        .filter(boundaries::Column::Status.is_in([BoundaryStatus::Proposed.as_str(), BoundaryStatus::Revised.as_str()]))
        .order_by_asc(boundaries::Column::Id)
        .all(caseload.db())
        .await?;
    let mut items = Vec::new();
    for row in rows {
        let Some(access) = caseload.of(row.couple_id) else { continue };
        if !access.is_clinician() || !access.sees(row.audience) {
            continue;
        }
        let waiting_for = [(PartnerSlot::A, row.agreed_a_at), (PartnerSlot::B, row.agreed_b_at)]
            .into_iter()
            .filter(|(_, at)| at.is_none())
            .map(|(slot, _)| slot)
            .collect();
        items.push(Awaiting {
            id: row.id,
            couple_id: row.couple_id,
            category: BoundaryCategory::from_stored(&row.category)?,
            holder: Holder::from_stored(&row.holder)?,
            waiting_for,
        });
    }
    Ok(items)
}

/// Rewords a boundary: a new version, kept beside the old ones, which both
/// partners agree to afresh.
pub async fn revise(
    now: OffsetDateTime,
    access: &CoupleAccess,
    id: Uuid,
    IfMatch(expected): IfMatch,
    input: BoundaryInput,
) -> Result<BoundaryView, AppError> {
    let row = load_row(&access.db(), access, id).await?;
    if row.status == BoundaryStatus::Retired {
        return Err(AppError::Conflict("A retired boundary is kept as it was; propose a new one.".into()));
    }
    let wording = parse(&input)?;
    let next = row.current_version + 1;
    let txn = access.db().begin().await?;
    let update = access
        .update_at_version::<boundaries::Entity>(id, expected)
        .col_expr(boundaries::Column::Holder, Expr::value(input.holder.as_str()))
        .col_expr(boundaries::Column::Category, Expr::value(input.category.as_str()))
        .col_expr(boundaries::Column::Audience, Expr::value(input.audience.unwrap_or(Audience::Couple)))
        .col_expr(boundaries::Column::Status, Expr::value(BoundaryStatus::Revised))
        .col_expr(boundaries::Column::CurrentVersion, Expr::value(next))
        .col_expr(boundaries::Column::AgreedAAt, Expr::value(Option::<OffsetDateTime>::None))
        .col_expr(boundaries::Column::AgreedABy, Expr::value(Option::<Uuid>::None))
        .col_expr(boundaries::Column::AgreedBAt, Expr::value(Option::<OffsetDateTime>::None))
        .col_expr(boundaries::Column::AgreedBBy, Expr::value(Option::<Uuid>::None))
        .col_expr(boundaries::Column::UpdatedAt, Expr::value(now));
    exec_at_version(update, &txn).await?;
    insert_version(&txn, access, id, next, wording, &input, now).await?;
    txn.commit().await?;
    get(access, id).await
}

/// Records one partner's agreement to the current wording. If-Match ties
/// the agreement to the version the partner read.
pub async fn agree(
    now: OffsetDateTime,
    access: &CoupleAccess,
    id: Uuid,
    IfMatch(expected): IfMatch,
    input: AgreeInput,
) -> Result<BoundaryView, AppError> {
    let row = load_row(&access.db(), access, id).await?;
    let slot = access.acting_for(input.partner)?;
    if row.status == BoundaryStatus::Retired {
        return Err(AppError::Conflict("This boundary is retired.".into()));
    }
    let (at, by, other_at) = match slot {
        PartnerSlot::A => (boundaries::Column::AgreedAAt, boundaries::Column::AgreedABy, row.agreed_b_at),
        PartnerSlot::B => (boundaries::Column::AgreedBAt, boundaries::Column::AgreedBBy, row.agreed_a_at),
    };
    let status = if other_at.is_some() { BoundaryStatus::Agreed } else { row.status };
    let update = access
        .update_at_version::<boundaries::Entity>(id, expected)
        .col_expr(at, Expr::value(now))
        .col_expr(by, Expr::value(access.member_id))
        .col_expr(boundaries::Column::Status, Expr::value(status))
        .col_expr(boundaries::Column::UpdatedAt, Expr::value(now));
    exec_at_version(update, &access.db()).await?;
    get(access, id).await
}

pub async fn retire(now: OffsetDateTime, access: &CoupleAccess, id: Uuid, IfMatch(expected): IfMatch) -> Result<BoundaryView, AppError> {
    load_row(&access.db(), access, id).await?;
    let update = access
        .update_at_version::<boundaries::Entity>(id, expected)
        .col_expr(boundaries::Column::Status, Expr::value(BoundaryStatus::Retired))
        .col_expr(boundaries::Column::UpdatedAt, Expr::value(now));
    exec_at_version(update, &access.db()).await?;
    get(access, id).await
}

/// Logs a time the boundary was tested or kept. The log only grows.
pub async fn log_event(now: OffsetDateTime, access: &CoupleAccess, id: Uuid, input: BoundaryEventInput) -> Result<BoundaryView, AppError> {
    load_row(&access.db(), access, id).await?;
    let note = optional_text(input.note.as_deref(), limits::MEDIUM).map_err(|e| AppError::invalid("note", &e))?;
    let event_id = Uuid::now_v7();
    boundary_events::ActiveModel {
        id: Set(event_id),
        practice_id: Set(access.scope.practice_id()),
        boundary_id: Set(id),
        kind: Set(input.kind.as_str()),
        occurred_on: Set(input.occurred_on.get()),
        note: Set(access.cipher().seal_opt(EVENT_NOTE, event_id, note.as_deref())),
        recorded_by: Set(access.member_id),
        created_at: Set(now),
    }
    .insert(&access.db())
    .await?;
    get(access, id).await
}
