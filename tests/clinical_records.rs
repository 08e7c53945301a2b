//! Rules of the clinical records beyond who may call what: audiences inside
//! records, the note lifecycle, and edits that race.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::{
    both,
    clinical_world::{Actor, World, csrf},
    helpers::*,
};

async fn send_with_etag(client: &mut Client<'_>, method: Method, path: &str, etag: &str, body: Option<serde_json::Value>) -> TestResponse {
    let token = csrf(client).await;
    let body = body.map(|b| axum::body::Body::from(b.to_string())).unwrap_or_else(axum::body::Body::empty);
    client
        .send(method, path, &[("content-type", "application/json"), ("x-csrf-token", &token), ("if-match", etag)], body)
        .await
}

async fn partners_see_only_their_audience(app: TestApp) {
    let mut w = World::build(&app).await;
    let base = format!("/api/v1/couples/{}", w.couple);
    let individual = format!("{base}/sessions/{}", w.b_individual_session);
    // Under an individual-confidential agreement, B's individual session is B's alone.
    assert_eq!(w.client(Actor::PartnerB).get(&individual).await.status, StatusCode::OK);
    assert_eq!(w.client(Actor::PartnerA).get(&individual).await.status, StatusCode::NOT_FOUND);
    let listed = w.client(Actor::PartnerA).get(&format!("{base}/sessions")).await.text();
    assert!(!listed.contains(&w.b_individual_session.to_string()));
    // Drafts are the care team's until signed.
    let draft = format!("{base}/notes/{}", w.draft_note);
    assert_eq!(w.client(Actor::PartnerA).get(&draft).await.status, StatusCode::NOT_FOUND);
    assert_eq!(w.client(Actor::Supervisor).get(&draft).await.status, StatusCode::OK);
    // The signed note shows each partner the shared parts and their own block.
    let note = format!("{base}/notes/{}", w.signed_note);
    let seen = w.client(Actor::PartnerA).get(&note).await.json();
    assert_eq!(seen["content"]["sections"].as_object().unwrap().keys().collect::<Vec<_>>(), ["plan"]);
    assert_eq!(seen["content"]["partner_blocks"].as_array().unwrap().len(), 1);
    assert_eq!(seen["content"]["partner_blocks"][0]["partner"], "a");
    assert!(seen["content"]["homework"]["text"].as_str().unwrap().starts_with("Homework"));
    let full = w.client(Actor::CareTeam).get(&note).await.json();
    assert_eq!(full["content"]["partner_blocks"].as_array().unwrap().len(), 2);
    // A partner sees the other partner's name but not their phone.
    let couple = w.client(Actor::PartnerA).get(&base).await.json();
    assert_eq!(couple["partners"][1]["full_name"], "Marisol Reyes");
    assert!(couple["partners"][1]["phone"].is_null());
    assert!(couple["partners"][0]["phone"].is_string());
    // Private notes: the author only, not even the rest of the care team.
    let private = format!("{base}/private-notes/{}", w.private_note);
    assert_eq!(w.client(Actor::CareTeam).get(&private).await.status, StatusCode::OK);
    let mut colleague = app.client();
    colleague.sign_in("harbor", "emery@harbor.example", PASSWORD).await;
    assert_eq!(colleague.get(&private).await.status, StatusCode::NOT_FOUND);
    let listed = colleague.get(&format!("{base}/private-notes")).await.json();
    assert_eq!(listed["items"].as_array().unwrap().len(), 0);
}

async fn signed_notes_never_change(app: TestApp) {
    let mut w = World::build(&app).await;
    let base = format!("/api/v1/couples/{}", w.couple);
    let note = format!("{base}/notes/{}", w.signed_note);
    let before = w.client(Actor::CareTeam).get(&note).await;
    let etag = before.header("etag").unwrap().to_owned();
    let c1 = w.client(Actor::CareTeam);
    let res = send_with_etag(c1, Method::PUT, &note, &etag, Some(crate::clinical_world::note("EDIT"))).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text());
    let res = send_with_etag(c1, Method::POST, &format!("{note}/sign"), &etag, None).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    // An addendum appends; the note's own content stays as signed.
    let res = c1
        .json(Method::POST, &format!("{note}/addenda"), Some(json!({"reason": "Wrong date", "text": "The lapse was on 10 March.", "audience": "couple"})))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let after = c1.get(&note).await.json();
    assert_eq!(after["content"], before.json()["content"]);
    assert_eq!(after["addenda"][0]["reason"], "Wrong date");
    assert_eq!(after["status"], "signed");
    // Drafts take no addenda; a second co-signature is refused.
    let draft = format!("{base}/notes/{}", w.draft_note);
    let res = w.client(Actor::CareTeam).json(Method::POST, &format!("{draft}/addenda"), Some(json!({"reason": "x", "text": "y"}))).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    let sup = w.client(Actor::Supervisor);
    assert_eq!(sup.json(Method::POST, &format!("{note}/cosign"), None).await.status, StatusCode::OK);
    assert_eq!(sup.json(Method::POST, &format!("{note}/cosign"), None).await.status, StatusCode::CONFLICT);
    // The partner sees the shared addendum.
    let seen = w.client(Actor::PartnerB).get(&note).await.json();
    assert_eq!(seen["addenda"].as_array().unwrap().len(), 1);
}

async fn writes_need_the_current_version(app: TestApp) {
    let mut w = World::build(&app).await;
    let path = format!("/api/v1/couples/{}/sessions/{}", w.couple, w.joint_session);
    let c1 = w.client(Actor::CareTeam);
    let etag = c1.get(&path).await.header("etag").unwrap().to_owned();
    // No If-Match: 428, and nothing changes.
    let res = c1.json(Method::PUT, &path, Some(crate::clinical_world::session("joint", None, "Room 9"))).await;
    assert_eq!(res.status, StatusCode::PRECONDITION_REQUIRED);
    // Two edits from the same version: exactly one wins.
    let first = send_with_etag(c1, Method::PUT, &path, &etag, Some(crate::clinical_world::session("joint", None, "Room 7"))).await;
    let second = send_with_etag(c1, Method::PUT, &path, &etag, Some(crate::clinical_world::session("joint", None, "Room 8"))).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(second.status, StatusCode::PRECONDITION_FAILED);
    let now = c1.get(&path).await;
    assert_eq!(now.json()["location"], "Room 7");
    assert_ne!(now.header("etag").unwrap(), etag);
}

/// Many writers, one version: on both databases exactly one update lands.
async fn racing_updates_lose_nothing(app: TestApp) {
    let mut w = World::build(&app).await;
    let path = format!("/api/v1/couples/{}", w.couple);
    let c1 = w.client(Actor::CareTeam);
    let etag = c1.get(&path).await.header("etag").unwrap().to_owned();
    let token = csrf(c1).await;
    let cookies = c1.cookies.clone();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let router = app.router.clone();
        let (etag, token, path) = (etag.clone(), token.clone(), path.clone());
        let cookie = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        tasks.push(tokio::spawn(async move {
            use tower::ServiceExt;
            let req = axum::http::Request::builder()
                .method(Method::PATCH)
                .uri(&path)
                .header("cookie", cookie)
                .header("content-type", "application/json")
                .header("x-csrf-token", token)
                .header("if-match", etag)
                .body(axum::body::Body::from(json!({"label": format!("Label {i}")}).to_string()))
                .unwrap();
            (i, router.oneshot(req).await.unwrap().status())
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let winners: Vec<_> = results.iter().filter(|(_, s)| *s == StatusCode::OK).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(results.iter().all(|(_, s)| *s == StatusCode::OK || *s == StatusCode::PRECONDITION_FAILED), "{results:?}");
    let label = w.client(Actor::CareTeam).get(&path).await.json()["label"].as_str().unwrap().to_owned();
    assert_eq!(label, format!("Label {}", winners[0].0));
}

both!(partners_see_only_their_audience, signed_notes_never_change, writes_need_the_current_version, racing_updates_lose_nothing);
