//! The live lapse-response timeline: recording a lapse copies the steps of
//! the couple's plan into rows of their own, each with a due time, the
//! person it belongs to, and when (and by whom) it was done. The step's text
//! is clinical and sealed like the plan it came from.

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
                    .table("lapse_steps")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(uuid("couple_id"))
                    .col(uuid("lapse_id"))
                    .col(integer("position"))
                    .col(string("step_when"))
                    .col(string("who"))
                    .col(string_null("owner_slot"))
                    .col(text("action"))
                    .col(timestamp_with_time_zone("due_at"))
                    .col(timestamp_with_time_zone_null("done_at"))
                    .col(uuid_null("done_by"))
                    .col(string("section_audience"))
                    .col(string("audience"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(integer("version"))
                    .foreign_key(&mut fk("lapse_steps", "practice_id", "practices"))
                    .foreign_key(&mut fk("lapse_steps", "couple_id", "couples"))
                    .foreign_key(&mut fk("lapse_steps", "lapse_id", "lapses"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("lapse_steps", &["couple_id", "lapse_id", "position"], true)).await?;
        // The dashboard's overdue steps: open ones by due time.
        manager.create_index(index("lapse_steps", &["practice_id", "done_at", "due_at"], false)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Alias::new("lapse_steps")).to_owned()).await
    }
}
