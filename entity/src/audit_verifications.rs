use sea_orm::entity::prelude::*;

/// The result of one verification of a practice's chain.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_verifications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub practice_id: Uuid,
    pub ran_at: TimeDateTimeWithTimeZone,
    pub ok: bool,
    pub events_checked: i64,
    pub first_bad_seq: Option<i64>,
    #[sea_orm(column_type = "Text", nullable)]
    pub problem: Option<String>,
    /// Ed25519 over the other fields, by the key that signs checkpoints;
    /// missing on rows from before results were signed.
    #[sea_orm(column_type = "Text", nullable)]
    pub signature: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
