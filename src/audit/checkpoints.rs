//! Signed checkpoints of each practice's chain head, and verification.
//! The signing key lives in a file outside the database, so someone holding
//! only the database cannot make a rewritten or shortened chain look right:
//! the chain must still contain every checkpointed entry, unchanged.

use std::path::Path;

use base64::{Engine, engine::general_purpose::STANDARD};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder,
};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use entity::{access_events, audit_checkpoints, audit_heads, audit_verifications};

use super::chain;
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

    /// Reads the key file, creating it (readable by its owner only) if it does not exist.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        let (seed, created) = crate::key_file::load_or_create(path, "audit key")?;
        let key = Self(SigningKey::from_bytes(&seed));
        if created {
            tracing::info!(key_id = %key.id(), "created a new audit checkpoint key");
        }
        Ok(key)
    }

    pub fn verifying(&self) -> VerifyingKey {
        self.0.verifying_key()
    }

    /// A short fingerprint of the public key, stored with each checkpoint.
    pub fn id(&self) -> String {
        let digest = Sha256::digest(self.verifying().as_bytes());
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

fn message(practice_id: Uuid, seq: i64, hash: &str, signed_at: OffsetDateTime) -> String {
    format!("tandem-checkpoint-v1|{practice_id}|{seq}|{hash}|{}", signed_at.unix_timestamp())
}

/// Signs the practice's current head (nothing to sign for an empty chain).
pub async fn checkpoint(db: &impl ConnectionTrait, key: &CheckpointKey, practice_id: Uuid, now: OffsetDateTime) -> Result<Option<i64>, DbErr> {
    let Some(head) = audit_heads::Entity::find_by_id(practice_id).one(db).await? else {
        return Ok(None);
    };
    if head.seq == 0 {
        return Ok(None);
    }
    let signed_at = now.replace_nanosecond(0).unwrap_or(now);
    let signature = key.0.sign(message(practice_id, head.seq, &head.hash, signed_at).as_bytes());
    audit_checkpoints::ActiveModel {
        id: Set(Uuid::now_v7()),
        practice_id: Set(practice_id),
        seq: Set(head.seq),
        hash: Set(head.hash),
        signed_at: Set(signed_at),
        key_id: Set(key.id()),
        signature: Set(STANDARD.encode(signature.to_bytes())),
    }
    .insert(db)
    .await?;
    Ok(Some(head.seq))
}

/// The outcome of verifying one practice's chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    pub practice_id: Uuid,
    pub events_checked: i64,
    pub checkpoints_checked: usize,
    pub first_bad_seq: Option<i64>,
    pub problem: Option<String>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.problem.is_none()
    }
}

/// What verification expects of checkpoints: entries older than
/// `max_unsigned_age` at `now` must be covered by a checkpoint, so removing
/// every checkpoint (to hide a rewritten chain) does not go unnoticed.
#[derive(Clone, Copy, Debug)]
pub struct Expectation {
    pub now: OffsetDateTime,
    pub max_unsigned_age: time::Duration,
}

/// Walks the chain, then checks every checkpoint against it, and that old
/// entries are covered by one.
pub async fn verify(db: &impl ConnectionTrait, key: &VerifyingKey, practice_id: Uuid, expect: Expectation) -> Result<Verification, DbErr> {
    let report = chain::walk(db, practice_id).await?;
    let mut result = Verification {
        practice_id,
        events_checked: report.events_checked,
        checkpoints_checked: 0,
        first_bad_seq: report.problem.as_ref().map(|(seq, _)| *seq),
        problem: report.problem.map(|(_, why)| why),
    };
    if result.problem.is_some() {
        return Ok(result);
    }
    let scope = PracticeScope::trusted(practice_id);
    let checkpoints = scope
        .select::<audit_checkpoints::Entity>()
        .order_by_asc(audit_checkpoints::Column::Seq)
        .all(db)
        .await?;
    let covered = checkpoints.last().map_or(0, |cp| cp.seq);
    for cp in checkpoints {
        result.checkpoints_checked += 1;
        let signature = STANDARD
            .decode(&cp.signature)
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
            .map(|b| Signature::from_bytes(&b));
        let genuine = signature
            .is_some_and(|s| key.verify(message(practice_id, cp.seq, &cp.hash, cp.signed_at).as_bytes(), &s).is_ok());
        if !genuine {
            result.first_bad_seq = Some(cp.seq);
            result.problem = Some(format!("the checkpoint at entry {} is not signed by this installation's key", cp.seq));
            return Ok(result);
        }
        if cp.seq > report.last_seq {
            result.first_bad_seq = Some(report.last_seq + 1);
            result.problem = Some(format!(
                "entries {} to {} were removed: a checkpoint signed entry {}",
                report.last_seq + 1,
                cp.seq,
                cp.seq
            ));
            return Ok(result);
        }
        let entry = scope
            .select::<access_events::Entity>()
            .filter(access_events::Column::Seq.eq(cp.seq))
            .one(db)
            .await?;
        if entry.is_none_or(|e| e.hash != cp.hash) {
            result.first_bad_seq = Some(cp.seq);
            result.problem = Some(format!("entry {} differs from the one signed at a checkpoint: the chain was replaced", cp.seq));
            return Ok(result);
        }
    }
    // The first entry no checkpoint covers must be recent: checkpoints are
    // signed every few minutes, so an old unsigned entry means they were removed.
    let first_unsigned = scope
        .select::<access_events::Entity>()
        .filter(access_events::Column::Seq.eq(covered + 1))
        .one(db)
        .await?;
    if let Some(entry) = first_unsigned
        && entry.occurred_at < expect.now - expect.max_unsigned_age
    {
        result.first_bad_seq = Some(entry.seq);
        result.problem = Some(format!(
            "entry {} is older than any checkpoint should allow: checkpoints are missing (if Tandem was stopped before it could sign them, compare the log with a backup before signing it again)",
            entry.seq
        ));
    }
    Ok(result)
}

/// Stores a verification's result, for supervisors to see.
pub async fn record(db: &impl ConnectionTrait, v: &Verification, now: OffsetDateTime) -> Result<(), DbErr> {
    audit_verifications::ActiveModel {
        id: Set(Uuid::now_v7()),
        practice_id: Set(v.practice_id),
        ran_at: Set(now),
        ok: Set(v.ok()),
        events_checked: Set(v.events_checked),
        first_bad_seq: Set(v.first_bad_seq),
        problem: Set(v.problem.clone()),
    }
    .insert(db)
    .await?;
    Ok(())
}
