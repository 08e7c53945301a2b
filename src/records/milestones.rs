//! Sobriety and milestones for a couple: for each partner in recovery, the
//! current streak and total abstinent days since care started, the standard
//! milestones reached and the next one, plus custom milestones the couple
//! chose to celebrate.
//!
//! A figure is never shown as if complete when it was computed without
//! something hidden from the reader: a partner is given a partner's figures
//! only when every lapse of that partner is shared with them, and never the
//! other partner's under individual confidentiality (see [`figures_shared`]).
//! Otherwise the answer says the figures are not shared, and gives none.

use time::OffsetDateTime;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::ToSchema;
use uuid::Uuid;

use entity::{custom_milestones, partners};

use super::{
    common::{Audience, PartnerSlot, StoredEnum, limits, required_text},
    couples::{RecoveryRole, SecretsPolicy},
    lapses,
    sobriety::{self, UsePeriod},
};
use crate::input::BoundedDate;
use crate::{state::AppState, access::CoupleAccess, error::AppError};

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ReachedMilestoneView {
    pub days: u32,
    pub label: String,
    pub reached_on: Date,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct NextMilestoneView {
    pub days: u32,
    pub label: String,
    pub on: Date,
    pub days_to_go: u32,
}

/// One partner's figures, as the caller may see them. (Its OpenAPI schema
/// is [`PartnerSobrietyDoc`]: the figures are flattened in, and absent when
/// not shared.)
#[derive(Clone, Debug, Serialize)]
pub struct PartnerSobriety {
    pub partner: PartnerSlot,
    /// Completed days since care started (known to everyone in the couple).
    pub days_in_care: u32,
    /// False when the figures are not shared with the caller: some lapse of
    /// this partner is not shared with them, or it is the other partner's
    /// figures under individual confidentiality. Then no figure is given
    /// (not a streak, total, count, date or milestone), since any would be
    /// untrue or tell what is hidden.
    pub figures_shared: bool,
    /// Why not, in words for the reader; absent when shared.
    pub not_shared_because: Option<NotShared>,
    /// Present only when `figures_shared`.
    #[serde(flatten)]
    pub figures: Option<SobrietyFigures>,
}

/// Why a partner's figures are not shown to the reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotShared {
    /// The couple keeps individual material confidential: each partner's
    /// figures are shown to that partner and the care team only.
    IndividualConfidentiality,
    /// Something they are counted from is not shared with the reader.
    HiddenRecords,
}

/// The figures themselves.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SobrietyFigures {
    pub sober_since: Date,
    pub current_streak_days: u32,
    pub total_abstinent_days: u32,
    pub use_days: u32,
    pub reached: Vec<ReachedMilestoneView>,
    pub next: Option<NextMilestoneView>,
}

/// Whether a reader may be shown the figures of partner `whose`, given who
/// they are (`None`: the care team or a supervisor, who see every lapse),
/// the couple's secrets policy and the audience of every lapse of `whose`.
///
/// Figures are withheld when any lapse they count is hidden from the reader
/// (a streak without it would be untrue). Under individual confidentiality
/// the other partner's figures are withheld whatever the lapses are: there,
/// lapses are private by default, and figures that turned into "not shared"
/// the day a private lapse was recorded would tell of that lapse.
pub fn figures_shared(
    reader: Option<PartnerSlot>,
    whose: PartnerSlot,
    policy: SecretsPolicy,
    lapse_audiences: impl IntoIterator<Item = Audience>,
) -> Result<(), NotShared> {
    let Some(reader) = reader else { return Ok(()) };
    if reader != whose && policy == SecretsPolicy::IndividualConfidential {
        return Err(NotShared::IndividualConfidentiality);
    }
    if lapse_audiences.into_iter().all(|a| a.includes_partner(reader)) { Ok(()) } else { Err(NotShared::HiddenRecords) }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CustomMilestoneView {
    pub id: Uuid,
    pub title: String,
    pub achieved_on: Date,
    pub audience: Audience,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SobrietyView {
    pub care_started_on: Date,
    /// The day the figures are for, in the practice's time zone.
    pub today: Date,
    #[schema(value_type = Vec<PartnerSobrietyDoc>)]
    pub partners: Vec<PartnerSobriety>,
    pub custom_milestones: Vec<CustomMilestoneView>,
}

/// How [`PartnerSobriety`] reads on the wire, for the OpenAPI document.
#[derive(ToSchema)]
#[schema(as = PartnerSobriety)]
#[allow(dead_code)]
struct PartnerSobrietyDoc {
    partner: PartnerSlot,
    /// Completed days since care started (known to everyone in the couple).
    days_in_care: u32,
    /// False when the figures are not shared with the caller: some lapse of
    /// this partner is not shared with them, or it is the other partner's
    /// figures under individual confidentiality. Then none of the figures
    /// below is given.
    figures_shared: bool,
    /// Why not; absent when shared.
    not_shared_because: Option<NotShared>,
    /// Given only when `figures_shared`, as are the figures below.
    sober_since: Option<Date>,
    current_streak_days: Option<u32>,
    total_abstinent_days: Option<u32>,
    use_days: Option<u32>,
    reached: Option<Vec<ReachedMilestoneView>>,
    next: Option<NextMilestoneView>,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": "First AA meeting together", "achieved_on": "2026-03-19", "audience": "couple"}))]
pub struct CustomMilestoneInput {
    /// At most 200 characters.
    #[schema(schema_with = crate::input::schema::short)]
    pub title: String,
    pub achieved_on: BoundedDate,
    /// Default: couple.
    pub audience: Option<Audience>,
}

/// Today's date where the practice is.
pub fn practice_today(state: &AppState, time_zone: &str) -> Date {
    today_in(state.clock.now(), time_zone)
}

/// The date at `now` in `time_zone` (UTC when the name is unknown).
pub fn today_in(now: OffsetDateTime, time_zone: &str) -> Date {
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let offset_seconds = jiff::Timestamp::from_second(now.unix_timestamp())
        .map(|ts| tz.to_offset(ts).seconds())
        .unwrap_or(0);
    (now + time::Duration::seconds(offset_seconds.into())).date()
}

pub async fn sobriety(now: OffsetDateTime, access: &CoupleAccess, time_zone: &str) -> Result<SobrietyView, AppError> {
    let in_recovery: Vec<PartnerSlot> = access
        .records::<partners::Entity>()
        .filter(partners::Column::RecoveryRole.eq(RecoveryRole::InRecovery.as_str()))
        .order_by_asc(partners::Column::Slot)
        .select_only()
        .column(partners::Column::Slot)
        .into_tuple()
        .all(&access.db())
        .await?;
    let lapses = lapses::for_sobriety(&access.db(), access).await?;
    Ok(sobriety_of(access, today_in(now, time_zone), &in_recovery, &lapses, custom(access).await?))
}

/// The figures for the partners `in_recovery`, from the couple's lapses as
/// [`lapses::for_sobriety`] read them: arithmetic only, no reads.
pub fn sobriety_of(
    access: &CoupleAccess,
    today: Date,
    in_recovery: &[PartnerSlot],
    lapses: &lapses::Lapses,
    custom_milestones: Vec<CustomMilestoneView>,
) -> SobrietyView {
    let start = access.couple.care_started_on;
    let policy = access.couple.secrets_policy;
    let mut partners = Vec::new();
    for &slot in in_recovery {
        let theirs = lapses.audiences.iter().filter(|(partner, _)| *partner == slot).map(|(_, a)| *a);
        let periods: Vec<UsePeriod> = lapses
            .visible
            .iter()
            .filter(|l| l.partner == slot)
            .map(|l| UsePeriod { first_day: l.occurred_on, days: l.days.max(1) as u32 })
            .collect();
        let s = sobriety::compute(start, &periods, today);
        let (figures_shared, not_shared_because) = match figures_shared(access.partner_slot(), slot, policy, theirs) {
            Ok(()) => (true, None),
            Err(why) => (false, Some(why)),
        };
        partners.push(PartnerSobriety {
            partner: slot,
            days_in_care: s.days_in_care,
            figures_shared,
            not_shared_because,
            figures: figures_shared.then(|| SobrietyFigures {
                sober_since: s.sober_since,
                current_streak_days: s.current_streak_days,
                total_abstinent_days: s.total_abstinent_days,
                use_days: s.use_days,
                reached: s.reached.into_iter().map(|m| ReachedMilestoneView { days: m.days, label: m.label, reached_on: m.reached_on }).collect(),
                next: s.next.map(|n| NextMilestoneView { days: n.days, label: n.label, on: n.on, days_to_go: n.days_to_go }),
            }),
        });
    }
    SobrietyView { care_started_on: start, today, partners, custom_milestones }
}

pub async fn custom(access: &CoupleAccess) -> Result<Vec<CustomMilestoneView>, AppError> {
    access
        .records::<custom_milestones::Entity>()
        .filter(custom_milestones::Column::Audience.is_in(access.visible_audiences()))
        .order_by_asc(custom_milestones::Column::AchievedOn)
        .all(&access.db())
        .await?
        .into_iter()
        .map(|m| {
            Ok(CustomMilestoneView { id: m.id, title: m.title, achieved_on: m.achieved_on, audience: m.audience })
        })
        .collect()
}

pub async fn add_custom(now: OffsetDateTime, access: &CoupleAccess, input: CustomMilestoneInput) -> Result<CustomMilestoneView, AppError> {
    let title = required_text(&input.title, limits::SHORT).map_err(|e| AppError::invalid("title", &e))?;
    let audience = input.audience.unwrap_or(Audience::Couple);
    let row = custom_milestones::ActiveModel {
        id: Set(Uuid::now_v7()),
        practice_id: Set(access.scope.practice_id()),
        couple_id: Set(access.couple_id()),
        title: Set(title),
        achieved_on: Set(input.achieved_on.get()),
        audience: Set(audience),
        created_by: Set(access.member_id),
        created_at: Set(now),
    }
    .insert(&access.db())
    .await?;
    Ok(CustomMilestoneView { id: row.id, title: row.title, achieved_on: row.achieved_on, audience })
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: PartnerSlot = PartnerSlot::A;
    const B: PartnerSlot = PartnerSlot::B;

    #[test]
    fn the_care_team_sees_every_figure() {
        let all = [Audience::Clinician, Audience::PartnerA, Audience::PartnerB];
        assert_eq!(figures_shared(None, A, SecretsPolicy::IndividualConfidential, all), Ok(()));
    }

    #[test]
    fn a_lapse_hidden_from_the_reader_withholds_the_figures() {
        let no_secrets = SecretsPolicy::NoSecrets;
        assert_eq!(figures_shared(Some(B), A, no_secrets, [Audience::Couple]), Ok(()));
        assert_eq!(figures_shared(Some(B), A, no_secrets, [Audience::Couple, Audience::PartnerA]), Err(NotShared::HiddenRecords));
        assert_eq!(figures_shared(Some(A), A, no_secrets, [Audience::Couple, Audience::PartnerA]), Ok(()));
        assert_eq!(figures_shared(Some(A), A, no_secrets, [Audience::Clinician]), Err(NotShared::HiddenRecords));
    }

    #[test]
    fn under_individual_confidentiality_the_other_partner_never_sees_them() {
        let confidential = SecretsPolicy::IndividualConfidential;
        // Not even with no lapse at all, so a private lapse changes nothing they see.
        assert_eq!(figures_shared(Some(B), A, confidential, []), Err(NotShared::IndividualConfidentiality));
        assert_eq!(figures_shared(Some(B), A, confidential, [Audience::PartnerA]), Err(NotShared::IndividualConfidentiality));
        assert_eq!(figures_shared(Some(A), A, confidential, [Audience::PartnerA, Audience::Couple]), Ok(()));
    }
}
