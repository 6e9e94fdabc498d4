//! A bounded queue that keeps the newest items: the subscriber side of a topic.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use tokio::sync::Notify;

/// Keep-last-N queue with one consumer; pushing into a full queue drops the oldest item
/// and counts it, so slow user code never stalls the socket.
///
/// Each side signals the other only where the other can be waiting: a push into an
/// empty queue (the consumer found it empty), and a take that brings the queue down to
/// half its capacity (a producer that holds back while the queue is full goes on from
/// there). A signal with no waiter is kept for the next wait, so none is lost, and a
/// busy stream of messages costs no signal per message. Resuming at half, not at the
/// first free place, spares a producer and consumer on two threads a wake-up per
/// message while the consumer is the slower one.
#[derive(Debug)]
pub struct KeepLast<T> {
    items: Mutex<Inner<T>>,
    /// The number of items, also readable without the lock.
    len: AtomicUsize,
    capacity: usize,
    /// The length at which a producer that held back goes on: half the capacity.
    resume_at: usize,
    notify: Notify,
    /// Signalled when a take brings the queue down to `resume_at`.
    drained: Notify,
    dropped: AtomicU64,
}

/// A queue whose producer can hold back while it is full.
pub trait Room: Send + Sync {
    /// Whether the queue holds as many items as it may: the producer holds back.
    fn is_full(&self) -> bool;
    /// Whether a producer that held back may go on: the queue has drained to its
    /// resume mark.
    fn has_room(&self) -> bool;
    /// Signalled (with a stored permit) each time a take brings the queue down to its
    /// resume mark.
    fn drained(&self) -> &Notify;
}

impl<T: Send> Room for KeepLast<T> {
    fn is_full(&self) -> bool {
        self.len.load(Ordering::Acquire) >= self.capacity
    }

    fn has_room(&self) -> bool {
        self.len.load(Ordering::Acquire) <= self.resume_at
    }

    fn drained(&self) -> &Notify {
        &self.drained
    }
}

#[derive(Debug)]
struct Inner<T> {
    queue: VecDeque<T>,
    closed: bool,
}

impl<T> KeepLast<T> {
    /// A queue holding at most `capacity` items (at least 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            items: Mutex::new(Inner {
                queue: VecDeque::with_capacity(capacity.min(1024)),
                closed: false,
            }),
            len: AtomicUsize::new(0),
            capacity,
            resume_at: capacity / 2,
            notify: Notify::new(),
            drained: Notify::new(),
            dropped: AtomicU64::new(0),
        }
    }

    /// Adds an item, dropping the oldest one if the queue is full.
    pub fn push(&self, item: T) {
        let was_empty = {
            let mut inner = self.lock();
            if inner.queue.len() >= self.capacity {
                inner.queue.pop_front();
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            inner.queue.push_back(item);
            self.len.store(inner.queue.len(), Ordering::Release);
            inner.queue.len() == 1
        };
        if was_empty {
            self.notify.notify_one();
        }
    }

    /// Marks the end: `recv` returns what is left, then `None`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_one();
    }

    /// Takes the oldest item without waiting.
    pub fn try_recv(&self) -> Option<T> {
        self.take(&mut self.lock())
    }

    /// Takes the oldest item, signalling a producer that may wait for room.
    fn take(&self, inner: &mut Inner<T>) -> Option<T> {
        let item = inner.queue.pop_front();
        self.len.store(inner.queue.len(), Ordering::Release);
        if item.is_some() && inner.queue.len() == self.resume_at {
            self.drained.notify_one();
        }
        item
    }

    /// Waits for the oldest item; `None` once closed and empty.
    pub async fn recv(&self) -> Option<T> {
        loop {
            let notified = self.notify.notified();
            {
                let mut inner = self.lock();
                if let Some(item) = self.take(&mut inner) {
                    return Some(item);
                }
                if inner.closed {
                    // Leave a permit for any other waiter.
                    self.notify.notify_one();
                    return None;
                }
            }
            notified.await;
        }
    }

    /// How many items were dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// How many items wait.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    /// Whether no item waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<T>> {
        // A panic while holding this lock cannot leave the queue inconsistent.
        self.items
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_newest_and_counts_drops() {
        let q = KeepLast::new(3);
        for i in 0..10 {
            q.push(i);
        }
        assert_eq!(q.dropped(), 7);
        let got: Vec<_> = std::iter::from_fn(|| q.try_recv()).collect();
        assert_eq!(got, vec![7, 8, 9]);
    }

    #[tokio::test]
    async fn recv_drains_then_ends_after_close() {
        let q = std::sync::Arc::new(KeepLast::new(8));
        let consumer = {
            let q = q.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(x) = q.recv().await {
                    got.push(x);
                }
                got
            })
        };
        for i in 0..5 {
            q.push(i);
        }
        q.close();
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), consumer)
            .await
            .expect("consumer ends")
            .expect("no panic");
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
    }

    #[tokio::test]
    async fn a_producer_held_back_goes_on_once_the_queue_is_down_to_half() {
        let q = std::sync::Arc::new(KeepLast::new(4));
        for i in 1..=4 {
            q.push(i);
        }
        assert!(q.is_full());
        assert!(!q.has_room());
        let waiter = {
            let q = q.clone();
            tokio::spawn(async move {
                while !q.has_room() {
                    q.drained().notified().await;
                }
                q.len()
            })
        };
        assert_eq!(q.recv().await, Some(1));
        assert!(!q.is_full(), "one place free");
        assert!(!q.has_room(), "but not yet down to half");
        assert_eq!(q.recv().await, Some(2));
        let len = tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("the producer is signalled at half")
            .expect("no panic");
        assert_eq!(len, 2);
    }

    #[test]
    fn a_queue_of_one_resumes_when_empty() {
        let q = KeepLast::new(1);
        q.push(1);
        assert!(q.is_full() && !q.has_room());
        assert_eq!(q.try_recv(), Some(1));
        assert!(q.has_room());
    }
}
