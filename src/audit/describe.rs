//! What a clinical request did, read off its route: the action, and the kind
//! and id of the record it was about.

use uuid::Uuid;

pub struct Described {
    pub action: &'static str,
    pub kind: String,
    pub record_id: Option<Uuid>,
}

fn singular(segment: &str) -> String {
    let word = match segment {
        "addenda" => "addendum",
        "boundaries" => "boundary",
        "days" => "contract_day",
        "care-team" => "care_team",
        "plan" | "versions" => "plan",
        other => other.strip_suffix('s').unwrap_or(other),
    };
    word.replace('-', "_")
}

/// Words after a record's id that are about that record: an action on it,
/// or its history (a boundary's earlier wordings). A page's form cannot
/// DELETE: it posts to `.../{id}/remove` (a care team's member).
const ACTIONS: [&str; 11] = ["sign", "cosign", "agree", "retire", "addenda", "events", "versions", "remove", "check-offs", "scan", "event"];

/// Words that end a page's route without naming a record: the form for a
/// new record or for editing one shows what the record page shows.
/// Records a couple has one of, edited in place.
const DOCUMENTS: [&str; 2] = ["plan", "recovery-contract"];

const FORM_PAGES: [&str; 2] = ["new", "edit"];

pub fn describe(method: &str, route: &str, params: &[(String, String)]) -> Described {
    // API routes sit under /api/v1; web pages name the same records from the root.
    let path = route.strip_prefix("/api/v1/").unwrap_or_else(|| route.trim_start_matches('/'));
    let mut segments: Vec<&str> = path.split('/').collect();
    if segments.len() > 1 && segments.last().is_some_and(|last| FORM_PAGES.contains(last)) {
        segments.pop();
    }
    let last = segments.last().copied().unwrap_or_default();
    // Forms can only POST: on a page, posting to a record or to a couple's
    // one-of-a-kind document changes it.
    let page_post_to_record =
        method == "POST" && !route.starts_with("/api/") && (last.starts_with('{') || DOCUMENTS.contains(&last));
    let action = match (method, last) {
        _ if page_post_to_record => "update",
        ("GET", _) => "view",
        ("DELETE", _) => "delete",
        ("PUT" | "PATCH", _) => "update",
        ("POST", "sign") => "sign",
        ("POST", "cosign") => "cosign",
        ("POST", "agree") => "agree",
        ("POST", "retire") => "retire",
        ("POST", "addenda" | "events" | "event" | "check-offs") => "update",
        ("POST", "care-team") => "share",
        ("POST", "remove") => "delete",
        _ => "create",
    };
    let param = |segment: &str| -> Option<Option<Uuid>> {
        let name = segment.strip_prefix('{')?.strip_suffix('}')?;
        Some(params.iter().find(|(n, _)| n == name).and_then(|(_, v)| Uuid::parse_str(v).ok()))
    };
    // `.../notes/{note_id}` and `.../notes/{note_id}/sign` are about that
    // note; `.../notes` and `.../plan` about the collection or document.
    let n = segments.len();
    let named_at = if param(last).is_some() {
        Some(n - 1)
    } else if ACTIONS.contains(&last) && n >= 2 && param(segments[n - 2]).is_some() {
        Some(n - 2)
    } else {
        None
    };
    match named_at {
        Some(i) => Described {
            action,
            kind: i.checked_sub(1).map(|k| singular(segments[k])).unwrap_or_default(),
            record_id: param(segments[i]).flatten(),
        },
        None => Described { action, kind: singular(last), record_id: None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn routes_name_their_action_and_record() {
        let c = "01a20963-6671-74b9-b5c6-034fb4254869";
        let n = "01a20963-6681-7067-8c19-c578a911ea6f";
        let d = describe("GET", "/api/v1/couples/{couple_id}/notes/{note_id}", &p(&[("couple_id", c), ("note_id", n)]));
        assert_eq!((d.action, d.kind.as_str(), d.record_id.map(|i| i.to_string())), ("view", "note", Some(n.into())));
        let d = describe("POST", "/api/v1/couples/{couple_id}/notes/{note_id}/sign", &p(&[("couple_id", c), ("note_id", n)]));
        assert_eq!((d.action, d.kind.as_str()), ("sign", "note"));
        let d = describe("GET", "/api/v1/couples/{couple_id}", &p(&[("couple_id", c)]));
        assert_eq!((d.action, d.kind.as_str(), d.record_id.is_some()), ("view", "couple", true));
        let d = describe("GET", "/api/v1/couples/{couple_id}/lapses", &p(&[("couple_id", c)]));
        assert_eq!((d.action, d.kind.as_str(), d.record_id), ("view", "lapse", None));
        let d = describe("POST", "/api/v1/couples/{couple_id}/safety-plans", &p(&[("couple_id", c)]));
        assert_eq!((d.action, d.kind.as_str(), d.record_id), ("create", "safety_plan", None));
        let d = describe("PUT", "/api/v1/couples/{couple_id}/plan", &p(&[("couple_id", c)]));
        assert_eq!((d.action, d.kind.as_str()), ("update", "plan"));
        let d = describe("PUT", "/api/v1/couples/{couple_id}/private-notes/{note_id}", &p(&[("couple_id", c), ("note_id", n)]));
        assert_eq!((d.action, d.kind.as_str()), ("update", "private_note"));
        let d = describe("GET", "/api/v1/couples/{couple_id}/boundaries/{boundary_id}/versions", &p(&[("couple_id", c), ("boundary_id", n)]));
        assert_eq!((d.action, d.kind.as_str(), d.record_id.map(|i| i.to_string())), ("view", "boundary", Some(n.into())));
        let d = describe("GET", "/api/v1/couples/{couple_id}/plan/versions", &p(&[("couple_id", c)]));
        assert_eq!((d.action, d.kind.as_str(), d.record_id), ("view", "plan", None));
        let d = describe("GET", "/api/v1/couples", &[]);
        assert_eq!((d.action, d.kind.as_str()), ("view", "couple"));
    }

    #[test]
    fn pages_name_the_same_records_as_the_api() {
        let c = "01a20963-6671-74b9-b5c6-034fb4254869";
        let n = "01a20963-6681-7067-8c19-c578a911ea6f";
        let both = p(&[("couple_id", c), ("note_id", n)]);
        let d = describe("GET", "/couples/{couple_id}/notes/{note_id}/edit", &both);
        assert_eq!((d.action, d.kind.as_str(), d.record_id.map(|i| i.to_string())), ("view", "note", Some(n.into())));
        let d = describe("POST", "/couples/{couple_id}/notes/{note_id}", &both);
        assert_eq!((d.action, d.kind.as_str()), ("update", "note"));
        let d = describe("POST", "/couples/{couple_id}/notes/{note_id}/sign", &both);
        assert_eq!((d.action, d.kind.as_str()), ("sign", "note"));
        let d = describe("GET", "/couples/{couple_id}/boundaries/new", &both);
        assert_eq!((d.action, d.kind.as_str(), d.record_id), ("view", "boundary", None));
        let d = describe("POST", "/couples/{couple_id}/boundaries", &both);
        assert_eq!((d.action, d.kind.as_str()), ("create", "boundary"));
        let d = describe("GET", "/couples/{couple_id}", &both);
        assert_eq!((d.action, d.kind.as_str(), d.record_id.is_some()), ("view", "couple", true));
        let d = describe("POST", "/couples/{couple_id}/plan", &both);
        assert_eq!((d.action, d.kind.as_str()), ("update", "plan"));
        let team = p(&[("couple_id", c), ("member_id", n)]);
        let page = describe("POST", "/couples/{couple_id}/care-team/{member_id}/remove", &team);
        let api = describe("DELETE", "/api/v1/couples/{couple_id}/care-team/{member_id}", &team);
        assert_eq!((page.action, page.kind.as_str(), page.record_id), (api.action, api.kind.as_str(), api.record_id));
        assert_eq!((page.action, page.kind.as_str()), ("delete", "care_team"));
    }

    #[test]
    fn a_check_off_is_an_update_of_its_item() {
        let c = "01a20963-6671-74b9-b5c6-034fb4254869";
        let n = "01a20963-6681-7067-8c19-c578a911ea6f";
        let both = p(&[("couple_id", c), ("item_id", n)]);
        for route in ["/api/v1/couples/{couple_id}/craft-items/{item_id}/check-offs", "/couples/{couple_id}/craft-items/{item_id}/check-offs"] {
            let d = describe("POST", route, &both);
            assert_eq!((d.action, d.kind.as_str(), d.record_id.map(|i| i.to_string())), ("update", "craft_item", Some(n.into())), "{route}");
        }
    }

    #[test]
    fn a_consent_s_scan_and_event_are_about_the_consent() {
        let c = "01a20963-6671-74b9-b5c6-034fb4254869";
        let n = "01a20963-6681-7067-8c19-c578a911ea6f";
        let both = p(&[("couple_id", c), ("consent_id", n)]);
        for (method, route, action) in [
            ("GET", "/api/v1/couples/{couple_id}/consents/{consent_id}/scan", "view"),
            ("POST", "/api/v1/couples/{couple_id}/consents/{consent_id}/scan", "create"),
            ("POST", "/couples/{couple_id}/consents/{consent_id}/event", "update"),
        ] {
            let d = describe(method, route, &both);
            assert_eq!((d.action, d.kind.as_str(), d.record_id.map(|i| i.to_string())), (action, "consent", Some(n.into())), "{route}");
        }
    }
}
