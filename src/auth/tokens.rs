//! Personal API tokens for scripts and integrations: shown once, stored as a
//! hash, expiring, revocable. Sent as `Authorization: Bearer tdm_...`.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, Statement, sea_query::Expr,
};
use serde::Serialize;
use time::OffsetDateTime;
use entity::ids::MemberId;
use uuid::Uuid;

use entity::{api_tokens, members, practices};

use crate::{state::AppState, error::AppError, scope::PracticeScope};

pub const TOKEN_PREFIX: &str = "tdm_";
pub const MAX_DAYS: i64 = 365;
pub const DEFAULT_DAYS: i64 = 90;

/// A token as its owner sees it in lists: never the secret.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TokenView {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl From<api_tokens::Model> for TokenView {
    fn from(t: api_tokens::Model) -> Self {
        Self {
            id: t.id,
            name: t.name,
            prefix: t.prefix,
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

pub struct NewToken {
    pub view: TokenView,
    /// Shown to the member once, never stored.
    pub secret: String,
}

pub fn parse_token_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    match raw.chars().count() {
        _ if name.is_empty() => Err("name the token after what will use it".into()),
        n if n > crate::input::limits::TOKEN_NAME => {
            Err(format!("use at most {} characters", crate::input::limits::TOKEN_NAME))
        }
        _ => crate::input::check_single_line(raw).map(|()| name.to_owned()),
    }
}

pub fn parse_days(days: Option<i64>) -> Result<i64, String> {
    match days.unwrap_or(DEFAULT_DAYS) {
        d if (1..=MAX_DAYS).contains(&d) => Ok(d),
        _ => Err(format!("choose between 1 and {MAX_DAYS} days")),
    }
}

pub async fn create(
    db: &impl ConnectionTrait,
    scope: PracticeScope,
    member_id: MemberId,
    name: String,
    days: i64,
    now: OffsetDateTime,
) -> Result<NewToken, AppError> {
    let secret = format!("{TOKEN_PREFIX}{}", crate::secret::generate());
    let row = api_tokens::ActiveModel {
        id: Set(Uuid::now_v7()),
        practice_id: Set(scope.practice_id()),
        member_id: Set(member_id),
        name: Set(name),
        prefix: Set(secret[..12].to_owned()),
        token_hash: Set(crate::secret::hash(&secret)),
        created_at: Set(now),
        expires_at: Set(now + time::Duration::days(days)),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(NewToken { view: row.into(), secret })
}

pub async fn list(
    db: &impl ConnectionTrait,
    scope: PracticeScope,
    member_id: MemberId,
) -> Result<Vec<TokenView>, AppError> {
    Ok(scope
        .select::<api_tokens::Entity>()
        .filter(api_tokens::Column::MemberId.eq(member_id))
        .order_by_desc(api_tokens::Column::CreatedAt)
        // Ids are UUIDv7: a tie on the timestamp still lists newest first.
        .order_by_desc(api_tokens::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(TokenView::from)
        .collect())
}

/// Revokes one of the member's own tokens; another member's token is "not found".
pub async fn revoke(
    db: &impl ConnectionTrait,
    scope: PracticeScope,
    member_id: MemberId,
    token_id: Uuid,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let token = scope
        .by_id::<api_tokens::Entity>(token_id)
        .filter(api_tokens::Column::MemberId.eq(member_id))
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    if token.revoked_at.is_none() {
        scope
            .update_many::<api_tokens::Entity>()
            .col_expr(api_tokens::Column::RevokedAt, Expr::value(now))
            .filter(api_tokens::Column::Id.eq(token.id))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Revokes every token of a member (on deactivation).
pub async fn revoke_all(
    db: &impl ConnectionTrait,
    scope: PracticeScope,
    member_id: MemberId,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    scope
        .update_many::<api_tokens::Entity>()
        .col_expr(api_tokens::Column::RevokedAt, Expr::value(now))
        .filter(api_tokens::Column::MemberId.eq(member_id))
        .filter(api_tokens::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Finds the live token and its active member. The lookup is by the hash of
/// the secret, before any practice is known: the token itself names it.
pub async fn authenticate(
    state: &AppState,
    presented: &str,
) -> Result<(api_tokens::Model, (members::Model, practices::Model)), AppError> {
    if !presented.starts_with(TOKEN_PREFIX) || presented.len() > 100 {
        return Err(AppError::Unauthenticated);
    }
    let now = state.clock.now();
    let hash = crate::secret::hash(presented);
    crate::tenant::reveal(&hash);
    let hinted = state.token_practices.get(&hash);
    if let Some(practice) = hinted {
        crate::tenant::enter(practice);
    }
    let (token, member, practice) = holder(&state.db, &hash)
        .await?
        .filter(|(t, _, _)| t.revoked_at.is_none() && t.expires_at > now)
        .ok_or(AppError::Unauthenticated)?;
    state.token_practices.remember(&hash, token.practice_id.uuid());
    crate::tenant::enter(token.practice_id);
    let scope = PracticeScope::trusted(token.practice_id);
    let member = match (member, practice) {
        // Read with the token: the practice was known before the statement.
        (Some(member), Some(practice)) if member.practice_id == token.practice_id && practice.id == token.practice_id => {
            member.active.then_some((member, practice))
        }
        // The practice's rows were hidden until the token named it.
        _ => super::current::active_member(&state.db, scope, token.member_id).await?,
    }
    .ok_or(AppError::Unauthenticated)?;
    // Note use at most once a minute, to keep reads from becoming writes.
    if token.last_used_at.is_none_or(|t| now - t >= time::Duration::minutes(1)) {
        scope
            .update_many::<api_tokens::Entity>()
            .col_expr(api_tokens::Column::LastUsedAt, Expr::value(now))
            .filter(api_tokens::Column::Id.eq(token.id))
            .exec(&state.db)
            .await?;
    }
    Ok((token, member))
}

type Holder = (api_tokens::Model, Option<members::Model>, Option<practices::Model>);

/// The token whose secret hashes to `hash`, with its member and practice
/// where the request may already see them. Unscoped: the hash is the key,
/// and the row names the practice. On PostgreSQL the request's first
/// statement is `tandem_token_holder`, which tells row-level security the
/// practice and the secret before it reads (`tenant::Db::query_one_opening`).
async fn holder(db: &crate::tenant::Db, hash: &str) -> Result<Option<Holder>, DbErr> {
    let opening = db
        .query_one_opening(|practice, secret| {
            Statement::from_sql_and_values(
                DbBackend::Postgres,
                holder_sql(),
                [secret.to_owned().into(), practice.to_owned().into()],
            )
        })
        .await;
    let Some(row) = opening else {
        // unscoped: the secret's hash is the key; the row names the practice.
        return api_tokens::Entity::find()
            .filter(api_tokens::Column::TokenHash.eq(hash))
            .find_also_related(members::Entity)
            .and_also_related(practices::Entity)
            .one(db)
            .await;
    };
    let Some(row) = row? else { return Ok(None) };
    let token = api_tokens::Model::from_query_result(&row, "A_")?;
    // The function found the token by the secret the unit holds, which
    // `authenticate` revealed: make sure that was this hash.
    if token.token_hash != hash {
        return Ok(None);
    }
    Ok(Some((
        token,
        members::Model::from_query_result_optional(&row, "B_")?,
        practices::Model::from_query_result_optional(&row, "C_")?,
    )))
}

/// `SELECT` of `tandem_token_holder`'s three rows, each column named under
/// the prefix sea-orm gives a three-way select (`A_`, `B_`, `C_`).
fn holder_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        fn columns<C: sea_orm::Iterable + sea_orm::IdenStatic>(field: &str, prefix: &str) -> Vec<String> {
            C::iter().map(|c| format!("(h.{field}).\"{0}\" AS \"{prefix}{0}\"", c.as_str())).collect()
        }
        let mut all = columns::<api_tokens::Column>("token", "A_");
        all.extend(columns::<members::Column>("member", "B_"));
        all.extend(columns::<practices::Column>("member_practice", "C_"));
        format!("SELECT {} FROM tandem_token_holder($1, $2) AS h", all.join(", "))
    })
}
