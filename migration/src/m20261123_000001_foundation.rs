//! Practices, members, invitations, the one-time setup link, browser sessions,
//! API tokens and sign-in throttling.

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
                    .table("practices")
                    .col(pk_uuid("id"))
                    .col(string_uniq("slug"))
                    .col(string("name"))
                    .col(string("time_zone"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("members")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(string("email"))
                    .col(string("display_name"))
                    .col(string_null("password_hash"))
                    .col(string("roles"))
                    .col(boolean("active"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(timestamp_with_time_zone_null("deactivated_at"))
                    .foreign_key(&mut fk("members", "practice_id", "practices"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("members", &["practice_id", "email"], true))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("invitations")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(string("email"))
                    .col(string("roles"))
                    .col(string_uniq("token_hash"))
                    .col(uuid_null("invited_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("accepted_at"))
                    .col(uuid_null("accepted_member_id"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .foreign_key(&mut fk("invitations", "practice_id", "practices"))
                    .foreign_key(&mut fk("invitations", "invited_by", "members"))
                    .foreign_key(&mut fk("invitations", "accepted_member_id", "members"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("invitations", &["practice_id", "created_at"], false))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("setup_tokens")
                    .col(pk_uuid("id"))
                    .col(string_uniq("token_hash"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("used_at"))
                    .to_owned(),
            )
            .await?;

        // Browser sessions. `id` is the SHA-256 of the cookie's session id, so a
        // copy of this table does not let anyone sign in.
        manager
            .create_table(
                Table::create()
                    .table("web_sessions")
                    .col(string("id").primary_key())
                    .col(text("data"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(uuid_null("member_id"))
                    .foreign_key(&mut fk("web_sessions", "member_id", "members").on_delete(ForeignKeyAction::Cascade).to_owned())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("web_sessions", &["expires_at"], false))
            .await?;
        manager
            .create_index(index("web_sessions", &["member_id"], false))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("api_tokens")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(uuid("member_id"))
                    .col(string("name"))
                    .col(string("prefix"))
                    .col(string_uniq("token_hash"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("last_used_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .foreign_key(&mut fk("api_tokens", "practice_id", "practices"))
                    .foreign_key(&mut fk("api_tokens", "member_id", "members"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("api_tokens", &["member_id"], false))
            .await?;

        // Failed sign-in counters, keyed per account and per client address.
        manager
            .create_table(
                Table::create()
                    .table("sign_in_throttle")
                    .col(string("key").primary_key())
                    .col(integer("failures"))
                    .col(timestamp_with_time_zone("window_started_at"))
                    .col(timestamp_with_time_zone_null("locked_until"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "sign_in_throttle",
            "api_tokens",
            "web_sessions",
            "setup_tokens",
            "invitations",
            "members",
            "practices",
        ] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
