//! "Prepare the next session": the prep read model (API), its page and the
//! session-prep PDF say the same things in the same order, for clinicians
//! only; the counselor's agenda is stored sealed and edited with If-Match.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use tandem::clock::Clock;
use time::{Duration, format_description::well_known::Rfc3339};

use crate::{
    both,
    clinical_world::{Actor, World, created, csrf, note},
    helpers::*,
};

fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Each of `parts` appears in `text`, in this order.
fn in_order(text: &str, parts: &[&str]) {
    let mut from = 0;
    for part in parts {
        let at = text[from..].find(part).unwrap_or_else(|| panic!("{part:?} missing or out of order in:\n{text}"));
        from += at + part.len();
    }
}

async fn send(client: &mut Client<'_>, method: Method, path: &str, etag: &str, body: Value) -> TestResponse {
    let token = csrf(client).await;
    let headers = [("content-type", "application/json"), ("x-csrf-token", token.as_str()), ("if-match", etag)];
    client.send(method, path, &headers, body.to_string().into()).await
}

async fn the_prep_page_and_pdf_say_what_changed_since_the_last_joint_session(app: TestApp) {
    let mut w = World::build(&app).await;
    let base = format!("/api/v1/couples/{}", w.couple);
    let now = app.clock.now();
    let session = |at: time::OffsetDateTime| {
        json!({"starts_at": at.format(&Rfc3339).unwrap(), "ends_at": (at + Duration::minutes(50)).format(&Rfc3339).unwrap(),
               "kind": "joint", "modality": "behavioral_couples_therapy", "attendees": [], "location": "Room 2", "telehealth": false})
    };
    let (today, boundary, couple) = (w.today, w.shared_boundary, w.couple);
    let c = w.client(Actor::CareTeam);
    let last = created(c.json(Method::POST, &format!("{base}/sessions"), Some(session(now - Duration::days(1)))).await);
    let mut last_note = note("LAST");
    last_note["content"]["partner_blocks"][1]["risk"] = json!({"self_harm": "none", "partner_violence": "high"});
    let last_note = created(c.json(Method::POST, &format!("{base}/sessions/{last}/notes"), Some(last_note)).await);
    assert_eq!(send(c, Method::POST, &format!("{base}/notes/{last_note}/sign"), "\"1\"", json!({})).await.status, StatusCode::OK);
    let next = created(c.json(Method::POST, &format!("{base}/sessions"), Some(session(now + Duration::days(2)))).await);
    let lapse = json!({"partner": "a", "occurred_on": today, "substance": "alcohol", "reported_by": "self", "kind": "lapse", "audience": "couple"});
    created(c.json(Method::POST, &format!("{base}/lapses"), Some(lapse)).await);
    let event = json!({"kind": "tested", "occurred_on": today, "note": "A bottle at a party"});
    let res = c.json(Method::POST, &format!("{base}/boundaries/{boundary}/events"), Some(event)).await;
    assert!(res.status.is_success(), "{}", res.text());
    let res = send(w.client(Actor::PartnerA), Method::PUT, &format!("{base}/recovery-contract/days/{today}"), "*", json!({"trust_discussion": true})).await;
    assert!(res.status.is_success(), "{}", res.text());

    // The read model.
    let prep = w.client(Actor::CareTeam).get(&format!("{base}/sessions/{next}/prep")).await;
    assert_eq!(prep.status, StatusCode::OK, "{}", prep.text());
    let prep = prep.json();
    assert_eq!(prep["session"]["id"], next.to_string());
    assert_eq!(prep["last_joint"]["id"], last.to_string());
    assert_eq!(prep["lapses"].as_array().unwrap().len(), 1, "only the lapse since the last joint session");
    let a = prep["adherence"].as_array().unwrap().iter().find(|a| a["partner"] == "a").unwrap().clone();
    assert_eq!(a["checked_in"], 1);
    assert_eq!(a["percent"].as_u64().unwrap(), 100 / a["days"].as_u64().unwrap());
    assert_eq!(prep["boundary_moments"][0]["kind"], "tested");
    assert_eq!(prep["risk_flags"][0]["risk"], "intimate-partner violence");
    assert_eq!(prep["last_homework"], "Homework LAST: list two warning signs");
    assert_eq!(prep["last_plan"], "Shared plan LAST: daily trust discussion");
    assert!(prep["drafts"].as_array().unwrap().iter().any(|d| d["id"] == w.draft_note.to_string()));
    assert!(prep["open_steps"].as_array().unwrap().iter().any(|s| s["id"] == w.shared_step.to_string()));
    assert_eq!(prep["agenda"]["version"], 0);

    // The agenda: If-Match, sealed at rest.
    let agenda = format!("{base}/sessions/{next}/agenda");
    let text = json!({"text": "AGENDA_ONE: the slip\nAGENDA_TWO: calendar"});
    let res = send(w.client(Actor::CareTeam), Method::PUT, &agenda, "\"0\"", text.clone()).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.header("etag"), Some("\"1\""));
    assert_eq!(send(w.client(Actor::CareTeam), Method::PUT, &agenda, "\"0\"", text.clone()).await.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(send(w.client(Actor::PartnerA), Method::PUT, &agenda, "\"1\"", text).await.status, StatusCode::NOT_FOUND);
    {
        use sea_orm::{ConnectionTrait, Statement};
        let db = &app.db;
        let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), "SELECT body FROM session_agendas")).await.unwrap();
        let stored: String = rows[0].try_get_by_index(0).unwrap();
        assert!(tandem::vault::is_sealed(&stored) && !stored.contains("AGENDA_ONE"));
    }

    // The page and the PDF: the same sections, in the same order.
    let sections = ["Lapses since the last session", "Check-in adherence", "Boundaries kept or tested", "Milestones reached",
        "Lapse response under way", "From the last note", "Open risks", "Unsigned drafts", "Agenda"];
    let page = format!("/couples/{}/sessions/{next}/prep", w.couple);
    let html = w.client(Actor::CareTeam).get(&page).await;
    assert_eq!(html.status, StatusCode::OK, "{}", html.text());
    let html = html.text();
    in_order(&html, &sections);
    // The last 90 days of check-ins, drawn, with the sentence that says it.
    in_order(&html, &["<svg", "Daniel Okafor: trust discussion on 1 of the last 90 days", "</svg>", "<figcaption>Daniel Okafor: trust discussion on 1 of the last 90 days"]);
    assert!(html.contains("Marisol Reyes: trust discussion on 0 of the last 90 days"), "{html}");
    // The couple page draws the same for each reader who may read the calendar.
    for actor in [Actor::CareTeam, Actor::PartnerA, Actor::PartnerB] {
        let couple_page = w.client(actor).get(&format!("/couples/{couple}")).await.text();
        in_order(&couple_page, &["Check-ins, the last 90 days", "<svg", "Daniel Okafor: trust discussion on 1 of the last 90 days", "</svg>"]);
    }
    in_order(&html, &["Homework LAST", "Marisol Reyes: intimate-partner violence risk High", "AGENDA_ONE: the slip"]);
    let pdf = w.client(Actor::CareTeam).get(&format!("{base}/summary.pdf?session_id={next}")).await;
    assert_eq!(pdf.status, StatusCode::OK);
    let text = flat(&crate::pdfs::pdf_text(&pdf.body));
    in_order(&text, &sections);
    in_order(&text, &["Prepares Joint session,", "Homework LAST", "Marisol Reyes: intimate-partner violence risk HIGH", "AGENDA_ONE: the slip", "AGENDA_TWO: calendar"]);
    // Without a session named, the PDF prepares the next one booked.
    let default = flat(&crate::pdfs::pdf_text(&w.client(Actor::CareTeam).get(&format!("{base}/summary.pdf")).await.body));
    assert!(default.contains("AGENDA_ONE"), "{default}");

    // The dashboard and the couple page link to it; partners are refused it.
    assert!(w.client(Actor::CareTeam).get("/dashboard").await.text().contains(&page));
    assert!(w.client(Actor::CareTeam).get(&format!("/couples/{couple}")).await.text().contains(&page));
    for partner in [Actor::PartnerA, Actor::PartnerB] {
        assert_eq!(w.client(partner).get(&page).await.status, StatusCode::NOT_FOUND, "{partner:?}");
        assert_eq!(w.client(partner).get(&format!("{base}/sessions/{next}/prep")).await.status, StatusCode::NOT_FOUND);
        assert!(!w.client(partner).get(&format!("/couples/{couple}")).await.text().contains(&page));
    }
}

both!(the_prep_page_and_pdf_say_what_changed_since_the_last_joint_session);
