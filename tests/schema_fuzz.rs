//! Schema-driven fuzzing of the API with schemathesis (PyPI), every check
//! on, against the real binary on a database with a whole couple's records:
//! no server error, no status or content type the OpenAPI document does not
//! declare, no schema-valid request refused, no invalid one accepted.
//!
//! tests/run installs schemathesis into a virtual environment and names its
//! `st` in `TANDEM_TEST_SCHEMATHESIS`; without it the test is skipped
//! (except in CI, where it must run). `TANDEM_TEST_FUZZ_EXAMPLES` (default 12 per
//! operation) and `TANDEM_TEST_FUZZ_SEED` widen or vary a run.

use std::process::Command;

use crate::{
    binary::{free_port, serve_database, wait_until_listening},
    clinical_world::{Actor, World},
    helpers::*,
};

async fn the_api_keeps_its_openapi_promises(app: TestApp) {
    let Some(st) = schemathesis() else { return };
    let mut w = World::build(&app).await;
    let (_, token) = w.client(Actor::CareTeam).create_token("schemathesis").await;
    // Real ids where the document has path parameters, so requests reach the
    // handlers instead of stopping at 404.
    let parameters = [
        ("couple_id", w.couple),
        ("session_id", w.joint_session),
        ("note_id", w.draft_note),
        ("boundary_id", w.shared_boundary),
        ("lapse_id", w.shared_lapse),
    ];
    let database = app.state.config.database_url.expose().clone();
    let master_key = app.state.config.master_key_file.clone();
    let printed = tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        crate::kill::same_master_key(&master_key, &dir);
        let port = free_port();
        let (_running, rx) = serve_database(&database, &dir, port, &[]);
        wait_until_listening(&rx);
        let run = |name: &str, extra_settings: &str, args: &[&str]| {
            let settings = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fuzz/schemathesis.toml")).unwrap();
            let config_file = dir.path().join(format!("{name}.toml"));
            std::fs::write(&config_file, format!("{extra_settings}\n{settings}")).unwrap();
            let examples = std::env::var("TANDEM_TEST_FUZZ_EXAMPLES").unwrap_or_else(|_| "12".into());
            let seed = std::env::var("TANDEM_TEST_FUZZ_SEED").unwrap_or_else(|_| "20261206".into());
            let out = Command::new(&st)
                .arg("--config-file")
                .arg(&config_file)
                .args(["run", &format!("http://127.0.0.1:{port}/api/openapi.json")])
                .args(["--max-examples", &examples, "--seed", &seed, "--workers", "1"])
                .args(["--header", &format!("Authorization: Bearer {token}")])
                .args(["--no-color", "--output-truncate", "false"])
                .args(args)
                .current_dir(dir.path())
                .output()
                .unwrap();
            let printed = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
            let summary = printed.lines().rev().find(|l| l.contains(" in ") && l.contains('=')).unwrap_or("(no summary)");
            eprintln!("schemathesis, {name}: {summary}");
            (out.status.success(), printed)
        };
        // Pass 1, every check, ids generated: invalid requests of every shape
        // (most ids match nothing, which is a 404 the document declares).
        let generated = run("generated ids", "", &[]);
        // Pass 2, every check, valid requests only, on the couple's real
        // records, so requests reach the handlers. Only valid data here: with
        // fixed ids schemathesis would label a request with a replaced,
        // "invalid" id as invalid data that was wrongly accepted.
        let mut ids = String::from("[parameters]\n");
        for (name, id) in parameters {
            ids.push_str(&format!("\"path.{name}\" = \"{id}\"\n"));
        }
        let real = run("real records", &ids, &["--mode", "positive"]);
        [generated, real].into_iter().filter(|(passed, _)| !passed).map(|(_, printed)| printed).collect::<Vec<_>>()
    })
    .await
    .unwrap();
    assert!(printed.is_empty(), "schemathesis found problems:\n{}", printed.join("\n"));
}

/// The `st` command tests/run installed, or `None` (skip) outside CI.
fn schemathesis() -> Option<String> {
    installed_tool("TANDEM_TEST_SCHEMATHESIS", "schemathesis")
}

// Not `both!`: on two shared cores, under the rest of the suite, a run takes
// minutes, so the watchdog allows three times the usual limit.
mod the_api_keeps_its_openapi_promises {
    use crate::helpers::{TestApp, Watchdog, test_config};

    #[tokio::test]
    async fn sqlite() {
        let _watchdog = Watchdog::start_scaled(3);
        super::the_api_keeps_its_openapi_promises(TestApp::sqlite_with(test_config()).await).await;
    }

    #[tokio::test]
    async fn postgres() {
        let _watchdog = Watchdog::start_scaled(3);
        if let Some(app) = TestApp::postgres_with(test_config()).await {
            super::the_api_keeps_its_openapi_promises(app).await;
        }
    }
}
