//! Personal API tokens for scripts and integrations: shown once, stored as a
//! hash, expiring, revocable. Sent as `Authorization: Bearer tdm_...`.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, Statement, sea_query::Expr,
};
use serde::Serialize;
use time::OffsetDateTime;
use entity::ids::{CoupleId, MemberId, PracticeId};
use uuid::Uuid;

use entity::{api_tokens, couples, members, practices};

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
/// `named`: the couple a read's path names, read ahead with the token where
/// one statement can (see [`holder`]) and kept for the access decision.
pub async fn authenticate(
    state: &AppState,
    presented: &str,
    named: Option<CoupleId>,
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
    let Holder { token, member, practice, couple } = holder(&state.db, &hash, named)
        .await?
        .filter(|h| h.token.revoked_at.is_none() && h.token.expires_at > now)
        .ok_or(AppError::Unauthenticated)?;
    state.token_practices.remember(&hash, token.practice_id.uuid());
    crate::tenant::enter(token.practice_id);
    let scope = PracticeScope::trusted(token.practice_id);
    let member = match (member, practice) {
        // Read with the token: the practice was known before the statement.
        (Some(member), Some(practice)) if member.practice_id == token.practice_id && practice.id == token.practice_id => {
            // So were the couple and its care team: what the statement
            // found of them is what the access decision would find.
            if let (Some((couple, on_care_team)), Some(couple_id)) = (couple, named) {
                crate::tenant::keep_ahead(NamedCouple { practice: token.practice_id, member: member.id, couple_id, couple, on_care_team });
            }
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

/// A token with its member and practice where the request may already see
/// them, and the couple its read names with whether the member is on its
/// care team, where it was read with them.
struct Holder {
    token: api_tokens::Model,
    member: Option<members::Model>,
    practice: Option<practices::Model>,
    couple: Option<(Option<couples::Model>, bool)>,
}

/// The couple an API read names as the token's statement found it, in the
/// token's practice: kept in the request's unit of work for the access
/// decision (`access::couple`) to take instead of asking again.
struct NamedCouple {
    practice: PracticeId,
    member: MemberId,
    couple_id: CoupleId,
    couple: Option<couples::Model>,
    on_care_team: bool,
}

/// What the token's statement found of couple `couple_id` for `member` of
/// `practice` (the couple, if it is in the practice, and whether the member
/// is on its care team), if it was read ahead for this request. Taken once.
pub(crate) fn named_couple(practice: PracticeId, member: MemberId, couple_id: CoupleId) -> Option<(Option<couples::Model>, bool)> {
    crate::tenant::take_ahead::<NamedCouple>()
        .filter(|n| n.practice == practice && n.member == member && n.couple_id == couple_id)
        .map(|n| (n.couple, n.on_care_team))
}

/// The token whose secret hashes to `hash`, with its member and practice
/// where the request may already see them. Unscoped: the hash is the key,
/// and the row names the practice. On PostgreSQL the request's first
/// statement is `tandem_token_holder`, which tells row-level security the
/// practice and the secret before it reads (`tenant::Db::query_one_opening`);
/// for a read that names a couple, `tandem_token_couple`, which also reads
/// that couple and whether the token's member is on its care team.
async fn holder(db: &crate::tenant::Db, hash: &str, named: Option<CoupleId>) -> Result<Option<Holder>, DbErr> {
    let opening = db
        .query_one_opening(|practice, secret| {
            let mut values: Vec<sea_orm::Value> = vec![secret.to_owned().into(), practice.to_owned().into()];
            values.extend(named.map(|c| c.uuid().into()));
            Statement::from_sql_and_values(DbBackend::Postgres, holder_sql(named.is_some()), values)
        })
        .await;
    let Some(row) = opening else {
        // unscoped: the secret's hash is the key; the row names the practice.
        let found = api_tokens::Entity::find()
            .filter(api_tokens::Column::TokenHash.eq(hash))
            .find_also_related(members::Entity)
            .and_also_related(practices::Entity)
            .one(db)
            .await?;
        return Ok(found.map(|(token, member, practice)| Holder { token, member, practice, couple: None }));
    };
    let Some(row) = row? else { return Ok(None) };
    let token = api_tokens::Model::from_query_result(&row, "A_")?;
    // The function found the token by the secret the unit holds, which
    // `authenticate` revealed: make sure that was this hash.
    if token.token_hash != hash {
        return Ok(None);
    }
    let couple = match named {
        Some(_) => Some((couples::Model::from_query_result_optional(&row, "D_")?, row.try_get::<bool>("", "on_care_team")?)),
        None => None,
    };
    Ok(Some(Holder {
        token,
        member: members::Model::from_query_result_optional(&row, "B_")?,
        practice: practices::Model::from_query_result_optional(&row, "C_")?,
        couple,
    }))
}

/// `SELECT` of `tandem_token_holder`'s three rows, each column named under
/// the prefix sea-orm gives a three-way select (`A_`, `B_`, `C_`); with
/// `couple`, of `tandem_token_couple`'s, which adds the couple (`D_`) and
/// `on_care_team`.
fn holder_sql(couple: bool) -> &'static str {
    static SQL: std::sync::OnceLock<[String; 2]> = std::sync::OnceLock::new();
    let [holder, with_couple] = SQL.get_or_init(|| {
        fn columns<C: sea_orm::Iterable + sea_orm::IdenStatic>(field: &str, prefix: &str) -> Vec<String> {
            C::iter().map(|c| format!("(h.{field}).\"{0}\" AS \"{prefix}{0}\"", c.as_str())).collect()
        }
        let mut all = columns::<api_tokens::Column>("token", "A_");
        all.extend(columns::<members::Column>("member", "B_"));
        all.extend(columns::<practices::Column>("member_practice", "C_"));
        let holder = format!("SELECT {} FROM tandem_token_holder($1, $2) AS h", all.join(", "));
        all.extend(columns::<couples::Column>("couple", "D_"));
        all.push("h.on_care_team".into());
        [holder, format!("SELECT {} FROM tandem_token_couple($1, $2, $3) AS h", all.join(", "))]
    });
    if couple { with_couple } else { holder }
}
