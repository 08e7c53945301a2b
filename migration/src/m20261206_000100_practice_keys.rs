//! Per-practice data keys for clinical text encrypted at rest. The text
//! columns themselves keep their type: sealed values are text too, and the
//! service seals rows written before this migration when it starts
//! (`tandem::vault::seal_existing`), since only it holds the master key.

use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::fk;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("practice_keys")
                    .col(uuid("practice_id").primary_key())
                    .col(text("wrapped"))
                    .col(string("master_key_id"))
                    .foreign_key(&mut fk("practice_keys", "practice_id", "practices"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Alias::new("practice_keys")).to_owned()).await
    }
}
