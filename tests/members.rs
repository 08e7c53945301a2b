//! Admins manage members: deactivate, reactivate, roles.

use axum::http::{Method, StatusCode};

use crate::{both, helpers::*};

async fn deactivation_ends_sessions_and_tokens_and_can_be_undone(app: TestApp) {
    let mut practice = app.practice("lime").await;
    let (id, mut counselor) = practice.member("c@lime.example", &["counselor"]).await;
    let (_, secret) = counselor.create_token("reports").await;
    let mut script = Client::with_bearer(&app, &secret);
    assert_eq!(script.get("/api/v1/me").await.status, StatusCode::OK);

    let res = practice.admin.submit("/members", &format!("/members/{id}/deactivate"), &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(counselor.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(script.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
    let member = practice.admin.get(&format!("/api/v1/members/{id}")).await.json();
    assert_eq!(member["active"], false);

    let res = practice.admin.json(Method::POST, &format!("/api/v1/members/{id}/reactivate"), None).await;
    assert_eq!(res.json()["active"], true);
    let res = app.client().sign_in("lime", "c@lime.example", PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    // Revoked tokens stay revoked.
    assert_eq!(script.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
}

async fn admins_cannot_lock_themselves_out(app: TestApp) {
    let mut practice = app.practice("teak").await;
    let me = practice.admin.get("/api/v1/me").await.json();
    let id = me["id"].as_str().unwrap();
    let res = practice.admin.json(Method::POST, &format!("/api/v1/members/{id}/deactivate"), None).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    let res = practice
        .admin
        .json(Method::PUT, &format!("/api/v1/members/{id}/roles"), Some(serde_json::json!({"roles": ["counselor"]})))
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    // A solo admin gives herself a role only with her password (who_can_see_what.rs).
    let res = practice
        .admin
        .json(
            Method::PUT,
            &format!("/api/v1/members/{id}/roles"),
            Some(serde_json::json!({"roles": ["admin", "counselor"], "password": PASSWORD})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json()["roles"], serde_json::json!(["admin", "counselor"]));
}

async fn only_admins_see_members(app: TestApp) {
    let mut practice = app.practice("palm").await;
    let (_, mut client) = practice.member("partner@palm.example", &["client"]).await;
    assert_eq!(client.get("/api/v1/members").await.status, StatusCode::FORBIDDEN);
    assert_eq!(client.get("/members").await.status, StatusCode::FORBIDDEN);
    let page = practice.admin.get("/members").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("partner@palm.example"));
}

both!(
    deactivation_ends_sessions_and_tokens_and_can_be_undone,
    admins_cannot_lock_themselves_out,
    only_admins_see_members,
);
