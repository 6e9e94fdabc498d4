//! The agent's content-addressed store of binaries: `blobs/<sha256>`.
//!
//! A blob arrives in parts of at most [`super::protocol::BLOB_PART`] bytes, appended to
//! `blobs/<sha256>.part` on disk as they come (never held whole in memory). When the
//! last part is in, the file is hashed as it is read back, and renamed into place only
//! if it hashes to its name. A transfer cut off midway resumes where the part file
//! ends: the launcher asks what the agent has and sends the rest.

use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The largest blob stored: a node binary is a few MB, a debug build some tens.
pub const MAX_BLOB: u64 = 1 << 30;

/// The SHA-256 of `bytes`, in hex.
pub fn hash(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The SHA-256 of a file's content, in hex, read in pieces.
pub fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(hex(&hasher.finalize()));
        }
        hasher.update(&buf[..n]);
    }
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a part of a blob was not stored.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The name is not a hash.
    #[error("`{0}` is not a SHA-256 in hex")]
    BadHash(String),
    /// The blob is larger than an agent stores.
    #[error("a blob of {size} bytes is larger than the {MAX_BLOB} an agent stores")]
    TooLarge {
        /// Its size.
        size: u64,
    },
    /// A part that does not start where the upload stands.
    #[error("part at byte {offset}, but the upload stands at byte {held}; send from there")]
    OutOfOrder {
        /// Where the part starts.
        offset: u64,
        /// Where the upload stands.
        held: u64,
    },
    /// A part that ends past the blob.
    #[error("part ends at byte {end}, past the blob's {size} bytes")]
    PastTheEnd {
        /// Where the part ends.
        end: u64,
        /// The blob's size.
        size: u64,
    },
    /// The disk refused (full, read-only, ...).
    #[error("cannot {what} (the upload can resume): {source}")]
    Disk {
        /// What was being done.
        what: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The whole blob does not hash to its name.
    #[error("content hashes to {actual}, not {expected}; send it again")]
    WrongHash {
        /// Its name.
        expected: String,
        /// What it hashes to.
        actual: String,
    },
}

/// A directory of executable blobs named by their hash.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// Where a blob's upload stands after a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// This many bytes are held; more are expected.
    Partial(u64),
    /// The blob is whole and stored.
    Complete,
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

    fn part_path(&self, hash: &str) -> Option<PathBuf> {
        valid_hash(hash).then(|| self.dir.join("blobs").join(format!("{hash}.part")))
    }

    /// Whether the blob is stored.
    pub fn has(&self, hash: &str) -> bool {
        self.path(hash).is_some_and(|p| p.is_file())
    }

    /// Bytes of an unfinished upload of `hash` held so far (0 if none).
    pub fn partial(&self, hash: &str) -> u64 {
        self.part_path(hash)
            .and_then(|p| std::fs::metadata(p).ok())
            .map_or(0, |m| m.len())
    }

    /// Appends the part of `hash` (a blob of `size` bytes) that starts at `offset`.
    /// A part must not start past where the upload stands (else the error says where
    /// that is); of one that starts before, only what lies past it is kept. The last
    /// part checks the hash and stores the blob as an executable.
    pub fn put_part(
        &self,
        hash: &str,
        size: u64,
        offset: u64,
        bytes: &[u8],
    ) -> Result<Progress, StoreError> {
        let (Some(path), Some(part)) = (self.path(hash), self.part_path(hash)) else {
            return Err(StoreError::BadHash(hash.to_owned()));
        };
        if path.is_file() {
            return Ok(Progress::Complete);
        }
        if size > MAX_BLOB {
            return Err(StoreError::TooLarge { size });
        }
        let held = self.partial(hash);
        if offset > held {
            return Err(StoreError::OutOfOrder { offset, held });
        }
        let end = offset + bytes.len() as u64;
        if end > size {
            return Err(StoreError::PastTheEnd { end, size });
        }
        // A part that starts before where the upload stands: one that arrived late,
        // after a cut link, beside the part the next upload sent. What is held is kept
        // (the hash checks it all at the end); only what lies past it is appended.
        if end <= held && end < size {
            return Ok(Progress::Partial(held));
        }
        let bytes = &bytes[usize::try_from(held - offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len())..];
        let append = || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&part)?;
            f.write_all(bytes)?;
            if end == size {
                f.sync_all()?;
            }
            Ok(())
        };
        if let Err(source) = append() {
            // A part written halfway would move the upload's position: cut it off.
            if let Ok(f) = std::fs::OpenOptions::new().write(true).open(&part) {
                let _ = f.set_len(held);
            }
            return Err(StoreError::Disk {
                what: "store the part",
                source,
            });
        }
        if end < size {
            return Ok(Progress::Partial(end));
        }
        let actual = hash_file(&part).map_err(|source| StoreError::Disk {
            what: "read back the blob",
            source,
        })?;
        if actual != hash {
            let _ = std::fs::remove_file(&part);
            return Err(StoreError::WrongHash {
                expected: hash.to_owned(),
                actual,
            });
        }
        std::fs::set_permissions(&part, std::fs::Permissions::from_mode(0o755))
            .and_then(|()| std::fs::rename(&part, &path))
            .map_err(|source| StoreError::Disk {
                what: "store the blob",
                source,
            })?;
        Ok(Progress::Complete)
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

    fn temp(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!(
            "pinion-store-{tag}-{}-{}",
            std::process::id(),
            pinion::host::random_id()
        ))
    }

    #[test]
    fn parts_in_order_make_the_blob_and_the_hash_is_checked() {
        let dir = temp("parts");
        let store = Store::open(&dir).expect("open");
        let content = b"#!/bin/sh\necho hi\n";
        let h = hash(content);
        assert!(!store.has(&h));
        assert_eq!(
            store.put_part(&h, 18, 0, &content[..5]).ok(),
            Some(Progress::Partial(5))
        );
        assert_eq!(store.partial(&h), 5);
        // Out of order, or past the end: refused, nothing changes.
        assert!(store.put_part(&h, 18, 7, &content[7..]).is_err());
        assert!(store.put_part(&h, 18, 5, &[0u8; 20]).is_err());
        assert_eq!(store.partial(&h), 5);
        // A part that arrives late, after the upload went on: kept as it stands.
        assert_eq!(
            store.put_part(&h, 18, 0, &content[..5]).ok(),
            Some(Progress::Partial(5))
        );
        // One that reaches past where it stands: only the new bytes are appended.
        assert_eq!(
            store.put_part(&h, 18, 3, &content[3..10]).ok(),
            Some(Progress::Partial(10))
        );
        assert_eq!(store.partial(&h), 10);
        assert_eq!(
            store.put_part(&h, 18, 10, &content[10..]).ok(),
            Some(Progress::Complete)
        );
        assert!(store.has(&h));
        assert_eq!(store.partial(&h), 0);
        assert_eq!(
            store.put_part(&h, 18, 0, content).ok(),
            Some(Progress::Complete)
        );
        assert!(store.path("../../etc/passwd").is_none());

        // Content that does not hash to its name is thrown away whole.
        let other = hash(b"other");
        assert!(store.put_part(&other, 5, 0, b"wrong").is_err());
        assert_eq!(store.partial(&other), 0);
        assert!(!store.has(&other));
        assert!(store.put_part(&other, MAX_BLOB + 1, 0, b"").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn files_hash_like_their_bytes() {
        let dir = temp("hash");
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("f");
        let bytes: Vec<u8> = (0..3_000_000u32).map(|i| i as u8).collect();
        std::fs::write(&path, &bytes).expect("write");
        assert_eq!(hash_file(&path).expect("hash"), hash(&bytes));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
