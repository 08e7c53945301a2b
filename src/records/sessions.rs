//! Sessions with a couple: joint, with one partner, or collateral (with
//! someone else in the couple's life).

use entity::ids::CoupleId;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, QueryFilter, QueryOrder,
    QuerySelect, sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use entity::therapy_sessions;

use super::{
    common::{
        Audience, IfMatch, Page, PageQuery, PartnerSlot, StoredEnum, limits, optional_text, required_text,
        split_page,
    },
    couples::SecretsPolicy,
};
use crate::input::BoundedDateTime;
use crate::{access::{Caseload, CoupleAccess, exec_at_version}, error::AppError, practice::Fields};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    Joint,
    Individual,
    /// With someone else in the couple's life (family, sponsor), not a partner.
    Collateral,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Modality {
    RelapsePrevention,
    BehavioralCouplesTherapy,
    Craft,
    Other,
}

impl StoredEnum for SessionKind {}
impl StoredEnum for Modality {}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "starts_at": "2026-11-24T17:00:00Z", "ends_at": "2026-11-24T17:50:00Z", "kind": "joint",
    "modality": "behavioral_couples_therapy", "attendees": ["Dan", "Marisol"],
    "location": "Room 2", "telehealth": false
}))]
pub struct SessionInput {
    pub starts_at: BoundedDateTime,
    pub ends_at: BoundedDateTime,
    pub kind: SessionKind,
    /// Which partner, for an individual session.
    pub partner: Option<PartnerSlot>,
    pub modality: Modality,
    /// Who attended (at most 50 names).
    #[serde(default)]
    #[schema(schema_with = crate::input::schema::short_list)]
    pub attendees: Vec<String>,
    #[schema(schema_with = crate::input::schema::short_or_none)]
    pub location: Option<String>,
    #[serde(default)]
    pub telehealth: bool,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub id: Uuid,
    pub couple_id: CoupleId,
    #[serde(with = "time::serde::rfc3339")]
    pub starts_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub ends_at: OffsetDateTime,
    pub kind: SessionKind,
    pub partner: Option<PartnerSlot>,
    pub modality: Modality,
    pub attendees: Vec<String>,
    pub location: Option<String>,
    pub telehealth: bool,
    pub version: i32,
}

/// Who may know a session took place: a joint session is the couple's; an
/// individual one is that partner's (or the couple's, under a no-secrets
/// agreement); a collateral one is the care team's.
pub fn audience(row: &therapy_sessions::Model, policy: SecretsPolicy) -> Result<Audience, AppError> {
    Ok(match SessionKind::from_stored(&row.kind)? {
        SessionKind::Joint => Audience::Couple,
        SessionKind::Collateral => Audience::Clinician,
        SessionKind::Individual => match (policy, row.partner_slot) {
            (SecretsPolicy::NoSecrets, _) => Audience::Couple,
            (_, Some(slot)) => slot.own_audience(),
            (_, None) => Audience::Clinician,
        },
    })
}

struct Parsed {
    attendees: String,
    location: Option<String>,
}

fn parse(input: &SessionInput) -> Result<Parsed, AppError> {
    let mut fields = Fields::default();
    if input.ends_at <= input.starts_at {
        fields.check::<()>("ends_at", Err("end after the start".into()));
    }
    if (input.ends_at.get() - input.starts_at.get()) > time::Duration::hours(12) {
        fields.check::<()>("ends_at", Err("a session lasts at most 12 hours".into()));
    }
    match (input.kind, input.partner) {
        (SessionKind::Individual, None) => {
            fields.check::<()>("partner", Err("say which partner the individual session is with".into()));
        }
        (SessionKind::Joint | SessionKind::Collateral, Some(_)) => {
            fields.check::<()>("partner", Err("only individual sessions name a partner".into()));
        }
        _ => {}
    }
    if input.attendees.len() > limits::LIST_ITEMS {
        fields.check::<()>("attendees", Err(format!("list at most {} attendees", limits::LIST_ITEMS)));
    }
    let attendees: Vec<String> = input
        .attendees
        .iter()
        .enumerate()
        .filter_map(|(i, a)| fields.check(&format!("attendees[{i}]"), required_text(a, limits::SHORT)))
        .collect();
    let location = fields.check("location", optional_text(input.location.as_deref(), limits::SHORT));
    fields.finish()?;
    Ok(Parsed {
        attendees: serde_json::to_string(&attendees).map_err(anyhow::Error::from)?,
        location: location.flatten(),
    })
}

fn to_view(row: therapy_sessions::Model) -> Result<SessionView, AppError> {
    Ok(SessionView {
        id: row.id,
        couple_id: row.couple_id,
        starts_at: row.starts_at,
        ends_at: row.ends_at,
        kind: SessionKind::from_stored(&row.kind)?,
        partner: row.partner_slot,
        modality: Modality::from_stored(&row.modality)?,
        attendees: serde_json::from_str(&row.attendees).map_err(anyhow::Error::from)?,
        location: row.location,
        telehealth: row.telehealth,
        version: row.version,
    })
}

pub async fn create(now: OffsetDateTime, access: &CoupleAccess, input: SessionInput) -> Result<SessionView, AppError> {
    let parsed = parse(&input)?;
    let row = therapy_sessions::ActiveModel {
        id: Set(Uuid::now_v7()),
        practice_id: Set(access.scope.practice_id()),
        couple_id: Set(access.couple_id()),
        starts_at: Set(input.starts_at.get()),
        ends_at: Set(input.ends_at.get()),
        kind: Set(input.kind.as_str()),
        partner_slot: Set(input.partner),
        modality: Set(input.modality.as_str()),
        attendees: Set(parsed.attendees),
        location: Set(parsed.location),
        telehealth: Set(input.telehealth),
        created_by: Set(access.member_id),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
    }
    .insert(&access.db())
    .await?;
    to_view(row)
}

/// Loads a session of the couple that the caller may know about.
pub async fn load(db: &impl ConnectionTrait, access: &CoupleAccess, id: Uuid) -> Result<therapy_sessions::Model, AppError> {
    let row = access
        .records::<therapy_sessions::Entity>()
        .filter(therapy_sessions::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    access.require_sees(audience(&row, access.couple.secrets_policy)?)?;
    Ok(row)
}

pub async fn get(access: &CoupleAccess, id: Uuid) -> Result<SessionView, AppError> {
    to_view(load(&access.db(), access, id).await?)
}

/// Sessions, latest start first.
pub async fn list(access: &CoupleAccess, page: &PageQuery) -> Result<Page<SessionView>, AppError> {
    let limit = page.limit()?;
    let policy = access.couple.secrets_policy;
    let mut query = access
        .records::<therapy_sessions::Entity>()
        .order_by_desc(therapy_sessions::Column::Id)
        .limit(limit + 1);
    if let Some(cursor) = page.cursor {
        query = query.filter(therapy_sessions::Column::Id.lt(cursor));
    }
    let (rows, next_cursor) = split_page(query.all(&access.db()).await?, limit, |r| r.id);
    let mut items = Vec::new();
    for row in rows {
        if access.sees(audience(&row, policy)?) {
            items.push(to_view(row)?);
        }
    }
    items.sort_by_key(|s| std::cmp::Reverse(s.starts_at));
    Ok(Page { items, next_cursor })
}

/// Every session of the couple the caller may see, earliest first (for
/// the timeline of the months in care): one query.
pub async fn all(access: &CoupleAccess) -> Result<Vec<SessionView>, AppError> {
    let policy = access.couple.secrets_policy;
    let rows = access.records::<therapy_sessions::Entity>().order_by_asc(therapy_sessions::Column::StartsAt).all(&access.db()).await?;
    let mut items = Vec::new();
    for row in rows {
        if access.sees(audience(&row, policy)?) {
            items.push(to_view(row)?);
        }
    }
    Ok(items)
}

/// Sessions of the caseload's couples that overlap `from..to`, each as its
/// couple's access lets the caller see them: one query.
pub async fn between(caseload: &Caseload, from: OffsetDateTime, to: OffsetDateTime) -> Result<Vec<SessionView>, AppError> {
    let rows = caseload
        .records::<therapy_sessions::Entity>(|_| true)
        .filter(therapy_sessions::Column::EndsAt.gte(from))
        .filter(therapy_sessions::Column::StartsAt.lte(to))
        .order_by_asc(therapy_sessions::Column::StartsAt)
        .all(caseload.db())
        .await?;
    let mut items = Vec::new();
    for row in rows {
        let Some(access) = caseload.of(row.couple_id) else { continue };
        if access.sees(audience(&row, access.couple.secrets_policy)?) {
            items.push(to_view(row)?);
        }
    }
    Ok(items)
}

pub async fn update(
    now: OffsetDateTime,
    access: &CoupleAccess,
    id: Uuid,
    IfMatch(expected): IfMatch,
    input: SessionInput,
) -> Result<SessionView, AppError> {
    load(&access.db(), access, id).await?;
    let parsed = parse(&input)?;
    let update = access
        .update_at_version::<therapy_sessions::Entity>(id, expected)
        .col_expr(therapy_sessions::Column::StartsAt, Expr::value(input.starts_at.get()))
        .col_expr(therapy_sessions::Column::EndsAt, Expr::value(input.ends_at.get()))
        .col_expr(therapy_sessions::Column::Kind, Expr::value(input.kind.as_str()))
        .col_expr(therapy_sessions::Column::PartnerSlot, Expr::value(input.partner))
        .col_expr(therapy_sessions::Column::Modality, Expr::value(input.modality.as_str()))
        .col_expr(therapy_sessions::Column::Attendees, Expr::value(parsed.attendees))
        .col_expr(therapy_sessions::Column::Location, Expr::value(parsed.location))
        .col_expr(therapy_sessions::Column::Telehealth, Expr::value(input.telehealth))
        .col_expr(therapy_sessions::Column::UpdatedAt, Expr::value(now));
    exec_at_version(update, &access.db()).await?;
    get(access, id).await
}

crate::versioned!(SessionView);
