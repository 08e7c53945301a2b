//! The access log: events for every clinical request (the matrix checks each
//! route), nothing shown when the event cannot be stored, and a chain that
//! concurrent appenders never fork.

use axum::http::{Method, StatusCode};
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::json;

use crate::{
    both,
    clinical_world::{Actor, World, csrf},
    helpers::*,
};

async fn nothing_is_shown_or_changed_when_the_event_cannot_be_stored(app: TestApp) {
    let mut w = World::build(&app).await;
    let couple = format!("/api/v1/couples/{}", w.couple);
    let session = format!("{couple}/sessions/{}", w.joint_session);
    let etag = w.client(Actor::CareTeam).get(&session).await.header("etag").unwrap().to_owned();
    assert_eq!(w.client(Actor::CareTeam).get(&couple).await.status, StatusCode::OK);

    // Break appends (the chain heads are where every append starts).
    app.state.db.execute_unprepared("DROP TABLE audit_heads").await.unwrap();

    let res = w.client(Actor::CareTeam).get(&couple).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(!res.text().contains("Okafor"), "no clinical data without its event: {}", res.text());
    assert_eq!(res.header("content-type"), Some("application/problem+json"));

    let c1 = w.client(Actor::CareTeam);
    let token = csrf(c1).await;
    let res = c1
        .send(
            Method::PUT,
            &session,
            &[("content-type", "application/json"), ("x-csrf-token", &token), ("if-match", &etag)],
            crate::clinical_world::session("joint", None, "Room 99").to_string().into(),
        )
        .await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    let stored = entity::therapy_sessions::Entity::find_by_id(w.joint_session).one(&app.state.db).await.unwrap().unwrap();
    assert_eq!(stored.location.as_deref(), Some("Room 2"), "the write was rolled back with its event");
}

/// A change that fails after it has written something is undone whole, and
/// the failure is still logged.
async fn a_write_that_fails_half_way_changes_nothing(app: TestApp) {
    let mut w = World::build(&app).await;
    let path = format!("/api/v1/couples/{}/boundaries/{}", w.couple, w.shared_boundary);
    let etag = w.client(Actor::PartnerA).get(&path).await.header("etag").unwrap().to_owned();
    // Agreeing writes the agreement, then reads the boundary back with its
    // log; without the log table the read fails after the write.
    app.state.db.execute_unprepared("DROP TABLE boundary_events").await.unwrap();
    let a = w.client(Actor::PartnerA);
    let token = csrf(a).await;
    let res = a
        .send(Method::POST, &format!("{path}/agree"), &[("content-type", "application/json"), ("x-csrf-token", &token), ("if-match", &etag)], "{}".into())
        .await;
    assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR);
    let stored = entity::boundaries::Entity::find_by_id(w.shared_boundary).one(&app.state.db).await.unwrap().unwrap();
    assert!(stored.agreed_a_at.is_none(), "the agreement was rolled back with the failed request");
    let failed = entity::access_events::Entity::find().all(&app.state.db).await.unwrap();
    assert!(failed.iter().any(|e| e.action == "agree" && e.outcome == "failed" && e.status == 500));
}

/// Many appenders on separate connections: one gapless chain.
async fn concurrent_appends_never_fork_the_chain(app: TestApp) {
    let practice = app.practice("busy").await;
    let mut tasks = Vec::new();
    for task in 0..12u16 {
        let config = app.state.config.clone();
        let practice_id = practice.id;
        tasks.push(tokio::spawn(async move {
            // A connection pool of its own, like another Tandem process.
            let db = tandem::db::connect(&config).await.unwrap();
            for i in 0..10u16 {
                let event = tandem::audit::NewEvent {
                    practice_id,
                    occurred_at: time::OffsetDateTime::now_utc(),
                    member_id: None,
                    role: "test".into(),
                    action: "view".into(),
                    record_kind: Some("couple".into()),
                    record_id: None,
                    couple_id: None,
                    outcome: "success".into(),
                    status: 200 + task * 10 + i,
                    client_addr: Some("192.0.2.1".into()),
                    user_agent: None,
                    request_id: None,
                    reason: None,
                    emergency: false,
                };
                tandem::audit::record(&db, &[event]).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let report = tandem::audit::chain::walk(&app.state.db, practice.id).await.unwrap();
    assert_eq!(report.problem, None);
    assert_eq!(report.last_seq, report.events_checked);
    assert!(report.last_seq >= 120, "{report:?}");
}

async fn events_carry_no_clinical_text(app: TestApp) {
    let mut w = World::build(&app).await;
    let base = format!("/api/v1/couples/{}", w.couple);
    let res = w.client(Actor::CareTeam)
        .json(Method::POST, &format!("{base}/lapses"), Some(json!({"partner": "a", "occurred_on": "2026-05-01", "substance": "UNIQUE-SUBSTANCE-TEXT",
            "reported_by": "self", "kind": "lapse"})))
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let id = res.json()["id"].as_str().unwrap().to_owned();
    let mut events = entity::access_events::Entity::find().all(&app.state.db).await.unwrap();
    events.sort_by_key(|e| std::cmp::Reverse(e.seq));
    let dump = format!("{events:?}");
    assert!(!dump.contains("UNIQUE-SUBSTANCE-TEXT"));
    let created = events.iter().find(|e| e.action == "create" && e.record_kind.as_deref() == Some("lapse")).expect("create event");
    assert_eq!(created.record_id.map(|r| r.to_string()), Some(id), "a create names the new record");
    assert_eq!(created.role, "care_team");
}

async fn supervisors_search_page_and_export_the_log(app: TestApp) {
    let mut w = World::build(&app).await;
    let couple = format!("/api/v1/couples/{}", w.couple);
    let me = w.client(Actor::CareTeam).get("/api/v1/me").await.json();
    let c1 = me["id"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        assert_eq!(w.client(Actor::CareTeam).get(&couple).await.status, StatusCode::OK);
    }
    let url = format!("/api/v1/access-events?member_id={c1}&couple_id={}&action=view&limit=2", w.couple);
    let sup = w.client(Actor::Supervisor);
    let page = sup.get(&url).await.json();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|e| e["member_id"] == c1 && e["action"] == "view" && e["member_name"] == "Casey Counselor"));
    let before = page["next_before"].as_i64().expect("more pages");
    let next = sup.get(&format!("{url}&before={before}")).await.json();
    assert!(next["items"][0]["seq"].as_i64().unwrap() < before);
    // Time range: nothing in the future (dates run to 2099-12-31).
    let future = sup.get("/api/v1/access-events?from=2099-01-01T00:00:00Z").await.json();
    assert_eq!(future["items"].as_array().unwrap().len(), 0);

    let csv = sup.get(&format!("/api/v1/access-events/export?member_id={c1}")).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    let text = csv.text();
    assert!(text.starts_with("seq,at,member_id,member_name,role,action"));
    assert!(text.lines().count() > 3);
    let exports = sup.get("/api/v1/access-events?action=export").await.json();
    assert_eq!(exports["items"].as_array().unwrap().len(), 1, "the export is itself an event");

    let verified = sup.json(Method::POST, "/api/v1/access-log/verification", None).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());
    assert_eq!(verified.json()["ok"], true);
    assert_eq!(sup.get("/api/v1/access-log/verification").await.json()["ok"], true);
    assert_eq!(w.client(Actor::CareTeam).get("/api/v1/access-events").await.status, StatusCode::FORBIDDEN);
}

async fn partners_see_who_viewed_their_records(app: TestApp) {
    let mut w = World::build(&app).await;
    let couple = format!("/api/v1/couples/{}", w.couple);
    let b_plan = format!("{couple}/safety-plans/{}", w.b_safety_plan);
    assert_eq!(w.client(Actor::CareTeam).get(&b_plan).await.status, StatusCode::OK);
    w.client(Actor::Supervisor).get(&couple).await;
    let seen_by_a = w.client(Actor::PartnerA).get(&format!("{couple}/viewings")).await;
    assert_eq!(seen_by_a.status, StatusCode::OK);
    let list = seen_by_a.json();
    let entries = list.as_array().unwrap();
    assert!(entries.iter().any(|e| e["who"] == "Casey Counselor" && e["role"] == "supervisor") || entries.iter().any(|e| e["role"] == "supervisor"));
    assert!(entries.iter().all(|e| e["record_kind"] != "safety_plan" || e["who"] != "Casey Counselor"), "A must not learn of B's own plan");
    assert!(!seen_by_a.text().contains("client_addr") && !seen_by_a.text().contains("198.51.100"));
    let seen_by_b = w.client(Actor::PartnerB).get(&format!("{couple}/viewings")).await.json();
    assert!(seen_by_b.as_array().unwrap().iter().any(|e| e["record_kind"] == "safety_plan" && e["who"] == "Casey Counselor"));
}

async fn emergency_access_needs_a_reason_is_time_boxed_and_reviewed(app: TestApp) {
    let mut w = World::build(&app).await;
    let couple = format!("/api/v1/couples/{}", w.couple);
    let mut gale = {
        let mut c = app.client();
        c.sign_in("harbor", "drew@harbor.example", PASSWORD).await;
        c
    };
    assert_eq!(gale.get(&couple).await.status, StatusCode::NOT_FOUND);
    let res = gale.json(Method::POST, &format!("{couple}/emergency-access"), Some(json!({"reason": "urgent"}))).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let res = gale
        .json(Method::POST, &format!("{couple}/emergency-access"), Some(json!({"reason": "Marisol called: Dan relapsed, needs the safety plan now"})))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let grant = res.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(gale.get(&couple).await.status, StatusCode::OK);
    // Read-only.
    let res = gale.json(Method::POST, &format!("{couple}/lapses"), Some(json!({"partner": "a", "occurred_on": "2026-05-01", "substance": "x", "reported_by": "self", "kind": "lapse"}))).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let sup = w.client(Actor::Supervisor);
    let marked = sup.get("/api/v1/access-events?action=view").await.json();
    let emergency_view = marked["items"].as_array().unwrap().iter().find(|e| e["emergency"] == true).expect("marked event");
    assert_eq!(emergency_view["role"], "emergency");
    assert!(emergency_view["reason"].as_str().unwrap().contains("safety plan"));
    let queue = sup.get("/api/v1/emergency-accesses").await.json();
    assert!(queue.as_array().unwrap().iter().any(|g| g["id"] == grant.as_str() && g["member_name"] == "Casey Counselor" || g["id"] == grant.as_str()));
    // An hour later the access has ended.
    app.clock.advance(time::Duration::minutes(61));
    let mut gale = app.client();
    gale.sign_in("harbor", "drew@harbor.example", PASSWORD).await;
    assert_eq!(gale.get(&couple).await.status, StatusCode::NOT_FOUND);
    // Reviewed, it leaves the queue.
    let mut sup = app.client();
    sup.sign_in("harbor", "sasha@harbor.example", PASSWORD).await;
    let res = sup.json(Method::POST, &format!("/api/v1/emergency-accesses/{grant}/acknowledge"), None).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text());
    let queue = sup.get("/api/v1/emergency-accesses").await.json();
    assert!(queue.as_array().unwrap().iter().all(|g| g["id"] != grant.as_str()));
    let all = sup.get("/api/v1/emergency-accesses?pending=false").await.json();
    assert!(all.as_array().unwrap().iter().any(|g| g["id"] == grant.as_str() && g["acknowledged_at"].is_string()));
}

async fn sign_ins_are_events(app: TestApp) {
    let practice = app.practice("door").await;
    let mut stranger = app.client();
    stranger.sign_in("door", "admin@door.example", "not the password at all").await;
    let events = entity::access_events::Entity::find().all(&app.state.db).await.unwrap();
    let sign_ins: Vec<_> = events.iter().filter(|e| e.action == "sign_in").collect();
    // The admin's own sign-in when accepting the invitation is not a password
    // sign-in; the failed attempt is.
    assert!(sign_ins.iter().any(|e| e.outcome == "denied" && e.practice_id == practice.id && e.client_addr.is_some()));
    let mut admin = app.client();
    admin.sign_in("door", "admin@door.example", PASSWORD).await;
    let events = entity::access_events::Entity::find().all(&app.state.db).await.unwrap();
    assert!(events.iter().any(|e| e.action == "sign_in" && e.outcome == "success" && e.member_id.is_some()));
}

both!(
    a_write_that_fails_half_way_changes_nothing,
    nothing_is_shown_or_changed_when_the_event_cannot_be_stored,
    concurrent_appends_never_fork_the_chain,
    events_carry_no_clinical_text,
    supervisors_search_page_and_export_the_log,
    partners_see_who_viewed_their_records,
    emergency_access_needs_a_reason_is_time_boxed_and_reviewed,
    sign_ins_are_events,
);
