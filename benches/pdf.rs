//! PDF benchmarks (issue: PDF summaries): median render time and peak memory
//! for a typical 2-3 page session-prep summary and for a long case, on one
//! core, next to WeasyPrint rendering the same content from HTML, and the
//! file sizes of both.
//!
//! Run: `cargo bench --bench pdf` (the WeasyPrint comparison needs
//! `pip install weasyprint`; without it that column says n/a).

use std::{sync::atomic::Ordering, time::Instant};

use tandem::pdf::{Block, Document, render};

#[path = "support/counting.rs"]
mod counting;
use counting::PEAK;

fn note(i: usize) -> Vec<Block> {
    vec![
        Block::SubHeading(format!("Session {i}: joint, behavioural couples therapy")),
        Block::Paragraph(format!(
            "Dan described the week after the lapse as walking on eggshells; Marisol said she noticed she did not bring up \
             the past at home on three evenings. Reviewed the lapse-response timeline (note {i})."
        )),
        Block::Bullets(vec![
            "Daily trust discussion kept on five of seven evenings".into(),
            "One craving after a work call: called Luis, went for a walk".into(),
            "Homework: each lists two early warning signs noticed this week".into(),
        ]),
    ]
}

fn document(notes: usize, plan_items: usize) -> Document {
    let mut blocks = vec![
        Block::Heading("The couple".into()),
        Block::KeyValues(vec![
            ("Couple".into(), "Okafor & Reyes".into()),
            ("In care since".into(), "2026-03-28 (240 days)".into()),
            ("Care team".into(), "Casey Morgan".into()),
            ("Partner A".into(), "Daniel Okafor (partner in recovery)".into()),
            ("Partner B".into(), "Zoë Ñúñez-Øberg (supporting partner)".into()),
        ]),
        Block::Heading("Sobriety and milestones".into()),
        Block::KeyValues(vec![
            ("Current streak".into(), "93 days (sober since 2026-08-22)".into()),
            ("Total abstinent days".into(), "238 of 240 days in care".into()),
            ("Milestones reached".into(), "1 day, 1 week, 30 days, 90 days".into()),
        ]),
        Block::Heading("Relapse-prevention plan: key points".into()),
        Block::Bullets(
            (0..plan_items)
                .map(|i| format!("High-risk situation {i}: Friday drinks and leaving parties at work (avoid): leave by 5:30 and call Marisol on the way home"))
                .collect(),
        ),
        Block::Heading("Agenda".into()),
        Block::Bullets(vec!["Recovery contract calendar".into(), "The lapse: what was learned".into(), "Boundaries waiting for agreement".into()]),
        Block::Heading("Recent notes".into()),
    ];
    for i in 0..notes {
        blocks.extend(note(i));
    }
    Document {
        title: "Session-prep summary".into(),
        practice: "Riverside Couples Counseling".into(),
        made_for: "Prepared for Casey Morgan (care team)".into(),
        generated_at: "2026-11-23 10:15 CST".into(),
        notice: tandem::pdf::reports::NOTICE.into(),
        blocks,
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The same content as HTML, for WeasyPrint.
fn html(doc: &Document) -> String {
    let mut h = format!(
        "<html><head><meta charset='utf-8'><style>@page {{ size: A4; margin: 20mm 18mm; \
         @top-left {{ content: '{}'; font: bold 8pt 'DejaVu Sans' }} @bottom-right {{ content: 'Page ' counter(page) ' of ' counter(pages); font: 8pt 'DejaVu Sans' }} }} \
         body {{ font: 10pt 'DejaVu Sans' }} h2 {{ font-size: 13pt; break-after: avoid }} h3 {{ font-size: 10pt; break-after: avoid }}</style></head><body><h1>{}</h1><p>{}</p>",
        esc(&doc.practice),
        esc(&doc.title),
        esc(&doc.made_for)
    );
    for b in &doc.blocks {
        match b {
            Block::Heading(t) => h += &format!("<h2>{}</h2>", esc(t)),
            Block::SubHeading(t) => h += &format!("<h3>{}</h3>", esc(t)),
            Block::Paragraph(t) => h += &format!("<p>{}</p>", esc(t)),
            Block::Bullets(items) => h += &format!("<ul>{}</ul>", items.iter().map(|i| format!("<li>{}</li>", esc(i))).collect::<String>()),
            Block::KeyValues(kv) => {
                h += &format!("<table>{}</table>", kv.iter().map(|(k, v)| format!("<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v))).collect::<String>())
            }
            Block::Figure(f) => h += &format!("<div style='height: {}pt'></div>", f.height),
            Block::Spacer => h += "<br>",
        }
    }
    h + &format!("<footer><small>{}</small></footer></body></html>", esc(&doc.notice))
}

fn median_ms(mut times: Vec<f64>) -> f64 {
    times.sort_by(|a, b| a.total_cmp(b));
    times[times.len() / 2]
}

/// WeasyPrint's median render time (ms) and output size, measured inside one
/// Python process so start-up is not counted.
fn weasyprint(html: &str, runs: usize) -> Option<(f64, usize)> {
    let dir = tempfile::tempdir().ok()?;
    let input = dir.path().join("in.html");
    std::fs::write(&input, html).ok()?;
    let script = format!(
        "import time, weasyprint\nsrc=open({input:?}).read()\nts=[]\nfor _ in range({runs}):\n    t=time.perf_counter(); pdf=weasyprint.HTML(string=src).write_pdf(); ts.append((time.perf_counter()-t)*1000)\nts.sort()\nprint(ts[len(ts)//2], len(pdf))\n",
        input = input.display().to_string()
    );
    let out = std::process::Command::new("python3").args(["-c", &script]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace();
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn main() {
    // One core, as the goal says: rendering is single-threaded; nothing else runs.
    let cases = [("typical summary", document(3, 6), 200), ("long case (60 notes)", document(60, 40), 50)];
    println!("| document | pages | Tandem median (ms) | Tandem peak heap | Tandem size | WeasyPrint median (ms) | WeasyPrint size | time ratio (WeasyPrint / Tandem) |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (name, doc, runs) in cases {
        let first = render(&doc); // warm: fonts are parsed once per process
        let mut times = Vec::new();
        let mut peak = 0;
        for _ in 0..runs {
            let before = counting::reset_peak();
            let t = Instant::now();
            let bytes = render(&doc);
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            peak = peak.max(PEAK.load(Ordering::Relaxed) - before);
            assert_eq!(bytes, first, "deterministic");
        }
        let pages = count_pages(&first);
        let ours = median_ms(times);
        let weasy = weasyprint(&html(&doc), runs.min(20));
        println!(
            "| {name} | {pages} | {ours:.2} | {:.1} MiB | {:.1} KB | {} | {} | {} |",
            peak as f64 / 1048576.0,
            first.len() as f64 / 1024.0,
            weasy.map(|w| format!("{:.1}", w.0)).unwrap_or_else(|| "n/a".into()),
            weasy.map(|w| format!("{:.1} KB", w.1 as f64 / 1024.0)).unwrap_or_else(|| "n/a".into()),
            weasy.map(|w| format!("{:.0}x", w.0 / ours)).unwrap_or_else(|| "n/a".into()),
        );
    }
}

/// Pages, by asking pdfinfo when it is there.
fn count_pages(pdf: &[u8]) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.pdf");
    std::fs::write(&path, pdf).unwrap();
    std::process::Command::new("pdfinfo")
        .arg(&path)
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .find(|l| l.starts_with("Pages:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
