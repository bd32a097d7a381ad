//! The queue between the session's task and the host: bounded, with a blocking,
//! timed `pop` for host threads (which are not runtime threads) and an async `push` for
//! the task, which waits for room instead of dropping. A host that stops reading makes
//! the task wait; the core's stream then lags, and the host gets `LAGGED` with the calls
//! made up for, instead of memory growing.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::sequencer::Delivery;

#[derive(Debug)]
pub(crate) struct HostQueue {
    state: Mutex<State>,
    ready: Condvar,
    room: Semaphore,
}

#[derive(Debug, Default)]
struct State {
    items: VecDeque<Delivery>,
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
    pub(crate) fn new(capacity: usize) -> Self {
        HostQueue { state: Mutex::default(), ready: Condvar::new(), room: Semaphore::new(capacity.max(1)) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere; the deque is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for room, then appends. False when the host has gone (`shut`).
    pub(crate) async fn push(&self, d: Delivery) -> bool {
        match self.room.acquire().await {
            Ok(permit) => permit.forget(),
            Err(_) => return false,
        }
        self.lock().items.push_back(d);
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
        self.end();
    }

    /// The next item, waiting at most `timeout` (`None`: until one comes or the end).
    pub(crate) fn pop(&self, timeout: Option<Duration>) -> Popped {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut st = self.lock();
        loop {
            if let Some(d) = st.items.pop_front() {
                drop(st);
                self.room.add_permits(1);
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
