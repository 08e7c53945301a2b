use sea_orm::entity::prelude::*;

use crate::ids::{CoupleId, MemberId, PracticeId};

use crate::values::CoupleStatus;

/// A couple in care: the unit everything clinical belongs to.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "couples")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: CoupleId,
    pub practice_id: PracticeId,
    pub label: String,
    pub status: CoupleStatus,
    pub secrets_policy: String,
    pub care_started_on: TimeDate,
    pub created_by: MemberId,
    pub created_at: TimeDateTimeWithTimeZone,
    pub updated_at: TimeDateTimeWithTimeZone,
    pub version: i32,
    /// Moved by the database on every change to the couple's records
    /// (migration m20261207_000300): what a cached read is checked against.
    pub revision: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
