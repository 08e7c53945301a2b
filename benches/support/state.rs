//! A Tandem for a benchmark: connected, migrated, with fresh keys and the
//! system clock. Include with `#[path = "support/state.rs"] mod state;`.
// Each benchmark uses part of it.
#![allow(dead_code)]

use std::sync::Arc;

pub async fn connected(config: tandem::config::Config) -> tandem::state::AppState {
    with_vault(config, tandem::vault::Vault::in_memory(tandem::vault::Keyring::generate())).await
}

/// [`connected`] with the given vault (two states that must open the same
/// practices' keys share a keyring); migrated and, on PostgreSQL, its rows
/// secured as the configuration's owner would (`db::prepare`).
pub async fn with_vault(config: tandem::config::Config, vault: tandem::vault::Vault) -> tandem::state::AppState {
    let db = tandem::db::connect(&config).await.expect("connect");
    tandem::db::prepare(&config, &db).await.expect("migrate");
    tandem::state::AppState::new(
        db,
        config,
        Arc::new(tandem::clock::SystemClock),
        tandem::audit::checkpoints::CheckpointKey::generate(),
        tandem::sealed::SealingKey::generate(),
        vault,
    )
}

/// Counts every statement through `state`'s pool from now on (the access
/// log's appender has its own connections, and is not counted).
pub fn count_statements(state: &mut tandem::state::AppState) -> Arc<std::sync::atomic::AtomicU64> {
    let statements = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = statements.clone();
    let mut pool = state.db.pool().clone();
    pool.set_metric_callback(move |_| {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    });
    *state = state.clone().with_db(tandem::tenant::Db::new(pool));
    statements
}

/// The demo practice on a Tandem at `url` (16 connections, or
/// `BENCH_CONNECTIONS`), its router, and the count of statements through
/// its pool. `BENCH_OVERVIEW_CACHE_ENTRIES`
/// sets how many couple reads it keeps in memory (0: none, every read from
/// the database; default as in production).
pub async fn demo(url: &str) -> (axum::Router, Arc<std::sync::atomic::AtomicU64>, tandem::demo::Demo) {
    let defaults = tandem::config::Config::default();
    let config = tandem::config::Config {
        database_url: tandem::config::Secret::new(url.to_owned()),
        database_max_connections: std::env::var("BENCH_CONNECTIONS").ok().map(|n| n.parse().expect("BENCH_CONNECTIONS: a number")).unwrap_or(16),
        overview_cache_entries: std::env::var("BENCH_OVERVIEW_CACHE_ENTRIES")
            .ok()
            .map(|n| n.parse().expect("BENCH_OVERVIEW_CACHE_ENTRIES: a number"))
            .unwrap_or(defaults.overview_cache_entries),
        ..defaults
    };
    let mut state = connected(config).await;
    let statements = count_statements(&mut state);
    let demo = tandem::demo::load(&state).await.expect("demo data");
    (tandem::app(state), statements, demo)
}
