//! The C enums besides the result: event types and the states a host reads. Like the
//! result codes, every value is fixed forever; new ones are added, none is reused. Inputs
//! from C arrive as `uint32_t` and are checked, because a C host can pass any number and
//! a Rust enum holding an undefined value is undefined behaviour.

use ctilink_core::model::{DeviceState, FailureReason};
use ctilink_core::{AstDbConvention, ConnectionState, Event, ForwardKind, LinkStatus};

/// What an event reports. `ctilink_event_json` gives every field of any type.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ctilink_event_type {
    /// A call the host has not been told about: sent before its first state event, for
    /// calls that exist when the session starts, and again for every call after
    /// `RESYNCED` (the host forgets all calls at `LINK_DOWN`).
    NewCall = 1,
    /// A request finished: `ctilink_event_request_id`, `ctilink_event_result`, and for
    /// `make_call`/`consultation_call` the new call's id.
    RequestCompleted = 2,
    Originated = 10,
    Delivered = 11,
    Established = 12,
    Held = 13,
    Retrieved = 14,
    Diverted = 15,
    Transferred = 16,
    Conferenced = 17,
    Queued = 18,
    Failed = 19,
    ConnectionCleared = 20,
    CallCleared = 21,
    DeviceState = 30,
    Presence = 31,
    DoNotDisturb = 32,
    Forwarding = 33,
    UserEvent = 34,
    /// The PBX no longer has the device (`ctilink_event_device`): a resync found it in none
    /// of the PBX's lists (a restart or reload with other extensions). Sent before
    /// `RESYNCED`; forget the device. A device id the PBX brings back later is new.
    DeviceRemoved = 35,
    Resynced = 40,
    LinkUp = 41,
    LinkDown = 42,
    /// Events were dropped because the host fell behind; the calls were made up for by
    /// `CALL_CLEARED`/`NEW_CALL` events right after this one.
    Lagged = 43,
    /// A kind this header does not name yet; read it with `ctilink_event_kind`.
    Other = 99,
}

impl ctilink_event_type {
    pub(crate) fn of(ev: &Event) -> Self {
        use ctilink_event_type as T;
        match ev {
            Event::Originated { .. } => T::Originated,
            Event::Delivered { .. } => T::Delivered,
            Event::Established { .. } => T::Established,
            Event::Held { .. } => T::Held,
            Event::Retrieved { .. } => T::Retrieved,
            Event::Diverted { .. } => T::Diverted,
            Event::Transferred { .. } => T::Transferred,
            Event::Conferenced { .. } => T::Conferenced,
            Event::Queued { .. } => T::Queued,
            Event::Failed { .. } => T::Failed,
            Event::ConnectionCleared { .. } => T::ConnectionCleared,
            Event::CallCleared { .. } => T::CallCleared,
            Event::DeviceState { .. } => T::DeviceState,
            Event::Presence { .. } => T::Presence,
            Event::DoNotDisturb { .. } => T::DoNotDisturb,
            Event::Forwarding { .. } => T::Forwarding,
            Event::UserEvent { .. } => T::UserEvent,
            Event::DeviceRemoved { .. } => T::DeviceRemoved,
            Event::Resynced { .. } => T::Resynced,
            Event::LinkUp { .. } => T::LinkUp,
            Event::LinkDown { .. } => T::LinkDown,
            Event::Lagged { .. } => T::Lagged,
            _ => T::Other,
        }
    }
}

/// A device's connection to a call (ECMA-269). `NONE` means the event carries none.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ctilink_connection_state {
    None = 0,
    Null = 1,
    Initiated = 2,
    Alerting = 3,
    Connected = 4,
    Held = 5,
    Queued = 6,
    Failed = 7,
}

impl From<Option<ConnectionState>> for ctilink_connection_state {
    fn from(s: Option<ConnectionState>) -> Self {
        use ctilink_connection_state as C;
        match s {
            None => C::None,
            Some(ConnectionState::Null) => C::Null,
            Some(ConnectionState::Initiated) => C::Initiated,
            Some(ConnectionState::Alerting) => C::Alerting,
            Some(ConnectionState::Connected) => C::Connected,
            Some(ConnectionState::Held) => C::Held,
            Some(ConnectionState::Queued) => C::Queued,
            Some(ConnectionState::Failed) => C::Failed,
        }
    }
}

/// An extension's state, as its lamp shows it. `NONE` means the event carries none.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ctilink_device_state {
    None = 0,
    Idle = 1,
    InUse = 2,
    Busy = 3,
    Ringing = 4,
    /// In a call and ringing with another.
    RingInUse = 5,
    OnHold = 6,
    /// Not registered, or does not exist.
    Unavailable = 7,
    Unknown = 8,
}

impl From<Option<DeviceState>> for ctilink_device_state {
    fn from(s: Option<DeviceState>) -> Self {
        use ctilink_device_state as D;
        match s {
            None => D::None,
            Some(DeviceState::Idle) => D::Idle,
            Some(DeviceState::InUse) => D::InUse,
            Some(DeviceState::Busy) => D::Busy,
            Some(DeviceState::Ringing) => D::Ringing,
            Some(DeviceState::RingInUse) => D::RingInUse,
            Some(DeviceState::OnHold) => D::OnHold,
            Some(DeviceState::Unavailable) => D::Unavailable,
            #[allow(unreachable_patterns)]
            Some(_) => D::Unknown,
        }
    }
}

/// Why a connection failed (`FAILED` events). `NONE` for other events.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ctilink_failure_reason {
    None = 0,
    Busy = 1,
    NoAnswer = 2,
    Rejected = 3,
    /// The device is not registered or the number does not exist.
    Unreachable = 4,
    Congestion = 5,
    Other = 6,
}

impl From<FailureReason> for ctilink_failure_reason {
    fn from(r: FailureReason) -> Self {
        use ctilink_failure_reason as F;
        match r {
            FailureReason::Busy => F::Busy,
            FailureReason::NoAnswer => F::NoAnswer,
            FailureReason::Rejected => F::Rejected,
            FailureReason::Unreachable => F::Unreachable,
            FailureReason::Congestion => F::Congestion,
            #[allow(unreachable_patterns)]
            _ => F::Other,
        }
    }
}

/// Kinds of call forwarding. `NONE` for events that are not about forwarding.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ctilink_forward_kind {
    None = 0,
    /// Every call (CFU).
    Immediate = 1,
    /// Calls that find the device busy (CFB).
    Busy = 2,
    /// Calls the device does not answer in time (CFNA).
    NoAnswer = 3,
}

impl From<ForwardKind> for ctilink_forward_kind {
    fn from(k: ForwardKind) -> Self {
        match k {
            ForwardKind::Immediate => ctilink_forward_kind::Immediate,
            ForwardKind::Busy => ctilink_forward_kind::Busy,
            ForwardKind::NoAnswer => ctilink_forward_kind::NoAnswer,
        }
    }
}

/// A forwarding kind from the host's number.
pub(crate) fn forward_kind(v: u32) -> Option<ForwardKind> {
    match v {
        1 => Some(ForwardKind::Immediate),
        2 => Some(ForwardKind::Busy),
        3 => Some(ForwardKind::NoAnswer),
        _ => None,
    }
}

/// The AstDB convention the PBX's dialplan follows for do-not-disturb and forwarding
/// (`ctilink_options_set_astdb`, or `astdb=` in the URL; docs/call-control.md).
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ctilink_astdb_convention {
    /// Neither: do-not-disturb and forwarding commands fail `UNSUPPORTED` (`astdb=0`).
    None = 0,
    /// ctilink's dialplan snippet: `DND`, `CF`, `CFB`, `CFNA` (`astdb=1`).
    Ctilink = 1,
    /// FreePBX's modules: `DND`, `CF`, `CFB`, `CFU` and the `Custom:CF` lamp (`astdb=freepbx`).
    Freepbx = 2,
}

/// An AstDB convention from the host's number: `Some(None)` for none, `None` if unknown.
pub(crate) fn astdb_convention(v: u32) -> Option<Option<AstDbConvention>> {
    use ctilink_astdb_convention as C;
    match v {
        v if v == C::None as u32 => Some(None),
        v if v == C::Ctilink as u32 => Some(Some(AstDbConvention::Ctilink)),
        v if v == C::Freepbx as u32 => Some(Some(AstDbConvention::FreePbx)),
        _ => None,
    }
}

/// The state of the session's link to the PBX.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ctilink_link_status {
    Up = 1,
    /// Down, reconnecting; the model is frozen until `RESYNCED`.
    Down = 2,
    Closed = 3,
}

impl From<LinkStatus> for ctilink_link_status {
    fn from(s: LinkStatus) -> Self {
        match s {
            LinkStatus::Up => ctilink_link_status::Up,
            LinkStatus::Down { .. } => ctilink_link_status::Down,
            #[allow(unreachable_patterns)]
            _ => ctilink_link_status::Closed,
        }
    }
}
