//! `session.events()`: an async iterator over the core's `EventStream`.
//!
//! Each iterator has its own stream, so its own bounded queue and its own `lagged`, as in
//! Rust. JavaScript pulls batches; a pending pull is a pending promise, which keeps Node
//! running while someone waits for events.

use std::sync::Arc;

use ctilink::EventStream;
use napi_derive::napi;
use tokio::sync::{watch, Mutex};

use crate::json;
use crate::session::{drain_ready, MAX_BATCH};

#[napi]
pub struct NativeEventStream {
    stream: Arc<Mutex<Option<EventStream>>>,
    stop: watch::Sender<bool>,
}

impl NativeEventStream {
    pub(crate) fn new(stream: EventStream) -> Self {
        NativeEventStream { stream: Arc::new(Mutex::new(Some(stream))), stop: watch::channel(false).0 }
    }
}

#[napi]
impl NativeEventStream {
    /// Waits for the next events and returns those ready (at most `max`) as a JSON array;
    /// `null` once the session or this iterator is closed.
    #[napi]
    pub async fn next_batch(&self, max: u32) -> Option<String> {
        let mut stop = self.stop.subscribe();
        let mut guard = self.stream.lock().await;
        let stream = guard.as_mut()?;
        let first = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => None,
            ev = stream.next() => ev,
        };
        let Some(first) = first else {
            // Closed: let the receiver go now rather than when JavaScript collects us.
            *guard = None;
            return None;
        };
        let mut batch = vec![first];
        let max = (max as usize).clamp(1, MAX_BATCH);
        drain_ready(stream, &mut batch, max).await;
        Some(json::events(&batch))
    }

    /// Ends the iterator: a pending `nextBatch` resolves `null` and the queue is freed.
    #[napi(catch_unwind)]
    pub fn close(&self) {
        self.stop.send_replace(true);
        if let Ok(mut g) = self.stream.try_lock() {
            *g = None;
        }
    }
}
