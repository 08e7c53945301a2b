use sea_orm::entity::prelude::*;

/// One version of a couple's relapse-prevention plan; the highest number is current.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "relapse_plans")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub practice_id: Uuid,
    pub couple_id: Uuid,
    pub number: i32,
    #[sea_orm(column_type = "Text")]
    pub content: String,
    pub review_on: Option<TimeDate>,
    pub created_by: Uuid,
    pub created_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
