//! Boundaries: proposing one, rewording it (both partners agree again),
//! each partner's agreement, and retiring it.

use crate::records::couples::CoupleId;
use askama::Template;
use axum::{
    extract::State,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    CoupleContext, PageResult,
    editing::{EditableRecord, FormPage, html, parse_version, version_field},
    forms::{self, choices, pick, pick_required},
};
use crate::{
    state::AppState,
    access::{self, CoupleAccess, Need},
    web::Path,
    audit::AuditContext,
    web::{CsrfForm, SignedIn},
    error::AppError,
    practice::Fields,
    records::{
        boundaries::{self, AgreeInput, BoundaryCategory, BoundaryInput, BoundaryView, Holder},
        common::{Audience, IfMatch, PartnerSlot, StoredEnum},
    },
    web::templates::{Choice, Nav},
};

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct BoundaryForm {
    pub version: String,
    pub holder: String,
    pub category: String,
    pub statement: String,
    pub consequence: String,
    pub effective_on: String,
    pub review_on: String,
    pub audience: String,
}

version_field!(BoundaryForm);

impl BoundaryForm {
    fn of(b: &BoundaryView) -> Self {
        Self {
            version: b.version.to_string(),
            holder: b.holder.as_str(),
            category: b.category.as_str(),
            statement: b.current.statement.clone(),
            consequence: b.current.consequence.clone(),
            effective_on: forms::show_date(b.current.effective_on),
            review_on: forms::show_date(b.current.review_on),
            audience: b.audience.as_str(),
        }
    }

    fn input(&self) -> Result<BoundaryInput, AppError> {
        let mut f = Fields::default();
        let holder = f.check("holder", pick_required::<Holder>(&self.holder));
        let category = f.check("category", pick_required::<BoundaryCategory>(&self.category));
        let effective_on = f.check("effective_on", forms::date(&self.effective_on));
        let review_on = f.check("review_on", forms::date(&self.review_on));
        let audience = f.check("audience", pick::<Audience>(&self.audience));
        f.finish_with(|| {
            Some(BoundaryInput {
                holder: holder?,
                category: category?,
                statement: self.statement.clone(),
                consequence: self.consequence.clone(),
                effective_on: effective_on?,
                review_on: review_on?,
                audience: audience?,
            })
        })
    }
}

#[derive(Template)]
#[template(path = "boundary_form.html")]
pub struct BoundaryFormPage {
    pub nav: Option<Nav>,
    pub page: FormPage<BoundaryForm>,
    pub holders: Vec<Choice>,
    pub categories: Vec<Choice>,
    pub audiences: Vec<Choice>,
    /// The wording someone else saved while this form was open.
    pub theirs: Option<BoundaryView>,
}

const CATEGORIES: [BoundaryCategory; 7] = [
    BoundaryCategory::Money,
    BoundaryCategory::SubstancesAtHome,
    BoundaryCategory::ContactWithPeopleWhoUse,
    BoundaryCategory::HonestyAndDisclosure,
    BoundaryCategory::SelfCare,
    BoundaryCategory::ContactAndSeparation,
    BoundaryCategory::Safety,
];

pub struct Boundaries;

#[async_trait::async_trait]
impl EditableRecord for Boundaries {
    type Form = BoundaryForm;
    type View = BoundaryView;
    const SEGMENT: &'static str = "boundaries";

    fn blank(_: &CoupleContext) -> BoundaryForm {
        BoundaryForm { holder: "both".into(), audience: "couple".into(), ..BoundaryForm::default() }
    }
    fn form_of(view: &BoundaryView, _: &CoupleContext) -> BoundaryForm {
        BoundaryForm::of(view)
    }
    async fn load(access: &CoupleAccess, id: Uuid) -> Result<BoundaryView, AppError> {
        boundaries::get(access, id).await
    }
    async fn create(state: &AppState, access: &CoupleAccess, _: &CoupleContext, form: &BoundaryForm) -> Result<BoundaryView, AppError> {
        boundaries::create(state.clock.now(), access, form.input()?).await
    }
    async fn update(
        state: &AppState,
        access: &CoupleAccess,
        _: &CoupleContext,
        id: Uuid,
        version: IfMatch,
        form: &BoundaryForm,
    ) -> Result<BoundaryView, AppError> {
        boundaries::revise(state.clock.now(), access, id, version, form.input()?).await
    }

    fn render(page: FormPage<BoundaryForm>, theirs: Option<BoundaryView>) -> Response {
        let names = &page.couple.names;
        let holders = [Holder::PartnerA, Holder::PartnerB, Holder::Both]
            .into_iter()
            .map(|h| Choice {
                selected: h.as_str() == page.values.holder,
                label: match h {
                    Holder::PartnerA => names.a.clone(),
                    Holder::PartnerB => names.b.clone(),
                    Holder::Both => "Both partners".into(),
                },
                value: h.as_str(),
            })
            .collect();
        let categories = choices(&CATEGORIES, &page.values.category);
        let audiences = forms::audience_choices(names, &page.values.audience);
        html(&BoundaryFormPage { nav: page.chrome.nav.clone(), holders, categories, audiences, theirs, page })
    }
}

#[derive(Deserialize)]
pub struct AgreeForm {
    version: String,
    /// For the care team recording an agreement made in session.
    #[serde(default)]
    partner: String,
}

/// A partner agrees for themself; the care team records a partner's
/// agreement made in session.
pub async fn agree(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path((couple_id, boundary_id)): Path<(CoupleId, Uuid)>,
    CsrfForm(form): CsrfForm<AgreeForm>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::PartnerOrCareTeam).await?;
    let partner = pick::<PartnerSlot>(&form.partner).map_err(|m| AppError::invalid("partner", &m))?;
    boundaries::agree(state.clock.now(), &access, boundary_id, IfMatch(parse_version(&form.version)?), AgreeInput { partner }).await?;
    Ok(Redirect::to(&format!("/couples/{couple_id}#boundary-{boundary_id}")).into_response())
}

#[derive(Deserialize)]
pub struct VersionForm {
    version: String,
}

pub async fn retire(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path((couple_id, boundary_id)): Path<(CoupleId, Uuid)>,
    CsrfForm(form): CsrfForm<VersionForm>,
) -> PageResult {
    let access: CoupleAccess = access::couple(&state, &audit, &current, couple_id, Need::Write).await?;
    boundaries::retire(state.clock.now(), &access, boundary_id, IfMatch(parse_version(&form.version)?)).await?;
    Ok(Redirect::to(&format!("/couples/{couple_id}#boundaries")).into_response())
}
