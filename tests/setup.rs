//! The one-time setup link printed on first start, and practice creation from the CLI path.

use axum::http::StatusCode;
use tandem::practice::setup;

use crate::{both, helpers::*};

async fn setup_link(app: &TestApp) -> String {
    setup::issue_setup_link(&app.state).await.unwrap().expect("empty database issues a link")
}

fn setup_fields<'a>(slug: &'a str, email: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("practice_name", "Riverside Couples Counseling"),
        ("slug", slug),
        ("time_zone", "America/Chicago"),
        ("display_name", "Zoë Ñúñez-Øberg"),
        ("email", email),
        ("password", PASSWORD),
    ]
}

async fn setup_link_creates_practice_and_admin_once(app: TestApp) {
    let link = setup_link(&app).await;
    let path = link_path(&link);
    let token = path.split("token=").nth(1).unwrap().to_owned();
    let mut browser = app.client();

    let mut fields = setup_fields("riverside", "Owner@Riverside.example");
    fields.push(("token", &token));
    let res = browser.submit(&path, "/setup", &fields).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());

    let me = browser.get("/api/v1/me").await.json();
    assert_eq!(me["email"], "owner@riverside.example");
    assert_eq!(me["display_name"], "Zoë Ñúñez-Øberg");
    assert_eq!(me["roles"], serde_json::json!(["admin"]));
    assert_eq!(me["practice"]["slug"], "riverside");
    assert_eq!(me["practice"]["time_zone"], "America/Chicago");

    // The link is spent: the page says so, and a replayed form creates nothing.
    let mut other = app.client();
    let page = other.get(&path).await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(page.text().contains("has been used or has expired"));
    let sign_in_page = other.get("/sign-in").await;
    let mut replay = setup_fields("second", "intruder@evil.example");
    let csrf = sign_in_page.csrf_token();
    replay.push(("token", &token));
    replay.push(("csrf_token", &csrf));
    let res = other.post_form("/setup", &replay).await;
    assert!(res.text().contains("has been used or has expired"), "{}", res.text());
    assert_eq!(setup::practice_count(&app.db).await.unwrap(), 1);

    // With a practice in place no new link is issued.
    assert!(setup::issue_setup_link(&app.state).await.unwrap().is_none());
}

async fn setup_link_expires(app: TestApp) {
    let link = setup_link(&app).await;
    app.clock.advance(time::Duration::hours(25));
    let res = app.client().get(&link_path(&link)).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
}

async fn a_new_setup_link_replaces_the_old_one(app: TestApp) {
    let first = setup_link(&app).await;
    let second = setup_link(&app).await;
    assert_eq!(app.client().get(&link_path(&first)).await.status, StatusCode::CONFLICT);
    assert_eq!(app.client().get(&link_path(&second)).await.status, StatusCode::OK);
}

async fn setup_form_keeps_input_and_names_bad_fields(app: TestApp) {
    let link = setup_link(&app).await;
    let path = link_path(&link);
    let token = path.split("token=").nth(1).unwrap().to_owned();
    let mut browser = app.client();
    let res = browser
        .submit(
            &path,
            "/setup",
            &[
                ("token", &token),
                ("practice_name", "Riverside <script>alert(1)</script>"),
                ("slug", "Not A Slug!"),
                ("time_zone", "Mars/Olympus"),
                ("display_name", "Ana"),
                ("email", "not-an-email"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let html = res.text();
    for message in ["lower-case letters", "choose a time zone", "enter an email address", "at least 12 characters"] {
        assert!(html.contains(message), "missing {message:?}");
    }
    // Input is kept, and escaped.
    assert!(html.contains("Riverside &#60;script&#62;") || html.contains("Riverside &lt;script&gt;"), "{html}");
    assert!(!html.contains("<script>alert(1)</script>"));
    assert_eq!(setup::practice_count(&app.db).await.unwrap(), 0);
    // The link is still good after a failed attempt.
    assert_eq!(browser.get(&path).await.status, StatusCode::OK);
}

async fn cli_practice_create_invites_the_first_admin(app: TestApp) {
    let practice = app.practice("harbor").await;
    let mut admin = practice.admin;
    let me = admin.get("/api/v1/me").await.json();
    assert_eq!(me["roles"], serde_json::json!(["admin"]));
    assert_eq!(me["practice"]["slug"], "harbor");
    // Slugs are unique.
    let err = tandem::practice::setup::create_from_cli(
        &app.state,
        tandem::practice::setup::NewPractice { name: "Other".into(), slug: "harbor".into(), time_zone: "UTC".into() },
        tandem::practice::Email::parse("x@y.example").unwrap(),
    )
    .await
    .expect_err("duplicate slug refused");
    assert_eq!(err.status(), StatusCode::CONFLICT);
}

both!(
    setup_link_creates_practice_and_admin_once,
    setup_link_expires,
    a_new_setup_link_replaces_the_old_one,
    setup_form_keeps_input_and_names_bad_fields,
    cli_practice_create_invites_the_first_admin,
);
