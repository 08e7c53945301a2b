//! The counselor's agenda for an upcoming session: short text, sealed like
//! other clinical text, one per session, edited with If-Match.

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
                    .table("session_agendas")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(uuid("couple_id"))
                    .col(uuid("session_id"))
                    .col(text("body"))
                    .col(uuid("updated_by"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(integer("version"))
                    .foreign_key(&mut fk("session_agendas", "practice_id", "practices"))
                    .foreign_key(&mut fk("session_agendas", "couple_id", "couples"))
                    .foreign_key(&mut fk("session_agendas", "session_id", "therapy_sessions"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("session_agendas", &["session_id"], true)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Alias::new("session_agendas")).to_owned()).await
    }
}
