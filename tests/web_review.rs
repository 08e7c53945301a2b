//! The supervisor's access-log pages and the counselor's emergency-access
//! page, driven like a browser: GET the page, POST its forms with their CSRF
//! token, read the HTML.

use axum::http::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use uuid::Uuid;

use crate::{
    both,
    clinical_world::{Actor, World},
    helpers::*,
};

/// The cells of each body row of the page's table that follows `heading_id`.
pub fn table_rows(html: &str, heading_id: &str) -> Vec<Vec<String>> {
    let start = html.find(&format!("id=\"{heading_id}\"")).unwrap_or_else(|| panic!("no {heading_id} in {html}"));
    let section = &html[start..];
    let section = &section[..section.find("</section>").unwrap_or(section.len())];
    let Some(body) = section.find("<tbody>").map(|i| &section[i..section.find("</tbody>").unwrap()]) else {
        return Vec::new();
    };
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<td>")
                .skip(1)
                .map(|cell| cell[..cell.find("</td>").unwrap()].trim().to_owned())
                .collect()
        })
        .collect()
}

async fn member_id(client: &mut Client<'_>) -> Uuid {
    client.get("/api/v1/me").await.json()["id"].as_str().unwrap().parse().unwrap()
}

async fn events(app: &TestApp) -> Vec<entity::access_events::Model> {
    entity::access_events::Entity::find().all(&app.db).await.unwrap()
}

/// The cells of the events table: Time, Member, As, Action, ...
const MEMBER: usize = 1;
const ACTION: usize = 3;
const COUPLE: usize = 5;

async fn supervisors_filter_and_page_through_the_log(app: TestApp) {
    let mut w = World::build(&app).await;
    let casey = member_id(w.client(Actor::CareTeam)).await;
    let couple = format!("/api/v1/couples/{}", w.couple);
    for _ in 0..55 {
        assert_eq!(w.client(Actor::CareTeam).get(&couple).await.status, StatusCode::OK);
    }
    let matching = events(&app)
        .await
        .into_iter()
        .filter(|e| e.member_id == Some(casey) && e.action == "view" && e.couple_id == Some(w.couple))
        .count();
    assert!(matching >= 55, "{matching}");

    let url = format!("/access-log?member={casey}&couple={}&action=view", w.couple);
    let today = w.today;
    let sup = w.client(Actor::Supervisor);
    let first = sup.get(&url).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    let html = first.text();
    let rows = table_rows(&html, "events-heading");
    assert_eq!(rows.len(), 50, "one page");
    assert!(rows.iter().all(|r| r[ACTION] == "view" && r[COUPLE] == "Okafor &#38; Reyes"), "{rows:?}");
    assert!(rows.iter().all(|r| r[MEMBER] == member_name("casey@harbor.example")), "each row names who read: {rows:?}");
    assert!(html.contains(&format!("<option value=\"{casey}\" selected>")), "the filter keeps its choice");

    let at = html.find("href=\"/access-log?").expect("an Older events link");
    let link = html[at + 6..].split('"').next().unwrap().replace("&#38;", "&");
    assert!(link.contains("before=") && link.contains("action=view"), "{link}");
    let second = sup.get(&link).await;
    assert_eq!(second.status, StatusCode::OK);
    let rest = table_rows(&second.text(), "events-heading");
    assert_eq!(rest.len(), matching - 50, "the second page holds the rest: {link}");
    assert!(!second.text().contains("Older events"));

    // Another action shows only that action; an outcome filter only that outcome.
    let created = table_rows(&sup.get("/access-log?action=create").await.text(), "events-heading");
    assert!(!created.is_empty() && created.iter().all(|r| r[ACTION] == "create"));
    let denied = table_rows(&sup.get("/access-log?outcome=denied").await.text(), "events-heading");
    assert!(denied.iter().all(|r| r[6].starts_with("denied")));

    // Days are the practice's: today has events, the future and yesterday none.
    let yesterday = today.previous_day().unwrap();
    let page = sup.get(&format!("/access-log?from={today}&to={today}")).await;
    assert!(!table_rows(&page.text(), "events-heading").is_empty());
    let page = sup.get(&format!("/access-log?to={yesterday}")).await;
    assert!(table_rows(&page.text(), "events-heading").is_empty(), "nothing happened before today");
    let page = sup.get("/access-log?from=2100-01-01").await;
    assert!(page.text().contains("No events match."));

    // A mistyped range is a message next to the field, with the input kept.
    let page = sup.get(&format!("/access-log?from={today}&to={yesterday}")).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.text().contains("choose an end date on or after the start date"));
    assert!(page.text().contains(&format!("value=\"{yesterday}\"")));
    let page = sup.get("/access-log?from=2026-02-30").await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.text().contains("enter a date as YYYY-MM-DD") && page.text().contains("value=\"2026-02-30\""));
}

async fn the_export_is_csv_with_the_same_filter_and_is_logged(app: TestApp) {
    let mut w = World::build(&app).await;
    let sup_id = member_id(w.client(Actor::Supervisor)).await;
    let sup = w.client(Actor::Supervisor);
    let page = sup.get("/access-log?action=create").await.text();
    assert!(page.contains("href=\"/access-log/export.csv?action=create\""), "the export link carries the filter");
    let csv = sup.get("/access-log/export.csv?action=create").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    assert!(csv.header("content-disposition").unwrap().contains("attachment"));
    let text = csv.text();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("seq,at,member_id,member_name,role,action"));
    let body: Vec<&str> = lines.collect();
    assert!(!body.is_empty());
    assert!(body.iter().all(|l| l.split(',').nth(5) == Some("create")), "{text}");

    let exports: Vec<_> = events(&app).await.into_iter().filter(|e| e.action == "export").collect();
    assert_eq!(exports.len(), 1, "the export is itself an event");
    let e = &exports[0];
    assert_eq!((e.member_id, e.record_kind.as_deref(), e.outcome.as_str()), (Some(sup_id), Some("access_event"), "success"));
}

async fn only_supervisors_read_the_log_and_refusals_are_logged(app: TestApp) {
    let mut w = World::build(&app).await;
    for actor in [Actor::CareTeam, Actor::PartnerA, Actor::Admin] {
        let id = member_id(w.client(actor)).await;
        for path in ["/access-log", "/access-log/export.csv"] {
            let res = w.client(actor).get(path).await;
            assert_eq!(res.status, StatusCode::FORBIDDEN, "{actor:?} {path}");
            assert!(res.text().contains("This is for supervisors."), "the 403 page");
            assert!(!res.text().contains("Okafor"), "{actor:?} {path}");
        }
        let denied = events(&app)
            .await
            .into_iter()
            .filter(|e| e.member_id == Some(id) && e.record_kind.as_deref() == Some("access_event") && e.outcome == "denied")
            .count();
        assert_eq!(denied, 2, "{actor:?}: one denied event per request");
        let res = w.client(actor).submit("/profile", "/access-log/verification", &[]).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
    }
    let res = app.client().get("/access-log").await;
    assert_eq!((res.status, res.location()), (StatusCode::SEE_OTHER, Some("/sign-in")));
}

async fn acknowledging_takes_an_entry_off_the_queue(app: TestApp) {
    let mut w = World::build(&app).await;
    let grant = w.emergency_access;
    let sup = w.client(Actor::Supervisor);
    let page = sup.get("/access-log").await.text();
    let queue = table_rows(&page, "emergency");
    assert_eq!(queue.len(), 1, "{page}");
    assert_eq!(queue[0][0], "Okafor &#38; Reyes");
    assert_eq!(queue[0][1], member_name("fin@harbor.example"), "the queue names who opened the access");
    assert!(queue[0][2].contains("crisis line"));
    let action = format!("/access-log/emergency/{grant}/acknowledge");
    assert!(page.contains(&format!("action=\"{action}\"")));

    // Without the form's token nothing happens.
    let res = sup.post_form(&action, &[]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(table_rows(&sup.get("/access-log").await.text(), "emergency").len(), 1);

    let res = sup.submit("/access-log", &action, &[]).await;
    assert_eq!((res.status, res.location()), (StatusCode::SEE_OTHER, Some("/access-log#emergency")));
    let page = sup.get("/access-log").await.text();
    assert!(table_rows(&page, "emergency").is_empty());
    assert!(page.contains("Nothing waits for review."));
    let row = entity::emergency_accesses::Entity::find_by_id(grant).one(&app.db).await.unwrap().unwrap();
    assert!(row.acknowledged_at.is_some());
    assert!(events(&app).await.iter().any(|e| e.action == "acknowledge" && e.outcome == "success"));
    let again = sup.submit("/access-log", &action, &[]).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
}

async fn verify_now_shows_the_result(app: TestApp) {
    let mut w = World::build(&app).await;
    let practice = entity::couples::Entity::find_by_id(w.couple).one(&app.db).await.unwrap().unwrap().practice_id;
    let sup = w.client(Actor::Supervisor);
    assert!(sup.get("/access-log").await.text().contains("The log has not been checked yet."));
    let res = sup.submit("/access-log", "/access-log/verification", &[]).await;
    assert_eq!((res.status, res.location()), (StatusCode::SEE_OTHER, Some("/access-log#verification")));
    let page = sup.get("/access-log").await.text();
    assert!(page.contains("the log is intact"), "{page}");

    // Someone rewrites an entry: the next check says where.
    entity::access_events::Entity::update_many()
        .col_expr(entity::access_events::Column::Action, Expr::value("export"))
        .filter(entity::access_events::Column::PracticeId.eq(practice))
        .filter(entity::access_events::Column::Seq.eq(3))
        .exec(&app.db)
        .await
        .unwrap();
    sup.submit("/access-log", "/access-log/verification", &[]).await;
    let page = sup.get("/access-log").await.text();
    assert!(page.contains("the log has been changed, first at event 3"), "{page}");
}

async fn emergency_access_by_label_needs_a_reason_and_redirects(app: TestApp) {
    let mut w = World::build(&app).await;
    let link = w.client(Actor::Admin).invite("fay@harbor.example", &["counselor"]).await;
    let mut fay = app.client();
    fay.accept_invitation(&link, "Fay Fernsby").await;
    let couple_api = format!("/api/v1/couples/{}", w.couple);
    assert_eq!(fay.get(&couple_api).await.status, StatusCode::NOT_FOUND);

    let form = fay.get("/emergency-access").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.text().contains("60 minutes"));
    assert!(!form.text().contains("Okafor"), "couples are not listed to counselors");
    assert!(form.text().contains("href=\"/emergency-access\""), "the nav links it for counselors");

    // No reason: a message next to the field, the label kept.
    let res = fay.submit("/emergency-access", "/emergency-access", &[("couple_label", "okafor & reyes"), ("reason", "urgent")]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("say in at least 10 characters why you need access now"));
    assert!(res.text().contains("value=\"okafor &#38; reyes\""));

    // An unknown label is refused like an unknown couple, and logged.
    let reason = "Marisol called in crisis and Casey is away today";
    let res = fay.submit("/emergency-access", "/emergency-access", &[("couple_label", "Okafor"), ("reason", reason)]).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert!(res.text().contains("There is nothing here, or you may not see it."));
    assert!(res.text().contains(reason), "the reason is kept");
    let fay_id = member_id(&mut fay).await;
    let refused = events(&app)
        .await
        .into_iter()
        .filter(|e| e.member_id == Some(fay_id) && e.action == "emergency_access" && e.outcome == "denied")
        .filter(|e| e.couple_id.is_none() && e.status == 404)
        .count();
    assert_eq!(refused, 1);
    assert!(entity::emergency_accesses::Entity::find()
        .filter(entity::emergency_accesses::Column::MemberId.eq(fay_id))
        .one(&app.db)
        .await
        .unwrap()
        .is_none());

    // Without the form's token nothing is opened.
    let res = fay.post_form("/emergency-access", &[("couple_label", "Okafor & Reyes"), ("reason", reason)]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(fay.get(&couple_api).await.status, StatusCode::NOT_FOUND);

    // The label in other capitals and with spaces around it opens access.
    let res = fay.submit("/emergency-access", "/emergency-access", &[("couple_label", "  OKAFOR & reyes "), ("reason", reason)]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(res.location(), Some(format!("/couples/{}", w.couple).as_str()));
    assert_eq!(fay.get(&couple_api).await.status, StatusCode::OK);
    let grant = entity::emergency_accesses::Entity::find()
        .filter(entity::emergency_accesses::Column::MemberId.eq(fay_id))
        .one(&app.db)
        .await
        .unwrap()
        .expect("a grant");
    assert_eq!(grant.reason, reason);
    let opened = events(&app)
        .await
        .into_iter()
        .find(|e| e.member_id == Some(fay_id) && e.action == "emergency_access" && e.outcome == "success")
        .expect("an event");
    assert_eq!((opened.record_id, opened.couple_id, opened.emergency), (Some(grant.id), Some(w.couple), true));
    let form_views = events(&app)
        .await
        .into_iter()
        .filter(|e| e.member_id == Some(fay_id) && e.action == "view" && e.record_kind.as_deref() == Some("emergency_access"))
        .count();
    assert!(form_views >= 1, "showing the form is logged as a view, not as opening access");

    // The care team needs no emergency access; partners may not open it.
    let res = w.client(Actor::CareTeam).submit("/emergency-access", "/emergency-access", &[("couple_label", "Okafor & Reyes"), ("reason", reason)]).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert!(res.text().contains("already have access"));
    assert_eq!(w.client(Actor::PartnerA).get("/emergency-access").await.status, StatusCode::FORBIDDEN);
    assert!(!w.client(Actor::PartnerA).get("/").await.text().contains("/emergency-access"));
}

both!(
    supervisors_filter_and_page_through_the_log,
    the_export_is_csv_with_the_same_filter_and_is_logged,
    only_supervisors_read_the_log_and_refusals_are_logged,
    acknowledging_takes_an_entry_off_the_queue,
    verify_now_shows_the_result,
    emergency_access_by_label_needs_a_reason_and_redirects,
);
