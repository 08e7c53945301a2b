//! The hash chain. Each practice's events are numbered 1, 2, 3... without
//! gaps; each stores the previous event's hash and its own, a SHA-256 over a
//! canonical, versioned encoding of the event. The encoding holds identifiers
//! and digests only: the client address, user agent and reason enter as
//! their own SHA-256, so the hashed bytes carry no clinical text.
//!
//! Appends take the practice's row in `audit_heads` first (an UPDATE, so it
//! is a lock on PostgreSQL and a write lock on SQLite) and hold it until the
//! surrounding transaction ends: concurrent requests, in one process or in
//! several sharing a database, queue up instead of forking the chain.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    sea_query::{Expr, OnConflict},
};
use std::collections::{BTreeSet, HashMap};

use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use entity::{access_events, audit_heads};

use crate::scope::PracticeScope;

/// The `prev_hash` of the first event of every chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Format 2 adds the digest of `detail`; rows keep the format they were written in.
pub const FORMAT_VERSION: i32 = 2;

/// An event about to be appended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    pub practice_id: Uuid,
    pub occurred_at: OffsetDateTime,
    pub member_id: Option<Uuid>,
    /// How the member stood to the record: care_team, supervisor, partner_a,
    /// partner_b, emergency, or their practice role where no couple is involved.
    pub role: String,
    pub action: String,
    pub record_kind: Option<String>,
    pub record_id: Option<Uuid>,
    pub couple_id: Option<Uuid>,
    /// success, denied or failed.
    pub outcome: String,
    pub status: u16,
    pub client_addr: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub reason: Option<String>,
    pub emergency: bool,
    /// What a change to who can see what changed (see [`super::changes`]).
    pub detail: Option<String>,
}

fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn digest(value: Option<&str>) -> String {
    value.map(|v| hex(&Sha256::digest(v.as_bytes()))).unwrap_or_default()
}

/// The bytes that are hashed: one `name=value` line per field in a fixed
/// order. Values are ids, numbers, enum words and hex digests, none of which
/// can contain a newline. Format 2 adds a last line, the digest of `detail`.
pub fn canonical(seq: i64, prev_hash: &str, e: &EventFields<'_>) -> String {
    let opt = |v: Option<String>| v.unwrap_or_default();
    let mut bytes = format!(
        "tandem-access-event\nformat={}\npractice={}\nseq={}\nprev={}\nat={}\nmember={}\nrole={}\naction={}\nkind={}\nrecord={}\ncouple={}\noutcome={}\nstatus={}\naddr={}\nagent={}\nrequest={}\nreason={}\nemergency={}\n",
        e.format_version,
        e.practice_id,
        seq,
        prev_hash,
        e.occurred_at.unix_timestamp_nanos() / 1_000,
        opt(e.member_id.map(|m| m.to_string())),
        e.role,
        e.action,
        e.record_kind.unwrap_or_default(),
        opt(e.record_id.map(|r| r.to_string())),
        opt(e.couple_id.map(|c| c.to_string())),
        e.outcome,
        e.status,
        digest(e.client_addr),
        digest(e.user_agent),
        digest(e.request_id),
        digest(e.reason),
        e.emergency,
    );
    if e.format_version >= 2 {
        bytes.push_str(&format!("detail={}\n", digest(e.detail)));
    }
    bytes
}

/// The fields of an event as hashed, borrowed from a new or a stored event.
pub struct EventFields<'a> {
    pub format_version: i32,
    pub practice_id: Uuid,
    pub occurred_at: OffsetDateTime,
    pub member_id: Option<Uuid>,
    pub role: &'a str,
    pub action: &'a str,
    pub record_kind: Option<&'a str>,
    pub record_id: Option<Uuid>,
    pub couple_id: Option<Uuid>,
    pub outcome: &'a str,
    pub status: i32,
    pub client_addr: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub emergency: bool,
    pub detail: Option<&'a str>,
}

impl<'a> From<&'a NewEvent> for EventFields<'a> {
    fn from(e: &'a NewEvent) -> Self {
        Self {
            format_version: FORMAT_VERSION,
            practice_id: e.practice_id,
            occurred_at: e.occurred_at,
            member_id: e.member_id,
            role: &e.role,
            action: &e.action,
            record_kind: e.record_kind.as_deref(),
            record_id: e.record_id,
            couple_id: e.couple_id,
            outcome: &e.outcome,
            status: i32::from(e.status),
            client_addr: e.client_addr.as_deref(),
            user_agent: e.user_agent.as_deref(),
            request_id: e.request_id.as_deref(),
            reason: e.reason.as_deref(),
            emergency: e.emergency,
            detail: e.detail.as_deref(),
        }
    }
}

impl<'a> From<&'a access_events::Model> for EventFields<'a> {
    fn from(e: &'a access_events::Model) -> Self {
        Self {
            format_version: e.format_version,
            practice_id: e.practice_id,
            occurred_at: e.occurred_at,
            member_id: e.member_id,
            role: &e.role,
            action: &e.action,
            record_kind: e.record_kind.as_deref(),
            record_id: e.record_id,
            couple_id: e.couple_id,
            outcome: &e.outcome,
            status: e.status,
            client_addr: e.client_addr.as_deref(),
            user_agent: e.user_agent.as_deref(),
            request_id: e.request_id.as_deref(),
            reason: e.reason.as_deref(),
            emergency: e.emergency,
            detail: e.detail.as_deref(),
        }
    }
}

pub fn hash(seq: i64, prev_hash: &str, fields: &EventFields<'_>) -> String {
    hex(&Sha256::digest(canonical(seq, prev_hash, fields).as_bytes()))
}

/// Appends events to their practices' chains inside `txn`; they become
/// visible, and the practice's lock is released, when `txn` commits.
pub async fn append(txn: &impl ConnectionTrait, events: &[NewEvent]) -> Result<(), DbErr> {
    let mut practices: Vec<Uuid> = events.iter().map(|e| e.practice_id).collect();
    // A fixed lock order keeps two multi-practice appends from deadlocking.
    practices.sort();
    practices.dedup();
    for practice_id in practices {
        crate::tenant::act_in(txn, practice_id).await?;
        // The lock: an update of the practice's head row, which also reads it.
        let locked = |txn| {
            audit_heads::Entity::update_many()
                .col_expr(audit_heads::Column::Seq, Expr::col(audit_heads::Column::Seq))
                .filter(audit_heads::Column::PracticeId.eq(practice_id))
                .exec_with_returning(txn)
        };
        let mut heads = locked(txn).await?;
        if heads.is_empty() {
            // The practice's first event: create its head, then lock it.
            audit_heads::Entity::insert(audit_heads::ActiveModel {
                practice_id: Set(practice_id),
                seq: Set(0),
                hash: Set(GENESIS.into()),
            })
            .on_conflict(OnConflict::column(audit_heads::Column::PracticeId).do_nothing().to_owned())
            .exec_without_returning(txn)
            .await?;
            heads = locked(txn).await?;
        }
        let head = heads.pop().ok_or_else(|| DbErr::RecordNotFound("audit head".into()))?;
        let (mut seq, mut prev) = (head.seq, head.hash);
        let mut rows = Vec::new();
        for event in events.iter().filter(|e| e.practice_id == practice_id) {
            seq += 1;
            let hash = hash(seq, &prev, &event.into());
            rows.push((wire_size(event), access_events::ActiveModel {
                id: Set(Uuid::now_v7()),
                practice_id: Set(practice_id),
                seq: Set(seq),
                prev_hash: Set(prev.clone()),
                hash: Set(hash.clone()),
                format_version: Set(FORMAT_VERSION),
                occurred_at: Set(event.occurred_at),
                member_id: Set(event.member_id),
                role: Set(event.role.clone()),
                action: Set(event.action.clone()),
                record_kind: Set(event.record_kind.clone()),
                record_id: Set(event.record_id),
                couple_id: Set(event.couple_id),
                outcome: Set(event.outcome.clone()),
                status: Set(i32::from(event.status)),
                client_addr: Set(event.client_addr.clone()),
                user_agent: Set(event.user_agent.clone()),
                request_id: Set(event.request_id.clone()),
                reason: Set(event.reason.clone()),
                emergency: Set(event.emergency),
                detail: Set(event.detail.clone()),
            }));
            prev = hash;
        }
        for chunk in statement_sized(rows) {
            access_events::Entity::insert_many(chunk).exec_without_returning(txn).await?;
        }
        audit_heads::Entity::update_many()
            .col_expr(audit_heads::Column::Seq, Expr::value(seq))
            .col_expr(audit_heads::Column::Hash, Expr::value(prev))
            .filter(audit_heads::Column::PracticeId.eq(practice_id))
            .exec(txn)
            .await?;
    }
    Ok(())
}

/// Most bytes of parameters one INSERT statement sends.
///
/// sqlx 0.9.0 did not set TCP_NODELAY (launchbadge/sqlx#4335): over TCP, a
/// statement whose parameters passed about 16 KiB waited for PostgreSQL's
/// delayed ACK, 40 ms each time, and a group commit of 64 events fell to a
/// fifth of its rate (BENCHMARKS.md). sqlx 0.9.1, which Tandem now uses,
/// sets it again; the bound stays, so that a socket without it costs a
/// round trip per 8 KiB rather than 40 ms per commit.
const STATEMENT_BYTES: usize = 8 * 1024;

/// An estimate of the bytes an event's row sends as parameters.
fn wire_size(event: &NewEvent) -> usize {
    // Identifiers, numbers, times and the two hashes, with each parameter's length word.
    const FIXED: usize = 4 * 16 + 8 + 4 + 8 + 4 + 1 + 2 * 64 + 20 * 6;
    let opt = |value: &Option<String>| value.as_ref().map_or(0, String::len);
    FIXED
        + event.role.len()
        + event.action.len()
        + event.outcome.len()
        + opt(&event.record_kind)
        + opt(&event.client_addr)
        + opt(&event.user_agent)
        + opt(&event.request_id)
        + opt(&event.reason)
        + opt(&event.detail)
}

/// Splits rows (with their [`wire_size`]) into INSERT statements of at most
/// [`STATEMENT_BYTES`] each; a row larger than that goes alone.
fn statement_sized(rows: Vec<(usize, access_events::ActiveModel)>) -> Vec<Vec<access_events::ActiveModel>> {
    let mut chunks: Vec<Vec<access_events::ActiveModel>> = Vec::new();
    let mut size = 0;
    for (bytes, row) in rows {
        match chunks.last_mut() {
            Some(chunk) if size + bytes <= STATEMENT_BYTES => chunk.push(row),
            _ => {
                chunks.push(vec![row]);
                size = 0;
            }
        }
        size += bytes;
    }
    chunks
}

/// What a walk of one chain found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainReport {
    pub events_checked: i64,
    pub last_seq: i64,
    pub last_hash: String,
    /// The first sequence number where the chain is wrong, and why.
    pub problem: Option<(i64, String)>,
    /// The hashes of the entries asked for (those checkpoints name).
    pub hashes: HashMap<i64, String>,
}

/// Walks a practice's chain from the start, in pages.
pub async fn walk(db: &impl ConnectionTrait, practice_id: Uuid) -> Result<ChainReport, DbErr> {
    walk_collecting(db, practice_id, &BTreeSet::new()).await
}

/// Walks a practice's chain from the start, in pages, keeping the hashes of
/// the entries in `wanted`. Run it in one snapshot (see
/// `checkpoints::verify`): the head read at the end must be the head of the
/// entries walked. A row that cannot even be read is tampering at that
/// entry, since Tandem never writes one.
pub async fn walk_collecting(db: &impl ConnectionTrait, practice_id: Uuid, wanted: &BTreeSet<i64>) -> Result<ChainReport, DbErr> {
    use sea_orm::{FromQueryResult, QuerySelect, QueryTrait};
    let mut expected_seq = 1i64;
    let mut prev = GENESIS.to_owned();
    let mut checked = 0i64;
    let mut hashes = HashMap::new();
    let stop = |checked, expected_seq: i64, prev, hashes, problem| {
        Ok(ChainReport { events_checked: checked, last_seq: expected_seq - 1, last_hash: prev, problem: Some(problem), hashes })
    };
    loop {
        let page = PracticeScope::trusted(practice_id)
            .select::<access_events::Entity>()
            .filter(access_events::Column::Seq.gte(expected_seq))
            .order_by_asc(access_events::Column::Seq)
            .limit(5_000)
            .build(db.get_database_backend());
        let page = db.query_all_raw(page).await?;
        if page.is_empty() {
            break;
        }
        for row in &page {
            let seq = row.try_get::<i64>("", "seq").unwrap_or(expected_seq);
            if seq != expected_seq {
                return stop(checked, expected_seq, prev, hashes, (expected_seq, format!("entry {expected_seq} is missing (found {seq} next)")));
            }
            let Ok(event) = access_events::Model::from_query_result(row, "") else {
                return stop(checked, expected_seq, prev, hashes, (seq, format!("entry {seq} cannot be read: it holds a value Tandem never writes, so it was changed after it was written")));
            };
            let problem = if event.prev_hash != prev {
                Some((event.seq, format!("entry {} does not follow entry {}", event.seq, event.seq - 1)))
            } else if hash(event.seq, &event.prev_hash, &(&event).into()) != event.hash {
                Some((event.seq, format!("entry {} was changed after it was written", event.seq)))
            } else {
                None
            };
            if let Some(problem) = problem {
                return stop(checked, expected_seq, prev, hashes, problem);
            }
            if wanted.contains(&event.seq) {
                hashes.insert(event.seq, event.hash.clone());
            }
            checked += 1;
            prev = event.hash;
            expected_seq += 1;
        }
    }
    let last_seq = expected_seq - 1;
    // The head must agree with the chain: a row removed from the end with the
    // head left alone shows here; removing both is caught by checkpoints.
    let head = audit_heads::Entity::find_by_id(practice_id).one(db).await?;
    let problem = match head {
        Some(h) if h.seq != last_seq || h.hash != prev => Some((
            last_seq + 1,
            format!("the chain ends at entry {last_seq} but its head records entry {}", h.seq),
        )),
        None if last_seq > 0 => Some((1, "the chain has no head".into())),
        _ => None,
    };
    Ok(ChainReport { events_checked: checked, last_seq, last_hash: prev, problem, hashes })
}

#[cfg(test)]
mod tests {
    use sea_orm::ActiveValue::Set;

    use super::*;

    fn row(seq: i64) -> access_events::ActiveModel {
        access_events::ActiveModel { seq: Set(seq), ..Default::default() }
    }

    #[test]
    fn statements_stay_under_the_size_limit_and_keep_the_order() {
        let sizes = [5000, 3000, 200, 8000, 9000, 100];
        let rows = sizes.iter().enumerate().map(|(i, &size)| (size, row(i as i64))).collect();
        let chunks = statement_sized(rows);
        let seqs: Vec<Vec<i64>> = chunks.iter().map(|c| c.iter().map(|r| *r.seq.as_ref()).collect()).collect();
        // 5000 + 3000 fit; 200 more would not; a row over the limit goes alone.
        assert_eq!(seqs, vec![vec![0, 1], vec![2], vec![3], vec![4], vec![5]]);
    }

    #[test]
    fn a_busy_batch_of_ordinary_events_takes_a_few_statements() {
        let event = NewEvent {
            practice_id: Uuid::nil(),
            occurred_at: OffsetDateTime::UNIX_EPOCH,
            member_id: Some(Uuid::nil()),
            role: "care_team".into(),
            action: "view".into(),
            record_kind: Some("couple".into()),
            record_id: Some(Uuid::nil()),
            couple_id: Some(Uuid::nil()),
            outcome: "success".into(),
            status: 200,
            client_addr: Some("198.51.100.7".into()),
            user_agent: Some("Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Version/18.0 Mobile Safari/604.1".into()),
            request_id: Some(Uuid::nil().to_string()),
            reason: None,
            emergency: false,
            detail: None,
        };
        let rows = (0..64).map(|i| (wire_size(&event), row(i))).collect();
        let chunks = statement_sized(rows);
        assert!((3..=12).contains(&chunks.len()), "{} statements", chunks.len());
        assert_eq!(chunks.iter().map(Vec::len).sum::<usize>(), 64);
    }
}
