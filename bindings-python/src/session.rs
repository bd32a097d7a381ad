//! The core `Session` for Python: every command as an [`Op`] (awaited by `ctilink.Session`,
//! waited for by `ctilink.SyncSession`), and the event stream as a buffer that Python
//! drains without crossing into the runtime while events are at hand.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use pyo3::prelude::*;
use tokio::sync::Mutex;

use ctilink::ami::ReconnectPolicy;
use ctilink::fanout::Weigh;
use ctilink::{AstDbConvention, PhoneControl, Session, SessionOptions, Transport};

use crate::convert::{forward_kind, PyCall, PyDevice, PySnapshot, ToPy};
use crate::errors;
use crate::events::to_py_event;
use crate::wait::{block_on, seconds, Op, Out};

/// At most this many events are taken from the session's queue at a time. The buffer then
/// never holds more, so the session's own bound (`event_queue`, and `Lagged` beyond it)
/// stays the only one that matters.
const BATCH: usize = 256;
/// ... and at most this many bytes of events (one always fits): big dialplan `UserEvent`s
/// are bounded here as in the core's queues, in bytes.
const BATCH_BYTES: usize = 1024 * 1024;

/// Upper bound of `event_queue` (events; the queue is bounded in bytes as well, by the
/// session's `event_queue_bytes`).
const MAX_EVENT_QUEUE: usize = 1 << 20;

/// A connected session (clones of the core session share one link).
#[pyclass(frozen, module = "ctilink._native")]
#[derive(Debug)]
pub(crate) struct NativeSession {
    inner: Session,
}

impl NativeSession {
    pub(crate) fn new(inner: Session) -> Self {
        NativeSession { inner }
    }

    /// An operation that runs `f` on a clone of the session.
    fn op<F, Fut>(&self, name: &'static str, f: F) -> Op
    where
        F: FnOnce(Session) -> Fut,
        Fut: Future<Output = ctilink::Result<Out>> + Send + 'static,
    {
        Op::new(name, f(self.inner.clone()))
    }
}

fn done(r: ctilink::Result<()>) -> ctilink::Result<Out> {
    r.map(|()| Out::None)
}

#[pymethods]
impl NativeSession {
    fn make_call(&self, from_: String, to: String) -> Op {
        self.op("make_call", |s| async move { s.make_call(from_, to).await.map(Out::Call) })
    }

    fn answer(&self, call: String, device: String) -> Op {
        self.op("answer", |s| async move { done(s.answer(call, device).await) })
    }

    fn clear_connection(&self, call: String, device: String) -> Op {
        self.op("clear_connection", |s| async move { done(s.clear_connection(call, device).await) })
    }

    fn clear_call(&self, call: String) -> Op {
        self.op("clear_call", |s| async move { done(s.clear_call(call).await) })
    }

    fn hold(&self, call: String, device: String) -> Op {
        self.op("hold", |s| async move { done(s.hold(call, device).await) })
    }

    fn retrieve(&self, call: String, device: String) -> Op {
        self.op("retrieve", |s| async move { done(s.retrieve(call, device).await) })
    }

    fn single_step_transfer(&self, call: String, device: String, to: String) -> Op {
        self.op(
            "single_step_transfer",
            |s| async move { done(s.single_step_transfer(call, device, to).await) },
        )
    }

    fn consultation_call(&self, call: String, device: String, to: String) -> Op {
        self.op(
            "consultation_call",
            |s| async move { s.consultation_call(call, device, to).await.map(Out::Call) },
        )
    }

    fn transfer_call(&self, held: String, active: String) -> Op {
        self.op("transfer_call", |s| async move { done(s.transfer_call(held, active).await) })
    }

    fn deflect(&self, call: String, device: String, to: String) -> Op {
        self.op("deflect", |s| async move { done(s.deflect(call, device, to).await) })
    }

    fn pickup(&self, device: String, call_or_device: String) -> Op {
        self.op("pickup", |s| async move { done(s.pickup(device, call_or_device).await) })
    }

    fn send_dtmf(&self, call: String, device: String, digits: String) -> Op {
        self.op("send_dtmf", |s| async move { done(s.send_dtmf(call, device, digits).await) })
    }

    fn set_do_not_disturb(&self, device: String, on: bool) -> Op {
        self.op("set_do_not_disturb", |s| async move { done(s.set_do_not_disturb(device, on).await) })
    }

    #[pyo3(signature = (device, kind, to=None))]
    fn set_forwarding(&self, py: Python<'_>, device: String, kind: &str, to: Option<String>) -> PyResult<Op> {
        let kind = forward_kind(py, kind)?;
        Ok(self.op(
            "set_forwarding",
            |s| async move { done(s.set_forwarding(device, kind, to.as_deref()).await) },
        ))
    }

    fn close(&self) -> Op {
        self.op("close", |s| async move {
            s.close().await;
            Ok(Out::None)
        })
    }

    /// A new subscription: the events from now on.
    fn events(&self, py: Python<'_>) -> NativeEvents {
        // Subscribing touches the link's lock only; no runtime needed, but no GIL either.
        let stream = py.detach(|| self.inner.events());
        NativeEvents {
            state: Arc::new(Mutex::new(StreamState { stream, buf: VecDeque::new(), ended: false })),
        }
    }

    fn snapshot(&self, py: Python<'_>) -> PySnapshot {
        PySnapshot(py.detach(|| self.inner.snapshot()))
    }

    fn device(&self, py: Python<'_>, id: &str) -> Option<PyDevice> {
        py.detach(|| self.inner.device(id)).map(PyDevice)
    }

    fn call(&self, py: Python<'_>, id: &str) -> Option<PyCall> {
        py.detach(|| self.inner.call(id)).map(PyCall)
    }

    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.inner.status().to_py(py)
    }

    /// Why the link is down, while it is.
    fn down_reason(&self) -> Option<String> {
        match self.inner.status() {
            ctilink::LinkStatus::Down { reason } => Some(reason),
            _ => None,
        }
    }
}

/// Connection options given as keywords, on top of the URL's.
#[derive(Debug, Default)]
struct Options {
    event_queue: Option<usize>,
    link_queue: Option<usize>,
    monitor: Option<Vec<String>>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    reconnect: Option<bool>,
    phone_control: Option<String>,
    astdb: Option<AstDbArg>,
    context: Option<String>,
    technology: Option<String>,
    originate_timeout: Option<Duration>,
    consultation_timeout: Option<Duration>,
}

/// `astdb=`: `True` (ctilink's convention), `False` (none), or a convention's name
/// (`"ctilink"`, `"freepbx"`), as in the URL.
#[derive(Debug, FromPyObject)]
enum AstDbArg {
    Flag(bool),
    Name(String),
}

fn options(url: &str, o: Options) -> ctilink::Result<SessionOptions> {
    let bad = |m: String| ctilink::Error::InvalidArgument(m);
    let mut so = SessionOptions::from_url(url)?;
    if let Some(n) = o.event_queue {
        if n == 0 || n > MAX_EVENT_QUEUE {
            return Err(bad(format!("event_queue must be between 1 and {MAX_EVENT_QUEUE}, not {n}")));
        }
        so.event_queue = n;
    }
    if let Some(n) = o.link_queue {
        if n == 0 || n > MAX_EVENT_QUEUE {
            return Err(bad(format!("link_queue must be between 1 and {MAX_EVENT_QUEUE}, not {n}")));
        }
        if let Transport::Ami(c) = &mut so.transport {
            c.event_queue = n;
        }
    }
    if let Some(m) = o.monitor {
        so.monitor = Some(m);
    }
    if let Some(t) = o.timeout {
        so.set_action_timeout(t);
    }
    if let Some(r) = o.reconnect {
        so.set_reconnect(ReconnectPolicy { enabled: r, ..ReconnectPolicy::default() });
    }
    if let Some(t) = o.connect_timeout {
        if let Transport::Ami(c) = &mut so.transport {
            c.connect_timeout = t;
            c.login_timeout = t;
        }
    }
    if let Some(pc) = o.phone_control {
        so.control.phone_control = match pc.to_ascii_lowercase().as_str() {
            "pjsip" => PhoneControl::Pjsip,
            "sip" => PhoneControl::Sip,
            "none" | "" => PhoneControl::None,
            _ => return Err(bad(format!("phone_control must be pjsip, sip or none, not {pc:?}"))),
        };
    }
    if let Some(a) = o.astdb {
        so.control.astdb = match a {
            AstDbArg::Flag(on) => on.then_some(AstDbConvention::Ctilink),
            AstDbArg::Name(n) => AstDbConvention::from_url_value(&n)?,
        };
    }
    if let Some(c) = o.context {
        so.control.context = c;
    }
    if let Some(t) = o.technology {
        so.control.technology = t;
    }
    if let Some(t) = o.originate_timeout {
        so.control.originate_timeout = t;
    }
    if let Some(t) = o.consultation_timeout {
        so.control.consultation_timeout = t;
    }
    Ok(so)
}

/// Connecting, as an operation: returns once logged in and the model holds the PBX's
/// devices and calls.
#[pyfunction]
#[pyo3(signature = (
    url, *, event_queue=None, link_queue=None, monitor=None, timeout=None, connect_timeout=None, reconnect=None,
    phone_control=None, astdb=None, context=None, technology=None, originate_timeout=None,
    consultation_timeout=None,
))]
#[allow(clippy::too_many_arguments)] // One keyword per option, as Python users pass them.
fn connect(
    py: Python<'_>,
    url: &str,
    event_queue: Option<usize>,
    link_queue: Option<usize>,
    monitor: Option<Vec<String>>,
    timeout: Option<f64>,
    connect_timeout: Option<f64>,
    reconnect: Option<bool>,
    phone_control: Option<String>,
    astdb: Option<AstDbArg>,
    context: Option<String>,
    technology: Option<String>,
    originate_timeout: Option<f64>,
    consultation_timeout: Option<f64>,
) -> PyResult<Op> {
    let o = Options {
        event_queue,
        link_queue,
        monitor,
        timeout: seconds(py, "timeout", timeout)?,
        connect_timeout: seconds(py, "connect_timeout", connect_timeout)?,
        reconnect,
        phone_control,
        astdb,
        context,
        technology,
        originate_timeout: seconds(py, "originate_timeout", originate_timeout)?,
        consultation_timeout: seconds(py, "consultation_timeout", consultation_timeout)?,
    };
    let so = options(url, o).map_err(|e| errors::to_py(py, e))?;
    Ok(Op::new("connect", async move { Session::connect_with(so).await.map(Out::Session) }))
}

#[derive(Debug)]
struct StreamState {
    stream: ctilink::EventStream,
    /// Events taken from the stream and not yet handed to Python (at most [`BATCH`]).
    buf: VecDeque<ctilink::Event>,
    /// The stream ended: the session was closed.
    ended: bool,
}

impl StreamState {
    /// Moves the events that are already queued into the buffer, without waiting.
    fn fill_now(&mut self) {
        let mut cx = Context::from_waker(Waker::noop());
        let mut bytes: usize = self.buf.iter().map(Weigh::weight).sum();
        while self.buf.len() < BATCH && bytes < BATCH_BYTES && !self.ended {
            let next = pin!(self.stream.next());
            match next.poll(&mut cx) {
                Poll::Ready(Some(ev)) => {
                    bytes += ev.weight();
                    self.buf.push_back(ev);
                }
                Poll::Ready(None) => self.ended = true,
                Poll::Pending => break,
            }
        }
    }
}

/// Waits until an event is buffered (`Some(true)`), the stream ended (`Some(false)`) or
/// `timeout` passed (`None`). Takes nothing out of the buffer, so that a waiter cancelled
/// after the wait succeeded loses no event.
async fn ready(state: Arc<Mutex<StreamState>>, timeout: Option<Duration>) -> Option<bool> {
    let work = async {
        let mut st = state.lock().await;
        if !st.buf.is_empty() {
            return true;
        }
        if st.ended {
            return false;
        }
        match st.stream.next().await {
            Some(ev) => {
                st.buf.push_back(ev);
                st.fill_now();
                true
            }
            None => {
                st.ended = true;
                false
            }
        }
    };
    match timeout {
        Some(t) => tokio::time::timeout(t, work).await.ok(),
        None => Some(work.await),
    }
}

/// One subscription's events: `try_next` hands out what is at hand, `wait` and
/// `wait_blocking` wait for more.
#[pyclass(frozen, module = "ctilink._native")]
#[derive(Debug)]
pub(crate) struct NativeEvents {
    state: Arc<Mutex<StreamState>>,
}

#[pymethods]
impl NativeEvents {
    /// The next event if one is at hand, else `None` (also while another thread waits).
    fn try_next<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Ok(mut st) = self.state.try_lock() else { return Ok(None) };
        if st.buf.is_empty() {
            st.fill_now();
        }
        match st.buf.pop_front() {
            Some(ev) => {
                drop(st);
                to_py_event(py, ev).map(Some)
            }
            None => Ok(None),
        }
    }

    /// Whether the stream ended (the session closed) and every event was handed out.
    fn ended(&self) -> bool {
        self.state.try_lock().map(|st| st.ended && st.buf.is_empty()).unwrap_or(false)
    }

    /// An asyncio future: `True` once an event is at hand, `False` once the stream ended,
    /// `None` after `timeout` seconds.
    #[pyo3(signature = (timeout=None))]
    fn wait<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let timeout = seconds(py, "timeout", timeout)?;
        let state = Arc::clone(&self.state);
        Op::new("wait", async move { Ok(Out::Flag(ready(state, timeout).await)) }).future(py)
    }

    /// As `wait`, blocking, with the GIL released; Ctrl-C interrupts it.
    #[pyo3(signature = (timeout=None))]
    fn wait_blocking(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<bool>> {
        let timeout = seconds(py, "timeout", timeout)?;
        block_on(py, ready(Arc::clone(&self.state), timeout))
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeSession>()?;
    m.add_class::<NativeEvents>()?;
    m.add_class::<Op>()?;
    m.add_function(wrap_pyfunction!(connect, m)?)?;
    m.add_function(wrap_pyfunction!(crate::wait::_quiesce, m)?)?;
    Ok(())
}
