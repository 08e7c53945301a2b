//! Turns a [`Document`] into positioned lines on A4 pages. Pure computation: no PDF
//! objects here, so the result can be inspected by tests.

use super::fonts::{Face, Faces, Style};
use super::{Block, Document, Shape};

// All lengths are PDF points (1/72 in); y grows upwards from the page's bottom edge.
const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN_X: f32 = 56.0;
pub(crate) const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN_X;
pub(crate) const LEFT: f32 = MARGIN_X;
pub(crate) const RIGHT: f32 = PAGE_W - MARGIN_X;

const HEADER_BASELINE: f32 = PAGE_H - 38.0;
pub(crate) const HEADER_RULE_Y: f32 = PAGE_H - 45.0;
const BODY_TOP: f32 = PAGE_H - 60.0;
const FOOTER_BOTTOM: f32 = 30.0;

const BODY_SIZE: f32 = 10.0;
const BODY_LEADING: f32 = 14.0;
const HEADING_SIZE: f32 = 13.0;
const HEADING_LEADING: f32 = 17.0;
const TITLE_SIZE: f32 = 17.0;
const TITLE_LEADING: f32 = 22.0;
const META_SIZE: f32 = 9.0;
const META_LEADING: f32 = 12.0;
const HEADER_SIZE: f32 = 8.5;
const FOOTER_SIZE: f32 = 8.0;
const FOOTER_LEADING: f32 = 10.0;
const NOTICE_SIZE: f32 = 7.0;
const NOTICE_LEADING: f32 = 8.8;
/// Longer footer texts are cut (with an ellipsis) so the footer never eats the page.
const MAX_META_LINES: usize = 2;
const MAX_NOTICE_LINES: usize = 16;

const BULLET_INDENT: f32 = 4.0;
const BULLET_TEXT_INDENT: f32 = 16.0;
const KV_GAP: f32 = 10.0;
/// DejaVu's ascender (hhea) in em; used to put the baseline inside a line box.
const ASCENT: f32 = 0.93;
/// Tolerance for comparing widths and heights.
const EPS: f32 = 0.01;

pub(crate) use super::Rgb;
const INK: Rgb = (0.11, 0.11, 0.13);
const ACCENT: Rgb = (0.09, 0.27, 0.38);
const MUTED: Rgb = (0.36, 0.38, 0.42);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LineKind {
    Title,
    Meta,
    Heading,
    SubHeading,
    Body,
    Bullet,
    KeyValue,
    Figure,
    Blank,
}

/// A piece of text on one line, in one font, size and colour.
#[derive(Clone, Debug)]
pub(crate) struct Run {
    pub(crate) style: Style,
    pub(crate) size: f32,
    pub(crate) color: Rgb,
    /// Absolute x of the text start.
    pub(crate) x: f32,
    pub(crate) text: String,
}

/// One line of the body flow, before pagination.
#[derive(Clone, Debug)]
pub(crate) struct Line {
    pub(crate) kind: LineKind,
    pub(crate) space_before: f32,
    pub(crate) height: f32,
    /// Font size that decides where the baseline sits in the line box.
    pub(crate) size: f32,
    pub(crate) runs: Vec<Run>,
    /// Never break the page between this line and the next one.
    pub(crate) keep_with_next: bool,
    /// A figure's shapes (a figure is one tall line), text already cleaned.
    pub(crate) shapes: Vec<Shape>,
}

/// A line with its baseline on a page.
#[derive(Clone, Debug)]
pub(crate) struct Placed {
    pub(crate) line: Line,
    pub(crate) baseline: f32,
    /// The top of the line's box (where a figure's shapes start).
    pub(crate) top: f32,
}

/// Header and footer, identical on every page except the page number.
#[derive(Clone, Debug)]
pub(crate) struct Chrome {
    /// Header and footer text as (baseline, run), without the page number.
    pub(crate) runs: Vec<(f32, Run)>,
    pub(crate) footer_rule_y: f32,
    /// Baseline of the right-aligned "Page X of Y".
    pub(crate) page_no_baseline: f32,
    /// Lowest y the body may reach.
    pub(crate) body_bottom: f32,
}

pub(crate) struct Layout {
    pub(crate) pages: Vec<Vec<Placed>>,
    pub(crate) chrome: Chrome,
}

impl Layout {
    /// "Page X of Y", right-aligned on the footer's first line.
    pub(crate) fn page_number_run(&self, faces: &Faces, page: usize) -> Run {
        let text = format!("Page {} of {}", page + 1, self.pages.len());
        let w = faces.regular.width(&text, FOOTER_SIZE);
        Run {
            style: Style::Regular,
            size: FOOTER_SIZE,
            color: MUTED,
            x: round(RIGHT - w),
            text,
        }
    }
}

/// Positions are rounded to 1/100 pt: shorter content streams, stable output.
pub(crate) fn round(v: f32) -> f32 {
    (v * 100.0).round() / 100.0
}

/// Wraps one paragraph line (no '\n') of cleaned text to `max_w` points: breaks on
/// spaces, and breaks a word that is longer than a whole line between characters.
/// Always returns at least one (possibly empty) line.
pub(crate) fn wrap(face: &Face, size: f32, text: &str, max_w: f32) -> Vec<String> {
    let max_w = max_w.max(size);
    let space_w = face.char_width(' ', size);
    let mut lines = Vec::new();
    let mut cur = String::new();
    let mut cur_w = 0.0f32;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let w = face.width(word, size);
        if !cur.is_empty() {
            if cur_w + space_w + w <= max_w + EPS {
                cur.push(' ');
                cur.push_str(word);
                cur_w += space_w + w;
                continue;
            }
            lines.push(std::mem::take(&mut cur));
            cur_w = 0.0;
        }
        if w <= max_w + EPS {
            cur.push_str(word);
            cur_w = w;
        } else {
            // A word wider than the line: cut it between characters.
            for c in word.chars() {
                let cw = face.char_width(c, size);
                if !cur.is_empty() && cur_w + cw > max_w + EPS {
                    lines.push(std::mem::take(&mut cur));
                    cur_w = 0.0;
                }
                cur.push(c);
                cur_w += cw;
            }
        }
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

/// Cuts `text` to fit `max_w`, ending it with an ellipsis if anything was cut.
fn fit(face: &Face, size: f32, text: &str, max_w: f32) -> String {
    if face.width(text, size) <= max_w + EPS {
        return text.to_string();
    }
    let ell = if face.has('…') { '…' } else { '.' };
    let budget = max_w - face.char_width(ell, size);
    let mut out = String::new();
    let mut w = 0.0;
    for c in text.chars() {
        let cw = face.char_width(c, size);
        if w + cw > budget {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.truncate(out.trim_end().len());
    out.push(ell);
    out
}

/// Wraps and caps the number of lines; the last kept line gets an ellipsis if cut.
fn wrap_capped(face: &Face, size: f32, text: &str, max_w: f32, cap: usize) -> Vec<String> {
    let mut lines = wrap(face, size, text, max_w);
    if lines.len() > cap {
        lines.truncate(cap);
        if let Some(last) = lines.last_mut() {
            let with_more = format!("{last} …");
            *last = fit(face, size, &with_more, max_w);
        }
    }
    lines
}

fn chrome(doc: &Document, faces: &Faces) -> Chrome {
    let mut runs = Vec::new();

    // Header: practice (bold) on the left, document title on the right. If both do
    // not fit, each gets at least half the width.
    let practice = faces.bold.clean(&doc.practice);
    let title = faces.regular.clean(&doc.title);
    let gap = 12.0;
    let pw = faces.bold.width(&practice, HEADER_SIZE);
    let tw = faces.regular.width(&title, HEADER_SIZE);
    let avail = CONTENT_W - gap;
    let (p_max, t_max) = if pw + tw <= avail {
        (pw, tw)
    } else if pw <= avail / 2.0 {
        (pw, avail - pw)
    } else if tw <= avail / 2.0 {
        (avail - tw, tw)
    } else {
        (avail / 2.0, avail / 2.0)
    };
    let practice = fit(&faces.bold, HEADER_SIZE, &practice, p_max);
    let title = fit(&faces.regular, HEADER_SIZE, &title, t_max);
    let title_w = faces.regular.width(&title, HEADER_SIZE);
    runs.push((
        HEADER_BASELINE,
        Run {
            style: Style::Bold,
            size: HEADER_SIZE,
            color: ACCENT,
            x: LEFT,
            text: practice,
        },
    ));
    runs.push((
        HEADER_BASELINE,
        Run {
            style: Style::Regular,
            size: HEADER_SIZE,
            color: MUTED,
            x: round(RIGHT - title_w),
            text: title,
        },
    ));

    // Footer, bottom-up: notice lines; above them the made-for / generated line(s)
    // with the page number to the right of the first one; above that a rule.
    let notice = faces.regular.clean(&doc.notice);
    let notice_lines = wrap_capped(
        &faces.regular,
        NOTICE_SIZE,
        &notice,
        CONTENT_W,
        MAX_NOTICE_LINES,
    );
    let meta_text = faces.regular.clean(&meta_line(doc));
    let page_no_w = faces.regular.width("Page 9999 of 9999", FOOTER_SIZE) + gap;
    let meta_lines = wrap_capped(
        &faces.regular,
        FOOTER_SIZE,
        &meta_text,
        CONTENT_W - page_no_w,
        MAX_META_LINES,
    );

    let mut y = FOOTER_BOTTOM;
    let mut any_notice = false;
    for text in notice_lines.into_iter().rev().filter(|t| !t.is_empty()) {
        runs.push((
            round(y),
            Run {
                style: Style::Regular,
                size: NOTICE_SIZE,
                color: MUTED,
                x: LEFT,
                text,
            },
        ));
        y += NOTICE_LEADING;
        any_notice = true;
    }
    if any_notice {
        y += 4.0;
    }
    let mut page_no_baseline = y;
    for text in meta_lines.into_iter().rev() {
        page_no_baseline = y;
        y += FOOTER_LEADING;
        if text.is_empty() {
            continue;
        }
        runs.push((
            round(page_no_baseline),
            Run {
                style: Style::Regular,
                size: FOOTER_SIZE,
                color: MUTED,
                x: LEFT,
                text,
            },
        ));
    }
    let footer_rule_y = round(page_no_baseline + FOOTER_SIZE + 4.0);
    Chrome {
        runs,
        footer_rule_y,
        page_no_baseline: round(page_no_baseline),
        body_bottom: footer_rule_y + 12.0,
    }
}

/// "Prepared for … · Generated …" (either part may be empty).
fn meta_line(doc: &Document) -> String {
    let made_for = doc.made_for.trim();
    let generated = doc.generated_at.trim();
    match (made_for.is_empty(), generated.is_empty()) {
        (false, false) => format!("{made_for} · Generated {generated}"),
        (false, true) => made_for.to_string(),
        (true, false) => format!("Generated {generated}"),
        (true, true) => String::new(),
    }
}

/// How one kind of text looks.
#[derive(Clone, Copy)]
struct Spec {
    kind: LineKind,
    style: Style,
    size: f32,
    leading: f32,
    color: Rgb,
}

const HEADING_SPEC: Spec = Spec { kind: LineKind::Heading, style: Style::Bold, size: HEADING_SIZE, leading: HEADING_LEADING, color: ACCENT };
const SUBHEADING_SPEC: Spec = Spec { kind: LineKind::SubHeading, style: Style::Bold, size: BODY_SIZE, leading: BODY_LEADING, color: INK };
const BODY_SPEC: Spec = Spec { kind: LineKind::Body, style: Style::Regular, size: BODY_SIZE, leading: BODY_LEADING, color: INK };

/// Builds the body flow: a flat list of lines with spacing and keep-together marks.
struct Flow<'a> {
    faces: &'a Faces,
    lines: Vec<Line>,
    /// Vertical space requested before the next line (max of the requests).
    pending_space: f32,
    /// Lines still to be kept with the last (sub)heading (two after each heading).
    glue: usize,
}

impl Flow<'_> {
    fn push_block(&mut self, mut lines: Vec<Line>, space_before: f32, heading: bool) {
        if lines.is_empty() {
            return;
        }
        if heading {
            // A content line still carrying glue from an earlier heading (whose
            // section was shorter than two lines) need not stay with this heading;
            // otherwise chains of short sections would grow without bound.
            if self.glue > 0
                && let Some(prev) = self.lines.last_mut()
                && !matches!(prev.kind, LineKind::Heading | LineKind::SubHeading)
            {
                prev.keep_with_next = false;
            }
            for l in &mut lines {
                l.keep_with_next = true;
            }
            self.glue = 2;
        } else if self.glue > 0 {
            // Glue the first lines after a heading to each other (the heading itself
            // already keeps with the first); continue into the next block if this one
            // is too short.
            let take = self.glue.min(lines.len());
            self.glue -= take;
            let upto = if self.glue > 0 { take } else { take - 1 };
            for l in &mut lines[..upto] {
                l.keep_with_next = true;
            }
        }
        lines[0].space_before = self.pending_space.max(space_before);
        self.pending_space = 0.0;
        self.lines.extend(lines);
    }

    /// Wrapped lines of one text in one style, starting at `x` with `width`.
    fn text_lines(&self, spec: &Spec, x: f32, width: f32, text: &str) -> Vec<Line> {
        let Spec {
            kind,
            style,
            size,
            leading,
            color,
        } = *spec;
        let face = self.faces.get(style);
        let mut out = Vec::new();
        for (i, segment) in text.split('\n').enumerate() {
            let clean = face.clean(segment);
            if clean.trim().is_empty() {
                // An empty segment between line breaks is a blank line; a lone empty
                // text draws nothing.
                if i > 0 {
                    out.push(blank(leading));
                }
                continue;
            }
            for piece in wrap(face, size, &clean, width) {
                out.push(Line {
                    kind,
                    space_before: 0.0,
                    height: leading,
                    size,
                    runs: vec![Run {
                        style,
                        size,
                        color,
                        x: round(x),
                        text: piece,
                    }],
                    keep_with_next: false,
                    shapes: Vec::new(),
                });
            }
        }
        // Blank lines at the end of a text carry no information.
        while out.last().is_some_and(|l| l.kind == LineKind::Blank) {
            out.pop();
        }
        out
    }
}

fn blank(height: f32) -> Line {
    Line {
        kind: LineKind::Blank,
        space_before: 0.0,
        height,
        size: BODY_SIZE,
        runs: Vec::new(),
        keep_with_next: false,
        shapes: Vec::new(),
    }
}

fn flow(doc: &Document, faces: &Faces) -> Vec<Line> {
    let mut f = Flow {
        faces,
        lines: Vec::new(),
        pending_space: 0.0,
        glue: 0,
    };

    // Title block on the first page.
    let mut title = f.text_lines(
        &Spec {
            kind: LineKind::Title,
            style: Style::Bold,
            size: TITLE_SIZE,
            leading: TITLE_LEADING,
            color: ACCENT,
        },
        LEFT,
        CONTENT_W,
        &doc.title,
    );
    let meta = f.text_lines(
        &Spec {
            kind: LineKind::Meta,
            style: Style::Regular,
            size: META_SIZE,
            leading: META_LEADING,
            color: MUTED,
        },
        LEFT,
        CONTENT_W,
        &meta_line(doc),
    );
    if !meta.is_empty() {
        for l in &mut title {
            l.keep_with_next = true;
        }
    }
    f.push_block(title, 0.0, false);
    f.push_block(meta, 2.0, false);
    f.pending_space = 10.0;

    for block in &doc.blocks {
        match block {
            Block::Heading(text) => {
                let lines = f.text_lines(
                    &HEADING_SPEC,
                    LEFT,
                    CONTENT_W,
                    text,
                );
                f.push_block(lines, 14.0, true);
            }
            Block::SubHeading(text) => {
                let lines = f.text_lines(
                    &SUBHEADING_SPEC,
                    LEFT,
                    CONTENT_W,
                    text,
                );
                f.push_block(lines, 8.0, true);
            }
            Block::Paragraph(text) => {
                let lines = f.text_lines(
                    &BODY_SPEC,
                    LEFT,
                    CONTENT_W,
                    text,
                );
                f.push_block(lines, 5.0, false);
            }
            Block::Bullets(items) => {
                let mut lines = Vec::new();
                let bullet = if faces.regular.has('•') { "•" } else { "-" };
                for item in items {
                    let mut item_lines = f.text_lines(
                        &Spec {
                            kind: LineKind::Bullet,
                            style: Style::Regular,
                            size: BODY_SIZE,
                            leading: BODY_LEADING,
                            color: INK,
                        },
                        LEFT + BULLET_TEXT_INDENT,
                        CONTENT_W - BULLET_TEXT_INDENT,
                        item,
                    );
                    let Some(first) = item_lines.first_mut() else {
                        continue;
                    };
                    first.runs.insert(
                        0,
                        Run {
                            style: Style::Regular,
                            size: BODY_SIZE,
                            color: ACCENT,
                            x: LEFT + BULLET_INDENT,
                            text: bullet.to_string(),
                        },
                    );
                    if !lines.is_empty() {
                        first.space_before = 2.0;
                    }
                    lines.extend(item_lines);
                }
                f.push_block(lines, 5.0, false);
            }
            Block::KeyValues(pairs) => {
                let lines = key_values(&f, pairs);
                f.push_block(lines, 5.0, false);
            }
            Block::Figure(figure) => {
                let shapes = figure
                    .shapes
                    .iter()
                    .map(|s| match s {
                        Shape::Text { x, y, size, text, color } => {
                            Shape::Text { x: *x, y: *y, size: *size, text: faces.regular.clean(text), color: *color }
                        }
                        other => other.clone(),
                    })
                    .collect();
                // At most a page tall: a taller one is cut at the page's foot.
                let height = figure.height.clamp(1.0, BODY_TOP - 200.0);
                let line = Line { kind: LineKind::Figure, space_before: 0.0, height, size: BODY_SIZE, runs: Vec::new(), keep_with_next: true, shapes };
                f.push_block(vec![line], 8.0, false);
            }
            Block::Spacer => {
                f.pending_space = f.pending_space.max(0.0) + BODY_LEADING;
            }
        }
    }
    f.lines
}

/// Two columns: bold keys on the left (as wide as the widest key, within limits),
/// wrapped values on the right. Each row is kept on one page.
fn key_values(f: &Flow<'_>, pairs: &[(String, String)]) -> Vec<Line> {
    let bold = &f.faces.bold;
    let widest = pairs
        .iter()
        .map(|(k, _)| bold.width(&bold.clean(k), BODY_SIZE))
        .fold(0.0f32, f32::max);
    let key_w = widest.clamp(CONTENT_W * 0.18, CONTENT_W * 0.36);
    let value_x = LEFT + key_w + KV_GAP;
    let value_w = CONTENT_W - key_w - KV_GAP;

    let mut out = Vec::new();
    for (key, value) in pairs {
        let keys = f.text_lines(
            &Spec {
                kind: LineKind::KeyValue,
                style: Style::Bold,
                size: BODY_SIZE,
                leading: BODY_LEADING,
                color: INK,
            },
            LEFT,
            key_w,
            key,
        );
        let values = f.text_lines(
            &Spec {
                kind: LineKind::KeyValue,
                style: Style::Regular,
                size: BODY_SIZE,
                leading: BODY_LEADING,
                color: INK,
            },
            value_x,
            value_w,
            value,
        );
        let rows = keys.len().max(values.len());
        if rows == 0 {
            continue;
        }
        let mut keys = keys.into_iter();
        let mut values = values.into_iter();
        for i in 0..rows {
            let mut runs = Vec::new();
            for part in [keys.next(), values.next()].into_iter().flatten() {
                runs.extend(part.runs);
            }
            let kind = if runs.is_empty() {
                LineKind::Blank
            } else {
                LineKind::KeyValue
            };
            out.push(Line {
                kind,
                space_before: if i == 0 && !out.is_empty() { 3.0 } else { 0.0 },
                height: BODY_LEADING,
                size: BODY_SIZE,
                runs,
                keep_with_next: i + 1 < rows,
                shapes: Vec::new(),
            });
        }
    }
    out
}

/// Distance from the top of a line box to its baseline.
fn baseline_offset(line: &Line) -> f32 {
    let extra = (line.height - line.size * 1.17).max(0.0);
    extra / 2.0 + line.size * ASCENT
}

/// Lays the document out: body flow, then pages, honouring keep-with-next chains.
pub(crate) fn layout(doc: &Document, faces: &Faces) -> Layout {
    let chrome = chrome(doc, faces);
    let lines = flow(doc, faces);
    let bottom = chrome.body_bottom;
    let body_h = BODY_TOP - bottom;

    let mut pages: Vec<Vec<Placed>> = vec![Vec::new()];
    let mut y = BODY_TOP;
    for i in 0..lines.len() {
        let line = &lines[i];
        let page_empty = pages.last().is_none_or(|p| p.is_empty());
        if page_empty && line.kind == LineKind::Blank {
            continue;
        }
        let space = if page_empty { 0.0 } else { line.space_before };

        // Height of the chain of lines that must stay together, starting here.
        let mut chain_h = line.height;
        let mut j = i;
        while lines[j].keep_with_next && j + 1 < lines.len() {
            j += 1;
            chain_h += lines[j].space_before + lines[j].height;
        }
        let chain_fits_here = y - space - chain_h >= bottom - EPS;
        let chain_fits_page = chain_h <= body_h + EPS;
        let line_fits_here = y - space - line.height >= bottom - EPS;
        if !page_empty && ((chain_fits_page && !chain_fits_here) || !line_fits_here) {
            pages.push(Vec::new());
            y = BODY_TOP;
            if line.kind == LineKind::Blank {
                continue;
            }
        } else {
            y -= space;
        }
        let baseline = round(y - baseline_offset(line));
        let top = round(y);
        y -= line.height;
        if let Some(page) = pages.last_mut() {
            page.push(Placed {
                line: line.clone(),
                baseline,
                top,
            });
        }
    }
    // A page can only end up empty if it was opened for a blank line; drop it.
    if pages.len() > 1 && pages.last().is_some_and(|p| p.is_empty()) {
        pages.pop();
    }
    Layout { pages, chrome }
}
