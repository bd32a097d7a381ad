//! Broadcast queues bounded in values and in bytes: how the AMI link hands the PBX's raw
//! events to its subscribers ([`Subscription`](crate::ami::Subscription), what `ctilink
//! monitor` reads) and how a link hands the call model's events to its own
//! ([`Link::subscribe`](crate::link::Link::subscribe): each `Session::events()` stream,
//! the gateway's fan-out).
//!
//! Why not `tokio::sync::broadcast`: its ring is bounded in entries only, so a subscriber
//! that stops reading keeps up to `capacity` values of whatever size the PBX sends. AMI
//! messages may be up to 1 MiB each (`Limits::max_message`): 4,096 of them are 4 GiB, and
//! a `UserEvent` with big dialplan fields becomes an [`Event::UserEvent`] just as big.
//! Here the queue also counts the bytes it holds (each value's [`Weigh::weight`]) and,
//! past `max_bytes`, drops the oldest as it does past `capacity`. A subscriber that had not
//! read them gets [`RecvError::Lagged`] with the number it missed, as with `broadcast`
//! (the same error types, so callers match the same arms), and continues with the oldest
//! value still held.
//!
//! One queue serves every subscriber: a value is stored once, and leaves as soon as every
//! subscriber has read it or the bounds push it out. So the queue as a whole, however
//! many subscribers it has, holds at most `capacity` values and `max_bytes` bytes plus the
//! newest value (always kept, so a value bigger than the whole budget still reaches a
//! subscriber that keeps up). The cost per value: one lock to send; a subscriber locks once
//! per batch it takes into a buffer of its own (at most [`BATCH`] values and [`BATCH_BYTES`]
//! bytes, or one value if it is bigger), so that the sender and a subscriber on another
//! thread seldom meet at the lock. The last subscriber to read a value takes it without a
//! clone. Each subscriber's batch is its own: the queue's bounds plus one batch per
//! subscriber is the most all of them hold.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

pub use tokio::sync::broadcast::error::{RecvError, SendError, TryRecvError};

use crate::ami::{LinkEvent, Message};
use crate::model::{Endpoint, Event, Party};

/// What a value costs a queue, in bytes: its inline size and what it owns on the heap.
/// An estimate (allocator overhead is not counted) that must grow with the value: it is
/// what keeps a queue's memory bounded.
pub trait Weigh {
    fn weight(&self) -> usize;
}

/// A value in the queue with what it weighs and how many subscribers have yet to read it.
struct Slot<T> {
    val: T,
    weight: usize,
    /// Subscribers that existed when it was sent and have not read it. Never larger for an
    /// older slot than for a newer one (every subscriber reads in order), so the slots
    /// nobody needs any more are always at the front.
    unread: usize,
}

struct State<T> {
    slots: VecDeque<Slot<T>>,
    /// The sequence number of `slots[0]` (of the next value sent when empty).
    head: u64,
    /// The weights of `slots`, summed.
    bytes: usize,
    receivers: usize,
    senders: usize,
    /// Each receiver's waker while it waits, by the receiver's index; `free` lists the
    /// indices of dropped receivers for reuse. Both as long as the most receivers at once.
    wakers: Vec<Option<Waker>>,
    free: Vec<usize>,
    /// How many `wakers` are set: a send with nobody waiting does not look at them.
    waiting: usize,
}

/// The most values a subscriber takes into its own buffer at once.
pub const BATCH: usize = 32;
/// The most bytes (by [`Weigh::weight`]) a subscriber takes into its own buffer at once,
/// unless the first value alone weighs more.
pub const BATCH_BYTES: usize = 64 * 1024;

/// Wakers taken under the lock at once, to be woken once it is released.
const WAKE_BATCH: usize = 8;
type Wakers = [Option<Waker>; WAKE_BATCH];

impl<T> State<T> {
    /// Up to [`WAKE_BATCH`] wakers of subscribers that wait, to be woken once the lock is
    /// released; true if more wait.
    fn take_wakers(&mut self, out: &mut Wakers) -> bool {
        let mut n = 0;
        for w in self.wakers.iter_mut() {
            if n == WAKE_BATCH {
                break;
            }
            if let Some(w) = w.take() {
                out[n] = Some(w);
                n += 1;
            }
        }
        self.waiting = self.waiting.saturating_sub(n);
        self.waiting > 0
    }

    /// Drops the slots at the front that every subscriber has read.
    fn release_read(&mut self) {
        while self.slots.front().is_some_and(|s| s.unread == 0) {
            self.pop_front();
        }
    }

    fn pop_front(&mut self) -> Option<Slot<T>> {
        let s = self.slots.pop_front()?;
        self.head += 1;
        self.bytes = self.bytes.saturating_sub(s.weight);
        Some(s)
    }
}

struct Shared<T> {
    state: Mutex<State<T>>,
    capacity: usize,
    max_bytes: usize,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding the lock leaves a queue whose worst state is a value too
        // many or too few: keep serving.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes `wakers` (taken under the lock, woken outside it), then, if `more` wait, the
    /// others, a batch at a time.
    fn wake(&self, wakers: &mut Wakers, mut more: bool) {
        loop {
            for w in wakers.iter_mut() {
                if let Some(w) = w.take() {
                    w.wake();
                }
            }
            if !more {
                return;
            }
            more = self.lock().take_wakers(wakers);
        }
    }
}

/// The bounds a link's event queue is given, checked before it connects: a queue that
/// holds nothing would lag on every event, so zero is the caller's mistake, not a size.
pub fn check_bounds(capacity: usize, max_bytes: usize) -> crate::Result<()> {
    if capacity == 0 || max_bytes == 0 {
        return Err(crate::Error::InvalidArgument(
            "event_queue and event_queue_bytes must be positive".into(),
        ));
    }
    Ok(())
}

/// A queue holding at most `capacity` values and `max_bytes` bytes of them (by
/// [`Weigh::weight`]) plus the newest, and its first subscriber. A `capacity` of 0 is
/// taken as 1.
pub fn channel<T>(capacity: usize, max_bytes: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            slots: VecDeque::new(),
            head: 0,
            bytes: 0,
            receivers: 0,
            senders: 1,
            wakers: Vec::new(),
            free: Vec::new(),
            waiting: 0,
        }),
        capacity: capacity.max(1),
        max_bytes,
    });
    let rx = Receiver::new(shared.clone());
    (Sender { shared }, rx)
}

/// The sending side; clones send into the same queue. When the last is dropped,
/// subscribers get what is queued, then [`RecvError::Closed`].
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.shared.lock();
        f.debug_struct("fanout::Sender")
            .field("capacity", &self.shared.capacity)
            .field("max_bytes", &self.shared.max_bytes)
            .field("queued", &st.slots.len())
            .field("bytes", &st.bytes)
            .field("receivers", &st.receivers)
            .finish()
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        Sender { shared: self.shared.clone() }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut wakers: Wakers = Default::default();
        let more = {
            let mut st = self.shared.lock();
            st.senders = st.senders.saturating_sub(1);
            if st.senders > 0 {
                return;
            }
            st.take_wakers(&mut wakers)
        };
        self.shared.wake(&mut wakers, more);
    }
}

impl<T: Weigh> Sender<T> {
    /// Queues `val` for every subscriber there is now, dropping the oldest values while
    /// the queue is over its bounds. Returns the number of subscribers; with none, the
    /// value is handed back (nobody would ever read it).
    pub fn send(&self, val: T) -> Result<usize, SendError<T>> {
        let weight = val.weight();
        let mut wakers: Wakers = Default::default();
        let (receivers, wake, more) = {
            let mut st = self.shared.lock();
            if st.receivers == 0 {
                return Err(SendError(val));
            }
            let unread = st.receivers;
            st.slots.push_back(Slot { val, weight, unread });
            st.bytes = st.bytes.saturating_add(weight);
            while st.slots.len() > self.shared.capacity
                || (st.bytes > self.shared.max_bytes && st.slots.len() > 1)
            {
                st.pop_front();
            }
            let wake = st.waiting > 0;
            let more = wake && st.take_wakers(&mut wakers);
            (st.receivers, wake, more)
        };
        if wake {
            self.shared.wake(&mut wakers, more);
        }
        Ok(receivers)
    }
}

impl<T> Sender<T> {
    /// A new subscriber; it receives the values sent from now on.
    pub fn subscribe(&self) -> Receiver<T> {
        Receiver::new(self.shared.clone())
    }

    pub fn receiver_count(&self) -> usize {
        self.shared.lock().receivers
    }
}

/// One subscriber: the values sent since it subscribed, in order, each once.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// The sequence number of the next value to read.
    next: u64,
    /// This receiver's index in the queue's `wakers`.
    index: usize,
    /// Values taken from the queue and not returned yet (at most one batch).
    batch: VecDeque<T>,
}

impl<T> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("fanout::Receiver").field("next", &self.next).finish_non_exhaustive()
    }
}

impl<T> Receiver<T> {
    fn new(shared: Arc<Shared<T>>) -> Self {
        let (next, index) = {
            let mut st = shared.lock();
            st.receivers += 1;
            let index = match st.free.pop() {
                Some(i) => i,
                None => {
                    st.wakers.push(None);
                    st.wakers.len() - 1
                }
            };
            (st.head + st.slots.len() as u64, index)
        };
        Receiver { shared, next, index, batch: VecDeque::new() }
    }

    /// Values sent and not read yet by this subscriber (those the bounds dropped
    /// included: they come back as one `Lagged`).
    pub fn len(&self) -> usize {
        let st = self.shared.lock();
        let end = st.head + st.slots.len() as u64;
        usize::try_from(end.saturating_sub(self.next)).unwrap_or(usize::MAX).saturating_add(self.batch.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Takes the values queued for the subscriber whose next sequence number is `next`: the
/// first is returned, the others go to its `batch` (empty on entry), at most [`BATCH`]
/// values and [`BATCH_BYTES`] bytes in all, at least one. `Err(Lagged)` with how many it
/// missed since its last read (it then goes on with the oldest value still queued);
/// `Ok(None)` when nothing is queued for it.
fn fill<T: Clone>(
    next: &mut u64,
    st: &mut State<T>,
    batch: &mut VecDeque<T>,
) -> Result<Option<T>, RecvError> {
    if *next < st.head {
        let missed = st.head - *next;
        *next = st.head;
        return Err(RecvError::Lagged(missed));
    }
    let mut bytes = 0usize;
    while batch.len() < BATCH && bytes < BATCH_BYTES {
        let Ok(i) = usize::try_from(*next - st.head) else { break };
        let Some(slot) = st.slots.get_mut(i) else { break };
        if !batch.is_empty() && bytes.saturating_add(slot.weight) > BATCH_BYTES {
            break;
        }
        *next += 1;
        bytes = bytes.saturating_add(slot.weight);
        slot.unread = slot.unread.saturating_sub(1);
        if slot.unread == 0 && i == 0 {
            // The last subscriber to read it: take it, no clone.
            if let Some(s) = st.pop_front() {
                batch.push_back(s.val);
            }
            st.release_read();
        } else {
            batch.push_back(slot.val.clone());
        }
    }
    Ok(batch.pop_front())
}

impl<T: Clone> Receiver<T> {
    /// The next value; [`RecvError::Lagged`] if the bounds dropped values this
    /// subscriber had not read; [`RecvError::Closed`] once every sender is gone and
    /// nothing is left. Cancel-safe: a value is taken only when it is returned.
    pub async fn recv(&mut self) -> Result<T, RecvError> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// [`recv`](Self::recv) as a poll, for `Stream` implementations.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        if let Some(v) = self.batch.pop_front() {
            return Poll::Ready(Ok(v));
        }
        let mut st = self.shared.lock();
        match fill(&mut self.next, &mut st, &mut self.batch) {
            Err(e) => return Poll::Ready(Err(e)),
            Ok(Some(v)) => return Poll::Ready(Ok(v)),
            Ok(None) => {}
        }
        if st.senders == 0 {
            return Poll::Ready(Err(RecvError::Closed));
        }
        let set = st.wakers.get_mut(self.index).map(|w| match w {
            Some(w) => {
                w.clone_from(cx.waker());
                false
            }
            None => {
                *w = Some(cx.waker().clone());
                true
            }
        });
        if set == Some(true) {
            st.waiting += 1;
        }
        Poll::Pending
    }

    /// The next value if one is queued, without waiting.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        if let Some(v) = self.batch.pop_front() {
            return Ok(v);
        }
        let mut st = self.shared.lock();
        match fill(&mut self.next, &mut st, &mut self.batch) {
            Ok(Some(v)) => Ok(v),
            Err(RecvError::Lagged(n)) => Err(TryRecvError::Lagged(n)),
            Err(RecvError::Closed) | Ok(None) if st.senders == 0 => Err(TryRecvError::Closed),
            Err(RecvError::Closed) | Ok(None) => Err(TryRecvError::Empty),
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.receivers = st.receivers.saturating_sub(1);
        if let Some(w) = st.wakers.get_mut(self.index) {
            if w.take().is_some() {
                st.waiting = st.waiting.saturating_sub(1);
            }
            st.free.push(self.index);
        }
        // The values this subscriber had yet to read no longer wait for it.
        let from = usize::try_from(self.next.saturating_sub(st.head)).unwrap_or(usize::MAX);
        for s in st.slots.iter_mut().skip(from) {
            s.unread = s.unread.saturating_sub(1);
        }
        st.release_read();
    }
}

// ---------------------------------------------------------------------------------------
// What the crate's queues weigh.

impl Weigh for Message {
    /// The frame's bytes and its field index. The frame is a slice of the buffer it was
    /// read into, which it keeps alive (reads are 16 KiB, a message longer than that has
    /// a buffer of its own, grown to fit): resident memory can be up to about twice this.
    fn weight(&self) -> usize {
        std::mem::size_of::<Message>() + self.frame().len() + self.len() * 16
    }
}

impl Weigh for LinkEvent {
    fn weight(&self) -> usize {
        std::mem::size_of::<LinkEvent>()
            + match self {
                LinkEvent::Event(m) => m.weight(),
                LinkEvent::Up { banner, .. } => banner.as_ref().map_or(0, String::len),
                LinkEvent::Down { reason } => reason.len(),
                LinkEvent::Lagged(_) => 0,
            }
    }
}

fn party(p: &Party) -> usize {
    p.number.len() + p.name.len()
}

fn endpoint(e: &Endpoint) -> usize {
    std::mem::size_of::<Endpoint>() + e.device.as_str().len() + e.channel.len()
}

impl Weigh for Event {
    /// The event and the strings it owns. Call and device ids are shared with the model
    /// (reference counted) but counted anyway: the model may have dropped its copy.
    fn weight(&self) -> usize {
        let id = |s: &str| s.len();
        let ids = |v: &[crate::model::CallId]| v.iter().map(|c| 16 + c.as_str().len()).sum::<usize>();
        let heap = match self {
            Event::Originated { call, device, channel, caller, called, .. }
            | Event::Diverted { call, device, channel, caller, called, .. } => {
                id(call.as_str()) + id(device.as_str()) + channel.len() + party(caller) + party(called)
            }
            Event::Delivered { call, device, channel, caller, called, calling_device, .. }
            | Event::Established { call, device, channel, caller, called, calling_device, .. } => {
                id(call.as_str())
                    + id(device.as_str())
                    + channel.len()
                    + party(caller)
                    + party(called)
                    + calling_device.as_ref().map_or(0, |d| id(d.as_str()))
            }
            Event::Held { call, device, channel, .. }
            | Event::Retrieved { call, device, channel, .. }
            | Event::Failed { call, device, channel, .. } => {
                id(call.as_str()) + id(device.as_str()) + channel.len()
            }
            Event::Transferred {
                call, transferring, transferred, targets, secondary_call, caller, ..
            } => {
                id(call.as_str())
                    + endpoint(transferring)
                    + endpoint(transferred)
                    + targets.iter().map(endpoint).sum::<usize>()
                    + secondary_call.as_ref().map_or(0, |c| id(c.as_str()))
                    + party(caller)
            }
            Event::Conferenced { call, device, channel, parties, .. } => {
                id(call.as_str())
                    + id(device.as_str())
                    + channel.len()
                    + parties.iter().map(|d| 16 + d.as_str().len()).sum::<usize>()
            }
            Event::Queued { call, device, queue, caller, .. } => {
                id(call.as_str()) + id(device.as_str()) + queue.len() + party(caller)
            }
            Event::ConnectionCleared { call, device, channel, released_by, .. } => {
                id(call.as_str())
                    + id(device.as_str())
                    + channel.len()
                    + released_by.as_ref().map_or(0, |d| id(d.as_str()))
            }
            Event::CallCleared { call, merged_into, .. } => {
                id(call.as_str()) + merged_into.as_ref().map_or(0, |c| id(c.as_str()))
            }
            Event::DeviceState { device, .. }
            | Event::DeviceRemoved { device }
            | Event::DoNotDisturb { device, .. } => id(device.as_str()),
            Event::Presence { device, presence, subtype, message } => {
                id(device.as_str()) + presence.len() + subtype.len() + message.len()
            }
            Event::Forwarding { device, to, .. } => id(device.as_str()) + to.as_ref().map_or(0, String::len),
            Event::UserEvent { name, call, fields } => {
                name.len()
                    + call.as_ref().map_or(0, |c| id(c.as_str()))
                    + fields
                        .iter()
                        .map(|(k, v)| std::mem::size_of::<(String, String)>() + k.len() + v.len())
                        .sum::<usize>()
            }
            Event::Resynced { calls_ended, calls_found, devices_changed } => {
                ids(calls_ended)
                    + ids(calls_found)
                    + devices_changed.iter().map(|d| 16 + d.as_str().len()).sum::<usize>()
            }
            Event::LinkDown { reason } => reason.len(),
            Event::LinkUp { .. } | Event::Lagged { .. } => 0,
        };
        std::mem::size_of::<Event>() + heap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value that weighs what it says.
    #[derive(Clone, Debug, PartialEq, Eq)]
    struct W(usize, u32);

    impl Weigh for W {
        fn weight(&self) -> usize {
            self.0
        }
    }

    fn held<T>(tx: &Sender<T>) -> (usize, usize) {
        let st = tx.shared.lock();
        (st.slots.len(), st.bytes)
    }

    #[test]
    fn a_subscriber_past_the_byte_budget_lags_and_keeps_the_newest() {
        let (tx, mut slow) = channel::<W>(1000, 10_000);
        for i in 0..100 {
            tx.send(W(1000, i)).ok();
        }
        // 10 values of 1,000 bytes fit the budget: the queue holds those, not 100.
        assert_eq!(held(&tx), (10, 10_000));
        assert_eq!(slow.try_recv(), Err(TryRecvError::Lagged(90)));
        for i in 90..100 {
            assert_eq!(slow.try_recv(), Ok(W(1000, i)));
        }
        assert_eq!(slow.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(held(&tx), (0, 0), "read by everyone: released");
    }

    #[test]
    fn the_count_bound_still_applies_and_a_value_over_budget_is_delivered() {
        let (tx, mut rx) = channel::<W>(4, usize::MAX);
        for i in 0..10 {
            tx.send(W(1, i)).ok();
        }
        assert_eq!(held(&tx).0, 4);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Lagged(6)));
        assert_eq!(rx.try_recv(), Ok(W(1, 6)));
        let (tx, mut rx) = channel::<W>(4, 100);
        tx.send(W(50, 0)).ok();
        tx.send(W(1000, 1)).ok();
        assert_eq!(held(&tx), (1, 1000), "the newest is kept alone");
        assert_eq!(rx.try_recv(), Err(TryRecvError::Lagged(1)));
        assert_eq!(rx.try_recv(), Ok(W(1000, 1)));
    }

    #[test]
    fn a_subscriber_takes_a_batch_bounded_in_values_and_bytes() {
        let (tx, mut rx) = channel::<W>(1000, usize::MAX);
        for i in 0..100 {
            tx.send(W(10, i)).ok();
        }
        assert_eq!(rx.try_recv(), Ok(W(10, 0)));
        assert_eq!(rx.batch.len(), BATCH - 1);
        assert_eq!(rx.len(), 99);
        let half = BATCH_BYTES / 2 + 1;
        let (tx, mut rx) = channel::<W>(1000, usize::MAX);
        for i in 0..4 {
            tx.send(W(half, i)).ok();
        }
        tx.send(W(10 * BATCH_BYTES, 4)).ok();
        for i in 0..4 {
            assert_eq!(rx.try_recv(), Ok(W(half, i)));
            assert!(rx.batch.is_empty(), "two of them are over the batch's bytes");
        }
        assert_eq!(rx.try_recv(), Ok(W(10 * BATCH_BYTES, 4)), "one bigger than a batch comes alone");
    }

    #[test]
    fn every_subscriber_gets_every_value_and_values_leave_once_all_read() {
        let (tx, mut a) = channel::<W>(16, 1 << 20);
        let mut b = tx.subscribe();
        tx.send(W(10, 1)).ok();
        let mut late = tx.subscribe();
        tx.send(W(10, 2)).ok();
        assert_eq!(a.try_recv(), Ok(W(10, 1)));
        assert_eq!(a.try_recv(), Ok(W(10, 2)));
        assert_eq!(held(&tx).0, 2, "b has read neither");
        assert_eq!(b.try_recv(), Ok(W(10, 1)));
        assert_eq!(held(&tx).0, 1);
        assert_eq!(late.try_recv(), Ok(W(10, 2)), "a late subscriber starts at its subscription");
        assert_eq!(late.len(), 0);
        assert_eq!(b.len(), 1);
        drop(b);
        assert_eq!(held(&tx), (0, 0), "a dropped subscriber holds nothing back");
        assert_eq!(tx.receiver_count(), 2);
    }

    #[test]
    fn no_subscriber_hands_the_value_back_and_closing_ends_after_the_queue() {
        let (tx, rx) = channel::<W>(4, 100);
        drop(rx);
        assert!(matches!(tx.send(W(1, 7)), Err(SendError(W(1, 7)))));
        let mut rx = tx.subscribe();
        tx.send(W(1, 8)).ok();
        let tx2 = tx.clone();
        drop(tx);
        tx2.send(W(1, 9)).ok();
        drop(tx2);
        assert_eq!(rx.try_recv(), Ok(W(1, 8)));
        assert_eq!(rx.try_recv(), Ok(W(1, 9)));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    }

    #[tokio::test]
    async fn a_waiting_subscriber_is_woken_by_a_send_and_by_the_close() {
        let (tx, mut rx) = channel::<W>(4, 100);
        let waiter = tokio::spawn(async move {
            let first = rx.recv().await;
            let second = rx.recv().await;
            (first, second)
        });
        tokio::task::yield_now().await;
        tx.send(W(1, 1)).ok();
        tokio::task::yield_now().await;
        drop(tx);
        let (first, second) = waiter.await.expect("the waiter ends");
        assert_eq!(first, Ok(W(1, 1)));
        assert_eq!(second, Err(RecvError::Closed));
    }

    #[tokio::test]
    async fn dropping_a_waiting_subscriber_frees_its_waker_slot() {
        let (tx, rx) = channel::<W>(4, 100);
        drop(rx);
        for _ in 0..100 {
            let mut rx = tx.subscribe();
            let _ = tokio::time::timeout(std::time::Duration::from_millis(1), rx.recv()).await;
        }
        let st = tx.shared.lock();
        assert!(st.wakers.len() <= 1, "{} waker slots", st.wakers.len());
        assert_eq!(st.waiting, 0);
    }

    #[test]
    fn weights_grow_with_what_the_values_carry() {
        let small = Event::UserEvent { name: "x".into(), call: None, fields: vec![] };
        let big = Event::UserEvent {
            name: "x".into(),
            call: None,
            fields: vec![("k".into(), "v".repeat(100_000))],
        };
        assert!(big.weight() > 100_000 && small.weight() < 1_000, "{} {}", small.weight(), big.weight());
        let m = Message::from_pairs([("Event", "UserEvent"), ("Data", &*"x".repeat(50_000))]);
        assert!(LinkEvent::Event(m).weight() > 50_000);
    }
}
