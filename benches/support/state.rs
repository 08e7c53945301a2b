//! A Tandem for a benchmark: connected, migrated, with fresh keys and the
//! system clock. Include with `#[path = "support/state.rs"] mod state;`.

use std::sync::Arc;

pub async fn connected(config: tandem::config::Config) -> tandem::state::AppState {
    let db = tandem::db::connect(&config).await.expect("connect");
    tandem::db::migrate(&db).await.expect("migrate");
    tandem::state::AppState::new(
        db,
        config,
        Arc::new(tandem::clock::SystemClock),
        tandem::audit::checkpoints::CheckpointKey::generate(),
        tandem::sealed::SealingKey::generate(),
        tandem::vault::Vault::in_memory(tandem::vault::Keyring::generate()),
    )
}
