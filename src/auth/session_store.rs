//! Browser sessions live in the database (table `web_sessions`), so they
//! survive restarts and any replica can serve any request. The row key is the
//! SHA-256 of the cookie's session id: reading the table does not let anyone
//! sign in. A session expires after the configured idle time, measured by the
//! application clock.

use entity::ids::MemberId;
use std::sync::Arc;

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult, QueryFilter, Statement,
    sea_query::OnConflict,
};
use tower_sessions::{
    SessionStore,
    session::{Id, Record},
    session_store::{self, ExpiredDeletion},
};
use uuid::Uuid;

use entity::web_sessions;

use crate::{
    auth::{AUTH_KEY, hints::PracticeHints},
    clock::Clock,
};

/// Its statements run where the request's other work does (`tenant::Db`):
/// a session ended or re-keyed while the request deletes the member's
/// sessions joins that request's transaction instead of waiting for it.
/// A session signed in to a practice is read inside the request's
/// transaction in that practice (`practices`, see `auth::hints`).
#[derive(Clone)]
pub struct DbSessionStore {
    db: crate::tenant::Db,
    clock: Arc<dyn Clock>,
    idle: time::Duration,
    practices: PracticeHints,
}

impl std::fmt::Debug for DbSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbSessionStore").field("idle", &self.idle).finish_non_exhaustive()
    }
}

impl DbSessionStore {
    pub fn new(db: crate::tenant::Db, clock: Arc<dyn Clock>, idle: time::Duration, practices: PracticeHints) -> Self {
        Self { db, clock, idle, practices }
    }

    /// The live row of the session whose key is `key`. On PostgreSQL, when
    /// it is the first statement of a request whose practice is remembered,
    /// `tandem_session` tells row-level security that practice and reads
    /// the row in one round trip (`tenant::Db::query_one_opening`).
    async fn row(&self, key: &str) -> Result<Option<web_sessions::Model>, DbErr> {
        let now = self.clock.now();
        let opening = self
            .db
            .query_one_opening(|practice, secret| {
                Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT * FROM tandem_session($1, $2, $3, $4)",
                    [key.into(), now.into(), practice.into(), secret.into()],
                )
            })
            .await;
        match opening {
            Some(row) => row?.map(|row| web_sessions::Model::from_query_result(&row, "")).transpose(),
            None => {
                web_sessions::Entity::find_by_id(key)
                    .filter(web_sessions::Column::ExpiresAt.gt(now))
                    .one(&self.db)
                    .await
            }
        }
    }

    /// Ends every browser session of a member (deactivation, password change).
    pub async fn end_sessions_of(db: &impl ConnectionTrait, member_id: MemberId) -> Result<(), sea_orm::DbErr> {
        web_sessions::Entity::delete_many()
            .filter(web_sessions::Column::MemberId.eq(member_id))
            .exec(db)
            .await?;
        Ok(())
    }
}

/// The row key of session `id`: the hash of the id the cookie carries.
pub fn key(id: &Id) -> String {
    crate::secret::hash(&id.to_string())
}

/// The id (a member's, a practice's) the signed-in state in `data` names under `field`.
fn signed_in(data: &std::collections::HashMap<String, serde_json::Value>, field: &str) -> Option<Uuid> {
    data.get(AUTH_KEY)
        .and_then(|auth| auth.get(field))
        .and_then(|v| v.as_str())
        .and_then(|s| Uuid::parse_str(s).ok())
}

fn backend(err: DbErr) -> session_store::Error {
    // The session layer keeps only a message: mark an unavailable database
    // so requests answer 503 rather than 500 (see AppError's From).
    if crate::error::database_unavailable(&err) {
        session_store::Error::Backend(format!("{} ({err})", crate::error::DATABASE_UNAVAILABLE))
    } else {
        session_store::Error::Backend(err.to_string())
    }
}

#[async_trait::async_trait]
impl SessionStore for DbSessionStore {
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let data = serde_json::to_string(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let member_id = signed_in(&record.data, "member_id");
        let row = web_sessions::ActiveModel {
            id: Set(key(&record.id)),
            data: Set(data),
            expires_at: Set(self.clock.now() + self.idle),
            member_id: Set(member_id.map(Into::into)),
        };
        web_sessions::Entity::insert(row)
            .on_conflict(
                OnConflict::column(web_sessions::Column::Id)
                    .update_columns([
                        web_sessions::Column::Data,
                        web_sessions::Column::ExpiresAt,
                        web_sessions::Column::MemberId,
                    ])
                    .to_owned(),
            )
            .exec(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        let key = key(session_id);
        // Signed in to a practice when last seen: begin the request's
        // transaction in it, so this read is its first statement (unless
        // the request already acts in a practice: it keeps its own).
        let hinted = self.practices.get(&key).filter(|_| crate::tenant::current().is_none());
        if let Some(practice) = hinted {
            crate::tenant::enter(practice);
        }
        let row = self.row(&key).await.map_err(backend)?;
        let record = match row {
            Some(row) => Some(Record {
                id: *session_id,
                data: serde_json::from_str(&row.data).map_err(|e| session_store::Error::Decode(e.to_string()))?,
                expiry_date: row.expires_at,
            }),
            None => None,
        };
        if hinted.is_some() && hinted != record.as_ref().and_then(|r| signed_in(&r.data, "practice_id")) {
            // Signed out or gone since: nothing of the practice for this request.
            crate::tenant::leave();
            self.practices.forget(&key);
        }
        Ok(record)
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        web_sessions::Entity::delete_by_id(key(session_id))
            .exec(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl ExpiredDeletion for DbSessionStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        web_sessions::Entity::delete_many()
            .filter(web_sessions::Column::ExpiresAt.lte(self.clock.now()))
            .exec(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
