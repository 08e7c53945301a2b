//! Issue 13's property: random appends by several concurrent writers, with
//! verification running alongside at random moments, never report
//! tampering; any single deletion, insertion, change, reordering or
//! re-dating of signed rows, with the chain recomputed by the attacker, is
//! always reported. Cases are drawn with proptest (a fresh random seed each
//! run; a failing case is printed in full) and run against one database per
//! test, each case on a practice of its own.

use proptest::{
    prelude::*,
    strategy::ValueTree,
    test_runner::{Config, TestRunner},
};
use uuid::Uuid;

use crate::{audit_proof::rechain, audit_tamper::event, both, helpers::*};

/// `n` values drawn from `strategy`.
fn draw<S: Strategy>(strategy: S, n: u32) -> Vec<S::Value> {
    let mut runner = TestRunner::new(Config::default());
    (0..n).map(|_| strategy.new_tree(&mut runner).expect("a value").current()).collect()
}

#[derive(Clone, Debug)]
struct Busy {
    /// Per writer, the sizes of the batches it appends, one commit each.
    writers: Vec<Vec<usize>>,
    /// Per verification, how many times the verifier lets the writers run first.
    verifications: Vec<u8>,
}

fn busy() -> impl Strategy<Value = Busy> {
    (
        prop::collection::vec(prop::collection::vec(1usize..=12, 1..=8), 2..=6),
        prop::collection::vec(0u8..=6, 1..=6),
    )
        .prop_map(|(writers, verifications)| Busy { writers, verifications })
}

async fn appends_beside_verification_never_look_like_tampering(app: TestApp) {
    for (case, busy) in draw(busy(), 6).into_iter().enumerate() {
        let practice = app.practice(&format!("busy{case}")).await.id;
        let mut writers = Vec::new();
        for batches in busy.writers.clone() {
            let config = app.state.config.clone();
            writers.push(tokio::spawn(async move {
                let db = tandem::db::connect(&config).await.unwrap();
                for size in batches {
                    let events: Vec<_> = (0..size).map(|_| event(practice)).collect();
                    tandem::audit::record_on(&db, &events).await.unwrap();
                    tokio::task::yield_now().await;
                }
            }));
        }
        for (round, pause) in busy.verifications.iter().enumerate() {
            for _ in 0..*pause {
                tokio::task::yield_now().await;
            }
            // Alternately the supervisor's "verify now" (signs, then
            // verifies) and the background check.
            let v = if round % 2 == 0 {
                tandem::audit::verify_practice(&app.state, practice).await.unwrap()
            } else {
                tandem::audit::verify_one(&app.state, practice).await
            };
            assert!(v.ok(), "case {busy:?}, verification {round}: {v:?}");
        }
        for w in writers {
            w.await.unwrap();
        }
        let v = tandem::audit::verify_practice(&app.state, practice).await.unwrap();
        assert!(v.ok(), "case {busy:?}, at the end: {v:?}");
        let appended: usize = busy.writers.iter().flatten().sum();
        assert!(v.events_checked as usize >= appended);
    }
}

#[derive(Clone, Debug)]
enum Tamper {
    Delete(usize),
    Insert(usize),
    Change(usize),
    Swap(usize),
    Redate(usize, i64),
}

fn tamper() -> impl Strategy<Value = (usize, Tamper, usize)> {
    // Events signed, the change (at a position among the signed ones), and
    // events appended after the checkpoint.
    (3usize..=30, 0usize..=5).prop_flat_map(|(signed, after)| {
        let at = 0..signed - 1;
        let change = prop_oneof![
            at.clone().prop_map(Tamper::Delete),
            at.clone().prop_map(Tamper::Insert),
            at.clone().prop_map(Tamper::Change),
            at.clone().prop_map(Tamper::Swap),
            (at, prop_oneof![-86_400i64..=-1, 1i64..=86_400]).prop_map(|(i, s)| Tamper::Redate(i, s)),
        ];
        (Just(signed), change, Just(after))
    })
}

async fn any_single_rewrite_of_signed_rows_is_reported(app: TestApp) {
    for (case, (signed, change, after)) in draw(tamper(), 10).into_iter().enumerate() {
        let practice = app.practice(&format!("t{case}")).await.id;
        append(&app, practice, signed).await;
        tandem::audit::checkpoint(&app.state, practice).await.unwrap();
        // Positions count from the first of these events, after the
        // practice's own set-up events.
        let setup = tandem::audit::chain::walk(&app.db, practice).await.unwrap().last_seq as usize - signed;
        append(&app, practice, after).await;
        assert!(tandem::audit::verify_one(&app.state, practice).await.ok());
        let described = format!("{signed} signed, {after} after, {change:?}");
        rechain(&app, practice, |events| match change {
            Tamper::Delete(i) => {
                events.remove(setup + i);
            }
            Tamper::Insert(i) => {
                let copy = entity::access_events::Model { id: Uuid::now_v7(), ..events[setup + i].clone() };
                events.insert(setup + i, copy);
            }
            Tamper::Change(i) => events[setup + i].action = "export".into(),
            Tamper::Swap(i) => events.swap(setup + i, setup + i + 1),
            Tamper::Redate(i, seconds) => events[setup + i].occurred_at += time::Duration::seconds(seconds),
        })
        .await;
        let v = tandem::audit::verify_one(&app.state, practice).await;
        assert!(!v.ok() && v.first_bad_seq.is_some() && !v.could_not_run, "went unnoticed: {described}: {v:?}");
    }
}

async fn append(app: &TestApp, practice: Uuid, n: usize) {
    let events: Vec<_> = (0..n).map(|_| event(practice)).collect();
    if !events.is_empty() {
        tandem::audit::record(&app.db, &events).await.unwrap();
    }
}

both!(appends_beside_verification_never_look_like_tampering, any_single_rewrite_of_signed_rows_is_reported);
