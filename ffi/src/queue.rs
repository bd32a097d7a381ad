//! The queue between the session's task and the host: bounded, with a blocking,
//! timed `pop` for host threads (which are not runtime threads) and an async `push` for
//! the task, which waits for room instead of dropping. A host that stops reading makes
//! the task wait; the core's stream then lags, and the host gets `LAGGED` with the calls
//! made up for, instead of memory growing.
//!
//! Room is counted in items (`event_queue`) and in bytes (`event_queue_bytes`, by the
//! core's [`Weigh`], in KiB units): a `UserEvent` may carry up to the PBX's 1 MiB message,
//! so 4,096 items alone could be 4 GiB held for a host that stopped reading.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ctilink_core::fanout::Weigh;
use tokio::sync::Semaphore;

use crate::sequencer::Delivery;

/// The unit the byte room is counted in.
const UNIT: usize = 1024;

/// What a delivery weighs, in bytes: its event and the strings it owns, or for a new call
/// its parties and the call's state.
fn weight(d: &Delivery) -> usize {
    std::mem::size_of::<Delivery>()
        + match d {
            Delivery::Event { event, .. } => event.weight(),
            Delivery::NewCall(n) => {
                let party = |p: &ctilink_core::model::Party| p.number.len() + p.name.len();
                let call = n.current.as_ref().map_or(0, |c| {
                    std::mem::size_of::<ctilink_core::Call>()
                        + party(&c.caller)
                        + party(&c.called)
                        + c.connections.len() * 256
                });
                party(&n.caller) + party(&n.called) + call
            }
            Delivery::Completed(_) => 0,
        }
}

#[derive(Debug)]
pub(crate) struct HostQueue {
    state: Mutex<State>,
    ready: Condvar,
    room: Semaphore,
    /// Room in [`UNIT`]s of bytes; an item takes at most all of it, so that one bigger than
    /// the whole room still goes through an empty queue.
    bytes: Semaphore,
    units: usize,
}

#[derive(Debug, Default)]
struct State {
    /// The items and the byte units each took.
    items: VecDeque<(Delivery, u32)>,
    /// No more items will come.
    ended: bool,
}

/// What `pop` found. (Moved once per event, straight into a boxed `ctilink_event`:
/// boxing it here would only add an allocation.)
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub(crate) enum Popped {
    Item(Delivery),
    TimedOut,
    Ended,
}

impl HostQueue {
    /// At most `capacity` items and `max_bytes` bytes of them (at least one item).
    pub(crate) fn new(capacity: usize, max_bytes: usize) -> Self {
        let units = (max_bytes / UNIT).clamp(1, u32::MAX as usize);
        HostQueue {
            state: Mutex::default(),
            ready: Condvar::new(),
            room: Semaphore::new(capacity.max(1)),
            bytes: Semaphore::new(units),
            units,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere; the deque is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for room, then appends. False when the host has gone (`shut`).
    pub(crate) async fn push(&self, d: Delivery) -> bool {
        let units = u32::try_from(weight(&d).div_ceil(UNIT).clamp(1, self.units)).unwrap_or(u32::MAX);
        // Both permits are kept only once both are had: a push cancelled while it waits
        // for bytes gives its item's room back.
        let Ok(room) = self.room.acquire().await else { return false };
        let Ok(bytes) = self.bytes.acquire_many(units).await else { return false };
        room.forget();
        bytes.forget();
        self.lock().items.push_back((d, units));
        self.ready.notify_one();
        true
    }

    /// Marks the end of the stream: `pop` answers `Ended` once the items are read.
    pub(crate) fn end(&self) {
        self.lock().ended = true;
        self.ready.notify_all();
    }

    /// The host is gone: pushes fail from now on, and waiting pops end.
    pub(crate) fn shut(&self) {
        self.room.close();
        self.bytes.close();
        self.end();
    }

    /// The next item, waiting at most `timeout` (`None`: until one comes or the end).
    pub(crate) fn pop(&self, timeout: Option<Duration>) -> Popped {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut st = self.lock();
        loop {
            if let Some((d, units)) = st.items.pop_front() {
                drop(st);
                self.room.add_permits(1);
                self.bytes.add_permits(units as usize);
                return Popped::Item(d);
            }
            if st.ended {
                return Popped::Ended;
            }
            st = match deadline {
                None => self.ready.wait(st).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Popped::TimedOut;
                    }
                    self.ready.wait_timeout(st, d - now).unwrap_or_else(|p| p.into_inner()).0
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use ctilink_core::Event;

    use super::*;

    fn big(n: usize) -> Delivery {
        let fields = vec![("Data".to_owned(), "x".repeat(n))];
        let event = Event::UserEvent { name: "Big".into(), call: None, fields };
        Delivery::Event { event, calling_device: None, transferred_away: false }
    }

    #[tokio::test]
    async fn room_is_counted_in_bytes_too() {
        let q = HostQueue::new(4096, 4 * 1024 * 1024);
        // A host that does not read: 1 MB items stop after 4 MiB, far below 4,096 of them.
        let mut pushed = 0;
        while tokio::time::timeout(Duration::from_millis(50), q.push(big(1_000_000))).await.is_ok() {
            pushed += 1;
            assert!(pushed <= 8, "the byte room must stop the pushes");
        }
        assert_eq!(pushed, 4);
        assert!(matches!(q.pop(Some(Duration::ZERO)), Popped::Item(_)));
        // Popping one makes room for one more.
        assert!(tokio::time::timeout(Duration::from_millis(500), q.push(big(1_000_000))).await.is_ok());
        // An item bigger than the whole room still goes through an empty queue.
        let q = HostQueue::new(16, 64 * 1024);
        assert!(tokio::time::timeout(Duration::from_millis(500), q.push(big(1_000_000))).await.is_ok());
    }
}
