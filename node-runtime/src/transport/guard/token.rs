//! Connection tokens: how a connecting socket proves it holds the robot's key.
//!
//! The engine lets a connecting socket set one thing in its ZMTP handshake: the
//! `Identity` property of its READY command (at most 255 bytes). With a key, every
//! socket Pinion connects sends a fresh token there: a magic, the time, a random nonce
//! and an HMAC-SHA256 of them under the key ([`Domain::Connect`]). A guard with the
//! same key admits the connection only if the token verifies, is inside the time
//! window and was never seen before. The token also serves as the connection's routing
//! identity, which it must be unique for anyway.

use crate::auth::{self, Domain, Key, Refusal, Signed, Verifier};

const MAGIC: &[u8; 4] = b"PNK1";
/// Bytes of a token.
pub const TOKEN_LEN: usize = 4 + 8 + 8 + 32;

/// A fresh token for a new connection, made with `key` at `now_ms`.
pub fn make(key: &Key, now_ms: u64, nonce: u64) -> Vec<u8> {
    let signed = auth::sign(key, Domain::Connect, Vec::new(), now_ms, nonce);
    let mut token = Vec::with_capacity(TOKEN_LEN);
    token.extend_from_slice(MAGIC);
    token.extend_from_slice(&signed.timestamp_ms.to_le_bytes());
    token.extend_from_slice(&signed.nonce.to_le_bytes());
    token.extend_from_slice(&signed.mac);
    token
}

/// Why a connection's token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefusal {
    /// The peer sent no identity, or one that is not a token.
    #[error("no connection token (the peer does not hold the robot key, or runs without PINION_KEY_FILE)")]
    Missing,
    /// The token did not verify.
    #[error("connection token refused: {0}")]
    Refused(#[from] Refusal),
}

/// Checks a peer's identity as a token, once.
pub fn verify(
    verifier: &mut Verifier,
    identity: Option<&[u8]>,
    now_ms: u64,
) -> Result<(), TokenRefusal> {
    let token = identity.ok_or(TokenRefusal::Missing)?;
    if token.len() != TOKEN_LEN || &token[..4] != MAGIC {
        return Err(TokenRefusal::Missing);
    }
    let word = |at: usize| {
        let mut le = [0u8; 8];
        le.copy_from_slice(&token[at..at + 8]);
        u64::from_le_bytes(le)
    };
    let signed = Signed {
        timestamp_ms: word(4),
        nonce: word(12),
        body: Vec::new(),
        mac: token[20..].to_vec(),
    };
    verifier.verify(&signed, now_ms)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> Key {
        Key::from_bytes(&[b; 32], "test").expect("key")
    }

    #[test]
    fn a_token_passes_once_and_only_with_the_key() {
        let now = 5_000_000;
        let mut v = Verifier::new(key(1), Domain::Connect);
        let t = make(&key(1), now, 42);
        assert_eq!(t.len(), TOKEN_LEN);
        assert_eq!(verify(&mut v, Some(&t), now + 5), Ok(()));
        assert_eq!(
            verify(&mut v, Some(&t), now + 6),
            Err(TokenRefusal::Refused(Refusal::Replayed))
        );
        let other = make(&key(2), now, 43);
        assert_eq!(
            verify(&mut v, Some(&other), now),
            Err(TokenRefusal::Refused(Refusal::BadSignature))
        );
        assert_eq!(verify(&mut v, None, now), Err(TokenRefusal::Missing));
        assert_eq!(
            verify(&mut v, Some(b"a uuid, 16 bytes"), now),
            Err(TokenRefusal::Missing)
        );
        // A master signature is no connection token.
        let mut forged = t.clone();
        let master = auth::sign(&key(1), Domain::Master, Vec::new(), now, 44);
        forged[12..20].copy_from_slice(&44u64.to_le_bytes());
        forged[20..].copy_from_slice(&master.mac);
        assert_eq!(
            verify(&mut v, Some(&forged), now),
            Err(TokenRefusal::Refused(Refusal::BadSignature))
        );
    }
}
