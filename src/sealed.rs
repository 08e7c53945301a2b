//! Secrets Tandem has to read back (an identity provider's client secret, the
//! PKCE verifier of a sign-in under way) are stored sealed: XChaCha20-Poly1305
//! under a key kept in a file outside the database (`TANDEM_SECRET_KEY_FILE`),
//! so a copy of the database alone reveals none of them. Each value is bound
//! to the row it belongs to (the associated data), so a sealed value copied
//! into another row does not open.

use std::path::Path;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chacha20poly1305::{
    Key, KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, Payload},
};
use rand::RngCore;

use crate::config::Secret;

const PREFIX: &str = "v1.";

/// Cloning it is like a second process reading the same key file.
#[derive(Clone)]
pub struct SealingKey(XChaCha20Poly1305);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey([redacted])")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("a sealed value does not open with this key (wrong key file, or the value was moved or changed)")]
pub struct OpenError;

impl SealingKey {
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Self::from_bytes(key)
    }

    fn from_bytes(key: [u8; 32]) -> Self {
        Self(XChaCha20Poly1305::new(Key::from_slice(&key)))
    }

    /// Reads the key file, creating it (readable by its owner only) if it does not exist.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        let (key, created) = crate::key_file::load_or_create(path, "secret key")?;
        if created {
            tracing::info!(path = %path.display(), "created a new key for sealing stored secrets");
        }
        Ok(Self::from_bytes(key))
    }

    /// Seals `plaintext` for the row named by `bound_to`.
    pub fn seal(&self, plaintext: &str, bound_to: &str) -> String {
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .0
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext.as_bytes(), aad: bound_to.as_bytes() })
            .expect("XChaCha20-Poly1305 encrypts any length we store");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn open(&self, sealed: &str, bound_to: &str) -> Result<Secret<String>, OpenError> {
        let bytes = sealed.strip_prefix(PREFIX).and_then(|b| URL_SAFE_NO_PAD.decode(b).ok()).ok_or(OpenError)?;
        if bytes.len() < 24 {
            return Err(OpenError);
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let plain = self
            .0
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: bound_to.as_bytes() })
            .map_err(|_| OpenError)?;
        String::from_utf8(plain).map(Secret::new).map_err(|_| OpenError)
    }
}

#[cfg(test)]
mod tests {
    use super::SealingKey;

    #[test]
    fn sealed_values_open_only_with_their_key_and_row() {
        let key = SealingKey::generate();
        let sealed = key.seal("client-secret-123", "row-1");
        assert!(!sealed.contains("client-secret-123"));
        assert_ne!(sealed, key.seal("client-secret-123", "row-1"), "a fresh nonce each time");
        assert_eq!(key.open(&sealed, "row-1").unwrap().expose(), "client-secret-123");
        assert!(key.open(&sealed, "row-2").is_err(), "moved to another row");
        assert!(SealingKey::generate().open(&sealed, "row-1").is_err(), "another key");
        let mut tampered = sealed.clone();
        tampered.replace_range(tampered.len() - 2.., "AA");
        assert!(key.open(&tampered, "row-1").is_err());
        assert!(key.open("garbage", "row-1").is_err());
    }
}
