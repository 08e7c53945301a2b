//! Couples, their two partners, and their care teams.

use entity::ids::MemberId;
use time::OffsetDateTime;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::ToSchema;
use uuid::Uuid;

use entity::{care_team_members, couples, members, partners};

use super::common::{
    IfMatch, Page, PageQuery, PartnerSlot, StoredEnum, limits, optional_text, required_text,
    split_page,
};
use crate::input::BoundedDate;
use crate::{
    state::AppState,
    access::{self, CoupleAccess},
    audit::{AuditContext, changes::Change},
    auth::CurrentMember,
    error::{AppError, FieldError},
    practice::{Email, Fields, Role},
};

pub use entity::{ids::CoupleId, values::CoupleStatus};

/// Agreed at intake: the default audience of one partner's individual material.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SecretsPolicy {
    /// What one partner tells the counselor may be shared with the other.
    NoSecrets,
    /// Individual material stays with that partner unless they agree to share it.
    IndividualConfidential,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryRole {
    InRecovery,
    Supporting,
}

impl StoredEnum for CoupleStatus {}
impl StoredEnum for SecretsPolicy {}
impl StoredEnum for RecoveryRole {}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "recovery_role": "in_recovery", "full_name": "Daniel Okafor", "preferred_name": "Dan",
    "pronouns": "he/him", "date_of_birth": "1986-04-12", "phone": "+1 312 555 0142",
    "email": "dan@example.org", "emergency_contact": "Grace Okafor (sister) +1 312 555 0199"
}))]
pub struct PartnerInput {
    pub recovery_role: RecoveryRole,
    /// At most 200 characters.
    #[schema(schema_with = crate::input::schema::short)]
    pub full_name: String,
    #[schema(schema_with = crate::input::schema::short_or_none)]
    pub preferred_name: Option<String>,
    #[schema(schema_with = crate::input::schema::tiny_or_none)]
    pub pronouns: Option<String>,
    pub date_of_birth: Option<BoundedDate>,
    #[schema(schema_with = crate::input::schema::tiny_or_none)]
    pub phone: Option<String>,
    #[schema(schema_with = crate::input::schema::email_or_none)]
    pub email: Option<String>,
    /// Name, relation and phone of the person to call in an emergency (at most 2,000 characters).
    #[schema(schema_with = crate::input::schema::medium_or_none)]
    pub emergency_contact: Option<String>,
    /// A client account of this practice that gives this partner the portal.
    /// When changing a partner: left out keeps the current link, `null` unlinks.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub member_id: Option<Option<MemberId>>,
}

/// A field that was sent, `null` or not: `Some(None)` for an explicit
/// `null`, and (with `#[serde(default)]`) `None` when it was left out.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "label": "Okafor & Reyes", "status": "active", "secrets_policy": "no_secrets",
    "care_started_on": "2026-03-02",
    "partner_a": {"recovery_role": "in_recovery", "full_name": "Daniel Okafor", "preferred_name": "Dan"},
    "partner_b": {"recovery_role": "supporting", "full_name": "Marisol Reyes"}
}))]
pub struct NewCouple {
    /// How the couple is named in lists (at most 200 characters).
    #[schema(schema_with = crate::input::schema::short)]
    pub label: String,
    pub status: Option<CoupleStatus>,
    pub secrets_policy: SecretsPolicy,
    pub care_started_on: BoundedDate,
    pub partner_a: PartnerInput,
    pub partner_b: PartnerInput,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "active", "label": "Okafor & Reyes"}))]
pub struct CouplePatch {
    #[schema(schema_with = crate::input::schema::short_or_keep)]
    pub label: Option<String>,
    pub status: Option<CoupleStatus>,
    pub secrets_policy: Option<SecretsPolicy>,
    pub care_started_on: Option<BoundedDate>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PartnerView {
    pub slot: PartnerSlot,
    pub recovery_role: RecoveryRole,
    pub full_name: String,
    pub preferred_name: Option<String>,
    pub pronouns: Option<String>,
    /// Contact and personal details are shown to the care team and to the partner themself.
    pub date_of_birth: Option<Date>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub emergency_contact: Option<String>,
    pub has_portal_account: bool,
    /// ETag value for updating this partner.
    pub version: i32,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CareTeamMember {
    pub member_id: MemberId,
    pub display_name: String,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CoupleView {
    pub id: CoupleId,
    pub label: String,
    pub status: CoupleStatus,
    pub secrets_policy: SecretsPolicy,
    pub care_started_on: Date,
    pub partners: Vec<PartnerView>,
    pub care_team: Vec<CareTeamMember>,
    pub version: i32,
}

/// The couple itself, as the access check found it: what every record of
/// the couple is read against (its secrets policy sets default audiences).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Couple {
    pub id: CoupleId,
    pub label: String,
    pub status: CoupleStatus,
    pub secrets_policy: SecretsPolicy,
    pub care_started_on: Date,
    pub version: i32,
    /// The database's count of changes to the couple's records, read with
    /// the access decision: a cached overview is used only at the same one.
    pub revision: i64,
}

impl TryFrom<couples::Model> for Couple {
    type Error = AppError;

    fn try_from(row: couples::Model) -> Result<Self, AppError> {
        Ok(Couple {
            id: row.id,
            status: row.status,
            secrets_policy: SecretsPolicy::from_stored(&row.secrets_policy)?,
            label: row.label,
            care_started_on: row.care_started_on,
            version: row.version,
            revision: row.revision,
        })
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CoupleSummary {
    pub id: CoupleId,
    pub label: String,
    pub status: CoupleStatus,
    pub care_started_on: Date,
}

struct ParsedPartner {
    recovery_role: RecoveryRole,
    full_name: String,
    preferred_name: Option<String>,
    pronouns: Option<String>,
    date_of_birth: Option<Date>,
    phone: Option<String>,
    email: Option<String>,
    emergency_contact: Option<String>,
    /// `None`: leave the link as it is.
    member_id: Option<Option<MemberId>>,
}

fn parse_partner(fields: &mut Fields, prefix: &str, input: &PartnerInput) -> Option<ParsedPartner> {
    let f = |name: &str| format!("{prefix}{name}");
    let full_name = fields.check(&f("full_name"), required_text(&input.full_name, limits::SHORT));
    let preferred_name = fields.check(&f("preferred_name"), optional_text(input.preferred_name.as_deref(), limits::SHORT));
    let pronouns = fields.check(&f("pronouns"), optional_text(input.pronouns.as_deref(), 40));
    let phone = fields.check(&f("phone"), optional_text(input.phone.as_deref(), 40));
    let email = fields.check(
        &f("email"),
        optional_text(input.email.as_deref(), 254)
            .and_then(|e| e.map(|e| Email::parse(&e).map(String::from)).transpose()),
    );
    let emergency_contact =
        fields.check(&f("emergency_contact"), optional_text(input.emergency_contact.as_deref(), limits::MEDIUM));
    Some(ParsedPartner {
        recovery_role: input.recovery_role,
        full_name: full_name?,
        preferred_name: preferred_name?,
        pronouns: pronouns?,
        date_of_birth: input.date_of_birth.map(BoundedDate::get),
        phone: phone?,
        email: email?,
        emergency_contact: emergency_contact?,
        member_id: input.member_id,
    })
}

/// A portal account must be an active client of the same practice.
async fn check_portal_account(
    db: &impl ConnectionTrait,
    current: &CurrentMember,
    field: &str,
    member_id: Option<MemberId>,
) -> Result<(), AppError> {
    let Some(id) = member_id else { return Ok(()) };
    let member = current.scope.by_id::<members::Entity>(id).one(db).await?;
    if crate::practice::members::acts_as(member.as_ref(), Role::Client) {
        Ok(())
    } else {
        Err(AppError::Invalid(vec![FieldError::new(field, "choose an active client account of this practice")]))
    }
}

pub async fn create(state: &AppState, audit: &AuditContext, current: &CurrentMember, input: NewCouple) -> Result<CoupleView, AppError> {
    if let Err(refused) = current.require(Role::Counselor) {
        access::practice_level(audit, current, None, true);
        return Err(refused);
    }
    let mut fields = Fields::default();
    let label = fields.check("label", required_text(&input.label, limits::SHORT));
    let a = parse_partner(&mut fields, "partner_a.", &input.partner_a);
    let b = parse_partner(&mut fields, "partner_b.", &input.partner_b);
    if input.partner_a.recovery_role == RecoveryRole::Supporting
        && input.partner_b.recovery_role == RecoveryRole::Supporting
    {
        fields.check::<()>("partner_a.recovery_role", Err("at least one partner is in recovery".into()));
    }
    let (a_member, b_member) = (input.partner_a.member_id.flatten(), input.partner_b.member_id.flatten());
    if a_member.is_some() && a_member == b_member {
        fields.check::<()>("partner_b.member_id", Err("each partner needs their own account".into()));
    }
    let (label, a, b) = fields.finish_with(|| Some((label?, a?, b?)))?;
    check_portal_account(&state.db, current, "partner_a.member_id", a_member).await?;
    check_portal_account(&state.db, current, "partner_b.member_id", b_member).await?;

    let now = state.clock.now();
    let scope = current.scope;
    let id = CoupleId::new();
    let txn = audit.write_txn(&state.db).await?;
    let txn = txn.as_ref();
    couples::ActiveModel {
        id: Set(id),
        practice_id: Set(scope.practice_id()),
        label: Set(label),
        status: Set(input.status.unwrap_or(CoupleStatus::Intake)),
        secrets_policy: Set(input.secrets_policy.as_str()),
        care_started_on: Set(input.care_started_on.get()),
        created_by: Set(current.id()),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
        revision: Set(0),
    }
    .insert(txn)
    .await?;
    for (slot, p) in [(PartnerSlot::A, a), (PartnerSlot::B, b)] {
        partners::ActiveModel {
            id: Set(Uuid::now_v7()),
            practice_id: Set(scope.practice_id()),
            couple_id: Set(id),
            slot: Set(slot),
            recovery_role: Set(p.recovery_role.as_str()),
            full_name: Set(p.full_name),
            preferred_name: Set(p.preferred_name),
            pronouns: Set(p.pronouns),
            date_of_birth: Set(p.date_of_birth),
            phone: Set(p.phone),
            email: Set(p.email),
            emergency_contact: Set(p.emergency_contact),
            member_id: Set(p.member_id.flatten()),
            updated_at: Set(now),
            version: Set(1),
        }
        .insert(txn)
        .await?;
    }
    care_team_members::ActiveModel {
        id: Set(Uuid::now_v7()),
        practice_id: Set(scope.practice_id()),
        couple_id: Set(id),
        member_id: Set(current.id()),
        added_by: Set(current.id()),
        added_at: Set(now),
    }
    .insert(txn)
    .await?;
    // The new couple's access check runs in the same transaction, which the
    // access log commits together with its event.
    let access = access::couple(state, audit, current, id, access::Need::Write).await?;
    tracing::info!(couple_id = %id, "couple created");
    view(&access).await
}

pub async fn view(access: &CoupleAccess) -> Result<CoupleView, AppError> {
    let db = &access.db();
    let couple = &access.couple;
    let rows = access
        .records::<partners::Entity>()
        .order_by_asc(partners::Column::Slot)
        .all(db)
        .await?;
    let mut partners = Vec::with_capacity(2);
    for p in rows {
        let slot = p.slot;
        // A partner sees the other partner's name, not their private details.
        let personal = access.is_clinician() || access.partner_slot() == Some(slot);
        partners.push(PartnerView {
            slot,
            recovery_role: RecoveryRole::from_stored(&p.recovery_role)?,
            full_name: p.full_name,
            preferred_name: p.preferred_name,
            pronouns: p.pronouns,
            date_of_birth: p.date_of_birth.filter(|_| personal),
            phone: p.phone.filter(|_| personal),
            email: p.email.filter(|_| personal),
            emergency_contact: p.emergency_contact.filter(|_| personal),
            has_portal_account: p.member_id.is_some(),
            version: p.version,
        });
    }
    Ok(CoupleView {
        id: couple.id,
        label: couple.label.clone(),
        status: couple.status,
        secrets_policy: couple.secrets_policy,
        care_started_on: couple.care_started_on,
        partners,
        care_team: care_team(access).await?,
        version: couple.version,
    })
}

/// The id of the partner in `slot`, by which the access log names them.
pub async fn partner_id(access: &CoupleAccess, slot: PartnerSlot) -> Result<Option<Uuid>, AppError> {
    let row = access.records::<partners::Entity>().filter(partners::Column::Slot.eq(slot.as_str())).one(&access.db()).await?;
    Ok(row.map(|p| p.id))
}

/// The slot of the couple's partner with id `id`; "not found" for anyone else.
pub async fn partner_slot(access: &CoupleAccess, id: Uuid) -> Result<PartnerSlot, AppError> {
    let row = access.records::<partners::Entity>().filter(partners::Column::Id.eq(id)).one(&access.db()).await?;
    Ok(row.ok_or(AppError::NotFound)?.slot)
}

/// Which client account gives each partner the portal (for the care team's edit form).
pub async fn portal_accounts(access: &CoupleAccess) -> Result<Vec<(PartnerSlot, Option<MemberId>)>, AppError> {
    if !access.is_clinician() {
        return Err(AppError::NotFound);
    }
    access
        .records::<partners::Entity>()
        .all(&access.db())
        .await?
        .into_iter()
        .map(|p| Ok((p.slot, p.member_id)))
        .collect()
}

pub async fn care_team(access: &CoupleAccess) -> Result<Vec<CareTeamMember>, AppError> {
    // One statement: the members whose ids the couple's care team lists.
    let team = access.records::<care_team_members::Entity>().select_only().column(care_team_members::Column::MemberId).into_query();
    Ok(access
        .scope
        .select::<members::Entity>()
        .filter(members::Column::Id.in_subquery(team))
        .order_by_asc(members::Column::DisplayName)
        .all(&access.db())
        .await?
        .into_iter()
        .map(|m| CareTeamMember { member_id: m.id, display_name: m.display_name })
        .collect())
}

pub async fn list(state: &AppState, current: &CurrentMember, page: &PageQuery) -> Result<Page<CoupleSummary>, AppError> {
    let limit = page.limit()?;
    let ids = access::visible_couple_ids(&state.db, current).await?;
    let mut query = current
        .scope
        .select::<couples::Entity>()
        .filter(couples::Column::Id.is_in(ids))
        .order_by_desc(couples::Column::Id)
        .limit(limit + 1);
    if let Some(cursor) = page.cursor {
        query = query.filter(couples::Column::Id.lt(cursor));
    }
    let (rows, next_cursor) = split_page(query.all(&state.db).await?, limit, |r| r.id.uuid());
    let items = rows
        .into_iter()
        .map(|c| {
            Ok(CoupleSummary {
                id: c.id,
                label: c.label,
                status: c.status,
                care_started_on: c.care_started_on,
            })
        })
        .collect::<Result<_, AppError>>()?;
    Ok(Page { items, next_cursor })
}

pub async fn update(
    now: OffsetDateTime,
    access: &CoupleAccess,
    IfMatch(expected): IfMatch,
    patch: CouplePatch,
) -> Result<CoupleView, AppError> {
    let mut fields = Fields::default();
    let label = patch.label.as_deref().map(|l| fields.check("label", required_text(l, limits::SHORT)));
    fields.finish()?;
    let mut update = access
        .scope
        .update_many::<couples::Entity>()
        .col_expr(couples::Column::Version, Expr::value(expected + 1))
        .col_expr(couples::Column::UpdatedAt, Expr::value(now))
        .filter(couples::Column::Id.eq(access.couple_id()))
        .filter(couples::Column::Version.eq(expected));
    if let Some(Some(label)) = label {
        update = update.col_expr(couples::Column::Label, Expr::value(label));
    }
    if let Some(status) = patch.status {
        update = update.col_expr(couples::Column::Status, Expr::value(status));
    }
    if let Some(policy) = patch.secrets_policy {
        update = update.col_expr(couples::Column::SecretsPolicy, Expr::value(policy.as_str()));
    }
    if let Some(on) = patch.care_started_on {
        update = update.col_expr(couples::Column::CareStartedOn, Expr::value(on.get()));
    }
    // The version in the WHERE clause makes the check and the write one step:
    // of two edits based on the same version, exactly one matches.
    if update.exec(&access.db()).await?.rows_affected != 1 {
        return Err(AppError::PreconditionFailed);
    }
    let couple = access
        .scope
        .by_id::<couples::Entity>(access.couple_id())
        .one(&access.db())
        .await?
        .ok_or(AppError::NotFound)?;
    let access = access.clone().with_couple(couple.try_into()?);
    // Discharge ends the consents that were to last until an event.
    if patch.status == Some(CoupleStatus::Closed) {
        super::consents::end_at_discharge(&access, now).await?;
    }
    view(&access).await
}

pub async fn update_partner(
    now: OffsetDateTime,
    current: &CurrentMember,
    access: &CoupleAccess,
    slot: PartnerSlot,
    IfMatch(expected): IfMatch,
    input: PartnerInput,
) -> Result<PartnerView, AppError> {
    let mut fields = Fields::default();
    let parsed = parse_partner(&mut fields, "", &input);
    let p = fields.finish_with(|| parsed)?;
    let partners = access.records::<partners::Entity>().all(&access.db()).await?;
    let this = partners.iter().find(|p| p.slot == slot);
    let other = partners.iter().find(|p| p.slot != slot);
    let (Some(this), Some(other)) = (this, other) else {
        return Err(anyhow::anyhow!("couple without its two partners").into());
    };
    // Left out, or the account it is linked to already: the link stays as it
    // is, even if that account has since stopped being an active client
    // (unlinking is a decision, never a side effect of saving other details).
    let member_id = p.member_id.unwrap_or(this.member_id);
    if member_id != this.member_id {
        check_portal_account(&access.db(), current, "member_id", member_id).await?;
    }
    if member_id.is_some() && other.member_id == member_id {
        return Err(AppError::invalid("member_id", "each partner needs their own account"));
    }
    if p.recovery_role == RecoveryRole::Supporting && other.recovery_role == RecoveryRole::Supporting.as_str() {
        return Err(AppError::invalid("recovery_role", "at least one partner is in recovery"));
    }
    let result = access
        .update_records::<partners::Entity>()
        .col_expr(partners::Column::RecoveryRole, Expr::value(p.recovery_role.as_str()))
        .col_expr(partners::Column::FullName, Expr::value(p.full_name))
        .col_expr(partners::Column::PreferredName, Expr::value(p.preferred_name))
        .col_expr(partners::Column::Pronouns, Expr::value(p.pronouns))
        .col_expr(partners::Column::DateOfBirth, Expr::value(p.date_of_birth))
        .col_expr(partners::Column::Phone, Expr::value(p.phone))
        .col_expr(partners::Column::Email, Expr::value(p.email))
        .col_expr(partners::Column::EmergencyContact, Expr::value(p.emergency_contact))
        .col_expr(partners::Column::MemberId, Expr::value(member_id))
        .col_expr(partners::Column::UpdatedAt, Expr::value(now))
        .col_expr(partners::Column::Version, Expr::value(expected + 1))
        .filter(partners::Column::Slot.eq(slot.as_str()))
        .filter(partners::Column::Version.eq(expected))
        .exec(&access.db())
        .await?;
    if result.rows_affected != 1 {
        return Err(AppError::PreconditionFailed);
    }
    let couple = view(access).await?;
    couple
        .partners
        .into_iter()
        .find(|p| p.slot == slot)
        .ok_or_else(|| anyhow::anyhow!("partner vanished").into())
}

pub const CHOOSE_COUNSELOR: &str = "choose an active counselor of this practice";

/// Adds a counselor to the care team; the change to who can see the couple
/// (the team's members before and after), or none when they were on it.
pub async fn add_to_care_team(
    now: OffsetDateTime,
    access: &CoupleAccess,
    member_id: MemberId,
) -> Result<(Vec<CareTeamMember>, Option<Change>), AppError> {
    let member = access.scope.by_id::<members::Entity>(member_id).one(&access.db()).await?;
    if !crate::practice::members::acts_as(member.as_ref(), Role::Counselor) {
        return Err(AppError::invalid("member_id", CHOOSE_COUNSELOR));
    }
    if access::on_care_team(&access.db(), access.scope, access.couple_id(), member_id).await? {
        return Ok((care_team(access).await?, None));
    }
    let before = care_team(access).await?;
    {
        care_team_members::ActiveModel {
            id: Set(Uuid::now_v7()),
            practice_id: Set(access.scope.practice_id()),
            couple_id: Set(access.couple_id()),
            member_id: Set(member_id),
            added_by: Set(access.member_id),
            added_at: Set(now),
        }
        .insert(&access.db())
        .await?;
    }
    let after = care_team(access).await?;
    let change = team_change(member_id, &before, &after);
    Ok((after, Some(change)))
}

/// Takes a counselor off the care team (the last one stays), with the change.
pub async fn remove_from_care_team(access: &CoupleAccess,
    member_id: MemberId,
) -> Result<(Vec<CareTeamMember>, Change), AppError> {
    let team = care_team(access).await?;
    if !team.iter().any(|m| m.member_id == member_id) {
        return Err(AppError::NotFound);
    }
    if team.len() == 1 {
        return Err(AppError::Conflict(LAST_COUNSELOR.into()));
    }
    access
        .delete_records::<care_team_members::Entity>()
        .filter(care_team_members::Column::MemberId.eq(member_id))
        .exec(&access.db())
        .await?;
    let after = care_team(access).await?;
    let change = team_change(member_id, &team, &after);
    Ok((after, change))
}

pub const LAST_COUNSELOR: &str = "A couple in care keeps at least one counselor on its care team.";

fn team_change(member_id: MemberId, before: &[CareTeamMember], after: &[CareTeamMember]) -> Change {
    let ids = |team: &[CareTeamMember]| team.iter().map(|m| m.member_id).collect::<Vec<_>>();
    Change::new(vec![member_id], ids(before), ids(after))
}

crate::versioned!(CoupleView, PartnerView);
