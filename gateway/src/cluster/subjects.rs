//! The NATS subjects of a cluster (docs/cluster.md, "Subjects"), and which of them an
//! event is published on.
//!
//! A device id becomes one subject token: NATS splits subjects at `.` and gives `*` and
//! `>` a meaning, and a SIP or Local device id may hold any of them, so those bytes (and
//! `%`, whitespace and anything not ASCII) are written `%XX`.

use std::collections::BTreeSet;

use ctilink::model::{Call, DeviceId, Event};

/// Every cluster subject starts so.
pub const ROOT: &str = "ctilink";

/// The token for events that concern no device (link events, heartbeats, user events
/// without a call).
pub const NO_DEVICE: &str = "_";

/// `ctilink.<pbx>.ev.<device>`.
pub fn event(pbx: &str, device: &str) -> String {
    format!("{ROOT}.{pbx}.ev.{}", token(device))
}

/// `ctilink.<pbx>.ev._`.
pub fn no_device(pbx: &str) -> String {
    format!("{ROOT}.{pbx}.ev.{NO_DEVICE}")
}

/// `ctilink.<pbx>.ev.>`: every event of a PBX.
pub fn all_events(pbx: &str) -> String {
    format!("{ROOT}.{pbx}.ev.>")
}

/// `ctilink.<pbx>.cmd`.
pub fn command(pbx: &str) -> String {
    format!("{ROOT}.{pbx}.cmd")
}

/// `ctilink.<pbx>.snap`.
pub fn snapshot(pbx: &str) -> String {
    format!("{ROOT}.{pbx}.snap")
}

/// `ctilink.node.<node>.hello`.
pub fn hello(node: &str) -> String {
    format!("{ROOT}.node.{}.hello", token(node))
}

/// `ctilink.node.*.hello`.
pub const HELLOS: &str = "ctilink.node.*.hello";

/// A device id as one subject token. `_` alone is the no-device token, so a device
/// named `_` is escaped too.
pub fn token(device: &str) -> String {
    if device == NO_DEVICE {
        return "%5F".to_owned();
    }
    let mut out = String::with_capacity(device.len());
    for b in device.bytes() {
        let plain = b.is_ascii_graphic() && !matches!(b, b'.' | b'*' | b'>' | b'%');
        if plain {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        out.push('%');
    }
    out
}

/// The devices whose subjects carry `ev`: the devices it names (its own, and the
/// parties of a transfer, a diversion or a conference) and, for a call event, every
/// device with a connection in the call before and after it (`before`, `after`), so that
/// a gateway watching any one party of a call sees all of the call.
pub fn devices_of<'a>(ev: &'a Event, before: Option<&'a Call>, after: Option<&'a Call>) -> BTreeSet<&'a str> {
    let mut out: BTreeSet<&str> = BTreeSet::new();
    let mut add = |d: &'a DeviceId| {
        out.insert(d.as_str());
    };
    if let Some(d) = ev.device() {
        add(d);
    }
    match ev {
        Event::Transferred { transferred, targets, .. } => {
            add(&transferred.device);
            targets.iter().for_each(|t| add(&t.device));
        }
        Event::Diverted { from, .. } => add(&from.device),
        Event::Conferenced { parties, .. } => parties.iter().for_each(&mut add),
        _ => {}
    }
    for call in [before, after].into_iter().flatten() {
        call.connections.iter().for_each(|k| add(&k.device));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_event_goes_to_every_device_in_the_call() {
        let call: Call = serde_json::from_value(serde_json::json!({
            "id": "c1", "calling_device": null, "caller": {"number": "", "name": ""},
            "called": {"number": "", "name": ""}, "answered": false, "diverted": null,
            "click_to_dial": false,
            "connections": [
                {"device": "100", "channel": "PJSIP/100-1", "state": "connected"},
                {"device": "101", "channel": "PJSIP/101-1", "state": "alerting"}
            ]
        }))
        .expect("a call");
        let cleared =
            Event::CallCleared { call: "c1".into(), cause: None, answered: true, merged_into: None };
        let to: Vec<&str> = devices_of(&cleared, Some(&call), None).into_iter().collect();
        assert_eq!(to, ["100", "101"]);
        let presence = Event::DeviceRemoved { device: "105".into() };
        assert_eq!(devices_of(&presence, None, None).into_iter().collect::<Vec<_>>(), ["105"]);
        let up = Event::LinkUp { reconnected: true };
        assert!(devices_of(&up, None, None).is_empty());
    }

    #[test]
    fn device_ids_become_one_token_each() {
        assert_eq!(token("100"), "100");
        assert_eq!(token("PJSIP/100"), "PJSIP/100");
        assert_eq!(token("Local/100@from.internal"), "Local/100@from%2Einternal");
        assert_eq!(token("a*b>c d%"), "a%2Ab%3Ec%20d%25");
        assert_eq!(token("_"), "%5F");
        assert_eq!(token(""), "%");
        assert_eq!(event("berlin", "1.0"), "ctilink.berlin.ev.1%2E0");
        assert_eq!(token("München"), "M%C3%BCnchen");
    }
}
