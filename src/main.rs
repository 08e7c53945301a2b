//! The `tandem` command: serve the application, or administer it from a shell.

use std::{path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context;
use clap::{Parser, Subcommand};
use tandem::{
    state::AppState,
    background::{self, Job},
    clock::SystemClock,
    config::{Config, ENV_HELP},
    db,
    practice::{Email, parse_name, parse_slug, parse_time_zone, setup},
};
use tandem::audit::{checkpoints::{self, CheckpointKey}, journal::Journal};

/// mimalloc instead of the system allocator: a request allocates and frees
/// many small strings and rows across the runtime's threads, which glibc's
/// malloc served with measurable contention (BENCHMARKS.md, "Pages").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "tandem",
    version,
    about = "Case management for counselors who work with couples in recovery.",
    after_help = ENV_HELP
)]
struct Cli {
    /// A TOML file with settings (environment variables override it).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web service (the default). Applies pending migrations first.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the effective settings as a TOML file for --config (a database password redacted).
    Config,
    /// Load a demo practice with a couple in care, and print how to sign in as each person.
    Demo,
    /// Manage practices.
    #[command(subcommand)]
    Practice(PracticeCommand),
    /// Check and sign the access log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Manage the master key that protects clinical text at rest.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Write a consistent copy of the live SQLite database and the checkpoint
    /// journal into a new folder, while Tandem keeps serving. Keys are not
    /// included: back them up apart. (PostgreSQL: see README, "Backup and restore".)
    Backup {
        /// The folder to create.
        path: PathBuf,
    },
    /// Bring a backup made by `tandem backup` back as the configured SQLite
    /// database and journal, then verify the access log. Stop Tandem and move
    /// the old database files aside first; the old journal is kept, renamed.
    Restore {
        /// The backup folder.
        path: PathBuf,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk every practice's chain and check it against the signed
    /// checkpoints in the journal and the database. Exits 1, naming the
    /// practice and the first bad entry, if anything was changed, removed,
    /// inserted, reordered or re-dated; 2 if it could not check. Never creates
    /// a key: it refuses to run without the key file or a pinned public key.
    Verify {
        /// Only this practice (its short name).
        #[arg(long, value_name = "SLUG")]
        practice: Option<String>,
        /// Check signatures with this public key (base64, as `tandem audit
        /// public-key` prints it) instead of the key file. Writes nothing to
        /// the database: what an auditor runs.
        #[arg(long, value_name = "BASE64")]
        public_key: Option<String>,
        /// The checkpoint journal to check against [default: the configured one].
        #[arg(long, value_name = "FILE")]
        journal: Option<PathBuf>,
    },
    /// Sign the head of each practice's chain that grew since its last checkpoint.
    Checkpoint,
    /// Print the public key that verifies checkpoints, for an auditor to pin.
    PublicKey,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Replace the master key (TANDEM_MASTER_KEY_FILE) with a new one and
    /// re-wrap every practice's data key under it, while Tandem keeps
    /// serving. The text itself is not rewritten. Back the new file up.
    Rotate,
}

#[derive(Subcommand)]
enum PracticeCommand {
    /// Create a practice and print an invitation link for its first admin.
    Create {
        /// The practice's name, as people see it.
        #[arg(long)]
        name: String,
        /// Short name for web addresses: lower-case letters, digits, hyphens.
        #[arg(long)]
        slug: String,
        /// IANA time zone, e.g. Europe/Berlin.
        #[arg(long, default_value = "UTC")]
        time_zone: String,
        /// Email address of the first admin; they choose their password via the link.
        #[arg(long)]
        admin_email: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(cli.config).map_err(|e| anyhow::anyhow!("configuration: {e:#}"))?;
    tandem::telemetry::init(config.log_format, &config.log_filter);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let conn = db::connect(&config).await?;
            db::prepare(&config, &conn).await?;
            println!("Database {} is up to date.", config.database_url_redacted());
            Ok(())
        }
        Command::Demo => {
            let state = connect(config).await?;
            let demo = match tandem::demo::load(&state).await {
                Ok(demo) => demo,
                Err(tandem::error::AppError::Conflict(_)) => anyhow::bail!(demo_exists(&state.config)),
                Err(e) => anyhow::bail!("{}", e.detail()),
            };
            println!("Loaded the demo practice \"{}\". Start Tandem (cargo run --release) and sign in at", demo.practice_slug);
            println!("  {}/sign-in?practice={}", state.config.public_base(), demo.practice_slug);
            println!();
            for a in &demo.accounts {
                println!("  {:<21} {:<15} {:<30} password: {}", a.role, a.name, a.email, a.password);
            }
            println!();
            println!("API: create a token at /tokens, then e.g. curl -H 'Authorization: Bearer tdm_...' {}/api/v1/couples", state.config.public_base());
            Ok(())
        }
        Command::Audit(AuditCommand::Verify { practice, public_key, journal }) => {
            verify(config, practice, public_key, journal).await
        }
        Command::Audit(AuditCommand::PublicKey) => {
            let key = CheckpointKey::load(&config.audit_key_file)?;
            println!("{}", checkpoints::public_key_text(&key.verifying()));
            eprintln!("key id {}; pin it with: tandem audit verify --public-key <the line above>", key.id());
            Ok(())
        }
        Command::Audit(AuditCommand::Checkpoint) => {
            let state = connect(config).await?;
            let signed = tandem::audit::checkpoint_all(&state).await?;
            println!("Signed the chain heads of {signed} practice(s).");
            Ok(())
        }
        Command::Backup { path } => {
            let conn = db::connect(&config).await?;
            let manifest = tandem::backup::backup(&conn, &config.audit_journal_path(), &path, time::OffsetDateTime::now_utc()).await?;
            println!(
                "Backed up {} ({} bytes, {} access events) and the checkpoint journal to {}.",
                config.database_url_redacted(),
                manifest.database_bytes,
                manifest.access_events,
                path.display()
            );
            println!("Keys are not in the backup: keep {} and {} safe apart from it.", config.audit_key_file.display(), config.secret_key_file.display());
            Ok(())
        }
        Command::Restore { path } => restore(config, path).await,
        Command::Keys(KeysCommand::Rotate) => {
            let conn = db::connect(&config).await?;
            db::prepare(&config, &conn).await?;
            let rotation = tandem::vault::rotate(&tandem::tenant::Db::new(conn), &config.master_key_file).await?;
            println!(
                "New master key {} in {}; {} practice key(s) re-wrapped; retired key(s): {}.",
                rotation.new_key_id,
                config.master_key_file.display(),
                rotation.rewrapped,
                if rotation.dropped_key_ids.is_empty() { "none".to_owned() } else { rotation.dropped_key_ids.join(", ") }
            );
            println!("Back up the new key file now, apart from the database. Keep the old key with database backups taken before now: they need it.");
            Ok(())
        }
        Command::Config => {
            print!("{}", config.to_toml());
            Ok(())
        }
        Command::Practice(PracticeCommand::Create { name, slug, time_zone, admin_email }) => {
            let state = connect(config).await?;
            let practice = setup::NewPractice {
                name: parse_name(&name).map_err(|e| anyhow::anyhow!("--name: {e}"))?,
                slug: parse_slug(&slug).map_err(|e| anyhow::anyhow!("--slug: {e}"))?,
                time_zone: parse_time_zone(&time_zone).map_err(|e| anyhow::anyhow!("--time-zone: {e}"))?,
            };
            let email = Email::parse(&admin_email).map_err(|e| anyhow::anyhow!("--admin-email: {e}"))?;
            let (practice, link) = setup::create_from_cli(&state, practice, email)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.detail()))?;
            println!("Created practice {} ({}).", practice.name, practice.slug);
            println!("Invitation link for its first admin (single use, expires in {} hours):", state.config.invitation_ttl_hours);
            println!("{link}");
            Ok(())
        }
    }
}

/// `tandem demo` on a database that has the demo already: its passwords
/// were printed once and are not stored, so say how to start over.
fn demo_exists(config: &Config) -> String {
    let database = config.database_url_redacted();
    let remove = match database.strip_prefix("sqlite://").or_else(|| database.strip_prefix("sqlite:")) {
        Some(file) => {
            let file = file.split('?').next().unwrap_or(file);
            format!("delete the database file {file} (with {file}-wal and {file}-shm if they are there)")
        }
        None => format!("drop and re-create the database {database}"),
    };
    format!(
        "the demo practice \"{slug}\" is already in this database, so nothing was loaded; its passwords were printed when it was loaded.\n\
         To start over: stop Tandem, {remove} and the checkpoint journal {journal} (it vouches for the old practice's log), then run `tandem demo` again.",
        slug = tandem::demo::SLUG,
        journal = config.audit_journal_path().display(),
    )
}

async fn connect(config: Config) -> anyhow::Result<AppState> {
    let conn = db::connect(&config).await?;
    db::prepare(&config, &conn).await?;
    let key = CheckpointKey::load_or_create(&config.audit_key_file)?;
    let sealing_key = tandem::sealed::SealingKey::load_or_create(&config.secret_key_file)?;
    let vault = tandem::vault::Vault::from_file(&config.master_key_file)?;
    let state = AppState::new(conn, config, Arc::new(SystemClock), key, sealing_key, vault);
    tandem::vault::seal_existing(&state.db, &state.vault).await.map_err(|e| {
        anyhow::anyhow!(
            "opening the practices' keys for clinical text with the master key file {} (is TANDEM_MASTER_KEY_FILE the file this database was written under?): {}",
            state.config.master_key_file.display(),
            e.detail()
        )
    })?;
    state
        .journal
        .create_if_missing()
        .with_context(|| format!("could not create the checkpoint journal {}", state.journal.path().display()))?;
    Ok(state)
}

/// `tandem restore`: files back in place, then the schema brought up to
/// date and every chain verified against the restored journal.
async fn restore(config: Config, path: PathBuf) -> anyhow::Result<()> {
    let Some(database) = db::sqlite_path(config.database_url.expose()) else {
        anyhow::bail!("`tandem restore` restores the embedded SQLite database; restore PostgreSQL with pg_restore (README: \"Backup and restore\")");
    };
    let restored = tandem::backup::restore(&path, &database, &config.audit_journal_path(), time::OffsetDateTime::now_utc())?;
    println!("Restored {} and {} from the backup taken at {}.", restored.database.display(), restored.journal.display(), restored.manifest.taken_at);
    if let Some(aside) = &restored.journal_moved_to {
        println!("The journal that was there is kept as {}: it names checkpoints the restored database may no longer hold.", aside.display());
    }
    println!("Verifying the access log...");
    verify(config, None, None, None).await
}

/// `tandem audit verify`: with the key file (the operator: results are
/// stored, signed, for supervisors) or a pinned public key (an auditor:
/// nothing is written). Never creates a key or a journal.
async fn verify(config: Config, practice: Option<String>, public_key: Option<String>, journal: Option<PathBuf>) -> anyhow::Result<()> {
    let (verifying, signer) = match public_key {
        Some(text) => (checkpoints::parse_public_key(&text).context("--public-key")?, None),
        None => {
            let key = CheckpointKey::load(&config.audit_key_file).with_context(|| {
                format!("no usable audit key at {} (TANDEM_AUDIT_KEY_FILE); verification never creates one: restore the key, or pass --public-key", config.audit_key_file.display())
            })?;
            (key.verifying(), Some(key))
        }
    };
    let journal = Journal::new(journal.unwrap_or_else(|| config.audit_journal_path()));
    if !journal.path().is_file() {
        anyhow::bail!(
            "no checkpoint journal at {}: without it a deleted or rewritten log cannot be told from a whole one; restore it from backup or pass --journal",
            journal.path().display()
        );
    }
    let conn = db::connect(&config).await?;
    if signer.is_some() {
        db::prepare(&config, &conn).await?;
    }
    let conn = tandem::tenant::Db::new(conn);
    let results = tandem::audit::verify_chains(&conn, &verifying, &journal, practice.as_deref()).await?;
    if results.is_empty() {
        anyhow::bail!("no practice to verify");
    }
    if let Some(key) = &signer {
        tandem::audit::record_results(&conn, key, &results, tandem::clock::Clock::now(&SystemClock)).await;
    }
    let (mut tampered, mut unchecked) = (false, false);
    for (slug, v) in &results {
        match (&v.problem, v.first_bad_seq) {
            (None, _) => println!("{slug}: ok ({} entries, {} checkpoints)", v.events_checked, v.checkpoints_checked),
            (Some(problem), _) if v.could_not_run => {
                unchecked = true;
                println!("{slug}: NOT CHECKED: {problem}");
            }
            (Some(problem), seq) => {
                tampered = true;
                println!("{slug}: FAILED at entry {}: {problem}", seq.unwrap_or_default());
            }
        }
    }
    if tampered {
        std::process::exit(1);
    }
    if unchecked {
        std::process::exit(2);
    }
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    // Bind before anything else: a second instance on a port in use must
    // fail before it touches the database, the keys or the journal, let
    // alone issues a setup link (which would revoke the first's).
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("could not listen on {}", config.bind))?;
    let metrics = match config.metrics_bind {
        Some(address) => Some(
            tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("could not listen for metrics on {address}"))?,
        ),
        None => None,
    };
    tracing::info!(database = %config.database_url_redacted(), "starting");
    let state = connect(config).await?;

    if let Some(link) = setup::issue_setup_link(&state)
        .await
        .map_err(|e| anyhow::anyhow!("issuing setup link: {e}"))?
    {
        // Printed, not logged: it is a secret for the person at the console.
        println!();
        println!("Tandem has no practice yet. Open this link to create one (single use, expires in {} hours):", state.config.setup_ttl_hours);
        println!("  {link}");
        println!();
    }

    if let Some(listener) = metrics {
        let router = tandem::metrics::router(tandem::metrics::install(), state.db.pool().clone());
        tracing::info!(address = %listener.local_addr()?, "serving metrics at /metrics");
        tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, router).await {
                tracing::error!(error = %err, "the metrics listener stopped");
            }
        });
    }
    // Once per round across replicas: see tandem::background.
    for job in Job::ALL {
        tokio::spawn(background::run(state.clone(), job));
    }

    // Registered before "listening": a stop that comes right after it is a
    // graceful one, not the signal's default (an exit with nothing drained).
    let stop = shutdown_signal();
    tracing::info!(address = %state.config.bind, public_url = %state.config.public_base(), "listening");
    let grace = Duration::from_secs(state.config.shutdown_grace_seconds);
    // Long enough for a load balancer's next readiness check to see 503.
    let drain = Duration::from_secs(state.config.shutdown_drain_seconds);
    let draining = state.clone();
    let stopped = tandem::serve::run(
        listener,
        tandem::app(state.clone()),
        stop,
        move || draining.start_draining(),
        drain,
        grace,
    )
    .await;
    // Sign what the last requests appended, so a stopped service leaves no
    // tail that only the database vouches for.
    match tandem::audit::checkpoint_all(&state).await {
        Ok(signed) => tracing::info!(practices = signed, "signed access-log checkpoints at shutdown"),
        Err(err) => tracing::error!(error = %err, "could not sign access-log checkpoints at shutdown"),
    }
    match stopped {
        tandem::serve::Stopped::Clean => {
            tracing::info!("stopped");
            Ok(())
        }
        tandem::serve::Stopped::Abandoned(requests) => {
            // Not a clean stop: whoever supervises the process should know
            // that answers were cut off (their writes rolled back).
            tracing::error!(requests, "grace period over; stopped with requests unanswered");
            std::process::exit(EXIT_ABANDONED);
        }
    }
}

/// Exit status when the grace period ended with requests still under way.
const EXIT_ABANDONED: i32 = 3;

/// Completes on SIGTERM or Ctrl-C (SIGINT). On Unix the handlers are
/// installed when this is called, not when the future is first polled.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let terminate = signal(SignalKind::terminate());
        let interrupt = signal(SignalKind::interrupt());
        async move {
            match (terminate, interrupt) {
                (Ok(mut terminate), Ok(mut interrupt)) => {
                    tokio::select! {
                        _ = terminate.recv() => {},
                        _ = interrupt.recv() => {},
                    }
                }
                (Ok(mut only), Err(_)) | (Err(_), Ok(mut only)) => {
                    only.recv().await;
                }
                (Err(_), Err(_)) => std::future::pending::<()>().await,
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
