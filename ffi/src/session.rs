//! `ctilink_session`: a connection to the PBX with its call model, its event stream and
//! its commands. Every function may be called from any host thread, concurrently, except
//! `ctilink_session_free`, which must be the last call on the handle.
//!
//! Inside, each session owns a small tokio runtime (two worker threads), one task that
//! orders the events for the host (`Sequencer`) and, with a callback, one event thread.
//! Nothing is global, so a host can load, use and unload the library (a TSP DLL) cleanly.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::{JoinHandle, ThreadId};
use std::time::Duration;

use ctilink_core::{Call, CallId, Command, DeviceId, EventStream, Session};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

use crate::boundary::{guard, guard_or, try_c};
use crate::codes::{ctilink_device_state, ctilink_link_status};
use crate::event::ctilink_event;
use crate::options::{ctilink_options, Callback};
use crate::queue::{HostQueue, Popped};
use crate::result::ctilink_result;
use crate::sequencer::{Completion, Model, Sequencer};
use crate::snapshot::ctilink_snapshot;
use crate::text::set_last_error;

/// Requests of one session that may wait for their completion at once. A TSP has a
/// handful; the bound keeps a runaway host from filling memory with tasks.
pub const CTILINK_MAX_PENDING_REQUESTS: usize = 1024;

/// A connected session. Create with `ctilink_session_connect`, end with
/// `ctilink_session_close` then `ctilink_session_free`.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct ctilink_session {
    shared: Arc<Shared>,
    runtime: Option<Runtime>,
    event_thread: Mutex<Option<JoinHandle<()>>>,
}

/// What the host threads, the runtime's tasks and the event thread share.
#[derive(Debug)]
pub(crate) struct Shared {
    session: Session,
    monitor: Option<Vec<String>>,
    queue: HostQueue,
    /// Taken at close: requests made after it are refused, and the ordering task ends once
    /// the last request in flight has completed.
    completions: Mutex<Option<mpsc::UnboundedSender<Completion>>>,
    next_request: AtomicU64,
    in_flight: AtomicUsize,
    /// Call-starting requests issued whose completion the ordering task has not seen.
    pending_starts: AtomicUsize,
    closed: AtomicBool,
    callback: Option<Callback>,
    event_thread: OnceLock<ThreadId>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn on_event_thread(&self) -> bool {
        self.event_thread.get() == Some(&std::thread::current().id())
    }
}

/// The session's model as the sequencer reads it, with the host's device filter.
struct SessionModel<'a>(&'a Shared);

impl Model for SessionModel<'_> {
    fn call(&self, id: &CallId) -> Option<Call> {
        self.0.session.call(id)
    }

    fn calls(&self) -> Vec<Call> {
        monitored_calls(self.0.session.snapshot().calls, self.0.monitor.as_deref())
    }
}

/// The calls a host with device filter `monitor` sees: those a monitored device is in.
fn monitored_calls(calls: Vec<Call>, monitor: Option<&[String]>) -> Vec<Call> {
    match monitor {
        None => calls,
        Some(m) => calls
            .into_iter()
            .filter(|c| c.connections.iter().any(|k| m.iter().any(|d| d == k.device.as_str())))
            .collect(),
    }
}

/// Orders events and completions for the host (see `sequencer`), until the session is
/// closed and every request has completed.
async fn order_events(
    shared: Arc<Shared>,
    mut events: EventStream,
    mut completions: mpsc::UnboundedReceiver<Completion>,
) {
    // However this task ends (even by a bug's panic), the host's readers must not wait for
    // ever: the queue is ended when this guard is dropped.
    struct EndOnDrop(Arc<Shared>);
    impl Drop for EndOnDrop {
        fn drop(&mut self) {
            self.0.queue.end();
        }
    }
    let _end = EndOnDrop(shared.clone());
    let mut seq = Sequencer::new();
    seq.start(&SessionModel(&shared));
    let (mut events_open, mut completions_open) = (true, true);
    while events_open || completions_open {
        while let Some(d) = seq.pop() {
            if !shared.queue.push(d).await {
                return;
            }
        }
        if seq.catching_up() && events_open {
            // After a lag: read the stream's backlog first (older than the model), then
            // make up the difference. A zero timeout polls the stream once.
            match tokio::time::timeout(Duration::ZERO, events.next()).await {
                Ok(Some(ev)) => {
                    seq.event(ev, shared.pending_starts.load(Ordering::Acquire), &SessionModel(&shared))
                }
                Ok(None) => events_open = false,
                Err(_) => seq.caught_up(&SessionModel(&shared)),
            }
            continue;
        }
        tokio::select! {
            biased;
            c = completions.recv(), if completions_open => match c {
                Some(c) => {
                    if c.starts_call {
                        shared.pending_starts.fetch_sub(1, Ordering::AcqRel);
                    }
                    shared.in_flight.fetch_sub(1, Ordering::AcqRel);
                    seq.completed(c, shared.pending_starts.load(Ordering::Acquire), &SessionModel(&shared));
                }
                None => completions_open = false,
            },
            ev = events.next(), if events_open => match ev {
                Some(ev) => seq.event(ev, shared.pending_starts.load(Ordering::Acquire), &SessionModel(&shared)),
                None => events_open = false,
            },
        }
    }
    while let Some(d) = seq.pop() {
        if !shared.queue.push(d).await {
            return;
        }
    }
}

/// Sends a request's completion exactly once: when the command finishes, or, if its task
/// is dropped first (the runtime shutting down), from `Drop` with `CLOSED`.
struct CompletionGuard {
    tx: Option<mpsc::UnboundedSender<Completion>>,
    request: u64,
    starts_call: bool,
}

impl CompletionGuard {
    fn send(mut self, result: ctilink_core::Result<ctilink_core::Outcome>) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Completion { request: self.request, result, starts_call: self.starts_call });
        }
    }
}

impl Drop for CompletionGuard {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take() {
            let c = Completion {
                request: self.request,
                result: Err(ctilink_core::Error::Closed),
                starts_call: self.starts_call,
            };
            let _ = tx.send(c);
        }
    }
}

impl ctilink_session {
    fn handle(&self) -> &tokio::runtime::Handle {
        // The runtime is only taken in free, after which the handle is gone.
        self.runtime.as_ref().map(Runtime::handle).expect("the runtime lives as long as the session")
    }

    /// Starts `cmd`; its completion comes as an event. Checks what can be checked at once.
    fn submit(&self, cmd: Command) -> Result<u64, ctilink_result> {
        let shared = &self.shared;
        if shared.closed.load(Ordering::Acquire) {
            return Err(ctilink_result::Closed);
        }
        if let Err(e) = cmd.validate() {
            set_last_error(&e.to_string());
            return Err(ctilink_result::from(&e));
        }
        if shared.in_flight.fetch_add(1, Ordering::AcqRel) >= CTILINK_MAX_PENDING_REQUESTS {
            shared.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(ctilink_result::TooManyRequests);
        }
        let Some(tx) = lock(&shared.completions).clone() else {
            shared.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(ctilink_result::Closed);
        };
        let request = shared.next_request.fetch_add(1, Ordering::Relaxed);
        let starts_call = matches!(cmd, Command::MakeCall { .. } | Command::ConsultationCall { .. });
        if starts_call {
            // Before the command runs, so that the new call's first event is held back.
            shared.pending_starts.fetch_add(1, Ordering::AcqRel);
        }
        let guard = CompletionGuard { tx: Some(tx), request, starts_call };
        let session = shared.session.clone();
        self.handle().spawn(async move {
            let result = session.execute(cmd).await;
            guard.send(result);
        });
        Ok(request)
    }

    fn close(&self) -> ctilink_result {
        let shared = &self.shared;
        if shared.on_event_thread() {
            return ctilink_result::WrongState;
        }
        if shared.closed.swap(true, Ordering::AcqRel) {
            return ctilink_result::Ok;
        }
        let session = shared.session.clone();
        self.handle().block_on(async move { session.close().await });
        lock(&shared.completions).take();
        // With a callback, close returns after the last event and completion was delivered.
        let thread = lock(&self.event_thread).take();
        if let Some(t) = thread {
            let _ = t.join();
        }
        ctilink_result::Ok
    }
}

/// The event thread of a session with a callback.
fn deliver(shared: Arc<Shared>, cb: Callback) {
    // Before the first callback, so that a callback calling close is always recognised.
    let _ = shared.event_thread.set(std::thread::current().id());
    loop {
        match shared.queue.pop(None) {
            Popped::Item(d) => {
                let ev = guard_or(None, || Some(ctilink_event::new(d)));
                if let Some(ev) = ev {
                    // SAFETY: the host gave this function and userdata for exactly this;
                    // `ev` lives until after the call returns.
                    unsafe { (cb.f)(cb.userdata, &*ev) };
                }
            }
            Popped::TimedOut => {}
            Popped::Ended => return,
        }
    }
}

fn session_ref<'a>(session: *const ctilink_session) -> Result<&'a ctilink_session, ctilink_result> {
    // SAFETY: a non-NULL `session` is a live handle from ctilink_session_connect (the
    // header's contract: free is the last call on it).
    unsafe { session.as_ref() }.ok_or(ctilink_result::NullParameter)
}

/// Connects to the PBX and builds the call model; blocks until the model holds the PBX's
/// devices and calls (or the connect fails), then writes the session into `*out`.
///
/// The calls that exist at that moment are the first events (`NEW_CALL`, with their
/// state). On failure `ctilink_last_error_message` on this thread says why.
#[no_mangle]
pub extern "C" fn ctilink_session_connect(
    options: *const ctilink_options,
    out: *mut *mut ctilink_session,
) -> ctilink_result {
    guard(|| {
        // SAFETY: a non-NULL `options` is a live handle (the header's contract).
        let Some(opts) = (unsafe { options.as_ref() }) else { return ctilink_result::NullParameter };
        if out.is_null() {
            return ctilink_result::NullParameter;
        }
        let o = try_c!(opts.session_options());
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("ctilink-runtime")
            .enable_all()
            .build()
        {
            Ok(r) => r,
            Err(e) => {
                set_last_error(&format!("cannot start the runtime: {e}"));
                return ctilink_result::Other;
            }
        };
        let monitor = o.monitor.clone();
        let queue = HostQueue::new(o.event_queue, o.event_queue_bytes);
        let session = match runtime.block_on(Session::connect_with(o)) {
            Ok(s) => s,
            Err(e) => {
                set_last_error(&e.to_string());
                return ctilink_result::from(&e);
            }
        };
        let events = session.events();
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            session,
            monitor,
            queue,
            completions: Mutex::new(Some(tx)),
            next_request: AtomicU64::new(1),
            in_flight: AtomicUsize::new(0),
            pending_starts: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            callback: opts.callback,
            event_thread: OnceLock::new(),
        });
        runtime.spawn(order_events(shared.clone(), events, rx));
        let mut thread = None;
        if let Some(cb) = shared.callback {
            let s = shared.clone();
            match std::thread::Builder::new().name("ctilink-events".into()).spawn(move || deliver(s, cb)) {
                Ok(t) => thread = Some(t),
                Err(e) => {
                    set_last_error(&format!("cannot start the event thread: {e}"));
                    return ctilink_result::Other;
                }
            }
        }
        let s = ctilink_session { shared, runtime: Some(runtime), event_thread: Mutex::new(thread) };
        // SAFETY: checked non-NULL; the host gives a writable pointer.
        unsafe { *out = Box::into_raw(Box::new(s)) };
        ctilink_result::Ok
    })
}

/// Waits up to `timeout_ms` (0: do not wait) for the next event and writes it into
/// `*out`; the host frees it with `ctilink_event_free`. Returns
/// `CTILINK_RESULT_NO_EVENT` when none came in time, `CTILINK_RESULT_CLOSED` once the
/// session is closed and every event (including the completions of the requests that
/// were pending at close) has been read, `CTILINK_RESULT_WRONG_STATE` for a session with
/// a callback. Several threads may wait at once; each event goes to one of them.
#[no_mangle]
pub extern "C" fn ctilink_session_next_event(
    session: *const ctilink_session,
    timeout_ms: u32,
    out: *mut *mut ctilink_event,
) -> ctilink_result {
    guard(|| {
        let s = try_c!(session_ref(session));
        if out.is_null() {
            return ctilink_result::NullParameter;
        }
        if s.shared.callback.is_some() {
            return ctilink_result::WrongState;
        }
        match s.shared.queue.pop(Some(Duration::from_millis(u64::from(timeout_ms)))) {
            Popped::Item(d) => {
                // SAFETY: checked non-NULL; the host gives a writable pointer.
                unsafe { *out = Box::into_raw(ctilink_event::new(d)) };
                ctilink_result::Ok
            }
            Popped::TimedOut => ctilink_result::NoEvent,
            Popped::Ended => ctilink_result::Closed,
        }
    })
}

/// Closes the link to the PBX. Requests still pending complete with an error; with a
/// callback, this returns after the last event and completion was delivered to it; with
/// pull, `ctilink_session_next_event` delivers what remains and then answers
/// `CTILINK_RESULT_CLOSED`. Commands after close answer `CTILINK_RESULT_CLOSED`. Closing
/// twice is fine. Not from the event callback (`CTILINK_RESULT_WRONG_STATE`).
#[no_mangle]
pub extern "C" fn ctilink_session_close(session: *const ctilink_session) -> ctilink_result {
    guard(|| try_c!(session_ref(session)).close())
}

/// Frees the session, closing it first if needed. It must be the last call on the
/// handle: no other thread may be inside a call on it. Events not read are dropped. NULL
/// is ignored.
#[no_mangle]
pub extern "C" fn ctilink_session_free(session: *mut ctilink_session) {
    let _ = guard(|| {
        if session.is_null() {
            return ctilink_result::Ok;
        }
        // SAFETY: from Box::into_raw in connect, freed once (the header's contract).
        let mut s = unsafe { Box::from_raw(session) };
        let _ = s.close();
        s.shared.queue.shut();
        if !s.shared.on_event_thread() {
            let thread = lock(&s.event_thread).take();
            if let Some(t) = thread {
                let _ = t.join();
            }
        }
        if let Some(rt) = s.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
        ctilink_result::Ok
    });
}

/// The state of the link to the PBX. NULL gives `CLOSED`.
#[no_mangle]
pub extern "C" fn ctilink_session_status(session: *const ctilink_session) -> ctilink_link_status {
    guard_or(ctilink_link_status::Closed, || match session_ref(session) {
        Ok(s) => s.shared.session.status().into(),
        Err(_) => ctilink_link_status::Closed,
    })
}

/// Writes a snapshot of the model (every device and call) into `*out`; free it with
/// `ctilink_snapshot_free`. With a device filter (`ctilink_options_set_monitor`), only
/// those devices and the calls they are in.
#[no_mangle]
pub extern "C" fn ctilink_session_snapshot(
    session: *const ctilink_session,
    out: *mut *mut ctilink_snapshot,
) -> ctilink_result {
    guard(|| {
        let s = try_c!(session_ref(session));
        if out.is_null() {
            return ctilink_result::NullParameter;
        }
        let mut snap = s.shared.session.snapshot();
        if let Some(m) = &s.shared.monitor {
            // One copy of the model: devices and calls filtered from the same snapshot.
            snap.devices.retain(|d| m.iter().any(|x| x == d.id.as_str()));
            snap.calls = monitored_calls(std::mem::take(&mut snap.calls), Some(m));
        }
        // SAFETY: checked non-NULL; the host gives a writable pointer.
        unsafe { *out = Box::into_raw(ctilink_snapshot::new(snap)) };
        ctilink_result::Ok
    })
}

/// Writes the state of device `device` (NUL-terminated) into `*out`;
/// `CTILINK_RESULT_UNKNOWN_DEVICE` when the PBX did not report it.
#[no_mangle]
pub extern "C" fn ctilink_session_device_state(
    session: *const ctilink_session,
    device: *const std::os::raw::c_char,
    out: *mut ctilink_device_state,
) -> ctilink_result {
    guard(|| {
        let s = try_c!(session_ref(session));
        // SAFETY: the header's contract on `device`.
        let device = try_c!(unsafe { crate::text::input(device) });
        if out.is_null() {
            return ctilink_result::NullParameter;
        }
        match s.shared.session.device(device) {
            Some(d) => {
                // SAFETY: checked non-NULL; the host gives a writable pointer.
                unsafe { *out = Some(d.state).into() };
                ctilink_result::Ok
            }
            None => ctilink_result::UnknownDevice,
        }
    })
}

/// Submits a command for an export: `build` reads the host's arguments.
pub(crate) fn submit(
    session: *const ctilink_session,
    request_id: *mut u64,
    build: impl FnOnce() -> Result<Command, ctilink_result>,
) -> ctilink_result {
    guard(|| {
        let s = try_c!(session_ref(session));
        if request_id.is_null() {
            return ctilink_result::NullParameter;
        }
        let cmd = try_c!(build());
        let id = try_c!(s.submit(cmd));
        // SAFETY: checked non-NULL; the host gives a writable pointer.
        unsafe { *request_id = id };
        ctilink_result::Ok
    })
}

/// `DeviceId` from a host string.
pub(crate) fn device_arg(p: *const std::os::raw::c_char) -> Result<DeviceId, ctilink_result> {
    // SAFETY: the header's contract on every string argument.
    unsafe { crate::text::input(p) }.map(DeviceId::new)
}

/// `CallId` from a host string.
pub(crate) fn call_arg(p: *const std::os::raw::c_char) -> Result<CallId, ctilink_result> {
    // SAFETY: the header's contract on every string argument.
    unsafe { crate::text::input(p) }.map(CallId::new)
}
