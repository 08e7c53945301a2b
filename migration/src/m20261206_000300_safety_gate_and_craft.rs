//! The safety gate (a partner's fear of violence, raised by them or their
//! counselor, cleared by the counselor; rows are kept as history) and the
//! CRAFT track of a supporting partner (items private to that partner and
//! the care team; their text is sealed by the service, like other clinical text).

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
                    .table("safety_flags")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(uuid("couple_id"))
                    .col(string("partner_slot"))
                    .col(uuid("raised_by"))
                    .col(boolean("raised_by_partner"))
                    .col(timestamp_with_time_zone("raised_at"))
                    .col(uuid_null("cleared_by"))
                    .col(timestamp_with_time_zone_null("cleared_at"))
                    .foreign_key(&mut fk("safety_flags", "practice_id", "practices"))
                    .foreign_key(&mut fk("safety_flags", "couple_id", "couples"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("craft_items")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(uuid("couple_id"))
                    .col(string("owner"))
                    .col(string("audience"))
                    .col(string("kind"))
                    .col(text("content"))
                    .col(boolean("done"))
                    .col(uuid("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(integer("version"))
                    .foreign_key(&mut fk("craft_items", "practice_id", "practices"))
                    .foreign_key(&mut fk("craft_items", "couple_id", "couples"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("safety_flags", &["couple_id", "partner_slot"], false)).await?;
        manager.create_index(index("craft_items", &["couple_id", "id"], false)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["craft_items", "safety_flags"] {
            manager.drop_table(Table::drop().table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }
}
