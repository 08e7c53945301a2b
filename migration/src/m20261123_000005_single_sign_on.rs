//! Single sign-on: each practice's OpenID Connect providers, the identities
//! linked to its members, and sign-ins under way (state, nonce and PKCE
//! verifier kept in the database so any replica can finish what another began).

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
                    .table("identity_providers")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(string("display_name"))
                    .col(string("issuer"))
                    .col(string("client_id"))
                    // Sealed with the key outside the database; or, instead,
                    // the name of a file in the operator's secret directory.
                    .col(text_null("client_secret_sealed"))
                    .col(string_null("client_secret_file"))
                    // Comma-separated, lower-case; empty means any domain.
                    .col(string("allowed_domains"))
                    .col(boolean("enabled"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk("identity_providers", "practice_id", "practices"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("identity_providers", &["practice_id", "issuer"], true)).await?;

        // One person at one provider is (issuer, subject). The same provider
        // may serve several practices, so the key includes the practice: a
        // link in one practice never signs anyone in to another.
        manager
            .create_table(
                Table::create()
                    .table("member_identities")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(uuid("member_id"))
                    .col(uuid("provider_id"))
                    .col(string("issuer"))
                    .col(string("subject"))
                    .col(timestamp_with_time_zone("linked_at"))
                    .col(timestamp_with_time_zone_null("last_sign_in_at"))
                    .foreign_key(&mut fk("member_identities", "practice_id", "practices"))
                    .foreign_key(&mut fk("member_identities", "member_id", "members"))
                    .foreign_key(&mut fk("member_identities", "provider_id", "identity_providers"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("member_identities", &["practice_id", "issuer", "subject"], true)).await?;
        // A member has at most one account at each provider.
        manager.create_index(index("member_identities", &["practice_id", "member_id", "issuer"], true)).await?;

        // Keyed by the SHA-256 of the state, so a copy of the table cannot be
        // used to finish someone else's sign-in; the PKCE verifier is sealed.
        manager
            .create_table(
                Table::create()
                    .table("sso_flows")
                    .col(string("state_hash").primary_key())
                    .col(uuid("practice_id"))
                    .col(uuid("provider_id"))
                    .col(string("nonce"))
                    .col(text("pkce_verifier_sealed"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    // Set when the flow accepts an invitation instead of signing a member in.
                    .col(uuid_null("invitation_id"))
                    .foreign_key(&mut fk("sso_flows", "practice_id", "practices"))
                    .foreign_key(&mut fk("sso_flows", "provider_id", "identity_providers"))
                    .foreign_key(&mut fk("sso_flows", "invitation_id", "invitations"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("sso_flows", &["expires_at"], false)).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["sso_flows", "member_identities", "identity_providers"] {
            manager.drop_table(Table::drop().table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }
}
