//! The CRAFT track (Community Reinforcement and Family Training) of a
//! supporting partner: functional analyses of the other partner's use and
//! of a healthy behaviour that competes with it, positive communication
//! exercises, rewarding non-use, allowing natural consequences, self-care
//! and life-enrichment goals, and the invitation-to-treatment plan.
//!
//! Each item is owned by one partner and has that partner as its only client
//! audience: the other partner never reads it, by any route. The track
//! needs nothing of the other partner, who may not be a client yet. The
//! care team sets items; the owner may add their own, edit them, and check
//! them off with how it went. Text is sealed at rest
//! (`vault::fields::CRAFT_ITEM_CONTENT`).

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use entity::craft_items;

use super::common::{Audience, IfMatch, PartnerSlot, StoredEnum, limits, optional_text, required_text};
use crate::{
    access::{CoupleAccess, exec_at_version},
    error::AppError,
    practice::Fields,
    vault::fields::CRAFT_ITEM_CONTENT as CONTENT,
};

/// Items a track holds at most.
const TRACK_ITEMS: u64 = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CraftKind {
    /// Functional analysis of the other partner's use.
    UseAnalysis,
    /// Functional analysis of a healthy behaviour that competes with use.
    HealthyAnalysis,
    /// A positive communication exercise.
    PositiveCommunication,
    /// Rewarding non-use.
    RewardingNonUse,
    /// Allowing the natural consequences of use.
    NaturalConsequences,
    /// Self-care and life enrichment.
    SelfCare,
    /// The invitation-to-treatment plan.
    InvitationToTreatment,
}

impl StoredEnum for CraftKind {}

impl CraftKind {
    pub const ALL: [CraftKind; 7] = [
        CraftKind::UseAnalysis,
        CraftKind::HealthyAnalysis,
        CraftKind::PositiveCommunication,
        CraftKind::RewardingNonUse,
        CraftKind::NaturalConsequences,
        CraftKind::SelfCare,
        CraftKind::InvitationToTreatment,
    ];

    /// The kind in the counselor's words.
    pub fn label(self) -> &'static str {
        match self {
            CraftKind::UseAnalysis => "Understanding the use",
            CraftKind::HealthyAnalysis => "Understanding a healthy behaviour",
            CraftKind::PositiveCommunication => "Positive communication",
            CraftKind::RewardingNonUse => "Rewarding non-use",
            CraftKind::NaturalConsequences => "Allowing natural consequences",
            CraftKind::SelfCare => "Self-care and life enrichment",
            CraftKind::InvitationToTreatment => "Inviting to treatment",
        }
    }
}

/// The text of an item. Which fields a kind uses: the analyses use
/// `triggers`, `behaviour`, `short_term_positives` and `long_term_negatives`;
/// exercises and goals use `practice`; the invitation uses `when`, `how`,
/// `what_to_say` and `arranged`. Any item may carry `notes`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CraftText {
    #[schema(schema_with = crate::input::schema::short)]
    pub title: String,
    #[serde(default)]
    #[schema(schema_with = crate::input::schema::medium_list)]
    pub triggers: Vec<String>,
    /// The use (or the healthy behaviour) itself.
    #[schema(schema_with = crate::input::schema::medium_or_none)]
    pub behaviour: Option<String>,
    #[serde(default)]
    #[schema(schema_with = crate::input::schema::medium_list)]
    pub short_term_positives: Vec<String>,
    #[serde(default)]
    #[schema(schema_with = crate::input::schema::medium_list)]
    pub long_term_negatives: Vec<String>,
    /// What to practise or do (the exercise, the reward, the goal).
    #[schema(schema_with = crate::input::schema::medium_or_none)]
    pub practice: Option<String>,
    #[schema(schema_with = crate::input::schema::medium_or_none)]
    pub when: Option<String>,
    #[schema(schema_with = crate::input::schema::medium_or_none)]
    pub how: Option<String>,
    #[schema(schema_with = crate::input::schema::medium_or_none)]
    pub what_to_say: Option<String>,
    /// What the counselor has arranged (an intake appointment, a bed).
    #[schema(schema_with = crate::input::schema::medium_or_none)]
    pub arranged: Option<String>,
    #[schema(schema_with = crate::input::schema::medium_or_none)]
    pub notes: Option<String>,
}

/// A time the owner did the exercise or kept the goal, and how it went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CheckOff {
    pub on: Date,
    pub how_it_went: Option<String>,
    /// Recorded by the owner (true) or by the care team in session.
    pub by_owner: bool,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "owner": "b", "kind": "positive_communication",
    "text": {"title": "Say one thing you appreciated", "practice": "When Dan comes home sober, tell him one thing you liked about the evening, in an \"I\" statement."}
}))]
pub struct CraftItemInput {
    /// Whose track: a partner leaves it out; the care team names the partner.
    pub owner: Option<PartnerSlot>,
    pub kind: CraftKind,
    pub text: CraftText,
    /// Finished (a goal reached, a plan carried out).
    #[serde(default)]
    pub done: bool,
}

#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"how_it_went": "He smiled and said thanks; we ate together.", "done": false}))]
pub struct CheckOffInput {
    /// The day it was done; today when left out.
    pub on: Option<Date>,
    #[schema(schema_with = crate::input::schema::medium_or_none)]
    pub how_it_went: Option<String>,
    /// Marks the item finished as well.
    #[serde(default)]
    pub done: bool,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CraftItemView {
    pub id: Uuid,
    pub owner: PartnerSlot,
    pub audience: Audience,
    pub kind: CraftKind,
    pub text: CraftText,
    pub check_offs: Vec<CheckOff>,
    pub done: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: i32,
}

crate::versioned!(CraftItemView);

/// What is sealed: the text and the check-offs.
#[derive(Serialize, Deserialize)]
struct Sealed {
    text: CraftText,
    #[serde(default)]
    check_offs: Vec<CheckOff>,
}

fn validate(text: &CraftText) -> Result<CraftText, AppError> {
    let mut f = Fields::default();
    let title = f.check("text.title", required_text(&text.title, limits::SHORT));
    let mut lists = Vec::new();
    for (name, list) in [
        ("triggers", &text.triggers),
        ("short_term_positives", &text.short_term_positives),
        ("long_term_negatives", &text.long_term_negatives),
    ] {
        if list.len() > limits::LIST_ITEMS {
            f.check::<()>(&format!("text.{name}"), Err(format!("at most {} items", limits::LIST_ITEMS)));
        }
        let checked: Vec<String> = list
            .iter()
            .enumerate()
            .filter_map(|(i, t)| f.check(&format!("text.{name}[{i}]"), required_text(t, limits::MEDIUM)))
            .collect();
        lists.push(checked);
    }
    let mut one = |name: &str, value: &Option<String>| {
        f.check(&format!("text.{name}"), optional_text(value.as_deref(), limits::MEDIUM)).flatten()
    };
    let behaviour = one("behaviour", &text.behaviour);
    let practice = one("practice", &text.practice);
    let when = one("when", &text.when);
    let how = one("how", &text.how);
    let what_to_say = one("what_to_say", &text.what_to_say);
    let arranged = one("arranged", &text.arranged);
    let notes = one("notes", &text.notes);
    let mut lists = lists.into_iter();
    let mut next = || lists.next().unwrap_or_default();
    let (triggers, short_term_positives, long_term_negatives) = (next(), next(), next());
    f.finish_with(|| {
        Some(CraftText {
            title: title?,
            triggers,
            behaviour,
            short_term_positives,
            long_term_negatives,
            practice,
            when,
            how,
            what_to_say,
            arranged,
            notes,
        })
    })
}

fn seal(access: &CoupleAccess, id: Uuid, sealed: &Sealed) -> Result<String, AppError> {
    Ok(access.cipher().seal(CONTENT, id, &serde_json::to_string(sealed).map_err(anyhow::Error::from)?))
}

fn open(access: &CoupleAccess, row: &craft_items::Model) -> Result<Sealed, AppError> {
    Ok(serde_json::from_str(&access.cipher().open(CONTENT, row.id, &row.content)?).map_err(anyhow::Error::from)?)
}

fn to_view(access: &CoupleAccess, row: craft_items::Model) -> Result<CraftItemView, AppError> {
    let sealed = open(access, &row)?;
    Ok(CraftItemView {
        id: row.id,
        owner: row.owner,
        audience: row.audience,
        kind: CraftKind::from_stored(&row.kind)?,
        text: sealed.text,
        check_offs: sealed.check_offs,
        done: row.done,
        updated_at: row.updated_at,
        version: row.version,
    })
}

/// Adds an item to a partner's track: the care team for any partner, a
/// partner to their own.
pub async fn create(access: &CoupleAccess, now: OffsetDateTime, input: CraftItemInput) -> Result<CraftItemView, AppError> {
    let owner = access.acting_for(input.owner)?;
    let text = validate(&input.text)?;
    let id = Uuid::now_v7();
    let row = craft_items::ActiveModel {
        id: Set(id),
        practice_id: Set(access.scope.practice_id()),
        couple_id: Set(access.couple_id()),
        owner: Set(owner),
        audience: Set(owner.own_audience()),
        kind: Set(input.kind.as_str()),
        content: Set(seal(access, id, &Sealed { text, check_offs: Vec::new() })?),
        done: Set(input.done),
        created_by: Set(access.member_id),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
    }
    .insert(&access.db())
    .await?;
    to_view(access, row)
}

/// One item, if the caller may read it ("not found" otherwise).
pub async fn get(access: &CoupleAccess, id: Uuid) -> Result<CraftItemView, AppError> {
    to_view(access, access.shared_record::<craft_items::Entity>(&access.db(), id).await?)
}

/// The items the caller may read, oldest first: the whole track of each
/// partner for the care team, a partner's own track for that partner.
pub async fn list(access: &CoupleAccess) -> Result<Vec<CraftItemView>, AppError> {
    access
        .records::<craft_items::Entity>()
        .filter(craft_items::Column::Audience.is_in(access.visible_audiences()))
        .order_by_asc(craft_items::Column::Id)
        .limit(TRACK_ITEMS)
        .all(&access.db())
        .await?
        .into_iter()
        .map(|row| to_view(access, row))
        .collect()
}

/// Rewrites an item (If-Match); its owner, kind and check-offs stay.
pub async fn update(
    access: &CoupleAccess,
    now: OffsetDateTime,
    id: Uuid,
    IfMatch(expected): IfMatch,
    input: CraftItemInput,
) -> Result<CraftItemView, AppError> {
    let row = access.shared_record::<craft_items::Entity>(&access.db(), id).await?;
    if access.acting_for(input.owner.or(Some(row.owner)))? != row.owner {
        return Err(AppError::invalid("owner", "an item stays on its owner's track; add a new one for the other partner"));
    }
    if input.kind.as_str() != row.kind {
        return Err(AppError::invalid("kind", "an item keeps its kind; add a new one of the other kind"));
    }
    let text = validate(&input.text)?;
    let check_offs = open(access, &row)?.check_offs;
    let update = access
        .update_at_version::<craft_items::Entity>(id, expected)
        .col_expr(craft_items::Column::Content, Expr::value(seal(access, id, &Sealed { text, check_offs })?))
        .col_expr(craft_items::Column::Done, Expr::value(input.done))
        .col_expr(craft_items::Column::UpdatedAt, Expr::value(now));
    exec_at_version(update, &access.db()).await?;
    get(access, id).await
}

/// Records that the owner did it, and how it went. Based on the version
/// read here: a check-off racing an edit gets 412 and can be sent again.
pub async fn check_off(access: &CoupleAccess, now: OffsetDateTime, today: Date, id: Uuid, input: CheckOffInput) -> Result<CraftItemView, AppError> {
    let row = access.shared_record::<craft_items::Entity>(&access.db(), id).await?;
    access.acting_for(Some(row.owner))?;
    let on = input.on.unwrap_or(today);
    let mut f = Fields::default();
    f.check("on", crate::input::check_date(on));
    if on > today {
        f.check::<()>("on", Err("check off days once they have come".into()));
    }
    let how_it_went = f.check("how_it_went", optional_text(input.how_it_went.as_deref(), limits::MEDIUM)).flatten();
    f.finish()?;
    let mut sealed = open(access, &row)?;
    if sealed.check_offs.len() >= limits::PAGE {
        return Err(AppError::invalid("on", &format!("an item keeps at most {} check-offs; add a new item", limits::PAGE)));
    }
    sealed.check_offs.push(CheckOff { on, how_it_went, by_owner: access.partner_slot().is_some() });
    let update = access
        .update_at_version::<craft_items::Entity>(id, row.version)
        .col_expr(craft_items::Column::Content, Expr::value(seal(access, id, &sealed)?))
        .col_expr(craft_items::Column::Done, Expr::value(row.done || input.done))
        .col_expr(craft_items::Column::UpdatedAt, Expr::value(now));
    exec_at_version(update, &access.db()).await?;
    get(access, id).await
}
