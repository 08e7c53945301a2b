//! Clinical records and their rules. Every function here takes a
//! [`crate::access::CoupleAccess`] (or creates the couple it will hand out),
//! so no record is reachable without the access check.

pub mod boundaries;
pub mod common;
pub mod contract;
pub mod lapses;
pub mod milestones;
pub mod couples;
pub mod notes;
pub mod plans;
pub mod private_notes;
pub mod safety_plans;
pub mod sessions;
pub mod sobriety;
