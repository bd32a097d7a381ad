//! `ctilink._native`: the Rust half of the Python package `ctilink`.
//!
//! Thin on purpose: every rule about calls, events and outcomes lives in the core crate; this
//! crate only moves values across the language boundary, waits without holding the GIL, and
//! turns core errors into the exception classes of `ctilink._errors`. The public Python API
//! (`ctilink.connect`, `ctilink.Session`, ...) is the pure Python layer in
//! `python/ctilink/`, which calls into the classes registered here.

use std::sync::OnceLock;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

mod convert;
mod errors;
mod events;
mod session;
mod sim;
mod wait;

/// The one tokio runtime of the process: the asyncio bridge, blocking calls and the
/// in-process simulator all run on it, so that a session made by `connect_sync` can hand
/// its events to an asyncio consumer and the other way round.
static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();

pub(crate) fn runtime() -> PyResult<&'static tokio::runtime::Runtime> {
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        // Two workers whatever the machine: the SDK's tasks are IO-bound, and a Python
        // process rarely wants more threads than its interpreter can feed.
        .worker_threads(2)
        .thread_name("ctilink")
        .enable_all()
        .build()
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start the ctilink runtime: {e}")))?;
    // Another thread may have won the race; its runtime is the one everyone uses.
    let _ = RUNTIME.set(rt);
    RUNTIME.get().ok_or_else(|| PyRuntimeError::new_err("the ctilink runtime is not available"))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let rt = runtime()?;
    // Already initialised (a second import in a sub-interpreter) is fine: it is this runtime.
    let _ = pyo3_async_runtimes::tokio::init_with_runtime(rt);
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    events::register(m)?;
    convert::register(m)?;
    session::register(m)?;
    sim::register(m)?;
    Ok(())
}
