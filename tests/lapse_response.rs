//! The live lapse-response timeline: recording a lapse starts the plan's
//! steps with due times; the person a step belongs to marks it done (with
//! If-Match); partners see only steps of lapses shared with them; overdue
//! steps reach the dashboard; the session-prep PDF and the couple page name
//! the step actually due.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime, format_description::well_known::Rfc3339};
use tandem::clock::Clock;
use uuid::Uuid;

use crate::{
    both,
    clinical_world::{Actor, World, csrf},
    helpers::*,
};

fn at(v: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(v.as_str().unwrap_or_else(|| panic!("a time: {v}")), &Rfc3339).unwrap()
}

/// Every value of a column as stored.
async fn raw_column(app: &TestApp, table: &str, column: &str) -> Vec<String> {
    use sea_orm::{ConnectionTrait, Statement};
    let db = &app.db;
    let sql = format!("SELECT {column} FROM {table}");
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
    rows.iter().map(|r| r.try_get_by_index::<String>(0).unwrap()).collect()
}

fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// PUT with If-Match, as the caller's own session would send it.
async fn put(client: &mut Client<'_>, path: &str, etag: &str, body: Value) -> TestResponse {
    let token = csrf(client).await;
    let mut headers = vec![("content-type", "application/json"), ("x-csrf-token", token.as_str())];
    if !etag.is_empty() {
        headers.push(("if-match", etag));
    }
    client.send(Method::PUT, path, &headers, body.to_string().into()).await
}

fn step<'v>(steps: &'v Value, action: &str) -> &'v Value {
    steps["items"].as_array().unwrap().iter().find(|s| s["action"] == action).unwrap_or_else(|| panic!("no step {action} in {steps}"))
}

async fn a_lapse_starts_the_plan_timeline_for_the_people_it_names(app: TestApp) {
    let mut w = World::build(&app).await;
    let base = format!("/api/v1/couples/{}", w.couple);
    let plan = json!({
        "lapse_response": {"items": [
            {"when": "immediately", "who": "partner_in_recovery", "action": "A_FIRST_DAY"},
            {"when": "immediately", "who": "counselor", "action": "COUNSELOR_CALL"},
            {"when": "first_week", "who": "supporting_partner", "action": "B_FIRST_WEEK"},
            {"when": "first_month", "who": "partner_in_recovery", "action": "A_FIRST_MONTH"}], "audience": "couple"}
    });
    let res = put(w.client(Actor::CareTeam), &format!("{base}/plan"), "\"1\"", plan).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let recorded = app.clock.now();
    let today = w.today;
    let lapse = |audience: &str| json!({"partner": "a", "occurred_on": today, "substance": "alcohol", "reported_by": "self", "kind": "lapse", "audience": audience});
    let (shared, own) = (lapse("couple"), lapse("partner_a"));
    let shared = w.client(Actor::CareTeam).json(Method::POST, &format!("{base}/lapses"), Some(shared)).await.json()["id"].as_str().unwrap().to_owned();
    let own = w.client(Actor::CareTeam).json(Method::POST, &format!("{base}/lapses"), Some(own)).await.json()["id"].as_str().unwrap().to_owned();

    // Each step of the plan, owned as the plan says, due from the recording
    // (the lapse is today's): 24 hours, then 7 and 30 local days.
    let steps = w.client(Actor::CareTeam).get(&format!("{base}/lapse-steps?lapse_id={shared}")).await.json();
    assert_eq!(steps["items"].as_array().unwrap().len(), 4, "{steps}");
    assert_eq!(step(&steps, "A_FIRST_DAY")["owner"], "a");
    assert_eq!(step(&steps, "COUNSELOR_CALL")["owner"], Value::Null);
    assert_eq!(step(&steps, "B_FIRST_WEEK")["owner"], "b");
    let first = at(&step(&steps, "A_FIRST_DAY")["due_at"]);
    assert!((first - (recorded + Duration::hours(24))).abs() < Duration::seconds(2), "{first} vs {recorded}");
    let week = at(&step(&steps, "B_FIRST_WEEK")["due_at"]);
    assert!((week - first - Duration::days(6)).abs() <= Duration::hours(1));
    let month = at(&step(&steps, "A_FIRST_MONTH")["due_at"]);
    assert!((month - first - Duration::days(29)).abs() <= Duration::hours(1));

    // A partner sees the steps of lapses shared with them, and nothing of the others.
    let own_steps = w.client(Actor::CareTeam).get(&format!("{base}/lapse-steps?lapse_id={own}")).await.json();
    let own_step = own_steps["items"][0]["id"].as_str().unwrap().to_owned();
    for (actor, sees_own) in [(Actor::PartnerA, true), (Actor::PartnerB, false)] {
        let all = w.client(actor).get(&format!("{base}/lapse-steps?limit=200")).await.json();
        let lapses: Vec<&str> = all["items"].as_array().unwrap().iter().map(|s| s["lapse_id"].as_str().unwrap()).collect();
        assert!(lapses.contains(&shared.as_str()), "{actor:?}: {all}");
        assert_eq!(lapses.contains(&own.as_str()), sees_own, "{actor:?}: {all}");
        assert_eq!(lapses.contains(&w.a_lapse.to_string().as_str()), sees_own, "{actor:?}: {all}");
        let one = w.client(actor).get(&format!("{base}/lapse-steps/{own_step}")).await;
        assert_eq!(one.status, if sees_own { StatusCode::OK } else { StatusCode::NOT_FOUND }, "{actor:?}");
    }

    // Only its owner marks a step done, at the version they saw.
    let a_step = step(&steps, "A_FIRST_DAY")["id"].as_str().unwrap().to_owned();
    let path = format!("{base}/lapse-steps/{a_step}");
    let done = json!({"done": true});
    assert_eq!(put(w.client(Actor::PartnerB), &path, "\"1\"", done.clone()).await.status, StatusCode::FORBIDDEN);
    assert_eq!(put(w.client(Actor::CareTeam), &path, "\"1\"", done.clone()).await.status, StatusCode::FORBIDDEN);
    assert_eq!(put(w.client(Actor::Supervisor), &path, "\"1\"", done.clone()).await.status, StatusCode::NOT_FOUND);
    assert_eq!(put(w.client(Actor::PartnerA), &path, "", done.clone()).await.status, StatusCode::PRECONDITION_REQUIRED);
    assert_eq!(put(w.client(Actor::PartnerA), &path, "\"7\"", done.clone()).await.status, StatusCode::PRECONDITION_FAILED);
    let res = put(w.client(Actor::PartnerA), &path, "\"1\"", done.clone()).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.header("etag"), Some("\"2\""));
    assert!((at(&res.json()["done_at"]) - recorded).abs() < Duration::seconds(2));
    // The same mark sent again on the old version loses: no lost update.
    assert_eq!(put(w.client(Actor::PartnerA), &path, "\"1\"", json!({"done": false})).await.status, StatusCode::PRECONDITION_FAILED);
    assert!(w.client(Actor::PartnerB).get(&path).await.json()["done_at"].is_string(), "the other partner sees it done");

    // A corrected lapse kept to partner A takes its steps from partner B.
    let lapse_now = w.client(Actor::CareTeam).get(&format!("{base}/lapses/{shared}")).await;
    let etag = lapse_now.header("etag").unwrap().to_owned();
    let mut body = lapse("partner_a");
    body["substance"] = json!("alcohol");
    let res = put(w.client(Actor::CareTeam), &format!("{base}/lapses/{shared}"), &etag, body).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let b_sees = w.client(Actor::PartnerB).get(&format!("{base}/lapse-steps?lapse_id={shared}")).await.json();
    assert_eq!(b_sees["items"].as_array().unwrap().len(), 0, "{b_sees}");
    assert_eq!(w.client(Actor::PartnerB).get(&path).await.status, StatusCode::NOT_FOUND);
}

async fn overdue_steps_reach_the_dashboard_and_the_prep_summary(app: TestApp) {
    let mut w = World::build(&app).await;
    let base = format!("/api/v1/couples/{}", w.couple);
    let plan = json!({
        "lapse_response": {"items": [
            {"when": "immediately", "who": "counselor", "action": "COUNSELOR_CALL"},
            {"when": "first_week", "who": "supporting_partner", "action": "B_FIRST_WEEK"}], "audience": "couple"}
    });
    assert_eq!(put(w.client(Actor::CareTeam), &format!("{base}/plan"), "\"1\"", plan).await.status, StatusCode::OK);
    // A lapse three days ago, recorded today: its first day is over.
    let lapse = json!({"partner": "a", "occurred_on": w.today - Duration::days(3), "substance": "alcohol", "reported_by": "self", "kind": "lapse", "audience": "couple"});
    let res = w.client(Actor::CareTeam).json(Method::POST, &format!("{base}/lapses"), Some(lapse)).await;
    let lapse: Uuid = res.json()["id"].as_str().unwrap().parse().unwrap();
    let steps = w.client(Actor::CareTeam).get(&format!("{base}/lapse-steps?lapse_id={lapse}")).await.json();
    let call = step(&steps, "COUNSELOR_CALL").clone();
    assert!(at(&call["due_at"]) < app.clock.now(), "due a day after the lapse's day: {call}");

    let dashboard = w.client(Actor::CareTeam).get("/dashboard").await.text();
    assert!(dashboard.contains("Overdue lapse-response steps") && dashboard.contains("COUNSELOR_CALL"), "{dashboard}");
    assert!(!dashboard.contains("B_FIRST_WEEK"), "a step not yet due is not overdue");

    let summary = w.client(Actor::CareTeam).get(&format!("{base}/summary.pdf")).await;
    assert_eq!(summary.status, StatusCode::OK);
    let text = flat(&crate::pdfs::pdf_text(&summary.body));
    assert!(text.contains("Lapse response under way"), "{text}");
    assert!(text.contains("Counselor: COUNSELOR_CALL (OVERDUE since"), "{text}");
    assert!(text.contains("Marisol Reyes: B_FIRST_WEEK (due"), "{text}");
    assert!(!text.contains("If a lapse happens"), "the plan's static list gives way to the live timeline: {text}");

    // The counselor marks theirs done from the couple page.
    let page = format!("/couples/{}", w.couple);
    let html = w.client(Actor::CareTeam).get(&page).await.text();
    assert!(html.contains("Lapse response under way") && html.contains("Overdue"), "{html}");
    let version = call["version"].to_string();
    let id = call["id"].as_str().unwrap();
    let res = w.client(Actor::CareTeam).submit(&page, &format!("{page}/lapse-steps/{id}"), &[("version", &version), ("done", "1")]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert!(w.client(Actor::CareTeam).get(&format!("{base}/lapse-steps/{id}")).await.json()["done_at"].is_string());
    let dashboard = w.client(Actor::CareTeam).get("/dashboard").await.text();
    assert!(!dashboard.contains("COUNSELOR_CALL"), "done steps leave the dashboard");

    // Partner B's page offers B's step to mark, partner A's does not; a week on it is overdue.
    let b_page = w.client(Actor::PartnerB).get(&page).await.text();
    assert!(b_page.contains("Mark done<span class=\"visually-hidden\">: B_FIRST_WEEK"), "{b_page}");
    let a_page = w.client(Actor::PartnerA).get(&page).await.text();
    assert!(a_page.contains("B_FIRST_WEEK") && !a_page.contains("Mark done<span class=\"visually-hidden\">: B_FIRST_WEEK"), "{a_page}");
    // On the portal a partner's own steps read "You", the other's by name.
    assert!(b_page.contains("You: B_FIRST_WEEK") && !b_page.contains("Marisol Reyes: B_FIRST_WEEK"), "{b_page}");
    assert!(a_page.contains("Marisol Reyes: B_FIRST_WEEK") && !a_page.contains("You: B_FIRST_WEEK"), "{a_page}");
    app.clock.advance(Duration::days(7));
    // A week on, the counselor signs in again.
    let mut casey = app.client();
    casey.sign_in("harbor", "casey@harbor.example", PASSWORD).await;
    let dashboard = casey.get("/dashboard").await.text();
    assert!(dashboard.contains("B_FIRST_WEEK"), "{dashboard}");
    // Sealed at rest.
    let stored = raw_column(&app, "lapse_steps", "action").await;
    assert!(!stored.is_empty() && !stored.iter().any(|v| v.contains("B_FIRST_WEEK")));
}

both!(a_lapse_starts_the_plan_timeline_for_the_people_it_names);
both!(overdue_steps_reach_the_dashboard_and_the_prep_summary);

/// `tandem demo`: the slip of a few days ago has its timeline half done (the
/// first day's steps done, the week's and month's open), the old lapse's
/// timeline all done, and the counselor can prepare the next session.
#[tokio::test]
async fn the_demo_slip_has_its_timeline_half_done() {
    let _watchdog = Watchdog::start();
    let app = TestApp::sqlite().await;
    let demo = tandem::demo::load(&app.state).await.unwrap_or_else(|e| panic!("{e:?}"));
    let c = demo.accounts.iter().find(|a| a.role == "counselor").unwrap();
    let mut counselor = app.client();
    assert_eq!(counselor.sign_in("riverside", c.email, &c.password).await.status, StatusCode::SEE_OTHER);
    let couple = counselor.get("/api/v1/couples").await.json()["items"][0]["id"].as_str().unwrap().to_owned();
    let open = counselor.get(&format!("/api/v1/couples/{couple}/lapse-steps?open=true&limit=200")).await.json();
    let open = open["items"].as_array().unwrap();
    assert_eq!(open.len(), 6, "the recent slip's week and month: {open:?}");
    assert!(open.iter().all(|s| s["when"] != "immediately"));
    let all = counselor.get(&format!("/api/v1/couples/{couple}/lapse-steps?limit=200")).await.json();
    assert_eq!(all["items"].as_array().unwrap().len(), 18, "nine steps for each of the two lapses");
    let page = counselor.get(&format!("/couples/{couple}")).await.text();
    assert!(page.contains("Lapse response under way") && page.contains("Due next"), "{page}");
    assert!(page.contains("/prep\">Prepare"), "{page}");
}
