use sea_orm::entity::prelude::*;

use crate::ids::{CoupleId, MemberId, PracticeId};

use crate::values::{Audience, BoundaryStatus};

/// A boundary agreement; its wording lives in numbered versions.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "boundaries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub practice_id: PracticeId,
    pub couple_id: CoupleId,
    pub holder: String,
    pub category: String,
    pub audience: Audience,
    pub status: BoundaryStatus,
    pub current_version: i32,
    pub agreed_a_at: Option<TimeDateTimeWithTimeZone>,
    pub agreed_a_by: Option<MemberId>,
    pub agreed_b_at: Option<TimeDateTimeWithTimeZone>,
    pub agreed_b_by: Option<MemberId>,
    pub created_by: MemberId,
    pub created_at: TimeDateTimeWithTimeZone,
    pub updated_at: TimeDateTimeWithTimeZone,
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
