//! One guarded connection: Pinion's side of the handshake, then either the relay
//! between the peer and the engine, with every frame header from the peer checked on
//! the way, or (for a data socket) Pinion's own ROUTER end ([`super::router`]).

use super::budget::Ticket;
use super::closed::{ended, Closed};
use super::token;
use super::zmtp::{self, Scanner, Violation, GREETING_LEN, MAX_READY};
use super::{Shared, Target};
use std::net::SocketAddr;
use std::sync::{Arc, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

/// Time a peer has to send its greeting and READY.
const HANDSHAKE_WITHIN: Duration = Duration::from_secs(10);
/// Socket buffers of a peer connection, as the engine sets on its own tcp sockets.
const TCP_BUFFER: usize = 4 * 1024 * 1024;
/// Reads from the peer.
const INBOUND_CHUNK: usize = 16 * 1024;
/// Reads from the engine.
const OUTBOUND_CHUNK: usize = 256 * 1024;

/// Serves one accepted connection until it ends.
pub(super) async fn serve(tcp: TcpStream, peer: SocketAddr, ticket: Ticket, shared: Arc<Shared>) {
    let outcome = run(tcp, ticket, &shared).await;
    match outcome {
        Err(Closed::Refused(kind, why)) => shared.report.refuse(Some(peer), kind, &why),
        Err(Closed::Ended(why)) => tracing::debug!(%peer, "guarded connection ended: {why}"),
        Ok(()) => {}
    }
}

async fn run(mut tcp: TcpStream, mut ticket: Ticket, shared: &Shared) -> Result<(), Closed> {
    let _ = tcp.set_nodelay(true);
    let sock = socket2::SockRef::from(&tcp);
    let _ = sock.set_recv_buffer_size(TCP_BUFFER);
    let _ = sock.set_send_buffer_size(TCP_BUFFER);

    let handshake = async {
        // Sent at once: a libzmq peer sends the rest of its greeting only after it
        // has seen the start of ours.
        tcp.write_all(&zmtp::greeting())
            .await
            .map_err(ended("sending the greeting"))?;
        read_handshake(&mut tcp, shared).await
    };
    let first = tokio::select! {
        read = tokio::time::timeout(HANDSHAKE_WITHIN, handshake) => match read {
            Ok(read) => read?,
            Err(_) => {
                return Err(Closed::Refused(
                    "timeout",
                    format!("no ZMTP handshake within {HANDSHAKE_WITHIN:?}"),
                ))
            }
        },
        () = ticket.evicted() => {
            return Err(Closed::Refused(
                "slots",
                "still in its handshake when the connection slots ran out; a newer connection took its slot"
                    .to_owned(),
            ))
        }
    };
    if !ticket.admit() {
        return Err(Closed::Refused(
            "slots",
            "a newer connection took its slot during the handshake".to_owned(),
        ));
    }
    match &shared.target {
        Target::Engine(path) => {
            let engine = UnixStream::connect(path)
                .await
                .map_err(ended("connecting to the engine"))?;
            relay(tcp, engine, first, shared).await
        }
        Target::Router(events) => {
            super::router::serve(tcp, &first.bytes[first.ready_end..], shared, events).await
        }
    }
}

/// Reads the peer's greeting and READY command, checks them, and returns every byte
/// read so far (to be handed to the engine). Bytes after the READY are checked too.
async fn read_handshake(tcp: &mut TcpStream, shared: &Shared) -> Result<Handshake, Closed> {
    let mut buf = Vec::with_capacity(GREETING_LEN + 64);
    // Greeting.
    while buf.len() < GREETING_LEN {
        read_more(tcp, &mut buf, GREETING_LEN).await?;
    }
    let mut greeting = [0u8; GREETING_LEN];
    greeting.copy_from_slice(&buf[..GREETING_LEN]);
    zmtp::check_greeting(&greeting)?;
    // READY: the header, then its body.
    let limit = GREETING_LEN + 9 + MAX_READY;
    let header = loop {
        if let Some(h) = zmtp::header(&buf[GREETING_LEN..])? {
            break h;
        }
        read_more(tcp, &mut buf, limit).await?;
    };
    if !header.command {
        return Err(Violation::NotReady.into());
    }
    if header.len > MAX_READY as u64 {
        return Err(Violation::CommandTooLong {
            len: header.len,
            limit: MAX_READY as u64,
        }
        .into());
    }
    let start = GREETING_LEN + header.size;
    let end = start + header.len as usize;
    while buf.len() < end {
        read_more(tcp, &mut buf, limit).await?;
    }
    let ready = zmtp::ready(&buf[start..end])?;
    if let Some(verifier) = &shared.verifier {
        let mut verifier = verifier.lock().unwrap_or_else(PoisonError::into_inner);
        token::verify(
            &mut verifier,
            ready.identity.as_deref(),
            crate::host::now_ms(),
        )
        .map_err(|e| Closed::Refused("token", e.to_string()))?;
    }
    Ok(Handshake {
        bytes: buf,
        ready_end: end,
    })
}

/// The bytes of a checked handshake, perhaps with the start of the stream behind them.
struct Handshake {
    bytes: Vec<u8>,
    /// Where the READY command ends and the stream begins.
    ready_end: usize,
}

/// Reads once more into `buf`, which may not grow past `limit`.
async fn read_more(tcp: &mut TcpStream, buf: &mut Vec<u8>, limit: usize) -> Result<(), Closed> {
    let room = limit.saturating_sub(buf.len());
    if room == 0 {
        return Err(Violation::Command("handshake longer than allowed").into());
    }
    let mut chunk = [0u8; 512];
    let want = room.min(chunk.len());
    let n = tcp
        .read(&mut chunk[..want])
        .await
        .map_err(ended("reading the handshake"))?;
    if n == 0 {
        return Err(Closed::Ended("closed during the handshake".to_owned()));
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

/// Relays until either side ends or the peer breaks a rule.
async fn relay(
    tcp: TcpStream,
    engine: UnixStream,
    first: Handshake,
    shared: &Shared,
) -> Result<(), Closed> {
    let (mut peer_in, mut peer_out) = tcp.into_split();
    let (mut engine_in, mut engine_out) = engine.into_split();
    // Whatever came after the READY is the start of the stream.
    let mut scanner = Scanner::new(shared.limits);
    scanner.feed(&first.bytes[first.ready_end..])?;
    engine_out
        .write_all(&first.bytes)
        .await
        .map_err(ended("writing to the engine"))?;
    drop(first);

    let inbound = async {
        let mut buf = vec![0u8; INBOUND_CHUNK];
        loop {
            let n = peer_in.read(&mut buf).await.map_err(ended("peer read"))?;
            if n == 0 {
                return Err(Closed::Ended("peer closed".to_owned()));
            }
            scanner.feed(&buf[..n])?;
            engine_out
                .write_all(&buf[..n])
                .await
                .map_err(ended("engine write"))?;
        }
    };
    let outbound = async {
        // The engine's own greeting: the peer had Pinion's already.
        let mut greeting = [0u8; GREETING_LEN];
        engine_in
            .read_exact(&mut greeting)
            .await
            .map_err(ended("engine greeting"))?;
        copy(&mut engine_in, &mut peer_out).await
    };
    tokio::select! {
        r = inbound => r,
        r = outbound => r,
    }
}

/// Copies what the engine sends to the peer until either ends.
async fn copy<R, W>(from: &mut R, to: &mut W) -> Result<(), Closed>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; OUTBOUND_CHUNK];
    loop {
        let n = from.read(&mut buf).await.map_err(ended("engine read"))?;
        if n == 0 {
            return Err(Closed::Ended("engine closed".to_owned()));
        }
        to.write_all(&buf[..n]).await.map_err(ended("peer write"))?;
    }
}
