use sea_orm::entity::prelude::*;

/// One access event: who did what to which record, and how it went. Rows form a hash chain per practice.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "access_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub practice_id: Uuid,
    pub seq: i64,
    pub prev_hash: String,
    pub hash: String,
    pub format_version: i32,
    pub occurred_at: TimeDateTimeWithTimeZone,
    pub member_id: Option<Uuid>,
    pub role: String,
    pub action: String,
    pub record_kind: Option<String>,
    pub record_id: Option<Uuid>,
    pub couple_id: Option<Uuid>,
    pub outcome: String,
    pub status: i32,
    pub client_addr: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub reason: Option<String>,
    pub emergency: bool,
    /// For a change to who can see what: JSON naming the members it affects
    /// and the state before and after (ids and role words only).
    #[sea_orm(column_type = "Text", nullable)]
    pub detail: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
