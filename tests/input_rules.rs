//! One rule for inputs, the same on SQLite and PostgreSQL and checked before
//! either sees them: dates within 1900-01-01..=2099-12-31, no NUL or other
//! control characters in text, bodies within the size limit.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    both,
    clinical_world::{Actor, World, csrf, session},
    helpers::*,
};

fn assert_refused(res: &TestResponse, what: &str) {
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {}", res.text());
    assert_eq!(res.header("content-type"), Some("application/problem+json"), "{what}");
}

async fn send(client: &mut Client<'_>, method: Method, path: &str, if_match: Option<&str>, body: Value) -> TestResponse {
    let token = csrf(client).await;
    let mut headers = vec![("content-type", "application/json"), ("x-csrf-token", token.as_str())];
    if let Some(etag) = if_match {
        headers.push(("if-match", etag));
    }
    client.send(method, path, &headers, body.to_string().into()).await
}

/// Dates outside the stated range answer 422 on both databases: before,
/// some panicked (no response at all), some were stored on SQLite and
/// refused by PostgreSQL with a 500, and one was stored on PostgreSQL and
/// then broke every later read of the couple's sessions.
async fn dates_outside_the_range_are_refused(app: TestApp) {
    let mut w = World::build(&app).await;
    let base = format!("/api/v1/couples/{}", w.couple);
    let c = w.client(Actor::CareTeam);

    for to in ["-9999-01-01", "1899-12-31", "2100-01-01"] {
        let res = c.get(&format!("{base}/recovery-contract/days?to={to}")).await;
        assert_refused(&res, &format!("days?to={to}"));
    }
    let res = c.get(&format!("{base}/recovery-contract/days?from=1900-01-01&to=1900-01-14")).await;
    assert_eq!(res.status, StatusCode::OK, "the earliest day is accepted: {}", res.text());

    for starts_at in ["9999-12-31T20:00:00-05:00", "0000-01-01T00:00:00+05:00", "1899-12-31T23:59:59Z"] {
        let mut body = session("joint", None, "Room 2");
        body["starts_at"] = json!(starts_at);
        let res = send(c, Method::POST, &format!("{base}/sessions"), None, body).await;
        assert_refused(&res, starts_at);
    }
    let res = c.get(&format!("{base}/sessions")).await;
    assert_eq!(res.status, StatusCode::OK, "the couple's sessions still read: {}", res.text());

    for from in ["9999-12-31T23:59:59-23:59", "1000-01-01T00:00:00Z"] {
        let res = w.client(Actor::Supervisor).get(&format!("/api/v1/access-events?from={}", from.replace('+', "%2B"))).await;
        assert_refused(&res, from);
    }
    let c = w.client(Actor::CareTeam);

    let lapse = json!({"partner": "a", "occurred_on": "-5000-01-01", "days": 1, "substance": "alcohol",
        "reported_by": "self", "kind": "lapse", "audience": "couple"});
    assert_refused(&send(c, Method::POST, &format!("{base}/lapses"), None, lapse).await, "lapse occurred_on");
    let milestone = json!({"title": "A year", "achieved_on": "-5000-01-01", "audience": "couple"});
    assert_refused(&send(c, Method::POST, &format!("{base}/milestones"), None, milestone).await, "milestone achieved_on");
    let couple = json!({"label": "Old", "status": "active", "secrets_policy": "individual_confidential",
        "care_started_on": "-5000-01-01",
        "partner_a": {"recovery_role": "in_recovery", "full_name": "A"},
        "partner_b": {"recovery_role": "supporting", "full_name": "B"}});
    assert_refused(&send(c, Method::POST, "/api/v1/couples", None, couple).await, "care_started_on");
    for day in ["-5000-01-01", "1899-12-31"] {
        let res = send(c, Method::PUT, &format!("{base}/recovery-contract/days/{day}"), None, json!({"partner": "a", "trust_discussion": true})).await;
        assert_refused(&res, &format!("contract day {day}"));
    }
    // None of them was stored.
    let sessions = entity::therapy_sessions::Entity::find().all(&app.db).await.unwrap();
    assert!(sessions.iter().all(|s| (1900..=2100).contains(&s.starts_at.year())), "{sessions:?}");
    let lapses = entity::lapses::Entity::find().all(&app.db).await.unwrap();
    assert!(lapses.iter().all(|l| l.occurred_on.year() >= 1900), "{lapses:?}");
    let days = entity::contract_checkins::Entity::find().all(&app.db).await.unwrap();
    assert!(days.iter().all(|d| d.day.year() >= 1900), "{days:?}");

    // The schema states the range, so a client can know it before asking.
    let doc = app.client().get("/api/openapi.json").await.text();
    assert!(doc.contains("1900-01-01") && doc.contains("2099-12-31"), "the OpenAPI document states the date range");
}

/// NUL and other control characters answer 422 wherever text comes in:
/// JSON bodies, forms, query strings and paths. Before, a token named
/// "a\u0000b" was created on SQLite and PostgreSQL answered 500, and the
/// query and path cases answered 500 on PostgreSQL.
async fn control_characters_are_refused(app: TestApp) {
    let practice = app.practice("ctrl").await;
    let mut admin = practice.admin;
    let (_, secret) = admin.create_token("t").await;
    let mut script = Client::with_bearer(&app, &secret);
    for name in ["a\u{0}b", "a\nb", "tab\there", "del\u{7f}", "c1\u{85}"] {
        let res = script.send(Method::POST, "/api/v1/tokens", &[("content-type", "application/json")], json!({"name": name, "expires_in_days": 30}).to_string().into()).await;
        assert_refused(&res, &format!("token name {name:?}"));
    }
    let res = script.get("/api/v1/access-events?action=%00").await;
    assert_refused(&res, "action=%00");

    // Pages: an error page a person can read, not a 500.
    for path in ["/sign-in?practice=%00", "/p/%00/sign-in", "/p/ctrl%01/sign-in"] {
        let res = app.client().get(path).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {}", res.text());
        assert!(res.header("content-type").unwrap().starts_with("text/html"), "{path}");
        assert!(res.text().contains("control character"), "{path}: {}", res.text());
    }
    let res = admin.submit("/tokens", "/tokens", &[("name", "a\u{0}b"), ("expires_in_days", "30")]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text());
    assert!(res.header("content-type").unwrap().starts_with("text/html"));

    let listed = script.get("/api/v1/tokens").await.text();
    assert!(!listed.contains("a\\u0000b"), "no token was named with a NUL: {listed}");
}

/// Multi-line text keeps its line breaks and tabs; only other control
/// characters are refused.
async fn multi_line_text_keeps_line_breaks(app: TestApp) {
    let mut w = World::build(&app).await;
    let base = format!("/api/v1/couples/{}", w.couple);
    let c = w.client(Actor::CareTeam);
    let res = send(c, Method::POST, &format!("{base}/private-notes"), None, json!({"text": "line one\nline two\tindented"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let res = send(c, Method::POST, &format!("{base}/private-notes"), None, json!({"text": "bell\u{7}"})).await;
    assert_refused(&res, "a bell in a note");
    let res = send(c, Method::POST, &format!("{base}/private-notes"), None, json!({"text": "nul\u{0}"})).await;
    assert_refused(&res, "a NUL in a note");
}

/// A 2 MiB form is too large (413), as a 2 MiB JSON body is; before, 400.
async fn oversized_forms_are_refused_with_413(app: TestApp) {
    let practice = app.practice("bigform").await;
    let mut admin = practice.admin;
    let huge = "x".repeat(2 * 1024 * 1024);
    let res = admin.submit("/tokens", "/tokens", &[("name", &huge), ("expires_in_days", "30")]).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", &res.text()[..res.text().len().min(500)]);
}

/// A compressed body or another character set is refused, not misread.
/// Before, `Content-Encoding: gzip` with a plain body and
/// `charset=iso-8859-1` were accepted silently.
async fn undecodable_bodies_are_refused_with_415(app: TestApp) {
    let practice = app.practice("enc").await;
    let mut admin = practice.admin;
    let (_, secret) = admin.create_token("t").await;
    let mut script = Client::with_bearer(&app, &secret);
    let body = json!({"name": "x", "expires_in_days": 30}).to_string();
    for headers in [
        vec![("content-type", "application/json"), ("content-encoding", "gzip")],
        vec![("content-type", "application/json; charset=iso-8859-1")],
    ] {
        let res = script.send(Method::POST, "/api/v1/tokens", &headers, body.clone().into()).await;
        assert_eq!(res.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{headers:?}: {}", res.text());
        assert_eq!(res.header("content-type"), Some("application/problem+json"));
    }
    let res = script.send(Method::POST, "/api/v1/tokens", &[("content-type", "application/json; charset=utf-8")], body.into()).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
}

/// A body is an object: serde alone would read a struct from an array of
/// its fields in order (`[null, null]` as a check-off with no date or note).
async fn a_body_that_is_not_an_object_is_refused(app: TestApp) {
    let mut w = World::build(&app).await;
    let base = format!("/api/v1/couples/{}", w.couple);
    for body in [json!([null, null]), json!(["2026-12-01"]), json!("text"), json!(7)] {
        let res = send(w.client(Actor::CareTeam), Method::POST, &format!("{base}/lapses"), None, body.clone()).await;
        assert_refused(&res, &body.to_string());
        assert_eq!(res.json()["errors"][0]["field"], "body", "{}", res.text());
    }
}

both!(a_body_that_is_not_an_object_is_refused, undecodable_bodies_are_refused_with_415, dates_outside_the_range_are_refused, control_characters_are_refused, multi_line_text_keeps_line_breaks, oversized_forms_are_refused_with_413);

use sea_orm::EntityTrait;
