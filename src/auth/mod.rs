//! Who is making a request: browser sessions, API tokens, passwords, sign-in
//! throttling and CSRF protection. [`CurrentMember`] is the extractor every
//! handler that needs a signed-in person takes.

mod client_addr;
pub mod csrf;
pub mod current;
pub mod devices;
pub mod password;
pub mod session_store;
pub mod sign_in;
pub mod throttle;
pub mod tokens;

pub use client_addr::ClientAddr;
pub use current::{AuthMethod, AuthState, CurrentMember, SignedIn};

/// Key of the signed-in state inside a browser session.
pub const AUTH_KEY: &str = "auth";
