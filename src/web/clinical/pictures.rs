//! The pictures of progress as SVG drawn on the server (no JavaScript):
//! the check-in heat map, the timeline of the months in care and the
//! boundaries kept and tested over time. Each is drawn from facts already
//! cut to the reader's audience (`records::progress`,
//! `records::session_prep::CheckinDays`) and carries its text alternative:
//! a sentence in the figure's caption and, for the timeline, a table.
//! Pure: facts in, markup out (askama escapes every word).

use askama::Template;
use time::Date;

use crate::records::{
    boundaries::{BoundaryEventKind, Holder},
    common::{PartnerSlot, StoredEnum},
    progress::{self, Happening, Progress, Scale},
    session_prep::{CheckinDays, DayMark},
};

use super::forms::PartnerNames;

// ---- the check-in heat map -----------------------------------------------------

/// One day of the check-in picture.
pub struct Cell {
    pub x: u32,
    pub fill: &'static str,
    pub title: String,
}

/// A partner's last 90 days as a strip of cells, with the sentence that says it.
pub struct Heatmap {
    pub id: String,
    pub summary: String,
    pub width: u32,
    pub cells: Vec<Cell>,
}

/// Cell width and gap, in SVG units.
const CELL: u32 = 6;

pub fn heatmap(days: &CheckinDays, who: &str) -> Heatmap {
    let cells = days
        .days
        .iter()
        .enumerate()
        .map(|(i, mark)| {
            let day = days.first_day + time::Duration::days(i as i64);
            let (fill, words) = match mark {
                DayMark::TrustDiscussion => ("#1a7f37", "trust discussion"),
                DayMark::CheckedIn => ("#9be9a8", "checked in, no trust discussion"),
                DayMark::Missed => ("#d0d7de", "no check-in"),
            };
            Cell { x: i as u32 * CELL, fill, title: format!("{}: {words}", crate::display::day(day)) }
        })
        .collect();
    Heatmap { id: format!("checkins-{}", days.partner.as_str()), summary: days.sentence(who), width: days.days.len() as u32 * CELL, cells }
}

// ---- the months on the x axis, shared by the timeline and the boundaries -------------

/// Width of every picture's coordinate system; the page scales it.
const WIDTH: f32 = 480.0;
const LEFT: f32 = 4.0;
const RIGHT: f32 = WIDTH - 4.0;

/// A number as SVG takes it: one decimal, no trailing ".0". Written from
/// whole tenths: a page draws hundreds of numbers, and formatting a float
/// to a precision took a tenth of the couple page's CPU. The tenths are
/// rounded as `format!("{v:.1}")` rounds (half to even on the exact value;
/// `v` times ten is exact in f64), which the tests hold it to.
fn n(v: f32) -> String {
    let tenths = (f64::from(v) * 10.0).round_ties_even() as i64;
    let (whole, tenth) = (tenths / 10, (tenths % 10).abs());
    match (tenth, tenths < 0 && whole == 0) {
        (0, _) => whole.to_string(),
        (_, true) => format!("-0.{tenth}"),
        (_, false) => format!("{whole}.{tenth}"),
    }
}

/// Alternate months shaded, from `top` to `bottom`, each titled.
fn bands(scale: &Scale, top: f32, bottom: f32) -> Vec<Band> {
    scale
        .months
        .iter()
        .enumerate()
        .map(|(i, m)| Band {
            x: n(LEFT + i as f32 * scale.month_width),
            y: n(top),
            w: n(scale.month_width),
            h: n(bottom - top),
            fill: if i % 2 == 0 { "#eef2f7" } else { "#ffffff" },
            title: crate::display::month(*m),
        })
        .collect()
}

/// Month names (as many as fit) and the year under the first month and each January.
fn labels(scale: &Scale, baseline: f32) -> Vec<Label> {
    let mut labels = Vec::new();
    for name in scale.names(30.0, 34.0) {
        let x = n(LEFT + name.x + 2.0);
        labels.extend(name.month.map(|text| Label { x: x.clone(), y: n(baseline), text, bold: false }));
        labels.extend(name.year.map(|text| Label { x, y: n(baseline + 13.0), text, bold: true }));
    }
    labels
}

/// A shaded month behind the marks.
pub struct Band {
    pub x: String,
    pub y: String,
    pub w: String,
    pub h: String,
    pub fill: &'static str,
    pub title: String,
}

/// Text inside a picture.
pub struct Label {
    pub x: String,
    pub y: String,
    pub text: String,
    pub bold: bool,
}

/// A vertical line across the marks: the start of care, today.
pub struct Rule {
    pub x: String,
    pub top: String,
    pub bottom: String,
    pub dashed: bool,
    pub title: String,
}

/// How a mark is drawn; its colour and shape both say what it is.
pub enum Shape {
    /// cx, cy, r, hollow
    Circle(String, String, String, bool),
    /// x, y, width, height
    Rect(String, String, String, String),
    /// "x,y x,y …"
    Polygon(String),
}

/// One mark: what it is (a class the stylesheet and tests know), how it is
/// drawn, its colour, and the words a pointer or screen reader gets.
pub struct SvgMark {
    pub class: &'static str,
    pub shape: Shape,
    pub fill: &'static str,
    pub title: String,
}

fn diamond(cx: f32, cy: f32, r: f32) -> Shape {
    Shape::Polygon(format!("{},{} {},{} {},{} {},{}", n(cx), n(cy - r), n(cx + r), n(cy), n(cx), n(cy + r), n(cx - r), n(cy)))
}

fn triangle(cx: f32, cy: f32, r: f32) -> Shape {
    Shape::Polygon(format!("{},{} {},{} {},{}", n(cx), n(cy - r), n(cx + r), n(cy + r * 0.8), n(cx - r), n(cy + r * 0.8)))
}

// ---- the months in care ---------------------------------------------------------------

/// The timeline of the months in care: sessions, lapses and milestones on
/// their days, the start of care and today marked; the sentence and the
/// table say the same.
#[derive(Template)]
#[template(path = "timeline_svg.html")]
pub struct Timeline {
    pub height: String,
    pub bands: Vec<Band>,
    pub lanes: Vec<Label>,
    pub axis_y: String,
    pub labels: Vec<Label>,
    pub rules: Vec<Rule>,
    pub marks: Vec<SvgMark>,
    pub sentence: String,
    /// (day, what) for every mark.
    pub rows: Vec<(String, String)>,
}

/// Rows of the timeline, top to bottom: each lane's label and marks.
const SESSIONS_Y: f32 = 22.0;
const LAPSES_Y: f32 = 51.0;
const MILESTONES_Y: f32 = 81.0;
const TIMELINE_AXIS: f32 = 94.0;

pub fn timeline(progress: &Progress, names: &PartnerNames) -> Timeline {
    let name = |p: PartnerSlot| names.of(p).to_owned();
    let scale = progress.scale(RIGHT - LEFT);
    let x = |day: Date, start: bool| LEFT + scale.x(day, start);
    let marks = progress.marks.iter().map(|m| timeline_mark(m, &scale, &name)).collect();
    let lane = |y: f32, text: &str| Label { x: n(LEFT + 2.0), y: n(y), text: text.into(), bold: false };
    let rule = |day: Date, dashed: bool, title: String| Rule {
        x: n(x(day, false)),
        top: "0".into(),
        bottom: n(TIMELINE_AXIS),
        dashed,
        title,
    };
    let mut rules = vec![rule(progress.care_started_on, false, format!("Care began: {}", crate::display::day(progress.care_started_on)))];
    rules.push(rule(progress.today, true, format!("Today: {}", crate::display::day(progress.today))));
    Timeline {
        height: n(TIMELINE_AXIS + 32.0),
        bands: bands(&scale, 0.0, TIMELINE_AXIS),
        lanes: vec![lane(SESSIONS_Y - 10.0, "Sessions"), lane(LAPSES_Y - 10.0, "Lapses"), lane(MILESTONES_Y - 10.0, "Milestones")],
        axis_y: n(TIMELINE_AXIS),
        labels: labels(&scale, TIMELINE_AXIS + 14.0),
        rules,
        marks,
        sentence: progress.timeline_sentence(&name),
        rows: progress.rows(&name),
    }
}

/// A session, a lapse (as long as it lasted) or a milestone on its lane.
fn timeline_mark(m: &progress::Mark, scale: &Scale, name: &impl Fn(PartnerSlot) -> String) -> SvgMark {
    let x = |day: Date, start: bool| LEFT + scale.x(day, start);
    let title = format!("{}: {}", crate::display::day(m.on), progress::mark_words(&m.what, name));
    match &m.what {
        Happening::Session { booked, .. } => SvgMark {
            class: if *booked { "mark session booked" } else { "mark session" },
            shape: Shape::Circle(n(x(m.on, false)), n(SESSIONS_Y), "4".into(), *booked),
            fill: "#1f5f8b",
            title,
        },
        Happening::Lapse { relapse, days, .. } => {
            let from = x(m.on, true);
            let to = x(m.on + time::Duration::days(i64::from(*days) - 1), true) + scale.month_width / 30.0;
            SvgMark {
                class: "mark lapse",
                shape: Shape::Rect(n(from), n(LAPSES_Y - 6.0), n((to - from).max(3.0)), "12".into()),
                fill: if *relapse { "#7a1010" } else { "#c0392b" },
                title,
            }
        }
        Happening::Milestone { .. } => SvgMark { class: "mark milestone", shape: diamond(x(m.on, false), MILESTONES_Y, 6.0), fill: "#1a7f37", title },
    }
}

// ---- boundaries kept and tested -------------------------------------------------------------

/// A boundary's row: its name and its track.
pub struct Track {
    pub label: Label,
    pub line_y: String,
    pub title: String,
}

/// Each boundary's times kept (circles) and tested (triangles) across the
/// months in care; a sentence per boundary says the same.
#[derive(Template)]
#[template(path = "boundaries_svg.html")]
pub struct BoundaryPicture {
    pub height: String,
    pub bands: Vec<Band>,
    pub tracks: Vec<Track>,
    pub axis_y: String,
    pub labels: Vec<Label>,
    pub marks: Vec<SvgMark>,
    pub sentences: Vec<String>,
    /// Nothing was ever kept or tested.
    pub no_events: bool,
}

const ROW: f32 = 36.0;
/// Characters of a row's name that fit across the picture (the whole
/// statement is in the row's title and the sentences).
const LABEL_CHARS: usize = 72;

/// The picture, or none when the reader sees no boundary.
pub fn boundaries(progress: &Progress, names: &PartnerNames) -> Option<BoundaryPicture> {
    if progress.boundaries.is_empty() {
        return None;
    }
    let scale = progress.scale(RIGHT - LEFT);
    let bottom = progress.boundaries.len() as f32 * ROW + 4.0;
    let mut tracks = Vec::new();
    let mut marks = Vec::new();
    for (i, b) in progress.boundaries.iter().enumerate() {
        let top = i as f32 * ROW;
        let line_y = top + 26.0;
        tracks.push(Track {
            label: Label { x: n(LEFT + 2.0), y: n(top + 13.0), text: boundary_label(b, names), bold: false },
            line_y: n(line_y),
            title: b.sentence(),
        });
        marks.extend(b.events.iter().map(|&(on, kind)| boundary_mark(b, on, kind, LEFT + scale.x(on, false), line_y)));
    }
    Some(BoundaryPicture {
        height: n(bottom + 32.0),
        bands: bands(&scale, 0.0, bottom),
        axis_y: n(bottom),
        labels: labels(&scale, bottom + 14.0),
        no_events: marks.is_empty(),
        tracks,
        marks,
        sentences: progress.boundary_sentences(),
    })
}

/// The boundary, its holder and its words, cut to the width of a row.
fn boundary_label(b: &progress::BoundaryTrack, names: &PartnerNames) -> String {
    let holder = match b.holder {
        Holder::Both => "both".to_owned(),
        Holder::PartnerA => names.of(PartnerSlot::A).to_owned(),
        Holder::PartnerB => names.of(PartnerSlot::B).to_owned(),
    };
    let whole = format!("{} ({holder}): {}", b.category_words(), b.statement);
    let mut label: String = whole.chars().take(LABEL_CHARS).collect();
    if whole.chars().count() > LABEL_CHARS {
        label.push('…');
    }
    label
}

/// A day the boundary was kept (a green dot) or tested (an amber triangle).
fn boundary_mark(b: &progress::BoundaryTrack, on: Date, kind: BoundaryEventKind, cx: f32, line_y: f32) -> SvgMark {
    let kept = kind == BoundaryEventKind::Kept;
    let title = format!("{}: {} {}", crate::display::day(on), if kept { "kept" } else { "tested" }, b.statement);
    if kept {
        SvgMark { class: "mark kept", shape: Shape::Circle(n(cx), n(line_y), "5".into(), false), fill: "#1a7f37", title }
    } else {
        SvgMark { class: "mark tested", shape: triangle(cx, line_y, 6.0), fill: "#b25e09", title }
    }
}

#[cfg(test)]
mod tests;
