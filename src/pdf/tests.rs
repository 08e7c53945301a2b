use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::layout::{self, LineKind};
use super::*;

const NOTICE: &str = "CONFIDENTIAL: This summary contains protected health information, \
including substance use disorder treatment records covered by 42 CFR Part 2. It is \
prepared solely for the named counselor. Do not copy, forward or disclose without \
the client's written consent or as permitted by law. Destroy printed copies securely.";

fn typical() -> Document {
    Document {
        title: "Session-prep summary".into(),
        practice: "Riverbend Couples Counseling".into(),
        made_for: "Prepared for Casey Morgan (counselor)".into(),
        generated_at: "2026-11-23 10:15 CST".into(),
        notice: NOTICE.into(),
        blocks: vec![
            Block::Heading("Couple at a glance".into()),
            Block::KeyValues(vec![
                ("Partners".into(), "Jordan Alvarez and Sam Okafor".into()),
                ("In recovery".into(), "Jordan (alcohol), 14 months sober".into()),
                ("Next session".into(), "Tuesday 2026-11-24, 16:00, in person".into()),
                (
                    "Goals".into(),
                    "Rebuild trust around finances; agree on how to talk about cravings \
                     without it turning into an argument; plan the holidays."
                        .into(),
                ),
            ]),
            Block::Heading("Since the last session".into()),
            Block::Paragraph(
                "Both partners completed the weekly check-in. Jordan reported two \
                 moderate cravings, both linked to work stress, and used the agreed \
                 plan (call sponsor, walk). Sam noted feeling more relaxed at home but \
                 still anxious about the upcoming family gathering.\nSam asked to \
                 spend part of the session on the holiday plan."
                    .into(),
            ),
            Block::SubHeading("Check-in scores (1 = low, 5 = high)".into()),
            Block::Bullets(vec![
                "Jordan: mood 4, connection 3, craving 2".into(),
                "Sam: mood 3, connection 3, worry 4".into(),
                "Both rated communication this week as better than the week before, \
                 with fewer arguments that ended in silence and more repair attempts."
                    .into(),
            ]),
            Block::Heading("Check-ins since the last session".into()),
            Block::KeyValues(vec![
                ("Mon 11-16".into(), "Jordan: calm day, attended evening meeting. Sam: tired after a long shift, but the couple ate dinner together and talked about the weekend.".into()),
                ("Wed 11-18".into(), "Jordan: craving after a tense meeting at work (rated 3); called sponsor, went for a walk. Sam: noticed Jordan was quiet and asked about it rather than assuming.".into()),
                ("Fri 11-20".into(), "Both: first argument about money in two weeks; took a time-out and came back to it after twenty minutes, which both described as a success.".into()),
                ("Sat 11-21".into(), "Jordan: craving at a friend's birthday (rated 2); left early as planned. Sam: felt proud and a bit worried at the same time.".into()),
                ("Sun 11-22".into(), "Both: planned the week together; agreed on two evenings without screens.".into()),
            ]),
            Block::Heading("Themes across the last four sessions".into()),
            Block::Paragraph(
                "Trust around money remains the most frequent source of conflict. Sam still checks the joint account daily, which Jordan experiences as surveillance; Sam describes it as a way to calm anxiety that built up during the years of active drinking. Both agree that the checking has become less frequent since the shared budget was introduced in October."
                    .into(),
            ),
            Block::Paragraph(
                "Communication has improved measurably: the couple now uses the agreed time-out signal, and repair attempts are recognised by both partners more often. The remaining pattern to work on is Sam's tendency to raise several grievances at once when stressed, and Jordan's withdrawal in response."
                    .into(),
            ),
            Block::SubHeading("Homework from the last session".into()),
            Block::Bullets(vec![
                "Daily five-minute check-in using the feelings wheel (done 6 of 7 days).".into(),
                "Each partner writes down one appreciation per day and shares it on Sunday (done).".into(),
                "Draft a holiday plan together, including an exit signal and who drives (started, not finished).".into(),
            ]),
            Block::Heading("Recovery supports".into()),
            Block::KeyValues(vec![
                ("Sponsor".into(), "In regular contact; Jordan calls at least three times a week.".into()),
                ("Meetings".into(), "Two to three per week, mostly evenings; one online.".into()),
                ("Medication".into(), "None currently. Last reviewed with the GP in September.".into()),
                ("Family".into(), "Sam attends a family support group monthly and finds it helpful.".into()),
            ]),
            Block::Heading("Questions the couple raised".into()),
            Block::Bullets(vec![
                "How do we handle relatives who keep offering Jordan a drink, without making a scene?".into(),
                "Is it normal that cravings come back after a calm month?".into(),
                "How can Sam take care of their own worry without putting it on Jordan?".into(),
            ]),
            Block::Heading("Suggested focus".into()),
            Block::Bullets(vec![
                "Review the holiday plan: who drives, exit signal, non-alcoholic drinks.".into(),
                "Practise the speaker-listener exercise on the finances topic.".into(),
                "Acknowledge progress: 14 months is a milestone worth naming.".into(),
            ]),
            Block::Spacer,
            Block::Heading("Safety and risk".into()),
            Block::Paragraph(
                "No safety concerns reported. No missed medication. Relapse-prevention \
                 plan reviewed 2026-10-30; next review due 2026-12-28."
                    .into(),
            ),
            Block::Heading("Notes for the counselor".into()),
            Block::Paragraph(
                "Sam mentioned in the app that the last session felt rushed at the end. \
                 Consider leaving ten minutes for a wrap-up and the homework assignment. \
                 Jordan prefers written homework; Sam prefers a short voice memo."
                    .into(),
            ),
        ],
    }
}

/// Writes `pdf` to a temporary file and runs `pdftotext` on it (with extra args).
/// Returns `None` (after printing a note) when pdftotext is not installed, unless
/// CI=true, where that is a failure.
fn pdftotext(pdf: &[u8], extra: &[&str]) -> Option<String> {
    if Command::new("pdftotext").arg("-v").output().is_err() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "pdftotext (poppler-utils) is required when CI=true"
        );
        // Straight to stderr, in the line tests/run counts (tests/helpers.rs `skip`).
        use std::io::Write;
        let test = std::thread::current().name().unwrap_or("a test").to_owned();
        let _ = writeln!(std::io::stderr().lock(), "tandem-test skipped: {test}: no pdftotext (poppler-utils), text-extraction checks not run");
        return None;
    }
    static N: AtomicUsize = AtomicUsize::new(0);
    let path: PathBuf = std::env::temp_dir().join(format!(
        "tandem-pdf-test-{}-{}.pdf",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::write(&path, pdf).expect("write temp pdf");
    let out = Command::new("pdftotext")
        .args(extra)
        .arg(&path)
        .arg("-")
        .output()
        .expect("run pdftotext");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "pdftotext failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).expect("pdftotext output is UTF-8"))
}

/// pdftotext output with all whitespace runs collapsed to one space, so that
/// wrapped text can be searched for.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn headings(doc: &Document) -> Vec<&str> {
    doc.blocks
        .iter()
        .filter_map(|b| match b {
            Block::Heading(h) | Block::SubHeading(h) => Some(h.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn typical_document_has_all_parts() {
    let doc = typical();
    let pdf = render(&doc);
    assert!(pdf.starts_with(b"%PDF-"));
    let pages = layout::layout(&doc, fonts::faces()).pages.len();
    assert!(pages >= 1);
    let Some(text) = pdftotext(&pdf, &[]) else {
        return;
    };
    let text = flat(&text);
    for h in headings(&doc) {
        assert!(text.contains(h), "missing heading {h:?} in {text}");
    }
    for part in [&doc.practice, &doc.made_for, &doc.generated_at, &doc.title] {
        assert!(text.contains(part.as_str()), "missing {part:?}");
    }
    assert!(text.contains("Page 1 of"), "missing page number");
    assert!(text.contains(&flat(NOTICE)), "missing notice");
    assert_eq!(text.matches(&flat(NOTICE)).count(), pages);
}

#[test]
fn unicode_names_and_missing_glyphs() {
    let mut doc = typical();
    doc.made_for = "Prepared for Zoë Ñúñez-Øberg (counselor)".into();
    doc.blocks.insert(
        0,
        Block::KeyValues(vec![
            ("Partner A".into(), "Σοφία Παπαδοπούλου".into()),
            ("Partner B".into(), "Анна Иванова".into()),
        ]),
    );
    doc.blocks
        .push(Block::Paragraph("Nickname: 漢 and 🙂👍🏽 ❤️ end".into()));
    doc.blocks.push(Block::Heading("Zoë 漢".into()));
    doc.blocks.push(Block::Paragraph("after".into()));
    let pdf = render(&doc);
    assert!(pdf.len() > 1000);
    let Some(text) = pdftotext(&pdf, &[]) else {
        return;
    };
    let text = flat(&text);
    for name in ["Zoë Ñúñez-Øberg", "Σοφία", "Анна"] {
        assert!(text.contains(name), "missing {name:?} in {text}");
    }
    assert!(!text.contains('漢'));
    assert!(!text.contains('🙂'));
    assert!(text.contains("Nickname: \u{FFFD} and"), "{text}");
    assert!(
        text.contains("Zoë \u{FFFD}"),
        "bold face replacement: {text}"
    );
    assert!(text.contains("❤"), "{text}");
    assert!(text.contains("end"));
}

#[test]
fn only_unsupported_text_still_renders() {
    let doc = Document {
        title: "漢字".into(),
        practice: String::new(),
        made_for: String::new(),
        generated_at: String::new(),
        notice: String::new(),
        blocks: vec![Block::Paragraph("🙂".into())],
    };
    let pdf = render(&doc);
    let Some(text) = pdftotext(&pdf, &[]) else {
        return;
    };
    assert!(text.contains('\u{FFFD}'), "{text:?}");
    assert!(text.contains("Page 1 of 1"));
}

#[test]
fn empty_document_is_one_page() {
    let doc = Document {
        title: String::new(),
        practice: String::new(),
        made_for: String::new(),
        generated_at: String::new(),
        notice: String::new(),
        blocks: Vec::new(),
    };
    let pdf = render(&doc);
    assert!(pdf.starts_with(b"%PDF-"));
    let Some(text) = pdftotext(&pdf, &[]) else {
        return;
    };
    assert_eq!(flat(&text), "Page 1 of 1");
}

/// 60 sections; every drawn line carries a unique token LINE-nnnn.
fn long_document() -> (Document, Vec<String>) {
    let mut tokens = Vec::new();
    let mut next = || {
        let t = format!("LINE-{:04}", tokens.len() + 1);
        tokens.push(t.clone());
        t
    };
    let mut blocks = Vec::new();
    for s in 1..=60 {
        blocks.push(Block::Heading(format!("Section {s} {}", next())));
        let para = (0..5)
            .map(|_| format!("{} the partners reviewed the plan together", next()))
            .collect::<Vec<_>>()
            .join("\n");
        blocks.push(Block::Paragraph(para));
        blocks.push(Block::Bullets(
            (0..4)
                .map(|_| format!("{} follow up next week", next()))
                .collect(),
        ));
    }
    let mut doc = typical();
    doc.blocks = blocks;
    (doc, tokens)
}

#[test]
fn long_document_loses_no_line_and_numbers_pages() {
    let (doc, tokens) = long_document();
    let pdf = render(&doc);
    let expected_pages = layout::layout(&doc, fonts::faces()).pages.len();
    assert!(expected_pages >= 5, "only {expected_pages} pages");
    let Some(text) = pdftotext(&pdf, &[]) else {
        return;
    };
    for t in &tokens {
        assert_eq!(text.matches(t.as_str()).count(), 1, "token {t}");
    }
    let pages: Vec<&str> = text
        .split('\u{c}')
        .filter(|p| !p.trim().is_empty())
        .collect();
    assert_eq!(pages.len(), expected_pages);
    for (i, page) in pages.iter().enumerate() {
        let numbers: Vec<&str> = page.matches("Page ").collect();
        assert_eq!(numbers.len(), 1, "page {}", i + 1);
        let want = format!("Page {} of {}", i + 1, expected_pages);
        assert!(page.contains(&want), "page {} lacks {want:?}", i + 1);
    }
}

#[test]
fn rendering_is_deterministic() {
    let (long, _) = long_document();
    for doc in [typical(), long] {
        let a = render(&doc);
        let b = render(&doc);
        assert_eq!(a, b);
    }
}

/// The key of a kept rendering changes with anything the renderer reads,
/// and with where a string ends; an equal document has the same key.
#[test]
fn a_rendering_is_kept_under_everything_its_document_says() {
    let key = kept::digest;
    let base = key(&typical());
    assert_eq!(base, key(&typical()));
    type Change = Box<dyn Fn(&mut Document)>;
    let mut changes: Vec<Change> = vec![
        Box::new(|d| d.generated_at.push('!')),
        Box::new(|d| d.made_for = "Prepared for Someone Else (supervisor)".into()),
        Box::new(|d| d.blocks.push(Block::Spacer)),
        Box::new(|d| d.blocks.push(Block::Bullets(vec!["ab".into(), "c".into()]))),
        Box::new(|d| d.blocks.push(Block::Paragraph(String::new()))),
    ];
    for shape in [
        Shape::Rect { x: 1.0, y: 2.0, w: 3.0, h: 4.0, fill: (0.0, 0.0, 0.0) },
        Shape::Text { x: 1.0, y: 2.0, size: 9.0, text: "7".into(), color: (0.0, 0.0, 0.0) },
    ] {
        changes.push(Box::new(move |d| d.blocks.push(Block::Figure(Figure { height: 10.0, shapes: vec![shape.clone()] }))));
    }
    let mut seen = vec![base];
    for change in &changes {
        let mut doc = typical();
        change(&mut doc);
        let k = key(&doc);
        assert!(!seen.contains(&k), "a change kept the key");
        seen.push(k);
    }
    let split = |a: &str, b: &str| {
        let mut doc = typical();
        doc.blocks.push(Block::Bullets(vec![a.into(), b.into()]));
        key(&doc)
    };
    assert_ne!(split("ab", "c"), split("a", "bc"));
    let at = |x: f32| {
        let mut doc = typical();
        doc.blocks.push(Block::Figure(Figure { height: 10.0, shapes: vec![Shape::Line { from: (x, 0.0), to: (1.0, 1.0), width: 1.0, color: (0.0, 0.0, 0.0) }] }));
        key(&doc)
    };
    assert_ne!(at(0.5), at(0.25));
}

/// An equal document gets the kept bytes; a different one, or any with
/// keeping off, is rendered anew.
#[tokio::test]
async fn renderings_serve_equal_documents_only() {
    let kept = Renderings::new(4);
    let first = kept.render(typical()).await.unwrap();
    let again = kept.render(typical()).await.unwrap();
    assert_eq!(first.as_ptr(), again.as_ptr(), "the kept rendering");
    let mut other = typical();
    other.generated_at = "2026-11-23 10:16 CST".into();
    let other = kept.render(other).await.unwrap();
    assert_ne!(first.as_ptr(), other.as_ptr());
    assert_ne!(first, other);

    let off = Renderings::new(0);
    let (a, b) = (off.render(typical()).await.unwrap(), off.render(typical()).await.unwrap());
    assert_eq!(a, b, "rendering is deterministic");
    assert_ne!(a.as_ptr(), b.as_ptr(), "nothing kept");
}

/// No page ends with a (sub)heading, and a heading shares its page with the first
/// two lines of what follows it. Checked on the layout for many different amounts
/// of text before the heading, so that headings land at every position on a page.
#[test]
fn headings_are_never_last_on_a_page() {
    let heading_kinds = [LineKind::Heading, LineKind::SubHeading];
    let mut checked_breaks = 0;
    for filler in 0..70 {
        let mut doc = typical();
        let mut blocks = vec![Block::Paragraph(
            (0..filler)
                .map(|i| format!("filler line {i}"))
                .collect::<Vec<_>>()
                .join("\n"),
        )];
        for s in 0..6 {
            blocks.push(Block::Heading(format!("Heading {s}")));
            blocks.push(Block::SubHeading(format!("Sub {s}")));
            blocks.push(Block::Paragraph(
                "One two three four five six seven eight nine ten. ".repeat(12),
            ));
            blocks.push(Block::Bullets(vec!["a".into(), "b".into()]));
        }
        doc.blocks = blocks;
        let lay = layout::layout(&doc, fonts::faces());
        let last_page = lay.pages.len() - 1;
        for (p, page) in lay.pages.iter().enumerate() {
            assert!(!page.is_empty(), "empty page {p}");
            if p == last_page {
                continue;
            }
            checked_breaks += 1;
            let last = page.last().map(|l| l.line.kind);
            assert!(
                !last.is_some_and(|k| heading_kinds.contains(&k)),
                "filler {filler}: page {p} ends with a heading"
            );
            // The heading block is followed by at least two content lines on its page.
            if let Some(h) = page
                .iter()
                .rposition(|l| heading_kinds.contains(&l.line.kind))
            {
                assert!(page.len() - h > 2, "filler {filler}: page {p}");
            }
        }
        // Every placed line stays inside the body area.
        for page in &lay.pages {
            for pl in page {
                assert!(pl.baseline > lay.chrome.footer_rule_y, "line below footer");
                assert!(pl.baseline < layout::HEADER_RULE_Y, "line above header");
            }
        }
    }
    assert!(checked_breaks > 70);

    // Many short sections: a heading followed by a single line, again and again.
    let mut doc = typical();
    doc.blocks = (0..120)
        .flat_map(|i| {
            [
                Block::Heading(format!("Short section {i}")),
                Block::Paragraph("Nothing new.".into()),
            ]
        })
        .collect();
    let lay = layout::layout(&doc, fonts::faces());
    assert!(lay.pages.len() > 3);
    for page in &lay.pages[..lay.pages.len() - 1] {
        let last = page.last().map(|l| l.line.kind);
        assert_eq!(last, Some(LineKind::Body));
        // Pages are reasonably full: the chains did not push everything around.
        assert!(page.len() > 20, "only {} lines", page.len());
    }
}

/// Odd input must still give a valid, non-empty PDF (and never panic).
#[test]
fn odd_input_renders() {
    let long_word = "Ж".repeat(2000);
    let cases: Vec<Document> = vec![
        Document {
            title: "\n\n\t\r\u{0}".into(),
            practice: "\u{200B}".into(),
            made_for: "x".repeat(5000),
            generated_at: "\u{202E}reversed".into(),
            notice: "word ".repeat(3000),
            blocks: vec![
                Block::Heading(String::new()),
                Block::SubHeading("\n".into()),
                Block::Paragraph("\n\n\n".into()),
                Block::Bullets(vec![String::new(), "\n".into(), long_word.clone()]),
                Block::KeyValues(vec![
                    (String::new(), String::new()),
                    (long_word.clone(), "v".into()),
                    ("k".into(), long_word.clone()),
                ]),
                Block::Spacer,
                Block::Spacer,
                Block::Heading(format!("{long_word} {long_word}")),
            ],
        },
        Document {
            title: "e\u{301}\u{302}\u{303} עברית العربية 😀".into(),
            practice: "P".into(),
            made_for: "M".into(),
            generated_at: "G".into(),
            notice: "N".into(),
            blocks: (0..400).map(|_| Block::Spacer).collect(),
        },
        Document {
            title: "Heading taller than a page".into(),
            practice: "P".into(),
            made_for: "M".into(),
            generated_at: "G".into(),
            notice: "N".into(),
            blocks: vec![
                Block::Heading("word ".repeat(900)),
                Block::Paragraph("after".into()),
            ],
        },
    ];
    for doc in &cases {
        let pdf = render(doc);
        assert!(pdf.starts_with(b"%PDF-") && pdf.len() > 500);
        let lay = layout::layout(doc, fonts::faces());
        assert!(!lay.pages.is_empty());
        if let Some(text) = pdftotext(&pdf, &[]) {
            assert!(text.contains("Page 1 of"), "{text}");
        }
    }
}

#[test]
fn long_words_are_broken_not_clipped() {
    let faces = fonts::faces();
    let word = "x".repeat(400);
    let lines = layout::wrap(&faces.regular, 10.0, &word, 200.0);
    assert!(lines.len() > 1);
    assert_eq!(lines.concat(), word);
    for l in &lines {
        assert!(faces.regular.width(l, 10.0) <= 200.01);
    }
    let lines = layout::wrap(&faces.regular, 10.0, "short words fit on one line", 400.0);
    assert_eq!(lines, vec!["short words fit on one line".to_string()]);

    let mut doc = typical();
    let token = format!("TOKEN{}", "Q".repeat(300));
    doc.blocks = vec![Block::Paragraph(format!("start {token} end"))];
    let pdf = render(&doc);
    let Some(text) = pdftotext(&pdf, &[]) else {
        return;
    };
    let joined: String = text.split_whitespace().collect();
    assert!(joined.contains(&token));
}

/// If the embedded fonts could not be parsed, text falls back to a built-in PDF font
/// (ASCII only, '?' for the rest) instead of failing.
#[test]
fn unparsable_font_falls_back_to_builtin() {
    let faces = fonts::Faces {
        regular: fonts::Face::load(b"not a font", "Broken"),
        bold: fonts::Face::load(b"", "Broken-Bold"),
    };
    assert!(!faces.regular.is_embedded());
    assert_eq!(faces.regular.clean("Zoë\tÅ"), "Zo? ?");
    let mut doc = typical();
    doc.made_for = "Prepared for Zoë".into();
    let pdf = render_with(&doc, &faces);
    assert!(pdf.starts_with(b"%PDF-"));
    let Some(text) = pdftotext(&pdf, &[]) else {
        return;
    };
    let text = flat(&text);
    assert!(text.contains("Prepared for Zo?"), "{text}");
    assert!(text.contains("Couple at a glance"));
    assert!(text.contains("Page 1 of"));
}

fn figure_doc(filler: usize) -> Document {
    let mut blocks: Vec<Block> = (0..filler).map(|i| Block::Paragraph(format!("Filler paragraph {i} to move the figure down the page."))).collect();
    blocks.push(Block::Heading("Months in care".into()));
    blocks.push(Block::Figure(Figure {
        height: 80.0,
        shapes: vec![
            Shape::Rect { x: 0.0, y: 0.0, w: 40.0, h: 76.0, fill: (0.9, 0.9, 0.9) },
            Shape::Polygon { points: vec![(50.0, 10.0), (55.0, 15.0), (50.0, 20.0), (45.0, 15.0)], fill: (0.1, 0.5, 0.2) },
            Shape::Line { from: (0.0, 76.0), to: (FIGURE_WIDTH, 76.0), width: 0.6, color: (0.3, 0.3, 0.3) },
            Shape::Text { x: 1.5, y: 85.0, size: 7.5, text: "Mär".into(), color: (0.1, 0.1, 0.1) },
        ],
    }));
    blocks.push(Block::Paragraph("The timeline in words.".into()));
    Document { title: "Figures".into(), practice: "P".into(), made_for: "M".into(), generated_at: "G".into(), notice: NOTICE.into(), blocks }
}

/// A figure is drawn as vector paths outside the text objects, where the
/// layout placed it, with its labels as text; it never ends a page without
/// the words that follow it; and the same figure gives the same bytes.
#[test]
fn figures_are_vector_shapes_kept_with_their_words() {
    let faces = fonts::faces();
    for filler in 0..60 {
        let doc = figure_doc(filler);
        let laid = layout::layout(&doc, faces);
        let (page_no, at) = laid
            .pages
            .iter()
            .enumerate()
            .find_map(|(i, p)| p.iter().position(|l| l.line.kind == LineKind::Figure).map(|at| (i, at)))
            .expect("the figure is placed");
        let page = &laid.pages[page_no];
        let figure = &page[at];
        assert!(page.get(at + 1).is_some_and(|next| next.line.runs.iter().any(|r| r.text.contains("timeline in words"))), "filler {filler}: the words follow on the same page");
        assert!(figure.top - figure.line.height >= laid.chrome.body_bottom - 0.01, "filler {filler}: above the footer");
        let pages = draw(&laid, faces);
        let ops = &pages[page_no].ops;
        let text_starts = ops.iter().position(|op| matches!(op, Op::StartTextSection)).unwrap();
        let polygons: Vec<usize> = ops.iter().enumerate().filter(|(_, op)| matches!(op, Op::DrawPolygon { .. })).map(|(i, _)| i).collect();
        assert_eq!(polygons.len(), 2, "the rectangle and the diamond");
        assert!(polygons.iter().all(|i| *i < text_starts), "paths before the text objects");
        let Op::DrawPolygon { polygon } = &ops[polygons[0]] else { unreachable!() };
        let corner = &polygon.rings[0].points[0].p;
        assert_eq!((corner.x.0, corner.y.0), (layout::LEFT, figure.top), "the rectangle's top-left corner is the figure's");
        assert!(ops.iter().any(|op| matches!(op, Op::ShowText { items } if items.iter().any(|t| matches!(t, TextItem::Text(s) if s == "Mär")))), "the label is text");
    }
    let doc = figure_doc(3);
    assert_eq!(render(&doc), render(&doc), "deterministic");
    if let Some(text) = pdftotext(&render(&doc), &[]) {
        let text = flat(&text);
        assert!(text.contains("Mär") && text.contains("The timeline in words."), "{text}");
    }
}
