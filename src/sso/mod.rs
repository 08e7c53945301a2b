//! Single sign-on: each practice may let its members sign in through its own
//! OpenID Connect providers. [`providers`] is what admins configure,
//! [`flow`] the sign-in itself, [`discovery`] the providers' public
//! documents and keys, cached per process; [`reach`] which addresses
//! Tandem may call for them.

pub mod discovery;
pub mod flow;
pub mod providers;
pub mod reach;

pub use discovery::Discovery;
