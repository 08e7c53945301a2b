//! Embedded DejaVu fonts: glyph metrics for layout, text clean-up (replacement of
//! characters the font lacks) and per-document subsetting.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use allsorts::binary::read::ReadScope;
use allsorts::font_data::FontData;
use allsorts::subset::{CmapTarget, SubsetProfile, subset};
use printpdf::ParsedFont;

use super::sfnt;

const REGULAR_TTF: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/fonts/DejaVuSans.ttf"
));
const BOLD_TTF: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/fonts/DejaVuSans-Bold.ttf"
));

/// Advance width (in 1/1000 em) assumed for every character when the embedded font
/// could not be parsed and we fall back to a built-in PDF font. Deliberately generous
/// so that nothing overflows the line.
const FALLBACK_ADVANCE: f32 = 0.62;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Style {
    Regular,
    Bold,
}

/// One font face with what layout needs to know about it.
pub(crate) struct Face {
    /// The parsed full font. `None` only if the embedded bytes could not be parsed,
    /// in which case text is drawn with a built-in PDF font, ASCII only.
    parsed: Option<ParsedFont>,
    bytes: &'static [u8],
    /// PostScript-ish name used for the embedded (subset) font.
    name: &'static str,
    /// Advance widths of ASCII characters, in em (fast path).
    ascii: [f32; 128],
    units_per_em: f32,
    replacement: char,
}

impl Face {
    pub(crate) fn load(bytes: &'static [u8], name: &'static str) -> Face {
        let parsed = ParsedFont::from_bytes(bytes, 0, &mut Vec::new())
            .filter(|p| p.units_per_em > 0 && !p.codepoint_to_glyph.is_empty());
        let mut face = Face {
            parsed,
            bytes,
            name,
            ascii: [FALLBACK_ADVANCE; 128],
            units_per_em: 1000.0,
            replacement: '?',
        };
        if let Some(p) = &face.parsed {
            face.units_per_em = f32::from(p.units_per_em);
        }
        let mut ascii = [0.0; 128];
        for (c, slot) in ('\0'..='\x7f').zip(ascii.iter_mut()) {
            *slot = face.lookup_advance(c);
        }
        face.ascii = ascii;
        if face.has(char::REPLACEMENT_CHARACTER) {
            face.replacement = char::REPLACEMENT_CHARACTER;
        }
        face
    }

    pub(crate) fn is_embedded(&self) -> bool {
        self.parsed.is_some()
    }

    fn glyph(&self, c: char) -> Option<u16> {
        self.parsed
            .as_ref()?
            .lookup_glyph_index(c as u32)
            .filter(|g| *g != 0)
    }

    fn lookup_advance(&self, c: char) -> f32 {
        match &self.parsed {
            Some(p) => self
                .glyph(c)
                .and_then(|g| p.get_glyph_width(g))
                .map_or(0.0, |w| f32::from(w) / self.units_per_em),
            None => FALLBACK_ADVANCE,
        }
    }

    /// Whether the face can draw `c`.
    pub(crate) fn has(&self, c: char) -> bool {
        match &self.parsed {
            Some(_) => self.glyph(c).is_some(),
            None => c == ' ' || c.is_ascii_graphic(),
        }
    }

    /// Advance width of `c` in em.
    fn advance(&self, c: char) -> f32 {
        match self.ascii.get(c as usize) {
            Some(w) => *w,
            None => self.lookup_advance(c),
        }
    }

    /// Width of `text` (already cleaned) at `size` points.
    pub(crate) fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.advance(c)).sum::<f32>() * size
    }

    /// Width of one character at `size` points.
    pub(crate) fn char_width(&self, c: char, size: f32) -> f32 {
        self.advance(c) * size
    }

    /// Makes `text` drawable with this face: tabs become spaces, control and
    /// invisible formatting characters are dropped, and every character the font
    /// lacks becomes a visible replacement (U+FFFD if the font has it, else '?').
    /// Line breaks are the caller's business and are treated as spaces here.
    pub(crate) fn clean(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            match c {
                '\t' | '\n' | '\u{2028}' | '\u{2029}' => out.push(' '),
                c if is_invisible(c) || c.is_control() => {}
                c if self.has(c) => out.push(c),
                _ => out.push(self.replacement),
            }
        }
        out
    }

    /// A copy of the font holding only the glyphs for `used`, parsed back so that
    /// printpdf maps characters to the subset's glyph ids. Falls back to the whole
    /// font if subsetting fails for any reason.
    pub(crate) fn subset_for(&self, used: &BTreeSet<char>) -> Option<ParsedFont> {
        let full = self.parsed.as_ref()?;
        self.try_subset(used).or_else(|| Some(full.clone()))
    }

    fn try_subset(&self, used: &BTreeSet<char>) -> Option<ParsedFont> {
        // Glyph 0 (.notdef) must come first, without duplicates (allsorts requirement).
        let mut gids: BTreeSet<u16> = BTreeSet::new();
        for c in used {
            gids.insert(self.glyph(*c)?);
        }
        let ids: Vec<u16> = std::iter::once(0).chain(gids).collect();
        let font = ReadScope::new(self.bytes).read::<FontData<'_>>().ok()?;
        let provider = font.table_provider(0).ok()?;
        let bytes = subset(&provider, &ids, &SubsetProfile::Pdf, CmapTarget::Unicode).ok()?;
        let mut parsed = sfnt::strip_hinting(&bytes)
            .and_then(|small| ParsedFont::from_bytes(&small, 0, &mut Vec::new()))
            .or_else(|| ParsedFont::from_bytes(&bytes, 0, &mut Vec::new()))?;
        // Every character we draw must still map to a real glyph in the subset.
        if !used
            .iter()
            .all(|c| parsed.lookup_glyph_index(*c as u32).is_some_and(|g| g != 0))
        {
            return None;
        }
        parsed.font_name = Some(format!("{}+{}", subset_tag(self.name, used), self.name));
        Some(parsed)
    }
}

/// Zero-width formatting characters that would otherwise become replacement marks:
/// variation selectors (emoji presentation), joiners, bidi marks, BOM, soft hyphen,
/// emoji skin-tone modifiers and tag characters (they modify the preceding emoji,
/// which is itself replaced).
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}'
        | '\u{1F3FB}'..='\u{1F3FF}'
        | '\u{E0000}'..='\u{E007F}'
        | '\u{E0100}'..='\u{E01EF}')
}

/// Six upper-case letters derived from the font and the glyph set, as PDF wants for
/// subset font names ("ABCDEF+DejaVuSans"). Deterministic.
fn subset_tag(name: &str, used: &BTreeSet<char>) -> String {
    let mut h = Fnv::new(0);
    h.write(name.as_bytes());
    for c in used {
        h.write(&u32::from(*c).to_le_bytes());
    }
    let mut v = h.finish();
    (0..6)
        .map(|_| {
            let letter = char::from(b'A' + (v % 26) as u8);
            v /= 26;
            letter
        })
        .collect()
}

/// FNV-1a, 64 bit: small, stable across runs and platforms (unlike `DefaultHasher`).
pub(crate) struct Fnv(u64);

impl Fnv {
    pub(crate) fn new(seed: u64) -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325 ^ seed.wrapping_mul(0x0100_0000_01b3))
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    pub(crate) fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) struct Faces {
    pub(crate) regular: Face,
    pub(crate) bold: Face,
}

impl Faces {
    pub(crate) fn get(&self, style: Style) -> &Face {
        match style {
            Style::Regular => &self.regular,
            Style::Bold => &self.bold,
        }
    }
}

/// The two faces, parsed once per process.
pub(crate) fn faces() -> &'static Faces {
    static FACES: OnceLock<Faces> = OnceLock::new();
    FACES.get_or_init(|| Faces {
        regular: Face::load(REGULAR_TTF, "DejaVuSans"),
        bold: Face::load(BOLD_TTF, "DejaVuSans-Bold"),
    })
}
