//! Clinical free text encrypted at rest: note sections and partner blocks,
//! addenda, private notes, plans and safety plans, lapse details, boundary
//! statements and events, contracts and check-ins.
//!
//! Each practice has its own 256-bit data key (table `practice_keys`),
//! stored wrapped (XChaCha20-Poly1305) by a master key read from the
//! keyring file `TANDEM_MASTER_KEY_FILE`, which never enters the database.
//! Text is sealed with the practice's data key under associated data naming
//! the practice, table, column and row, so a ciphertext copied to another
//! row, column or practice does not open: reading it fails with
//! [`AppError::Undecryptable`], never with garbage.
//!
//! Text is sealed with AES-256-GCM (`enc2.`, ring's constant-time
//! implementation, under a key derived from the data key with HKDF-SHA256):
//! opening a value costs a tenth of a microsecond plus its length, where
//! XChaCha20-Poly1305 (`enc1.`, the first format) cost 1.6 µs before the
//! first byte. Values of the first format still open, and
//! [`seal_existing`] re-seals them in place at start-up. Nonces are random
//! (96 bits); a practice would have to store billions of values under one
//! data key before that mattered.
//!
//! The keyring file holds one key per line (`<id> <base64>`, or a bare
//! base64 key), the current one first; any of them unwraps. `tandem keys rotate` puts a new key first,
//! re-wraps every data key under it (the data keys themselves, and so the
//! text, do not change: no downtime, nothing re-encrypted) and then drops
//! keys no data key needs any more. A running process that meets a data key
//! wrapped by a key it has not loaded reads the keyring file again.

use entity::ids::PracticeId;
use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
};

use anyhow::{Context, bail};
use base64::{Engine, engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD}};
use chacha20poly1305::{
    Key, KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, Payload},
};
use rand::RngCore;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::OnConflict,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use entity::practice_keys;

use crate::{error::AppError, tenant::Db};

/// Marks a sealed value; anything else in an encrypted column is refused.
const PREFIX: &str = "enc2.";
/// Values sealed by the first format (XChaCha20-Poly1305): still opened,
/// re-sealed by [`seal_existing`].
const LEGACY_PREFIX: &str = "enc1.";
const NONCE: usize = 24;
const GCM_NONCE: usize = 12;


/// One master key and its id (a digest of the key, so ids never collide).
#[derive(Clone)]
struct MasterKey {
    id: String,
    aead: XChaCha20Poly1305,
}

impl MasterKey {
    fn from_bytes(bytes: [u8; 32]) -> Self {
        let id = format!("{:x}", Sha256::digest(bytes))[..16].to_owned();
        Self { id, aead: XChaCha20Poly1305::new(Key::from_slice(&bytes)) }
    }

    fn generate() -> ([u8; 32], Self) {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        (bytes, Self::from_bytes(bytes))
    }
}

/// The master keys of the keyring file, the current one first.
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<MasterKey>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keyring({:?})", self.ids())
    }
}

impl Keyring {
    /// A keyring of one fresh key, held only in memory (tests).
    pub fn generate() -> Self {
        Self { keys: vec![MasterKey::generate().1] }
    }

    /// Reads the keyring file; creates it with one fresh key (readable by
    /// its owner only) if there is none, and says so in the log.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        if path.exists() {
            return Self::load(path);
        }
        let (bytes, key) = MasterKey::generate();
        write_keyring(path, &[(key.id.clone(), bytes)])?;
        tracing::warn!(
            path = %path.display(),
            "created a new master key for clinical text: back it up apart from the database; without it no note can be read"
        );
        Ok(Self { keys: vec![key] })
    }

    pub fn load(path: &Path) -> anyhow::Result<Self> {
        Ok(Self { keys: read_keyring(path)?.into_iter().map(|(_, bytes)| MasterKey::from_bytes(bytes)).collect() })
    }

    /// The ids of the keys, the current one first.
    pub fn ids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.id.clone()).collect()
    }

    fn current(&self) -> &MasterKey {
        &self.keys[0]
    }

    fn find(&self, id: &str) -> Option<&MasterKey> {
        self.keys.iter().find(|k| k.id == id)
    }
}

fn wrap_aad(practice_id: PracticeId) -> String {
    format!("tandem-data-key-v1|{practice_id}")
}

fn wrap(master: &MasterKey, practice_id: PracticeId, data_key: &[u8; 32]) -> String {
    seal_with(&master.aead, data_key, &wrap_aad(practice_id))
}

fn unwrap(master: &MasterKey, practice_id: PracticeId, wrapped: &str) -> Option<[u8; 32]> {
    open_with(&master.aead, wrapped, &wrap_aad(practice_id))?.try_into().ok()
}

fn seal_with(aead: &XChaCha20Poly1305, plaintext: &[u8], aad: &str) -> String {
    let mut nonce = [0u8; NONCE];
    rand::rng().fill_bytes(&mut nonce);
    let sealed = aead
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad: aad.as_bytes() })
        .expect("XChaCha20-Poly1305 encrypts any length we store");
    let mut bytes = nonce.to_vec();
    bytes.extend_from_slice(&sealed);
    format!("{LEGACY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

fn open_with(aead: &XChaCha20Poly1305, sealed: &str, aad: &str) -> Option<Vec<u8>> {
    let bytes = URL_SAFE_NO_PAD.decode(sealed.strip_prefix(LEGACY_PREFIX)?).ok()?;
    if bytes.len() < NONCE {
        return None;
    }
    let (nonce, ciphertext) = bytes.split_at(NONCE);
    aead.decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: aad.as_bytes() }).ok()
}

/// Whether a stored value is sealed (as opposed to plaintext written before
/// encryption, or by someone other than Tandem).
pub fn is_sealed(value: &str) -> bool {
    value.starts_with(PREFIX) || value.starts_with(LEGACY_PREFIX)
}

/// A practice's data key: seals and opens that practice's clinical text.
#[derive(Clone)]
pub struct PracticeCipher {
    practice_id: PracticeId,
    /// AES-256-GCM under a key derived from the data key (`enc2.`).
    gcm: Arc<ring::aead::LessSafeKey>,
    /// XChaCha20-Poly1305 under the data key itself (`enc1.`, opening only).
    legacy: XChaCha20Poly1305,
}

impl std::fmt::Debug for PracticeCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PracticeCipher({})", self.practice_id)
    }
}

/// Where a sealed value lives: what its associated data binds it to.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub table: &'static str,
    pub column: &'static str,
}

impl Field {
    pub const fn new(table: &'static str, column: &'static str) -> Self {
        Self { table, column }
    }
}

/// The AES-256-GCM key of a data key: HKDF-SHA256 with a label of its own,
/// so no key serves two algorithms.
fn gcm_key(data_key: &[u8; 32]) -> ring::aead::LessSafeKey {
    struct Len;
    impl ring::hkdf::KeyType for Len {
        fn len(&self) -> usize {
            32
        }
    }
    let mut key = [0u8; 32];
    ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"tandem")
        .extract(data_key)
        .expand(&[b"tandem-text-v2 aes-256-gcm"], Len)
        .and_then(|okm| okm.fill(&mut key))
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    ring::aead::LessSafeKey::new(ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &key).expect("a 32-byte AES-256 key"))
}

impl PracticeCipher {
    fn new(practice_id: PracticeId, data_key: &[u8; 32]) -> Self {
        Self { practice_id, gcm: Arc::new(gcm_key(data_key)), legacy: XChaCha20Poly1305::new(Key::from_slice(data_key)) }
    }

    fn aad(&self, version: &str, field: Field, row: Uuid) -> String {
        format!("tandem-text-{version}|{}|{}|{}|{row}", self.practice_id, field.table, field.column)
    }

    /// `plaintext` sealed for `field` of row `row`.
    pub fn seal(&self, field: Field, row: Uuid, plaintext: &str) -> String {
        let mut nonce = [0u8; GCM_NONCE];
        rand::rng().fill_bytes(&mut nonce);
        let mut bytes = Vec::with_capacity(GCM_NONCE + plaintext.len() + ring::aead::AES_256_GCM.tag_len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(plaintext.as_bytes());
        let (head, body) = bytes.split_at_mut(GCM_NONCE);
        let tag = self
            .gcm
            .seal_in_place_separate_tag(
                ring::aead::Nonce::assume_unique_for_key(head.try_into().expect("12 bytes")),
                ring::aead::Aad::from(self.aad("v2", field, row).as_bytes()),
                body,
            )
            .expect("AES-256-GCM seals any length we store");
        bytes.extend_from_slice(tag.as_ref());
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The plaintext of `stored`, either format, if it was sealed for
    /// exactly this practice, field and row.
    fn open_bytes(&self, field: Field, row: Uuid, stored: &str) -> Option<String> {
        if let Some(encoded) = stored.strip_prefix(PREFIX) {
            let mut bytes = URL_SAFE_NO_PAD.decode(encoded).ok()?;
            if bytes.len() < GCM_NONCE {
                return None;
            }
            let nonce: [u8; GCM_NONCE] = bytes[..GCM_NONCE].try_into().ok()?;
            let aad = self.aad("v2", field, row);
            let len = self
                .gcm
                .open_in_place(ring::aead::Nonce::assume_unique_for_key(nonce), ring::aead::Aad::from(aad.as_bytes()), &mut bytes[GCM_NONCE..])
                .ok()?
                .len();
            bytes.truncate(GCM_NONCE + len);
            bytes.drain(..GCM_NONCE);
            return String::from_utf8(bytes).ok();
        }
        open_with(&self.legacy, stored, &self.aad("v1", field, row)).and_then(|bytes| String::from_utf8(bytes).ok())
    }

    /// What [`seal_existing`] stores instead of `stored`: plaintext and the
    /// first format sealed anew; `None` if it is current already, or a
    /// first-format value that does not open here (left as it is, so
    /// reading it still fails loudly).
    fn reseal(&self, field: Field, row: Uuid, stored: &str) -> Option<String> {
        if stored.starts_with(PREFIX) {
            return None;
        }
        if stored.starts_with(LEGACY_PREFIX) {
            let plain = self.open_bytes(field, row, stored);
            if plain.is_none() {
                tracing::error!(table = field.table, column = field.column, row = %row, "clinical text of the first format does not decrypt: left as it is");
            }
            return plain.map(|p| self.seal(field, row, &p));
        }
        Some(self.seal(field, row, stored))
    }

    pub fn seal_opt(&self, field: Field, row: Uuid, plaintext: Option<&str>) -> Option<String> {
        plaintext.map(|p| self.seal(field, row, p))
    }

    /// The text sealed in `stored`, if it was sealed for exactly this
    /// practice, field and row.
    pub fn open(&self, field: Field, row: Uuid, stored: &str) -> Result<String, AppError> {
        let started = std::time::Instant::now();
        let opened = self.open_bytes(field, row, stored);
        crate::metrics::sealed_value_opened(started.elapsed());
        opened.ok_or_else(|| {
                tracing::error!(table = field.table, column = field.column, row = %row, "clinical text does not decrypt: moved, altered or written outside Tandem");
                AppError::Undecryptable
            })
    }

    pub fn open_opt(&self, field: Field, row: Uuid, stored: Option<&str>) -> Result<Option<String>, AppError> {
        stored.map(|s| self.open(field, row, s)).transpose()
    }
}

/// The master keyring and every practice's data key this process has
/// opened. Cheap to share.
pub struct Vault {
    path: Option<PathBuf>,
    keyring: RwLock<Arc<Keyring>>,
    ciphers: RwLock<HashMap<PracticeId, PracticeCipher>>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault")
    }
}

impl Vault {
    /// A vault over the keyring file at `path` (read again when a data key
    /// names a master key this process does not hold).
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let keyring = Keyring::load_or_create(path)?;
        Ok(Self { path: Some(path.to_path_buf()), keyring: RwLock::new(Arc::new(keyring)), ciphers: RwLock::default() })
    }

    /// A vault over a keyring held only in memory (tests, benchmarks).
    pub fn in_memory(keyring: Keyring) -> Self {
        Self { path: None, keyring: RwLock::new(Arc::new(keyring)), ciphers: RwLock::default() }
    }

    /// The same keyring for another process: its own cache of data keys.
    pub fn another(&self) -> Vault {
        Vault { path: self.path.clone(), keyring: RwLock::new(self.keyring()), ciphers: RwLock::default() }
    }

    fn keyring(&self) -> Arc<Keyring> {
        self.keyring.read().expect("keyring lock").clone()
    }

    fn reload(&self) -> Arc<Keyring> {
        if let Some(path) = &self.path {
            match Keyring::load(path) {
                Ok(fresh) => *self.keyring.write().expect("keyring lock") = Arc::new(fresh),
                Err(e) => tracing::error!(error = %e, "could not read the master keyring again"),
            }
        }
        self.keyring()
    }

    /// The data key of `practice_id`, created (and wrapped under the current
    /// master key) the first time the practice needs one.
    pub async fn practice(&self, db: &impl ConnectionTrait, practice_id: impl Into<PracticeId>) -> Result<PracticeCipher, AppError> {
        let practice_id = practice_id.into();
        if let Some(cipher) = self.ciphers.read().expect("cipher cache").get(&practice_id) {
            return Ok(cipher.clone());
        }
        let row = match practice_keys::Entity::find_by_id(practice_id).one(db).await? {
            Some(row) => row,
            None => {
                // A practice's first key: wrapped under the newest master key.
                let keyring = self.reload();
                let mut data_key = [0u8; 32];
                rand::rng().fill_bytes(&mut data_key);
                let master = keyring.current();
                practice_keys::Entity::insert(practice_keys::ActiveModel {
                    practice_id: Set(practice_id),
                    wrapped: Set(wrap(master, practice_id, &data_key)),
                    master_key_id: Set(master.id.clone()),
                })
                .on_conflict(OnConflict::column(practice_keys::Column::PracticeId).do_nothing().to_owned())
                .exec_without_returning(db)
                .await?;
                practice_keys::Entity::find_by_id(practice_id).one(db).await?.ok_or(AppError::Undecryptable)?
            }
        };
        let data_key = self.unwrap_row(&row)?;
        let cipher = PracticeCipher::new(practice_id, &data_key);
        self.ciphers.write().expect("cipher cache").insert(practice_id, cipher.clone());
        Ok(cipher)
    }

    fn unwrap_row(&self, row: &practice_keys::Model) -> Result<[u8; 32], AppError> {
        let mut keyring = self.keyring();
        if keyring.find(&row.master_key_id).is_none() {
            keyring = self.reload();
        }
        let master = keyring.find(&row.master_key_id).ok_or_else(|| {
            tracing::error!(practice_id = %row.practice_id, master_key_id = %row.master_key_id, "the practice's data key is wrapped by a master key the keyring does not hold");
            AppError::Undecryptable
        })?;
        unwrap(master, row.practice_id, &row.wrapped).ok_or_else(|| {
            tracing::error!(practice_id = %row.practice_id, "the practice's data key does not unwrap: moved or altered");
            AppError::Undecryptable
        })
    }
}

/// Every encrypted column, by table: the one list the records modules,
/// [`seal_existing`] and the tests share.
pub mod fields {
    use super::Field;

    pub const NOTE_CONTENT: Field = Field::new("session_notes", "content");
    pub const ADDENDUM_REASON: Field = Field::new("note_addenda", "reason");
    pub const ADDENDUM_BODY: Field = Field::new("note_addenda", "body");
    pub const PRIVATE_NOTE_BODY: Field = Field::new("private_notes", "body");
    pub const PLAN_CONTENT: Field = Field::new("relapse_plans", "content");
    pub const SAFETY_PLAN_CONTENT: Field = Field::new("safety_plans", "content");
    pub const LAPSE_SUBSTANCE: Field = Field::new("lapses", "substance");
    pub const LAPSE_AMOUNT: Field = Field::new("lapses", "amount");
    pub const LAPSE_SETTING: Field = Field::new("lapses", "setting");
    pub const LAPSE_LEARNED: Field = Field::new("lapses", "learned");
    pub const BOUNDARY_STATEMENT: Field = Field::new("boundary_versions", "statement");
    pub const BOUNDARY_CONSEQUENCE: Field = Field::new("boundary_versions", "consequence");
    pub const BOUNDARY_EVENT_NOTE: Field = Field::new("boundary_events", "note");
    pub const CONTRACT_CONTENT: Field = Field::new("recovery_contracts", "content");
    pub const CHECKIN_CONTENT: Field = Field::new("contract_checkins", "content");
    pub const CHECKIN_REVISION_CONTENT: Field = Field::new("contract_checkin_revisions", "content");
    pub const CONSENT_RECIPIENT: Field = Field::new("consents", "recipient_name");
    pub const CONSENT_PURPOSE: Field = Field::new("consents", "purpose");
    pub const CONSENT_EXPIRY_EVENT: Field = Field::new("consents", "expiry_event");
    pub const CONSENT_SIGNATURE: Field = Field::new("consents", "signature_name");
    /// The scanned paper consent, base64 inside the seal.
    pub const CONSENT_SCAN_CONTENT: Field = Field::new("consent_scans", "content");
    pub const DISCLOSURE_WHAT: Field = Field::new("disclosures", "what");
    pub const DISCLOSURE_RECIPIENT: Field = Field::new("disclosures", "recipient");
    pub const DISCLOSURE_PURPOSE: Field = Field::new("disclosures", "purpose");
    pub const CRAFT_ITEM_CONTENT: Field = Field::new("craft_items", "content");
    pub const LAPSE_STEP_ACTION: Field = Field::new("lapse_steps", "action");
    pub const SESSION_AGENDA_BODY: Field = Field::new("session_agendas", "body");

    pub const ALL: &[Field] = &[
        NOTE_CONTENT,
        ADDENDUM_REASON,
        ADDENDUM_BODY,
        PRIVATE_NOTE_BODY,
        PLAN_CONTENT,
        SAFETY_PLAN_CONTENT,
        LAPSE_SUBSTANCE,
        LAPSE_AMOUNT,
        LAPSE_SETTING,
        LAPSE_LEARNED,
        BOUNDARY_STATEMENT,
        BOUNDARY_CONSEQUENCE,
        BOUNDARY_EVENT_NOTE,
        CONTRACT_CONTENT,
        CHECKIN_CONTENT,
        CHECKIN_REVISION_CONTENT,
        CONSENT_RECIPIENT,
        CONSENT_PURPOSE,
        CONSENT_EXPIRY_EVENT,
        CONSENT_SIGNATURE,
        CONSENT_SCAN_CONTENT,
        DISCLOSURE_WHAT,
        DISCLOSURE_RECIPIENT,
        DISCLOSURE_PURPOSE,
        CRAFT_ITEM_CONTENT,
        LAPSE_STEP_ACTION,
        SESSION_AGENDA_BODY,
    ];
}

/// Seals clinical text stored before encryption existed (or by an older
/// Tandem during a rolling upgrade), and re-seals values of the first format
/// (`enc1.`) in the current one, in place, a batch at a time. Runs at every
/// start. A value is replaced only if it is still what was read, so a
/// concurrent edit is never overwritten. Returns how many values it sealed.
pub async fn seal_existing(db: &Db, vault: &Vault) -> Result<usize, AppError> {
    let mut sealed = 0;
    // Practice by practice, each in a unit of work that acts in it.
    for practice_id in crate::practice::practices::all_ids(db).await? {
        // Every practice gets its key now, so that no request has to make
        // one (on SQLite, beside a request's open write, it could not).
        sealed += crate::tenant::within(practice_id, async {
            let cipher = vault.practice(db, practice_id).await?;
            seal_practice(db, &cipher, practice_id).await
        })
        .await?;
    }
    if sealed > 0 {
        tracing::info!(values = sealed, "sealed clinical text stored in plaintext or in the first format");
    }
    Ok(sealed)
}

async fn seal_practice(db: &Db, cipher: &PracticeCipher, practice_id: PracticeId) -> Result<usize, AppError> {
    use sea_orm::sea_query::{Alias, Cond, Expr, ExprTrait, Order, Query};
    let backend = db.get_database_backend();
    let mut sealed = 0;
    for field in fields::ALL {
        let (table, column, id) = (Alias::new(field.table), Alias::new(field.column), Alias::new("id"));
        // By id, so a value left as it is (it does not open) is read once.
        let mut after: Option<Uuid> = None;
        loop {
            let mut cond = Cond::all()
                .add(Expr::col(Alias::new("practice_id")).eq(practice_id))
                .add(Expr::col(column.clone()).is_not_null())
                .add(Expr::col(column.clone()).not_like(format!("{PREFIX}%")));
            if let Some(after) = after {
                cond = cond.add(Expr::col(id.clone()).gt(after));
            }
            let select = Query::select()
                .column(id.clone())
                .column(column.clone())
                .from(table.clone())
                .cond_where(cond)
                .order_by(id.clone(), Order::Asc)
                .limit(500)
                .to_owned();
            let rows = db.query_all_raw(backend.build(&select)).await?;
            let Some(last) = rows.last() else { break };
            after = Some(last.try_get_by_index(0)?);
            for row in rows {
                let id_value: Uuid = row.try_get_by_index(0)?;
                let stored: String = row.try_get_by_index(1)?;
                let Some(value) = cipher.reseal(*field, id_value, &stored) else { continue };
                let update = Query::update()
                    .table(table.clone())
                    .value(column.clone(), value)
                    .and_where(Expr::col(id.clone()).eq(id_value))
                    .and_where(Expr::col(column.clone()).eq(stored))
                    .to_owned();
                db.execute_raw(backend.build(&update)).await?;
                sealed += 1;
            }
        }
    }
    Ok(sealed)
}

/// What `tandem keys rotate` did.
#[derive(Debug)]
pub struct Rotation {
    pub new_key_id: String,
    pub rewrapped: usize,
    pub dropped_key_ids: Vec<String>,
}

/// Puts a new master key first in the keyring file at `path`, re-wraps every
/// practice's data key under it, then drops the keys no data key needs.
/// Running processes keep serving throughout: data keys they hold do not
/// change, and one they have yet to open names a key the file holds.
pub async fn rotate(db: &Db, path: &Path) -> anyhow::Result<Rotation> {
    let mut entries = read_keyring(path)?;
    let old = Keyring::load(path)?;
    let (bytes, new) = MasterKey::generate();
    entries.insert(0, (new.id.clone(), bytes));
    write_keyring(path, &entries)?;

    let mut rewrapped = 0;
    // Until no data key is left under an older master key (a process may
    // create a practice's key under the old one while this runs).
    loop {
        let mut stale = Vec::new();
        for practice_id in crate::practice::practices::all_ids(db).await? {
            let key = crate::tenant::within(practice_id, async {
                practice_keys::Entity::find()
                    .filter(practice_keys::Column::PracticeId.eq(practice_id))
                    .filter(practice_keys::Column::MasterKeyId.ne(new.id.clone()))
                    .one(db)
                    .await
            });
            stale.extend(key.await?);
        }
        if stale.is_empty() {
            break;
        }
        for row in stale {
            let master = old.find(&row.master_key_id).with_context(|| {
                format!("practice {}: its data key is wrapped by master key {}, which the keyring does not hold", row.practice_id, row.master_key_id)
            })?;
            let data_key = unwrap(master, row.practice_id, &row.wrapped)
                .with_context(|| format!("practice {}: its data key does not unwrap", row.practice_id))?;
            let rewrap = practice_keys::Entity::update_many()
                .col_expr(practice_keys::Column::Wrapped, sea_orm::sea_query::Expr::value(wrap(&new, row.practice_id, &data_key)))
                .col_expr(practice_keys::Column::MasterKeyId, sea_orm::sea_query::Expr::value(new.id.clone()))
                .filter(practice_keys::Column::PracticeId.eq(row.practice_id))
                .filter(practice_keys::Column::MasterKeyId.eq(row.master_key_id.clone()))
                .exec(db);
            crate::tenant::within(row.practice_id, rewrap).await?;
            rewrapped += 1;
        }
    }
    let dropped_key_ids = entries.iter().skip(1).map(|(id, _)| id.clone()).collect();
    entries.truncate(1);
    write_keyring(path, &entries)?;
    Ok(Rotation { new_key_id: new.id, rewrapped, dropped_key_ids })
}

fn read_keyring(path: &Path) -> anyhow::Result<Vec<(String, [u8; 32])>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading the master key file {}", path.display()))?;
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        // `<id> <base64>` as Tandem writes it, or a bare base64 key (as an
        // operator makes one: `head -c 32 /dev/urandom | base64`).
        let (id, encoded) = match line.trim().split_once(' ') {
            Some((id, encoded)) => (Some(id), encoded),
            None => (None, line.trim()),
        };
        let bytes: [u8; 32] = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .with_context(|| format!("{} line {}: not a base64 key of 32 bytes", path.display(), n + 1))?;
        let derived = MasterKey::from_bytes(bytes).id;
        if id.is_some_and(|id| id != derived) {
            bail!("{} line {}: the id does not match the key", path.display(), n + 1);
        }
        keys.push((derived, bytes));
    }
    if keys.is_empty() {
        bail!("the master key file {} holds no key", path.display());
    }
    Ok(keys)
}

/// Replaces the keyring file in one rename, readable by its owner only.
fn write_keyring(path: &Path, keys: &[(String, [u8; 32])]) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let text: String = keys.iter().map(|(id, bytes)| format!("{id} {}\n", STANDARD.encode(bytes))).collect();
    let mut name = path.as_os_str().to_os_string();
    name.push(".new");
    let incoming = PathBuf::from(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&incoming).with_context(|| format!("writing {}", incoming.display()))?;
    std::io::Write::write_all(&mut file, text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&incoming, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> PracticeCipher {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        PracticeCipher::new(PracticeId::new(), &key)
    }

    const NOTE: Field = Field::new("session_notes", "content");

    #[test]
    fn sealed_text_opens_only_in_its_place() {
        let c = cipher();
        let row = Uuid::now_v7();
        let sealed = c.seal(NOTE, row, "Dan said he drank on Friday");
        assert!(is_sealed(&sealed) && !sealed.contains("Friday"));
        assert_ne!(sealed, c.seal(NOTE, row, "Dan said he drank on Friday"), "a fresh nonce each time");
        assert_eq!(c.open(NOTE, row, &sealed).unwrap(), "Dan said he drank on Friday");
        assert!(matches!(c.open(NOTE, Uuid::now_v7(), &sealed), Err(AppError::Undecryptable)), "another row");
        assert!(c.open(Field::new("private_notes", "body"), row, &sealed).is_err(), "another table");
        let other_practice = PracticeCipher { practice_id: PracticeId::new(), ..c.clone() };
        assert!(other_practice.open(NOTE, row, &sealed).is_err(), "another practice, even under the same key");
        assert!(cipher().open(NOTE, row, &sealed).is_err(), "another key");
        assert!(c.open(NOTE, row, "Dan said he drank on Friday").is_err(), "plaintext is refused");
    }

    /// A value of the first format, as Tandem sealed it before AES-256-GCM.
    fn legacy_seal(c: &PracticeCipher, field: Field, row: Uuid, plaintext: &str) -> String {
        seal_with(&c.legacy, plaintext.as_bytes(), &c.aad("v1", field, row))
    }

    #[test]
    fn the_first_format_still_opens_in_its_place_and_is_resealed() {
        let c = cipher();
        let row = Uuid::now_v7();
        let old = legacy_seal(&c, NOTE, row, "Marisol's note from last spring");
        assert!(old.starts_with(LEGACY_PREFIX) && is_sealed(&old));
        assert_eq!(c.open(NOTE, row, &old).unwrap(), "Marisol's note from last spring");
        assert!(c.open(NOTE, Uuid::now_v7(), &old).is_err(), "another row");
        assert!(cipher().open(NOTE, row, &old).is_err(), "another key");

        let new = c.reseal(NOTE, row, &old).expect("the first format is sealed anew");
        assert!(new.starts_with(PREFIX) && !new.contains("Marisol"));
        assert_eq!(c.open(NOTE, row, &new).unwrap(), "Marisol's note from last spring");
        assert_eq!(c.reseal(NOTE, row, &new), None, "the current format stays");
        let from_plain = c.reseal(NOTE, row, "plaintext from before").unwrap();
        assert_eq!(c.open(NOTE, row, &from_plain).unwrap(), "plaintext from before");
        assert_eq!(cipher().reseal(NOTE, row, &old), None, "a value that does not open is left alone");
    }

    #[test]
    fn a_damaged_value_never_opens_to_garbage() {
        let c = cipher();
        let row = Uuid::now_v7();
        let sealed = c.seal(NOTE, row, "Dan's lapse on Friday");
        let mut bytes = URL_SAFE_NO_PAD.decode(sealed.strip_prefix(PREFIX).unwrap()).unwrap();
        for at in [0, GCM_NONCE, bytes.len() - 1] {
            bytes[at] ^= 1;
            let damaged = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(&bytes));
            assert!(c.open(NOTE, row, &damaged).is_err(), "byte {at} flipped");
            bytes[at] ^= 1;
        }
        assert!(c.open(NOTE, row, &format!("{PREFIX}AAAA")).is_err(), "too short");
        assert!(c.open(NOTE, row, &format!("{PREFIX}!!")).is_err(), "not base64");
        let (before, _) = crate::metrics::sealed_values_opened();
        c.open(NOTE, row, &sealed).unwrap();
        assert!(crate::metrics::sealed_values_opened().0 > before, "opening is counted");
    }

    #[test]
    fn a_keyring_file_round_trips_and_rejects_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/master.keys");
        let made = Keyring::load_or_create(&path).unwrap();
        assert_eq!(Keyring::load_or_create(&path).unwrap().ids(), made.ids());
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replacen(&made.ids()[0], "0123456789abcdef", 1)).unwrap();
        assert!(Keyring::load(&path).is_err(), "an id that does not match its key");
        std::fs::write(&path, "").unwrap();
        assert!(Keyring::load(&path).is_err(), "no key");
        std::fs::write(&path, format!("{}\n", STANDARD.encode([9u8; 32]))).unwrap();
        assert_eq!(Keyring::load(&path).unwrap().ids(), vec![MasterKey::from_bytes([9u8; 32]).id], "a bare key, as an operator makes one");
        std::fs::write(&path, "bm90IDMyIGJ5dGVz\n").unwrap();
        assert!(Keyring::load(&path).is_err(), "not 32 bytes");
    }

    #[test]
    fn a_data_key_unwraps_only_for_its_practice() {
        let master = MasterKey::generate().1;
        let (a, b) = (PracticeId::new(), PracticeId::new());
        let wrapped = wrap(&master, a, &[7u8; 32]);
        assert_eq!(unwrap(&master, a, &wrapped), Some([7u8; 32]));
        assert_eq!(unwrap(&master, b, &wrapped), None);
        assert_eq!(unwrap(&MasterKey::generate().1, a, &wrapped), None);
    }
}
