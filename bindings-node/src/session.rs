//! The native side of `Session`: the core's `Session` behind napi, plus the one task per
//! session that hands events to JavaScript.
//!
//! `index.js` builds the public class (an `EventEmitter` with Promises) on top; everything
//! here returns JSON text or plain values so that the JavaScript side stays thin.

use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::Poll;
use std::time::Duration;

use ctilink::fanout::Weigh;
use ctilink::{Event, EventStream, ForwardKind, LinkStatus, Session};
use futures_core::Stream;
use napi::threadsafe_function::ThreadsafeFunction;
use napi::Status;
use napi_derive::napi;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::dial::NativeDial;
use crate::error::{coded, IntoJs};
use crate::json;
use crate::options::{session_options, ConnectOptions};
use crate::stream::NativeEventStream;

/// Most events handed to JavaScript in one call. A batch costs one wake-up of the JS
/// thread and one `JSON.parse`; the bound keeps one call from holding the JS thread long.
pub(crate) const MAX_BATCH: usize = 512;
/// ... and at most this many bytes of events (one always goes): a batch of big dialplan
/// `UserEvent`s is bounded as the core's queues are, in bytes.
pub(crate) const MAX_BATCH_BYTES: usize = 1024 * 1024;

/// The JavaScript function that takes a batch of events (a JSON array). Not
/// callee-handled: it gets the batch alone, not an error-first pair. (Spelled out in
/// `listen`'s signature too, where napi reads it to type `native.d.ts`.)
type BatchCallback = ThreadsafeFunction<String, (), String, Status, false>;

/// The task that delivers a session's events to its `EventEmitter`.
#[derive(Debug)]
struct Pump {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// A connected session (`Session` in `index.js` wraps it).
#[napi]
pub struct NativeSession {
    session: Session,
    pump: Mutex<Option<Pump>>,
    /// Where the event task runs: the runtime the session was connected on.
    runtime: tokio::runtime::Handle,
}

/// Whether the link is up, down (reconnecting) or closed.
#[napi(object)]
#[derive(Debug)]
pub struct LinkStatusInfo {
    /// `up`, `down` or `closed`.
    pub state: String,
    /// Why the link is down.
    pub reason: Option<String>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values stay consistent whatever panicked while one was held.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Connects and reads the PBX's devices and calls; resolves once `snapshot()` is complete.
#[napi]
pub async fn connect(url: String, options: Option<ConnectOptions>) -> napi::Result<NativeSession> {
    let opts = session_options(&url, options).js()?;
    let session = Session::connect_with(opts).await.js()?;
    let runtime = tokio::runtime::Handle::current();
    Ok(NativeSession { session, pump: Mutex::new(None), runtime })
}

#[napi]
impl NativeSession {
    /// Starts delivering events to `callback` in batches, in order, from one task. The
    /// threadsafe function is referenced, so a session that is being listened to keeps
    /// Node running, as an open socket with a `data` listener does, until `unlisten` or
    /// `close`.
    #[napi(catch_unwind)]
    pub fn listen(
        &self,
        callback: ThreadsafeFunction<String, (), String, Status, false>,
    ) -> napi::Result<()> {
        let mut pump = lock(&self.pump);
        if pump.is_some() {
            return Err(coded("ERR_INVALID_STATE", "the session is already being listened to"));
        }
        let (stop, stopped) = watch::channel(false);
        let task = self.runtime.spawn(deliver(self.session.events(), callback, stopped));
        *pump = Some(Pump { stop, task });
        Ok(())
    }

    /// Stops delivering events (the last listener was removed): the threadsafe function
    /// is released and no longer keeps Node running.
    #[napi(catch_unwind)]
    pub fn unlisten(&self) {
        let pump = lock(&self.pump).take();
        if let Some(p) = pump {
            p.stop.send_replace(true);
        }
    }

    /// A new event stream from now on, with its own bounded queue.
    #[napi(catch_unwind)]
    pub fn events(&self) -> NativeEventStream {
        NativeEventStream::new(self.session.events())
    }

    /// Devices and calls now, as JSON.
    #[napi(catch_unwind)]
    pub fn snapshot(&self) -> String {
        json::to_string(&self.session.snapshot())
    }

    /// One device as JSON, or `null`.
    #[napi(catch_unwind)]
    pub fn device(&self, id: String) -> Option<String> {
        self.session.device(id).map(|d| json::to_string(&d))
    }

    /// One open call as JSON, or `null`.
    #[napi(catch_unwind)]
    pub fn call(&self, id: String) -> Option<String> {
        self.session.call(id).map(|c| json::to_string(&c))
    }

    #[napi(catch_unwind)]
    pub fn status(&self) -> LinkStatusInfo {
        match self.session.status() {
            LinkStatus::Up => LinkStatusInfo { state: "up".into(), reason: None },
            LinkStatus::Down { reason } => LinkStatusInfo { state: "down".into(), reason: Some(reason) },
            LinkStatus::Closed => LinkStatusInfo { state: "closed".into(), reason: None },
            // Non-exhaustive in the core: report a state the caller can print.
            other => LinkStatusInfo { state: format!("{other:?}").to_ascii_lowercase(), reason: None },
        }
    }

    /// Click-to-dial that follows the call to its outcome (`DialProgress`). The stream
    /// is taken before the command is sent, so no event of the call is missed.
    #[napi]
    pub async fn dial(&self, from: String, to: String, timeout_ms: Option<u32>) -> napi::Result<NativeDial> {
        let events = self.session.events();
        let call = self.session.make_call(&from, &to).await.js()?;
        let limit = Duration::from_millis(u64::from(timeout_ms.unwrap_or(120_000)));
        Ok(NativeDial::new(call, &from, &to, events, limit))
    }

    #[napi]
    pub async fn make_call(&self, from: String, to: String) -> napi::Result<String> {
        Ok(self.session.make_call(from, to).await.js()?.to_string())
    }

    #[napi]
    pub async fn answer(&self, call: String, device: String) -> napi::Result<()> {
        self.session.answer(call, device).await.js()
    }

    #[napi]
    pub async fn clear_connection(&self, call: String, device: String) -> napi::Result<()> {
        self.session.clear_connection(call, device).await.js()
    }

    #[napi]
    pub async fn clear_call(&self, call: String) -> napi::Result<()> {
        self.session.clear_call(call).await.js()
    }

    #[napi]
    pub async fn hold(&self, call: String, device: String) -> napi::Result<()> {
        self.session.hold(call, device).await.js()
    }

    #[napi]
    pub async fn retrieve(&self, call: String, device: String) -> napi::Result<()> {
        self.session.retrieve(call, device).await.js()
    }

    #[napi]
    pub async fn single_step_transfer(&self, call: String, device: String, to: String) -> napi::Result<()> {
        self.session.single_step_transfer(call, device, to).await.js()
    }

    #[napi]
    pub async fn consultation_call(&self, call: String, device: String, to: String) -> napi::Result<String> {
        Ok(self.session.consultation_call(call, device, to).await.js()?.to_string())
    }

    #[napi]
    pub async fn transfer_call(&self, held: String, active: String) -> napi::Result<()> {
        self.session.transfer_call(held, active).await.js()
    }

    #[napi]
    pub async fn deflect(&self, call: String, device: String, to: String) -> napi::Result<()> {
        self.session.deflect(call, device, to).await.js()
    }

    #[napi]
    pub async fn pickup(&self, device: String, call_or_device: String) -> napi::Result<()> {
        self.session.pickup(device, call_or_device).await.js()
    }

    #[napi]
    pub async fn send_dtmf(&self, call: String, device: String, digits: String) -> napi::Result<()> {
        self.session.send_dtmf(call, device, digits).await.js()
    }

    #[napi]
    pub async fn set_do_not_disturb(&self, device: String, on: bool) -> napi::Result<()> {
        self.session.set_do_not_disturb(device, on).await.js()
    }

    /// `kind`: `immediate`, `busy` or `no_answer`; `to: null` turns it off.
    #[napi]
    pub async fn set_forwarding(&self, device: String, kind: String, to: Option<String>) -> napi::Result<()> {
        let Some(kind) = ForwardKind::parse(&kind) else {
            let msg = format!(
                "invalid argument: forwarding kind must be immediate, busy or no_answer, not {kind:?}"
            );
            return Err(coded("ERR_INVALID_ARGUMENT", &msg));
        };
        self.session.set_forwarding(device, kind, to.as_deref()).await.js()
    }

    /// Logs off. The event task stops first and is waited for, so that once this resolves
    /// no batch is in flight and the threadsafe function no longer holds Node's loop.
    #[napi]
    pub async fn close(&self) {
        let pump = lock(&self.pump).take();
        if let Some(p) = &pump {
            p.stop.send_replace(true);
        }
        self.session.close().await;
        if let Some(p) = pump {
            // A task that panicked has nothing left to release.
            let _ = p.task.await;
        }
    }
}

impl Drop for NativeSession {
    /// Garbage-collected: stop the event task. The session's link closes when its last
    /// clone goes, which is this one unless a dial or a command is still running.
    fn drop(&mut self) {
        let pump = lock(&self.pump).take();
        if let Some(p) = pump {
            p.stop.send_replace(true);
        }
    }
}

/// Delivers `stream` to `callback` until stopped or the session closes. One task and one
/// call at a time, so JavaScript sees the events in the core's order; the next batch is
/// read only when JavaScript has taken the previous one, so a slow handler holds back at
/// most one batch here and the core's bounded queue does the rest (`lagged`).
async fn deliver(mut stream: EventStream, callback: BatchCallback, mut stop: watch::Receiver<bool>) {
    let mut batch: Vec<Event> = Vec::with_capacity(MAX_BATCH);
    loop {
        let first = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => break,
            ev = stream.next() => ev,
        };
        let Some(first) = first else { break };
        batch.push(first);
        let ended = drain_ready(&mut stream, &mut batch, MAX_BATCH).await;
        let text = json::events(&batch);
        batch.clear();
        // Err: the JavaScript environment is going away (the wrapper never throws).
        if callback.call_async_catch(text).await.is_err() || ended {
            break;
        }
    }
}

/// Moves the events that are ready now (up to `max` in `batch`) without waiting; true
/// when the stream ended.
pub(crate) async fn drain_ready(stream: &mut EventStream, batch: &mut Vec<Event>, max: usize) -> bool {
    let mut bytes: usize = batch.iter().map(Weigh::weight).sum();
    std::future::poll_fn(|cx| {
        while batch.len() < max && bytes < MAX_BATCH_BYTES {
            match Pin::new(&mut *stream).poll_next(cx) {
                Poll::Ready(Some(ev)) => {
                    bytes += ev.weight();
                    batch.push(ev);
                }
                Poll::Ready(None) => return Poll::Ready(true),
                Poll::Pending => return Poll::Ready(false),
            }
        }
        Poll::Ready(false)
    })
    .await
}
