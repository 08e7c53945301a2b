//! Tandem's schema history. Migrations are append-only: once one has landed on
//! main it is never edited; a change to the schema is a new migration. They use
//! sea-query builders only, so one history serves SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod helpers;
mod m20261123_000001_foundation;
mod m20261123_000002_clinical_records;
mod m20261123_000003_recovery_contract;
mod m20261123_000004_access_log;
mod m20261123_000005_single_sign_on;
mod m20261202_000001_who_can_see_what;
mod m20261202_000010_signed_verification_results;
mod m20261202_000020_readiness_probe;
mod m20261202_000021_checkin_history;
mod m20261202_000040_trusted_devices;
mod m20261206_000001_background_rounds;
mod m20261206_000100_practice_keys;
mod m20261206_000200_lapse_steps;
mod m20261206_000201_session_agendas;
mod m20261206_000300_safety_gate_and_craft;
mod m20261206_000400_consents_and_disclosures;
mod m20261207_000200_consent_scans_and_events;
mod m20261207_000300_couple_revisions;
mod m20261207_000400_couple_row_revisions;
mod m20261208_000100_opening_statements;
mod m20261208_000200_token_couple_read_ahead;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_foundation::Migration),
            Box::new(m20261123_000002_clinical_records::Migration),
            Box::new(m20261123_000003_recovery_contract::Migration),
            Box::new(m20261123_000004_access_log::Migration),
            Box::new(m20261123_000005_single_sign_on::Migration),
            Box::new(m20261202_000001_who_can_see_what::Migration),
            Box::new(m20261202_000010_signed_verification_results::Migration),
            Box::new(m20261202_000020_readiness_probe::Migration),
            Box::new(m20261202_000021_checkin_history::Migration),
            Box::new(m20261202_000040_trusted_devices::Migration),
            Box::new(m20261206_000001_background_rounds::Migration),
            Box::new(m20261206_000100_practice_keys::Migration),
            Box::new(m20261206_000200_lapse_steps::Migration),
            Box::new(m20261206_000201_session_agendas::Migration),
            Box::new(m20261206_000300_safety_gate_and_craft::Migration),
            Box::new(m20261206_000400_consents_and_disclosures::Migration),
            Box::new(m20261207_000200_consent_scans_and_events::Migration),
            Box::new(m20261207_000300_couple_revisions::Migration),
            Box::new(m20261207_000400_couple_row_revisions::Migration),
            Box::new(m20261208_000100_opening_statements::Migration),
            Box::new(m20261208_000200_token_couple_read_ahead::Migration),
        ]
    }
}
