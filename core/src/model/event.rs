//! The normalized events: what every language sees, defined once here.
//!
//! Each call event names its call, and most name the device whose connection changed, the
//! channel that carries it and the connection's new state. A connection is one channel's
//! part in a call: normally one per device, but a trunk can carry two legs of one call
//! (a call from outside forwarded back outside). Guarantees, checked by the property tests:
//! - a call's first event is `Originated`, `Delivered`, `Queued`, `Failed` or
//!   `Transferred`, and `CallCleared` is its last;
//! - a connection only moves along [`ConnectionState::can_become`];
//! - when `CallCleared` is reported, the call and all its connections are gone.

use serde::{Deserialize, Serialize};

use super::device::ForwardKind;
use super::ids::{CallId, DeviceId};
use super::state::{ConnectionState, DeviceState, Party};

/// A Q.850 release cause, as Asterisk reports it in `Hangup` (`Cause: 16`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cause(pub u16);

impl Cause {
    pub const NORMAL_CLEARING: Cause = Cause(16);
    pub const USER_BUSY: Cause = Cause(17);
    pub const NO_USER_RESPONSE: Cause = Cause(18);
    pub const NO_ANSWER: Cause = Cause(19);
    pub const CALL_REJECTED: Cause = Cause(21);
    pub const ANSWERED_ELSEWHERE: Cause = Cause(26);

    /// The Q.850 name of the cause, for logs and UIs.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "not defined",
            1 => "unallocated number",
            3 => "no route to destination",
            16 => "normal clearing",
            17 => "user busy",
            18 => "no user responding",
            19 => "no answer",
            20 => "subscriber absent",
            21 => "call rejected",
            22 => "number changed",
            26 => "answered elsewhere",
            27 => "destination out of order",
            28 => "invalid number format",
            31 => "normal, unspecified",
            34 => "no circuit available",
            38 => "network out of order",
            41 => "temporary failure",
            42 => "switching equipment congestion",
            127 => "interworking, unspecified",
            _ => "other",
        }
    }
}

/// Why a connection failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    Busy,
    NoAnswer,
    Rejected,
    /// The device is not registered or the number does not exist.
    Unreachable,
    Congestion,
    /// Anything else the PBX reports as a failure.
    Other,
}

impl FailureReason {
    /// From an AMI `DialStatus` (`BUSY`, `NOANSWER`, `CONGESTION`, `CHANUNAVAIL`...);
    /// `None` for statuses that are not failures (`ANSWER`, `CANCEL`, `DONTCALL`...).
    pub fn from_dial_status(status: &str) -> Option<Self> {
        let s = status.trim();
        let is = |x: &str| s.eq_ignore_ascii_case(x);
        if is("BUSY") {
            Some(Self::Busy)
        } else if is("NOANSWER") {
            Some(Self::NoAnswer)
        } else if is("CONGESTION") {
            Some(Self::Congestion)
        } else if is("CHANUNAVAIL") || is("INVALIDARGS") {
            Some(Self::Unreachable)
        } else {
            None
        }
    }

    /// From a Q.850 cause of a channel that hung up before it answered.
    pub fn from_cause(cause: Cause) -> Self {
        match cause.0 {
            17 => Self::Busy,
            18 | 19 => Self::NoAnswer,
            21 => Self::Rejected,
            1 | 3 | 20 | 22 | 27 | 28 => Self::Unreachable,
            34 | 38 | 41 | 42 | 44 => Self::Congestion,
            _ => Self::Other,
        }
    }
}

/// How a transfer was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferKind {
    /// Single-step: the transferee goes straight to the target.
    Blind,
    /// Consultative: the transferer talked to the target first.
    Attended,
    /// Semi-attended: the transferer hung up while the target was still ringing.
    Blonde,
}

/// Why a call moved from one device to another without being answered there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DivertReason {
    /// Call forwarding (the PBX dialed another number for the device).
    Forward,
    /// The ringing device sent it elsewhere (deflect, redirect).
    Deflect,
    /// Another device picked it up.
    Pickup,
}

/// One end of a connection: the device and the PBX channel that carries it (the channel
/// name is what AMI commands such as Hangup or Redirect take).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub device: DeviceId,
    pub channel: String,
}

/// A normalized event. The JSON form (`serde_json::to_string`) has the kind in `event`
/// (snake_case) and the fields below by name; it is the format of `ctilink replay --json`,
/// of the gateway and of the bindings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// The device made a call: it is connected and the destination is known. For a
    /// click-to-dial, this is when the user answered their own phone.
    Originated {
        call: CallId,
        device: DeviceId,
        channel: String,
        state: ConnectionState,
        caller: Party,
        called: Party,
    },
    /// The call rings at `device`.
    Delivered {
        call: CallId,
        device: DeviceId,
        channel: String,
        state: ConnectionState,
        caller: Party,
        called: Party,
        /// The device that placed the call, when it is a device of this PBX.
        calling_device: Option<DeviceId>,
        /// True when this is the user's own phone ringing for a click-to-dial, before the
        /// destination is dialed.
        click_to_dial: bool,
    },
    /// `device` answered.
    Established {
        call: CallId,
        device: DeviceId,
        channel: String,
        state: ConnectionState,
        caller: Party,
        called: Party,
        calling_device: Option<DeviceId>,
        click_to_dial: bool,
    },
    Held {
        call: CallId,
        device: DeviceId,
        channel: String,
        state: ConnectionState,
    },
    Retrieved {
        call: CallId,
        device: DeviceId,
        channel: String,
        state: ConnectionState,
    },
    /// The call left `from` without being answered there; it now rings at `device` (or,
    /// for a pickup, `device` answers it; an `Established` follows).
    Diverted {
        call: CallId,
        device: DeviceId,
        channel: String,
        from: Endpoint,
        reason: DivertReason,
        caller: Party,
        called: Party,
    },
    /// `transferring` handed the call to `targets` (one, or several ringing at once for a
    /// group). `call` keeps its id; for an attended or blonde transfer the consultation
    /// call `secondary_call` is merged into it and reported cleared.
    Transferred {
        call: CallId,
        kind: TransferKind,
        transferring: Endpoint,
        transferred: Endpoint,
        targets: Vec<Endpoint>,
        secondary_call: Option<CallId>,
        caller: Party,
    },
    /// Three or more devices talk together (a conference bridge or a 3-way call).
    Conferenced {
        call: CallId,
        device: DeviceId,
        channel: String,
        state: ConnectionState,
        parties: Vec<DeviceId>,
    },
    /// The call waits in `queue`.
    Queued {
        call: CallId,
        device: DeviceId,
        queue: String,
        state: ConnectionState,
        caller: Party,
        position: Option<u32>,
    },
    /// The call could not reach `device`.
    Failed {
        call: CallId,
        device: DeviceId,
        channel: String,
        state: ConnectionState,
        reason: FailureReason,
        cause: Option<Cause>,
    },
    /// `device` left the call. `previous` says whether it was ringing (a caller gave up, or
    /// the call was answered elsewhere), talking, or had failed.
    ConnectionCleared {
        call: CallId,
        device: DeviceId,
        channel: String,
        state: ConnectionState,
        previous: ConnectionState,
        cause: Option<Cause>,
        /// The device whose hang-up ended the talk, when the PBX said (`HangupRequest`,
        /// `SoftHangupRequest`): this `device` itself, or the party it talked to. Asterisk
        /// clears the called channel first whoever hung up, so the order of these events
        /// does not tell it; TAPI needs it (the far end sees `DISCONNECTED`).
        #[serde(default)]
        released_by: Option<DeviceId>,
    },
    /// The call ended; it and its connections are gone. `answered` is false for a missed
    /// or failed call; `merged_into` is set when a transfer merged this call into another.
    CallCleared {
        call: CallId,
        cause: Option<Cause>,
        answered: bool,
        merged_into: Option<CallId>,
    },
    /// A device's state changed.
    DeviceState {
        device: DeviceId,
        state: DeviceState,
        previous: DeviceState,
    },
    /// The PBX no longer has `device` (its configuration changed while the link was down:
    /// a restart or reload with other extensions). Reported by a resync, just before
    /// `Resynced`, once for each device that none of the PBX's lists names any more; the
    /// device is gone from the model and its later snapshots, and a device id the PBX
    /// brings back later starts again as a new device. A model kept from events (a
    /// [`Mirror`](super::Mirror), a binding's table of lines) drops the device here.
    DeviceRemoved {
        device: DeviceId,
    },
    /// A device's presence changed (`PresenceStateChange`: available, away, dnd...).
    Presence {
        device: DeviceId,
        presence: String,
        subtype: String,
        message: String,
    },
    DoNotDisturb {
        device: DeviceId,
        enabled: bool,
    },
    /// Forwarding of `kind` changed: on to `to`, or off (`None`).
    Forwarding {
        device: DeviceId,
        kind: ForwardKind,
        to: Option<String>,
    },
    /// An AMI `UserEvent` from the dialplan, passed through (applications use it to carry
    /// their own data along a call).
    UserEvent {
        name: String,
        call: Option<CallId>,
        fields: Vec<(String, String)>,
    },
    /// The model was rebuilt from the PBX's lists (after connect and every reconnect).
    /// The calls and device changes it lists were already reported as `CallCleared` and
    /// device events (`DeviceState`..., `DeviceRemoved` for a device the PBX no longer
    /// has) just before it.
    Resynced {
        calls_ended: Vec<CallId>,
        calls_found: Vec<CallId>,
        devices_changed: Vec<DeviceId>,
    },
    /// The link to the PBX is up (again).
    LinkUp {
        reconnected: bool,
    },
    /// The link to the PBX is down; the model is frozen until `Resynced`.
    LinkDown {
        reason: String,
    },
    /// This consumer fell behind and `missed` events were dropped; ask for a snapshot.
    Lagged {
        missed: u64,
    },
}

impl Event {
    /// The snake_case kind, as in the JSON `event` field.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Originated { .. } => "originated",
            Event::Delivered { .. } => "delivered",
            Event::Established { .. } => "established",
            Event::Held { .. } => "held",
            Event::Retrieved { .. } => "retrieved",
            Event::Diverted { .. } => "diverted",
            Event::Transferred { .. } => "transferred",
            Event::Conferenced { .. } => "conferenced",
            Event::Queued { .. } => "queued",
            Event::Failed { .. } => "failed",
            Event::ConnectionCleared { .. } => "connection_cleared",
            Event::CallCleared { .. } => "call_cleared",
            Event::DeviceState { .. } => "device_state",
            Event::DeviceRemoved { .. } => "device_removed",
            Event::Presence { .. } => "presence",
            Event::DoNotDisturb { .. } => "do_not_disturb",
            Event::Forwarding { .. } => "forwarding",
            Event::UserEvent { .. } => "user_event",
            Event::Resynced { .. } => "resynced",
            Event::LinkUp { .. } => "link_up",
            Event::LinkDown { .. } => "link_down",
            Event::Lagged { .. } => "lagged",
        }
    }

    /// The call this event belongs to, if any.
    pub fn call(&self) -> Option<&CallId> {
        match self {
            Event::Originated { call, .. }
            | Event::Delivered { call, .. }
            | Event::Established { call, .. }
            | Event::Held { call, .. }
            | Event::Retrieved { call, .. }
            | Event::Diverted { call, .. }
            | Event::Transferred { call, .. }
            | Event::Conferenced { call, .. }
            | Event::Queued { call, .. }
            | Event::Failed { call, .. }
            | Event::ConnectionCleared { call, .. }
            | Event::CallCleared { call, .. } => Some(call),
            Event::UserEvent { call, .. } => call.as_ref(),
            _ => None,
        }
    }

    /// The device whose state or connection this event reports, if any.
    pub fn device(&self) -> Option<&DeviceId> {
        match self {
            Event::Originated { device, .. }
            | Event::Delivered { device, .. }
            | Event::Established { device, .. }
            | Event::Held { device, .. }
            | Event::Retrieved { device, .. }
            | Event::Diverted { device, .. }
            | Event::Conferenced { device, .. }
            | Event::Queued { device, .. }
            | Event::Failed { device, .. }
            | Event::ConnectionCleared { device, .. }
            | Event::DeviceState { device, .. }
            | Event::DeviceRemoved { device }
            | Event::Presence { device, .. }
            | Event::DoNotDisturb { device, .. }
            | Event::Forwarding { device, .. } => Some(device),
            Event::Transferred { transferring, .. } => Some(&transferring.device),
            _ => None,
        }
    }

    /// The PBX channel of the connection this event reports, if any (`""` for a queue's
    /// connection, which has no channel).
    pub fn channel(&self) -> Option<&str> {
        match self {
            Event::Originated { channel, .. }
            | Event::Delivered { channel, .. }
            | Event::Established { channel, .. }
            | Event::Held { channel, .. }
            | Event::Retrieved { channel, .. }
            | Event::Diverted { channel, .. }
            | Event::Conferenced { channel, .. }
            | Event::Failed { channel, .. }
            | Event::ConnectionCleared { channel, .. } => Some(channel),
            Event::Queued { .. } => Some(""),
            Event::Transferred { transferring, .. } => Some(&transferring.channel),
            _ => None,
        }
    }

    /// The connection state this event moved `device` to, if it reports one.
    pub fn connection_state(&self) -> Option<ConnectionState> {
        match self {
            Event::Originated { state, .. }
            | Event::Delivered { state, .. }
            | Event::Established { state, .. }
            | Event::Held { state, .. }
            | Event::Retrieved { state, .. }
            | Event::Conferenced { state, .. }
            | Event::Queued { state, .. }
            | Event::Failed { state, .. }
            | Event::ConnectionCleared { state, .. } => Some(*state),
            _ => None,
        }
    }
}
