//! Layered settings: built-in defaults < optional TOML file < `TANDEM_*`
//! environment variables. Secrets are wrapped in [`Secret`] so that printing the
//! configuration (or logging it) never reveals them.
//!
//! A setting Tandem does not know is refused, not ignored: a key in the file
//! (`sesion_idle_minutes`) or a `TANDEM_*` variable (`TANDEM_BINDD`) names
//! itself in the error, with the setting it was probably meant to be.
//! `TANDEM_CONFIG` names the file, and `TANDEM_TEST_*` belongs to the test
//! suite (tests/run exports such variables; the service never reads them).
//! Values that would make Tandem misbehave (a zero timeout, a public URL
//! that is not http or https) are refused by [`Config::validate`].

use std::{fmt, net::SocketAddr, path::PathBuf};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};
use url::Url;

/// Documented in `tandem --help`; keep the two in step.
pub const ENV_HELP: &str = "\
Configuration (defaults < TOML file given by --config or TANDEM_CONFIG < environment):
  TANDEM_DATABASE_URL          sqlite://data/tandem.db?mode=rwc (default, created on first start)
                               or postgres://user:password@host/db
  TANDEM_DATABASE_OWNER_URL    PostgreSQL: the schema owner's URL, for migrations and
                               row-level security; TANDEM_DATABASE_URL is then a role
                               that owns nothing (README, \"Roles\") [default: none]
  TANDEM_BIND                  address to listen on [default: 127.0.0.1:8080]
  TANDEM_PUBLIC_URL            URL people use to reach Tandem, for links and cookies
                               [default: http://<bind>]; https makes cookies Secure
  TANDEM_METRICS_BIND          serve Prometheus metrics at GET /metrics on this address, a
                               listener of its own, never the public one [default: off]
  TANDEM_LOG_FORMAT            pretty | json [default: pretty]
  TANDEM_LOG_FILTER            tracing filter [default: info,sqlx=warn,sea_orm=warn]
  TANDEM_SESSION_IDLE_MINUTES  sign out after this much inactivity [default: 30]
  TANDEM_SESSION_MAX_HOURS     sign out this long after sign-in, whatever happens [default: 12]
  TANDEM_INVITATION_TTL_HOURS  invitation links expire after [default: 72]
  TANDEM_SETUP_TTL_HOURS       the first-start setup link expires after [default: 24]
  TANDEM_SIGN_IN_MAX_FAILURES_PER_ACCOUNT  failures from unknown browsers before an account is
                                           locked for unknown browsers [default: 5]
  TANDEM_SIGN_IN_MAX_FAILURES_PER_ADDRESS  failures from unknown browsers before an address is
                                           locked [default: 50]
  TANDEM_SIGN_IN_MAX_FAILURES_PER_DEVICE   failures before a browser that signed in to the account
                                           before (device cookie) is locked [default: 5]
  TANDEM_SIGN_IN_LOCKOUT_MINUTES           failure window and lock length [default: 15]
  TANDEM_SIGN_IN_DEVICE_DAYS               a browser stays known for this long after its last
                                           sign-in [default: 90]
  TANDEM_TRUST_FORWARDED_FOR   take the client address from the last X-Forwarded-For hop
                               (only behind a proxy that sets it) [default: false]
  TANDEM_REQUEST_TIMEOUT_SECONDS  [default: 30]
  TANDEM_SHUTDOWN_DRAIN_SECONDS   after SIGTERM, /readyz answers 503 this long before Tandem stops
                                  accepting connections [default: 2]
  TANDEM_SHUTDOWN_GRACE_SECONDS   then requests in flight get this long to finish; if any is cut
                                  off, Tandem exits with status 3 [default: 20]
  TANDEM_DATABASE_MAX_CONNECTIONS [default: 10]
  TANDEM_DATABASE_CHECK_IDLE_MS  a pooled connection idle longer than this is checked before
                               it is used again, and replaced if the server dropped it; 0 checks
                               every time, at a round trip per request [default: 1000]
  TANDEM_AUDIT_KEY_FILE        Ed25519 key that signs access-log checkpoints; keep it outside the
                               database and its backups [default: data/audit-signing.key, created
                               on first start by `serve`; `tandem audit verify` never creates it]
  TANDEM_AUDIT_JOURNAL_FILE    append-only journal of every signed checkpoint, which verification
                               checks each chain against; back it up apart from the database
                               [default: audit-journal.jsonl next to the key file]
  TANDEM_AUDIT_CHECKPOINT_MINUTES  a chain head that moved is signed within this long, and at
                               shutdown [default: 1]
  TANDEM_AUDIT_VERIFY_MINUTES  how often the service verifies every chain [default: 10]
  TANDEM_EMERGENCY_ACCESS_MINUTES  how long an emergency access lasts [default: 60]
  TANDEM_SECRET_KEY_FILE       key that seals stored secrets (identity providers' client secrets);
                               keep it outside the database and its backups [default:
                               data/secret.key, created on first start]
  TANDEM_MASTER_KEY_FILE       keyring whose master key wraps each practice's key for clinical text
                               (notes, plans, lapses...): keep it outside the database and its backups;
                               without it no note can be read [default: data/master.keys, created on
                               first start]; `tandem keys rotate` replaces it with a new key
  TANDEM_SSO_SECRET_DIR        a folder of files holding client secrets, one subfolder per practice
                               named by its short name (<dir>/<slug>/); a practice's admins may
                               name a file in their own subfolder instead of entering a secret
                               [default: none]
  TANDEM_SSO_FLOW_MINUTES      a single sign-on must be finished within [default: 10]
  TANDEM_SSO_HTTP_TIMEOUT_SECONDS  limit on each call to an identity provider [default: 10]
  TANDEM_OVERVIEW_CACHE_ENTRIES  couple overviews, dashboards and rendered PDFs kept in memory for
                               clinicians (each number), checked against the couples' revisions on
                               every read and kept at most a minute; 0 keeps none [default: 256]
  TANDEM_SSO_DISCOVERY_CACHE_MINUTES  how long providers' discovery documents and keys are kept
                               [default: 10]
  TANDEM_SSO_ALLOW_INSECURE_ISSUERS  let identity providers be on this machine or a private network,
                               and plain http on loopback (tests and development only) [default: false]
Any other TANDEM_* variable, or a file key not listed here, is refused (TANDEM_TEST_* is reserved
for the test suite). `tandem config` prints the effective settings as a file you can pass to --config.";

/// A value that must never be printed. `Debug` and `Display` show a placeholder.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// May carry a password, hence secret; see [`Config::database_url_redacted`].
    pub database_url: Secret<String>,
    /// PostgreSQL only: the role that owns the schema. When set, Tandem
    /// applies migrations and row-level security through it and serves
    /// through `database_url`, a role that owns nothing (see README, "Roles").
    pub database_owner_url: Option<Secret<String>>,
    pub bind: SocketAddr,
    pub public_url: Option<Url>,
    /// Where `GET /metrics` is served; `None`: no metrics listener.
    pub metrics_bind: Option<SocketAddr>,
    pub log_format: LogFormat,
    pub log_filter: String,
    pub session_idle_minutes: u32,
    pub session_max_hours: u32,
    pub invitation_ttl_hours: u32,
    pub setup_ttl_hours: u32,
    pub sign_in_max_failures_per_account: u32,
    pub sign_in_max_failures_per_address: u32,
    pub sign_in_max_failures_per_device: u32,
    pub sign_in_lockout_minutes: u32,
    pub sign_in_device_days: u32,
    pub trust_forwarded_for: bool,
    pub request_timeout_seconds: u64,
    pub shutdown_drain_seconds: u64,
    pub shutdown_grace_seconds: u64,
    pub database_max_connections: u32,
    /// See `db::connect_with`.
    pub database_check_idle_ms: u64,
    pub audit_key_file: PathBuf,
    /// Where signed checkpoints are journaled; `None`: next to the key file.
    pub audit_journal_file: Option<PathBuf>,
    pub audit_checkpoint_minutes: u32,
    pub audit_verify_minutes: u32,
    pub emergency_access_minutes: u32,
    pub secret_key_file: PathBuf,
    /// The keyring whose master key wraps each practice's data key for
    /// clinical text (see `vault`).
    pub master_key_file: PathBuf,
    pub sso_secret_dir: Option<PathBuf>,
    pub sso_flow_minutes: u32,
    pub sso_http_timeout_seconds: u64,
    pub sso_discovery_cache_minutes: u32,
    /// Couple overviews and dashboards (`records::overview::Overviews`) and
    /// rendered PDFs (`pdf::Renderings`) kept in memory, each at most this
    /// many; 0: none.
    pub overview_cache_entries: u32,
    /// Identity providers on loopback or private addresses, and plain http
    /// on loopback: for tests and development, never for a real practice.
    pub sso_allow_insecure_issuers: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: Secret::new("sqlite://data/tandem.db?mode=rwc".into()),
            database_owner_url: None,
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            metrics_bind: None,
            log_format: LogFormat::Pretty,
            log_filter: "info,sqlx=warn,sea_orm=warn".into(),
            session_idle_minutes: 30,
            session_max_hours: 12,
            invitation_ttl_hours: 72,
            setup_ttl_hours: 24,
            sign_in_max_failures_per_account: 5,
            sign_in_max_failures_per_address: 50,
            sign_in_max_failures_per_device: 5,
            sign_in_lockout_minutes: 15,
            sign_in_device_days: 90,
            trust_forwarded_for: false,
            request_timeout_seconds: 30,
            shutdown_drain_seconds: 2,
            shutdown_grace_seconds: 20,
            database_max_connections: 10,
            database_check_idle_ms: 1000,
            audit_key_file: PathBuf::from("data/audit-signing.key"),
            audit_journal_file: None,
            // A cut tail goes unnoticed at most until its checkpoint: keep it short.
            audit_checkpoint_minutes: 1,
            audit_verify_minutes: 10,
            emergency_access_minutes: 60,
            secret_key_file: PathBuf::from("data/secret.key"),
            master_key_file: PathBuf::from("data/master.keys"),
            sso_secret_dir: None,
            sso_flow_minutes: 10,
            sso_http_timeout_seconds: 10,
            sso_discovery_cache_minutes: 10,
            overview_cache_entries: 256,
            sso_allow_insecure_issuers: false,
        }
    }
}

impl Config {
    /// Reads the layers and checks them. `file` is the `--config` argument, if any.
    pub fn load(file: Option<PathBuf>) -> anyhow::Result<Self> {
        check_environment(std::env::vars_os().filter_map(|(name, _)| name.into_string().ok()))?;
        let config: Self = Self::figment(file).extract().map_err(|e| anyhow::anyhow!(explain(e)))?;
        config.validate()?;
        Ok(config)
    }

    pub fn figment(file: Option<PathBuf>) -> Figment {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        let file = file.or_else(|| std::env::var_os("TANDEM_CONFIG").map(PathBuf::from));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment.merge(
            Env::prefixed("TANDEM_")
                .ignore(&["config"])
                .filter(|key| !is_test_suites(key.as_str())),
        )
    }

    /// Refuses values Tandem would accept but misbehave with, naming the
    /// setting as both the file key and the environment variable.
    pub fn validate(&self) -> anyhow::Result<()> {
        let url = self.database_url.expose();
        if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            // Not echoed: a mistyped URL may still carry a password.
            anyhow::bail!("database_url (TANDEM_DATABASE_URL) must start with sqlite: or postgres://");
        }
        if let Some(owner) = &self.database_owner_url
            && !(url.starts_with("postgres") && (owner.expose().starts_with("postgres://") || owner.expose().starts_with("postgresql://")))
        {
            anyhow::bail!("database_owner_url (TANDEM_DATABASE_OWNER_URL) is for PostgreSQL: a postgres:// URL beside a postgres:// database_url");
        }
        if let Some(public) = &self.public_url
            && (!matches!(public.scheme(), "http" | "https") || public.host().is_none())
        {
            anyhow::bail!("public_url (TANDEM_PUBLIC_URL) must be an http:// or https:// address, not {public}");
        }
        let at_least_one: [(&str, u64); 16] = [
            ("session_idle_minutes", self.session_idle_minutes.into()),
            ("session_max_hours", self.session_max_hours.into()),
            ("invitation_ttl_hours", self.invitation_ttl_hours.into()),
            ("setup_ttl_hours", self.setup_ttl_hours.into()),
            ("sign_in_max_failures_per_account", self.sign_in_max_failures_per_account.into()),
            ("sign_in_max_failures_per_address", self.sign_in_max_failures_per_address.into()),
            ("sign_in_max_failures_per_device", self.sign_in_max_failures_per_device.into()),
            ("sign_in_lockout_minutes", self.sign_in_lockout_minutes.into()),
            ("sign_in_device_days", self.sign_in_device_days.into()),
            ("request_timeout_seconds", self.request_timeout_seconds),
            ("database_max_connections", self.database_max_connections.into()),
            ("audit_checkpoint_minutes", self.audit_checkpoint_minutes.into()),
            ("audit_verify_minutes", self.audit_verify_minutes.into()),
            ("emergency_access_minutes", self.emergency_access_minutes.into()),
            ("sso_flow_minutes", self.sso_flow_minutes.into()),
            ("sso_http_timeout_seconds", self.sso_http_timeout_seconds),
        ];
        if let Some((key, _)) = at_least_one.iter().find(|(_, value)| *value == 0) {
            anyhow::bail!("{key} ({}) must be at least 1, not 0", env_name(key));
        }
        Ok(())
    }

    /// The effective settings as a TOML file `--config` accepts, with the
    /// database password (the one secret among them) replaced.
    pub fn to_toml(&self) -> String {
        let mut shown = self.clone();
        let redacted = self.database_url_redacted();
        let mut password_hidden = redacted != *self.database_url.expose();
        shown.database_url = Secret::new(redacted);
        if let Some(owner) = &self.database_owner_url {
            let hidden = redact(owner.expose());
            password_hidden |= hidden != *owner.expose();
            shown.database_owner_url = Some(Secret::new(hidden));
        }
        let mut text = String::from("# Tandem's effective settings (defaults < file < TANDEM_* environment).\n");
        if password_hidden {
            text.push_str("# database URLs: passwords are replaced by \"redacted\"; put them back, or keep them in TANDEM_DATABASE_URL / TANDEM_DATABASE_OWNER_URL.\n");
        }
        let unset: Vec<String> = serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_object().map(|o| o.iter().filter(|(_, v)| v.is_null()).map(|(k, _)| k.clone()).collect()))
            .unwrap_or_default();
        if !unset.is_empty() {
            text.push_str(&format!("# Not set (built-in behaviour applies): {}.\n", unset.join(", ")));
        }
        // Every field is a string, number or boolean: nothing can fail to serialize.
        text.push_str(&toml::to_string(&shown).unwrap_or_else(|e| format!("# could not print the settings: {e}\n")));
        text
    }

    /// The URL people reach Tandem at, without a trailing slash.
    pub fn public_base(&self) -> String {
        match &self.public_url {
            Some(url) => url.as_str().trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.bind),
        }
    }

    pub fn is_https(&self) -> bool {
        self.public_url.as_ref().is_some_and(|u| u.scheme() == "https")
    }

    /// The database URL with any password replaced, for messages and logs;
    /// a URL without one (SQLite's) as it was given.
    pub fn database_url_redacted(&self) -> String {
        redact(self.database_url.expose())
    }

    /// The checkpoint journal: as configured, or beside the key file.
    pub fn audit_journal_path(&self) -> PathBuf {
        self.audit_journal_file.clone().unwrap_or_else(|| self.audit_key_file.with_file_name("audit-journal.jsonl"))
    }

    pub fn session_idle(&self) -> time::Duration {
        time::Duration::minutes(self.session_idle_minutes.into())
    }

    pub fn session_max(&self) -> time::Duration {
        time::Duration::hours(self.session_max_hours.into())
    }

    /// How long a pooled connection may sit idle before it is checked again.
    pub fn check_idle(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.database_check_idle_ms)
    }
}

/// Variables under `TANDEM_TEST_` are the test suite's, never settings.
const TEST_PREFIX: &str = "test_";

/// Whether a variable's name after `TANDEM_` (in any case) is the test suite's.
fn is_test_suites(key: &str) -> bool {
    key.get(..TEST_PREFIX.len()).is_some_and(|start| start.eq_ignore_ascii_case(TEST_PREFIX))
}

fn env_name(key: &str) -> String {
    format!("TANDEM_{}", key.to_ascii_uppercase())
}

/// Every setting's key, as in the TOML file.
fn known_keys() -> Vec<String> {
    match serde_json::to_value(Config::default()) {
        Ok(serde_json::Value::Object(fields)) => fields.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// ", did you mean `x`?" when a known key is a small typo away.
fn suggestion(unknown: &str, known: &[String], spell: impl Fn(&str) -> String) -> String {
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(unknown, k), k))
        .filter(|(distance, _)| *distance <= 2)
        .min()
        .map(|(_, k)| format!("; did you mean {}?", spell(k)))
        .unwrap_or_default()
}

/// Refuses a `TANDEM_*` variable that is no setting, naming it.
fn check_environment(names: impl Iterator<Item = String>) -> anyhow::Result<()> {
    let known = known_keys();
    for name in names {
        let Some(rest) = name.get(..7).filter(|p| p.eq_ignore_ascii_case("TANDEM_")).map(|_| &name[7..]) else { continue };
        let key = rest.to_ascii_lowercase();
        if key == "config" || is_test_suites(&key) || known.contains(&key) {
            continue;
        }
        anyhow::bail!(
            "unknown environment variable {name}: Tandem has no such setting{} (`tandem --help` lists them; TANDEM_TEST_* is reserved for the test suite)",
            suggestion(&key, &known, env_name)
        );
    }
    Ok(())
}

/// figment's message, with a suggestion when a file key is unknown.
fn explain(error: figment::Error) -> String {
    if let figment::error::Kind::UnknownField(field, _) = &error.kind {
        let source = error.metadata.as_ref().and_then(|m| m.source.as_ref()).map(|s| format!(" in {s}")).unwrap_or_default();
        return format!(
            "unknown setting `{field}`{source}: Tandem has no such setting{}",
            suggestion(field, &known_keys(), |k| format!("`{k}`"))
        );
    }
    error.to_string()
}

/// A database URL with any password replaced; one without a password (SQLite's) as it was given.
fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("redacted"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => "[unparseable database url]".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_database_password() {
        let config = Config {
            database_url: Secret::new("postgres://tandem:hunter2-secret@db/tandem".into()),
            ..Config::default()
        };
        let printed = format!("{config:?}");
        assert!(!printed.contains("hunter2-secret"), "{printed}");
        assert!(!config.database_url_redacted().contains("hunter2-secret"));
        assert!(config.database_url_redacted().contains("redacted"));
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail decides the closure's error type
    fn environment_overrides_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("TANDEM_BIND", "0.0.0.0:9000");
            jail.set_env("TANDEM_LOG_FORMAT", "json");
            jail.create_file("tandem.toml", "bind = \"127.0.0.1:7000\"\nsession_idle_minutes = 5")?;
            let config: Config = Config::figment(Some("tandem.toml".into())).extract()?;
            assert_eq!(config.bind.to_string(), "0.0.0.0:9000");
            assert_eq!(config.session_idle_minutes, 5);
            assert_eq!(config.log_format, LogFormat::Json);
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn an_unknown_file_key_is_refused_by_name() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("tandem.toml", "sesion_idle_minutes = 5")?;
            let error = Config::load(Some("tandem.toml".into())).unwrap_err().to_string();
            assert!(error.contains("unknown setting `sesion_idle_minutes`"), "{error}");
            assert!(error.contains("tandem.toml"), "{error}");
            assert!(error.contains("did you mean `session_idle_minutes`?"), "{error}");
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn an_unknown_variable_is_refused_but_the_test_suites_are_not() {
        let load_with = |vars: &'static [(&'static str, &'static str)]| {
            let mut result = None;
            figment::Jail::expect_with(|jail| {
                for (name, value) in vars {
                    jail.set_env(name, value);
                }
                result = Some(Config::load(None).map_err(|e| e.to_string()));
                Ok(())
            });
            result.unwrap()
        };
        let error = load_with(&[("TANDEM_TEST_ANYTHING", "x"), ("TANDEM_CONFIG_X", "x")]).unwrap_err();
        assert!(error.contains("unknown environment variable TANDEM_CONFIG_X"), "{error}");
        let error = load_with(&[("TANDEM_TEST_ANYTHING", "x"), ("TANDEM_BINDD", "0.0.0.0:1")]).unwrap_err();
        assert!(error.contains("unknown environment variable TANDEM_BINDD"), "{error}");
        assert!(error.contains("did you mean TANDEM_BIND?"), "{error}");
        let config = load_with(&[("TANDEM_TEST_ANYTHING", "x"), ("TANDEM_BIND", "0.0.0.0:1")]).unwrap();
        assert_eq!(config.bind.port(), 1);
    }

    #[test]
    fn values_tandem_would_misbehave_with_are_refused() {
        let idle = Config { session_idle_minutes: 0, ..Config::default() };
        let error = idle.validate().unwrap_err().to_string();
        assert_eq!(error, "session_idle_minutes (TANDEM_SESSION_IDLE_MINUTES) must be at least 1, not 0");
        let ftp = Config { public_url: Some(Url::parse("ftp://x").unwrap()), ..Config::default() };
        let error = ftp.validate().unwrap_err().to_string();
        assert!(error.starts_with("public_url (TANDEM_PUBLIC_URL) must be an http:// or https:// address"), "{error}");
        let mysql = Config { database_url: Secret::new("mysql://u:pw-x@h/db".into()), ..Config::default() };
        let error = mysql.validate().unwrap_err().to_string();
        assert!(error.contains("TANDEM_DATABASE_URL") && !error.contains("pw-x"), "{error}");
        let fine = Config { public_url: Some(Url::parse("https://tandem.example").unwrap()), ..Config::default() };
        fine.validate().unwrap();
        Config::default().validate().unwrap();
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn printed_settings_read_back_as_the_same_settings() {
        figment::Jail::expect_with(|jail| {
            let config = Config {
                public_url: Some(Url::parse("https://tandem.example").unwrap()),
                session_idle_minutes: 7,
                log_format: LogFormat::Json,
                ..Config::default()
            };
            let printed = config.to_toml();
            assert!(printed.contains("database_url = \"sqlite://data/tandem.db?mode=rwc\""), "{printed}");
            assert!(printed.contains("Not set (built-in behaviour applies): audit_journal_file, database_owner_url, metrics_bind, sso_secret_dir."), "{printed}");
            jail.create_file("printed.toml", &printed)?;
            let read = Config::load(Some("printed.toml".into())).unwrap();
            assert_eq!(serde_json::to_value(&read).unwrap(), serde_json::to_value(&config).unwrap());
            Ok(())
        });
    }

    #[test]
    fn only_a_password_is_redacted_when_printed() {
        let config = Config {
            database_url: Secret::new("postgres://tandem:hunter2-secret@db/tandem".into()),
            ..Config::default()
        };
        let printed = config.to_toml();
        assert!(!printed.contains("hunter2-secret"), "{printed}");
        assert!(printed.contains("database_url = \"postgres://tandem:redacted@db/tandem\""), "{printed}");
        assert!(printed.contains("passwords are replaced"), "{printed}");
        assert!(!Config::default().to_toml().contains("redacted"));
    }
}

