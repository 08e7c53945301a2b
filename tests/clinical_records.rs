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

async fn boundaries_are_agreed_separately_and_revisions_keep_history(app: TestApp) {
    let mut w = World::build(&app).await;
    let path = format!("/api/v1/couples/{}/boundaries/{}", w.couple, w.shared_boundary);
    let etag = w.client(Actor::PartnerA).get(&path).await.header("etag").unwrap().to_owned();
    let res = send_with_etag(w.client(Actor::PartnerA), Method::POST, &format!("{path}/agree"), &etag, Some(json!({}))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json()["status"], "proposed");
    assert!(res.json()["agreed_by_a_at"].is_string() && res.json()["agreed_by_b_at"].is_null());
    // A partner cannot agree for the other.
    let etag = res.header("etag").unwrap().to_owned();
    let res = send_with_etag(w.client(Actor::PartnerA), Method::POST, &format!("{path}/agree"), &etag, Some(json!({"partner": "b"}))).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Agreeing to wording that changed meanwhile is refused.
    let res = send_with_etag(w.client(Actor::PartnerB), Method::POST, &format!("{path}/agree"), "\"1\"", Some(json!({}))).await;
    assert_eq!(res.status, StatusCode::PRECONDITION_FAILED);
    let res = send_with_etag(w.client(Actor::PartnerB), Method::POST, &format!("{path}/agree"), &etag, Some(json!({}))).await;
    assert_eq!(res.json()["status"], "agreed");

    // A revision is a new version that needs agreeing again; the old wording stays.
    let etag = res.header("etag").unwrap().to_owned();
    let revised = json!({"holder": "both", "category": "money", "statement": "If money goes missing, we each keep our own account for a month.",
        "consequence": "We review it in session."});
    let res = send_with_etag(w.client(Actor::CareTeam), Method::PUT, &path, &etag, Some(revised)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let body = res.json();
    assert_eq!(body["status"], "revised");
    assert_eq!(body["current"]["number"], 2);
    assert!(body["agreed_by_a_at"].is_null());
    let versions = w.client(Actor::PartnerB).get(&format!("{path}/versions")).await.json();
    assert_eq!(versions.as_array().unwrap().len(), 2);
    assert!(versions[0]["statement"].as_str().unwrap().contains("pause the joint account"));

    // Tested or kept, logged; retired boundaries stay readable and frozen.
    let res = w.client(Actor::CareTeam)
        .json(Method::POST, &format!("{path}/events"), Some(json!({"kind": "kept", "occurred_on": "2026-04-02"})))
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let etag = w.client(Actor::CareTeam).get(&path).await.header("etag").unwrap().to_owned();
    let res = send_with_etag(w.client(Actor::CareTeam), Method::POST, &format!("{path}/retire"), &etag, None).await;
    assert_eq!(res.json()["status"], "retired");
    assert_eq!(res.json()["events"][0]["kind"], "kept");
    // A boundary for partner B alone is not A's to see.
    let b_only = format!("/api/v1/couples/{}/boundaries/{}", w.couple, w.b_boundary);
    assert_eq!(w.client(Actor::PartnerA).get(&b_only).await.status, StatusCode::NOT_FOUND);
    assert_eq!(w.client(Actor::PartnerB).get(&b_only).await.status, StatusCode::OK);
}

async fn plan_versions_are_kept_and_saves_do_not_collide(app: TestApp) {
    let mut w = World::build(&app).await;
    let path = format!("/api/v1/couples/{}/plan", w.couple);
    let content = json!({"reasons_for_recovery": {"items": ["Version two"]}});
    let first = send_with_etag(w.client(Actor::CareTeam), Method::PUT, &path, "\"1\"", Some(content.clone())).await;
    let second = send_with_etag(w.client(Actor::CareTeam), Method::PUT, &path, "\"1\"", Some(content)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    assert_eq!(first.header("etag"), Some("\"2\""));
    assert_eq!(second.status, StatusCode::PRECONDITION_FAILED);
    let versions = w.client(Actor::Supervisor).get(&format!("{path}/versions")).await.json();
    assert_eq!(versions.as_array().unwrap().len(), 2);
    let old = w.client(Actor::CareTeam).get(&format!("{path}/versions/1")).await.json();
    assert_eq!(old["content"]["reasons_for_recovery"]["items"][0], "Be present for Lucía");
    // Partners see the current plan's shared sections, not its history.
    assert_eq!(w.client(Actor::PartnerA).get(&format!("{path}/versions")).await.status, StatusCode::NOT_FOUND);
    let seen = w.client(Actor::PartnerB).get(&format!("{path}/versions/1")).await.json();
    assert!(seen["content"]["high_risk_situations"].is_null(), "clinician-only section hidden");
    assert_eq!(seen["content"]["supporting_partner_care"]["audience"], "partner_b");
    // Bad input names the field.
    let res = send_with_etag(w.client(Actor::CareTeam), Method::PUT, &path, "\"2\"",
        Some(json!({"support_people": {"items": [{"name": "", "role": "sponsor", "consent_to_contact": true}]}}))).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "support_people.items[0].name");
}

/// Figures a partner must not be shown: no streak, total, count, date or milestone.
const FIGURES: [&str; 6] = ["sober_since", "current_streak_days", "total_abstinent_days", "use_days", "reached", "next"];

/// Issue 12, defect 5: a lapse left at the default audience became Dan's
/// alone, and Marisol still saw his streak and milestones as if complete.
async fn figures_are_not_shown_to_a_partner_from_whom_a_lapse_is_hidden(app: TestApp) {
    let mut w = World::build(&app).await;
    let base = format!("/api/v1/couples/{}", w.couple);
    let couple_page = format!("/couples/{}", w.couple);
    // The world's couple keeps individual matters confidential and has two
    // 2-day lapses of partner A on the same days: one shared with the
    // couple, one for A alone. The default audience of a new one is A alone.
    let res = w.client(Actor::CareTeam)
        .json(Method::POST, &format!("{base}/lapses"), Some(json!({"partner": "a", "occurred_on": "2026-05-01", "substance": "alcohol",
            "reported_by": "self", "kind": "lapse"})))
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let created = res.json();
    assert_eq!(created["audience"], "partner_a", "individual confidentiality is the default audience");
    let own = w.client(Actor::PartnerA).get(&format!("{base}/sobriety")).await.json();
    let other = w.client(Actor::PartnerB).get(&format!("{base}/sobriety")).await.json();
    let team = w.client(Actor::CareTeam).get(&format!("{base}/sobriety")).await.json();
    let b_sees = &other["partners"][0];
    for figure in FIGURES {
        assert!(b_sees.get(figure).is_none(), "{figure} given to B: {b_sees}");
    }
    assert_eq!(b_sees["figures_shared"], false, "B must not see A's figures as if complete: {b_sees}");
    assert_eq!(b_sees["not_shared_because"], "individual_confidentiality");
    assert_eq!(b_sees["days_in_care"], team["partners"][0]["days_in_care"]);
    assert_eq!(created["seen_by"], json!(["a"]), "the answer says who will see it");
    assert_eq!(own["partners"][0]["figures_shared"], true);
    assert_eq!(own["partners"][0]["use_days"], 3);
    assert_eq!(own["partners"][0]["sober_since"], "2026-05-02");
    assert_eq!(team["partners"][0]["use_days"], 3);
    // The total survives the lapse; the streak restarts.
    let a = &team["partners"][0];
    assert_eq!(a["total_abstinent_days"].as_u64().unwrap() + 3, a["days_in_care"].as_u64().unwrap());
    assert!(a["current_streak_days"].as_u64().unwrap() < a["total_abstinent_days"].as_u64().unwrap());
    let a_lapse = format!("{base}/lapses/{}", w.a_lapse);
    assert_eq!(w.client(Actor::PartnerB).get(&a_lapse).await.status, StatusCode::NOT_FOUND);
    // The couple page says so, in words, instead of the figures.
    let page = w.client(Actor::PartnerB).get(&couple_page).await.text();
    assert!(page.contains("sobriety figures are not shared with you"), "{page}");
    assert!(!page.contains("current streak") && !page.contains("Milestones reached"), "{page}");
    let page = w.client(Actor::PartnerA).get(&couple_page).await.text();
    assert!(page.contains("current streak") && !page.contains("not shared with you"));

    // Under no secrets, A's figures are B's to see, until a lapse is kept from B.
    let etag = w.client(Actor::CareTeam).get(&base).await.header("etag").unwrap().to_owned();
    let res = send_with_etag(w.client(Actor::CareTeam), Method::PATCH, &base, &etag, Some(json!({"secrets_policy": "no_secrets"}))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let other = w.client(Actor::PartnerB).get(&format!("{base}/sobriety")).await.json();
    assert_eq!(other["partners"][0]["figures_shared"], false, "two of A's lapses are A's alone: {other}");
    assert_eq!(other["partners"][0]["not_shared_because"], "hidden_records");
    let page = w.client(Actor::PartnerB).get(&couple_page).await.text();
    assert!(page.contains("not everything they are counted from is shared with you"), "{page}");
    let lapses = w.client(Actor::CareTeam).get(&format!("{base}/lapses")).await.json();
    for lapse in lapses["items"].as_array().unwrap().iter().filter(|l| l["audience"] == "partner_a") {
        let path = format!("{base}/lapses/{}", lapse["id"].as_str().unwrap());
        let mut shared = lapse.clone();
        for field in ["id", "version", "seen_by"] {
            shared.as_object_mut().unwrap().remove(field);
        }
        shared["audience"] = json!("couple");
        let res = send_with_etag(w.client(Actor::CareTeam), Method::PUT, &path, &format!("\"{}\"", lapse["version"]), Some(shared)).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        assert_eq!(res.json()["seen_by"], json!(["a", "b"]));
    }
    let other = w.client(Actor::PartnerB).get(&format!("{base}/sobriety")).await.json();
    let team = w.client(Actor::CareTeam).get(&format!("{base}/sobriety")).await.json();
    assert_eq!(other["partners"][0]["figures_shared"], true, "{other}");
    for figure in ["sober_since", "current_streak_days", "total_abstinent_days", "use_days"] {
        assert_eq!(other["partners"][0][figure], team["partners"][0][figure], "{figure}");
    }
    // The API document says so too.
    let doc = app.client().get("/api/openapi.json").await.json();
    let schema = doc["components"]["schemas"]["PartnerSobriety"].to_string();
    for field in ["figures_shared", "not_shared_because", "current_streak_days"] {
        assert!(schema.contains(field), "{field} in {schema}");
    }
    assert!(doc["components"]["schemas"]["LapseView"]["properties"]["seen_by"].is_object());
    // A partner's own safety plan is theirs alone.
    let b_plan = format!("{base}/safety-plans/{}", w.b_safety_plan);
    assert_eq!(w.client(Actor::PartnerA).get(&b_plan).await.status, StatusCode::NOT_FOUND);
    assert_eq!(w.client(Actor::PartnerB).get(&b_plan).await.json()["audience"], "partner_b");
}

/// The lapse form tells the counselor, before saving, who will and will not
/// see the lapse for each choice, the default resolved to the partners' names.
async fn the_lapse_form_says_who_will_see_the_lapse(app: TestApp) {
    let mut w = World::build(&app).await;
    let couple = w.couple;
    let form = w.client(Actor::CareTeam).get(&format!("/couples/{couple}/lapses/new")).await;
    assert_eq!(form.status, StatusCode::OK);
    let text = form.text();
    let (dan, marisol) = ("Daniel Okafor", "Marisol Reyes");
    for said in [
        format!("{dan} alone if {dan} used ({marisol} will not see it), {marisol} alone if {marisol} used ({dan} will not see it)"),
        format!("Only the care team. Neither {dan} nor {marisol} will see it."),
        format!("{dan}, {marisol} and the care team will see it."),
        format!("{dan} and the care team will see it. {marisol} will not."),
        format!("{marisol} and the care team will see it. {dan} will not."),
        "they read that the figures are not shared with them".to_owned(),
    ] {
        assert!(text.contains(&said), "the form should say: {said}");
    }
    assert_eq!(text.matches("type=\"radio\" name=\"audience\"").count(), 5, "one choice per audience, the default first");
    assert!(!text.contains("<script"), "no JavaScript needed");
    // Saved with the default, the lapse is Dan's alone, as the form said.
    let page = format!("/couples/{couple}/lapses/new");
    let res = w.client(Actor::CareTeam)
        .submit(&page, &format!("/couples/{couple}/lapses"), &[("partner", "a"), ("occurred_on", "2026-05-01"), ("days", "1"),
            ("substance", "alcohol"), ("reported_by", "self"), ("kind", "lapse"), ("audience", "")])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let lapses = w.client(Actor::CareTeam).get(&format!("/api/v1/couples/{couple}/lapses")).await.json();
    let newest = &lapses["items"][0];
    assert_eq!((newest["occurred_on"].as_str(), newest["audience"].as_str()), (Some("2026-05-01"), Some("partner_a")));
}

async fn each_partner_checks_off_their_own_days(app: TestApp) {
    let mut w = World::build(&app).await;
    let base = format!("/api/v1/couples/{}/recovery-contract", w.couple);
    let today = w.today;
    let day = |d: time::Date| format!("{base}/days/{d}");
    let res = w.client(Actor::PartnerA).json(Method::PUT, &day(today), Some(json!({"trust_discussion": true, "meeting_attended": true}))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json()["partner"], "a");
    let res = w.client(Actor::PartnerB).json(Method::PUT, &day(today), Some(json!({"trust_discussion": true}))).await;
    assert_eq!(res.json()["partner"], "b");
    // Not for the other partner, not ahead of time, not long ago.
    let res = w.client(Actor::PartnerA).json(Method::PUT, &day(today), Some(json!({"partner": "b", "trust_discussion": false}))).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let res = w.client(Actor::PartnerA).json(Method::PUT, &day(today + time::Duration::days(1)), Some(json!({"trust_discussion": true}))).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let old = today - time::Duration::days(20);
    let res = w.client(Actor::PartnerA).json(Method::PUT, &day(old), Some(json!({"trust_discussion": true}))).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let res = w.client(Actor::CareTeam).json(Method::PUT, &day(old), Some(json!({"partner": "a", "trust_discussion": true}))).await;
    assert_eq!(res.status, StatusCode::OK, "the care team fills in older days");
    // Checking off again corrects the day rather than adding a second entry.
    w.client(Actor::PartnerA).json(Method::PUT, &day(today), Some(json!({"trust_discussion": true, "meeting_attended": false}))).await;
    let calendar = w.client(Actor::Supervisor).get(&format!("{base}/days?from={old}&to={today}")).await.json();
    let entries = calendar.as_array().unwrap();
    assert_eq!(entries.len(), 3);
    let a_today = entries.iter().find(|e| e["partner"] == "a" && e["day"] == today.to_string()).unwrap();
    assert_eq!(a_today["check_in"]["meeting_attended"], false);
    let res = w.client(Actor::CareTeam).get(&format!("{base}/days?from={today}&to={old}")).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
}

both!(
    each_partner_checks_off_their_own_days,
    partners_see_only_their_audience,
    signed_notes_never_change,
    writes_need_the_current_version,
    racing_updates_lose_nothing,
    boundaries_are_agreed_separately_and_revisions_keep_history,
    plan_versions_are_kept_and_saves_do_not_collide,
    figures_are_not_shown_to_a_partner_from_whom_a_lapse_is_hidden,
    the_lapse_form_says_who_will_see_the_lapse,
);

/// Issue 12, defect 7: a partner update that leaves out `member_id` keeps
/// the partner's portal account (an explicit `null` unlinks it), and the
/// edit page, saved as shown, keeps a link to an account that has since been
/// deactivated instead of quietly dropping it.
async fn a_partner_update_without_member_id_keeps_the_portal_account(app: TestApp) {
    let mut practice = app.practice("willow").await;
    let (_, mut counselor) = practice.member("casey@willow.example", &["counselor"]).await;
    let (dan, _) = practice.member("dan@home.example", &["client"]).await;
    let res = counselor
        .json(
            Method::POST,
            "/api/v1/couples",
            Some(json!({
                "label": "Okafor & Reyes", "secrets_policy": "no_secrets", "care_started_on": "2026-03-02",
                "partner_a": {"recovery_role": "in_recovery", "full_name": "Daniel Okafor", "member_id": dan},
                "partner_b": {"recovery_role": "supporting", "full_name": "Marisol Reyes"}
            })),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let couple = res.json()["id"].as_str().unwrap().to_owned();
    let partner_a = format!("/api/v1/couples/{couple}/partners/a");

    let details = json!({"recovery_role": "in_recovery", "full_name": "Daniel Okafor", "phone": "+1 312 555 0142"});
    let res = send_with_etag(&mut counselor, Method::PUT, &partner_a, "\"1\"", Some(details.clone())).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json()["has_portal_account"], true, "left out means unchanged: {}", res.text());

    // The account is deactivated; saving other details through the page,
    // with the form as it is shown, keeps the link.
    let res = practice.admin.json(Method::POST, &format!("/api/v1/members/{dan}/deactivate"), None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let edit = format!("/couples/{couple}/edit");
    let page = counselor.get(&edit).await.text();
    assert!(page.contains(&format!("<option value=\"{dan}\" selected>")), "the linked account is still chosen: {page}");
    let res = counselor
        .submit(&edit, &format!("/couples/{couple}/partners/a"), &[
            ("version", "2"),
            ("partner_a.recovery_role", "in_recovery"),
            ("partner_a.full_name", "Daniel Okafor"),
            ("partner_a.member_id", &dan.to_string()),
        ])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let view = counselor.get(&format!("/api/v1/couples/{couple}")).await.json();
    assert_eq!(view["partners"][0]["has_portal_account"], true, "{view}");

    // An explicit null unlinks.
    let mut unlink = details;
    unlink["member_id"] = serde_json::Value::Null;
    let res = send_with_etag(&mut counselor, Method::PUT, &partner_a, "\"3\"", Some(unlink)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json()["has_portal_account"], false);
}

both!(a_partner_update_without_member_id_keeps_the_portal_account);

/// A lapse update that leaves out `audience` keeps the one the counselor
/// chose (it used to fall back to the couple's default, widening a lapse
/// kept to the care team to its partner); moving it to the other partner
/// takes that partner's default, never the first partner's own audience.
async fn a_lapse_update_without_audience_keeps_it(app: TestApp) {
    let mut w = World::build(&app).await;
    let base = format!("/api/v1/couples/{}", w.couple);
    let body = |partner: &str| json!({"partner": partner, "occurred_on": "2026-05-01", "substance": "alcohol", "reported_by": "self", "kind": "lapse"});
    let mut with_audience = body("a");
    with_audience["audience"] = json!("clinician");
    let created = w.client(Actor::CareTeam).json(Method::POST, &format!("{base}/lapses"), Some(with_audience)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let path = format!("{base}/lapses/{}", created.json()["id"].as_str().unwrap());
    let res = put_json(w.client(Actor::CareTeam), &path, "\"1\"", body("a")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json()["audience"], "clinician", "kept as chosen");
    assert_eq!(w.client(Actor::PartnerA).get(&path).await.status, StatusCode::NOT_FOUND);
    let res = put_json(w.client(Actor::CareTeam), &path, "\"2\"", body("b")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json()["audience"], "partner_b", "the new partner's default under individual confidentiality");
    assert_eq!(w.client(Actor::PartnerA).get(&path).await.status, StatusCode::NOT_FOUND);
}

async fn put_json(client: &mut Client<'_>, path: &str, version: &str, body: serde_json::Value) -> TestResponse {
    let token = csrf(client).await;
    let headers = [("if-match", version), ("x-csrf-token", token.as_str()), ("content-type", "application/json")];
    client.send(Method::PUT, path, &headers, axum::body::Body::from(body.to_string())).await
}

both!(a_lapse_update_without_audience_keeps_it);
