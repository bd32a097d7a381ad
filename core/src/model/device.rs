//! A device: an extension or trunk the PBX reports on.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ids::DeviceId;
use super::state::DeviceState;

/// What the model knows about a device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub id: DeviceId,
    /// The PBX interface (`PJSIP/100`), once seen.
    pub interface: Option<String>,
    pub state: DeviceState,
    /// Presence (`available`, `away`, `dnd`...) where the PBX sends it.
    pub presence: Option<String>,
    pub do_not_disturb: bool,
    /// Where every call is forwarded to, if immediate forwarding is on.
    pub forward_to: Option<String>,
    /// Where calls go when the device is busy.
    pub forward_busy: Option<String>,
    /// Where calls go when the device does not answer.
    pub forward_no_answer: Option<String>,
}

impl Device {
    /// The forwarding target of one kind.
    pub fn forwarding(&self, kind: ForwardKind) -> Option<&str> {
        match kind {
            ForwardKind::Immediate => self.forward_to.as_deref(),
            ForwardKind::Busy => self.forward_busy.as_deref(),
            ForwardKind::NoAnswer => self.forward_no_answer.as_deref(),
        }
    }

    pub(crate) fn forwarding_mut(&mut self, kind: ForwardKind) -> &mut Option<String> {
        match kind {
            ForwardKind::Immediate => &mut self.forward_to,
            ForwardKind::Busy => &mut self.forward_busy,
            ForwardKind::NoAnswer => &mut self.forward_no_answer,
        }
    }

    pub(crate) fn new(id: DeviceId) -> Self {
        Device {
            id,
            interface: None,
            state: DeviceState::Unknown,
            presence: None,
            do_not_disturb: false,
            forward_to: None,
            forward_busy: None,
            forward_no_answer: None,
        }
    }
}

/// Which calls a forwarding applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForwardKind {
    /// Every call (CFU).
    Immediate,
    /// Calls that find the device busy (CFB).
    Busy,
    /// Calls the device does not answer in time (CFNA).
    NoAnswer,
}

impl ForwardKind {
    /// From `immediate`, `busy`, `no_answer` (also `unconditional`, `cfu`, `cfb`, `cfna`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "immediate" | "unconditional" | "always" | "cfu" | "cf" => Some(ForwardKind::Immediate),
            "busy" | "cfb" => Some(ForwardKind::Busy),
            "no_answer" | "noanswer" | "no-answer" | "cfna" => Some(ForwardKind::NoAnswer),
            _ => None,
        }
    }

    /// The snake_case name, as in events and the wire protocol.
    pub fn as_str(self) -> &'static str {
        match self {
            ForwardKind::Immediate => "immediate",
            ForwardKind::Busy => "busy",
            ForwardKind::NoAnswer => "no_answer",
        }
    }
}

impl fmt::Display for ForwardKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
