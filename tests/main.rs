//! Tandem's integration tests: one binary, a module per area. Every test gets
//! a fresh database with the real migrations; tests declared with [`both!`]
//! run on SQLite and, when `TANDEM_TEST_POSTGRES_URL` is set, on PostgreSQL.

mod helpers;

mod access_log;
mod access_tokens;
mod audit_property;
mod audit_proof;
mod audit_tamper;
mod background;
mod backup;
mod binary;
mod browser;
mod chart;
mod clinical_matrix;
mod clinical_records;
mod clinical_world;
mod demo;
mod encryption;
mod errors_and_headers;
mod faults;
mod health;
mod input_rules;
mod invitations;
mod isolation;
mod kill;
mod layers;
mod members;
mod metrics;
mod overview_cache;
mod pdfs;
mod row_security;
mod scale_out;
mod schema_fuzz;
mod setup;
mod sign_in;
mod sso;
mod web_pages;
mod web_account;
mod web_review;
mod web_team_pages;
mod who_can_see_what;
mod consents;
mod safety;
mod lapse_response;
mod session_prep;
mod fhir;
mod pictures;
