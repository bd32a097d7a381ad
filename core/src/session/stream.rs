//! The events of a session, as an async `Stream` and as a pull API with a timeout for
//! hosts that own their threads (C, blocking Python).

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;

use crate::error::{Error, Result};
use crate::fanout::{self, RecvError};
use crate::model::{CallId, Event};

/// Bound on the calls a filtered stream remembers as involving its devices; beyond it the
/// oldest are forgotten (their later events are then filtered out).
const MAX_VISIBLE_CALLS: usize = 65_536;

/// Which events a stream lets through.
#[derive(Debug)]
struct Filter {
    devices: Arc<HashSet<String>>,
    /// Calls a monitored device took part in; their events pass even when they name
    /// another device (the other party answering, the call clearing).
    calls: HashSet<CallId>,
}

impl Filter {
    fn pass(&mut self, ev: &Event) -> bool {
        let call = ev.call();
        if let Some(d) = ev.device() {
            if self.devices.contains(d.as_str()) {
                if let Some(c) = call {
                    if self.calls.len() >= MAX_VISIBLE_CALLS {
                        self.calls.clear();
                    }
                    self.calls.insert(c.clone());
                }
                return true;
            }
        }
        match (ev, call) {
            (Event::CallCleared { .. }, Some(c)) => self.calls.remove(c),
            (_, Some(c)) => self.calls.contains(c),
            // Link events and `Resynced` concern everyone.
            (_, None) => ev.device().is_none(),
        }
    }
}

/// The normalized events of a session, in the PBX's order. Ends (`None`) when the session
/// is closed. A consumer that falls behind by more than the queue (`event_queue` events or
/// `event_queue_bytes` bytes of [`SessionOptions`](crate::SessionOptions)) gets one
/// [`Event::Lagged`] and continues with the oldest events still queued;
/// `Session::snapshot` then tells the current state.
#[derive(Debug)]
pub struct EventStream {
    inner: fanout::Receiver<Event>,
    filter: Option<Filter>,
}

impl EventStream {
    pub(crate) fn new(rx: fanout::Receiver<Event>, monitor: Option<Arc<HashSet<String>>>) -> Self {
        EventStream { inner: rx, filter: monitor.map(|devices| Filter { devices, calls: HashSet::new() }) }
    }

    /// The next event; `None` once the session is closed.
    pub async fn next(&mut self) -> Option<Event> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// The next event, waiting at most `timeout`: `Ok(None)` on timeout,
    /// `Err(Error::Closed)` once the session is closed.
    pub async fn next_timeout(&mut self, timeout: Duration) -> Result<Option<Event>> {
        match tokio::time::timeout(timeout, self.next()).await {
            Ok(Some(ev)) => Ok(Some(ev)),
            Ok(None) => Err(Error::Closed),
            Err(_) => Ok(None),
        }
    }
}

impl Stream for EventStream {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        loop {
            let ev = match self.inner.poll_recv(cx) {
                Poll::Ready(Ok(ev)) => ev,
                Poll::Ready(Err(RecvError::Lagged(missed))) => Event::Lagged { missed },
                Poll::Ready(Err(RecvError::Closed)) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            };
            let pass = match &mut self.filter {
                Some(f) => matches!(ev, Event::Lagged { .. }) || f.pass(&ev),
                None => true,
            };
            if pass {
                return Poll::Ready(Some(ev));
            }
        }
    }
}
