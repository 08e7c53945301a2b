use sea_orm::entity::prelude::*;

use crate::ids::{PracticeId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "practices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: PracticeId,
    #[sea_orm(unique)]
    pub slug: String,
    pub name: String,
    /// IANA time zone name used to display times to the practice.
    pub time_zone: String,
    pub created_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
