//! Device state, presence, do-not-disturb and forwarding.
//!
//! Asterisk reports a device twice over: `ExtensionStatus` for the extension (`100`, with
//! its hint `PJSIP/100`) and `DeviceStateChange` for the interface (`PJSIP/100`). Both
//! feed the same [`Device`], named by the interface's resource, and a state is reported
//! only when it changes. Do-not-disturb follows the custom device state `Custom:DND<id>`
//! that the dialplan sets (see docs/call-model.md); forwarding follows the
//! `UserEvent: ctilink-forward` the dialplan sends when the user changes it.
//!
//! A PBX whose hints are patterns (`_1XX`, which Asterisk 22's `ExtensionStateList` skips)
//! or that has none still names its phones in `PJSIPShowEndpoints` (`EndpointList`) and
//! chan_sip's `SIPpeers` (`PeerEntry`): [`endpoint_of`] reads a device out of those.

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

/// A device that an `EndpointList` (`PJSIPShowEndpoints`) or `PeerEntry` (`SIPpeers`)
/// item names: its id, its interface (`PJSIP/100`, `SIP/100`) and its state as far as
/// the item tells.
///
/// `EndpointList` carries Asterisk's device state in words (`ast_devstate2str`: `Not in
/// use`, `In use`, `Ringing`...). `PeerEntry` carries only reachability (`OK (5 ms)`,
/// `UNREACHABLE`, `Unmonitored`) and an address (`-none-` while unregistered): a peer
/// that cannot be reached is unavailable, one that can is idle unless `busy` says it has
/// a channel, as chan_sip's own device state would say.
pub(super) fn endpoint_of(
    msg: &Message,
    busy: impl Fn(&str) -> bool,
) -> Option<(String, String, DeviceState)> {
    let name = msg.get("ObjectName").map(str::trim).filter(|n| !n.is_empty() && !n.contains(['/', '&']))?;
    if msg.is_event("EndpointList") {
        let iface = format!("PJSIP/{name}");
        let id = device_of_interface(&iface)?.to_owned();
        let state = msg.get("DeviceState").map_or(DeviceState::Unknown, devstate_words);
        return Some((id, iface, state));
    }
    if !msg.is_event("PeerEntry") {
        return None;
    }
    let tech = msg.get("Channeltype").map(str::trim).filter(|t| !t.is_empty() && !t.contains(['/', ':']));
    let iface = format!("{}/{name}", tech.unwrap_or("SIP"));
    let id = device_of_interface(&iface)?.to_owned();
    let status = msg.get("Status").map(str::trim).unwrap_or("").to_ascii_uppercase();
    let address = msg.get("IPaddress").map(str::trim).unwrap_or("");
    let unregistered = matches!(address, "" | "-none-" | "(null)");
    let state = if status.starts_with("UNREACHABLE") || unregistered {
        DeviceState::Unavailable
    } else if busy(&iface) {
        DeviceState::InUse
    } else {
        DeviceState::Idle
    };
    Some((id, iface, state))
}

/// Asterisk's device state in words (`ast_devstate2str`), or in its `DEVICE_STATE()` form.
fn devstate_words(s: &str) -> DeviceState {
    match s.trim().to_ascii_lowercase().as_str() {
        "not in use" => DeviceState::Idle,
        "in use" => DeviceState::InUse,
        "ring+inuse" => DeviceState::RingInUse,
        "on hold" => DeviceState::OnHold,
        _ => DeviceState::from_device_state(s),
    }
}

/// The device a state-list item (`ExtensionStatus`, `DeviceStateChange`) is about, as
/// [`Tracker::on_extension_status`] and [`Tracker::on_device_state_change`] name it.
pub(super) fn state_list_device(msg: &Message) -> Option<String> {
    if let Some(hint) = msg.get("Hint") {
        let exten = msg.get("Exten").map(str::trim).filter(|e| !e.is_empty());
        return device_of_interface(hint.trim()).map(str::to_owned).or_else(|| exten.map(str::to_owned));
    }
    msg.get("Device").and_then(|d| device_of_interface(d.trim())).map(str::to_owned)
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
            // Off is `NOT_INUSE` from the feature codes, but FreePBX's UCP and API write
            // `UNAVAILABLE` (Donotdisturb.class.php): only a lit lamp means on.
            let enabled = !matches!(
                DeviceState::from_device_state(state),
                DeviceState::Idle | DeviceState::Unknown | DeviceState::Unavailable
            );
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

    /// A device learned from an endpoint list at resync (`endpoint_of`).
    pub(super) fn on_endpoint(&mut self, id: &str, iface: &str, state: DeviceState, out: &mut Vec<Event>) {
        self.set_device_state(id, Some(iface), state, out);
    }

    /// Sets a device's do-not-disturb from outside the event stream (the PBX's AstDB, read
    /// at resync where the lamp may be missing). Returns the `DoNotDisturb` event if it
    /// changed. A device the model does not know is left alone.
    pub fn set_do_not_disturb(&mut self, device: &str, enabled: bool) -> Option<Event> {
        let dev = self.devices.get_mut(device)?;
        if dev.do_not_disturb == enabled {
            return None;
        }
        dev.do_not_disturb = enabled;
        Some(Event::DoNotDisturb { device: dev.id.clone(), enabled })
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
