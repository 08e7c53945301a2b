//! Error format, request ids, security headers, CSRF, and what logs may carry.

use axum::http::{Method, StatusCode};

use crate::{both, helpers::*};

async fn api_errors_are_problem_json(app: TestApp) {
    let practice = app.practice("iris").await;
    let mut admin = practice.admin;
    let (_, secret) = admin.create_token("t").await;
    let mut script = Client::with_bearer(&app, &secret);

    let res = script.get("/api/v1/no-such-thing").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.header("content-type"), Some("application/problem+json"));
    let body = res.json();
    assert_eq!(body["status"], 404);
    assert_eq!(body["title"], "Not Found");

    let res = script
        .send(Method::POST, "/api/v1/tokens", &[("content-type", "application/json")], "{not json".into())
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.header("content-type"), Some("application/problem+json"));

    let res = script
        .send(Method::POST, "/api/v1/tokens", &[("content-type", "application/json")], r#"{"name": 5}"#.into())
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.json()["detail"].as_str().unwrap().contains("name"), "{}", res.text());

    let res = script
        .send(Method::POST, "/api/v1/tokens", &[("content-type", "application/json")], r#"{"name": "x", "admin": true}"#.into())
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "unknown fields are refused");

    // Pages get an HTML error page instead.
    let page = admin.get("/no-such-page").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.header("content-type").unwrap().starts_with("text/html"));
    // A malformed id in a page's address too (before: a problem+json 404).
    let page = admin.get("/couples/not-a-uuid").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.header("content-type").unwrap().starts_with("text/html"), "{}", page.text());
}

async fn every_response_has_a_request_id_and_safe_headers(app: TestApp) {
    let mut client = app.client();
    for path in ["/sign-in", "/api/v1/me", "/healthz", "/nowhere"] {
        let res = client.get(path).await;
        let id = res.header("x-request-id").unwrap_or_else(|| panic!("{path}: no request id"));
        assert!(uuid::Uuid::parse_str(id).is_ok());
        assert_eq!(res.header("cache-control"), Some("no-store"), "{path}");
        assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
        assert!(res.header("content-security-policy").unwrap().contains("default-src 'none'"));
    }
    // An incoming request id is kept, so a proxy's id follows the request.
    let res = client
        .send(Method::GET, "/healthz", &[("x-request-id", "edge-1234")], axum::body::Body::empty())
        .await;
    assert_eq!(res.header("x-request-id"), Some("edge-1234"));
}

async fn forms_and_cookie_api_calls_need_the_csrf_token(app: TestApp) {
    let mut practice = app.practice("lily").await;
    let (id, _) = practice.member("c@lily.example", &["counselor"]).await;
    let admin = &mut practice.admin;
    // A form without the token.
    let res = admin.post_form(&format!("/members/{id}/deactivate"), &[]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // A form with the token but sent from another site.
    let token = admin.get("/members").await.csrf_token();
    let res = admin
        .send(
            Method::POST,
            &format!("/members/{id}/deactivate"),
            &[("content-type", "application/x-www-form-urlencoded"), ("sec-fetch-site", "cross-site")],
            format!("csrf_token={token}").into(),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = admin
        .send(
            Method::POST,
            &format!("/members/{id}/deactivate"),
            &[("content-type", "application/x-www-form-urlencoded"), ("origin", "https://evil.example")],
            format!("csrf_token={token}").into(),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // The API with only the cookie.
    let res = admin
        .send(Method::POST, &format!("/api/v1/members/{id}/deactivate"), &[("content-type", "application/json")], "{}".into())
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(res.header("content-type"), Some("application/problem+json"));
    // Nothing happened.
    assert_eq!(admin.get(&format!("/api/v1/members/{id}")).await.json()["active"], true);
    // Same-origin with the token works.
    let res = admin
        .send(
            Method::POST,
            &format!("/members/{id}/deactivate"),
            &[("content-type", "application/x-www-form-urlencoded"), ("sec-fetch-site", "same-origin"), ("origin", "http://127.0.0.1:8080")],
            format!("csrf_token={token}").into(),
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
}

both!(api_errors_are_problem_json, every_response_has_a_request_id_and_safe_headers, forms_and_cookie_api_calls_need_the_csrf_token);

/// Runs a sign-in, token use and an invitation, then looks for their
/// secrets in everything the suite has logged with the production filter.
#[tokio::test]
async fn logs_carry_no_passwords_tokens_or_cookies() {
    let _watchdog = Watchdog::start();
    if std::env::var_os("TEST_LOG").is_some() {
        // The logs go to the terminal, not to the capture this test reads.
        skip("TEST_LOG is set");
        return;
    }
    let app = TestApp::sqlite().await;
    let mut practice = app.practice("logs").await;
    let link = practice.admin.invite("someone@logs.example", &["counselor"]).await;
    let (_, secret) = practice.admin.create_token("t").await;
    Client::with_bearer(&app, &secret).get("/api/v1/me").await;
    let mut browser = app.client();
    browser.sign_in("logs", "admin@logs.example", "a wrong password, logged?").await;
    browser.sign_in("logs", "admin@logs.example", PASSWORD).await;
    let cookie = browser.cookies.get("tandem_session").unwrap().clone();
    // Clinical traffic too: a couple, notes, plans, lapses, PDFs, a failure.
    let mut w = crate::clinical_world::World::build(&app).await;
    let base = format!("/api/v1/couples/{}", w.couple);
    for path in ["", "/notes", "/plan", "/lapses", "/summary.pdf", "/nope"] {
        w.client(crate::clinical_world::Actor::CareTeam).get(&format!("{base}{path}")).await;
    }

    let logs = captured_logs();
    assert!(logs.contains("signed in"), "the capture saw the requests");
    assert!(logs.contains("request_id") && logs.contains("/api/v1/me"), "spans carry request id and route: {}", &logs[logs.len().saturating_sub(2000)..]);
    let token_part = link.rsplit('/').next().unwrap();
    for secret_text in [PASSWORD, "a wrong password, logged?", &secret, &secret[4..], token_part, &cookie, "admin@logs.example",
        "CANARY_", "Okafor", "Marisol", "daily trust discussion", "dan@home.example"] {
        assert!(!logs.contains(secret_text), "logs contain {secret_text:?}");
    }
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413() {
    let _watchdog = Watchdog::start();
    let app = TestApp::sqlite().await;
    let practice = app.practice("big").await;
    let mut admin = practice.admin;
    let (_, secret) = admin.create_token("t").await;
    let huge = format!(r#"{{"name": "{}"}}"#, "x".repeat(2 * 1024 * 1024));
    let res = Client::with_bearer(&app, &secret)
        .send(Method::POST, "/api/v1/tokens", &[("content-type", "application/json")], huge.into())
        .await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(res.header("content-type"), Some("application/problem+json"));
    let doc = app.client().get("/api/openapi.json").await.json();
    assert!(doc["info"]["description"].as_str().unwrap().contains("at most 20,000"), "limits are published");
}

/// Every error an operation can answer is in the OpenAPI document, with the
/// content type it is sent with. Before, error bodies were declared as
/// application/json, and 401, 503 and most 400/422 answers were missing.
#[tokio::test]
async fn the_openapi_document_declares_every_error_as_problem_json() {
    let _watchdog = Watchdog::start();
    let app = TestApp::sqlite().await;
    let doc = app.client().get("/api/openapi.json").await.json();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            operations += 1;
            let responses = operation["responses"].as_object().unwrap();
            for status in ["401", "500", "503"] {
                assert!(responses.contains_key(status), "{method} {path} does not declare {status}");
            }
            assert!(responses["503"]["headers"].get("Retry-After").is_some(), "{method} {path}: 503 without Retry-After");
            if operation.get("requestBody").is_some() {
                for status in ["400", "413", "422"] {
                    assert!(responses.contains_key(status), "{method} {path} takes a body but does not declare {status}");
                }
            }
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let types: Vec<&String> = response["content"].as_object().map(|c| c.keys().collect()).unwrap_or_default();
                    assert_eq!(types, ["application/problem+json"], "{method} {path} {status}");
                }
            }
        }
    }
    assert!(operations > 40, "the document lists the API ({operations} operations)");
}
