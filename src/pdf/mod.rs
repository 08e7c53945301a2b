//! PDF rendering of already-authorized, plain-language documents (session-prep
//! summaries and the like): A4 pages with a header, a footer carrying
//! "Page X of Y", the made-for line and a confidentiality notice, and a body of
//! headings, paragraphs, bullet lists and key/value tables.
//!
//! Text is set in DejaVu Sans (regular and bold, embedded and subset to the glyphs
//! used). Characters the font lacks are drawn as U+FFFD. Output is deterministic:
//! the same [`Document`] always gives the same bytes.

mod fonts;
mod kept;
mod layout;
mod sfnt;

use std::collections::BTreeSet;

use printpdf::{
    BuiltinFont, Color, FontId, Line as PdfLine, LinePoint, Mm, Op, PaintMode, PdfDocument, PdfFont,
    PdfFontHandle, PdfPage, PdfSaveOptions, Point, Polygon, PolygonRing, Pt, Rgb as PdfRgb, TextItem,
    TextMatrix, WindingOrder,
};

pub use kept::Renderings;

use fonts::{Faces, Fnv, Style};
use layout::{Layout, Run};

/// A document to render: already authorized, already in plain words.
pub struct Document {
    /// e.g. "Session-prep summary"
    pub title: String,
    /// Practice name, shown in the header.
    pub practice: String,
    /// e.g. "Prepared for Casey Morgan (counselor)"
    pub made_for: String,
    /// Already formatted, e.g. "2026-11-23 10:15 CST"
    pub generated_at: String,
    /// Confidentiality notice, shown in the footer of every page (may wrap to 2-3 lines).
    pub notice: String,
    pub blocks: Vec<Block>,
}

pub enum Block {
    /// Section heading (bold, larger); kept with at least the first two lines of what
    /// follows, so it never ends a page.
    Heading(String),
    /// Bold, body size; also kept with what follows.
    SubHeading(String),
    /// Wrapped body text; '\n' is a line break.
    Paragraph(String),
    /// Each item wrapped with a hanging indent.
    Bullets(Vec<String>),
    /// Two columns: bold key, wrapped value.
    KeyValues(Vec<(String, String)>),
    /// A picture of vector shapes across the text width, kept on one page
    /// with the first line after it (its text alternative).
    Figure(Figure),
    Spacer,
}

/// A colour: red, green, blue from 0 to 1.
pub type Rgb = (f32, f32, f32);

/// Width of a figure: the text column.
pub const FIGURE_WIDTH: f32 = layout::CONTENT_W;

/// A picture of `height` points; shapes in points from its top-left
/// corner, y growing downwards.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    pub height: f32,
    pub shapes: Vec<Shape>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    /// A filled rectangle.
    Rect { x: f32, y: f32, w: f32, h: f32, fill: Rgb },
    /// A filled polygon (a diamond, a triangle, a dot).
    Polygon { points: Vec<(f32, f32)>, fill: Rgb },
    /// A straight line.
    Line { from: (f32, f32), to: (f32, f32), width: f32, color: Rgb },
    /// A word or two in the regular face, `y` its baseline.
    Text { x: f32, y: f32, size: f32, text: String, color: Rgb },
}

/// Resource names of the embedded fonts (must not clash with the built-in "F1".."F14").
const REGULAR_ID: &str = "DVS";
const BOLD_ID: &str = "DVSB";

/// Renders `doc` as a PDF. Never panics on any input and never returns an empty
/// document: there is always at least one page with header and footer.
pub fn render(doc: &Document) -> Vec<u8> {
    render_with(doc, fonts::faces())
}

/// Renders `doc` on the blocking pool, so a long document never stalls the
/// async workers (what both front ends answer a PDF request with).
pub async fn render_off_runtime(doc: Document) -> Result<Vec<u8>, crate::error::AppError> {
    tokio::task::spawn_blocking(move || render(&doc))
        .await
        .map_err(|e| anyhow::anyhow!("rendering a PDF: {e}").into())
}

fn render_with(doc: &Document, faces: &Faces) -> Vec<u8> {
    let layout = layout::layout(doc, faces);
    let pages = draw(&layout, faces);

    let mut pdf = PdfDocument::new(&doc.title);
    pdf.metadata.info.producer = "Tandem".to_string();
    pdf.metadata.info.creator = "Tandem".to_string();
    for (style, id) in [(Style::Regular, REGULAR_ID), (Style::Bold, BOLD_ID)] {
        let face = faces.get(style);
        let used = used_chars(&layout, faces, style);
        if used.is_empty() {
            continue;
        }
        if let Some(font) = face.subset_for(&used) {
            pdf.resources
                .fonts
                .map
                .insert(FontId(id.to_string()), PdfFont::new(font));
        }
    }
    pdf.with_pages(pages);

    let opts = PdfSaveOptions {
        optimize: true,
        subset_fonts: false, // we subset ourselves (see fonts.rs)
        secure: true,
        image_optimization: None,
    };
    let mut lo = pdf.to_lopdf_document(&opts, &mut Vec::new());
    // printpdf puts random strings into the trailer /ID; derive them from the input.
    let id = document_id(doc);
    if let Ok(arr) = lo.trailer.get_mut(b"ID").and_then(|o| o.as_array_mut()) {
        for (i, item) in arr.iter_mut().enumerate() {
            if let Ok(s) = item.as_str_mut() {
                *s = id[i % 2].clone().into_bytes();
            }
        }
    }
    lo.compress();
    let mut out = Vec::new();
    // Object and cross-reference streams (PDF 1.5) compress the dictionaries too.
    if lo.save_modern(&mut out).is_err() || out.is_empty() {
        out = pdf.save(&opts, &mut Vec::new());
    }
    out
}

/// Two 32-hex-digit strings derived from the document content.
fn document_id(doc: &Document) -> [String; 2] {
    let mut parts: Vec<&str> = vec![
        &doc.title,
        &doc.practice,
        &doc.made_for,
        &doc.generated_at,
        &doc.notice,
    ];
    for block in &doc.blocks {
        match block {
            Block::Heading(s) => parts.extend(["H", s.as_str()]),
            Block::SubHeading(s) => parts.extend(["S", s.as_str()]),
            Block::Paragraph(s) => parts.extend(["P", s.as_str()]),
            Block::Bullets(items) => {
                parts.push("B");
                parts.extend(items.iter().map(String::as_str));
            }
            Block::KeyValues(pairs) => {
                parts.push("K");
                for (k, v) in pairs {
                    parts.extend([k.as_str(), v.as_str()]);
                }
            }
            Block::Figure(figure) => {
                parts.push("F");
                parts.extend(figure.shapes.iter().filter_map(|s| match s {
                    Shape::Text { text, .. } => Some(text.as_str()),
                    _ => None,
                }));
            }
            Block::Spacer => parts.push("_"),
        }
    }
    let hex = |seed: u64| {
        let mut a = Fnv::new(seed);
        let mut b = Fnv::new(seed + 1);
        for p in &parts {
            a.write(p.as_bytes());
            a.write(&[0]);
            b.write(p.as_bytes());
            b.write(&[0]);
        }
        format!("{:016x}{:016x}", a.finish(), b.finish())
    };
    [hex(1), hex(3)]
}

/// Every character drawn in `style`, on any page.
fn used_chars(layout: &Layout, faces: &Faces, style: Style) -> BTreeSet<char> {
    let mut used = BTreeSet::new();
    let mut add = |run: &Run| {
        if run.style == style {
            used.extend(run.text.chars());
        }
    };
    for (_, run) in &layout.chrome.runs {
        add(run);
    }
    for page in &layout.pages {
        for placed in page {
            for run in &placed.line.runs {
                add(run);
            }
        }
    }
    for i in 0..layout.pages.len() {
        add(&layout.page_number_run(faces, i));
    }
    // Figures label in the regular face.
    if style == Style::Regular {
        for shape in layout.pages.iter().flatten().flat_map(|placed| &placed.line.shapes) {
            if let Shape::Text { text, .. } = shape {
                used.extend(text.chars());
            }
        }
    }
    used
}

/// Tracks text state so that font and colour operators are only emitted on change.
struct Pen<'a> {
    faces: &'a Faces,
    ops: Vec<Op>,
    font: Option<(Style, f32)>,
    color: Option<Rgb>,
}

impl Pen<'_> {
    fn text(&mut self, baseline: f32, run: &Run) {
        if run.text.is_empty() {
            return;
        }
        if self.font != Some((run.style, run.size)) {
            self.font = Some((run.style, run.size));
            let face = self.faces.get(run.style);
            let font = match (face.is_embedded(), run.style) {
                (true, Style::Regular) => PdfFontHandle::External(FontId(REGULAR_ID.into())),
                (true, Style::Bold) => PdfFontHandle::External(FontId(BOLD_ID.into())),
                (false, Style::Regular) => PdfFontHandle::Builtin(BuiltinFont::Helvetica),
                (false, Style::Bold) => PdfFontHandle::Builtin(BuiltinFont::HelveticaBold),
            };
            self.ops.push(Op::SetFont {
                font,
                size: Pt(run.size),
            });
        }
        if self.color != Some(run.color) {
            self.color = Some(run.color);
            self.ops.push(Op::SetFillColor {
                col: rgb(run.color),
            });
        }
        self.ops.push(Op::SetTextMatrix {
            matrix: TextMatrix::Translate(Pt(run.x), Pt(baseline)),
        });
        self.ops.push(Op::ShowText {
            items: vec![TextItem::Text(run.text.clone())],
        });
    }
}

fn rgb((r, g, b): Rgb) -> Color {
    Color::Rgb(PdfRgb::new(r, g, b, None))
}

fn rule(y: f32) -> Op {
    let point = |x: f32| LinePoint {
        p: Point { x: Pt(x), y: Pt(y) },
        bezier: false,
    };
    Op::DrawLine {
        line: PdfLine {
            points: vec![point(layout::LEFT), point(layout::RIGHT)],
            is_closed: false,
        },
    }
}

fn point((x, y): (f32, f32)) -> LinePoint {
    LinePoint { p: Point { x: Pt(x), y: Pt(y) }, bezier: false }
}

/// The vector shapes of the figures on a page (drawn before any text: a
/// path may not sit inside a text object), at page coordinates.
fn figure_ops(page: &[layout::Placed]) -> Vec<Op> {
    let mut ops = Vec::new();
    for placed in page {
        let at = |(x, y): (f32, f32)| (layout::round(layout::LEFT + x), layout::round(placed.top - y));
        for shape in &placed.line.shapes {
            match shape {
                Shape::Rect { x, y, w, h, fill } => {
                    ops.push(Op::SetFillColor { col: rgb(*fill) });
                    let corners = [(*x, *y), (x + w, *y), (x + w, y + h), (*x, y + h)];
                    ops.push(polygon(corners.into_iter().map(at)));
                }
                Shape::Polygon { points, fill } => {
                    ops.push(Op::SetFillColor { col: rgb(*fill) });
                    ops.push(polygon(points.iter().copied().map(at)));
                }
                Shape::Line { from, to, width, color } => {
                    ops.push(Op::SetOutlineColor { col: rgb(*color) });
                    ops.push(Op::SetOutlineThickness { pt: Pt(*width) });
                    ops.push(Op::DrawLine { line: PdfLine { points: vec![point(at(*from)), point(at(*to))], is_closed: false } });
                }
                Shape::Text { .. } => {}
            }
        }
    }
    ops
}

fn polygon(points: impl Iterator<Item = (f32, f32)>) -> Op {
    Op::DrawPolygon {
        polygon: Polygon {
            rings: vec![PolygonRing { points: points.map(point).collect() }],
            mode: PaintMode::Fill,
            winding_order: WindingOrder::NonZero,
        },
    }
}

/// Second pass: draws the laid-out pages, now that the page count is known.
fn draw(layout: &Layout, faces: &Faces) -> Vec<PdfPage> {
    let mut pages = Vec::with_capacity(layout.pages.len());
    for (index, page) in layout.pages.iter().enumerate() {
        let mut ops = vec![
            Op::SetOutlineColor {
                col: rgb((0.75, 0.77, 0.8)),
            },
            Op::SetOutlineThickness { pt: Pt(0.5) },
            rule(layout::HEADER_RULE_Y),
            rule(layout.chrome.footer_rule_y),
        ];
        ops.extend(figure_ops(page));
        ops.push(Op::StartTextSection);
        let mut pen = Pen {
            faces,
            ops: std::mem::take(&mut ops),
            font: None,
            color: None,
        };
        for (baseline, run) in &layout.chrome.runs {
            pen.text(*baseline, run);
        }
        pen.text(
            layout.chrome.page_no_baseline,
            &layout.page_number_run(faces, index),
        );
        for placed in page {
            for run in &placed.line.runs {
                pen.text(placed.baseline, run);
            }
            for shape in &placed.line.shapes {
                if let Shape::Text { x, y, size, text, color } = shape {
                    let run = Run { style: Style::Regular, size: *size, color: *color, x: layout::round(layout::LEFT + x), text: text.clone() };
                    pen.text(layout::round(placed.top - y), &run);
                }
            }
        }
        let mut ops = pen.ops;
        ops.push(Op::EndTextSection);
        pages.push(PdfPage::new(Mm(210.0), Mm(297.0), ops));
    }
    pages
}

#[cfg(test)]
mod tests;
pub mod pictures;
pub mod reports;
