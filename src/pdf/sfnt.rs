//! Removes TrueType hinting from a (subset) font program to make embedded fonts
//! smaller: drops every table a PDF viewer does not need to draw glyphs from a CID
//! font with Identity-H encoding (hinting programs, names, OS/2, ...) and strips the
//! per-glyph instructions from `glyf`. The outlines themselves are copied byte for
//! byte, so the shapes do not change.
//!
//! Everything is bounds-checked; malformed input gives `None` and the caller keeps
//! the font as it was.

/// Tables kept; all else is dropped. `cmap` is kept because the font is parsed
/// back to map characters to glyph ids.
const KEEP: [&[u8; 4]; 8] = [
    b"cmap", b"glyf", b"head", b"hhea", b"hmtx", b"loca", b"maxp", b"post",
];

fn u16_at(d: &[u8], pos: usize) -> Option<u16> {
    Some(u16::from_be_bytes(d.get(pos..pos + 2)?.try_into().ok()?))
}

fn u32_at(d: &[u8], pos: usize) -> Option<u32> {
    Some(u32::from_be_bytes(d.get(pos..pos + 4)?.try_into().ok()?))
}

fn put_u16(d: &mut [u8], pos: usize, v: u16) -> Option<()> {
    d.get_mut(pos..pos + 2)?.copy_from_slice(&v.to_be_bytes());
    Some(())
}

fn put_u32(d: &mut [u8], pos: usize, v: u32) -> Option<()> {
    d.get_mut(pos..pos + 4)?.copy_from_slice(&v.to_be_bytes());
    Some(())
}

fn checksum(d: &[u8]) -> u32 {
    d.chunks(4).fold(0u32, |sum, chunk| {
        let mut word = [0u8; 4];
        word[..chunk.len()].copy_from_slice(chunk);
        sum.wrapping_add(u32::from_be_bytes(word))
    })
}

/// Copies one glyph without its instructions.
fn strip_glyph(g: &[u8], out: &mut Vec<u8>) -> Option<()> {
    if g.is_empty() {
        return Some(());
    }
    let contours = u16_at(g, 0)? as i16;
    if contours >= 0 {
        // Simple glyph: header, endPtsOfContours, instructionLength, instructions, rest.
        let len_pos = 10 + 2 * contours as usize;
        let instr_len = usize::from(u16_at(g, len_pos)?);
        let rest = g.get(len_pos + 2 + instr_len..)?;
        out.extend_from_slice(g.get(..len_pos)?);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(rest);
    } else {
        // Composite glyph: walk the components, clear WE_HAVE_INSTRUCTIONS, drop
        // whatever follows the last component.
        const ARG_WORDS: u16 = 0x0001;
        const SCALE: u16 = 0x0008;
        const MORE: u16 = 0x0020;
        const XY_SCALE: u16 = 0x0040;
        const TWO_BY_TWO: u16 = 0x0080;
        const INSTRUCTIONS: u16 = 0x0100;
        out.extend_from_slice(g.get(..10)?);
        let mut pos = 10;
        loop {
            let flags = u16_at(g, pos)?;
            let mut size = 4 + if flags & ARG_WORDS != 0 { 4 } else { 2 };
            if flags & SCALE != 0 {
                size += 2;
            } else if flags & XY_SCALE != 0 {
                size += 4;
            } else if flags & TWO_BY_TWO != 0 {
                size += 8;
            }
            let at = out.len();
            out.extend_from_slice(g.get(pos..pos + size)?);
            put_u16(out, at, flags & !INSTRUCTIONS)?;
            pos += size;
            if flags & MORE == 0 {
                break;
            }
        }
    }
    if out.len() % 2 == 1 {
        out.push(0);
    }
    Some(())
}

/// The font without hinting, or `None` if it cannot be read.
pub(crate) fn strip_hinting(font: &[u8]) -> Option<Vec<u8>> {
    let num_tables = usize::from(u16_at(font, 4)?);
    let mut tables: Vec<([u8; 4], Vec<u8>)> = Vec::new();
    for i in 0..num_tables {
        let rec = 12 + 16 * i;
        let tag: [u8; 4] = font.get(rec..rec + 4)?.try_into().ok()?;
        let offset = u32_at(font, rec + 8)? as usize;
        let length = u32_at(font, rec + 12)? as usize;
        if KEEP.contains(&&tag) {
            tables.push((tag, font.get(offset..offset.checked_add(length)?)?.to_vec()));
        }
    }
    let find = |tag: &[u8; 4]| tables.iter().position(|(t, _)| t == tag);
    let (head, maxp) = (find(b"head")?, find(b"maxp")?);
    let (glyf, loca) = (find(b"glyf")?, find(b"loca")?);

    let num_glyphs = usize::from(u16_at(&tables[maxp].1, 4)?);
    let long_loca = u16_at(&tables[head].1, 50)? != 0;
    let offset = |i: usize| -> Option<usize> {
        let loca = &tables[loca].1;
        if long_loca {
            Some(u32_at(loca, 4 * i)? as usize)
        } else {
            Some(usize::from(u16_at(loca, 2 * i)?) * 2)
        }
    };
    let mut new_glyf = Vec::with_capacity(tables[glyf].1.len());
    let mut new_loca = Vec::with_capacity(4 * (num_glyphs + 1));
    for i in 0..num_glyphs {
        let (start, end) = (offset(i)?, offset(i + 1)?);
        new_loca.extend_from_slice(&u32::try_from(new_glyf.len()).ok()?.to_be_bytes());
        strip_glyph(tables[glyf].1.get(start..end)?, &mut new_glyf)?;
    }
    new_loca.extend_from_slice(&u32::try_from(new_glyf.len()).ok()?.to_be_bytes());
    tables[glyf].1 = new_glyf;
    tables[loca].1 = new_loca;
    put_u16(&mut tables[head].1, 50, 1)?; // long loca offsets
    put_u32(&mut tables[head].1, 8, 0)?; // checkSumAdjustment, set below
    if u32_at(&tables[maxp].1, 0)? == 0x0001_0000 {
        put_u16(&mut tables[maxp].1, 26, 0)?; // maxSizeOfInstructions
    }

    // Reassemble: offset table, table records (sorted by tag), 4-byte aligned tables.
    tables.sort_by_key(|t| t.0);
    let n = tables.len();
    let mut pow = 1usize;
    let mut selector = 0u16;
    while pow * 2 <= n {
        pow *= 2;
        selector += 1;
    }
    let mut out = Vec::new();
    out.extend_from_slice(&0x0001_0000u32.to_be_bytes());
    out.extend_from_slice(&u16::try_from(n).ok()?.to_be_bytes());
    out.extend_from_slice(&u16::try_from(pow * 16).ok()?.to_be_bytes());
    out.extend_from_slice(&selector.to_be_bytes());
    out.extend_from_slice(&u16::try_from((n - pow) * 16).ok()?.to_be_bytes());
    let mut offset = 12 + 16 * n;
    for (tag, data) in &tables {
        out.extend_from_slice(tag);
        out.extend_from_slice(&checksum(data).to_be_bytes());
        out.extend_from_slice(&u32::try_from(offset).ok()?.to_be_bytes());
        out.extend_from_slice(&u32::try_from(data.len()).ok()?.to_be_bytes());
        offset += data.len().div_ceil(4) * 4;
    }
    let mut head_pos = 0;
    for (tag, data) in &tables {
        if tag == b"head" {
            head_pos = out.len();
        }
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(4) * 4, 0);
    }
    let adjust = 0xB1B0_AFBAu32.wrapping_sub(checksum(&out));
    put_u32(&mut out, head_pos + 8, adjust)?;
    Some(out)
}
