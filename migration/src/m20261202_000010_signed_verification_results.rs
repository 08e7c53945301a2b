//! Results of past verifications are signed with the access log's key, so a
//! row written straight into the database cannot pass for one (issue 13).
//! Rows from before carry no signature and are shown as unsigned.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table("audit_verifications").add_column(text_null("signature")).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table("audit_verifications").drop_column(Alias::new("signature")).to_owned())
            .await
    }
}
