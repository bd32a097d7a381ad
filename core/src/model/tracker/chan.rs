//! What the tracker remembers of one PBX channel.

use crate::ami::Message;
use crate::model::event::{Cause, FailureReason};
use crate::model::ids::{interface_of, DeviceId};
use crate::model::state::{clean, ConnectionState, Party, Presentation};

pub(super) type Uid = Box<str>;
pub(super) type CallKey = u64;

/// Asterisk channel states we react to.
pub(super) const DOWN: u8 = 0;
pub(super) const RING: u8 = 4;
pub(super) const RINGING: u8 = 5;
pub(super) const UP: u8 = 6;
pub(super) const BUSY: u8 = 7;

/// How a non-Local channel takes part in its call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    /// Not known yet (a channel seen before anything tells what it is).
    Undecided,
    /// It placed the call (a phone that dialed, a trunk bringing a call in).
    Calling,
    /// It was dialed.
    Called,
    /// The user's own phone, rung by a click-to-dial before the destination is dialed.
    Prompt,
}

/// How a dial to this channel ended, from `DialEnd`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DialOutcome {
    Answer,
    Cancel,
    Failed(FailureReason),
}

#[derive(Debug)]
pub(super) struct Chan {
    pub(super) name: Box<str>,
    /// The name its connection was first reported under; events keep using it when
    /// Asterisk renames the channel mid-call (masquerades), so a consumer sees one
    /// connection, not two.
    pub(super) label: Option<Box<str>>,
    pub(super) uid: Uid,
    pub(super) linkedid: Box<str>,
    /// Whether the PBX reported a Linkedid (Asterisk 1.8+): only then does "first of
    /// its call" mean anything.
    pub(super) has_linkedid: bool,
    pub(super) state: u8,
    pub(super) caller: Party,
    pub(super) connected: Party,
    pub(super) exten: Box<str>,
    /// `Some(true)` for the `;1` half of a Local channel, `Some(false)` for `;2`.
    pub(super) local_one: Option<bool>,
    /// The other half of a Local channel.
    pub(super) peer: Option<Uid>,
    /// The channel that dialed this one (`DialBegin`).
    pub(super) parent: Option<Uid>,
    pub(super) call: Option<CallKey>,
    pub(super) conn: ConnectionState,
    pub(super) role: Role,
    pub(super) device: Option<DeviceId>,
    pub(super) bridge: Option<Box<str>>,
    /// The bridge it left last (an attended transfer is reported after the swap).
    pub(super) prev_bridge: Option<Box<str>>,
    pub(super) dial_end: Option<DialOutcome>,
    pub(super) delivered: bool,
    /// Left its call through a transfer or pickup; its later events change no call.
    pub(super) detached: bool,
    /// Reported as part of a conference in its current bridge.
    pub(super) conferenced: bool,
}

impl Chan {
    pub(super) fn new(uid: &str, name: &str) -> Self {
        let local_one = local_half(name);
        let device = interface_of(name).map(|(_, dev)| DeviceId::new(dev));
        Chan {
            name: name.into(),
            label: None,
            uid: uid.into(),
            linkedid: uid.into(),
            has_linkedid: false,
            state: DOWN,
            caller: Party::default(),
            connected: Party::default(),
            exten: "".into(),
            local_one,
            peer: None,
            parent: None,
            call: None,
            conn: ConnectionState::Null,
            role: Role::Undecided,
            device,
            bridge: None,
            prev_bridge: None,
            dial_end: None,
            delivered: false,
            detached: false,
            conferenced: false,
        }
    }

    /// The channel name events report for this channel's connection.
    pub(super) fn shown(&self) -> String {
        self.label.as_deref().unwrap_or(&self.name).to_owned()
    }

    pub(super) fn is_local(&self) -> bool {
        self.local_one.is_some()
    }

    /// A channel that is its own call's first channel.
    pub(super) fn is_root(&self) -> bool {
        self.linkedid.is_empty() || self.linkedid == self.uid
    }

    /// Reads the fields a channel event carries (`Newchannel`, `Newstate`, `CoreShowChannel`,
    /// and the prefixed forms of other events when `prefix` is set).
    pub(super) fn update_from(&mut self, msg: &Message, prefix: &str) {
        let mut key = String::with_capacity(prefix.len() + 20);
        let mut get = |k: &str| -> Option<String> {
            key.clear();
            key.push_str(prefix);
            key.push_str(k);
            msg.get_lossy(&key).map(|v| v.trim().to_owned())
        };
        if let Some(s) = get("ChannelState") {
            if let Ok(v) = s.parse::<u8>() {
                self.state = v;
            }
        } else if let Some(s) = get("State") {
            self.state = crate::ami::event::ChannelState::from_desc(&s).code();
        }
        if let Some(l) = get("Linkedid") {
            if !l.is_empty() {
                self.linkedid = l.into();
                self.has_linkedid = true;
            }
        }
        if let Some(n) = get("CallerIDNum").or_else(|| get("CallerID")) {
            self.caller.number = clean(&n).to_owned();
        }
        if let Some(n) = get("CallerIDName") {
            self.caller.name = clean(&n).to_owned();
        }
        if let Some(n) = get("ConnectedLineNum") {
            self.connected.number = clean(&n).to_owned();
        }
        if let Some(n) = get("ConnectedLineName") {
            self.connected.name = clean(&n).to_owned();
        }
        if let Some(e) = get("Exten") {
            if !e.is_empty() {
                self.exten = e.into();
            }
        }
    }

    /// A new name (Asterisk renames channels in masquerades): the device and the Local
    /// flag follow the name.
    pub(super) fn rename(&mut self, name: &str) {
        self.name = name.into();
        self.local_one = local_half(name);
        if let Some((_, dev)) = interface_of(name) {
            if self.device.as_ref().map(DeviceId::as_str) != Some(dev) {
                self.device = Some(DeviceId::new(dev));
            }
        } else {
            self.device = None;
        }
    }

    pub(super) fn set_calling_pres(&mut self, value: &str) {
        self.caller.presentation = Presentation::from_calling_pres(value);
    }
}

/// `Local/200@internal-00000001;1` is the `;1` half.
pub(super) fn local_half(name: &str) -> Option<bool> {
    let rest = name.strip_prefix("Local/").or_else(|| name.strip_prefix("local/"))?;
    if rest.ends_with(";1") {
        Some(true)
    } else if rest.ends_with(";2") {
        Some(false)
    } else {
        Some(true)
    }
}

/// The name of the other half of a Local channel.
pub(super) fn local_peer_name(name: &str) -> Option<String> {
    let base =
        name.strip_suffix(";1").map(|b| (b, ";2")).or_else(|| name.strip_suffix(";2").map(|b| (b, ";1")))?;
    Some(format!("{}{}", base.0, base.1))
}

pub(super) fn parse_cause(msg: &Message) -> Option<Cause> {
    msg.get("Cause").and_then(|c| c.trim().parse::<u16>().ok()).map(Cause)
}
