//! The one-line text form of a call-model [`Event`], shared by every command that prints
//! events (`replay`, `events`, `dial`, `demo`) so that their lines are the same and a live
//! run can be compared with the replay of its recording line for line.
//!
//! A line is the kind, padded to a column, then `key=value` fields
//! (`delivered          call=... device=... state=alerting caller="Ann" <201>`).

use ctilink::model::{Cause, Endpoint, Event, Party, Presentation};
use serde::Serialize;

/// Width of the event-kind column (`connection_cleared` fits).
const KIND_WIDTH: usize = 18;

/// One event as an aligned text line: the kind, then `key=value` fields.
pub(crate) fn event_line(ev: &Event) -> String {
    let mut f = Fields::default();
    match ev {
        Event::Originated { call, device, channel, state, caller, called } => {
            f.call(call).kv("device", device).kv("channel", channel).kv("state", snake(state));
            f.kv("caller", party(caller)).kv("called", party(called));
        }
        Event::Delivered { call, device, channel, state, caller, called, calling_device, click_to_dial }
        | Event::Established {
            call,
            device,
            channel,
            state,
            caller,
            called,
            calling_device,
            click_to_dial,
        } => {
            f.call(call).kv("device", device).kv("channel", channel).kv("state", snake(state));
            f.kv("caller", party(caller)).kv("called", party(called));
            f.opt("calling_device", calling_device.as_ref()).flag("click_to_dial", *click_to_dial);
        }
        Event::Held { call, device, channel, state } | Event::Retrieved { call, device, channel, state } => {
            f.call(call).kv("device", device).kv("channel", channel).kv("state", snake(state));
        }
        Event::Diverted { call, device, channel, from, reason, caller, called } => {
            f.call(call).kv("device", device).kv("channel", channel);
            f.kv("from", endpoint(from)).kv("reason", snake(reason));
            f.kv("caller", party(caller)).kv("called", party(called));
        }
        Event::Transferred { call, kind, transferring, transferred, targets, secondary_call, caller } => {
            f.call(call).kv("kind", snake(kind));
            f.kv("transferring", endpoint(transferring)).kv("transferred", endpoint(transferred));
            f.kv("targets", list(targets.iter().map(endpoint)));
            f.opt("secondary_call", secondary_call.as_ref()).kv("caller", party(caller));
        }
        Event::Conferenced { call, device, channel, state, parties } => {
            f.call(call).kv("device", device).kv("channel", channel).kv("state", snake(state));
            f.kv("parties", list(parties.iter()));
        }
        Event::Queued { call, device, queue, state, caller, position } => {
            f.call(call).kv("device", device).kv("queue", queue).kv("state", snake(state));
            f.kv("caller", party(caller)).opt("position", position.as_ref());
        }
        Event::Failed { call, device, channel, state, reason, cause } => {
            f.call(call).kv("device", device).kv("channel", channel).kv("state", snake(state));
            f.kv("reason", snake(reason)).cause(*cause);
        }
        Event::ConnectionCleared { call, device, channel, state, previous, cause, released_by } => {
            f.call(call).kv("device", device).kv("channel", channel).kv("state", snake(state));
            f.kv("previous", snake(previous)).cause(*cause).opt("released_by", released_by.as_ref());
        }
        Event::CallCleared { call, cause, answered, merged_into } => {
            f.call(call).cause(*cause).kv("answered", answered).opt("merged_into", merged_into.as_ref());
        }
        Event::DeviceState { device, state, previous } => {
            f.kv("device", device).kv("state", snake(state)).kv("previous", snake(previous));
        }
        Event::DeviceRemoved { device } => {
            f.kv("device", device);
        }
        Event::Presence { device, presence, subtype, message } => {
            f.kv("device", device).kv("presence", quoted(presence));
            f.nonempty("subtype", subtype).nonempty("message", message);
        }
        Event::DoNotDisturb { device, enabled } => {
            f.kv("device", device).kv("enabled", enabled);
        }
        Event::Forwarding { device, kind, to } => {
            f.kv("device", device).kv("kind", kind).kv("to", to.as_deref().unwrap_or("-"));
        }
        Event::UserEvent { name, call, fields } => {
            f.kv("name", quoted(name)).opt("call", call.as_ref());
            for (k, v) in fields {
                f.kv(k, quoted(v));
            }
        }
        Event::Resynced { calls_ended, calls_found, devices_changed } => {
            f.kv("calls_ended", list(calls_ended.iter())).kv("calls_found", list(calls_found.iter()));
            f.kv("devices_changed", list(devices_changed.iter()));
        }
        Event::LinkUp { reconnected } => {
            f.kv("reconnected", reconnected);
        }
        Event::LinkDown { reason } => {
            f.kv("reason", quoted(reason));
        }
        Event::Lagged { missed } => {
            f.kv("missed", missed);
        }
        // A kind added to the model later: its JSON fields, so nothing is lost.
        other => {
            if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(other) {
                for (k, v) in map.iter().filter(|(k, _)| k.as_str() != "event") {
                    match v {
                        serde_json::Value::String(s) => f.kv(k, quoted(s)),
                        v => f.kv(k, v),
                    };
                }
            }
        }
    }
    format!("{:<KIND_WIDTH$} {}", ev.kind(), f.0).trim_end().to_owned()
}

/// The `key=value` fields of a text line.
#[derive(Default)]
struct Fields(String);

impl Fields {
    fn kv(&mut self, key: &str, value: impl std::fmt::Display) -> &mut Self {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        self.0.push_str(&format!("{key}={value}"));
        self
    }

    fn call(&mut self, call: impl std::fmt::Display) -> &mut Self {
        self.kv("call", call)
    }

    fn opt<T: std::fmt::Display>(&mut self, key: &str, value: Option<T>) -> &mut Self {
        match value {
            Some(v) => self.kv(key, v),
            None => self,
        }
    }

    /// A free-text field, left out when empty.
    fn nonempty(&mut self, key: &str, value: &str) -> &mut Self {
        if value.is_empty() {
            self
        } else {
            self.kv(key, quoted(value))
        }
    }

    fn flag(&mut self, key: &str, on: bool) -> &mut Self {
        if on {
            if !self.0.is_empty() {
                self.0.push(' ');
            }
            self.0.push_str(key);
        }
        self
    }

    /// `cause=16 (normal clearing)`, or nothing when the PBX gave none.
    fn cause(&mut self, cause: Option<Cause>) -> &mut Self {
        match cause {
            Some(c) => self.kv("cause", format!("{} ({})", c.0, c.name())),
            None => self,
        }
    }
}

/// A party as a phone shows it: `"Ann Smith" <201>`, `<202>` without a name, `-` when
/// nothing is known; a withheld or unknown number is marked.
pub(crate) fn party(p: &Party) -> String {
    let mut s = match (p.name.is_empty(), p.number.is_empty()) {
        (true, true) => "-".to_owned(),
        (true, false) => format!("<{}>", p.number),
        (false, true) => format!("\"{}\"", p.name),
        (false, false) => format!("\"{}\" <{}>", p.name, p.number),
    };
    match p.presentation {
        Presentation::Allowed => {}
        Presentation::Restricted => s.push_str(" (restricted)"),
        Presentation::Unavailable => s.push_str(" (unavailable)"),
    }
    s
}

/// `device(channel)`, or just the device while the PBX has no channel for it yet (the
/// target of a blind transfer before it is dialed).
fn endpoint(e: &Endpoint) -> String {
    if e.channel.is_empty() {
        e.device.to_string()
    } else {
        format!("{}({})", e.device, e.channel)
    }
}

/// Comma-separated, `-` when empty.
fn list<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    let v: Vec<String> = items.map(|i| i.to_string()).collect();
    if v.is_empty() {
        "-".to_owned()
    } else {
        v.join(",")
    }
}

/// A free-text value, quoted when it holds spaces, quotes or nothing at all.
pub(crate) fn quoted(s: &str) -> String {
    if s.is_empty() || s.contains(|c: char| c.is_whitespace() || c == '"' || c == '=') {
        format!("{s:?}")
    } else {
        s.to_owned()
    }
}

/// The snake_case name of a model enum, as in the JSON form (`alerting`, `no_answer`).
pub(crate) fn snake<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "?".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctilink::model::{CallId, ConnectionState, DeviceId, FailureReason, TransferKind};

    #[test]
    fn parties() {
        assert_eq!(party(&Party::new("201", "Ann Smith")), "\"Ann Smith\" <201>");
        assert_eq!(party(&Party::new("202", "")), "<202>");
        assert_eq!(party(&Party::new("<unknown>", "<unknown>")), "-");
        let anon = Party { presentation: Presentation::Restricted, ..Party::new("", "Anonymous") };
        assert_eq!(party(&anon), "\"Anonymous\" (restricted)");
    }

    #[test]
    fn lines_are_aligned_and_carry_the_details() {
        let ev = Event::Failed {
            call: CallId::new("1.1"),
            device: DeviceId::new("202"),
            channel: "PJSIP/202-02".to_owned(),
            state: ConnectionState::Failed,
            reason: FailureReason::Busy,
            cause: Some(Cause::USER_BUSY),
        };
        assert_eq!(
            event_line(&ev),
            "failed             call=1.1 device=202 channel=PJSIP/202-02 state=failed reason=busy \
             cause=17 (user busy)"
        );
        let ev = Event::Transferred {
            call: CallId::new("1.1"),
            kind: TransferKind::Blind,
            transferring: Endpoint { device: DeviceId::new("202"), channel: "SIP/202-2".to_owned() },
            transferred: Endpoint { device: DeviceId::new("201"), channel: "SIP/201-1".to_owned() },
            targets: vec![Endpoint { device: DeviceId::new("203"), channel: "SIP/203-3".to_owned() }],
            secondary_call: None,
            caller: Party::new("201", ""),
        };
        assert_eq!(
            event_line(&ev),
            "transferred        call=1.1 kind=blind transferring=202(SIP/202-2) transferred=201(SIP/201-1) \
             targets=203(SIP/203-3) caller=<201>"
        );
        let ev = Event::CallCleared {
            call: CallId::new("1.1"),
            cause: None,
            answered: false,
            merged_into: Some(CallId::new("2.2")),
        };
        assert_eq!(event_line(&ev), "call_cleared       call=1.1 answered=false merged_into=2.2");
        let ev = Event::DeviceRemoved { device: DeviceId::new("149") };
        assert_eq!(event_line(&ev), "device_removed     device=149");
        let ev = Event::LinkDown { reason: "connection reset".to_owned() };
        assert_eq!(event_line(&ev), "link_down          reason=\"connection reset\"");
    }
}
