//! Data shapes for Tandem's tables, one module per table. No behaviour lives
//! here: rules (who may see what, lifecycles, arithmetic) live in the `tandem`
//! crate, which also decides how each table is scoped to a practice.

pub mod access_events;
pub mod api_tokens;
pub mod audit_checkpoints;
pub mod audit_heads;
pub mod audit_verifications;
pub mod boundaries;
pub mod boundary_events;
pub mod boundary_versions;
pub mod care_team_members;
pub mod contract_checkin_revisions;
pub mod contract_checkins;
pub mod couples;
pub mod custom_milestones;
pub mod emergency_accesses;
pub mod identity_providers;
pub mod ids;
pub mod invitations;
pub mod lapses;
pub mod member_identities;
pub mod members;
pub mod note_addenda;
pub mod partners;
pub mod practice_keys;
pub mod practices;
pub mod private_notes;
pub mod recovery_contracts;
pub mod relapse_plans;
pub mod safety_plans;
pub mod session_notes;
pub mod setup_tokens;
pub mod sign_in_throttle;
pub mod sso_flows;
pub mod supervisions;
pub mod therapy_sessions;
pub mod values;
pub mod trusted_devices;
pub mod web_sessions;
pub mod consent_scans;
pub mod consents;
pub mod disclosures;
pub mod safety_flags;
pub mod craft_items;
pub mod lapse_steps;
pub mod session_agendas;
