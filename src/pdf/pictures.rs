//! The pictures of progress as vector shapes for the PDFs: the check-in
//! heat map, the timeline of the months in care, and the boundaries kept
//! and tested over time. Each comes as blocks: the figure, then its text
//! alternative as a paragraph (the same sentence the pages give), so a
//! reader of the text alone (pdftotext, a screen reader) gets the facts.
//! Pure: the same facts give the same shapes.

use time::{Date, Duration};

use super::{Block, FIGURE_WIDTH, Figure, Rgb, Shape};
use crate::records::{
    boundaries::BoundaryEventKind,
    common::PartnerSlot,
    progress::{Happening, Progress, Scale},
    session_prep::{CheckinDays, DayMark},
};

const INK: Rgb = (0.11, 0.11, 0.13);
const MUTED: Rgb = (0.29, 0.33, 0.40);
const SHADE: Rgb = (0.93, 0.95, 0.97);
const TRACK: Rgb = (0.79, 0.82, 0.86);
const ACCENT: Rgb = (0.12, 0.37, 0.55);
const LAPSE: Rgb = (0.75, 0.22, 0.17);
const RELAPSE: Rgb = (0.48, 0.06, 0.06);
const GREEN: Rgb = (0.10, 0.50, 0.22);
const AMBER: Rgb = (0.70, 0.37, 0.04);
const LABEL: f32 = 7.5;

/// A number rounded to 1/100 point: the same input, the same bytes.
fn r(v: f32) -> f32 {
    (v * 100.0).round() / 100.0
}

fn text(x: f32, y: f32, words: impl Into<String>, color: Rgb) -> Shape {
    Shape::Text { x: r(x), y: r(y), size: LABEL, text: words.into(), color }
}

fn rect(x: f32, y: f32, w: f32, h: f32, fill: Rgb) -> Shape {
    Shape::Rect { x: r(x), y: r(y), w: r(w), h: r(h), fill }
}

fn line(from: (f32, f32), to: (f32, f32), width: f32, color: Rgb) -> Shape {
    Shape::Line { from: (r(from.0), r(from.1)), to: (r(to.0), r(to.1)), width, color }
}

fn polygon(points: &[(f32, f32)], fill: Rgb) -> Shape {
    Shape::Polygon { points: points.iter().map(|(x, y)| (r(*x), r(*y))).collect(), fill }
}

/// A dot: an octagon, near enough a circle at this size (corners from a
/// table, not from sin and cos: the same bytes on every machine).
fn dot(cx: f32, cy: f32, radius: f32, fill: Rgb) -> Shape {
    const CORNERS: [(f32, f32); 8] = [
        (0.9239, 0.3827),
        (0.3827, 0.9239),
        (-0.3827, 0.9239),
        (-0.9239, 0.3827),
        (-0.9239, -0.3827),
        (-0.3827, -0.9239),
        (0.3827, -0.9239),
        (0.9239, -0.3827),
    ];
    let points: Vec<(f32, f32)> = CORNERS.iter().map(|(x, y)| (cx + radius * x, cy + radius * y)).collect();
    polygon(&points, fill)
}

fn diamond(cx: f32, cy: f32, radius: f32, fill: Rgb) -> Shape {
    polygon(&[(cx, cy - radius), (cx + radius, cy), (cx, cy + radius), (cx - radius, cy)], fill)
}

fn triangle(cx: f32, cy: f32, radius: f32, fill: Rgb) -> Shape {
    polygon(&[(cx, cy - radius), (cx + radius, cy + radius * 0.8), (cx - radius, cy + radius * 0.8)], fill)
}

// ---- the check-in heat map -----------------------------------------------------------

/// A partner's last 90 days as a strip of cells: dark for the trust
/// discussion, light for a check-in without it, grey for none.
pub fn heatmap(days: &CheckinDays, who: &str) -> Vec<Block> {
    let cell = FIGURE_WIDTH / days.days.len().max(1) as f32;
    let mut shapes = Vec::new();
    for (i, mark) in days.days.iter().enumerate() {
        let fill = match mark {
            DayMark::TrustDiscussion => GREEN,
            DayMark::CheckedIn => (0.61, 0.91, 0.66),
            DayMark::Missed => (0.82, 0.84, 0.87),
        };
        shapes.push(rect(i as f32 * cell, 0.0, (cell - 0.6).max(0.5), 14.0, fill));
    }
    vec![Block::Figure(Figure { height: 16.0, shapes }), Block::Paragraph(days.sentence(who))]
}

// ---- the months on the x axis -----------------------------------------------------------

/// Shaded months behind the marks, the axis line, month names and years.
fn draw_axis(scale: &Scale, shapes: &mut Vec<Shape>, bottom: f32) {
    for i in (0..scale.months.len()).step_by(2) {
        shapes.push(rect(i as f32 * scale.month_width, 0.0, scale.month_width, bottom, SHADE));
    }
    shapes.push(line((0.0, bottom), (FIGURE_WIDTH, bottom), 0.6, MUTED));
    for name in scale.names(20.0, 24.0) {
        shapes.extend(name.month.map(|m| text(name.x + 1.5, bottom + 9.0, m, INK)));
        shapes.extend(name.year.map(|y| text(name.x + 1.5, bottom + 18.0, y, MUTED)));
    }
}

/// A vertical rule at `day`, dashed or whole.
fn rule(scale: &Scale, shapes: &mut Vec<Shape>, day: Date, bottom: f32, dashed: bool, color: Rgb) {
    let x = scale.x(day, false);
    if !dashed {
        shapes.push(line((x, 0.0), (x, bottom), 1.0, color));
        return;
    }
    let mut y = 0.0;
    while y < bottom {
        shapes.push(line((x, y), (x, (y + 2.5).min(bottom)), 1.0, color));
        y += 5.0;
    }
}

// ---- the months in care -----------------------------------------------------------

const SESSIONS_Y: f32 = 17.0;
const LAPSES_Y: f32 = 41.0;
const MILESTONES_Y: f32 = 65.0;
const TIMELINE_AXIS: f32 = 76.0;

/// The timeline: sessions (dots, hollow when booked), lapses (bars as long
/// as they lasted, darker for a relapse) and milestones (diamonds), the
/// start of care and today marked; then the sentence that says it.
pub fn timeline(progress: &Progress, name: &dyn Fn(PartnerSlot) -> String) -> Vec<Block> {
    let scale = progress.scale(FIGURE_WIDTH);
    let mut shapes = Vec::new();
    draw_axis(&scale, &mut shapes, TIMELINE_AXIS);
    for (y, lane) in [(SESSIONS_Y - 8.0, "Sessions"), (LAPSES_Y - 8.0, "Lapses"), (MILESTONES_Y - 8.0, "Milestones")] {
        shapes.push(text(1.5, y, lane, MUTED));
    }
    rule(&scale, &mut shapes, progress.care_started_on, TIMELINE_AXIS, false, ACCENT);
    rule(&scale, &mut shapes, progress.today, TIMELINE_AXIS, true, INK);
    for m in &progress.marks {
        match &m.what {
            Happening::Session { booked, .. } => {
                let x = scale.x(m.on, false);
                shapes.push(dot(x, SESSIONS_Y, 3.0, ACCENT));
                if *booked {
                    shapes.push(dot(x, SESSIONS_Y, 1.8, (1.0, 1.0, 1.0)));
                }
            }
            Happening::Lapse { relapse, days, .. } => {
                let from = scale.x(m.on, true);
                let to = scale.x(m.on + Duration::days(i64::from(*days) - 1), true) + scale.month_width / 30.0;
                shapes.push(rect(from, LAPSES_Y - 4.5, (to - from).max(2.0), 9.0, if *relapse { RELAPSE } else { LAPSE }));
            }
            Happening::Milestone { .. } => shapes.push(diamond(scale.x(m.on, false), MILESTONES_Y, 4.5, GREEN)),
        }
    }
    vec![Block::Figure(Figure { height: TIMELINE_AXIS + 22.0, shapes }), Block::Paragraph(progress.timeline_sentence(name))]
}

// ---- boundaries kept and tested ---------------------------------------------------------

const ROW: f32 = 24.0;
/// Rows on one figure; more boundaries continue on another.
const ROWS_PER_FIGURE: usize = 14;
const STATEMENT_CHARS: usize = 90;

/// Each boundary's row: its words, then dots where it was kept and
/// triangles where it was tested; then a sentence per boundary. Nothing
/// when the reader sees no boundary.
pub fn boundaries(progress: &Progress) -> Vec<Block> {
    let scale = progress.scale(FIGURE_WIDTH);
    let mut blocks = Vec::new();
    for chunk in progress.boundaries.chunks(ROWS_PER_FIGURE) {
        let bottom = chunk.len() as f32 * ROW + 2.0;
        let mut shapes = Vec::new();
        draw_axis(&scale, &mut shapes, bottom);
        for (i, b) in chunk.iter().enumerate() {
            let top = i as f32 * ROW;
            let track = top + 17.0;
            let mut words: String = b.statement.chars().take(STATEMENT_CHARS).collect();
            if b.statement.chars().count() > STATEMENT_CHARS {
                words.push('…');
            }
            shapes.push(text(1.5, top + 8.5, format!("{}: {words}", b.category_words()), INK));
            shapes.push(line((0.0, track), (FIGURE_WIDTH, track), 1.2, TRACK));
            for (on, kind) in &b.events {
                let x = scale.x(*on, false);
                shapes.push(match kind {
                    BoundaryEventKind::Kept => dot(x, track, 3.5, GREEN),
                    BoundaryEventKind::Tested => triangle(x, track, 4.0, AMBER),
                });
            }
        }
        blocks.push(Block::Figure(Figure { height: bottom + 22.0, shapes }));
    }
    if !blocks.is_empty() {
        blocks.push(Block::Paragraph("Dots: kept; triangles: tested.".into()));
        blocks.push(Block::Bullets(progress.boundary_sentences()));
    }
    blocks
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;
    use crate::records::progress::{Mark, month_of};

    fn progress(marks: Vec<Mark>) -> Progress {
        let (started, today) = (date!(2026 - 03 - 02), date!(2026 - 12 - 06));
        Progress { care_started_on: started, today, first_month: month_of(started), last_month: month_of(today), marks, boundaries: Vec::new() }
    }

    fn name(_: PartnerSlot) -> String {
        "Dan".into()
    }

    fn figure(blocks: &[Block]) -> &Figure {
        match &blocks[0] {
            Block::Figure(f) => f,
            _ => panic!("a figure first"),
        }
    }

    #[test]
    fn a_lapse_is_a_bar_in_its_month_followed_by_the_sentence() {
        let lapse = Happening::Lapse { partner: PartnerSlot::A, relapse: false, days: 3, substance: "alcohol".into() };
        let blocks = timeline(&progress(vec![Mark { on: date!(2026 - 05 - 10), what: lapse }]), &name);
        let month_w = FIGURE_WIDTH / 10.0;
        let bars: Vec<&Shape> = figure(&blocks).shapes.iter().filter(|s| matches!(s, Shape::Rect { fill, .. } if *fill == LAPSE)).collect();
        assert_eq!(bars.len(), 1);
        let Shape::Rect { x, w, .. } = bars[0] else { unreachable!() };
        assert!(*x > 2.0 * month_w && *x < 3.0 * month_w, "{x} is in May");
        assert!((*w - 3.0 * month_w / 31.0).abs() < 0.5, "three days wide: {w}");
        let Block::Paragraph(sentence) = &blocks[1] else { panic!("the sentence follows the figure") };
        assert!(sentence.contains("Dan on Sunday 10 May 2026 (lapse, 3 days)"), "{sentence}");
    }

    #[test]
    fn an_empty_history_is_an_axis_and_a_sentence_saying_so() {
        let blocks = timeline(&progress(Vec::new()), &name);
        let shapes = &figure(&blocks).shapes;
        assert!(shapes.iter().any(|s| matches!(s, Shape::Line { from, .. } if *from == (0.0, TIMELINE_AXIS))), "the axis");
        assert!(!shapes.iter().any(|s| matches!(s, Shape::Polygon { .. })), "no marks");
        assert!(shapes.iter().any(|s| matches!(s, Shape::Text { text, .. } if text == "Mar")));
        let Block::Paragraph(sentence) = &blocks[1] else { panic!() };
        assert!(sentence.contains("Nothing is recorded on the timeline yet"), "{sentence}");
        assert_eq!(figure(&timeline(&progress(Vec::new()), &name)), figure(&blocks), "the same facts, the same shapes");
    }

    #[test]
    fn boundaries_come_in_figures_of_at_most_fourteen_rows() {
        use crate::records::{boundaries::{BoundaryCategory, Holder}, progress::BoundaryTrack};
        let mut p = progress(Vec::new());
        assert!(boundaries(&p).is_empty());
        let track = |i: usize| BoundaryTrack {
            id: uuid::Uuid::from_u128(i as u128),
            statement: format!("Boundary {i}"),
            category: BoundaryCategory::Money,
            holder: Holder::Both,
            retired: false,
            events: vec![(date!(2026 - 04 - 02), BoundaryEventKind::Kept), (date!(2026 - 05 - 02), BoundaryEventKind::Tested)],
        };
        p.boundaries = (0..20).map(track).collect();
        let blocks = boundaries(&p);
        let figures = blocks.iter().filter(|b| matches!(b, Block::Figure(_))).count();
        assert_eq!(figures, 2);
        let Some(Block::Bullets(sentences)) = blocks.last() else { panic!() };
        assert_eq!(sentences.len(), 20);
        assert_eq!(sentences[0], "Boundary 0: kept once (Thursday 2 April 2026); tested once (Saturday 2 May 2026).");
    }
}
