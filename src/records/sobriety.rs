//! Sobriety figures for a client in recovery.
//!
//! A lapse does not wipe out months of work, so Tandem shows two numbers side
//! by side: the **current streak** (days sober since the last use) and the
//! **total abstinent days** (every sober day since care started, lapses or not).
//!
//! How days are counted, in plain words:
//! - Only *completed* days count: from the day care started up to, but not
//!   including, today. Today is still in progress.
//! - A *use day* is any day covered by a recorded lapse. A day covered by two
//!   overlapping lapses is still one use day. Use days before care started do
//!   not count, and neither do use days after today.
//! - A lapse recorded for today does not change today's totals (today is not
//!   complete yet), but it does reset the streak straight away.
//! - A "year" milestone is 365 sober days, counted the same way as every other
//!   milestone, so it can fall a day before the calendar anniversary when a
//!   29 February lies in between.

use serde::{Deserialize, Serialize};
use time::Date;

/// Milestones every client can reach; past a year, each further full year counts too.
pub const STANDARD_MILESTONES: [u32; 6] = [1, 7, 30, 90, 180, 365];

const DAYS_PER_YEAR: u32 = 365;

/// A lapse: substance use on `days` consecutive days starting at `first_day`.
///
/// A lapse recorded with `days == 0` is read as a single day, since a lapse
/// was recorded and a zero-length one would silently vanish from the figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UsePeriod {
    pub first_day: Date,
    pub days: u32,
}

impl UsePeriod {
    /// A lapse on one day only, the most common case.
    pub fn single_day(day: Date) -> Self {
        Self {
            first_day: day,
            days: 1,
        }
    }

    /// The use days as a half-open range of Julian day numbers; `i64` so that
    /// adding the length can never overflow.
    fn julian_days(&self) -> (i64, i64) {
        let first = i64::from(self.first_day.to_julian_day());
        (first, first + i64::from(self.days.max(1)))
    }
}

/// A number of sober days worth celebrating, with the wording shown to the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Milestone {
    pub days: u32,
    pub label: String,
}

impl Milestone {
    pub fn new(days: u32) -> Self {
        Self {
            days,
            label: milestone_label(days),
        }
    }
}

/// A milestone the client has reached in the current streak.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReachedMilestone {
    pub days: u32,
    pub label: String,
    pub reached_on: Date,
}

/// The next milestone to work towards, if the current streak holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NextMilestone {
    pub days: u32,
    pub label: String,
    pub on: Date,
    pub days_to_go: u32,
}

/// Sobriety figures as of `today` (see the module docs for how days are counted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sobriety {
    /// The day care (abstinence tracking) started.
    pub start: Date,
    /// The day the figures are for; it is still in progress, so it is not counted.
    pub today: Date,
    /// The first day of the current streak: the day after the last use day up
    /// to and including today, or the start of care if there was none.
    pub sober_since: Date,
    /// Completed sober days since `sober_since`.
    pub current_streak_days: u32,
    /// Completed days in care that were not use days, across all lapses.
    pub total_abstinent_days: u32,
    /// Completed days since care started.
    pub days_in_care: u32,
    /// Completed days in care on which there was use.
    pub use_days: u32,
    /// Milestones reached in the current streak, smallest first.
    pub reached: Vec<ReachedMilestone>,
    /// The next milestone of the current streak. Only `None` for a streak
    /// longer than any date `time` can represent.
    pub next: Option<NextMilestone>,
}

/// The wording counselors use for a number of sober days.
pub fn milestone_label(days: u32) -> String {
    match days {
        1 => "1 day".to_owned(),
        7 => "1 week".to_owned(),
        180 => "6 months".to_owned(),
        DAYS_PER_YEAR => "1 year".to_owned(),
        d if d.is_multiple_of(DAYS_PER_YEAR) => format!("{} years", d / DAYS_PER_YEAR),
        d => format!("{d} days"),
    }
}

/// All milestones in ascending order: the standard ones, then every further
/// full year. Ends only where the day count would overflow `u32`.
pub fn milestones() -> impl Iterator<Item = Milestone> {
    let later_years = (2..).map_while(|years: u32| years.checked_mul(DAYS_PER_YEAR));
    STANDARD_MILESTONES
        .into_iter()
        .chain(later_years)
        .map(Milestone::new)
}

/// Works out the streak, totals and milestones as of `today`.
///
/// Runs in O(n log n) in the number of lapses, independent of how long the
/// client has been in care.
pub fn compute(start: Date, lapses: &[UsePeriod], today: Date) -> Sobriety {
    let start_jd = i64::from(start.to_julian_day());
    let today_jd = i64::from(today.to_julian_day());

    // Today is included here only so that a lapse today resets the streak;
    // it is excluded again when counting use days.
    let mut relevant: Vec<(i64, i64)> = lapses
        .iter()
        .map(|lapse| {
            let (first, end) = lapse.julian_days();
            (first.max(start_jd), end.min(today_jd + 1))
        })
        .filter(|(first, end)| first < end)
        .collect();
    relevant.sort_unstable();
    let use_spans = merge_overlapping(relevant);

    let use_days = day_count(
        use_spans
            .iter()
            .map(|&(first, end)| (end.min(today_jd) - first).max(0))
            .sum(),
    );
    // Spans are disjoint and sorted, so the last one holds the latest use day.
    let sober_since_jd = use_spans.last().map_or(start_jd, |&(_, end)| end);
    let days_in_care = days_in_care(start, today);
    let current_streak_days = day_count(today_jd - sober_since_jd);
    let sober_since = date_from_julian(sober_since_jd);

    let mut reached = Vec::new();
    let mut next = None;
    for Milestone { days, label } in milestones() {
        if days <= current_streak_days {
            reached.push(ReachedMilestone {
                days,
                label,
                reached_on: add_days(sober_since, days),
            });
        } else {
            next = Some(NextMilestone {
                days,
                label,
                on: add_days(sober_since, days),
                days_to_go: days - current_streak_days,
            });
            break;
        }
    }

    Sobriety {
        start,
        today,
        sober_since,
        current_streak_days,
        total_abstinent_days: days_in_care.saturating_sub(use_days),
        days_in_care,
        use_days,
        reached,
        next,
    }
}

/// Joins sorted half-open spans that overlap or touch, so each day is counted once.
fn merge_overlapping(sorted: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    let mut merged: Vec<(i64, i64)> = Vec::with_capacity(sorted.len());
    for (first, end) in sorted {
        match merged.last_mut() {
            Some((_, last_end)) if first <= *last_end => *last_end = (*last_end).max(end),
            _ => merged.push((first, end)),
        }
    }
    merged
}

/// Clamps a day difference into `u32`; negative differences mean "none yet".
/// Completed days since care started on `start`: 0 on the first day. The
/// one figure pages, PDFs and the API all show.
pub fn days_in_care(start: Date, today: Date) -> u32 {
    day_count(i64::from(today.to_julian_day()) - i64::from(start.to_julian_day()))
}

fn day_count(days: i64) -> u32 {
    u32::try_from(days.max(0)).unwrap_or(u32::MAX)
}

/// Dates beyond what `time` can represent clamp to its limits rather than panic.
fn date_from_julian(julian_day: i64) -> Date {
    let min = i64::from(Date::MIN.to_julian_day());
    let max = i64::from(Date::MAX.to_julian_day());
    i32::try_from(julian_day.clamp(min, max))
        .ok()
        .and_then(|jd| Date::from_julian_day(jd).ok())
        .unwrap_or(Date::MAX)
}

fn add_days(date: Date, days: u32) -> Date {
    date_from_julian(i64::from(date.to_julian_day()) + i64::from(days))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;
    use time::macros::date;

    fn lapse(first_day: Date, days: u32) -> UsePeriod {
        UsePeriod { first_day, days }
    }

    fn reached_days(s: &Sobriety) -> Vec<u32> {
        s.reached.iter().map(|m| m.days).collect()
    }

    #[test]
    fn first_month_without_lapses() {
        let s = compute(date!(2026 - 01 - 01), &[], date!(2026 - 01 - 31));
        assert_eq!(s.current_streak_days, 30);
        assert_eq!(s.total_abstinent_days, 30);
        assert_eq!(s.days_in_care, 30);
        assert_eq!(s.use_days, 0);
        assert_eq!(s.sober_since, date!(2026 - 01 - 01));
        assert_eq!(reached_days(&s), [1, 7, 30]);
        assert_eq!(
            s.reached[1],
            ReachedMilestone {
                days: 7,
                label: "1 week".into(),
                reached_on: date!(2026 - 01 - 08),
            }
        );
        assert_eq!(
            s.next,
            Some(NextMilestone {
                days: 90,
                label: "90 days".into(),
                on: date!(2026 - 04 - 01),
                days_to_go: 60,
            })
        );
    }

    #[test]
    fn two_day_lapse_resets_streak_but_not_total() {
        let start = date!(2026 - 01 - 01);
        let today = date!(2026 - 03 - 20);
        let s = compute(start, &[lapse(date!(2026 - 03 - 10), 2)], today);
        assert_eq!(s.days_in_care, 78);
        assert_eq!(s.use_days, 2);
        assert_eq!(s.total_abstinent_days, s.days_in_care - 2);
        assert_eq!(s.sober_since, date!(2026 - 03 - 12));
        // 12th..19th March; the 20th is still in progress.
        assert_eq!(s.current_streak_days, 8);
        assert_eq!(reached_days(&s), [1, 7]);
        assert_eq!(s.reached[1].reached_on, date!(2026 - 03 - 19));
        let next = s.next.unwrap();
        assert_eq!((next.days, next.days_to_go), (30, 22));
        assert_eq!(next.on, date!(2026 - 04 - 11));
    }

    #[test]
    fn lapse_recorded_for_today_resets_streak_immediately() {
        let start = date!(2026 - 01 - 01);
        let today = date!(2026 - 02 - 01);
        let s = compute(start, &[UsePeriod::single_day(today)], today);
        assert_eq!(s.current_streak_days, 0);
        assert_eq!(s.sober_since, date!(2026 - 02 - 02));
        assert!(s.reached.is_empty());
        // Today is not complete, so it is not yet a counted use day.
        assert_eq!(s.use_days, 0);
        assert_eq!(s.total_abstinent_days, 31);
        let next = s.next.unwrap();
        assert_eq!((next.days, next.days_to_go), (1, 1));
        assert_eq!(next.on, date!(2026 - 02 - 03));
    }

    #[test]
    fn overlapping_lapses_count_each_day_once() {
        let start = date!(2026 - 01 - 01);
        let lapses = [
            lapse(date!(2026 - 01 - 10), 5), // 10th..14th
            lapse(date!(2026 - 01 - 12), 5), // 12th..16th
            lapse(date!(2026 - 01 - 11), 1), // inside the first
        ];
        let s = compute(start, &lapses, date!(2026 - 02 - 01));
        assert_eq!(s.use_days, 7);
        assert_eq!(s.total_abstinent_days, 31 - 7);
        assert_eq!(s.sober_since, date!(2026 - 01 - 17));
        assert_eq!(s.current_streak_days, 15);
    }

    #[test]
    fn zero_day_lapse_counts_as_one_day() {
        let s = compute(
            date!(2026 - 01 - 01),
            &[lapse(date!(2026 - 01 - 05), 0)],
            date!(2026 - 01 - 10),
        );
        assert_eq!(s.use_days, 1);
        assert_eq!(s.sober_since, date!(2026 - 01 - 06));
    }

    #[test]
    fn lapse_before_start_is_ignored() {
        let start = date!(2026 - 01 - 01);
        let s = compute(
            start,
            &[lapse(date!(2025 - 12 - 20), 5)],
            date!(2026 - 01 - 15),
        );
        assert_eq!(s.use_days, 0);
        assert_eq!(s.sober_since, start);
        assert_eq!(s.current_streak_days, 14);
    }

    #[test]
    fn lapse_straddling_start_counts_only_days_in_care() {
        let start = date!(2026 - 01 - 01);
        let s = compute(
            start,
            &[lapse(date!(2025 - 12 - 30), 4)],
            date!(2026 - 01 - 15),
        );
        assert_eq!(s.use_days, 2);
        assert_eq!(s.sober_since, date!(2026 - 01 - 03));
        assert_eq!(s.current_streak_days, 12);
    }

    #[test]
    fn lapse_after_today_is_ignored() {
        let start = date!(2026 - 01 - 01);
        let s = compute(
            start,
            &[lapse(date!(2026 - 01 - 20), 3)],
            date!(2026 - 01 - 15),
        );
        assert_eq!(s.use_days, 0);
        assert_eq!(s.sober_since, start);
        assert_eq!(s.current_streak_days, 14);
    }

    #[test]
    fn lapse_running_into_today_counts_only_completed_days() {
        let s = compute(
            date!(2026 - 01 - 01),
            &[lapse(date!(2026 - 01 - 14), 5)],
            date!(2026 - 01 - 15),
        );
        assert_eq!(s.use_days, 1);
        assert_eq!(s.sober_since, date!(2026 - 01 - 16));
        assert_eq!(s.current_streak_days, 0);
    }

    #[test]
    fn today_before_start_is_all_zeros() {
        let start = date!(2026 - 01 - 01);
        let s = compute(
            start,
            &[lapse(date!(2025 - 12 - 30), 3)],
            date!(2025 - 12 - 31),
        );
        assert_eq!(
            (
                s.days_in_care,
                s.use_days,
                s.total_abstinent_days,
                s.current_streak_days
            ),
            (0, 0, 0, 0)
        );
        assert_eq!(s.sober_since, start);
        assert!(s.reached.is_empty());
    }

    #[test]
    fn first_day_of_care_has_nothing_completed_yet() {
        let start = date!(2026 - 01 - 01);
        let s = compute(start, &[], start);
        assert_eq!((s.days_in_care, s.current_streak_days), (0, 0));
        assert_eq!(s.next.unwrap().on, date!(2026 - 01 - 02));
    }

    #[test]
    fn four_hundred_days_reaches_one_year() {
        let start = date!(2024 - 01 - 01);
        let today = add_days(start, 400);
        let s = compute(start, &[], today);
        assert_eq!(s.current_streak_days, 400);
        assert_eq!(reached_days(&s), [1, 7, 30, 90, 180, 365]);
        let year = s.reached.last().unwrap();
        assert_eq!(year.label, "1 year");
        // 2024 is a leap year: 365 days on is 31 Dec, not the calendar anniversary.
        assert_eq!(year.reached_on, date!(2024 - 12 - 31));
        let next = s.next.unwrap();
        assert_eq!((next.days, next.label.as_str()), (730, "2 years"));
        assert_eq!(next.days_to_go, 330);
    }

    #[test]
    fn labels_read_as_counselors_say_them() {
        let labels: Vec<String> = milestones().take(9).map(|m| m.label).collect();
        assert_eq!(
            labels,
            [
                "1 day", "1 week", "30 days", "90 days", "6 months", "1 year", "2 years",
                "3 years", "4 years"
            ]
        );
        assert_eq!(milestone_label(45), "45 days");
    }

    #[test]
    fn many_lapses_over_decades_stay_fast_and_consistent() {
        let start = date!(2000 - 01 - 01);
        let lapses: Vec<UsePeriod> = (0..500u32)
            .map(|i| lapse(add_days(start, i * 29 % 9000), i % 7))
            .collect();
        let today = date!(2030 - 01 - 01);
        let s = compute(start, &lapses, today);
        assert_eq!(s, naive_compute(start, &lapses, today));
    }

    // ---- property tests ----

    /// Day-by-day reference: obviously right, deliberately slow.
    fn naive_compute(start: Date, lapses: &[UsePeriod], today: Date) -> Sobriety {
        let mut use_days_set = BTreeSet::new();
        for l in lapses {
            let mut day = l.first_day;
            for _ in 0..l.days.max(1) {
                use_days_set.insert(day);
                day = day.next_day().unwrap();
            }
        }
        let mut days_in_care = 0;
        let mut use_days = 0;
        let mut day = start;
        while day < today {
            days_in_care += 1;
            if use_days_set.contains(&day) {
                use_days += 1;
            }
            day = day.next_day().unwrap();
        }
        let sober_since = use_days_set
            .iter()
            .rfind(|&&d| start <= d && d <= today)
            .map_or(start, |d| d.next_day().unwrap());
        let mut streak = 0;
        let mut day = sober_since;
        while day < today {
            streak += 1;
            day = day.next_day().unwrap();
        }
        let is_milestone = |d: u32| STANDARD_MILESTONES.contains(&d) || d.is_multiple_of(365);
        let plus = |d: u32| sober_since + time::Duration::days(i64::from(d));
        let reached = (1..=streak)
            .filter(|&d| is_milestone(d))
            .map(|d| ReachedMilestone {
                days: d,
                label: milestone_label(d),
                reached_on: plus(d),
            })
            .collect();
        let next_days = (streak + 1..).find(|&d| is_milestone(d)).unwrap();
        Sobriety {
            start,
            today,
            sober_since,
            current_streak_days: streak,
            total_abstinent_days: days_in_care - use_days,
            days_in_care,
            use_days,
            reached,
            next: Some(NextMilestone {
                days: next_days,
                label: milestone_label(next_days),
                on: plus(next_days),
                days_to_go: next_days - streak,
            }),
        }
    }

    fn covers(l: &UsePeriod, day: Date) -> bool {
        let (first, end) = l.julian_days();
        (first..end).contains(&i64::from(day.to_julian_day()))
    }

    /// A start date in 2000..=2030 and a today from shortly before it to
    /// about ten years after, with lapses around that window.
    fn scenario() -> impl Strategy<Value = (Date, Vec<UsePeriod>, Date)> {
        let first = date!(2000 - 01 - 01).to_julian_day();
        let last_start = date!(2030 - 12 - 31).to_julian_day();
        (first..=last_start, -40i64..3700)
            .prop_flat_map(|(start_jd, today_offset)| {
                let lapse = (-100i64..3800, 0u32..=60);
                (
                    Just(start_jd),
                    Just(today_offset),
                    prop::collection::vec(lapse, 0..30),
                )
            })
            .prop_map(|(start_jd, today_offset, raw)| {
                let start = Date::from_julian_day(start_jd).unwrap();
                let at = |offset: i64| start + time::Duration::days(offset);
                let lapses = raw
                    .into_iter()
                    .map(|(offset, days)| lapse(at(offset), days))
                    .collect();
                (start, lapses, at(today_offset))
            })
    }

    proptest! {
        #[test]
        fn matches_day_by_day_reference((start, lapses, today) in scenario()) {
            prop_assert_eq!(compute(start, &lapses, today), naive_compute(start, &lapses, today));
        }

        #[test]
        fn streak_within_total_within_care((start, lapses, today) in scenario()) {
            let s = compute(start, &lapses, today);
            prop_assert!(s.current_streak_days <= s.total_abstinent_days);
            prop_assert!(s.total_abstinent_days <= s.days_in_care);
            prop_assert_eq!(s.total_abstinent_days + s.use_days, s.days_in_care);
        }

        #[test]
        fn lapse_yesterday_resets_streak_not_total((start, lapses, today) in scenario()) {
            prop_assume!(today > start);
            let yesterday = today.previous_day().unwrap();
            let before = compute(start, &lapses, today);
            let mut with_lapse = lapses.clone();
            with_lapse.push(UsePeriod::single_day(yesterday));
            let after = compute(start, &with_lapse, today);

            prop_assert_eq!(after.current_streak_days, 0);
            let was_use_day = lapses.iter().any(|l| covers(l, yesterday));
            let expected_drop = if was_use_day { 0 } else { 1 };
            prop_assert_eq!(before.total_abstinent_days - after.total_abstinent_days, expected_drop);
        }

        #[test]
        fn a_sober_day_only_adds((start, lapses, today) in scenario()) {
            let tomorrow = today.next_day().unwrap();
            // "Without new lapses": nothing may be recorded for tomorrow.
            let lapses: Vec<UsePeriod> =
                lapses.into_iter().filter(|l| !covers(l, tomorrow)).collect();
            let now = compute(start, &lapses, today);
            let later = compute(start, &lapses, tomorrow);

            if now.sober_since <= today {
                prop_assert_eq!(later.current_streak_days, now.current_streak_days + 1);
                prop_assert_eq!(later.sober_since, now.sober_since);
            } else {
                prop_assert_eq!(later.current_streak_days, 0);
            }
            prop_assert!(later.total_abstinent_days >= now.total_abstinent_days);
            let reached_now: BTreeSet<u32> = reached_days(&now).into_iter().collect();
            let reached_later: BTreeSet<u32> = reached_days(&later).into_iter().collect();
            prop_assert!(reached_now.is_subset(&reached_later));
        }

        #[test]
        fn milestones_are_ordered_and_consistent((start, lapses, today) in scenario()) {
            let s = compute(start, &lapses, today);
            let days = reached_days(&s);
            prop_assert!(days.windows(2).all(|w| w[0] < w[1]));
            prop_assert!(days.iter().all(|&d| d <= s.current_streak_days));
            for m in &s.reached {
                prop_assert_eq!(m.reached_on, add_days(s.sober_since, m.days));
                prop_assert!(m.reached_on <= s.today);
            }
            let next = s.next.expect("yearly milestones never run out");
            prop_assert!(next.days > s.current_streak_days);
            prop_assert_eq!(next.days_to_go, next.days - s.current_streak_days);
            prop_assert_eq!(next.on, add_days(s.sober_since, next.days));
        }
    }

    #[test]
    fn extreme_dates_do_not_panic() {
        let s = compute(Date::MIN, &[lapse(Date::MAX, u32::MAX)], Date::MAX);
        assert_eq!(s.sober_since, Date::MAX);
        assert_eq!(s.current_streak_days, 0);
        let s = compute(Date::MIN, &[lapse(Date::MIN, u32::MAX)], Date::MAX);
        assert_eq!(s.use_days, s.days_in_care);
        let s = compute(Date::MAX, &[], Date::MIN);
        assert_eq!(s.days_in_care, 0);
        let s = compute(Date::MIN, &[], Date::MAX);
        assert!(s.next.is_some());
    }
}
