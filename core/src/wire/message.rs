//! The messages: what a client sends ([`ClientMessage`]) and what a server sends
//! ([`ServerMessage`]). Each is one JSON object with its kind in `type`.

use serde::{Deserialize, Serialize};

use super::error::WireError;
use crate::command::{Command, Outcome};
use crate::error::Error;
use crate::model::{Call, CallId, Device, Event, Snapshot};
use crate::secret::Secret;

/// A message from a client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ClientMessage {
    /// The first message: the highest protocol version the client speaks, its token, and
    /// a name for the diagnostics page (`crm-desk-12`).
    Hello {
        version: u32,
        #[serde(with = "secret_text")]
        token: Secret,
        #[serde(default)]
        client: String,
    },
    /// A call-control command; exactly one `result` with the same `id` answers it.
    Command { id: u64, command: Command },
    /// Answered by `pong` with the same `id`.
    Ping {
        #[serde(default)]
        id: u64,
    },
    /// Asks for a fresh `snapshot` (answered with the same `id`).
    Snapshot {
        #[serde(default)]
        id: u64,
    },
}

/// Whether the server's link to the PBX is up, in `welcome`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    Up,
    Down,
}

/// A message from the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ServerMessage {
    /// Authentication succeeded: the version in use, who the token says the client is,
    /// the devices it may monitor and control (`["*"]`: all), and the PBX link's state.
    Welcome { version: u32, identity: String, monitor: Vec<String>, control: Vec<String>, link: LinkState },
    /// The devices and calls the client may see, now. Sent after `welcome`, on request
    /// (with the request's `id`), and after the client fell behind (`id` 0).
    Snapshot {
        #[serde(default)]
        id: u64,
        devices: Vec<Device>,
        calls: Vec<Call>,
    },
    /// One normalized event, in the JSON form of [`Event`].
    Event { event: Event },
    /// The answer to `command` `id`.
    Result(CommandResult),
    Pong {
        #[serde(default)]
        id: u64,
    },
    /// Something the client sent was refused (not a command: those get a `result`).
    Error(WireError),
    /// The server closes the connection, and why.
    Bye { reason: String },
}

/// The answer to one command: `ok` with the new call's id for the commands that start a
/// call, or the error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandResult {
    pub id: u64,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<CallId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<WireError>,
}

impl CommandResult {
    /// The result of a command as the link returned it.
    pub fn new(id: u64, r: &Result<Outcome, Error>) -> Self {
        match r {
            Ok(Outcome::Call(c)) => CommandResult { id, ok: true, call: Some(c.clone()), error: None },
            Ok(_) => CommandResult { id, ok: true, call: None, error: None },
            Err(e) => CommandResult { id, ok: false, call: None, error: Some(WireError::from(e)) },
        }
    }

    /// Back to what the link returns. A result that is neither ok nor carries an error
    /// is a protocol error.
    pub fn into_result(self) -> Result<Outcome, Error> {
        match (self.ok, self.call, self.error) {
            (true, Some(c), _) => Ok(Outcome::Call(c)),
            (true, None, _) => Ok(Outcome::Accepted),
            (false, _, Some(e)) => Err(e.into_error()),
            (false, _, None) => Err(Error::Protocol("a failed result without an error".into())),
        }
    }
}

impl ServerMessage {
    /// A `snapshot` message.
    pub fn snapshot(id: u64, s: Snapshot) -> Self {
        ServerMessage::Snapshot { id, devices: s.devices, calls: s.calls }
    }
}

/// The token as JSON text. Only here is it exposed: a `Debug` of the message prints `***`.
mod secret_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::secret::Secret;

    pub(super) fn serialize<S: Serializer>(s: &Secret, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(s.expose())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::ForwardKind;
    use crate::model::{
        Cause, ConnectionState as S, DeviceState, DivertReason, Endpoint, FailureReason, Party, Presentation,
        TransferKind,
    };
    use crate::wire::{encode, parse_client, parse_server};

    fn ep(d: &str) -> Endpoint {
        Endpoint { device: d.into(), channel: format!("PJSIP/{d}-1") }
    }

    /// One event of every kind, with every optional field set one way or the other.
    fn every_event() -> Vec<Event> {
        let (c, d, ch) = (CallId::new("c1"), crate::model::DeviceId::new("100"), "PJSIP/100-1".to_owned());
        let anon = Party { number: "0301".into(), name: "".into(), presentation: Presentation::Restricted };
        let p = Party::new("101", "Phone 101");
        vec![
            Event::Originated {
                call: c.clone(),
                device: d.clone(),
                channel: ch.clone(),
                state: S::Connected,
                caller: p.clone(),
                called: anon.clone(),
            },
            Event::Delivered {
                call: c.clone(),
                device: d.clone(),
                channel: ch.clone(),
                state: S::Alerting,
                caller: anon.clone(),
                called: p.clone(),
                calling_device: None,
                click_to_dial: true,
            },
            Event::Established {
                call: c.clone(),
                device: d.clone(),
                channel: ch.clone(),
                state: S::Connected,
                caller: p.clone(),
                called: p.clone(),
                calling_device: Some("101".into()),
                click_to_dial: false,
            },
            Event::Held { call: c.clone(), device: d.clone(), channel: ch.clone(), state: S::Held },
            Event::Retrieved { call: c.clone(), device: d.clone(), channel: ch.clone(), state: S::Connected },
            Event::Diverted {
                call: c.clone(),
                device: d.clone(),
                channel: ch.clone(),
                from: ep("102"),
                reason: DivertReason::Pickup,
                caller: p.clone(),
                called: p.clone(),
            },
            Event::Transferred {
                call: c.clone(),
                kind: TransferKind::Attended,
                transferring: ep("100"),
                transferred: ep("101"),
                targets: vec![ep("102"), ep("103")],
                secondary_call: Some("c2".into()),
                caller: p.clone(),
            },
            Event::Conferenced {
                call: c.clone(),
                device: d.clone(),
                channel: ch.clone(),
                state: S::Connected,
                parties: vec!["100".into(), "101".into(), "102".into()],
            },
            Event::Queued {
                call: c.clone(),
                device: "support".into(),
                queue: "support".into(),
                state: S::Queued,
                caller: p.clone(),
                position: Some(3),
            },
            Event::Failed {
                call: c.clone(),
                device: d.clone(),
                channel: ch.clone(),
                state: S::Failed,
                reason: FailureReason::Busy,
                cause: Some(Cause::USER_BUSY),
            },
            Event::ConnectionCleared {
                call: c.clone(),
                device: d.clone(),
                channel: ch,
                state: S::Null,
                previous: S::Connected,
                cause: None,
                released_by: None,
            },
            Event::CallCleared {
                call: c.clone(),
                cause: Some(Cause::NORMAL_CLEARING),
                answered: true,
                merged_into: Some("c0".into()),
            },
            Event::DeviceState {
                device: d.clone(),
                state: DeviceState::RingInUse,
                previous: DeviceState::InUse,
            },
            Event::DeviceRemoved { device: "199".into() },
            Event::Presence {
                device: d.clone(),
                presence: "away".into(),
                subtype: "lunch".into(),
                message: "back at 2".into(),
            },
            Event::DoNotDisturb { device: d.clone(), enabled: true },
            Event::Forwarding { device: d.clone(), kind: ForwardKind::NoAnswer, to: None },
            Event::UserEvent {
                name: "crm".into(),
                call: Some(c.clone()),
                fields: vec![("Ticket".into(), "4711".into()), ("Ticket".into(), "4712".into())],
            },
            Event::Resynced { calls_ended: vec![c.clone()], calls_found: vec![], devices_changed: vec![d] },
            Event::LinkUp { reconnected: true },
            Event::LinkDown { reason: "connection reset".into() },
            Event::Lagged { missed: 12 },
        ]
    }

    #[test]
    fn every_event_kind_crosses_the_wire_unchanged() {
        let events = every_event();
        let kinds: std::collections::HashSet<&str> = events.iter().map(Event::kind).collect();
        assert_eq!(kinds.len(), 22, "one of each kind");
        for e in events {
            let line = encode(&ServerMessage::Event { event: e.clone() });
            assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1, "one line");
            let back = parse_server(&line).expect("parses");
            assert_eq!(back, ServerMessage::Event { event: e }, "{}", String::from_utf8_lossy(&line));
        }
    }

    #[test]
    fn every_command_crosses_the_wire_unchanged_with_its_name() {
        let (c, d) = (CallId::new("c1"), crate::model::DeviceId::new("100"));
        let commands = vec![
            Command::MakeCall { from: d.clone(), to: "0301".into(), id: None },
            Command::MakeCall { from: d.clone(), to: "0301".into(), id: Some("ctilink-crm-1".into()) },
            Command::Answer { call: c.clone(), device: d.clone() },
            Command::ClearConnection { call: c.clone(), device: d.clone() },
            Command::ClearCall { call: c.clone() },
            Command::Hold { call: c.clone(), device: d.clone() },
            Command::Retrieve { call: c.clone(), device: d.clone() },
            Command::SingleStepTransfer { call: c.clone(), device: d.clone(), to: "200".into() },
            Command::ConsultationCall { call: c.clone(), device: d.clone(), to: "200".into() },
            Command::TransferCall { held: c.clone(), active: "c2".into() },
            Command::Deflect { call: c.clone(), device: d.clone(), to: "200".into() },
            Command::Pickup { device: d.clone(), target: "101".into() },
            Command::SendDtmf { call: c, device: d.clone(), digits: "12#".into() },
            Command::SetDoNotDisturb { device: d.clone(), on: true },
            Command::SetForwarding { device: d.clone(), kind: ForwardKind::Busy, to: Some("200".into()) },
            Command::SetForwarding { device: d, kind: ForwardKind::Immediate, to: None },
        ];
        for (id, command) in commands.into_iter().enumerate() {
            let name = command.name();
            let line = encode(&ClientMessage::Command { id: id as u64, command: command.clone() });
            let text = String::from_utf8_lossy(&line).into_owned();
            assert!(text.contains(&format!("\"command\":\"{name}\"")), "{text}");
            assert_eq!(parse_client(&line), Ok(ClientMessage::Command { id: id as u64, command }), "{text}");
        }
        // The id of a make_call is optional on the wire.
        let bare = br#"{"type":"command","id":1,"command":{"command":"make_call","from":"100","to":"101"}}"#;
        assert!(matches!(
            parse_client(bare),
            Ok(ClientMessage::Command { command: Command::MakeCall { id: None, .. }, .. })
        ));
    }

    #[test]
    fn results_carry_the_call_or_the_typed_error() {
        let ok = CommandResult::new(3, &Ok(Outcome::Call("c9".into())));
        assert_eq!(serde_json::to_string(&ok).expect("json"), r#"{"id":3,"ok":true,"call":"c9"}"#);
        assert_eq!(ok.into_result(), Ok(Outcome::Call("c9".into())));
        let accepted = CommandResult::new(4, &Ok(Outcome::Accepted));
        assert_eq!(serde_json::to_string(&accepted).expect("json"), r#"{"id":4,"ok":true}"#);
        let err = CommandResult::new(5, &Err(Error::UnknownDevice("999".into())));
        assert_eq!(err.clone().into_result(), Err(Error::UnknownDevice("999".into())));
        let line = encode(&ServerMessage::Result(err.clone()));
        assert_eq!(parse_server(&line), Ok(ServerMessage::Result(err)));
    }

    #[test]
    fn a_hello_shows_its_token_only_on_the_wire() {
        let hello =
            ClientMessage::Hello { version: 1, token: Secret::new("s3cret-token"), client: "desk".into() };
        assert!(!format!("{hello:?}").contains("s3cret-token"));
        let line = encode(&hello);
        assert!(String::from_utf8_lossy(&line).contains("\"token\":\"s3cret-token\""));
        assert_eq!(parse_client(&line), Ok(hello));
    }
}
