//! What the tracker remembers of one PBX channel.

use std::sync::Arc;

use crate::ami::Message;
use crate::model::event::{Cause, FailureReason};
use crate::model::ids::{interface_of, DeviceId};
use crate::model::state::{clean, ConnectionState, Party, Presentation};

/// The short texts of a channel, by their place in [`Texts`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Text {
    /// The dialplan extension.
    Exten = 0,
    CallerNumber = 1,
    CallerName = 2,
    ConnectedNumber = 3,
    ConnectedName = 4,
}

/// A channel's extension and both caller-ids (five short strings) end to end in one
/// `Box<str>`, with where each of the first four ends: 32 bytes in the channel record and
/// one allocation, where five `Box<str>` take 80 bytes and up to five allocations (a
/// tracker holds one per channel).
#[derive(Clone, Debug, Default)]
pub(super) struct Texts {
    buf: Box<str>,
    ends: [u32; 4],
}

impl Texts {
    fn range(&self, i: usize) -> std::ops::Range<usize> {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        let end = self.ends.get(i).map_or(self.buf.len(), |&e| e as usize);
        start..end
    }

    pub(super) fn get(&self, t: Text) -> &str {
        self.buf.get(self.range(t as usize)).unwrap_or("")
    }

    /// Replaces one text, only when it differs. (A value that would make the five longer
    /// than 4 GiB together is not taken; no AMI message carries one.)
    pub(super) fn set(&mut self, t: Text, v: &str) {
        let i = t as usize;
        let r = self.range(i);
        let Some(old) = self.buf.get(r.clone()) else { return };
        if old == v {
            return;
        }
        let len = self.buf.len() - r.len() + v.len();
        if u32::try_from(len).is_err() {
            return;
        }
        let mut s = String::with_capacity(len);
        s.push_str(&self.buf[..r.start]);
        s.push_str(v);
        s.push_str(&self.buf[r.end..]);
        for e in &mut self.ends[i..] {
            // Fits: every end is at most `len`, checked above.
            *e = (*e as usize - r.len() + v.len()) as u32;
        }
        self.buf = s.into_boxed_str();
    }
}

/// What only channels in a transfer or a bridge change have (allocated when first set).
#[derive(Debug, Default)]
pub(super) struct ChanMore {
    /// The label when it is not the channel's name (see [`Chan::label`]).
    pub(super) label: Option<Arc<str>>,
    /// The bridge it left last (an attended transfer is reported after the swap).
    pub(super) prev_bridge: Option<Arc<str>>,
    /// For the `;1` half of the Local pair an attended transfer dials its target through:
    /// the transferer's channel it stands for. While set, the half is that phone's
    /// connection in the consultation call (see `Tracker::adopt_consultation`).
    pub(super) proxy_for: Option<Uid>,
    /// For a transferer's channel: the Local half that stands for it in its consultation.
    pub(super) consult: Option<Uid>,
}

/// A channel's uniqueid. Shared (`Arc`) because calls, bridges, Local pairs and dial links
/// all refer to channels: one allocation per channel, not one per reference.
pub(super) type Uid = Arc<str>;

/// The channels, by uniqueid: each boxed record is its own key (its `uid`), so a slot is
/// one pointer (8 bytes), where a `HashMap<Uid, Box<Chan>>` slot holds the key again (24
/// bytes). The methods are those of a map keyed by uniqueid.
#[derive(Default)]
pub(super) struct ChanTable {
    table: hashbrown::HashTable<Box<Chan>>,
    hasher: foldhash::fast::RandomState,
}

impl std::fmt::Debug for ChanTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.table.iter()).finish()
    }
}

impl ChanTable {
    fn hash(&self, uid: &str) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(uid)
    }

    pub(super) fn get<Q: std::borrow::Borrow<str> + ?Sized>(&self, uid: &Q) -> Option<&Chan> {
        let uid = uid.borrow();
        self.table.find(self.hash(uid), |c| *c.uid == *uid).map(|c| &**c)
    }

    pub(super) fn get_mut<Q: std::borrow::Borrow<str> + ?Sized>(&mut self, uid: &Q) -> Option<&mut Chan> {
        let uid = uid.borrow();
        let hash = self.hash(uid);
        self.table.find_mut(hash, |c| *c.uid == *uid).map(|c| &mut **c)
    }

    /// The channel and the shared copy of its uniqueid.
    pub(super) fn get_key_value<Q: std::borrow::Borrow<str> + ?Sized>(
        &self,
        uid: &Q,
    ) -> Option<(&Uid, &Chan)> {
        self.get(uid).map(|c| (&c.uid, c))
    }

    pub(super) fn contains_key<Q: std::borrow::Borrow<str> + ?Sized>(&self, uid: &Q) -> bool {
        self.get(uid).is_some()
    }

    /// Adds a channel under its uniqueid, replacing (and returning) one of the same id.
    pub(super) fn insert(&mut self, ch: Box<Chan>) -> Option<Box<Chan>> {
        let hash = self.hash(&ch.uid);
        let hasher = &self.hasher;
        match self.table.entry(
            hash,
            |c| c.uid == ch.uid,
            |c| std::hash::BuildHasher::hash_one(hasher, &*c.uid),
        ) {
            hashbrown::hash_table::Entry::Occupied(mut e) => Some(std::mem::replace(e.get_mut(), ch)),
            hashbrown::hash_table::Entry::Vacant(e) => {
                e.insert(ch);
                None
            }
        }
    }

    pub(super) fn remove<Q: std::borrow::Borrow<str> + ?Sized>(&mut self, uid: &Q) -> Option<Box<Chan>> {
        let uid = uid.borrow();
        let hash = self.hash(uid);
        self.table.find_entry(hash, |c| *c.uid == *uid).ok().map(|e| e.remove().0)
    }

    pub(super) fn len(&self) -> usize {
        self.table.len()
    }

    pub(super) fn values(&self) -> impl Iterator<Item = &Chan> {
        self.table.iter().map(|c| &**c)
    }

    pub(super) fn capacity(&self) -> usize {
        self.table.capacity()
    }

    pub(super) fn shrink_to(&mut self, min_capacity: usize) {
        let hasher = &self.hasher;
        self.table.shrink_to(min_capacity, |c| std::hash::BuildHasher::hash_one(hasher, &*c.uid));
    }
}

impl<Q: std::borrow::Borrow<str> + ?Sized> std::ops::Index<&Q> for ChanTable {
    type Output = Chan;

    fn index(&self, uid: &Q) -> &Chan {
        match self.get(uid) {
            Some(c) => c,
            None => panic!("no channel {:?}", uid.borrow()),
        }
    }
}

/// The hasher of the tracker's tables (foldhash: fast on the short ids AMI uses, seeded
/// per table).
pub(super) type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
/// Non-zero, so that `Option<CallKey>` in every channel record takes 8 bytes, not 16.
pub(super) type CallKey = std::num::NonZeroU64;

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
    /// Changed only through [`set_name`](Self::set_name), which keeps the label.
    name: Arc<str>,
    /// Whether the channel has a label (see [`label`](Self::label)); the label itself is
    /// kept (in [`ChanMore`]) only when it is not the current name.
    labelled: bool,
    pub(super) uid: Uid,
    pub(super) linkedid: Arc<str>,
    /// Whether the PBX reported a Linkedid (Asterisk 1.8+): only then does "first of
    /// its call" mean anything.
    pub(super) has_linkedid: bool,
    pub(super) state: u8,
    /// The extension, the caller-id and the connected line (see [`Text`]).
    pub(super) texts: Texts,
    /// The caller-id's presentation (the connected line's is always `Allowed`).
    pub(super) caller_pres: Presentation,
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
    pub(super) dial_end: Option<DialOutcome>,
    pub(super) delivered: bool,
    /// Left its call through a transfer or pickup; its later events change no call.
    pub(super) detached: bool,
    /// Reported as part of a conference in its current bridge.
    pub(super) conferenced: bool,
    /// The previous bridge and the transfer links (see [`ChanMore`]), rarely set.
    more: Option<Box<ChanMore>>,
}

impl Chan {
    pub(super) fn new(uid: Uid, name: &str) -> Self {
        let local_one = local_half(name);
        let device = interface_of(name).map(|(_, dev)| DeviceId::new(dev));
        Chan {
            name: name.into(),
            labelled: false,
            linkedid: uid.clone(),
            uid,
            has_linkedid: false,
            state: DOWN,
            texts: Texts::default(),
            caller_pres: Presentation::default(),
            local_one,
            peer: None,
            parent: None,
            call: None,
            conn: ConnectionState::Null,
            role: Role::Undecided,
            device,
            bridge: None,
            dial_end: None,
            delivered: false,
            detached: false,
            conferenced: false,
            more: None,
        }
    }

    /// The channel's name.
    pub(super) fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// Renames the channel; a label that was its name stays the old name.
    pub(super) fn set_name(&mut self, name: Arc<str>) {
        if self.labelled && self.more.as_ref().is_none_or(|m| m.label.is_none()) {
            let old = std::mem::replace(&mut self.name, name);
            self.more_mut().label = Some(old);
        } else {
            self.name = name;
        }
    }

    /// The name its connection was first reported under; events keep using it when
    /// Asterisk renames the channel mid-call (masquerades), so a consumer sees one
    /// connection, not two. `None` while it is in no connection.
    pub(super) fn label(&self) -> Option<&Arc<str>> {
        if !self.labelled {
            return None;
        }
        Some(self.more.as_ref().and_then(|m| m.label.as_ref()).unwrap_or(&self.name))
    }

    /// Sets or clears the label (stored apart only when it is not the name).
    pub(super) fn set_label(&mut self, label: Option<Arc<str>>) {
        self.labelled = label.is_some();
        match label.filter(|l| **l != *self.name) {
            Some(l) => self.more_mut().label = Some(l),
            None => {
                if let Some(m) = self.more_if_any() {
                    m.label = None;
                }
            }
        }
    }

    /// The transferer's channel this Local half stands for (see [`ChanMore::proxy_for`]).
    pub(super) fn proxy_for(&self) -> Option<&Uid> {
        self.more.as_ref()?.proxy_for.as_ref()
    }

    /// The Local half that stands for this channel (see [`ChanMore::consult`]).
    pub(super) fn consult(&self) -> Option<&Uid> {
        self.more.as_ref()?.consult.as_ref()
    }

    /// The bridge it left last.
    pub(super) fn prev_bridge(&self) -> Option<&Arc<str>> {
        self.more.as_ref()?.prev_bridge.as_ref()
    }

    /// The rarely set fields, to change (allocated on first use).
    pub(super) fn more_mut(&mut self) -> &mut ChanMore {
        self.more.get_or_insert_with(Box::default)
    }

    /// The rarely set fields, to change, only when the channel has them (for taking or
    /// clearing one: nothing to allocate then).
    pub(super) fn more_if_any(&mut self) -> Option<&mut ChanMore> {
        self.more.as_deref_mut()
    }

    /// The dialplan extension.
    pub(super) fn exten(&self) -> &str {
        self.texts.get(Text::Exten)
    }

    pub(super) fn caller_number(&self) -> &str {
        self.texts.get(Text::CallerNumber)
    }

    pub(super) fn connected_number(&self) -> &str {
        self.texts.get(Text::ConnectedNumber)
    }

    /// The caller-id as a party.
    pub(super) fn caller(&self) -> Party {
        Party {
            number: self.texts.get(Text::CallerNumber).to_owned(),
            name: self.texts.get(Text::CallerName).to_owned(),
            presentation: self.caller_pres,
        }
    }

    /// The connected line as a party.
    pub(super) fn connected(&self) -> Party {
        Party {
            number: self.texts.get(Text::ConnectedNumber).to_owned(),
            name: self.texts.get(Text::ConnectedName).to_owned(),
            presentation: Presentation::default(),
        }
    }

    /// The channel name events report for this channel's connection.
    pub(super) fn shown(&self) -> String {
        self.label().unwrap_or(&self.name).to_string()
    }

    /// Plumbing rather than a party: a Local half, unless it stands for a transferer.
    pub(super) fn is_local(&self) -> bool {
        self.local_one.is_some() && self.proxy_for().is_none()
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
        let keep_identity = self.proxy_for().is_some();
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
                    self.texts.set(Text::CallerNumber, clean(v));
                }
                F::CallerId if !caller_num_seen => self.texts.set(Text::CallerNumber, clean(v)),
                F::CallerId => {}
                F::CallerIdName => self.texts.set(Text::CallerName, clean(v)),
                F::ConnectedNum => self.texts.set(Text::ConnectedNumber, clean(v)),
                F::ConnectedName => self.texts.set(Text::ConnectedName, clean(v)),
                F::Exten => {
                    if !v.is_empty() {
                        self.texts.set(Text::Exten, v);
                    }
                }
            }
        }
    }

    /// A new name (Asterisk renames channels in masquerades): the device and the Local
    /// flag follow the name.
    pub(super) fn rename(&mut self, name: &str) {
        self.set_name(name.into());
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
        self.caller_pres = Presentation::from_calling_pres(value);
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

#[cfg(test)]
mod texts_tests {
    use super::{Text, Texts};

    const ALL: [Text; 5] =
        [Text::Exten, Text::CallerNumber, Text::CallerName, Text::ConnectedNumber, Text::ConnectedName];

    #[test]
    fn each_text_is_set_and_read_on_its_own() {
        let mut t = Texts::default();
        assert!(ALL.iter().all(|&f| t.get(f).is_empty()));
        let mut want = [String::new(), String::new(), String::new(), String::new(), String::new()];
        // Grow, shrink, empty and refill every field in turn, in an order that moves the
        // fields after it both ways.
        let values = ["200", "Andrew Garza", "", "Maria de Vries ü", "s", "0612345678", ""];
        for (n, v) in values.iter().cycle().take(40).enumerate() {
            let f = ALL[(n * 3) % 5];
            t.set(f, v);
            want[f as usize] = (*v).to_owned();
            for g in ALL {
                assert_eq!(t.get(g), want[g as usize], "after setting {f:?} to {v:?}");
            }
        }
    }

    #[test]
    fn channel_record_stays_small() {
        // The tracker holds one per channel (docs/performance.md, "Memory per tracked call").
        assert!(std::mem::size_of::<super::Chan>() <= 176, "{}", std::mem::size_of::<super::Chan>());
        assert_eq!(std::mem::size_of::<Texts>(), 32);
    }
}
