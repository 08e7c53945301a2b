//! The prep page of a couple with two years of history (issue 18,
//! acceptance 2: under 20 ms at p95 on PostgreSQL). The demo practice, and
//! in it a couple in care for two years, written through the API as the
//! counselor and the partners would have written it: a session a week with
//! a signed note and an agenda, daily check-ins by both partners, lapses
//! with their response timelines marked done by the people they belong to,
//! boundaries agreed, revised, kept and tested, plan versions, milestones.
//! Then `GET /couples/{id}/sessions/{sid}/prep` (the page, signed in as the
//! counselor, audited as in production) one client at a time and at a few
//! at once, and the same read model as JSON, with the SQL statements each
//! request makes.
//!
//! Run: `TANDEM_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench prep`
//! (without the variable only SQLite runs). `BENCH_SECONDS` sets each
//! measurement's length (default 3), `BENCH_CLIENTS` the concurrency of the
//! second line (default here 8).

#[path = "support/postgres.rs"]
mod postgres;
#[path = "support/state.rs"]
mod state;
#[path = "support/load.rs"]
mod load;

use load::{Auth, api, api_at, join, load, load_average, request, seconds, send, sign_in, statements, token};

use std::sync::{Arc, atomic::AtomicU64};

use serde_json::{Value, json};
use time::{Date, Duration, OffsetDateTime};

/// Weeks of history: two years.
const WEEKS: i64 = 104;

struct Fixture {
    router: axum::Router,
    statements: Arc<AtomicU64>,
    /// The page of the session being prepared, and its JSON twin.
    page: String,
    json: String,
    cookie: Auth,
    token: Auth,
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// The demo couple's plan and contract, to give the new couple the same.
async fn demo_documents(router: &axum::Router, casey: &Auth) -> (Value, Value) {
    let (_, _, body) = send(router, request("GET", "/api/v1/couples", casey, None)).await;
    let list: Value = serde_json::from_slice(&body).unwrap();
    let demo = id(&list["items"][0]);
    let plan = api(router, casey, "GET", &format!("/api/v1/couples/{demo}/plan"), Value::Null).await;
    let contract = api(router, casey, "GET", &format!("/api/v1/couples/{demo}/recovery-contract"), Value::Null).await;
    let mut plan = plan["content"].clone();
    plan.as_object_mut().unwrap().retain(|_, v| !v.is_null());
    (plan, contract["content"].clone())
}

/// A signed BIRP note for session `sid` of week `w`, the last one with a
/// risk noted; returns nothing (the newest week's note stays a draft).
async fn note(router: &axum::Router, casey: &Auth, base: &str, sid: &str, w: i64, sign: bool) {
    let risk_b = if w == 2 { "low" } else { "none" };
    let note = api(router, casey, "POST", &format!("{base}/sessions/{sid}/notes"), json!({
        "format": "birp",
        "content": {
            "sections": {
                "behavior": {"text": format!("Week {w}: both report on the trust discussion; Jordan describes a craving after a work call and calling the sponsor."), "audience": "clinician"},
                "intervention": {"text": "Reviewed the recovery calendar; practised the trust discussion in session; named a small victory.", "audience": "clinician"},
                "response": {"text": "Both engaged; affect calmer by the end of the session.", "audience": "clinician"},
                "plan": {"text": format!("Continue weekly joint sessions; review the money boundary. Week {w}."), "audience": "couple"}
            },
            "partner_blocks": [
                {"partner": "a", "use_since_last_session": "None reported", "mood": "tired, hopeful",
                 "risk": {"self_harm": "none", "partner_violence": "none"}, "audience": "clinician"},
                {"partner": "b", "mood": "guarded, less anxious", "risk": {"self_harm": "none", "partner_violence": risk_b, "notes": "Raised voices last week; safety plan reviewed."}, "audience": "clinician"}
            ],
            "homework": {"text": format!("Keep the daily trust discussion; each of you names one thing you appreciated (week {w})."), "audience": "couple"},
            "goals_addressed": ["Rebuild trust after the lapse", "Keep the daily trust discussion"]
        }
    }))
    .await;
    if sign {
        api_at(router, casey, "POST", &format!("{base}/notes/{}/sign", id(&note)), 1, json!({})).await;
    }
}

/// Marks done every open step of lapse `lapse` due before `until`, each by
/// the person it belongs to.
async fn mark_steps(router: &axum::Router, base: &str, lapse: &str, until: OffsetDateTime, casey: &Auth, partners: &[Auth; 2]) {
    let steps = api(router, casey, "GET", &format!("{base}/lapse-steps?lapse_id={lapse}&open=true&limit=200"), Value::Null).await;
    for step in steps["items"].as_array().unwrap() {
        let due = OffsetDateTime::parse(step["due_at"].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap();
        if due > until {
            continue;
        }
        let who = match step["owner"].as_str() {
            Some("a") => &partners[0],
            Some(_) => &partners[1],
            None => casey,
        };
        let version = step["version"].as_i64().unwrap();
        api_at(router, who, "PUT", &format!("{base}/lapse-steps/{}", id(step)), version, json!({"done": true})).await;
    }
}

/// Two years of one couple's care, through the API.
async fn history(router: &axum::Router, casey: &Auth, admin: &Auth) -> (String, String) {
    let today = OffsetDateTime::now_utc().date() - Duration::days(1);
    let started = today - Duration::weeks(WEEKS) - Duration::days(3);
    let mut partners = Vec::new();
    let mut member_ids = Vec::new();
    for (email, name) in [("jordan@bench.example", "Jordan Ellis"), ("sam@bench.example", "Sam Ellis")] {
        let cookie = join(router, admin, email, &["client"], name).await;
        let t = token(router, &cookie).await;
        member_ids.push(id(&api(router, &t, "GET", "/api/v1/me", Value::Null).await));
        partners.push(t);
    }
    let partners: [Auth; 2] = partners.try_into().ok().unwrap();
    let (plan, contract) = demo_documents(router, casey).await;
    let couple = api(router, casey, "POST", "/api/v1/couples", json!({
        "label": "Ellis & Ellis", "status": "active", "secrets_policy": "no_secrets", "care_started_on": started,
        "partner_a": {"recovery_role": "in_recovery", "full_name": "Jordan Ellis", "member_id": member_ids[0]},
        "partner_b": {"recovery_role": "supporting", "full_name": "Sam Ellis", "member_id": member_ids[1]}
    }))
    .await;
    let base = format!("/api/v1/couples/{}", id(&couple));
    api_at(router, casey, "PUT", &format!("{base}/recovery-contract"), 0, contract).await;

    // The plan, reviewed each quarter: eight versions.
    let mut plan_version = 0;
    let mut revise_plan = async |on: Date| {
        let mut content = plan.clone();
        content["review_on"] = json!(on + Duration::days(90));
        plan_version = api_at(router, casey, "PUT", &format!("{base}/plan"), plan_version, content).await["version"].as_i64().unwrap();
    };
    // Boundaries: six, agreed by both, two of them revised once and agreed again.
    let categories = ["money", "substances_at_home", "contact_with_people_who_use", "honesty_and_disclosure", "self_care", "safety"];
    let mut boundaries = Vec::new();
    for (i, category) in categories.iter().enumerate() {
        let effective = started + Duration::days(14 + 60 * i as i64);
        let holder = ["partner_a", "partner_b", "both"][i % 3];
        let b = api(router, casey, "POST", &format!("{base}/boundaries"), json!({
            "holder": holder, "category": category,
            "statement": format!("If boundary {i} is crossed, I will say so the same day and we take it to the next session."),
            "consequence": "We talk about it in session, not at home.", "effective_on": effective
        }))
        .await;
        boundaries.push((id(&b), effective));
    }
    let agree = async |bid: &str| {
        for slot in ["a", "b"] {
            let version = api(router, casey, "GET", &format!("{base}/boundaries/{bid}"), Value::Null).await["version"].as_i64().unwrap();
            api_at(router, casey, "POST", &format!("{base}/boundaries/{bid}/agree"), version, json!({"partner": slot})).await;
        }
    };
    for (bid, _) in &boundaries {
        agree(bid).await;
    }
    for (i, (bid, effective)) in boundaries.iter().take(2).enumerate() {
        let version = api(router, casey, "GET", &format!("{base}/boundaries/{bid}"), Value::Null).await["version"].as_i64().unwrap();
        api_at(router, casey, "PUT", &format!("{base}/boundaries/{bid}"), version, json!({
            "holder": "both", "category": categories[i],
            "statement": format!("If boundary {i} is crossed, we both say so the same day and take it to the next session."),
            "consequence": "No blame; it goes on the agenda.", "effective_on": *effective + Duration::days(200)
        }))
        .await;
        agree(bid).await;
    }
    // Kept or tested about twice a month.
    for k in 0..(WEEKS / 2) {
        let (bid, effective) = &boundaries[k as usize % boundaries.len()];
        let on = (today - Duration::weeks(2 * k)).max(*effective);
        api(router, casey, "POST", &format!("{base}/boundaries/{bid}/events"), json!({
            "kind": if k % 4 == 0 { "tested" } else { "kept" }, "occurred_on": on,
            "note": "Talked it through the same evening."
        }))
        .await;
    }

    // Partner A's paper consent (42 CFR 2.31), recorded by the counselor:
    // their lapses may be shown to partner B, as the lapses below are.
    api(router, casey, "POST", &format!("{base}/consents"), json!({
        "partner": "a", "record_kinds": ["lapses"], "substance_use_information": true, "recipient_kind": "other_partner",
        "purpose": "Openness between the partners in couples therapy", "expires_on": today + Duration::days(365),
        "right_to_revoke_acknowledged": true, "signature_name": "Partner A", "confirmed": true
    }))
    .await;

    // A session a week, each with a signed note and an agenda; the plan
    // revised each quarter and a lapse every three months, its timeline
    // done by the people it belongs to.
    for w in (1..=WEEKS).rev() {
        let day = today - Duration::weeks(w);
        if w % 13 == 0 || w == WEEKS {
            revise_plan(day).await;
        }
        if w % 13 == 6 {
            let lapse = api(router, casey, "POST", &format!("{base}/lapses"), json!({
                "partner": "a", "occurred_on": day, "days": 1 + w % 3, "substance": "alcohol", "amount": "three beers",
                "setting": "After a hard day, alone at home", "high_risk_category": "negative_emotions", "reported_by": "self",
                "kind": if w % 26 == 6 { "relapse" } else { "lapse" },
                "learned": "Call the sponsor before, not after.", "timeline_step": "first_month", "safety_checked": true, "audience": "couple"
            }))
            .await;
            mark_steps(router, &base, &id(&lapse), OffsetDateTime::now_utc(), casey, &partners).await;
        }
        let at = day.midnight().assume_utc() + Duration::hours(23);
        let session = api(router, casey, "POST", &format!("{base}/sessions"), json!({
            "starts_at": rfc3339(at), "ends_at": rfc3339(at + Duration::minutes(50)),
            "kind": if w % 5 == 0 { "individual" } else { "joint" }, "partner": if w % 5 == 0 { Some("a") } else { None },
            "modality": "behavioral_couples_therapy", "attendees": ["Jordan", "Sam"], "location": "Room 1", "telehealth": w % 3 == 0
        }))
        .await;
        let sid = id(&session);
        note(router, casey, &base, &sid, w, w != 1).await;
        api_at(router, casey, "PUT", &format!("{base}/sessions/{sid}/agenda"), 0, json!({"text": format!("1. Calendar review\n2. Week {w}'s homework\n3. Boundaries")})).await;
    }
    // A lapse five days ago, its first day's steps done.
    let lapse = api(router, casey, "POST", &format!("{base}/lapses"), json!({
        "partner": "a", "occurred_on": today - Duration::days(5), "days": 1, "substance": "alcohol", "amount": "two beers",
        "setting": "A friend's birthday", "high_risk_category": "social_pressure", "reported_by": "partner", "kind": "lapse",
        "learned": "Leave before the second round.", "timeline_step": "immediately", "safety_checked": true, "audience": "couple"
    }))
    .await;
    mark_steps(router, &base, &id(&lapse), OffsetDateTime::now_utc() - Duration::days(3), casey, &partners).await;
    for (i, days_in) in [1, 30, 100, 200, 400, 700].into_iter().enumerate() {
        api(router, casey, "POST", &format!("{base}/milestones"), json!({
            "title": format!("Milestone {i} of the couple's own"), "achieved_on": started + Duration::days(days_in)
        }))
        .await;
    }
    // Both partners check off every day; eight writers at once.
    let days: Vec<Date> = (0..WEEKS * 7).map(|d| today - Duration::days(d)).collect();
    let mut writers = Vec::new();
    for chunk in days.chunks(days.len().div_ceil(8)) {
        let (router, casey, base, chunk) = (router.clone(), casey.clone(), base.clone(), chunk.to_vec());
        writers.push(tokio::spawn(async move {
            for day in chunk {
                let n = (day - started).whole_days();
                for slot in ["a", "b"] {
                    api(&router, &casey, "PUT", &format!("{base}/recovery-contract/days/{day}"), json!({
                        "partner": slot, "trust_discussion": n % 9 != 0, "meeting_attended": if slot == "a" { Some(n % 7 < 2) } else { None },
                        "medication_taken": if slot == "a" { Some(true) } else { None },
                        "note": if n % 9 == 0 { Some("Late night; we talked in the morning instead.") } else { None }
                    }))
                    .await;
                }
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    // The session to prepare, in two days.
    let at = (today + Duration::days(3)).midnight().assume_utc() + Duration::hours(23);
    let next = api(router, casey, "POST", &format!("{base}/sessions"), json!({
        "starts_at": rfc3339(at), "ends_at": rfc3339(at + Duration::minutes(50)), "kind": "joint", "modality": "behavioral_couples_therapy"
    }))
    .await;
    (id(&couple), id(&next))
}

async fn fixture(url: &str) -> Fixture {
    let (router, statements, demo) = state::demo(url).await;
    let casey = demo.accounts.iter().find(|a| a.role == "counselor").unwrap();
    let admin = demo.accounts.iter().find(|a| a.role == "admin").unwrap();
    let cookie = sign_in(&router, casey.email, &casey.password).await;
    let casey_token = token(&router, &cookie).await;
    let admin_token = token(&router, &sign_in(&router, admin.email, &admin.password).await).await;
    let started = std::time::Instant::now();
    let (couple, session) = history(&router, &casey_token, &admin_token).await;
    println!("(two years written in {:.0} s)", started.elapsed().as_secs_f64());
    Fixture {
        router,
        statements,
        page: format!("/couples/{couple}/sessions/{session}/prep"),
        json: format!("/api/v1/couples/{couple}/sessions/{session}/prep"),
        cookie,
        token: casey_token,
    }
}

async fn run(name: &str, url: &str) {
    let f = fixture(url).await;
    let few = std::env::var("BENCH_CLIENTS").ok().and_then(|s| s.parse().ok()).unwrap_or(8);
    println!("\n{name}, {}s each, audited; load average before: {}", seconds().as_secs(), load_average());
    println!("| request | clients | per second | p50 (ms) | p95 (ms) | p99 (ms) | SQL statements per request |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let cases = [("prep page (HTML)", &f.page, &f.cookie, 1), ("prep page (HTML)", &f.page, &f.cookie, few), ("API prep (JSON)", &f.json, &f.token, 1)];
    for (what, path, auth, clients) in cases {
        let sql = statements(&f.router, &f.statements, path, auth).await;
        let m = load(&f.router, path, auth, clients).await;
        println!("| {what} | {clients} | {:.0} | {:.1} | {:.1} | {:.1} | {sql:.1} |", m.per_second, m.p50, m.p95, m.p99);
    }
    println!("load average after: {}", load_average());
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display());
        run("SQLite (WAL, synchronous=FULL)", &sqlite).await;

        let name = "tandem_bench_prep";
        let Some((admin, pg)) = postgres::fresh(name).await else { return };
        run("PostgreSQL", &pg).await;
        postgres::drop(&admin, name).await;
    });
}
