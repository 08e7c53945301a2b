//! The service's background work, done once per round however many
//! replicas share the database: signing the heads of the access-log chains
//! ([`Job::Checkpoints`]), and verifying them and deleting what has expired
//! (sessions, sign-in counters, device cookies, unfinished single sign-ons:
//! [`Job::Housekeeping`]).
//!
//! Every replica ticks on its own; a tick runs the job only if it claims
//! the round. The claim is a compare-and-set on the job's row in
//! `background_rounds`: the job's last run moves to now only if it was at
//! least a period ago (less a tenth, so the replica that ran the last round
//! is due again at its next tick), and only one replica's update can match.
//!
//! On PostgreSQL the claim is also taken under a transaction-level advisory
//! lock, held (with the claim uncommitted) until the work is done: while one
//! replica works, the others' ticks skip even if the work outlasts the
//! period. If that replica dies, its connection closes, PostgreSQL rolls the
//! claim back and releases the lock, and the next tick of any replica runs
//! the round. On SQLite there is one process; the claim commits at once, so
//! it never holds SQLite's one write lock through the work.

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseTransaction, DbErr, Statement, Value};
use time::{Duration, OffsetDateTime};
use tower_sessions::session_store::ExpiredDeletion;

use crate::{audit, auth, config::Config, sso, state::AppState};

/// Work that must happen once per round across all replicas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    /// Sign the chain heads that moved, every `audit_checkpoint_minutes`.
    Checkpoints,
    /// Verify every chain, then delete expired sessions, stale sign-in
    /// counters, expired device cookies and unfinished single sign-ons,
    /// every `audit_verify_minutes`.
    Housekeeping,
}

impl Job {
    pub const ALL: [Job; 2] = [Job::Checkpoints, Job::Housekeeping];

    /// Its row in `background_rounds` and its label in metrics.
    pub fn name(self) -> &'static str {
        match self {
            Job::Checkpoints => "checkpoints",
            Job::Housekeeping => "housekeeping",
        }
    }

    /// Its PostgreSQL advisory lock: "tandem" and a number.
    fn lock_key(self) -> i64 {
        match self {
            Job::Checkpoints => 0x7461_6e64_656d_0001,
            Job::Housekeeping => 0x7461_6e64_656d_0002,
        }
    }

    /// How often it runs.
    pub fn period(self, config: &Config) -> Duration {
        let minutes = match self {
            Job::Checkpoints => config.audit_checkpoint_minutes,
            Job::Housekeeping => config.audit_verify_minutes,
        };
        Duration::minutes(i64::from(minutes.max(1)))
    }
}

/// What one tick did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// This replica ran the round.
    Ran,
    /// Another replica ran this round, or is running it.
    Skipped,
    /// The round could not be claimed (the database is unreachable); the
    /// next tick tries again.
    Failed,
}

impl Outcome {
    fn name(self) -> &'static str {
        match self {
            Outcome::Ran => "ran",
            Outcome::Skipped => "skipped",
            Outcome::Failed => "failed",
        }
    }
}

/// A claimed round. On PostgreSQL it holds the claim's transaction, and
/// with it the advisory lock, until [`Round::finish`]; dropped unfinished
/// (the process died, the task was cancelled), the claim is rolled back.
pub struct Round {
    held: Option<DatabaseTransaction>,
}

impl Round {
    /// The work is done: commit the claim and release the lock.
    pub async fn finish(self) -> Result<(), DbErr> {
        match self.held {
            Some(txn) => txn.commit().await,
            None => Ok(()),
        }
    }
}

fn statement(backend: DatabaseBackend, sql: &str, values: Vec<Value>) -> Statement {
    // Written with `?`; PostgreSQL numbers its parameters.
    let sql = match backend {
        DatabaseBackend::Postgres => {
            let mut n = 0;
            sql.split('?').enumerate().fold(String::new(), |mut out, (i, part)| {
                if i > 0 {
                    n += 1;
                    out.push_str(&format!("${n}"));
                }
                out.push_str(part);
                out
            })
        }
        _ => sql.to_owned(),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// Claims `job`'s round at `now` if no replica ran it within `period` (less
/// a tenth) and, on PostgreSQL, none is running it; `None` otherwise.
pub async fn claim(db: &crate::tenant::Db, job: Job, period: Duration, now: OffsetDateTime) -> Result<Option<Round>, DbErr> {
    let backend = db.get_database_backend();
    let txn = audit::begin_write(db).await?;
    if backend == DatabaseBackend::Postgres {
        let held = txn
            .query_one_raw(statement(backend, "SELECT pg_try_advisory_xact_lock(?) AS held", vec![job.lock_key().into()]))
            .await?
            .map(|row| row.try_get::<bool>("", "held"))
            .transpose()?
            .unwrap_or(false);
        if !held {
            txn.rollback().await?;
            return Ok(None);
        }
    }
    txn.execute_raw(statement(
        backend,
        "INSERT INTO background_rounds (job, last_run_ms) VALUES (?, 0) ON CONFLICT (job) DO NOTHING",
        vec![job.name().into()],
    ))
    .await?;
    let millis = |t: OffsetDateTime| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
    let due = millis(now - (period - period / 10));
    let claimed = txn
        .execute_raw(statement(
            backend,
            "UPDATE background_rounds SET last_run_ms = ? WHERE job = ? AND last_run_ms <= ?",
            vec![millis(now).into(), job.name().into(), due.into()],
        ))
        .await?
        .rows_affected()
        == 1;
    if !claimed {
        txn.rollback().await?;
        return Ok(None);
    }
    if backend == DatabaseBackend::Postgres {
        Ok(Some(Round { held: Some(txn) }))
    } else {
        txn.commit().await?;
        Ok(Some(Round { held: None }))
    }
}

/// One tick of `job` on this replica: runs the round if it claims it.
/// Failures inside the work are logged; the round still counts as run.
pub async fn tick(state: &AppState, job: Job) -> Outcome {
    let outcome = match claim(&state.db, job, job.period(&state.config), state.clock.now()).await {
        Err(err) => {
            tracing::error!(job = job.name(), error = %err, "could not claim a background round");
            Outcome::Failed
        }
        Ok(None) => Outcome::Skipped,
        Ok(Some(round)) => {
            work(state, job).await;
            if let Err(err) = round.finish().await {
                tracing::warn!(job = job.name(), error = %err, "could not release a background round");
            }
            Outcome::Ran
        }
    };
    metrics::counter!(crate::metrics::BACKGROUND_ROUNDS, "job" => job.name(), "outcome" => outcome.name()).increment(1);
    outcome
}

async fn work(state: &AppState, job: Job) {
    match job {
        Job::Checkpoints => {
            if let Err(err) = audit::checkpoint_all(state).await {
                tracing::error!(error = %err, "could not sign access-log checkpoints");
            }
        }
        Job::Housekeeping => {
            if let Err(err) = audit::verify_all(state, None).await {
                tracing::error!(error = %err, "could not verify the access log");
            }
            let sessions = auth::session_store::DbSessionStore::new(state.db.clone(), state.clock.clone(), state.config.session_idle(), state.session_practices.clone());
            if let Err(err) = sessions.delete_expired().await {
                tracing::warn!(error = %err, "could not delete expired sessions");
            }
            if let Err(err) = auth::throttle::prune(state).await {
                tracing::warn!(error = %err, "could not prune sign-in counters");
            }
            if let Err(err) = auth::devices::prune(state).await {
                tracing::warn!(error = %err, "could not delete expired device cookies");
            }
            if let Err(err) = sso::flow::prune(state).await {
                tracing::warn!(error = %err, "could not delete unfinished single sign-ons");
            }
        }
    }
}

/// Ticks `job` every period, for as long as the service runs.
pub async fn run(state: AppState, job: Job) {
    let period = std::time::Duration::from_secs(job.period(&state.config).whole_seconds().unsigned_abs());
    let mut every = tokio::time::interval(period);
    loop {
        every.tick().await;
        tick(&state, job).await;
    }
}
