//! The first statement of an API read that names a couple: its token with
//! the member and practice (as `tandem_token_holder`), and the couple it
//! names with whether the token's member is on its care team, the question
//! the access decision asks first (`access::decide`). One round trip where
//! the token's statement and the decision's made two. See
//! `auth::tokens::holder`.
//!
//! Like the functions before it, it tells row-level security the practice
//! and the secret, transaction-local, before it reads, and runs with the
//! caller's rights. The couple and the care team are also filtered by the
//! token's own practice, as the application's scope filters them.
//! PostgreSQL only.

use sea_orm_migration::prelude::*;

use crate::m20261208_000100_opening_statements::run;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &["CREATE FUNCTION tandem_token_couple(secret_hash text, practice text, named_couple uuid) \
     RETURNS TABLE (token api_tokens, member members, member_practice practices, couple couples, on_care_team boolean) \
     LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$ BEGIN \
     PERFORM set_config('tandem.practice_id', practice, true), set_config('tandem.secret', secret_hash, true); \
     RETURN QUERY SELECT t, m, p, c, EXISTS (SELECT 1 FROM care_team_members ct \
       WHERE ct.practice_id = t.practice_id AND ct.couple_id = named_couple AND ct.member_id = t.member_id) \
     FROM api_tokens t \
     LEFT JOIN members m ON m.id = t.member_id \
     LEFT JOIN practices p ON p.id = t.practice_id \
     LEFT JOIN couples c ON c.id = named_couple AND c.practice_id = t.practice_id \
     WHERE t.token_hash = secret_hash; \
     END $$"];

const DOWN: &[&str] = &["DROP FUNCTION tandem_token_couple(text, text, uuid)"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, DOWN).await
    }
}
