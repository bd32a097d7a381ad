//! `ctilink_snapshot`: the devices and calls of the model at one moment, for a host that
//! opens a line while calls exist (a TSP's `lineOpen`) or draws a lamp field. The
//! snapshot owns everything its accessors return; device and call pointers live until
//! `ctilink_snapshot_free`.

use std::os::raw::c_char;

use ctilink_core::model::tapi;
use ctilink_core::{Call, Device, ForwardKind, Snapshot};

use crate::boundary::{guard_or, with};
use crate::codes::{ctilink_connection_state, ctilink_device_state, forward_kind};
use crate::text::{ctilink_str, input, CText};

/// The model at one moment. Free with `ctilink_snapshot_free`.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct ctilink_snapshot {
    devices: Vec<ctilink_device>,
    calls: Vec<ctilink_call>,
}

/// A device (extension) of a snapshot.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct ctilink_device {
    id: CText,
    interface: CText,
    state: ctilink_device_state,
    dnd: bool,
    /// Immediate, busy, no answer.
    forward: [CText; 3],
}

/// A call of a snapshot.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct ctilink_call {
    id: CText,
    caller_number: CText,
    caller_name: CText,
    called_number: CText,
    called_name: CText,
    calling_device: CText,
    connections: Vec<(CText, CText)>,
    call: Call,
}

impl ctilink_snapshot {
    pub(crate) fn new(s: Snapshot) -> Box<ctilink_snapshot> {
        let text = |o: Option<&str>| CText::new(o.unwrap_or(""));
        let device = |d: Device| ctilink_device {
            id: CText::new(d.id.as_str()),
            interface: text(d.interface.as_deref()),
            state: Some(d.state).into(),
            dnd: d.do_not_disturb,
            forward: [ForwardKind::Immediate, ForwardKind::Busy, ForwardKind::NoAnswer]
                .map(|k| text(d.forwarding(k))),
        };
        let call = |c: Call| ctilink_call {
            id: CText::new(c.id.as_str()),
            caller_number: CText::new(&c.caller.number),
            caller_name: CText::new(&c.caller.name),
            called_number: CText::new(&c.called.number),
            called_name: CText::new(&c.called.name),
            calling_device: text(c.calling_device.as_ref().map(|d| d.as_str())),
            connections: c
                .connections
                .iter()
                .map(|k| (CText::new(k.device.as_str()), CText::new(&k.channel)))
                .collect(),
            call: c,
        };
        Box::new(ctilink_snapshot {
            devices: s.devices.into_iter().map(device).collect(),
            calls: s.calls.into_iter().map(call).collect(),
        })
    }
}

fn forward_slot(k: ForwardKind) -> usize {
    match k {
        ForwardKind::Immediate => 0,
        ForwardKind::Busy => 1,
        ForwardKind::NoAnswer => 2,
    }
}

/// Frees a snapshot and everything read from it. NULL is ignored.
#[no_mangle]
pub extern "C" fn ctilink_snapshot_free(snapshot: *mut ctilink_snapshot) {
    guard_or((), || {
        if !snapshot.is_null() {
            // SAFETY: from Box::into_raw in ctilink_session_snapshot, freed once.
            drop(unsafe { Box::from_raw(snapshot) });
        }
    })
}

/// The number of devices.
#[no_mangle]
pub extern "C" fn ctilink_snapshot_device_count(snapshot: *const ctilink_snapshot) -> usize {
    // SAFETY: the header's contract on `snapshot`.
    unsafe { with(snapshot, 0, |s| s.devices.len()) }
}

/// The device at `index` (0 to count - 1), ordered by id; NULL when out of range.
#[no_mangle]
pub extern "C" fn ctilink_snapshot_device_at(
    snapshot: *const ctilink_snapshot,
    index: usize,
) -> *const ctilink_device {
    // SAFETY: the header's contract on `snapshot`.
    unsafe {
        with(snapshot, std::ptr::null(), |s| s.devices.get(index).map_or(std::ptr::null(), |d| d as *const _))
    }
}

/// The device `id` (NUL-terminated); NULL when the snapshot has none.
#[no_mangle]
pub extern "C" fn ctilink_snapshot_find_device(
    snapshot: *const ctilink_snapshot,
    id: *const c_char,
) -> *const ctilink_device {
    // SAFETY: the header's contract on `snapshot` and `id`.
    unsafe {
        with(snapshot, std::ptr::null(), |s| {
            let Ok(id) = input(id) else { return std::ptr::null() };
            s.devices.iter().find(|d| d.id.as_str() == id).map_or(std::ptr::null(), |d| d as *const _)
        })
    }
}

/// The number of calls.
#[no_mangle]
pub extern "C" fn ctilink_snapshot_call_count(snapshot: *const ctilink_snapshot) -> usize {
    // SAFETY: the header's contract on `snapshot`.
    unsafe { with(snapshot, 0, |s| s.calls.len()) }
}

/// The call at `index`; NULL when out of range.
#[no_mangle]
pub extern "C" fn ctilink_snapshot_call_at(
    snapshot: *const ctilink_snapshot,
    index: usize,
) -> *const ctilink_call {
    // SAFETY: the header's contract on `snapshot`.
    unsafe {
        with(snapshot, std::ptr::null(), |s| s.calls.get(index).map_or(std::ptr::null(), |c| c as *const _))
    }
}

/// The call `id` (NUL-terminated); NULL when the snapshot has none.
#[no_mangle]
pub extern "C" fn ctilink_snapshot_find_call(
    snapshot: *const ctilink_snapshot,
    id: *const c_char,
) -> *const ctilink_call {
    // SAFETY: the header's contract on `snapshot` and `id`.
    unsafe {
        with(snapshot, std::ptr::null(), |s| {
            let Ok(id) = input(id) else { return std::ptr::null() };
            s.calls.iter().find(|c| c.id.as_str() == id).map_or(std::ptr::null(), |c| c as *const _)
        })
    }
}

/// The device's id (`100`).
#[no_mangle]
pub extern "C" fn ctilink_device_id(device: *const ctilink_device) -> ctilink_str {
    // SAFETY: the header's contract on `device`.
    unsafe { with(device, ctilink_str::EMPTY, |d| d.id.view()) }
}

/// The device's PBX interface (`PJSIP/100`), empty if not known yet.
#[no_mangle]
pub extern "C" fn ctilink_device_interface(device: *const ctilink_device) -> ctilink_str {
    // SAFETY: the header's contract on `device`.
    unsafe { with(device, ctilink_str::EMPTY, |d| d.interface.view()) }
}

/// The device's state (its lamp).
#[no_mangle]
pub extern "C" fn ctilink_device_get_state(device: *const ctilink_device) -> ctilink_device_state {
    // SAFETY: the header's contract on `device`.
    unsafe { with(device, ctilink_device_state::None, |d| d.state) }
}

/// Whether do-not-disturb is on.
#[no_mangle]
pub extern "C" fn ctilink_device_do_not_disturb(device: *const ctilink_device) -> bool {
    // SAFETY: the header's contract on `device`.
    unsafe { with(device, false, |d| d.dnd) }
}

/// Where calls of `kind` (a `ctilink_forward_kind`) are forwarded; empty when off.
#[no_mangle]
pub extern "C" fn ctilink_device_forward_to(device: *const ctilink_device, kind: u32) -> ctilink_str {
    // SAFETY: the header's contract on `device`.
    unsafe {
        with(device, ctilink_str::EMPTY, |d| match forward_kind(kind) {
            Some(k) => d.forward[forward_slot(k)].view(),
            None => ctilink_str::EMPTY,
        })
    }
}

/// The call's id.
#[no_mangle]
pub extern "C" fn ctilink_call_id(call: *const ctilink_call) -> ctilink_str {
    // SAFETY: the header's contract on `call`.
    unsafe { with(call, ctilink_str::EMPTY, |c| c.id.view()) }
}

/// The calling party's number.
#[no_mangle]
pub extern "C" fn ctilink_call_caller_number(call: *const ctilink_call) -> ctilink_str {
    // SAFETY: the header's contract on `call`.
    unsafe { with(call, ctilink_str::EMPTY, |c| c.caller_number.view()) }
}

/// The calling party's name.
#[no_mangle]
pub extern "C" fn ctilink_call_caller_name(call: *const ctilink_call) -> ctilink_str {
    // SAFETY: the header's contract on `call`.
    unsafe { with(call, ctilink_str::EMPTY, |c| c.caller_name.view()) }
}

/// The called party's number.
#[no_mangle]
pub extern "C" fn ctilink_call_called_number(call: *const ctilink_call) -> ctilink_str {
    // SAFETY: the header's contract on `call`.
    unsafe { with(call, ctilink_str::EMPTY, |c| c.called_number.view()) }
}

/// The called party's name.
#[no_mangle]
pub extern "C" fn ctilink_call_called_name(call: *const ctilink_call) -> ctilink_str {
    // SAFETY: the header's contract on `call`.
    unsafe { with(call, ctilink_str::EMPTY, |c| c.called_name.view()) }
}

/// The device of this PBX that placed the call, empty when it came from outside.
#[no_mangle]
pub extern "C" fn ctilink_call_calling_device(call: *const ctilink_call) -> ctilink_str {
    // SAFETY: the header's contract on `call`.
    unsafe { with(call, ctilink_str::EMPTY, |c| c.calling_device.view()) }
}

/// Whether a called party answered.
#[no_mangle]
pub extern "C" fn ctilink_call_answered(call: *const ctilink_call) -> bool {
    // SAFETY: the header's contract on `call`.
    unsafe { with(call, false, |c| c.call.answered) }
}

/// The number of connections (devices in the call).
#[no_mangle]
pub extern "C" fn ctilink_call_connection_count(call: *const ctilink_call) -> usize {
    // SAFETY: the header's contract on `call`.
    unsafe { with(call, 0, |c| c.connections.len()) }
}

/// The device of connection `index`; empty when out of range.
#[no_mangle]
pub extern "C" fn ctilink_call_connection_device(call: *const ctilink_call, index: usize) -> ctilink_str {
    // SAFETY: the header's contract on `call`.
    unsafe {
        with(call, ctilink_str::EMPTY, |c| {
            c.connections.get(index).map_or(ctilink_str::EMPTY, |k| k.0.view())
        })
    }
}

/// The PBX channel of connection `index`; empty when out of range.
#[no_mangle]
pub extern "C" fn ctilink_call_connection_channel(call: *const ctilink_call, index: usize) -> ctilink_str {
    // SAFETY: the header's contract on `call`.
    unsafe {
        with(call, ctilink_str::EMPTY, |c| {
            c.connections.get(index).map_or(ctilink_str::EMPTY, |k| k.1.view())
        })
    }
}

/// The state of connection `index`; `NONE` when out of range.
#[no_mangle]
pub extern "C" fn ctilink_call_connection_state(
    call: *const ctilink_call,
    index: usize,
) -> ctilink_connection_state {
    // SAFETY: the header's contract on `call`.
    unsafe {
        with(call, ctilink_connection_state::None, |c| c.call.connections.get(index).map(|k| k.state).into())
    }
}

/// The TAPI `LINECALLSTATE_*` of the line of device `line` (NUL-terminated) in this call,
/// written to `*state`; returns false, writing nothing, when the device has no connection
/// in the call or an argument is NULL.
#[no_mangle]
pub extern "C" fn ctilink_call_line_call_state(
    call: *const ctilink_call,
    line: *const c_char,
    state: *mut u32,
) -> bool {
    guard_or(false, || {
        if state.is_null() {
            return false;
        }
        // SAFETY: the header's contract on `call` and `line`.
        let (Some(c), Ok(line)) = (unsafe { call.as_ref() }, unsafe { input(line) }) else { return false };
        let Some(conn) = c.call.connection(line) else { return false };
        let is_calling = c.call.calling_device.as_ref().is_some_and(|d| d.as_str() == line);
        // SAFETY: checked non-NULL; the host gives a writable pointer.
        unsafe { *state = tapi::connection_call_state(conn.state, is_calling) };
        true
    })
}
