//! Core errors as the exception classes of `ctilink._errors`.
//!
//! The classes are defined in Python so that they can also derive from the built-in
//! exception a Python programmer expects (`Timeout` is a `TimeoutError`, `InvalidArgument` a
//! `ValueError`, `LinkDown` a `ConnectionError`). Looking a class up needs the GIL, so an
//! error travels as `ctilink::Error` until it reaches a place that holds it.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

/// The class for each core error; a variant the core adds later falls back to `CtiError`.
fn class_name(e: &ctilink::Error) -> &'static str {
    use ctilink::Error::*;
    match e {
        InvalidUrl(_) => "InvalidUrl",
        InvalidArgument(_) => "InvalidArgument",
        Connect { .. } => "ConnectError",
        Tls(_) => "TlsError",
        AuthFailed(_) => "AuthFailed",
        LinkDown => "LinkDown",
        Timeout(_) => "Timeout",
        PbxRefused(_) => "PbxRefused",
        Protocol(_) => "ProtocolError",
        Busy(_) => "Busy",
        Closed => "Closed",
        UnknownDevice(_) => "UnknownDevice",
        UnknownCall(_) => "UnknownCall",
        NotAllowed(_) => "NotAllowed",
        Unsupported(_) => "Unsupported",
        _ => "CtiError",
    }
}

/// The exception for `e`, with the core's message (which never holds a secret).
pub(crate) fn to_py(py: Python<'_>, e: ctilink::Error) -> PyErr {
    error(py, class_name(&e), e.to_string())
}

/// An exception of class `name` of `ctilink._errors`.
pub(crate) fn error(py: Python<'_>, name: &str, message: String) -> PyErr {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let class = MODULE
        .get_or_try_init(py, || py.import("ctilink._errors").map(Bound::unbind))
        .and_then(|m| m.bind(py).getattr(name))
        .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from));
    match class {
        Ok(class) => PyErr::from_type(class, (message,)),
        // Only reachable when the package is broken (the module deleted or shadowed).
        Err(_) => PyRuntimeError::new_err(format!("{name}: {message}")),
    }
}
