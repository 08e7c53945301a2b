//! Who can see what: changes to roles, supervisions, care teams and sign-in
//! providers are access events that carry what changed (before and after,
//! as ids and role words, never clinical text); and a single sign-on can be
//! started by a signed-in member to connect their own account.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // JSON: {"subjects": [member ids], "before": ..., "after": ...}.
        // Hashed into the chain from event format 2 on.
        manager
            .alter_table(Table::alter().table("access_events").add_column(text_null("detail")).to_owned())
            .await?;
        // The member who asked to connect their account at the provider; the
        // callback links the provider's account to them and nobody else.
        manager
            .alter_table(Table::alter().table("sso_flows").add_column(uuid_null("link_member_id")).to_owned())
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table("sso_flows").drop_column("link_member_id").to_owned())
            .await?;
        manager
            .alter_table(Table::alter().table("access_events").drop_column("detail").to_owned())
            .await
    }
}
