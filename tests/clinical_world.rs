//! A practice with one couple in care and everyone who might ask about it:
//! the counselor on the care team, a counselor who is not, a supervisor of
//! the first, both partners, the admin, a counselor of another practice and
//! an anonymous caller. Records carry canary strings named after who may
//! read them, so a response can be checked for anything it must not contain.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

/// Canary prefixes. A partner must never see another audience's canaries;
/// no one but the author sees PRIVATE; partners never see DRAFT.
pub const CLINICIAN: &str = "CANARY_CLINICIAN";
pub const PARTNER_A: &str = "CANARY_PARTNER_A";
pub const PARTNER_B: &str = "CANARY_PARTNER_B";
pub const DRAFT: &str = "CANARY_DRAFT";
pub const PRIVATE: &str = "CANARY_PRIVATE";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    CareTeam,
    OtherCounselor,
    Supervisor,
    PartnerA,
    PartnerB,
    Admin,
    OtherPractice,
    Anonymous,
}

impl Actor {
    pub const ALL: [Actor; 8] = [
        Actor::CareTeam,
        Actor::OtherCounselor,
        Actor::Supervisor,
        Actor::PartnerA,
        Actor::PartnerB,
        Actor::Admin,
        Actor::OtherPractice,
        Actor::Anonymous,
    ];

    /// Canary prefixes this actor must never receive.
    pub fn forbidden(self) -> &'static [&'static str] {
        match self {
            Actor::CareTeam => &[],
            Actor::Supervisor => &[PRIVATE],
            Actor::PartnerA => &[CLINICIAN, PARTNER_B, DRAFT, PRIVATE],
            Actor::PartnerB => &[CLINICIAN, PARTNER_A, DRAFT, PRIVATE],
            _ => &[CLINICIAN, PARTNER_A, PARTNER_B, DRAFT, PRIVATE],
        }
    }
}

pub struct World<'a> {
    pub clients: Vec<(Actor, Client<'a>)>,
    pub couple: Uuid,
    pub joint_session: Uuid,
    pub b_individual_session: Uuid,
    pub signed_note: Uuid,
    pub draft_note: Uuid,
    pub private_note: Uuid,
    pub extra_counselor: Uuid,
    pub partner_a_member: Uuid,
    pub shared_boundary: Uuid,
    pub b_boundary: Uuid,
    pub couple_safety_plan: Uuid,
    pub b_safety_plan: Uuid,
    pub shared_lapse: Uuid,
    pub a_lapse: Uuid,
    /// Today in the practice's time zone.
    pub today: time::Date,
    /// An emergency access by a counselor outside the care team, for review.
    pub emergency_access: Uuid,
    /// Partner A's consent to show their lapses to partner B.
    pub consent_a: Uuid,
    /// Partner A's consent to give their plan to [`PHYSICIAN`].
    pub consent_a_plan: Uuid,
    /// Partner A's consent signed on paper, recorded by the care team with
    /// its scan ([`SCAN_PNG`]).
    pub paper_consent_a: Uuid,
    /// An item of partner B's CRAFT track (positive communication).
    pub b_craft_item: Uuid,
    /// The step of the shared lapse's timeline (partner A's).
    pub shared_step: Uuid,
}

/// A scanned paper consent: a 1x1 PNG.
pub const SCAN_PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82";

/// The recipient partner A's plan consent names, as the API example does.
pub const PHYSICIAN: &str = "Dr. Lee, Riverside Family Medicine";

/// A consent a partner signs in the portal.
pub fn consent(recipient_kind: &str, recipient_name: Option<&str>, kinds: &[&str], purpose: String) -> Value {
    json!({
        "record_kinds": kinds, "substance_use_information": true, "recipient_kind": recipient_kind,
        "recipient_name": recipient_name, "purpose": purpose, "expires_on": "2099-12-31",
        "right_to_revoke_acknowledged": true, "signature_name": "Typed Name", "confirmed": true
    })
}

impl<'a> World<'a> {
    pub fn client(&mut self, actor: Actor) -> &mut Client<'a> {
        &mut self.clients.iter_mut().find(|(a, _)| *a == actor).unwrap().1
    }

    pub async fn build(app: &'a TestApp) -> World<'a> {
        let mut practice = app.practice("harbor").await;
        let (c1_id, mut c1) = practice.member("casey@harbor.example", &["counselor"]).await;
        let (_, c2) = practice.member("drew@harbor.example", &["counselor"]).await;
        let (c3_id, _) = practice.member("emery@harbor.example", &["counselor"]).await;
        let (sup_id, sup) = practice.member("sasha@harbor.example", &["supervisor"]).await;
        let (pa_id, mut pa) = practice.member("dan@home.example", &["client"]).await;
        let (pb_id, mut pb) = practice.member("marisol@home.example", &["client"]).await;
        let res = practice
            .admin
            .json(Method::POST, "/api/v1/supervisions", Some(json!({"supervisor_id": sup_id, "counselor_id": c1_id})))
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());

        let mut other = app.practice("elsewhere").await;
        let (_, x) = other.member("xavier@elsewhere.example", &["counselor"]).await;

        let couple = c1
            .json(
                Method::POST,
                "/api/v1/couples",
                Some(json!({
                    "label": "Okafor & Reyes",
                    "status": "active",
                    "secrets_policy": "individual_confidential",
                    "care_started_on": "2026-03-02",
                    "partner_a": {"recovery_role": "in_recovery", "full_name": "Daniel Okafor",
                        "phone": format!("{PARTNER_A}_PHONE"), "member_id": pa_id},
                    "partner_b": {"recovery_role": "supporting", "full_name": "Marisol Reyes",
                        "phone": format!("{PARTNER_B}_PHONE"), "member_id": pb_id}
                })),
            )
            .await;
        assert_eq!(couple.status, StatusCode::CREATED, "{}", couple.text());
        let couple: Uuid = couple.json()["id"].as_str().unwrap().parse().unwrap();
        let base = format!("/api/v1/couples/{couple}");
        let res = c1.json(Method::POST, &format!("{base}/care-team"), Some(json!({"member_id": c3_id}))).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());

        let joint = created(c1.json(Method::POST, &format!("{base}/sessions"), Some(session("joint", None, "Room 2"))).await);
        let individual = created(
            c1.json(Method::POST, &format!("{base}/sessions"), Some(session("individual", Some("b"), &format!("{PARTNER_B}_ROOM")))).await,
        );

        let signed_note = created(c1.json(Method::POST, &format!("{base}/sessions/{joint}/notes"), Some(note("SIGNED"))).await);
        let token = csrf(&mut c1).await;
        let res = c1
            .send(
                Method::POST,
                &format!("{base}/notes/{signed_note}/sign"),
                &[("if-match", "\"1\""), ("x-csrf-token", &token)],
                axum::body::Body::empty(),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        let draft_note = created(
            c1.json(
                Method::POST,
                &format!("{base}/sessions/{joint}/notes"),
                Some(json!({"format": "dap", "content": {"sections": {"data": {"text": format!("{DRAFT}_DATA"), "audience": "couple"}}}})),
            )
            .await,
        );
        let private_note = created(
            c1.json(Method::POST, &format!("{base}/private-notes"), Some(json!({"text": format!("{PRIVATE}_THOUGHTS"), "session_id": joint}))).await,
        );

        let plan = json!({
            "reasons_for_recovery": {"items": ["Be present for Lucía"], "audience": "couple"},
            "high_risk_situations": {"items": [{"category": "conflict", "situation": format!("{CLINICIAN}_PLAN_SITUATION"),
                "response": "cope"}], "audience": "clinician"},
            "lapse_response": {"items": [{"when": "immediately", "who": "partner_in_recovery", "action": "Tell Marisol and call Luis"}], "audience": "couple"},
            "supporting_partner_care": {"items": [format!("{PARTNER_B}_PLAN_SELF_CARE")], "audience": "partner_b"}
        });
        let token = csrf(&mut c1).await;
        let res = c1.send(
            Method::PUT,
            &format!("{base}/plan"),
            &[("content-type", "application/json"), ("if-match", "\"0\""), ("x-csrf-token", &token)],
            plan.to_string().into(),
        )
        .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        let boundary = |holder: &str, audience: &str, text: String| {
            json!({"holder": holder, "category": "money", "statement": text, "consequence": "We talk it through in session.", "audience": audience})
        };
        let shared_boundary = created(
            c1.json(Method::POST, &format!("{base}/boundaries"), Some(boundary("both", "couple", "If money goes missing, we pause the joint account.".into()))).await,
        );
        let b_boundary = created(
            c1.json(Method::POST, &format!("{base}/boundaries"), Some(boundary("partner_b", "partner_b", format!("{PARTNER_B}_BOUNDARY")))).await,
        );
        // Partner B's boundary was kept once: a mark on B's boundaries picture.
        let kept = json!({"kind": "kept", "occurred_on": "2026-04-02", "note": format!("{PARTNER_B}_KEPT_NOTE")});
        let res = c1.json(Method::POST, &format!("{base}/boundaries/{b_boundary}/events"), Some(kept)).await;
        assert!(res.status.is_success(), "{}", res.text());
        let safety = |owner: &str, sign: String| json!({"owner": owner, "content": {"warning_signs": [sign], "professionals_and_crisis_lines": [{"name": "988 Lifeline", "phone": "988"}]}});
        let couple_safety_plan =
            created(c1.json(Method::POST, &format!("{base}/safety-plans"), Some(safety("couple", "Shouting at home".into()))).await);
        let b_safety_plan =
            created(c1.json(Method::POST, &format!("{base}/safety-plans"), Some(safety("partner_b", format!("{PARTNER_B}_SAFETY")))).await);
        // Consents (42 CFR 2.31): partner A lets the care team show their
        // lapses to partner B, and give their plan to their physician;
        // partner B has one of their own, which partner A must not see.
        let consents = format!("{base}/consents");
        let consent_a = created(pa.json(Method::POST, &consents, Some(consent("other_partner", None, &["lapses"], format!("{PARTNER_A}_CONSENT_PURPOSE")))).await);
        let consent_a_plan = created(
            pa.json(Method::POST, &consents, Some(consent("named", Some(PHYSICIAN), &["plan"], format!("{PARTNER_A}_CONSENT_PLAN_PURPOSE")))).await,
        );
        created(pb.json(Method::POST, &consents, Some(consent("named", Some("Marisol's therapist"), &["plan"], format!("{PARTNER_B}_CONSENT_PURPOSE")))).await);
        // A paper consent of partner A the care team recorded, with its scan.
        let mut paper = consent("named", Some("Harbor Legal Aid"), &["sessions"], format!("{PARTNER_A}_PAPER_PURPOSE"));
        paper["partner"] = json!("a");
        let paper_consent_a = created(c1.json(Method::POST, &consents, Some(paper)).await);
        let token = csrf(&mut c1).await;
        let res = c1
            .send(
                Method::POST,
                &format!("{consents}/{paper_consent_a}/scan"),
                &[("content-type", "image/png"), ("x-csrf-token", &token)],
                SCAN_PNG.to_vec().into(),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
        let lapse = |audience: Option<&str>, setting: String, substance: String| {
            json!({"partner": "a", "occurred_on": "2026-03-10", "days": 2, "substance": substance, "setting": setting,
                   "reported_by": "self", "kind": "lapse", "audience": audience})
        };
        // Shown to partner B from the start: a disclosure, on consent_a.
        let shared_lapse =
            created(c1.json(Method::POST, &format!("{base}/lapses"), Some(lapse(Some("couple"), "work party".into(), "alcohol".into()))).await);
        // No audience given: individual confidentiality makes it partner A's
        // alone. Its substance is named on the timeline's marks.
        let a_lapse = created(
            c1.json(Method::POST, &format!("{base}/lapses"), Some(lapse(None, format!("{PARTNER_A}_LAPSE_SETTING"), format!("{PARTNER_A}_SUBSTANCE"))))
                .await,
        );
        let steps = c1.get(&format!("{base}/lapse-steps?lapse_id={shared_lapse}")).await.json();
        let shared_step: Uuid = steps["items"][0]["id"].as_str().expect("the shared lapse's timeline").parse().unwrap();
        let res = c1
            .json(Method::POST, &format!("{base}/milestones"), Some(json!({"title": format!("{CLINICIAN}_MILESTONE"), "achieved_on": "2026-04-01", "audience": "clinician"})))
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());

        let contract = json!({"intention_statement": "I intend not to drink today.", "meetings": ["AA Tuesday"],
            "other_commitments": [format!("{CLINICIAN}_CONTRACT_NOTE")], "audience": "clinician"});
        let token = csrf(&mut c1).await;
        let res = c1
            .send(
                Method::PUT,
                &format!("{base}/recovery-contract"),
                &[("content-type", "application/json"), ("if-match", "\"0\""), ("x-csrf-token", &token)],
                contract.to_string().into(),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        // The contract is shared with the couple after all (the matrix's PUT keeps it so).
        let shared = json!({"intention_statement": "I intend not to drink today.", "meetings": ["AA Tuesday"], "audience": "couple"});
        let res = c1
            .send(
                Method::PUT,
                &format!("{base}/recovery-contract"),
                &[("content-type", "application/json"), ("if-match", "\"1\""), ("x-csrf-token", &token)],
                shared.to_string().into(),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        let b_craft_item = created(
            c1.json(
                Method::POST,
                &format!("{base}/craft-items"),
                Some(json!({"owner": "b", "kind": "positive_communication",
                    "text": {"title": format!("{PARTNER_B}_CRAFT_TITLE"), "practice": format!("{PARTNER_B}_CRAFT_PRACTICE")}})),
            )
            .await,
        );
        let today = tandem::records::milestones::practice_today(&app.state, "Europe/Berlin");
        let (_, mut fin) = practice.member("fin@harbor.example", &["counselor"]).await;
        let res = fin
            .json(Method::POST, &format!("{base}/emergency-access"), Some(json!({"reason": "Dan called the crisis line; Casey is away."})))
            .await;
        let emergency_access = created(res);

        let clients = vec![
            (Actor::CareTeam, c1),
            (Actor::OtherCounselor, c2),
            (Actor::Supervisor, sup),
            (Actor::PartnerA, pa),
            (Actor::PartnerB, pb),
            (Actor::Admin, practice.admin),
            (Actor::OtherPractice, x),
            (Actor::Anonymous, app.client()),
        ];
        World {
            clients,
            couple,
            joint_session: joint,
            b_individual_session: individual,
            signed_note,
            draft_note,
            private_note,
            extra_counselor: c3_id,
            partner_a_member: pa_id,
            shared_boundary,
            b_boundary,
            couple_safety_plan,
            b_safety_plan,
            shared_lapse,
            a_lapse,
            today,
            emergency_access,
            consent_a,
            consent_a_plan,
            paper_consent_a,
            b_craft_item,
            shared_step,
        }
    }
}

pub async fn csrf(client: &mut Client<'_>) -> String {
    client.get("/tokens").await.csrf_token()
}

pub fn created(res: TestResponse) -> Uuid {
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    res.json()["id"].as_str().unwrap().parse().unwrap()
}

pub fn session(kind: &str, partner: Option<&str>, location: &str) -> Value {
    json!({
        "starts_at": "2026-11-24T17:00:00Z", "ends_at": "2026-11-24T17:50:00Z",
        "kind": kind, "partner": partner, "modality": "behavioral_couples_therapy",
        "attendees": ["Dan", "Marisol"], "location": location, "telehealth": false
    })
}

/// A SOAP note with a part for every audience.
pub fn note(tag: &str) -> Value {
    json!({
        "format": "soap",
        "content": {
            "sections": {
                "subjective": {"text": format!("{CLINICIAN}_{tag}_SUBJECTIVE"), "audience": "clinician"},
                "plan": {"text": format!("Shared plan {tag}: daily trust discussion"), "audience": "couple"}
            },
            "partner_blocks": [
                {"partner": "a", "mood": format!("{PARTNER_A}_{tag}_MOOD"), "audience": "partner_a",
                 "risk": {"self_harm": "none", "partner_violence": "none"}},
                {"partner": "b", "mood": format!("{PARTNER_B}_{tag}_MOOD"), "audience": "partner_b"}
            ],
            "homework": {"text": format!("Homework {tag}: list two warning signs"), "audience": "couple"},
            "goals_addressed": [format!("{CLINICIAN}_{tag}_GOAL")]
        }
    })
}

/// Fails when `body` holds a canary `actor` may not see.
pub fn assert_no_leak(actor: Actor, what: &str, body: &str) {
    for canary in actor.forbidden() {
        assert!(!body.contains(canary), "{actor:?} received {canary} from {what}: {body}");
    }
}
