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
    connect_url(config.database_url.expose(), config.database_max_connections).await
}

/// How long one attempt to reach the database may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn connect_url(url: &str, max_connections: u32) -> anyhow::Result<DatabaseConnection> {
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
        })
        // A connection whose COMMIT or ROLLBACK failed (a full disk, a lost
        // server) still counts a transaction as open: the next BEGIN would
        // become a SAVEPOINT whose RELEASE commits nothing. Such a
        // connection is closed, never handed out again.
        .map_sqlx_sqlite_pool_opts(|o| {
            o.after_release(|conn, _| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
                .before_acquire(|conn, _| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
        })
        .map_sqlx_postgres_pool_opts(|o| {
            o.after_release(|conn, _| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
                .before_acquire(|conn, _| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
        });
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
