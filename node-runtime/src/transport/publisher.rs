//! The data socket of a node: a ROUTER that sends each subscriber only what its credit allows.
//!
//! The engine's PUB socket queues without a byte limit for a subscriber that stopped
//! reading, so one frozen process or dead Wi-Fi link grows the publisher without bound.
//! Here each subscriber connection (a DEALER, see [`super::DataSubscriber`]) says which
//! topic prefixes it wants and returns credit as it consumes. The publisher sends to a
//! subscriber only while it has credit and drops (counts) that subscriber's messages
//! otherwise, so what waits for one subscriber is bounded by [`credit::WINDOW_BYTES`],
//! and the other subscribers are not slowed.
//!
//! A reliable publisher waits for credit before it sends, through a [`CreditGate`]: a
//! subscriber that keeps up then loses nothing, and one that gives no credit within the
//! publisher's deadline is marked stalled and skipped (dropped for, as above) until it
//! returns credit, so one frozen peer costs a reliable publisher one deadline, not one per
//! message.
//!
//! In a burst, publishers only queue, and the socket's sender task sends, runs of small
//! messages as batches ([`super::batch`]); a message after a quiet spell goes straight to
//! the engine.

use super::batch::Outgoing;
use super::credit::{self, Control};
use super::guard::router::{PeerWriter, RouterEvent, SharedMessage};
use super::guard::{self, Guard, Guarded};
use super::replier::bind_socket;
use super::TransportError;
use crate::shm::{self, Holder, LaneWriter, Outbound, Written};
use bytes::Bytes;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use zeromq::{RouterSendHalf, RouterSocket, Socket, SocketRecv, SocketSend, ZmqMessage};

/// How messages reach a subscriber connection.
#[derive(Debug)]
enum Route {
    /// Through the engine's ROUTER (ipc).
    Engine,
    /// Through Pinion's own ROUTER end of a guarded tcp connection.
    Tcp(PeerWriter),
}

/// One subscriber connection.
#[derive(Debug)]
struct Peer {
    /// Its routing identity on the socket.
    id: Bytes,
    route: Route,
    /// Frame-0 prefixes it subscribed to.
    prefixes: Vec<Bytes>,
    /// Bytes it may still be sent.
    bytes: i64,
    /// Messages it may still be sent.
    messages: i64,
    /// A reliable publisher waited for its credit in vain: not waited for again until
    /// it returns credit.
    stalled: bool,
    /// Messages kept for it while it has no credit, oldest first, sent as credit
    /// returns; bounded by `keep` (the subscriber's queue depth and byte cap).
    kept: std::collections::VecDeque<Vec<Bytes>>,
    /// Bytes in `kept`.
    kept_bytes: i64,
    /// At most this many messages and bytes are kept (none until it says).
    keep: (i64, i64),
    /// Messages it wanted and did not get from here: dropped.
    dropped: u64,
    /// It runs on this host and maps this socket's pools: its process, and its holder
    /// once it was sent a slot.
    shm: Option<(u32, Option<Holder>)>,
    /// Its lane, where envelopes go past the engine (see [`shm::Lane`]).
    lane: Option<LaneWriter>,
    /// Messages sent it through the socket: a lane record says how many came before.
    sent: u64,
}

impl Peer {
    fn has_credit(&self) -> bool {
        // Credit above zero lets one message through even if it is larger than the
        // whole window.
        self.bytes > 0 && self.messages > 0
    }

    fn wants(&self, topic: &[u8]) -> bool {
        self.prefixes.iter().any(|p| topic.starts_with(p))
    }

    /// Keeps a message it has no credit for, dropping the oldest past its limits (and
    /// letting go of the slots of what it drops).
    fn keep(&mut self, frames: &[Bytes], size: i64, pools: &Outbound) {
        let (messages, bytes) = self.keep;
        if self.stalled || messages == 0 || size > bytes {
            pools.discard(frames);
            self.dropped += 1;
            return;
        }
        self.kept.push_back(frames.to_vec());
        self.kept_bytes += size;
        while self.kept.len() as i64 > messages || self.kept_bytes > bytes {
            let Some(old) = self.kept.pop_front() else {
                break;
            };
            self.kept_bytes -= frames_len(&old);
            pools.discard(&old);
            self.dropped += 1;
        }
    }

    /// Sends what it kept, oldest first, as far as its credit goes: into `outgoing`
    /// (the engine's ROUTER) or its own connection. False if that connection is gone.
    fn send_kept(&mut self, outgoing: &mut Outgoing) -> bool {
        while self.has_credit() {
            let Some(frames) = self.kept.pop_front() else {
                break;
            };
            let size = frames_len(&frames);
            self.kept_bytes -= size;
            self.bytes -= size;
            self.messages -= 1;
            match &self.route {
                Route::Engine => {
                    outgoing.push(&frames, &self.id);
                    self.sent += 1;
                }
                Route::Tcp(writer) => {
                    if !writer.send(frames.into()) {
                        return false;
                    }
                }
            }
        }
        true
    }
}

fn frames_len(frames: &[Bytes]) -> i64 {
    frames.iter().map(|f| f.len() as i64).sum()
}

/// Forgets the connections `gone` picks: what was kept for them lets go of its slots,
/// and their holders are freed once they hold nothing.
fn remove_peers(peers: &mut Vec<Peer>, pools: &mut Outbound, gone: impl Fn(&Peer) -> bool) {
    peers.retain_mut(|peer| {
        if !gone(peer) {
            return true;
        }
        for frames in &peer.kept {
            pools.discard(frames);
        }
        if let Some((_, Some(holder))) = peer.shm {
            pools.forget(holder);
        }
        false
    });
}

/// The subscriber connections of one data socket, and a signal when their credit changes.
///
/// A list, not a map: a node has a handful of subscriber connections, and every message
/// goes through all of them.
#[derive(Debug)]
struct PeerTable {
    peers: Mutex<Vec<Peer>>,
    /// The shared-memory pools; locked after `peers` where both are.
    pools: Mutex<Outbound>,
    /// How many connections have no credit and are not marked stalled: while there are
    /// none, a reliable publisher passes its gate without taking the lock. Written under
    /// the lock, by [`Self::update`].
    short: AtomicUsize,
    changed: Notify,
}

impl PeerTable {
    fn lock(&self) -> MutexGuard<'_, Vec<Peer>> {
        self.peers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn pools(&self) -> MutexGuard<'_, Outbound> {
        self.pools.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets the connection `id`.
    fn remove(&self, id: &[u8]) {
        let mut table = self.lock();
        remove_peers(&mut table, &mut self.pools(), |p| p.id == id);
        self.update(&table);
        drop(table);
        self.changed.notify_waiters();
    }

    /// Counts the connections short of credit again, after `peers` changed.
    fn update(&self, peers: &[Peer]) {
        let short = peers
            .iter()
            .filter(|p| !p.stalled && !p.has_credit())
            .count();
        self.short.store(short, Ordering::Release);
    }
}

type Peers = Arc<PeerTable>;

/// Lets a reliable publisher wait until every subscriber of its topic has credit.
#[derive(Debug, Clone)]
pub struct CreditGate {
    peers: Peers,
}

impl CreditGate {
    /// Waits until every subscriber connection that wants `topic` has credit, except
    /// those marked stalled, or until `deadline` passes; then marks the ones still
    /// without credit stalled. Returns how many were newly marked.
    pub async fn wait(&self, topic: &[u8], deadline: Duration) -> usize {
        if self.peers.short.load(Ordering::Acquire) == 0 {
            return 0;
        }
        let until = tokio::time::Instant::now() + deadline;
        loop {
            let notified = self.peers.changed.notified();
            let waiting = self
                .peers
                .lock()
                .iter()
                .any(|p| p.wants(topic) && !p.stalled && !p.has_credit());
            if !waiting {
                return 0;
            }
            if tokio::time::timeout_at(until, notified).await.is_err() {
                let mut stalled = 0;
                let mut peers = self.peers.lock();
                for peer in peers.iter_mut() {
                    if peer.wants(topic) && !peer.stalled && !peer.has_credit() {
                        peer.stalled = true;
                        stalled += 1;
                    }
                }
                self.peers.update(&peers);
                return stalled;
            }
        }
    }
}

/// A message that follows the one before by less than this is queued for the sender
/// task, where it may join a batch; one after a quieter spell goes straight to the
/// engine, without the hop to that task. A burst from a loop that publishes without
/// waiting comes under a microsecond apart here (a few on a Pi); a sensor at 1 kHz
/// leaves a millisecond between its messages, and a request/reply exchange on one
/// thread 10 µs. At 20 µs that exchange took the hop every time, for 0.5 µs more per
/// round trip; bursts batched the same at 5 µs (see `BENCHMARKS.md`).
const QUIET: Duration = Duration::from_micros(5);

/// What waits to be sent, and when the last message came.
#[derive(Debug, Default)]
struct Queue {
    outgoing: Outgoing,
    last: Option<Instant>,
}

/// The socket's sending half, what publishers queued for it, and a signal to the task
/// that sends it.
struct Outbox {
    queue: Mutex<Queue>,
    /// Something was queued while nothing was: the sender task takes it.
    queued: Notify,
    /// Held by whoever sends: the sender task, or a publisher sending straight away.
    send: tokio::sync::Mutex<RouterSendHalf>,
}

impl Outbox {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The tasks of a running data socket.
struct Running {
    outbox: Arc<Outbox>,
    reader: tokio::task::JoinHandle<()>,
    router: tokio::task::JoinHandle<()>,
    sender: tokio::task::JoinHandle<()>,
}

/// A node's data socket, shared by all its publishers. Its ipc endpoints are the
/// engine's ROUTER; its tcp endpoints are guarded, and served by Pinion's own ROUTER
/// end (`guard::router`), which tells it of its connections through `events`.
pub struct DataPublisher {
    /// Until [`DataPublisher::start`].
    binding: Option<RouterSocket>,
    running: Option<Running>,
    peers: Peers,
    guard: Guard,
    guards: Vec<Guarded>,
    events: tokio::sync::mpsc::UnboundedSender<RouterEvent>,
    /// Until [`DataPublisher::start`].
    event_queue: Option<tokio::sync::mpsc::UnboundedReceiver<RouterEvent>>,
}

impl std::fmt::Debug for DataPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataPublisher")
            .field("running", &self.running.is_some())
            .finish_non_exhaustive()
    }
}

impl DataPublisher {
    /// A data socket with no endpoint yet. Subscribers only ever send it subscriptions
    /// and credit, so its guard admits small messages only; with a key, only
    /// subscribers that hold it.
    pub fn new(key: Option<crate::auth::Key>) -> Self {
        let (events, event_queue) = tokio::sync::mpsc::unbounded_channel();
        Self {
            binding: Some(RouterSocket::new()),
            running: None,
            peers: Arc::new(PeerTable {
                peers: Mutex::default(),
                pools: Mutex::new(Outbound::new(shm::pool_bytes())),
                short: AtomicUsize::new(0),
                changed: Notify::new(),
            }),
            guard: Guard::new("data", credit::MAX_CONTROL).keyed(key),
            guards: Vec::new(),
            events,
            event_queue: Some(event_queue),
        }
    }

    /// Binds `endpoint` and returns the endpoint actually bound. Only before `start`.
    pub async fn bind(&mut self, endpoint: &str) -> Result<String, TransportError> {
        match &mut self.binding {
            Some(_) if endpoint.starts_with("tcp://") && !guard::bypassed() => {
                let endpoint = super::normalize(endpoint)?;
                let (bound, guarded) =
                    guard::bind_router(&endpoint, &self.guard, self.events.clone()).await?;
                self.guards.push(guarded);
                Ok(bound)
            }
            Some(socket) => {
                let (bound, guarded) = bind_socket(socket, endpoint, &self.guard).await?;
                self.guards.extend(guarded);
                Ok(bound)
            }
            None => Err(TransportError::Bind {
                endpoint: endpoint.to_owned(),
                reason: "the data socket already runs".to_owned(),
            }),
        }
    }

    /// Starts reading subscriptions and credit, and the task that sends batches. Needs
    /// a tokio runtime; until then `send` fails.
    pub fn start(&mut self) {
        let Some(socket) = self.binding.take() else {
            return;
        };
        let (send, recv) = socket.split();
        let outbox = Arc::new(Outbox {
            queue: Mutex::default(),
            queued: Notify::new(),
            send: tokio::sync::Mutex::new(send),
        });
        let reader = tokio::spawn(read_peers(recv, self.peers.clone(), outbox.clone()));
        let events = self
            .event_queue
            .take()
            .unwrap_or_else(|| tokio::sync::mpsc::unbounded_channel().1);
        let router = tokio::spawn(read_router(events, self.peers.clone(), outbox.clone()));
        let sender = tokio::spawn(send_queued(outbox.clone(), self.peers.clone()));
        self.running = Some(Running {
            outbox,
            reader,
            router,
            sender,
        });
    }

    /// Messages of `topic` (a topic frame) that subscriber connections did not get
    /// from here: dropped while they had no credit and their keep was full. Counts of
    /// connections that closed are gone with them.
    pub fn dropped(&self, topic: &[u8]) -> u64 {
        self.peers
            .lock()
            .iter()
            .filter(|p| p.wants(topic))
            .map(|p| p.dropped)
            .sum()
    }

    /// A buffer of `len` bytes in one of this socket's shared-memory slots, filled by
    /// `fill`, which a message then carries to subscribers on this host without a copy
    /// (see [`crate::shm`]). `None` if pools are off, `len` does not fit one, or no slot
    /// is free.
    pub fn loan(&self, len: usize, fill: impl FnOnce(&mut [u8])) -> Option<Bytes> {
        self.peers.pools().loan(len, fill)
    }

    /// The gate a reliable publisher waits at before [`DataPublisher::send`].
    pub fn credit_gate(&self) -> CreditGate {
        CreditGate {
            peers: self.peers.clone(),
        }
    }

    /// Sends one multipart message (frame 0 starts with the topic) to every subscriber
    /// of a matching prefix that has credit for it; the others drop it. Never waits for
    /// a slow subscriber.
    ///
    /// After a quiet spell ([`QUIET`]) with nothing queued, the message goes straight to
    /// the engine. Otherwise it is queued, and the socket's sender task sends it as soon
    /// as the caller lets go of the runtime, a run of small messages as one batch (see
    /// [`super::batch`]). Either way, messages leave in the order they were given.
    pub async fn send(&self, mut frames: Vec<Bytes>) -> Result<(), TransportError> {
        let Some(running) = &self.running else {
            return Err(TransportError::Socket {
                endpoint: "data".to_owned(),
                reason: "the data socket is not started".to_owned(),
            });
        };
        let Some(topic) = frames.first().cloned() else {
            return Err(TransportError::Socket {
                endpoint: "data".to_owned(),
                reason: "a message needs at least one frame".to_owned(),
            });
        };
        let size = frames.iter().map(|f| f.len() as i64).sum::<i64>();
        let outbox = &running.outbox;
        let mut direct = None;
        {
            let mut queue = outbox.lock();
            let now = Instant::now();
            let was_empty = queue.outgoing.is_empty();
            if was_empty && queue.last.is_none_or(|last| now - last >= QUIET) {
                // Nothing queued, so nobody holds a message that this one would
                // overtake: whoever holds the send half holds nothing older.
                direct = outbox.send.try_lock().ok().map(|send| (send, Vec::new()));
            }
            queue.last = Some(now);
            let mut peers = self.peers.lock();
            let mut pools = self.peers.pools();
            let mut gone = Vec::new();
            let mut shared: Option<SharedMessage> = None;
            // Large frames go into a slot once, for all the connections on this host
            // that have credit.
            let pooled = pools.wants(&frames);
            let staged = (pooled
                && peers.iter().any(|p| {
                    p.shm.is_some() && p.wants(&topic) && p.kept.is_empty() && p.has_credit()
                }))
            .then(|| pools.stage(&frames))
            .flatten();
            // Frames lent from a slot go through the socket as copies: a slot waiting
            // in a socket's queue would be held for as long as the slowest reader
            // takes, and the pool is for readers on this host.
            let mut lent = pooled && pools.lends(&frames);
            for peer in peers.iter_mut() {
                if !peer.wants(&topic) {
                    continue;
                }
                if !peer.kept.is_empty() || !peer.has_credit() {
                    // Behind what it has kept, or out of credit: kept (or dropped), as
                    // it is, through the socket later.
                    if std::mem::take(&mut lent) {
                        frames = pools.unlend(&frames);
                    }
                    peer.keep(&frames, size, &pools);
                    if !peer.send_kept(&mut queue.outgoing) {
                        gone.push(peer.id.clone());
                    }
                    continue;
                }
                let own = match (peer.shm.as_mut(), &staged) {
                    (Some((pid, holder)), Some(staged)) => {
                        if holder.is_none() {
                            *holder = pools.register(*pid);
                        }
                        holder.and_then(|h| staged.deliver(h))
                    }
                    _ => None,
                };
                // Credit counts the bytes that travel: a message in slots, its envelope
                // and small frames (its slots count against the connection's share of
                // the pool instead, see `shm`), so that a subscriber returns credit
                // for what its socket and lane carried.
                peer.bytes -= own.as_deref().map_or(size, frames_len);
                peer.messages -= 1;
                if let Some(own) = own {
                    // Its own frame list (a connection on this host), through its lane
                    // past the engine when there is room, else the engine's socket.
                    if let Some(lane) = &peer.lane {
                        match lane.write(peer.sent, &own) {
                            Written::Sent => continue,
                            Written::NoRoom => {}
                            Written::Closed => peer.lane = None,
                        }
                    }
                    peer.sent += 1;
                    match &mut direct {
                        Some((_, targets)) => targets.push((peer.id.clone(), Some(own))),
                        None => queue.outgoing.push(&own, &peer.id),
                    }
                    continue;
                }
                if std::mem::take(&mut lent) {
                    frames = pools.unlend(&frames);
                }
                match (&peer.route, &mut direct) {
                    // Its connection's queue is in order by itself, and its writer
                    // batches what it finds. One copy of the frame list for all.
                    (Route::Tcp(writer), _) => {
                        let message = shared.get_or_insert_with(|| frames.clone().into());
                        if !writer.send(message.clone()) {
                            gone.push(peer.id.clone());
                        }
                    }
                    (Route::Engine, Some((_, targets))) => {
                        targets.push((peer.id.clone(), None));
                        peer.sent += 1;
                    }
                    (Route::Engine, None) => {
                        queue.outgoing.push(&frames, &peer.id);
                        peer.sent += 1;
                    }
                }
            }
            // Slots written for this message are held by its connections from here.
            drop(staged);
            // Closed connections (their task reports them too): forget them now.
            remove_peers(&mut peers, &mut pools, |p| gone.contains(&p.id));
            drop(pools);
            self.peers.update(&peers);
            if was_empty && !queue.outgoing.is_empty() {
                outbox.queued.notify_one();
            }
        }
        let Some((mut send, targets)) = direct else {
            return Ok(());
        };
        // The last connection sent the message itself gets its frame list.
        let last = targets.iter().rposition(|(_, own)| own.is_none());
        for (i, (id, own)) in targets.into_iter().enumerate() {
            let parts = if let Some(mut own) = own {
                own.insert(0, id);
                own
            } else if Some(i) == last {
                frames.insert(0, id);
                std::mem::take(&mut frames)
            } else {
                let mut parts = Vec::with_capacity(frames.len() + 1);
                parts.push(id);
                parts.extend(frames.iter().cloned());
                parts
            };
            send_one(&mut send, parts, &self.peers).await;
        }
        Ok(())
    }
}

/// Sends what publishers queue, in order, until the socket is dropped.
async fn send_queued(outbox: Arc<Outbox>, peers: Peers) {
    loop {
        outbox.queued.notified().await;
        let mut send = outbox.send.lock().await;
        loop {
            let messages = outbox.lock().outgoing.take();
            if messages.is_empty() {
                break;
            }
            for parts in messages {
                send_one(&mut send, parts, &peers).await;
            }
        }
    }
}

/// Sends `parts` (routing identity first); forgets the connection if it is gone.
async fn send_one(send: &mut RouterSendHalf, parts: Vec<Bytes>, peers: &PeerTable) {
    let Some(id) = parts.first().cloned() else {
        return;
    };
    // An envelope's slots are the connection's to let go once sent; not if it is gone.
    let envelope = parts
        .get(1..2)
        .filter(|f| shm::is_envelope(f))
        .map(<[Bytes]>::to_vec);
    let Ok(message) = ZmqMessage::try_from(parts) else {
        return;
    };
    if send.send(message).await.is_err() {
        // Gone: it subscribes again (with a new identity) if it comes back.
        if let Some(envelope) = envelope {
            peers.pools().discard(&envelope);
        }
        peers.remove(&id);
    }
}

impl Drop for DataPublisher {
    fn drop(&mut self) {
        if let Some(running) = &self.running {
            running.reader.abort();
            running.router.abort();
            running.sender.abort();
        }
    }
}

/// Topic prefixes one subscriber connection may ask for (it asks for one): what it
/// asks past this is ignored, so a peer cannot grow the table without bound.
const MAX_PREFIXES: usize = 64;

/// Reads what subscriber connections say: their prefixes and their credit.
async fn read_peers(mut recv: zeromq::RouterRecvHalf, peers: Peers, outbox: Arc<Outbox>) {
    loop {
        let message = match recv.recv().await {
            Ok(m) => m,
            Err(e) => {
                // Not expected while the socket lives; do not spin on it.
                tracing::warn!(error = %e, "data socket receive failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let mut frames = message.into_vec().into_iter();
        let (Some(id), Some(body)) = (frames.next(), frames.next()) else {
            continue;
        };
        on_control(&peers, &outbox, &id, &body, || Route::Engine);
    }
}

/// Follows the data socket's tcp connections (Pinion's own ROUTER end).
async fn read_router(
    mut events: tokio::sync::mpsc::UnboundedReceiver<RouterEvent>,
    peers: Peers,
    outbox: Arc<Outbox>,
) {
    let mut writers: std::collections::HashMap<Bytes, PeerWriter> = Default::default();
    while let Some(event) = events.recv().await {
        match event {
            RouterEvent::Opened { id, writer } => {
                writers.insert(id, writer);
            }
            RouterEvent::Message { id, frames } => {
                let ([body], Some(writer)) = (&frames[..], writers.get(&id)) else {
                    tracing::debug!("ignored a malformed message from a subscriber connection");
                    continue;
                };
                on_control(&peers, &outbox, &id, body, || Route::Tcp(writer.clone()));
            }
            RouterEvent::Closed { id } => {
                writers.remove(&id);
                peers.remove(&id);
            }
        }
    }
}

/// Applies one control frame from the connection `id` (reached by `route`); what it
/// kept for a connection that returns credit goes out.
fn on_control(
    peers: &PeerTable,
    outbox: &Outbox,
    id: &Bytes,
    body: &[u8],
    route: impl FnOnce() -> Route,
) {
    let Ok(control) = credit::decode(body) else {
        tracing::debug!("ignored a malformed frame from a subscriber connection");
        return;
    };
    {
        // The order of `send`: the queue, then the peers.
        let mut queue = outbox.lock();
        let was_empty = queue.outgoing.is_empty();
        let mut table = peers.lock();
        let known = table.iter().position(|p| p.id == id);
        match (control, known) {
            (Control::Subscribe(prefix), known) => {
                let at = known.unwrap_or_else(|| {
                    table.push(Peer {
                        // Its own buffer: the received one's count of references is
                        // shared with the whole read buffer, touched by the reader.
                        id: Bytes::copy_from_slice(id),
                        route: route(),
                        prefixes: Vec::new(),
                        bytes: credit::WINDOW_BYTES,
                        messages: credit::WINDOW_MESSAGES,
                        stalled: false,
                        kept: Default::default(),
                        kept_bytes: 0,
                        keep: (0, 0),
                        dropped: 0,
                        shm: None,
                        lane: None,
                        sent: 0,
                    });
                    table.len() - 1
                });
                let peer = &mut table[at];
                if !peer.prefixes.contains(&prefix) && peer.prefixes.len() < MAX_PREFIXES {
                    peer.prefixes.push(prefix);
                }
            }
            (Control::Credit { bytes, messages }, Some(at)) => {
                let peer = &mut table[at];
                peer.bytes = (peer.bytes + bytes).min(credit::WINDOW_BYTES);
                peer.messages = (peer.messages + messages).min(credit::WINDOW_MESSAGES);
                peer.stalled = false;
                if !peer.send_kept(&mut queue.outgoing) {
                    let id = peer.id.clone();
                    remove_peers(&mut table, &mut peers.pools(), |p| p.id == id);
                }
            }
            (Control::Keep { bytes, messages }, Some(at)) => {
                table[at].keep = (
                    messages.min(credit::MAX_KEEP_MESSAGES),
                    bytes.min(credit::MAX_KEEP_BYTES),
                );
            }
            (Control::Shm { pid, lane }, Some(at)) => {
                let peer = &mut table[at];
                if matches!(peer.route, Route::Engine)
                    && peer.shm.is_none()
                    && peers.pools().enabled()
                {
                    peer.shm = Some((pid, None));
                    peer.lane = lane.and_then(|fd| {
                        LaneWriter::open(pid, fd)
                            .inspect_err(|e| {
                                tracing::debug!("{e}; envelopes go through the socket")
                            })
                            .ok()
                    });
                }
            }
            (Control::ShmRefused, Some(at)) => {
                table[at].lane = None;
                if let Some((_, Some(holder))) = table[at].shm.take() {
                    peers.pools().refused(holder);
                }
            }
            (
                Control::Credit { .. }
                | Control::Keep { .. }
                | Control::Shm { .. }
                | Control::ShmRefused,
                None,
            ) => {}
        }
        peers.update(&table);
        if was_empty && !queue.outgoing.is_empty() {
            outbox.queued.notify_one();
        }
    }
    peers.changed.notify_waiters();
}
