//! Browsers a member signed in from (OWASP's device cookies): a random token
//! in the browser, its SHA-256 here. Sign-ins from such a browser are counted
//! against the token alone, so that a stranger's wrong guesses at an account
//! do not lock its owner out of their usual browser.

use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("trusted_devices")
                    .col(string("token_hash").primary_key())
                    .col(uuid("practice_id"))
                    .col(uuid("member_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("last_used_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .foreign_key(&mut fk("trusted_devices", "practice_id", "practices"))
                    .foreign_key(&mut fk("trusted_devices", "member_id", "members"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("trusted_devices", &["member_id"], false)).await?;
        manager.create_index(index("trusted_devices", &["expires_at"], false)).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Alias::new("trusted_devices")).to_owned()).await
    }
}
