//! The practice's members and invitations, as its admins manage them.

use crate::practice::MemberId;
use axum::{
    Router,
    extract::State,
    response::{IntoResponse, Redirect},
    routing::{get, post},
};
use serde::Deserialize;
use tower_sessions::Session;
use uuid::Uuid;

use super::{CsrfForm, CsrfOnly, PageResult, Path, SignedIn, local_time, nav, render, templates::*};
use crate::{
    audit::RequestMeta,
    auth::{CurrentMember, csrf},
    error::AppError,
    practice::{Email, Fields, Role, Roles, invitations, members},
    state::AppState,
};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/members", get(page))
        .route("/members/invite", post(invite_submit))
        .route("/members/{id}/deactivate", post(deactivate_submit))
        .route("/members/{id}/reactivate", post(reactivate_submit))
        .route("/invitations/{id}/revoke", post(revoke_invitation_submit))
}

#[derive(Default)]
pub(super) struct InviteDraft {
    pub(super) email: String,
    pub(super) roles: Vec<String>,
    pub(super) errors: FormErrors,
    pub(super) new_link: Option<String>,
    /// A member's roles form that was refused, shown again as it was sent.
    pub(super) roles_edit: Option<RolesEdit>,
}

pub(super) struct RolesEdit {
    pub(super) member_id: MemberId,
    pub(super) roles: Vec<String>,
    pub(super) error: String,
}

/// The role checkboxes of a form, ticked as `checked` says.
fn role_options(checked: impl Fn(Role) -> bool) -> Vec<RoleOption> {
    Role::ALL
        .into_iter()
        .map(|r| RoleOption { value: r.as_str(), label: r.label(), checked: checked(r) })
        .collect()
}

pub(super) async fn members_view(state: &AppState, session: &Session, current: &CurrentMember, draft: InviteDraft) -> PageResult {
    current.require(Role::Admin)?;
    let tz = current.practice.time_zone.as_str();
    let members = members::list(&state.db, current.scope).await?.into_iter().map(|m| member_row(m, current, &draft)).collect();
    let invitations = invitations::list(&state.db, state.clock.now(), current.scope).await?.into_iter().map(|i| invitation_row(i, tz)).collect();
    let role_options = role_options(|r| draft.roles.iter().any(|x| x == r.as_str()));
    Ok(render(&MembersPage {
        nav: nav(session, current).await?,
        csrf_token: csrf::token(session).await?,
        practice_name: current.practice.name.clone(),
        members,
        invitations,
        new_link: draft.new_link,
        invitation_ttl_hours: state.config.invitation_ttl_hours,
        invite_email: draft.email,
        role_options,
        errors: draft.errors,
    }))
}

/// A member's row, with the roles form as it was sent when it was refused.
fn member_row(m: members::MemberView, current: &CurrentMember, draft: &InviteDraft) -> MemberRow {
    let edit = draft.roles_edit.as_ref().filter(|e| e.member_id == m.id);
    MemberRow {
        role_options: match edit {
            Some(edit) => role_options(|r| edit.roles.iter().any(|x| x == r.as_str())),
            None => role_options(|r| m.roles.contains(r)),
        },
        roles_error: edit.map(|e| e.error.clone()),
        id: m.id.to_string(),
        toggle_action: format!("/members/{}/{}", m.id, if m.active { "deactivate" } else { "reactivate" }),
        toggle_label: if m.active { "Deactivate" } else { "Reactivate" },
        is_self: m.id == current.id(),
        display_name: m.display_name,
        email: m.email,
        roles: m.roles.labels(),
        active: m.active,
    }
}

fn invitation_row(i: invitations::InvitationView, tz: &str) -> InvitationRow {
    InvitationRow {
        id: i.id.to_string(),
        email: i.email,
        roles: i.roles.labels(),
        pending: i.status == invitations::InvitationStatus::Pending,
        status: match i.status {
            invitations::InvitationStatus::Pending => "Waiting",
            invitations::InvitationStatus::Accepted => "Accepted",
            invitations::InvitationStatus::Revoked => "Withdrawn",
            invitations::InvitationStatus::Expired => "Expired",
        },
        expires_at: local_time(i.expires_at, tz),
    }
}

async fn page(State(state): State<AppState>, session: Session, SignedIn(current): SignedIn) -> PageResult {
    members_view(&state, &session, &current, InviteDraft::default()).await
}

async fn invite_submit(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    meta: RequestMeta,
    CsrfForm(form): CsrfForm<InviteForm>,
) -> PageResult {
    current.require(Role::Admin)?;
    let mut fields = Fields::default();
    let email = fields.check("email", Email::parse(&form.email));
    let roles = fields.check("roles", Roles::parse_list(&form.roles));
    let result = match fields.finish_with(|| Some((email?, roles?))) {
        Ok((email, roles)) => invitations::create(&state, &current, email, roles, &meta).await,
        Err(err) => Err(err),
    };
    let draft = match result {
        Ok(created) => InviteDraft {
            email: String::new(),
            roles: vec![],
            new_link: Some(created.link),
            ..InviteDraft::default()
        },
        Err(AppError::Invalid(errors)) => {
            InviteDraft { email: form.email, roles: form.roles, errors: errors.into(), ..InviteDraft::default() }
        }
        Err(AppError::Conflict(message)) => InviteDraft {
            email: form.email,
            roles: form.roles,
            errors: vec![crate::error::FieldError::new("email", message.trim_start_matches("email: "))].into(),
            ..InviteDraft::default()
        },
        Err(other) => return Err(other.into()),
    };
    members_view(&state, &session, &current, draft).await
}

#[derive(Deserialize)]
struct InviteForm {
    email: String,
    #[serde(default)]
    roles: Vec<String>,
}

async fn deactivate_submit(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    meta: RequestMeta,
    Path(id): Path<MemberId>,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> PageResult {
    current.require(Role::Admin)?;
    members::deactivate(&state.db, state.clock.now(), &current, id, &meta).await?;
    Ok(Redirect::to("/members").into_response())
}

async fn reactivate_submit(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    meta: RequestMeta,
    Path(id): Path<MemberId>,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> PageResult {
    current.require(Role::Admin)?;
    members::reactivate(&state.db, state.clock.now(), &current, id, &meta).await?;
    Ok(Redirect::to("/members").into_response())
}

async fn revoke_invitation_submit(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    Path(id): Path<Uuid>,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> PageResult {
    current.require(Role::Admin)?;
    invitations::revoke(&state.db, state.clock.now(), current.scope, id).await?;
    Ok(Redirect::to("/members").into_response())
}
