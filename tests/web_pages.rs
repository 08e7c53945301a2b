//! The clinical web pages without a browser: what each reader gets, one
//! access event per page, forms that keep what was typed, and the edit that
//! lost a race. (tests/browser.rs walks the same pages in Chromium.)

use axum::http::{Method, StatusCode};
use sea_orm::{EntityTrait, PaginatorTrait, QueryOrder};
use serde_json::json;

use crate::{
    both,
    clinical_world::{Actor, World, assert_no_leak},
    helpers::*,
};

async fn events(app: &TestApp) -> Vec<entity::access_events::Model> {
    entity::access_events::Entity::find()
        .order_by_asc(entity::access_events::Column::Seq)
        .all(&app.db)
        .await
        .unwrap()
}

/// Every page about the couple, as each kind of reader gets it: nothing
/// outside their audience, and a refusal for those with no relation.
async fn pages_hold_what_each_reader_may_see(app: TestApp) {
    let mut world = World::build(&app).await;
    let c = world.couple;
    let pages = [
        "/dashboard".to_owned(),
        format!("/couples/{c}"),
        format!("/couples/{c}/notes/{}", world.signed_note),
        format!("/couples/{c}/notes/{}", world.draft_note),
        format!("/couples/{c}/plan/edit"),
        format!("/couples/{c}/lapses/{}/edit", world.a_lapse),
        format!("/couples/{c}/safety-plans/{}/edit", world.b_safety_plan),
    ];
    for actor in Actor::ALL {
        for page in &pages {
            let res = world.client(actor).get(page).await;
            assert_no_leak(actor, page, &res.text());
            let edit = page.ends_with("/edit");
            let draft = page.contains(&world.draft_note.to_string());
            let expected = match actor {
                Actor::Anonymous => StatusCode::SEE_OTHER,
                _ if page == "/dashboard" => StatusCode::OK,
                Actor::CareTeam => StatusCode::OK,
                Actor::Supervisor if !edit => StatusCode::OK,
                Actor::PartnerA | Actor::PartnerB if !edit && !draft => StatusCode::OK,
                _ => StatusCode::NOT_FOUND,
            };
            assert_eq!(res.status, expected, "{actor:?} {page}: {}", res.text());
        }
    }
    // The partner's page shows what is shared with them.
    let page = world.client(Actor::PartnerA).get(&format!("/couples/{c}")).await.text();
    assert!(page.contains("Shared plan"), "the shared part of the signed note");
    assert!(page.contains("Who viewed your records"));
}

/// A page view and a form post each leave one event; a form with errors is
/// shown again with what was typed, changes nothing and is logged as failed.
async fn one_event_per_page_and_forms_keep_input(app: TestApp) {
    let mut world = World::build(&app).await;
    let c = world.couple;
    let counselor = world.client(Actor::CareTeam);

    let before = events(&app).await.len();
    counselor.get(&format!("/couples/{c}")).await;
    let after = events(&app).await;
    assert_eq!(after.len(), before + 1);
    let e = after.last().unwrap();
    assert_eq!((e.action.as_str(), e.record_kind.as_deref(), e.outcome.as_str()), ("view", Some("couple"), "success"));
    assert_eq!(e.couple_id, Some(c));

    let boundaries_before = entity::boundaries::Entity::find().count(&app.db).await.unwrap();
    let form = format!("/couples/{c}/boundaries/new");
    let typed = "If money goes missing <b>again</b>, I will open my own account.";
    let res = counselor
        .submit(&form, &format!("/couples/{c}/boundaries"), &[("holder", "partner_b"), ("category", "money"), ("statement", typed), ("consequence", ""), ("audience", "couple")])
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text());
    let body = res.text();
    assert!(body.contains("If money goes missing &#60;b&#62;again&#60;/b&#62;, I will open my own account."), "the statement is kept, escaped: {body}");
    assert!(body.contains("consequence-error") || body.contains("this is required"), "a message for the empty field: {body}");
    assert_eq!(entity::boundaries::Entity::find().count(&app.db).await.unwrap(), boundaries_before);
    assert_eq!(events(&app).await.last().unwrap().outcome, "failed");

    let before = events(&app).await.len();
    let res = counselor
        .submit(&form, &format!("/couples/{c}/boundaries"), &[("holder", "partner_b"), ("category", "money"), ("statement", typed), ("consequence", "We talk in session."), ("audience", "couple")])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let after = events(&app).await;
    // The form page and the post: one event each.
    assert_eq!(after.len(), before + 2);
    let e = after.last().unwrap();
    assert_eq!((e.action.as_str(), e.record_kind.as_deref(), e.outcome.as_str()), ("create", Some("boundary"), "success"));
    let created = e.record_id.expect("the event names the new boundary");
    assert!(entity::boundaries::Entity::find_by_id(created).one(&app.db).await.unwrap().is_some());
}

/// Two counselors edit the plan at once. The second save does not overwrite
/// the first: it comes back with both versions and the typed text, and
/// saving again is a deliberate choice.
async fn an_edit_that_lost_a_race_shows_both_versions(app: TestApp) {
    let mut world = World::build(&app).await;
    let c = world.couple;
    let counselor = world.client(Actor::CareTeam);
    let form_page = counselor.get(&format!("/couples/{c}/plan/edit")).await;
    assert_eq!(form_page.status, StatusCode::OK);
    let version = form_page.text().split("name=\"version\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();

    // Meanwhile the plan changes through the API.
    let current = counselor.json(Method::GET, &format!("/api/v1/couples/{c}/plan"), None).await;
    let etag = current.header("etag").unwrap().to_owned();
    let mut content = current.json()["content"].clone();
    content["coping_strategies"] = json!({"items": ["Their strategy: call Luis"], "audience": "couple"});
    let token = counselor.get("/tokens").await.csrf_token();
    let res = counselor
        .send(
            Method::PUT,
            &format!("/api/v1/couples/{c}/plan"),
            &[("content-type", "application/json"), ("if-match", &etag), ("x-csrf-token", &token)],
            content.to_string().into(),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());

    let mine = [
        ("version", version.as_str()),
        ("coping_strategies", "My strategy: urge surfing"),
        ("coping_strategies_audience", "couple"),
        ("reasons_for_recovery_audience", "couple"),
        ("daily_habits_audience", "couple"),
        ("meetings_and_medications_audience", "couple"),
        ("supporting_partner_care_audience", "partner_b"),
        ("high_risk_situations_audience", "couple"),
        ("warning_signs_audience", "couple"),
        ("support_people_audience", "couple"),
        ("lapse_response_audience", "couple"),
    ];
    let res = counselor.submit(&format!("/couples/{c}/plan/edit"), &format!("/couples/{c}/plan"), &mine).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text());
    let body = res.text();
    assert!(body.contains("Their strategy: call Luis"), "their version is shown: {body}");
    assert!(body.contains("My strategy: urge surfing"), "my text is kept: {body}");
    let now_version = body.split("name=\"version\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    assert_ne!(now_version, version, "saving again replaces the version shown");
    let plan = counselor.json(Method::GET, &format!("/api/v1/couples/{c}/plan"), None).await.json();
    assert_eq!(plan["content"]["coping_strategies"]["items"], json!(["Their strategy: call Luis"]), "nothing was overwritten");

    let mut again = mine.to_vec();
    again[0] = ("version", now_version.as_str());
    let res = counselor.submit(&format!("/couples/{c}/plan/edit"), &format!("/couples/{c}/plan"), &again).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let plan = counselor.json(Method::GET, &format!("/api/v1/couples/{c}/plan"), None).await.json();
    assert_eq!(plan["content"]["coping_strategies"]["items"], json!(["My strategy: urge surfing"]));
}

both!(pages_hold_what_each_reader_may_see, one_event_per_page_and_forms_keep_input, an_edit_that_lost_a_race_shows_both_versions);

/// The smaller forms: the couple's and partners' details (a saved partner
/// keeps their portal account), a private note only its author reads, a
/// milestone to celebrate, and a boundary kept.
async fn details_private_notes_milestones_and_boundary_log(app: TestApp) {
    let mut world = World::build(&app).await;
    let c = world.couple;
    let boundary = world.shared_boundary;
    let partner_a_account = world.partner_a_member.to_string();
    let counselor = world.client(Actor::CareTeam);

    let edit = format!("/couples/{c}/edit");
    let page = counselor.get(&edit).await.text();
    let version = |page: &str, nth: usize| page.split("name=\"version\" value=\"").nth(nth).unwrap().split('"').next().unwrap().to_owned();
    let partner_version = version(&page, 2);
    let account = page.split("name=\"partner_a.member_id\">").nth(1).unwrap().split("\" selected").next().unwrap().rsplit("value=\"").next().unwrap().to_owned();
    assert_eq!(account, partner_a_account, "partner A's portal account is preselected");
    let res = counselor
        .submit(&edit, &format!("/couples/{c}/partners/a"), &[
            ("version", &partner_version),
            ("partner_a.recovery_role", "in_recovery"),
            ("partner_a.full_name", "Daniel Okafor"),
            ("partner_a.preferred_name", "Danny"),
            ("partner_a.member_id", &account),
        ])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let couple = counselor.json(Method::GET, &format!("/api/v1/couples/{c}"), None).await.json();
    assert_eq!(couple["partners"][0]["preferred_name"], "Danny");
    assert_eq!(couple["partners"][0]["has_portal_account"], true, "saving the form keeps the portal account");
    // The same form again, from the version it was loaded at: someone saved first.
    let res = counselor
        .submit(&edit, &format!("/couples/{c}/partners/a"), &[("version", &partner_version), ("partner_a.recovery_role", "in_recovery"), ("partner_a.full_name", "Daniel Okafor")])
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text());
    // A partner's form that does not save comes back holding what was sent,
    // in that partner's form only; the other partner's shows what is stored.
    let page = counselor.get(&edit).await.text();
    let res = counselor
        .submit(&edit, &format!("/couples/{c}/partners/b"), &[
            ("version", &version(&page, 3)),
            ("partner_b.recovery_role", "supporting"),
            ("partner_b.full_name", ""),
            ("partner_b.preferred_name", "Sent for B"),
        ])
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text());
    let page = res.text();
    let form_of = |slot: &str| page.split(&format!("name=\"partner_{slot}.preferred_name\" value=\"")).nth(1).unwrap().split('"').next().unwrap().to_owned();
    assert_eq!(form_of("b"), "Sent for B");
    assert_eq!(form_of("a"), "Danny");

    let res = counselor
        .submit(&format!("/couples/{c}/private-notes/new"), &format!("/couples/{c}/private-notes"), &[("version", ""), ("text", "Only mine: wonder about shame")])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert!(counselor.get(&format!("/couples/{c}")).await.text().contains("Only mine: wonder about shame"));

    let res = counselor
        .submit(&format!("/couples/{c}/milestones/new"), &format!("/couples/{c}/milestones"), &[("text", "A weekend away together"), ("on", "2026-11-01"), ("choice", "couple")])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let res = counselor
        .submit(&format!("/couples/{c}/boundaries/{boundary}/events/new"), &format!("/couples/{c}/boundaries/{boundary}/events"), &[("choice", "kept"), ("on", ""), ("text", "")])
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "a date is needed: {}", res.text());
    let res = counselor
        .submit(&format!("/couples/{c}/boundaries/{boundary}/events/new"), &format!("/couples/{c}/boundaries/{boundary}/events"), &[("choice", "kept"), ("on", "2026-11-02"), ("text", "Texted before the party")])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());

    let supervisor = world.client(Actor::Supervisor).get(&format!("/couples/{c}")).await.text();
    assert!(!supervisor.contains("Only mine"), "a private note is its author's alone");
    let partner = world.client(Actor::PartnerA).get(&format!("/couples/{c}")).await.text();
    assert!(partner.contains("A weekend away together"), "the partner sees the milestone");
    assert!(partner.contains("kept 1 time, tested 0 times"), "and the boundary's log");
    assert!(!partner.contains("Only mine"));
}

both!(details_private_notes_milestones_and_boundary_log);

/// The recovery contract: the care team changes it (a stale save is caught),
/// a partner checks off their own day, and the calendar shows it.
async fn the_recovery_contract_and_its_calendar(app: TestApp) {
    let mut world = World::build(&app).await;
    let c = world.couple;
    let today = world.today;
    let counselor = world.client(Actor::CareTeam);
    let edit = format!("/couples/{c}/recovery-contract/edit");
    let page = counselor.get(&edit).await.text();
    let version = page.split("name=\"version\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let fields = |v: &str| {
        vec![
            ("version", v.to_owned()),
            ("intention_statement", "I intend not to drink today. Thank you for listening.".to_owned()),
            ("meetings", "AA Tuesday\nAA Thursday".to_owned()),
            ("audience", "couple".to_owned()),
        ]
    };
    let sent = fields(&version);
    let sent: Vec<(&str, &str)> = sent.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = counselor.submit(&edit, &format!("/couples/{c}/recovery-contract"), &sent).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let res = counselor.submit(&edit, &format!("/couples/{c}/recovery-contract"), &sent).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "the same version twice: {}", res.text());
    assert!(res.text().contains("AA Thursday"), "the typed text is kept");

    let partner = world.client(Actor::PartnerA);
    let page = format!("/couples/{c}/recovery-contract");
    let res = partner.submit(&page, &format!("/couples/{c}/recovery-contract/days/{today}"), &[("trust_discussion", "yes"), ("meeting_attended", "yes"), ("note", "")]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let calendar = partner.get(&page).await.text();
    assert!(calendar.contains("trust discussion, meeting"), "{calendar}");
    // A partner checks off only their own day.
    let res = partner.submit(&page, &format!("/couples/{c}/recovery-contract/days/{today}"), &[("partner", "b"), ("trust_discussion", "yes")]).await;
    assert_ne!(res.status, StatusCode::SEE_OTHER, "partner A ticked partner B's day");
}

both!(the_recovery_contract_and_its_calendar);

/// The daily check-in shows the day's answers, so checking in again keeps
/// what was not changed; the two days before today can be corrected, and
/// the earlier answer is kept. Before, the form was blank every time and a
/// second check-in replaced "trust discussion, meeting, medication" with
/// "trust discussion".
async fn the_daily_check_in_keeps_answers(app: TestApp) {
    let mut world = World::build(&app).await;
    let c = world.couple;
    let today = world.today;
    let yesterday = today.previous_day().unwrap();
    let partner = world.client(Actor::PartnerA);
    let page = format!("/couples/{c}/recovery-contract");
    let today_action = format!("/couples/{c}/recovery-contract/days/{today}");
    let first = [("trust_discussion", "yes"), ("meeting_attended", "yes"), ("medication_taken", "yes"), ("test", ""), ("note", "first")];
    let res = partner.submit(&page, &today_action, &first).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());

    let form = partner.get(&page).await.text();
    assert!(form.contains(r#"name="trust_discussion" value="yes" checked"#), "{form}");
    assert!(form.contains(r#"<option value="yes" selected>Went</option>"#), "{form}");
    assert!(form.contains(r#"<option value="yes" selected>Taken</option>"#), "{form}");
    assert!(form.contains(r#"value="first""#), "{form}");
    // Again, as a browser sends the filled form with only the note changed.
    let again = [("trust_discussion", "yes"), ("meeting_attended", "yes"), ("medication_taken", "yes"), ("test", ""), ("note", "second")];
    partner.submit(&page, &today_action, &again).await;
    let calendar = partner.get(&page).await.text();
    assert!(calendar.contains("trust discussion, meeting, medication"), "{calendar}");
    let revisions = || async { entity::contract_checkin_revisions::Entity::find().all(&app.db).await.unwrap() };
    assert_eq!(revisions().await.len(), 1, "the first answer is kept");
    // Saving the same answers changes nothing.
    partner.submit(&page, &today_action, &again).await;
    assert_eq!(revisions().await.len(), 1);

    // Yesterday can be corrected; what was said first stays in the history.
    let correct = format!("{page}?day={yesterday}");
    let form = partner.get(&correct).await.text();
    assert!(form.contains(&format!("/recovery-contract/days/{yesterday}\"")), "{form}");
    let yesterday_action = format!("/couples/{c}/recovery-contract/days/{yesterday}");
    partner.submit(&correct, &yesterday_action, &[("trust_discussion", "yes")]).await;
    let res = partner.submit(&correct, &yesterday_action, &[("meeting_attended", "no")]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let kept = revisions().await;
    assert_eq!(kept.len(), 2);
    // The history is clinical text too: sealed, and opened with the practice's key.
    let cipher = app.state.vault.practice(&app.db, kept[0].practice_id).await.unwrap();
    let opened: Vec<String> =
        kept.iter().map(|r| cipher.open(tandem::vault::fields::CHECKIN_REVISION_CONTENT, r.id, &r.content).unwrap()).collect();
    assert!(opened.iter().any(|c| c.contains(r#""trust_discussion":true"#) && c.contains(r#""meeting_attended":null"#)), "{opened:?}");
}

both!(the_daily_check_in_keeps_answers);

/// A couple of `counselor`'s, with a session at `next_week` (plus `i`
/// minutes) and a lapse on `today`.
async fn take_into_care(counselor: &mut Client<'_>, i: i64, next_week: time::OffsetDateTime, today: time::Date) {
    let at = |t: time::OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).unwrap();
    let couple = counselor
        .json(Method::POST, "/api/v1/couples", Some(json!({
            "label": format!("Couple number {i:02}"), "status": "active", "secrets_policy": "no_secrets", "care_started_on": "2026-01-05",
            "partner_a": {"recovery_role": "in_recovery", "full_name": format!("A {i}")},
            "partner_b": {"recovery_role": "supporting", "full_name": format!("B {i}")}
        })))
        .await;
    assert_eq!(couple.status, StatusCode::CREATED, "{}", couple.text());
    let id = couple.json()["id"].as_str().unwrap().to_owned();
    let starts = next_week + time::Duration::minutes(i);
    let session = json!({"starts_at": at(starts), "ends_at": at(starts + time::Duration::minutes(50)), "kind": "joint", "modality": "craft"});
    let res = counselor.json(Method::POST, &format!("/api/v1/couples/{id}/sessions"), Some(session)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    // Kept to the care team: shown to partner B it would need partner A's consent (42 CFR 2.31).
    let lapse = json!({"partner": "a", "occurred_on": today.to_string(), "days": 1, "substance": "alcohol", "reported_by": "self", "kind": "lapse",
        "safety_checked": true, "audience": "clinician"});
    let res = counselor.json(Method::POST, &format!("/api/v1/couples/{id}/lapses"), Some(lapse)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
}

/// The dashboard costs the same number of statements for one couple as for
/// fifty, and lists every couple with its session, lapse and plan review.
async fn the_dashboard_costs_the_same_whatever_the_caseload(app: TestApp) {
    let mut practice = app.practice("caseload").await;
    let (_, mut counselor) = practice.member("blair@caseload.example", &["counselor"]).await;
    let next_week = app.state.clock.now() + time::Duration::days(7);
    let today = next_week.date() - time::Duration::days(7);
    take_into_care(&mut counselor, 0, next_week, today).await;
    let (one, page) = statements_for(&app, &counselor, "/dashboard").await;
    assert!(page.contains("Couple number 00"), "{page}");
    for i in 1..50 {
        take_into_care(&mut counselor, i, next_week, today).await;
    }
    let (fifty, page) = statements_for(&app, &counselor, "/dashboard").await;
    assert_eq!(one, fifty, "statements for 1 couple and for 50");
    for i in 0..50 {
        assert!(page.contains(&format!("Couple number {i:02}")), "couple {i} is listed");
    }
    // Each couple's session next week and its lapse today, none cut off.
    assert_eq!(page.matches("#sessions\">Couple number").count(), 50, "{page}");
    assert_eq!(page.matches("#lapses\">Couple number").count(), 50, "{page}");
}

both!(the_dashboard_costs_the_same_whatever_the_caseload);

/// More sessions than fit on the couple page: the page says so with a link
/// to the rest, and the API's overview gives the cursor of the next page.
async fn the_couple_page_and_overview_cut_nothing_off(app: TestApp) {
    let mut world = World::build(&app).await;
    let c = world.couple;
    let counselor = world.client(Actor::CareTeam);
    // The world has two sessions; 26 more make 28, three more than a page.
    for i in 0..26 {
        let res = counselor
            .json(Method::POST, &format!("/api/v1/couples/{c}/sessions"), Some(crate::clinical_world::session("joint", None, &format!("Room {i}"))))
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    }
    let first = counselor.get(&format!("/couples/{c}")).await.text();
    assert_eq!(first.matches("Write a note").count(), 25, "{first}");
    let older = first.split("href=\"").find(|h| h.contains("?sessions=")).expect("a link to older sessions").split('"').next().unwrap().to_owned();
    let second = counselor.get(&older).await;
    assert_eq!(second.status, StatusCode::OK);
    let second = second.text();
    // Three sessions, but the world's joint session has its notes already:
    // a session gets one note, so it is not offered again.
    assert_eq!(second.matches("Change<span class=\"visually-hidden\"> the session of").count(), 3, "{second}");
    assert_eq!(second.matches("Write a note").count(), 2, "{second}");
    assert!(second.contains("Newest sessions"), "a way back: {second}");
    assert!(!second.contains("Older sessions"), "{second}");

    // Paging one list keeps the others where they are: with sessions on
    // their second page, "Older private notes" keeps the sessions' cursor.
    let joint = world.joint_session;
    let counselor = world.client(Actor::CareTeam);
    for i in 0..25 {
        let body = json!({"text": format!("Thought {i}"), "session_id": joint});
        assert_eq!(counselor.json(Method::POST, &format!("/api/v1/couples/{c}/private-notes"), Some(body)).await.status, StatusCode::CREATED);
    }
    let second = counselor.get(&older).await.text();
    let sessions_cursor = older.split("sessions=").nth(1).unwrap().split(['&', '#']).next().unwrap().to_owned();
    let notes_link = second.split("href=\"").find(|h| h.contains("private_notes=")).expect("a link to older private notes").split('"').next().unwrap().to_owned();
    assert!(notes_link.contains(&format!("sessions={sessions_cursor}")), "{notes_link}");
    let both_paged = counselor.get(&notes_link.replace("&amp;", "&").replace("&#38;", "&")).await.text();
    assert!(both_paged.contains("Newest sessions") && both_paged.contains("Newest private notes"), "{both_paged}");

    let overview = counselor.json(Method::GET, &format!("/api/v1/couples/{c}/overview"), None).await;
    assert_eq!(overview.status, StatusCode::OK, "{}", overview.text());
    let body = overview.json();
    assert_eq!(body["sessions"]["items"].as_array().unwrap().len(), 25);
    assert_eq!(body["couple"]["id"], json!(c.to_string()));
    let cursor = body["sessions"]["next_cursor"].as_str().expect("more sessions").to_owned();
    let rest = counselor.json(Method::GET, &format!("/api/v1/couples/{c}/overview?sessions={cursor}"), None).await.json();
    assert_eq!(rest["sessions"]["items"].as_array().unwrap().len(), 3);
    assert!(rest["sessions"]["next_cursor"].is_null());
    let bad = counselor.json(Method::GET, &format!("/api/v1/couples/{c}/overview?sessions=yesterday"), None).await;
    assert!(bad.status.is_client_error(), "{}", bad.status);
}

both!(the_couple_page_and_overview_cut_nothing_off);

/// "Write a note" is offered only on a session that has begun and has no
/// note yet (before, it was offered on signed and future sessions alike).
async fn write_a_note_only_where_a_session_needs_one(app: TestApp) {
    let mut world = World::build(&app).await;
    let c = world.couple;
    let (joint, individual) = (world.joint_session, world.b_individual_session);
    let counselor = world.client(Actor::CareTeam);
    let mut future = crate::clinical_world::session("joint", None, "Room 9");
    future["starts_at"] = "2099-01-05T17:00:00Z".into();
    future["ends_at"] = "2099-01-05T17:50:00Z".into();
    let upcoming = crate::clinical_world::created(counselor.json(Method::POST, &format!("/api/v1/couples/{c}/sessions"), Some(future)).await);
    let page = counselor.get(&format!("/couples/{c}")).await.text();
    let offered = |session: uuid::Uuid| page.contains(&format!("/sessions/{session}/notes/new"));
    assert!(offered(individual), "a past session without a note: {page}");
    assert!(!offered(joint), "a session with its note");
    assert!(!offered(upcoming), "a session still to come");
}

both!(write_a_note_only_where_a_session_needs_one);

/// A new note starts with the last signed note's plan and homework in view,
/// so the counselor picks up where the couple left off.
async fn a_new_note_shows_last_sessions_plan_and_homework(app: TestApp) {
    let mut world = World::build(&app).await;
    let c = world.couple;
    let individual = world.b_individual_session;
    let counselor = world.client(Actor::CareTeam);
    let form = counselor.get(&format!("/couples/{c}/sessions/{individual}/notes/new")).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.text());
    let form = form.text();
    assert!(form.contains("From the note of the session of"), "{form}");
    assert!(form.contains("Shared plan SIGNED: daily trust discussion"), "{form}");
    assert!(form.contains("Homework SIGNED: list two warning signs"), "{form}");
    // The draft's text is not carried: only what was signed.
    assert!(!form.contains("CANARY_DRAFT_DATA"), "{form}");
}

both!(a_new_note_shows_last_sessions_plan_and_homework);

/// Switching a new note between SOAP, DAP and BIRP keeps what was typed:
/// a section the new format has keeps its text; one it lacks moves, named,
/// into the new format's first section, under the narrowest audience.
async fn switching_a_notes_format_keeps_the_text(app: TestApp) {
    let mut world = World::build(&app).await;
    let c = world.couple;
    let individual = world.b_individual_session;
    let counselor = world.client(Actor::CareTeam);
    let page = format!("/couples/{c}/sessions/{individual}/notes/new");
    let action = format!("/couples/{c}/sessions/{individual}/notes");
    let typed = [
        ("format", "soap"),
        ("subjective", "Marisol says the week felt calmer"),
        ("subjective_audience", "couple"),
        ("objective", "Both arrived on time"),
        ("objective_audience", "clinician"),
        ("plan", "Keep the trust discussion"),
        ("plan_audience", "couple"),
        ("homework", "Two warning signs each"),
        ("switch_to", "dap"),
    ];
    let res = counselor.submit(&page, &action, &typed).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let form = res.text();
    assert!(form.contains("DAP note for the session of"), "{form}");
    assert!(form.contains("Subjective: Marisol says the week felt calmer") && form.contains("Objective: Both arrived on time"), "{form}");
    assert!(form.contains("Keep the trust discussion") && form.contains("Two warning signs each"), "{form}");
    // Merged text from a couple section and a clinician section: clinician only.
    let data_audience = form.split("id=\"data_audience\"").nth(1).unwrap().split("</select>").next().unwrap().to_owned();
    assert!(data_audience.contains("value=\"clinician\" selected"), "{data_audience}");
    // Nothing was saved.
    let notes = counselor.get(&format!("/api/v1/couples/{c}/sessions/{individual}/notes")).await.json();
    assert_eq!(notes["items"].as_array().unwrap().len(), 0, "{notes}");
}

both!(switching_a_notes_format_keeps_the_text);

/// The week's calendar: each reader sees the sessions their relation and
/// each session's audience allow, with where it takes place; a week is
/// chosen by any of its days, and a day that is not one is refused.
async fn the_calendar_shows_each_reader_their_week(app: TestApp) {
    let mut world = World::build(&app).await;
    let week = "/calendar?week=2026-11-26";
    let counselor = calendar(&mut world, week, Actor::CareTeam).await;
    assert!(counselor.contains("Week of Monday 23 November 2026"), "{counselor}");
    assert!(counselor.contains("Tuesday 24 November 2026"), "{counselor}");
    assert!(counselor.contains("Okafor &#38; Reyes") && counselor.contains("Room 2"), "{counselor}");
    assert!(counselor.contains("CANARY_PARTNER_B_ROOM"), "the care team sees the individual session: {counselor}");
    let a = calendar(&mut world, week, Actor::PartnerA).await;
    assert!(a.contains("Room 2"), "Dan sees the joint session and where: {a}");
    assert!(!a.contains("CANARY_PARTNER_B"), "Dan does not see Marisol's individual session: {a}");
    let b = calendar(&mut world, week, Actor::PartnerB).await;
    assert!(b.contains("CANARY_PARTNER_B_ROOM"), "{b}");
    let stranger = calendar(&mut world, week, Actor::OtherPractice).await;
    assert!(!stranger.contains("Okafor") && !stranger.contains("Room 2"), "{stranger}");
    let other_week = calendar(&mut world, week, Actor::CareTeam).await;
    assert_eq!(other_week, counselor);
    let res = world.client(Actor::CareTeam).get("/calendar?week=26/11/2026").await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text());
    assert!(res.text().contains("like 2026-12-07"), "{}", res.text());
}

async fn calendar(world: &mut World<'_>, week: &str, actor: Actor) -> String {
    let res = world.client(actor).get(week).await;
    assert_eq!(res.status, StatusCode::OK, "{actor:?}: {}", res.text());
    res.text()
}

both!(the_calendar_shows_each_reader_their_week);

/// A partner's page starts with help: the contacts of the safety plans they
/// see (their own first) as links that call and text, and a quick exit that
/// ends the session for a page that gives nothing away. Counselors' pages
/// have no such block; numbers in every safety plan dial.
async fn a_partners_page_puts_help_first(app: TestApp) {
    let mut world = World::build(&app).await;
    let c = world.couple;
    let page = world.client(Actor::PartnerB).get(&format!("/couples/{c}")).await.text();
    let help = page.find("Need help now").expect("a help block");
    assert!(help < page.find("<h1>").unwrap() && help < page.find("Partners").unwrap(), "help comes first: {page}");
    assert!(page.contains("href=\"tel:988\"") && page.contains("href=\"sms:988\""), "{page}");
    // The day's check-in is one tap away.
    let check_in = format!("/couples/{c}/recovery-contract#check-in");
    assert!(page.find(&check_in).is_some_and(|at| at < page.find("<h1>").unwrap()), "{page}");
    assert!(world.client(Actor::PartnerB).get(&format!("/couples/{c}/recovery-contract")).await.text().contains("id=\"check-in\""));
    assert!(!page.contains("<dt>"), "no personal details on a partner's page: {page}");
    let counselor = world.client(Actor::CareTeam).get(&format!("/couples/{c}")).await.text();
    assert!(!counselor.contains("Need help now"), "{counselor}");
    assert!(counselor.contains("href=\"tel:988\""), "numbers dial in the safety plans too: {counselor}");

    let partner = world.client(Actor::PartnerB);
    let token = partner.get(&format!("/couples/{c}")).await.csrf_token();
    let exit = partner.post_form("/quick-exit", &[("csrf_token", token.as_str())]).await;
    assert_eq!(exit.status, StatusCode::OK, "{}", exit.text());
    assert!(exit.text().contains("url=https://www.google.com/search?q=weather") && !exit.text().contains("Tandem"), "{}", exit.text());
    assert!(exit.header("clear-site-data").is_some_and(|v| v.contains("cookies")));
    let after = partner.get("/dashboard").await;
    assert!(after.status.is_redirection() && after.header("location").is_some_and(|l| l.contains("sign-in")), "the session is over: {}", after.status);
}

both!(a_partners_page_puts_help_first);

/// A counselor's dashboard says when someone outside the care team opened
/// emergency access to one of their couples, who and why; nobody else's does.
async fn the_care_team_sees_emergency_access_on_its_dashboard(app: TestApp) {
    let mut world = World::build(&app).await;
    let mine = world.client(Actor::CareTeam).get("/dashboard").await.text();
    assert!(mine.contains("Emergency access to your couples"), "{mine}");
    assert!(mine.contains("Dan called the crisis line; Casey is away.") && mine.contains("not yet reviewed"), "{mine}");
    for actor in [Actor::OtherCounselor, Actor::Supervisor, Actor::PartnerA, Actor::PartnerB] {
        let theirs = world.client(actor).get("/dashboard").await.text();
        assert!(!theirs.contains("crisis line"), "{actor:?}: {theirs}");
    }
}

both!(the_care_team_sees_emergency_access_on_its_dashboard);

/// The plan on a partner's page speaks to that partner: the supporting
/// partner reads her own care first and the other partner's sections under
/// his name; the partner in recovery reads his own as "your".
async fn the_plan_on_a_partners_page_is_written_to_them(app: TestApp) {
    let mut world = World::build(&app).await;
    let c = world.couple;
    let b = world.client(Actor::PartnerB).get(&format!("/couples/{c}")).await.text();
    let care = b.find("<h3>Taking care of yourself</h3>").expect("her own care, addressed to her");
    let reasons = b.find("reasons for recovery</h3>").expect("the reasons, under his name");
    assert!(care < reasons, "{b}");
    assert!(!b.contains("Your reasons for recovery") && !b.contains("own support"), "{b}");
    let a = world.client(Actor::PartnerA).get(&format!("/couples/{c}")).await.text();
    assert!(a.contains("<h3>Your reasons for recovery</h3>"), "{a}");
    assert!(!a.contains("Taking care of yourself"), "{a}");
    let counselor = world.client(Actor::CareTeam).get(&format!("/couples/{c}")).await.text();
    assert!(counselor.contains("<h3>Reasons for recovery</h3>") && counselor.contains("The supporting partner&#39;s own support"), "{counselor}");
}

both!(the_plan_on_a_partners_page_is_written_to_them);

/// The dashboard marks the sessions on the practice's today, in its zone,
/// and no other.
async fn the_dashboard_marks_todays_sessions(app: TestApp) {
    let mut w = crate::clinical_world::World::build(&app).await;
    let zone = "Europe/Berlin";
    // Noon tomorrow in the practice's zone: an hour on is still today there,
    // thirteen hours on is not.
    let now = app.state.clock.now();
    let tomorrow = tandem::display::local_day(now, zone) + time::Duration::days(1);
    let noon = tandem::display::day_start(tomorrow, zone) + time::Duration::hours(12);
    let at = |t: time::OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).unwrap();
    let c = w.couple;
    let mut book = async |hours: i64| -> String {
        let starts = noon + time::Duration::hours(hours);
        let body = json!({"starts_at": at(starts), "ends_at": at(starts + time::Duration::minutes(50)), "kind": "joint", "modality": "behavioral_couples_therapy"});
        let res = w.client(Actor::CareTeam).json(Method::POST, &format!("/api/v1/couples/{c}/sessions"), Some(body)).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
        format!("/sessions/{}/prep", res.json()["id"].as_str().unwrap())
    };
    let (today, later) = (book(1).await, book(13).await);
    // Tomorrow at noon the counselor signs in again.
    app.clock.advance(noon - now);
    let mut casey = app.client();
    casey.sign_in("harbor", "casey@harbor.example", PASSWORD).await;
    let page = casey.get("/dashboard").await.text();
    let line = |prep: &str| page.split("<li>").find(|l| l.contains(prep)).unwrap_or_else(|| panic!("{prep} listed: {page}")).to_owned();
    assert!(line(&today).starts_with("<strong>Today</strong>"), "{}", line(&today));
    assert!(!line(&later).contains("Today"), "{}", line(&later));
}

both!(the_dashboard_marks_todays_sessions);
