//! Signed checkpoints of each practice's chain head, and verification.
//! The signing key lives in a file outside the database, and every
//! checkpoint is also written to the journal beside it ([`super::journal`]),
//! so someone holding only the database cannot make a rewritten, shortened
//! or deleted chain look right: the chain must still contain every
//! checkpointed entry, unchanged.

use std::{collections::BTreeSet, path::Path};

use base64::{Engine, engine::general_purpose::STANDARD};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sea_orm::{
    AccessMode, ActiveModelTrait, ActiveValue::Set, ConnectionTrait,
    DatabaseTransaction, DbBackend, DbErr, EntityTrait, IsolationLevel, QueryOrder, QuerySelect, TransactionOptions,
};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use entity::{audit_checkpoints, audit_heads, audit_verifications};

use super::{chain, journal::SignedCheckpoint};
use crate::tenant::Db;
use crate::scope::PracticeScope;

/// The key that signs checkpoints.
#[derive(Clone)]
pub struct CheckpointKey(SigningKey);

impl std::fmt::Debug for CheckpointKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CheckpointKey({})", self.id())
    }
}

impl CheckpointKey {
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed);
        Self(SigningKey::from_bytes(&seed))
    }

    /// Reads the key file, creating it (readable by its owner only) if it
    /// does not exist: for the service, which signs.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        let (seed, created) = crate::key_file::load_or_create(path, "audit key")?;
        let key = Self(SigningKey::from_bytes(&seed));
        if created {
            tracing::info!(key_id = %key.id(), "created a new audit checkpoint key");
        }
        Ok(key)
    }

    /// Reads the key file, which must exist: for verification, where a new
    /// key would only make every genuine checkpoint look forged.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        Ok(Self(SigningKey::from_bytes(&crate::key_file::load(path, "audit key")?)))
    }

    pub fn verifying(&self) -> VerifyingKey {
        self.0.verifying_key()
    }

    /// A short fingerprint of the public key, stored with each checkpoint.
    pub fn id(&self) -> String {
        key_id(&self.verifying())
    }
}

/// A short fingerprint of a public key.
pub fn key_id(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    hex::encode(&digest[..8])
}

/// The public key as `tandem audit public-key` prints it and `tandem audit
/// verify --public-key` takes it: 32 bytes, base64.
pub fn public_key_text(key: &VerifyingKey) -> String {
    STANDARD.encode(key.as_bytes())
}

pub fn parse_public_key(text: &str) -> anyhow::Result<VerifyingKey> {
    let bytes = STANDARD.decode(text.trim()).map_err(|_| anyhow::anyhow!("the public key is not base64"))?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| anyhow::anyhow!("the public key must be 32 bytes"))?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| anyhow::anyhow!("that is not an Ed25519 public key"))
}

/// Signs the practice's current head and stores the checkpoint in the
/// database (nothing to sign for an empty chain). [`super::checkpoint`]
/// also writes it to the journal.
pub async fn checkpoint(db: &impl ConnectionTrait, key: &CheckpointKey, practice_id: Uuid, now: OffsetDateTime) -> Result<Option<SignedCheckpoint>, DbErr> {
    let Some(head) = audit_heads::Entity::find_by_id(practice_id).one(db).await? else {
        return Ok(None);
    };
    if head.seq == 0 {
        return Ok(None);
    }
    let signed_at = now.replace_nanosecond(0).unwrap_or(now);
    let message = SignedCheckpoint::message(practice_id, head.seq, &head.hash, signed_at.unix_timestamp());
    let signature = key.0.sign(message.as_bytes());
    let signed = SignedCheckpoint {
        practice_id,
        seq: head.seq,
        hash: head.hash,
        signed_at: signed_at.unix_timestamp(),
        key_id: key.id(),
        signature: STANDARD.encode(signature.to_bytes()),
    };
    audit_checkpoints::ActiveModel {
        id: Set(Uuid::now_v7()),
        practice_id: Set(practice_id),
        seq: Set(signed.seq),
        hash: Set(signed.hash.clone()),
        signed_at: Set(signed_at),
        key_id: Set(signed.key_id.clone()),
        signature: Set(signed.signature.clone()),
    }
    .insert(db)
    .await?;
    Ok(Some(signed))
}

/// Whether the practice's head has moved past its newest checkpoint.
pub async fn head_moved(db: &impl ConnectionTrait, practice_id: Uuid) -> Result<bool, DbErr> {
    let Some(head) = audit_heads::Entity::find_by_id(practice_id).one(db).await? else {
        return Ok(false);
    };
    let newest = PracticeScope::trusted(practice_id)
        .select::<audit_checkpoints::Entity>()
        .order_by_desc(audit_checkpoints::Column::Seq)
        .limit(1)
        .one(db)
        .await?;
    Ok(head.seq > newest.map_or(0, |c| c.seq))
}

/// The outcome of verifying one practice's chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    pub practice_id: Uuid,
    pub events_checked: i64,
    pub checkpoints_checked: usize,
    pub first_bad_seq: Option<i64>,
    pub problem: Option<String>,
    /// Verification could not finish (the database could not be read): not
    /// evidence of tampering, but no evidence of an intact log either.
    pub could_not_run: bool,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.problem.is_none()
    }

    pub fn could_not_run(practice_id: Uuid, why: String) -> Self {
        Self { practice_id, events_checked: 0, checkpoints_checked: 0, first_bad_seq: None, problem: Some(why), could_not_run: true }
    }

    fn failed(mut self, seq: i64, why: String) -> Self {
        self.first_bad_seq = Some(seq);
        self.problem = Some(why);
        self
    }
}

/// A read-only transaction that sees one consistent state of the database:
/// REPEATABLE READ on PostgreSQL; on SQLite (WAL) a deferred transaction
/// reads the snapshot its first statement finds. Appends that commit while
/// verification walks the chain are simply not in it.
async fn snapshot(db: &Db, practice_id: Uuid) -> Result<DatabaseTransaction, DbErr> {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let options = TransactionOptions { isolation_level: Some(IsolationLevel::RepeatableRead), access_mode: Some(AccessMode::ReadOnly), ..Default::default() };
            db.begin_for(practice_id, options).await
        }
        _ => db.begin_for(practice_id, TransactionOptions::default()).await,
    }
}

/// Verifies one practice's chain: walks it in one snapshot, then checks it
/// against every checkpoint, from the journal (`journaled`, read before the
/// snapshot, so none is newer than it) and from the database.
pub async fn verify(db: &Db, key: &VerifyingKey, journaled: &[SignedCheckpoint], practice_id: Uuid) -> Result<Verification, DbErr> {
    let txn = snapshot(db, practice_id).await?;
    let stored = PracticeScope::trusted(practice_id)
        .select::<audit_checkpoints::Entity>()
        .all(&txn)
        .await?;
    let mut checkpoints: Vec<(SignedCheckpoint, &str)> = journaled
        .iter()
        .map(|c| (c.clone(), "journal"))
        .chain(stored.into_iter().map(|c| (SignedCheckpoint::from(c), "database")))
        .collect();
    checkpoints.sort_by_key(|(c, _)| (c.seq, c.signed_at));
    checkpoints.dedup_by(|(a, _), (b, _)| a == b);
    let wanted: BTreeSet<i64> = checkpoints.iter().map(|(c, _)| c.seq).collect();
    let report = chain::walk_collecting(&txn, practice_id, &wanted).await?;
    txn.rollback().await?;

    let result = Verification {
        practice_id,
        events_checked: report.events_checked,
        checkpoints_checked: 0,
        first_bad_seq: None,
        problem: None,
        could_not_run: false,
    };
    if let Some((seq, why)) = report.problem {
        return Ok(result.failed(seq, why));
    }
    let mut result = result;
    // The entries up to the last checkpoint that matched are proven; a
    // checkpoint that does not match says something at or before it changed.
    let mut proven = 0i64;
    for (cp, source) in checkpoints {
        result.checkpoints_checked += 1;
        if cp.practice_id != practice_id || !cp.genuine(key) {
            return Ok(result.failed(cp.seq, format!("the checkpoint at entry {} in the {source} is not signed by this installation's key", cp.seq)));
        }
        if cp.seq > report.last_seq {
            let first = report.last_seq + 1;
            return Ok(result.failed(first, format!(
                "entries {first} to {} were removed: a checkpoint in the {source} signed entry {}",
                cp.seq, cp.seq
            )));
        }
        if report.hashes.get(&cp.seq) != Some(&cp.hash) {
            let first = proven + 1;
            return Ok(result.failed(first, format!(
                "entries {first} to {} are not the ones a checkpoint in the {source} signed: the chain was rewritten (changed, reordered, re-dated or replaced) and its hashes recomputed",
                cp.seq
            )));
        }
        proven = proven.max(cp.seq);
    }
    Ok(result)
}

fn result_message(row: &audit_verifications::Model) -> String {
    let problem = row.problem.as_deref().map(|p| format!("{:x}", Sha256::digest(p.as_bytes()))).unwrap_or_default();
    format!(
        "tandem-verification-v1|{}|{}|{}|{}|{}|{}|{}",
        row.id,
        row.practice_id,
        row.ran_at.unix_timestamp_nanos() / 1_000,
        row.ok,
        row.events_checked,
        row.first_bad_seq.map(|s| s.to_string()).unwrap_or_default(),
        problem,
    )
}

/// Stores a verification's result, signed, for supervisors to see.
pub async fn record(db: &impl ConnectionTrait, key: &CheckpointKey, v: &Verification, now: OffsetDateTime) -> Result<(), DbErr> {
    let mut row = audit_verifications::Model {
        id: Uuid::now_v7(),
        practice_id: v.practice_id,
        ran_at: now,
        ok: v.ok(),
        events_checked: v.events_checked,
        first_bad_seq: v.first_bad_seq,
        problem: v.problem.clone(),
        signature: None,
    };
    row.signature = Some(STANDARD.encode(key.0.sign(result_message(&row).as_bytes()).to_bytes()));
    audit_verifications::ActiveModel::from(row).reset_all().insert(db).await?;
    Ok(())
}

/// Whether `key` signed this stored result as it stands.
pub fn result_is_genuine(row: &audit_verifications::Model, key: &VerifyingKey) -> bool {
    row.signature.as_deref().is_some_and(|s| signed_by(key, &result_message(row), s))
}

/// Whether `signature` (base64) is `key`'s signature of `message`.
pub(super) fn signed_by(key: &VerifyingKey, message: &str, signature: &str) -> bool {
    STANDARD
        .decode(signature)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .is_some_and(|b| key.verify(message.as_bytes(), &Signature::from_bytes(&b)).is_ok())
}
