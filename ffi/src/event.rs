//! `ctilink_event`: one item of a session's event stream, and its accessors. Every
//! accessor takes a `const ctilink_event *`, is safe from any thread while the event
//! lives, and answers a neutral value (empty string, 0, `NONE`, false) for NULL or for a
//! field the event does not have.

use std::sync::OnceLock;

use ctilink_core::model::tapi;
use ctilink_core::{Call, CallId, DeviceId, Event, Outcome};
use serde_json::json;

use crate::boundary::{guard_or, with};
use crate::codes::{
    ctilink_connection_state, ctilink_device_state, ctilink_event_type, ctilink_failure_reason,
    ctilink_forward_kind,
};
use crate::result::ctilink_result;
use crate::sequencer::{Completion, Delivery, NewCall};
use crate::text::{ctilink_str, input, CText, TextTable};

/// An event. Owned by the host after `ctilink_session_next_event` (free it with
/// `ctilink_event_free`); borrowed for the duration of an event callback.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct ctilink_event {
    kind: ctilink_event_type,
    body: Body,
    /// The device that placed the event's call, for the per-line TAPI view.
    calling_device: Option<DeviceId>,
    /// The transferring device leaving its transferred call (see `Delivery::Event`).
    transferred_away: bool,
    texts: TextTable,
    json: OnceLock<CText>,
}

#[derive(Debug)]
enum Body {
    Event(Event),
    NewCall(NewCall),
    Completed { request: u64, result: ctilink_result, message: String, call: Option<CallId> },
}

// Indexes into `texts`, pushed in this order by `ctilink_event::new`.
const KIND: usize = 0;
const CALL: usize = 1;
const DEVICE: usize = 2;
const CHANNEL: usize = 3;
const CALLER_NUMBER: usize = 4;
const CALLER_NAME: usize = 5;
const CALLED_NUMBER: usize = 6;
const CALLED_NAME: usize = 7;
const CALLING_DEVICE: usize = 8;
const MESSAGE: usize = 9;
const FORWARD_TO: usize = 10;
const RELATED_CALL: usize = 11;
const NAME: usize = 12;

impl ctilink_event {
    pub(crate) fn new(d: Delivery) -> Box<ctilink_event> {
        let mut t = TextTable::default();
        let mut away = false;
        let (kind, body, calling_device) = match d {
            Delivery::Event { event, calling_device, transferred_away } => {
                away = transferred_away;
                (ctilink_event_type::of(&event), Body::Event(event), calling_device)
            }
            Delivery::NewCall(n) => {
                let calling = n.calling_device.clone();
                (ctilink_event_type::NewCall, Body::NewCall(n), calling)
            }
            Delivery::Completed(Completion { request, result, .. }) => {
                let (code, message, call) = match result {
                    Ok(Outcome::Call(id)) => (ctilink_result::Ok, String::new(), Some(id)),
                    Ok(_) => (ctilink_result::Ok, String::new(), None),
                    Err(e) => (ctilink_result::from(&e), e.to_string(), None),
                };
                (
                    ctilink_event_type::RequestCompleted,
                    Body::Completed { request, result: code, message, call },
                    None,
                )
            }
        };
        let s = |o: Option<&str>| o.unwrap_or("").to_owned();
        let (kind_name, call, device, channel) = match &body {
            Body::Event(e) => {
                (e.kind(), e.call().map(|c| c.to_string()), e.device().map(|d| d.to_string()), e.channel())
            }
            Body::NewCall(n) => ("new_call", Some(n.call.to_string()), None, None),
            Body::Completed { call, .. } => {
                ("request_completed", call.as_ref().map(|c| c.to_string()), None, None)
            }
        };
        t.push(kind_name);
        t.push(&s(call.as_deref()));
        t.push(&s(device.as_deref()));
        t.push(channel.unwrap_or(""));
        let parties = match &body {
            Body::Event(
                Event::Originated { caller, called, .. }
                | Event::Delivered { caller, called, .. }
                | Event::Established { caller, called, .. }
                | Event::Diverted { caller, called, .. },
            ) => Some((caller, Some(called))),
            Body::Event(Event::Transferred { caller, .. } | Event::Queued { caller, .. }) => {
                Some((caller, None))
            }
            Body::NewCall(n) => Some((&n.caller, Some(&n.called))),
            _ => None,
        };
        t.push(parties.map_or("", |p| p.0.number.as_str()));
        t.push(parties.map_or("", |p| p.0.name.as_str()));
        t.push(parties.and_then(|p| p.1).map_or("", |p| p.number.as_str()));
        t.push(parties.and_then(|p| p.1).map_or("", |p| p.name.as_str()));
        t.push(calling_device.as_ref().map_or("", |d| d.as_str()));
        t.push(match &body {
            Body::Completed { message, .. } => message,
            Body::Event(Event::LinkDown { reason }) => reason,
            Body::Event(Event::Presence { message, .. }) => message,
            _ => "",
        });
        t.push(match &body {
            Body::Event(Event::Forwarding { to, .. }) => to.as_deref().unwrap_or(""),
            _ => "",
        });
        t.push(match &body {
            Body::Event(Event::Transferred { secondary_call: Some(c), .. }) => c.as_str(),
            Body::Event(Event::CallCleared { merged_into: Some(c), .. }) => c.as_str(),
            _ => "",
        });
        t.push(match &body {
            Body::Event(Event::UserEvent { name, .. }) => name,
            Body::Event(Event::Presence { presence, .. }) => presence,
            _ => "",
        });
        Box::new(ctilink_event {
            kind,
            body,
            calling_device,
            transferred_away: away,
            texts: t,
            json: OnceLock::new(),
        })
    }

    pub(crate) fn event(&self) -> Option<&Event> {
        match &self.body {
            Body::Event(e) => Some(e),
            _ => None,
        }
    }

    fn json(&self) -> String {
        match &self.body {
            Body::Event(e) => serde_json::to_string(e).unwrap_or_default(),
            Body::NewCall(n) => json!({
                "event": "new_call",
                "call": n.call,
                "caller": n.caller,
                "called": n.called,
                "calling_device": n.calling_device,
                "request": n.request,
                "current": n.current,
            })
            .to_string(),
            Body::Completed { request, result, message, call } => json!({
                "event": "request_completed",
                "request": request,
                "result": *result as u32,
                "message": message,
                "call": call,
            })
            .to_string(),
        }
    }

    /// The TAPI state of `line` in `call` (a call as it stood when it was announced).
    fn line_state_in(call: &Call, line: &str) -> Option<(u32, u32)> {
        let is_calling = call.calling_device.as_ref().is_some_and(|d| d.as_str() == line);
        call.connection(line).map(|c| (tapi::connection_call_state(c.state, is_calling), 0))
    }

    /// What `line` shows after this event, if it changes.
    pub(crate) fn line_call_state(&self, line: &str) -> Option<(u32, u32)> {
        let is_calling = self.calling_device.as_ref().is_some_and(|d| d.as_str() == line);
        match &self.body {
            // The call goes on between the others: only the transferring line sees it end.
            Body::Event(e) if self.transferred_away && e.device().map(|d| d.as_str()) != Some(line) => None,
            Body::Event(e) => tapi::line_call_state(e, &DeviceId::new(line), is_calling),
            Body::NewCall(n) => n.current.as_ref().and_then(|c| Self::line_state_in(c, line)),
            Body::Completed { .. } => None,
        }
    }
}

/// A text field of a possibly NULL event.
fn text(event: *const ctilink_event, index: usize) -> ctilink_str {
    // SAFETY: a non-NULL `event` is a live event (the header's contract).
    unsafe { with(event, ctilink_str::EMPTY, |e| e.texts.view(index)) }
}

/// Frees an event from `ctilink_session_next_event`. NULL is ignored. Never call it on
/// the event an event callback is given.
#[no_mangle]
pub extern "C" fn ctilink_event_free(event: *mut ctilink_event) {
    guard_or((), || {
        if !event.is_null() {
            // SAFETY: a non-NULL `event` came from Box::into_raw in next_event and is
            // freed once (the header's contract).
            drop(unsafe { Box::from_raw(event) });
        }
    })
}

/// The event's type.
#[no_mangle]
pub extern "C" fn ctilink_event_get_type(event: *const ctilink_event) -> ctilink_event_type {
    // SAFETY: the header's contract on `event`.
    unsafe { with(event, ctilink_event_type::Other, |e| e.kind) }
}

/// The event's kind as text, as in the JSON `event` field (`"delivered"`,
/// `"new_call"`, `"request_completed"`).
#[no_mangle]
pub extern "C" fn ctilink_event_kind(event: *const ctilink_event) -> ctilink_str {
    text(event, KIND)
}

/// The call's id (for `REQUEST_COMPLETED` of `make_call`/`consultation_call`, the new
/// call's). Empty for events without a call.
#[no_mangle]
pub extern "C" fn ctilink_event_call_id(event: *const ctilink_event) -> ctilink_str {
    text(event, CALL)
}

/// The device whose connection or state changed (the transferring device for
/// `TRANSFERRED`). Empty when none.
#[no_mangle]
pub extern "C" fn ctilink_event_device(event: *const ctilink_event) -> ctilink_str {
    text(event, DEVICE)
}

/// The PBX channel of that connection (what the PBX's own logs name).
#[no_mangle]
pub extern "C" fn ctilink_event_channel(event: *const ctilink_event) -> ctilink_str {
    text(event, CHANNEL)
}

/// The calling party's number (caller id). Empty when the event carries none.
#[no_mangle]
pub extern "C" fn ctilink_event_caller_number(event: *const ctilink_event) -> ctilink_str {
    text(event, CALLER_NUMBER)
}

/// The calling party's name.
#[no_mangle]
pub extern "C" fn ctilink_event_caller_name(event: *const ctilink_event) -> ctilink_str {
    text(event, CALLER_NAME)
}

/// The called party's number.
#[no_mangle]
pub extern "C" fn ctilink_event_called_number(event: *const ctilink_event) -> ctilink_str {
    text(event, CALLED_NUMBER)
}

/// The called party's name.
#[no_mangle]
pub extern "C" fn ctilink_event_called_name(event: *const ctilink_event) -> ctilink_str {
    text(event, CALLED_NAME)
}

/// The device of this PBX that placed the call, when known.
#[no_mangle]
pub extern "C" fn ctilink_event_calling_device(event: *const ctilink_event) -> ctilink_str {
    text(event, CALLING_DEVICE)
}

/// `REQUEST_COMPLETED`: the error's text (empty on success); `LINK_DOWN`: why;
/// `PRESENCE`: the presence message.
#[no_mangle]
pub extern "C" fn ctilink_event_message(event: *const ctilink_event) -> ctilink_str {
    text(event, MESSAGE)
}

/// `FORWARDING`: the target, empty when forwarding was turned off.
#[no_mangle]
pub extern "C" fn ctilink_event_forward_to(event: *const ctilink_event) -> ctilink_str {
    text(event, FORWARD_TO)
}

/// `TRANSFERRED`: the consultation call merged into this one; `CALL_CLEARED`: the
/// call this one was merged into by a transfer.
#[no_mangle]
pub extern "C" fn ctilink_event_related_call(event: *const ctilink_event) -> ctilink_str {
    text(event, RELATED_CALL)
}

/// `USER_EVENT`: its name; `PRESENCE`: the presence (`available`, `away`, ...).
#[no_mangle]
pub extern "C" fn ctilink_event_name(event: *const ctilink_event) -> ctilink_str {
    text(event, NAME)
}

/// The event as one JSON object (the format of `ctilink replay --json`, with
/// `new_call` and `request_completed` added): every field of every type.
#[no_mangle]
pub extern "C" fn ctilink_event_json(event: *const ctilink_event) -> ctilink_str {
    guard_or(ctilink_str::EMPTY, || {
        // SAFETY: a non-NULL `event` is a live event.
        unsafe { event.as_ref() }
            .map_or(ctilink_str::EMPTY, |e| e.json.get_or_init(|| CText::new(&e.json())).view())
    })
}

/// The connection state the event moved its device to; `NONE` if it reports none.
#[no_mangle]
pub extern "C" fn ctilink_event_connection_state(event: *const ctilink_event) -> ctilink_connection_state {
    // SAFETY: `with`'s contract is the header's.
    unsafe {
        with(event, ctilink_connection_state::None, |e| e.event().and_then(Event::connection_state).into())
    }
}

/// The TAPI `LINECALLSTATE_*` of the event's own device after it (`OFFERING` for a phone
/// that rings, `RINGBACK` for the one that placed the call...); 0 when the event reports
/// no connection state. For any other line use `ctilink_event_line_call_state`.
#[no_mangle]
pub extern "C" fn ctilink_event_tapi_call_state(event: *const ctilink_event) -> u32 {
    // SAFETY: `with`'s contract is the header's.
    unsafe {
        with(event, 0, |e| {
            let ev = e.event();
            match (ev.and_then(Event::connection_state), ev.and_then(Event::device)) {
                (Some(state), Some(dev)) => {
                    tapi::connection_call_state(state, e.calling_device.as_ref() == Some(dev))
                }
                _ => 0,
            }
        })
    }
}

/// What the TAPI line of device `line` (NUL-terminated) shows after this event: writes
/// the `LINECALLSTATE_*` into `*state` and, for `DISCONNECTED`, the
/// `LINEDISCONNECTMODE_*` into `*mode` (0 otherwise), and returns true. Returns false,
/// writing nothing, when the event does not change that line's call, or an argument is
/// NULL. For `NEW_CALL` it gives the call's current state on that line when the call is
/// announced after it began (at start, after a resync).
#[no_mangle]
pub extern "C" fn ctilink_event_line_call_state(
    event: *const ctilink_event,
    line: *const std::os::raw::c_char,
    state: *mut u32,
    mode: *mut u32,
) -> bool {
    guard_or(false, || {
        if state.is_null() || mode.is_null() {
            return false;
        }
        // SAFETY: `line` is NULL or NUL-terminated (the header's contract).
        let Ok(line) = (unsafe { input(line) }) else { return false };
        // SAFETY: a non-NULL `event` is a live event.
        let Some(e) = (unsafe { event.as_ref() }) else { return false };
        match e.line_call_state(line) {
            Some((s, m)) => {
                // SAFETY: both checked non-NULL above; the host gives writable pointers.
                unsafe {
                    *state = s;
                    *mode = m;
                }
                true
            }
            None => false,
        }
    })
}

/// The Q.850 cause (16 normal clearing, 17 busy, ...) of `FAILED`,
/// `CONNECTION_CLEARED` and `CALL_CLEARED`; -1 when none.
#[no_mangle]
pub extern "C" fn ctilink_event_cause(event: *const ctilink_event) -> i32 {
    // SAFETY: `with`'s contract is the header's.
    unsafe {
        with(event, -1, |e| match e.event() {
            Some(
                Event::Failed { cause: Some(c), .. }
                | Event::ConnectionCleared { cause: Some(c), .. }
                | Event::CallCleared { cause: Some(c), .. },
            ) => i32::from(c.0),
            _ => -1,
        })
    }
}

/// `FAILED`: why.
#[no_mangle]
pub extern "C" fn ctilink_event_failure_reason(event: *const ctilink_event) -> ctilink_failure_reason {
    // SAFETY: `with`'s contract is the header's.
    unsafe {
        with(event, ctilink_failure_reason::None, |e| match e.event() {
            Some(Event::Failed { reason, .. }) => (*reason).into(),
            _ => ctilink_failure_reason::None,
        })
    }
}

/// `REQUEST_COMPLETED`: the request's id; `NEW_CALL`: the request that started the call
/// (0 for calls the host did not start).
#[no_mangle]
pub extern "C" fn ctilink_event_request_id(event: *const ctilink_event) -> u64 {
    // SAFETY: `with`'s contract is the header's.
    unsafe {
        with(event, 0, |e| match &e.body {
            Body::Completed { request, .. } => *request,
            Body::NewCall(n) => n.request,
            Body::Event(_) => 0,
        })
    }
}

/// `REQUEST_COMPLETED`: the request's result (`CTILINK_RESULT_OK` or the error).
#[no_mangle]
pub extern "C" fn ctilink_event_result(event: *const ctilink_event) -> ctilink_result {
    // SAFETY: `with`'s contract is the header's.
    unsafe {
        with(event, ctilink_result::NullParameter, |e| match &e.body {
            Body::Completed { result, .. } => *result,
            _ => ctilink_result::Ok,
        })
    }
}

/// `DEVICE_STATE`: the device's new state.
#[no_mangle]
pub extern "C" fn ctilink_event_device_state(event: *const ctilink_event) -> ctilink_device_state {
    // SAFETY: `with`'s contract is the header's.
    unsafe {
        with(event, ctilink_device_state::None, |e| match e.event() {
            Some(Event::DeviceState { state, .. }) => Some(*state).into(),
            _ => ctilink_device_state::None,
        })
    }
}

/// `DO_NOT_DISTURB`: on or off. `CALL_CLEARED`: whether anyone answered.
/// `DELIVERED`/`ESTABLISHED`: whether this is a click-to-dial ringing the user's own phone.
#[no_mangle]
pub extern "C" fn ctilink_event_flag(event: *const ctilink_event) -> bool {
    // SAFETY: `with`'s contract is the header's.
    unsafe {
        with(event, false, |e| match e.event() {
            Some(Event::DoNotDisturb { enabled, .. }) => *enabled,
            Some(Event::CallCleared { answered, .. }) => *answered,
            Some(Event::Delivered { click_to_dial, .. } | Event::Established { click_to_dial, .. }) => {
                *click_to_dial
            }
            _ => false,
        })
    }
}

/// `FORWARDING`: which kind changed.
#[no_mangle]
pub extern "C" fn ctilink_event_forward_kind(event: *const ctilink_event) -> ctilink_forward_kind {
    // SAFETY: `with`'s contract is the header's.
    unsafe {
        with(event, ctilink_forward_kind::None, |e| match e.event() {
            Some(Event::Forwarding { kind, .. }) => (*kind).into(),
            _ => ctilink_forward_kind::None,
        })
    }
}

/// `LAGGED`: how many events were dropped.
#[no_mangle]
pub extern "C" fn ctilink_event_missed(event: *const ctilink_event) -> u64 {
    // SAFETY: `with`'s contract is the header's.
    unsafe {
        with(event, 0, |e| match e.event() {
            Some(Event::Lagged { missed }) => *missed,
            _ => 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use ctilink_core::ConnectionState;

    use super::*;

    #[test]
    fn after_a_transfer_only_the_transferring_line_sees_the_call_end() {
        let left = |away| {
            ctilink_event::new(Delivery::Event {
                event: Event::ConnectionCleared {
                    call: CallId::new("t"),
                    device: DeviceId::new("200"),
                    channel: "PJSIP/200-1".into(),
                    state: ConnectionState::Null,
                    previous: ConnectionState::Connected,
                    cause: None,
                    released_by: None,
                },
                calling_device: Some(DeviceId::new("100")),
                transferred_away: away,
            })
        };
        let ev = left(true);
        assert_eq!(ev.line_call_state("200"), Some((tapi::LINECALLSTATE_IDLE, 0)));
        assert_eq!(ev.line_call_state("100"), None, "the call goes on for the transferred party");
        let ev = left(false);
        assert_eq!(ev.line_call_state("100").map(|s| s.0), Some(tapi::LINECALLSTATE_DISCONNECTED));
    }

    #[test]
    fn a_removed_device_is_its_own_type_with_its_device() {
        let ev = ctilink_event::new(Delivery::Event {
            event: Event::DeviceRemoved { device: DeviceId::new("149") },
            calling_device: None,
            transferred_away: false,
        });
        let ptr: *const ctilink_event = &*ev;
        let t = ctilink_event_get_type(ptr);
        assert_eq!(t, ctilink_event_type::DeviceRemoved);
        assert_eq!(t as u32, 35, "a value C hosts compiled against: fixed forever");
        let dev = ctilink_event_device(ptr);
        // SAFETY: the text lives in `ev`, which outlives this read.
        let text = unsafe { std::slice::from_raw_parts(dev.data.cast::<u8>(), dev.len) };
        assert_eq!(text, b"149");
    }
}
