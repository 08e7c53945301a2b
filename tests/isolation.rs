//! Nothing crosses practices: a member of practice B gets 404 for every id
//! of practice A, on every route that takes one, and nothing in A changes.

use axum::http::{Method, StatusCode};

use crate::{both, helpers::*};

/// Every non-clinical route with an id, as (method, path template).
const ID_ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/v1/members/{id}"),
    ("POST", "/api/v1/members/{id}/deactivate"),
    ("POST", "/api/v1/members/{id}/reactivate"),
    ("PUT", "/api/v1/members/{id}/roles"),
    ("DELETE", "/api/v1/invitations/{id}"),
    ("DELETE", "/api/v1/tokens/{id}"),
    ("DELETE", "/api/v1/supervisions/{id}"),
    ("GET", "/api/v1/identity-providers/{id}"),
    ("PUT", "/api/v1/identity-providers/{id}"),
    ("POST", "/members/{id}/deactivate"),
    ("POST", "/members/{id}/reactivate"),
    ("POST", "/invitations/{id}/revoke"),
    ("POST", "/tokens/{id}/revoke"),
    ("POST", "/identity-providers/{id}"),
];

/// A route added with a path parameter but not listed above fails this
/// test, so the cross-practice check below cannot silently miss it. API routes
/// come from the OpenAPI document (clinical ones are walked by the
/// authorization matrix instead); page routes from the page router's source.
#[tokio::test]
async fn every_route_with_an_id_is_covered() {
    let _watchdog = Watchdog::start();
    let app = TestApp::sqlite().await;
    let doc = app.client().get("/api/openapi.json").await.json();
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let clinical = op["tags"].as_array().is_some_and(|t| t.iter().any(|t| t == "clinical"));
            if path.contains('{') && !clinical {
                found.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    let source = std::fs::read_to_string("src/web/mod.rs").unwrap();
    for line in source.lines().filter(|l| l.contains(".route(\"")) {
        let path = line.split('"').nth(1).unwrap();
        if path.contains("{id}") {
            found.push(("POST".into(), path.to_owned()));
        }
    }
    assert!(found.len() >= 10, "{found:?}");
    for (method, path) in &found {
        assert!(
            ID_ROUTES.iter().any(|(m, p)| m == method && p == path),
            "{method} {path} takes an id but is not in ID_ROUTES"
        );
    }
}

async fn foreign_ids_answer_not_found(app: TestApp) {
    let mut a = app.practice("alpha").await;
    let (a_member, mut a_counselor) = a.member("c@alpha.example", &["counselor"]).await;
    a.admin.invite("pending@alpha.example", &["client"]).await;
    let a_invitation = a.admin.get("/api/v1/invitations").await.json()[0]["id"].as_str().unwrap().to_owned();
    let (a_token, a_secret) = a_counselor.create_token("alpha script").await;

    let b = app.practice("beta").await;
    let mut b_admin = b.admin;
    let (_, b_secret) = b_admin.create_token("beta script").await;

    let a_supervision = {
        let (sup, _) = a.member("s@alpha.example", &["supervisor"]).await;
        let res = a
            .admin
            .json(Method::POST, "/api/v1/supervisions", Some(serde_json::json!({"supervisor_id": sup, "counselor_id": a_member})))
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
        res.json()["id"].as_str().unwrap().to_owned()
    };
    let a_provider = {
        let res = a.admin.json(Method::POST, "/api/v1/identity-providers", Some(provider_body("Alpha login"))).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
        res.json()["id"].as_str().unwrap().to_owned()
    };
    let id_for = |path: &str| -> String {
        if path.contains("identity-providers") {
            a_provider.clone()
        } else if path.contains("supervisions") {
            a_supervision.clone()
        } else if path.contains("invitations") {
            a_invitation.clone()
        } else if path.contains("tokens") {
            a_token.to_string()
        } else {
            a_member.to_string()
        }
    };

    for (method, template) in ID_ROUTES {
        let path = template.replace("{id}", &id_for(template));
        let method: Method = method.parse().unwrap();
        let res = if path.starts_with("/api/") {
            let body = match (&method, path.contains("identity-providers")) {
                (&Method::PUT, true) => Some(provider_body("Taken over")),
                (&Method::PUT, false) => Some(serde_json::json!({"roles": ["client"]})),
                _ => None,
            };
            // Both ways of calling the API: session cookie and bearer token.
            let by_session = b_admin.json(method.clone(), &path, body.clone()).await;
            assert_eq!(by_session.status, StatusCode::NOT_FOUND, "{method} {path} (session): {}", by_session.text());
            assert_eq!(by_session.header("content-type"), Some("application/problem+json"));
            let mut script = Client::with_bearer(&app, &b_secret);
            script.json(method.clone(), &path, body).await
        } else {
            b_admin.submit("/", &path, &[]).await
        };
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{method} {path}: {}", res.text());
    }

    // A is untouched: member active with its roles, invitation pending, token live.
    let member = a.admin.get(&format!("/api/v1/members/{a_member}")).await.json();
    assert_eq!(member["active"], true);
    assert_eq!(member["roles"], serde_json::json!(["counselor"]));
    let invitations = a.admin.get("/api/v1/invitations").await.text();
    assert!(invitations.contains("\"pending\""), "{invitations}");
    assert_eq!(a.admin.get("/api/v1/supervisions").await.json().as_array().unwrap().len(), 1);
    assert_eq!(Client::with_bearer(&app, &a_secret).get("/api/v1/me").await.status, StatusCode::OK);
    let provider = a.admin.get(&format!("/api/v1/identity-providers/{a_provider}")).await.json();
    assert_eq!(provider["display_name"], "Alpha login");
    assert_eq!(provider["enabled"], true);

    // B's lists show none of A's rows.
    let b_members = b_admin.get("/api/v1/members").await.text();
    assert!(!b_members.contains("alpha.example"));
    let b_invitations = b_admin.get("/api/v1/invitations").await.text();
    assert!(!b_invitations.contains("alpha.example"), "{b_invitations}");
    assert_eq!(b_admin.get("/api/v1/identity-providers").await.json(), serde_json::json!([]));
    // A's provider is no button on B's sign-in page, and cannot be started there.
    let start = format!("/p/beta/sso/{a_provider}/start");
    assert_eq!(app.client().get(&start).await.status, StatusCode::NOT_FOUND);

    // Malformed ids are "not found" too, never a parser error.
    assert_eq!(b_admin.get("/api/v1/members/not-a-uuid").await.status, StatusCode::NOT_FOUND);
}

async fn a_token_acts_only_in_its_own_practice(app: TestApp) {
    let a = app.practice("gamma").await;
    let b = app.practice("delta").await;
    let mut a_admin = a.admin;
    let (_, secret) = a_admin.create_token("x").await;
    let mut script = Client::with_bearer(&app, &secret);
    let me = script.get("/api/v1/me").await.json();
    assert_eq!(me["practice"]["id"], a.id.to_string());
    let members = script.get("/api/v1/members").await.text();
    assert!(!members.contains("delta.example"));
    drop(b);
}

fn provider_body(name: &str) -> serde_json::Value {
    serde_json::json!({"display_name": name, "issuer": "https://login.alpha.example", "client_id": "tandem", "client_secret": "alpha-secret-123"})
}

both!(foreign_ids_answer_not_found, a_token_acts_only_in_its_own_practice);

/// The tables named inside `macro_name![...]` in src/scope.rs.
fn tables_in(macro_name: &str) -> Vec<String> {
    let scope = std::fs::read_to_string("src/scope.rs").unwrap();
    let start = scope.find(&format!("{macro_name}![")).unwrap_or_else(|| panic!("{macro_name}! in scope.rs"));
    let body = &scope[start..];
    body[body.find('[').unwrap() + 1..body.find(']').unwrap()]
        .split(',')
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

fn rust_files(dir: &str) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(dir)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files
}

/// Practice-owned tables are queried through `PracticeScope` only. A direct
/// `Entity::find()` (or update/delete) on one of them must say why it is safe
/// with an `// unscoped:` comment on the line before; everything else fails here.
#[test]
fn practice_owned_tables_are_only_queried_through_the_scope() {
    let owned = tables_in("practice_owned");
    assert!(owned.len() >= 15, "found {owned:?}");
    let mut offenders = Vec::new();
    for path in rust_files("src") {
        if path.ends_with("scope.rs") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = source.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            for table in &owned {
                let direct = ["find(", "find_by_id(", "update_many(", "delete_many(", "delete_by_id("]
                    .iter()
                    .any(|m| line.contains(&format!("{table}::Entity::{m}")));
                let explained = i > 0 && lines[i - 1].trim_start().starts_with("// unscoped:");
                if direct && !explained {
                    offenders.push(format!("{}:{}: {}", path.display(), i + 1, line.trim()));
                }
            }
        }
    }
    assert!(offenders.is_empty(), "unscoped queries on practice data:\n{}", offenders.join("\n"));
}

/// A couple's records are reached through `CoupleAccess` (which exists only
/// after the access check): outside src/access, no code builds a query on a
/// couple-owned table from the practice scope alone.
#[test]
fn couple_records_are_only_reached_through_the_access_check() {
    let owned = tables_in("couple_owned");
    assert!(owned.len() >= 10, "found {owned:?}");
    let mut offenders = Vec::new();
    for path in rust_files("src") {
        if path.starts_with("src/access") || path.ends_with("scope.rs") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        for (i, line) in source.lines().enumerate() {
            for table in &owned {
                let via_scope = ["select::<", "by_id::<", "update_many::<", "delete_many::<"]
                    .iter()
                    .any(|m| line.contains(&format!("{m}{table}::Entity>")));
                if via_scope {
                    offenders.push(format!("{}:{}: {}", path.display(), i + 1, line.trim()));
                }
            }
        }
    }
    assert!(offenders.is_empty(), "couple records reached without CoupleAccess:\n{}", offenders.join("\n"));
}
