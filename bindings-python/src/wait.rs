//! Waiting on Rust futures from Python: blocking (GIL released, Ctrl-C honoured) or as an
//! asyncio awaitable.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::convert::ToPy;
use crate::errors;

/// How long a blocking wait runs before it looks for a pending signal. Python runs signal
/// handlers only on the main thread between bytecodes, so a thread parked in Rust must come
/// back now and then for Ctrl-C to raise `KeyboardInterrupt`.
const SIGNAL_SLICE: Duration = Duration::from_millis(50);

/// Runs `fut` to completion on the ctilink runtime with the GIL released, in slices, checking
/// for signals between them; a raised signal drops (cancels) the future.
pub(crate) fn block_on<F>(py: Python<'_>, fut: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let rt = crate::runtime()?;
    if tokio::runtime::Handle::try_current().is_ok() {
        // tokio would panic: a runtime thread must not block on the runtime.
        return Err(PyRuntimeError::new_err("a blocking ctilink call was made on a ctilink runtime thread"));
    }
    let mut fut = std::pin::pin!(fut);
    loop {
        let step =
            py.detach(|| rt.block_on(async { tokio::time::timeout(SIGNAL_SLICE, fut.as_mut()).await }));
        match step {
            Ok(out) => return Ok(out),
            Err(_) => py.check_signals()?,
        }
    }
}

/// A timeout given in seconds by Python: `None` waits for ever.
pub(crate) fn seconds(py: Python<'_>, what: &str, s: Option<f64>) -> PyResult<Option<Duration>> {
    match s {
        None => Ok(None),
        Some(s) => Duration::try_from_secs_f64(s).map(Some).map_err(|_| {
            errors::to_py(
                py,
                ctilink::Error::InvalidArgument(format!("{what} must be a number of seconds >= 0, not {s}")),
            )
        }),
    }
}

/// Operations started for asyncio and not finished yet. Each one, when it finishes, has a
/// runtime thread take the GIL to hand the result to the event loop; one that does so while
/// the interpreter finalizes aborts the process. [`quiesce`] lets them finish first.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

struct InFlight;

impl InFlight {
    fn new() -> Self {
        IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Called at interpreter exit (`atexit`): with the GIL released, waits (at most a second)
/// for the asyncio operations still running, then a moment for the threads handing their
/// results over to leave Python, so that none is inside it when the interpreter finalizes.
///
/// Then it sets [`FINALIZING`]: an operation that finishes later (one that outlived the
/// second, or was started by an atexit handler of its own) keeps its result in Rust and
/// never enters the finalizing interpreter.
#[pyfunction]
pub(crate) fn _quiesce(py: Python<'_>) {
    py.detach(|| {
        let end = Instant::now() + Duration::from_secs(1);
        while IN_FLIGHT.load(Ordering::SeqCst) > 0 && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(1));
        }
        FINALIZING.store(true, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(20));
    });
}

/// Set at interpreter exit, after [`_quiesce`] waited: from then on no operation hands a
/// result to Python.
static FINALIZING: AtomicBool = AtomicBool::new(false);

/// What a finished operation gives back.
#[derive(Debug)]
pub(crate) enum Out {
    None,
    Call(ctilink::CallId),
    Session(ctilink::Session),
    Flag(Option<bool>),
}

/// The result of an operation, converted where the GIL is held: errors become the
/// `ctilink._errors` classes only there.
pub(crate) struct Reply(pub(crate) ctilink::Result<Out>);

impl<'py> IntoPyObject<'py> for Reply {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.0 {
            Ok(Out::None) => Ok(py.None().into_bound(py)),
            Ok(Out::Call(id)) => id.to_py(py),
            Ok(Out::Session(s)) => Ok(Bound::new(py, crate::session::NativeSession::new(s))?.into_any()),
            Ok(Out::Flag(f)) => match f {
                Some(b) => b.to_py(py),
                None => Ok(py.None().into_bound(py)),
            },
            Err(e) => Err(errors::to_py(py, e)),
        }
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = ctilink::Result<Out>> + Send>>;

/// One operation (a command, connecting, closing), not started yet: awaited in asyncio, or
/// waited for with `wait()` in blocking code. Either way it runs once.
#[pyclass(frozen, module = "ctilink._native")]
pub(crate) struct Op {
    name: &'static str,
    fut: Mutex<Option<BoxFuture>>,
}

impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Op").field("name", &self.name).finish()
    }
}

impl Op {
    pub(crate) fn new(
        name: &'static str,
        fut: impl Future<Output = ctilink::Result<Out>> + Send + 'static,
    ) -> Op {
        Op { name, fut: Mutex::new(Some(Box::pin(fut))) }
    }

    fn take(&self) -> PyResult<BoxFuture> {
        let mut slot = self.fut.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        slot.take().ok_or_else(|| PyRuntimeError::new_err(format!("{} was already awaited", self.name)))
    }
}

#[pymethods]
impl Op {
    /// Starts the operation on the runtime; an asyncio future of its result.
    pub(crate) fn future<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let fut = self.take()?;
        let guard = InFlight::new();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let _guard = guard;
            let out = fut.await;
            if FINALIZING.load(Ordering::SeqCst) {
                // Handing the result over would take the GIL of a finalizing interpreter,
                // which aborts the process; the runtime is never shut down, so parking
                // this task for ever costs nothing.
                std::future::pending::<()>().await;
            }
            Ok(Reply(out))
        })
    }

    fn __await__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.future(py)?.call_method0("__await__")
    }

    /// Runs the operation and blocks until it is done, without holding the GIL.
    fn wait<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let fut = self.take()?;
        let out = block_on(py, fut)?;
        Reply(out).into_pyobject(py)
    }

    fn __repr__(&self) -> String {
        format!("<ctilink operation {}>", self.name)
    }
}
