//! A practice's own settings, as its admins change them.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait, IntoActiveModel};

use entity::practices;

use super::{Fields, parse_name, parse_time_zone};
use crate::{error::AppError, scope::PracticeScope};

/// What the settings form sends.
pub struct Settings {
    pub name: String,
    pub time_zone: String,
}

/// Renames the practice and sets its time zone; `AppError::Invalid` names
/// each field that does not hold. The caller checks the admin role.
pub async fn update(db: &impl ConnectionTrait, scope: PracticeScope, settings: &Settings) -> Result<(), AppError> {
    let mut fields = Fields::default();
    let name = fields.check("name", parse_name(&settings.name));
    let time_zone = fields.check("time_zone", parse_time_zone(&settings.time_zone));
    let (name, time_zone) = fields.finish_with(|| Some((name?, time_zone?)))?;
    // The practice row itself, by the id of the caller's own scope.
    let practice = practices::Entity::find_by_id(scope.practice_id()).one(db).await?.ok_or(AppError::NotFound)?;
    let mut practice = practice.into_active_model();
    practice.name = Set(name);
    practice.time_zone = Set(time_zone);
    practice.update(db).await?;
    Ok(())
}
