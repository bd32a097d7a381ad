//! Core values as Python values: the enums of `ctilink._enums`, and frozen classes for the
//! model's records (parties, devices, calls, the snapshot).
//!
//! The records keep the core's struct and convert a field when it is read: a snapshot of a
//! large PBX is then cheap to take, and a user pays only for the fields they look at.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyString, PyTuple};

use ctilink::model::{
    Call, Cause, Connection, ConnectionState, Device, DeviceState, Diversion, DivertReason, Endpoint,
    FailureReason, ForwardKind, Party, Presentation, Snapshot, TransferKind,
};
use ctilink::{CallId, DeviceId, DialOutcome, LinkStatus};

/// A Python `enum.Enum` of `ctilink._enums`, its members cached by value on first use.
pub(crate) struct EnumClass {
    name: &'static str,
    members: PyOnceLock<Vec<(String, Py<PyAny>)>>,
}

impl std::fmt::Debug for EnumClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnumClass").field("name", &self.name).finish()
    }
}

impl EnumClass {
    const fn new(name: &'static str) -> Self {
        EnumClass { name, members: PyOnceLock::new() }
    }

    /// The member whose value is `value` (the core's snake_case name).
    pub(crate) fn member<'py>(&self, py: Python<'py>, value: &str) -> PyResult<Bound<'py, PyAny>> {
        let members = self.members.get_or_try_init(py, || {
            let class = py.import("ctilink._enums")?.getattr(self.name)?;
            let mut members = Vec::new();
            for m in class.try_iter()? {
                let m = m?;
                members.push((m.getattr("value")?.extract::<String>()?, m.unbind()));
            }
            Ok::<_, PyErr>(members)
        })?;
        members
            .iter()
            .find(|(v, _)| v == value)
            .map(|(_, m)| m.bind(py).clone())
            .ok_or_else(|| PyRuntimeError::new_err(format!("ctilink.{} has no member {value:?}", self.name)))
    }
}

pub(crate) static EVENT_KIND: EnumClass = EnumClass::new("EventKind");
static CONNECTION_STATE: EnumClass = EnumClass::new("ConnectionState");
static DEVICE_STATE: EnumClass = EnumClass::new("DeviceState");
static FAILURE_REASON: EnumClass = EnumClass::new("FailureReason");
static TRANSFER_KIND: EnumClass = EnumClass::new("TransferKind");
static DIVERT_REASON: EnumClass = EnumClass::new("DivertReason");
static FORWARD_KIND: EnumClass = EnumClass::new("ForwardKind");
static PRESENTATION: EnumClass = EnumClass::new("Presentation");
static DIAL_OUTCOME: EnumClass = EnumClass::new("DialOutcome");
static LINK_STATUS: EnumClass = EnumClass::new("LinkStatus");

/// A core value as a Python object.
pub(crate) trait ToPy {
    fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>>;
}

impl ToPy for str {
    fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(PyString::new(py, self).into_any())
    }
}

impl ToPy for String {
    fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.as_str().to_py(py)
    }
}

impl ToPy for CallId {
    fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.as_str().to_py(py)
    }
}

impl ToPy for DeviceId {
    fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.as_str().to_py(py)
    }
}

impl ToPy for bool {
    fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.into_pyobject(py)?.to_owned().into_any())
    }
}

impl ToPy for u32 {
    fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.into_pyobject(py)?.into_any())
    }
}

impl ToPy for u64 {
    fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.into_pyobject(py)?.into_any())
    }
}

/// A Q.850 cause is a plain `int` in Python (`ctilink.cause_name` names it).
impl ToPy for Cause {
    fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.0.into_pyobject(py)?.into_any())
    }
}

impl<T: ToPy> ToPy for Option<T> {
    fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self {
            Some(v) => v.to_py(py),
            None => Ok(py.None().into_bound(py)),
        }
    }
}

/// Sequences are tuples: the records are immutable, all the way down.
impl<T: ToPy> ToPy for Vec<T> {
    fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let items = self.iter().map(|v| v.to_py(py)).collect::<PyResult<Vec<_>>>()?;
        Ok(PyTuple::new(py, items)?.into_any())
    }
}

impl<A: ToPy, B: ToPy> ToPy for (A, B) {
    fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(PyTuple::new(py, [self.0.to_py(py)?, self.1.to_py(py)?])?.into_any())
    }
}

impl ToPy for ConnectionState {
    fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        use ConnectionState::*;
        let v = match self {
            Null => "null",
            Initiated => "initiated",
            Alerting => "alerting",
            Connected => "connected",
            Held => "held",
            Queued => "queued",
            Failed => "failed",
        };
        CONNECTION_STATE.member(py, v)
    }
}

impl ToPy for DeviceState {
    fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        use DeviceState::*;
        let v = match self {
            Idle => "idle",
            InUse => "in_use",
            Busy => "busy",
            Ringing => "ringing",
            RingInUse => "ring_in_use",
            OnHold => "on_hold",
            Unavailable => "unavailable",
            Unknown => "unknown",
        };
        DEVICE_STATE.member(py, v)
    }
}

impl ToPy for FailureReason {
    fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        use FailureReason::*;
        let v = match self {
            Busy => "busy",
            NoAnswer => "no_answer",
            Rejected => "rejected",
            Unreachable => "unreachable",
            Congestion => "congestion",
            Other => "other",
        };
        FAILURE_REASON.member(py, v)
    }
}

impl ToPy for TransferKind {
    fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let v = match self {
            TransferKind::Blind => "blind",
            TransferKind::Attended => "attended",
            TransferKind::Blonde => "blonde",
        };
        TRANSFER_KIND.member(py, v)
    }
}

impl ToPy for DivertReason {
    fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let v = match self {
            DivertReason::Forward => "forward",
            DivertReason::Deflect => "deflect",
            DivertReason::Pickup => "pickup",
        };
        DIVERT_REASON.member(py, v)
    }
}

impl ToPy for Presentation {
    fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let v = match self {
            Presentation::Allowed => "allowed",
            Presentation::Restricted => "restricted",
            Presentation::Unavailable => "unavailable",
        };
        PRESENTATION.member(py, v)
    }
}

impl ToPy for ForwardKind {
    fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        FORWARD_KIND.member(py, self.as_str())
    }
}

impl ToPy for DialOutcome {
    fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        DIAL_OUTCOME.member(py, self.as_str())
    }
}

impl ToPy for LinkStatus {
    fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let v = match self {
            LinkStatus::Up => "up",
            LinkStatus::Down { .. } => "down",
            // `Closed`, and whatever the core adds later: not usable.
            _ => "closed",
        };
        LINK_STATUS.member(py, v)
    }
}

/// `Name(field=value, ...)` over the class's `__match_args__`: one readable form for every
/// record and event, which also shows what `match` patterns can bind.
pub(crate) fn repr_fields(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    let class = obj.get_type();
    let name = class.name()?;
    let fields: Vec<String> = class.getattr("__match_args__")?.extract()?;
    let mut parts = Vec::with_capacity(fields.len());
    for f in &fields {
        parts.push(format!("{f}={}", obj.getattr(f.as_str())?.repr()?));
    }
    Ok(format!("{name}({})", parts.join(", ")))
}

/// `__match_args__`: the fields `repr` shows and `match` patterns bind positionally.
pub(crate) fn match_args(py: Python<'_>, fields: &[&str]) -> PyResult<Py<PyTuple>> {
    Ok(PyTuple::new(py, fields)?.unbind())
}

/// A party's number and name as the PBX shows them.
#[pyclass(frozen, eq, module = "ctilink", name = "Party")]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyParty(pub(crate) Party);

#[pymethods]
impl PyParty {
    #[classattr]
    fn __match_args__(py: Python<'_>) -> PyResult<Py<PyTuple>> {
        match_args(py, &["number", "name", "presentation"])
    }

    /// The number (empty when the PBX did not send one).
    #[getter]
    fn number(&self) -> &str {
        &self.0.number
    }

    /// The name (empty when the PBX did not send one).
    #[getter]
    fn name(&self) -> &str {
        &self.0.name
    }

    /// Whether the caller let the number be shown.
    #[getter]
    fn presentation<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.0.presentation.to_py(py)
    }

    /// `Party(number='100', name='Alice')`; the presentation only when it is not the usual.
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let me = slf.get();
        let mut s = format!(
            "Party(number={}, name={}",
            me.number().to_py(slf.py())?.repr()?,
            me.name().to_py(slf.py())?.repr()?
        );
        if me.0.presentation != Presentation::Allowed {
            s.push_str(&format!(", presentation={}", me.presentation(slf.py())?.repr()?));
        }
        s.push(')');
        Ok(s)
    }
}

impl ToPy for Party {
    fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(Bound::new(py, PyParty(self.clone()))?.into_any())
    }
}

/// One end of a connection: a device and the PBX channel that carries it.
#[pyclass(frozen, eq, module = "ctilink", name = "Endpoint")]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyEndpoint(pub(crate) Endpoint);

#[pymethods]
impl PyEndpoint {
    #[classattr]
    fn __match_args__(py: Python<'_>) -> PyResult<Py<PyTuple>> {
        match_args(py, &["device", "channel"])
    }

    #[getter]
    fn device(&self) -> &str {
        self.0.device.as_str()
    }

    /// The channel name (`PJSIP/100-0000002a`), what AMI actions take.
    #[getter]
    fn channel(&self) -> &str {
        &self.0.channel
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        repr_fields(slf.as_any())
    }
}

impl ToPy for Endpoint {
    fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(Bound::new(py, PyEndpoint(self.clone()))?.into_any())
    }
}

/// What the model knows about a device (an extension or a trunk).
#[pyclass(frozen, eq, module = "ctilink", name = "Device")]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyDevice(pub(crate) Device);

#[pymethods]
impl PyDevice {
    #[classattr]
    fn __match_args__(py: Python<'_>) -> PyResult<Py<PyTuple>> {
        match_args(
            py,
            &[
                "id",
                "interface",
                "state",
                "presence",
                "do_not_disturb",
                "forward_to",
                "forward_busy",
                "forward_no_answer",
            ],
        )
    }

    #[getter]
    fn id(&self) -> &str {
        self.0.id.as_str()
    }

    /// The PBX interface (`PJSIP/100`), once the PBX named it.
    #[getter]
    fn interface(&self) -> Option<&str> {
        self.0.interface.as_deref()
    }

    #[getter]
    fn state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.0.state.to_py(py)
    }

    /// Presence (`available`, `away`, `dnd`...) where the PBX sends it.
    #[getter]
    fn presence(&self) -> Option<&str> {
        self.0.presence.as_deref()
    }

    #[getter]
    fn do_not_disturb(&self) -> bool {
        self.0.do_not_disturb
    }

    /// Where every call goes while immediate forwarding is on.
    #[getter]
    fn forward_to(&self) -> Option<&str> {
        self.0.forward_to.as_deref()
    }

    /// Where calls go when the device is busy.
    #[getter]
    fn forward_busy(&self) -> Option<&str> {
        self.0.forward_busy.as_deref()
    }

    /// Where calls go when the device does not answer.
    #[getter]
    fn forward_no_answer(&self) -> Option<&str> {
        self.0.forward_no_answer.as_deref()
    }

    /// The forwarding target of one kind (`ForwardKind` or its value), or `None`.
    fn forwarding(&self, py: Python<'_>, kind: &Bound<'_, PyAny>) -> PyResult<Option<&str>> {
        // `str()` of a `ForwardKind` member is its value.
        Ok(self.0.forwarding(forward_kind(py, &kind.str()?.to_cow()?)?))
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        repr_fields(slf.as_any())
    }
}

impl ToPy for Device {
    fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(Bound::new(py, PyDevice(self.clone()))?.into_any())
    }
}

/// A forwarding kind given by a caller: a `ForwardKind` member is a `str` too.
pub(crate) fn forward_kind(py: Python<'_>, kind: &str) -> PyResult<ForwardKind> {
    ForwardKind::parse(kind).ok_or_else(|| {
        crate::errors::to_py(
            py,
            ctilink::Error::InvalidArgument(format!(
                "forwarding kind {kind:?}: expected immediate, busy or no_answer"
            )),
        )
    })
}

/// One device's part in one call.
#[pyclass(frozen, eq, module = "ctilink", name = "Connection")]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyConnection(pub(crate) Connection);

#[pymethods]
impl PyConnection {
    #[classattr]
    fn __match_args__(py: Python<'_>) -> PyResult<Py<PyTuple>> {
        match_args(py, &["device", "channel", "state"])
    }

    #[getter]
    fn device(&self) -> &str {
        self.0.device.as_str()
    }

    #[getter]
    fn channel(&self) -> &str {
        &self.0.channel
    }

    #[getter]
    fn state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.0.state.to_py(py)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        repr_fields(slf.as_any())
    }
}

impl ToPy for Connection {
    fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(Bound::new(py, PyConnection(self.clone()))?.into_any())
    }
}

/// Who a redirected call was meant for, and why it moved.
#[pyclass(frozen, eq, module = "ctilink", name = "Diversion")]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyDiversion(pub(crate) Diversion);

#[pymethods]
impl PyDiversion {
    #[classattr]
    fn __match_args__(py: Python<'_>) -> PyResult<Py<PyTuple>> {
        match_args(py, &["from_", "reason"])
    }

    /// Where the call rang before (`from` is a Python keyword).
    #[getter]
    fn from_<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.0.from.to_py(py)
    }

    #[getter]
    fn reason<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.0.reason.to_py(py)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        repr_fields(slf.as_any())
    }
}

impl ToPy for Diversion {
    fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(Bound::new(py, PyDiversion(self.clone()))?.into_any())
    }
}

/// A call: its stable id, who called whom, and the devices' connections to it.
#[pyclass(frozen, eq, module = "ctilink", name = "Call")]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyCall(pub(crate) Call);

#[pymethods]
impl PyCall {
    #[classattr]
    fn __match_args__(py: Python<'_>) -> PyResult<Py<PyTuple>> {
        match_args(
            py,
            &[
                "id",
                "calling_device",
                "caller",
                "called",
                "connections",
                "answered",
                "diverted",
                "click_to_dial",
            ],
        )
    }

    /// The id `make_call` returned or events carry; it survives transfers.
    #[getter]
    fn id(&self) -> &str {
        self.0.id.as_str()
    }

    /// The device that placed the call (for a click-to-dial, the user's own phone).
    #[getter]
    fn calling_device(&self) -> Option<&str> {
        self.0.calling_device.as_ref().map(DeviceId::as_str)
    }

    #[getter]
    fn caller<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.0.caller.to_py(py)
    }

    #[getter]
    fn called<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.0.called.to_py(py)
    }

    #[getter]
    fn connections<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.0.connections.to_py(py)
    }

    /// Whether any called party answered.
    #[getter]
    fn answered(&self) -> bool {
        self.0.answered
    }

    #[getter]
    fn diverted<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.0.diverted.to_py(py)
    }

    /// True while the user's phone rings for a click-to-dial.
    #[getter]
    fn click_to_dial(&self) -> bool {
        self.0.click_to_dial
    }

    /// The connection of `device` in this call, or `None`.
    fn connection<'py>(&self, py: Python<'py>, device: &str) -> PyResult<Bound<'py, PyAny>> {
        self.0.connection(device).cloned().to_py(py)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        repr_fields(slf.as_any())
    }
}

impl ToPy for Call {
    fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(Bound::new(py, PyCall(self.clone()))?.into_any())
    }
}

/// Devices and calls at one moment.
#[pyclass(frozen, eq, module = "ctilink", name = "Snapshot")]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PySnapshot(pub(crate) Snapshot);

#[pymethods]
impl PySnapshot {
    #[classattr]
    fn __match_args__(py: Python<'_>) -> PyResult<Py<PyTuple>> {
        match_args(py, &["devices", "calls"])
    }

    #[getter]
    fn devices<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.0.devices.to_py(py)
    }

    #[getter]
    fn calls<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.0.calls.to_py(py)
    }

    /// The device `id`, or `None`.
    fn device<'py>(&self, py: Python<'py>, id: &str) -> PyResult<Bound<'py, PyAny>> {
        self.0.devices.iter().find(|d| d.id.as_str() == id).cloned().to_py(py)
    }

    /// The call `id`, or `None`.
    fn call<'py>(&self, py: Python<'py>, id: &str) -> PyResult<Bound<'py, PyAny>> {
        self.0.calls.iter().find(|c| c.id.as_str() == id).cloned().to_py(py)
    }

    fn __repr__(&self) -> String {
        // A PBX has hundreds of devices: the counts say more than the list would.
        format!("Snapshot(devices=<{} devices>, calls=<{} calls>)", self.0.devices.len(), self.0.calls.len())
    }
}

/// The Q.850 name of a release cause (`17` is `user busy`), for logs and UIs.
#[pyfunction]
fn cause_name(cause: u16) -> &'static str {
    Cause(cause).name()
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyParty>()?;
    m.add_class::<PyEndpoint>()?;
    m.add_class::<PyDevice>()?;
    m.add_class::<PyConnection>()?;
    m.add_class::<PyDiversion>()?;
    m.add_class::<PyCall>()?;
    m.add_class::<PySnapshot>()?;
    m.add_function(wrap_pyfunction!(cause_name, m)?)?;
    Ok(())
}
