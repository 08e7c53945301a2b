//! A couple's chart as a FHIR R4 Bundle (type `collection`: no Composition
//! is built), for a hospital, a new practice or the patient themself.
//!
//! The export is a disclosure of one partner's records, like the disclosed
//! plan PDF: it rests on that partner's consent in force naming the
//! recipient (`access::consent_for_export`), carries only the kinds of
//! record that consent covers, is registered in the request's transaction
//! (channel `export`), and carries the 42 CFR 2.32 notice. What it holds is
//! read as that partner would see it (`CoupleAccess::as_partner`): joint
//! items and their own, never the other partner's individual items, never a
//! clinician-only part of a note, never private notes. Every resource is
//! labelled restricted (HL7 confidentiality `R`) and `42CFRPart2`.

use entity::ids::MemberId;
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    boundaries::{self, BoundaryStatus},
    common::{Page, PageQuery, PartnerSlot, StoredEnum, limits, required_text},
    consents::{self, ConsentView, RecipientKind, RecordKind},
    contract::{self, DayRange},
    couples::{self, RecoveryRole},
    disclosures::{self, Channel, Disclosed, DisclosureView, NOTICE_2_32},
    lapses, milestones, notes, plans, safety_plans, sessions,
};
use crate::{
    access::{CoupleAccess, Recipient, consent_for_export},
    display,
    error::AppError,
    input::BoundedDate,
    practice::Fields,
};

const CONFIDENTIALITY: &str = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";
const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
const PARTICIPATION: &str = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";
const PART_2: &str = "https://www.ecfr.gov/current/title-42/chapter-I/subchapter-A/part-2";

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"partner": "a", "recipient": "Dr. Lee, Riverside Family Medicine", "purpose": "Continuity of care"}))]
pub struct FhirExportInput {
    /// Whose records: the export rests on this partner's consent.
    pub partner: PartnerSlot,
    /// The person or organisation receiving the export, as the consent names them.
    #[schema(schema_with = crate::input::schema::medium)]
    pub recipient: String,
    #[schema(schema_with = crate::input::schema::medium)]
    pub purpose: String,
}

/// The security labels every resource carries.
fn security() -> Value {
    json!([
        {"system": CONFIDENTIALITY, "code": "R", "display": "restricted"},
        {"system": ACT_CODE, "code": "42CFRPart2", "display": "42 CFR Part2"}
    ])
}

/// A FHIR `instant` (and `dateTime`): RFC 3339 in UTC.
fn instant(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC).format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

fn text_concept(text: &str) -> Value {
    json!({ "text": text })
}

/// The entries of the Bundle being built; each resource gets its labels
/// and a `urn:uuid` address the others refer to.
#[derive(Default)]
struct Entries(Vec<Value>);

impl Entries {
    fn add(&mut self, id: impl Into<Uuid>, mut resource: Value) -> Value {
        let id: Uuid = id.into();
        let url = format!("urn:uuid:{id}");
        resource["id"] = json!(id.to_string());
        resource["meta"] = json!({ "security": security() });
        self.0.push(json!({ "fullUrl": url, "resource": resource }));
        json!({ "reference": url })
    }
}

/// Structured record content as readable lines ("Key: value"), leaving out
/// audiences; a list's `items` and a section's `text` take the name of
/// what holds them; empty parts are skipped (FHIR strings are never empty).
fn prose(value: &Value) -> String {
    fn walk(value: &Value, label: &str, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    match k.as_str() {
                        "audience" | "goals_audience" => {}
                        "items" | "text" => walk(v, label, out),
                        _ => walk(v, &display::humanize(k), out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, label, out)),
            Value::String(s) if !s.trim().is_empty() => out.push(line(label, s)),
            Value::Bool(b) => out.push(line(label, if *b { "yes" } else { "no" })),
            Value::Number(n) => out.push(line(label, &n.to_string())),
            _ => {}
        }
    }
    fn line(label: &str, value: &str) -> String {
        if label.is_empty() { value.to_owned() } else { format!("{label}: {value}") }
    }
    let mut out = Vec::new();
    walk(value, "", &mut out);
    out.join("\n")
}

fn annotation(text: String) -> Option<Value> {
    (!text.trim().is_empty()).then(|| json!([{ "text": text }]))
}

/// Puts `value` under `key` unless it is absent.
fn set(resource: &mut Value, key: &str, value: Option<Value>) {
    if let (Some(v), Some(map)) = (value, resource.as_object_mut()) {
        map.insert(key.to_owned(), v);
    }
}

/// A record that may not exist yet (no plan, no contract).
fn if_any<T>(result: Result<T, AppError>) -> Result<Option<T>, AppError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(AppError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Every page of a list, read a page of the largest size at a time.
async fn every<T: ToSchema, F, Fut>(mut read: F) -> Result<Vec<T>, AppError>
where
    F: FnMut(PageQuery) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, AppError>>,
{
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let page = read(PageQuery { limit: Some(limits::PAGE_U64), cursor }).await?;
        all.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(all),
        }
    }
}

/// Who is who in the Bundle: the couple, each partner, the care team.
struct People {
    group: Value,
    patients: Vec<(PartnerSlot, Value)>,
    practitioners: Vec<(MemberId, Value)>,
    subject: Value,
}

impl People {
    fn patient(&self, slot: PartnerSlot) -> Value {
        self.patients.iter().find(|(s, _)| *s == slot).map_or_else(|| self.subject.clone(), |(_, r)| r.clone())
    }

    /// A care-team member by reference; anyone else of the practice by id.
    fn member(&self, id: MemberId) -> Value {
        match self.practitioners.iter().find(|(m, _)| *m == id) {
            Some((_, r)) => r.clone(),
            None => json!({ "identifier": { "system": "urn:ietf:rfc:3986", "value": format!("urn:uuid:{id}") } }),
        }
    }
}

/// The export of partner `input.partner`'s chart for `input.recipient`
/// (the care team: the handler asks for a write access): refused with 409
/// naming the missing consent unless one in force names the recipient;
/// registered once; the kinds of record its consent does not cover are left out.
pub async fn export(now: OffsetDateTime, access: &CoupleAccess, input: FhirExportInput, practice: &str, time_zone: &str) -> Result<Value, AppError> {
    let mut f = Fields::default();
    let recipient = f.check("recipient", required_text(&input.recipient, limits::MEDIUM));
    let purpose = f.check("purpose", required_text(&input.purpose, limits::MEDIUM));
    let (recipient, purpose) = f.finish_with(|| Some((recipient?, purpose?)))?;
    let subject = input.partner;
    let (consent, kinds) = consent_for_export(access, now, subject, Recipient::Named(&recipient)).await?;
    let what = format!(
        "Chart of partner {} as a FHIR R4 Bundle: {}",
        subject.as_str().to_uppercase(),
        kinds.iter().map(|k| k.words()).collect::<Vec<_>>().join(", ")
    );
    let kind = if kinds.contains(&RecordKind::Notes) { RecordKind::Notes } else { kinds[0] };
    let disclosed = Disclosed { consent: &consent, channel: Channel::Export, kind, record_id: None, what, recipient, purpose };
    disclosures::record(access, now, disclosed).await?;

    let seen = access.as_partner(subject);
    let covered = |k: RecordKind| kinds.contains(&k);
    let mut entries = Entries::default();
    let people = people(access, &seen, subject, &mut entries).await?;
    condition(&seen, subject, &people, covered(RecordKind::Lapses), &mut entries).await?;
    let today = milestones::today_in(now, time_zone);
    let encounters = if covered(RecordKind::Sessions) || covered(RecordKind::Notes) {
        encounters(&seen, subject, &people, covered(RecordKind::Sessions), now, &mut entries).await?
    } else {
        Vec::new()
    };
    if covered(RecordKind::Notes) {
        documents(&seen, subject, &people, &encounters, &mut entries).await?;
    }
    if covered(RecordKind::Plan) {
        plan(&seen, subject, &people, today, &mut entries).await?;
    }
    if covered(RecordKind::Boundaries) {
        boundary_goals(&seen, &people, &mut entries).await?;
    }
    if covered(RecordKind::SafetyPlans) {
        for p in safety_plans::list(&seen).await? {
            let goal = entries.add(Uuid::now_v7(), goal(&people.patient(subject), "Stay safe: follow the safety plan", &p.content));
            let mut care_plan = json!({
                "resourceType": "CarePlan", "status": "active", "intent": "plan",
                "title": format!("Safety plan ({})", display::humanize(&p.owner.as_str())),
                "subject": people.patient(subject), "created": instant(p.updated_at), "goal": [goal],
            });
            set(&mut care_plan, "note", annotation(prose(&serde_json::to_value(&p.content).map_err(anyhow::Error::from)?)));
            entries.add(p.id, care_plan);
        }
    }
    if covered(RecordKind::Lapses) {
        lapse_observations(&seen, subject, &people, &mut entries).await?;
    }
    if covered(RecordKind::Sobriety) {
        sobriety(now, &seen, subject, &people, time_zone, &mut entries).await?;
    }
    let consents = consents::of_partner(access, subject).await?;
    for c in &consents {
        consent_resource(c, &people, practice, now.date(), &mut entries);
    }
    for d in disclosures::list(&seen).await? {
        audit_event(&d, &people, practice, &consents, &mut entries);
    }
    let notice = json!({
        "resourceType": "DocumentReference", "status": "current",
        "type": text_concept("Notice prohibiting redisclosure (42 CFR 2.32)"),
        "subject": people.patient(subject), "date": instant(now), "description": NOTICE_2_32,
        "content": [{ "attachment": {
            "contentType": "text/plain; charset=utf-8", "title": "42 CFR 2.32 notice",
            "data": base64::engine::general_purpose::STANDARD.encode(NOTICE_2_32)
        }}]
    });
    entries.add(Uuid::now_v7(), notice);
    Ok(json!({
        "resourceType": "Bundle", "id": Uuid::now_v7().to_string(),
        "meta": { "security": security() },
        "type": "collection", "timestamp": instant(now), "entry": entries.0,
    }))
}

async fn people(access: &CoupleAccess, seen: &CoupleAccess, subject: PartnerSlot, entries: &mut Entries) -> Result<People, AppError> {
    let couple = couples::view(seen).await?;
    let mut patients = Vec::new();
    for p in &couple.partners {
        let id = couples::partner_id(access, p.slot).await?.unwrap_or_else(Uuid::now_v7);
        let mut patient = json!({ "resourceType": "Patient", "active": true, "name": [{ "text": p.full_name }] });
        if p.slot == subject {
            // The other partner is named only: their details are theirs.
            set(&mut patient, "birthDate", p.date_of_birth.map(|d| json!(d.to_string())));
            let telecom: Vec<Value> = [("phone", &p.phone), ("email", &p.email)]
                .into_iter()
                .filter_map(|(system, v)| v.as_ref().filter(|v| !v.trim().is_empty()).map(|v| json!({ "system": system, "value": v })))
                .collect();
            set(&mut patient, "telecom", (!telecom.is_empty()).then(|| json!(telecom)));
        }
        patients.push((p.slot, entries.add(id, patient)));
    }
    let subject_ref = patients.iter().find(|(s, _)| *s == subject).map(|(_, r)| r.clone()).ok_or(AppError::NotFound)?;
    let in_recovery = couple.partners.iter().find(|p| p.recovery_role == RecoveryRole::InRecovery);
    let supporting = couple.partners.iter().find(|p| p.recovery_role == RecoveryRole::Supporting);
    let recovering = in_recovery.and_then(|r| patients.iter().find(|(slot, _)| *slot == r.slot)).map(|(_, v)| v.clone());
    if let (Some(patient), Some(s)) = (recovering, supporting) {
        entries.add(Uuid::now_v7(), json!({
            "resourceType": "RelatedPerson", "active": true, "patient": patient,
            "relationship": [{
                "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "SIGOTHR", "display": "significant other" }],
                "text": "Supporting partner in couples therapy"
            }],
            "name": [{ "text": s.full_name }],
        }));
    }
    let mut practitioners = Vec::new();
    for m in &couple.care_team {
        let r = entries.add(m.member_id, json!({ "resourceType": "Practitioner", "active": true, "name": [{ "text": m.display_name }] }));
        practitioners.push((m.member_id, r));
    }
    let members: Vec<Value> = patients.iter().map(|(_, r)| json!({ "entity": r })).collect();
    let group = entries.add(couple.id, json!({
        "resourceType": "Group", "type": "person", "actual": true, "name": couple.label,
        "quantity": members.len(), "member": members,
    }));
    Ok(People { group, patients, practitioners, subject: subject_ref })
}

/// The substance-use disorder of the partner in recovery, as the couple
/// record holds it (their role), with the substances of their visible lapses.
async fn condition(seen: &CoupleAccess, subject: PartnerSlot, people: &People, with_lapses: bool, entries: &mut Entries) -> Result<(), AppError> {
    let couple = couples::view(seen).await?;
    if !couple.partners.iter().any(|p| p.slot == subject && p.recovery_role == RecoveryRole::InRecovery) {
        return Ok(());
    }
    let mut substances: Vec<String> = Vec::new();
    if with_lapses {
        for l in lapses::for_sobriety(&seen.db(), seen).await?.visible.into_iter().filter(|l| l.partner == subject) {
            if !substances.contains(&l.substance) {
                substances.push(l.substance);
            }
        }
    }
    let text = if substances.is_empty() { "Substance use disorder".to_owned() } else { format!("Substance use disorder ({})", substances.join(", ")) };
    entries.add(Uuid::now_v7(), json!({
        "resourceType": "Condition",
        "clinicalStatus": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active" }] },
        "verificationStatus": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed" }] },
        "category": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "problem-list-item" }] }],
        "code": text_concept(&text), "subject": people.subject, "recordedDate": couple.care_started_on.to_string(),
    }));
    Ok(())
}

/// The sessions of the couple and of the partner (never the other
/// partner's individual ones): Encounters when sessions are covered; their
/// ids in any case, for reading their notes.
async fn encounters(
    seen: &CoupleAccess,
    subject: PartnerSlot,
    people: &People,
    as_resources: bool,
    now: OffsetDateTime,
    entries: &mut Entries,
) -> Result<Vec<(Uuid, Option<Value>)>, AppError> {
    let found = every(|q| async move { sessions::list(seen, &q).await }).await?;
    let mut out = Vec::new();
    for s in found.into_iter().filter(|s| s.partner.is_none_or(|p| p == subject)) {
        let reference = as_resources.then(|| {
            let subject_ref = if s.partner.is_some() { people.subject.clone() } else { people.group.clone() };
            entries.add(s.id, json!({
                "resourceType": "Encounter",
                "status": if s.ends_at <= now { "finished" } else { "planned" },
                "class": { "system": ACT_CODE, "code": if s.telehealth { "VR" } else { "AMB" } },
                "type": [text_concept(&format!("{} session", display::humanize(&s.kind.as_str())))],
                "subject": subject_ref,
                "period": { "start": instant(s.starts_at), "end": instant(s.ends_at) },
            }))
        });
        out.push((s.id, reference));
    }
    Ok(out)
}

/// Signed notes, the parts the partner may read, as text attachments, each
/// with the Provenance of its signature.
async fn documents(seen: &CoupleAccess, subject: PartnerSlot, people: &People, encounters: &[(Uuid, Option<Value>)], entries: &mut Entries) -> Result<(), AppError> {
    let signed = notes::of_sessions(seen, encounters.iter().map(|(id, _)| *id).collect()).await?;
    for mut note in signed.into_iter().filter(|n| n.status == notes::NoteStatus::Signed) {
        note.content.partner_blocks.retain(|b| b.partner == subject);
        let mut text = prose(&serde_json::to_value(&note.content).map_err(anyhow::Error::from)?);
        for a in &note.addenda {
            text.push_str(&format!("\nAddendum ({}): {}\n{}", instant(a.created_at), a.reason, a.text));
        }
        if text.trim().is_empty() {
            continue;
        }
        let (Some(signer), Some(signed_at)) = (note.signed_by, note.signed_at) else { continue };
        let mut doc = json!({
            "resourceType": "DocumentReference", "status": "current", "docStatus": "final",
            "type": text_concept(&format!("Session note ({})", note.format.as_str().to_uppercase())),
            "subject": people.subject, "date": instant(signed_at),
            "author": [people.member(note.author_id)], "authenticator": people.member(signer),
            "content": [{ "attachment": {
                "contentType": "text/plain; charset=utf-8", "title": "Signed session note",
                "data": base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
            }}],
        });
        if let Some((_, Some(encounter))) = encounters.iter().find(|(id, _)| *id == note.session_id) {
            doc["context"] = json!({ "encounter": [encounter] });
        }
        let target = entries.add(note.id, doc);
        entries.add(Uuid::now_v7(), json!({
            "resourceType": "Provenance", "target": [target], "recorded": instant(signed_at),
            "agent": [{
                "type": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type", "code": "author" }] },
                "who": people.member(signer)
            }],
            "signature": [{
                "type": [{ "system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.1", "display": "Author's Signature" }],
                "when": instant(signed_at), "who": people.member(signer)
            }],
        }));
    }
    Ok(())
}

fn goal(subject: &Value, description: &str, detail: &impl serde::Serialize) -> Value {
    let mut g = json!({ "resourceType": "Goal", "lifecycleStatus": "active", "description": text_concept(description), "subject": subject });
    set(&mut g, "note", serde_json::to_value(detail).ok().and_then(|v| annotation(prose(&v))));
    g
}

/// The relapse-prevention plan and the recovery contract (with its recent
/// check-ins), as the partner may see them.
async fn plan(seen: &CoupleAccess, subject: PartnerSlot, people: &People, today: Date, entries: &mut Entries) -> Result<(), AppError> {
    let patient = people.patient(subject);
    if let Some(p) = if_any(plans::current(seen).await)? {
        let content = serde_json::to_value(&p.content).map_err(anyhow::Error::from)?;
        let reasons = p.content.reasons_for_recovery.as_ref().map(|s| s.items.clone()).unwrap_or_default();
        let goal = entries.add(Uuid::now_v7(), goal(&patient, "Sustained recovery without substance use", &reasons));
        let mut care_plan = json!({
            "resourceType": "CarePlan", "status": "active", "intent": "plan", "title": "Relapse-prevention plan",
            "subject": patient, "created": instant(p.created_at), "author": people.member(p.created_by), "goal": [goal],
        });
        set(&mut care_plan, "period", p.content.review_on.map(|d| json!({ "end": d.to_string() })));
        set(&mut care_plan, "note", annotation(prose(&content)));
        entries.add(Uuid::now_v7(), care_plan);
    }
    let Some(c) = if_any(contract::get(seen).await)? else { return Ok(()) };
    let commitments: Vec<&String> = c.content.meetings.iter().chain(&c.content.other_commitments).chain(&c.content.medication).collect();
    let mut goals = Vec::new();
    for commitment in commitments {
        goals.push(entries.add(Uuid::now_v7(), goal(&people.group, commitment, &Value::Null)));
    }
    let mut care_plan = json!({
        "resourceType": "CarePlan", "status": "active", "intent": "plan", "title": "Recovery contract",
        "description": c.content.intention_statement, "subject": people.group, "created": instant(c.updated_at),
    });
    set(&mut care_plan, "goal", (!goals.is_empty()).then(|| json!(goals)));
    set(&mut care_plan, "note", annotation(prose(&serde_json::to_value(&c.content).map_err(anyhow::Error::from)?)));
    let contract_ref = entries.add(Uuid::now_v7(), care_plan);
    // The last thirteen weeks of check-ins, the most one read gives.
    let from = BoundedDate::new(today - time::Duration::days(91)).map_err(|m| anyhow::anyhow!(m))?;
    let range = DayRange { from: Some(from), to: None };
    for day in contract::days(seen, &range, today).await?.into_iter().filter(|d| d.partner == subject) {
        let check = &day.check_in;
        let mut components = vec![json!({ "code": text_concept("Trust discussion held"), "valueBoolean": check.trust_discussion })];
        for (what, value) in [("Meeting attended", check.meeting_attended), ("Medication taken", check.medication_taken)] {
            if let Some(v) = value {
                components.push(json!({ "code": text_concept(what), "valueBoolean": v }));
            }
        }
        if let Some(t) = check.test {
            components.push(json!({ "code": text_concept("Test"), "valueString": display::humanize(&t.as_str()) }));
        }
        let mut obs = json!({
            "resourceType": "Observation", "status": "final", "basedOn": [contract_ref],
            "category": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "social-history" }] }],
            "code": text_concept("Daily recovery-contract check-in"), "subject": patient,
            "effectiveDateTime": day.day.to_string(), "performer": [people.member(day.recorded_by)], "component": components,
        });
        set(&mut obs, "note", check.note.as_ref().filter(|n| !n.trim().is_empty()).map(|n| json!([{ "text": n }])));
        entries.add(Uuid::now_v7(), obs);
    }
    Ok(())
}

/// The couple's boundary agreements the partner may see, as the Goals of
/// one CarePlan.
async fn boundary_goals(seen: &CoupleAccess, people: &People, entries: &mut Entries) -> Result<(), AppError> {
    let agreements = every(|q| async move { boundaries::list(seen, &q).await }).await?;
    if agreements.is_empty() {
        return Ok(());
    }
    let mut goals = Vec::new();
    for b in &agreements {
        let status = match b.status {
            BoundaryStatus::Proposed | BoundaryStatus::Revised => "proposed",
            BoundaryStatus::Agreed => "active",
            BoundaryStatus::Retired => "cancelled",
        };
        let mut goal = json!({
            "resourceType": "Goal", "lifecycleStatus": status, "description": text_concept(&b.current.statement),
            "subject": people.group, "expressedBy": people.member(b.current.created_by),
            "category": [text_concept(&format!("Boundary: {}", display::humanize(&b.category.as_str())))],
        });
        set(&mut goal, "startDate", b.current.effective_on.map(|d| json!(d.to_string())));
        set(&mut goal, "note", annotation(format!("Held by {}. If it is not kept: {}", display::humanize(&b.holder.as_str()), b.current.consequence)));
        goals.push(entries.add(b.id, goal));
    }
    entries.add(Uuid::now_v7(), json!({
        "resourceType": "CarePlan", "status": "active", "intent": "plan", "title": "Boundary agreements",
        "subject": people.group, "goal": goals,
    }));
    Ok(())
}

async fn lapse_observations(seen: &CoupleAccess, subject: PartnerSlot, people: &People, entries: &mut Entries) -> Result<(), AppError> {
    for l in lapses::for_sobriety(&seen.db(), seen).await?.visible.into_iter().filter(|l| l.partner == subject) {
        let last = l.occurred_on + time::Duration::days(i64::from(l.days.max(1)) - 1);
        let value = match l.amount.as_deref() {
            Some(amount) if !amount.trim().is_empty() => format!("{}: {amount}", l.substance),
            _ => l.substance.clone(),
        };
        let mut obs = json!({
            "resourceType": "Observation", "status": "final",
            "category": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "social-history" }] }],
            "code": text_concept(&display::humanize(&l.kind.as_str())), "subject": people.subject,
            "effectivePeriod": { "start": l.occurred_on.to_string(), "end": last.to_string() }, "valueString": value,
        });
        let detail = json!({ "setting": l.setting, "high_risk_category": l.high_risk_category.map(|c| display::humanize(&c.as_str())), "learned": l.learned });
        set(&mut obs, "note", annotation(prose(&detail)));
        entries.add(l.id, obs);
    }
    Ok(())
}

async fn sobriety(now: OffsetDateTime, seen: &CoupleAccess, subject: PartnerSlot, people: &People, time_zone: &str, entries: &mut Entries) -> Result<(), AppError> {
    let view = milestones::sobriety(now, seen, time_zone).await?;
    let days = |n: u32| json!({ "value": n, "unit": "d", "system": "http://unitsofmeasure.org", "code": "d" });
    let observation = |code: &str, effective: Date, value: (&str, Value)| {
        let mut obs = json!({
            "resourceType": "Observation", "status": "final",
            "category": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "social-history" }] }],
            "code": text_concept(code), "subject": people.subject, "effectiveDateTime": effective.to_string(),
        });
        obs[value.0] = value.1;
        obs
    };
    if let Some(figures) = view.partners.iter().find(|p| p.partner == subject).and_then(|p| p.figures.as_ref()) {
        for (code, n) in [
            ("Current sobriety streak", figures.current_streak_days),
            ("Abstinent days since care started", figures.total_abstinent_days),
            ("Days of use since care started", figures.use_days),
        ] {
            entries.add(Uuid::now_v7(), observation(code, view.today, ("valueQuantity", days(n))));
        }
        for m in &figures.reached {
            entries.add(Uuid::now_v7(), observation("Sobriety milestone reached", m.reached_on, ("valueString", json!(m.label))));
        }
    }
    for m in &view.custom_milestones {
        entries.add(m.id, observation("Milestone", m.achieved_on, ("valueString", json!(m.title))));
    }
    Ok(())
}

/// A consent of the partner with its FHIR provisions: permit, for its
/// period, to its recipient, for its purpose, for its kinds of record.
fn consent_resource(c: &ConsentView, people: &People, practice: &str, today: Date, entries: &mut Entries) {
    let patient = people.patient(c.partner);
    let recipient = match c.recipient_kind {
        RecipientKind::OtherPartner => people.patient(c.partner.other()),
        RecipientKind::Named => json!({ "display": c.recipient_words() }),
    };
    let mut period = Map::new();
    period.insert("start".into(), json!(instant(c.signed_at)));
    if let Some(last) = c.expires_on {
        period.insert("end".into(), json!(last.to_string()));
    }
    let classes: Vec<Value> = c.record_kinds.iter().flat_map(|k| resource_types(*k)).map(|t| json!({ "system": "http://hl7.org/fhir/resource-types", "code": t })).collect();
    let mut dedup: Vec<Value> = Vec::new();
    for class in classes {
        if !dedup.contains(&class) {
            dedup.push(class);
        }
    }
    let mut consent = json!({
        "resourceType": "Consent",
        "status": if c.in_force(today) { "active" } else { "inactive" },
        "scope": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy" }] },
        "category": [{ "coding": [{ "system": "http://loinc.org", "code": "59284-0", "display": "Patient Consent" }] }],
        "patient": patient, "dateTime": instant(c.signed_at), "performer": [patient],
        "organization": [{ "display": practice }],
        "policy": [{ "authority": "https://www.ecfr.gov", "uri": PART_2 }],
        "provision": {
            "type": "permit", "period": period,
            "actor": [{ "role": { "coding": [{ "system": PARTICIPATION, "code": "IRCP", "display": "information recipient" }] }, "reference": recipient }],
            "purpose": [{ "display": c.purpose }],
            "securityLabel": [{ "system": ACT_CODE, "code": "42CFRPart2" }],
            "class": dedup,
            "code": c.record_kinds.iter().map(|k| json!({ "text": k.words() })).collect::<Vec<_>>(),
        },
    });
    if let Some(event) = c.expiry_event.as_ref().filter(|e| !e.trim().is_empty()) {
        // FHIR's Consent has no element for an expiry that is an event.
        consent["extension"] = json!([{ "url": "urn:tandem:consent-expiry-event", "valueString": event }]);
    }
    let target = entries.add(c.id, consent);
    entries.add(Uuid::now_v7(), json!({
        "resourceType": "Provenance", "target": [target], "recorded": instant(c.signed_at),
        "agent": [{
            "type": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type", "code": "author" }] },
            "who": patient
        }],
    }));
}

/// The FHIR resource types a kind of record is exported as.
fn resource_types(kind: RecordKind) -> &'static [&'static str] {
    match kind {
        RecordKind::Lapses | RecordKind::Sobriety => &["Observation"],
        RecordKind::Plan | RecordKind::SafetyPlans | RecordKind::Boundaries => &["CarePlan", "Goal"],
        RecordKind::Sessions => &["Encounter"],
        RecordKind::Notes => &["DocumentReference"],
    }
}

/// A disclosure in the register.
fn audit_event(d: &DisclosureView, people: &People, practice: &str, consents: &[ConsentView], entries: &mut Entries) {
    let mut entities = vec![json!({ "what": people.patient(d.partner), "description": d.what })];
    if consents.iter().any(|c| c.id == d.consent_id) {
        entities.push(json!({ "what": { "reference": format!("urn:uuid:{}", d.consent_id) } }));
    }
    entries.add(d.id, json!({
        "resourceType": "AuditEvent",
        "type": { "system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110106", "display": "Export" },
        "subtype": [{ "system": "urn:tandem:disclosure-channel", "code": d.channel.as_str() }],
        "action": "R", "recorded": instant(d.disclosed_at), "outcome": "0",
        "purposeOfEvent": [text_concept(&d.purpose)],
        "agent": [
            { "who": people.member(d.disclosed_by), "requestor": true },
            {
                "type": { "coding": [{ "system": PARTICIPATION, "code": "IRCP", "display": "information recipient" }] },
                "who": { "display": d.recipient }, "requestor": false
            }
        ],
        "source": { "observer": { "display": practice } },
        "entity": entities,
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_names_each_part_and_leaves_out_audiences_and_empty_text() {
        let section = json!({
            "sections": {"plan": {"text": "Call Luis before family calls", "audience": "couple"}},
            "homework": {"text": "  ", "audience": "couple"},
            "goals_addressed": ["Sleep"], "goals_audience": "clinician",
            "reasons": {"items": ["Lucía"], "audience": "couple"}, "done": true
        });
        let text = prose(&section);
        assert_eq!(text.lines().collect::<Vec<_>>(), ["Done: yes", "Goals addressed: Sleep", "Reasons: Lucía", "Plan: Call Luis before family calls"]);
        assert!(!text.contains("couple") && !text.contains("clinician"));
        assert_eq!(prose(&json!(["a", "b"])), "a\nb");
        assert_eq!(annotation(prose(&Value::Null)), None, "no empty note");
    }

    #[test]
    fn every_resource_is_labelled_and_addressed_by_urn() {
        let mut entries = Entries::default();
        let id = Uuid::now_v7();
        let reference = entries.add(id, json!({"resourceType": "Patient"}));
        assert_eq!(reference, json!({"reference": format!("urn:uuid:{id}")}));
        let entry = &entries.0[0];
        assert_eq!(entry["fullUrl"], format!("urn:uuid:{id}"));
        let labels = entry["resource"]["meta"]["security"].as_array().unwrap();
        assert!(labels.iter().any(|l| l["system"] == CONFIDENTIALITY && l["code"] == "R"));
        assert!(labels.iter().any(|l| l["system"] == ACT_CODE && l["code"] == "42CFRPart2"));
    }
}
