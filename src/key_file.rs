//! 32-byte keys kept in files outside the database (the access log's signing
//! key, the key that seals stored secrets): read if present, otherwise made
//! from fresh randomness and written readable by the owner only.

use std::path::Path;

use anyhow::Context;
use base64::{Engine, engine::general_purpose::STANDARD};

/// The key in `path`, which must exist. `what` names the key in errors.
pub fn load(path: &Path, what: &str) -> anyhow::Result<[u8; 32]> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading the {what} file {}", path.display()))?;
    let bytes = STANDARD.decode(text.trim()).with_context(|| format!("the {what} file is not base64"))?;
    bytes.try_into().map_err(|_| anyhow::anyhow!("the {what} file must hold 32 bytes"))
}

/// The key in `path` and whether it was just created. `what` names the key in errors.
pub fn load_or_create(path: &Path, what: &str) -> anyhow::Result<([u8; 32], bool)> {
    if path.exists() {
        return Ok((load(path, what)?, false));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("creating {}", path.display()))?;
    std::io::Write::write_all(&mut file, STANDARD.encode(key).as_bytes())?;
    Ok((key, true))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_created_key_reads_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/k.key");
        let (made, created) = super::load_or_create(&path, "test key").unwrap();
        assert!(created);
        let (read, created) = super::load_or_create(&path, "test key").unwrap();
        assert!(!created);
        assert_eq!(made, read);
        assert_eq!(super::load(&path, "test key").unwrap(), made);
        assert!(super::load(&dir.path().join("missing.key"), "test key").is_err());
        assert!(!dir.path().join("missing.key").exists(), "loading never creates a key");
        std::fs::write(&path, "bm90IDMyIGJ5dGVz").unwrap();
        assert!(super::load_or_create(&path, "test key").is_err());
    }
}
