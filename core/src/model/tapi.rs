//! The mapping to TAPI 2.x line call states, used by the C ABI and the TSP shim.
//!
//! A TSP reports each call on a line (a device). What the line shows depends on the side:
//! the called line sees `OFFERING` when the call rings there, the calling line sees
//! `RINGBACK` for the same event. [`line_call_state`] gives that per-line view of one
//! event. The constants are the values of `tapi.h`.

use super::event::{Cause, Event, FailureReason};
use super::ids::DeviceId;
use super::state::ConnectionState;

pub const LINECALLSTATE_IDLE: u32 = 0x0000_0001;
pub const LINECALLSTATE_OFFERING: u32 = 0x0000_0002;
pub const LINECALLSTATE_ACCEPTED: u32 = 0x0000_0004;
pub const LINECALLSTATE_DIALTONE: u32 = 0x0000_0008;
pub const LINECALLSTATE_DIALING: u32 = 0x0000_0010;
pub const LINECALLSTATE_RINGBACK: u32 = 0x0000_0020;
pub const LINECALLSTATE_BUSY: u32 = 0x0000_0040;
pub const LINECALLSTATE_SPECIALINFO: u32 = 0x0000_0080;
pub const LINECALLSTATE_CONNECTED: u32 = 0x0000_0100;
pub const LINECALLSTATE_PROCEEDING: u32 = 0x0000_0200;
pub const LINECALLSTATE_ONHOLD: u32 = 0x0000_0400;
pub const LINECALLSTATE_CONFERENCED: u32 = 0x0000_0800;
pub const LINECALLSTATE_ONHOLDPENDCONF: u32 = 0x0000_1000;
pub const LINECALLSTATE_ONHOLDPENDTRANSFER: u32 = 0x0000_2000;
pub const LINECALLSTATE_DISCONNECTED: u32 = 0x0000_4000;
pub const LINECALLSTATE_UNKNOWN: u32 = 0x0000_8000;

pub const LINEDISCONNECTMODE_NORMAL: u32 = 0x0000_0001;
pub const LINEDISCONNECTMODE_UNKNOWN: u32 = 0x0000_0002;
pub const LINEDISCONNECTMODE_REJECT: u32 = 0x0000_0004;
pub const LINEDISCONNECTMODE_PICKUP: u32 = 0x0000_0008;
pub const LINEDISCONNECTMODE_FORWARDED: u32 = 0x0000_0010;
pub const LINEDISCONNECTMODE_BUSY: u32 = 0x0000_0020;
pub const LINEDISCONNECTMODE_NOANSWER: u32 = 0x0000_0040;
pub const LINEDISCONNECTMODE_BADADDRESS: u32 = 0x0000_0080;
pub const LINEDISCONNECTMODE_UNREACHABLE: u32 = 0x0000_0100;
pub const LINEDISCONNECTMODE_CONGESTION: u32 = 0x0000_0200;
pub const LINEDISCONNECTMODE_INCOMPATIBLE: u32 = 0x0000_0400;
pub const LINEDISCONNECTMODE_UNAVAIL: u32 = 0x0000_0800;
pub const LINEDISCONNECTMODE_NODIALTONE: u32 = 0x0000_1000;
pub const LINEDISCONNECTMODE_CANCELLED: u32 = 0x0008_0000;

/// The TAPI call state of a connection seen from its own device's line.
/// `is_calling` says whether the device placed the call (it never sees `OFFERING`).
pub fn connection_call_state(state: ConnectionState, is_calling: bool) -> u32 {
    match state {
        ConnectionState::Null => LINECALLSTATE_IDLE,
        ConnectionState::Initiated => LINECALLSTATE_DIALTONE,
        ConnectionState::Alerting if is_calling => LINECALLSTATE_RINGBACK,
        ConnectionState::Alerting => LINECALLSTATE_OFFERING,
        ConnectionState::Connected => LINECALLSTATE_CONNECTED,
        ConnectionState::Held => LINECALLSTATE_ONHOLD,
        ConnectionState::Queued => LINECALLSTATE_PROCEEDING,
        ConnectionState::Failed => LINECALLSTATE_DISCONNECTED,
    }
}

/// `LINEDISCONNECTMODE_*` for a failure.
pub fn disconnect_mode(reason: FailureReason) -> u32 {
    match reason {
        FailureReason::Busy => LINEDISCONNECTMODE_BUSY,
        FailureReason::NoAnswer => LINEDISCONNECTMODE_NOANSWER,
        FailureReason::Rejected => LINEDISCONNECTMODE_REJECT,
        FailureReason::Unreachable => LINEDISCONNECTMODE_UNREACHABLE,
        FailureReason::Congestion => LINEDISCONNECTMODE_CONGESTION,
        FailureReason::Other => LINEDISCONNECTMODE_UNAVAIL,
    }
}

/// `LINEDISCONNECTMODE_*` for a Q.850 cause of a cleared connection.
pub fn disconnect_mode_for_cause(cause: Option<Cause>) -> u32 {
    match cause.map(|c| c.0) {
        None | Some(0) => LINEDISCONNECTMODE_UNKNOWN,
        Some(16) | Some(31) | Some(127) => LINEDISCONNECTMODE_NORMAL,
        Some(26) => LINEDISCONNECTMODE_PICKUP,
        Some(c) => disconnect_mode(FailureReason::from_cause(Cause(c))),
    }
}

/// What a line (the TAPI view of `line`) reports for `event`: the new `LINECALLSTATE_*`
/// and, for `DISCONNECTED`, the `LINEDISCONNECTMODE_*` (0 otherwise). `None` when the
/// event does not change the call's state on that line.
///
/// `line_is_calling` says whether `line` placed the call (from [`Call::calling_device`]
/// or the `calling_device` of `Delivered`).
///
/// [`Call::calling_device`]: super::Call::calling_device
pub fn line_call_state(event: &Event, line: &DeviceId, line_is_calling: bool) -> Option<(u32, u32)> {
    let mine = event.device() == Some(line);
    let state = |s| (s, 0);
    match event {
        Event::Originated { .. } if mine => Some(state(LINECALLSTATE_PROCEEDING)),
        Event::Delivered { .. } if mine => Some(state(LINECALLSTATE_OFFERING)),
        Event::Delivered { .. } if line_is_calling => Some(state(LINECALLSTATE_RINGBACK)),
        Event::Established { .. } if mine || line_is_calling => Some(state(LINECALLSTATE_CONNECTED)),
        Event::Held { .. } if mine => Some(state(LINECALLSTATE_ONHOLD)),
        Event::Retrieved { .. } if mine => Some(state(LINECALLSTATE_CONNECTED)),
        Event::Conferenced { .. } => Some(state(LINECALLSTATE_CONFERENCED)),
        Event::Queued { .. } if line_is_calling => Some(state(LINECALLSTATE_PROCEEDING)),
        Event::Failed { reason, .. } if mine || line_is_calling => {
            if *reason == FailureReason::Busy {
                Some((LINECALLSTATE_BUSY, 0))
            } else {
                Some((LINECALLSTATE_DISCONNECTED, disconnect_mode(*reason)))
            }
        }
        Event::Diverted { from, reason, .. } if &from.device == line => {
            let mode = match reason {
                super::event::DivertReason::Pickup => LINEDISCONNECTMODE_PICKUP,
                _ => LINEDISCONNECTMODE_FORWARDED,
            };
            Some((LINECALLSTATE_DISCONNECTED, mode))
        }
        // The line's own connection ends. If another party's hang-up ended the talk, the
        // line was disconnected by the far end (TAPI: `DISCONNECTED`, then `IDLE` when the
        // call is cleared); if this line hung up, or nobody is known to have, it is `IDLE`.
        Event::ConnectionCleared { cause, previous, released_by, .. } if mine => {
            let talking = matches!(previous, ConnectionState::Connected | ConnectionState::Held);
            match released_by {
                Some(r) if r != line && talking => {
                    Some((LINECALLSTATE_DISCONNECTED, disconnect_mode_for_cause(*cause)))
                }
                _ => Some(state(LINECALLSTATE_IDLE)),
            }
        }
        // The line itself hung up: the others leaving after it is no news to it (its own
        // connection's end follows).
        Event::ConnectionCleared { released_by: Some(r), .. } if r == line => None,
        Event::ConnectionCleared { cause, previous, .. } => {
            // The far end left: the line's call is disconnected. A ringing device that
            // stops ringing (one of a group, or answered elsewhere) changes nothing here.
            if *previous == ConnectionState::Alerting {
                None
            } else {
                Some((LINECALLSTATE_DISCONNECTED, disconnect_mode_for_cause(*cause)))
            }
        }
        Event::CallCleared { .. } => Some(state(LINECALLSTATE_IDLE)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CallId, Party};

    #[test]
    fn ringing_is_offering_on_the_called_line_and_ringback_on_the_calling_one() {
        let ev = Event::Delivered {
            call: CallId::new("c"),
            device: DeviceId::new("200"),
            channel: "PJSIP/200-1".into(),
            state: ConnectionState::Alerting,
            caller: Party::new("100", ""),
            called: Party::new("200", ""),
            calling_device: Some(DeviceId::new("100")),
            click_to_dial: false,
        };
        assert_eq!(line_call_state(&ev, &DeviceId::new("200"), false), Some((LINECALLSTATE_OFFERING, 0)));
        assert_eq!(line_call_state(&ev, &DeviceId::new("100"), true), Some((LINECALLSTATE_RINGBACK, 0)));
        assert_eq!(line_call_state(&ev, &DeviceId::new("300"), false), None);
    }

    #[test]
    fn busy_and_causes() {
        assert_eq!(disconnect_mode_for_cause(Some(Cause(17))), LINEDISCONNECTMODE_BUSY);
        assert_eq!(disconnect_mode_for_cause(Some(Cause(16))), LINEDISCONNECTMODE_NORMAL);
        assert_eq!(disconnect_mode_for_cause(None), LINEDISCONNECTMODE_UNKNOWN);
        assert_eq!(connection_call_state(ConnectionState::Alerting, true), LINECALLSTATE_RINGBACK);
        assert_eq!(connection_call_state(ConnectionState::Alerting, false), LINECALLSTATE_OFFERING);
    }
}
