//! Profile, practice settings and members' roles through the pages.

use axum::http::StatusCode;
use sea_orm::EntityTrait;

use crate::{both, helpers::*};

const NEW_PASSWORD: &str = "another quite long password";

fn session_cookie(client: &Client<'_>) -> Option<String> {
    client.cookies.values().next().cloned()
}

async fn changing_the_password_needs_the_current_one_and_ends_other_sessions(app: TestApp) {
    let mut practice = app.practice("fern").await;
    let (id, mut me) = practice.member("robin@fern.example", &["counselor"]).await;
    let mut elsewhere = app.client();
    assert_eq!(elsewhere.sign_in("fern", "robin@fern.example", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let page = me.get("/profile").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("robin@fern.example") && page.text().contains("Counselor"));

    let change = |current: &'static str, new: &'static str, again: &'static str| {
        [("current_password", current), ("new_password", new), ("new_password_again", again)]
    };
    let res = me.submit("/profile", "/profile/password", &change("not my password at all", NEW_PASSWORD, NEW_PASSWORD)).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("this is not your current password"));
    let res = me.submit("/profile", "/profile/password", &change(PASSWORD, NEW_PASSWORD, "something else entirely")).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("type the same new password twice"));
    let res = me.submit("/profile", "/profile/password", &change(PASSWORD, "short", "short")).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("use at least 12 characters"));
    // Without the form's token: refused, nothing changes.
    let res = me.post_form("/profile/password", &change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD)).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(app.client().sign_in("fern", "robin@fern.example", PASSWORD).await.status, StatusCode::SEE_OTHER);

    let before = session_cookie(&me);
    let res = me.submit("/profile", "/profile/password", &change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD)).await;
    assert_eq!((res.status, res.location()), (StatusCode::SEE_OTHER, Some("/profile?saved=password")), "{}", res.text());
    assert_ne!(session_cookie(&me), before, "this browser's session id was rotated");
    // The browser that signed in with the old password elsewhere is no
    // longer a known one; this one still is.
    let hashes = |client: &Client<'_>| -> Vec<String> {
        client.cookies.get("tandem_device").map(|c| c.split('.').map(tandem::secret::hash).collect()).unwrap_or_default()
    };
    let known: Vec<String> = entity::trusted_devices::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|d| d.member_id == id)
        .map(|d| d.token_hash)
        .collect();
    assert!(!hashes(&elsewhere).is_empty() && hashes(&elsewhere).iter().all(|h| !known.contains(h)), "{known:?}");
    assert!(known.iter().all(|h| hashes(&me).contains(h)), "{known:?}");
    let page = me.get("/profile?saved=password").await;
    assert_eq!(page.status, StatusCode::OK, "still signed in here");
    assert!(page.text().contains("Your password has been changed."));
    let other = elsewhere.get("/profile").await;
    assert_eq!((other.status, other.location()), (StatusCode::SEE_OTHER, Some("/sign-in")), "other sessions ended");

    assert_eq!(app.client().sign_in("fern", "robin@fern.example", PASSWORD).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.client().sign_in("fern", "robin@fern.example", NEW_PASSWORD).await.status, StatusCode::SEE_OTHER);

    let events = entity::access_events::Entity::find().all(&app.db).await.unwrap();
    let changes: Vec<_> = events.iter().filter(|e| e.action == "password_change" && e.member_id == Some(id)).collect();
    assert_eq!(changes.len(), 2, "the wrong password and the change");
    assert!(changes.iter().any(|e| e.outcome == "denied") && changes.iter().any(|e| e.outcome == "success"));
}

/// Someone who had the old password may have made an API token: a password
/// change revokes the member's tokens unless they untick it.
async fn a_password_change_revokes_api_tokens_unless_kept(app: TestApp) {
    let mut practice = app.practice("moss").await;
    let (_, mut me) = practice.member("robin@moss.example", &["counselor"]).await;
    let (_, first) = me.create_token("laptop script").await;
    let (_, second) = me.create_token("backup job").await;
    let works = |secret: &str| {
        let secret = secret.to_owned();
        let app = &app;
        async move { Client::with_bearer(app, &secret).get("/api/v1/me").await.status }
    };
    let page = me.get("/profile").await.text();
    assert!(page.contains(r#"name="revoke_tokens" value="on" checked> Also revoke my 2 API tokens"#), "{page}");

    // A refused change keeps the box as it was sent (unticked here).
    let res = me
        .submit("/profile", "/profile/password", &[("current_password", "not my password at all"), ("new_password", NEW_PASSWORD), ("new_password_again", NEW_PASSWORD)])
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains(r#"name="revoke_tokens" value="on">"#), "{}", res.text());

    // Unticked: the tokens stay.
    let res = me
        .submit("/profile", "/profile/password", &[("current_password", PASSWORD), ("new_password", NEW_PASSWORD), ("new_password_again", NEW_PASSWORD)])
        .await;
    assert_eq!(res.location(), Some("/profile?saved=password"), "{}", res.text());
    assert_eq!((works(&first).await, works(&second).await), (StatusCode::OK, StatusCode::OK));

    // Ticked: both end.
    let res = me
        .submit(
            "/profile",
            "/profile/password",
            &[("current_password", NEW_PASSWORD), ("new_password", "a third long password"), ("new_password_again", "a third long password"), ("revoke_tokens", "on")],
        )
        .await;
    assert_eq!(res.location(), Some("/profile?saved=password-and-tokens"), "{}", res.text());
    assert!(me.get("/profile?saved=password-and-tokens").await.text().contains("your API tokens revoked"));
    assert_eq!((works(&first).await, works(&second).await), (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED));
    assert!(!me.get("/profile").await.text().contains("revoke_tokens"), "no tokens left to offer");
}

async fn a_name_is_checked_and_comes_back_escaped(app: TestApp) {
    let mut practice = app.practice("moss").await;
    let res = practice.admin.submit("/profile", "/profile/name", &[("display_name", "   ")]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("enter a name"));
    let script = "<script>alert('x')</script> Ada";
    let res = practice.admin.submit("/profile", "/profile/name", &[("display_name", script)]).await;
    assert_eq!((res.status, res.location()), (StatusCode::SEE_OTHER, Some("/profile?saved=name")));
    for path in ["/profile", "/members"] {
        let page = practice.admin.get(path).await.text();
        assert!(!page.contains("<script>"), "{path}: {page}");
        assert!(page.contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62; Ada"), "{path}: {page}");
    }
    // A refused name comes back escaped too.
    let long = format!("<script>{}</script>", "x".repeat(130));
    let res = practice.admin.submit("/profile", "/profile/name", &[("display_name", &long)]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!res.text().contains("<script>") && res.text().contains("use at most 120 characters"));
}

async fn settings_are_for_admins_and_keep_input_on_error(app: TestApp) {
    let mut practice = app.practice("sage").await;
    let (_, mut counselor) = practice.member("c@sage.example", &["counselor"]).await;
    assert_eq!(counselor.get("/settings").await.status, StatusCode::FORBIDDEN);
    assert!(!counselor.get("/").await.text().contains("href=\"/settings\""));
    let page = practice.admin.get("/settings").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("value=\"Practice sage\"") && page.text().contains("value=\"Europe/Berlin\""));

    let res = practice.admin.submit("/settings", "/settings", &[("name", ""), ("time_zone", "Mars/Olympus")]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let text = res.text();
    assert!(text.contains("enter a name") && text.contains("choose a time zone such as Europe/Berlin"));
    assert!(text.contains("value=\"Mars/Olympus\""), "the input is kept");
    let res = practice.admin.submit("/settings", "/settings", &[("name", "Sage & Stone <Counseling>"), ("time_zone", "Mars/Olympus")]).await;
    assert!(res.text().contains("value=\"Sage &#38; Stone &#60;Counseling&#62;\""));

    let res = practice.admin.submit("/settings", "/settings", &[("name", "Sage Counseling"), ("time_zone", " America/Chicago ")]).await;
    assert_eq!((res.status, res.location()), (StatusCode::SEE_OTHER, Some("/settings?saved=1")));
    let stored = entity::practices::Entity::find_by_id(practice.id).one(&app.db).await.unwrap().unwrap();
    assert_eq!((stored.name.as_str(), stored.time_zone.as_str()), ("Sage Counseling", "America/Chicago"));
    assert!(practice.admin.get("/settings?saved=1").await.text().contains("The settings have been saved."));

    let res = counselor.submit("/profile", "/settings", &[("name", "Mine now"), ("time_zone", "UTC")]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = practice.admin.post_form("/settings", &[("name", "No token"), ("time_zone", "UTC")]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let stored = entity::practices::Entity::find_by_id(practice.id).one(&app.db).await.unwrap().unwrap();
    assert_eq!(stored.name, "Sage Counseling");
}

async fn admins_edit_roles_on_the_members_page_but_keep_an_admin(app: TestApp) {
    let mut practice = app.practice("yew").await;
    let (c_id, mut counselor) = practice.member("c@yew.example", &["counselor"]).await;
    let me = practice.admin.get("/api/v1/me").await.json();
    let admin_id: uuid::Uuid = me["id"].as_str().unwrap().parse().unwrap();

    let res = practice.admin.submit("/members", &format!("/members/{c_id}/roles"), &[("roles", "counselor"), ("roles", "supervisor")]).await;
    assert_eq!((res.status, res.location()), (StatusCode::SEE_OTHER, Some("/members")));
    let view = practice.admin.get(&format!("/api/v1/members/{c_id}")).await.json();
    assert_eq!(view["roles"], serde_json::json!(["counselor", "supervisor"]));
    let events = entity::access_events::Entity::find().all(&app.db).await.unwrap();
    assert!(events.iter().any(|e| e.action == "role_change" && e.record_id == Some(c_id) && e.member_id == Some(admin_id)));

    // Refusals are shown next to that member's form, boxes as they were sent.
    let res = practice.admin.submit("/members", &format!("/members/{c_id}/roles"), &[("roles", "client"), ("roles", "counselor")]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("a client account cannot have other roles"));
    let res = practice.admin.submit("/members", &format!("/members/{admin_id}/roles"), &[("roles", "counselor")]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("You cannot remove your own admin role."));
    assert!(res.text().contains("<details open>"));
    let res = counselor.submit("/profile", &format!("/members/{c_id}/roles"), &[("roles", "admin")]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = practice.admin.post_form(&format!("/members/{c_id}/roles"), &[("roles", "admin")]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "no token, no change");
}

/// Two admins removing each other's admin role at the same moment: the
/// second acts on what it read before the first committed, and must not
/// leave the practice without an admin.
async fn the_last_admin_stays_when_two_admins_act_at_once(app: TestApp) {
    let mut practice = app.practice("elm").await;
    let (c_id, mut second) = practice.member("c@elm.example", &["admin"]).await;
    let admin_id: uuid::Uuid = practice.admin.get("/api/v1/me").await.json()["id"].as_str().unwrap().parse().unwrap();

    // Deterministic: the second admin's request was authorised (as an admin)
    // before the first admin's change landed.
    let (_, secret) = second.create_token("script").await;
    let (mut parts, ()) = axum::http::Request::builder()
        .uri("/api/v1/me")
        .header("authorization", format!("Bearer {secret}"))
        .body(())
        .unwrap()
        .into_parts();
    // Authorised as a request is: in a unit of work of its own.
    let authorised = <tandem::auth::CurrentMember as axum::extract::FromRequestParts<tandem::state::AppState>>::from_request_parts(&mut parts, &app.state);
    let stale = tandem::tenant::scope(authorised).await.0.unwrap();
    let res = practice.admin.submit("/members", &format!("/members/{c_id}/roles"), &[("roles", "counselor")]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "the first removal goes through");
    let roles = tandem::practice::Roles::one(tandem::practice::Role::Counselor);
    // As a request would: one unit of work acting in the practice.
    let err = tandem::tenant::within(practice.id, tandem::practice::members::set_roles(&app.state, &stale, admin_id, roles, None, &Default::default()))
        .await
        .expect_err("the last admin stays");
    assert!(err.to_string().contains("at least one active admin"), "{err}");
    assert_eq!(practice.admin.get("/api/v1/me").await.json()["roles"], serde_json::json!(["admin"]));

    // Through the pages, at the same time (how the requests interleave is up
    // to the scheduler; either way one admin must be left).
    let res = practice.admin.submit("/members", &format!("/members/{c_id}/roles"), &[("roles", "admin")]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let a_token = practice.admin.get("/members").await.csrf_token();
    let c_token = second.get("/members").await.csrf_token();
    let (a_path, c_path) = (format!("/members/{c_id}/roles"), format!("/members/{admin_id}/roles"));
    let a_form = [("csrf_token", a_token.as_str()), ("roles", "counselor")];
    let c_form = [("csrf_token", c_token.as_str()), ("roles", "counselor")];
    let (by_a, by_c) = tokio::join!(practice.admin.post_form(&a_path, &a_form), second.post_form(&c_path, &c_form));
    let mut statuses = [by_a.status, by_c.status];
    statuses.sort();
    assert_eq!(statuses[0], StatusCode::SEE_OTHER, "one removal goes through");
    assert!(matches!(statuses[1], StatusCode::FORBIDDEN | StatusCode::UNPROCESSABLE_ENTITY), "{statuses:?}");
    let admins = entity::members::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.practice_id == practice.id && m.active && m.roles.split(',').any(|r| r == "admin"))
        .count();
    assert_eq!(admins, 1);
    let refused = if by_a.status == StatusCode::SEE_OTHER { by_c } else { by_a };
    if refused.status == StatusCode::UNPROCESSABLE_ENTITY {
        assert!(refused.text().contains("at least one active admin"), "{}", refused.text());
    }
}

both!(
    changing_the_password_needs_the_current_one_and_ends_other_sessions,
    a_password_change_revokes_api_tokens_unless_kept,
    a_name_is_checked_and_comes_back_escaped,
    settings_are_for_admins_and_keep_input_on_error,
    admins_edit_roles_on_the_members_page_but_keep_an_admin,
    the_last_admin_stays_when_two_admins_act_at_once,
);
