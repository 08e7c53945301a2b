//! The pictures of progress (issue #18): the months in care and the
//! boundaries kept and tested, drawn as SVG on the couple page (the
//! partners' portal too) and the prep page, and as vector shapes in the
//! session-prep PDF, each with its words. A partner's picture is drawn
//! only from what that partner may see: not a word of a hidden record in
//! its titles, and not even a mark for it.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::{
    both,
    clinical_world::{Actor, CLINICIAN, PARTNER_A, PARTNER_B, World, assert_no_leak},
    helpers::*,
};

/// Every picture on a page, with its caption and table.
fn figures(html: &str) -> String {
    html.split("<figure class=\"picture\"").skip(1).map(|rest| rest.split("</figure>").next().unwrap()).collect::<Vec<_>>().join("\n")
}

fn count(figures: &str, class: &str) -> usize {
    figures.matches(&format!("class=\"{class}\"")).count()
}

fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn pictures_show_each_reader_only_what_they_may_see(app: TestApp) {
    let mut w = World::build(&app).await;
    let page = format!("/couples/{}", w.couple);

    // The care team's pictures name what the partners may not see, so the
    // checks below could fail.
    let team = w.client(Actor::CareTeam).get(&page).await;
    assert_eq!(team.status, StatusCode::OK);
    let team = figures(&team.text());
    for canary in [format!("{PARTNER_A}_SUBSTANCE"), format!("{PARTNER_B}_BOUNDARY"), format!("{CLINICIAN}_MILESTONE")] {
        assert!(team.contains(&canary), "the care team's pictures show {canary}: {team}");
    }
    assert!(team.contains("id=\"timeline\"") && team.contains("id=\"boundaries-picture\""), "{team}");
    // Both of A's lapses (one shared, one A's alone), both sessions (the
    // joint one, B's individual one), B's boundary kept once.
    assert_eq!(count(&team, "mark lapse"), 2, "{team}");
    assert_eq!(count(&team, "mark session"), 2, "{team}");
    assert_eq!(count(&team, "mark kept"), 1, "{team}");
    let team_milestones = count(&team, "mark milestone");
    assert!(team_milestones >= 2, "A's sobriety milestones and the care team's own: {team}");
    assert!(team.contains("<td>Tuesday 10 March 2026</td>"), "the table beside the timeline: {team}");

    // (reader, lapses, sessions, milestones, kept, boundaries)
    for (actor, lapses, sessions, milestones, kept, rows) in [
        (Actor::PartnerA, 2, 1, team_milestones - 1, 0, 1),
        (Actor::PartnerB, 1, 2, 0, 1, 2),
        (Actor::Supervisor, 2, 2, team_milestones, 1, 2),
    ] {
        let res = w.client(actor).get(&page).await;
        assert_eq!(res.status, StatusCode::OK, "{actor:?}");
        let theirs = figures(&res.text());
        assert_no_leak(actor, "the pictures", &theirs);
        assert_eq!(count(&theirs, "mark lapse"), lapses, "{actor:?}: {theirs}");
        assert_eq!(count(&theirs, "mark session"), sessions, "{actor:?}: {theirs}");
        assert_eq!(count(&theirs, "mark milestone"), milestones, "{actor:?}: {theirs}");
        assert_eq!(count(&theirs, "mark kept"), kept, "{actor:?}: {theirs}");
        assert!(theirs.contains("If money goes missing"), "{actor:?}: the shared boundary");
        let tracks = theirs.split("<g><title>").count() - 1;
        assert_eq!(tracks, rows, "{actor:?}: one row per boundary they see: {theirs}");
        let lapse_words = if lapses == 1 { "1 lapse:" } else { "2 lapses:" };
        assert!(theirs.contains(lapse_words), "{actor:?}: the sentence counts what they see: {theirs}");
    }
}

async fn the_prep_page_and_pdf_draw_the_pictures_and_say_them(app: TestApp) {
    let mut w = World::build(&app).await;
    let (couple, session) = (w.couple, w.joint_session);
    let html = w.client(Actor::CareTeam).get(&format!("/couples/{couple}/sessions/{session}/prep")).await;
    assert_eq!(html.status, StatusCode::OK, "{}", html.text());
    let html = html.text();
    let figs = figures(&html);
    assert!(figs.contains("id=\"timeline\"") && figs.contains("id=\"boundaries-picture\""), "{html}");
    let sentence = "Months in care since Monday 2 March 2026";
    assert!(figs.contains(&format!("<figcaption>{sentence}")), "{figs}");
    assert!(figs.contains(&format!("{PARTNER_B}_BOUNDARY: kept once (Thursday 2 April 2026).")), "{figs}");

    // A session on its day where the practice is (Berlin): 23:30 UTC on
    // 30 November is already 1 December there.
    let late = json!({"starts_at": "2026-11-30T23:30:00Z", "ends_at": "2026-12-01T00:20:00Z", "kind": "joint",
        "modality": "behavioral_couples_therapy", "attendees": [], "location": "Room 2", "telehealth": false});
    let res = w.client(Actor::CareTeam).json(Method::POST, &format!("/api/v1/couples/{couple}/sessions"), Some(late)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let page = figures(&w.client(Actor::CareTeam).get(&format!("/couples/{couple}")).await.text());
    assert!(page.contains("<td>Tuesday 1 December 2026</td><td>Joint session</td>"), "{page}");
    assert!(!page.contains("<td>Monday 30 November 2026</td><td>Joint session</td>"), "{page}");

    let pdf = w.client(Actor::CareTeam).get(&format!("/api/v1/couples/{couple}/summary.pdf?session_id={session}")).await;
    assert_eq!(pdf.status, StatusCode::OK);
    let text = flat(&crate::pdfs::pdf_text(&pdf.body));
    for said in [
        "Months in care",
        sentence,
        "2 lapses: Daniel Okafor on Tuesday 10 March 2026 (lapse, 2 days)",
        "3 sessions held",
        "Dots: kept; triangles: tested.",
        &format!("{PARTNER_B}_BOUNDARY: kept once (Thursday 2 April 2026)."),
        "If money goes missing, we pause the joint account: not logged as kept or tested yet.",
        "Daniel Okafor: trust discussion on",
    ] {
        assert!(text.contains(said), "the prep PDF says {said:?}:\n{text}");
    }
    // Same input, same clock: the same bytes.
    let again = w.client(Actor::CareTeam).get(&format!("/api/v1/couples/{couple}/summary.pdf?session_id={session}")).await;
    assert_eq!(again.body, pdf.body);
}

/// A partner's own plan ends with their pictures, drawn as they see them;
/// a copy disclosed under a consent to share the plan carries none (the
/// consent covers the plan, not the lapses).
async fn a_partners_plan_ends_with_their_pictures_and_a_disclosed_copy_has_none(app: TestApp) {
    let mut w = World::build(&app).await;
    let base = format!("/api/v1/couples/{}", w.couple);
    for (actor, lapses) in [(Actor::PartnerA, "2 lapses: Daniel Okafor"), (Actor::PartnerB, "1 lapse: Daniel Okafor")] {
        let pdf = w.client(actor).get(&format!("{base}/plan.pdf")).await;
        assert_eq!(pdf.status, StatusCode::OK, "{actor:?}");
        let text = flat(&crate::pdfs::pdf_text(&pdf.body));
        assert!(text.contains("Your months in care") && text.contains("Months in care since Monday 2 March 2026"), "{actor:?}:\n{text}");
        assert!(text.contains(lapses), "{actor:?} sees {lapses:?}:\n{text}");
        assert_no_leak(actor, "plan.pdf", &text);
    }
    let b_plan = flat(&crate::pdfs::pdf_text(&w.client(Actor::PartnerB).get(&format!("{base}/plan.pdf")).await.body));
    assert!(b_plan.contains(&format!("{PARTNER_B}_BOUNDARY: kept once (Thursday 2 April 2026).")), "{b_plan}");
    let copy = json!({"partner": "a", "recipient": crate::clinical_world::PHYSICIAN, "purpose": "Coordinating medication"});
    let res = w.client(Actor::CareTeam).json(Method::POST, &format!("{base}/disclosures/plan.pdf"), Some(copy)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let disclosed = flat(&crate::pdfs::pdf_text(&res.body));
    assert!(disclosed.contains("Plan (disclosed copy)"), "{disclosed}");
    for absent in ["Your months in care", "Months in care since", "2 lapses", &format!("{PARTNER_A}_SUBSTANCE")] {
        assert!(!disclosed.contains(absent), "the disclosed copy holds {absent:?}:\n{disclosed}");
    }
}

both!(
    pictures_show_each_reader_only_what_they_may_see,
    the_prep_page_and_pdf_draw_the_pictures_and_say_them,
    a_partners_plan_ends_with_their_pictures_and_a_disclosed_copy_has_none,
);
