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

use entity::{api_tokens, invitations, members};

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
