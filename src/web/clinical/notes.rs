//! Session notes: writing a draft (SOAP, DAP or BIRP, with a block per
//! partner and an audience for each part), signing it, which makes it final,
//! addenda to a signed note, and a supervisor's co-signature.

use crate::records::couples::CoupleId;
use std::collections::BTreeMap;

use askama::Template;
use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect},
};
use serde::Deserialize;
use tower_sessions::Session;
use uuid::Uuid;

use super::{
    Chrome, CoupleContext, PageResult, Rejected, STALE, again,
    editing::parse_version,
    forms::{self, choices, humanize, nth, opt, pick_required},
};
use crate::{
    state::AppState,
    access::{self, Need},
    web::Path,
    audit::AuditContext,
    web::{CsrfForm, SignedIn},
    error::AppError,
    practice::Fields,
    records::{
        common::{Audience, IfMatch, PartnerSlot, StoredEnum},
        notes::{self, AddendumInput, NoteContent, NoteFormat, NoteInput, NoteStatus, NoteView, PartnerBlock, RiskLevel, RiskScreen, Section},
        sessions,
    },
    web::{local_time, render, templates::{Choice, FormErrors, Nav}},
};

/// What a partner reads of a signed note: the parts shared with them.
pub fn shared_parts(n: &NoteView) -> Vec<(String, String)> {
    let mut parts: Vec<(String, String)> = n.content.sections.iter().map(|(k, s)| (humanize(k), s.text.clone())).collect();
    if let Some(h) = &n.content.homework {
        parts.push(("Homework".into(), h.text.clone()));
    }
    if !n.content.goals_addressed.is_empty() {
        parts.push(("Goals addressed".into(), n.content.goals_addressed.join("; ")));
    }
    parts.extend(n.addenda.iter().map(|a| (format!("Addendum: {}", a.reason), a.text.clone())));
    parts
}

// ---- the form --------------------------------------------------------------------

/// The note form. Sections are named as the API names them; partner
/// blocks come in slot order (a, then b).
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct NoteForm {
    pub version: String,
    pub format: String,
    pub subjective: String,
    pub objective: String,
    pub assessment: String,
    pub plan: String,
    pub data: String,
    pub behavior: String,
    pub intervention: String,
    pub response: String,
    pub subjective_audience: String,
    pub objective_audience: String,
    pub assessment_audience: String,
    pub plan_audience: String,
    pub data_audience: String,
    pub behavior_audience: String,
    pub intervention_audience: String,
    pub response_audience: String,
    pub homework: String,
    pub homework_audience: String,
    pub goals: String,
    pub goals_audience: String,
    pub pb_use: Vec<String>,
    pub pb_mood: Vec<String>,
    pub pb_self_harm: Vec<String>,
    pub pb_partner_violence: Vec<String>,
    pub pb_risk_notes: Vec<String>,
    pub pb_audience: Vec<String>,
    /// Set by a format button: show the form in that format, save nothing.
    pub switch_to: String,
}

impl NoteForm {
    /// The same note in `to`'s sections. Text of a section `to` does not
    /// have moves, under its old name, into `to`'s first section, which then
    /// keeps the narrowest audience of what it holds (clinician unless all
    /// agree), so switching never shows anyone what was not theirs.
    fn switch_to(&mut self, to: NoteFormat) {
        let from = self.format();
        if from == to {
            return;
        }
        let first = to.sections()[0];
        let (own_text, own_audience) = self.section(first);
        let (own_text, own_audience) = (own_text.to_owned(), own_audience.to_owned());
        let (mut parts, mut audiences) = (Vec::new(), Vec::new());
        if !own_text.trim().is_empty() {
            parts.push(own_text.trim().to_owned());
            audiences.push(own_audience.to_owned());
        }
        for key in from.sections().iter().filter(|k| !to.sections().contains(k)) {
            let (text, audience) = self.section(key);
            if !text.trim().is_empty() {
                parts.push(format!("{}: {}", humanize(key), text.trim()));
                audiences.push(audience.to_owned());
            }
            self.set_section(key, String::new(), Audience::Clinician.as_str());
        }
        let audience = match audiences.first() {
            Some(a) if audiences.iter().all(|b| b == a) => a.clone(),
            Some(_) => Audience::Clinician.as_str(),
            None => own_audience,
        };
        self.set_section(first, parts.join("\n\n"), audience);
        self.format = to.as_str();
    }

    fn section(&self, key: &str) -> (&str, &str) {
        match key {
            "subjective" => (&self.subjective, &self.subjective_audience),
            "objective" => (&self.objective, &self.objective_audience),
            "assessment" => (&self.assessment, &self.assessment_audience),
            "plan" => (&self.plan, &self.plan_audience),
            "data" => (&self.data, &self.data_audience),
            "behavior" => (&self.behavior, &self.behavior_audience),
            "intervention" => (&self.intervention, &self.intervention_audience),
            _ => (&self.response, &self.response_audience),
        }
    }

    fn set_section(&mut self, key: &str, text: String, audience: String) {
        let (t, a) = match key {
            "subjective" => (&mut self.subjective, &mut self.subjective_audience),
            "objective" => (&mut self.objective, &mut self.objective_audience),
            "assessment" => (&mut self.assessment, &mut self.assessment_audience),
            "plan" => (&mut self.plan, &mut self.plan_audience),
            "data" => (&mut self.data, &mut self.data_audience),
            "behavior" => (&mut self.behavior, &mut self.behavior_audience),
            "intervention" => (&mut self.intervention, &mut self.intervention_audience),
            _ => (&mut self.response, &mut self.response_audience),
        };
        *t = text;
        *a = audience;
    }

    fn blank(format: NoteFormat) -> Self {
        let clinician = Audience::Clinician.as_str();
        let mut form = NoteForm {
            format: format.as_str(),
            homework_audience: Audience::Couple.as_str(),
            goals_audience: clinician.clone(),
            pb_audience: vec![clinician.clone(), clinician.clone()],
            pb_self_harm: vec!["none".into(), "none".into()],
            pb_partner_violence: vec!["none".into(), "none".into()],
            ..NoteForm::default()
        };
        for key in ALL_SECTIONS {
            form.set_section(key, String::new(), clinician.clone());
        }
        form
    }

    fn of(n: &NoteView) -> Self {
        let mut form = NoteForm::blank(n.format);
        form.version = n.version.to_string();
        for (key, s) in &n.content.sections {
            form.set_section(key, s.text.clone(), s.audience.as_str());
        }
        if let Some(h) = &n.content.homework {
            form.homework = h.text.clone();
            form.homework_audience = h.audience.as_str();
        }
        form.goals = n.content.goals_addressed.join("\n");
        form.goals_audience = n.content.goals_audience.as_str();
        for (i, slot) in [PartnerSlot::A, PartnerSlot::B].into_iter().enumerate() {
            if let Some(b) = n.content.partner_blocks.iter().find(|b| b.partner == slot) {
                form.pb_use.resize(2, String::new());
                form.pb_mood.resize(2, String::new());
                form.pb_risk_notes.resize(2, String::new());
                form.pb_use[i] = b.use_since_last_session.clone().unwrap_or_default();
                form.pb_mood[i] = b.mood.clone().unwrap_or_default();
                form.pb_audience[i] = b.audience.as_str();
                if let Some(r) = &b.risk {
                    form.pb_self_harm[i] = r.self_harm.as_str();
                    form.pb_partner_violence[i] = r.partner_violence.as_str();
                    form.pb_risk_notes[i] = r.notes.clone().unwrap_or_default();
                }
            }
        }
        form
    }

    fn format(&self) -> NoteFormat {
        forms::pick(&self.format).ok().flatten().unwrap_or(NoteFormat::Soap)
    }

    fn input(&self) -> Result<NoteInput, AppError> {
        let mut f = Fields::default();
        let format = f.check("format", pick_required::<NoteFormat>(&self.format));
        let mut sections = BTreeMap::new();
        for key in format.map(NoteFormat::sections).unwrap_or_default() {
            let (text, audience) = self.section(key);
            let audience = f.check(&format!("content.sections.{key}.audience"), pick_required::<Audience>(audience));
            if let (false, Some(audience)) = (text.trim().is_empty(), audience) {
                sections.insert((*key).to_owned(), Section { text: text.to_owned(), audience });
            }
        }
        let homework_audience = f.check("content.homework.audience", pick_required::<Audience>(&self.homework_audience));
        let goals_audience = f.check("content.goals_audience", pick_required::<Audience>(&self.goals_audience));
        let mut partner_blocks = Vec::new();
        for (i, slot) in [PartnerSlot::A, PartnerSlot::B].into_iter().enumerate() {
            let (used, mood, notes) = (nth(&self.pb_use, i), nth(&self.pb_mood, i), nth(&self.pb_risk_notes, i));
            let p = |field: &str| format!("content.partner_blocks[{i}].{field}");
            let self_harm = f.check(&p("risk.self_harm"), forms::pick::<RiskLevel>(nth(&self.pb_self_harm, i)));
            let violence = f.check(&p("risk.partner_violence"), forms::pick::<RiskLevel>(nth(&self.pb_partner_violence, i)));
            let audience = f.check(&p("audience"), pick_required::<Audience>(nth(&self.pb_audience, i)));
            let (Some(self_harm), Some(violence), Some(audience)) = (self_harm, violence, audience) else { continue };
            let risk = match (self_harm, violence, opt(notes)) {
                (None | Some(RiskLevel::None), None | Some(RiskLevel::None), None) => None,
                (s, v, notes) => Some(RiskScreen { self_harm: s.unwrap_or(RiskLevel::None), partner_violence: v.unwrap_or(RiskLevel::None), notes }),
            };
            if used.trim().is_empty() && mood.trim().is_empty() && risk.is_none() {
                continue;
            }
            partner_blocks.push(PartnerBlock { partner: slot, use_since_last_session: opt(used), risk, mood: opt(mood), audience });
        }
        f.finish_with(|| {
            let homework_audience = homework_audience?;
            Some(NoteInput {
                format: format?,
                content: NoteContent {
                    sections,
                    partner_blocks,
                    homework: opt(&self.homework).map(|text| Section { text, audience: homework_audience }),
                    goals_addressed: forms::lines(&self.goals),
                    goals_audience: goals_audience?,
                },
            })
        })
    }
}

const ALL_SECTIONS: [&str; 8] = ["subjective", "objective", "assessment", "plan", "data", "behavior", "intervention", "response"];

pub struct SectionField {
    pub name: &'static str,
    pub title: String,
    pub text: String,
    pub audience_name: String,
    pub audiences: Vec<Choice>,
}

pub struct PartnerBlockField {
    pub legend: String,
    pub used: String,
    pub mood: String,
    pub self_harm: Vec<Choice>,
    pub partner_violence: Vec<Choice>,
    pub risk_notes: String,
    pub audiences: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "note_form.html")]
pub struct NoteFormPage {
    pub nav: Option<Nav>,
    pub csrf_token: String,
    pub couple: CoupleContext,
    pub action: String,
    pub session_when: String,
    pub version: String,
    pub format: String,
    /// The last signed note's plan and homework (new notes only): when, plan, homework.
    pub carried: Option<(String, Option<String>, Option<String>)>,
    /// The formats a new note can switch to, keeping its text: value, name, current.
    pub formats: Vec<(String, String, bool)>,
    pub sections: Vec<SectionField>,
    pub blocks: Vec<PartnerBlockField>,
    pub homework: String,
    pub homework_audiences: Vec<Choice>,
    pub goals: String,
    pub goals_audiences: Vec<Choice>,
    pub errors: FormErrors,
    /// The draft as someone else saved it while this form was open.
    pub theirs: Option<Vec<(String, String)>>,
}

const RISK: [RiskLevel; 4] = [RiskLevel::None, RiskLevel::Low, RiskLevel::Moderate, RiskLevel::High];

fn form_page(chrome: Chrome, couple: CoupleContext, action: String, session_when: String, form: NoteForm, new_for: Option<Uuid>, errors: FormErrors) -> NoteFormPage {
    let format = form.format();
    let formats = match new_for {
        Some(_) => [NoteFormat::Soap, NoteFormat::Dap, NoteFormat::Birp]
            .into_iter()
            .map(|f| (f.as_str(), f.as_str().to_uppercase(), f == format))
            .collect(),
        None => Vec::new(),
    };
    NoteFormPage {
        nav: chrome.nav,
        csrf_token: chrome.csrf_token,
        action,
        session_when,
        version: form.version.clone(),
        format: format.as_str(),
        formats,
        sections: form.section_fields(&couple.names),
        blocks: form.partner_block_fields(&couple.names),
        homework: form.homework.clone(),
        homework_audiences: forms::audience_choices(&couple.names, &form.homework_audience),
        goals: form.goals.clone(),
        goals_audiences: forms::audience_choices(&couple.names, &form.goals_audience),
        errors,
        theirs: None,
        carried: None,
        couple,
    }
}

impl NoteForm {
    /// The sections of the note's format, as sent (or stored), each with
    /// who may read it.
    fn section_fields(&self, names: &forms::PartnerNames) -> Vec<SectionField> {
        self.format()
            .sections()
            .iter()
            .map(|key| {
                let (text, audience) = self.section(key);
                SectionField {
                    name: key,
                    title: humanize(key),
                    text: text.to_owned(),
                    audience_name: format!("{key}_audience"),
                    audiences: forms::audience_choices(names, audience),
                }
            })
            .collect()
    }

    /// One block per partner: use, mood and risk since the last session.
    fn partner_block_fields(&self, names: &forms::PartnerNames) -> Vec<PartnerBlockField> {
        [PartnerSlot::A, PartnerSlot::B]
            .into_iter()
            .enumerate()
            .map(|(i, slot)| PartnerBlockField {
                legend: names.of(slot).to_owned(),
                used: nth(&self.pb_use, i).to_owned(),
                mood: nth(&self.pb_mood, i).to_owned(),
                self_harm: choices(&RISK, nth(&self.pb_self_harm, i)),
                partner_violence: choices(&RISK, nth(&self.pb_partner_violence, i)),
                risk_notes: nth(&self.pb_risk_notes, i).to_owned(),
                audiences: forms::audience_choices(names, nth(&self.pb_audience, i)),
            })
            .collect()
    }
}

#[derive(Deserialize, Default)]
pub struct FormatQuery {
    #[serde(default)]
    format: String,
}

/// Which note form: a new note for a session, or a draft being edited.
#[derive(Clone, Copy)]
enum Target {
    New { session_id: Uuid },
    Edit { session_id: Uuid, note_id: Uuid },
}

/// The note form page, with the couple, the session's time and where the form posts.
async fn note_form(
    session: &Session,
    current: &crate::auth::CurrentMember,
    access: &crate::access::CoupleAccess,
    target: Target,
    form: NoteForm,
    errors: FormErrors,
) -> Result<NoteFormPage, AppError> {
    let couple = CoupleContext::of(access, current).await?;
    let (session_id, action, new_for) = match target {
        Target::New { session_id } => (session_id, format!("{}/sessions/{session_id}/notes", couple.href()), Some(session_id)),
        Target::Edit { session_id, note_id } => (session_id, format!("{}/notes/{note_id}", couple.href()), None),
    };
    let when = local_time(sessions::get(access, session_id).await?.starts_at, &couple.time_zone);
    // A new note starts from what the last one left the couple with.
    let carried = match new_for {
        Some(_) => match notes::carried_forward(access, session_id).await? {
            Some(c) => Some((local_time(sessions::get(access, c.session_id).await?.starts_at, &couple.time_zone), c.plan, c.homework)),
            None => None,
        },
        None => None,
    };
    let chrome = Chrome::of(session, current).await?;
    Ok(NoteFormPage { carried, ..form_page(chrome, couple, action, when, form, new_for, errors) })
}

pub async fn new_form(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path((couple_id, session_id)): Path<(CoupleId, Uuid)>,
    Query(query): Query<FormatQuery>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    let format = forms::pick::<NoteFormat>(&query.format).ok().flatten().unwrap_or(NoteFormat::Soap);
    let page = note_form(&session, &current, &access, Target::New { session_id }, NoteForm::blank(format), FormErrors::default()).await?;
    Ok(render(&page))
}

pub async fn create(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path((couple_id, session_id)): Path<(CoupleId, Uuid)>,
    CsrfForm(form): CsrfForm<NoteForm>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    if let Ok(Some(to)) = forms::pick::<NoteFormat>(&form.switch_to) {
        // Another format, with what was typed so far: nothing is saved.
        let mut form = form;
        form.switch_to(to);
        form.switch_to.clear();
        return Ok(render(&note_form(&session, &current, &access, Target::New { session_id }, form, FormErrors::default()).await?).into_response());
    }
    let result = match form.input() {
        Ok(input) => notes::create(state.clock.now(), &access, session_id, input).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(note) => {
            audit.created(note.id);
            Ok(Redirect::to(&format!("/couples/{couple_id}/notes/{}", note.id)).into_response())
        }
        Err(err) => {
            let Rejected::Invalid(errors) = Rejected::from(err)? else { return Err(AppError::PreconditionFailed.into()) };
            let page = note_form(&session, &current, &access, Target::New { session_id }, form, errors).await?;
            Ok(again(StatusCode::UNPROCESSABLE_ENTITY, render(&page)))
        }
    }
}

pub async fn edit_form(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path((couple_id, note_id)): Path<(CoupleId, Uuid)>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    let note = notes::get(&access, note_id).await?;
    if note.status == NoteStatus::Signed {
        return Ok(Redirect::to(&format!("/couples/{couple_id}/notes/{note_id}")).into_response());
    }
    let target = Target::Edit { session_id: note.session_id, note_id };
    Ok(render(&note_form(&session, &current, &access, target, NoteForm::of(&note), FormErrors::default()).await?))
}

pub async fn update(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path((couple_id, note_id)): Path<(CoupleId, Uuid)>,
    CsrfForm(form): CsrfForm<NoteForm>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    let version = parse_version(&form.version)?;
    let result = match form.input() {
        Ok(input) => notes::update(state.clock.now(), &access, note_id, IfMatch(version), input).await,
        Err(err) => Err(err),
    };
    let rejected = match result {
        Ok(_) => return Ok(Redirect::to(&format!("/couples/{couple_id}/notes/{note_id}")).into_response()),
        Err(err) => Rejected::from(err)?,
    };
    let theirs = notes::get(&access, note_id).await?;
    let target = Target::Edit { session_id: theirs.session_id, note_id };
    Ok(match rejected {
        Rejected::Invalid(errors) => again(StatusCode::UNPROCESSABLE_ENTITY, render(&note_form(&session, &current, &access, target, form, errors).await?)),
        Rejected::Stale => {
            let mut form = form;
            form.version = theirs.version.to_string();
            let mut page = note_form(&session, &current, &access, target, form, FormErrors::form(STALE)).await?;
            page.theirs = Some(theirs.content.sections.iter().map(|(k, s)| (humanize(k), s.text.clone())).collect());
            again(StatusCode::CONFLICT, render(&page))
        }
    })
}

// ---- reading, signing, addenda -----------------------------------------------------

pub struct PartView {
    pub title: String,
    pub text: String,
    pub audience: String,
}

#[derive(Template)]
#[template(path = "note.html")]
pub struct NotePage {
    pub nav: Option<Nav>,
    pub csrf_token: String,
    pub couple: CoupleContext,
    pub id: Uuid,
    pub session_when: String,
    pub format: String,
    pub status: String,
    pub draft: bool,
    pub version: i32,
    pub signed: String,
    pub cosigned: String,
    pub can_edit: bool,
    pub can_cosign: bool,
    pub parts: Vec<PartView>,
    pub addenda: Vec<PartView>,
    pub addendum_reason: String,
    pub addendum_text: String,
    pub addendum_audiences: Vec<Choice>,
    pub errors: FormErrors,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct AddendumForm {
    reason: String,
    text: String,
    audience: String,
}

async fn note_page(
    session: &Session,
    current: &crate::auth::CurrentMember,
    access: &crate::access::CoupleAccess,
    note_id: Uuid,
    addendum: AddendumForm,
    errors: FormErrors,
) -> Result<NotePage, AppError> {
    let couple = CoupleContext::of(access, current).await?;
    let note = notes::get(access, note_id).await?;
    let s = sessions::get(access, note.session_id).await?;
    let tz = couple.time_zone.clone();
    let names = couple.names.clone();
    let (parts, addenda) = parts_of(&note, &names, &tz);
    let draft = note.status == NoteStatus::Draft;
    let chrome = Chrome::of(session, current).await?;
    Ok(NotePage {
        nav: chrome.nav,
        csrf_token: chrome.csrf_token,
        id: note.id,
        session_when: local_time(s.starts_at, &tz),
        format: note.format.as_str().to_uppercase(),
        status: forms::label(note.status),
        draft,
        version: note.version,
        signed: note.signed_at.map(|t| local_time(t, &tz)).unwrap_or_default(),
        cosigned: note.cosigned_at.map(|t| local_time(t, &tz)).unwrap_or_default(),
        can_edit: couple.care_team && draft && note.author_id == current.id(),
        can_cosign: couple.supervisor && !draft && note.cosigned_at.is_none(),
        parts,
        addenda,
        addendum_audiences: forms::audience_choices(&names, if addendum.audience.is_empty() { "clinician" } else { &addendum.audience }),
        addendum_reason: addendum.reason,
        addendum_text: addendum.text,
        errors,
        couple,
    })
}

/// A note's parts as the page lists them, each with who may read it: its
/// sections in the format's order, the partners' blocks, homework and goals;
/// then its addenda, each titled by its reason and time.
fn parts_of(note: &NoteView, names: &forms::PartnerNames, tz: &str) -> (Vec<PartView>, Vec<PartView>) {
    let mut parts: Vec<PartView> = note
        .format
        .sections()
        .iter()
        .filter_map(|key| note.content.sections.get(*key).map(|s| (key, s)))
        .map(|(key, s)| PartView { title: humanize(key), text: s.text.clone(), audience: names.audience(s.audience) })
        .collect();
    for b in &note.content.partner_blocks {
        let mut lines = Vec::new();
        if let Some(u) = &b.use_since_last_session {
            lines.push(format!("Use since last session: {u}"));
        }
        if let Some(m) = &b.mood {
            lines.push(format!("Mood: {m}"));
        }
        if let Some(r) = &b.risk {
            lines.push(format!(
                "Risk: self-harm {}, partner violence {}{}",
                r.self_harm.as_str(),
                r.partner_violence.as_str(),
                r.notes.as_ref().map(|n| format!(" ({n})")).unwrap_or_default()
            ));
        }
        parts.push(PartView { title: names.of(b.partner).to_owned(), text: lines.join("\n"), audience: names.audience(b.audience) });
    }
    if let Some(h) = &note.content.homework {
        parts.push(PartView { title: "Homework".into(), text: h.text.clone(), audience: names.audience(h.audience) });
    }
    if !note.content.goals_addressed.is_empty() {
        parts.push(PartView {
            title: "Goals addressed".into(),
            text: note.content.goals_addressed.join("\n"),
            audience: names.audience(note.content.goals_audience),
        });
    }
    let addenda = note
        .addenda
        .iter()
        .map(|a| PartView { title: format!("{} ({})", a.reason, local_time(a.created_at, tz)), text: a.text.clone(), audience: names.audience(a.audience) })
        .collect();
    (parts, addenda)
}

pub async fn page(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path((couple_id, note_id)): Path<(CoupleId, Uuid)>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(render(&note_page(&session, &current, &access, note_id, AddendumForm::default(), FormErrors::default()).await?))
}

#[derive(Deserialize)]
pub struct VersionForm {
    version: i32,
}

pub async fn sign(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path((couple_id, note_id)): Path<(CoupleId, Uuid)>,
    CsrfForm(form): CsrfForm<VersionForm>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    notes::sign(state.clock.now(), &access, note_id, IfMatch(form.version)).await?;
    Ok(Redirect::to(&format!("/couples/{couple_id}/notes/{note_id}")).into_response())
}

pub async fn cosign(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path((couple_id, note_id)): Path<(CoupleId, Uuid)>,
    CsrfForm(_): CsrfForm<crate::web::CsrfOnly>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Cosign).await?;
    notes::cosign(state.clock.now(), &access, note_id).await?;
    Ok(Redirect::to(&format!("/couples/{couple_id}/notes/{note_id}")).into_response())
}

pub async fn add_addendum(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path((couple_id, note_id)): Path<(CoupleId, Uuid)>,
    CsrfForm(form): CsrfForm<AddendumForm>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    let audience = forms::pick_required::<Audience>(&form.audience).map_err(|m| AppError::invalid("audience", &m));
    let result = match audience {
        Ok(audience) => notes::add_addendum(state.clock.now(), &access, note_id, AddendumInput { reason: form.reason.clone(), text: form.text.clone(), audience }).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/couples/{couple_id}/notes/{note_id}#addenda")).into_response()),
        Err(err) => {
            let Rejected::Invalid(errors) = Rejected::from(err)? else { return Err(AppError::PreconditionFailed.into()) };
            let page = note_page(&session, &current, &access, note_id, form, errors).await?;
            Ok(again(StatusCode::UNPROCESSABLE_ENTITY, render(&page)))
        }
    }
}
