//! A member's personal API tokens.

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
    auth::{CurrentMember, csrf, tokens},
    error::AppError,
    practice::Fields,
    state::AppState,
};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/tokens", get(page).post(submit)).route("/tokens/{id}/revoke", post(revoke_submit))
}

struct TokenDraft {
    name: String,
    expires_in_days: String,
    errors: FormErrors,
    new_secret: Option<String>,
}

async fn tokens_view(state: &AppState, session: &Session, current: &CurrentMember, draft: TokenDraft) -> PageResult {
    let tz = current.practice.time_zone.as_str();
    let tokens = tokens::list(&state.db, current.scope, current.id())
        .await?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id.to_string(),
            name: t.name,
            prefix: t.prefix,
            expires_at: local_time(t.expires_at, tz),
            last_used_at: t.last_used_at.map(|at| local_time(at, tz)).unwrap_or_else(|| "Never".into()),
            revoked: t.revoked_at.is_some(),
        })
        .collect();
    Ok(render(&TokensPage {
        nav: nav(session, current).await?,
        csrf_token: csrf::token(session).await?,
        tokens,
        new_secret: draft.new_secret,
        name: draft.name,
        expires_in_days: draft.expires_in_days,
        errors: draft.errors,
    }))
}

async fn page(State(state): State<AppState>, session: Session, SignedIn(current): SignedIn) -> PageResult {
    let draft = TokenDraft {
        name: String::new(),
        expires_in_days: tokens::DEFAULT_DAYS.to_string(),
        errors: FormErrors::default(),
        new_secret: None,
    };
    tokens_view(&state, &session, &current, draft).await
}

#[derive(Deserialize)]
struct TokenForm {
    name: String,
    expires_in_days: String,
}

async fn submit(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    CsrfForm(form): CsrfForm<TokenForm>,
) -> PageResult {
    let mut fields = Fields::default();
    let name = fields.check("name", tokens::parse_token_name(&form.name));
    let days = fields.check(
        "expires_in_days",
        form.expires_in_days
            .trim()
            .parse::<i64>()
            .map_err(|_| "enter a number of days".to_owned())
            .and_then(|d| tokens::parse_days(Some(d))),
    );
    let draft = match fields.finish_with(|| Some((name?, days?))) {
        Ok((name, days)) => {
            let created =
                tokens::create(&state.db, current.scope, current.id(), name, days, state.clock.now()).await?;
            TokenDraft {
                name: String::new(),
                expires_in_days: tokens::DEFAULT_DAYS.to_string(),
                errors: FormErrors::default(),
                new_secret: Some(created.secret),
            }
        }
        Err(AppError::Invalid(errors)) => TokenDraft {
            name: form.name,
            expires_in_days: form.expires_in_days,
            errors: errors.into(),
            new_secret: None,
        },
        Err(other) => return Err(other.into()),
    };
    tokens_view(&state, &session, &current, draft).await
}

async fn revoke_submit(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    Path(id): Path<Uuid>,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> PageResult {
    tokens::revoke(&state.db, current.scope, current.id(), id, state.clock.now()).await?;
    Ok(Redirect::to("/tokens").into_response())
}
