//! Changes to who can see what: nobody grants themselves access, and every
//! change to roles, supervisions, care teams and sign-in providers is an
//! access event with what it was before and after, listed for supervisors,
//! admins and the members it affects.

use axum::http::{Method, StatusCode};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{both, helpers::*};

async fn put_roles(client: &mut Client<'_>, id: Uuid, body: Value) -> TestResponse {
    client.json(Method::PUT, &format!("/api/v1/members/{id}/roles"), Some(body)).await
}

async fn me(client: &mut Client<'_>) -> Uuid {
    client.get("/api/v1/me").await.json()["id"].as_str().unwrap().parse().unwrap()
}

async fn a_couple_of(counselor: &mut Client<'_>) -> Uuid {
    let res = counselor
        .json(
            Method::POST,
            "/api/v1/couples",
            Some(json!({
                "label": "Okafor & Reyes", "status": "active", "secrets_policy": "individual_confidential",
                "care_started_on": "2026-03-02",
                "partner_a": {"recovery_role": "in_recovery", "full_name": "Daniel Okafor"},
                "partner_b": {"recovery_role": "supporting", "full_name": "Marisol Reyes"}
            })),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    res.json()["id"].as_str().unwrap().parse().unwrap()
}

/// The review's path, as admin Avery of a practice with a second admin:
/// roles, then a supervision, then the couple's lapses. Each self-grant is
/// refused; the lapses stay out of reach; another admin can make the same
/// change, and it is then listed for the people it concerns.
async fn an_admin_cannot_give_herself_clinical_access(app: TestApp) {
    let mut practice = app.practice("aspen").await;
    let avery = me(&mut practice.admin).await;
    let (casey_id, mut casey) = practice.member("casey@aspen.example", &["counselor"]).await;
    let (bea_id, mut bea) = practice.member("bea@aspen.example", &["admin"]).await;
    let couple = a_couple_of(&mut casey).await;

    let res = put_roles(&mut practice.admin, avery, json!({"roles": ["admin", "supervisor"]})).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text());
    assert!(res.text().contains("another admin"), "{}", res.text());
    // Not with her password either: another admin is there to ask.
    let res = put_roles(&mut practice.admin, avery, json!({"roles": ["admin", "supervisor"], "password": PASSWORD})).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text());
    assert_eq!(practice.admin.get(&format!("/api/v1/members/{avery}")).await.json()["roles"], json!(["admin"]));

    // Bea makes Avery a supervisor (a legitimate change, logged); Avery still
    // cannot make herself Casey's supervisor.
    let res = put_roles(&mut bea, avery, json!({"roles": ["admin", "supervisor"]})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let body = json!({"supervisor_id": avery, "counselor_id": casey_id});
    let res = practice.admin.json(Method::POST, "/api/v1/supervisions", Some(body.clone())).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text());
    let res = practice.admin.get(&format!("/api/v1/couples/{couple}/lapses")).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "no clinical access: {}", res.text());
    assert_eq!(practice.admin.get("/api/v1/supervisions").await.json(), json!([]));

    // Another admin can; then Avery reads as Casey's supervisor, and Casey
    // sees who was given access to her couples, by whom.
    let res = bea.json(Method::POST, "/api/v1/supervisions", Some(body)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let res = practice.admin.get(&format!("/api/v1/couples/{couple}/lapses")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let seen = casey.get("/api/v1/access-changes").await.json();
    let actions: Vec<&str> = seen["items"].as_array().unwrap().iter().map(|c| c["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["supervision_add"], "Casey sees the change that concerns her, not Avery's roles");
    assert_eq!(seen["items"][0]["by"], bea_id.to_string());
    assert_eq!(seen["items"][0]["subjects"][0]["id"], avery.to_string());
    assert_eq!(seen["items"][0]["subjects"][1]["id"], casey_id.to_string());
}

/// A solo practice has nobody else to ask: its admin confirms a self-grant
/// with her password, and wrong or missing passwords change nothing.
async fn a_solo_admin_confirms_a_self_grant_with_her_password(app: TestApp) {
    let mut practice = app.practice("birch").await;
    let avery = me(&mut practice.admin).await;
    let (casey_id, _) = practice.member("casey@birch.example", &["counselor"]).await;

    let res = put_roles(&mut practice.admin, avery, json!({"roles": ["admin", "supervisor"]})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text());
    assert_eq!(res.json()["errors"][0]["field"], "password", "{}", res.text());
    let res = put_roles(&mut practice.admin, avery, json!({"roles": ["admin", "supervisor"], "password": "not it at all"})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text());
    assert_eq!(practice.admin.get(&format!("/api/v1/members/{avery}")).await.json()["roles"], json!(["admin"]));
    let res = put_roles(&mut practice.admin, avery, json!({"roles": ["admin", "supervisor"], "password": PASSWORD})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());

    let body = json!({"supervisor_id": avery, "counselor_id": casey_id});
    let res = practice.admin.json(Method::POST, "/api/v1/supervisions", Some(body.clone())).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text());
    let res = practice.admin.json(Method::POST, "/api/v1/supervisions", Some(json!({"password": PASSWORD, "supervisor_id": avery, "counselor_id": casey_id}))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());

    // Dropping a role of her own needs no confirmation.
    let res = put_roles(&mut practice.admin, avery, json!({"roles": ["admin"]})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());

    // The page asks for the password on her own row and says why it refused.
    let page = practice.admin.get("/members").await;
    let res = practice
        .admin
        .post_form(
            &format!("/members/{avery}/roles"),
            &[("csrf_token", page.csrf_token().as_str()), ("roles", "admin"), ("roles", "counselor")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text());
    assert!(res.text().contains("type your password"), "{}", res.text());
}

/// Every kind of change is an access event carrying before and after; the
/// list shows them to supervisors and admins; each member sees their own;
/// and the detail is part of the chain, so rewriting it shows.
async fn changes_are_logged_with_before_and_after(app: TestApp) {
    let mut practice = app.practice("cedar").await;
    let (casey_id, mut casey) = practice.member("casey@cedar.example", &["counselor"]).await;
    let (drew_id, mut drew) = practice.member("drew@cedar.example", &["counselor"]).await;
    let (sasha_id, mut sasha) = practice.member("sasha@cedar.example", &["supervisor"]).await;
    let (_, mut client) = practice.member("dan@home.example", &["client"]).await;
    let couple = a_couple_of(&mut casey).await;

    let res = put_roles(&mut practice.admin, sasha_id, json!({"roles": ["counselor", "supervisor"]})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let res = practice
        .admin
        .json(Method::POST, "/api/v1/supervisions", Some(json!({"supervisor_id": sasha_id, "counselor_id": casey_id})))
        .await;
    let supervision = res.json()["id"].as_str().unwrap().to_owned();
    let res = casey.json(Method::POST, &format!("/api/v1/couples/{couple}/care-team"), Some(json!({"member_id": drew_id}))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let res = casey.json(Method::DELETE, &format!("/api/v1/couples/{couple}/care-team/{drew_id}"), None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let res = practice.admin.json(Method::DELETE, &format!("/api/v1/supervisions/{supervision}"), None).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text());
    let res = practice
        .admin
        .json(
            Method::POST,
            "/api/v1/identity-providers",
            Some(json!({"display_name": "Clinic login", "issuer": "https://login.cedar.example", "client_id": "tandem", "client_secret": "s3cret-value"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());

    let all = sasha.get("/api/v1/access-changes").await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text());
    assert!(!all.text().contains("s3cret-value"), "never a secret");
    let all = all.json();
    let items: Vec<Value> = all["items"].as_array().unwrap().iter().filter(|c| c["action"] != "invitation_create").cloned().collect();
    let invited = all["items"].as_array().unwrap().iter().filter(|c| c["action"] == "invitation_create").count();
    assert_eq!(invited, 4, "each invitation, with the roles it offers");
    let actions: Vec<&str> = items.iter().map(|c| c["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["identity_provider_add", "supervision_remove", "care_team_remove", "care_team_add", "supervision_add", "role_change"],
        "newest first"
    );
    let roles = &items[5];
    assert_eq!((roles["before"].clone(), roles["after"].clone()), (json!(["supervisor"]), json!(["counselor", "supervisor"])));
    let added = &items[3];
    assert_eq!(added["couple_id"], couple.to_string());
    assert_eq!(added["before"], json!([casey_id]));
    assert_eq!(added["after"].as_array().unwrap().len(), 2);
    assert_eq!(items[0]["after"]["issuer"], "https://login.cedar.example");
    // Admins see them too; the affected counselor sees hers; a client none.
    assert_eq!(practice.admin.get("/api/v1/access-changes").await.json()["items"].as_array().unwrap().len(), 10);
    let drews: Vec<String> = drew.get("/api/v1/access-changes").await.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(drews, ["care_team_remove", "care_team_add"]);
    assert_eq!(client.get("/api/v1/access-changes").await.json()["items"], json!([]));
    // Pages of two, newest first, end to end.
    let page = sasha.get("/api/v1/access-changes?limit=2").await.json();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let next = page["next_cursor"].as_i64().unwrap();
    let rest = sasha.get(&format!("/api/v1/access-changes?limit=10&cursor={next}")).await.json();
    assert_eq!(rest["items"][0]["action"], "care_team_remove");
    assert_eq!(rest["items"].as_array().unwrap().len(), 8);
    assert!(rest["next_cursor"].is_null());
    // The page for people.
    let html = sasha.get("/access-changes").await;
    assert_eq!(html.status, StatusCode::OK, "{}", html.text());
    for sentence in ["changed the roles of", "the supervisor of", "to a couple", "added the sign-in provider Clinic login"] {
        assert!(html.text().contains(sentence), "{sentence}: {}", html.text());
    }

    // The detail is hashed into the chain: rewriting it is tampering.
    let verified = sasha.json(Method::POST, "/api/v1/access-log/verification", None).await;
    assert_eq!(verified.json()["ok"], true, "{}", verified.text());
    let db = &app.db;
    let sql = "UPDATE access_events SET detail = REPLACE(detail, '\"supervisor\"', '\"counselor\"') WHERE action = 'role_change'";
    let done = db.execute_unprepared(sql).await.unwrap();
    assert_eq!(done.rows_affected(), 1);
    let verified = sasha.json(Method::POST, "/api/v1/access-log/verification", None).await;
    assert_eq!(verified.json()["ok"], false, "{}", verified.text());
}

both!(
    an_admin_cannot_give_herself_clinical_access,
    a_solo_admin_confirms_a_self_grant_with_her_password,
    changes_are_logged_with_before_and_after,
);
