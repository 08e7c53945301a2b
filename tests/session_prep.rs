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
    // (Daniel reads his own as "You".)
    for (actor, dan, marisol) in [(Actor::CareTeam, "Daniel Okafor", "Marisol Reyes"), (Actor::PartnerA, "You", "Marisol Reyes"), (Actor::PartnerB, "Daniel Okafor", "You")] {
        let couple_page = w.client(actor).get(&format!("/couples/{couple}")).await.text();
        let (dan, marisol) = (format!("{dan}: trust discussion on 1 of the last 90 days"), format!("{marisol}: trust discussion on 0 of the last 90 days"));
        in_order(&couple_page, &["Check-ins, the last 90 days", "<svg", &dan, "</svg>", "<svg", &marisol, "</svg>"]);
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

/// What a person reads of a page: the text between its tags.
fn visible(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for ch in html.chars() {
        match ch {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(ch),
            _ => {}
        }
    }
    out
}

/// Dates written as "2026-03-02" in `text`.
fn iso_dates(text: &str) -> Vec<&str> {
    let b = text.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    (0..b.len().saturating_sub(9))
        .filter(|&i| (0..4).all(|k| digit(i + k)) && b[i + 4] == b'-' && digit(i + 5) && digit(i + 6) && b[i + 7] == b'-' && digit(i + 8) && digit(i + 9))
        .filter(|&i| i == 0 || !digit(i - 1))
        .map(|i| &text[i..i + 10])
        .collect()
}

/// Dates and counts read as people write them on the pages and PDFs a
/// counselor and a partner read ("2 March 2026", "1 day"), never as a
/// machine stores them; the API keeps ISO dates in its JSON.
async fn dates_and_counts_read_as_people_write_them(app: TestApp) {
    let mut w = World::build(&app).await;
    let base = format!("/api/v1/couples/{}", w.couple);
    let (couple, today, boundary) = (w.couple, w.today, w.shared_boundary);
    let now = app.clock.now();
    let c = w.client(Actor::CareTeam);
    let at = |t: time::OffsetDateTime| t.format(&Rfc3339).unwrap();
    let session = json!({"starts_at": at(now + Duration::days(2)), "ends_at": at(now + Duration::days(2) + Duration::minutes(50)),
        "kind": "joint", "modality": "behavioral_couples_therapy", "attendees": [], "location": "Room 2", "telehealth": false});
    let next = created(c.json(Method::POST, &format!("{base}/sessions"), Some(session)).await);
    let lapse = json!({"partner": "a", "occurred_on": today, "days": 1, "substance": "alcohol", "reported_by": "self", "kind": "lapse", "audience": "couple"});
    created(c.json(Method::POST, &format!("{base}/lapses"), Some(lapse)).await);
    let event = json!({"kind": "kept", "occurred_on": today, "note": "Said no to the party"});
    assert!(c.json(Method::POST, &format!("{base}/boundaries/{boundary}/events"), Some(event)).await.status.is_success());
    let res = send(w.client(Actor::PartnerA), Method::PUT, &format!("{base}/recovery-contract/days/{today}"), "*", json!({"trust_discussion": true})).await;
    assert!(res.status.is_success(), "{}", res.text());

    let written = |d: time::Date| format!("{} {} {}", d.day(), d.month(), d.year());
    let prep_page = format!("/couples/{couple}/sessions/{next}/prep");
    let care_team_pages = [format!("/couples/{couple}"), prep_page.clone(), "/dashboard".into(), format!("/couples/{couple}/recovery-contract"), "/calendar".into()];
    let mut read = Vec::new();
    for page in &care_team_pages {
        let res = w.client(Actor::CareTeam).get(page).await;
        assert_eq!(res.status, StatusCode::OK, "{page}");
        read.push((page.clone(), flat(&visible(&res.text()))));
    }
    for actor in [Actor::PartnerA, Actor::PartnerB] {
        let page = format!("/couples/{couple}");
        read.push((format!("{page} as {actor:?}"), flat(&visible(&w.client(actor).get(&page).await.text()))));
    }
    for pdf in [format!("{base}/summary.pdf?session_id={next}"), format!("{base}/plan.pdf?partner=a")] {
        let res = w.client(Actor::CareTeam).get(&pdf).await;
        assert_eq!(res.status, StatusCode::OK, "{pdf}");
        read.push((pdf, flat(&crate::pdfs::pdf_text(&res.body))));
    }
    for (what, text) in &read {
        assert!(iso_dates(text).is_empty(), "{what} shows {:?}:\n{text}", iso_dates(text));
        assert!(!text.contains("day(s)") && !text.contains(" 1 days"), "{what}:\n{text}");
        assert!(!text.contains("Partner a ") && !text.contains("Partner b "), "{what}:\n{text}");
    }
    let text = |page: &str| &read.iter().find(|(what, _)| what == page).unwrap().1;
    // The start of care and the day's lapse, on the couple page and the prep page.
    assert!(text(&format!("/couples/{couple}")).contains("in care since 2 March 2026"), "{}", text(&format!("/couples/{couple}")));
    let prep = text(&prep_page);
    assert!(prep.contains(&format!("{} · Daniel Okafor · Lapse, 1 day: alcohol", written(today))), "{prep}");
    assert!(prep.contains(&format!("{}: ", written(today))), "{prep}");
    // The API keeps the machine's form.
    let lapses = w.client(Actor::CareTeam).get(&format!("{base}/lapses")).await.json();
    assert!(lapses["items"].as_array().unwrap().iter().any(|l| l["occurred_on"] == today.to_string()), "{lapses}");
}

both!(dates_and_counts_read_as_people_write_them);
