//! Statements that tell PostgreSQL what a request acts in and read in one
//! round trip: the first statement of an API request
//! (`tandem_token_holder`, its token with the member and practice) and of a
//! browser request whose practice is remembered (`tandem_session`, its
//! browser session's row). See `tenant::Db::query_one_opening`.
//!
//! Row-level security (`db::secure_rows`) shows a request only the rows of
//! the practice its transaction names, and the token whose hash it holds.
//! Until now each request named both in a statement of its own before its
//! first read: a round trip each. A setting made inside the statement that
//! reads has no guaranteed order against that statement's policies, but a
//! function's statements run one after the other: these set both,
//! transaction-local as before, and only then read. They run with the
//! caller's rights, so the policies hold in them as in any statement.
//! PostgreSQL only: SQLite has no row-level security to tell.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "CREATE FUNCTION tandem_token_holder(secret_hash text, practice text) \
     RETURNS TABLE (token api_tokens, member members, member_practice practices) \
     LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$ BEGIN \
     PERFORM set_config('tandem.practice_id', practice, true), set_config('tandem.secret', secret_hash, true); \
     RETURN QUERY SELECT t, m, p FROM api_tokens t \
     LEFT JOIN members m ON m.id = t.member_id \
     LEFT JOIN practices p ON p.id = t.practice_id \
     WHERE t.token_hash = secret_hash; \
     END $$",
    "CREATE FUNCTION tandem_session(session_key text, valid_at timestamptz, practice text, secret text) \
     RETURNS SETOF web_sessions \
     LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$ BEGIN \
     PERFORM set_config('tandem.practice_id', practice, true), set_config('tandem.secret', secret, true); \
     RETURN QUERY SELECT * FROM web_sessions s WHERE s.id = session_key AND s.expires_at > valid_at; \
     END $$",
];

const DOWN: &[&str] = &[
    "DROP FUNCTION tandem_session(text, timestamptz, text, text)",
    "DROP FUNCTION tandem_token_holder(text, text)",
];

/// Runs `statements` on PostgreSQL; nothing on SQLite.
pub(crate) async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    if manager.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    for statement in statements {
        manager.get_connection().execute_unprepared(statement).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, DOWN).await
    }
}
