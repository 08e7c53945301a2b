//! [`AppState`]: the services of the core (database, clock, keys, the
//! access-log appender and journal, sign-in providers' cache) that the HTTP
//! layers hand to every request. Domain code takes the parts it needs.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::{audit, clock::Clock, config::Config, pdf, records, sealed, sso, tenant::Db, vault};

/// Everything a request handler may reach: the [`Services`] behind one
/// `Arc`, so the many clones a request makes (each layer and extractor
/// takes its own) cost one reference count each.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The services of the core, reached through [`AppState`].
#[derive(Clone)]
pub struct Services {
    /// The database; on PostgreSQL it carries the request's practice (see `tenant`).
    pub db: Db,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    /// Signs access-log checkpoints; read from a file outside the database.
    pub checkpoint_key: Arc<audit::checkpoints::CheckpointKey>,
    /// Every signed checkpoint, also kept outside the database.
    pub journal: audit::journal::Journal,
    /// Stores the events of reads, several per commit.
    pub appender: audit::appender::Appender,
    /// Seals secrets stored in the database; read from a file outside it.
    pub sealing_key: Arc<sealed::SealingKey>,
    /// Each practice's key for clinical text, under the master keyring.
    pub vault: Arc<vault::Vault>,
    /// Identity providers' discovery documents and keys, cached in this process.
    pub sso: Arc<sso::Discovery>,
    /// Couple overviews kept under their revision (`records::overview`).
    pub overviews: records::overview::Overviews,
    /// Rendered PDFs kept under a digest of their document (`pdf::Renderings`).
    pub renderings: pdf::Renderings,
    /// Which practice each recently presented API token belongs to (`auth::hints`).
    pub token_practices: crate::auth::hints::PracticeHints,
    /// Which practice each recently signed-in browser session belongs to.
    pub session_practices: crate::auth::hints::PracticeHints,
    /// Set when shutdown begins: readiness answers 503 so load balancers
    /// stop sending requests while those in flight finish.
    draining: Arc<std::sync::atomic::AtomicBool>,
}

impl AppState {
    pub fn new(
        db: DatabaseConnection,
        config: Config,
        clock: Arc<dyn Clock>,
        checkpoint_key: audit::checkpoints::CheckpointKey,
        sealing_key: sealed::SealingKey,
        vault: vault::Vault,
    ) -> Self {
        // Must run inside a Tokio runtime: it starts the access-log appender.
        let appender = audit::appender::Appender::start(db.clone(), config.database_url.expose().clone(), config.check_idle());
        let db = Db::new(db);
        let sso = sso::Discovery::new(
            std::time::Duration::from_secs(config.sso_http_timeout_seconds.max(1)),
            time::Duration::minutes(config.sso_discovery_cache_minutes.into()),
            config.sso_allow_insecure_issuers,
        );
        let journal = audit::journal::Journal::new(config.audit_journal_path());
        let overviews = records::overview::Overviews::new(config.overview_cache_entries as usize);
        let renderings = pdf::Renderings::new(config.overview_cache_entries as usize);
        Self(Arc::new(Services {
            db,
            journal,
            config: Arc::new(config),
            clock,
            checkpoint_key: Arc::new(checkpoint_key),
            appender,
            sealing_key: Arc::new(sealing_key),
            vault: Arc::new(vault),
            sso: Arc::new(sso),
            overviews,
            renderings,
            token_practices: crate::auth::hints::PracticeHints::new(10_000),
            session_practices: crate::auth::hints::PracticeHints::new(10_000),
            draining: Arc::default(),
        }))
    }

    /// The same services on another database handle (a benchmark or test
    /// counting the statements through its pool).
    pub fn with_db(mut self, db: Db) -> Self {
        Arc::make_mut(&mut self.0).db = db;
        self
    }

    /// Shutdown has begun: report not ready, finish what is in flight.
    pub fn start_draining(&self) {
        self.draining.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::SeqCst)
    }
}
