//! The PDFs, read back with an independent reader (poppler's pdftotext).

use axum::http::StatusCode;

use crate::{
    both,
    clinical_world::{Actor, World, assert_no_leak},
    helpers::*,
};

/// The text of a PDF, by pdftotext.
pub fn pdf_text(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("pdftotext")
        .args(["-", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("pdftotext (poppler-utils) is needed; tests/run installs it");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "pdftotext could not read the PDF");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The text with every run of white space (line and column breaks) as one space.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn pdfs_hold_what_each_reader_may_see(app: TestApp) {
    let mut w = World::build(&app).await;
    let base = format!("/api/v1/couples/{}", w.couple);

    let summary = w.client(Actor::CareTeam).get(&format!("{base}/summary.pdf")).await;
    assert_eq!(summary.status, StatusCode::OK);
    assert_eq!(summary.header("content-type"), Some("application/pdf"));
    assert_eq!(summary.header("cache-control"), Some("no-store"));
    let text = flat(&pdf_text(&summary.body));
    for expected in ["Session-prep summary", "Practice harbor", "Okafor & Reyes", "Sobriety and milestones", "Lapses since the last session",
        "Boundaries", "Relapse-prevention plan", "Open risks", "Agenda", "Page 1 of", "protected substance use disorder treatment record"] {
        assert!(text.contains(expected), "summary lacks {expected:?}:\n{text}");
    }
    assert!(!text.contains(crate::clinical_world::PRIVATE), "private notes never reach a PDF");
    let sup_summary = w.client(Actor::Supervisor).get(&format!("{base}/summary.pdf")).await;
    assert_no_leak(Actor::Supervisor, "summary.pdf", &pdf_text(&sup_summary.body));
    assert_eq!(w.client(Actor::PartnerA).get(&format!("{base}/summary.pdf")).await.status, StatusCode::NOT_FOUND);

    for (actor, own, other) in [(Actor::PartnerA, "Daniel Okafor", crate::clinical_world::PARTNER_B), (Actor::PartnerB, "Marisol Reyes", crate::clinical_world::PARTNER_A)] {
        let plan = w.client(actor).get(&format!("{base}/plan.pdf")).await;
        assert_eq!(plan.status, StatusCode::OK, "{actor:?}");
        let text = flat(&pdf_text(&plan.body));
        assert!(text.contains("My plan") && text.contains(own), "{actor:?}:\n{text}");
        assert!(text.contains("If a lapse happens") && text.contains("In a crisis"), "{actor:?}:\n{text}");
        assert!(!text.contains(other));
        assert_no_leak(actor, "plan.pdf", &text);
    }
    let b_text = pdf_text(&w.client(Actor::PartnerB).get(&format!("{base}/plan.pdf")).await.body);
    assert!(b_text.contains(&format!("{}_PLAN_SELF_CARE", crate::clinical_world::PARTNER_B)), "B's own section is in B's plan");
    assert!(b_text.contains(&format!("{}_SAFETY", crate::clinical_world::PARTNER_B)), "B's own safety plan is in B's plan");
    // A partner cannot ask for the other's plan; the care team names the partner.
    assert_eq!(w.client(Actor::PartnerA).get(&format!("{base}/plan.pdf?partner=b")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(w.client(Actor::CareTeam).get(&format!("{base}/plan.pdf")).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    let for_a = w.client(Actor::CareTeam).get(&format!("{base}/plan.pdf?partner=a")).await;
    assert_no_leak(Actor::PartnerA, "plan.pdf for A, by the care team", &pdf_text(&for_a.body));

    // Same input, same clock: the same bytes.
    let again = w.client(Actor::CareTeam).get(&format!("{base}/summary.pdf")).await;
    assert_eq!(again.body, summary.body);

    // Each PDF is an export in the access log.
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let exports = entity::access_events::Entity::find()
        .filter(entity::access_events::Column::Action.eq("export"))
        .all(&app.db)
        .await
        .unwrap();
    assert!(exports.iter().any(|e| e.record_kind.as_deref() == Some("session_prep_summary") && e.outcome == "success"));
    assert!(exports.iter().any(|e| e.record_kind.as_deref() == Some("partner_plan") && e.role == "partner_b"));
}

both!(pdfs_hold_what_each_reader_may_see);

#[tokio::test]
async fn the_demo_pdfs_render() {
    let _watchdog = Watchdog::start();
    let app = TestApp::sqlite().await;
    let demo = tandem::demo::load(&app.state).await.unwrap();
    let login = |role: &str| demo.accounts.iter().find(|a| a.role == role).unwrap();
    let mut counselor = app.client();
    let c = login("counselor");
    counselor.sign_in("riverside", c.email, &c.password).await;
    let couple = counselor.get("/api/v1/couples").await.json()["items"][0]["id"].as_str().unwrap().to_owned();
    let summary = flat(&pdf_text(&counselor.get(&format!("/api/v1/couples/{couple}/summary.pdf")).await.body));
    for expected in ["Riverside Couples Counseling", "Casey Morgan", "Daniel Okafor", "Current streak", "Total abstinent days",
        "Homework", "Friday drinks", "Luis (sponsor)"] {
        assert!(summary.contains(expected), "demo summary lacks {expected:?}:\n{summary}");
    }
    let mut marisol = app.client();
    let m = login("supporting partner");
    marisol.sign_in("riverside", m.email, &m.password).await;
    let plan = flat(&pdf_text(&marisol.get(&format!("/api/v1/couples/{couple}/plan.pdf")).await.body));
    for expected in ["Marisol", "Al-Anon", "National Domestic Violence Hotline", "You: Keep yourself safe"] {
        assert!(plan.contains(expected), "Marisol's plan lacks {expected:?}:\n{plan}");
    }
    assert!(!plan.contains("Wonder whether"), "no private note");
    // Written to her: help first, her own care before what Dan agreed to,
    // Dan's steps under his name.
    let at = |text: &str| plan.find(text).unwrap_or_else(|| panic!("Marisol's plan lacks {text:?}:\n{plan}"));
    assert!(at("In a crisis") < at("Taking care of yourself"), "{plan}");
    assert!(at("Taking care of yourself") < at("What Dan has agreed to do"), "{plan}");
    assert!(at("What Dan has agreed to do") < at("Why Dan is doing this"), "{plan}");
    assert!(!plan.contains("Why we are doing this"), "Dan's reasons are not hers: {plan}");

    let mut dan = app.client();
    let d = login("partner in recovery");
    dan.sign_in("riverside", d.email, &d.password).await;
    let his = flat(&pdf_text(&dan.get(&format!("/api/v1/couples/{couple}/plan.pdf")).await.body));
    let at = |text: &str| his.find(text).unwrap_or_else(|| panic!("Dan's plan lacks {text:?}:\n{his}"));
    assert!(at("In a crisis") < at("Why we are doing this"), "{his}");
    assert!(!his.contains("Taking care of yourself"), "Marisol's self-care is not addressed to Dan: {his}");
    assert!(his.contains("How Marisol Reyes takes care of themselves"), "{his}");
}

/// Days in care are one figure (completed days since care started) on the
/// couple page, in the session-prep PDF and in the API; before, the page
/// counted the first day too and showed one more.
async fn days_in_care_read_the_same_everywhere(app: TestApp) {
    let mut w = World::build(&app).await;
    let base = format!("/api/v1/couples/{}", w.couple);
    let expected = (w.today - time::macros::date!(2026 - 03 - 02)).whole_days();
    let couple = w.couple;
    let c = w.client(Actor::CareTeam);
    let api = c.get(&format!("{base}/sobriety")).await.json();
    let from_api: Vec<i64> = api["partners"].as_array().unwrap().iter().map(|p| p["days_in_care"].as_i64().unwrap()).collect();
    assert!(!from_api.is_empty() && from_api.iter().all(|d| *d == expected), "{expected} days: {api}");
    let page = c.get(&format!("/couples/{couple}")).await.text();
    assert!(page.contains(&format!("in care since 2 March 2026 ({expected} days)")), "{page}");
    let pdf = flat(&pdf_text(&c.get(&format!("{base}/summary.pdf")).await.body));
    assert!(pdf.contains(&format!("In care since 2 March 2026 ({expected} days)")), "{pdf}");
}

both!(days_in_care_read_the_same_everywhere);
