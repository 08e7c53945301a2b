//! The live lapse-response timeline. Recording a lapse copies the steps of
//! the couple's plan (first 24 hours, first week, first month) into steps of
//! that lapse, each with a due time, the person it belongs to (the partner
//! who used, the other partner, or the counselor) and, once the owner marks
//! it, when it was done. A step is read by the narrower of the lapse's and
//! the plan section's audiences, so a partner sees only steps of lapses
//! shared with them.
//!
//! The clock: a lapse is recorded by day, not hour, so its timeline starts
//! at the end of that day in the practice's zone (the latest the lapse can
//! have happened), or when it is recorded if that is earlier. "First 24
//! hours" is 24 hours from then; "first week" and "first month" are 7 and 30
//! calendar days later at the same local time, across clock changes.

use entity::ids::CoupleId;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, sea_query::Expr};
use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use entity::{lapse_steps, lapses};

use super::{
    common::{Audience, IfMatch, Page, PageQuery, PartnerSlot, StoredEnum, split_page},
    plans::{self, TimelineWhen, TimelineWho},
};
use crate::{
    access::{Caseload, CoupleAccess, Relation, exec_at_version},
    error::AppError,
    vault::{PracticeCipher, fields::LAPSE_STEP_ACTION as ACTION},
};

/// One step of a lapse's response timeline.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StepView {
    pub id: Uuid,
    pub lapse_id: Uuid,
    pub when: TimelineWhen,
    pub who: TimelineWho,
    /// The partner the step belongs to (who may mark it done); null: the counselor's.
    pub owner: Option<PartnerSlot>,
    pub action: String,
    /// Overdue once this has passed and `done_at` is still null.
    #[serde(with = "time::serde::rfc3339")]
    pub due_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub done_at: Option<OffsetDateTime>,
    pub audience: Audience,
    /// The version; also the ETag.
    pub version: i32,
}

crate::versioned!(StepView);

impl StepView {
    pub fn is_overdue(&self, now: OffsetDateTime) -> bool {
        overdue(self.due_at, self.done_at, now)
    }
}

/// A step is overdue when its due time has passed and it is not done.
pub fn overdue(due_at: OffsetDateTime, done_at: Option<OffsetDateTime>, now: OffsetDateTime) -> bool {
    done_at.is_none() && now > due_at
}

/// When the timeline of a lapse on `occurred_on`, recorded at `recorded_at`,
/// starts: the end of that day in `time_zone`, or the recording if earlier.
pub fn starts_at(occurred_on: Date, recorded_at: OffsetDateTime, time_zone: &str) -> OffsetDateTime {
    match occurred_on.next_day() {
        Some(next) => crate::display::day_start(next, time_zone).min(recorded_at),
        None => recorded_at,
    }
}

/// When a step of `when` falls due on a timeline that started at `start`.
pub fn due_at(start: OffsetDateTime, when: TimelineWhen, time_zone: &str) -> OffsetDateTime {
    match when {
        TimelineWhen::Immediately => start + Duration::hours(24),
        TimelineWhen::FirstWeek => local_days_later(start, 7, time_zone),
        TimelineWhen::FirstMonth => local_days_later(start, 30, time_zone),
    }
}

/// `days` calendar days after `start` at the same local time in
/// `time_zone` (a time a clock change skips moves forward by the gap).
fn local_days_later(start: OffsetDateTime, days: i64, time_zone: &str) -> OffsetDateTime {
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    jiff::Timestamp::from_nanosecond(start.unix_timestamp_nanos())
        .ok()
        .and_then(|ts| ts.to_zoned(tz).checked_add(jiff::Span::new().days(days)).ok())
        .and_then(|z| OffsetDateTime::from_unix_timestamp_nanos(z.timestamp().as_nanosecond()).ok())
        .unwrap_or(start + Duration::days(days))
}

/// Who reads a step: the narrower of two audiences (a partner's own item
/// stays theirs; items kept to different partners are the care team's).
pub fn narrower(a: Audience, b: Audience) -> Audience {
    match (a, b) {
        (Audience::Couple, other) | (other, Audience::Couple) => other,
        (x, y) if x == y => x,
        _ => Audience::Clinician,
    }
}

/// The partner a step of `who` belongs to, for a lapse of `used`.
fn owner_of(who: TimelineWho, used: PartnerSlot) -> Option<PartnerSlot> {
    match who {
        TimelineWho::PartnerInRecovery => Some(used),
        TimelineWho::SupportingPartner => Some(used.other()),
        TimelineWho::Counselor => None,
    }
}

fn to_view(cipher: &PracticeCipher, row: lapse_steps::Model) -> Result<StepView, AppError> {
    Ok(StepView {
        id: row.id,
        lapse_id: row.lapse_id,
        when: TimelineWhen::from_stored(&row.step_when)?,
        who: TimelineWho::from_stored(&row.who)?,
        owner: row.owner_slot,
        action: cipher.open(ACTION, row.id, &row.action)?,
        due_at: row.due_at,
        done_at: row.done_at,
        audience: row.audience,
        version: row.version,
    })
}

async fn time_zone(access: &CoupleAccess) -> Result<String, AppError> {
    let practice = entity::practices::Entity::find_by_id(access.scope.practice_id()).one(&access.db()).await?.ok_or(AppError::NotFound)?;
    Ok(practice.time_zone)
}

/// Starts the plan's timeline for a lapse just recorded (care team): one
/// step per step of the plan, none when the plan has no timeline.
pub(super) async fn start(access: &CoupleAccess, lapse: &lapses::Model) -> Result<(), AppError> {
    let Some(section) = plans::current_content(&access.db(), access).await?.and_then(|c| c.lapse_response) else {
        return Ok(());
    };
    if section.items.is_empty() {
        return Ok(());
    }
    let tz = time_zone(access).await?;
    let start = starts_at(lapse.occurred_on, lapse.created_at, &tz);
    let c = access.cipher();
    let rows = section.items.iter().enumerate().map(|(position, step)| {
        let id = Uuid::now_v7();
        lapse_steps::ActiveModel {
            id: Set(id),
            practice_id: Set(access.scope.practice_id()),
            couple_id: Set(access.couple_id()),
            lapse_id: Set(lapse.id),
            position: Set(position as i32),
            step_when: Set(step.when.as_str()),
            who: Set(step.who.as_str()),
            owner_slot: Set(owner_of(step.who, lapse.partner_slot)),
            action: Set(c.seal(ACTION, id, &step.action)),
            due_at: Set(due_at(start, step.when, &tz)),
            done_at: Set(None),
            done_by: Set(None),
            section_audience: Set(section.audience),
            audience: Set(narrower(lapse.audience, section.audience)),
            created_at: Set(lapse.created_at),
            updated_at: Set(lapse.created_at),
            version: Set(1),
        }
    });
    lapse_steps::Entity::insert_many(rows).exec(&access.db()).await?;
    Ok(())
}

/// Keeps a lapse's steps true to a corrected lapse: the partner who used
/// (so who each step belongs to), its audience and its day (so due times).
pub(super) async fn follow(access: &CoupleAccess, lapse_id: Uuid) -> Result<(), AppError> {
    let Some(lapse) = access.records::<lapses::Entity>().filter(lapses::Column::Id.eq(lapse_id)).one(&access.db()).await? else {
        return Ok(());
    };
    let steps = access.records::<lapse_steps::Entity>().filter(lapse_steps::Column::LapseId.eq(lapse_id)).all(&access.db()).await?;
    if steps.is_empty() {
        return Ok(());
    }
    let tz = time_zone(access).await?;
    let start = starts_at(lapse.occurred_on, lapse.created_at, &tz);
    for step in steps {
        let when = TimelineWhen::from_stored(&step.step_when)?;
        let who = TimelineWho::from_stored(&step.who)?;
        access
            .update_records::<lapse_steps::Entity>()
            .filter(lapse_steps::Column::Id.eq(step.id))
            .col_expr(lapse_steps::Column::OwnerSlot, Expr::value(owner_of(who, lapse.partner_slot)))
            .col_expr(lapse_steps::Column::Audience, Expr::value(narrower(lapse.audience, step.section_audience)))
            .col_expr(lapse_steps::Column::DueAt, Expr::value(due_at(start, when, &tz)))
            .exec(&access.db())
            .await?;
    }
    Ok(())
}

#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StepQuery {
    /// Only the steps of this lapse.
    pub lapse_id: Option<Uuid>,
    /// Only steps not done yet.
    #[serde(default)]
    pub open: bool,
    /// At most this many (1-200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<Uuid>,
}

/// Steps the caller may see, in the order they were started (by lapse, then
/// as the plan lists them).
pub async fn list(access: &CoupleAccess, query: &StepQuery) -> Result<Page<StepView>, AppError> {
    let page = PageQuery { limit: query.limit, cursor: query.cursor };
    let limit = page.limit()?;
    let mut select = access
        .records::<lapse_steps::Entity>()
        .filter(lapse_steps::Column::Audience.is_in(access.visible_audiences()))
        .order_by_asc(lapse_steps::Column::Id)
        .limit(limit + 1);
    if let Some(lapse_id) = query.lapse_id {
        select = select.filter(lapse_steps::Column::LapseId.eq(lapse_id));
    }
    if query.open {
        select = select.filter(lapse_steps::Column::DoneAt.is_null());
    }
    if let Some(cursor) = query.cursor {
        select = select.filter(lapse_steps::Column::Id.gt(cursor));
    }
    let (rows, next_cursor) = split_page(select.all(&access.db()).await?, limit, |r| r.id);
    Ok(Page { items: rows.into_iter().map(|r| to_view(access.cipher(), r)).collect::<Result<_, _>>()?, next_cursor })
}

/// Every step the caller may see of the timelines still under way (a lapse
/// with a step not done), by due time: two queries.
pub async fn live(access: &CoupleAccess) -> Result<Vec<StepView>, AppError> {
    let audiences = access.visible_audiences();
    // The lapses with a step still open, as a subquery: one round trip.
    let open = access
        .records::<lapse_steps::Entity>()
        .filter(lapse_steps::Column::Audience.is_in(audiences.clone()))
        .filter(lapse_steps::Column::DoneAt.is_null())
        .select_only()
        .column(lapse_steps::Column::LapseId)
        .into_query();
    let rows = access
        .records::<lapse_steps::Entity>()
        .filter(lapse_steps::Column::Audience.is_in(audiences))
        .filter(lapse_steps::Column::LapseId.in_subquery(open))
        .order_by_asc(lapse_steps::Column::DueAt)
        .order_by_asc(lapse_steps::Column::Position)
        .all(&access.db())
        .await?;
    rows.into_iter().map(|r| to_view(access.cipher(), r)).collect()
}

/// One step, if the caller may see it.
pub async fn get(access: &CoupleAccess, id: Uuid) -> Result<StepView, AppError> {
    to_view(access.cipher(), access.shared_record::<lapse_steps::Entity>(&access.db(), id).await?)
}

/// The step to act on now: the open one due first (overdue ones included).
pub fn due_next(steps: &[StepView]) -> Option<&StepView> {
    steps.iter().filter(|s| s.done_at.is_none()).min_by_key(|s| s.due_at)
}

/// Marks a step done (or not done after all), by the person it belongs to:
/// the partner from the portal, a counselor of the care team for the
/// counselor's steps. Others who may see it are refused; others are told
/// it does not exist.
pub async fn mark(now: OffsetDateTime, access: &CoupleAccess, id: Uuid, IfMatch(expected): IfMatch, done: bool) -> Result<StepView, AppError> {
    let row = access.shared_record::<lapse_steps::Entity>(&access.db(), id).await?;
    let theirs = match (access.relation, row.owner_slot) {
        (Relation::Partner(me), Some(owner)) => me == owner,
        (Relation::CareTeam, None) => true,
        _ => false,
    };
    if !theirs {
        return Err(AppError::Forbidden("only the person this step belongs to marks it done".into()));
    }
    let update = access
        .update_at_version::<lapse_steps::Entity>(id, expected)
        .col_expr(lapse_steps::Column::DoneAt, Expr::value(done.then_some(now)))
        .col_expr(lapse_steps::Column::DoneBy, Expr::value(done.then_some(access.member_id)))
        .col_expr(lapse_steps::Column::UpdatedAt, Expr::value(now));
    exec_at_version(update, &access.db()).await?;
    get(access, id).await
}

/// For `tandem demo`: the steps of a lapse whose `when` passes `done`
/// marked done by the person each belongs to, a few hours before they fell due.
pub async fn demo_done(access: &CoupleAccess, lapse_id: Uuid, done: impl Fn(TimelineWhen) -> bool) -> Result<(), AppError> {
    let query = StepQuery { lapse_id: Some(lapse_id), open: true, limit: Some(200), cursor: None };
    for step in list(access, &query).await?.items.into_iter().filter(|s| done(s.when)) {
        let owner = match step.owner {
            Some(partner) => access.as_partner(partner),
            None => access.clone(),
        };
        mark(step.due_at - Duration::hours(3), &owner, step.id, IfMatch(step.version), true).await?;
    }
    Ok(())
}

/// Open steps past their due time among the caseload's couples the caller
/// treats, the longest overdue first: one query.
pub async fn overdue_in(caseload: &Caseload, now: OffsetDateTime) -> Result<Vec<(CoupleId, StepView)>, AppError> {
    let rows = caseload
        .records::<lapse_steps::Entity>(CoupleAccess::is_clinician)
        .filter(lapse_steps::Column::DoneAt.is_null())
        .filter(lapse_steps::Column::DueAt.lt(now))
        .order_by_asc(lapse_steps::Column::DueAt)
        .all(caseload.db())
        .await?;
    let mut items = Vec::new();
    for row in rows {
        let couple_id = row.couple_id;
        if let Some(access) = caseload.of(couple_id).filter(|a| a.is_clinician() && a.sees(row.audience)) {
            items.push((couple_id, to_view(access.cipher(), row)?));
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use time::{Duration, OffsetDateTime};

    use super::{TimelineWhen, due_at, overdue, starts_at};

    const ZONES: [&str; 6] = ["UTC", "America/Chicago", "Europe/Berlin", "Australia/Lord_Howe", "America/St_Johns", "Pacific/Auckland"];

    fn local(at: OffsetDateTime, zone: &str) -> jiff::Zoned {
        jiff::Timestamp::from_second(at.unix_timestamp()).unwrap().to_zoned(jiff::tz::TimeZone::get(zone).unwrap())
    }

    fn local_date(at: OffsetDateTime, zone: &str) -> time::Date {
        let d = local(at, zone).date();
        time::Date::from_calendar_date(d.year() as i32, time::Month::try_from(d.month() as u8).unwrap(), d.day() as u8).unwrap()
    }

    // Any second from 2020 to 2035, any zone (several with DST, one with a
    // half-hour shift), a lapse 0-40 days before its recording.
    fn moment() -> impl Strategy<Value = OffsetDateTime> {
        (1_577_836_800i64..2_082_758_400).prop_map(|s| OffsetDateTime::from_unix_timestamp(s).unwrap())
    }

    proptest! {
        #[test]
        fn the_timeline_starts_in_the_lapse_day_or_at_its_recording(recorded in moment(), back in 0i64..40, zone in 0usize..6) {
            let zone = ZONES[zone];
            let day = local_date(recorded, zone) - Duration::days(back);
            let start = starts_at(day, recorded, zone);
            prop_assert!(start <= recorded);
            prop_assert!(start >= crate::display::day_start(day, zone));
            if back == 0 {
                prop_assert_eq!(start, recorded);
            } else {
                prop_assert_eq!(start, crate::display::day_start(day + Duration::days(1), zone));
            }
        }

        #[test]
        fn due_times_follow_the_local_calendar(start in moment(), zone in 0usize..6) {
            let zone = ZONES[zone];
            let first = due_at(start, TimelineWhen::Immediately, zone);
            let week = due_at(start, TimelineWhen::FirstWeek, zone);
            let month = due_at(start, TimelineWhen::FirstMonth, zone);
            prop_assert_eq!(first - start, Duration::hours(24));
            prop_assert!(first < week && week < month);
            prop_assert_eq!(local_date(week, zone), local_date(start, zone) + Duration::days(7));
            prop_assert_eq!(local_date(month, zone), local_date(start, zone) + Duration::days(30));
            // A clock change moves the elapsed time by at most its size (an hour here, half on Lord Howe).
            prop_assert!((week - start - Duration::days(7)).abs() <= Duration::hours(1));
            prop_assert!((month - start - Duration::days(30)).abs() <= Duration::hours(1));
            // The same wall-clock time, unless a clock change skipped it.
            let (s, w) = (local(start, zone), local(week, zone));
            if s.offset() == w.offset() {
                prop_assert_eq!(s.time(), w.time());
            }
        }

        #[test]
        fn a_step_is_overdue_only_once_due_and_until_done(due in moment(), offset in -100_000i64..100_000, later in 0i64..1_000_000, done in proptest::option::of(moment())) {
            let now = due + Duration::seconds(offset);
            let is = overdue(due, done, now);
            prop_assert_eq!(is, done.is_none() && offset > 0);
            // Time only makes an open step more overdue.
            if is {
                prop_assert!(overdue(due, None, now + Duration::seconds(later)));
            }
        }
    }
}
