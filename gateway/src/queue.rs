//! One client's outgoing messages: a bounded queue between the hub (which fans events
//! out) and the client's writer task.
//!
//! Two lanes. *Answers* (`result`, `pong`, `error`) are few (one per message the client
//! sent, and the client's commands in flight are bounded) and are never dropped. *Stream*
//! messages (`welcome`, `snapshot`, `event`) are bounded by the configured queue size;
//! when the stream lane is full, the hub applies the slow-client policy to it. The writer
//! takes everything there is in one batch, answers first, and writes it with one syscall
//! where it can.

use std::collections::VecDeque;
use std::sync::Mutex;

use bytes::Bytes;
use tokio::sync::Notify;

/// Answers one client may have waiting at most: far above what a client that reads
/// produces (one per message it sent); a client that floods without reading is closed.
pub const MAX_ANSWERS: usize = 1024;

/// The most a batch carries, in bytes (at least one message): the writer's buffer per
/// client stays this small however far behind the client is.
pub const MAX_BATCH_BYTES: usize = 64 * 1024;

/// A lane's spare capacity kept when it runs empty; a burst's larger allocation is
/// returned, so 1,000 idle clients do not each hold a full queue's worth.
const KEEP_CAPACITY: usize = 64;

#[derive(Debug, Default)]
struct Inner {
    answers: VecDeque<Bytes>,
    stream: VecDeque<Bytes>,
    /// The last message to send (`bye`), after which the writer closes.
    bye: Option<Bytes>,
    /// No more messages are taken.
    closed: bool,
}

/// What the writer takes at once.
#[derive(Debug, Default)]
pub struct Batch {
    pub messages: Vec<Bytes>,
    /// The last message of the batch is `bye`: close after writing it.
    pub last: bool,
}

/// A push that did not fit.
#[derive(Debug, PartialEq, Eq)]
pub enum Full {
    /// The stream lane holds `queue` messages already.
    Stream,
    /// The answers lane is full: the client sends without reading.
    Answers,
    /// The queue is closed.
    Closed,
}

#[derive(Debug)]
pub struct ClientQueue {
    inner: Mutex<Inner>,
    notify: Notify,
    cap: usize,
}

impl ClientQueue {
    pub fn new(cap: usize) -> Self {
        ClientQueue { inner: Mutex::new(Inner::default()), notify: Notify::new(), cap }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a stream message.
    pub fn push_stream(&self, msg: Bytes) -> Result<(), Full> {
        let mut q = self.lock();
        if q.closed || q.bye.is_some() {
            return Err(Full::Closed);
        }
        if q.stream.len() >= self.cap {
            return Err(Full::Stream);
        }
        q.stream.push_back(msg);
        drop(q);
        self.notify.notify_one();
        Ok(())
    }

    /// Queues an answer.
    pub fn push_answer(&self, msg: Bytes) -> Result<(), Full> {
        let mut q = self.lock();
        if q.closed || q.bye.is_some() {
            return Err(Full::Closed);
        }
        if q.answers.len() >= MAX_ANSWERS {
            return Err(Full::Answers);
        }
        q.answers.push_back(msg);
        drop(q);
        self.notify.notify_one();
        Ok(())
    }

    /// Drops the stream lane's backlog and queues `replacement` in its place; returns how
    /// many messages were dropped.
    pub fn replace_stream(&self, replacement: impl IntoIterator<Item = Bytes>) -> usize {
        let mut q = self.lock();
        if q.closed || q.bye.is_some() {
            return 0;
        }
        let dropped = q.stream.len();
        q.stream.clear();
        q.stream.extend(replacement);
        drop(q);
        self.notify.notify_one();
        dropped
    }

    /// Ends the queue with `bye`: the stream backlog is dropped (answers still go first)
    /// and nothing more is taken. Returns how many stream messages were dropped; `None`
    /// if it was already ending.
    pub fn close_with(&self, bye: Bytes) -> Option<usize> {
        let mut q = self.lock();
        if q.closed || q.bye.is_some() {
            return None;
        }
        let dropped = q.stream.len();
        q.stream.clear();
        q.bye = Some(bye);
        drop(q);
        self.notify.notify_one();
        Some(dropped)
    }

    /// Closes at once: the writer stops without writing more.
    pub fn shut(&self) {
        self.lock().closed = true;
        self.notify.notify_one();
    }

    /// Whether the queue was closed or ends with a `bye`.
    pub fn is_ending(&self) -> bool {
        let q = self.lock();
        q.closed || q.bye.is_some()
    }

    /// Messages waiting now.
    pub fn depth(&self) -> usize {
        let q = self.lock();
        q.answers.len() + q.stream.len() + usize::from(q.bye.is_some())
    }

    /// Waits for messages and takes them, answers first, up to [`MAX_BATCH_BYTES`];
    /// `None` once closed (or after the batch that ended with `bye`).
    pub async fn next_batch(&self) -> Option<Batch> {
        loop {
            let notified = self.notify.notified();
            {
                let mut guard = self.lock();
                let q = &mut *guard;
                if q.closed {
                    return None;
                }
                if !q.answers.is_empty() || !q.stream.is_empty() || q.bye.is_some() {
                    let mut messages = Vec::new();
                    let mut bytes = 0;
                    for lane in [&mut q.answers, &mut q.stream] {
                        while let Some(m) = lane.front() {
                            if bytes > 0 && bytes + m.len() > MAX_BATCH_BYTES {
                                break;
                            }
                            bytes += m.len();
                            messages.extend(lane.pop_front());
                        }
                        if lane.is_empty() && lane.capacity() > KEEP_CAPACITY {
                            lane.shrink_to(KEEP_CAPACITY);
                        }
                    }
                    let last = q.answers.is_empty() && q.stream.is_empty() && q.bye.is_some();
                    if last {
                        messages.extend(q.bye.take());
                        q.closed = true;
                    }
                    return Some(Batch { messages, last });
                }
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_go_first_and_bye_goes_last() {
        let q = ClientQueue::new(2);
        q.push_stream(Bytes::from_static(b"e1")).expect("room");
        q.push_stream(Bytes::from_static(b"e2")).expect("room");
        assert_eq!(q.push_stream(Bytes::from_static(b"e3")), Err(Full::Stream));
        q.push_answer(Bytes::from_static(b"a1")).expect("answers have their own room");
        let b = q.next_batch().await.expect("batch");
        assert_eq!(b.messages, ["a1", "e1", "e2"]);
        assert!(!b.last);
        q.push_stream(Bytes::from_static(b"e4")).expect("room again");
        assert_eq!(q.close_with(Bytes::from_static(b"bye")), Some(1));
        assert_eq!(q.push_answer(Bytes::from_static(b"late")), Err(Full::Closed));
        let b = q.next_batch().await.expect("the bye");
        assert_eq!(b.messages, ["bye"]);
        assert!(b.last);
        assert!(q.next_batch().await.is_none());
    }

    #[tokio::test]
    async fn a_batch_is_at_most_64_kib_and_the_rest_waits() {
        let q = ClientQueue::new(100);
        for _ in 0..10 {
            q.push_stream(Bytes::from(vec![b'x'; 20 * 1024])).expect("room");
        }
        let b = q.next_batch().await.expect("batch");
        assert_eq!(b.messages.len(), 3, "three of 20 KiB fit in 64 KiB");
        assert_eq!(q.depth(), 7);
        q.close_with(Bytes::from_static(b"bye"));
        assert_eq!(q.depth(), 1, "the backlog makes way for the bye");
        let b = q.next_batch().await.expect("the bye");
        assert!(b.last);
        // One message longer than the cap still goes, alone.
        let q = ClientQueue::new(2);
        q.push_stream(Bytes::from(vec![b'y'; 100 * 1024])).expect("room");
        q.push_stream(Bytes::from_static(b"next")).expect("room");
        assert_eq!(q.next_batch().await.expect("batch").messages.len(), 1);
        assert_eq!(q.next_batch().await.expect("batch").messages, ["next"]);
    }

    #[tokio::test]
    async fn replacing_the_backlog_counts_what_was_dropped() {
        let q = ClientQueue::new(3);
        for m in ["1", "2", "3"] {
            q.push_stream(Bytes::from(m)).expect("room");
        }
        assert_eq!(q.replace_stream([Bytes::from_static(b"lagged"), Bytes::from_static(b"snapshot")]), 3);
        assert_eq!(q.depth(), 2);
        assert_eq!(q.next_batch().await.expect("batch").messages, ["lagged", "snapshot"]);
    }
}
