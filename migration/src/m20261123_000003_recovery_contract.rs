//! The behavioural couples therapy recovery contract and its daily calendar.

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
                    .table("recovery_contracts")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(uuid("couple_id"))
                    .col(text("content"))
                    .col(string("audience"))
                    .col(uuid("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(integer("version"))
                    .foreign_key(&mut fk("recovery_contracts", "practice_id", "practices"))
                    .foreign_key(&mut fk("recovery_contracts", "couple_id", "couples"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("recovery_contracts", &["couple_id"], true)).await?;
        manager
            .create_table(
                Table::create()
                    .table("contract_checkins")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(uuid("couple_id"))
                    .col(date("day"))
                    .col(string("partner_slot"))
                    .col(text("content"))
                    .col(uuid("recorded_by"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk("contract_checkins", "practice_id", "practices"))
                    .foreign_key(&mut fk("contract_checkins", "couple_id", "couples"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("contract_checkins", &["couple_id", "day", "partner_slot"], true))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["contract_checkins", "recovery_contracts"] {
            manager.drop_table(Table::drop().table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }
}
