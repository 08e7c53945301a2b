//! Practices (tenants), their members, invitations and the first-start setup.

pub mod invitations;
pub mod members;
mod model;
pub mod practices;
pub mod settings;
pub mod setup;

pub use model::{
    Email, Fields, Member, MemberId, Practice, PracticeId, Role, Roles, parse_name, parse_new_password, parse_slug, parse_time_zone, roles_schema,
};
