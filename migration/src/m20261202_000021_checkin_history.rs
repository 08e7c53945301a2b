//! Earlier answers of a day's check-off on the recovery contract: a partner
//! may correct the last days, and what they said first is kept.

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
                    .table("contract_checkin_revisions")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(uuid("checkin_id"))
                    .col(text("content"))
                    .col(uuid("recorded_by"))
                    .col(timestamp_with_time_zone("recorded_at"))
                    .col(uuid("replaced_by"))
                    .col(timestamp_with_time_zone("replaced_at"))
                    .foreign_key(&mut fk("contract_checkin_revisions", "practice_id", "practices"))
                    .foreign_key(&mut fk("contract_checkin_revisions", "checkin_id", "contract_checkins"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("contract_checkin_revisions", &["checkin_id"], false)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("contract_checkin_revisions").to_owned()).await
    }
}
