//! Lapses: when, what, how much and how long, where, which high-risk
//! situation, who reported it, whether it was a short lapse or a return to
//! sustained use, what was learned, which step of the lapse-response timeline
//! started, and whether safety was checked. Recording one never erases
//! progress: sobriety shows the streak and the total side by side.

use time::OffsetDateTime;
use entity::ids::CoupleId;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr};
use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::ToSchema;
use uuid::Uuid;

use entity::lapses;

use super::{
    consents::RecordKind,
    disclosures::{self, Channel, Disclosed},
    common::{Audience, IfMatch, Page, PageQuery, PartnerSlot, StoredEnum, limits, optional_text, required_text, split_page},
    couples::SecretsPolicy,
    plans::{HighRiskCategory, TimelineWhen},
};
use crate::input::BoundedDate;
use crate::{
    access::{Caseload, ConsentInForce, CoupleAccess, Recipient, exec_at_version},
    error::AppError,
    practice::Fields,
    vault::{PracticeCipher, fields::{LAPSE_AMOUNT as AMOUNT, LAPSE_LEARNED as LEARNED, LAPSE_SETTING as SETTING, LAPSE_SUBSTANCE as SUBSTANCE}},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportedBy {
    /// The partner who used told the counselor.
    #[serde(rename = "self")]
    Myself,
    Partner,
    Test,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LapseKind {
    /// A short return to use, used to learn.
    Lapse,
    /// A return to sustained use.
    Relapse,
}

impl StoredEnum for ReportedBy {}
impl StoredEnum for LapseKind {}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "partner": "a", "occurred_on": "2026-03-10", "days": 2, "substance": "alcohol",
    "amount": "about six beers each evening", "setting": "colleague's leaving party",
    "high_risk_category": "social_pressure", "reported_by": "self", "kind": "lapse",
    "learned": "Saying yes to 'just one' at work events is the door; leave before the second round.",
    "timeline_step": "first_week", "safety_checked": true, "audience": "couple"
}))]
pub struct LapseInput {
    /// The partner who used.
    pub partner: PartnerSlot,
    /// The first day of use.
    pub occurred_on: BoundedDate,
    /// How many consecutive days of use (1-366, default 1).
    #[schema(minimum = 1, maximum = 366)]
    pub days: Option<i32>,
    #[schema(schema_with = crate::input::schema::short)]
    pub substance: String,
    #[schema(schema_with = crate::input::schema::short_or_none)]
    pub amount: Option<String>,
    #[schema(schema_with = crate::input::schema::medium_or_none)]
    pub setting: Option<String>,
    pub high_risk_category: Option<HighRiskCategory>,
    pub reported_by: ReportedBy,
    pub kind: LapseKind,
    #[schema(schema_with = crate::input::schema::long_or_none)]
    pub learned: Option<String>,
    /// The lapse-response step under way.
    pub timeline_step: Option<TimelineWhen>,
    #[serde(default)]
    pub safety_checked: bool,
    /// Default: set by the couple's secrets policy (the couple under
    /// no-secrets, the partner alone under individual confidentiality).
    pub audience: Option<Audience>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct LapseView {
    pub id: Uuid,
    pub partner: PartnerSlot,
    pub occurred_on: Date,
    pub days: i32,
    pub substance: String,
    pub amount: Option<String>,
    pub setting: Option<String>,
    pub high_risk_category: Option<HighRiskCategory>,
    pub reported_by: ReportedBy,
    pub kind: LapseKind,
    pub learned: Option<String>,
    pub timeline_step: Option<TimelineWhen>,
    pub safety_checked: bool,
    /// Who besides the care team reads it. When the request left it out,
    /// this is what the couple's secrets policy resolved it to.
    pub audience: Audience,
    /// The partners who will see this lapse (none: the care team only). A
    /// partner left out is not shown the sobriety figures of the partner
    /// who used.
    pub seen_by: Vec<PartnerSlot>,
    pub version: i32,
}

crate::versioned!(LapseView);

struct Parsed {
    days: i32,
    substance: String,
    amount: Option<String>,
    setting: Option<String>,
    learned: Option<String>,
}

fn parse(input: &LapseInput) -> Result<Parsed, AppError> {
    let mut f = Fields::default();
    let days = f.check(
        "days",
        match input.days.unwrap_or(1) {
            d @ 1..=366 => Ok(d),
            _ => Err("between 1 and 366 days".to_owned()),
        },
    );
    let substance = f.check("substance", required_text(&input.substance, limits::SHORT));
    let amount = f.check("amount", optional_text(input.amount.as_deref(), limits::SHORT));
    let setting = f.check("setting", optional_text(input.setting.as_deref(), limits::MEDIUM));
    let learned = f.check("learned", optional_text(input.learned.as_deref(), limits::LONG));
    let (days, substance, amount, setting, learned) = f.finish_with(|| Some((days?, substance?, amount?, setting?, learned?)))?;
    Ok(Parsed { days, substance, amount, setting, learned })
}

fn default_audience(access: &CoupleAccess, partner: PartnerSlot) -> Result<Audience, AppError> {
    Ok(match access.couple.secrets_policy {
        SecretsPolicy::NoSecrets => Audience::Couple,
        SecretsPolicy::IndividualConfidential => partner.own_audience(),
    })
}

fn to_view(cipher: &PracticeCipher, row: lapses::Model) -> Result<LapseView, AppError> {
    let reported_by = ReportedBy::from_stored(&row.reported_by)?;
    let audience = row.audience;
    Ok(LapseView {
        id: row.id,
        partner: row.partner_slot,
        occurred_on: row.occurred_on,
        days: row.days,
        substance: cipher.open(SUBSTANCE, row.id, &row.substance)?,
        amount: cipher.open_opt(AMOUNT, row.id, row.amount.as_deref())?,
        setting: cipher.open_opt(SETTING, row.id, row.setting.as_deref())?,
        high_risk_category: row.high_risk_category.as_deref().map(HighRiskCategory::from_stored).transpose()?,
        reported_by,
        kind: LapseKind::from_stored(&row.kind)?,
        learned: cipher.open_opt(LEARNED, row.id, row.learned.as_deref())?,
        timeline_step: row.timeline_step.as_deref().map(TimelineWhen::from_stored).transpose()?,
        safety_checked: row.safety_checked,
        audience,
        seen_by: [PartnerSlot::A, PartnerSlot::B].into_iter().filter(|p| audience.includes_partner(*p)).collect(),
        version: row.version,
    })
}

pub async fn create(now: OffsetDateTime, access: &CoupleAccess, input: LapseInput) -> Result<LapseView, AppError> {
    let p = parse(&input)?;
    let audience = match input.audience {
        Some(a) => a,
        None => default_audience(access, input.partner)?,
    };
    // A lapse recorded already shown to the other partner is a disclosure
    // from the start: the same consent, and the same register row, as a
    // later share.
    let consent = match audience.includes_partner(input.partner.other()) {
        true => Some(crate::access::consent_in_force(access, now, input.partner, RecordKind::Lapses, Recipient::OtherPartner).await?),
        false => None,
    };
    let id = Uuid::now_v7();
    let c = access.cipher();
    let row = lapses::ActiveModel {
        id: Set(id),
        practice_id: Set(access.scope.practice_id()),
        couple_id: Set(access.couple_id()),
        partner_slot: Set(input.partner),
        occurred_on: Set(input.occurred_on.get()),
        days: Set(p.days),
        substance: Set(c.seal(SUBSTANCE, id, &p.substance)),
        amount: Set(c.seal_opt(AMOUNT, id, p.amount.as_deref())),
        setting: Set(c.seal_opt(SETTING, id, p.setting.as_deref())),
        high_risk_category: Set(input.high_risk_category.map(|c| c.as_str())),
        reported_by: Set(input.reported_by.as_str()),
        kind: Set(input.kind.as_str()),
        learned: Set(c.seal_opt(LEARNED, id, p.learned.as_deref())),
        timeline_step: Set(input.timeline_step.map(|t| t.as_str())),
        safety_checked: Set(input.safety_checked),
        audience: Set(audience),
        created_by: Set(access.member_id),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
    }
    .insert(&access.db())
    .await?;
    if let Some(consent) = &consent {
        register_share(access, now, consent, id, row.occurred_on).await?;
    }
    super::lapse_response::start(access, &row).await?;
    to_view(c, row)
}

/// Registers that lapse `id` (of `occurred_on`) was shown to the other partner.
async fn register_share(access: &CoupleAccess, now: time::OffsetDateTime, consent: &ConsentInForce, id: Uuid, occurred_on: Date) -> Result<(), AppError> {
    let what = format!("Lapse of {occurred_on}");
    let shared = Disclosed { consent, channel: Channel::Share, kind: RecordKind::Lapses, record_id: Some(id), what, recipient: consent.recipient.clone(), purpose: consent.purpose.clone() };
    disclosures::record(access, now, shared).await
}

pub async fn get(access: &CoupleAccess, id: Uuid) -> Result<LapseView, AppError> {
    to_view(access.cipher(), access.shared_record::<lapses::Entity>(&access.db(), id).await?)
}

/// Every lapse of the couple in one read, oldest first: each one's partner
/// and audience, hidden ones included (for deciding whether sobriety
/// figures may be shown to the caller, never for showing), and the views of
/// those the caller may see.
pub async fn for_sobriety(db: &impl ConnectionTrait, access: &CoupleAccess) -> Result<Lapses, AppError> {
    let rows = access.records::<lapses::Entity>().order_by_asc(lapses::Column::OccurredOn).all(db).await?;
    let mut all = Lapses { audiences: Vec::with_capacity(rows.len()), visible: Vec::with_capacity(rows.len()) };
    for row in rows {
        let (partner, audience) = (row.partner_slot, row.audience);
        all.audiences.push((partner, audience));
        if access.sees(audience) {
            all.visible.push(to_view(access.cipher(), row)?);
        }
    }
    Ok(all)
}

/// A couple's lapses as [`for_sobriety`] reads them.
pub struct Lapses {
    pub audiences: Vec<(PartnerSlot, Audience)>,
    /// What the caller may see, oldest first.
    pub visible: Vec<LapseView>,
}

impl Lapses {
    /// A page of the visible lapses, most recently recorded first, as [`list`] gives it.
    pub fn page(&self, page: &PageQuery) -> Result<Page<LapseView>, AppError> {
        let limit = page.limit()?;
        let mut rows: Vec<&LapseView> = self.visible.iter().filter(|l| page.cursor.is_none_or(|c| l.id < c)).collect();
        rows.sort_by_key(|l| std::cmp::Reverse(l.id));
        rows.truncate(limit as usize + 1);
        let (rows, next_cursor) = split_page(rows, limit, |l| l.id);
        Ok(Page { items: rows.into_iter().cloned().collect(), next_cursor })
    }
}

/// Lapses on or after `on` of the caseload's couples the caller treats
/// (care team, supervisor), newest first: one query.
pub async fn since(caseload: &Caseload, on: Date) -> Result<Vec<(CoupleId, LapseView)>, AppError> {
    let rows = caseload
        .records::<lapses::Entity>(CoupleAccess::is_clinician)
        .filter(lapses::Column::OccurredOn.gte(on))
        .order_by_desc(lapses::Column::OccurredOn)
        .all(caseload.db())
        .await?;
    let mut items = Vec::new();
    for row in rows {
        let couple_id = row.couple_id;
        if let Some(access) = caseload.of(couple_id).filter(|a| a.is_clinician()) {
            let view = to_view(access.cipher(), row)?;
            if access.sees(view.audience) {
                items.push((couple_id, view));
            }
        }
    }
    Ok(items)
}

/// Lapses, most recently recorded first.
pub async fn list(access: &CoupleAccess, page: &PageQuery) -> Result<Page<LapseView>, AppError> {
    let limit = page.limit()?;
    let mut query = access
        .records::<lapses::Entity>()
        .filter(lapses::Column::Audience.is_in(access.visible_audiences()))
        .order_by_desc(lapses::Column::Id)
        .limit(limit + 1);
    if let Some(cursor) = page.cursor {
        query = query.filter(lapses::Column::Id.lt(cursor));
    }
    let (rows, next_cursor) = split_page(query.all(&access.db()).await?, limit, |r| r.id);
    Ok(Page { items: rows.into_iter().map(|row| to_view(access.cipher(), row)).collect::<Result<_, _>>()?, next_cursor })
}

pub async fn update(now: OffsetDateTime, access: &CoupleAccess, id: Uuid, IfMatch(expected): IfMatch, input: LapseInput) -> Result<LapseView, AppError> {
    let stored = get(access, id).await?;
    let p = parse(&input)?;
    // Left out, the audience stays as it is: a counselor's earlier choice is
    // never silently replaced. A lapse moved to the other partner takes that
    // partner's default, so it never stays visible to the wrong one.
    let audience = match input.audience {
        Some(a) => a,
        None if stored.partner == input.partner => stored.audience,
        None => default_audience(access, input.partner)?,
    };
    // Showing one partner's lapse to the other is a disclosure: it needs
    // that partner's consent in force, and lands in the register.
    let other = input.partner.other();
    let shares = audience.includes_partner(other) && !(stored.partner == input.partner && stored.audience.includes_partner(other));
    let consent = match shares {
        true => Some(crate::access::consent_in_force(access, now, input.partner, RecordKind::Lapses, Recipient::OtherPartner).await?),
        false => None,
    };
    let update = access
        .update_at_version::<lapses::Entity>(id, expected)
        .col_expr(lapses::Column::PartnerSlot, Expr::value(input.partner))
        .col_expr(lapses::Column::OccurredOn, Expr::value(input.occurred_on.get()))
        .col_expr(lapses::Column::Days, Expr::value(p.days))
        .col_expr(lapses::Column::Substance, Expr::value(access.cipher().seal(SUBSTANCE, id, &p.substance)))
        .col_expr(lapses::Column::Amount, Expr::value(access.cipher().seal_opt(AMOUNT, id, p.amount.as_deref())))
        .col_expr(lapses::Column::Setting, Expr::value(access.cipher().seal_opt(SETTING, id, p.setting.as_deref())))
        .col_expr(lapses::Column::HighRiskCategory, Expr::value(input.high_risk_category.map(|c| c.as_str())))
        .col_expr(lapses::Column::ReportedBy, Expr::value(input.reported_by.as_str()))
        .col_expr(lapses::Column::Kind, Expr::value(input.kind.as_str()))
        .col_expr(lapses::Column::Learned, Expr::value(access.cipher().seal_opt(LEARNED, id, p.learned.as_deref())))
        .col_expr(lapses::Column::TimelineStep, Expr::value(input.timeline_step.map(|t| t.as_str())))
        .col_expr(lapses::Column::SafetyChecked, Expr::value(input.safety_checked))
        .col_expr(lapses::Column::Audience, Expr::value(audience))
        .col_expr(lapses::Column::UpdatedAt, Expr::value(now));
    exec_at_version(update, &access.db()).await?;
    if let Some(consent) = &consent {
        register_share(access, now, consent, id, input.occurred_on.get()).await?;
    }
    super::lapse_response::follow(access, id).await?;
    get(access, id).await
}
