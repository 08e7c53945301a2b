//! Each practice's data key for its clinical text, wrapped by a master key
//! that is never stored in the database (see `tandem::vault`).

use sea_orm::entity::prelude::*;

use crate::ids::{PracticeId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "practice_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub practice_id: PracticeId,
    /// The data key sealed (XChaCha20-Poly1305) by the master key below,
    /// bound to the practice.
    pub wrapped: String,
    /// Which master key of the keyring wrapped it.
    pub master_key_id: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
