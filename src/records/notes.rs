//! Session notes: SOAP, DAP or BIRP sections, a block per partner (use since
//! the last session, risk screen, mood), homework and the goals addressed,
//! each part with its own audience. A note is a draft its author may edit
//! until they sign it; a signed note never changes again, and corrections
//! are appended as addenda. A supervisor may co-sign.

use entity::ids::MemberId;
use entity::ids::CoupleId;
use std::collections::BTreeMap;

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, ExprTrait},
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use entity::{note_addenda, session_notes};

use super::{
    common::{Audience, IfMatch, Page, PageQuery, PartnerSlot, StoredEnum, limits, optional_text, required_text, split_page},
    consents::RecordKind,
    disclosures::{self, Channel, Disclosed},
    sessions,
};
use crate::{access::{Caseload, CoupleAccess, Recipient, consent_in_force, exec_at_version}, error::AppError, practice::Fields, vault::fields::{ADDENDUM_BODY, ADDENDUM_REASON, NOTE_CONTENT}};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoteFormat {
    /// Subjective, objective, assessment, plan.
    Soap,
    /// Data, assessment, plan.
    Dap,
    /// Behavior, intervention, response, plan.
    Birp,
}

impl NoteFormat {
    pub fn sections(self) -> &'static [&'static str] {
        match self {
            NoteFormat::Soap => &["subjective", "objective", "assessment", "plan"],
            NoteFormat::Dap => &["data", "assessment", "plan"],
            NoteFormat::Birp => &["behavior", "intervention", "response", "plan"],
        }
    }
}

pub use entity::values::NoteStatus;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    None,
    Low,
    Moderate,
    High,
}

impl StoredEnum for NoteFormat {}
impl StoredEnum for NoteStatus {}
impl StoredEnum for RiskLevel {}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// At most 20,000 characters.
    #[schema(schema_with = crate::input::schema::long_or_empty)]
    pub text: String,
    /// Default: clinician.
    #[serde(default = "clinician")]
    pub audience: Audience,
}

fn clinician() -> Audience {
    Audience::Clinician
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RiskScreen {
    pub self_harm: RiskLevel,
    /// Intimate-partner violence.
    pub partner_violence: RiskLevel,
    #[schema(schema_with = crate::input::schema::medium_or_none)]
    pub notes: Option<String>,
}

/// What the note records about one partner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartnerBlock {
    pub partner: PartnerSlot,
    #[schema(schema_with = crate::input::schema::medium_or_none)]
    pub use_since_last_session: Option<String>,
    pub risk: Option<RiskScreen>,
    #[schema(schema_with = crate::input::schema::short_or_none)]
    pub mood: Option<String>,
    /// Default: clinician.
    #[serde(default = "clinician")]
    pub audience: Audience,
}

/// The body of a note, as written and as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteContent {
    /// Keyed by the format's section names (for SOAP: subjective, objective, assessment, plan).
    #[serde(default)]
    pub sections: BTreeMap<String, Section>,
    #[serde(default)]
    pub partner_blocks: Vec<PartnerBlock>,
    pub homework: Option<Section>,
    /// Goals and plan items this session addressed (at most 50).
    #[serde(default)]
    #[schema(schema_with = crate::input::schema::short_list)]
    pub goals_addressed: Vec<String>,
    /// Audience of the goals list. Default: clinician.
    #[serde(default = "clinician")]
    pub goals_audience: Audience,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "format": "soap",
    "content": {
        "sections": {
            "subjective": {"text": "Marisol described the week after the lapse as 'walking on eggshells'.", "audience": "clinician"},
            "plan": {"text": "Daily trust discussion every evening; review the lapse-response timeline next week.", "audience": "couple"}
        },
        "partner_blocks": [{"partner": "a", "use_since_last_session": "None reported", "risk": {"self_harm": "none", "partner_violence": "none"}, "mood": "tired, hopeful", "audience": "clinician"}],
        "homework": {"text": "Each of you lists two early warning signs you noticed this week.", "audience": "couple"},
        "goals_addressed": ["Rebuild trust after the March lapse"]
    }
}))]
pub struct NoteInput {
    pub format: NoteFormat,
    pub content: NoteContent,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AddendumView {
    pub id: Uuid,
    pub author_id: MemberId,
    pub reason: String,
    pub text: String,
    pub audience: Audience,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct NoteView {
    pub id: Uuid,
    pub couple_id: CoupleId,
    pub session_id: Uuid,
    pub author_id: MemberId,
    pub format: NoteFormat,
    pub status: NoteStatus,
    /// Only the parts the caller's audience allows.
    pub content: NoteContent,
    pub signed_by: Option<MemberId>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub signed_at: Option<OffsetDateTime>,
    pub cosigned_by: Option<MemberId>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub cosigned_at: Option<OffsetDateTime>,
    pub addenda: Vec<AddendumView>,
    pub version: i32,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Date of the lapse was wrong", "text": "The lapse was on 10 March, not 11 March.", "audience": "clinician"}))]
pub struct AddendumInput {
    /// Why the addendum was needed (at most 200 characters).
    #[schema(schema_with = crate::input::schema::short)]
    pub reason: String,
    /// At most 20,000 characters.
    #[schema(schema_with = crate::input::schema::long)]
    pub text: String,
    #[serde(default = "clinician")]
    pub audience: Audience,
}

fn validate(input: &NoteInput) -> Result<String, AppError> {
    let mut fields = Fields::default();
    let c = &input.content;
    let allowed = input.format.sections();
    for (key, section) in &c.sections {
        if !allowed.contains(&key.as_str()) {
            fields.check::<()>(
                &format!("content.sections.{key}"),
                Err(format!("a {} note has the sections {}", input.format.as_str().to_uppercase(), allowed.join(", "))),
            );
        }
        fields.check(&format!("content.sections.{key}.text"), optional_text(Some(&section.text), limits::LONG));
    }
    if c.partner_blocks.len() > 2 {
        fields.check::<()>("content.partner_blocks", Err("one block per partner".into()));
    }
    let mut seen = Vec::new();
    for (i, block) in c.partner_blocks.iter().enumerate() {
        if seen.contains(&block.partner) {
            fields.check::<()>(&format!("content.partner_blocks[{i}].partner"), Err("one block per partner".into()));
        }
        seen.push(block.partner);
        let p = |f: &str| format!("content.partner_blocks[{i}].{f}");
        fields.check(&p("use_since_last_session"), optional_text(block.use_since_last_session.as_deref(), limits::MEDIUM));
        fields.check(&p("mood"), optional_text(block.mood.as_deref(), limits::SHORT));
        if let Some(risk) = &block.risk {
            fields.check(&p("risk.notes"), optional_text(risk.notes.as_deref(), limits::MEDIUM));
        }
    }
    if let Some(h) = &c.homework {
        fields.check("content.homework.text", optional_text(Some(&h.text), limits::LONG));
    }
    if c.goals_addressed.len() > limits::LIST_ITEMS {
        fields.check::<()>("content.goals_addressed", Err(format!("list at most {}", limits::LIST_ITEMS)));
    }
    for (i, g) in c.goals_addressed.iter().enumerate() {
        fields.check(&format!("content.goals_addressed[{i}]"), required_text(g, limits::SHORT));
    }
    fields.finish()?;
    Ok(serde_json::to_string(c).map_err(anyhow::Error::from)?)
}

/// The note as the caller may see it; `None` when nothing in it is theirs to
/// see (partners never see drafts, nor parts outside their audience).
fn visible(access: &CoupleAccess, row: session_notes::Model, addenda: Vec<note_addenda::Model>) -> Result<Option<NoteView>, AppError> {
    let status = row.status;
    let mut content: NoteContent = serde_json::from_str(&access.cipher().open(NOTE_CONTENT, row.id, &row.content)?).map_err(anyhow::Error::from)?;
    if !access.is_clinician() {
        if status == NoteStatus::Draft {
            return Ok(None);
        }
        content.sections.retain(|_, s| access.sees(s.audience));
        content.partner_blocks.retain(|b| access.sees(b.audience));
        content.homework = content.homework.filter(|h| access.sees(h.audience));
        if !access.sees(content.goals_audience) {
            content.goals_addressed.clear();
        }
    }
    let addenda: Vec<AddendumView> = addenda
        .into_iter()
        .map(|a| {
            Ok(AddendumView {
                audience: a.audience,
                id: a.id,
                author_id: a.author_id,
                reason: access.cipher().open(ADDENDUM_REASON, a.id, &a.reason)?,
                text: access.cipher().open(ADDENDUM_BODY, a.id, &a.body)?,
                created_at: a.created_at,
            })
        })
        .filter(|a: &Result<AddendumView, AppError>| a.as_ref().map_or(true, |a| access.sees(a.audience)))
        .collect::<Result<_, _>>()?;
    let empty = content.sections.is_empty()
        && content.partner_blocks.is_empty()
        && content.homework.is_none()
        && content.goals_addressed.is_empty()
        && addenda.is_empty();
    if !access.is_clinician() && empty {
        return Ok(None);
    }
    Ok(Some(NoteView {
        id: row.id,
        couple_id: row.couple_id,
        session_id: row.session_id,
        author_id: row.author_id,
        format: NoteFormat::from_stored(&row.format)?,
        status,
        content,
        signed_by: row.signed_by,
        signed_at: row.signed_at,
        cosigned_by: row.cosigned_by,
        cosigned_at: row.cosigned_at,
        addenda,
        version: row.version,
    }))
}

async fn addenda_of(db: &impl ConnectionTrait, access: &CoupleAccess, note_ids: Vec<Uuid>) -> Result<Vec<note_addenda::Model>, AppError> {
    if note_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(access
        .records::<note_addenda::Entity>()
        .filter(note_addenda::Column::NoteId.is_in(note_ids))
        .order_by_asc(note_addenda::Column::Id)
        .all(db)
        .await?)
}

async fn load_row(db: &impl ConnectionTrait, access: &CoupleAccess, id: Uuid) -> Result<session_notes::Model, AppError> {
    access
        .records::<session_notes::Entity>()
        .filter(session_notes::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn get(access: &CoupleAccess, id: Uuid) -> Result<NoteView, AppError> {
    let row = load_row(&access.db(), access, id).await?;
    let addenda = addenda_of(&access.db(), access, vec![id]).await?;
    visible(access, row, addenda)?.ok_or(AppError::NotFound)
}

pub async fn create(now: OffsetDateTime, access: &CoupleAccess, session_id: Uuid, input: NoteInput) -> Result<NoteView, AppError> {
    sessions::load(&access.db(), access, session_id).await?;
    let content = validate(&input)?;
    let id = Uuid::now_v7();
    let row = session_notes::ActiveModel {
        id: Set(id),
        practice_id: Set(access.scope.practice_id()),
        couple_id: Set(access.couple_id()),
        session_id: Set(session_id),
        author_id: Set(access.member_id),
        format: Set(input.format.as_str()),
        content: Set(access.cipher().seal(NOTE_CONTENT, id, &content)),
        status: Set(NoteStatus::Draft),
        signed_by: Set(None),
        signed_at: Set(None),
        cosigned_by: Set(None),
        cosigned_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
    }
    .insert(&access.db())
    .await?;
    visible(access, row, vec![])?.ok_or(AppError::NotFound)
}

/// Notes of a session (or of the whole couple), newest first.
pub async fn list(access: &CoupleAccess, session_id: Option<Uuid>, page: &PageQuery) -> Result<Page<NoteView>, AppError> {
    if let Some(session_id) = session_id {
        sessions::load(&access.db(), access, session_id).await?;
    }
    let limit = page.limit()?;
    let mut query = access
        .records::<session_notes::Entity>()
        .order_by_desc(session_notes::Column::Id)
        .limit(limit + 1);
    if let Some(session_id) = session_id {
        query = query.filter(session_notes::Column::SessionId.eq(session_id));
    }
    if !access.is_clinician() {
        query = query.filter(session_notes::Column::Status.eq(NoteStatus::Signed.as_str()));
    }
    if let Some(cursor) = page.cursor {
        query = query.filter(session_notes::Column::Id.lt(cursor));
    }
    let (rows, next_cursor) = split_page(query.all(&access.db()).await?, limit, |r| r.id);
    let addenda = addenda_of(&access.db(), access, rows.iter().map(|r| r.id).collect()).await?;
    Ok(Page { items: visible_with_addenda(access, rows, addenda)?, next_cursor })
}

/// Every note of the sessions `session_ids` the caller may see, newest
/// first: two queries however many sessions there are.
pub async fn of_sessions(access: &CoupleAccess, session_ids: Vec<Uuid>) -> Result<Vec<NoteView>, AppError> {
    if session_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = access
        .records::<session_notes::Entity>()
        .filter(session_notes::Column::SessionId.is_in(session_ids))
        .order_by_desc(session_notes::Column::Id);
    if !access.is_clinician() {
        query = query.filter(session_notes::Column::Status.eq(NoteStatus::Signed.as_str()));
    }
    let rows = query.all(&access.db()).await?;
    let addenda = addenda_of(&access.db(), access, rows.iter().map(|r| r.id).collect()).await?;
    visible_with_addenda(access, rows, addenda)
}

/// The caller's views of `rows`, each with its addenda.
fn visible_with_addenda(access: &CoupleAccess, rows: Vec<session_notes::Model>, addenda: Vec<note_addenda::Model>) -> Result<Vec<NoteView>, AppError> {
    let mut by_note: std::collections::HashMap<Uuid, Vec<note_addenda::Model>> = std::collections::HashMap::new();
    for a in addenda {
        by_note.entry(a.note_id).or_default().push(a);
    }
    let mut items = Vec::new();
    for row in rows {
        let mine = by_note.remove(&row.id).unwrap_or_default();
        if let Some(view) = visible(access, row, mine)? {
            items.push(view);
        }
    }
    Ok(items)
}

const SIGNED_IS_FINAL: &str = "This note is signed and cannot change. Add an addendum instead.";

/// Edits a draft. Only its author may, and only while it is a draft.
pub async fn update(now: OffsetDateTime, access: &CoupleAccess, id: Uuid, IfMatch(expected): IfMatch, input: NoteInput) -> Result<NoteView, AppError> {
    let row = load_row(&access.db(), access, id).await?;
    if row.author_id != access.member_id {
        return Err(AppError::Forbidden("Only the author may edit a draft note.".into()));
    }
    if row.status != NoteStatus::Draft {
        return Err(AppError::Conflict(SIGNED_IS_FINAL.into()));
    }
    let content = validate(&input)?;
    let update = access
        .update_at_version::<session_notes::Entity>(id, expected)
        .col_expr(session_notes::Column::Format, Expr::value(input.format.as_str()))
        .col_expr(session_notes::Column::Content, Expr::value(access.cipher().seal(NOTE_CONTENT, id, &content)))
        .col_expr(session_notes::Column::UpdatedAt, Expr::value(now))
        // Signing races an edit: whichever lands first wins, the other changes nothing.
        .filter(session_notes::Column::Status.eq(NoteStatus::Draft.as_str()));
    if exec_at_version(update, &access.db()).await.is_err() {
        let now_row = load_row(&access.db(), access, id).await?;
        return Err(if now_row.status != NoteStatus::Draft {
            AppError::Conflict(SIGNED_IS_FINAL.into())
        } else {
            AppError::PreconditionFailed
        });
    }
    get(access, id).await
}

/// Signs a draft: from now on it is final. Only its author signs.
pub async fn sign(now: OffsetDateTime, access: &CoupleAccess, id: Uuid, IfMatch(expected): IfMatch) -> Result<NoteView, AppError> {
    let row = load_row(&access.db(), access, id).await?;
    if row.author_id != access.member_id {
        return Err(AppError::Forbidden("Only the author may sign a note.".into()));
    }
    if row.status != NoteStatus::Draft {
        return Err(AppError::Conflict("This note is already signed.".into()));
    }
    // Partners read a note once it is signed: a partner's own block shown
    // to the other partner is disclosed now, on that partner's consent.
    let content: NoteContent = serde_json::from_str(&access.cipher().open(NOTE_CONTENT, row.id, &row.content)?).map_err(anyhow::Error::from)?;
    let mut shares = Vec::new();
    for block in content.partner_blocks.iter().filter(|b| b.audience.includes_partner(b.partner.other())) {
        let consent = consent_in_force(access, now, block.partner, RecordKind::Notes, Recipient::OtherPartner).await?;
        shares.push((block.partner, consent));
    }
    let update = access
        .update_at_version::<session_notes::Entity>(id, expected)
        .col_expr(session_notes::Column::Status, Expr::value(NoteStatus::Signed))
        .col_expr(session_notes::Column::SignedBy, Expr::value(access.member_id))
        .col_expr(session_notes::Column::SignedAt, Expr::value(now))
        .col_expr(session_notes::Column::UpdatedAt, Expr::value(now))
        .filter(session_notes::Column::Status.eq(NoteStatus::Draft.as_str()));
    exec_at_version(update, &access.db()).await?;
    for (partner, consent) in &shares {
        let what = format!("Session note of {}: partner {}'s block", row.created_at.date(), partner.as_str().to_uppercase());
        let shared = Disclosed { consent, channel: Channel::Share, kind: RecordKind::Notes, record_id: Some(id), what, recipient: consent.recipient.clone(), purpose: consent.purpose.clone() };
        disclosures::record(access, now, shared).await?;
    }
    get(access, id).await
}

/// A supervisor's co-signature on a signed note. It records who reviewed the
/// note and when; the note itself does not change.
pub async fn cosign(now: OffsetDateTime, access: &CoupleAccess, id: Uuid) -> Result<NoteView, AppError> {
    let row = load_row(&access.db(), access, id).await?;
    if row.status != NoteStatus::Signed {
        return Err(AppError::Conflict("Only a signed note can be co-signed.".into()));
    }
    if row.cosigned_by.is_some() {
        return Err(AppError::Conflict("This note is already co-signed.".into()));
    }
    // The note's content stays as signed; its representation gains the
    // co-signature, so its version (ETag) moves on.
    let result = access
        .update_records::<session_notes::Entity>()
        .col_expr(session_notes::Column::CosignedBy, Expr::value(access.member_id))
        .col_expr(session_notes::Column::CosignedAt, Expr::value(now))
        .col_expr(session_notes::Column::Version, Expr::col(session_notes::Column::Version).add(1))
        .filter(session_notes::Column::Id.eq(id))
        .filter(session_notes::Column::CosignedBy.is_null())
        .exec(&access.db())
        .await?;
    if result.rows_affected != 1 {
        return Err(AppError::Conflict("This note is already co-signed.".into()));
    }
    get(access, id).await
}

/// Appends a correction or addition to a signed note.
pub async fn add_addendum(now: OffsetDateTime, access: &CoupleAccess, id: Uuid, input: AddendumInput) -> Result<NoteView, AppError> {
    let row = load_row(&access.db(), access, id).await?;
    if row.status != NoteStatus::Signed {
        return Err(AppError::Conflict("A draft is edited directly; addenda are for signed notes.".into()));
    }
    let mut fields = Fields::default();
    let reason = fields.check("reason", required_text(&input.reason, limits::SHORT));
    let text = fields.check("text", required_text(&input.text, limits::LONG));
    let (reason, text) = fields.finish_with(|| Some((reason?, text?)))?;
    let addendum_id = Uuid::now_v7();
    note_addenda::ActiveModel {
        id: Set(addendum_id),
        practice_id: Set(access.scope.practice_id()),
        couple_id: Set(access.couple_id()),
        note_id: Set(id),
        author_id: Set(access.member_id),
        reason: Set(access.cipher().seal(ADDENDUM_REASON, addendum_id, &reason)),
        body: Set(access.cipher().seal(ADDENDUM_BODY, addendum_id, &text)),
        audience: Set(input.audience),
        created_at: Set(now),
    }
    .insert(&access.db())
    .await?;
    get(access, id).await
}

/// What the last signed note said to carry into the next session.
#[derive(Clone, Debug)]
pub struct CarriedForward {
    pub note_id: Uuid,
    pub session_id: Uuid,
    pub plan: Option<String>,
    pub homework: Option<String>,
}

/// The plan and homework of the couple's latest signed note on another
/// session than `session_id`: the context a new note starts from. Only the
/// care team writes notes, so nothing here is filtered by audience.
pub async fn carried_forward(access: &CoupleAccess, session_id: Uuid) -> Result<Option<CarriedForward>, AppError> {
    let row = access
        .records::<session_notes::Entity>()
        .filter(session_notes::Column::Status.eq(NoteStatus::Signed.as_str()))
        .filter(session_notes::Column::SessionId.ne(session_id))
        .order_by_desc(session_notes::Column::SignedAt)
        .one(&access.db())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let content: NoteContent = serde_json::from_str(&access.cipher().open(NOTE_CONTENT, row.id, &row.content)?).map_err(anyhow::Error::from)?;
    let text = |s: Option<&Section>| s.map(|s| s.text.trim().to_owned()).filter(|t| !t.is_empty());
    let plan = text(content.sections.get("plan"));
    let homework = text(content.homework.as_ref());
    Ok((plan.is_some() || homework.is_some()).then_some(CarriedForward { note_id: row.id, session_id: row.session_id, plan, homework }))
}

/// A draft waiting for its author's signature, without its content.
#[derive(Clone, Debug)]
pub struct Draft {
    pub id: Uuid,
    pub couple_id: CoupleId,
    pub session_id: Uuid,
    pub format: NoteFormat,
    pub updated_at: OffsetDateTime,
}

/// The caller's own unsigned drafts among the caseload's couples they are
/// on the care team of, oldest first: one query, nothing decrypted.
pub async fn drafts(caseload: &Caseload, author_id: MemberId) -> Result<Vec<Draft>, AppError> {
    caseload
        .records::<session_notes::Entity>(|a| a.relation == crate::access::Relation::CareTeam)
        .filter(session_notes::Column::AuthorId.eq(author_id))
        .filter(session_notes::Column::Status.eq(NoteStatus::Draft.as_str()))
        .order_by_asc(session_notes::Column::UpdatedAt)
        .all(caseload.db())
        .await?
        .into_iter()
        .map(|row| {
            Ok(Draft {
                id: row.id,
                couple_id: row.couple_id,
                session_id: row.session_id,
                format: NoteFormat::from_stored(&row.format)?,
                updated_at: row.updated_at,
            })
        })
        .collect()
}

crate::versioned!(NoteView);
