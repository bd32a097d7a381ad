//! What the tracker remembers of one PBX channel.

use std::sync::Arc;

use crate::ami::Message;
use crate::model::event::{Cause, FailureReason};
use crate::model::ids::{interface_of, DeviceId};
use crate::model::state::{clean, ConnectionState, Party, Presentation};

/// Caller-id as a channel holds it: boxed strings (smaller than `Party`'s `String`s, and
/// a tracker holds one per channel side).
#[derive(Clone, Debug, Default)]
pub(super) struct Cid {
    pub(super) number: Box<str>,
    pub(super) name: Box<str>,
    pub(super) presentation: Presentation,
}

impl Cid {
    pub(super) fn party(&self) -> Party {
        Party {
            number: self.number.to_string(),
            name: self.name.to_string(),
            presentation: self.presentation,
        }
    }
}

/// A channel's uniqueid. Shared (`Arc`) because calls, bridges, Local pairs and dial links
/// all refer to channels: one allocation per channel, not one per reference.
pub(super) type Uid = Arc<str>;

/// The hasher of the tracker's tables (foldhash: fast on the short ids AMI uses, seeded
/// per table).
pub(super) type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
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
    pub(super) name: Arc<str>,
    /// The name its connection was first reported under; events keep using it when
    /// Asterisk renames the channel mid-call (masquerades), so a consumer sees one
    /// connection, not two.
    pub(super) label: Option<Arc<str>>,
    pub(super) uid: Uid,
    pub(super) linkedid: Arc<str>,
    /// Whether the PBX reported a Linkedid (Asterisk 1.8+): only then does "first of
    /// its call" mean anything.
    pub(super) has_linkedid: bool,
    pub(super) state: u8,
    pub(super) caller: Cid,
    pub(super) connected: Cid,
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
    pub(super) bridge: Option<Arc<str>>,
    /// The bridge it left last (an attended transfer is reported after the swap).
    pub(super) prev_bridge: Option<Arc<str>>,
    pub(super) dial_end: Option<DialOutcome>,
    pub(super) delivered: bool,
    /// Left its call through a transfer or pickup; its later events change no call.
    pub(super) detached: bool,
    /// Reported as part of a conference in its current bridge.
    pub(super) conferenced: bool,
    /// For the `;1` half of the Local pair an attended transfer dials its target through:
    /// the transferer's channel it stands for. While set, the half is that phone's
    /// connection in the consultation call (see `Tracker::adopt_consultation`).
    pub(super) proxy_for: Option<Uid>,
    /// For a transferer's channel: the Local half that stands for it in its consultation.
    pub(super) consult: Option<Uid>,
}

impl Chan {
    pub(super) fn new(uid: Uid, name: &str) -> Self {
        let local_one = local_half(name);
        let device = interface_of(name).map(|(_, dev)| DeviceId::new(dev));
        Chan {
            name: name.into(),
            label: None,
            linkedid: uid.clone(),
            uid,
            has_linkedid: false,
            state: DOWN,
            caller: Cid::default(),
            connected: Cid::default(),
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
            proxy_for: None,
            consult: None,
        }
    }

    /// The channel name events report for this channel's connection.
    pub(super) fn shown(&self) -> String {
        self.label.as_deref().unwrap_or(&self.name).to_owned()
    }

    /// Plumbing rather than a party: a Local half, unless it stands for a transferer.
    pub(super) fn is_local(&self) -> bool {
        self.local_one.is_some() && self.proxy_for.is_none()
    }

    /// A channel that is its own call's first channel.
    pub(super) fn is_root(&self) -> bool {
        self.linkedid.is_empty() || self.linkedid == self.uid
    }

    /// Reads the fields a channel event carries (`Newchannel`, `Newstate`, `CoreShowChannel`,
    /// and the prefixed forms of other events when `prefix` is set), in one pass over the
    /// message and without allocating unless a value changed.
    pub(super) fn update_from(&mut self, msg: &Message, prefix: &str) {
        #[derive(Clone, Copy)]
        enum F {
            ChannelState,
            State,
            Linkedid,
            CallerIdNum,
            CallerId,
            CallerIdName,
            ConnectedNum,
            ConnectedName,
            Exten,
        }
        let mut caller_num_seen = false;
        // A half standing for a transferer keeps that phone's identity: the caller-id
        // Asterisk gives the Local channel is the target's, copied back across the pair.
        let keep_identity = self.proxy_for.is_some();
        for (k, raw) in msg.raw_fields() {
            let Some(k) = strip_prefix_ci(k, prefix.as_bytes()) else { continue };
            // The key decides first: most fields of an event are skipped before their
            // values are looked at.
            let is = |name: &str| k.eq_ignore_ascii_case(name.as_bytes());
            let f = match k.len() {
                12 if is("ChannelState") => F::ChannelState,
                12 if is("CallerIDName") => F::CallerIdName,
                5 if is("State") => F::State,
                5 if is("Exten") => F::Exten,
                8 if is("Linkedid") => F::Linkedid,
                8 if is("CallerID") => F::CallerId,
                11 if is("CallerIDNum") => F::CallerIdNum,
                16 if is("ConnectedLineNum") => F::ConnectedNum,
                17 if is("ConnectedLineName") => F::ConnectedName,
                _ => continue,
            };
            if keep_identity && !matches!(f, F::ChannelState | F::State | F::Linkedid | F::Exten) {
                continue;
            }
            let lossy;
            let v = match std::str::from_utf8(raw) {
                Ok(v) => v.trim(),
                Err(_) => {
                    lossy = String::from_utf8_lossy(raw);
                    lossy.trim()
                }
            };
            match f {
                F::ChannelState => {
                    if let Ok(n) = v.parse::<u8>() {
                        self.state = n;
                    }
                }
                F::State => self.state = crate::ami::event::ChannelState::from_desc(v).code(),
                F::Linkedid => {
                    if !v.is_empty() {
                        if *self.linkedid != *v {
                            self.linkedid = if *self.uid == *v { self.uid.clone() } else { v.into() };
                        }
                        self.has_linkedid = true;
                    }
                }
                F::CallerIdNum => {
                    caller_num_seen = true;
                    set(&mut self.caller.number, clean(v));
                }
                F::CallerId if !caller_num_seen => set(&mut self.caller.number, clean(v)),
                F::CallerId => {}
                F::CallerIdName => set(&mut self.caller.name, clean(v)),
                F::ConnectedNum => set(&mut self.connected.number, clean(v)),
                F::ConnectedName => set(&mut self.connected.name, clean(v)),
                F::Exten => {
                    if !v.is_empty() && *self.exten != *v {
                        self.exten = v.into();
                    }
                }
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

/// Replaces `dst` with `v` only when it differs.
pub(super) fn set(dst: &mut Box<str>, v: &str) {
    if **dst != *v {
        *dst = v.into();
    }
}

/// `key` without `prefix` (ASCII case-insensitive), if it starts with it.
fn strip_prefix_ci<'a>(key: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    if key.len() >= prefix.len() && key[..prefix.len()].eq_ignore_ascii_case(prefix) {
        Some(&key[prefix.len()..])
    } else {
        None
    }
}

/// `<prefix>Uniqueid` and `<prefix>Channel` in one pass over the message.
pub(super) fn uid_and_channel<'m>(msg: &'m Message, prefix: &str) -> (Option<&'m str>, Option<&'m str>) {
    let (mut uid, mut chan) = (None, None);
    for (k, v) in msg.raw_fields() {
        let n = k.len().wrapping_sub(prefix.len());
        if n != 8 && n != 7 {
            continue;
        }
        let Some(rest) = strip_prefix_ci(k, prefix.as_bytes()) else { continue };
        if uid.is_none() && rest.eq_ignore_ascii_case(b"Uniqueid") {
            uid = std::str::from_utf8(v).ok().map(str::trim);
        } else if chan.is_none() && rest.eq_ignore_ascii_case(b"Channel") {
            chan = std::str::from_utf8(v).ok().map(str::trim);
        }
        if uid.is_some() && chan.is_some() {
            break;
        }
    }
    (uid, chan)
}
