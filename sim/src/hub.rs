//! The registry of client connections and the fan-out of events to them.
//!
//! Every connection has its own bounded queue of encoded events. The PBX never
//! waits for a client: an event is encoded once and offered to each queue with
//! `try_send`; a client whose queue is full has fallen too far behind and is
//! disconnected, as Asterisk drops a manager session it cannot write to. So one
//! slow client costs neither memory nor latency to the PBX or to the others.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::{Bytes, BytesMut};
use ctilink::ami::MessageBuilder;
use tokio::sync::{mpsc, Notify};

use crate::channel::{EventClass, EventMask};
use crate::events::OutEvent;
use crate::faults::Control;

/// Events a connection may have queued before it counts as too slow.
pub(crate) const EVENT_QUEUE: usize = 4096;
/// Fault-injection commands a connection may have queued.
pub(crate) const CONTROL_QUEUE: usize = 64;

/// Locks a mutex, going on with the data if a holder panicked (the state is
/// plain data and stays usable; the simulator must not cascade panics).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the hub knows of one connection.
#[derive(Debug)]
pub(crate) struct ConnEntry {
    pub(crate) events: mpsc::Sender<Bytes>,
    pub(crate) control: mpsc::Sender<Control>,
    /// Wakes the connection task to close its socket at once.
    pub(crate) kill: Arc<Notify>,
    pub(crate) logged_in: bool,
    pub(crate) mask: EventMask,
}

impl ConnEntry {
    fn close(&self) {
        self.kill.notify_one();
    }
}

/// All open connections, by id.
#[derive(Debug, Default)]
pub(crate) struct Hub {
    conns: Mutex<HashMap<u64, ConnEntry>>,
}

fn encode(msg: &MessageBuilder) -> Option<Bytes> {
    let mut buf = BytesMut::new();
    match msg.encode(&mut buf) {
        Ok(()) => Some(buf.freeze()),
        Err(e) => {
            tracing::warn!("simulator event not encodable: {e}");
            None
        }
    }
}

impl Hub {
    pub(crate) fn register(&self, id: u64, entry: ConnEntry) {
        lock(&self.conns).insert(id, entry);
    }

    pub(crate) fn unregister(&self, id: u64) {
        lock(&self.conns).remove(&id);
    }

    pub(crate) fn len(&self) -> usize {
        lock(&self.conns).len()
    }

    /// Marks a connection logged in: from now on it receives the events `mask` allows.
    pub(crate) fn set_login(&self, id: u64, mask: EventMask) {
        if let Some(e) = lock(&self.conns).get_mut(&id) {
            e.logged_in = true;
            e.mask = mask;
        }
    }

    pub(crate) fn set_mask(&self, id: u64, mask: EventMask) {
        if let Some(e) = lock(&self.conns).get_mut(&id) {
            e.mask = mask;
        }
    }

    /// Offers an event to every logged-in connection whose mask allows it.
    pub(crate) fn broadcast(&self, ev: &OutEvent) {
        let Some(bytes) = encode(&ev.msg) else { return };
        let mut conns = lock(&self.conns);
        conns.retain(|id, e| {
            if !e.logged_in || !e.mask.allows(ev.class) {
                return true;
            }
            match e.events.try_send(bytes.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(
                        conn = id,
                        "AMI client too slow ({EVENT_QUEUE} events queued): disconnecting"
                    );
                    e.close();
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
    }

    /// Queues a message for one connection, whatever its event mask.
    pub(crate) fn send_to(&self, id: u64, msg: &MessageBuilder) {
        let Some(bytes) = encode(msg) else { return };
        let mut conns = lock(&self.conns);
        if let Some(e) = conns.get(&id) {
            if e.events.try_send(bytes).is_err() {
                e.close();
                conns.remove(&id);
            }
        }
    }

    /// Sends a fault-injection command to the connections `which` selects.
    pub(crate) fn control(&self, which: impl Fn(&ConnEntry) -> bool, ctl: &Control) {
        for e in lock(&self.conns).values().filter(|e| which(e)) {
            if e.control.try_send(ctl.clone()).is_err() {
                tracing::warn!("fault-injection queue of a connection is full; command dropped");
            }
        }
    }

    /// Closes every connection at once and forgets them.
    pub(crate) fn close_all(&self) {
        let mut conns = lock(&self.conns);
        for e in conns.values() {
            e.close();
        }
        conns.clear();
    }
}

/// Whether an entry is a logged-in session that takes events of `class`.
pub(crate) fn receives(e: &ConnEntry, class: EventClass) -> bool {
    e.logged_in && e.mask.allows(class)
}
