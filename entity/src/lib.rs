//! Data shapes for Tandem's tables, one module per table. No behaviour lives
//! here: rules (who may see what, lifecycles, arithmetic) live in the `tandem`
//! crate, which also decides how each table is scoped to a practice.

pub mod api_tokens;
pub mod invitations;
pub mod members;
pub mod practices;
pub mod setup_tokens;
pub mod sign_in_throttle;
pub mod web_sessions;
