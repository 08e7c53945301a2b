//! Password hashing with argon2id at OWASP's recommended cost (19 MiB, two
//! passes, one lane). Hashing runs on the blocking pool so it never stalls the
//! async workers.

use std::sync::OnceLock;

use anyhow::Context;
use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version,
    password_hash::SaltString,
};

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("static argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub async fn hash(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
    })
    .await
    .context("hashing task failed")?
}

/// A hash of a random password, verified against when there is no account, so
/// that "no such account" and "wrong password" take the same time.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        argon2()
            .hash_password(crate::secret::generate().as_bytes(), &salt)
            .expect("hashing a random password")
            .to_string()
    })
}

/// True when `password` matches `stored`. With no stored hash it still does
/// the work of a verification, and answers false.
pub async fn verify(password: String, stored: Option<String>) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || {
        let (hash, real) = match &stored {
            Some(h) => (h.as_str(), true),
            None => (decoy_hash(), false),
        };
        let parsed = PasswordHash::new(hash).map_err(|e| anyhow::anyhow!("stored hash unreadable: {e}"))?;
        let matches = argon2().verify_password(password.as_bytes(), &parsed).is_ok();
        Ok(real && matches)
    })
    .await
    .context("verification task failed")?
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn hashes_verify_and_use_argon2id() {
        let h = super::hash("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(super::verify("correct horse battery".into(), Some(h.clone())).await.unwrap());
        assert!(!super::verify("wrong horse battery".into(), Some(h)).await.unwrap());
        assert!(!super::verify("anything at all".into(), None).await.unwrap());
    }
}
