//! Clinical text at rest: what the API writes is sealed in the database
//! (and so in SQLite's file and WAL, a pg_dump and a backup), reads back
//! whole through the API, never shows in the logs, does not open when moved
//! to another row, and survives a master-key rotation under load.

use axum::http::{Method, StatusCode};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use serde_json::json;
use uuid::Uuid;

use crate::{
    both,
    clinical_world::{Actor, World, created, csrf},
    helpers::*,
};

/// Plaintext planted in every kind of encrypted field, each its own.
const SECRETS: &[&str] = &[
    "CANARY_CLINICIAN_SIGNED_SUBJECTIVE",
    "CANARY_PARTNER_A_SIGNED_MOOD",
    "CANARY_DRAFT_DATA",
    "CANARY_PRIVATE_THOUGHTS",
    "CANARY_CLINICIAN_PLAN_SITUATION",
    "CANARY_PARTNER_B_BOUNDARY",
    "CANARY_PARTNER_B_SAFETY",
    "CANARY_PARTNER_A_LAPSE_SETTING",
    "ATREST_ADDENDUM_REASON",
    "ATREST_ADDENDUM_BODY",
    "ATREST_BOUNDARY_EVENT",
    "ATREST_LAPSE_SUBSTANCE",
    "ATREST_LAPSE_AMOUNT",
    "ATREST_LAPSE_LEARNED",
    "ATREST_CONTRACT_INTENTION",
    "ATREST_CHECKIN_NOTE",
    "ATREST_CHECKIN_CORRECTED",
];

/// Writes what `World` does not: an addendum, a boundary event, a lapse
/// with every text field, the contract's intention and a corrected check-in.
async fn more_secrets(w: &mut World<'_>) {
    let base = format!("/api/v1/couples/{}", w.couple);
    let note = w.signed_note;
    let c = w.client(Actor::CareTeam);
    let res = c
        .json(Method::POST, &format!("{base}/notes/{note}/addenda"), Some(json!({"reason": "ATREST_ADDENDUM_REASON", "text": "ATREST_ADDENDUM_BODY", "audience": "clinician"})))
        .await;
    assert!(res.status.is_success(), "{}", res.text());
    let boundary = w.shared_boundary;
    let c = w.client(Actor::CareTeam);
    let res = c
        .json(Method::POST, &format!("{base}/boundaries/{boundary}/events"), Some(json!({"kind": "kept", "occurred_on": "2026-04-02", "note": "ATREST_BOUNDARY_EVENT"})))
        .await;
    assert!(res.status.is_success(), "{}", res.text());
    created(
        c.json(
            Method::POST,
            &format!("{base}/lapses"),
            Some(json!({"partner": "a", "occurred_on": "2026-05-01", "days": 1, "substance": "ATREST_LAPSE_SUBSTANCE", "amount": "ATREST_LAPSE_AMOUNT",
                "setting": "home", "learned": "ATREST_LAPSE_LEARNED", "reported_by": "self", "kind": "lapse", "audience": "couple"})),
        )
        .await,
    );
    let token = csrf(c).await;
    let contract = json!({"intention_statement": "ATREST_CONTRACT_INTENTION", "meetings": ["AA Tuesday"], "audience": "couple"});
    let res = c
        .send(Method::PUT, &format!("{base}/recovery-contract"), &[("content-type", "application/json"), ("if-match", "\"2\""), ("x-csrf-token", &token)], contract.to_string().into())
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let day = w.today;
    let a = w.client(Actor::PartnerA);
    for note in ["ATREST_CHECKIN_CORRECTED", "ATREST_CHECKIN_NOTE"] {
        let res = a
            .json(Method::PUT, &format!("{base}/recovery-contract/days/{day}"), Some(json!({"trust_discussion": true, "note": note})))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    }
}

async fn clinical_text_is_sealed_at_rest(app: TestApp) {
    let mut w = World::build(&app).await;
    more_secrets(&mut w).await;

    // Everything reads back whole to the care team...
    let base = format!("/api/v1/couples/{}", w.couple);
    let c = w.client(Actor::CareTeam);
    let mut seen = String::new();
    for path in ["/overview", "/notes", "/private-notes", "/plan", "/boundaries", "/safety-plans", "/lapses", "/recovery-contract"] {
        let res = c.get(&format!("{base}{path}")).await;
        assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.text());
        seen.push_str(&res.text());
    }
    let day = w.today;
    let res = w.client(Actor::PartnerA).get(&format!("{base}/recovery-contract/days?from={day}&to={day}")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    seen.push_str(&res.text());
    for secret in SECRETS.iter().filter(|s| **s != "ATREST_CHECKIN_CORRECTED") {
        assert!(seen.contains(secret), "{secret} does not read back");
    }

    // ...and is nowhere in plain text: not in the database's tables...
    let stored = everything_stored(&app).await;
    for secret in SECRETS {
        assert!(!stored.contains(secret), "{secret} is stored in plain text");
    }
    // ...nor in the files and copies an attacker could take.
    // pg_dump as the schema's owner, whom row-level security does not bind.
    let url = app.state.config.database_owner_url.as_ref().unwrap_or(&app.state.config.database_url).expose().clone();
    let mut copies: Vec<(String, Vec<u8>)> = Vec::new();
    if let Some(path) = tandem::db::sqlite_path(&url) {
        for suffix in ["", "-wal"] {
            let file = format!("{}{suffix}", path.display());
            copies.push((file.clone(), std::fs::read(&file).unwrap_or_default()));
        }
        let dir = tempfile::tempdir().unwrap();
        let backup = dir.path().join("backup");
        tandem::backup::backup(app.db.pool(), &app.state.config.audit_journal_path(), &backup, app.state.clock.now()).await.unwrap();
        for entry in std::fs::read_dir(&backup).unwrap() {
            let entry = entry.unwrap();
            copies.push((entry.path().display().to_string(), std::fs::read(entry.path()).unwrap()));
        }
    } else if let Some(dump) = pg_dump(&url) {
        copies.push(("pg_dump".into(), dump));
    }
    copies.push(("the logs".into(), captured_logs().into_bytes()));
    for (what, bytes) in &copies {
        for secret in SECRETS {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "{secret} is in {what}");
        }
    }
}

/// Every text column of every table, as one string.
async fn everything_stored(app: &TestApp) -> String {
    let db = &app.db;
    let backend = db.get_database_backend();
    let mut all = String::new();
    for field in tandem::vault::fields::ALL {
        let sql = format!("SELECT {} FROM {}", field.column, field.table);
        for row in db.query_all_raw(Statement::from_string(backend, sql)).await.unwrap() {
            if let Ok(Some(value)) = row.try_get_by_index::<Option<String>>(0) {
                assert!(tandem::vault::is_sealed(&value), "{}.{} holds a value that is not sealed", field.table, field.column);
                all.push_str(&value);
            }
        }
    }
    all
}

fn pg_dump(url: &str) -> Option<Vec<u8>> {
    let tool = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| Some(e.ok()?.path().join("bin/pg_dump")))
        .find(|p| p.is_file())?;
    let out = std::process::Command::new(tool).arg(url).output().ok()?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    Some(out.stdout)
}

/// A sealed value copied to another row (as someone with the database
/// might, to show one couple's note under another) does not open: the
/// reader gets a clear 500 and the access log records the failed read.
async fn moved_ciphertext_does_not_open(app: TestApp) {
    let mut w = World::build(&app).await;
    let base = format!("/api/v1/couples/{}", w.couple);
    let joint = w.joint_session;
    let c = w.client(Actor::CareTeam);
    let first = created(c.json(Method::POST, &format!("{base}/private-notes"), Some(json!({"text": "First thought", "session_id": joint}))).await);
    let second = created(c.json(Method::POST, &format!("{base}/private-notes"), Some(json!({"text": "Second thought", "session_id": joint}))).await);
    let db = &app.db;
    let backend = db.get_database_backend();
    let param = if backend == DatabaseBackend::Postgres { "$1" } else { "?" };
    let body_of = |id: Uuid| Statement::from_sql_and_values(backend, format!("SELECT body FROM private_notes WHERE id = {param}"), [id.into()]);
    let sealed: String = db.query_one_raw(body_of(first)).await.unwrap().unwrap().try_get_by_index(0).unwrap();
    let param2 = if backend == DatabaseBackend::Postgres { "$2" } else { "?" };
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        format!("UPDATE private_notes SET body = {param} WHERE id = {param2}"),
        [sealed.into(), second.into()],
    ))
    .await
    .unwrap();

    let res = c.get(&format!("{base}/private-notes/{second}")).await;
    assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", res.text());
    assert_eq!(res.header("content-type"), Some("application/problem+json"));
    assert!(res.text().contains("does not decrypt") && !res.text().contains("First thought"), "{}", res.text());
    let request_id = res.header("x-request-id").unwrap().to_owned();
    let event = entity::access_events::Entity::find()
        .filter(entity::access_events::Column::RequestId.eq(request_id))
        .one(db)
        .await
        .unwrap()
        .expect("the failed read is in the access log");
    assert_ne!(event.outcome, "success", "{event:?}");
    // The first note still reads, and so does the couple's page.
    let res = c.get(&format!("{base}/private-notes/{first}")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
}

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

/// Text stored before encryption existed is sealed in place at start-up,
/// and reads the same afterwards; running it again changes nothing. A value
/// of the first format that does not open is left as it is (read once, not
/// forever), and reading it still fails loudly.
async fn plaintext_from_before_is_sealed_in_place(app: TestApp) {
    let mut w = World::build(&app).await;
    let base = format!("/api/v1/couples/{}", w.couple);
    let private = w.private_note;
    let joint = w.joint_session;
    let damaged = created(
        w.client(Actor::CareTeam).json(Method::POST, &format!("{base}/private-notes"), Some(json!({"text": "To be damaged", "session_id": joint}))).await,
    );
    let db = &app.db;
    let backend = db.get_database_backend();
    let param = if backend == DatabaseBackend::Postgres { "$1" } else { "?" };
    let param2 = if backend == DatabaseBackend::Postgres { "$2" } else { "?" };
    let set_body = |body: &str, id: Uuid| {
        Statement::from_sql_and_values(backend, format!("UPDATE private_notes SET body = {param} WHERE id = {param2}"), [body.into(), id.into()])
    };
    db.execute_raw(set_body("Written before encryption", private)).await.unwrap();
    let garbage = "enc1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    db.execute_raw(set_body(garbage, damaged)).await.unwrap();
    let sealed = tandem::vault::seal_existing(db, &app.state.vault).await.unwrap();
    assert_eq!(sealed, 1, "the plaintext, not the value that does not open");
    assert_eq!(tandem::vault::seal_existing(db, &app.state.vault).await.unwrap(), 0, "nothing left to seal");
    let stored = everything_stored(&app).await;
    assert!(!stored.contains("Written before encryption"));
    assert!(stored.contains(garbage), "a value that does not open is left as it was");
    let c = w.client(Actor::CareTeam);
    let res = c.get(&format!("{base}/private-notes/{private}")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json()["text"], "Written before encryption");
    let res = c.get(&format!("{base}/private-notes/{damaged}")).await;
    assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", res.text());
    assert!(res.text().contains("does not decrypt"), "{}", res.text());
}

both!(clinical_text_is_sealed_at_rest);
both!(moved_ciphertext_does_not_open);
both!(plaintext_from_before_is_sealed_in_place);

/// `tandem keys rotate` while counselors write: every note written before,
/// during and after opens, in the process that ran throughout and in one
/// started afterwards from the new key file; the old key is gone from it.
async fn key_rotation_under_load_loses_nothing(app: TestApp) {
    let _watchdog = Watchdog::start();
    let dir = tempfile::tempdir().unwrap();
    let keyring = dir.path().join("master.keys");
    let process = |vault: tandem::vault::Vault| {
        app.with_state(tandem::state::AppState::new(
            app.state.db.pool().clone(),
            (*app.state.config).clone(),
            std::sync::Arc::new(app.clock.clone()),
            (*app.state.checkpoint_key).clone(),
            (*app.state.sealing_key).clone(),
            vault,
        ))
    };
    let running = process(tandem::vault::Vault::from_file(&keyring).unwrap());
    let old_ids = tandem::vault::Keyring::load(&keyring).unwrap().ids();
    let mut w = World::build(&running).await;
    let base = format!("/api/v1/couples/{}", w.couple);
    let joint = w.joint_session;
    let c = w.client(Actor::CareTeam);

    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(write_note(c, &base, joint, n).await);
    }
    let done = std::sync::atomic::AtomicBool::new(false);
    let rotation = async {
        let rotated = tandem::vault::rotate(&app.db, &keyring).await.unwrap();
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        rotated
    };
    let writing = async {
        let mut during = Vec::new();
        let mut n = 100;
        while !done.load(std::sync::atomic::Ordering::SeqCst) || during.len() < 3 {
            during.push(write_note(c, &base, joint, n).await);
            n += 1;
        }
        during
    };
    let (rotated, during) = tokio::join!(rotation, writing);
    ids.extend(during);
    for n in 200..203 {
        ids.push(write_note(c, &base, joint, n).await);
    }
    assert!(rotated.rewrapped >= 2, "both practices' keys re-wrapped: {rotated:?}");
    assert_eq!(rotated.dropped_key_ids, old_ids);
    let now_ids = tandem::vault::Keyring::load(&keyring).unwrap().ids();
    assert_eq!(now_ids, vec![rotated.new_key_id.clone()], "only the new key is left in the file");

    // A practice made after the rotation by the process that ran throughout.
    let mut late = running.practice("latecomer").await;
    let (_, mut counselor) = late.member("lee@latecomer.example", &["counselor"]).await;
    let res = counselor.get("/api/v1/couples").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());

    // Everything opens, in the old process and in a new one.
    let fresh = process(tandem::vault::Vault::from_file(&keyring).unwrap());
    for app in [&running, &fresh] {
        let stored: std::collections::HashSet<String> = entity::practice_keys::Entity::find()
            .all(&app.db)
            .await
            .unwrap()
            .into_iter()
            .map(|k| k.master_key_id)
            .collect();
        assert_eq!(stored, [rotated.new_key_id.clone()].into(), "every data key is wrapped by the new master key");
    }
    let mut reader = fresh.client();
    reader.cookies = w.client(Actor::CareTeam).cookies.clone();
    for id in &ids {
        let res = reader.get(&format!("{base}/private-notes/{id}")).await;
        assert_eq!(res.status, StatusCode::OK, "note {id} after rotation: {}", res.text());
        assert!(res.json()["text"].as_str().unwrap().starts_with("Rotation note"));
    }
    let res = reader.get(&format!("{base}/overview")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
}

async fn write_note(c: &mut Client<'_>, base: &str, session: Uuid, n: usize) -> Uuid {
    let body = json!({"text": format!("Rotation note {n}"), "session_id": session});
    created(c.json(Method::POST, &format!("{base}/private-notes"), Some(body)).await)
}

both!(key_rotation_under_load_loses_nothing);
