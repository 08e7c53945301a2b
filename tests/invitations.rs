//! Invitation links: single use, expiring, withdrawable, admin-only.

use axum::http::{Method, StatusCode};
use time::Duration;

use crate::{both, helpers::*};

async fn an_invitation_works_once(app: TestApp) {
    let mut practice = app.practice("birch").await;
    let link = practice.admin.invite("Counselor@Birch.example", &["counselor", "supervisor"]).await;
    let path = link_path(&link);

    let mut invitee = app.client();
    let page = invitee.get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("counselor@birch.example"));
    assert!(page.text().contains("Counselor, Supervisor"));
    invitee.accept_invitation(&link, "Sam Rivera").await;
    let me = invitee.get("/api/v1/me").await.json();
    assert_eq!(me["roles"], serde_json::json!(["counselor", "supervisor"]));
    assert_eq!(me["display_name"], "Sam Rivera");

    // Used: the page and a replayed form both refuse, and no second member appears.
    let mut replay = app.client();
    assert_eq!(replay.get(&path).await.status, StatusCode::CONFLICT);
    let csrf = replay.get("/sign-in").await.csrf_token();
    let res = replay
        .post_form(&path, &[("csrf_token", &csrf), ("display_name", "Mallory"), ("password", PASSWORD)])
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    let members = practice.admin.get("/api/v1/members").await.json();
    assert_eq!(members.as_array().unwrap().len(), 2);
    let invitations = practice.admin.get("/api/v1/invitations").await.json();
    assert_eq!(invitations[0]["status"], "accepted");
}

async fn invitations_expire(app: TestApp) {
    let mut practice = app.practice("maple").await;
    let link = practice.admin.invite("late@maple.example", &["client"]).await;
    // The admin's browser session will have timed out; a token outlives it.
    let (_, secret) = practice.admin.create_token("check").await;
    app.clock.advance(Duration::hours(73));
    let mut invitee = app.client();
    let page = invitee.get(&link_path(&link)).await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(page.text().contains("has expired"));
    let invitations = Client::with_bearer(&app, &secret).get("/api/v1/invitations").await.json();
    assert_eq!(invitations[0]["status"], "expired");
}

async fn withdrawn_invitations_stop_working(app: TestApp) {
    let mut practice = app.practice("alder").await;
    let link = practice.admin.invite("x@alder.example", &["counselor"]).await;
    let id = practice.admin.get("/api/v1/invitations").await.json()[0]["id"].as_str().unwrap().to_owned();
    let res = practice.admin.json(Method::DELETE, &format!("/api/v1/invitations/{id}"), None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json()["status"], "revoked");
    assert_eq!(app.client().get(&link_path(&link)).await.status, StatusCode::CONFLICT);
}

async fn invitations_are_for_admins_and_validated(app: TestApp) {
    let mut practice = app.practice("rowan").await;
    let (_, mut counselor) = practice.member("c@rowan.example", &["counselor"]).await;
    let res = counselor
        .json(Method::POST, "/api/v1/invitations", Some(serde_json::json!({"email": "a@b.example", "roles": ["admin"]})))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    let res = practice
        .admin
        .json(Method::POST, "/api/v1/invitations", Some(serde_json::json!({"email": "nope", "roles": ["client", "admin"]})))
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.header("content-type"), Some("application/problem+json"));
    let fields: Vec<String> =
        res.json()["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect();
    assert_eq!(fields, ["email", "roles"]);

    // An email already in use is a conflict naming the field.
    let res = practice
        .admin
        .json(Method::POST, "/api/v1/invitations", Some(serde_json::json!({"email": "C@rowan.example", "roles": ["client"]})))
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert!(res.json()["detail"].as_str().unwrap().starts_with("email:"));
}

async fn admins_invite_through_the_members_page(app: TestApp) {
    let mut practice = app.practice("hazel").await;
    let res = practice
        .admin
        .submit("/members", "/members/invite", &[("email", "new@hazel.example"), ("roles", "counselor"), ("roles", "supervisor")])
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let html = res.text();
    let start = html.find("http://").expect("the link is shown once");
    let link = &html[start..start + html[start..].find('<').unwrap()];
    let mut invitee = app.client();
    invitee.accept_invitation(link, "New Person").await;
    assert_eq!(invitee.get("/api/v1/me").await.json()["roles"], serde_json::json!(["counselor", "supervisor"]));

    // A bad submission keeps the input and says what is wrong.
    let res = practice.admin.submit("/members", "/members/invite", &[("email", "bad@")]).await;
    let html = res.text();
    assert!(html.contains("value=\"bad@\""));
    assert!(html.contains("enter an email address") && html.contains("choose at least one role"));
}

both!(
    an_invitation_works_once,
    invitations_expire,
    withdrawn_invitations_stop_working,
    invitations_are_for_admins_and_validated,
    admins_invite_through_the_members_page,
);
