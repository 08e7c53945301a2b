//! "Changes to who can see what": roles, supervisions, care teams, sign-in
//! providers and linked accounts, as [`crate::audit::changes`] lists them.

use askama::Template;
use axum::extract::State;
use serde::Deserialize;
use tower_sessions::Session;

use super::{PageResult, local_time, nav, render, templates::Nav};
use crate::{
    state::AppState,
    http::extract::Query,
    audit::changes::{self, describe},
    web::SignedIn,
};

#[derive(Template)]
#[template(path = "access_changes.html")]
struct ChangesPage {
    nav: Option<Nav>,
    sees_all: bool,
    rows: Vec<Row>,
    next: Option<String>,
}

struct Row {
    at: String,
    by: String,
    what: String,
    outcome: String,
}

#[derive(Deserialize)]
pub struct PageQuery {
    cursor: Option<i64>,
}

pub async fn page(
    State(state): State<AppState>,
    session: Session,
    SignedIn(current): SignedIn,
    Query(query): Query<PageQuery>,
) -> PageResult {
    let page = changes::list(&state.db, &current, query.cursor, 50).await?;
    let tz = &current.practice.time_zone;
    let rows = page
        .items
        .iter()
        .map(|c| Row {
            at: local_time(c.at, tz),
            by: c.by_name.clone().unwrap_or_else(|| "—".into()),
            what: describe(c),
            outcome: c.outcome.clone(),
        })
        .collect();
    Ok(render(&ChangesPage {
        nav: nav(&session, &current).await?,
        sees_all: changes::sees_all(&current),
        rows,
        next: page.next_cursor.map(|c| format!("/access-changes?cursor={c}")),
    }))
}
