use sea_orm::entity::prelude::*;

use crate::ids::{MemberId, PracticeId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "members")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: MemberId,
    pub practice_id: PracticeId,
    /// Lower-cased; unique within a practice.
    pub email: String,
    pub display_name: String,
    /// PHC string (argon2id); `None` until the member sets a password.
    pub password_hash: Option<String>,
    /// Comma-separated role names, parsed by `tandem::practice::Roles`.
    pub roles: String,
    pub active: bool,
    pub created_at: TimeDateTimeWithTimeZone,
    pub updated_at: TimeDateTimeWithTimeZone,
    pub deactivated_at: Option<TimeDateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The practice the member belongs to: read with the member when a
    /// request is authenticated, in one statement.
    #[sea_orm(belongs_to = "super::practices::Entity", from = "Column::PracticeId", to = "super::practices::Column::Id")]
    Practice,
}

impl Related<super::practices::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Practice.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
