//! Device state, presence, do-not-disturb and forwarding.
//!
//! Asterisk reports a device twice over: `ExtensionStatus` for the extension (`100`, with
//! its hint `PJSIP/100`) and `DeviceStateChange` for the interface (`PJSIP/100`). Both
//! feed the same [`Device`], named by the interface's resource, and a state is reported
//! only when it changes. Do-not-disturb follows the custom device state `Custom:DND<id>`
//! that the dialplan sets (see docs/call-model.md); forwarding follows the
//! `UserEvent: ctilink-forward` the dialplan sends when the user changes it.

use crate::ami::Message;
use crate::model::device::{Device, ForwardKind};
use crate::model::event::Event;
use crate::model::ids::{interface_of, DeviceId};
use crate::model::state::DeviceState;

use super::Tracker;

/// The device id for an interface or hint (`PJSIP/100`, `SIP/100&Custom:DND100`).
///
/// Only phone and trunk interfaces are devices: `Local/...` is dialplan plumbing, and
/// names with a `:` before the `/` are Asterisk's own state providers
/// (`Queue:support_pause_SIP/102`, `Custom:DND100`, `Park:701@parkedcalls`).
fn device_of_interface(iface: &str) -> Option<&str> {
    let first = iface.split('&').next()?.trim();
    let (tech, res) = first.split_once('/')?;
    if tech.is_empty() || tech.contains(':') || tech.eq_ignore_ascii_case("Local") || res.is_empty() {
        return None;
    }
    interface_of(first).map(|(_, d)| d).or(Some(res))
}

impl Tracker {
    fn device_mut(&mut self, id: &str) -> Option<&mut Device> {
        if !self.devices.contains_key(id) {
            if self.devices.len() >= self.limits.max_devices {
                return None;
            }
            let id = DeviceId::new(id);
            self.devices.insert(id.clone(), Device::new(id));
        }
        self.devices.get_mut(id)
    }

    pub(super) fn set_device_state(
        &mut self,
        id: &str,
        iface: Option<&str>,
        state: DeviceState,
        out: &mut Vec<Event>,
    ) {
        let Some(dev) = self.device_mut(id) else { return };
        if let Some(i) = iface {
            if dev.interface.as_deref() != Some(i) {
                dev.interface = Some(i.to_owned());
            }
        }
        if dev.state == state {
            return;
        }
        let previous = std::mem::replace(&mut dev.state, state);
        out.push(Event::DeviceState { device: dev.id.clone(), state, previous });
    }

    pub(super) fn on_extension_status(&mut self, msg: &Message, out: &mut Vec<Event>) {
        let Some(status) = msg.get("Status").and_then(|s| s.trim().parse::<i32>().ok()) else { return };
        let exten = msg.get("Exten").map(str::trim).unwrap_or("");
        let hint = msg.get("Hint").map(str::trim).unwrap_or("");
        let state = DeviceState::from_extension_status(status);
        let (id, iface) = match device_of_interface(hint) {
            Some(d) => (d.to_owned(), hint.split('&').next().map(|s| s.trim().to_owned())),
            None if !exten.is_empty() => (exten.to_owned(), None),
            None => return,
        };
        self.set_device_state(&id, iface.as_deref(), state, out);
    }

    pub(super) fn on_device_state_change(&mut self, msg: &Message, out: &mut Vec<Event>) {
        let Some(device) = msg.get("Device").map(str::trim) else { return };
        let state = msg.get("State").map(str::trim).unwrap_or("");
        if let Some(id) = device.strip_prefix("Custom:DND").or_else(|| device.strip_prefix("Custom:dnd")) {
            if id.is_empty() {
                return;
            }
            let enabled =
                !matches!(DeviceState::from_device_state(state), DeviceState::Idle | DeviceState::Unknown);
            let Some(dev) = self.device_mut(id) else { return };
            if dev.do_not_disturb != enabled {
                dev.do_not_disturb = enabled;
                out.push(Event::DoNotDisturb { device: dev.id.clone(), enabled });
            }
            return;
        }
        let Some(id) = device_of_interface(device) else { return };
        let id = id.to_owned();
        self.set_device_state(&id, Some(device), DeviceState::from_device_state(state), out);
    }

    pub(super) fn on_presence(&mut self, msg: &Message, out: &mut Vec<Event>) {
        let Some(presentity) = msg.get("Presentity").map(str::trim) else { return };
        let id = presentity.rsplit(':').next().unwrap_or(presentity);
        if id.is_empty() {
            return;
        }
        let presence = msg.get_lossy("Status").map(|s| s.trim().to_owned()).unwrap_or_default();
        let subtype = msg.get_lossy("Subtype").map(|s| s.trim().to_owned()).unwrap_or_default();
        let message = msg.get_lossy("Message").map(|s| s.trim().to_owned()).unwrap_or_default();
        let Some(dev) = self.device_mut(id) else { return };
        if dev.presence.as_deref() == Some(presence.as_str()) {
            return;
        }
        dev.presence = Some(presence.clone());
        out.push(Event::Presence { device: dev.id.clone(), presence, subtype, message });
    }

    /// `UserEvent: ctilink-forward` with `Device: 100`, `Kind: immediate|busy|no_answer`
    /// (immediate when absent) and `Target: 200` (empty: off). An unknown kind is ignored.
    pub(super) fn on_forward_event(&mut self, msg: &Message, out: &mut Vec<Event>) {
        let Some(id) = msg.get("Device").map(str::trim).filter(|d| !d.is_empty()) else { return };
        let kind = match msg.get("Kind") {
            None => ForwardKind::Immediate,
            Some(k) => match ForwardKind::parse(k) {
                Some(k) => k,
                None => return,
            },
        };
        let target = msg.get("Target").map(str::trim).filter(|t| !t.is_empty());
        out.extend(self.set_forwarding(id, kind, target));
    }

    /// Sets a device's forwarding of `kind` from outside the event stream (the PBX's
    /// AstDB, read after a reconnect, when changes made meanwhile sent no event to us).
    /// Returns the `Forwarding` event if it changed.
    pub fn set_forwarding(&mut self, device: &str, kind: ForwardKind, to: Option<&str>) -> Option<Event> {
        let dev = self.device_mut(device)?;
        let slot = dev.forwarding_mut(kind);
        if slot.as_deref() == to {
            return None;
        }
        *slot = to.map(str::to_owned);
        Some(Event::Forwarding { device: dev.id.clone(), kind, to: to.map(str::to_owned) })
    }
}
