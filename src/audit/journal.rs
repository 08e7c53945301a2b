//! The checkpoint journal: every signed checkpoint is also appended, one JSON
//! line each, to a file outside the database (next to the signing key by
//! default) and written to the structured logs. Whoever can write the
//! database can delete its checkpoint rows, but not these copies, so
//! verification checks each chain against the journal: a log deleted,
//! shortened, re-chained, reordered or re-dated after a checkpoint no longer
//! contains the entry the journal says was signed.

use std::{
    collections::HashMap,
    io::{Read, Seek, SeekFrom, Write},
    path::{Path, PathBuf},
    sync::Arc,
};

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A chain head as the key signed it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SignedCheckpoint {
    pub practice_id: Uuid,
    pub seq: i64,
    pub hash: String,
    /// Unix seconds.
    pub signed_at: i64,
    pub key_id: String,
    /// Ed25519 over [`SignedCheckpoint::message`], base64.
    pub signature: String,
}

impl SignedCheckpoint {
    /// The signed bytes (the same as checkpoints stored in the database have
    /// always been signed over).
    pub fn message(practice_id: Uuid, seq: i64, hash: &str, signed_at: i64) -> String {
        format!("tandem-checkpoint-v1|{practice_id}|{seq}|{hash}|{signed_at}")
    }

    /// Whether `key` signed exactly this checkpoint.
    pub fn genuine(&self, key: &VerifyingKey) -> bool {
        let message = Self::message(self.practice_id, self.seq, &self.hash, self.signed_at);
        super::checkpoints::signed_by(key, &message, &self.signature)
    }
}

impl From<entity::audit_checkpoints::Model> for SignedCheckpoint {
    fn from(row: entity::audit_checkpoints::Model) -> Self {
        Self {
            practice_id: row.practice_id,
            seq: row.seq,
            hash: row.hash,
            signed_at: row.signed_at.unix_timestamp(),
            key_id: row.key_id,
            signature: row.signature,
        }
    }
}

/// The journal file. Appends from one process are serialised; appends from
/// several (replicas sharing the file, the CLI beside the service) are
/// single `O_APPEND` writes of one line each.
#[derive(Clone, Debug)]
pub struct Journal {
    path: PathBuf,
    lock: Arc<tokio::sync::Mutex<()>>,
}

/// The journal's checkpoints, by practice, in the order they were written.
pub type Journaled = HashMap<Uuid, Vec<SignedCheckpoint>>;

impl Journal {
    pub fn new(path: PathBuf) -> Self {
        Self { path, lock: Arc::default() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates the (empty) journal if there is none, so that its absence
    /// later means it was removed, not that nothing was signed yet.
    pub fn create_if_missing(&self) -> std::io::Result<()> {
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        self.open()?;
        Ok(())
    }

    fn open(&self) -> std::io::Result<std::fs::File> {
        let mut options = std::fs::OpenOptions::new();
        options.read(true).append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(&self.path)
    }

    /// Appends one checkpoint and flushes it to disk; also writes it to the
    /// structured logs, so a log pipeline keeps a copy of its own.
    pub async fn append(&self, checkpoint: &SignedCheckpoint) -> std::io::Result<()> {
        tracing::info!(
            target: "tandem::audit::journal",
            practice_id = %checkpoint.practice_id,
            seq = checkpoint.seq,
            hash = %checkpoint.hash,
            signed_at = checkpoint.signed_at,
            key_id = %checkpoint.key_id,
            signature = %checkpoint.signature,
            "access-log checkpoint signed"
        );
        let mut line = serde_json::to_string(checkpoint).map_err(std::io::Error::other)?;
        line.push('\n');
        let _one_at_a_time = self.lock.lock().await;
        let journal = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut file = journal.open()?;
            // A crash part-way through a line leaves it without its newline:
            // end it, so the next checkpoint is a line of its own.
            let length = file.seek(SeekFrom::End(0))?;
            if length > 0 {
                file.seek(SeekFrom::Start(length - 1))?;
                let mut last = [0u8; 1];
                file.read_exact(&mut last)?;
                if last[0] != b'\n' {
                    line.insert(0, '\n');
                }
            }
            file.write_all(line.as_bytes())?;
            file.sync_data()
        })
        .await
        .map_err(std::io::Error::other)?
    }

    /// Every checkpoint in the journal. Lines that do not parse (one cut
    /// short by a crash) are skipped: a line missing proves nothing either way.
    pub fn read(&self) -> std::io::Result<Journaled> {
        let text = std::fs::read_to_string(&self.path)?;
        let mut journaled = Journaled::new();
        let mut unreadable = 0usize;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match serde_json::from_str::<SignedCheckpoint>(line) {
                Ok(checkpoint) => journaled.entry(checkpoint.practice_id).or_default().push(checkpoint),
                Err(_) => unreadable += 1,
            }
        }
        if unreadable > 0 {
            tracing::warn!(path = %self.path.display(), lines = unreadable, "checkpoint journal lines that cannot be read were skipped");
        }
        Ok(journaled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint(seq: i64) -> SignedCheckpoint {
        SignedCheckpoint {
            practice_id: Uuid::nil(),
            seq,
            hash: "ab".repeat(32),
            signed_at: 1_700_000_000,
            key_id: "k".into(),
            signature: "s".into(),
        }
    }

    #[tokio::test]
    async fn a_line_cut_short_by_a_crash_does_not_swallow_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(dir.path().join("journal.jsonl"));
        journal.append(&checkpoint(1)).await.unwrap();
        // A crash in the middle of writing the second line.
        let mut file = std::fs::OpenOptions::new().append(true).open(journal.path()).unwrap();
        file.write_all(b"{\"practice_id\":\"0000").unwrap();
        journal.append(&checkpoint(3)).await.unwrap();
        let read = journal.read().unwrap();
        let seqs: Vec<i64> = read[&Uuid::nil()].iter().map(|c| c.seq).collect();
        assert_eq!(seqs, vec![1, 3]);
    }
}
