//! `PBX/ID` on the way out, `ID` on the way in: the only place that knows how ids of
//! several PBXs are told apart. Two Asterisks may both have a device `100` and a call
//! `1796514639.9`, so every device and call id a client sees carries its PBX.

use crate::command::Command;
use crate::error::{Error, Result};
use crate::model::{Call, CallId, Device, DeviceId, Endpoint, Event, Snapshot};

/// What separates the PBX from the id: not a character an Asterisk device name or
/// Uniqueid has in the call model's ids (a device is the channel resource before its
/// `-sequence`, without `/`).
pub const SEPARATOR: char = '/';

/// Splits `berlin/100` into `("berlin", "100")`; `None` without a PBX part.
pub fn split(id: &str) -> Option<(&str, &str)> {
    id.split_once(SEPARATOR).filter(|(pbx, rest)| !pbx.is_empty() && !rest.is_empty())
}

fn dev(pbx: &str, d: &DeviceId) -> DeviceId {
    DeviceId::new(&format!("{pbx}{SEPARATOR}{d}"))
}

fn call(pbx: &str, c: &CallId) -> CallId {
    CallId::new(&format!("{pbx}{SEPARATOR}{c}"))
}

fn endpoint(pbx: &str, e: &Endpoint) -> Endpoint {
    Endpoint { device: dev(pbx, &e.device), channel: e.channel.clone() }
}

/// A device as clients of a gateway for several PBXs see it.
pub fn device(pbx: &str, d: &Device) -> Device {
    Device { id: dev(pbx, &d.id), ..d.clone() }
}

/// A call with its id and every device in it prefixed.
pub fn call_of(pbx: &str, c: &Call) -> Call {
    let mut c = c.clone();
    c.id = call(pbx, &c.id);
    c.calling_device = c.calling_device.as_ref().map(|d| dev(pbx, d));
    for k in &mut c.connections {
        k.device = dev(pbx, &k.device);
    }
    if let Some(d) = &mut c.diverted {
        d.from = endpoint(pbx, &d.from);
    }
    c
}

pub fn snapshot(pbx: &str, s: &Snapshot) -> Snapshot {
    Snapshot {
        devices: s.devices.iter().map(|d| device(pbx, d)).collect(),
        calls: s.calls.iter().map(|c| call_of(pbx, c)).collect(),
    }
}

/// Every device and call id of `ev` prefixed with `pbx`. Party numbers, channels and
/// queue names stay as the PBX gave them: they are not ids a client passes back.
/// Link events are left as they are; the merging decides what they become.
pub fn event(pbx: &str, ev: Event) -> Event {
    let d = |x: &DeviceId| dev(pbx, x);
    let c = |x: &CallId| call(pbx, x);
    let od = |x: &Option<DeviceId>| x.as_ref().map(d);
    let oc = |x: &Option<CallId>| x.as_ref().map(c);
    match ev {
        Event::Originated { call, device, channel, state, caller, called } => {
            Event::Originated { call: c(&call), device: d(&device), channel, state, caller, called }
        }
        Event::Delivered { call, device, channel, state, caller, called, calling_device, click_to_dial } => {
            Event::Delivered {
                call: c(&call),
                device: d(&device),
                channel,
                state,
                caller,
                called,
                calling_device: od(&calling_device),
                click_to_dial,
            }
        }
        Event::Established {
            call,
            device,
            channel,
            state,
            caller,
            called,
            calling_device,
            click_to_dial,
        } => Event::Established {
            call: c(&call),
            device: d(&device),
            channel,
            state,
            caller,
            called,
            calling_device: od(&calling_device),
            click_to_dial,
        },
        Event::Held { call, device, channel, state } => {
            Event::Held { call: c(&call), device: d(&device), channel, state }
        }
        Event::Retrieved { call, device, channel, state } => {
            Event::Retrieved { call: c(&call), device: d(&device), channel, state }
        }
        Event::Diverted { call, device, channel, from, reason, caller, called } => Event::Diverted {
            call: c(&call),
            device: d(&device),
            channel,
            from: endpoint(pbx, &from),
            reason,
            caller,
            called,
        },
        Event::Transferred { call, kind, transferring, transferred, targets, secondary_call, caller } => {
            Event::Transferred {
                call: c(&call),
                kind,
                transferring: endpoint(pbx, &transferring),
                transferred: endpoint(pbx, &transferred),
                targets: targets.iter().map(|t| endpoint(pbx, t)).collect(),
                secondary_call: oc(&secondary_call),
                caller,
            }
        }
        Event::Conferenced { call, device, channel, state, parties } => Event::Conferenced {
            call: c(&call),
            device: d(&device),
            channel,
            state,
            parties: parties.iter().map(d).collect(),
        },
        Event::Queued { call, device, queue, state, caller, position } => {
            Event::Queued { call: c(&call), device: d(&device), queue, state, caller, position }
        }
        Event::Failed { call, device, channel, state, reason, cause } => {
            Event::Failed { call: c(&call), device: d(&device), channel, state, reason, cause }
        }
        Event::ConnectionCleared { call, device, channel, state, previous, cause, released_by } => {
            Event::ConnectionCleared {
                call: c(&call),
                device: d(&device),
                channel,
                state,
                previous,
                cause,
                released_by: od(&released_by),
            }
        }
        Event::CallCleared { call, cause, answered, merged_into } => {
            Event::CallCleared { call: c(&call), cause, answered, merged_into: oc(&merged_into) }
        }
        Event::DeviceState { device, state, previous } => {
            Event::DeviceState { device: d(&device), state, previous }
        }
        Event::DeviceRemoved { device } => Event::DeviceRemoved { device: d(&device) },
        Event::Presence { device, presence, subtype, message } => {
            Event::Presence { device: d(&device), presence, subtype, message }
        }
        Event::DoNotDisturb { device, enabled } => Event::DoNotDisturb { device: d(&device), enabled },
        Event::Forwarding { device, kind, to } => Event::Forwarding { device: d(&device), kind, to },
        Event::UserEvent { name, call, fields } => Event::UserEvent { name, call: oc(&call), fields },
        Event::Resynced { calls_ended, calls_found, devices_changed } => Event::Resynced {
            calls_ended: calls_ended.iter().map(c).collect(),
            calls_found: calls_found.iter().map(c).collect(),
            devices_changed: devices_changed.iter().map(d).collect(),
        },
        ev @ (Event::LinkUp { .. } | Event::LinkDown { .. } | Event::Lagged { .. }) => ev,
    }
}

/// A command's PBX and the command as that PBX knows it. Every device and call it names
/// must carry the same known PBX; one that does not is, for that PBX, a device or call
/// that does not exist, and gets the error such a one gets from a single PBX.
pub fn route<'a>(cmd: &Command, known: &'a [String]) -> Result<(&'a str, Command)> {
    let first = first_id(cmd);
    let pbx = split(first.as_str())
        .and_then(|(p, _)| known.iter().find(|k| k.as_str() == p))
        .ok_or_else(|| first.unknown())?
        .as_str();
    let strip_d = |d: &DeviceId| -> Result<DeviceId> {
        match split(d.as_str()) {
            Some((p, rest)) if p == pbx => Ok(DeviceId::new(rest)),
            _ => Err(Error::UnknownDevice(d.to_string())),
        }
    };
    let strip_c = |c: &CallId| -> Result<CallId> {
        match split(c.as_str()) {
            Some((p, rest)) if p == pbx => Ok(CallId::new(rest)),
            _ => Err(Error::UnknownCall(c.to_string())),
        }
    };
    let inner = match cmd {
        Command::MakeCall { from, to, id } => Command::MakeCall {
            from: strip_d(from)?,
            to: to.clone(),
            id: id.as_ref().map(strip_c).transpose()?,
        },
        Command::Answer { call, device } => {
            Command::Answer { call: strip_c(call)?, device: strip_d(device)? }
        }
        Command::ClearConnection { call, device } => {
            Command::ClearConnection { call: strip_c(call)?, device: strip_d(device)? }
        }
        Command::ClearCall { call } => Command::ClearCall { call: strip_c(call)? },
        Command::Hold { call, device } => Command::Hold { call: strip_c(call)?, device: strip_d(device)? },
        Command::Retrieve { call, device } => {
            Command::Retrieve { call: strip_c(call)?, device: strip_d(device)? }
        }
        Command::SingleStepTransfer { call, device, to } => {
            Command::SingleStepTransfer { call: strip_c(call)?, device: strip_d(device)?, to: to.clone() }
        }
        Command::ConsultationCall { call, device, to } => {
            Command::ConsultationCall { call: strip_c(call)?, device: strip_d(device)?, to: to.clone() }
        }
        Command::TransferCall { held, active } => {
            Command::TransferCall { held: strip_c(held)?, active: strip_c(active)? }
        }
        Command::Deflect { call, device, to } => {
            Command::Deflect { call: strip_c(call)?, device: strip_d(device)?, to: to.clone() }
        }
        // The target is a call or a ringing device of the same PBX; either is prefixed.
        Command::Pickup { device, target } => match split(target) {
            Some((p, rest)) if p == pbx => {
                Command::Pickup { device: strip_d(device)?, target: rest.to_owned() }
            }
            _ => return Err(Error::UnknownCall(target.clone())),
        },
        Command::SendDtmf { call, device, digits } => {
            Command::SendDtmf { call: strip_c(call)?, device: strip_d(device)?, digits: digits.clone() }
        }
        Command::SetDoNotDisturb { device, on } => {
            Command::SetDoNotDisturb { device: strip_d(device)?, on: *on }
        }
        Command::SetForwarding { device, kind, to } => {
            Command::SetForwarding { device: strip_d(device)?, kind: *kind, to: to.clone() }
        }
    };
    Ok((pbx, inner))
}

/// The id that decides where a command goes.
enum Named {
    Device(DeviceId),
    Call(CallId),
}

impl Named {
    fn as_str(&self) -> &str {
        match self {
            Named::Device(d) => d.as_str(),
            Named::Call(c) => c.as_str(),
        }
    }

    fn unknown(&self) -> Error {
        match self {
            Named::Device(d) => Error::UnknownDevice(d.to_string()),
            Named::Call(c) => Error::UnknownCall(c.to_string()),
        }
    }
}

fn first_id(cmd: &Command) -> Named {
    match cmd {
        Command::MakeCall { from: d, .. }
        | Command::Pickup { device: d, .. }
        | Command::SetDoNotDisturb { device: d, .. }
        | Command::SetForwarding { device: d, .. } => Named::Device(d.clone()),
        Command::Answer { call: c, .. }
        | Command::ClearConnection { call: c, .. }
        | Command::ClearCall { call: c }
        | Command::Hold { call: c, .. }
        | Command::Retrieve { call: c, .. }
        | Command::SingleStepTransfer { call: c, .. }
        | Command::ConsultationCall { call: c, .. }
        | Command::Deflect { call: c, .. }
        | Command::SendDtmf { call: c, .. }
        | Command::TransferCall { held: c, .. } => Named::Call(c.clone()),
    }
}

/// A call id a PBX gave back, as clients see it.
pub fn call_id(pbx: &str, c: &CallId) -> CallId {
    call(pbx, c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Party;
    use crate::model::{ConnectionState, TransferKind};

    fn known() -> Vec<String> {
        vec!["berlin".into(), "hamburg".into()]
    }

    #[test]
    fn commands_go_to_the_pbx_of_their_ids_without_the_prefix() {
        let k = known();
        let (pbx, inner) =
            route(&Command::MakeCall { from: "hamburg/100".into(), to: "101".into(), id: None }, &k)
                .expect("routed");
        assert_eq!(pbx, "hamburg");
        assert_eq!(inner, Command::MakeCall { from: "100".into(), to: "101".into(), id: None });
        let (pbx, inner) =
            route(&Command::TransferCall { held: "berlin/1.1".into(), active: "berlin/1.2".into() }, &k)
                .expect("routed");
        assert_eq!(
            (pbx, inner),
            ("berlin", Command::TransferCall { held: "1.1".into(), active: "1.2".into() })
        );
        let (_, inner) =
            route(&Command::Pickup { device: "berlin/100".into(), target: "berlin/101".into() }, &k)
                .expect("routed");
        assert_eq!(inner, Command::Pickup { device: "100".into(), target: "101".into() });
    }

    #[test]
    fn ids_without_a_known_pbx_are_unknown_as_on_one_pbx() {
        let k = known();
        let e = route(&Command::MakeCall { from: "100".into(), to: "1".into(), id: None }, &k);
        assert_eq!(e, Err(Error::UnknownDevice("100".into())));
        let e = route(&Command::MakeCall { from: "paris/100".into(), to: "1".into(), id: None }, &k);
        assert_eq!(e, Err(Error::UnknownDevice("paris/100".into())));
        let e = route(&Command::ClearCall { call: "1.1".into() }, &k);
        assert_eq!(e, Err(Error::UnknownCall("1.1".into())));
        // Two PBXs in one command: the second id does not exist on the first's PBX.
        let e = route(&Command::TransferCall { held: "berlin/1.1".into(), active: "hamburg/1.2".into() }, &k);
        assert_eq!(e, Err(Error::UnknownCall("hamburg/1.2".into())));
        let e = route(&Command::Answer { call: "berlin/1.1".into(), device: "hamburg/100".into() }, &k);
        assert_eq!(e, Err(Error::UnknownDevice("hamburg/100".into())));
        let e = route(&Command::Pickup { device: "berlin/100".into(), target: "101".into() }, &k);
        assert_eq!(e, Err(Error::UnknownCall("101".into())));
    }

    #[test]
    fn every_id_of_an_event_gets_the_prefix() {
        let ep = |d: &str| Endpoint { device: d.into(), channel: format!("PJSIP/{d}-1") };
        let ev = event(
            "berlin",
            Event::Transferred {
                call: "1.1".into(),
                kind: TransferKind::Attended,
                transferring: ep("100"),
                transferred: ep("101"),
                targets: vec![ep("102")],
                secondary_call: Some("1.2".into()),
                caller: Party::new("101", ""),
            },
        );
        let Event::Transferred { call, transferring, transferred, targets, secondary_call, caller, .. } = ev
        else {
            panic!("{ev:?}")
        };
        assert_eq!(call.as_str(), "berlin/1.1");
        assert_eq!(transferring.device.as_str(), "berlin/100");
        assert_eq!(transferring.channel, "PJSIP/100-1", "channels are the PBX's");
        assert_eq!(transferred.device.as_str(), "berlin/101");
        assert_eq!(targets[0].device.as_str(), "berlin/102");
        assert_eq!(secondary_call.as_ref().map(CallId::as_str), Some("berlin/1.2"));
        assert_eq!(caller.number, "101", "numbers are not ids");
        let ev = event(
            "b",
            Event::ConnectionCleared {
                call: "1".into(),
                device: "100".into(),
                channel: "x".into(),
                state: ConnectionState::Null,
                previous: ConnectionState::Connected,
                cause: None,
                released_by: Some("101".into()),
            },
        );
        assert_eq!(ev.device().map(DeviceId::as_str), Some("b/100"));
        let Event::ConnectionCleared { released_by, .. } = ev else { panic!() };
        assert_eq!(released_by.as_ref().map(DeviceId::as_str), Some("b/101"));
        let ev = event(
            "b",
            Event::Resynced {
                calls_ended: vec!["1".into()],
                calls_found: vec![],
                devices_changed: vec!["9".into()],
            },
        );
        assert_eq!(
            ev,
            Event::Resynced {
                calls_ended: vec!["b/1".into()],
                calls_found: vec![],
                devices_changed: vec!["b/9".into()]
            }
        );
    }
}
