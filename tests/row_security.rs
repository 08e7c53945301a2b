//! PostgreSQL's row-level security, the second line behind the practice
//! scope: checked in the catalog and by raw SQL as the role the service runs
//! as (`helpers::SERVICE_ROLE`), which no request or bug can step around.

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, Statement, TransactionTrait};
use uuid::Uuid;

use crate::helpers::*;

async fn postgres() -> Option<TestApp> {
    TestApp::postgres_with(test_config()).await
}

fn stmt(sql: &str) -> Statement {
    Statement::from_string(DatabaseBackend::Postgres, sql.to_owned())
}

async fn count(db: &impl ConnectionTrait, sql: &str) -> i64 {
    let row = db.query_one_raw(stmt(sql)).await.unwrap_or_else(|e| panic!("{sql}: {e}")).unwrap();
    row.try_get_by_index(0).unwrap()
}

/// Runs `work` in a transaction of the service's role that acts in `practice`.
async fn as_practice(service: &DatabaseConnection, practice: Uuid, sql: &str) -> Result<i64, DbErr> {
    let txn = service.begin().await?;
    txn.execute_raw(stmt(&format!("SELECT set_config('tandem.practice_id', '{practice}', true)"))).await?;
    let done = txn.execute_raw(stmt(sql)).await?;
    txn.commit().await?;
    Ok(done.rows_affected() as i64)
}

#[tokio::test]
async fn every_table_with_a_practice_is_under_forced_row_level_security() {
    let Some(app) = postgres().await else { return };
    let unsecured = app
        .db
        .query_all_raw(stmt(
            "SELECT c.relname::text AS name, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced, \
                    (SELECT count(*) FROM pg_policies p WHERE p.schemaname = n.nspname AND p.tablename = c.relname) AS policies \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind = 'r' \
               AND (c.relname = 'practices' OR EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'practice_id' AND NOT a.attisdropped))",
        ))
        .await
        .unwrap();
    assert!(unsecured.len() > 20, "the practice tables are found: {}", unsecured.len());
    let mut bad = Vec::new();
    for row in &unsecured {
        let name: String = row.try_get("", "name").unwrap();
        let (enabled, forced): (bool, bool) = (row.try_get("", "enabled").unwrap(), row.try_get("", "forced").unwrap());
        let policies: i64 = row.try_get("", "policies").unwrap();
        if !(enabled && forced && policies > 0) {
            bad.push(format!("{name} (enabled {enabled}, forced {forced}, {policies} policies)"));
        }
    }
    assert!(bad.is_empty(), "tables with a practice but without forced row-level security: {bad:?}");

    // The service's role owns nothing and bypasses nothing.
    let service = app.state.db.pool();
    let role = service
        .query_one_raw(stmt("SELECT rolsuper, rolbypassrls, current_user::text FROM pg_roles WHERE rolname = current_user"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(role.try_get_by_index::<String>(2).unwrap(), SERVICE_ROLE);
    assert!(!role.try_get_by_index::<bool>(0).unwrap() && !role.try_get_by_index::<bool>(1).unwrap());
    assert_eq!(count(service, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tableowner = current_user").await, 0);
    let off = service.execute_unprepared("ALTER TABLE couples DISABLE ROW LEVEL SECURITY").await;
    assert!(off.is_err(), "the service's role cannot turn row-level security off");
    let history = service.execute_unprepared("DELETE FROM seaql_migrations").await;
    assert!(history.is_err(), "the service's role cannot rewrite the migrations' history");
}

#[tokio::test]
async fn the_service_role_sees_and_writes_only_the_practice_it_acts_in() {
    let Some(app) = postgres().await else { return };
    let mut a = app.practice("rls-a").await;
    let mut b = app.practice("rls-b").await;
    let (_, mut counselor) = a.member("casey@harbor.example", &["counselor"]).await;
    let couple = counselor.create_couple().await["id"].as_str().unwrap().to_owned();
    let (_, mut other) = b.member("drew@marsh.example", &["counselor"]).await;
    other.create_couple().await;
    let service = app.state.db.pool();

    // Without the setting: nothing of any practice, though the rows are there.
    for table in ["members", "couples", "partners", "access_events", "practice_keys", "invitations"] {
        assert_eq!(count(service, &format!("SELECT count(*) FROM {table}")).await, 0, "{table} without a practice");
        assert!(count(&app.db, &format!("SELECT count(*) FROM {table}")).await > 0, "{table} has rows for the owner");
    }
    // The practices themselves are readable (sign-in finds one by its address) but not writable.
    assert_eq!(count(service, "SELECT count(*) FROM practices").await, 2);
    let renamed = service.execute_unprepared("UPDATE practices SET name = 'taken over'").await.unwrap();
    assert_eq!(renamed.rows_affected(), 0);

    // With practice A set: a query with no WHERE returns only A's rows.
    let txn = service.begin().await.unwrap();
    txn.execute_raw(stmt(&format!("SELECT set_config('tandem.practice_id', '{}', true)", a.id))).await.unwrap();
    let seen = txn.query_all_raw(stmt("SELECT practice_id FROM couples")).await.unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].try_get_by_index::<Uuid>(0).unwrap(), a.id);
    let members = txn.query_all_raw(stmt("SELECT DISTINCT practice_id FROM members")).await.unwrap();
    assert_eq!(members.len(), 1);
    txn.rollback().await.unwrap();

    // Writes into practice B fail or touch nothing.
    let insert = as_practice(
        service,
        a.id,
        &format!(
            "INSERT INTO members (id, practice_id, email, display_name, roles, active, created_at, updated_at) \
             VALUES ('{}', '{}', 'intruder@x.example', 'Intruder', 'counselor', true, now(), now())",
            Uuid::now_v7(),
            b.id
        ),
    )
    .await;
    let err = insert.expect_err("an insert into another practice is refused").to_string();
    assert!(err.contains("row-level security"), "{err}");
    let update = as_practice(service, a.id, &format!("UPDATE members SET display_name = 'Mallory' WHERE practice_id = '{}'", b.id)).await;
    assert_eq!(update.unwrap(), 0, "another practice's rows cannot be updated");
    let moved = as_practice(service, a.id, &format!("UPDATE couples SET practice_id = '{}' WHERE id = '{couple}'", b.id)).await;
    assert!(moved.is_err(), "a row cannot be moved into another practice");
    let deleted = as_practice(service, a.id, &format!("DELETE FROM access_events WHERE practice_id = '{}'", b.id)).await;
    assert_eq!(deleted.unwrap(), 0, "another practice's access log cannot be deleted");
}

#[tokio::test]
async fn a_secret_shows_only_its_own_row_before_the_practice_is_known() {
    let Some(app) = postgres().await else { return };
    let mut a = app.practice("rls-secret-a").await;
    let mut b = app.practice("rls-secret-b").await;
    a.admin.invite("one@a.example", &["counselor"]).await;
    b.admin.invite("two@b.example", &["counselor"]).await;
    let stored: Vec<String> = app
        .db
        .query_all_raw(stmt("SELECT token_hash FROM invitations ORDER BY created_at"))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get_by_index(0).unwrap())
        .collect();
    assert!(stored.len() >= 4, "{stored:?}");
    let service = app.state.db.pool();
    let txn = service.begin().await.unwrap();
    txn.execute_raw(stmt(&format!("SELECT set_config('tandem.secret', '{}', true)", stored[1]))).await.unwrap();
    assert_eq!(count(&txn, "SELECT count(*) FROM invitations").await, 1, "only the invitation whose secret is held");
    assert_eq!(count(&txn, "SELECT count(*) FROM members").await, 0, "a secret opens no other table");
    let taken = txn.execute_unprepared("DELETE FROM invitations").await.unwrap();
    assert_eq!(taken.rows_affected(), 0, "a secret alone writes nothing");
    txn.rollback().await.unwrap();
}

/// An API request's first statement, `tandem_token_holder`, tells
/// row-level security the practice and the secret before it reads, and both
/// hold for the rest of the transaction (as `tandem_session` does for a
/// browser request). The secret shows its own token and
/// nothing else; the member shows only under the token's own practice.
#[tokio::test]
async fn the_opening_statements_tell_the_practice_and_secret_before_they_read() {
    let Some(app) = postgres().await else { return };
    let mut a = app.practice("rls-holder-a").await;
    let mut b = app.practice("rls-holder-b").await;
    let (_, _) = a.admin.create_token("a's script").await;
    let (b_token, _) = b.admin.create_token("b's script").await;
    let stored = app
        .db
        .query_one_raw(stmt(&format!("SELECT token_hash, member_id FROM api_tokens WHERE id = '{b_token}'")))
        .await
        .unwrap()
        .unwrap();
    let (hash, b_admin): (String, Uuid) = (stored.try_get_by_index(0).unwrap(), stored.try_get_by_index(1).unwrap());
    let service = app.state.db.pool();
    let holder = |practice: String| {
        format!(
            "SELECT (h.token).id AS token, (h.member).id AS member, (h.member_practice).id AS practice \
             FROM tandem_token_holder('{hash}', '{practice}') AS h"
        )
    };

    let txn = service.begin().await.unwrap();
    let rows = txn.query_all_raw(stmt(&holder(b.id.to_string()))).await.unwrap();
    assert_eq!(rows.len(), 1, "the one token whose secret is held");
    assert_eq!(rows[0].try_get::<Uuid>("", "token").unwrap(), b_token);
    assert_eq!(rows[0].try_get::<Option<Uuid>>("", "member").unwrap(), Some(b_admin), "its member, in its practice");
    assert_eq!(rows[0].try_get::<Option<Uuid>>("", "practice").unwrap(), Some(b.id));
    let b_members = count(&app.db, &format!("SELECT count(*) FROM members WHERE practice_id = '{}'", b.id)).await;
    assert_eq!(count(&txn, "SELECT count(*) FROM members").await, b_members, "later statements act in the practice told");
    assert_eq!(count(&txn, "SELECT count(*) FROM api_tokens").await, 1, "and hold the secret: one token, no other");
    txn.rollback().await.unwrap();

    let txn = service.begin().await.unwrap();
    let rows = txn.query_all_raw(stmt(&holder(a.id.to_string()))).await.unwrap();
    assert_eq!(rows.len(), 1, "the secret shows its token whatever the practice told");
    assert_eq!(rows[0].try_get::<Option<Uuid>>("", "member").unwrap(), None, "but not its member from another practice");
    assert_eq!(count(&txn, "SELECT count(*) FROM members WHERE practice_id <> current_setting('tandem.practice_id')::uuid").await, 0);
    txn.rollback().await.unwrap();

    let txn = service.begin().await.unwrap();
    let rows = txn.query_all_raw(stmt(&holder(String::new()))).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].try_get::<Option<Uuid>>("", "member").unwrap(), None, "no practice told, no member shown");
    assert_eq!(count(&txn, "SELECT count(*) FROM members").await, 0);
    txn.rollback().await.unwrap();

    let txn = service.begin().await.unwrap();
    let wrong = format!("SELECT count(*) FROM tandem_token_holder('{}', '{}')", "0".repeat(64), b.id);
    assert_eq!(count(&txn, &wrong).await, 0, "a secret that matches nothing finds nothing");
    txn.rollback().await.unwrap();

    // A browser request's opening statement does the same for its session.
    let txn = service.begin().await.unwrap();
    let session = format!("SELECT count(*) FROM tandem_session('{}', now(), '{}', '')", "0".repeat(64), b.id);
    assert_eq!(count(&txn, &session).await, 0, "no such session");
    assert_eq!(count(&txn, "SELECT count(*) FROM members").await, b_members, "yet the practice is told");
    assert_eq!(count(&txn, "SELECT count(*) FROM api_tokens").await, 1, "and no secret: the practice's own token only");
    txn.rollback().await.unwrap();
}

/// `tandem_token_couple`, the first statement of an API read that names a
/// couple, reads that couple only in the token's own practice and only
/// when that practice is the one told, says whether the token's member is
/// on its care team, and tells the practice for the rest of the
/// transaction as `tandem_token_holder` does.
#[tokio::test]
async fn the_token_statement_reads_the_named_couple_only_in_the_tokens_practice() {
    let Some(app) = postgres().await else { return };
    let mut a = app.practice("rls-named-a").await;
    let mut b = app.practice("rls-named-b").await;
    let (_, mut casey) = b.member("casey@rls-named-b.example", &["counselor"]).await;
    let (_, mut drew) = b.member("drew@rls-named-b.example", &["counselor"]).await;
    let (_, mut olive) = a.member("olive@rls-named-a.example", &["counselor"]).await;
    let ours = casey.create_couple().await["id"].as_str().unwrap().to_owned();
    let theirs = olive.create_couple().await["id"].as_str().unwrap().to_owned();
    let mut hashes = Vec::new();
    for client in [&mut casey, &mut drew] {
        let (id, _) = client.create_token("script").await;
        let row = app.db.query_one_raw(stmt(&format!("SELECT token_hash FROM api_tokens WHERE id = '{id}'"))).await.unwrap().unwrap();
        hashes.push((id, row.try_get_by_index::<String>(0).unwrap()));
    }
    let [(casey_token, casey_hash), (_, drew_hash)] = <[(Uuid, String); 2]>::try_from(hashes).unwrap();
    let b_members = count(&app.db, &format!("SELECT count(*) FROM members WHERE practice_id = '{}'", b.id)).await;
    let service = app.state.db.pool();
    let read = |hash: &str, practice: String, couple: &str| {
        format!(
            "SELECT (h.token).id AS token, (h.couple).id AS couple, h.on_care_team \
             FROM tandem_token_couple('{hash}', '{practice}', '{couple}') AS h"
        )
    };
    let ours_id: Uuid = ours.parse().unwrap();
    for (hash, practice, couple, expected, on_team, why) in [
        (&casey_hash, b.id.to_string(), &ours, Some(ours_id), true, "the couple, and its creator on its care team"),
        (&drew_hash, b.id.to_string(), &ours, Some(ours_id), false, "the couple, and a counselor outside its care team"),
        (&casey_hash, b.id.to_string(), &theirs, None, false, "another practice's couple is not read"),
        (&casey_hash, a.id.to_string(), &ours, None, false, "nor the token's own under another practice told"),
        (&casey_hash, String::new(), &ours, None, false, "nor with no practice told"),
    ] {
        let txn = service.begin().await.unwrap();
        let rows = txn.query_all_raw(stmt(&read(hash, practice.clone(), couple))).await.unwrap();
        assert_eq!(rows.len(), 1, "{why}: the one token whose secret is held");
        assert_eq!(rows[0].try_get::<Option<Uuid>>("", "couple").unwrap(), expected, "{why}");
        assert_eq!(rows[0].try_get::<bool>("", "on_care_team").unwrap(), on_team, "{why}");
        if practice == b.id.to_string() {
            assert_eq!(count(&txn, "SELECT count(*) FROM members").await, b_members, "{why}: later statements act in the practice told");
        }
        txn.rollback().await.unwrap();
    }
    let txn = service.begin().await.unwrap();
    let row = txn.query_one_raw(stmt(&read(&casey_hash, b.id.to_string(), &ours))).await.unwrap().unwrap();
    assert_eq!(row.try_get::<Uuid>("", "token").unwrap(), casey_token);
    let wrong = format!("SELECT count(*) FROM tandem_token_couple('{}', '{}', '{ours}')", "0".repeat(64), b.id);
    assert_eq!(count(&txn, &wrong).await, 0, "a secret that matches nothing finds nothing");
    txn.rollback().await.unwrap();
}

/// A unit of work that only read ends without a COMMIT of its own (its
/// transaction is rolled back with the pool's check of the returned
/// connection); the connection's next user finds no transaction open and
/// no practice set. A unit that wrote, directly or in a savepoint, commits.
#[tokio::test]
async fn a_unit_that_only_read_leaves_nothing_behind_and_one_that_wrote_commits() {
    let Some(app) = postgres().await else { return };
    let practice = app.practice("rls-read").await.id;
    // One connection: each unit below gets the one the previous returned.
    let one = tandem::db::connect_url(app.state.config.database_url.expose(), 1).await.unwrap();
    let db = tandem::tenant::Db::new(one.clone());
    let unit = |sql: &'static str, savepoint: bool| {
        let db = db.clone();
        async move {
            let (wrote, committed) = tandem::tenant::scope(async move {
                tandem::tenant::enter(practice);
                assert!(count(&db, "SELECT count(*) FROM members").await >= 1, "the practice's rows are seen");
                if savepoint {
                    let txn = db.begin().await.unwrap();
                    txn.execute_unprepared(sql).await.unwrap();
                    txn.commit().await.unwrap();
                } else if !sql.is_empty() {
                    db.execute_unprepared(sql).await.unwrap();
                }
                tandem::tenant::wrote()
            })
            .await;
            committed.unwrap();
            wrote
        }
    };
    let left_behind = || async {
        let row = one
            .query_one_raw(stmt("SELECT coalesce(current_setting('tandem.practice_id', true), '') AS practice, (SELECT count(*) FROM members) AS seen"))
            .await
            .unwrap()
            .unwrap();
        (row.try_get::<String>("", "practice").unwrap(), row.try_get::<i64>("", "seen").unwrap())
    };

    assert!(!unit("", false).await, "a read is not a write");
    // Were the read's transaction still open, its practice and rows would show.
    assert_eq!(left_behind().await, (String::new(), 0), "no practice and no transaction after a read");

    assert!(unit("UPDATE members SET display_name = 'Written' WHERE email LIKE 'admin@%'", false).await);
    assert_eq!(count(&app.db, "SELECT count(*) FROM members WHERE display_name = 'Written'").await, 1);
    assert!(unit("UPDATE members SET display_name = 'In a savepoint' WHERE email LIKE 'admin@%'", true).await);
    assert_eq!(count(&app.db, "SELECT count(*) FROM members WHERE display_name = 'In a savepoint'").await, 1);
    assert_eq!(left_behind().await, (String::new(), 0));
}

#[tokio::test]
async fn a_failed_statement_stores_none_of_the_unit_of_work() {
    let Some(app) = postgres().await else { return };
    let a = app.practice("rls-unit").await;
    let db = app.state.db.clone();
    let before = count(&app.db, "SELECT count(*) FROM members").await;
    let (_, committed) = tandem::tenant::scope(async {
        tandem::tenant::enter(a.id);
        db.execute_unprepared(&format!(
            "UPDATE members SET display_name = 'Renamed' WHERE practice_id = '{}'",
            a.id
        ))
        .await
        .unwrap();
        // A statement that fails, its error ignored by the caller.
        assert!(db.execute_unprepared("SELECT 1 / 0").await.is_err());
    })
    .await;
    assert!(committed.is_err(), "the unit of work reports that nothing was stored");
    assert_eq!(count(&app.db, "SELECT count(*) FROM members WHERE display_name = 'Renamed'").await, 0);
    assert_eq!(count(&app.db, "SELECT count(*) FROM members").await, before);

    // The next unit of work on the same pool is unaffected.
    let (_, committed) = tandem::tenant::scope(async {
        tandem::tenant::enter(a.id);
        db.execute_unprepared("UPDATE members SET display_name = 'Renamed'").await.unwrap();
    })
    .await;
    committed.unwrap();
    assert_eq!(count(&app.db, "SELECT count(*) FROM members WHERE display_name = 'Renamed'").await, before);
}
