//! Finding a practice: by the slug in its addresses, or by id (a session
//! names its practice), and the one practice of a single-practice install.

use super::PracticeId;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use entity::practices;

use super::Practice;
use crate::error::AppError;

/// The practice whose addresses carry `slug` (any case, spaces trimmed).
pub async fn by_slug(db: &impl ConnectionTrait, slug: &str) -> Result<Option<Practice>, AppError> {
    let slug = slug.trim().to_lowercase();
    if slug.is_empty() {
        return Ok(None);
    }
    Ok(practices::Entity::find().filter(practices::Column::Slug.eq(slug)).one(db).await?.map(Practice::from))
}

pub async fn by_id(db: &impl ConnectionTrait, id: PracticeId) -> Result<Option<Practice>, AppError> {
    Ok(practices::Entity::find_by_id(id).one(db).await?.map(Practice::from))
}

/// The slug of the only practice, when there is exactly one: the sign-in
/// page fills it in.
pub async fn only_slug(db: &impl ConnectionTrait) -> Result<Option<String>, AppError> {
    let practices = practices::Entity::find().limit(2).all(db).await?;
    Ok(match practices.as_slice() {
        [only] => Some(only.slug.clone()),
        _ => None,
    })
}

/// Every practice's id, for work done practice by practice (sealing,
/// key rotation, checkpoints). The practices table itself is readable
/// before a practice is chosen: it names practices, it holds no records.
pub async fn all_ids(db: &impl ConnectionTrait) -> Result<Vec<PracticeId>, sea_orm::DbErr> {
    practices::Entity::find().select_only().column(practices::Column::Id).into_tuple().all(db).await
}
