//! One client's outgoing messages: a bounded queue between the hub (which fans events
//! out) and the client's writer task.
//!
//! Two lanes. *Answers* (`result`, `pong`, `error`) are one per message the client sent;
//! the reader stops reading while the lane is nearly full ([`ClientQueue::answer_room`]),
//! so a client that pipelines many requests is served in batches and an answer is never
//! dropped. *Stream* messages (`snapshot`, `event`) are bounded in messages and in bytes;
//! when an event does not fit, the hub applies the slow-client policy. A snapshot is held
//! apart: at most one waits in the lane, and a snapshot request while one waits is
//! answered by that one (relabelled with the newer request's id: it and the events queued
//! after it are the state at any later point), so requests cost no memory and no model
//! walk while the client does not read. The writer takes what there is, answers first, up
//! to [`MAX_BATCH_BYTES`], and writes it with one syscall where it can.
//!
//! A client's queue therefore holds at most: `queue_bytes` of events, one snapshot,
//! [`MAX_ANSWER_BYTES`] of answers; its writer holds one batch or one snapshot more.

use std::collections::VecDeque;
use std::sync::Mutex;

use bytes::{Bytes, BytesMut};
use tokio::sync::Notify;

/// Answers one client may have waiting at most: far above what a client that reads
/// produces (the reader waits for room before taking more requests).
pub const MAX_ANSWERS: usize = 1024;

/// Bytes of answers one client may have waiting at most (a `result` or `pong` is well
/// under 1 KiB; an `error` at most a few hundred bytes).
pub const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// The most a batch carries, in bytes (at least one message): the writer's buffer per
/// client stays this small however far behind the client is.
pub const MAX_BATCH_BYTES: usize = 64 * 1024;

/// A lane's spare capacity kept when it runs empty; a burst's larger allocation is
/// returned, so 1,000 idle clients do not each hold a full queue's worth.
const KEEP_CAPACITY: usize = 64;

/// How the stream lane is bounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamLimits {
    /// Events waiting at most.
    pub messages: usize,
    /// Bytes of events waiting at most (one event is always taken into an empty lane,
    /// whatever its size).
    pub bytes: usize,
}

/// A `snapshot` message cut where its request id goes, so that the id can change
/// without encoding the model again.
#[derive(Clone, Debug)]
pub struct SnapshotBody {
    /// Everything after the id: `,"devices":[...],"calls":[...]}\n`.
    rest: Bytes,
    /// `rest` is the whole message.
    whole: bool,
}

/// How every encoded `snapshot` message begins, up to its id.
const SNAPSHOT_HEAD: &[u8] = br#"{"type":"snapshot","id":"#;

impl SnapshotBody {
    /// Cuts an encoded `snapshot` message (any id). `None` if it is not one.
    pub fn cut(encoded: &Bytes) -> Option<SnapshotBody> {
        let after = encoded.strip_prefix(SNAPSHOT_HEAD)?;
        let digits = after.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || after.get(digits) != Some(&b',') {
            return None;
        }
        let start = SNAPSHOT_HEAD.len() + digits;
        Some(SnapshotBody { rest: encoded.slice(start..), whole: false })
    }

    /// A message that cannot be cut: sent as it is, whatever the request.
    pub fn whole(encoded: Bytes) -> SnapshotBody {
        SnapshotBody { rest: encoded, whole: true }
    }

    /// The message answering request `id`.
    fn message(&self, id: u64) -> Bytes {
        if self.whole {
            return self.rest.clone();
        }
        let id = id.to_string();
        let mut b = BytesMut::with_capacity(SNAPSHOT_HEAD.len() + id.len() + self.rest.len());
        b.extend_from_slice(SNAPSHOT_HEAD);
        b.extend_from_slice(id.as_bytes());
        b.extend_from_slice(&self.rest);
        b.freeze()
    }

    fn len(&self) -> usize {
        self.rest.len()
    }
}

/// A stream lane entry.
#[derive(Debug)]
enum Item {
    Message(Bytes),
    /// Where the snapshot waiting ([`Inner::snapshot`]) goes out among the events. It is
    /// kept apart so that a request relabels it and `/metrics` weighs it without a walk
    /// along the lane.
    Snapshot,
}

/// The snapshot waiting, for the request it answers (0: not asked for).
#[derive(Debug)]
struct Waiting {
    request: u64,
    body: SnapshotBody,
}

#[derive(Debug, Default)]
struct Inner {
    answers: VecDeque<Bytes>,
    answer_bytes: usize,
    stream: VecDeque<Item>,
    /// Bytes of the events in `stream` (the snapshot is not counted: it is bounded by
    /// being one).
    event_bytes: usize,
    /// The snapshot waiting; `stream` then holds its one `Item::Snapshot`.
    snapshot: Option<Waiting>,
    /// The last message to send (`bye`), after which the writer closes.
    bye: Option<Bytes>,
    /// No more messages are taken.
    closed: bool,
}

impl Inner {
    fn events(&self) -> usize {
        self.stream.len() - usize::from(self.snapshot.is_some())
    }

    fn clear_stream(&mut self) -> usize {
        let dropped = self.events();
        self.stream.clear();
        self.event_bytes = 0;
        self.snapshot = None;
        dropped
    }

    fn ending(&self) -> bool {
        self.closed || self.bye.is_some()
    }
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
    /// The stream lane holds its limit of events (messages or bytes).
    Stream,
    /// The answers lane is full: the client sends without reading.
    Answers,
    /// The queue is closed.
    Closed,
}

/// What [`ClientQueue::request_snapshot`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Requested {
    /// A snapshot was waiting: it now answers this request.
    Coalesced,
    /// None was waiting: the caller builds one and pushes it.
    Build,
    /// The queue is closed.
    Closed,
}

#[derive(Debug)]
pub struct ClientQueue {
    inner: Mutex<Inner>,
    /// Wakes the writer.
    notify: Notify,
    /// Wakes the reader waiting for room in the answers lane.
    room: Notify,
    limits: StreamLimits,
}

impl ClientQueue {
    pub fn new(limits: StreamLimits) -> Self {
        ClientQueue {
            inner: Mutex::new(Inner::default()),
            notify: Notify::new(),
            room: Notify::new(),
            limits,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues an event.
    pub fn push_stream(&self, msg: Bytes) -> Result<(), Full> {
        let mut q = self.lock();
        if q.ending() {
            return Err(Full::Closed);
        }
        let over_bytes = q.event_bytes > 0 && q.event_bytes + msg.len() > self.limits.bytes;
        if q.events() >= self.limits.messages || over_bytes {
            return Err(Full::Stream);
        }
        q.event_bytes += msg.len();
        q.stream.push_back(Item::Message(msg));
        drop(q);
        self.notify.notify_one();
        Ok(())
    }

    /// Queues a snapshot answering `request`; one that was waiting is dropped with the
    /// events after it (the new one holds what they did).
    pub fn push_snapshot(&self, request: u64, body: SnapshotBody) -> Result<(), Full> {
        let mut q = self.lock();
        if q.ending() {
            return Err(Full::Closed);
        }
        if q.snapshot.take().is_some() {
            let at = q.stream.iter().position(|i| matches!(i, Item::Snapshot)).unwrap_or(0);
            let dropped: usize = q
                .stream
                .drain(at..)
                .map(|i| match i {
                    Item::Message(m) => m.len(),
                    Item::Snapshot => 0,
                })
                .sum();
            q.event_bytes -= dropped;
        }
        q.stream.push_back(Item::Snapshot);
        q.snapshot = Some(Waiting { request, body });
        drop(q);
        self.notify.notify_one();
        Ok(())
    }

    /// A snapshot request: answered by the snapshot waiting, if one is.
    pub fn request_snapshot(&self, request: u64) -> Requested {
        let mut q = self.lock();
        if q.ending() {
            return Requested::Closed;
        }
        match q.snapshot.as_mut() {
            Some(waiting) => {
                waiting.request = request;
                Requested::Coalesced
            }
            None => Requested::Build,
        }
    }

    /// Queues an answer.
    pub fn push_answer(&self, msg: Bytes) -> Result<(), Full> {
        let mut q = self.lock();
        if q.ending() {
            return Err(Full::Closed);
        }
        if q.answers.len() >= MAX_ANSWERS || q.answer_bytes + msg.len() > MAX_ANSWER_BYTES {
            return Err(Full::Answers);
        }
        q.answer_bytes += msg.len();
        q.answers.push_back(msg);
        drop(q);
        self.notify.notify_one();
        Ok(())
    }

    /// Waits until the answers lane has room for `reserve` more answers besides one
    /// (the answers of commands still running are reserved this way), or the queue ends.
    /// The reader calls it before taking the next request: a client that pipelines
    /// requests is read as fast as it reads its answers.
    pub async fn answer_room(&self, reserve: usize) {
        let want = MAX_ANSWERS.saturating_sub(reserve + 1).max(1);
        let bytes = MAX_ANSWER_BYTES / 2;
        loop {
            let roomy = self.room.notified();
            {
                let q = self.lock();
                if q.ending() || (q.answers.len() < want && q.answer_bytes < bytes) {
                    return;
                }
            }
            roomy.await;
        }
    }

    /// Drops the stream lane's backlog and queues `lagged` and a snapshot in its place;
    /// returns how many events were dropped.
    pub fn replace_stream(&self, lagged: Bytes, snapshot: SnapshotBody) -> usize {
        let mut q = self.lock();
        if q.ending() {
            return 0;
        }
        let dropped = q.clear_stream();
        q.event_bytes = lagged.len();
        q.stream.push_back(Item::Message(lagged));
        q.stream.push_back(Item::Snapshot);
        q.snapshot = Some(Waiting { request: 0, body: snapshot });
        drop(q);
        self.notify.notify_one();
        dropped
    }

    /// Ends the queue with `bye`: the stream backlog is dropped (answers still go first)
    /// and nothing more is taken. Returns how many events were dropped; `None` if it was
    /// already ending.
    pub fn close_with(&self, bye: Bytes) -> Option<usize> {
        let mut q = self.lock();
        if q.ending() {
            return None;
        }
        let dropped = q.clear_stream();
        q.bye = Some(bye);
        drop(q);
        self.notify.notify_one();
        self.room.notify_waiters();
        Some(dropped)
    }

    /// Closes at once: the writer stops without writing more.
    pub fn shut(&self) {
        self.lock().closed = true;
        self.notify.notify_one();
        self.room.notify_waiters();
    }

    /// Whether the queue was closed or ends with a `bye`.
    pub fn is_ending(&self) -> bool {
        self.lock().ending()
    }

    /// Messages waiting now.
    pub fn depth(&self) -> usize {
        let q = self.lock();
        q.answers.len() + q.stream.len() + usize::from(q.bye.is_some())
    }

    /// Bytes waiting now (answers, events and the snapshot).
    pub fn bytes(&self) -> usize {
        let q = self.lock();
        q.answer_bytes + q.event_bytes + q.snapshot.as_ref().map_or(0, |w| w.body.len())
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
                    let batch = take(q);
                    drop(guard);
                    self.room.notify_waiters();
                    return Some(batch);
                }
            }
            notified.await;
        }
    }
}

/// Takes a batch out of a queue that has something.
fn take(q: &mut Inner) -> Batch {
    let mut messages = Vec::new();
    let mut bytes = 0;
    while let Some(m) = q.answers.front() {
        if bytes > 0 && bytes + m.len() > MAX_BATCH_BYTES {
            break;
        }
        bytes += m.len();
        q.answer_bytes -= m.len();
        messages.extend(q.answers.pop_front());
    }
    while let Some(item) = q.stream.front() {
        let len = match item {
            Item::Message(m) => m.len(),
            Item::Snapshot => q.snapshot.as_ref().map_or(0, |w| w.body.len()),
        };
        if bytes > 0 && bytes + len > MAX_BATCH_BYTES {
            break;
        }
        bytes += len;
        match q.stream.pop_front() {
            Some(Item::Message(m)) => {
                q.event_bytes -= m.len();
                messages.push(m);
            }
            Some(Item::Snapshot) => {
                if let Some(Waiting { request, body }) = q.snapshot.take() {
                    messages.push(body.message(request));
                }
            }
            None => break,
        }
    }
    if q.answers.is_empty() && q.answers.capacity() > KEEP_CAPACITY {
        q.answers.shrink_to(KEEP_CAPACITY);
    }
    if q.stream.is_empty() && q.stream.capacity() > KEEP_CAPACITY {
        q.stream.shrink_to(KEEP_CAPACITY);
    }
    let last = q.answers.is_empty() && q.stream.is_empty() && q.bye.is_some();
    if last {
        messages.extend(q.bye.take());
        q.closed = true;
    }
    Batch { messages, last }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(messages: usize) -> StreamLimits {
        StreamLimits { messages, bytes: 1 << 20 }
    }

    fn snap(devices: &str) -> SnapshotBody {
        let m =
            Bytes::from(format!(r#"{{"type":"snapshot","id":0,"devices":[{devices}],"calls":[]}}"#) + "\n");
        SnapshotBody::cut(&m).expect("a snapshot message")
    }

    #[tokio::test]
    async fn answers_go_first_and_bye_goes_last() {
        let q = ClientQueue::new(limits(2));
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
        let q = ClientQueue::new(limits(100));
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
        let q = ClientQueue::new(limits(2));
        q.push_stream(Bytes::from(vec![b'y'; 100 * 1024])).expect("room");
        q.push_stream(Bytes::from_static(b"next")).expect("room");
        assert_eq!(q.next_batch().await.expect("batch").messages.len(), 1);
        assert_eq!(q.next_batch().await.expect("batch").messages, ["next"]);
    }

    #[tokio::test]
    async fn events_are_bounded_in_bytes_but_one_always_fits() {
        let q = ClientQueue::new(StreamLimits { messages: 1000, bytes: 10 * 1024 });
        q.push_stream(Bytes::from(vec![b'x'; 50 * 1024])).expect("one event fits an empty lane");
        assert_eq!(q.push_stream(Bytes::from_static(b"small")), Err(Full::Stream));
        q.next_batch().await.expect("batch");
        for _ in 0..10 {
            q.push_stream(Bytes::from(vec![b'x'; 1024])).expect("room");
        }
        assert_eq!(q.push_stream(Bytes::from_static(b"1")), Err(Full::Stream), "10 KiB held");
        assert_eq!(q.bytes(), 10 * 1024);
    }

    #[tokio::test]
    async fn replacing_the_backlog_counts_what_was_dropped() {
        let q = ClientQueue::new(limits(3));
        for m in ["1", "2", "3"] {
            q.push_stream(Bytes::from(m)).expect("room");
        }
        assert_eq!(q.replace_stream(Bytes::from_static(b"lagged"), snap("")), 3);
        assert_eq!(q.depth(), 2);
        let b = q.next_batch().await.expect("batch");
        assert_eq!(b.messages[0], "lagged");
        assert!(b.messages[1].starts_with(br#"{"type":"snapshot","id":0,"devices":[]"#));
        assert_eq!(q.push_stream(Bytes::from_static(b"4")), Ok(()));
    }

    #[tokio::test]
    async fn snapshot_requests_while_one_waits_are_answered_by_it() {
        let q = ClientQueue::new(limits(10));
        assert_eq!(q.request_snapshot(1), Requested::Build);
        q.push_snapshot(1, snap("1")).expect("room");
        q.push_stream(Bytes::from_static(b"e1")).expect("room");
        for id in 2..=1000 {
            assert_eq!(q.request_snapshot(id), Requested::Coalesced);
        }
        assert_eq!(q.depth(), 2, "one snapshot and the event after it");
        let b = q.next_batch().await.expect("batch");
        assert_eq!(b.messages[0], "{\"type\":\"snapshot\",\"id\":1000,\"devices\":[1],\"calls\":[]}\n");
        assert_eq!(b.messages[1], "e1");
        assert_eq!(q.request_snapshot(1001), Requested::Build, "none waits once written");
        // A newer snapshot replaces the one waiting and the events after it.
        q.push_stream(Bytes::from_static(b"e2")).expect("room");
        q.push_snapshot(0, snap("2")).expect("room");
        q.push_stream(Bytes::from_static(b"e3")).expect("room");
        q.push_snapshot(1002, snap("3")).expect("room");
        let b = q.next_batch().await.expect("batch");
        assert_eq!(b.messages.len(), 2);
        assert_eq!(b.messages[0], "e2");
        assert!(b.messages[1].starts_with(br#"{"type":"snapshot","id":1002,"devices":[3]"#));
        assert_eq!(q.bytes(), 0);
    }

    #[test]
    fn only_snapshot_messages_are_cut() {
        assert!(SnapshotBody::cut(&Bytes::from_static(b"{\"type\":\"event\",\"id\":0,}")).is_none());
        assert!(SnapshotBody::cut(&Bytes::from_static(b"{\"type\":\"snapshot\",\"id\":,\"d\":1}")).is_none());
        let body = SnapshotBody::cut(&Bytes::from_static(b"{\"type\":\"snapshot\",\"id\":42,\"d\":1}\n"))
            .expect("cut");
        assert_eq!(body.message(7), "{\"type\":\"snapshot\",\"id\":7,\"d\":1}\n");
    }

    #[tokio::test]
    async fn the_reader_waits_for_room_and_the_writer_makes_it() {
        let q = std::sync::Arc::new(ClientQueue::new(limits(10)));
        for _ in 0..MAX_ANSWERS {
            q.push_answer(Bytes::from_static(b"pong")).expect("room");
        }
        assert_eq!(q.push_answer(Bytes::from_static(b"pong")), Err(Full::Answers));
        let waiting = tokio::spawn({
            let q = q.clone();
            async move { q.answer_room(32).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "no room: the reader waits");
        q.next_batch().await.expect("the writer takes a batch");
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("room was made")
            .expect("no panic");
    }
}
