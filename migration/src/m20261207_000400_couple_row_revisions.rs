//! The couple's own row moves its revision too: a change to the couple
//! itself (its label, status, dates or secrets policy) made around the
//! service, in the database by hand, now shows on the next read of a kept
//! overview just as a change to its records does (m20261207_000300). An
//! update that already moves the revision (the records' triggers do) is
//! left as it is.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES_UP: &[&str] = &[
    "CREATE FUNCTION tandem_revise_couple_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
     IF NEW.revision = OLD.revision THEN NEW.revision := OLD.revision + 1; END IF; RETURN NEW; END $$",
    "CREATE TRIGGER tandem_revise_couple_row BEFORE UPDATE ON couples FOR EACH ROW \
     WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION tandem_revise_couple_row()",
];

// SQLite runs no trigger from within its own trigger (recursive triggers
// are off), and the condition would stop it anyway.
const SQLITE_UP: &[&str] = &["CREATE TRIGGER tandem_revise_couple_row AFTER UPDATE ON couples WHEN NEW.revision = OLD.revision \
     BEGIN UPDATE couples SET revision = revision + 1 WHERE id = NEW.id; END"];

const POSTGRES_DOWN: &[&str] = &["DROP TRIGGER tandem_revise_couple_row ON couples", "DROP FUNCTION tandem_revise_couple_row()"];

const SQLITE_DOWN: &[&str] = &["DROP TRIGGER tandem_revise_couple_row"];

async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for statement in statements {
        db.execute_unprepared(statement).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => run(manager, POSTGRES_UP).await,
            _ => run(manager, SQLITE_UP).await,
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => run(manager, POSTGRES_DOWN).await,
            _ => run(manager, SQLITE_DOWN).await,
        }
    }
}
