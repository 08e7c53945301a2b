//! Consents to disclose (42 CFR 2.31) and the register of disclosures made
//! under them. Free text (recipient, purpose, expiry event, signature,
//! what was disclosed) is sealed by the service; a revoked consent keeps its
//! row with the time of revocation, and a disclosure keeps the consent it
//! rested on, so the register outlives a revocation.

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
                    .table("consents")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(uuid("couple_id"))
                    .col(string("partner_slot"))
                    .col(uuid_null("discloser_member_id"))
                    .col(string("record_kinds"))
                    .col(string("recipient_kind"))
                    .col(text_null("recipient_name"))
                    .col(text("purpose"))
                    .col(date_null("expires_on"))
                    .col(text_null("expiry_event"))
                    .col(text("signature_name"))
                    .col(string("signed_via"))
                    .col(timestamp_with_time_zone("signed_at"))
                    .col(uuid("recorded_by"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .col(uuid_null("revoked_by"))
                    .col(integer("version"))
                    .foreign_key(&mut fk("consents", "practice_id", "practices"))
                    .foreign_key(&mut fk("consents", "couple_id", "couples"))
                    .foreign_key(&mut fk("consents", "discloser_member_id", "members"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("consents", &["couple_id", "partner_slot"], false)).await?;
        manager
            .create_table(
                Table::create()
                    .table("disclosures")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(uuid("couple_id"))
                    .col(string("partner_slot"))
                    .col(uuid("consent_id"))
                    .col(string("channel"))
                    .col(string("record_kind"))
                    .col(uuid_null("record_id"))
                    .col(text("what"))
                    .col(text("recipient"))
                    .col(text("purpose"))
                    .col(uuid("disclosed_by"))
                    .col(timestamp_with_time_zone("disclosed_at"))
                    .foreign_key(&mut fk("disclosures", "practice_id", "practices"))
                    .foreign_key(&mut fk("disclosures", "couple_id", "couples"))
                    .foreign_key(&mut fk("disclosures", "consent_id", "consents"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("disclosures", &["couple_id", "disclosed_at"], false)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Alias::new("disclosures")).to_owned()).await?;
        manager.drop_table(Table::drop().table(Alias::new("consents")).to_owned()).await
    }
}
