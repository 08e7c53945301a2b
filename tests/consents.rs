//! Consents and disclosures (42 CFR Part 2): a share of one partner's lapse
//! with the other, and a copy handed outside the care team, each need that
//! partner's consent in force; a revocation refuses the very next one; every
//! disclosure lands in the register exactly once and stays there; each
//! disclosed PDF carries the 2.32 notice on every page.

use axum::http::{Method, StatusCode};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    both,
    clinical_matrix::last_event,
    clinical_world::{Actor, PARTNER_A, PHYSICIAN, World, assert_no_leak, consent, created},
    helpers::*,
    pdfs::pdf_text,
};
use tandem::records::disclosures::NOTICE_2_32;

fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every disclosure row of the couple, as stored, but the one the world
/// made when it recorded its shared lapse (see [`the_world_s_shared_lapse_is_registered_once`]).
async fn register(app: &TestApp, w: &World<'_>) -> Vec<entity::disclosures::Model> {
    let all = entity::disclosures::Entity::find().filter(entity::disclosures::Column::CoupleId.eq(w.couple)).all(&app.db).await.unwrap();
    all.into_iter().filter(|d| d.record_id != Some(w.shared_lapse)).collect()
}

/// Puts a lapse of partner A with `audience` (care team), as the lapse is now.
async fn set_lapse_audience(w: &mut World<'_>, base: &str, lapse: Uuid, audience: &str) -> TestResponse {
    let client = w.client(Actor::CareTeam);
    let current = client.get(&format!("{base}/lapses/{lapse}")).await;
    assert_eq!(current.status, StatusCode::OK);
    let etag = current.header("etag").unwrap().to_owned();
    let mut body = current.json();
    for key in ["id", "seen_by", "version"] {
        body.as_object_mut().unwrap().remove(key);
    }
    body["audience"] = json!(audience);
    let token = crate::clinical_world::csrf(client).await;
    client
        .send(
            Method::PUT,
            &format!("{base}/lapses/{lapse}"),
            &[("content-type", "application/json"), ("if-match", &etag), ("x-csrf-token", &token)],
            body.to_string().into(),
        )
        .await
}

async fn new_a_lapse(w: &mut World<'_>, base: &str, setting: &str) -> Uuid {
    let lapse = json!({"partner": "a", "occurred_on": "2026-05-01", "substance": "alcohol", "setting": setting,
        "reported_by": "self", "kind": "lapse"});
    created(w.client(Actor::CareTeam).json(Method::POST, &format!("{base}/lapses"), Some(lapse)).await)
}

async fn sharing_needs_consent_and_revocation_refuses_the_next_share(app: TestApp) {
    let mut w = World::build(&app).await;
    let base = format!("/api/v1/couples/{}", w.couple);
    let first = new_a_lapse(&mut w, &base, "FIRST_SHARED_SETTING").await;
    let second = new_a_lapse(&mut w, &base, "SECOND_KEPT_SETTING").await;

    // With partner A's consent in force, the care team shares the first lapse.
    let res = set_lapse_audience(&mut w, &base, first, "couple").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert!(w.client(Actor::PartnerB).get(&format!("{base}/lapses/{first}")).await.text().contains("FIRST_SHARED_SETTING"));

    // Partner A revokes; the very next share is refused, naming the consent.
    let revoke = format!("{base}/consents/{}/revoke", w.consent_a);
    let res = w.client(Actor::PartnerA).json(Method::POST, &revoke, None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert!(res.json()["revoked_at"].is_string());
    let res = set_lapse_audience(&mut w, &base, second, "couple").await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text());
    assert_eq!(res.header("content-type"), Some("application/problem+json"));
    let detail = res.json()["detail"].as_str().unwrap_or_default().to_owned();
    assert!(detail.contains("partner A") && detail.contains("lapses") && detail.contains("42 CFR 2.31"), "{detail}");
    // Nothing changed: partner B still cannot read it.
    assert_eq!(w.client(Actor::PartnerB).get(&format!("{base}/lapses/{second}")).await.status, StatusCode::NOT_FOUND);
    // Sharing only with partner B is refused just the same.
    assert_eq!(set_lapse_audience(&mut w, &base, second, "partner_b").await.status, StatusCode::CONFLICT);

    // The share made before the revocation stays in the register, once.
    let rows = register(&app, &w).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].record_id, rows[0].consent_id, rows[0].channel.as_str()), (Some(first), w.consent_a, "share"));
    let mine = w.client(Actor::PartnerA).get(&format!("{base}/disclosures")).await.json();
    let ids: Vec<&Value> = mine.as_array().unwrap().iter().map(|d| &d["record_id"]).collect();
    assert_eq!(ids, [&json!(first), &json!(w.shared_lapse)], "{mine}");
    assert!(mine[0]["recipient"].as_str().unwrap().contains("partner B"));
    // Partner B learns nothing of partner A's register or consents.
    let theirs = w.client(Actor::PartnerB).get(&format!("{base}/disclosures")).await;
    assert_eq!(theirs.json(), json!([]));
    let consents = w.client(Actor::PartnerB).get(&format!("{base}/consents")).await.text();
    assert!(!consents.contains(PARTNER_A) && !consents.contains(&w.consent_a.to_string()), "{consents}");
    let theirs = format!("{base}/consents/{}", w.consent_a);
    assert_eq!(w.client(Actor::PartnerB).get(&theirs).await.status, StatusCode::NOT_FOUND);

    // A new consent allows the share again, and the register grows by one.
    let res = w.client(Actor::PartnerA).json(Method::POST, &format!("{base}/consents"), Some(consent("other_partner", None, &["lapses"], "Openness".into()))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    assert_eq!(set_lapse_audience(&mut w, &base, second, "couple").await.status, StatusCode::OK);
    // Editing an already shared lapse again is no new disclosure.
    assert_eq!(set_lapse_audience(&mut w, &base, second, "couple").await.status, StatusCode::OK);
    let rows = register(&app, &w).await;
    assert_eq!(rows.iter().filter(|r| r.record_id == Some(second)).count(), 1);
    assert_eq!(rows.len(), 2);
}

async fn a_consent_is_checked_and_each_change_is_an_access_event(app: TestApp) {
    let mut w = World::build(&app).await;
    let base = format!("/api/v1/couples/{}", w.couple);
    let good = consent("named", Some("Dr. Lee"), &["plan"], "Medication".into());
    let without = |key: &str, value: Value| {
        let mut c = good.clone();
        c[key] = value;
        c
    };
    for (bad, field) in [
        (without("substance_use_information", json!(false)), "substance_use_information"),
        (without("recipient_name", Value::Null), "recipient_name"),
        (without("right_to_revoke_acknowledged", json!(false)), "right_to_revoke_acknowledged"),
        (without("confirmed", json!(false)), "confirmed"),
        (without("record_kinds", json!([])), "record_kinds"),
        (without("expires_on", Value::Null), "expiry_event"),
    ] {
        let res = w.client(Actor::PartnerA).json(Method::POST, &format!("{base}/consents"), Some(bad)).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {}", res.text());
        assert!(res.text().contains(field), "{field}: {}", res.text());
    }
    // A partner signs only their own.
    let res = w.client(Actor::PartnerB).json(Method::POST, &format!("{base}/consents"), Some(without("partner", json!("a")))).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    // The care team records a paper consent, naming the partner.
    let res = w.client(Actor::CareTeam).json(Method::POST, &format!("{base}/consents"), Some(without("partner", json!("b")))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    assert_eq!(res.json()["signed_via"], "paper");
    assert_eq!(res.json()["partner"], "b");
    let id = res.json()["id"].as_str().unwrap().to_owned();
    let event = |action: &'static str| {
        let db = app.db.clone();
        async move {
            entity::access_events::Entity::find()
                .filter(entity::access_events::Column::Action.eq(action))
                .all(&db)
                .await
                .unwrap()
        }
    };
    let created_events = event("consent_create").await;
    assert!(created_events.iter().any(|e| e.detail.as_deref().is_some_and(|d| d.contains(&id))), "{created_events:?}");
    // Consent text is sealed at rest.
    let row = entity::consents::Entity::find_by_id(id.parse::<Uuid>().unwrap()).one(&app.db).await.unwrap().unwrap();
    assert!(!row.purpose.contains("Medication") && !row.recipient_name.unwrap().contains("Dr. Lee"));
    // Revoking is an event once; revoking again changes nothing.
    for _ in 0..2 {
        let res = w.client(Actor::CareTeam).json(Method::POST, &format!("{base}/consents/{id}/revoke"), None).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    }
    assert_eq!(event("consent_revoke").await.iter().filter(|e| e.detail.as_deref().is_some_and(|d| d.contains(&id))).count(), 1);
    // The supervisor reads consents but does not sign or revoke them.
    assert_eq!(w.client(Actor::Supervisor).get(&format!("{base}/consents/{id}")).await.status, StatusCode::OK);
    let res = w.client(Actor::Supervisor).json(Method::POST, &format!("{base}/consents/{id}/revoke"), None).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

async fn a_disclosed_plan_needs_consent_carries_the_notice_on_every_page_and_is_registered(app: TestApp) {
    let mut w = World::build(&app).await;
    let base = format!("/api/v1/couples/{}", w.couple);
    // A long plan, so the copy runs to several pages.
    let long: Vec<String> = (0..50).map(|i| format!("Reason {i}: {}", "staying well for the family and for work ".repeat(8))).collect();
    let plan = json!({"reasons_for_recovery": {"items": long, "audience": "couple"}});
    let client = w.client(Actor::CareTeam);
    let etag = client.get(&format!("{base}/plan")).await.header("etag").unwrap().to_owned();
    let token = crate::clinical_world::csrf(client).await;
    let res = client
        .send(Method::PUT, &format!("{base}/plan"), &[("content-type", "application/json"), ("if-match", &etag), ("x-csrf-token", &token)], plan.to_string().into())
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());

    let copy = |recipient: &str| json!({"partner": "a", "recipient": recipient, "purpose": "Coordinating medication"});
    let res = w.client(Actor::CareTeam).json(Method::POST, &format!("{base}/disclosures/plan.pdf"), Some(copy(" dr. lee, riverside family medicine "))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.header("content-type"), Some("application/pdf"));
    let text = pdf_text(&res.body);
    let pages: Vec<&str> = text.split('\u{c}').filter(|p| !p.trim().is_empty()).collect();
    assert!(pages.len() >= 2, "the copy has {} page(s)", pages.len());
    for (i, page) in pages.iter().enumerate() {
        assert!(flat(page).contains(&flat(NOTICE_2_32)), "page {} lacks the 2.32 notice: {page}", i + 1);
    }
    assert!(flat(&text).contains("Disclosed to"));
    // Internal copies keep today's footer, not the notice.
    let internal = pdf_text(&w.client(Actor::CareTeam).get(&format!("{base}/plan.pdf?partner=a")).await.body);
    assert!(!flat(&internal).contains("42 CFR part 2") && flat(&internal).contains("protected substance use disorder treatment record"));

    // A recipient the consent does not name is refused, naming what is missing.
    let res = w.client(Actor::CareTeam).json(Method::POST, &format!("{base}/disclosures/plan.pdf"), Some(copy("Acme Insurance"))).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert!(res.json()["detail"].as_str().unwrap().contains("\"Acme Insurance\""));
    // Revoked, the next copy is refused.
    let revoke = format!("{base}/consents/{}/revoke", w.consent_a_plan);
    let res = w.client(Actor::PartnerA).json(Method::POST, &revoke, None).await;
    assert_eq!(res.status, StatusCode::OK);
    let res = w.client(Actor::CareTeam).json(Method::POST, &format!("{base}/disclosures/plan.pdf"), Some(copy(PHYSICIAN))).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text());

    // The register holds the one copy made, with its consent, purpose and recipient.
    let rows = register(&app, &w).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].consent_id, rows[0].channel.as_str(), rows[0].record_kind.as_str()), (w.consent_a_plan, "pdf", "plan"));
    let listed = w.client(Actor::CareTeam).get(&format!("{base}/disclosures")).await.json();
    assert_eq!(listed[0]["recipient"], "dr. lee, riverside family medicine");
    assert_eq!(listed[0]["purpose"], "Coordinating medication");
    // A supervisor exports it as CSV; the care team may not.
    let csv = w.client(Actor::Supervisor).get(&format!("{base}/disclosures.csv")).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    let csv = csv.text();
    assert_eq!(csv.lines().count(), 3, "the header, the copy and the world's shared lapse: {csv}");
    assert!(csv.contains("\"Coordinating medication\"") && csv.contains(&w.consent_a_plan.to_string()));
    assert_eq!(w.client(Actor::CareTeam).get(&format!("{base}/disclosures.csv")).await.status, StatusCode::FORBIDDEN);
}

both!(sharing_needs_consent_and_revocation_refuses_the_next_share);
both!(a_consent_is_checked_and_each_change_is_an_access_event);
both!(a_disclosed_plan_needs_consent_carries_the_notice_on_every_page_and_is_registered);

async fn partners_sign_and_revoke_their_own_consents_on_the_page(app: TestApp) {
    let mut w = World::build(&app).await;
    let page = format!("/couples/{}/consents", w.couple);
    let sign = [
        ("kind_lapses", "1"),
        ("substance_use_information", "1"),
        ("recipient_kind", "named"),
        ("recipient_name", "Harbor Sponsor Line"),
        ("purpose", "PAGE_SIGNED_PURPOSE"),
        ("expires_on", "2099-01-31"),
        ("right_to_revoke_acknowledged", "1"),
        ("signature_name", "Marisol Reyes"),
        ("confirmed", "1"),
    ];
    // Without the substance-use statement nothing is saved, and the form says why.
    let unticked: Vec<(&str, &str)> = sign.iter().copied().filter(|(k, _)| *k != "substance_use_information").collect();
    let res = w.client(Actor::PartnerB).submit(&page, &page, &unticked).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text());
    assert!(res.text().contains("substance-use information") && res.text().contains("PAGE_SIGNED_PURPOSE"));
    let res = w.client(Actor::PartnerB).submit(&page, &page, &sign).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let mine = w.client(Actor::PartnerB).get(&page).await.text();
    assert!(mine.contains("PAGE_SIGNED_PURPOSE") && mine.contains("Harbor Sponsor Line") && mine.contains("(in force)"), "{mine}");
    assert!(mine.contains("Who received my records"));
    // Partner A never sees partner B's consent; the care team does.
    assert!(!w.client(Actor::PartnerA).get(&page).await.text().contains("PAGE_SIGNED_PURPOSE"));
    assert!(w.client(Actor::CareTeam).get(&page).await.text().contains("PAGE_SIGNED_PURPOSE"));
    // Partner B revokes it from the page.
    let id = entity::consents::Entity::find()
        .filter(entity::consents::Column::PartnerSlot.eq("b"))
        .filter(entity::consents::Column::RecipientKind.eq("named"))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .max_by_key(|c| c.id)
        .unwrap()
        .id;
    let res = w.client(Actor::PartnerB).submit(&page, &format!("{page}/{id}/revoke"), &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let after = w.client(Actor::PartnerB).get(&page).await.text();
    assert!(after.contains("Revoked"), "{after}");
    // Partner A may not revoke partner B's consent.
    let theirs = format!("{page}/{id}/revoke");
    assert_eq!(w.client(Actor::PartnerA).submit(&page, &theirs, &[]).await.status, StatusCode::NOT_FOUND);
}

both!(partners_sign_and_revoke_their_own_consents_on_the_page);

async fn the_lapse_form_says_which_consent_is_missing(app: TestApp) {
    let mut w = World::build(&app).await;
    let revoke = format!("/api/v1/couples/{}/consents/{}/revoke", w.couple, w.consent_a);
    assert_eq!(w.client(Actor::PartnerA).json(Method::POST, &revoke, None).await.status, StatusCode::OK);
    let edit = format!("/couples/{}/lapses/{}/edit", w.couple, w.a_lapse);
    let action = format!("/couples/{}/lapses/{}", w.couple, w.a_lapse);
    let fields = [
        ("version", "1"),
        ("partner", "a"),
        ("occurred_on", "2026-03-10"),
        ("days", "2"),
        ("substance", "alcohol"),
        ("setting", "FORM_SETTING"),
        ("reported_by", "self"),
        ("kind", "lapse"),
        ("audience", "couple"),
    ];
    let res = w.client(Actor::CareTeam).submit(&edit, &action, &fields).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text());
    assert!(res.text().contains("No consent in force from partner A"), "{}", res.text());
    // Nothing was saved: partner B still cannot read it, and nothing is registered.
    let lapse = format!("/api/v1/couples/{}/lapses/{}", w.couple, w.a_lapse);
    assert_eq!(w.client(Actor::PartnerB).get(&lapse).await.status, StatusCode::NOT_FOUND);
    assert!(register(&app, &w).await.is_empty());
}

both!(the_lapse_form_says_which_consent_is_missing);

async fn who_viewed_names_a_partners_own_consent_and_hides_the_others(app: TestApp) {
    let mut w = World::build(&app).await;
    let couple = format!("/api/v1/couples/{}", w.couple);
    let consent = format!("{couple}/consents/{}", w.consent_a);
    assert_eq!(w.client(Actor::CareTeam).get(&consent).await.status, StatusCode::OK);
    let rows = |body: Value| body.get("items").cloned().unwrap_or(body).as_array().cloned().unwrap_or_default();
    let seen_by_a = rows(w.client(Actor::PartnerA).get(&format!("{couple}/viewings?limit=200")).await.json());
    assert!(
        seen_by_a.iter().any(|r| r["record_id"] == w.consent_a.to_string() && r["record"].as_str().is_some_and(|t| t.starts_with("Consent signed"))),
        "{seen_by_a:?}"
    );
    let seen_by_b = rows(w.client(Actor::PartnerB).get(&format!("{couple}/viewings?limit=200")).await.json());
    assert!(seen_by_b.iter().all(|r| r["record_id"] != w.consent_a.to_string()), "{seen_by_b:?}");
}

both!(who_viewed_names_a_partners_own_consent_and_hides_the_others);

/// The "Disclose records" form of the consents page: the care team picks a
/// recipient a consent in force names (never a revoked or expired one's),
/// and the file downloads through the API's own disclosure, with its
/// register row and access event; without a consent in force the page says
/// which one is missing and nothing leaves or is registered.
async fn the_care_team_discloses_from_the_consents_page(app: TestApp) {
    let mut w = World::build(&app).await;
    let base = format!("/api/v1/couples/{}", w.couple);
    let page = format!("/couples/{}/consents", w.couple);
    let action = format!("/couples/{}/disclosures", w.couple);
    let revoked = consent("named", Some("Revoked Recipient Clinic"), &["plan"], "Earlier care".into());
    let revoked = created(w.client(Actor::PartnerA).json(Method::POST, &format!("{base}/consents"), Some(revoked)).await);
    let res = w.client(Actor::PartnerA).json(Method::POST, &format!("{base}/consents/{revoked}/revoke"), None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let mut expired = consent("named", Some("Expired Recipient Clinic"), &["plan"], "Earlier care".into());
    expired["expires_on"] = json!("2001-01-31");
    let res = w.client(Actor::PartnerA).json(Method::POST, &format!("{base}/consents"), Some(expired)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());

    // Offered: the recipients of the consents in force, of each partner.
    let html = w.client(Actor::CareTeam).get(&page).await.text();
    assert!(html.contains("Disclose records") && html.contains(&format!("action=\"{action}\"")), "{html}");
    assert!(html.contains(&format!("<option value=\"{PHYSICIAN}\">{PHYSICIAN} (the relapse-prevention plan)</option>")), "{html}");
    assert!(html.contains("s therapist (the relapse-prevention plan)</option>"), "partner B's recipient: {html}");
    for gone in ["Revoked Recipient Clinic", "Expired Recipient Clinic"] {
        assert!(!html.contains(&format!("<option value=\"{gone}\"")), "{gone} offered: {html}");
    }

    // The plan as a PDF with the 2.32 notice, registered once, one export event.
    let plan_pdf = [("partner", "a"), ("recipient", PHYSICIAN), ("purpose", "PAGE_DISCLOSED_PURPOSE"), ("format", "plan_pdf")];
    let res = w.client(Actor::CareTeam).submit(&page, &action, &plan_pdf).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.header("content-type"), Some("application/pdf"));
    assert_eq!(res.header("content-disposition"), Some("attachment; filename=\"disclosed-plan.pdf\""));
    assert!(flat(&pdf_text(&res.body)).contains(&flat(NOTICE_2_32)));
    let e = last_event(&app).await;
    assert_eq!((e.action.as_str(), e.record_kind.as_deref(), e.outcome.as_str()), ("export", Some("partner_plan"), "success"));
    let rows = register(&app, &w).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].consent_id, rows[0].channel.as_str(), rows[0].record_kind.as_str()), (w.consent_a_plan, "pdf", "plan"));

    // The chart as a FHIR R4 Bundle, registered once.
    let chart = [("partner", "a"), ("recipient", PHYSICIAN), ("purpose", "PAGE_DISCLOSED_PURPOSE"), ("format", "fhir")];
    let res = w.client(Actor::CareTeam).submit(&page, &action, &chart).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.header("content-type"), Some("application/fhir+json"));
    assert_eq!(res.header("content-disposition"), Some("attachment; filename=\"chart.fhir.json\""));
    assert_eq!(res.json()["resourceType"], "Bundle");
    assert_eq!(last_event(&app).await.record_kind.as_deref(), Some("couple_chart"));
    let rows = register(&app, &w).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows.iter().filter(|r| r.channel == "export" && r.consent_id == w.consent_a_plan).count(), 1);
    let listed = w.client(Actor::CareTeam).get(&page).await.text();
    assert!(listed.contains("PAGE_DISCLOSED_PURPOSE"), "the register on the page");

    // Partner B's consents do not name partner A's recipient: refused, saying so.
    let wrong = [("partner", "b"), ("recipient", PHYSICIAN), ("purpose", "PAGE_REFUSED_PURPOSE"), ("format", "plan_pdf")];
    let res = w.client(Actor::CareTeam).submit(&page, &action, &wrong).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text());
    assert!(res.header("content-type").unwrap().starts_with("text/html"));
    let text = res.text();
    assert!(text.contains("Nothing was disclosed") && text.contains("No consent in force from partner B"), "{text}");
    assert!(text.contains("value=\"PAGE_REFUSED_PURPOSE\""), "what was typed stays: {text}");
    // A form left half filled in names its fields.
    let res = w.client(Actor::CareTeam).submit(&page, &action, &[("partner", "a"), ("recipient", PHYSICIAN), ("purpose", ""), ("format", "")]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text());
    assert!(res.text().contains("format: choose one of the options"), "{}", res.text());

    // Partner A revokes; the next disclosure is refused and no longer offered.
    let revoke = format!("{base}/consents/{}/revoke", w.consent_a_plan);
    let res = w.client(Actor::PartnerA).json(Method::POST, &revoke, None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let res = w.client(Actor::CareTeam).submit(&page, &action, &plan_pdf).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text());
    let text = res.text();
    assert!(text.contains("No consent in force from partner A") && text.contains("42 CFR 2.31"), "{text}");
    assert!(!text.contains(&format!("<option value=\"{PHYSICIAN}\"")), "{text}");

    // A form without its CSRF token, or sent from another site, is refused.
    let counselor = w.client(Actor::CareTeam);
    let res = counselor.post_form(&action, &plan_pdf).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text());
    let token = counselor.get(&page).await.csrf_token();
    let body = serde_html_form::to_string([("csrf_token", token.as_str()), ("partner", "b"), ("recipient", "Marisol's therapist"), ("purpose", "x"), ("format", "plan_pdf")]).unwrap();
    let headers = [("content-type", "application/x-www-form-urlencoded"), ("sec-fetch-site", "cross-site")];
    let res = counselor.send(Method::POST, &action, &headers, body.into()).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text());

    // Only the two disclosures made are registered.
    assert_eq!(register(&app, &w).await.len(), 2);
}

/// The page's disclosure is the care team's, as the API's is: partners,
/// supervisors, admins and everyone else are told it is not there, and
/// nothing is registered.
async fn only_the_care_team_discloses_from_the_page(app: TestApp) {
    let mut w = World::build(&app).await;
    let page = format!("/couples/{}/consents", w.couple);
    let action = format!("/couples/{}/disclosures", w.couple);
    for actor in Actor::ALL {
        let res = w.client(actor).get(&page).await;
        assert_no_leak(actor, &page, &res.text());
        let readable = match actor {
            Actor::CareTeam | Actor::Supervisor | Actor::PartnerA | Actor::PartnerB => StatusCode::OK,
            Actor::Anonymous => StatusCode::SEE_OTHER,
            _ => StatusCode::NOT_FOUND,
        };
        assert_eq!(res.status, readable, "{actor:?} reading the page");
        assert_eq!(res.text().contains("Disclose records"), actor == Actor::CareTeam, "{actor:?}");
        if actor == Actor::CareTeam {
            continue;
        }
        let token = match actor {
            Actor::Anonymous => String::new(),
            _ => w.client(actor).get("/tokens").await.csrf_token(),
        };
        for format in ["plan_pdf", "fhir"] {
            let fields = [("csrf_token", token.as_str()), ("partner", "a"), ("recipient", PHYSICIAN), ("purpose", "Coordinating care"), ("format", format)];
            let res = w.client(actor).post_form(&action, &fields).await;
            assert_no_leak(actor, &action, &res.text());
            let expected = if actor == Actor::Anonymous { StatusCode::SEE_OTHER } else { StatusCode::NOT_FOUND };
            assert_eq!(res.status, expected, "{actor:?} {format}: {}", res.text());
        }
    }
    assert!(register(&app, &w).await.is_empty());
}

both!(the_care_team_discloses_from_the_consents_page, only_the_care_team_discloses_from_the_page);

/// The world's own shared lapse was recorded on partner A's consent, and
/// registered once (the register helper above leaves it out).
async fn the_world_s_shared_lapse_is_registered_once(app: TestApp) {
    let w = World::build(&app).await;
    let all = entity::disclosures::Entity::find().filter(entity::disclosures::Column::CoupleId.eq(w.couple)).all(&app.db).await.unwrap();
    let rows: Vec<_> = all.iter().filter(|d| d.record_id == Some(w.shared_lapse)).collect();
    assert_eq!(rows.len(), 1, "{all:?}");
    assert_eq!((rows[0].consent_id, rows[0].channel.as_str(), rows[0].record_kind.as_str()), (w.consent_a, "share", "lapses"));
    assert_eq!(all.len(), 1, "the world disclosed nothing else: {all:?}");
}

both!(the_world_s_shared_lapse_is_registered_once);

async fn lapse_count(app: &TestApp) -> u64 {
    use sea_orm::PaginatorTrait;
    entity::lapses::Entity::find().count(&app.db).await.unwrap()
}

/// A lapse recorded already shown to the other partner is a disclosure from
/// the start: refused without the consent of the partner who used (API 409,
/// the form a readable message), nothing stored; allowed with it, and
/// registered exactly once; a revocation refuses the very next one.
async fn a_lapse_recorded_shared_needs_consent_and_is_registered_once(app: TestApp) {
    let mut w = World::build(&app).await;
    let base = format!("/api/v1/couples/{}", w.couple);
    let lapse = |partner: &str, audience: Option<&str>, setting: &str| {
        json!({"partner": partner, "occurred_on": "2026-05-02", "substance": "alcohol", "setting": setting,
               "reported_by": "self", "kind": "lapse", "audience": audience})
    };
    let path = format!("{base}/lapses");
    let shared = created(w.client(Actor::CareTeam).json(Method::POST, &path, Some(lapse("a", Some("couple"), "CREATED_SHARED"))).await);
    let to_b = created(w.client(Actor::CareTeam).json(Method::POST, &path, Some(lapse("a", Some("partner_b"), "CREATED_TO_B"))).await);
    let own = created(w.client(Actor::CareTeam).json(Method::POST, &path, Some(lapse("a", None, "CREATED_OWN"))).await);
    let kept = created(w.client(Actor::CareTeam).json(Method::POST, &path, Some(lapse("a", Some("clinician"), "CREATED_KEPT"))).await);
    let rows = register(&app, &w).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    for id in [shared, to_b] {
        let row: Vec<_> = rows.iter().filter(|r| r.record_id == Some(id)).collect();
        assert_eq!(row.len(), 1, "{rows:?}");
        assert_eq!((row[0].consent_id, row[0].channel.as_str(), row[0].record_kind.as_str()), (w.consent_a, "share", "lapses"));
    }
    assert!(!rows.iter().any(|r| r.record_id == Some(own) || r.record_id == Some(kept)));
    assert!(w.client(Actor::PartnerB).get(&format!("{base}/lapses/{shared}")).await.text().contains("CREATED_SHARED"));

    // Partner B's lapse shown to partner A: B gave no such consent.
    let res = w.client(Actor::CareTeam).json(Method::POST, &path, Some(lapse("b", Some("couple"), "B_REFUSED"))).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text());
    assert_eq!(res.header("content-type"), Some("application/problem+json"));
    let detail = res.json()["detail"].as_str().unwrap_or_default().to_owned();
    assert!(detail.contains("partner B") && detail.contains("lapses") && detail.contains("to partner A"), "{detail}");

    // Partner A revokes; the very next lapse recorded shared is refused, and nothing is stored.
    let revoke = format!("{base}/consents/{}/revoke", w.consent_a);
    assert_eq!(w.client(Actor::PartnerA).json(Method::POST, &revoke, None).await.status, StatusCode::OK);
    let before = lapse_count(&app).await;
    let res = w.client(Actor::CareTeam).json(Method::POST, &path, Some(lapse("a", Some("couple"), "A_REFUSED"))).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text());
    assert!(res.json()["detail"].as_str().unwrap().contains("No consent in force from partner A"), "{}", res.text());
    // The form names the missing consent too.
    let (new, action) = (format!("/couples/{}/lapses/new", w.couple), format!("/couples/{}/lapses", w.couple));
    let fields = [("partner", "a"), ("occurred_on", "2026-05-03"), ("days", "1"), ("substance", "alcohol"), ("setting", "FORM_REFUSED"),
        ("reported_by", "self"), ("kind", "lapse"), ("audience", "couple")];
    let res = w.client(Actor::CareTeam).submit(&new, &action, &fields).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text());
    assert!(res.text().contains("No consent in force from partner A"), "{}", res.text());
    assert_eq!(lapse_count(&app).await, before, "a refused lapse is not stored");
    assert_eq!(register(&app, &w).await.len(), 2, "a refused share is not registered");
    // Kept to partner A it is no disclosure, and goes ahead.
    created(w.client(Actor::CareTeam).json(Method::POST, &path, Some(lapse("a", Some("partner_a"), "STILL_OWN"))).await);
    assert_eq!(register(&app, &w).await.len(), 2);
}

both!(a_lapse_recorded_shared_needs_consent_and_is_registered_once);

/// A session note's block about one partner, shown to the other, is
/// disclosed when the note is signed: it needs that partner's consent to
/// share notes, and lands in the register once.
async fn signing_a_note_that_shows_a_partner_s_block_to_the_other_needs_consent(app: TestApp) {
    let mut w = World::build(&app).await;
    let base = format!("/api/v1/couples/{}", w.couple);
    let mut note = crate::clinical_world::note("SHARED_BLOCK");
    note["content"]["partner_blocks"][0]["audience"] = json!("couple");
    let session = w.joint_session;
    let id = created(w.client(Actor::CareTeam).json(Method::POST, &format!("{base}/sessions/{session}/notes"), Some(note)).await);
    let (path, version) = (format!("{base}/notes/{id}/sign"), "\"1\"".to_owned());
    let client = w.client(Actor::CareTeam);
    let token = crate::clinical_world::csrf(client).await;
    let headers = [("if-match", version.as_str()), ("x-csrf-token", token.as_str())];
    // Partner A's consent covers lapses only.
    let res = client.send(Method::POST, &path, &headers, axum::body::Body::empty()).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text());
    assert!(res.json()["detail"].as_str().unwrap().contains("signed session notes"), "{}", res.text());
    assert!(register(&app, &w).await.is_empty());
    let res = w.client(Actor::PartnerA).json(Method::POST, &format!("{base}/consents"), Some(consent("other_partner", None, &["notes"], "Openness".into()))).await;
    let notes_consent: Uuid = res.json()["id"].as_str().unwrap().parse().unwrap();
    let client = w.client(Actor::CareTeam);
    let res = client.send(Method::POST, &path, &headers, axum::body::Body::empty()).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let rows = register(&app, &w).await;
    assert_eq!(rows.len(), 1, "one block of one partner: {rows:?}");
    assert_eq!((rows[0].record_id, rows[0].consent_id, rows[0].record_kind.as_str()), (Some(id), notes_consent, "notes"));
    let seen = w.client(Actor::PartnerB).get(&format!("{base}/notes/{id}")).await.text();
    assert!(seen.contains(&format!("{PARTNER_A}_SHARED_BLOCK_MOOD")), "{seen}");
}

both!(signing_a_note_that_shows_a_partner_s_block_to_the_other_needs_consent);

/// A consent that ends on an event stops being in force once the care team
/// records the event, or once the couple is discharged; the consent and its
/// page say why; a consent that ends on a date is not ended by either.
async fn a_consent_ends_on_its_event_or_at_discharge(app: TestApp) {
    let mut w = World::build(&app).await;
    let base = format!("/api/v1/couples/{}", w.couple);
    let (plan_consent, couple_id) = (w.consent_a_plan, w.couple);
    let until_event = |purpose: &str| {
        let mut c = consent("other_partner", None, &["lapses"], purpose.into());
        c["expires_on"] = Value::Null;
        c["expiry_event"] = json!("the end of the intensive outpatient programme");
        c
    };
    // Only event consents of partner A cover lapses from here on.
    let revoke = format!("{base}/consents/{}/revoke", w.consent_a);
    assert_eq!(w.client(Actor::PartnerA).json(Method::POST, &revoke, None).await.status, StatusCode::OK);
    let event_consent = created(w.client(Actor::PartnerA).json(Method::POST, &format!("{base}/consents"), Some(until_event("Until IOP ends"))).await);
    let lapse = |setting: &str| json!({"partner": "a", "occurred_on": "2026-05-04", "substance": "alcohol", "setting": setting,
        "reported_by": "self", "kind": "lapse", "audience": "couple"});
    let lapses = format!("{base}/lapses");
    created(w.client(Actor::CareTeam).json(Method::POST, &lapses, Some(lapse("BEFORE_EVENT"))).await);

    // A partner does not record the event; the care team does, once.
    let event = format!("{base}/consents/{event_consent}/event");
    assert_eq!(w.client(Actor::PartnerA).json(Method::POST, &event, None).await.status, StatusCode::NOT_FOUND);
    let res = w.client(Actor::CareTeam).json(Method::POST, &event, None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let ended = res.json();
    assert_eq!(ended["event_end_cause"], "event_recorded", "{ended}");
    assert!(ended["event_ended_at"].is_string() && ended["revoked_at"].is_null());
    let again = w.client(Actor::CareTeam).json(Method::POST, &event, None).await.json();
    assert_eq!(again["event_ended_at"], ended["event_ended_at"], "ended is final");
    // The very next share is refused.
    let res = w.client(Actor::CareTeam).json(Method::POST, &lapses, Some(lapse("AFTER_EVENT"))).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text());
    // A consent that ends on a date has no event to record.
    let res = w.client(Actor::CareTeam).json(Method::POST, &format!("{base}/consents/{}/event", plan_consent), None).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text());
    // Partner A's page says why it ended.
    let page = w.client(Actor::PartnerA).get(&format!("/couples/{}/consents", couple_id)).await.text();
    assert!(page.contains("the care team recorded that &#34;the end of the intensive outpatient programme&#34; happened")
        || page.contains("the care team recorded that &quot;the end of the intensive outpatient programme&quot; happened"), "{page}");

    // The page's button records it too (the care team's only).
    let third = created(w.client(Actor::PartnerA).json(Method::POST, &format!("{base}/consents"), Some(until_event("Third"))).await);
    let (page_path, action) = (format!("/couples/{couple_id}/consents"), format!("/couples/{couple_id}/consents/{third}/event"));
    let shown = w.client(Actor::CareTeam).get(&page_path).await.text();
    assert!(shown.contains(&format!("action=\"{action}\"")), "{shown}");
    assert!(!w.client(Actor::PartnerA).get(&page_path).await.text().contains(&format!("action=\"{action}\"")));
    assert_eq!(w.client(Actor::PartnerA).submit(&page_path, &action, &[]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(w.client(Actor::CareTeam).submit(&page_path, &action, &[]).await.status, StatusCode::SEE_OTHER);
    let third = w.client(Actor::PartnerA).get(&format!("{base}/consents/{third}")).await.json();
    assert_eq!(third["event_end_cause"], "event_recorded", "{third}");

    // Discharge ends the event consents still open, not the dated ones.
    let second = created(w.client(Actor::PartnerA).json(Method::POST, &format!("{base}/consents"), Some(until_event("Second"))).await);
    created(w.client(Actor::CareTeam).json(Method::POST, &lapses, Some(lapse("BEFORE_DISCHARGE"))).await);
    let couple = w.client(Actor::CareTeam).get(&base).await;
    let etag = couple.header("etag").unwrap().to_owned();
    let client = w.client(Actor::CareTeam);
    let token = crate::clinical_world::csrf(client).await;
    let res = client
        .send(Method::PATCH, &base, &[("content-type", "application/json"), ("if-match", &etag), ("x-csrf-token", &token)], json!({"status": "closed"}).to_string().into())
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let second = w.client(Actor::PartnerA).get(&format!("{base}/consents/{second}")).await.json();
    assert_eq!(second["event_end_cause"], "discharged", "{second}");
    let first = w.client(Actor::PartnerA).get(&format!("{base}/consents/{event_consent}")).await.json();
    assert_eq!(first["event_end_cause"], "event_recorded", "an ended consent keeps why it ended: {first}");
    let dated = w.client(Actor::PartnerA).get(&format!("{base}/consents/{}", plan_consent)).await.json();
    assert!(dated["event_ended_at"].is_null(), "{dated}");
    let res = w.client(Actor::CareTeam).json(Method::POST, &lapses, Some(lapse("AFTER_DISCHARGE"))).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text());
    let page = w.client(Actor::CareTeam).get(&format!("/couples/{}/consents", couple_id)).await.text();
    assert!(page.contains("At discharge"), "{page}");
    // Each share before the end stays registered, once.
    let rows = register(&app, &w).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
}

both!(a_consent_ends_on_its_event_or_at_discharge);

fn pdf_bytes() -> Vec<u8> {
    b"%PDF-1.4\n% a scanned consent\n".to_vec()
}

/// Uploads `bytes` as the scan of `consent` through the API, declaring `content_type`.
async fn upload(w: &mut World<'_>, actor: Actor, consent: Uuid, content_type: &str, bytes: Vec<u8>) -> TestResponse {
    let path = format!("/api/v1/couples/{}/consents/{consent}/scan", w.couple);
    let client = w.client(actor);
    let token = crate::clinical_world::csrf(client).await;
    client.send(Method::POST, &path, &[("content-type", content_type), ("x-csrf-token", &token)], bytes.into()).await
}

async fn scan_count(app: &TestApp) -> u64 {
    use sea_orm::PaginatorTrait;
    entity::consent_scans::Entity::find().count(&app.db).await.unwrap()
}

/// The scan of a paper consent: uploaded once by the care team, checked by
/// its first bytes and size, sealed at rest; downloaded (and logged) by the
/// care team and the partner who signed it, by nobody else.
async fn a_paper_consent_s_scan_is_checked_sealed_and_shown_only_to_its_partner_and_the_care_team(app: TestApp) {
    let mut w = World::build(&app).await;
    let base = format!("/api/v1/couples/{}", w.couple);
    let mut paper = consent("named", Some("County Probation Office"), &["sobriety"], "Court reporting".into());
    paper["partner"] = json!("a");
    let id = created(w.client(Actor::CareTeam).json(Method::POST, &format!("{base}/consents"), Some(paper)).await);
    let before = scan_count(&app).await;
    // Bad files are refused with a problem naming the file, and nothing is stored.
    let mut too_large = pdf_bytes();
    too_large.resize(800 * 1024, b' ');
    let mut over_the_limit = pdf_bytes();
    over_the_limit.resize(2 * 1024 * 1024, b' ');
    for (bytes, content_type, status) in [
        (Vec::new(), "application/pdf", StatusCode::UNPROCESSABLE_ENTITY),
        (b"GIF89a....".to_vec(), "image/gif", StatusCode::UNPROCESSABLE_ENTITY),
        (b"<html>not a scan</html>".to_vec(), "application/pdf", StatusCode::UNPROCESSABLE_ENTITY),
        (pdf_bytes(), "image/png", StatusCode::UNPROCESSABLE_ENTITY),
        (too_large, "application/pdf", StatusCode::UNPROCESSABLE_ENTITY),
        (over_the_limit, "application/pdf", StatusCode::PAYLOAD_TOO_LARGE),
    ] {
        let res = upload(&mut w, Actor::CareTeam, id, content_type, bytes).await;
        assert_eq!(res.status, status, "{content_type}: {}", res.text());
        assert_eq!(res.header("content-type"), Some("application/problem+json"));
        if status == StatusCode::UNPROCESSABLE_ENTITY {
            assert_eq!(res.json()["errors"][0]["field"], "file", "{}", res.text());
        }
    }
    assert_eq!(scan_count(&app).await, before, "nothing stored");
    // A partner does not upload; a portal consent has no scan.
    assert_eq!(upload(&mut w, Actor::PartnerA, id, "application/pdf", pdf_bytes()).await.status, StatusCode::NOT_FOUND);
    let portal_consent = w.consent_a;
    assert_eq!(upload(&mut w, Actor::CareTeam, portal_consent, "application/pdf", pdf_bytes()).await.status, StatusCode::CONFLICT);

    let res = upload(&mut w, Actor::CareTeam, id, "application/pdf", pdf_bytes()).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    assert_eq!(res.json()["content_type"], "application/pdf");
    assert_eq!(upload(&mut w, Actor::CareTeam, id, "application/pdf", pdf_bytes()).await.status, StatusCode::CONFLICT, "kept as uploaded");
    let listed = w.client(Actor::PartnerA).get(&format!("{base}/consents/{id}")).await.json();
    assert_eq!(listed["scan"]["size_bytes"], json!(pdf_bytes().len()), "{listed}");
    // Sealed at rest.
    let row = entity::consent_scans::Entity::find().filter(entity::consent_scans::Column::ConsentId.eq(id)).one(&app.db).await.unwrap().unwrap();
    assert!(tandem::vault::is_sealed(&row.content) && !row.content.contains("JVBERi0"), "{}", row.content);

    // Who downloads it, through the API and the page.
    let scan = format!("{base}/consents/{id}/scan");
    let page_scan = format!("/couples/{}/consents/{id}/scan", w.couple);
    for (actor, status) in [
        (Actor::CareTeam, StatusCode::OK),
        (Actor::PartnerA, StatusCode::OK),
        (Actor::PartnerB, StatusCode::NOT_FOUND),
        (Actor::Supervisor, StatusCode::FORBIDDEN),
        (Actor::Admin, StatusCode::NOT_FOUND),
        (Actor::OtherCounselor, StatusCode::NOT_FOUND),
        (Actor::OtherPractice, StatusCode::NOT_FOUND),
    ] {
        for path in [&scan, &page_scan] {
            let res = w.client(actor).get(path).await;
            assert_eq!(res.status, status, "{actor:?} {path}: {}", res.text());
            if status == StatusCode::OK {
                assert_eq!(res.body, pdf_bytes());
                assert_eq!(res.header("content-type"), Some("application/pdf"));
                assert!(res.header("content-disposition").unwrap().starts_with("attachment"));
            }
        }
    }
    assert_eq!(app.client().get(&scan).await.status, StatusCode::UNAUTHORIZED);
    // Each download is in the access log, about the consent.
    let views = entity::access_events::Entity::find()
        .filter(entity::access_events::Column::RecordId.eq(id))
        .filter(entity::access_events::Column::Action.eq("view"))
        .filter(entity::access_events::Column::Outcome.eq("success"))
        .all(&app.db)
        .await
        .unwrap();
    assert!(views.iter().filter(|e| e.record_kind.as_deref() == Some("consent")).count() >= 4, "{views:?}");
}

both!(a_paper_consent_s_scan_is_checked_sealed_and_shown_only_to_its_partner_and_the_care_team);

/// A multipart body with the CSRF token and one file, as a browser sends the form.
fn multipart(token: &str, content_type: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----tandem-test-boundary";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n").into_bytes();
    body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"scan\"\r\nContent-Type: {content_type}\r\n\r\n").as_bytes());
    body.extend_from_slice(bytes);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The page's upload form: a refused file is named beside its consent, a
/// good one is stored and offered for download; the token is checked.
async fn the_consents_page_uploads_a_scan(app: TestApp) {
    let mut w = World::build(&app).await;
    let base = format!("/api/v1/couples/{}", w.couple);
    let mut paper = consent("named", Some("County Probation Office"), &["sobriety"], "Court reporting".into());
    paper["partner"] = json!("a");
    let id = created(w.client(Actor::CareTeam).json(Method::POST, &format!("{base}/consents"), Some(paper)).await);
    let page = format!("/couples/{}/consents", w.couple);
    let action = format!("/couples/{}/consents/{id}/scan", w.couple);
    let client = w.client(Actor::CareTeam);
    let shown = client.get(&page).await.text();
    assert!(shown.contains(&format!("action=\"{action}\"")) && shown.contains("multipart/form-data"), "{shown}");
    let token = client.get(&page).await.csrf_token();
    let (content_type, body) = multipart("not-the-token", "application/pdf", &pdf_bytes());
    let res = client.send(Method::POST, &action, &[("content-type", &content_type)], body.into()).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text());
    let (content_type, body) = multipart(&token, "image/gif", b"GIF89a....");
    let res = client.send(Method::POST, &action, &[("content-type", &content_type)], body.into()).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text());
    assert!(res.text().contains("the scan must be a PDF, PNG or JPEG file"), "{}", res.text());
    assert_eq!(scan_count(&app).await, 1, "only the world's scan");
    let (content_type, body) = multipart(&token, "application/pdf", &pdf_bytes());
    let res = client.send(Method::POST, &action, &[("content-type", &content_type)], body.into()).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let shown = client.get(&page).await.text();
    assert!(shown.contains(&format!("href=\"/couples/{}/consents/{id}/scan\"", w.couple)), "{shown}");
    assert!(!shown.contains(&format!("action=\"{action}\"")), "uploaded once: {shown}");
    // Partner A is offered their own scan; partner B sees nothing of it.
    let own = w.client(Actor::PartnerA).get(&page).await.text();
    assert!(own.contains(&format!("href=\"/couples/{}/consents/{id}/scan\"", w.couple)), "{own}");
    let other = w.client(Actor::PartnerB).get(&page).await.text();
    assert!(!other.contains(&id.to_string()), "{other}");
}

both!(the_consents_page_uploads_a_scan);
