//! The couple overview a clinician reads is kept in memory under the
//! couple's revision: a second read of an unchanged couple skips the record
//! queries, and any change to the couple's records, through the service or
//! around it in the database, shows on the very next read. The revision is
//! moved by triggers, which every table holding a couple's rows must have.

use axum::http::{Method, StatusCode};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use serde_json::json;
use uuid::Uuid;

use crate::{
    both,
    clinical_world::{Actor, World},
    helpers::*,
};

/// Runs `sql` (PostgreSQL's `$1`, `$2` placeholders; `?` on SQLite) as
/// the test's database owner; it must change something.
async fn exec(app: &TestApp, sql: &str, values: Vec<sea_orm::Value>) {
    let backend = app.db.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Postgres => sql.to_owned(),
        _ => (1..=values.len()).fold(sql.to_owned(), |sql, n| sql.replace(&format!("${n}"), "?")),
    };
    let done = app.db.execute_raw(Statement::from_sql_and_values(backend, &sql, values)).await.unwrap();
    assert!(done.rows_affected() >= 1, "nothing changed: {sql}");
}

async fn a_kept_overview_serves_until_the_couple_changes(app: TestApp) {
    let mut w = World::build(&app).await;
    let c = w.couple;
    let path = format!("/api/v1/couples/{c}/overview");
    let counselor = w.client(Actor::CareTeam);
    let (first, seen) = statements_for(&app, counselor, &path).await;
    let (again, seen_again) = statements_for(&app, counselor, &path).await;
    assert_eq!(seen, seen_again, "the kept copy is the same overview");
    assert!(again + 10 <= first, "an unchanged couple is not read again: {first} statements, then {again}");

    // A change through the service shows on the next read.
    let joint = w.joint_session;
    let counselor = w.client(Actor::CareTeam);
    let res = counselor.json(Method::POST, &format!("/api/v1/couples/{c}/private-notes"), Some(json!({"text": "Ask about the weekend", "session_id": joint}))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let (_, seen) = statements_for(&app, counselor, &path).await;
    assert!(seen.contains("Ask about the weekend"), "{seen}");

    // A change made in the database, around the service: the triggers move
    // the revision all the same.
    let moved = time::macros::date!(2001 - 02 - 03);
    exec(&app, "UPDATE lapses SET occurred_on = $1 WHERE id = $2", vec![moved.into(), w.shared_lapse.into()]).await;
    let (_, seen) = statements_for(&app, w.client(Actor::CareTeam), &path).await;
    assert!(seen.contains("2001-02-03"), "{seen}");

    // A row that belongs to the couple through its parent: a boundary's version.
    let review = time::macros::date!(2098 - 07 - 06);
    exec(&app, "UPDATE boundary_versions SET review_on = $1 WHERE boundary_id = $2", vec![review.into(), w.shared_boundary.into()]).await;
    let (_, seen) = statements_for(&app, w.client(Actor::CareTeam), &path).await;
    assert!(seen.contains("2098-07-06"), "{seen}");

    // The care team's names come from their member rows.
    let on_team: Uuid = {
        let backend = app.db.get_database_backend();
        let param = if backend == DatabaseBackend::Postgres { "$1" } else { "?" };
        let row = app
            .db
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                format!("SELECT member_id FROM care_team_members WHERE couple_id = {param} ORDER BY member_id LIMIT 1"),
                [c.into()],
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index(0).unwrap()
    };
    exec(&app, "UPDATE members SET display_name = $1 WHERE id = $2", vec!["Quinn Renamed".into(), on_team.into()]).await;
    let (_, seen) = statements_for(&app, w.client(Actor::CareTeam), &path).await;
    assert!(seen.contains("Quinn Renamed"), "{seen}");

    // The couple's own row, changed by hand: its version stays, its
    // revision moves all the same.
    exec(&app, "UPDATE couples SET label = $1 WHERE id = $2", vec!["Relabelled by hand".into(), c.into()]).await;
    let (_, seen) = statements_for(&app, w.client(Actor::CareTeam), &path).await;
    assert!(seen.contains("Relabelled by hand"), "{seen}");
}

both!(a_kept_overview_serves_until_the_couple_changes);

/// With no overviews kept, every read goes to the database: the saving
/// above comes from the cache and nothing else.
async fn with_the_cache_off_every_read_is_a_full_read(app: TestApp) {
    let [(first, _), (again, _)] = overview_twice(&app, Actor::CareTeam).await;
    assert_eq!(first, again);
}

/// The statements and answer of two reads of the overview by `actor`.
async fn overview_twice(app: &TestApp, actor: Actor) -> [(u64, String); 2] {
    let mut w = World::build(app).await;
    let path = format!("/api/v1/couples/{}/overview", w.couple);
    let reader = w.client(actor);
    [statements_for(app, reader, &path).await, statements_for(app, reader, &path).await]
}

fn no_cache() -> tandem::config::Config {
    tandem::config::Config { overview_cache_entries: 0, ..test_config() }
}

both!(config = super::no_cache(); with_the_cache_off_every_read_is_a_full_read);

/// A partner's overview is never the kept copy: what a partner sees turns
/// on consents in force at the moment, so it is read every time.
async fn partners_read_afresh(app: TestApp) {
    let [(first, seen), (again, seen_again)] = overview_twice(&app, Actor::PartnerA).await;
    assert_eq!(first, again);
    assert_eq!(seen, seen_again);
}

both!(partners_read_afresh);

/// Every table holding rows of a couple moves the couple's revision: a new
/// one without the trigger would let a kept overview miss its changes.
async fn every_table_of_a_couple_moves_its_revision(app: TestApp) {
    let backend = app.db.get_database_backend();
    let (tables, triggered) = match backend {
        DatabaseBackend::Postgres => (
            "SELECT table_name::text FROM information_schema.columns WHERE table_schema = current_schema() AND column_name = 'couple_id'",
            "SELECT DISTINCT c.relname::text FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname = 'tandem_revise_couple'",
        ),
        _ => (
            "SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table' AND p.name = 'couple_id'",
            "SELECT DISTINCT tbl_name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'tandem_revise_couple_%'",
        ),
    };
    let db = &app.db;
    let names = |sql: &'static str| async move {
        let rows = db.query_all_raw(Statement::from_string(backend, sql)).await.unwrap();
        rows.into_iter().map(|r| r.try_get_by_index::<String>(0).unwrap()).collect::<std::collections::BTreeSet<_>>()
    };
    let (tables, triggered) = (names(tables).await, names(triggered).await);
    assert!(tables.len() > 15, "{tables:?}");
    let missing: Vec<_> = tables.iter().filter(|t| *t != "access_events" && !triggered.contains(*t)).collect();
    assert!(missing.is_empty(), "tables of a couple without the revision trigger: {missing:?}");
    assert!(!triggered.contains("access_events"), "a read must not look like a change");
    for child in ["boundary_events", "boundary_versions", "contract_checkin_revisions", "members"] {
        assert!(triggered.contains(child), "{child}");
    }
}

both!(every_table_of_a_couple_moves_its_revision);

/// A session-prep PDF asked for again is the same document, its rendering
/// kept; a change to what it says is a new rendering that says it.
async fn a_kept_rendering_never_outlives_what_it_says(app: TestApp) {
    let mut w = World::build(&app).await;
    let c = w.couple;
    let path = format!("/api/v1/couples/{c}/summary.pdf");
    let first = w.client(Actor::CareTeam).get(&path).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    let again = w.client(Actor::CareTeam).get(&path).await;
    assert_eq!(first.body, again.body);

    exec(&app, "UPDATE couples SET label = $1 WHERE id = $2", vec!["Relabelled for the summary".into(), c.into()]).await;
    let changed = w.client(Actor::CareTeam).get(&path).await;
    assert_ne!(first.body, changed.body);
    let text = crate::pdfs::pdf_text(&changed.body);
    assert!(text.contains("Relabelled for the summary"), "{text}");
}

both!(a_kept_rendering_never_outlives_what_it_says);

/// A clinician's dashboard is kept while their caseload is unchanged, and
/// still lists exactly what a read at this moment would: a session that
/// comes within the fortnight, or ends, between two reads is listed, or
/// no longer listed, without the couple changing; a change to a couple
/// shows at once.
async fn a_kept_dashboard_lists_what_a_read_now_would(app: TestApp) {
    let mut w = World::build(&app).await;
    let c = w.couple;
    let now = app.state.clock.now();
    let at = |t: time::OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).unwrap();
    let mut book = async |starts: time::OffsetDateTime, ends: time::OffsetDateTime| -> Uuid {
        let body = json!({"starts_at": at(starts), "ends_at": at(ends), "kind": "joint", "modality": "behavioral_couples_therapy"});
        let res = w.client(Actor::CareTeam).json(Method::POST, &format!("/api/v1/couples/{c}/sessions"), Some(body)).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
        res.json()["id"].as_str().unwrap().parse().unwrap()
    };
    // One just beyond the fortnight the dashboard looks ahead, one under way
    // and about to end.
    let later = book(now + time::Duration::days(14) + time::Duration::seconds(20), now + time::Duration::days(14) + time::Duration::hours(1)).await;
    let ending = book(now - time::Duration::minutes(50), now + time::Duration::seconds(20)).await;
    let listed = |page: &str, id: Uuid| page.contains(&format!("/sessions/{id}/prep"));

    let (first, page) = statements_for(&app, w.client(Actor::CareTeam), "/dashboard").await;
    assert!(!listed(&page, later) && listed(&page, ending), "{page}");
    let lapses = page.matches("#lapses\">").count();
    app.clock.advance(time::Duration::seconds(30));
    let (kept, page) = statements_for(&app, w.client(Actor::CareTeam), "/dashboard").await;
    assert!(kept < first, "an unchanged caseload is not read again: {first} statements, then {kept}");
    assert!(listed(&page, later), "now within the fortnight: {page}");
    assert!(!listed(&page, ending), "over: {page}");

    // A change to the couple: read again, and shown.
    let lapse = json!({"partner": "a", "occurred_on": w.today.to_string(), "substance": "alcohol", "reported_by": "self", "kind": "lapse", "audience": "couple"});
    let res = w.client(Actor::CareTeam).json(Method::POST, &format!("/api/v1/couples/{c}/lapses"), Some(lapse)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let (read, page) = statements_for(&app, w.client(Actor::CareTeam), "/dashboard").await;
    assert_eq!(read, first, "a changed caseload is read in full");
    assert_eq!(page.matches("#lapses\">").count(), lapses + 1, "the new lapse is listed: {page}");
}

both!(a_kept_dashboard_lists_what_a_read_now_would);

/// A kept dashboard is presented for the practice's time zone as it is at
/// the moment: a new zone shows on the next read, though no couple changed
/// and the caseload itself stays kept.
async fn a_kept_dashboard_shows_the_practice_time_zone_of_now(app: TestApp) {
    // Berlin's day and UTC's differ from 23:00 UTC: keep clear of that hour,
    // so that the zone is all that changes.
    if app.state.clock.now().hour() == 23 {
        app.clock.advance(time::Duration::hours(2));
    }
    let mut w = World::build(&app).await;
    let c = w.couple;
    let starts = app.state.clock.now() + time::Duration::days(3);
    let at = |t: time::OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).unwrap();
    let body = json!({"starts_at": at(starts), "ends_at": at(starts + time::Duration::hours(1)), "kind": "joint", "modality": "behavioral_couples_therapy"});
    let res = w.client(Actor::CareTeam).json(Method::POST, &format!("/api/v1/couples/{c}/sessions"), Some(body)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let prep = format!("/sessions/{}/prep", res.json()["id"].as_str().unwrap());
    let line = |page: &str| page.split("<li>").find(|li| li.contains(&prep)).map(str::to_owned).unwrap_or_else(|| panic!("not listed: {page}"));

    let (first, page) = statements_for(&app, w.client(Actor::CareTeam), "/dashboard").await;
    let in_berlin = line(&page);
    let (kept, page) = statements_for(&app, w.client(Actor::CareTeam), "/dashboard").await;
    assert!(kept < first, "an unchanged caseload is kept: {first} statements, then {kept}");
    assert_eq!(line(&page), in_berlin);

    exec(&app, "UPDATE practices SET time_zone = $1", vec!["UTC".into()]).await;
    let (still_kept, page) = statements_for(&app, w.client(Actor::CareTeam), "/dashboard").await;
    assert_eq!(still_kept, kept, "the caseload did not change");
    assert_ne!(line(&page), in_berlin, "the session's time is shown in the new zone: {page}");
}

both!(a_kept_dashboard_shows_the_practice_time_zone_of_now);
