//! `GET /metrics`: parsed by Prometheus's own Python parser
//! (`prometheus_client.parser`, PyPI, pinned in tests/run), carrying what
//! the issue asks for, and no label value that names, addresses or
//! identifies a person or a couple. Not on the public router.

use std::{
    collections::BTreeMap,
    io::Write,
    process::{Command, Stdio},
};

use axum::{
    body::Body,
    http::{Method, Request, StatusCode},
};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use crate::{both, helpers::*};

/// One sample as the parser read it.
#[derive(Debug)]
pub(crate) struct Sample {
    pub family: String,
    pub kind: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        out.append({"family": family.name, "kind": family.type, "name": s.name, "labels": s.labels, "value": s.value})
print(json.dumps(out))
"#;

/// The Python with prometheus_client that tests/run installs; `None` (the
/// test is skipped) when it is missing, except in CI.
pub(crate) fn python() -> Option<String> {
    installed_tool("TANDEM_TEST_PYTHON", "prometheus_client")
}

/// Parses Prometheus text format with prometheus_client; panics, with the
/// parser's complaint, on text it refuses.
pub(crate) fn parse(python: &str, text: &str) -> Vec<Sample> {
    let mut child = Command::new(python)
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{python}: {e}"));
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "prometheus_client refused the metrics: {}\n{text}", String::from_utf8_lossy(&out.stderr));
    let parsed: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    parsed
        .into_iter()
        .map(|s| Sample {
            family: s["family"].as_str().unwrap().to_owned(),
            kind: s["kind"].as_str().unwrap().to_owned(),
            name: s["name"].as_str().unwrap().to_owned(),
            labels: serde_json::from_value(s["labels"].clone()).unwrap(),
            value: s["value"].as_f64().unwrap_or(f64::NAN),
        })
        .collect()
}

async fn scrape(app: &TestApp) -> String {
    let router = tandem::metrics::router(tandem::metrics::install(), app.state.db.pool().clone());
    let res = router.oneshot(Request::get("/metrics").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

async fn metrics_parse_and_no_label_identifies_a_person(app: TestApp) {
    let Some(python) = python() else { return };
    tandem::metrics::install();
    let mut practice = app.practice("harbor").await;
    let email = "casey.quill@harbor.example";
    let (member_id, mut counselor) = practice.member(email, &["counselor"]).await;
    let couple = counselor.create_couple().await;
    let couple_id = couple["id"].as_str().unwrap().to_owned();
    let (_, token) = counselor.create_token("metrics").await;

    // Requests of every kind: audited reads, a page, a refusal, a path no
    // route matches that carries an address, a failed sign-in.
    let mut api = Client::with_bearer(&app, &token);
    // A sealed value written and read back: its opening is counted.
    let base = format!("/api/v1/couples/{couple_id}/private-notes");
    let note = crate::clinical_world::created(api.json(Method::POST, &base, Some(serde_json::json!({"text": "Metrics canary"}))).await);
    let (opened_before, _) = tandem::metrics::sealed_values_opened();
    assert_eq!(api.get(&format!("{base}/{note}")).await.status, StatusCode::OK);
    assert!(tandem::metrics::sealed_values_opened().0 > opened_before, "reading a private note opens its sealed text");
    for path in [format!("/api/v1/couples/{couple_id}"), format!("/api/v1/couples/{couple_id}/overview")] {
        assert_eq!(api.get(&path).await.status, StatusCode::OK, "{path}");
    }
    assert_eq!(counselor.get(&format!("/couples/{couple_id}")).await.status, StatusCode::OK);
    let foreign = uuid::Uuid::now_v7();
    assert_eq!(api.get(&format!("/api/v1/couples/{foreign}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(api.get(&format!("/people/{email}/{member_id}")).await.status, StatusCode::NOT_FOUND);
    app.client().sign_in("harbor", email, "not the password").await;
    tandem::audit::verify_practice(&app.state, practice.id).await.unwrap();

    // Not on the public port.
    assert_eq!(app.client().get("/metrics").await.status, StatusCode::NOT_FOUND);

    let text = scrape(&app).await;
    let samples = parse(&python, &text);
    let has = |family: &str, kind: &str, labels: &[(&str, &str)]| {
        samples.iter().any(|s| {
            s.family == family && s.kind == kind && s.value >= 0.0 && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    };
    let overview = "/api/v1/couples/{couple_id}/overview";
    assert!(has("tandem_http_requests", "counter", &[("route", overview), ("status", "200"), ("method", "GET")]), "{text}");
    assert!(has("tandem_http_request_duration_seconds", "histogram", &[("route", overview), ("le", "+Inf")]), "{text}");
    assert!(has("tandem_http_requests", "counter", &[("route", "unmatched"), ("status", "404")]), "{text}");
    assert!(has("tandem_audit_append_duration_seconds", "histogram", &[]), "{text}");
    assert!(has("tandem_audit_append_batch_events", "histogram", &[]), "{text}");
    // What encryption at rest costs: values opened, and the time that took.
    let counter = |family: &str| samples.iter().find(|s| s.family == family && s.kind == "counter").map(|s| s.value);
    assert!(counter("tandem_sealed_values_opened").is_some_and(|n| n >= 1.0), "{text}");
    assert!(counter("tandem_sealed_values_open_microseconds").is_some(), "{text}");
    for pool in ["requests", "audit_appender"] {
        assert!(has("tandem_db_pool_connections", "gauge", &[("pool", pool)]), "{text}");
    }
    let practice_id = practice.id.to_string();
    assert!(has("tandem_audit_checkpoints_signed", "counter", &[("practice_id", &practice_id)]), "{text}");
    assert!(has("tandem_audit_verifications", "counter", &[("practice_id", &practice_id), ("result", "ok")]), "{text}");
    assert!(has("tandem_audit_verification_ok", "gauge", &[("practice_id", &practice_id)]), "{text}");

    // Every label value of every sample (those other tests in this process
    // recorded too): no one's name, address or id, and the only ids at all
    // are practice ids, under that label.
    let mut people: Vec<String> = vec![
        email.into(),
        member_name(email),
        member_id.to_string(),
        couple_id.clone(),
        token.clone(),
        "Okafor".into(),
        "Reyes".into(),
    ];
    for partner in ["partner_a", "partner_b"] {
        if let Some(id) = couple[partner]["id"].as_str() {
            people.push(id.to_owned());
        }
    }
    for sample in &samples {
        for (key, value) in &sample.labels {
            for person in &people {
                assert!(!value.contains(person.as_str()), "{}{{{key}={value:?}}} names {person:?}", sample.name);
            }
            assert!(!value.contains('@'), "{}{{{key}={value:?}}} carries an address", sample.name);
            let has_id = value.split(|c: char| !(c.is_ascii_hexdigit() || c == '-')).any(|w| uuid::Uuid::parse_str(w).is_ok());
            assert!(!has_id || key == "practice_id", "{}{{{key}={value:?}}} carries an id", sample.name);
        }
    }
}

both!(metrics_parse_and_no_label_identifies_a_person);
