//! Personal API tokens: shown once, hashed at rest, expiring, revocable.

use axum::http::{Method, StatusCode};
use sea_orm::{ConnectionTrait, EntityTrait};
use time::Duration;

use crate::{both, helpers::*};

async fn tokens_authenticate_until_revoked(app: TestApp) {
    let practice = app.practice("reed").await;
    let mut admin = practice.admin;
    let (id, secret) = admin.create_token("nightly export").await;
    assert!(secret.starts_with("tdm_"));

    // Stored only as a hash.
    let rows = entity::api_tokens::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_ne!(rows[0].token_hash, secret);
    assert!(!rows[0].token_hash.contains(&secret[4..]));

    let mut script = Client::with_bearer(&app, &secret);
    let me = script.get("/api/v1/me").await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json()["email"], "admin@reed.example");
    // Bearer requests need no CSRF token.
    let res = script
        .send(Method::POST, "/api/v1/tokens", &[("content-type", "application/json")], r#"{"name":"second"}"#.into())
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());

    let list = admin.get("/api/v1/tokens").await;
    assert!(!list.text().contains(&secret), "lists never show the secret");
    assert_eq!(list.json().as_array().unwrap().len(), 2);

    let res = admin.json(Method::DELETE, &format!("/api/v1/tokens/{id}"), None).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert_eq!(script.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
}

async fn tokens_expire(app: TestApp) {
    let practice = app.practice("sedge").await;
    let mut admin = practice.admin;
    let (_, secret) = admin.create_token("short lived").await; // 30 days
    let mut script = Client::with_bearer(&app, &secret);
    app.clock.advance(Duration::days(29));
    assert_eq!(script.get("/api/v1/me").await.status, StatusCode::OK);
    app.clock.advance(Duration::days(2));
    assert_eq!(script.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
}

async fn bad_credentials_never_fall_back_to_the_cookie(app: TestApp) {
    let practice = app.practice("moss").await;
    let mut admin = practice.admin;
    admin.bearer = Some("tdm_not-a-real-token".into());
    let res = admin.get("/api/v1/me").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.header("www-authenticate"), Some("Bearer"));
    admin.bearer = None;
    assert_eq!(admin.get("/api/v1/me").await.status, StatusCode::OK);
}

async fn token_input_is_validated(app: TestApp) {
    let practice = app.practice("fern").await;
    let mut admin = practice.admin;
    let res = admin
        .json(Method::POST, "/api/v1/tokens", Some(serde_json::json!({"name": "", "expires_in_days": 9999})))
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"].as_array().unwrap().len(), 2);
    // Through the page: the secret is shown once, then only its prefix.
    let res = admin.submit("/tokens", "/tokens", &[("name", "backup script"), ("expires_in_days", "7")]).await;
    let html = res.text();
    assert!(html.contains("Copy it now"));
    let start = html.find("tdm_").unwrap();
    let secret = &html[start..start + html[start..].find('<').unwrap()];
    assert_eq!(Client::with_bearer(&app, secret).get("/api/v1/me").await.status, StatusCode::OK);
    let again = admin.get("/tokens").await.text();
    assert!(!again.contains(secret));
    assert!(again.contains("backup script"));
}

/// Once a token has been seen, its practice is remembered, so its next
/// request finds the token, its member and the practice in one statement.
/// On PostgreSQL that statement also tells row-level security the practice
/// and the secret (`tandem_token_holder`), so no statement of its own does.
/// What is remembered opens nothing by itself: every request still checks
/// the token and its member, so a member made inactive, even around the
/// service, is refused on the very next request.
async fn a_remembered_token_is_still_checked_on_every_request(app: TestApp) {
    let practice = app.practice("alder").await;
    let mut admin = practice.admin;
    let (_, secret) = admin.create_token("script").await;
    let (recorded, statements) = recording(&app);
    let mut script = Client::with_bearer(&recorded, &secret);
    assert_eq!(script.get("/api/v1/me").await.status, StatusCode::OK);
    statements.lock().unwrap().clear();
    assert_eq!(script.get("/api/v1/me").await.status, StatusCode::OK);
    let seen = statements.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "statements to authenticate a known token: {seen:#?}");
    if app.db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        assert!(seen[0].contains("tandem_token_holder("), "{seen:#?}");
        // Columns added while the service runs (an upgrade's migration)
        // leave the opening statement working, prepared or not.
        for table in ["api_tokens", "members", "practices"] {
            app.db.execute_unprepared(&format!("ALTER TABLE {table} ADD COLUMN added_later integer")).await.unwrap();
        }
        for _ in 0..4 {
            assert_eq!(script.get("/api/v1/me").await.status, StatusCode::OK);
        }
    }

    deactivate_around_the_service(&app, "admin@alder.example").await;
    assert_eq!(script.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
}

/// A token's read of a couple (`/couples/{id}/...`) is decided as any
/// other read: a counselor on the care team reads, one outside it does not,
/// a supervisor of the care team does, a couple of another practice or none
/// at all is "not found", and a change to the care team or the member holds
/// on the very next request. On PostgreSQL a remembered token's statement
/// also reads the couple it names and whether its member is on the care
/// team (`tandem_token_couple`), so a read of a kept overview is one
/// statement in all.
async fn a_token_read_of_a_couple_is_decided_with_its_token(app: TestApp) {
    let mut practice = app.practice("hazel").await;
    let (casey_id, mut casey) = practice.member("casey@hazel.example", &["counselor"]).await;
    let (drew_id, mut drew) = practice.member("drew@hazel.example", &["counselor"]).await;
    let (sasha_id, mut sasha) = practice.member("sasha@hazel.example", &["supervisor"]).await;
    let couple = casey.create_couple().await["id"].as_str().unwrap().to_owned();
    let res = practice
        .admin
        .json(Method::POST, "/api/v1/supervisions", Some(serde_json::json!({"supervisor_id": sasha_id, "counselor_id": casey_id})))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let mut elsewhere = app.practice("rowan").await;
    let (_, mut olive) = elsewhere.member("olive@rowan.example", &["counselor"]).await;
    let theirs = olive.create_couple().await["id"].as_str().unwrap().to_owned();
    let (_, casey_secret) = casey.create_token("casey's script").await;
    let (_, drew_secret) = drew.create_token("drew's script").await;
    let (_, sasha_secret) = sasha.create_token("sasha's script").await;

    let (recorded, statements) = recording(&app);
    let mut casey_script = Client::with_bearer(&recorded, &casey_secret);
    let mut drew_script = Client::with_bearer(&recorded, &drew_secret);
    let mut sasha_script = Client::with_bearer(&recorded, &sasha_secret);
    let overview = format!("/api/v1/couples/{couple}/overview");
    for _ in 0..2 {
        assert_eq!(casey_script.get(&overview).await.status, StatusCode::OK);
    }
    statements.lock().unwrap().clear();
    let res = casey_script.get(&overview).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json()["couple"]["id"], couple.as_str(), "{}", res.text());
    let seen = statements.lock().unwrap().clone();
    if app.db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        assert_eq!(seen.len(), 1, "statements for a remembered token's read of a kept overview: {seen:#?}");
        assert!(seen[0].contains("tandem_token_couple("), "{seen:#?}");
    }

    // Outside the care team: not found, however often asked.
    for _ in 0..2 {
        assert_eq!(drew_script.get(&overview).await.status, StatusCode::NOT_FOUND);
        assert_eq!(drew_script.get(&format!("/api/v1/couples/{couple}")).await.status, StatusCode::NOT_FOUND);
    }
    // A supervisor of the care team reads.
    for _ in 0..2 {
        let res = sasha_script.get(&overview).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    }
    // Another practice's couple, and no couple at all.
    for path in [format!("/api/v1/couples/{theirs}/overview"), format!("/api/v1/couples/{}/overview", uuid::Uuid::now_v7())] {
        assert_eq!(casey_script.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    // The care team changes: the next read follows it.
    let team = format!("/api/v1/couples/{couple}/care-team");
    let res = casey.json(Method::POST, &team, Some(serde_json::json!({"member_id": drew_id}))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(drew_script.get(&overview).await.status, StatusCode::OK);
    let res = casey.json(Method::DELETE, &format!("{team}/{drew_id}"), None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(drew_script.get(&overview).await.status, StatusCode::NOT_FOUND);
    // So does the member, changed around the service.
    deactivate_around_the_service(&app, "casey@hazel.example").await;
    assert_eq!(casey_script.get(&overview).await.status, StatusCode::UNAUTHORIZED);
}

/// Makes the member with `email` inactive in the database itself, as an
/// operator or another process would, past everything the service remembers.
async fn deactivate_around_the_service(app: &TestApp, email: &str) {
    let sql = match app.db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => "UPDATE members SET active = false WHERE email = $1",
        _ => "UPDATE members SET active = false WHERE email = ?",
    };
    let done = app
        .db
        .execute_raw(sea_orm::Statement::from_sql_and_values(app.db.get_database_backend(), sql, [email.into()]))
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1, "{email}");
}

both!(
    a_token_read_of_a_couple_is_decided_with_its_token,
    tokens_authenticate_until_revoked,
    tokens_expire,
    bad_credentials_never_fall_back_to_the_cookie,
    token_input_is_validated,
    a_remembered_token_is_still_checked_on_every_request
);
