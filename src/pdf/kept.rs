//! Rendered PDFs kept in memory under a digest of their whole document.
//!
//! Rendering is deterministic (the same [`Document`] always gives the same
//! bytes) and is most of what a PDF request costs, while building the
//! document from kept reads costs little. So a document equal, word for
//! word and shape for shape, to one rendered a moment ago gets that
//! rendering. The key is the SHA-256 of everything the renderer reads, so
//! nothing else decides a hit: a reader who is shown the bytes had already
//! been given every word of them (the made-for line names the reader, the
//! generated-at line the minute), and any change to what a document says
//! is a different key. Like the kept overviews, a rendering serves for at
//! most [`KEPT_FOR`](crate::records::overview::KEPT_FOR), which bounds how
//! long clinical text stays in memory.

use std::{sync::Arc, time::Instant};

use axum::body::Bytes;
use sha2::{Digest, Sha256};

use super::{Block, Document, Shape};
use crate::{error::AppError, records::overview::KEPT_FOR};

/// The renderings this process keeps: at most the configured number (the
/// same setting as the kept overviews, `overview_cache_entries`; 0 keeps
/// none), the least used leaving first.
#[derive(Clone, Default)]
pub struct Renderings(Option<Arc<Kept>>);

/// Renderings by the digest of their document, with when each was made.
type Kept = quick_cache::sync::Cache<[u8; 32], (Instant, Bytes)>;

impl std::fmt::Debug for Renderings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Renderings").field(&self.0.as_ref().map(|c| c.len())).finish()
    }
}

impl Renderings {
    /// Keeps at most `entries` renderings; none when `entries` is 0.
    pub fn new(entries: usize) -> Self {
        Self((entries > 0).then(|| Arc::new(Kept::new(entries))))
    }

    /// `doc` as a PDF: the kept rendering of an equal document, else
    /// rendered on the blocking pool (see [`super::render_off_runtime`]) and kept.
    pub async fn render(&self, doc: Document) -> Result<Bytes, AppError> {
        let Some(cache) = self.0.as_deref() else {
            metrics::counter!(crate::metrics::PDF_RENDERS, "cache" => "bypass").increment(1);
            return super::render_off_runtime(doc).await.map(Bytes::from);
        };
        let key = digest(&doc);
        if let Some((_, bytes)) = cache.get(&key).filter(|(at, _)| at.elapsed() < KEPT_FOR) {
            metrics::counter!(crate::metrics::PDF_RENDERS, "cache" => "hit").increment(1);
            return Ok(bytes);
        }
        metrics::counter!(crate::metrics::PDF_RENDERS, "cache" => "miss").increment(1);
        let bytes = Bytes::from(super::render_off_runtime(doc).await?);
        cache.insert(key, (Instant::now(), bytes.clone()));
        Ok(bytes)
    }
}

/// SHA-256 of everything in `doc` the renderer reads: every string with its
/// length, every block and shape with its kind, every number by its bits.
pub(super) fn digest(doc: &Document) -> [u8; 32] {
    let mut h = Fingerprint(Sha256::new());
    for s in [&doc.title, &doc.practice, &doc.made_for, &doc.generated_at, &doc.notice] {
        h.text(s);
    }
    for block in &doc.blocks {
        match block {
            Block::Heading(s) => h.tag(b'H').text(s),
            Block::SubHeading(s) => h.tag(b'S').text(s),
            Block::Paragraph(s) => h.tag(b'P').text(s),
            Block::Bullets(items) => {
                h.tag(b'B').len(items.len());
                items.iter().for_each(|i| h.text(i));
            }
            Block::KeyValues(pairs) => {
                h.tag(b'K').len(pairs.len());
                pairs.iter().for_each(|(k, v)| {
                    h.text(k);
                    h.text(v);
                });
            }
            Block::Figure(figure) => {
                h.tag(b'F').numbers(&[figure.height]).len(figure.shapes.len());
                figure.shapes.iter().for_each(|s| h.shape(s));
            }
            Block::Spacer => {
                h.tag(b'_');
            }
        }
    }
    h.0.finalize().into()
}

struct Fingerprint(Sha256);

impl Fingerprint {
    fn tag(&mut self, tag: u8) -> &mut Self {
        self.0.update([tag]);
        self
    }

    fn len(&mut self, n: usize) -> &mut Self {
        self.0.update((n as u64).to_le_bytes());
        self
    }

    fn text(&mut self, s: &str) {
        self.len(s.len());
        self.0.update(s.as_bytes());
    }

    fn numbers(&mut self, numbers: &[f32]) -> &mut Self {
        for n in numbers {
            self.0.update(n.to_bits().to_le_bytes());
        }
        self
    }

    fn shape(&mut self, shape: &Shape) {
        match shape {
            Shape::Rect { x, y, w, h, fill } => {
                self.tag(b'r').numbers(&[*x, *y, *w, *h, fill.0, fill.1, fill.2]);
            }
            Shape::Polygon { points, fill } => {
                self.tag(b'p').len(points.len()).numbers(&[fill.0, fill.1, fill.2]);
                points.iter().for_each(|(x, y)| {
                    self.numbers(&[*x, *y]);
                });
            }
            Shape::Line { from, to, width, color } => {
                self.tag(b'l').numbers(&[from.0, from.1, to.0, to.1, *width, color.0, color.1, color.2]);
            }
            Shape::Text { x, y, size, text, color } => {
                self.tag(b't').numbers(&[*x, *y, *size, color.0, color.1, color.2]).text(text);
            }
        }
    }
}
