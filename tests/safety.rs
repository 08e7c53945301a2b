//! The safety gate and the CRAFT track (issue 19): what the flagged partner,
//! the other partner and the care team each see, by every route, with and
//! without a flag; and a CRAFT track that only its owner and the care team read.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::{
    both,
    clinical_world::{Actor, PARTNER_B, World, created},
    helpers::*,
    pdfs::pdf_text,
};

/// Words that would tell the other partner about a flag.
const FLAG_WORDS: [&str; 5] = ["Safety first", "fears violence", "safety_flag", "Your safety comes first", "Your counselor knows"];

/// What partner A reads, by API, page and PDF: compared before and after
/// partner B says she is afraid.
async fn what_a_reads(w: &mut World<'_>) -> Vec<(String, String)> {
    let couple = w.couple;
    let mut seen = Vec::new();
    let a = w.client(Actor::PartnerA);
    for path in [
        format!("/api/v1/couples/{couple}/safety-flag"),
        format!("/api/v1/couples/{couple}/craft-items"),
        format!("/api/v1/couples/{couple}/overview"),
        format!("/api/v1/couples/{couple}"),
        format!("/couples/{couple}"),
        format!("/couples/{couple}/safety-flag"),
        format!("/couples/{couple}/craft-items"),
    ] {
        let res = a.get(&path).await;
        assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.text());
        let text = res.text();
        // Pages carry the session's CSRF token, which is no part of what they say.
        let text = if path.starts_with("/couples") { text.replace(&res.csrf_token(), "TOKEN") } else { text };
        seen.push((path, text));
    }
    seen
}

fn assert_says_nothing_of_a_flag(what: &str, text: &str) {
    for word in FLAG_WORDS {
        assert!(!text.contains(word), "partner A reads {word:?} in {what}: {text}");
    }
    assert!(!text.contains(PARTNER_B), "partner A reads partner B's own text in {what}: {text}");
}

async fn a_flag_reaches_the_care_team_and_never_the_other_partner(app: TestApp) {
    let mut w = World::build(&app).await;
    let couple = w.couple;
    let api = format!("/api/v1/couples/{couple}");
    let before = what_a_reads(&mut w).await;

    // Marisol (partner B) says privately, from her portal page, that she is afraid.
    let b = w.client(Actor::PartnerB);
    let res = b.submit(&format!("/couples/{couple}/safety-flag"), &format!("/couples/{couple}/safety-flag"), &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let mine = b.get(&format!("{api}/safety-flag")).await.json();
    assert_eq!(mine["flagged"], json!(true));
    assert_eq!(mine["open"][0]["partner"], json!("b"));
    assert_eq!(mine["open"][0]["raised_by_partner"], json!(true));
    // Her own safety plan comes first on her page, before the couple's heading.
    let page = b.get(&format!("/couples/{couple}")).await.text();
    let plan_at = page.find(&format!("{PARTNER_B}_SAFETY")).expect("her own plan on her page");
    assert!(page.contains("Your safety comes first"));
    assert!(plan_at < page.find("<h1>").unwrap(), "her safety plan is offered first");
    // She adds to her CRAFT track and checks it off.
    let item = created(
        b.json(Method::POST, &format!("{api}/craft-items"), Some(json!({"kind": "self_care", "text": {"title": format!("{PARTNER_B}_WALK")}}))).await,
    );
    let res = b.json(Method::POST, &format!("{api}/craft-items/{item}/check-offs"), Some(json!({"how_it_went": format!("{PARTNER_B}_WENT_WELL")}))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    // Raising it again changes nothing; she cannot clear it, nor raise one for him.
    assert_eq!(b.json(Method::POST, &format!("{api}/safety-flag"), Some(json!({}))).await.json()["open"].as_array().unwrap().len(), 1);
    assert_eq!(b.json(Method::POST, &format!("{api}/safety-flag/clear"), Some(json!({}))).await.status, StatusCode::NOT_FOUND);
    assert_eq!(b.json(Method::POST, &format!("{api}/safety-flag"), Some(json!({"partner": "a"}))).await.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Dan (partner A) reads exactly what he read before, by every route...
    let after = what_a_reads(&mut w).await;
    for ((path, was), (_, is)) in before.iter().zip(&after) {
        assert_eq!(was, is, "partner A's {path} changed when partner B raised a flag");
        assert_says_nothing_of_a_flag(path, is);
    }
    let a = w.client(Actor::PartnerA);
    for path in [format!("{api}/plan.pdf")] {
        let res = a.get(&path).await;
        assert_eq!(res.status, StatusCode::OK);
        assert_says_nothing_of_a_flag(&path, &pdf_text(&res.body));
    }
    // ...nor the CRAFT item of hers, nor that anyone looked at any of it.
    assert_eq!(a.get(&format!("{api}/craft-items/{item}")).await.status, StatusCode::NOT_FOUND);
    // His check-in pauses, with words that do not say why (hers reads the same).
    let day = format!("{api}/recovery-contract/days/{}", w.today);
    let refused = w.client(Actor::PartnerA).json(Method::PUT, &day, Some(json!({"trust_discussion": true}))).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.text().contains("paused"), "{}", refused.text());
    assert_says_nothing_of_a_flag("a refused check-in", &refused.text());
    let hers = w.client(Actor::PartnerB).json(Method::PUT, &day, Some(json!({"trust_discussion": true}))).await;
    assert_eq!((hers.status, hers.json()["detail"].clone()), (refused.status, refused.json()["detail"].clone()));
    let contract = w.client(Actor::PartnerA).get(&format!("/couples/{couple}/recovery-contract")).await.text();
    assert!(contract.contains("paused for now"));
    assert_says_nothing_of_a_flag("his contract page", &contract);

    // The care team is warned on the couple page, every joint tool and the session-prep summary.
    let c = w.client(Actor::CareTeam);
    for page in [format!("/couples/{couple}"), format!("/couples/{couple}/recovery-contract"), format!("/couples/{couple}/sessions/new"), format!("/couples/{couple}/boundaries/new")] {
        let text = c.get(&page).await.text();
        assert!(text.contains("Safety first: Marisol Reyes fears violence"), "{page} has no warning: {text}");
    }
    let summary = pdf_text(&c.get(&format!("{api}/summary.pdf")).await.body);
    assert!(summary.contains("Safety first"), "{summary}");
    assert!(summary.find("Safety first").unwrap() < summary.find("The couple").unwrap(), "Safety first leads the summary");
    let craft = c.get(&format!("{api}/craft-items")).await.text();
    assert!(craft.contains(&format!("{PARTNER_B}_WENT_WELL")), "the care team reads her check-off");
    // After those reads, Dan's "who viewed" still says nothing of her flag or track.
    let viewings = w.client(Actor::PartnerA).get(&format!("{api}/viewings")).await.text();
    assert!(!viewings.contains("safety_flag") && !viewings.contains("craft"), "{viewings}");
    assert_says_nothing_of_a_flag("his who-viewed", &viewings);

    // The supervisor finds the change in the access log.
    let events = w.client(Actor::Supervisor).get(&format!("/api/v1/access-events?couple_id={couple}&limit=200")).await.json();
    let flagged = events["items"].as_array().unwrap().iter().find(|e| e["record_kind"] == "safety_flag" && e["action"] == "flag");
    assert_eq!(flagged.expect("the flag is in the access log")["role"], json!("partner_b"));

    // The counselor clears it: check-ins resume; the clearing is logged too.
    let res = w.client(Actor::CareTeam).submit(&format!("/couples/{couple}/safety-flag"), &format!("/couples/{couple}/safety-flag/clear"), &[("partner", "b")]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(w.client(Actor::PartnerB).get(&format!("{api}/safety-flag")).await.json(), json!({"flagged": false, "open": []}));
    let res = w.client(Actor::PartnerA).json(Method::PUT, &day, Some(json!({"trust_discussion": true}))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let events = w.client(Actor::Supervisor).get(&format!("/api/v1/access-events?couple_id={couple}&limit=50")).await.json();
    assert!(events["items"].as_array().unwrap().iter().any(|e| e["record_kind"] == "safety_flag" && e["action"] == "clear"));
    // Nothing is open to clear now.
    let res = w.client(Actor::CareTeam).json(Method::POST, &format!("{api}/safety-flag/clear"), Some(json!({"partner": "b"}))).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
}

async fn a_craft_track_is_its_owners_and_the_care_teams(app: TestApp) {
    let mut w = World::build(&app).await;
    let api = format!("/api/v1/couples/{}", w.couple);
    let item = w.b_craft_item;
    let page = format!("/couples/{}/craft-items", w.couple);
    let b = w.client(Actor::PartnerB);
    let mine = b.get(&format!("{api}/craft-items")).await.json();
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(mine[0]["kind"], json!("positive_communication"));
    // She checks it off from her page, with how it went.
    let res = b.submit(&page, &format!("{page}/{item}/check-offs"), &[("how_it_went", "He thanked me"), ("done", "yes")]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let got = b.get(&format!("{api}/craft-items/{item}")).await;
    assert_eq!(got.header("etag"), Some("\"2\""));
    let got = got.json();
    assert_eq!(got["check_offs"][0]["how_it_went"], json!("He thanked me"));
    assert_eq!(got["check_offs"][0]["by_owner"], json!(true));
    assert_eq!(got["done"], json!(true));
    assert!(b.get(&page).await.text().contains("He thanked me"));

    // An edit based on the version before the check-off is refused and changes nothing.
    let edit = json!({"kind": "positive_communication", "text": {"title": "Say one thing you liked"}, "done": true});
    let token = b.get("/tokens").await.csrf_token();
    let (path, body) = (format!("{api}/craft-items/{item}"), edit.to_string());
    let stale = b
        .send(Method::PUT, &path, &[("content-type", "application/json"), ("if-match", "\"1\""), ("x-csrf-token", &token)], body.clone().into())
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let fresh = b.send(Method::PUT, &path, &[("content-type", "application/json"), ("if-match", "\"2\""), ("x-csrf-token", &token)], body.into()).await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.text());
    assert_eq!(fresh.json()["check_offs"].as_array().unwrap().len(), 1, "an edit keeps the check-offs");
    assert_eq!(fresh.json()["text"]["title"], json!("Say one thing you liked"));

    // Bad input is a 422 naming the field; she cannot add to his track.
    let bad = b.json(Method::POST, &format!("{api}/craft-items"), Some(json!({"kind": "self_care", "text": {"title": " "}}))).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().contains("text.title"), "{}", bad.text());
    let his = b.json(Method::POST, &format!("{api}/craft-items"), Some(json!({"owner": "a", "kind": "self_care", "text": {"title": "x"}}))).await;
    assert_eq!(his.status, StatusCode::UNPROCESSABLE_ENTITY);

    // The other partner learns nothing of it: not the list, not the item, not the page.
    let a = w.client(Actor::PartnerA);
    assert_eq!(a.get(&format!("{api}/craft-items")).await.json(), json!([]));
    assert_eq!(a.get(&format!("{api}/craft-items/{item}")).await.status, StatusCode::NOT_FOUND);
    let his_page = a.get(&page).await.text();
    assert!(!his_page.contains("He thanked me") && !his_page.contains(PARTNER_B), "{his_page}");

    // The care team sets an invitation-to-treatment plan on her track from the page.
    let c = w.client(Actor::CareTeam);
    let res = c
        .submit(&page, &page, &[("owner", "b"), ("kind", "invitation_to_treatment"), ("title", "Ask Dan to come to intake"), ("when", "Sunday morning, when he is sober"), ("arranged", "Intake at Harbor on Tuesday 9:00")])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let res = c.submit(&page, &page, &[("owner", "b"), ("kind", "invitation_to_treatment"), ("title", "")]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("this is required"));
    assert!(w.client(Actor::PartnerB).get(&page).await.text().contains("Intake at Harbor on Tuesday 9:00"));

    // Sealed at rest.
    use sea_orm::EntityTrait;
    for row in entity::craft_items::Entity::find().all(&app.db).await.unwrap() {
        assert!(tandem::vault::is_sealed(&row.content));
        assert!(!row.content.contains("Intake") && !row.content.contains(PARTNER_B));
    }
}

/// A couple may start with the supporting partner alone: the other partner
/// has no portal account yet, and her track and the gate work all the same.
async fn the_track_and_the_gate_need_only_one_partner_in_care(app: TestApp) {
    let mut w = World::build(&app).await;
    let marisol = w.client(Actor::PartnerB).get("/api/v1/me").await.json()["id"].clone();
    let res = w
        .client(Actor::CareTeam)
        .json(
            Method::POST,
            "/api/v1/couples",
            Some(json!({"label": "Reyes (alone for now)", "status": "active", "secrets_policy": "individual_confidential",
                "care_started_on": "2026-11-02",
                "partner_a": {"recovery_role": "in_recovery", "full_name": "Not yet in care"},
                "partner_b": {"recovery_role": "supporting", "full_name": "Marisol Reyes", "member_id": marisol}})),
        )
        .await;
    let couple = created(res);
    let api = format!("/api/v1/couples/{couple}");
    let c = w.client(Actor::CareTeam);
    let item = created(
        c.json(Method::POST, &format!("{api}/craft-items"), Some(json!({"owner": "b", "kind": "invitation_to_treatment",
            "text": {"title": "Ask him to come to intake", "arranged": "Intake on Tuesday 9:00"}}))).await,
    );
    let b = w.client(Actor::PartnerB);
    let res = b.json(Method::POST, &format!("{api}/craft-items/{item}/check-offs"), Some(json!({"how_it_went": "He said he would think about it"}))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    assert_eq!(b.get(&format!("{api}/craft-items")).await.json()[0]["check_offs"][0]["how_it_went"], json!("He said he would think about it"));
    let res = b.json(Method::POST, &format!("{api}/safety-flag"), Some(json!({}))).await;
    assert_eq!(res.json()["flagged"], json!(true));
    let page = w.client(Actor::CareTeam).get(&format!("/couples/{couple}")).await.text();
    assert!(page.contains("Safety first: Marisol Reyes fears violence"), "{page}");
}

both!(
    a_flag_reaches_the_care_team_and_never_the_other_partner,
    a_craft_track_is_its_owners_and_the_care_teams,
    the_track_and_the_gate_need_only_one_partner_in_care
);
