//! Which practice the current request (or job) acts in, told to the
//! database so that PostgreSQL's row-level security (see `db::secure_rows`)
//! can hold even where a query forgets its practice filter.
//!
//! Every request runs in a [`scope`]. Once the request knows its practice
//! ([`enter`], called by authentication), the first statement through [`Db`]
//! on PostgreSQL begins the request's transaction and sets
//! `tandem.practice_id` in it with `set_config(.., true)`: transaction-local,
//! so it can never leak to another request through a pooled connection.
//! Every later statement of the request runs in that transaction, and
//! transactions the code begins become savepoints inside it. The transaction
//! commits when the scope ends (the HTTP layer turns a failed commit into an
//! error response), so nothing is acknowledged before it is stored. A unit
//! that only read (every statement a SELECT, no savepoint) is rolled back
//! instead, which sqlx sends with the check it makes of every connection
//! returned to its pool: a round trip fewer than a COMMIT of its own.
//!
//! Before the practice is known, a lookup by the hash of a secret (an API
//! token, an invitation, a sign-in flow) names that hash with [`reveal`]:
//! the policies of those tables show the one row whose hash matches, and
//! nothing else.
//!
//! A request's first statement can tell the practice and the secret itself
//! ([`Db::query_one_opening`]): the API token's lookup and the browser
//! session's read call a function of the schema (`tandem_token_holder`,
//! `tandem_session`) that sets both and then reads, so the request saves
//! the round trip of a statement that only sets them.
//!
//! SQLite has no row-level security: there [`Db`] is the plain pool and the
//! application's own scoping ([`crate::scope`]) is the only line.

use std::{
    future::Future,
    sync::{Arc, Mutex},
};

use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr, ExecResult, QueryResult, Statement, TransactionOptions, TransactionTrait,
};
use entity::ids::PracticeId;
use uuid::Uuid;

tokio::task_local! {
    static CONTEXT: Arc<Context>;
}

/// What the database is told about the unit of work running on this task.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Settings {
    practice: Option<Uuid>,
    secret: Option<String>,
}

impl Settings {
    fn is_empty(&self) -> bool {
        self.practice.is_none() && self.secret.is_none()
    }
}

struct Open {
    txn: Arc<DatabaseTransaction>,
    applied: Settings,
}

#[derive(Default)]
struct Context {
    wanted: Mutex<Settings>,
    open: tokio::sync::Mutex<Option<Open>>,
    /// A statement of the unit's own transaction failed: PostgreSQL has
    /// aborted it, so its COMMIT would quietly roll everything back.
    failed: std::sync::atomic::AtomicBool,
    /// The unit's transaction may hold a write: a statement that was not a
    /// plain SELECT ran in it, or a transaction was begun inside it (a
    /// savepoint, whose statements do not pass through [`Db`]).
    wrote: std::sync::atomic::AtomicBool,
    /// What a statement of the unit read ahead for later code ([`keep_ahead`]).
    ahead: Mutex<Option<Box<dyn std::any::Any + Send>>>,
}

impl Context {
    fn note(&self, sql: &str) {
        if !reads_only(sql) {
            self.wrote.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

/// Whether `sql` is one SELECT that writes nothing: what it may do besides
/// reading (set a transaction-local setting, take a row or advisory lock)
/// a rollback undoes as a commit would. Anything else counts as a write.
fn reads_only(sql: &str) -> bool {
    let sql = sql.trim_start();
    sql.get(..7).is_some_and(|head| head.eq_ignore_ascii_case("SELECT "))
        && !sql.contains(';')
        && !sql.as_bytes().windows(6).any(|w| w.eq_ignore_ascii_case(b" INTO "))
}

/// Runs `work` as one unit: on PostgreSQL its statements share one
/// transaction carrying its practice, which commits when `work` is done.
/// Returns what `work` returned and whether the commit succeeded.
pub async fn scope<F: Future>(work: F) -> (F::Output, Result<(), DbErr>) {
    scope_keeping(work, |_| true).await
}

/// [`scope`], committing only if `keep` says so of the output (and rolling
/// back otherwise).
async fn scope_keeping<F: Future>(work: F, keep: impl FnOnce(&F::Output) -> bool) -> (F::Output, Result<(), DbErr>) {
    let context = Arc::new(Context::default());
    let output = CONTEXT.scope(context.clone(), work).await;
    let open = context.open.lock().await.take();
    let keep = keep(&output);
    (output, finish(&context, open, keep).await)
}

/// Ends the unit's transaction, if it began one: commits it when `keep`
/// says so and none of its statements failed, rolls it back otherwise.
async fn finish(context: &Context, open: Option<Open>, keep: bool) -> Result<(), DbErr> {
    let failed = context.failed.load(std::sync::atomic::Ordering::SeqCst);
    let wrote = context.wrote.load(std::sync::atomic::Ordering::SeqCst);
    match open {
        None => Ok(()),
        Some(open) => match Arc::try_unwrap(open.txn) {
            Ok(txn) if failed => {
                let _ = txn.rollback().await;
                Err(DbErr::Custom("a statement of this unit of work failed, so none of it was stored".into()))
            }
            // Only read: dropped, the transaction queues its ROLLBACK, and
            // the pool sends it with its check of the returned connection
            // (which waits for it before anyone else gets the connection).
            Ok(txn) if keep && !wrote => {
                drop(txn);
                Ok(())
            }
            Ok(txn) if keep => txn.commit().await,
            Ok(txn) => txn.rollback().await,
            Err(_) => Err(DbErr::Custom("the unit of work's transaction is still in use".into())),
        },
    }
}

/// Commits the current unit of work's transaction now rather than when the
/// unit ends: for a read that is done with the database and only waits for
/// its access event's commit, so that its connection serves others
/// meanwhile. A statement after this would begin a new transaction. The
/// error is the one the unit's end would have met.
pub async fn commit_now() -> Result<(), DbErr> {
    let Ok(context) = CONTEXT.try_with(Arc::clone) else { return Ok(()) };
    let open = context.open.lock().await.take();
    finish(&context, open, true).await
}

/// Runs `work` for `practice` outside a request (background rounds, the
/// command line), committing when it succeeds. Inside a unit of work that
/// already acts in `practice`, `work` simply joins it.
pub async fn within<T, E>(practice: impl Into<PracticeId>, work: impl Future<Output = Result<T, E>>) -> Result<T, E>
where
    E: From<DbErr>,
{
    let practice = practice.into().uuid();
    if current() == Some(practice) {
        return work.await;
    }
    let work = async {
        enter(practice);
        work.await
    };
    let (output, committed) = scope_keeping(work, Result::is_ok).await;
    let value = output?;
    committed?;
    Ok(value)
}

/// The unit of work running on this task acts in `practice` from now on.
/// Outside a [`scope`] this does nothing (SQLite tools, unit tests).
pub fn enter(practice: impl Into<PracticeId>) {
    let practice = practice.into().uuid();
    let _ = CONTEXT.try_with(|c| c.wanted.lock().expect("tenant lock").practice = Some(practice));
}

/// The unit of work running on this task no longer acts in a practice: one
/// entered on a hint that the credential did not bear out. Its later
/// statements see no practice's rows.
pub fn leave() {
    let _ = CONTEXT.try_with(|c| c.wanted.lock().expect("tenant lock").practice = None);
}

/// Whether the current unit of work may have written: it will commit rather
/// than end as a read ([`scope`]).
pub fn wrote() -> bool {
    CONTEXT.try_with(|c| c.wrote.load(std::sync::atomic::Ordering::SeqCst)).unwrap_or(false)
}

/// The practice the current unit of work acts in, if it has said.
pub fn current() -> Option<Uuid> {
    CONTEXT.try_with(|c| c.wanted.lock().expect("tenant lock").practice).ok().flatten()
}

/// Keeps `value` in the current unit of work for later code to take
/// ([`take_ahead`]): what a statement read ahead so that the code that needs
/// it does not ask again (the couple an API read names, read with its
/// token). One value at a time; outside a [`scope`] this does nothing.
pub fn keep_ahead<T: std::any::Any + Send>(value: T) {
    let _ = CONTEXT.try_with(|c| *c.ahead.lock().expect("tenant lock") = Some(Box::new(value)));
}

/// Takes what [`keep_ahead`] kept in the current unit of work, if it is a `T`.
pub fn take_ahead<T: std::any::Any + Send>() -> Option<T> {
    let kept = CONTEXT.try_with(|c| c.ahead.lock().expect("tenant lock").take()).ok().flatten()?;
    kept.downcast::<T>().ok().map(|value| *value)
}

/// Lets the current unit of work see the row whose secret hashes to `hash`
/// before it knows the row's practice.
pub fn reveal(hash: &str) {
    let _ = CONTEXT.try_with(|c| c.wanted.lock().expect("tenant lock").secret = Some(hash.to_owned()));
}

/// The database as the application uses it: the pool, except that on
/// PostgreSQL, inside a [`scope`] that named its practice, statements run in
/// that scope's transaction.
#[derive(Clone, Debug)]
pub struct Db {
    pool: DatabaseConnection,
}

enum Route<'a> {
    Pool(&'a DatabaseConnection),
    Scoped(Arc<DatabaseTransaction>, Arc<Context>),
}

/// Marks the unit as failed when a statement of its own transaction failed
/// (see [`scope`]).
fn noted<T>(result: Result<T, DbErr>, context: &Context) -> Result<T, DbErr> {
    if result.is_err() {
        context.failed.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    result
}

impl Db {
    pub fn new(pool: DatabaseConnection) -> Self {
        Self { pool }
    }

    /// The pool itself, for what holds no practice's rows (browser
    /// sessions, migrations, pool metrics) or sets its own practice.
    pub fn pool(&self) -> &DatabaseConnection {
        &self.pool
    }

    /// The unit of work running on this task, where its statements share a
    /// transaction: on PostgreSQL, inside a [`scope`].
    fn unit(&self) -> Option<Arc<Context>> {
        (self.pool.get_database_backend() == DatabaseBackend::Postgres).then(|| CONTEXT.try_with(Arc::clone).ok()).flatten()
    }

    /// Begins the unit's transaction with `first`, the statement that tells
    /// the database `wanted`, and records it as open. A failed `first` leaves
    /// no transaction behind: the unit's next statement begins afresh.
    async fn open_with<T>(
        &self,
        open: &mut Option<Open>,
        wanted: Settings,
        first: impl AsyncFnOnce(&DatabaseTransaction) -> Result<T, DbErr>,
    ) -> Result<(Arc<DatabaseTransaction>, T), DbErr> {
        let txn = self.pool.begin().await?;
        let told = first(&txn).await?;
        let txn = Arc::new(txn);
        *open = Some(Open { txn: txn.clone(), applied: wanted });
        Ok((txn, told))
    }

    async fn route(&self) -> Result<Route<'_>, DbErr> {
        let Some(context) = self.unit() else {
            return Ok(Route::Pool(&self.pool));
        };
        let wanted = context.wanted.lock().expect("tenant lock").clone();
        let mut open = context.open.lock().await;
        let txn = match &mut *open {
            None if wanted.is_empty() => return Ok(Route::Pool(&self.pool)),
            None => self.open_with(&mut open, wanted.clone(), async |txn| apply(txn, &wanted).await).await?.0,
            Some(current) => {
                if current.applied != wanted {
                    apply(current.txn.as_ref(), &wanted).await?;
                    current.applied = wanted;
                }
                current.txn.clone()
            }
        };
        drop(open);
        Ok(Route::Scoped(txn, context))
    }

    /// On PostgreSQL, in a unit of work whose transaction has not begun yet
    /// and that has something to tell: begins it with the statement `build`
    /// makes from the unit's practice and secret (each `""` when unset), in
    /// place of the statement that would tell them. That statement must set
    /// both itself, transaction-local, before it reads (a function such as
    /// `tandem_token_holder` does): the unit then takes one round trip fewer.
    /// `None` where this does not apply (SQLite, outside a unit, nothing to
    /// tell, a transaction already begun): run an ordinary query instead.
    pub async fn query_one_opening(&self, build: impl FnOnce(&str, &str) -> Statement) -> Option<Result<Option<QueryResult>, DbErr>> {
        let context = self.unit()?;
        let wanted = context.wanted.lock().expect("tenant lock").clone();
        let mut open = context.open.lock().await;
        if open.is_some() || wanted.is_empty() {
            return None;
        }
        let practice = wanted.practice.map(|p| p.to_string()).unwrap_or_default();
        let stmt = build(&practice, wanted.secret.as_deref().unwrap_or_default());
        context.note(&stmt.sql);
        Some(self.open_with(&mut open, wanted, async |txn| txn.query_one_raw(stmt).await).await.map(|(_, row)| row))
    }

    pub async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        match self.route().await? {
            Route::Pool(pool) => pool.begin().await,
            Route::Scoped(txn, context) => {
                context.wrote.store(true, std::sync::atomic::Ordering::SeqCst);
                txn.begin().await
            }
        }
    }

    /// A transaction with options; inside a scope it is a savepoint of the
    /// scope's transaction, which has PostgreSQL's defaults.
    pub async fn begin_with_options(&self, options: TransactionOptions) -> Result<DatabaseTransaction, DbErr> {
        match self.route().await? {
            Route::Pool(pool) => pool.begin_with_options(options).await,
            Route::Scoped(txn, context) => {
                context.wrote.store(true, std::sync::atomic::Ordering::SeqCst);
                txn.begin().await
            }
        }
    }

    /// A transaction of its own (never the scope's) acting in `practice`:
    /// for a consistent snapshot, or for work over several practices in turn.
    pub async fn begin_for(&self, practice: impl Into<PracticeId>, options: TransactionOptions) -> Result<DatabaseTransaction, DbErr> {
        let txn = self.pool.begin_with_options(options).await?;
        if self.pool.get_database_backend() == DatabaseBackend::Postgres {
            apply(&txn, &Settings { practice: Some(practice.into().uuid()), secret: None }).await?;
        }
        Ok(txn)
    }

    pub async fn ping(&self) -> Result<(), DbErr> {
        self.pool.ping().await
    }
}

/// Tells PostgreSQL, inside the transaction `txn` and only for it, that
/// what follows acts in `practice` (work over several practices in turn).
pub async fn act_in(txn: &impl ConnectionTrait, practice: impl Into<PracticeId>) -> Result<(), DbErr> {
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        apply(txn, &Settings { practice: Some(practice.into().uuid()), secret: None }).await?;
    }
    Ok(())
}

async fn apply(txn: &impl ConnectionTrait, settings: &Settings) -> Result<(), DbErr> {
    txn.execute_raw(Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        "SELECT set_config('tandem.practice_id', $1, true), set_config('tandem.secret', $2, true)",
        [
            settings.practice.map(|p| p.to_string()).unwrap_or_default().into(),
            settings.secret.clone().unwrap_or_default().into(),
        ],
    ))
    .await
    .map(drop)
}

#[async_trait::async_trait]
impl ConnectionTrait for Db {
    fn get_database_backend(&self) -> DatabaseBackend {
        self.pool.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self.route().await? {
            Route::Pool(pool) => pool.execute_raw(stmt).await,
            Route::Scoped(txn, context) => {
                context.note(&stmt.sql);
                noted(txn.execute_raw(stmt).await, &context)
            }
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self.route().await? {
            Route::Pool(pool) => pool.execute_unprepared(sql).await,
            Route::Scoped(txn, context) => {
                context.note(sql);
                noted(txn.execute_unprepared(sql).await, &context)
            }
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self.route().await? {
            Route::Pool(pool) => pool.query_one_raw(stmt).await,
            Route::Scoped(txn, context) => {
                context.note(&stmt.sql);
                noted(txn.query_one_raw(stmt).await, &context)
            }
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self.route().await? {
            Route::Pool(pool) => pool.query_all_raw(stmt).await,
            Route::Scoped(txn, context) => {
                context.note(&stmt.sql);
                noted(txn.query_all_raw(stmt).await, &context)
            }
        }
    }
}

/// Where a couple's records are read and written: the request's database,
/// or the write transaction its access event will join.
#[derive(Clone, Copy)]
pub enum Exec<'a> {
    Db(&'a Db),
    Txn(&'a DatabaseTransaction),
}

impl Exec<'_> {
    pub async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        match self {
            Exec::Db(db) => db.begin().await,
            Exec::Txn(txn) => txn.begin().await,
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Exec<'_> {
    fn get_database_backend(&self) -> DatabaseBackend {
        match self {
            Exec::Db(db) => db.get_database_backend(),
            Exec::Txn(txn) => txn.get_database_backend(),
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self {
            Exec::Db(db) => db.execute_raw(stmt).await,
            Exec::Txn(txn) => txn.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            Exec::Db(db) => db.execute_unprepared(sql).await,
            Exec::Txn(txn) => txn.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            Exec::Db(db) => db.query_one_raw(stmt).await,
            Exec::Txn(txn) => txn.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            Exec::Db(db) => db.query_all_raw(stmt).await,
            Exec::Txn(txn) => txn.query_all_raw(stmt).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::reads_only;

    #[test]
    fn only_a_plain_select_counts_as_a_read() {
        for read in [
            r#"SELECT "couples"."id" FROM "couples" WHERE "couples"."id" = $1"#,
            "  select set_config('tandem.practice_id', $1, true)",
            "SELECT pg_try_advisory_xact_lock($1) AS held",
        ] {
            assert!(reads_only(read), "{read}");
        }
        for write in [
            r#"INSERT INTO "notes" ("id") VALUES ($1)"#,
            r#"UPDATE "members" SET "active" = $1"#,
            "DELETE FROM web_sessions",
            "WITH moved AS (UPDATE couples SET label = $1 RETURNING id) SELECT id FROM moved",
            "SELECT * into copied FROM couples",
            "SELECT 1; DELETE FROM couples",
            "SELECT",
            "",
        ] {
            assert!(!reads_only(write), "{write}");
        }
    }
}
