//! The access log: a hash chain of access events per practice, its head
//! (the per-practice lock appends take), signed checkpoints, verification
//! results, and emergency ("break-the-glass") access grants.

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
                    .table("access_events")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(big_integer("seq"))
                    .col(string("prev_hash"))
                    .col(string("hash"))
                    .col(integer("format_version"))
                    .col(timestamp_with_time_zone("occurred_at"))
                    .col(uuid_null("member_id"))
                    .col(string("role"))
                    .col(string("action"))
                    .col(string_null("record_kind"))
                    .col(uuid_null("record_id"))
                    .col(uuid_null("couple_id"))
                    .col(string("outcome"))
                    .col(integer("status"))
                    .col(string_null("client_addr"))
                    .col(string_null("user_agent"))
                    .col(string_null("request_id"))
                    .col(text_null("reason"))
                    .col(boolean("emergency"))
                    .foreign_key(&mut fk("access_events", "practice_id", "practices"))
                    .to_owned(),
            )
            .await?;
        for (cols, unique) in [
            (&["practice_id", "seq"][..], true),
            (&["practice_id", "member_id", "occurred_at"][..], false),
            (&["practice_id", "couple_id", "occurred_at"][..], false),
            (&["practice_id", "occurred_at"][..], false),
        ] {
            manager.create_index(index("access_events", cols, unique)).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("audit_heads")
                    .col(uuid("practice_id").primary_key())
                    .col(big_integer("seq"))
                    .col(string("hash"))
                    .foreign_key(&mut fk("audit_heads", "practice_id", "practices"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("audit_checkpoints")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(big_integer("seq"))
                    .col(string("hash"))
                    .col(timestamp_with_time_zone("signed_at"))
                    .col(string("key_id"))
                    .col(string("signature"))
                    .foreign_key(&mut fk("audit_checkpoints", "practice_id", "practices"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("audit_checkpoints", &["practice_id", "seq"], false)).await?;
        manager
            .create_table(
                Table::create()
                    .table("audit_verifications")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(timestamp_with_time_zone("ran_at"))
                    .col(boolean("ok"))
                    .col(big_integer("events_checked"))
                    .col(big_integer_null("first_bad_seq"))
                    .col(text_null("problem"))
                    .foreign_key(&mut fk("audit_verifications", "practice_id", "practices"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("audit_verifications", &["practice_id", "ran_at"], false)).await?;
        manager
            .create_table(
                Table::create()
                    .table("emergency_accesses")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(uuid("couple_id"))
                    .col(uuid("member_id"))
                    .col(text("reason"))
                    .col(timestamp_with_time_zone("started_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(uuid_null("acknowledged_by"))
                    .col(timestamp_with_time_zone_null("acknowledged_at"))
                    .foreign_key(&mut fk("emergency_accesses", "practice_id", "practices"))
                    .foreign_key(&mut fk("emergency_accesses", "couple_id", "couples"))
                    .foreign_key(&mut fk("emergency_accesses", "member_id", "members"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("emergency_accesses", &["couple_id", "member_id", "expires_at"], false)).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["emergency_accesses", "audit_verifications", "audit_checkpoints", "audit_heads", "access_events"] {
            manager.drop_table(Table::drop().table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }
}
