//! A device: an extension or trunk the PBX reports on.

use serde::Serialize;

use super::ids::DeviceId;
use super::state::DeviceState;

/// What the model knows about a device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Device {
    pub id: DeviceId,
    /// The PBX interface (`PJSIP/100`), once seen.
    pub interface: Option<String>,
    pub state: DeviceState,
    /// Presence (`available`, `away`, `dnd`...) where the PBX sends it.
    pub presence: Option<String>,
    pub do_not_disturb: bool,
    /// Where calls are forwarded to, if forwarding is on.
    pub forward_to: Option<String>,
}

impl Device {
    pub(crate) fn new(id: DeviceId) -> Self {
        Device {
            id,
            interface: None,
            state: DeviceState::Unknown,
            presence: None,
            do_not_disturb: false,
            forward_to: None,
        }
    }
}
