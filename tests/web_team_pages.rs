//! The admin's Supervision page and the care team's page of a couple: the
//! same people may use them as the API's `/supervisions` and
//! `/couples/{id}/care-team`, the forms change what the API then reports,
//! each change is listed under "Changes to who can see what", and refusals
//! read as sentences and change nothing.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    both,
    clinical_world::{Actor, World, assert_no_leak, created},
    helpers::*,
};

fn ids(list: &Value, key: &str) -> Vec<String> {
    list.as_array().unwrap().iter().map(|m| m[key].as_str().unwrap().to_owned()).collect()
}

async fn member_id(admin: &mut Client<'_>, email: &str) -> String {
    let members = admin.get("/api/v1/members").await.json();
    let found = members.as_array().unwrap().iter().find(|m| m["email"] == email).unwrap_or_else(|| panic!("{email}"));
    found["id"].as_str().unwrap().to_owned()
}

/// The page answers each reader as the API's list does: admins only.
async fn the_supervision_page_is_for_admins_as_the_api_is(app: TestApp) {
    let mut world = World::build(&app).await;
    for actor in Actor::ALL {
        let page = world.client(actor).get("/supervisions").await;
        if actor == Actor::Anonymous {
            assert_eq!(page.status, StatusCode::SEE_OTHER);
            continue;
        }
        let api = world.client(actor).get("/api/v1/supervisions").await;
        let expected = if actor == Actor::Admin { StatusCode::OK } else { StatusCode::FORBIDDEN };
        assert_eq!((page.status, api.status), (expected, expected), "{actor:?}: {}", page.text());
    }
    let admin = world.client(Actor::Admin);
    let page = admin.get("/supervisions").await.text();
    assert!(page.contains("<td>Sasha Harbor</td>") && page.contains("<td>Casey Harbor</td>"), "{page}");
    assert!(admin.get("/members").await.text().contains("href=\"/supervisions\""), "linked from the Members page");
    let dashboard = world.client(Actor::CareTeam).get("/dashboard").await.text();
    assert!(!dashboard.contains("href=\"/supervisions\""), "only admins are offered it");
}

async fn supervisions_are_added_and_ended_through_the_forms(app: TestApp) {
    let mut world = World::build(&app).await;
    let admin = world.client(Actor::Admin);
    let sasha = member_id(admin, "sasha@harbor.example").await;
    let drew = member_id(admin, "drew@harbor.example").await;

    // Refusals name the field and add nothing.
    let res = admin.submit("/supervisions", "/supervisions", &[("supervisor_id", &sasha), ("counselor_id", &sasha)]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("choose another active counselor of this practice"), "{}", res.text());
    let res = admin.submit("/supervisions", "/supervisions", &[("supervisor_id", ""), ("counselor_id", &drew)]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("choose a supervisor"));
    assert_eq!(admin.get("/api/v1/supervisions").await.json().as_array().unwrap().len(), 1);

    let res = admin.submit("/supervisions", "/supervisions", &[("supervisor_id", &sasha), ("counselor_id", &drew)]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let list = admin.get("/api/v1/supervisions").await.json();
    let added = list.as_array().unwrap().iter().find(|s| s["supervisor_id"] == sasha.as_str() && s["counselor_id"] == drew.as_str());
    let added = added.expect("the API lists the new supervision")["id"].as_str().unwrap().to_owned();
    assert!(admin.get("/access-changes").await.text().contains("made Sasha Harbor the supervisor of Drew Harbor"));

    // A deactivated counselor is no longer offered; their supervision stays until ended.
    let res = admin.json(Method::POST, &format!("/api/v1/members/{drew}/deactivate"), None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let page = admin.get("/supervisions").await.text();
    assert!(page.contains("<td>Drew Harbor (deactivated)</td>") && !page.contains(">Drew Harbor</option>"), "{page}");
    assert!(page.contains(">Casey Harbor</option>") && !page.contains(">Ada Admin</option>"), "{page}");

    // Ending asks first; only the confirmation's POST ends it.
    let confirm = format!("/supervisions/{added}/end");
    let page = admin.get(&confirm).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("End the supervision of Drew Harbor (deactivated) by Sasha Harbor?"), "{}", page.text());
    assert!(ids(&admin.get("/api/v1/supervisions").await.json(), "id").contains(&added));
    let res = admin.submit(&confirm, &confirm, &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert!(!ids(&admin.get("/api/v1/supervisions").await.json(), "id").contains(&added));
    assert!(admin.get("/access-changes").await.text().contains("ended the supervision of Drew Harbor by Sasha Harbor"));

    // Another practice's supervision and members are not found from here.
    let mut other = app.practice("faraway").await;
    let (their_supervisor, _) = other.member("sam@faraway.example", &["supervisor"]).await;
    let (their_counselor, _) = other.member("cleo@faraway.example", &["counselor"]).await;
    let body = json!({"supervisor_id": their_supervisor, "counselor_id": their_counselor});
    let theirs = created(other.admin.json(Method::POST, "/api/v1/supervisions", Some(body)).await);
    let admin = world.client(Actor::Admin);
    assert_eq!(admin.get(&format!("/supervisions/{theirs}/end")).await.status, StatusCode::NOT_FOUND);
    let res = admin.submit("/supervisions", &format!("/supervisions/{theirs}/end"), &[]).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(ids(&other.admin.get("/api/v1/supervisions").await.json(), "id"), vec![theirs.to_string()]);
    let res = admin.submit("/supervisions", "/supervisions", &[("supervisor_id", &their_supervisor.to_string()), ("counselor_id", &drew)]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// As through the API: a practice's only admin makes herself a supervisor
/// with her password; once there is another admin, not even with it.
async fn a_solo_admin_supervises_only_with_her_password(app: TestApp) {
    let mut practice = app.practice("quill").await;
    let me = practice.admin.get("/api/v1/me").await.json()["id"].as_str().unwrap().to_owned();
    let roles = json!({"roles": ["admin", "supervisor"], "password": PASSWORD});
    let res = practice.admin.json(Method::PUT, &format!("/api/v1/members/{me}/roles"), Some(roles)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let (cato, _) = practice.member("cato@quill.example", &["counselor"]).await;
    let cato = cato.to_string();
    assert!(practice.admin.get("/supervisions").await.text().contains("name=\"password\""));

    for (password, message) in [("", "type your password to give yourself this access"), ("not it at all", "this is not your password")] {
        let fields = [("supervisor_id", me.as_str()), ("counselor_id", &cato), ("password", password)];
        let res = practice.admin.submit("/supervisions", "/supervisions", &fields).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.text().contains(message), "{}", res.text());
        assert!(!res.text().contains("not it at all"), "a typed password is not shown again");
    }
    assert_eq!(practice.admin.get("/api/v1/supervisions").await.json(), json!([]));
    let fields = [("supervisor_id", me.as_str()), ("counselor_id", &cato), ("password", PASSWORD)];
    let res = practice.admin.submit("/supervisions", "/supervisions", &fields).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(ids(&practice.admin.get("/api/v1/supervisions").await.json(), "counselor_id"), vec![cato]);

    practice.member("bea@quill.example", &["admin"]).await;
    let (cy, _) = practice.member("cy@quill.example", &["counselor"]).await;
    let fields = [("supervisor_id", me.as_str()), ("counselor_id", &cy.to_string()), ("password", PASSWORD)];
    let res = practice.admin.submit("/supervisions", "/supervisions", &fields).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(res.text().contains("ask another admin of your practice"), "{}", res.text());
    assert_eq!(practice.admin.get("/api/v1/supervisions").await.json().as_array().unwrap().len(), 1);
}

both!(
    the_supervision_page_is_for_admins_as_the_api_is,
    supervisions_are_added_and_ended_through_the_forms,
    a_solo_admin_supervises_only_with_her_password
);

/// Only the care team may change it, on the page as through the API;
/// everyone else (admins and supervisors too) is told it is not there.
async fn the_care_team_page_is_for_the_care_team(app: TestApp) {
    let mut world = World::build(&app).await;
    let c = world.couple;
    let path = format!("/couples/{c}/care-team");
    let already = json!({"member_id": world.extra_counselor});
    for actor in Actor::ALL {
        let res = world.client(actor).get(&path).await;
        assert_no_leak(actor, &path, &res.text());
        let expected = match actor {
            Actor::Anonymous => StatusCode::SEE_OTHER,
            Actor::CareTeam => StatusCode::OK,
            _ => StatusCode::NOT_FOUND,
        };
        assert_eq!(res.status, expected, "{actor:?}: {}", res.text());
        if !matches!(actor, Actor::Anonymous | Actor::CareTeam) {
            let api = world.client(actor).json(Method::POST, &format!("/api/v1{path}"), Some(already.clone())).await;
            assert_eq!(api.status, StatusCode::NOT_FOUND, "{actor:?} through the API");
        }
    }
    let couple_page = format!("/couples/{c}");
    assert!(world.client(Actor::CareTeam).get(&couple_page).await.text().contains(&format!("href=\"{path}\"")));
    assert!(!world.client(Actor::Supervisor).get(&couple_page).await.text().contains(&format!("href=\"{path}\"")));
}

async fn the_care_team_changes_through_its_page(app: TestApp) {
    let mut world = World::build(&app).await;
    let c = world.couple;
    let path = format!("/couples/{c}/care-team");
    let api = format!("/api/v1{path}");
    let emery = world.extra_counselor.to_string();
    let admin = world.client(Actor::Admin);
    let sasha = member_id(admin, "sasha@harbor.example").await;
    let casey = member_id(admin, "casey@harbor.example").await;
    let counselor = world.client(Actor::CareTeam);
    let page = counselor.get(&path).await.text();
    assert!(page.contains("Emery Harbor") && page.contains(">Drew Harbor</option>"), "{page}");
    assert!(!page.contains(">Emery Harbor</option>") && !page.contains(">Sasha Harbor</option>"), "only counselors not on the team are offered: {page}");

    let res = counselor.submit(&path, &format!("{path}/{emery}/remove"), &[]).await;
    assert_eq!((res.status, res.location()), (StatusCode::SEE_OTHER, Some(path.as_str())), "{}", res.text());
    assert_eq!(ids(&counselor.get(&api).await.json(), "member_id"), vec![casey.clone()]);

    // The last counselor stays, with a sentence saying why.
    let res = counselor.submit(&path, &format!("{path}/{casey}/remove"), &[]).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert!(res.text().contains("A couple in care keeps at least one counselor on its care team."), "{}", res.text());
    assert_eq!(ids(&counselor.get(&api).await.json(), "member_id"), vec![casey.clone()]);

    // Only an active counselor of this practice joins.
    for someone in [sasha.as_str(), "", &Uuid::now_v7().to_string()] {
        let res = counselor.submit(&path, &path, &[("member_id", someone)]).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{someone}");
        assert!(res.text().contains("choose an active counselor of this practice"));
    }
    let res = counselor.submit(&path, &path, &[("member_id", &emery)]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let mut team = ids(&counselor.get(&api).await.json(), "member_id");
    team.sort();
    let mut expected = vec![casey.clone(), emery.clone()];
    expected.sort();
    assert_eq!(team, expected);

    let changes = world.client(Actor::Admin).get("/access-changes").await.text();
    let took_off = changes.find("took Emery Harbor off a couple&#39;s care team").expect("the removal is listed");
    let added = changes.find("added Emery Harbor to a couple&#39;s care team").expect("the addition is listed");
    assert!(added < took_off, "newest first");
    assert!(!changes.contains("took Casey Harbor off"), "the refused removal changed nothing: {changes}");

    // Another practice's couple is not found; taking oneself off leaves the couple's pages.
    let theirs = world.client(Actor::OtherPractice).create_couple().await["id"].as_str().unwrap().to_owned();
    let counselor = world.client(Actor::CareTeam);
    assert_eq!(counselor.get(&format!("/couples/{theirs}/care-team")).await.status, StatusCode::NOT_FOUND);
    let res = counselor.submit(&path, &format!("/couples/{theirs}/care-team"), &[("member_id", &casey)]).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = counselor.submit(&path, &format!("{path}/{casey}/remove"), &[]).await;
    assert_eq!((res.status, res.location()), (StatusCode::SEE_OTHER, Some("/dashboard")));
    assert_eq!(counselor.get(&path).await.status, StatusCode::NOT_FOUND);
}

both!(the_care_team_page_is_for_the_care_team, the_care_team_changes_through_its_page);
