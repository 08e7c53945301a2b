//! Private notes (psychotherapy notes): a counselor's own working notes about
//! a couple. Only their author ever reads them: not the rest of the care
//! team, not supervisors, never partners, never in PDFs or exports.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use entity::private_notes;

use super::{
    common::{IfMatch, Page, PageQuery, limits, required_text, split_page},
    sessions,
};
use crate::{
    access::{CoupleAccess, exec_at_version},
    error::AppError,
    vault::fields::PRIVATE_NOTE_BODY as BODY,
};

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"text": "Wonder whether Dan's 'fine' covers shame about the lapse; try an externalising question next time."}))]
pub struct PrivateNoteInput {
    /// The session it belongs to, if any.
    pub session_id: Option<Uuid>,
    /// At most 20,000 characters.
    #[schema(schema_with = crate::input::schema::long)]
    pub text: String,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"text": "After the session: the 'fine' was shame. Ask about the sponsor next time."}))]
pub struct PrivateNoteEdit {
    /// At most 20,000 characters.
    #[schema(schema_with = crate::input::schema::long)]
    pub text: String,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PrivateNoteView {
    pub id: Uuid,
    pub session_id: Option<Uuid>,
    pub text: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: i32,
}

fn to_view(access: &CoupleAccess, row: private_notes::Model) -> Result<PrivateNoteView, AppError> {
    Ok(PrivateNoteView {
        id: row.id,
        session_id: row.session_id,
        text: access.cipher().open(BODY, row.id, &row.body)?,
        created_at: row.created_at,
        updated_at: row.updated_at,
        version: row.version,
    })
}

/// The caller's own notes only; anyone else's answer "not found".
fn mine(access: &CoupleAccess) -> sea_orm::Select<private_notes::Entity> {
    access
        .records::<private_notes::Entity>()
        .filter(private_notes::Column::AuthorId.eq(access.member_id))
}

pub async fn create(now: OffsetDateTime, access: &CoupleAccess, input: PrivateNoteInput) -> Result<PrivateNoteView, AppError> {
    let text = required_text(&input.text, limits::LONG).map_err(|e| AppError::invalid("text", &e))?;
    if let Some(session_id) = input.session_id {
        sessions::load(&access.db(), access, session_id)
            .await
            .map_err(|_| AppError::invalid("session_id", "choose a session of this couple"))?;
    }
    let id = Uuid::now_v7();
    let row = private_notes::ActiveModel {
        id: Set(id),
        practice_id: Set(access.scope.practice_id()),
        couple_id: Set(access.couple_id()),
        session_id: Set(input.session_id),
        author_id: Set(access.member_id),
        body: Set(access.cipher().seal(BODY, id, &text)),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
    }
    .insert(&access.db())
    .await?;
    to_view(access, row)
}

pub async fn get(access: &CoupleAccess, id: Uuid) -> Result<PrivateNoteView, AppError> {
    mine(access)
        .filter(private_notes::Column::Id.eq(id))
        .one(&access.db())
        .await?
        .map(|row| to_view(access, row))
        .ok_or(AppError::NotFound)?
}

pub async fn list(access: &CoupleAccess, page: &PageQuery) -> Result<Page<PrivateNoteView>, AppError> {
    let limit = page.limit()?;
    let mut query = mine(access).order_by_desc(private_notes::Column::Id).limit(limit + 1);
    if let Some(cursor) = page.cursor {
        query = query.filter(private_notes::Column::Id.lt(cursor));
    }
    let (rows, next_cursor) = split_page(query.all(&access.db()).await?, limit, |r| r.id);
    Ok(Page { items: rows.into_iter().map(|row| to_view(access, row)).collect::<Result<_, _>>()?, next_cursor })
}

pub async fn update(
    now: OffsetDateTime,
    access: &CoupleAccess,
    id: Uuid,
    IfMatch(expected): IfMatch,
    input: PrivateNoteEdit,
) -> Result<PrivateNoteView, AppError> {
    get(access, id).await?;
    let text = required_text(&input.text, limits::LONG).map_err(|e| AppError::invalid("text", &e))?;
    let update = access
        .update_at_version::<private_notes::Entity>(id, expected)
        .col_expr(private_notes::Column::Body, Expr::value(access.cipher().seal(BODY, id, &text)))
        .col_expr(private_notes::Column::UpdatedAt, Expr::value(now))
        .filter(private_notes::Column::AuthorId.eq(access.member_id));
    exec_at_version(update, &access.db()).await?;
    get(access, id).await
}

crate::versioned!(PrivateNoteView);
