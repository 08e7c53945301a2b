//! Two more parts of a 42 CFR 2.31 consent: the scanned copy of a consent
//! signed on paper (one per consent, sealed by the service, never changed),
//! and the end of a consent that expires on an event rather than a date:
//! when the event was recorded, by whom, and why (the counselor recorded it,
//! or the couple was discharged).

use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        manager.alter_table(Table::alter().table("consents").add_column(timestamp_with_time_zone_null("event_ended_at")).to_owned()).await?;
        manager.alter_table(Table::alter().table("consents").add_column(uuid_null("event_ended_by")).to_owned()).await?;
        manager.alter_table(Table::alter().table("consents").add_column(string_null("event_end_cause")).to_owned()).await?;
        manager
            .create_table(
                Table::create()
                    .table("consent_scans")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(uuid("couple_id"))
                    .col(uuid("consent_id"))
                    .col(string("content_type"))
                    .col(integer("size_bytes"))
                    .col(text("content"))
                    .col(uuid("uploaded_by"))
                    .col(timestamp_with_time_zone("uploaded_at"))
                    .foreign_key(&mut fk("consent_scans", "practice_id", "practices"))
                    .foreign_key(&mut fk("consent_scans", "couple_id", "couples"))
                    .foreign_key(&mut fk("consent_scans", "consent_id", "consents"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("consent_scans", &["consent_id"], true)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Alias::new("consent_scans")).to_owned()).await?;
        for column in ["event_end_cause", "event_ended_by", "event_ended_at"] {
            manager.alter_table(Table::alter().table("consents").drop_column(Alias::new(column)).to_owned()).await?;
        }
        Ok(())
    }
}
