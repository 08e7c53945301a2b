//! The pictures, drawn from facts alone: marks where their days are, the
//! words beside them saying the same, nothing drawn where nothing happened.

use askama::Template;
use time::macros::date;
use uuid::Uuid;

use super::{boundaries, timeline};
use crate::records::{
    boundaries::{BoundaryCategory, BoundaryEventKind, Holder},
    common::PartnerSlot,
    progress::{BoundaryTrack, Happening, Mark, Progress, month_of},
    sessions::SessionKind,
};
use crate::web::clinical::forms::PartnerNames;

fn names() -> PartnerNames {
    PartnerNames { a: "Dan".into(), b: "Marisol".into() }
}

fn progress(marks: Vec<Mark>) -> Progress {
    let (started, today) = (date!(2026 - 03 - 02), date!(2026 - 12 - 06));
    Progress { care_started_on: started, today, first_month: month_of(started), last_month: month_of(today), marks, boundaries: Vec::new() }
}

fn lapse(on: time::Date, substance: &str) -> Mark {
    Mark { on, what: Happening::Lapse { partner: PartnerSlot::A, relapse: false, days: 2, substance: substance.into() } }
}

/// The numbers of attribute `name` of each element following `class="{class}"`.
fn attr_after(svg: &str, class: &str, name: &str) -> Vec<f32> {
    svg.split(&format!("class=\"{class}\""))
        .skip(1)
        .map(|rest| {
            let at = rest.find(&format!(" {name}=\"")).expect("the attribute") + name.len() + 3;
            rest[at..].split('"').next().unwrap().parse().unwrap()
        })
        .collect()
}

#[test]
fn a_lapse_is_marked_in_its_month() {
    let svg = timeline(&progress(vec![lapse(date!(2026 - 05 - 10), "alcohol")]), &names()).render().unwrap();
    // Ten months (March to December) across 472 units: May is the third.
    let month_w = 472.0 / 10.0;
    let x = attr_after(&svg, "mark lapse", "x");
    assert_eq!(x.len(), 1, "{svg}");
    assert!(x[0] > 4.0 + 2.0 * month_w && x[0] < 4.0 + 3.0 * month_w, "x {} is not in May: {svg}", x[0]);
    // Nine days into May's 31: a little under a third of the way in.
    assert!((x[0] - (4.0 + (2.0 + 9.0 / 31.0) * month_w)).abs() < 0.1, "{}", x[0]);
    assert!(svg.contains("<title>Sunday 10 May 2026: Lapse: Dan, 2 days, alcohol</title>"), "{svg}");
    // The sentence says it, in the picture's title and its caption, and the table lists it.
    let sentence = "Dan on Sunday 10 May 2026 (lapse, 2 days)";
    assert_eq!(svg.matches(sentence).count(), 2, "{svg}");
    assert!(svg.contains("<td>Sunday 10 May 2026</td><td>Lapse: Dan, 2 days, alcohol</td>"), "{svg}");
    assert!(svg.contains("Months in care since Monday 2 March 2026: 9 months."), "{svg}");
}

#[test]
fn sessions_and_milestones_have_their_lanes() {
    let marks = vec![
        Mark { on: date!(2026 - 03 - 02), what: Happening::Milestone { partner: None, label: "First meeting together".into() } },
        Mark { on: date!(2026 - 03 - 05), what: Happening::Session { kind: SessionKind::Joint, booked: false } },
        Mark { on: date!(2026 - 12 - 20), what: Happening::Session { kind: SessionKind::Joint, booked: true } },
        Mark { on: date!(2026 - 04 - 01), what: Happening::Milestone { partner: Some(PartnerSlot::B), label: "30 days".into() } },
    ];
    let svg = timeline(&progress(marks), &names()).render().unwrap();
    assert_eq!(svg.matches("class=\"mark session\"").count(), 1);
    assert_eq!(svg.matches("class=\"mark session booked\"").count(), 1);
    assert_eq!(svg.matches("class=\"mark milestone\"").count(), 2);
    assert!(svg.contains("fill=\"#ffffff\" stroke=\"#1f5f8b\""), "a booked session is hollow: {svg}");
    let cy = attr_after(&svg, "mark session", "cy");
    assert_eq!(cy, [22.0], "sessions on their lane");
    assert!(svg.contains("1 session held and 1 booked."), "{svg}");
    assert!(svg.contains("Marisol reached 30 days on Wednesday 1 April 2026"), "{svg}");
    assert!(svg.contains("First meeting together on Monday 2 March 2026"), "{svg}");
    // Months are named, years under the first month and January.
    for label in [">Mar</text>", ">2026</text>"] {
        assert!(svg.contains(label), "{label}: {svg}");
    }
}

#[test]
fn an_empty_history_draws_an_empty_axis_and_says_so() {
    let svg = timeline(&progress(Vec::new()), &names()).render().unwrap();
    assert!(!svg.contains("class=\"mark"), "{svg}");
    assert!(svg.contains("<line x1=\"4\" y1=\"94\" x2=\"476\" y2=\"94\""), "the axis: {svg}");
    assert_eq!(svg.matches("Nothing is recorded on the timeline yet").count(), 2, "title and caption: {svg}");
    assert!(!svg.contains("<table>"), "no empty table");
    assert!(svg.contains("<title>Today: Sunday 6 December 2026</title>"));
}

#[test]
fn words_are_escaped_in_titles_and_captions() {
    let svg = timeline(&progress(vec![lapse(date!(2026 - 06 - 01), "<b>gin</b> & \"tonic\"")]), &names()).render().unwrap();
    assert!(!svg.contains("<b>"), "{svg}");
    assert!(svg.contains("&#60;b&#62;gin") || svg.contains("&lt;b&gt;gin"), "{svg}");
}

#[test]
fn a_long_history_names_fewer_months() {
    let mut p = progress(Vec::new());
    p.first_month = date!(2024 - 01 - 01);
    p.care_started_on = date!(2024 - 01 - 15);
    let svg = timeline(&p, &names()).render().unwrap();
    // 36 months, about 13 units each: every third month is named.
    assert_eq!(svg.matches(">Jan</text>").count(), 3, "{svg}");
    assert_eq!(svg.matches(">Feb</text>").count(), 0, "{svg}");
    for year in ["2024", "2025", "2026"] {
        assert!(svg.contains(&format!(">{year}</text>")), "{year}");
    }
}

fn track(statement: &str, events: Vec<(time::Date, BoundaryEventKind)>) -> BoundaryTrack {
    BoundaryTrack { id: Uuid::nil(), statement: statement.into(), category: BoundaryCategory::Money, holder: Holder::PartnerB, retired: false, events }
}

#[test]
fn boundaries_are_drawn_kept_and_tested_each_on_its_row() {
    let mut p = progress(Vec::new());
    assert!(boundaries(&p, &names()).is_none(), "no boundary, no picture");
    p.boundaries = vec![
        track("If money goes missing, we pause the joint account.", vec![
            (date!(2026 - 04 - 02), BoundaryEventKind::Kept),
            (date!(2026 - 06 - 15), BoundaryEventKind::Tested),
            (date!(2026 - 07 - 01), BoundaryEventKind::Kept),
        ]),
        track("No alcohol at home.", Vec::new()),
    ];
    let svg = boundaries(&p, &names()).unwrap().render().unwrap();
    assert_eq!(svg.matches("class=\"mark kept\"").count(), 2);
    assert_eq!(svg.matches("class=\"mark tested\"").count(), 1);
    assert_eq!(attr_after(&svg, "mark kept", "cy"), [26.0, 26.0], "on the first row: {svg}");
    assert!(svg.contains("Money (Marisol): If money goes missing"), "{svg}");
    assert!(svg.contains(
        "If money goes missing, we pause the joint account: kept 2 times (Thursday 2 April 2026, Wednesday 1 July 2026); tested once (Monday 15 June 2026)."
    ), "{svg}");
    assert!(svg.contains("No alcohol at home: not logged as kept or tested yet."), "{svg}");
    assert!(!svg.contains("No time a boundary was kept or tested is logged yet"));

    p.boundaries.truncate(0);
    p.boundaries.push(track("No alcohol at home.", Vec::new()));
    let svg = boundaries(&p, &names()).unwrap().render().unwrap();
    assert!(!svg.contains("class=\"mark"), "{svg}");
    assert!(svg.contains("No time a boundary was kept or tested is logged yet"), "{svg}");
}

#[test]
fn numbers_read_as_formatting_to_one_decimal_writes_them() {
    let old = |v: f32| {
        let s = format!("{v:.1}");
        s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
    };
    // Every fortieth from -50 to 1,000 (ties included), and the odd values
    // scales make; "-0" (a negative that rounds to nothing) reads "0" now.
    let values = (-2_000..40_000).map(|i| i as f32 / 40.0).chain((0..10_000).map(|i| i as f32 * 0.37 + 0.05));
    for v in values.filter(|v| old(*v) != "-0") {
        assert_eq!(super::n(v), old(v), "{v}");
    }
    assert_eq!(super::n(-0.01), "0");
}
