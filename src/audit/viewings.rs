//! "Who viewed your records": each partner's view of the access log.
//!
//! What a partner sees, and why:
//! - Only what other people did: never their own reads, and never anything
//!   the other partner did (a partner downloading their own plan tells the
//!   other that it exists, and when they looked at it).
//! - Only reads of records they may see themself. An event that names a
//!   record is shown when the partner may read that record now (its
//!   audience includes them); a view of the other partner's own items (their
//!   safety plan, their plan PDF, a lapse kept to them) is never shown.
//! - An event that names only a kind of record (a list read, or a document
//!   the couple has one of, such as the relapse-prevention plan) is shown
//!   when the partner may read at least one record of that kind: the list
//!   that was read held records of theirs. Kinds that are never theirs
//!   (private notes, the access log, a partner's plan PDF that does not say
//!   whose) are not shown.
//! - Unknown kinds are not shown: when in doubt, say less.
//!
//! Events are grouped per person, action, record and day (in the practice's
//! time zone), newest first, and paged with an opaque cursor. The care team
//! and supervisors see every group, partners' own activity included.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, Condition, ConnectionTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use entity::access_events;

use crate::{access::CoupleAccess, error::AppError};

/// Events read from the log per round trip while grouping.
const BATCH: u64 = 500;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ViewingQuery {
    /// At most this many rows (1-200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Views (or downloads) of one record by one person on one day.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RecordViewing {
    /// The day, in the practice's time zone.
    pub day: Date,
    #[serde(with = "time::serde::rfc3339")]
    pub first_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_at: OffsetDateTime,
    /// How many times that day.
    pub times: u32,
    /// The person's name as the practice shows it.
    pub who: String,
    /// care_team, supervisor or emergency (and, for the care team, partner_a or partner_b).
    pub role: String,
    /// view or export.
    pub action: String,
    /// The kind of record, as the access log names it.
    pub record_kind: Option<String>,
    /// The record, when the event names one.
    pub record_id: Option<Uuid>,
    /// What was viewed, in words: the kind of record, never its clinical text.
    pub record: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ViewingPage {
    pub items: Vec<RecordViewing>,
    /// Present when there are more rows: send it back as `cursor`.
    pub next_cursor: Option<String>,
}

/// Where a page starts: scanning events below sequence number `before`
/// (the first event of a day), after skipping the first `skip` groups of
/// that day, which an earlier page showed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cursor {
    before: i64,
    skip: usize,
}

impl Cursor {
    fn parse(text: &str) -> Result<Self, AppError> {
        let bad = || AppError::invalid("cursor", "send back the next_cursor of the previous page");
        let (before, skip) = text.split_once('-').ok_or_else(bad)?;
        let cursor = Cursor { before: before.parse().map_err(|_| bad())?, skip: skip.parse().map_err(|_| bad())? };
        if cursor.before < 1 || cursor.skip > 100_000 {
            return Err(bad());
        }
        Ok(cursor)
    }

    fn text(self) -> String {
        format!("{}-{}", self.before, self.skip)
    }
}

pub fn page_limit(limit: Option<u64>) -> Result<usize, AppError> {
    crate::records::common::page_limit(limit).map(|n| n as usize)
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct GroupKey {
    member_id: Option<Uuid>,
    role: String,
    action: String,
    kind: Option<String>,
    record_id: Option<Uuid>,
    day: Date,
}

struct Group {
    key: GroupKey,
    record: String,
    first_at: OffsetDateTime,
    last_at: OffsetDateTime,
    times: u32,
    /// The scan bound at the start of this group's day, and the group's place among that day's groups.
    day_start: i64,
    place_in_day: usize,
}

/// The day `at` falls on where the practice is.
fn local_day(at: OffsetDateTime, time_zone: &str) -> Date {
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let offset = jiff::Timestamp::from_second(at.unix_timestamp()).map(|ts| tz.to_offset(ts).seconds()).unwrap_or(0);
    time::UtcOffset::from_whole_seconds(offset).map_or(at.date(), |o| at.to_offset(o).date())
}

/// One page of who viewed or downloaded the couple's records, grouped per
/// person, action, record and day, newest first (see the module docs for
/// what a partner is shown).
pub async fn viewings(access: &CoupleAccess, time_zone: &str, query: &ViewingQuery) -> Result<ViewingPage, AppError> {
    let limit = page_limit(query.limit)?;
    let start = query.cursor.as_deref().map(Cursor::parse).transpose()?;
    let skip = start.map_or(0, |c| c.skip);
    let wanted = skip + limit;
    let db = access.db();

    let mut shown: HashMap<(Option<String>, Option<Uuid>), Option<String>> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<GroupKey, usize> = HashMap::new();
    // The day being scanned, where it started, and how many groups it has.
    let mut day: Option<(Date, i64, usize)> = None;
    let mut bound = start.map(|c| c.before);
    'scan: loop {
        let rows = batch(&db, access, bound).await?;
        let exhausted = (rows.len() as u64) < BATCH;
        for row in rows {
            bound = Some(row.seq);
            let event_day = local_day(row.occurred_at, time_zone);
            if day.is_none_or(|(d, _, _)| d != event_day) {
                // The last group wanted is complete once its day is behind us,
                // and a group beyond it, if any, says there is a next page.
                if groups.len() > wanted {
                    break 'scan;
                }
                day = Some((event_day, row.seq + 1, 0));
            }
            let cache_key = (row.record_kind.clone(), row.record_id);
            let record = match shown.get(&cache_key) {
                Some(record) => record.clone(),
                None => {
                    let record = crate::records::viewed_record(access, row.record_kind.as_deref(), row.record_id).await?;
                    shown.insert(cache_key, record.clone());
                    record
                }
            };
            let Some(record) = record else { continue };
            let key = GroupKey {
                member_id: row.member_id,
                role: row.role,
                action: row.action,
                kind: row.record_kind,
                record_id: row.record_id,
                day: event_day,
            };
            match index.get(&key) {
                Some(&i) => {
                    let g = &mut groups[i];
                    g.times += 1;
                    g.first_at = g.first_at.min(row.occurred_at);
                    g.last_at = g.last_at.max(row.occurred_at);
                }
                None => {
                    let (_, day_start, count) = day.as_mut().expect("a day is being scanned");
                    index.insert(key.clone(), groups.len());
                    groups.push(Group {
                        key,
                        record,
                        first_at: row.occurred_at,
                        last_at: row.occurred_at,
                        times: 1,
                        day_start: *day_start,
                        place_in_day: *count,
                    });
                    *count += 1;
                }
            }
        }
        if exhausted {
            break;
        }
    }

    let next_cursor = groups.get(wanted).map(|next| Cursor { before: next.day_start, skip: next.place_in_day }.text());
    groups.truncate(wanted);
    let page: Vec<Group> = groups.into_iter().skip(skip).collect();
    let names = super::review::names(&db, access.scope, page.iter().filter_map(|g| g.key.member_id).collect()).await?;
    let items = page
        .into_iter()
        .map(|g| RecordViewing {
            day: g.key.day,
            first_at: g.first_at,
            last_at: g.last_at,
            times: g.times,
            who: g.key.member_id.and_then(|m| names.get(&m).cloned()).unwrap_or_else(|| "Someone".into()),
            role: g.key.role,
            action: g.key.action,
            record_kind: g.key.kind,
            record_id: g.key.record_id,
            record: g.record,
        })
        .collect();
    Ok(ViewingPage { items, next_cursor })
}

/// The next events of the couple below `before`, newest first: successful
/// views and downloads by anyone but the reader, and for a partner by
/// anyone but a partner.
async fn batch(db: &impl ConnectionTrait, access: &CoupleAccess, before: Option<i64>) -> Result<Vec<access_events::Model>, AppError> {
    let mut q = access
        .scope
        .select::<access_events::Entity>()
        .filter(access_events::Column::CoupleId.eq(access.couple_id()))
        .filter(access_events::Column::Outcome.eq("success"))
        .filter(access_events::Column::Action.is_in(["view", "export"]))
        .filter(Condition::any().add(access_events::Column::MemberId.is_null()).add(access_events::Column::MemberId.ne(access.member_id)));
    if !access.is_clinician() {
        q = q.filter(access_events::Column::Role.is_not_in(["partner_a", "partner_b"]));
    }
    if let Some(before) = before {
        q = q.filter(access_events::Column::Seq.lt(before));
    }
    Ok(q.order_by_desc(access_events::Column::Seq).limit(BATCH).all(db).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_back_and_refuse_anything_else() {
        let c = Cursor { before: 1234, skip: 3 };
        assert_eq!(Cursor::parse(&c.text()).unwrap(), c);
        for bad in ["", "12", "x-1", "12-y", "0-0", "-5-1", "12-999999999"] {
            assert!(Cursor::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn days_are_the_practices() {
        let at = time::macros::datetime!(2026-03-10 03:30 UTC);
        assert_eq!(local_day(at, "America/Chicago"), time::macros::date!(2026 - 03 - 09));
        assert_eq!(local_day(at, "Europe/Berlin"), time::macros::date!(2026 - 03 - 10));
    }
}
