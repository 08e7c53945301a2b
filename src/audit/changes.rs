//! Changes to who can see what: roles, supervisions, care teams, sign-in
//! providers and the accounts linked to them. Each is an access event in the
//! practice's chain, written in the same transaction as the change, whose
//! `detail` names the members it affects and the state before and after
//! (ids, role words and provider settings; never clinical text or secrets).
//! The detail is hashed into the chain, so it cannot be rewritten unseen.
//!
//! [`list`] is the "Changes to who can see what" list: supervisors and
//! admins see every change in their practice; everyone else sees the
//! changes that affect them.


use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use entity::access_events;

use super::{NewEvent, RequestMeta};
use crate::{auth::CurrentMember, error::AppError, practice::Role};

/// What a change changed, as stored in an event's `detail`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The members whose access this changes: they see it in their list.
    pub subjects: Vec<Uuid>,
    pub before: Value,
    pub after: Value,
}

impl Change {
    pub fn new(subjects: impl IntoIterator<Item = impl Into<Uuid>>, before: impl Serialize, after: impl Serialize) -> Self {
        Self {
            subjects: subjects.into_iter().map(Into::into).collect(),
            before: serde_json::to_value(before).unwrap_or(Value::Null),
            after: serde_json::to_value(after).unwrap_or(Value::Null),
        }
    }

    pub fn to_detail(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The event of a change `current` made outside any couple (roles,
/// supervisions, providers), to append in the change's transaction.
pub fn event(
    current: &CurrentMember,
    action: &str,
    kind: &str,
    record_id: Option<Uuid>,
    change: &Change,
    meta: &RequestMeta,
    now: OffsetDateTime,
) -> NewEvent {
    let mut event = super::account_event(current, action, record_id, 200, meta, now);
    event.record_kind = Some(kind.to_owned());
    event.detail = Some(change.to_detail());
    event
}

/// One change, as the list shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ChangeView {
    /// The access event's sequence number in the practice's chain.
    pub seq: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who made the change.
    pub by: Option<Uuid>,
    pub by_name: Option<String>,
    /// role_change, supervision_add, supervision_remove, care_team_add,
    /// care_team_remove, identity_provider_add, identity_provider_change,
    /// sso_link, member_deactivate, member_reactivate, invitation_create.
    pub action: String,
    pub outcome: String,
    pub couple_id: Option<Uuid>,
    /// The members whose access changed, with their names.
    pub subjects: Vec<Subject>,
    /// What it was before: a value whose shape depends on `action`.
    #[schema(schema_with = crate::input::schema::any_value)]
    pub before: Value,
    /// What it is now, shaped like `before`.
    #[schema(schema_with = crate::input::schema::any_value)]
    pub after: Value,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Subject {
    pub id: Uuid,
    pub name: String,
}

/// A page of changes, newest first.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ChangePage {
    pub items: Vec<ChangeView>,
    /// Pass as `cursor` for the next (older) page.
    pub next_cursor: Option<i64>,
}

/// Whether `viewer` sees every change in the practice, or only their own.
pub fn sees_all(viewer: &CurrentMember) -> bool {
    viewer.roles.contains(Role::Supervisor) || viewer.roles.contains(Role::Admin)
}

/// The changes `viewer` may see, newest first, older than `cursor`.
pub async fn list(
    db: &impl ConnectionTrait,
    viewer: &CurrentMember,
    cursor: Option<i64>,
    limit: u64,
) -> Result<ChangePage, AppError> {
    let mut query = viewer
        .scope
        .select::<access_events::Entity>()
        .filter(access_events::Column::Detail.is_not_null())
        .order_by_desc(access_events::Column::Seq)
        .limit(limit + 1);
    if let Some(cursor) = cursor {
        query = query.filter(access_events::Column::Seq.lt(cursor));
    }
    if !sees_all(viewer) {
        // Subjects are stored as UUID strings, which cannot occur by accident.
        query = query.filter(access_events::Column::Detail.contains(viewer.id().to_string()));
    }
    let mut rows = query.all(db).await?;
    let next_cursor = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.seq)
    } else {
        None
    };
    let changes: Vec<(access_events::Model, Change)> = rows
        .into_iter()
        .map(|row| {
            // A detail that does not parse is shown as it is missing; the
            // chain's verification reports the row if it was tampered with.
            let change = row.detail.as_deref().and_then(|d| serde_json::from_str(d).ok()).unwrap_or_default();
            (row, change)
        })
        .filter(|(_, change): &(access_events::Model, Change)| sees_all(viewer) || change.subjects.contains(&viewer.id().uuid()))
        .collect();
    let ids: Vec<Uuid> = changes.iter().flat_map(|(row, c)| row.member_id.into_iter().chain(c.subjects.iter().copied())).collect();
    let names = super::review::names(db, viewer.scope, ids).await?;
    let name = |id: &Uuid| names.get(id).cloned().unwrap_or_else(|| "a former member".into());
    let items = changes
        .into_iter()
        .map(|(row, change)| ChangeView {
            seq: row.seq,
            at: row.occurred_at,
            by: row.member_id,
            by_name: row.member_id.as_ref().map(name),
            action: row.action,
            outcome: row.outcome,
            couple_id: row.couple_id,
            subjects: change.subjects.iter().map(|id| Subject { id: *id, name: name(id) }).collect(),
            before: change.before,
            after: change.after,
        })
        .collect();
    Ok(ChangePage { items, next_cursor })
}

/// A sentence for a change, for pages: "changed the roles of Casey Lee from
/// counselor to counselor, supervisor".
pub fn describe(change: &ChangeView) -> String {
    let subject = change.subjects.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(" and ");
    let words = |v: &Value| match v {
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "),
        Value::Null => "nothing".into(),
        other => other.get("display_name").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| other.to_string()),
    };
    match change.action.as_str() {
        "role_change" => format!("changed the roles of {subject} from {} to {}", words(&change.before), words(&change.after)),
        "supervision_add" => format!("made {} the supervisor of {}", first(change, 0), first(change, 1)),
        "supervision_remove" => format!("ended the supervision of {} by {}", first(change, 1), first(change, 0)),
        "care_team_add" => format!("added {subject} to a couple's care team"),
        "care_team_remove" => format!("took {subject} off a couple's care team"),
        "identity_provider_add" => format!("added the sign-in provider {}", words(&change.after)),
        "identity_provider_change" => format!("changed the sign-in provider {}", words(&change.before)),
        "sso_link" => format!("connected {subject}'s account to the sign-in provider {}", words(&change.after)),
        "member_deactivate" => format!("deactivated {subject}"),
        "member_reactivate" => format!("reactivated {subject}"),
        "invitation_create" => format!("invited someone as {}", words(&change.after)),
        other => format!("{other} ({subject})"),
    }
}

fn first(change: &ChangeView, i: usize) -> &str {
    change.subjects.get(i).map(|s| s.name.as_str()).unwrap_or("someone")
}
