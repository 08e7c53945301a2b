//! When each once-per-practice background job (signing checkpoints;
//! verification and expiry) last ran, whichever replica ran it: a replica
//! runs a round only if no other ran one within the job's period.
//! Milliseconds since 1970: integers compare alike on both databases (SQLite
//! keeps timestamps as text of varying length).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("background_rounds")
                    .col(string_len("job", 40).primary_key())
                    .col(big_integer("last_run_ms"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("background_rounds").to_owned()).await
    }
}
