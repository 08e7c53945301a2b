//! `tandem demo`: a practice with a counselor, a supervisor, an admin and a
//! couple whose partners have portal accounts, with the records a counselor
//! would have after eight months of work: sessions and signed notes, a
//! relapse-prevention plan with its lapse-response timeline, boundaries,
//! safety plans, a lapse and what was learned from it, and milestones.

use entity::ids::PracticeId;
use serde_json::json;
use time::{Date, Duration, OffsetDateTime, Time};

use entity::{members, practices};

use crate::{
    state::AppState,
    access::{self, Need},
    audit::AuditContext,
    auth::{AuthMethod, CurrentMember, password},
    error::AppError,
    practice::{Email, Role, Roles, setup},
    records::{
        boundaries::{self, AgreeInput, BoundaryEventInput, BoundaryInput},
        common::{IfMatch, PartnerSlot},
        consents,
        contract::{self, CheckIn, ContractContent},
        disclosures,
        couples::{self, NewCouple},
        lapse_response,
        lapses::{self, LapseInput},
        milestones::{self, CustomMilestoneInput},
        notes::{self, NoteInput},
        plans::{self, PlanContent, TimelineWhen},
        private_notes::{self, PrivateNoteInput},
        safety_plans::{self, SafetyPlanInput},
        sessions::{self, SessionInput},
    },
    scope::PracticeScope,
};

pub const SLUG: &str = "riverside";

/// The physician Dan's consent lets the practice give his plan to.
pub const PHYSICIAN: &str = "Dr. Priya Patel, Riverside Family Medicine";

/// The treatment centre Dan's consent lets the practice send his chart to
/// (the FHIR export), should he move to intensive outpatient care.
pub const TREATMENT_CENTRE: &str = "Lakeshore Recovery Center";

/// Someone the demo creates, with the password it chose for them.
pub struct DemoAccount {
    pub role: &'static str,
    pub name: &'static str,
    pub email: &'static str,
    pub password: String,
}

pub struct Demo {
    pub practice_slug: &'static str,
    pub accounts: Vec<DemoAccount>,
}

fn from_json<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, AppError> {
    serde_json::from_value(value).map_err(|e| anyhow::anyhow!("demo data: {e}").into())
}

fn current(member: &members::Model, practice: &practices::Model) -> Result<CurrentMember, AppError> {
    Ok(CurrentMember {
        roles: Roles::from_stored(&member.roles).map_err(|e| anyhow::anyhow!(e))?,
        scope: PracticeScope::trusted(practice.id),
        member: member.clone().into(),
        practice: practice.clone().into(),
        method: AuthMethod::Session,
    })
}

fn at(day: Date, hour: u8) -> OffsetDateTime {
    // 17:00 in Chicago is 23:00 UTC for most of the year; close enough for a demo.
    day.with_time(Time::from_hms(hour, 0, 0).expect("valid hour")).assume_utc()
}

pub async fn load(state: &AppState) -> Result<Demo, AppError> {
    // One unit of work in the new practice: all of the demo, or none of it.
    let id = PracticeId::new();
    crate::tenant::within(id, load_into(state, id)).await
}

async fn load_into(state: &AppState, id: PracticeId) -> Result<Demo, AppError> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    if practices::Entity::find().filter(practices::Column::Slug.eq(SLUG)).one(&state.db).await?.is_some() {
        return Err(AppError::Conflict(format!("A practice named `{SLUG}` exists already; the demo loads into a database without it.")));
    }
    let today = milestones::practice_today(state, "America/Chicago");
    let start = today - Duration::days(240);

    let practice = {
        use sea_orm::{ActiveModelTrait, ActiveValue::Set};
        practices::ActiveModel {
            id: Set(id),
            slug: Set(SLUG.into()),
            name: Set("Riverside Couples Counseling".into()),
            time_zone: Set("America/Chicago".into()),
            created_at: Set(state.clock.now()),
        }
        .insert(&state.db)
        .await?
    };
    state.vault.practice(&state.db, practice.id).await?;
    let scope = PracticeScope::trusted(practice.id);
    let people: [(&str, &str, &str, Role); 5] = [
        ("admin", "Avery Brooks", "avery@riverside.example", Role::Admin),
        ("counselor", "Casey Morgan", "casey@riverside.example", Role::Counselor),
        ("supervisor", "Sasha Lee", "sasha@riverside.example", Role::Supervisor),
        ("partner in recovery", "Daniel Okafor", "dan@okafor-reyes.example", Role::Client),
        ("supporting partner", "Marisol Reyes", "marisol@okafor-reyes.example", Role::Client),
    ];
    let mut accounts = Vec::new();
    let mut models = Vec::new();
    for (role, name, email, r) in people {
        let secret = crate::secret::generate()[..16].to_owned();
        let hash = password::hash(secret.clone()).await?;
        let email_v = Email::parse(email).map_err(|e| anyhow::anyhow!(e))?;
        let m = setup::insert_member(&state.db, scope, &email_v, name.into(), Some(hash), &Roles::one(r), state.clock.now()).await?;
        accounts.push(DemoAccount { role, name, email, password: secret });
        models.push(m);
    }
    let [avery, casey, sasha, dan, marisol] = models.try_into().map_err(|_| anyhow::anyhow!("five members"))?;
    let admin = current(&avery, &practice)?;
    crate::practice::members::add_supervision(state, &admin, sasha.id, casey.id, None, &Default::default()).await?;

    // The demo's records are written in one transaction, as a script, not
    // as anyone's access to them.
    let audit = AuditContext::offline();
    let counselor = current(&casey, &practice)?;
    let couple = couples::create(
        state,
        &audit,
        &counselor,
        from_json::<NewCouple>(json!({
            "label": "Okafor & Reyes", "status": "active", "secrets_policy": "individual_confidential",
            "care_started_on": start,
            "partner_a": {"recovery_role": "in_recovery", "full_name": "Daniel Okafor", "preferred_name": "Dan",
                "pronouns": "he/him", "date_of_birth": "1986-04-12", "phone": "+1 312 555 0142",
                "email": "dan@okafor-reyes.example", "emergency_contact": "Grace Okafor (sister), +1 312 555 0199",
                "member_id": dan.id},
            "partner_b": {"recovery_role": "supporting", "full_name": "Marisol Reyes", "pronouns": "she/her",
                "date_of_birth": "1988-09-30", "phone": "+1 312 555 0163", "email": "marisol@okafor-reyes.example",
                "emergency_contact": "Ana Reyes (sister), +1 312 555 0177", "member_id": marisol.id}
        }))?,
    )
    .await?;
    let access = access::couple(state, &audit, &counselor, couple.id, Need::Write).await?;

    plans::save(state.clock.now(), &access, IfMatch(0), from_json::<PlanContent>(json!({
        "reasons_for_recovery": {"items": ["Be present for our daughter, Lucía", "Trust each other again", "Keep my job and my health"]},
        "high_risk_situations": {"items": [
            {"category": "social_pressure", "situation": "Friday drinks and leaving parties at work", "response": "avoid",
             "coping_skill": "Leave by 5:30; call Marisol on the way home", "who_to_call": "Luis (sponsor)"},
            {"category": "conflict", "situation": "Arguments about money late in the evening", "response": "escape",
             "coping_skill": "Time-out: 30 minutes apart, then the daily trust discussion", "who_to_call": null},
            {"category": "negative_emotions", "situation": "Feeling like a failure after a hard day", "response": "cope",
             "coping_skill": "Urge surfing for 20 minutes; walk the dog", "who_to_call": "Luis (sponsor)"}]},
        "warning_signs": {"items": [
            {"kind": "emotional", "sign": "Snapping at small things", "noticed_by": "partner", "what_to_do": "Name it gently; suggest a walk"},
            {"kind": "mental", "sign": "Thinking 'one won't hurt'", "noticed_by": "self", "what_to_do": "Call Luis before deciding anything"},
            {"kind": "physical", "sign": "Skipping meals and sleeping badly", "noticed_by": "self", "what_to_do": "Bring it to the next session"}]},
        "coping_strategies": {"items": ["Urge surfing", "Play the tape forward", "Call Luis", "Go to an extra meeting"]},
        "daily_habits": {"items": ["Daily trust discussion at 9 pm", "Check off the recovery calendar together", "Morning walk"]},
        "support_people": {"items": [
            {"name": "Luis", "role": "sponsor", "phone": "+1 312 555 0117", "reachable": "any time", "consent_to_contact": true},
            {"name": "Tuesday men's group", "role": "peer group", "phone": null, "reachable": "Tuesdays 7 pm", "consent_to_contact": false},
            {"name": "Casey Morgan", "role": "counselor", "phone": "+1 312 555 0100", "reachable": "weekdays 9-5", "consent_to_contact": true}]},
        "meetings_and_medications": {"items": ["AA Tuesday and Thursday, 7 am", "Naltrexone 50 mg daily"]},
        "lapse_response": {"items": [
            {"when": "immediately", "who": "partner_in_recovery", "action": "Tell Marisol the same day and call Luis"},
            {"when": "immediately", "who": "supporting_partner", "action": "Keep yourself safe: go to Ana's if you need to; no confrontation tonight"},
            {"when": "immediately", "who": "counselor", "action": "Offer a session within 72 hours and check safety with each partner"},
            {"when": "first_week", "who": "partner_in_recovery", "action": "Go to a meeting every day this week"},
            {"when": "first_week", "who": "supporting_partner", "action": "Go to Al-Anon; write down what you need from Dan"},
            {"when": "first_week", "who": "counselor", "action": "Joint session: what happened, what was learned, what changes"},
            {"when": "first_month", "who": "partner_in_recovery", "action": "Review triggers with Luis; add a third weekly meeting"},
            {"when": "first_month", "who": "supporting_partner", "action": "Keep your own support going even when things feel calm"},
            {"when": "first_month", "who": "counselor", "action": "Review the plan and the boundaries with both partners"}]},
        "supporting_partner_care": {"items": ["Al-Anon on Wednesdays", "Weekly call with Ana", "One evening a week for herself"]},
        "review_on": today + Duration::days(30)
    }))?).await?;

    let mut session_ids = Vec::new();
    for weeks_ago in [12, 10, 8, 6, 4, 2, 1] {
        let day = today - Duration::days(7 * weeks_ago);
        let session = sessions::create(state.clock.now(), &access, from_json::<SessionInput>(json!({
            "starts_at": format_rfc3339(at(day, 23)), "ends_at": format_rfc3339(at(day, 23) + Duration::minutes(50)),
            "kind": "joint", "modality": "behavioral_couples_therapy", "attendees": ["Dan", "Marisol"],
            "location": "Room 2", "telehealth": weeks_ago == 6
        }))?).await?;
        session_ids.push((weeks_ago, session.id));
    }
    let notes_text = [
        ("Dan describes the first weeks after the lapse as 'walking on eggshells'. Marisol says she is tired of checking his breath.",
         "Reviewed the lapse-response timeline; both agree the first 24 hours went as planned.", "Each of you lists two early warning signs you noticed this week."),
        ("Both report three evenings of the trust discussion. Marisol noticed she did not bring up the past at home.",
         "Practised the trust discussion in session; Dan stated his intention, Marisol thanked him.", "Keep the daily trust discussion; check the calendar off together."),
        ("Dan had a craving after a work call; he called Luis and went for a walk.",
         "Reinforced the coping response; named it as a small victory.", "Dan: note cravings and what helped. Marisol: one evening for yourself."),
        ("Conflict about money came up again. Both used the time-out.",
         "Introduced the money boundary; both want to think about it.", "Read the proposed money boundary together before next week."),
        ("Marisol agreed to the money boundary; Dan wants to talk about the wording.",
         "Revised the wording together.", "Celebrate the 90-day mark in a way that suits you both."),
    ];
    let mut signed = Vec::new();
    for ((weeks_ago, session_id), (subjective, intervention, homework)) in session_ids.iter().zip(notes_text) {
        let note = notes::create(state.clock.now(), &access, *session_id, from_json::<NoteInput>(json!({
            "format": "birp",
            "content": {
                "sections": {
                    "behavior": {"text": subjective, "audience": "clinician"},
                    "intervention": {"text": intervention, "audience": "clinician"},
                    "response": {"text": "Both engaged; affect calmer by the end of the session.", "audience": "clinician"},
                    "plan": {"text": format!("Continue weekly joint sessions. Next: week {}.", 13 - weeks_ago), "audience": "couple"}
                },
                "partner_blocks": [
                    {"partner": "a", "use_since_last_session": "None reported", "mood": "tired, hopeful",
                     "risk": {"self_harm": "none", "partner_violence": "none"}, "audience": "clinician"},
                    {"partner": "b", "mood": "guarded, less anxious", "risk": {"self_harm": "none", "partner_violence": "none"}, "audience": "clinician"}
                ],
                "homework": {"text": homework, "audience": "couple"},
                "goals_addressed": ["Rebuild trust after the lapse", "Keep the daily trust discussion"]
            }
        }))?).await?;
        signed.push(notes::sign(state.clock.now(), &access, note.id, IfMatch(1)).await?.id);
    }
    // Sessions booked this week and next, so the dashboard has a day to show.
    for days_ahead in [2, 9] {
        let day = today + Duration::days(days_ahead);
        sessions::create(state.clock.now(), &access, from_json::<SessionInput>(json!({
            "starts_at": format_rfc3339(at(day, 23)), "ends_at": format_rfc3339(at(day, 23) + Duration::minutes(50)),
            "kind": "joint", "modality": "behavioral_couples_therapy", "attendees": ["Dan", "Marisol"],
            "location": "Room 2", "telehealth": false
        }))?).await?;
    }
    // The latest session's note is still a draft.
    let (_, last_session) = session_ids[session_ids.len() - 1];
    notes::create(state.clock.now(), &access, last_session, from_json::<NoteInput>(json!({
        "format": "soap",
        "content": {"sections": {"subjective": {"text": "Both arrived on time; Dan mentioned a stressful week at work."}}}
    }))?).await?;
    let supervisor = current(&sasha, &practice)?;
    let supervising = access::couple(state, &audit, &supervisor, couple.id, Need::Cosign).await?;
    notes::cosign(state.clock.now(), &supervising, signed[0]).await?;
    private_notes::create(state.clock.now(), &access, from_json::<PrivateNoteInput>(json!({
        "session_id": session_ids[0].1,
        "text": "Wonder whether Dan's 'fine' covers shame about the lapse. Try an externalising question next time."
    }))?).await?;

    let money = boundaries::create(state.clock.now(), &access, from_json::<BoundaryInput>(json!({
        "holder": "partner_b", "category": "money",
        "statement": "If money goes missing from the joint account, I will move my pay to my own account for a month.",
        "consequence": "We talk about it in session, not at home.", "effective_on": today - Duration::days(30)
    }))?).await?;
    let home = boundaries::create(state.clock.now(), &access, from_json::<BoundaryInput>(json!({
        "holder": "both", "category": "substances_at_home",
        "statement": "If alcohol is brought into our home, it is poured out that evening and we tell our counselor.",
        "consequence": "No blame; it goes on the agenda for the next session.", "effective_on": start + Duration::days(14)
    }))?).await?;
    for (boundary, slot) in [(home.id, PartnerSlot::A), (home.id, PartnerSlot::B), (money.id, PartnerSlot::B)] {
        let version = boundaries::get(&access, boundary).await?.version;
        boundaries::agree(state.clock.now(), &access, boundary, IfMatch(version), AgreeInput { partner: Some(slot) }).await?;
    }
    boundaries::log_event(state.clock.now(), &access, home.id, from_json::<BoundaryEventInput>(json!({
        "kind": "kept", "occurred_on": today - Duration::days(20), "note": "A guest brought wine; Dan asked him to take it home."
    }))?).await?;
    boundaries::create(state.clock.now(), &access, from_json::<BoundaryInput>(json!({
        "holder": "partner_a", "category": "contact_with_people_who_use",
        "statement": "If old friends invite me out drinking, I will say no and tell Marisol they called.",
        "consequence": "Marisol thanks me for telling her."
    }))?).await?;

    safety_plans::create(state.clock.now(), &access, from_json::<SafetyPlanInput>(json!({
        "owner": "couple",
        "content": {
            "warning_signs": ["Raised voices after 10 pm", "Either of us saying 'I can't do this anymore'"],
            "internal_coping": ["Time-out for 30 minutes", "Box breathing"],
            "distraction_people_and_places": ["Walk by the river", "Ana's kitchen"],
            "people_to_ask_for_help": [{"name": "Luis (Dan's sponsor)", "phone": "+1 312 555 0117"}, {"name": "Ana Reyes", "phone": "+1 312 555 0177"}],
            "professionals_and_crisis_lines": [{"name": "Casey Morgan", "phone": "+1 312 555 0100", "note": "weekdays 9-5"},
                {"name": "988 Suicide & Crisis Lifeline", "phone": "988"}],
            "making_environment_safe": ["No alcohol in the house", "Car keys on the hook by the door"],
            "reasons_for_living": "Lucía, and the life we are rebuilding"
        }
    }))?).await?;
    safety_plans::create(state.clock.now(), &access, from_json::<SafetyPlanInput>(json!({
        "owner": "partner_b",
        "content": {
            "warning_signs": ["Dan comes home late and won't say where he was"],
            "internal_coping": ["Go to the bedroom and lock the door", "Breathe; this is not my fault"],
            "people_to_ask_for_help": [{"name": "Ana Reyes (sister)", "phone": "+1 312 555 0177", "note": "spare room any night"}],
            "professionals_and_crisis_lines": [{"name": "National Domestic Violence Hotline", "phone": "1-800-799-7233"}],
            "making_environment_safe": ["Phone charged, bag with documents at Ana's"]
        }
    }))?).await?;

    // Dan's consents (42 CFR 2.31), recorded from the paper he signed before
    // anything of his was shown to Marisol: his lapses may be shown to her,
    // his plan given to his physician, his chart sent to a treatment centre
    // (the FHIR export); the one for his employer's programme he revoked.
    let now = state.clock.now();
    let consent = |kinds: serde_json::Value, recipient: Option<&str>, purpose: &str| {
        json!({
            "partner": "a", "record_kinds": kinds, "substance_use_information": true,
            "recipient_kind": if recipient.is_some() { "named" } else { "other_partner" }, "recipient_name": recipient,
            "purpose": purpose, "expires_on": today + Duration::days(365), "expiry_event": "the end of treatment at Riverside",
            "right_to_revoke_acknowledged": true, "signature_name": "Daniel Okafor", "confirmed": true
        })
    };
    consents::create(&access, now, from_json(consent(json!(["lapses"]), None, "Openness with Marisol as part of couples therapy"))?).await?;
    consents::create(&access, now, from_json(consent(json!(["plan"]), Some(PHYSICIAN), "Coordinating naltrexone and follow-up"))?).await?;
    let every_kind = json!(["lapses", "plan", "safety_plans", "boundaries", "sessions", "notes", "sobriety"]);
    consents::create(&access, now, from_json(consent(every_kind, Some(TREATMENT_CENTRE), "Continuity of care on transfer to intensive outpatient treatment"))?).await?;
    let employer = consents::create(&access, now, from_json(consent(json!(["sobriety"]), Some("Northside Employee Assistance Program"), "Return-to-work review"))?).await?;
    consents::revoke(&access, now, employer.id).await?;
    let long_ago = lapses::create(state.clock.now(), &access, from_json::<LapseInput>(json!({
        "partner": "a", "occurred_on": today - Duration::days(95), "days": 2, "substance": "alcohol",
        "amount": "about six beers each evening", "setting": "A colleague's leaving party, then alone the next night",
        "high_risk_category": "social_pressure", "reported_by": "self", "kind": "lapse",
        "learned": "Saying yes to 'just one' at work events is the door. Leave before the second round and call Luis from the car.",
        "timeline_step": "first_month", "safety_checked": true, "audience": "couple"
    }))?).await?;
    // Every step after the old lapse was done in time.
    lapse_response::demo_done(&access, long_ago.id, |_| true).await?;
    // A slip a few days ago, told the same day: what a counselor prepares for
    // now. Dan kept it to himself at first, then agreed to share it.
    let slip = json!({
        "partner": "a", "occurred_on": today - Duration::days(3), "days": 1, "substance": "alcohol",
        "amount": "two beers", "setting": "Alone at home after a hard call with his brother",
        "high_risk_category": "negative_emotions", "reported_by": "self", "kind": "lapse",
        "learned": "Family calls are a trigger too; call Luis before, not after.",
        "timeline_step": "immediately", "safety_checked": true, "audience": "partner_a"
    });
    let kept = lapses::create(state.clock.now(), &access, from_json::<LapseInput>(slip.clone())?).await?;
    let mut shared = slip;
    shared["audience"] = json!("couple");
    lapses::update(state.clock.now(), &access, kept.id, IfMatch(kept.version), from_json::<LapseInput>(shared)?).await?;
    disclosures::disclosed_plan(state.clock.now(), &access, from_json(json!({
        "partner": "a", "recipient": PHYSICIAN, "purpose": "Coordinating naltrexone and follow-up"
    }))?, &practice.name, "America/Chicago").await?;
    // Its timeline half done: the first day's steps, not yet the week's.
    lapse_response::demo_done(&access, kept.id, |when| when == TimelineWhen::Immediately).await?;
    contract::save(state.clock.now(), &access, IfMatch(0), from_json::<ContractContent>(json!({
        "intention_statement": "I intend not to drink or use today. Thank you for listening and for supporting me.",
        "trust_discussion_time": "9 pm, at the kitchen table",
        "meetings": ["AA Tuesday and Thursday, 7 am"],
        "medication": "Naltrexone 50 mg each morning, taken while Marisol is there",
        "tests": "Breathalyzer on request",
        "other_commitments": ["No talk about past use at home; it goes to the session", "Thank each other for one thing every day"]
    }))?).await?;
    for days_ago in 0..28i64 {
        let day = crate::input::BoundedDate::new(today - Duration::days(days_ago)).map_err(|m| anyhow::anyhow!(m))?;
        let missed = days_ago == 5 || days_ago == 3 || days_ago == 19;
        for slot in [PartnerSlot::A, PartnerSlot::B] {
            contract::check_in(state.clock.now(), &access, day, today, from_json::<CheckIn>(json!({
                "partner": slot, "trust_discussion": !missed,
                "meeting_attended": if slot == PartnerSlot::A && days_ago % 7 < 2 { Some(true) } else { None },
                "medication_taken": if slot == PartnerSlot::A { Some(true) } else { None },
                "note": if missed { Some("Late night at work; we talked in the morning instead.") } else { None }
            }))?).await?;
        }
    }
    milestones::add_custom(state.clock.now(), &access, from_json::<CustomMilestoneInput>(json!({
        "title": "First AA meeting together", "achieved_on": start + Duration::days(21)
    }))?).await?;

    craft_track(state, &access, today).await?;

    drop((access, supervising));
    audit.commit_offline().await?;
    Ok(Demo { practice_slug: SLUG, accounts })
}

/// Marisol's CRAFT track, some weeks in: both analyses done, exercises
/// checked off by her from the portal, the invitation to treatment ahead.
async fn craft_track(state: &AppState, access: &access::CoupleAccess, today: Date) -> Result<(), AppError> {
    use crate::records::craft::{self, CheckOffInput, CraftItemInput};
    let marisol = access.as_partner(PartnerSlot::B);
    let items = [
        (json!({"owner": "b", "kind": "use_analysis", "done": true, "text": {"title": "What happens around Dan's drinking",
            "triggers": ["Hard calls with his brother", "Work events with an open bar", "Friday evenings alone in the garage"],
            "behaviour": "Four to six beers, usually in the garage, then bed without dinner",
            "short_term_positives": ["He feels calm for an hour", "He avoids the argument with me"],
            "long_term_negatives": ["Misses Lucía's bedtime", "Lies about it the next day", "We stop trusting each other"]}}), 0),
        (json!({"owner": "b", "kind": "healthy_analysis", "done": true, "text": {"title": "Saturday morning runs with Luis",
            "triggers": ["A sober Friday", "Luis texting on Friday night"],
            "behaviour": "A 5 km run and coffee with his sponsor",
            "short_term_positives": ["He comes home proud and talkative"],
            "long_term_negatives": ["Sore knee; he needs better shoes"]}}), 0),
        (json!({"owner": "b", "kind": "positive_communication", "text": {"title": "Say one thing you appreciated",
            "practice": "When Dan comes home sober, tell him one thing you liked about the evening, as an \"I\" statement: \"I really liked cooking with you tonight.\""}}), 2),
        (json!({"owner": "b", "kind": "rewarding_non_use", "text": {"title": "Sober evenings together",
            "practice": "On evenings he is sober, plan something he enjoys: a film, cooking together, a walk with Lucía."}}), 1),
        (json!({"owner": "b", "kind": "natural_consequences", "text": {"title": "Don't cover for him",
            "practice": "If Dan drinks, do not call his work or tidy up after him; let him explain it himself, when he is sober."}}), 0),
        (json!({"owner": "b", "kind": "self_care", "text": {"title": "One evening a week for me",
            "practice": "Thursday choir practice; Ana takes Lucía."}}), 3),
        (json!({"owner": "b", "kind": "invitation_to_treatment", "text": {"title": "Invite Dan to see Dr. Chen alone",
            "when": "A sober Sunday morning, after a good week",
            "how": "Calmly, at the kitchen table, with Lucía at Ana's",
            "what_to_say": "I love you, and I've noticed the garage evenings are back. Would you see Dr. Chen on Tuesday? I'll come with you if you want.",
            "arranged": "Dr. Chen holds Tuesday 9:00 for an individual session with Dan"}}), 0),
    ];
    for (item, times) in items {
        let item = craft::create(access, state.clock.now(), from_json::<CraftItemInput>(item)?).await?;
        const WENT: [&str; 3] = [
            "Felt awkward, but he noticed.",
            "He smiled and said thanks; we ate together.",
            "Easier this time. I did not bring up last month.",
        ];
        for week in (0..times).rev() {
            let went = WENT[(week as usize) % WENT.len()];
            let input = CheckOffInput { on: Some(today - Duration::days(7 * week + 1)), how_it_went: Some(went.into()), done: false };
            craft::check_off(&marisol, state.clock.now(), today, item.id, input).await?;
        }
    }
    Ok(())
}

fn format_rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).expect("formattable time")
}
