//! Once-per-practice work (signing checkpoints; verification and expiry)
//! runs once per round however many replicas tick: three states on one
//! database, each with its own pool, ticking at the same moment.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tandem::background::{self, Job, Outcome};
use uuid::Uuid;

use crate::{both, helpers::*};

async fn checkpoints(app: &TestApp, practice: Uuid) -> u64 {
    entity::audit_checkpoints::Entity::find()
        .filter(entity::audit_checkpoints::Column::PracticeId.eq(practice))
        .count(&app.db)
        .await
        .unwrap()
}

async fn verifications(app: &TestApp, practice: Uuid) -> u64 {
    entity::audit_verifications::Entity::find()
        .filter(entity::audit_verifications::Column::PracticeId.eq(practice))
        .count(&app.db)
        .await
        .unwrap()
}

/// All three replicas tick `job` at once; returns how many ran it.
async fn tick_all(replicas: &[&TestApp], job: Job) -> usize {
    let ticks = replicas.iter().map(|r| background::tick(&r.state, job));
    let outcomes = futures_util::future::join_all(ticks).await;
    assert!(!outcomes.contains(&Outcome::Failed), "{outcomes:?}");
    outcomes.iter().filter(|o| **o == Outcome::Ran).count()
}

async fn each_round_runs_once_across_replicas(app: TestApp) {
    let (second, third) = (app.another_process().await, app.another_process().await);
    let replicas = [&app, &second, &third];
    let practice = app.practice("harbor").await.id;
    let (signed, verified) = (checkpoints(&app, practice).await, verifications(&app, practice).await);

    for round in 1..=3u64 {
        tandem::audit::record(&app.db, &[crate::audit_tamper::event(practice)]).await.unwrap();
        app.clock.advance(Job::Housekeeping.period(&app.state.config).max(Job::Checkpoints.period(&app.state.config)));
        assert_eq!(tick_all(&replicas, Job::Checkpoints).await, 1, "round {round}: checkpoints");
        assert_eq!(tick_all(&replicas, Job::Housekeeping).await, 1, "round {round}: housekeeping");
        // Signing is idempotent (an unmoved head is not signed again), so
        // count verification results too: each run stores one.
        assert_eq!(checkpoints(&app, practice).await, signed + round, "round {round}");
        assert_eq!(verifications(&app, practice).await, verified + round, "round {round}");
        // Later ticks within the same round find it done.
        app.clock.advance(time::Duration::seconds(5));
        assert_eq!(tick_all(&replicas, Job::Checkpoints).await, 0, "round {round}: a second run");
        assert_eq!(tick_all(&replicas, Job::Housekeeping).await, 0, "round {round}: a second run");
    }
}

/// The replica running a round dies before it finishes: nobody else runs
/// it meanwhile (PostgreSQL: its advisory lock), and the next round runs
/// on another replica.
async fn a_dead_replicas_round_is_taken_over(app: TestApp) {
    let other = app.another_process().await;
    let period = Job::Housekeeping.period(&app.state.config);
    app.clock.advance(period);
    let held = background::claim(&app.db, Job::Housekeeping, period, app.state.clock.now()).await.unwrap();
    let held = held.expect("the first claim of a round succeeds");
    assert_eq!(background::tick(&other.state, Job::Housekeeping).await, Outcome::Skipped);
    if app.db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        // The work outlasts its period: still nobody else starts it.
        app.clock.advance(period);
        assert_eq!(background::tick(&other.state, Job::Housekeeping).await, Outcome::Skipped);
    }
    // Dropped unfinished, as when the process dies: its claim rolls back
    // and its lock goes with its connection.
    drop(held);
    app.clock.advance(period);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        match background::tick(&other.state, Job::Housekeeping).await {
            Outcome::Ran => break,
            outcome if std::time::Instant::now() > deadline => panic!("the other replica never took over: {outcome:?}"),
            _ => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
}

both!(each_round_runs_once_across_replicas, a_dead_replicas_round_is_taken_over);
