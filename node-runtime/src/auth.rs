//! Signed requests: HMAC-SHA256 over a domain, a timestamp, a nonce and the body, with a
//! replay window. Used by agents (launch requests) and by a master with a key (every
//! request). Pure: the time is passed in.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::HashMap;
use std::path::Path;

/// Requests older or newer than this (clock skew included) are refused.
pub const WINDOW_MS: u64 = 30_000;
/// Shortest key accepted.
pub const MIN_KEY_BYTES: usize = 16;
/// What a signature is for: a signature for one never passes for the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// Requests to `pinion agent`.
    Agent,
    /// Requests to `pinion master`.
    Master,
    /// Connections to a keyed process's sockets (the token a connecting socket sends
    /// as its ZMTP identity; see `transport::guard`).
    Connect,
}

impl Domain {
    fn tag(self) -> &'static [u8] {
        match self {
            Domain::Agent => b"pinion-agent/1\0",
            Domain::Master => b"pinion-master/1\0",
            Domain::Connect => b"pinion-connect/1\0",
        }
    }
}

/// A shared secret.
#[derive(Clone)]
pub struct Key(Vec<u8>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

/// Why a key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read.
    #[error("cannot read key file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The key is too short.
    #[error("key file {path} holds {len} bytes; at least {MIN_KEY_BYTES} are needed (for example: head -c 32 /dev/urandom | base64 > {path})")]
    TooShort {
        /// The file.
        path: String,
        /// Its length.
        len: usize,
    },
}

impl Key {
    /// Reads a key file (surrounding white space is ignored).
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let text = std::fs::read(path).map_err(|source| KeyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_bytes(text.trim_ascii(), &path.display().to_string())
    }

    /// A key from bytes; `what` names it in errors.
    pub fn from_bytes(bytes: &[u8], what: &str) -> Result<Self, KeyError> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort {
                path: what.to_owned(),
                len: bytes.len(),
            });
        }
        Ok(Self(bytes.to_vec()))
    }

    fn mac(&self, domain: Domain, timestamp_ms: u64, nonce: u64, body: &[u8]) -> Hmac<Sha256> {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(domain.tag());
        mac.update(&timestamp_ms.to_le_bytes());
        mac.update(&nonce.to_le_bytes());
        mac.update(body);
        mac
    }
}

/// A signed request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed {
    /// Milliseconds since the Unix epoch at signing.
    pub timestamp_ms: u64,
    /// Random, never reused.
    pub nonce: u64,
    /// The encoded request.
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
    /// HMAC-SHA256 of the above.
    #[serde(with = "serde_bytes")]
    pub mac: Vec<u8>,
}

/// The signature of a request sent beside its body (the master's second frame).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// Milliseconds since the Unix epoch at signing.
    pub timestamp_ms: u64,
    /// Random, never reused.
    pub nonce: u64,
    /// HMAC-SHA256.
    #[serde(with = "serde_bytes")]
    pub mac: Vec<u8>,
}

impl Signed {
    /// The body and its signature, apart.
    pub fn split(self) -> (Vec<u8>, Signature) {
        let signature = Signature {
            timestamp_ms: self.timestamp_ms,
            nonce: self.nonce,
            mac: self.mac,
        };
        (self.body, signature)
    }

    /// A body and its signature, together again.
    pub fn join(body: Vec<u8>, signature: Signature) -> Self {
        Self {
            timestamp_ms: signature.timestamp_ms,
            nonce: signature.nonce,
            body,
            mac: signature.mac,
        }
    }
}

/// The key named by `PINION_KEY_FILE`, if set: nodes and tools sign their requests to
/// the master with it.
pub fn key_from_env() -> Result<Option<Key>, KeyError> {
    match std::env::var_os("PINION_KEY_FILE") {
        Some(path) if !path.is_empty() => Key::load(Path::new(&path)).map(Some),
        _ => Ok(None),
    }
}

/// Signs `body`.
pub fn sign(key: &Key, domain: Domain, body: Vec<u8>, timestamp_ms: u64, nonce: u64) -> Signed {
    let mac = key
        .mac(domain, timestamp_ms, nonce, &body)
        .finalize()
        .into_bytes()
        .to_vec();
    Signed {
        timestamp_ms,
        nonce,
        body,
        mac,
    }
}

/// Why a signed request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The signature does not match: wrong key, or the request was altered.
    #[error("bad signature (wrong key, or an altered request)")]
    BadSignature,
    /// The timestamp is outside the window.
    #[error(
        "stale request: its clock is {skew_ms} ms away from the receiver's (allowed: {WINDOW_MS} ms)"
    )]
    Stale {
        /// Distance between the clocks.
        skew_ms: u64,
    },
    /// The nonce was used before: a replay.
    #[error("replayed request (nonce seen before)")]
    Replayed,
}

/// Checks signatures and remembers recent nonces.
#[derive(Debug)]
pub struct Verifier {
    key: Key,
    domain: Domain,
    seen: HashMap<u64, u64>,
}

impl Verifier {
    /// A verifier for `key`, of signatures made for `domain`.
    pub fn new(key: Key, domain: Domain) -> Self {
        Self {
            key,
            domain,
            seen: HashMap::new(),
        }
    }

    /// Accepts a request once: right key, fresh, never seen.
    pub fn verify(&mut self, signed: &Signed, now_ms: u64) -> Result<(), Refusal> {
        let mac = self
            .key
            .mac(self.domain, signed.timestamp_ms, signed.nonce, &signed.body);
        mac.verify_slice(&signed.mac)
            .map_err(|_| Refusal::BadSignature)?;
        let skew_ms = now_ms.abs_diff(signed.timestamp_ms);
        if skew_ms > WINDOW_MS {
            return Err(Refusal::Stale { skew_ms });
        }
        // Nonces older than twice the window can never be accepted again: forget them.
        self.seen
            .retain(|_, ts| now_ms.saturating_sub(*ts) <= 2 * WINDOW_MS);
        if self
            .seen
            .insert(signed.nonce, signed.timestamp_ms)
            .is_some()
        {
            return Err(Refusal::Replayed);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> Key {
        Key::from_bytes(&[b; 32], "test").expect("key")
    }

    #[test]
    fn accepts_once_and_refuses_replay_wrong_key_tamper_and_stale() {
        let now = 1_000_000;
        let mut v = Verifier::new(key(1), Domain::Agent);
        let good = sign(&key(1), Domain::Agent, b"start".to_vec(), now, 7);
        assert_eq!(v.verify(&good, now + 10), Ok(()));
        assert_eq!(v.verify(&good, now + 20), Err(Refusal::Replayed));
        assert_eq!(
            v.verify(
                &sign(&key(2), Domain::Agent, b"start".to_vec(), now, 8),
                now
            ),
            Err(Refusal::BadSignature)
        );
        // A signature made for the master does not pass at an agent.
        assert_eq!(
            v.verify(
                &sign(&key(1), Domain::Master, b"start".to_vec(), now, 11),
                now
            ),
            Err(Refusal::BadSignature)
        );
        let mut tampered = sign(&key(1), Domain::Agent, b"start".to_vec(), now, 9);
        tampered.body = b"stop!".to_vec();
        assert_eq!(v.verify(&tampered, now), Err(Refusal::BadSignature));
        let old = sign(
            &key(1),
            Domain::Agent,
            b"start".to_vec(),
            now - WINDOW_MS - 1,
            10,
        );
        assert!(matches!(v.verify(&old, now), Err(Refusal::Stale { .. })));
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(Key::from_bytes(b"short", "k").is_err());
    }
}
