//! Therapy sessions: when, what kind, who came.

use askama::Template;
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

use super::{
    CoupleContext,
    editing::{EditableRecord, FormPage, html, version_field},
    forms::{self, choices, pick, pick_required},
};
use crate::input::BoundedDateTime;
use crate::{
    state::AppState,
    access::CoupleAccess,
    error::AppError,
    practice::Fields,
    records::{
        common::{IfMatch, PartnerSlot, StoredEnum},
        sessions::{self, Modality, SessionInput, SessionKind, SessionView},
    },
    web::{local_time, templates::{Choice, Nav}},
};

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct SessionForm {
    pub version: String,
    pub starts_at: String,
    pub minutes: String,
    pub kind: String,
    pub partner: String,
    pub modality: String,
    /// One name per line.
    pub attendees: String,
    pub location: String,
    pub telehealth: String,
}

version_field!(SessionForm);

impl SessionForm {
    fn input(&self, couple: &CoupleContext) -> Result<SessionInput, AppError> {
        let mut f = Fields::default();
        let starts_at = f.check("starts_at", forms::local_datetime(&self.starts_at, &couple.time_zone));
        let minutes = f.check(
            "minutes",
            match self.minutes.trim().parse::<i64>() {
                Ok(m @ 1..=600) => Ok(m),
                _ => Err("give the length in minutes (1-600)".to_owned()),
            },
        );
        let kind = f.check("kind", pick_required::<SessionKind>(&self.kind));
        let partner = f.check("partner", pick::<PartnerSlot>(&self.partner));
        let modality = f.check("modality", pick_required::<Modality>(&self.modality));
        let ends_at = match (starts_at, minutes) {
            (Some(start), Some(m)) => f.check("minutes", BoundedDateTime::new(start.get() + time::Duration::minutes(m))),
            _ => None,
        };
        f.finish_with(|| {
            Some(SessionInput {
                starts_at: starts_at?,
                ends_at: ends_at?,
                kind: kind?,
                partner: partner?,
                modality: modality?,
                attendees: forms::lines(&self.attendees),
                location: forms::opt(&self.location),
                telehealth: self.telehealth == "yes",
            })
        })
    }
}

#[derive(Template)]
#[template(path = "session_form.html")]
pub struct SessionFormPage {
    pub nav: Option<Nav>,
    pub page: FormPage<SessionForm>,
    pub kinds: Vec<Choice>,
    pub partners: Vec<Choice>,
    pub modalities: Vec<Choice>,
    /// When the version that won a race starts, and how it is set up.
    pub theirs: Option<String>,
}

pub struct Sessions;

#[async_trait::async_trait]
impl EditableRecord for Sessions {
    type Form = SessionForm;
    type View = SessionView;
    const SEGMENT: &'static str = "sessions";

    fn blank(couple: &CoupleContext) -> SessionForm {
        SessionForm {
            minutes: "50".into(),
            kind: "joint".into(),
            modality: "behavioral_couples_therapy".into(),
            attendees: format!("{}\n{}", couple.names.a, couple.names.b),
            ..SessionForm::default()
        }
    }
    fn form_of(s: &SessionView, couple: &CoupleContext) -> SessionForm {
        SessionForm {
            version: s.version.to_string(),
            starts_at: forms::datetime_input(s.starts_at, &couple.time_zone),
            minutes: (s.ends_at - s.starts_at).whole_minutes().to_string(),
            kind: s.kind.as_str(),
            partner: s.partner.map(|p| p.as_str()).unwrap_or_default(),
            modality: s.modality.as_str(),
            attendees: s.attendees.join("\n"),
            location: s.location.clone().unwrap_or_default(),
            telehealth: if s.telehealth { "yes" } else { "" }.into(),
        }
    }
    async fn load(access: &CoupleAccess, id: Uuid) -> Result<SessionView, AppError> {
        sessions::get(access, id).await
    }
    async fn create(state: &AppState, access: &CoupleAccess, couple: &CoupleContext, form: &SessionForm) -> Result<SessionView, AppError> {
        sessions::create(state.clock.now(), access, form.input(couple)?).await
    }
    async fn update(
        state: &AppState,
        access: &CoupleAccess,
        couple: &CoupleContext,
        id: Uuid,
        version: IfMatch,
        form: &SessionForm,
    ) -> Result<SessionView, AppError> {
        sessions::update(state.clock.now(), access, id, version, form.input(couple)?).await
    }

    fn render(page: FormPage<SessionForm>, theirs: Option<SessionView>) -> Response {
        let v = &page.values;
        let kinds = choices(&[SessionKind::Joint, SessionKind::Individual, SessionKind::Collateral], &v.kind);
        let mut partners = vec![Choice { value: String::new(), label: "Not an individual session".into(), selected: v.partner.is_empty() }];
        partners.extend(page.couple.names.partner_choices(&v.partner));
        let modalities = choices(&[Modality::BehavioralCouplesTherapy, Modality::RelapsePrevention, Modality::Craft, Modality::Other], &v.modality);
        let theirs = theirs.map(|s| {
            format!(
                "{}, {} minutes, {}",
                local_time(s.starts_at, &page.couple.time_zone),
                (s.ends_at - s.starts_at).whole_minutes(),
                forms::label(s.kind).to_lowercase()
            )
        });
        html(&SessionFormPage { nav: page.chrome.nav.clone(), kinds, partners, modalities, theirs, page })
    }
}
