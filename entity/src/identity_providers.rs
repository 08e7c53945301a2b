use sea_orm::entity::prelude::*;

use crate::ids::{PracticeId};

/// An OpenID Connect provider a practice's members may sign in with.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "identity_providers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub practice_id: PracticeId,
    pub display_name: String,
    pub issuer: String,
    pub client_id: String,
    /// The client secret sealed with the key kept outside the database.
    #[sea_orm(column_type = "Text", nullable)]
    pub client_secret_sealed: Option<String>,
    /// Or: the name of a file in the operator's secret directory holding it.
    pub client_secret_file: Option<String>,
    /// Comma-separated lower-case domains; empty means any.
    pub allowed_domains: String,
    pub enabled: bool,
    pub created_at: TimeDateTimeWithTimeZone,
    pub updated_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
