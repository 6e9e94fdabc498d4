//! The agent's content-addressed store of binaries: `blobs/<sha256>`, written atomically.

use sha2::{Digest, Sha256};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The SHA-256 of `bytes`, in hex.
pub fn hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A directory of executable blobs named by their hash.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// A store in `dir` (created if missing).
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir.join("blobs"))?;
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    /// Where the blob of `hash` lives (whether or not it is there).
    pub fn path(&self, hash: &str) -> Option<PathBuf> {
        valid_hash(hash).then(|| self.dir.join("blobs").join(hash))
    }

    /// Whether the blob is stored.
    pub fn has(&self, hash: &str) -> bool {
        self.path(hash).is_some_and(|p| p.is_file())
    }

    /// Stores `bytes` as an executable, checking that they hash to `hash`.
    pub fn put(&self, hash_hex: &str, bytes: &[u8]) -> Result<PathBuf, String> {
        let path = self
            .path(hash_hex)
            .ok_or_else(|| format!("`{hash_hex}` is not a SHA-256 in hex"))?;
        let actual = hash(bytes);
        if actual != hash_hex {
            return Err(format!("content hashes to {actual}, not {hash_hex}"));
        }
        if path.is_file() {
            return Ok(path);
        }
        let tmp = path.with_extension(format!("part-{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("cannot store blob: {e}")
        })?;
        Ok(path)
    }
}

fn valid_hash(hash: &str) -> bool {
    hash.len() == 64
        && hash
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_checks_the_hash_and_is_idempotent() {
        let dir = std::env::temp_dir().join(format!("pinion-store-{}", std::process::id()));
        let store = Store::open(&dir).expect("open");
        let h = hash(b"#!/bin/sh\necho hi\n");
        assert!(!store.has(&h));
        assert!(store.put(&h, b"something else").is_err());
        let path = store.put(&h, b"#!/bin/sh\necho hi\n").expect("put");
        assert!(store.has(&h));
        assert_eq!(store.put(&h, b"#!/bin/sh\necho hi\n").expect("again"), path);
        assert!(store.path("../../etc/passwd").is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
