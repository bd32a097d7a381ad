//! The core's `Event` as Python classes: a base class `Event` and one frozen subclass per
//! kind (`ctilink.events.Delivered`, ...), so that `isinstance` and `match` work.
//!
//! Each object keeps the core event itself: conversion happens when a field is read, the
//! generic accessors (`kind`, `call`, `device`, `channel`) are the core's own, and
//! `DialProgress` reads the event back without converting it in the other direction.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use ctilink::{CallId, DialProgress};

use crate::convert::{ToPy, EVENT_KIND};

/// Base class of every event. Its accessors answer for any kind; each subclass adds the
/// fields of its kind.
#[pyclass(frozen, eq, subclass, module = "ctilink.events", name = "Event")]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyEvent {
    pub(crate) inner: ctilink::Event,
}

#[pymethods]
impl PyEvent {
    /// The kind (`EventKind`), the same for every event of a class.
    #[getter]
    fn kind<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        EVENT_KIND.member(py, self.inner.kind())
    }

    /// The call this event belongs to, or `None` (device and link events).
    #[getter]
    fn call(&self) -> Option<&str> {
        self.inner.call().map(CallId::as_str)
    }

    /// The device whose state or connection changed, or `None` (for a transfer, the
    /// transferring device).
    #[getter]
    fn device(&self) -> Option<&str> {
        self.inner.device().map(|d| d.as_str())
    }

    /// The PBX channel of the connection this event reports, or `None`.
    #[getter]
    fn channel(&self) -> Option<&str> {
        self.inner.channel()
    }

    /// The connection state this event moved `device` to, if it reports one.
    #[getter]
    fn connection_state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.inner.connection_state().to_py(py)
    }

    /// The JSON form shared with the CLI, the gateway and the other bindings (the kind in
    /// `event`).
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.inner).map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }

    /// The JSON form as a `dict`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py.import("json")?.call_method1("loads", (self.to_json()?,))
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        crate::convert::repr_fields(slf.as_any())
    }

    #[classattr]
    fn __match_args__(py: Python<'_>) -> PyResult<Py<PyTuple>> {
        Ok(PyTuple::empty(py).unbind())
    }
}

fn mismatch(class: &str) -> PyErr {
    // Unreachable: a subclass object is only ever made around an event of its kind.
    PyRuntimeError::new_err(format!("ctilink.events.{class} holds an event of another kind"))
}

/// One subclass per kind. `[..]` is `__match_args__` (the core's field order; `call`,
/// `device` and `channel` come from the base class), `{..}` the getters of the subclass:
/// Python name, then the core field it reads.
macro_rules! event_classes {
    ($(
        $(#[doc = $doc:literal])*
        $class:ident = $variant:ident [$($arg:literal),*] { $($py_name:ident : $field:ident),* $(,)? }
    )*) => {
        $(
            $(#[doc = $doc])*
            #[pyclass(frozen, extends = PyEvent, module = "ctilink.events")]
            #[derive(Debug)]
            pub(crate) struct $class;

            #[pymethods]
            impl $class {
                #[classattr]
                fn __match_args__(py: Python<'_>) -> PyResult<Py<PyTuple>> {
                    Ok(PyTuple::new(py, [$($arg),*])?.unbind())
                }

                $(
                    #[getter]
                    fn $py_name<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
                        let py = slf.py();
                        match &slf.as_super().get().inner {
                            ctilink::Event::$variant { $field, .. } => $field.to_py(py),
                            _ => Err(mismatch(stringify!($class))),
                        }
                    }
                )*
            }
        )*

        /// The Python object for one core event.
        pub(crate) fn to_py_event(py: Python<'_>, ev: ctilink::Event) -> PyResult<Bound<'_, PyAny>> {
            let base = |ev| PyClassInitializer::from(PyEvent { inner: ev });
            match &ev {
                $(ctilink::Event::$variant { .. } => Ok(Bound::new(py, base(ev).add_subclass($class))?.into_any()),)*
                // A kind the core adds later still arrives, as a plain `Event`.
                _ => Ok(Bound::new(py, PyEvent { inner: ev })?.into_any()),
            }
        }

        fn register_kinds(m: &Bound<'_, PyModule>) -> PyResult<()> {
            $(m.add_class::<$class>()?;)*
            Ok(())
        }
    };
}

event_classes! {
    /// The device made a call: it is connected and the destination is known. For a
    /// click-to-dial, this is when the user answered their own phone.
    Originated = Originated ["call", "device", "channel", "state", "caller", "called"] {
        state: state, caller: caller, called: called
    }
    /// The call rings at `device`. `click_to_dial` is true while it is the user's own phone
    /// ringing for a click-to-dial, before the destination is dialed.
    Delivered = Delivered [
        "call", "device", "channel", "state", "caller", "called", "calling_device", "click_to_dial"
    ] {
        state: state, caller: caller, called: called, calling_device: calling_device,
        click_to_dial: click_to_dial
    }
    /// `device` answered.
    Established = Established [
        "call", "device", "channel", "state", "caller", "called", "calling_device", "click_to_dial"
    ] {
        state: state, caller: caller, called: called, calling_device: calling_device,
        click_to_dial: click_to_dial
    }
    /// `device` put the call on hold.
    Held = Held ["call", "device", "channel", "state"] { state: state }
    /// `device` took the call off hold.
    Retrieved = Retrieved ["call", "device", "channel", "state"] { state: state }
    /// The call left `from_` without being answered there; it now rings at `device` (for a
    /// pickup, `device` answers it).
    Diverted = Diverted ["call", "device", "channel", "from_", "reason", "caller", "called"] {
        from_: from, reason: reason, caller: caller, called: called
    }
    /// `transferring` handed the call to `targets`. The call keeps its id; an attended
    /// transfer's consultation call (`secondary_call`) is merged into it.
    Transferred = Transferred [
        "call", "transfer_kind", "transferring", "transferred", "targets", "secondary_call", "caller"
    ] {
        transfer_kind: kind, transferring: transferring, transferred: transferred, targets: targets,
        secondary_call: secondary_call, caller: caller
    }
    /// Three or more devices talk together.
    Conferenced = Conferenced ["call", "device", "channel", "state", "parties"] {
        state: state, parties: parties
    }
    /// The call waits in `queue`.
    Queued = Queued ["call", "device", "queue", "state", "caller", "position"] {
        queue: queue, state: state, caller: caller, position: position
    }
    /// The call could not reach `device` (`reason`, and the Q.850 `cause`).
    Failed = Failed ["call", "device", "channel", "state", "reason", "cause"] {
        state: state, reason: reason, cause: cause
    }
    /// `device` left the call; `previous` tells whether it rang, talked or had failed;
    /// `released_by` is the device whose hang-up ended the talk, when the PBX said.
    ConnectionCleared = ConnectionCleared [
        "call", "device", "channel", "state", "previous", "cause", "released_by"
    ] {
        state: state, previous: previous, cause: cause, released_by: released_by
    }
    /// The call ended; it and its connections are gone. `answered` is false for a missed or
    /// failed call.
    CallCleared = CallCleared ["call", "cause", "answered", "merged_into"] {
        cause: cause, answered: answered, merged_into: merged_into
    }
    /// A device's state changed.
    DeviceState = DeviceState ["device", "state", "previous"] { state: state, previous: previous }
    /// The PBX no longer has `device`: a resync found it in none of the PBX's lists (a
    /// restart or reload with other extensions). Comes before `Resynced`; forget the device.
    DeviceRemoved = DeviceRemoved ["device"] {}
    /// A device's presence changed.
    Presence = Presence ["device", "presence", "subtype", "message"] {
        presence: presence, subtype: subtype, message: message
    }
    /// Do-not-disturb was turned on or off at `device`.
    DoNotDisturb = DoNotDisturb ["device", "enabled"] { enabled: enabled }
    /// Forwarding of `forward_kind` changed: on to `to`, or off (`None`).
    Forwarding = Forwarding ["device", "forward_kind", "to"] { forward_kind: kind, to: to }
    /// An AMI `UserEvent` from the dialplan, passed through.
    UserEvent = UserEvent ["name", "call", "fields"] { name: name, fields: fields }
    /// The model was rebuilt from the PBX's lists (after connect and every reconnect).
    Resynced = Resynced ["calls_ended", "calls_found", "devices_changed"] {
        calls_ended: calls_ended, calls_found: calls_found, devices_changed: devices_changed
    }
    /// The link to the PBX is up (again).
    LinkUp = LinkUp ["reconnected"] { reconnected: reconnected }
    /// The link to the PBX is down; the model is frozen until `Resynced`.
    LinkDown = LinkDown ["reason"] { reason: reason }
    /// This consumer fell behind and `missed` events were dropped; take a snapshot.
    Lagged = Lagged ["missed"] { missed: missed }
}

/// The outcome of a click-to-dial as a user tells it, from its events: the core's
/// `DialProgress`, so that every language prints the same word for the same call.
#[pyclass(module = "ctilink", name = "DialProgress")]
#[derive(Debug)]
pub(crate) struct PyDialProgress(DialProgress);

#[pymethods]
impl PyDialProgress {
    /// Follows the call `call` that `make_call(from_, to)` returned.
    #[new]
    fn new(call: &str, from_: &str, to: &str) -> Self {
        PyDialProgress(DialProgress::new(CallId::new(call), from_, to))
    }

    /// Takes one event (any event of the session); the `DialOutcome` once it is known.
    fn apply<'py>(&mut self, py: Python<'py>, event: PyRef<'py, PyEvent>) -> PyResult<Bound<'py, PyAny>> {
        self.0.apply(&event.inner).to_py(py)
    }

    /// A failure seen and not yet overtaken by the call going on: the outcome to report
    /// when a program stops waiting.
    #[getter]
    fn pending_failure<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.0.pending_failure().to_py(py)
    }

    #[getter]
    fn call(&self) -> &str {
        self.0.call().as_str()
    }

    #[getter]
    fn from_(&self) -> &str {
        self.0.from().as_str()
    }

    #[getter]
    fn to(&self) -> &str {
        self.0.to()
    }

    fn __repr__(&self) -> String {
        format!("DialProgress(call={:?}, from_={:?}, to={:?})", self.call(), self.from_(), self.to())
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyEvent>()?;
    register_kinds(m)?;
    m.add_class::<PyDialProgress>()?;
    Ok(())
}
