//! `tandem backup` and `tandem restore` for the embedded SQLite database.
//!
//! A backup is a folder holding a consistent copy of the live database
//! (SQLite's `VACUUM INTO`, which reads one snapshot while Tandem keeps
//! serving, not a copy of files in motion), the checkpoint journal, and a
//! manifest with each file's SHA-256. The journal is copied *before* the
//! database snapshot is taken, so every checkpoint in the copy signs entries
//! the snapshot holds: a restored instance verifies, and a journal newer than
//! its database (which would read as "entries removed") cannot arise.
//!
//! Keys are never part of a backup: the checkpoint signing key and the key
//! that seals stored secrets are kept apart from the database and its
//! backups, and a restore needs them in place.
//!
//! PostgreSQL is backed up with the operator's own tools (`pg_dump`, or the
//! provider's point-in-time recovery); README.md gives the procedure, which
//! keeps the same order: journal first, then the database.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::{Context, bail};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};


/// The database copy inside a backup folder.
pub const DATABASE_FILE: &str = "tandem.db";
/// The journal copy inside a backup folder.
pub const JOURNAL_FILE: &str = "audit-journal.jsonl";
/// What the backup holds, and each file's digest.
pub const MANIFEST_FILE: &str = "manifest.json";

/// `manifest.json`: enough to tell a whole backup from a damaged one.
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub tandem_version: String,
    /// RFC 3339, when the database snapshot was taken.
    pub taken_at: String,
    pub database_sha256: String,
    pub database_bytes: u64,
    pub journal_sha256: String,
    pub journal_bytes: u64,
    /// Access events in the copy, all practices together.
    pub access_events: i64,
}

/// Writes a backup of the live SQLite database behind `db` and the journal
/// at `journal` into the new folder `dir`. The folder appears only when the
/// backup is whole: it is written under a temporary name and renamed.
pub async fn backup(db: &DatabaseConnection, journal: &Path, dir: &Path, now: time::OffsetDateTime) -> anyhow::Result<Manifest> {
    if db.get_database_backend() != DatabaseBackend::Sqlite {
        bail!("`tandem backup` copies the embedded SQLite database; back up PostgreSQL with pg_dump or your provider's point-in-time recovery (README: \"Backup and restore\")");
    }
    if dir.exists() {
        bail!("{} already exists: name a new folder for the backup", dir.display());
    }
    let partial = partial_path(dir)?;
    if partial.exists() {
        fs::remove_dir_all(&partial).with_context(|| format!("could not remove the unfinished backup {}", partial.display()))?;
    }
    fs::create_dir_all(&partial).with_context(|| format!("could not create {}", partial.display()))?;

    // 1. The journal, up to its last whole line (a line being appended
    //    right now is left for the next backup).
    let mut lines = match fs::read(journal) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("could not read the checkpoint journal {}", journal.display())),
    };
    lines.truncate(lines.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1));
    write_synced(&partial.join(JOURNAL_FILE), &lines)?;

    // 2. One snapshot of the database, written by SQLite itself.
    let copy = partial.join(DATABASE_FILE);
    let target = copy.to_str().context("the backup folder's path is not valid UTF-8")?;
    db.execute_raw(Statement::from_sql_and_values(DatabaseBackend::Sqlite, "VACUUM INTO ?", [target.into()]))
        .await
        .context("SQLite could not write the database copy")?;
    #[cfg(unix)]
    fs::set_permissions(&copy, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    fs::File::open(&copy)?.sync_all()?;
    let access_events = check_copy(&copy).await?;

    let manifest = Manifest {
        format: 1,
        tandem_version: env!("CARGO_PKG_VERSION").to_owned(),
        taken_at: now.format(&time::format_description::well_known::Rfc3339)?,
        database_sha256: digest(&copy)?,
        database_bytes: fs::metadata(&copy)?.len(),
        journal_sha256: format!("{:x}", Sha256::digest(&lines)),
        journal_bytes: lines.len() as u64,
        access_events,
    };
    write_synced(&partial.join(MANIFEST_FILE), &serde_json::to_vec_pretty(&manifest)?)?;
    fs::rename(&partial, dir).with_context(|| format!("could not move the finished backup to {}", dir.display()))?;
    sync_dir(dir.parent().unwrap_or(Path::new(".")));
    Ok(manifest)
}

/// Where a restore put things, and what it moved aside.
#[derive(Debug)]
pub struct Restored {
    pub manifest: Manifest,
    pub database: PathBuf,
    pub journal: PathBuf,
    /// The journal that was there before, kept under a new name: it proves
    /// what the restored database no longer holds.
    pub journal_moved_to: Option<PathBuf>,
}

/// Brings the backup in `dir` back as the SQLite database at `database` and
/// the journal at `journal`. Refuses to overwrite a database: the operator
/// stops Tandem and moves the old files aside first. A journal already in
/// place is renamed, never deleted.
pub fn restore(dir: &Path, database: &Path, journal: &Path, now: time::OffsetDateTime) -> anyhow::Result<Restored> {
    let manifest: Manifest = serde_json::from_slice(
        &fs::read(dir.join(MANIFEST_FILE)).with_context(|| format!("{} is not a Tandem backup (no {MANIFEST_FILE})", dir.display()))?,
    )
    .with_context(|| format!("{} in {} is damaged", MANIFEST_FILE, dir.display()))?;
    if manifest.format != 1 {
        bail!("this backup has format {}; this Tandem reads format 1", manifest.format);
    }
    let copy = dir.join(DATABASE_FILE);
    if digest(&copy)? != manifest.database_sha256 {
        bail!("{} does not match the manifest: the backup is damaged", copy.display());
    }
    let journal_copy = fs::read(dir.join(JOURNAL_FILE)).with_context(|| format!("the backup has no {JOURNAL_FILE}"))?;
    if format!("{:x}", Sha256::digest(&journal_copy)) != manifest.journal_sha256 {
        bail!("{JOURNAL_FILE} does not match the manifest: the backup is damaged");
    }
    for existing in [database.to_path_buf(), with_suffix(database, "-wal"), with_suffix(database, "-shm")] {
        if existing.exists() {
            bail!(
                "{} exists: stop Tandem and move the database files ({0}, -wal, -shm) aside before restoring over them",
                existing.display()
            );
        }
    }
    if let Some(parent) = database.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    if let Some(parent) = journal.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    let journal_moved_to = if journal.exists() {
        let stamp = now.unix_timestamp();
        let aside = with_suffix(journal, &format!(".before-restore-{stamp}"));
        fs::rename(journal, &aside).with_context(|| format!("could not move {} aside", journal.display()))?;
        Some(aside)
    } else {
        None
    };
    let incoming = with_suffix(database, ".restoring");
    fs::copy(&copy, &incoming).with_context(|| format!("could not write {}", incoming.display()))?;
    fs::File::open(&incoming)?.sync_all()?;
    fs::rename(&incoming, database)?;
    let journal_incoming = with_suffix(journal, ".restoring");
    write_synced(&journal_incoming, &journal_copy)?;
    fs::rename(&journal_incoming, journal)?;
    for path in [database, journal] {
        sync_dir(path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")));
    }
    Ok(Restored { manifest, database: database.to_path_buf(), journal: journal.to_path_buf(), journal_moved_to })
}

/// Opens the copy on its own and asks SQLite whether it is whole; returns
/// how many access events it holds.
async fn check_copy(copy: &Path) -> anyhow::Result<i64> {
    let url = format!("sqlite://{}?mode=ro", copy.display());
    let conn = sea_orm::Database::connect(sea_orm::ConnectOptions::new(url).sqlx_logging(false).max_connections(1).to_owned())
        .await
        .context("could not open the database copy")?;
    let row = conn
        .query_one_raw(Statement::from_string(DatabaseBackend::Sqlite, "PRAGMA integrity_check"))
        .await?
        .context("integrity_check answered nothing")?;
    let verdict: String = row.try_get_by_index(0)?;
    if verdict != "ok" {
        bail!("the database copy failed SQLite's integrity check: {verdict}");
    }
    let row = conn
        .query_one_raw(Statement::from_string(DatabaseBackend::Sqlite, "SELECT COUNT(*) FROM access_events"))
        .await?
        .context("counting access events answered nothing")?;
    let events: i64 = row.try_get_by_index(0)?;
    conn.close().await?;
    Ok(events)
}

fn partial_path(dir: &Path) -> anyhow::Result<PathBuf> {
    let name = dir.file_name().context("name a folder for the backup")?;
    let mut partial = name.to_os_string();
    partial.push(".partial");
    Ok(dir.with_file_name(partial))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

fn digest(path: &Path) -> anyhow::Result<String> {
    let mut file = fs::File::open(path).with_context(|| format!("could not read {}", path.display()))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(format!("{:x}", hasher.finalize()))
}

fn write_synced(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("could not create {}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

/// Makes a rename durable; best effort (not every filesystem allows it).
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}
