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
    /// Print the effective configuration, with secrets redacted.
    Config,
    /// Load a demo practice with a couple in care, and print how to sign in as each person.
    Demo,
    /// Manage practices.
    #[command(subcommand)]
    Practice(PracticeCommand),
    /// Check and sign the access log.
    #[command(subcommand)]
    Audit(AuditCommand),
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
    let config = Config::load(cli.config).map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
    tandem::telemetry::init(config.log_format, &config.log_filter);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let conn = db::connect(&config).await?;
            db::migrate(&conn).await?;
            println!("Database {} is up to date.", config.database_url_redacted());
            Ok(())
        }
        Command::Demo => {
            let state = connect(config).await?;
            let demo = tandem::demo::load(&state).await.map_err(|e| anyhow::anyhow!("{}", e.detail()))?;
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
        Command::Config => {
            println!("{config:#?}");
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

async fn connect(config: Config) -> anyhow::Result<AppState> {
    let conn = db::connect(&config).await?;
    db::migrate(&conn).await?;
    let key = CheckpointKey::load_or_create(&config.audit_key_file)?;
    let sealing_key = tandem::sealed::SealingKey::load_or_create(&config.secret_key_file)?;
    let state = AppState::new(conn, config, Arc::new(SystemClock), key, sealing_key);
    state
        .journal
        .create_if_missing()
        .with_context(|| format!("could not create the checkpoint journal {}", state.journal.path().display()))?;
    Ok(state)
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
        db::migrate(&conn).await?;
    }
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
    tracing::info!(database = %config.database_url_redacted(), "starting");
    let state = connect(config).await?;
    // Bind before anything else: a second instance on a port in use must
    // fail before it issues a setup link (which would revoke the first's).
    let listener = tokio::net::TcpListener::bind(state.config.bind)
        .await
        .with_context(|| format!("could not listen on {}", state.config.bind))?;
    let metrics = match state.config.metrics_bind {
        Some(address) => Some(
            tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("could not listen for metrics on {address}"))?,
        ),
        None => None,
    };

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
        let router = tandem::metrics::router(tandem::metrics::install(), state.db.clone());
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

    tracing::info!(address = %state.config.bind, public_url = %state.config.public_base(), "listening");
    let grace = Duration::from_secs(state.config.shutdown_grace_seconds);
    // Long enough for a load balancer's next readiness check to see 503.
    let drain = Duration::from_secs(state.config.shutdown_drain_seconds);
    let draining = state.clone();
    let stopped = tandem::serve::run(
        listener,
        tandem::app(state.clone()),
        shutdown_signal(),
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

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
