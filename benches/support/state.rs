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
