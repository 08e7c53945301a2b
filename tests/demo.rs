//! `tandem demo` gives a newcomer a realistic couple to look at.

use axum::http::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn the_demo_couple_is_there_for_each_person() {
    let _watchdog = Watchdog::start();
    let app = TestApp::sqlite().await;
    let demo = tandem::demo::load(&app.state).await.unwrap_or_else(|e| panic!("{e:?}"));
    let login = |role: &str| demo.accounts.iter().find(|a| a.role == role).unwrap();

    let mut counselor = app.client();
    let c = login("counselor");
    assert_eq!(counselor.sign_in("riverside", c.email, &c.password).await.status, StatusCode::SEE_OTHER);
    let couples = counselor.get("/api/v1/couples").await.json();
    let couple = couples["items"][0]["id"].as_str().unwrap().to_owned();
    let base = format!("/api/v1/couples/{couple}");
    let notes = counselor.get(&format!("{base}/notes")).await.json();
    assert!(notes["items"].as_array().unwrap().iter().filter(|n| n["status"] == "signed").count() >= 5);
    let plan = counselor.get(&format!("{base}/plan")).await.json();
    assert_eq!(plan["content"]["lapse_response"]["items"].as_array().unwrap().len(), 9);
    let sobriety = counselor.get(&format!("{base}/sobriety")).await.json();
    let dan = &sobriety["partners"][0];
    // The lapse of months ago (two days) and the slip three days ago (one).
    assert_eq!(dan["use_days"], 3);
    assert_eq!(dan["current_streak_days"], 2, "{dan}");
    // A counselor's day has something true to show: sessions booked, a
    // recent lapse, an unsigned draft.
    let dashboard = counselor.get("/dashboard").await.text();
    assert!(!dashboard.contains("No sessions booked"), "{dashboard}");
    assert!(dashboard.contains("#lapses\">"), "the slip of three days ago: {dashboard}");
    assert!(dashboard.contains("SOAP draft"), "the unsigned note of the last session: {dashboard}");
    assert!(dashboard.contains("Money boundary (held by Partner B) · waiting for Partner A"), "the money boundary Dan has not agreed to: {dashboard}");
    let sessions = counselor.get(&format!("{base}/sessions")).await.json();
    let now = app.state.clock.now();
    let starts = |s: &serde_json::Value| time::OffsetDateTime::parse(s["starts_at"].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap();
    let upcoming = sessions["items"].as_array().unwrap().iter().filter(|s| starts(s) > now).count();
    assert!(upcoming >= 2, "{sessions}");
    assert!(notes["items"].as_array().unwrap().iter().any(|n| n["status"] == "draft"), "an unsigned draft");
    // The couple page shows the same figures.
    let page = counselor.get(&format!("/couples/{couple}")).await.text();
    for figure in [
        format!("<strong>{}</strong> days current streak", dan["current_streak_days"]),
        format!("<strong>{}</strong> abstinent days in all", dan["total_abstinent_days"]),
        "3 days of use".to_owned(),
    ] {
        assert!(page.contains(&figure), "{figure} on the couple page");
    }

    let mut partner = app.client();
    let m = login("supporting partner");
    partner.sign_in("riverside", m.email, &m.password).await;
    let plan = partner.get(&format!("{base}/plan")).await.json();
    assert!(plan["content"]["lapse_response"].is_object());
    let safety = partner.get(&format!("{base}/safety-plans")).await.json();
    assert_eq!(safety.as_array().unwrap().len(), 2, "the couple's plan and her own");
    let calendar = partner.get(&format!("{base}/recovery-contract/days")).await.json();
    assert_eq!(calendar.as_array().unwrap().len(), 28, "two weeks, both partners");
    let boundaries = partner.get(&format!("{base}/boundaries")).await.json();
    assert_eq!(boundaries["items"].as_array().unwrap().len(), 3);
    // The couple keeps individual matters confidential: Dan's figures are his
    // and the care team's, and Marisol reads why instead of numbers.
    let sobriety = partner.get(&format!("{base}/sobriety")).await.json();
    assert_eq!(sobriety["partners"][0]["figures_shared"], false);
    assert!(sobriety["partners"][0].get("current_streak_days").is_none());
    let page = partner.get(&format!("/couples/{couple}")).await.text();
    assert!(page.contains("Dan&#39;s sobriety figures are not shared with you"), "{page}");
    // Marisol's CRAFT track is under way: analyses done, exercises checked off.
    let craft = partner.get(&format!("{base}/craft-items")).await.json();
    let craft = craft.as_array().unwrap();
    assert_eq!(craft.len(), 7, "one item of each kind");
    assert!(craft.iter().filter(|i| i["done"] == true).count() >= 2);
    assert!(craft.iter().any(|i| i["kind"] == "invitation_to_treatment" && i["done"] == false));
    assert!(craft.iter().any(|i| i["check_offs"].as_array().unwrap().len() >= 2 && i["check_offs"][0]["by_owner"] == true));

    let mut dan_client = app.client();
    let d = login("partner in recovery");
    dan_client.sign_in("riverside", d.email, &d.password).await;
    let own = dan_client.get(&format!("{base}/sobriety")).await.json();
    assert_eq!(own["partners"][0]["current_streak_days"], dan["current_streak_days"], "his own figures, whole");
    let safety = dan_client.get(&format!("{base}/safety-plans")).await.json();
    assert_eq!(safety.as_array().unwrap().len(), 1, "not Marisol's own plan");
    assert_eq!(dan_client.get(&format!("{base}/craft-items")).await.json(), serde_json::json!([]), "not Marisol's CRAFT track");
    let private = dan_client.get(&format!("{base}/private-notes")).await;
    assert_eq!(private.status, StatusCode::NOT_FOUND);
    // Dan's consents: three in force and one revoked; and who received his records.
    let consents = dan_client.get(&format!("{base}/consents")).await.json();
    let revoked = consents.as_array().unwrap().iter().filter(|c| c["revoked_at"].is_string()).count();
    assert_eq!((consents.as_array().unwrap().len(), revoked), (4, 1), "{consents}");
    let register = dan_client.get(&format!("{base}/disclosures")).await.json();
    assert_eq!(register.as_array().unwrap().len(), 3, "the old lapse and the slip shared with Marisol, the plan for his physician: {register}");
    let page = dan_client.get(&format!("/couples/{couple}/consents")).await.text();
    assert!(page.contains("Priya Patel") && page.contains("Revoked"), "{page}");
    // Marisol sees none of Dan's consents, nor his register.
    assert_eq!(partner.get(&format!("{base}/consents")).await.json(), serde_json::json!([]));
    assert_eq!(partner.get(&format!("{base}/disclosures")).await.json(), serde_json::json!([]));

    let mut supervisor = app.client();
    let s = login("supervisor");
    supervisor.sign_in("riverside", s.email, &s.password).await;
    let notes = supervisor.get(&format!("{base}/notes")).await.json();
    assert!(notes["items"].as_array().unwrap().iter().any(|n| n["cosigned_by"].is_string()));

    // Loading twice is refused rather than doubling the practice.
    assert!(tandem::demo::load(&app.state).await.is_err());
}
