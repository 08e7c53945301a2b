//! Who is making a request: browser sessions, API tokens, passwords, sign-in
//! throttling and CSRF tokens. [`CurrentMember`] is the extractor every
//! API handler that needs a signed-in person takes (pages take
//! `web::SignedIn`, which wraps it).

mod client_addr;
pub mod csrf;
pub mod current;
pub mod devices;
pub mod hints;
pub mod password;
pub mod password_change;
pub mod session_store;
pub mod sign_in;
pub mod throttle;
pub mod tokens;

pub use client_addr::ClientAddr;
pub use current::{AuthMethod, AuthState, CurrentMember};

/// Key of the signed-in state inside a browser session.
pub const AUTH_KEY: &str = "auth";
