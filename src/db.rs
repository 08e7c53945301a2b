//! Connecting to SQLite or PostgreSQL with the settings each needs to be
//! durable, and bringing the schema up to date.

use std::{path::Path, time::Duration};

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr, Statement, TransactionTrait,
    sqlx::{
        Connection,
        sqlite::{SqliteJournalMode, SqliteSynchronous},
    },
};

use crate::config::Config;

pub async fn connect(config: &Config) -> anyhow::Result<DatabaseConnection> {
    connect_with(config.database_url.expose(), config.database_max_connections, config.check_idle()).await
}

/// How long one attempt to reach the database may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A pooled connection idle longer than this is checked before it is
/// handed out again, unless configured otherwise; see `connect_with`.
pub const CHECK_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// [`connect_with`] with the default [`CHECK_IF_IDLE_FOR`].
pub async fn connect_url(url: &str, max_connections: u32) -> anyhow::Result<DatabaseConnection> {
    connect_with(url, max_connections, CHECK_IF_IDLE_FOR).await
}

pub async fn connect_with(url: &str, max_connections: u32, check_idle: Duration) -> anyhow::Result<DatabaseConnection> {
    if url.starts_with("sqlite:") {
        ensure_sqlite_parent_dir(url)?;
    } else {
        reach_postgres(url).await?;
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(CONNECT_TIMEOUT)
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        // WAL lets readers run beside the writer; FULL makes a commit survive
        // power loss, not just a crash of the process.
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .create_if_missing(true)
                // Each time the log starts over after a checkpoint it is cut
                // back to nothing: it never holds more disk than its last
                // writes, and a full disk refuses the next write at once
                // instead of after the log's leftover space is used up.
                .pragma("journal_size_limit", "0")
        })
        // A connection whose COMMIT or ROLLBACK failed (a full disk, a lost
        // server) still counts a transaction as open: the next BEGIN would
        // become a SAVEPOINT whose RELEASE commits nothing. Such a
        // connection is closed, never handed out again.
        .map_sqlx_sqlite_pool_opts(|o| o.after_release(|conn, _| Box::pin(async move { Ok(!conn.is_in_transaction()) })))
        .map_sqlx_sqlite_before_acquire(|conn, _| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
        // sqlx checks every connection it takes back (a round trip that
        // also carries a dropped transaction's ROLLBACK), and by default
        // again before handing it out: a second round trip on every
        // request. A connection back in the pool for less than
        // `check_idle` was found alive when it came back; only one idle
        // longer is checked (and quietly replaced if the server dropped
        // it). One that broke in between fails its one request with a 503
        // and is closed.
        .test_before_acquire_if_idle_for(check_idle)
        // Plans of prepared statements are kept, never made again per
        // execution: the audited couple overview cost 2.49-2.68 ms of CPU
        // with them kept against 2.88-3.01 ms re-planned (BENCHMARKS.md, the
        // second line). Every statement Tandem makes looks rows up by ids
        // through indexes, where the kept plan is the plan.
        .map_sqlx_postgres_opts(|o| o.options([("plan_cache_mode", "force_generic_plan")]))
        .map_sqlx_postgres_pool_opts(|o| o.after_release(|conn, _| Box::pin(async move { Ok(!conn.is_in_transaction()) })))
        .map_sqlx_postgres_before_acquire(|conn, _| Box::pin(async move { Ok(!conn.is_in_transaction()) }));
    Database::connect(options)
        .await
        .context("could not connect to the database")
}

/// One plain connection before the pool: the pool retries a failed connect
/// until its timeout and then reports only that it timed out, while the
/// operator needs the cause ("Connection refused", a missing database)
/// at once. Messages name the server and database, never the password, and
/// leave out the server's internals (source file and line).
async fn reach_postgres(url: &str) -> anyhow::Result<()> {
    use sea_orm::sqlx::{
        Error,
        postgres::{PgConnectOptions, PgConnection},
    };
    let options: PgConnectOptions = url
        .parse()
        .map_err(|_| anyhow::anyhow!("TANDEM_DATABASE_URL is not a PostgreSQL URL Tandem can read"))?;
    let database = options.get_database().unwrap_or("(the user's own)").to_owned();
    let server = format!("{}:{}", options.get_host(), options.get_port());
    let attempt = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options)).await;
    let error = match attempt {
        Ok(Ok(connection)) => {
            let _ = connection.close().await;
            return Ok(());
        }
        Err(_) => anyhow::anyhow!("no answer within {} seconds", CONNECT_TIMEOUT.as_secs()),
        Ok(Err(Error::Database(refused))) => {
            let hint = match refused.code().as_deref() {
                Some("3D000") => format!(" (create it, e.g. `createdb -h {} -p {} {database}`, or correct TANDEM_DATABASE_URL)", options.get_host(), options.get_port()),
                _ => String::new(),
            };
            anyhow::anyhow!("{}{hint}", refused.message())
        }
        Ok(Err(Error::Io(io))) => anyhow::anyhow!("{io}"),
        Ok(Err(other)) => anyhow::anyhow!("{other}"),
    };
    Err(error.context(format!("could not connect to PostgreSQL at {server}, database {database}")))
}

/// `sqlite://data/tandem.db` needs `data/` to exist before SQLite can create the file.
fn ensure_sqlite_parent_dir(url: &str) -> anyhow::Result<()> {
    if let Some(parent) = sqlite_path(url).as_deref().and_then(Path::parent)
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("could not create {}", parent.display()))?;
    }
    Ok(())
}

/// The file behind a `sqlite:` database URL (none for memory or another database).
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
}

pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None)
        .await
        .context("could not apply database migrations")
}

/// Brings the schema up to date and, on PostgreSQL, puts every practice's
/// rows under row-level security. With `database_owner_url` set, both run
/// as that owner and the service's own role (`conn`'s) is granted what it
/// needs and nothing more; without it they run on `conn` itself.
pub async fn prepare(config: &Config, conn: &DatabaseConnection) -> anyhow::Result<()> {
    let Some(owner_url) = &config.database_owner_url else {
        // Without the owner's URL the service's role does what it may: a
        // schema the owner already brought up to date (`tandem migrate` with
        // TANDEM_DATABASE_OWNER_URL) is used as it is.
        if conn.get_database_backend() == DatabaseBackend::Postgres && !owns_schema(conn).await? {
            if pending(conn).await? {
                anyhow::bail!(
                    "the database needs migrations, which only the schema's owner may apply: set TANDEM_DATABASE_OWNER_URL, \
                     or run `tandem migrate` with it first (README, \"Roles\")"
                );
            }
            return warn_if_unbound(conn).await;
        }
        migrate(conn).await?;
        secure_rows(conn, None).await?;
        return warn_if_unbound(conn).await;
    };
    let owner = connect_url(owner_url.expose(), 2)
        .await
        .context("could not connect as the schema's owner (TANDEM_DATABASE_OWNER_URL)")?;
    let service = role_of(conn).await?;
    migrate(&owner).await?;
    secure_rows(&owner, Some(&service)).await?;
    owner.close().await.context("could not close the owner's connection")?;
    warn_if_unbound(conn).await
}

/// Whether the connection's role may change the schema: a superuser, or
/// the owner of the tables (or of an empty schema's first tables).
async fn owns_schema(conn: &DatabaseConnection) -> anyhow::Result<bool> {
    let row = conn
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) \
                 OR NOT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tableowner <> current_user) AS owns",
        ))
        .await?
        .context("PostgreSQL did not describe the current role")?;
    Ok(row.try_get("", "owns")?)
}

/// Whether a migration this build knows is not yet applied.
async fn pending(conn: &DatabaseConnection) -> anyhow::Result<bool> {
    let applied = conn
        .query_all_raw(Statement::from_string(DatabaseBackend::Postgres, "SELECT version FROM seaql_migrations"))
        .await;
    let Ok(applied) = applied else { return Ok(true) };
    let applied: std::collections::HashSet<String> = applied.iter().filter_map(|row| row.try_get("", "version").ok()).collect();
    Ok(Migrator::migrations().iter().any(|m| !applied.contains(m.name())))
}

/// The role a connection acts as.
async fn role_of(conn: &DatabaseConnection) -> anyhow::Result<String> {
    let row = conn
        .query_one_raw(Statement::from_string(DatabaseBackend::Postgres, "SELECT current_user::text AS name"))
        .await?
        .context("PostgreSQL did not name the current role")?;
    Ok(row.try_get("", "name")?)
}

/// Says so in the log when the service's role is not bound by row-level
/// security (a superuser, a role with BYPASSRLS, or the tables' owner, who
/// could turn it off): the database's second line is then not there.
async fn warn_if_unbound(conn: &DatabaseConnection) -> anyhow::Result<()> {
    if conn.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    let row = conn
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT r.rolname::text AS name, (r.rolsuper OR r.rolbypassrls) AS bypasses, \
                    EXISTS (SELECT 1 FROM pg_tables t WHERE t.schemaname = current_schema() AND t.tableowner = r.rolname) AS owns \
             FROM pg_roles r WHERE r.rolname = current_user",
        ))
        .await?
        .context("PostgreSQL did not describe the current role")?;
    let name: String = row.try_get("", "name")?;
    if row.try_get::<bool>("", "bypasses")? {
        tracing::warn!(role = %name, "the database role bypasses row-level security; serve as a role that owns nothing (README, \"Roles\")");
    } else if row.try_get::<bool>("", "owns")? {
        tracing::warn!(role = %name, "the database role owns the tables and could turn row-level security off; set TANDEM_DATABASE_OWNER_URL and serve as a role that owns nothing (README, \"Roles\")");
    }
    Ok(())
}

/// The setting each request's transaction carries (see `tenant`).
const PRACTICE_SETTING: &str = "nullif(current_setting('tandem.practice_id', true), '')::uuid";
/// The hash of the secret a request presents before it knows its practice.
const SECRET_SETTING: &str = "nullif(current_setting('tandem.secret', true), '')";

/// Tables whose rows a request may find by the hash of the secret it holds
/// (an API token, an invitation, a sign-in flow) before it knows their
/// practice, and the column that holds the hash.
const FOUND_BY_SECRET: &[(&str, &str)] = &[("api_tokens", "token_hash"), ("invitations", "token_hash"), ("sso_flows", "state_hash")];

/// PostgreSQL only: every table with a `practice_id` column gets row-level
/// security, enabled and forced, and a policy that shows and accepts only
/// the rows of the practice the transaction acts in; `practices` itself is
/// readable (sign-in finds a practice by its address) and writable only
/// for the practice acted in. With `service` named, that role is granted
/// the rows' reads and writes and nothing else. Idempotent; runs under a
/// lock so that instances starting together do not race.
pub async fn secure_rows(owner: &DatabaseConnection, service: Option<&str>) -> anyhow::Result<()> {
    if owner.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    let txn = owner.begin().await?;
    let run = |sql: String| {
        let txn = &txn;
        async move { txn.execute_unprepared(&sql).await.with_context(|| format!("could not secure the rows: {sql}")) }
    };
    run("SELECT pg_advisory_xact_lock(hashtext('tandem.secure_rows'))".into()).await?;
    let tables = txn
        .query_all_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT c.table_name::text AS name FROM information_schema.columns c \
             JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
             WHERE c.table_schema = current_schema() AND c.column_name = 'practice_id' AND t.table_type = 'BASE TABLE' \
             ORDER BY 1",
        ))
        .await?;
    let policies: std::collections::HashSet<(String, String)> = txn
        .query_all_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT tablename::text AS t, policyname::text AS p FROM pg_policies WHERE schemaname = current_schema()",
        ))
        .await?
        .into_iter()
        .map(|row| Ok((row.try_get("", "t")?, row.try_get("", "p")?)))
        .collect::<Result<_, DbErr>>()?;
    let missing = |table: &str, policy: &str| !policies.contains(&(table.to_owned(), policy.to_owned()));
    for row in tables {
        let table: String = row.try_get("", "name")?;
        let t = quote(&table);
        run(format!("ALTER TABLE {t} ENABLE ROW LEVEL SECURITY")).await?;
        run(format!("ALTER TABLE {t} FORCE ROW LEVEL SECURITY")).await?;
        if missing(&table, "tandem_practice") {
            run(format!(
                "CREATE POLICY tandem_practice ON {t} USING (practice_id = {PRACTICE_SETTING}) WITH CHECK (practice_id = {PRACTICE_SETTING})"
            ))
            .await?;
        }
        if let Some((_, column)) = FOUND_BY_SECRET.iter().find(|(name, _)| *name == table)
            && missing(&table, "tandem_secret")
        {
            run(format!("CREATE POLICY tandem_secret ON {t} FOR SELECT USING ({} = {SECRET_SETTING})", quote(column))).await?;
        }
    }
    run("ALTER TABLE practices ENABLE ROW LEVEL SECURITY".into()).await?;
    run("ALTER TABLE practices FORCE ROW LEVEL SECURITY".into()).await?;
    if missing("practices", "tandem_read") {
        run("CREATE POLICY tandem_read ON practices FOR SELECT USING (true)".into()).await?;
    }
    if missing("practices", "tandem_practice") {
        run(format!("CREATE POLICY tandem_practice ON practices USING (id = {PRACTICE_SETTING}) WITH CHECK (id = {PRACTICE_SETTING})")).await?;
    }
    if let Some(service) = service {
        let role = quote(service);
        run(format!("GRANT USAGE ON SCHEMA public TO {role}")).await?;
        run(format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")).await?;
        run(format!("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}")).await?;
        run(format!("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON seaql_migrations FROM {role}")).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// An SQL identifier, quoted.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Whether the database can serve requests (for `/readyz`): PostgreSQL
/// answers, or SQLite commits a write (a readable file on a full disk, or
/// behind a stuck writer, is not ready).
pub async fn can_serve(db: &DatabaseConnection, now: time::OffsetDateTime) -> Result<(), DbErr> {
    if db.get_database_backend() != DatabaseBackend::Sqlite {
        return db.ping().await;
    }
    let txn = db.begin().await?;
    txn.execute_raw(Statement::from_sql_and_values(
        DatabaseBackend::Sqlite,
        "INSERT INTO readiness_probe (id, checked_at) VALUES (1, ?) \
         ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
        [now.into()],
    ))
    .await?;
    txn.commit().await
}

#[cfg(test)]
mod tests {
    use super::sqlite_path;
    use std::path::PathBuf;

    #[test]
    fn sqlite_paths_come_from_the_url() {
        assert_eq!(sqlite_path("sqlite://data/tandem.db?mode=rwc"), Some(PathBuf::from("data/tandem.db")));
        assert_eq!(sqlite_path("sqlite:/var/lib/tandem/t.db"), Some(PathBuf::from("/var/lib/tandem/t.db")));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://u@h/db"), None);
    }
}
