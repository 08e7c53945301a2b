//! The authorization matrix: every clinical operation in the OpenAPI
//! document, for every kind of caller, must answer as the access rules say
//! (allowed, 404, 403 where no record is involved, 401 without credentials),
//! and no response may carry a canary outside the caller's audience. The
//! operations come from the generated document, so a new clinical route is
//! walked automatically, and fails here until it is given a rule.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    both,
    clinical_world::{Actor, World, assert_no_leak, csrf},
    helpers::*,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Allowed,
    NotFound,
    Forbidden,
    Conflict,
    Unauthorized,
}

const READERS: &[Actor] = &[Actor::CareTeam, Actor::Supervisor, Actor::PartnerA, Actor::PartnerB];
const CARE_TEAM: &[Actor] = &[Actor::CareTeam];
const SUPERVISOR: &[Actor] = &[Actor::Supervisor];
const CLINICIANS: &[Actor] = &[Actor::CareTeam, Actor::Supervisor];
const PARTNERS_AND_CARE_TEAM: &[Actor] = &[Actor::CareTeam, Actor::PartnerA, Actor::PartnerB];
/// Partner A's consent: the care team, its supervisor and partner A.
const A_AND_CLINICIANS: &[Actor] = &[Actor::CareTeam, Actor::Supervisor, Actor::PartnerA];
const A_AND_CARE_TEAM: &[Actor] = &[Actor::CareTeam, Actor::PartnerA];
const B_AND_CLINICIANS: &[Actor] = &[Actor::CareTeam, Actor::Supervisor, Actor::PartnerB];
const B_AND_CARE_TEAM: &[Actor] = &[Actor::CareTeam, Actor::PartnerB];

/// Who may do what. Returns `None` for an operation nobody has decided on.
fn rule(method: &str, path: &str) -> Option<&'static [Actor]> {
    let p = path.trim_start_matches("/api/v1");
    Some(match (method, p) {
        ("GET", "/couples/{couple_id}")
        | ("GET", "/couples/{couple_id}/overview")
        | ("GET", "/couples/{couple_id}/care-team")
        | ("GET", "/couples/{couple_id}/sessions")
        | ("GET", "/couples/{couple_id}/sessions/{session_id}")
        | ("GET", "/couples/{couple_id}/sessions/{session_id}/notes")
        | ("GET", "/couples/{couple_id}/notes")
        | ("GET", "/couples/{couple_id}/notes/{note_id}")
        | ("GET", "/couples/{couple_id}/boundaries")
        | ("GET", "/couples/{couple_id}/boundaries/{boundary_id}")
        | ("GET", "/couples/{couple_id}/boundaries/{boundary_id}/versions")
        | ("GET", "/couples/{couple_id}/plan")
        | ("GET", "/couples/{couple_id}/plan/versions/{version}")
        | ("GET", "/couples/{couple_id}/safety-plans")
        | ("GET", "/couples/{couple_id}/safety-plans/{plan_id}")
        | ("GET", "/couples/{couple_id}/lapses")
        | ("GET", "/couples/{couple_id}/lapses/{lapse_id}")
        | ("GET", "/couples/{couple_id}/sobriety")
        | ("GET", "/couples/{couple_id}/milestones")
        | ("GET", "/couples/{couple_id}/recovery-contract")
        | ("GET", "/couples/{couple_id}/recovery-contract/days")
        | ("GET", "/couples/{couple_id}/viewings")
        | ("GET", "/couples/{couple_id}/plan.pdf")
        | ("GET", "/couples/{couple_id}/lapse-steps")
        | ("GET", "/couples/{couple_id}/lapse-steps/{step_id}") => READERS,
        ("GET", "/couples/{couple_id}/summary.pdf")
        | ("GET", "/couples/{couple_id}/sessions/{session_id}/prep")
        | ("GET", "/couples/{couple_id}/sessions/{session_id}/agenda") => CLINICIANS,
        ("PUT", "/couples/{couple_id}/sessions/{session_id}/agenda") => CARE_TEAM,
        // Each partner checks off their own days; the care team may record for them.
        ("PUT", "/couples/{couple_id}/recovery-contract/days/{day}") => PARTNERS_AND_CARE_TEAM,
        // Earlier versions of the plan are the care team's working history.
        ("GET", "/couples/{couple_id}/plan/versions") => CLINICIANS,
        ("POST", "/couples/{couple_id}/boundaries/{boundary_id}/agree") => PARTNERS_AND_CARE_TEAM,
        ("PATCH", "/couples/{couple_id}")
        | ("PUT", "/couples/{couple_id}/partners/{slot}")
        | ("POST", "/couples/{couple_id}/care-team")
        | ("DELETE", "/couples/{couple_id}/care-team/{member_id}")
        | ("POST", "/couples/{couple_id}/sessions")
        | ("PUT", "/couples/{couple_id}/sessions/{session_id}")
        | ("POST", "/couples/{couple_id}/sessions/{session_id}/notes")
        | ("PUT", "/couples/{couple_id}/notes/{note_id}")
        | ("POST", "/couples/{couple_id}/notes/{note_id}/sign")
        | ("POST", "/couples/{couple_id}/notes/{note_id}/addenda")
        // Private notes: the author, who is on the care team, and nobody else.
        | ("GET", "/couples/{couple_id}/private-notes")
        | ("POST", "/couples/{couple_id}/private-notes")
        | ("GET", "/couples/{couple_id}/private-notes/{note_id}")
        | ("PUT", "/couples/{couple_id}/private-notes/{note_id}")
        | ("POST", "/couples/{couple_id}/boundaries")
        | ("PUT", "/couples/{couple_id}/boundaries/{boundary_id}")
        | ("POST", "/couples/{couple_id}/boundaries/{boundary_id}/retire")
        | ("POST", "/couples/{couple_id}/boundaries/{boundary_id}/events")
        | ("PUT", "/couples/{couple_id}/plan")
        | ("POST", "/couples/{couple_id}/safety-plans")
        | ("PUT", "/couples/{couple_id}/safety-plans/{plan_id}")
        | ("POST", "/couples/{couple_id}/lapses")
        | ("PUT", "/couples/{couple_id}/lapses/{lapse_id}")
        | ("POST", "/couples/{couple_id}/milestones")
        | ("PUT", "/couples/{couple_id}/recovery-contract") => CARE_TEAM,
        ("POST", "/couples/{couple_id}/notes/{note_id}/cosign") => SUPERVISOR,
        // Consents: each reader sees what is theirs (a partner their own,
        // and who received their records); a partner signs their own, the
        // care team records a paper one; the disclosed copy and the FHIR
        // export (partner A's consent names the example's recipient) are the care team's.
        ("GET", "/couples/{couple_id}/consents") | ("GET", "/couples/{couple_id}/disclosures") => READERS,
        ("POST", "/couples/{couple_id}/consents") => PARTNERS_AND_CARE_TEAM,
        ("GET", "/couples/{couple_id}/consents/{consent_id}") => A_AND_CLINICIANS,
        ("POST", "/couples/{couple_id}/consents/{consent_id}/revoke") => A_AND_CARE_TEAM,
        ("POST", "/couples/{couple_id}/disclosures/plan.pdf") | ("POST", "/couples/{couple_id}/fhir-export") => CARE_TEAM,
        // The safety gate: each reader learns what is theirs (see tests/safety.rs);
        // a partner raises their own flag, the care team raises and clears.
        ("GET", "/couples/{couple_id}/safety-flag") | ("GET", "/couples/{couple_id}/craft-items") => READERS,
        ("POST", "/couples/{couple_id}/safety-flag") | ("POST", "/couples/{couple_id}/craft-items") => PARTNERS_AND_CARE_TEAM,
        ("POST", "/couples/{couple_id}/safety-flag/clear") => CARE_TEAM,
        // The fixture's CRAFT item is partner B's: partner A cannot tell it exists.
        ("GET", "/couples/{couple_id}/craft-items/{item_id}") => B_AND_CLINICIANS,
        ("PUT", "/couples/{couple_id}/craft-items/{item_id}") | ("POST", "/couples/{couple_id}/craft-items/{item_id}/check-offs") => B_AND_CARE_TEAM,
        _ => return None,
    })
}

fn expected(method: &str, path: &str, actor: Actor) -> Outcome {
    if actor == Actor::Anonymous {
        return Outcome::Unauthorized;
    }
    match (method, path) {
        // Lists of couples answer everyone signed in, with what is theirs.
        ("GET", "/api/v1/couples") => Outcome::Allowed,
        // The access log and the emergency review queue are for supervisors.
        ("GET", "/api/v1/access-events")
        | ("GET", "/api/v1/access-events/export")
        | ("GET", "/api/v1/access-log/verification")
        | ("POST", "/api/v1/access-log/verification")
        | ("GET", "/api/v1/emergency-accesses")
        | ("POST", "/api/v1/emergency-accesses/{access_id}/acknowledge") => {
            if actor == Actor::Supervisor { Outcome::Allowed } else { Outcome::Forbidden }
        }
        // Emergency access is for a counselor of the practice outside the care team.
        ("POST", "/api/v1/couples/{couple_id}/emergency-access") => match actor {
            Actor::OtherCounselor => Outcome::Allowed,
            Actor::CareTeam => Outcome::Conflict,
            Actor::OtherPractice => Outcome::NotFound,
            _ => Outcome::Forbidden,
        },
        // The register's CSV is for supervisors; the couple's readers are told no.
        ("GET", "/api/v1/couples/{couple_id}/disclosures.csv") => match actor {
            Actor::Supervisor => Outcome::Allowed,
            Actor::CareTeam | Actor::PartnerA | Actor::PartnerB => Outcome::Forbidden,
            _ => Outcome::NotFound,
        },
        // The scan of a paper consent (the fixture's is partner A's): the care
        // team and partner A download it; a supervisor is refused; partner B
        // cannot tell it exists. The fixture's scan is uploaded already, so
        // the care team's second upload is a conflict; nobody else uploads.
        ("GET", "/api/v1/couples/{couple_id}/consents/{consent_id}/scan") => match actor {
            Actor::CareTeam | Actor::PartnerA => Outcome::Allowed,
            Actor::Supervisor => Outcome::Forbidden,
            _ => Outcome::NotFound,
        },
        ("POST", "/api/v1/couples/{couple_id}/consents/{consent_id}/scan") => match actor {
            Actor::CareTeam => Outcome::Conflict,
            _ => Outcome::NotFound,
        },
        // The care team records the event a consent ends on; the fixture's
        // consent ends on a date, which says so.
        ("POST", "/api/v1/couples/{couple_id}/consents/{consent_id}/event") => match actor {
            Actor::CareTeam => Outcome::Conflict,
            _ => Outcome::NotFound,
        },
        // A step is marked by the person it belongs to (the world's is partner A's);
        // the others who may act on the couple's records are refused.
        ("PUT", "/api/v1/couples/{couple_id}/lapse-steps/{step_id}") => match actor {
            Actor::PartnerA => Outcome::Allowed,
            Actor::CareTeam | Actor::PartnerB => Outcome::Forbidden,
            _ => Outcome::NotFound,
        },
        // Taking a couple into care is for counselors, in their own practice.
        ("POST", "/api/v1/couples") => match actor {
            Actor::CareTeam | Actor::OtherCounselor | Actor::OtherPractice => Outcome::Allowed,
            _ => Outcome::Forbidden,
        },
        _ => {
            let allowed = rule(method, path).unwrap_or_else(|| panic!("{method} {path} has no rule in the matrix"));
            if allowed.contains(&actor) { Outcome::Allowed } else { Outcome::NotFound }
        }
    }
}

fn fill(world: &World<'_>, method: &str, template: &str) -> String {
    let note = if template.contains("private-notes") {
        world.private_note
    } else if template.ends_with("/sign") || (method == "PUT" && template.ends_with("{note_id}")) {
        world.draft_note
    } else {
        world.signed_note
    };
    template
        .replace("{couple_id}", &world.couple.to_string())
        .replace("{session_id}", &world.joint_session.to_string())
        .replace("{note_id}", &note.to_string())
        .replace("{member_id}", &world.extra_counselor.to_string())
        .replace("{boundary_id}", &world.shared_boundary.to_string())
        .replace("{plan_id}", &world.couple_safety_plan.to_string())
        .replace("{lapse_id}", &world.shared_lapse.to_string())
        .replace("{version}", "1")
        .replace("{day}", &world.today.to_string())
        .replace("{access_id}", &world.emergency_access.to_string())
        .replace("{slot}", "a")
        .replace("{consent_id}", &if template.ends_with("/scan") { world.paper_consent_a } else { world.consent_a }.to_string())
        .replace("{item_id}", &world.b_craft_item.to_string())
        .replace("{step_id}", &world.shared_step.to_string())
}

/// The example request body the OpenAPI document gives, with the few
/// overrides the fixture needs to stay intact.
fn body(world: &World<'_>, doc: &Value, op: &Value, path: &str, actor: Actor) -> Option<Value> {
    if path.ends_with("/care-team") {
        return Some(json!({"member_id": world.extra_counselor}));
    }
    if path.ends_with("/days/{day}") {
        let mut check_in = json!({"trust_discussion": true, "medication_taken": true});
        if actor == Actor::CareTeam {
            check_in["partner"] = json!("a");
        }
        return Some(check_in);
    }
    if path.ends_with("/safety-flag") || path.ends_with("/safety-flag/clear") {
        // A partner raises their own flag; the care team names the partner.
        return Some(if actor == Actor::CareTeam { json!({"partner": "b"}) } else { json!({}) });
    }
    if path.ends_with("/agree") {
        // A partner agrees for themself; the care team names the partner.
        return Some(if actor == Actor::CareTeam { json!({"partner": "a"}) } else { json!({}) });
    }
    let schema = &op["requestBody"]["content"]["application/json"]["schema"];
    if path.ends_with("/consents") && matches!(actor, Actor::PartnerA | Actor::PartnerB) {
        // A partner signs their own consent.
        let mut example = doc["components"]["schemas"]["ConsentInput"]["example"].clone();
        example.as_object_mut().unwrap().remove("partner");
        return Some(example);
    }
    if schema.is_null() {
        return None;
    }
    let name = schema["$ref"].as_str().unwrap_or_else(|| panic!("{path}: inline request schema")).rsplit('/').next().unwrap();
    let mut example = doc["components"]["schemas"][name]["example"].clone();
    assert!(!example.is_null(), "schema {name} needs an example for the matrix (and for readers of the API docs)");
    if path.ends_with("/partners/{slot}") {
        example["member_id"] = json!(world.partner_a_member);
    }
    if path.ends_with("/lapses") {
        // Partner A's own: shown to partner B it would rest on partner A's
        // consent, which the matrix revokes along the way (tests/consents.rs).
        example["audience"] = json!("partner_a");
    }
    if path.ends_with("/safety-plans/{plan_id}") {
        example["owner"] = json!("couple");
    }
    if path.ends_with("/craft-items") && matches!(actor, Actor::PartnerA | Actor::PartnerB) {
        // A partner adds to their own track.
        example.as_object_mut().unwrap().remove("owner");
    }
    Some(example)
}

/// The ETag of what a write is about to change, as the care team sees it.
async fn etag_for(world: &mut World<'_>, path: &str) -> String {
    // An action (sign, agree, retire) is guarded by the ETag of the record it acts on.
    let action = ["/sign", "/agree", "/retire"].iter().find_map(|a| path.strip_suffix(a));
    let (read_path, partner) = if let Some(base) = action {
        (base.to_owned(), false)
    } else if let Some((base, _)) = path.split_once("/partners/") {
        (base.to_owned(), true)
    } else {
        (path.to_owned(), false)
    };
    let res = world.client(Actor::CareTeam).get(&read_path).await;
    assert_eq!(res.status, StatusCode::OK, "reading {read_path} for its ETag: {}", res.text());
    if partner {
        format!("\"{}\"", res.json()["partners"][0]["version"])
    } else {
        res.header("etag").expect("ETag on an editable record").to_owned()
    }
}

async fn event_count(app: &TestApp) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    entity::access_events::Entity::find().count(&app.db).await.unwrap()
}

pub(crate) async fn last_event(app: &TestApp) -> entity::access_events::Model {
    use sea_orm::{EntityTrait, QueryOrder};
    entity::access_events::Entity::find()
        .order_by_desc(entity::access_events::Column::OccurredAt)
        .order_by_desc(entity::access_events::Column::Id)
        .one(&app.db)
        .await
        .unwrap()
        .expect("an event")
}

/// Sends one request and returns it with the number of access events it left.
async fn call(world: &mut World<'_>, app: &TestApp, actor: Actor, method: &str, path: &str, body: Option<Value>, needs_etag: bool) -> (TestResponse, u64) {
    let etag = if needs_etag { Some(etag_for(world, path).await) } else { None };
    let client = world.client(actor);
    let token = if method != "GET" && actor != Actor::Anonymous { Some(csrf(client).await) } else { None };
    let mut headers = vec![("content-type", "application/json"), ("user-agent", "matrix-test/1.0")];
    if let Some(t) = &token {
        headers.push(("x-csrf-token", t));
    }
    if let Some(e) = &etag {
        headers.push(("if-match", e));
    }
    let body = body.map(|b| axum::body::Body::from(b.to_string())).unwrap_or_else(axum::body::Body::empty);
    let before = event_count(app).await;
    let res = world.client(actor).send(method.parse::<Method>().unwrap(), path, &headers, body).await;
    (res, event_count(app).await - before)
}

async fn every_clinical_route_answers_by_the_rules_and_leaks_nothing(app: TestApp) {
    let mut world = World::build(&app).await;
    let doc = app.client().get("/api/openapi.json").await.json();
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op["tags"].as_array().is_some_and(|t| t.iter().any(|t| t == "clinical")) {
                operations.push((method.to_uppercase(), path.clone(), op.clone()));
            }
        }
    }
    // Writes that change the fixture's shape run last; within an operation,
    // the callers who must be refused go first, so a refusal is checked
    // against the record as it was.
    // Opening emergency access changes what the other counselor may see: last.
    operations.sort_by_key(|(m, p, _)| {
        (p.ends_with("/emergency-access"), m == "DELETE", p.ends_with("/sign") || p.ends_with("/retire"), m != "GET")
    });
    assert!(operations.len() >= 20, "only {} clinical operations found", operations.len());

    for (method, template, op) in &operations {
        let path = fill(&world, method, template);
        let needs_etag = op["parameters"].as_array().is_some_and(|ps| ps.iter().any(|p| p["name"] == "If-Match"));
        let mut actors = Actor::ALL.to_vec();
        actors.sort_by_key(|a| expected(method, template, *a) == Outcome::Allowed);
        for actor in actors {
            let want = expected(method, template, actor);
            let body = body(&world, &doc, op, template, actor);
            // The care team names whose plan to print; a partner gets their own.
            let path = if template.ends_with("/plan.pdf") && !matches!(actor, Actor::PartnerA | Actor::PartnerB) {
                format!("{path}?partner=a")
            } else {
                path.clone()
            };
            let (res, events) = call(&mut world, &app, actor, method, &path, body, needs_etag).await;
            let got = match res.status {
                s if s.is_success() => Outcome::Allowed,
                StatusCode::NOT_FOUND => Outcome::NotFound,
                StatusCode::FORBIDDEN => Outcome::Forbidden,
                StatusCode::UNAUTHORIZED => Outcome::Unauthorized,
                StatusCode::CONFLICT => Outcome::Conflict,
                other => panic!("{actor:?} {method} {template}: unexpected {other}: {}", res.text()),
            };
            assert_eq!(got, want, "{actor:?} {method} {template}: {}", res.text());
            // Exactly one access event per request of a signed-in caller,
            // allowed or not; anonymous requests reach no practice's log.
            let expected_events = u64::from(actor != Actor::Anonymous);
            assert_eq!(events, expected_events, "{actor:?} {method} {template}: {events} events");
            if expected_events == 1 {
                let e = last_event(&app).await;
                let outcome = match want {
                    Outcome::Allowed => "success",
                    // Allowed to ask, refused by the consent's state (its scan
                    // is uploaded, it ends on a date): a failed request.
                    Outcome::Conflict if template.contains("/consents/") => "failed",
                    _ => "denied",
                };
                assert_eq!(e.outcome, outcome, "{actor:?} {method} {template}");
                assert_eq!(e.status, i32::from(res.status.as_u16()));
                assert!(e.member_id.is_some() && !e.role.is_empty() && !e.action.is_empty());
                assert!(e.record_kind.is_some(), "{method} {template} names no record kind");
                assert_eq!(e.request_id.as_deref(), res.header("x-request-id"));
                assert_eq!(e.user_agent.as_deref(), Some("matrix-test/1.0"));
                assert!(e.client_addr.is_some());
                if template.contains("{couple_id}") {
                    assert!(e.couple_id.is_some(), "{method} {template}: no couple on the event");
                }
            }
            let text = if res.header("content-type") == Some("application/pdf") {
                crate::pdfs::pdf_text(&res.body)
            } else {
                res.text()
            };
            assert_no_leak(actor, &format!("{method} {template}"), &text);
            if method == "GET" && template == "/api/v1/couples" && matches!(actor, Actor::OtherCounselor | Actor::Admin | Actor::OtherPractice) {
                assert!(!res.text().contains(&world.couple.to_string()), "{actor:?} lists a couple they have no relation to");
            }
        }
    }
}

both!(every_clinical_route_answers_by_the_rules_and_leaks_nothing);
