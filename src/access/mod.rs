//! THE choke point for clinical records. A handler obtains a couple, and
//! through it any record of that couple, only from [`couple`]: it loads the
//! couple inside the caller's practice, works out how the caller relates to
//! it (care team, supervisor, partner), refuses everyone else with "not
//! found", and hands back a [`CoupleAccess`] whose methods decide which
//! audiences the caller may read. Every decision, yes or no, is handed to the
//! request's [`AuditContext`], from which the access log records the event;
//! a write also runs in the transaction the event will be appended to.

pub mod consent;

use entity::ids::{CoupleId, MemberId};
use std::{collections::HashMap, sync::Arc};

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Select, UpdateMany, sea_query::Expr,
};
use uuid::Uuid;

use entity::{care_team_members, couples, emergency_accesses, partners, supervisions};

use crate::{
    tenant::{Db, Exec},
    state::AppState,
    audit::{Actor, AuditContext},
    auth::CurrentMember,
    error::AppError,
    practice::Role,
    records::{
        common::{Audience, PartnerSlot, StoredEnum},
        couples::Couple,
        overview::Overviews,
    },
    scope::{CoupleOwned, PracticeScope, SharedRecord, VersionedRow},
    vault::PracticeCipher,
};

/// How the caller stands to a couple.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// A counselor on the couple's care team.
    CareTeam,
    /// A supervisor of a counselor on the care team: reads, co-signs, never edits.
    Supervisor,
    /// One of the partners, through their client account.
    Partner(PartnerSlot),
    /// A counselor outside the care team, during an emergency access they
    /// opened with a reason: reads only, for a bounded time, every event marked.
    Emergency,
}

/// What the caller wants to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Read what their relation and each item's audience allow.
    Read,
    /// Create or change clinical records: the care team only.
    Write,
    /// Co-sign a note: supervisors only.
    Cosign,
    /// Act as a partner on shared items (agree to a boundary), or record it as the care team.
    PartnerOrCareTeam,
}

impl Relation {
    /// How the access log names the relation.
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::CareTeam => "care_team",
            Relation::Supervisor => "supervisor",
            Relation::Partner(PartnerSlot::A) => "partner_a",
            Relation::Partner(PartnerSlot::B) => "partner_b",
            Relation::Emergency => "emergency",
        }
    }
}

/// Proof that the caller may act on this couple, with their relation, and
/// the connection its records are read and written through.
#[derive(Clone, Debug)]
pub struct CoupleAccess {
    pub couple: Couple,
    pub relation: Relation,
    pub member_id: MemberId,
    pub scope: PracticeScope,
    pool: Db,
    /// Present for writes: the request's transaction, which the access
    /// event joins before it commits.
    txn: Option<Arc<DatabaseTransaction>>,
    /// The practice's key for clinical text at rest.
    cipher: PracticeCipher,
    /// The couple overviews kept in memory (`records::overview`).
    overviews: Overviews,
}

impl CoupleAccess {
    /// The same access, seeing what partner `slot` sees: for the care team
    /// preparing a partner's own copy of their plan. Read-only in effect,
    /// since partners write nothing through it.
    pub fn as_partner(&self, slot: PartnerSlot) -> Self {
        Self { relation: Relation::Partner(slot), ..self.clone() }
    }

    /// The same access, with the couple as it is after a change to it.
    pub fn with_couple(self, couple: Couple) -> Self {
        Self { couple, ..self }
    }

    /// Whether this access runs in a write's transaction.
    pub fn writes(&self) -> bool {
        self.txn.is_some()
    }

    /// The couple overviews this process keeps.
    pub fn overviews(&self) -> &Overviews {
        &self.overviews
    }

    /// Seals and opens the practice's clinical text (see `vault`).
    pub fn cipher(&self) -> &PracticeCipher {
        &self.cipher
    }

    /// Where this request's queries on the couple's records run.
    pub fn db(&self) -> Exec<'_> {
        match &self.txn {
            Some(txn) => Exec::Txn(txn),
            None => Exec::Db(&self.pool),
        }
    }

    pub fn couple_id(&self) -> CoupleId {
        self.couple.id
    }

    pub fn is_clinician(&self) -> bool {
        matches!(self.relation, Relation::CareTeam | Relation::Supervisor | Relation::Emergency)
    }

    pub fn partner_slot(&self) -> Option<PartnerSlot> {
        match self.relation {
            Relation::Partner(slot) => Some(slot),
            _ => None,
        }
    }

    /// The partner an action is for: a partner acts for themself (naming
    /// anyone else is refused); the care team must name the partner.
    pub fn acting_for(&self, named: Option<PartnerSlot>) -> Result<PartnerSlot, AppError> {
        match (self.relation, named) {
            (Relation::Partner(me), None) => Ok(me),
            (Relation::Partner(me), Some(other)) if other == me => Ok(me),
            (Relation::Partner(_), Some(_)) => Err(AppError::invalid("partner", "you can act only for yourself")),
            (_, Some(named)) => Ok(named),
            (_, None) => Err(AppError::invalid("partner", "say which partner this is for")),
        }
    }

    /// Whether the caller may read an item shared with `audience`.
    pub fn sees(&self, audience: Audience) -> bool {
        match self.relation {
            Relation::CareTeam | Relation::Supervisor | Relation::Emergency => true,
            Relation::Partner(slot) => audience.includes_partner(slot),
        }
    }

    /// The audiences the caller may read, for filtering in SQL.
    pub fn visible_audiences(&self) -> Vec<String> {
        [Audience::Clinician, Audience::Couple, Audience::PartnerA, Audience::PartnerB]
            .into_iter()
            .filter(|a| self.sees(*a))
            .map(|a| a.as_str())
            .collect()
    }

    /// Rows of `E` that belong to this couple: the way records are read.
    pub fn records<E: CoupleOwned>(&self) -> Select<E> {
        self.scope.select::<E>().filter(E::couple_column().eq(self.couple.id))
    }

    /// An update of rows of `E` that belong to this couple.
    pub fn update_records<E: CoupleOwned>(&self) -> UpdateMany<E> {
        self.scope.update_many::<E>().filter(E::couple_column().eq(self.couple.id))
    }

    /// A delete of rows of `E` that belong to this couple.
    pub fn delete_records<E: CoupleOwned>(&self) -> sea_orm::DeleteMany<E> {
        self.scope.delete_many::<E>().filter(E::couple_column().eq(self.couple.id))
    }

    /// An update of record `id` of this couple that lands only while the
    /// record is still at version `expected`, and moves it to the next
    /// version. Check and write are one statement, so of two edits based on
    /// the same version exactly one lands. Run it with [`exec_at_version`].
    pub fn update_at_version<E: CoupleOwned + VersionedRow>(&self, id: Uuid, expected: i32) -> UpdateMany<E> {
        self.scope
            .update_many::<E>()
            .col_expr(E::version_column(), Expr::value(expected + 1))
            .filter(E::couple_column().eq(self.couple.id))
            .filter(E::id_column().eq(id))
            .filter(E::version_column().eq(expected))
    }

    /// Record `id` of this couple, read through `db`, if the caller may see
    /// its audience; "not found" otherwise, as if it did not exist.
    pub async fn shared_record<E: SharedRecord>(&self, db: &impl ConnectionTrait, id: Uuid) -> Result<E::Model, AppError> {
        use sea_orm::ModelTrait;
        let row = self.records::<E>().filter(E::id_column().eq(id)).one(db).await?.ok_or(AppError::NotFound)?;
        let audience = match row.get(E::audience_column()) {
            sea_orm::Value::String(Some(stored)) => Audience::from_stored(&stored)?,
            other => return Err(anyhow::anyhow!("audience column holds {other:?}").into()),
        };
        self.require_sees(audience)?;
        Ok(row)
    }

    /// "Not found" unless the caller may read an item shared with `audience`.
    pub fn require_sees(&self, audience: Audience) -> Result<(), AppError> {
        if self.sees(audience) { Ok(()) } else { Err(AppError::NotFound) }
    }
}

/// Runs an update built by [`CoupleAccess::update_at_version`]: 412 when the
/// record had moved on, and nothing changed.
pub async fn exec_at_version<E: sea_orm::EntityTrait>(update: UpdateMany<E>, db: &impl ConnectionTrait) -> Result<(), AppError> {
    if update.exec(db).await?.rows_affected == 1 { Ok(()) } else { Err(AppError::PreconditionFailed) }
}

/// The access log's actor for `current`, before any decision: refused, in
/// their practice roles (how the log names someone with no relation).
fn actor(current: &CurrentMember, couple_id: Option<CoupleId>, kind: Option<&'static str>, action: Option<&'static str>) -> Actor {
    Actor {
        practice_id: current.scope.practice_id(),
        member_id: current.id(),
        role: current.roles.to_stored(),
        couple_id,
        denied: true,
        emergency: false,
        detail: None,
        reason: None,
        kind,
        action,
    }
}

/// Authorizes `current` for `need` on couple `couple_id` of their practice.
/// Anyone without a relation, or whose relation does not allow `need`, gets
/// "not found": the answer never reveals whether the couple exists. The
/// decision goes to the request's access log entry either way.
pub async fn couple(
    state: &AppState,
    audit: &AuditContext,
    current: &CurrentMember,
    couple_id: impl Into<CoupleId>,
    need: Need,
) -> Result<CoupleAccess, AppError> {
    let couple_id = couple_id.into();
    // Before the write transaction: a practice's first key is stored on
    // a connection of its own.
    let cipher = state.vault.practice(&state.db, current.scope.practice_id()).await?;
    let txn = match need {
        Need::Read => None,
        _ => Some(audit.write_txn(&state.db).await?),
    };
    let pool = state.db.clone();
    let db = match &txn {
        Some(txn) => Exec::Txn(txn),
        None => Exec::Db(&pool),
    };
    // A read's token may have brought the couple with it (`auth::tokens`).
    let ahead = match need {
        Need::Read => crate::auth::tokens::named_couple(current.scope.practice_id(), current.id(), couple_id),
        _ => None,
    };
    let decided = decide(&db, current, couple_id, need, state.clock.now(), ahead).await;
    let mut actor = actor(current, Some(couple_id), None, None);
    match decided {
        Ok((couple, relation, emergency_reason)) => {
            actor.role = relation.as_str().to_owned();
            actor.denied = false;
            actor.emergency = relation == Relation::Emergency;
            actor.reason = emergency_reason;
            audit.set_actor(actor);
            Ok(CoupleAccess { couple, relation, member_id: current.id(), scope: current.scope, pool, txn, cipher, overviews: state.overviews.clone() })
        }
        Err(AppError::NotFound) => {
            audit.set_actor(actor);
            Err(AppError::NotFound)
        }
        Err(other) => Err(other),
    }
}

/// Records a clinical read that is not about one couple (lists across
/// couples, the access log): the caller acts in their practice role.
pub fn practice_level(audit: &AuditContext, current: &CurrentMember, kind: Option<&'static str>, denied: bool) {
    audit.set_actor(Actor { denied, ..actor(current, None, kind, None) });
}

/// Reading the access log and reviewing emergency access are for
/// supervisors; the attempt is logged either way.
pub fn supervisor_only(audit: &AuditContext, current: &CurrentMember, kind: &'static str, action: Option<&'static str>) -> Result<(), AppError> {
    let allowed = current.roles.contains(Role::Supervisor);
    audit.set_actor(Actor { denied: !allowed, ..actor(current, None, Some(kind), action) });
    if allowed { Ok(()) } else { Err(AppError::Forbidden("This is for supervisors.".into())) }
}

/// A couple with whether the caller is on its care team.
struct CoupleRow {
    couple: couples::Model,
    on_care_team: bool,
}

impl sea_orm::FromQueryResult for CoupleRow {
    fn from_query_result(row: &sea_orm::QueryResult, pre: &str) -> Result<Self, sea_orm::DbErr> {
        Ok(Self { couple: couples::Model::from_query_result(row, pre)?, on_care_team: row.try_get(pre, "on_care_team")? })
    }
}

async fn decide(
    db: &impl ConnectionTrait,
    current: &CurrentMember,
    couple_id: CoupleId,
    need: Need,
    now: time::OffsetDateTime,
    ahead: Option<(Option<couples::Model>, bool)>,
) -> Result<(Couple, Relation, Option<String>), AppError> {
    let scope = current.scope;
    let me = current.id();
    // The couple, and whether a counselor is on its care team, in one
    // statement (or already read, in the same practice, with the token):
    // the care team is by far the most frequent reader.
    let found = match ahead {
        Some((couple, on_care_team)) => couple.map(|couple| CoupleRow { couple, on_care_team }),
        None => {
            let on_team = scope
                .select::<care_team_members::Entity>()
                .filter(care_team_members::Column::CoupleId.eq(couple_id))
                .filter(care_team_members::Column::MemberId.eq(me))
                .select_only()
                .column(care_team_members::Column::Id)
                .into_query();
            scope.by_id::<couples::Entity>(couple_id).expr_as(Expr::exists(on_team), "on_care_team").into_model::<CoupleRow>().one(db).await?
        }
    };
    let CoupleRow { couple, on_care_team } = found.ok_or(AppError::NotFound)?;
    let found = if current.roles.contains(Role::Counselor) && on_care_team {
        Some(Relation::CareTeam)
    } else {
        relation(db, current, couple.id, true).await?
    };
    let (relation, reason) = match found {
        Some(relation) => (relation, None),
        None => match emergency_grant(db, current, couple.id, now).await? {
            Some(grant) => (Relation::Emergency, Some(grant.reason)),
            None => return Err(AppError::NotFound),
        },
    };
    let allowed = match need {
        Need::Read => true,
        Need::Write => relation == Relation::CareTeam,
        Need::Cosign => relation == Relation::Supervisor,
        Need::PartnerOrCareTeam => matches!(relation, Relation::CareTeam | Relation::Partner(_)),
    };
    if !allowed {
        return Err(AppError::NotFound);
    }
    Ok((couple.try_into()?, relation, reason))
}

/// A running emergency access of the caller to the couple, if any.
pub async fn emergency_grant(
    db: &impl ConnectionTrait,
    current: &CurrentMember,
    couple_id: CoupleId,
    now: time::OffsetDateTime,
) -> Result<Option<emergency_accesses::Model>, AppError> {
    if !current.roles.contains(Role::Counselor) {
        return Ok(None);
    }
    Ok(current
        .scope
        .select::<emergency_accesses::Entity>()
        .filter(emergency_accesses::Column::CoupleId.eq(couple_id))
        .filter(emergency_accesses::Column::MemberId.eq(current.id()))
        .filter(emergency_accesses::Column::ExpiresAt.gt(now))
        .one(db)
        .await?)
}

/// Opens an emergency access: a counselor outside the care team gives a
/// reason and may read the couple's records for the configured time. The
/// request's own event carries the reason; supervisors review each one.
pub async fn open_emergency(
    state: &AppState,
    audit: &AuditContext,
    current: &CurrentMember,
    couple_id: CoupleId,
    reason: &str,
) -> Result<emergency_accesses::Model, AppError> {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let mut actor = Actor {
        emergency: true,
        detail: None,
        reason: Some(reason.to_owned()),
        ..actor(current, Some(couple_id), Some("emergency_access"), Some("emergency_access"))
    };
    if !current.roles.contains(Role::Counselor) {
        audit.set_actor(actor);
        return Err(AppError::Forbidden("Emergency access is for counselors.".into()));
    }
    let txn = audit.write_txn(&state.db).await?;
    let couple = current.scope.by_id::<couples::Entity>(couple_id).one(txn.as_ref()).await?;
    let Some(couple) = couple else {
        audit.set_actor(actor);
        return Err(AppError::NotFound);
    };
    if relation(txn.as_ref(), current, couple.id, false).await?.is_some() {
        audit.set_actor(actor);
        return Err(AppError::Conflict("You already have access to this couple; emergency access is not needed.".into()));
    }
    let reason = crate::records::common::required_text(reason, crate::records::common::limits::MEDIUM)
        .ok()
        .filter(|r| r.chars().count() >= 10);
    let Some(reason) = reason else {
        audit.set_actor(actor);
        return Err(AppError::invalid("reason", "say in at least 10 characters why you need access now"));
    };
    let now = state.clock.now();
    let grant = emergency_accesses::ActiveModel {
        id: Set(Uuid::now_v7()),
        practice_id: Set(current.scope.practice_id()),
        couple_id: Set(couple_id),
        member_id: Set(current.id()),
        reason: Set(reason.clone()),
        started_at: Set(now),
        expires_at: Set(now + time::Duration::minutes(state.config.emergency_access_minutes.into())),
        acknowledged_by: Set(None),
        acknowledged_at: Set(None),
    }
    .insert(txn.as_ref())
    .await?;
    actor.denied = false;
    actor.role = Relation::Emergency.as_str().to_owned();
    actor.reason = Some(reason);
    audit.set_actor(actor);
    tracing::warn!(couple_id = %couple_id, member_id = %current.id(), "emergency access opened");
    Ok(grant)
}

/// How `current` stands to couple `couple_id`: care team before supervisor
/// before partner. `care_team_checked`: the caller is known not to be on
/// the care team (it was read with the couple).
async fn relation(
    db: &impl ConnectionTrait,
    current: &CurrentMember,
    couple_id: CoupleId,
    care_team_checked: bool,
) -> Result<Option<Relation>, AppError> {
    let scope = current.scope;
    let me = current.id();
    if !care_team_checked && current.roles.contains(Role::Counselor) && on_care_team(db, scope, couple_id, me).await? {
        return Ok(Some(Relation::CareTeam));
    }
    if current.roles.contains(Role::Supervisor) {
        let supervisees = supervisees(db, scope, me).await?;
        if !supervisees.is_empty() {
            let supervised = scope
                .select::<care_team_members::Entity>()
                .filter(care_team_members::Column::CoupleId.eq(couple_id))
                .filter(care_team_members::Column::MemberId.is_in(supervisees))
                .one(db)
                .await?
                .is_some();
            if supervised {
                return Ok(Some(Relation::Supervisor));
            }
        }
    }
    if current.roles.contains(Role::Client) {
        let partner = scope
            .select::<partners::Entity>()
            .filter(partners::Column::CoupleId.eq(couple_id))
            .filter(partners::Column::MemberId.eq(me))
            .one(db)
            .await?;
        if let Some(partner) = partner {
            return Ok(Some(Relation::Partner(partner.slot)));
        }
    }
    Ok(None)
}

pub async fn on_care_team(
    db: &impl ConnectionTrait,
    scope: PracticeScope,
    couple_id: CoupleId,
    member_id: MemberId,
) -> Result<bool, AppError> {
    Ok(scope
        .select::<care_team_members::Entity>()
        .filter(care_team_members::Column::CoupleId.eq(couple_id))
        .filter(care_team_members::Column::MemberId.eq(member_id))
        .one(db)
        .await?
        .is_some())
}

/// Every couple the caller has a standing relation to (care team,
/// supervisor, partner; emergency access is per couple, never a list), each
/// with that relation, decided as [`couple`] decides it (care team before
/// supervisor before partner). A fixed number of queries, whatever the
/// caseload.
pub async fn relations(db: &impl ConnectionTrait, current: &CurrentMember) -> Result<Vec<(CoupleId, Relation)>, AppError> {
    Ok(standing(db, current).await?.0.into_iter().map(|c| (c.id, c.relation)).collect())
}

/// [`relations`], each couple with the revision and version it is at,
/// newest couple first; and a condition on `couples.id` that holds for
/// exactly those couples: the same queries as subqueries, so that reading
/// the couples themselves does not send (and the database does not compare
/// every row against) hundreds of ids. One statement per role the caller
/// holds (a supervisor's counselors and a partner's slot one more each).
async fn standing(db: &impl ConnectionTrait, current: &CurrentMember) -> Result<(Vec<CoupleRevision>, Condition), AppError> {
    let scope = current.scope;
    let me = current.id();
    let mut found: Vec<CoupleRevision> = Vec::new();
    let mut couples = Condition::any();
    let care_teams_of = |members: Vec<MemberId>| {
        scope
            .select::<care_team_members::Entity>()
            .filter(care_team_members::Column::MemberId.is_in(members))
            .select_only()
            .column(care_team_members::Column::CoupleId)
            .into_query()
    };
    // The couples a subquery names, each with its revision and version.
    let revisions = |ids: sea_orm::sea_query::SelectStatement| {
        scope
            .select::<couples::Entity>()
            .filter(couples::Column::Id.in_subquery(ids))
            .select_only()
            .columns([couples::Column::Id, couples::Column::Revision, couples::Column::Version])
            .into_tuple::<(CoupleId, i64, i32)>()
    };
    let as_relation = |relation: Relation| move |(id, revision, version): (CoupleId, i64, i32)| CoupleRevision { id, relation, revision, version };
    if current.roles.contains(Role::Counselor) {
        let mine = care_teams_of(vec![me]);
        couples = couples.add(couples::Column::Id.in_subquery(mine.clone()));
        found.extend(revisions(mine).all(db).await?.into_iter().map(as_relation(Relation::CareTeam)));
    }
    if current.roles.contains(Role::Supervisor) {
        let supervisees = supervisees(db, scope, me).await?;
        if !supervisees.is_empty() {
            let supervised = care_teams_of(supervisees);
            couples = couples.add(couples::Column::Id.in_subquery(supervised.clone()));
            found.extend(revisions(supervised).all(db).await?.into_iter().map(as_relation(Relation::Supervisor)));
        }
    }
    if current.roles.contains(Role::Client) {
        let mine = scope.select::<partners::Entity>().filter(partners::Column::MemberId.eq(me)).select_only().column(partners::Column::CoupleId);
        couples = couples.add(couples::Column::Id.in_subquery(mine.clone().into_query()));
        let slots: HashMap<CoupleId, PartnerSlot> = mine.clone().column(partners::Column::Slot).into_tuple().all(db).await?.into_iter().collect();
        if !slots.is_empty() {
            for row in revisions(mine.into_query()).all(db).await? {
                if let Some(slot) = slots.get(&row.0) {
                    found.push(as_relation(Relation::Partner(*slot))(row));
                }
            }
        }
    }
    // The first relation found for a couple is the one that counts.
    let mut seen = std::collections::HashSet::new();
    found.retain(|c| seen.insert(c.id));
    found.sort_by_key(|c| std::cmp::Reverse(c.id));
    Ok((found, couples))
}

/// The ids of couples the caller has any relation to, for lists.
pub async fn visible_couple_ids(db: &impl ConnectionTrait, current: &CurrentMember) -> Result<Vec<CoupleId>, AppError> {
    let mut ids: Vec<CoupleId> = relations(db, current).await?.into_iter().map(|(id, _)| id).collect();
    ids.sort();
    Ok(ids)
}

/// Read access to every couple the caller has a standing relation to: the
/// batch form of [`couple`] with [`Need::Read`], for pages that show many
/// couples at once (the dashboard). What it reads first is small: each
/// couple's id, the caller's relation to it, and the revision and version
/// it is at, which say whether a kept read of the caseload still holds
/// (`records::overview::caseload`); [`CaseloadRevisions::load`] reads the
/// couples themselves. Records read through the loaded [`Caseload`] are
/// filtered by each couple's relation exactly as they are through one
/// [`CoupleAccess`]. Nothing is recorded here: the page records one
/// practice-level event.
pub async fn caseload(state: &AppState, current: &CurrentMember) -> Result<CaseloadRevisions, AppError> {
    let (couples, standing) = standing(&state.db, current).await?;
    Ok(CaseloadRevisions {
        couples,
        standing,
        member_id: current.id(),
        scope: current.scope,
        pool: state.db.clone(),
        vault: state.vault.clone(),
        overviews: state.overviews.clone(),
    })
}

/// A couple of the caseload as far as telling a change goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoupleRevision {
    pub id: CoupleId,
    pub relation: Relation,
    /// `couples.revision`: moved by every change to the couple's records.
    pub revision: i64,
    pub version: i32,
}

/// The caseload before its couples are read, newest couple first; see [`caseload`].
pub struct CaseloadRevisions {
    pub couples: Vec<CoupleRevision>,
    standing: Condition,
    member_id: MemberId,
    scope: PracticeScope,
    pool: Db,
    vault: Arc<crate::vault::Vault>,
    overviews: Overviews,
}

impl CaseloadRevisions {
    /// The reads this process keeps (`records::overview`).
    pub fn overviews(&self) -> &Overviews {
        &self.overviews
    }

    /// Read access to these couples: the couples read, each with its relation.
    pub async fn load(&self) -> Result<Caseload, AppError> {
        let rows = match self.couples.is_empty() {
            true => Vec::new(),
            false => self.scope.select::<couples::Entity>().filter(self.standing.clone()).order_by_desc(couples::Column::Id).all(&self.pool).await?,
        };
        let relation_of: HashMap<CoupleId, Relation> = self.couples.iter().map(|c| (c.id, c.relation)).collect();
        let cipher = self.vault.practice(&self.pool, self.scope.practice_id()).await?;
        let couples = rows
            .into_iter()
            .filter_map(|row| relation_of.get(&row.id).map(|relation| (row, *relation)))
            .map(|(row, relation)| {
                Ok(CoupleAccess {
                    couple: row.try_into()?,
                    relation,
                    member_id: self.member_id,
                    scope: self.scope,
                    pool: self.pool.clone(),
                    txn: None,
                    cipher: cipher.clone(),
                    overviews: self.overviews.clone(),
                })
            })
            .collect::<Result<Vec<_>, AppError>>()?;
        let index = couples.iter().enumerate().map(|(i, a)| (a.couple.id, i)).collect();
        Ok(Caseload { couples, index, scope: self.scope, pool: self.pool.clone() })
    }
}

/// Read access to many couples at once, newest couple first; see [`caseload`].
pub struct Caseload {
    pub couples: Vec<CoupleAccess>,
    index: HashMap<CoupleId, usize>,
    scope: PracticeScope,
    pool: Db,
}

impl Caseload {
    /// Rows of `E` that belong to the couples `which` picks, in one query.
    pub fn records<E: CoupleOwned>(&self, which: impl Fn(&CoupleAccess) -> bool) -> Select<E> {
        let ids: Vec<CoupleId> = self.couples.iter().filter(|a| which(a)).map(|a| a.couple.id).collect();
        self.scope.select::<E>().filter(E::couple_column().is_in(ids))
    }

    /// The access to couple `id`, which decides what of its records the caller sees.
    pub fn of(&self, id: impl Into<CoupleId>) -> Option<&CoupleAccess> {
        self.index.get(&id.into()).map(|i| &self.couples[*i])
    }

    pub fn db(&self) -> &Db {
        &self.pool
    }
}

/// An emergency access someone opened to a couple of the caller's care team.
#[derive(Clone, Debug)]
pub struct EmergencyOpened {
    pub couple_id: CoupleId,
    pub opened_by: String,
    pub reason: String,
    pub started_at: time::OffsetDateTime,
    pub reviewed: bool,
}

/// Emergency accesses opened since `since` to the couples whose care team
/// the caller is on, newest first: the care team learns who read their
/// couple's records outside it, and why. Two queries.
pub async fn emergencies_on_care_team(caseload: &Caseload, since: time::OffsetDateTime) -> Result<Vec<EmergencyOpened>, AppError> {
    let couples: Vec<CoupleId> = caseload.couples.iter().filter(|a| a.relation == Relation::CareTeam).map(|a| a.couple.id).collect();
    let rows = caseload
        .scope
        .select::<emergency_accesses::Entity>()
        .filter(emergency_accesses::Column::CoupleId.is_in(couples))
        .filter(emergency_accesses::Column::StartedAt.gte(since))
        .order_by_desc(emergency_accesses::Column::StartedAt)
        .all(caseload.db())
        .await?;
    let names = crate::audit::review::names(caseload.db(), caseload.scope, rows.iter().map(|r| r.member_id.uuid()).collect()).await?;
    Ok(rows
        .into_iter()
        .map(|r| EmergencyOpened {
            couple_id: r.couple_id,
            opened_by: names.get(&r.member_id.uuid()).cloned().unwrap_or_default(),
            reason: r.reason,
            started_at: r.started_at,
            reviewed: r.acknowledged_at.is_some(),
        })
        .collect())
}

/// The counselors a supervisor supervises.
async fn supervisees(db: &impl ConnectionTrait, scope: PracticeScope, supervisor: MemberId) -> Result<Vec<MemberId>, AppError> {
    Ok(scope
        .select::<supervisions::Entity>()
        .filter(supervisions::Column::SupervisorId.eq(supervisor))
        .select_only()
        .column(supervisions::Column::CounselorId)
        .into_tuple()
        .all(db)
        .await?)
}

pub use consent::{ConsentInForce, Recipient, consent_for_export, consent_in_force};
