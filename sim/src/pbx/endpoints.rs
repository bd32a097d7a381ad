//! The endpoint lists: `PJSIPShowEndpoints` (`EndpointList`, res_pjsip's
//! `format_ami_endpoints` in pjsip_configuration.c) and chan_sip's `SIPpeers`
//! (`PeerEntry`, as in tests/vectors/ami/asterisk20/state_lists.ami), with their fields
//! in Asterisk's order. They name every phone whether it has a hint or not.

use ctilink::ami::MessageBuilder;

use super::Pbx;
use crate::channel::DeviceState;

/// `ast_devstate2str`: the device state in words, as `EndpointList` shows it.
fn devstate_words(s: DeviceState) -> &'static str {
    match s {
        DeviceState::NotInUse => "Not in use",
        DeviceState::InUse => "In use",
        DeviceState::Ringing => "Ringing",
        DeviceState::RingInUse => "Ring+Inuse",
        DeviceState::OnHold => "On Hold",
        DeviceState::Unavailable => "Unavailable",
    }
}

/// A phone's documentation address (RFC 5737), port 5060 + its place in the list.
fn address(i: usize) -> (String, u32) {
    (format!("192.0.2.{}", 10 + i % 240), 5060 + i as u32)
}

impl Pbx {
    /// Whether this PBX runs `tech` (`PJSIP` or `SIP`) for its phones.
    pub(crate) fn runs(&self, tech: &str) -> bool {
        self.technology.eq_ignore_ascii_case(tech)
    }

    /// `EndpointList` items: one per phone, in configuration order.
    pub(crate) fn endpoint_items(&self, action_id: Option<&str>) -> Vec<MessageBuilder> {
        self.extensions
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let registered = !self.unregistered.contains(e);
                let (ip, port) = address(i);
                let contacts = if registered { format!("{e}/sip:{e}@{ip}:{port},") } else { String::new() };
                let active = self.channels.values().filter(|c| c.ext == *e).count();
                MessageBuilder::event("EndpointList")
                    .field_opt("ActionID", action_id)
                    .field("ObjectType", "endpoint")
                    .field("ObjectName", e)
                    .field("Transport", "")
                    .field("Aor", e)
                    .field("Auths", e)
                    .field("OutboundAuths", "")
                    .field("Contacts", contacts)
                    .field("DeviceState", devstate_words(self.device_state(e)))
                    .field("ActiveChannels", active.to_string())
            })
            .collect()
    }

    /// `PeerEntry` items: one per phone, in configuration order. An unregistered peer has
    /// no address (`-none-`, port 0).
    pub(crate) fn peer_items(&self, action_id: Option<&str>) -> Vec<MessageBuilder> {
        self.extensions
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let (ip, port) =
                    if self.unregistered.contains(e) { ("-none-".into(), 0) } else { address(i) };
                MessageBuilder::event("PeerEntry")
                    .field_opt("ActionID", action_id)
                    .field("Channeltype", "SIP")
                    .field("ObjectName", e)
                    .field("ChanObjectType", "peer")
                    .field("IPaddress", ip)
                    .field("IPport", port.to_string())
                    .field("Dynamic", "yes")
                    .field("AutoForcerport", "no")
                    .field("Forcerport", "no")
                    .field("AutoComedia", "no")
                    .field("Comedia", "no")
                    .field("VideoSupport", "no")
                    .field("TextSupport", "no")
                    .field("ACL", "no")
                    .field("Status", "Unmonitored")
                    .field("RealtimeDevice", "no")
                    .field("Description", "")
                    .field("Accountcode", "")
            })
            .collect()
    }
}
