//! Which practice each recently presented credential belongs to: an API
//! token, or a browser session signed in to a practice. A credential never
//! moves to another practice, so its next request can name its practice
//! before its first statement: on PostgreSQL the request's transaction then
//! begins in that practice, and the credential's own row is read inside it
//! (with the member, for a token) instead of through a statement of its own
//! on the pool.
//!
//! Only a hint. The credential is still read and checked on every request
//! (revoked, expired, signed out, member inactive), and a request whose
//! credential turns out not to belong to the hinted practice leaves it
//! again before anything else runs (`tenant::leave`).

use std::sync::Arc;

use uuid::Uuid;

/// A bounded map from a credential's hash to its practice.
#[derive(Clone)]
pub struct PracticeHints(Arc<quick_cache::sync::Cache<String, Uuid>>);

impl PracticeHints {
    /// Remembers at most `entries` credentials, the least used leaving first.
    pub fn new(entries: usize) -> Self {
        Self(Arc::new(quick_cache::sync::Cache::new(entries.max(1))))
    }

    /// The practice the credential hashed to `hash` belonged to when last seen.
    pub fn get(&self, hash: &str) -> Option<Uuid> {
        self.0.get(hash)
    }

    /// The credential hashed to `hash` belongs to `practice`.
    pub fn remember(&self, hash: &str, practice: Uuid) {
        if self.0.get(hash) != Some(practice) {
            self.0.insert(hash.to_owned(), practice);
        }
    }

    /// The credential no longer names a practice (signed out, not found).
    pub fn forget(&self, hash: &str) {
        self.0.remove(hash);
    }
}

impl std::fmt::Debug for PracticeHints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PracticeHints").field(&self.0.len()).finish()
    }
}
