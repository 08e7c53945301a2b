//! The CRAFT track's page: the care team sees each partner's track and sets
//! items; a partner sees their own, adds to it and checks items off with
//! how it went. (The rules are in `records::craft`.)

use crate::records::couples::CoupleId;
use askama::Template;
use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Redirect},
};
use serde::Deserialize;
use tower_sessions::Session;
use uuid::Uuid;

use super::{Chrome, CoupleContext, PageResult, Rejected, again, forms};
use crate::{
    state::AppState,
    access::{self, CoupleAccess, Need},
    audit::AuditContext,
    auth::CurrentMember,
    error::AppError,
    practice::Fields,
    records::{
        common::{PartnerSlot, StoredEnum},
        craft::{self, CheckOffInput, CraftItemInput, CraftItemView, CraftKind, CraftText},
        milestones::practice_today,
    },
    web::{CsrfForm, Path, SignedIn, render, templates::{Choice, FormErrors, Nav}},
};

/// One item as the page shows it.
pub struct ItemRow {
    pub id: Uuid,
    pub owner: String,
    pub kind: &'static str,
    pub title: String,
    /// The item's filled-in fields, labelled (a list or one text each).
    pub fields: Vec<(&'static str, Vec<String>)>,
    /// Each check-off: the day and how it went.
    pub check_offs: Vec<(String, String)>,
    pub done: bool,
}

#[derive(Template)]
#[template(path = "craft.html")]
pub struct CraftPage {
    pub nav: Option<Nav>,
    pub csrf_token: String,
    pub couple: CoupleContext,
    pub items: Vec<ItemRow>,
    pub today: String,
    pub owners: Vec<Choice>,
    pub kinds: Vec<Choice>,
    pub values: ItemForm,
    pub errors: FormErrors,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct ItemForm {
    pub owner: String,
    pub kind: String,
    pub title: String,
    pub practice: String,
    pub triggers: String,
    pub behaviour: String,
    pub short_term_positives: String,
    pub long_term_negatives: String,
    pub when: String,
    pub how: String,
    pub what_to_say: String,
    pub arranged: String,
    pub notes: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CheckOffForm {
    pub on: String,
    pub how_it_went: String,
    pub done: String,
}

fn row(item: CraftItemView, couple: &CoupleContext) -> ItemRow {
    let t = item.text;
    let one = |v: Option<String>| v.into_iter().collect::<Vec<_>>();
    let fields = [
        ("What to do", one(t.practice)),
        ("Triggers", t.triggers),
        ("The behaviour", one(t.behaviour)),
        ("Short-term positives", t.short_term_positives),
        ("Long-term negatives", t.long_term_negatives),
        ("When", one(t.when)),
        ("How", one(t.how)),
        ("What to say", one(t.what_to_say)),
        ("What the counselor has arranged", one(t.arranged)),
        ("Notes", one(t.notes)),
    ]
    .into_iter()
    .filter(|(_, values)| !values.is_empty())
    .collect();
    ItemRow {
        id: item.id,
        owner: couple.names.of(item.owner).to_owned(),
        kind: item.kind.label(),
        title: t.title,
        fields,
        check_offs: item.check_offs.into_iter().map(|c| (c.on.to_string(), c.how_it_went.unwrap_or_default())).collect(),
        done: item.done,
    }
}

async fn page_of(
    state: &AppState,
    session: &Session,
    access: &CoupleAccess,
    current: &CurrentMember,
    values: ItemForm,
    errors: FormErrors,
) -> Result<CraftPage, AppError> {
    let couple = CoupleContext::of(access, current).await?;
    let mut items: Vec<ItemRow> = craft::list(access).await?.into_iter().map(|i| row(i, &couple)).collect();
    // What is still to do comes first (on a phone, before the finished analyses).
    items.sort_by_key(|i| i.done);
    let owners = if couple.care_team { couple.names.partner_choices(&values.owner) } else { Vec::new() };
    let kinds = CraftKind::ALL
        .into_iter()
        .map(|k| Choice { value: k.as_str(), label: k.label().into(), selected: k.as_str() == values.kind })
        .collect();
    let chrome = Chrome::of(session, current).await?;
    Ok(CraftPage {
        nav: chrome.nav,
        csrf_token: chrome.csrf_token,
        today: practice_today(state, &current.practice.time_zone).to_string(),
        couple,
        items,
        owners,
        kinds,
        values,
        errors,
    })
}

pub async fn page(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::Read).await?;
    Ok(render(&page_of(&state, &session, &access, &current, ItemForm::default(), FormErrors::default()).await?).into_response())
}

fn input_of(form: &ItemForm) -> Result<CraftItemInput, AppError> {
    let mut f = Fields::default();
    let owner = f.check("owner", forms::pick::<PartnerSlot>(&form.owner));
    let kind = f.check("kind", forms::pick_required::<CraftKind>(&form.kind));
    f.finish_with(|| {
        Some(CraftItemInput {
            owner: owner?,
            kind: kind?,
            done: false,
            text: CraftText {
                title: form.title.clone(),
                triggers: forms::lines(&form.triggers),
                behaviour: forms::opt(&form.behaviour),
                short_term_positives: forms::lines(&form.short_term_positives),
                long_term_negatives: forms::lines(&form.long_term_negatives),
                practice: forms::opt(&form.practice),
                when: forms::opt(&form.when),
                how: forms::opt(&form.how),
                what_to_say: forms::opt(&form.what_to_say),
                arranged: forms::opt(&form.arranged),
                notes: forms::opt(&form.notes),
            },
        })
    })
}

pub async fn create(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path(couple_id): Path<CoupleId>,
    CsrfForm(form): CsrfForm<ItemForm>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::PartnerOrCareTeam).await?;
    let created = match input_of(&form) {
        Ok(input) => craft::create(&access, state.clock.now(), input).await,
        Err(err) => Err(err),
    };
    match created {
        Ok(item) => {
            audit.created(item.id);
            Ok(Redirect::to(&format!("/couples/{couple_id}/craft-items#item-{}", item.id)).into_response())
        }
        Err(err) => {
            let errors = match Rejected::from(err)? {
                Rejected::Invalid(errors) => errors,
                Rejected::Stale => FormErrors::form(super::STALE),
            };
            let page = page_of(&state, &session, &access, &current, form, errors).await?;
            Ok(again(StatusCode::UNPROCESSABLE_ENTITY, render(&page)))
        }
    }
}

pub async fn check_off(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    audit: AuditContext,
    Path((couple_id, item_id)): Path<(CoupleId, Uuid)>,
    CsrfForm(form): CsrfForm<CheckOffForm>,
) -> PageResult {
    let access = access::couple(&state, &audit, &current, couple_id, Need::PartnerOrCareTeam).await?;
    let on = forms::date(&form.on).map_err(|m| AppError::invalid("on", &m))?.map(|d| d.get());
    let input = CheckOffInput { on, how_it_went: forms::opt(&form.how_it_went), done: form.done == "yes" };
    let today = practice_today(&state, &current.practice.time_zone);
    craft::check_off(&access, state.clock.now(), today, item_id, input).await?;
    Ok(Redirect::to(&format!("/couples/{couple_id}/craft-items#item-{item_id}")).into_response())
}
