//! A one-row table the readiness probe writes to, so `/readyz` on SQLite
//! proves a write commits (a full disk or a stuck writer fails it), not
//! only that the file can be read.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("readiness_probe")
                    .col(integer("id").primary_key())
                    .col(timestamp_with_time_zone("checked_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("readiness_probe").to_owned()).await
    }
}
