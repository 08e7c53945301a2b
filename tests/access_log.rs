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

both!(nothing_is_shown_or_changed_when_the_event_cannot_be_stored, concurrent_appends_never_fork_the_chain, events_carry_no_clinical_text);
