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

/// Every disclosure row of the couple, as stored.
async fn register(app: &TestApp, couple: Uuid) -> Vec<entity::disclosures::Model> {
    entity::disclosures::Entity::find().filter(entity::disclosures::Column::CoupleId.eq(couple)).all(&app.db).await.unwrap()
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
    let rows = register(&app, w.couple).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].record_id, rows[0].consent_id, rows[0].channel.as_str()), (Some(first), w.consent_a, "share"));
    let mine = w.client(Actor::PartnerA).get(&format!("{base}/disclosures")).await.json();
    assert_eq!(mine.as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine[0]["record_id"], json!(first));
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
    let rows = register(&app, w.couple).await;
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
    let rows = register(&app, w.couple).await;
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
    assert_eq!(csv.lines().count(), 2, "{csv}");
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
    assert!(register(&app, w.couple).await.is_empty());
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
    let rows = register(&app, w.couple).await;
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
    let rows = register(&app, w.couple).await;
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
    assert_eq!(register(&app, w.couple).await.len(), 2);
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
    assert!(register(&app, w.couple).await.is_empty());
}

both!(the_care_team_discloses_from_the_consents_page, only_the_care_team_discloses_from_the_page);
