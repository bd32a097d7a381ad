//! A call as the application sees it: parties and their connections, not PBX channels.

use serde::{Deserialize, Serialize};

use super::event::{DivertReason, Endpoint};
use super::ids::{CallId, DeviceId};
use super::state::{ConnectionState, Party};

/// One device's part in one call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    pub device: DeviceId,
    /// The PBX channel carrying it (`PJSIP/100-0000002a`).
    pub channel: String,
    pub state: ConnectionState,
}

/// Who a redirected call was meant for and why it moved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diversion {
    pub from: Endpoint,
    pub reason: DivertReason,
}

/// A call: its stable id, who called whom, and the connections of the devices in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    pub id: CallId,
    /// The device that placed the call (for a click-to-dial, the user's own phone).
    pub calling_device: Option<DeviceId>,
    pub caller: Party,
    pub called: Party,
    pub connections: Vec<Connection>,
    /// Whether any called party answered.
    pub answered: bool,
    pub diverted: Option<Diversion>,
    /// True while the user's phone rings for a click-to-dial.
    pub click_to_dial: bool,
}

impl Call {
    /// The connection of `device` in this call.
    pub fn connection(&self, device: &str) -> Option<&Connection> {
        self.connections.iter().find(|c| c.device.as_str() == device)
    }
}
