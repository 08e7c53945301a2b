//! The one way to query practice data. A [`PracticeScope`] is only made from
//! an authenticated request (or an equally trusted source such as a
//! single-use link) and every query it builds is already filtered to that
//! practice, so a handler cannot forget the filter: there is no unscoped
//! query method to reach for. Tables that are looked up *before* the practice
//! is known (by the hash of a secret token) say so where they do it.

use sea_orm::{
    ColumnTrait, EntityTrait, PrimaryKeyTrait, QueryFilter, Select, UpdateMany, DeleteMany,
};
use uuid::Uuid;

use entity::{
    api_tokens, boundaries, boundary_events, boundary_versions, care_team_members, couples,
    custom_milestones, invitations, lapses, members, note_addenda, partners, private_notes,
    relapse_plans, safety_plans, session_notes, supervisions, therapy_sessions,
};

/// A table whose rows each belong to exactly one practice.
pub trait PracticeOwned: EntityTrait {
    fn practice_column() -> Self::Column;
}

impl PracticeOwned for members::Entity {
    fn practice_column() -> Self::Column {
        members::Column::PracticeId
    }
}

impl PracticeOwned for invitations::Entity {
    fn practice_column() -> Self::Column {
        invitations::Column::PracticeId
    }
}

impl PracticeOwned for api_tokens::Entity {
    fn practice_column() -> Self::Column {
        api_tokens::Column::PracticeId
    }
}

impl PracticeOwned for couples::Entity {
    fn practice_column() -> Self::Column {
        couples::Column::PracticeId
    }
}

impl PracticeOwned for partners::Entity {
    fn practice_column() -> Self::Column {
        partners::Column::PracticeId
    }
}

impl PracticeOwned for care_team_members::Entity {
    fn practice_column() -> Self::Column {
        care_team_members::Column::PracticeId
    }
}

impl PracticeOwned for supervisions::Entity {
    fn practice_column() -> Self::Column {
        supervisions::Column::PracticeId
    }
}

impl PracticeOwned for therapy_sessions::Entity {
    fn practice_column() -> Self::Column {
        therapy_sessions::Column::PracticeId
    }
}

impl PracticeOwned for session_notes::Entity {
    fn practice_column() -> Self::Column {
        session_notes::Column::PracticeId
    }
}

impl PracticeOwned for note_addenda::Entity {
    fn practice_column() -> Self::Column {
        note_addenda::Column::PracticeId
    }
}

impl PracticeOwned for private_notes::Entity {
    fn practice_column() -> Self::Column {
        private_notes::Column::PracticeId
    }
}

impl PracticeOwned for boundaries::Entity {
    fn practice_column() -> Self::Column {
        boundaries::Column::PracticeId
    }
}

impl PracticeOwned for boundary_versions::Entity {
    fn practice_column() -> Self::Column {
        boundary_versions::Column::PracticeId
    }
}

impl PracticeOwned for boundary_events::Entity {
    fn practice_column() -> Self::Column {
        boundary_events::Column::PracticeId
    }
}

impl PracticeOwned for relapse_plans::Entity {
    fn practice_column() -> Self::Column {
        relapse_plans::Column::PracticeId
    }
}

impl PracticeOwned for safety_plans::Entity {
    fn practice_column() -> Self::Column {
        safety_plans::Column::PracticeId
    }
}

impl PracticeOwned for lapses::Entity {
    fn practice_column() -> Self::Column {
        lapses::Column::PracticeId
    }
}

impl PracticeOwned for custom_milestones::Entity {
    fn practice_column() -> Self::Column {
        custom_milestones::Column::PracticeId
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PracticeScope {
    practice_id: Uuid,
}

impl PracticeScope {
    /// Only for code that has established which practice a request acts in.
    pub(crate) fn trusted(practice_id: Uuid) -> Self {
        Self { practice_id }
    }

    pub fn practice_id(&self) -> Uuid {
        self.practice_id
    }

    /// All rows of `E` in this practice.
    pub fn select<E: PracticeOwned>(&self) -> Select<E> {
        E::find().filter(E::practice_column().eq(self.practice_id))
    }

    /// One row of `E` by id, only if it is in this practice.
    pub fn by_id<E>(&self, id: Uuid) -> Select<E>
    where
        E: PracticeOwned,
        <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<Uuid>,
    {
        E::find_by_id(id).filter(E::practice_column().eq(self.practice_id))
    }

    pub fn update_many<E: PracticeOwned>(&self) -> UpdateMany<E> {
        E::update_many().filter(E::practice_column().eq(self.practice_id))
    }

    pub fn delete_many<E: PracticeOwned>(&self) -> DeleteMany<E> {
        E::delete_many().filter(E::practice_column().eq(self.practice_id))
    }
}
