//! The CSTA (ECMA-269) connection states and the device states, with the transitions the
//! tracker is allowed to make. The table is the contract that every binding and the TAPI
//! shim rely on: a consumer may assume that no other transition is ever reported.

use serde::{Deserialize, Serialize};

/// The state of one device's connection to one call (ECMA-269 §6.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    /// No relationship between the call and the device (before it starts, after it ends).
    Null,
    /// The device is starting a call: off hook, the destination not yet known.
    Initiated,
    /// The device is ringing.
    Alerting,
    /// The device is in the call (talking, or dialing out and hearing ringback).
    Connected,
    /// The device put the call on hold.
    Held,
    /// The call waits in a queue (the connection of the queue).
    Queued,
    /// The call could not reach the device (busy, rejected, unreachable...).
    Failed,
}

impl ConnectionState {
    /// Whether the tracker may move a connection from `self` to `to`.
    ///
    /// This is the ECMA-269 connection state diagram, restricted to what a PBX can
    /// report: a connection never returns to `Initiated` or `Alerting` once connected, and
    /// a failed connection can only be cleared.
    pub fn can_become(self, to: ConnectionState) -> bool {
        use ConnectionState::*;
        matches!(
            (self, to),
            (Null, Initiated | Alerting | Connected | Queued | Failed)
                | (Initiated, Alerting | Connected | Failed | Null)
                | (Alerting, Connected | Failed | Null)
                | (Connected, Held | Failed | Null)
                | (Held, Connected | Null)
                | (Queued, Alerting | Connected | Failed | Null)
                | (Failed, Null)
        )
    }

    /// All states, for tables and tests.
    pub const ALL: [ConnectionState; 7] = [
        ConnectionState::Null,
        ConnectionState::Initiated,
        ConnectionState::Alerting,
        ConnectionState::Connected,
        ConnectionState::Held,
        ConnectionState::Queued,
        ConnectionState::Failed,
    ];
}

/// What a device is doing, as the PBX reports it (`ExtensionStatus`, `DeviceStateChange`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    Idle,
    InUse,
    Busy,
    Ringing,
    /// In a call and ringing with another.
    RingInUse,
    OnHold,
    /// Not registered, or does not exist.
    Unavailable,
    Unknown,
}

impl DeviceState {
    /// From the `Status:` number of `ExtensionStatus` (a bit set: 1 in use, 2 busy,
    /// 4 unavailable, 8 ringing, 16 on hold; -1 removed, -2 deactivated).
    pub fn from_extension_status(status: i32) -> Self {
        if status < 0 {
            return Self::Unavailable;
        }
        let inuse = status & 1 != 0;
        let ringing = status & 8 != 0;
        if status & 4 != 0 {
            Self::Unavailable
        } else if ringing && inuse {
            Self::RingInUse
        } else if ringing {
            Self::Ringing
        } else if status & 16 != 0 {
            Self::OnHold
        } else if status & 2 != 0 {
            Self::Busy
        } else if inuse {
            Self::InUse
        } else {
            Self::Idle
        }
    }

    /// From the `State:` text of `DeviceStateChange` (`NOT_INUSE`, `INUSE`, `RINGING`...).
    pub fn from_device_state(state: &str) -> Self {
        match state.trim().to_ascii_uppercase().as_str() {
            "NOT_INUSE" => Self::Idle,
            "INUSE" => Self::InUse,
            "BUSY" => Self::Busy,
            "RINGING" => Self::Ringing,
            "RINGINUSE" => Self::RingInUse,
            "ONHOLD" => Self::OnHold,
            "UNAVAILABLE" | "INVALID" => Self::Unavailable,
            _ => Self::Unknown,
        }
    }
}

/// Whether the network may show a number (from `CID-CallingPres`, Q.931 presentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presentation {
    #[default]
    Allowed,
    /// The caller withheld the number ("anonymous").
    Restricted,
    /// The network does not know the number.
    Unavailable,
}

impl Presentation {
    /// From `CID-CallingPres: 1 (Presentation Allowed, Passed Screen)` or a bare number:
    /// bits 5-6 of the octet are the presentation indicator.
    pub fn from_calling_pres(value: &str) -> Self {
        let num = value.split_whitespace().next().unwrap_or("");
        match num.parse::<u8>() {
            Ok(v) => match (v >> 5) & 0x3 {
                0 => Self::Allowed,
                1 => Self::Restricted,
                _ => Self::Unavailable,
            },
            Err(_) => Self::Allowed,
        }
    }
}

/// A party's number and name as the PBX shows them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    pub number: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "is_allowed")]
    pub presentation: Presentation,
}

fn is_allowed(p: &Presentation) -> bool {
    *p == Presentation::Allowed
}

impl Party {
    /// A party from AMI caller-id fields; Asterisk writes `<unknown>` for "not set".
    pub fn new(number: &str, name: &str) -> Self {
        Party { number: clean(number).to_owned(), name: clean(name).to_owned(), ..Party::default() }
    }

    /// Whether neither number nor name is known.
    pub fn is_empty(&self) -> bool {
        self.number.is_empty() && self.name.is_empty()
    }
}

pub(crate) fn clean(v: &str) -> &str {
    let v = v.trim();
    if v == "<unknown>" {
        ""
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_are_closed_under_the_table() {
        use ConnectionState::*;
        assert!(Null.can_become(Alerting));
        assert!(Alerting.can_become(Connected));
        assert!(!Connected.can_become(Alerting));
        assert!(!Failed.can_become(Connected));
        for s in ConnectionState::ALL {
            assert!(!s.can_become(s), "{s:?} to itself is not a transition");
            if s != Null {
                assert!(s.can_become(Null), "{s:?} can always be cleared");
            }
        }
    }

    #[test]
    fn extension_status_bits() {
        assert_eq!(DeviceState::from_extension_status(0), DeviceState::Idle);
        assert_eq!(DeviceState::from_extension_status(1), DeviceState::InUse);
        assert_eq!(DeviceState::from_extension_status(8), DeviceState::Ringing);
        assert_eq!(DeviceState::from_extension_status(9), DeviceState::RingInUse);
        assert_eq!(DeviceState::from_extension_status(4), DeviceState::Unavailable);
        assert_eq!(DeviceState::from_extension_status(16), DeviceState::OnHold);
        assert_eq!(DeviceState::from_extension_status(-1), DeviceState::Unavailable);
    }

    #[test]
    fn presentation() {
        assert_eq!(
            Presentation::from_calling_pres("1 (Presentation Allowed, Passed Screen)"),
            Presentation::Allowed
        );
        assert_eq!(
            Presentation::from_calling_pres("35 (Presentation Restricted, Passed Screen)"),
            Presentation::Restricted
        );
        assert_eq!(Presentation::from_calling_pres("67"), Presentation::Unavailable);
    }
}
