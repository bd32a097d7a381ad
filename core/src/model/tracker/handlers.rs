//! One handler per AMI event the model uses. Each reads what it needs, tolerates missing
//! fields and unknown channels, and pushes the normalized events it causes.

use crate::ami::Message;
use crate::model::event::{Cause, DivertReason, Event, FailureReason};
use crate::model::state::{clean, ConnectionState};

use super::chan::{
    local_peer_name, parse_cause, uid_and_channel, Chan, DialOutcome, Role, Text, Uid, BUSY, RING, RINGING,
    UP,
};
use super::Tracker;

/// The most channels one bridge (or one walk through bridges) is followed for.
const MAX_BRIDGE: usize = 256;

/// The AMI events the tracker reacts to; everything else costs one lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Newchannel,
    Newstate,
    NewCallerid,
    NewConnectedLine,
    DialBegin,
    DialEnd,
    /// Asterisk 1.4 to 11: `Dial` with `SubEvent: Begin/End` (or no SubEvent in 1.4).
    Dial,
    BridgeEnter,
    BridgeLeave,
    /// Asterisk 1.4 to 11: `Link`, `Unlink`, `Bridge`.
    Link,
    Unlink,
    Bridge,
    LocalBridge,
    Hangup,
    HangupRequest,
    Rename,
    Masquerade,
    BlindTransfer,
    AttendedTransfer,
    Hold,
    Unhold,
    Pickup,
    QueueCallerJoin,
    QueueCallerLeave,
    QueueCallerAbandon,
    ExtensionStatus,
    DeviceStateChange,
    PresenceStateChange,
    UserEvent,
}

const KINDS: &[(&str, Kind)] = &[
    ("Newchannel", Kind::Newchannel),
    ("Newstate", Kind::Newstate),
    ("NewCallerid", Kind::NewCallerid),
    ("NewConnectedLine", Kind::NewConnectedLine),
    ("DialBegin", Kind::DialBegin),
    ("DialEnd", Kind::DialEnd),
    ("Dial", Kind::Dial),
    ("BridgeEnter", Kind::BridgeEnter),
    ("BridgeLeave", Kind::BridgeLeave),
    ("Link", Kind::Link),
    ("Unlink", Kind::Unlink),
    ("Bridge", Kind::Bridge),
    ("LocalBridge", Kind::LocalBridge),
    ("Hangup", Kind::Hangup),
    ("HangupRequest", Kind::HangupRequest),
    ("SoftHangupRequest", Kind::HangupRequest),
    ("Rename", Kind::Rename),
    ("Masquerade", Kind::Masquerade),
    ("BlindTransfer", Kind::BlindTransfer),
    ("AttendedTransfer", Kind::AttendedTransfer),
    ("Hold", Kind::Hold),
    ("Unhold", Kind::Unhold),
    ("Pickup", Kind::Pickup),
    ("QueueCallerJoin", Kind::QueueCallerJoin),
    ("Join", Kind::QueueCallerJoin),
    ("QueueCallerLeave", Kind::QueueCallerLeave),
    ("Leave", Kind::QueueCallerLeave),
    ("QueueCallerAbandon", Kind::QueueCallerAbandon),
    ("ExtensionStatus", Kind::ExtensionStatus),
    ("DeviceStateChange", Kind::DeviceStateChange),
    ("PresenceStateChange", Kind::PresenceStateChange),
    ("UserEvent", Kind::UserEvent),
];

fn kind_of(name: &str) -> Option<Kind> {
    let name = name.trim();
    // Most traffic is a few kinds in Asterisk's own spelling, and most of it (VarSet,
    // Newexten, Cdr...) is ignored: an exact match settles those without a scan.
    match name {
        "VarSet" | "Newexten" | "AGIExec" | "RTCPSent" | "RTCPReceived" | "Cdr" | "CEL" | "DialState" => {
            return None
        }
        "Newstate" => return Some(Kind::Newstate),
        "Newchannel" => return Some(Kind::Newchannel),
        "BridgeEnter" => return Some(Kind::BridgeEnter),
        "BridgeLeave" => return Some(Kind::BridgeLeave),
        "Hangup" => return Some(Kind::Hangup),
        _ => {}
    }
    KINDS.iter().find(|(n, _)| n.len() == name.len() && n.eq_ignore_ascii_case(name)).map(|(_, k)| *k)
}

pub(super) fn dispatch(t: &mut Tracker, msg: &Message, out: &mut Vec<Event>) {
    let Some(name) = msg.event() else { return };
    let Some(kind) = kind_of(name) else { return };
    match kind {
        Kind::Newchannel | Kind::Newstate => t.on_channel(msg, out),
        Kind::NewCallerid => t.on_callerid(msg),
        Kind::NewConnectedLine => t.on_connected_line(msg),
        Kind::DialBegin => t.on_dial_begin(msg, "", "Dest", out),
        Kind::DialEnd => t.on_dial_end(msg, "Dest", out),
        Kind::Dial => t.on_legacy_dial(msg, out),
        Kind::BridgeEnter => t.on_bridge_enter(msg, out),
        Kind::BridgeLeave => t.on_bridge_leave(msg),
        Kind::Link => t.on_link(msg, out),
        Kind::Unlink => {}
        Kind::Bridge => {
            let state = msg.get("Bridgestate").map(str::trim).unwrap_or("Link");
            if state.eq_ignore_ascii_case("Link") {
                t.on_link(msg, out);
            }
        }
        Kind::LocalBridge => t.on_local_bridge(msg, out),
        Kind::Hangup => t.on_hangup(msg, out),
        Kind::HangupRequest => t.on_hangup_request(msg),
        Kind::Rename => t.on_rename(msg, out),
        Kind::Masquerade => t.on_masquerade(msg, out),
        Kind::BlindTransfer => t.on_blind_transfer(msg, out),
        Kind::AttendedTransfer => t.on_attended_transfer(msg, out),
        Kind::Hold => t.on_hold(msg, true, out),
        Kind::Unhold => t.on_hold(msg, false, out),
        Kind::Pickup => t.on_pickup_event(msg, out),
        Kind::QueueCallerJoin => t.on_queue_join(msg, out),
        Kind::QueueCallerLeave | Kind::QueueCallerAbandon => t.on_queue_leave(msg, out),
        Kind::ExtensionStatus => t.on_extension_status(msg, out),
        Kind::DeviceStateChange => t.on_device_state_change(msg, out),
        Kind::PresenceStateChange => t.on_presence(msg, out),
        Kind::UserEvent => t.on_user_event(msg, out),
    }
}

impl Tracker {
    /// The uniqueid of the channel an event is about: `<prefix>Uniqueid`, else the channel
    /// named by `<prefix>Channel`. A known channel's id is shared, not copied.
    pub(super) fn uid_of(&self, msg: &Message, prefix: &str) -> Option<Uid> {
        let (uid, name) = uid_and_channel(msg, prefix);
        if let Some(u) = uid.filter(|u| !u.is_empty()) {
            return Some(self.chans.get_key_value(u).map_or_else(|| u.into(), |(k, _)| k.clone()));
        }
        self.by_name.get(name?).cloned()
    }

    /// Finds or creates the channel an event is about, so that a lost `Newchannel` does not
    /// lose the call.
    pub(super) fn touch(&mut self, msg: &Message, prefix: &str, out: &mut Vec<Event>) -> Option<Uid> {
        self.touch_new(msg, prefix, out).map(|(u, _)| u)
    }

    /// Like [`touch`](Self::touch), and whether the channel was created (and read) now.
    fn touch_new(&mut self, msg: &Message, prefix: &str, out: &mut Vec<Event>) -> Option<(Uid, bool)> {
        let (uid, name) = uid_and_channel(msg, prefix);
        let (uid, name) = (uid.filter(|u| !u.is_empty()), name.filter(|n| !n.is_empty()));
        let known = match (uid, name) {
            (Some(u), _) => self.chans.get_key_value(u).map(|(k, _)| k.clone()),
            (None, Some(n)) => self.by_name.get(n).cloned(),
            (None, None) => return None,
        };
        if let Some(k) = known {
            return Some((k, false));
        }
        let uid: Uid = uid.or(name)?.into();
        let name = name.unwrap_or(&uid).to_owned();
        self.insert_chan(Chan::new(uid.clone(), &name), out);
        if let Some(ch) = self.chans.get_mut(&uid) {
            ch.update_from(msg, prefix);
        }
        self.intern_linkedid(&uid);
        self.pair_local(&uid);
        Some((uid, true))
    }

    /// A Linkedid is the uniqueid of another channel: share that channel's copy.
    fn intern_linkedid(&mut self, uid: &str) {
        let Some(ch) = self.chans.get(uid) else { return };
        if std::sync::Arc::ptr_eq(&ch.linkedid, &ch.uid) {
            return;
        }
        let shared = match self.chans.get_key_value(&*ch.linkedid) {
            Some((k, _)) if !std::sync::Arc::ptr_eq(k, &ch.linkedid) => k.clone(),
            _ => return,
        };
        if let Some(ch) = self.chans.get_mut(uid) {
            ch.linkedid = shared;
        }
    }

    /// Gives memory back after a burst of calls (a table keeps its largest size otherwise).
    fn shrink_tables(&mut self) {
        fn shrink<K: std::hash::Hash + Eq, V>(m: &mut super::chan::Map<K, V>) {
            if m.capacity() > 4096 && m.len() * 4 < m.capacity() {
                m.shrink_to(m.len() * 2);
            }
        }
        if self.chans.capacity() > 4096 && self.chans.len() * 4 < self.chans.capacity() {
            self.chans.shrink_to(self.chans.len() * 2);
        }
        shrink(&mut self.by_name);
        shrink(&mut self.bridges);
        shrink(&mut self.calls);
        shrink(&mut self.by_id);
        shrink(&mut self.legacy_dials);
        // Device ids no channel names any more.
        self.device_ids.retain(crate::model::ids::DeviceId::is_shared);
        if self.order.capacity() > 4096 && self.order.len() * 4 < self.order.capacity() {
            self.order.shrink_to(self.order.len() * 2);
        }
    }

    pub(super) fn insert_chan(&mut self, mut ch: Chan, out: &mut Vec<Event>) {
        if let Some(d) = ch.device.take() {
            ch.device = Some(self.intern_device(d));
        }
        while self.chans.len() >= self.limits.max_channels {
            let Some(old) = self.order.pop_front() else { break };
            self.forget(&old, out);
        }
        // Asterisk never has two live channels of one name: an older holder of this name
        // hung up without us seeing it.
        if let Some(stale) = self.by_name.get(ch.name()).filter(|u| **u != ch.uid).cloned() {
            self.forget(&stale, out);
        }
        self.by_name.insert(ch.name().clone(), ch.uid.clone());
        self.order.push_back(ch.uid.clone());
        self.chans.insert(Box::new(ch));
    }

    /// Removes a channel that hung up (after its connection left the call).
    fn forget(&mut self, uid: &str, out: &mut Vec<Event>) {
        self.end_consultation_of(uid, out);
        self.leave(uid, None, out);
        self.leave_bridge(uid);
        self.legacy_dials.remove(uid);
        if let Some(ch) = self.chans.remove(uid) {
            if self.by_name.get(ch.name()).is_some_and(|u| &**u == uid) {
                self.by_name.remove(ch.name());
            }
            if let Some(p) = ch.peer.as_deref().and_then(|p| self.chans.get_mut(p)) {
                p.peer = None;
            }
        }
        if self.order.len() > self.chans.len() * 2 + 64 {
            let chans = &self.chans;
            self.order.retain(|u| chans.contains_key(u));
            self.shrink_tables();
        }
    }

    pub(super) fn pair_local(&mut self, uid: &str) {
        let Some(ch) = self.chans.get(uid) else { return };
        if !ch.is_local() || ch.peer.is_some() {
            return;
        }
        let Some(peer_name) = local_peer_name(ch.name()) else { return };
        let Some(peer) = self.by_name.get(peer_name.as_str()).cloned() else { return };
        if &*peer == uid {
            return;
        }
        let shared = self.shared_uid(uid);
        if let Some(p) = self.chans.get_mut(&peer) {
            p.peer = Some(shared);
        }
        if let Some(c) = self.chans.get_mut(uid) {
            c.peer = Some(peer);
        }
    }

    /// `Newchannel` and `Newstate`: a channel appears or changes state.
    fn on_channel(&mut self, msg: &Message, out: &mut Vec<Event>) {
        let Some((uid, created)) = self.touch_new(msg, "", out) else { return };
        if !created {
            if let Some(ch) = self.chans.get_mut(&uid) {
                ch.update_from(msg, "");
            }
            self.intern_linkedid(&uid);
        }
        self.on_state(&uid, out);
    }

    /// Reacts to the channel's current Asterisk state.
    pub(super) fn on_state(&mut self, uid: &str, out: &mut Vec<Event>) {
        let Some(ch) = self.chans.get(uid) else { return };
        if ch.is_local() {
            return;
        }
        let (state, role, has_parent, root) = (ch.state, ch.role, ch.parent.is_some(), ch.is_root());
        // Without a Linkedid (Asterisk 1.4) every channel looks like the first of its call,
        // so a ringing channel waits for the Dial that names its caller.
        let first_of_call = root && ch.has_linkedid;
        match state {
            RING if !has_parent && role != Role::Called && role != Role::Prompt => {
                self.start_calling(uid, out);
            }
            RINGING => {
                if role == Role::Undecided && !has_parent && first_of_call {
                    // Rung with nothing dialing it: an Originate rings the user's phone.
                    if let Some(key) = self.ensure_call(uid) {
                        if let Some(ch) = self.chans.get_mut(uid) {
                            ch.role = Role::Prompt;
                        }
                        if let Some(c) = self.calls.get_mut(&key) {
                            c.click_to_dial = true;
                        }
                    }
                }
                // A channel of another call that rings with nothing dialing it yet waits for
                // the dial that names its caller: on a fast phone chan_sip reports the ring
                // before `DialBegin` (a real Asterisk 20: `;2` of an attended transfer's
                // Local pair dialing `SIP/102`), and its Linkedid names the call being
                // transferred, not the consultation. `link_dial` delivers it then; a dial
                // never reported still gets `Delivered` when it is answered.
                if self
                    .chans
                    .get(uid)
                    .is_some_and(|c| c.role != Role::Calling && (c.role != Role::Undecided || has_parent))
                {
                    self.deliver(uid, out);
                }
            }
            UP => match role {
                Role::Calling => self.originate(uid, out),
                Role::Prompt => self.prompt_answered(uid, out),
                Role::Called => self.bridged(uid, out),
                Role::Undecided => {
                    if !has_parent && root {
                        self.start_calling(uid, out);
                    } else if !has_parent {
                        // Joined by Linkedid only (events lost, or Asterisk 1.4): ringing
                        // is implied.
                        self.ensure_call(uid);
                    }
                }
            },
            BUSY if role == Role::Called || role == Role::Prompt => {
                self.fail(uid, FailureReason::Busy, Some(Cause::USER_BUSY), out);
            }
            _ => {}
        }
    }

    /// A channel with nothing dialing it that is dialing out: it places its own call.
    fn start_calling(&mut self, uid: &str, out: &mut Vec<Event>) {
        let Some(ch) = self.chans.get(uid) else { return };
        if ch.call.is_none() && !ch.is_root() {
            // Its Linkedid names another call, but a dialing channel is a caller: give it a
            // call of its own rather than joining that one as a party.
            let own = ch.uid.to_string();
            let key = self.new_call(&own);
            self.join(uid, key);
        }
        if let Some(ch) = self.chans.get_mut(uid) {
            ch.role = Role::Calling;
        }
        self.originate(uid, out);
    }

    fn on_callerid(&mut self, msg: &Message) {
        let Some(uid) = self.uid_of(msg, "") else { return };
        if let Some(ch) = self.chans.get_mut(&uid).filter(|c| c.proxy_for().is_none()) {
            if let Some(n) = msg.get_lossy("CallerIDNum").or_else(|| msg.get_lossy("CallerID")) {
                ch.texts.set(Text::CallerNumber, clean(&n));
            }
            if let Some(n) = msg.get_lossy("CallerIDName") {
                ch.texts.set(Text::CallerName, clean(&n));
            }
            if let Some(p) = msg.get("CID-CallingPres") {
                ch.set_calling_pres(p);
            }
        }
    }

    fn on_connected_line(&mut self, msg: &Message) {
        let Some(uid) = self.uid_of(msg, "") else { return };
        if let Some(ch) = self.chans.get_mut(&uid).filter(|c| c.proxy_for().is_none()) {
            if let Some(n) = msg.get_lossy("ConnectedLineNum") {
                ch.texts.set(Text::ConnectedNumber, clean(&n));
            }
            if let Some(n) = msg.get_lossy("ConnectedLineName") {
                ch.texts.set(Text::ConnectedName, clean(&n));
            }
        }
    }

    /// `src_prefix`/`dst_prefix` select the field names: `Channel`/`DestChannel` (13+) or
    /// `Src`/`Dest` forms of the older `Dial`.
    fn on_dial_begin(&mut self, msg: &Message, src_prefix: &str, dst_prefix: &str, out: &mut Vec<Event>) {
        let src = self.touch(msg, src_prefix, out);
        let Some(dst) = self.touch(msg, dst_prefix, out) else { return };
        if let Some(ch) = src.as_deref().and_then(|s| self.chans.get_mut(s)) {
            ch.update_from(msg, src_prefix);
        }
        if let Some(ch) = self.chans.get_mut(&dst) {
            ch.update_from(msg, dst_prefix);
        }
        if src.is_none() {
            // A dial with no dialing channel: an Originate rings its first phone.
            self.originate_leg(&dst, out);
            return;
        }
        self.link_dial(src, &dst, out);
    }

    /// The first phone of an Originate (the user's own, for a click-to-dial).
    fn originate_leg(&mut self, uid: &str, out: &mut Vec<Event>) {
        let Some(ch) = self.chans.get(uid) else { return };
        if ch.is_local() || ch.role != Role::Undecided || ch.parent.is_some() {
            return;
        }
        let Some(key) = self.ensure_call(uid) else { return };
        if let Some(ch) = self.chans.get_mut(uid) {
            ch.role = Role::Prompt;
        }
        if let Some(c) = self.calls.get_mut(&key) {
            c.click_to_dial = true;
        }
        self.on_state(uid, out);
    }

    pub(super) fn link_dial(&mut self, src: Option<Uid>, dst: &str, out: &mut Vec<Event>) {
        if let Some(src) = src.as_deref().filter(|s| *s != dst) {
            if self.creates_cycle(src, dst) {
                return;
            }
            let shared = self.shared_uid(src);
            if let Some(ch) = self.chans.get_mut(dst) {
                ch.parent = Some(shared);
            }
        }
        let Some(ch) = self.chans.get(dst) else { return };
        if ch.is_local() {
            return;
        }
        if ch.role == Role::Calling && ch.call.is_some() {
            // Dialing a channel that already placed its own call: a pickup (the picker
            // dialed a code, and Asterisk now connects it to the ringing call).
            self.pickup(dst, None, out);
            return;
        }
        if ch.role == Role::Undecided || ch.role == Role::Called {
            if let Some(c) = self.chans.get_mut(dst) {
                c.role = Role::Called;
            }
        }
        self.ensure_call(dst);
        match self.chans.get(dst).map(|c| c.state) {
            Some(RINGING) => self.deliver(dst, out),
            Some(UP) => self.bridged(dst, out),
            _ => {}
        }
    }

    fn creates_cycle(&self, src: &str, dst: &str) -> bool {
        let mut cur = Some(src);
        for _ in 0..64 {
            let Some(u) = cur else { return false };
            if u == dst {
                return true;
            }
            let ch = self.chans.get(u);
            let next = ch.and_then(|c| match (c.local_one, &c.peer) {
                (Some(false), Some(p)) => self.chans.get(&**p).and_then(|pc| pc.parent.as_deref()),
                _ => c.parent.as_deref(),
            });
            cur = next;
        }
        true
    }

    fn on_dial_end(&mut self, msg: &Message, dst_prefix: &str, out: &mut Vec<Event>) {
        let Some(dst) = self.uid_of(msg, dst_prefix) else { return };
        let status = msg.get("DialStatus").unwrap_or("").trim();
        let outcome = if status.eq_ignore_ascii_case("ANSWER") {
            DialOutcome::Answer
        } else if let Some(r) = FailureReason::from_dial_status(status) {
            DialOutcome::Failed(r)
        } else {
            DialOutcome::Cancel
        };
        let forward = msg.get("Forward").map(str::trim).filter(|f| !f.is_empty()).map(str::to_owned);
        let Some(ch) = self.chans.get_mut(&dst) else { return };
        ch.dial_end = Some(outcome);
        if ch.is_local() || ch.call.is_none() {
            return;
        }
        if let (Some(_), Some(key)) = (forward, ch.call) {
            // The phone forwarded the call (SIP 302): it stops ringing, and the next
            // phone to ring is reported as diverted from it.
            if let Some(from) = self.endpoint_of(&dst) {
                if let Some(c) = self.calls.get_mut(&key) {
                    c.more_mut().pending_divert = Some((from, DivertReason::Forward));
                }
                self.leave(&dst, None, out);
                if let Some(ch) = self.chans.get_mut(&dst) {
                    ch.detached = true;
                }
            }
            return;
        }
        if outcome == DialOutcome::Cancel && ch.conn == ConnectionState::Alerting && ch.role != Role::Calling
        {
            // The dial was called off while the phone rang. If the caller hung up, the call
            // ends; if the caller was redirected (deflect), the next phone to ring is
            // diverted from this one. In a call already answered it means nothing.
            let key = ch.call;
            if let Some(from) = self.endpoint_of(&dst) {
                if let Some(c) = key.and_then(|k| self.calls.get_mut(&k)) {
                    if !c.answered && c.more().pending_divert.is_none() {
                        c.more_mut().pending_divert = Some((from, DivertReason::Deflect));
                    }
                }
            }
            return;
        }
        if let DialOutcome::Failed(reason) = outcome {
            if matches!(ch.conn, ConnectionState::Null | ConnectionState::Alerting)
                && ch.role != Role::Calling
            {
                self.fail(&dst, reason, None, out);
            }
        }
    }

    fn on_legacy_dial(&mut self, msg: &Message, out: &mut Vec<Event>) {
        let sub = msg.get("SubEvent").map(str::trim).unwrap_or("Begin");
        if sub.eq_ignore_ascii_case("End") {
            // Asterisk 11 names only the caller; the destination is the channel it dialed.
            let Some(src) = self.uid_of(msg, "") else { return };
            let status = msg.get("DialStatus").unwrap_or("").trim();
            let dst = self.legacy_dials.remove(&src).unwrap_or_default();
            for d in dst {
                if let Some(reason) = FailureReason::from_dial_status(status) {
                    if let Some(ch) = self.chans.get_mut(&d) {
                        ch.dial_end = Some(DialOutcome::Failed(reason));
                    }
                    if self.chans.get(&d).is_some_and(|c| !c.is_local() && c.call.is_some()) {
                        self.fail(&d, reason, None, out);
                    }
                }
            }
            return;
        }
        // 1.8/11: Channel/UniqueID -> Destination/DestUniqueID; 1.4: Source/SrcUniqueID.
        let src =
            msg.get("UniqueID").or_else(|| msg.get("SrcUniqueID")).map(|u| Uid::from(u.trim())).or_else(
                || {
                    msg.get("Channel")
                        .or_else(|| msg.get("Source"))
                        .and_then(|n| self.by_name.get(n.trim()).cloned())
                },
            );
        let dst_uid = msg.get("DestUniqueID").map(|u| Uid::from(u.trim()));
        let dst_name = msg.get("Destination").map(str::trim);
        let dst = match (dst_uid, dst_name) {
            (Some(u), name) => {
                if !self.chans.contains_key(&u) {
                    self.insert_chan(Chan::new(u.clone(), name.unwrap_or(&u)), out);
                    self.pair_local(&u);
                }
                u
            }
            (None, Some(n)) => match self.by_name.get(n).cloned() {
                Some(u) => u,
                None => return,
            },
            (None, None) => return,
        };
        if let Some(s) = &src {
            let dials = self.legacy_dials.entry(s.clone()).or_default();
            if dials.len() < MAX_BRIDGE && !dials.contains(&dst) {
                dials.push(dst.clone());
            }
        }
        self.link_dial(src, &dst, out);
    }

    fn on_bridge_enter(&mut self, msg: &Message, out: &mut Vec<Event>) {
        let Some(uid) = self.touch(msg, "", out) else { return };
        let bridge = msg.get("BridgeUniqueid").map(str::trim).unwrap_or("");
        if let Some(ch) = self.chans.get_mut(&uid) {
            ch.update_from(msg, "");
        }
        self.enter_bridge(&uid, bridge);
        self.adopt_consultation(&uid, bridge, out);
        self.bridged(&uid, out);
    }

    fn enter_bridge(&mut self, uid: &str, bridge: &str) {
        self.leave_bridge(uid);
        let Some((key, _)) = self.chans.get_key_value(uid) else { return };
        let key = key.clone();
        // One shared copy of the bridge id for the table and its members.
        let id: std::sync::Arc<str> = match self.bridges.get_key_value(bridge) {
            Some((k, _)) => k.clone(),
            None => bridge.into(),
        };
        if let Some(ch) = self.chans.get_mut(uid) {
            ch.bridge = Some(id.clone());
        }
        let members = self.bridges.entry(id).or_default();
        if members.len() < MAX_BRIDGE {
            super::calls::push_member(members, key);
        }
    }

    pub(super) fn leave_bridge(&mut self, uid: &str) {
        let Some(ch) = self.chans.get_mut(uid) else { return };
        let Some(b) = ch.bridge.take() else { return };
        ch.more_mut().prev_bridge = Some(b.clone());
        if let Some(m) = self.bridges.get_mut(&b) {
            m.retain(|u| &**u != uid);
            if m.is_empty() {
                self.bridges.remove(&b);
            }
        }
    }

    /// The non-Local channels that hear `uid`: across its bridge, and through Local
    /// halves to the bridges beyond them.
    pub(super) fn component(&self, uid: &str) -> Vec<Uid> {
        let mut seen: Vec<&str> = Vec::new();
        let mut stack: Vec<&str> = vec![uid];
        let mut parties = Vec::new();
        // Transferers heard through the Local half that stands for them in a consultation.
        let mut stood_for: Vec<&str> = Vec::new();
        while let Some(u) = stack.pop() {
            if seen.len() >= MAX_BRIDGE || seen.contains(&u) {
                continue;
            }
            seen.push(u);
            let Some(ch) = self.chans.get(u) else { continue };
            if ch.is_local() {
                if let Some(p) = ch.peer.as_deref() {
                    stack.push(p);
                }
            } else {
                parties.push(ch.uid.clone());
                stood_for.extend(ch.proxy_for().map(|u| &**u));
            }
            if let Some(members) = ch.bridge.as_deref().and_then(|b| self.bridges.get(b)) {
                stack.extend(members.iter().map(|m| &**m));
            }
        }
        // A transferer shares a bridge with the Local half that stands for it in its
        // consultation: it is heard there through that half, not as a party of its own.
        if !stood_for.is_empty() {
            parties.retain(|p| !stood_for.contains(&&**p));
        }
        parties
    }

    /// A channel entered a bridge: every answered party that now hears another party of
    /// its call is connected (Local channels in between are only plumbing).
    fn bridged(&mut self, uid: &str, out: &mut Vec<Event>) {
        let parties = self.component(uid);
        if parties.len() < 2 {
            return;
        }
        for p in &parties {
            let Some(ch) = self.chans.get(&**p) else { continue };
            if ch.state != UP || matches!(ch.conn, ConnectionState::Connected | ConnectionState::Held) {
                continue;
            }
            if !matches!(ch.role, Role::Called | Role::Prompt | Role::Undecided) {
                continue;
            }
            let Some(key) = self.ensure_call(p) else { continue };
            let hears_party = parties.iter().any(|o| {
                o != p && self.chans.get(&**o).is_some_and(|c| c.call == Some(key) && !c.is_local())
            });
            if hears_party {
                self.establish(p, out);
            }
        }
        if parties.len() >= 3 {
            self.conferenced(&parties, out);
        }
    }

    /// Three or more parties hear each other (a 3-way call, a conference bridge): each
    /// connected party's call reports `Conferenced` once, with everyone in it.
    fn conferenced(&mut self, parties: &[Uid], out: &mut Vec<Event>) {
        let devices: Vec<crate::model::ids::DeviceId> =
            parties.iter().filter_map(|p| self.chans.get(&**p).and_then(|c| c.device.clone())).collect();
        for p in parties {
            let Some(ch) = self.chans.get(&**p) else { continue };
            if ch.conferenced || ch.conn != ConnectionState::Connected {
                continue;
            }
            let (Some(key), Some(device)) = (ch.call, ch.device.clone()) else { continue };
            let Some(call) = self.calls.get(&key).filter(|c| c.announced).map(|c| c.id.clone()) else {
                continue;
            };
            let channel = ch.shown();
            if let Some(ch) = self.chans.get_mut(&**p) {
                ch.conferenced = true;
            }
            out.push(Event::Conferenced {
                call,
                device,
                channel,
                state: ConnectionState::Connected,
                parties: devices.clone(),
            });
        }
    }

    fn on_bridge_leave(&mut self, msg: &Message) {
        let Some(uid) = self.uid_of(msg, "") else { return };
        self.leave_bridge(&uid);
        if let Some(ch) = self.chans.get_mut(&uid) {
            ch.conferenced = false;
        }
    }

    /// Asterisk 1.4 `Link` and 1.8/11 `Bridge`: two channels talk.
    fn on_link(&mut self, msg: &Message, out: &mut Vec<Event>) {
        let bridge =
            format!("link:{}", msg.get("Uniqueid1").or_else(|| msg.get("Channel1")).unwrap_or("").trim());
        let mut last = None;
        for i in ["1", "2"] {
            let uid = msg.get(&format!("Uniqueid{i}")).map(|u| Uid::from(u.trim())).or_else(|| {
                msg.get(&format!("Channel{i}")).and_then(|n| self.by_name.get(n.trim()).cloned())
            });
            let Some(uid) = uid else { continue };
            if let Some(ch) = self.chans.get_mut(&uid) {
                // 1.4 does not always report Up before Link; talking implies it.
                ch.state = UP;
            }
            self.enter_bridge(&uid, &bridge);
            last = Some(uid);
        }
        if let Some(uid) = last {
            self.bridged(&uid, out);
        }
    }

    fn on_local_bridge(&mut self, msg: &Message, out: &mut Vec<Event>) {
        let one = self.touch(msg, "LocalOne", out);
        let two = self.touch(msg, "LocalTwo", out);
        if let (Some(one), Some(two)) = (one, two) {
            if one == two {
                return;
            }
            if let Some(c) = self.chans.get_mut(&one) {
                c.peer = Some(two.clone());
                c.local_one = Some(true);
            }
            if let Some(c) = self.chans.get_mut(&two) {
                c.peer = Some(one);
                c.local_one = Some(false);
            }
        }
    }

    /// A channel asked to hang up. The first talking device of a call to do so released it
    /// (see `Event::ConnectionCleared::released_by`).
    fn on_hangup_request(&mut self, msg: &Message) {
        let Some(uid) = self.uid_of(msg, "") else { return };
        let Some(ch) = self.chans.get(&uid) else { return };
        if !matches!(ch.conn, ConnectionState::Connected | ConnectionState::Held) {
            return;
        }
        let (Some(key), Some(device)) = (ch.call, ch.device.clone()) else { return };
        if let Some(call) = self.calls.get_mut(&key) {
            call.more_mut().released_by.get_or_insert(device);
        }
    }

    fn on_hangup(&mut self, msg: &Message, out: &mut Vec<Event>) {
        let Some(uid) = self.uid_of(msg, "") else { return };
        let cause = parse_cause(msg);
        if let Some(ch) = self.chans.get(&uid) {
            let unanswered = matches!(ch.conn, ConnectionState::Null | ConnectionState::Alerting);
            if !ch.is_local() && ch.call.is_some() && unanswered && ch.role != Role::Calling {
                let failed = match (ch.dial_end, cause) {
                    (Some(DialOutcome::Failed(_)), _) | (Some(DialOutcome::Cancel), _) => None,
                    (_, Some(c)) => match FailureReason::from_cause(c) {
                        FailureReason::Other => None,
                        r => Some(r),
                    },
                    _ => None,
                };
                if let Some(reason) = failed {
                    self.fail(&uid, reason, cause, out);
                }
            }
        }
        self.leave(&uid, cause, out);
        let mut sink = Vec::new();
        self.forget(&uid, &mut sink);
        out.append(&mut sink);
    }

    fn on_rename(&mut self, msg: &Message, out: &mut Vec<Event>) {
        let old = msg.get("Oldname").or_else(|| msg.get("Channel")).map(str::trim);
        let Some(new) = msg.get("Newname").map(str::trim) else { return };
        let uid = msg
            .get("Uniqueid")
            .map(|u| Uid::from(u.trim()))
            .or_else(|| old.and_then(|o| self.by_name.get(o).cloned()));
        let Some(uid) = uid else { return };
        if let Some(ch) = self.chans.get_mut(&uid) {
            let old_name = ch.name().clone();
            if ch.call.is_some() || ch.conn != ConnectionState::Null {
                // A channel in a call keeps its device: only a Masquerade (handled on its
                // own) moves a call to another phone.
                ch.set_name(new.into());
            } else {
                ch.rename(new);
            }
            if self.by_name.get(&*old_name).is_some_and(|u| *u == uid) {
                self.by_name.remove(&*old_name);
            }
            if let Some(stale) = self.by_name.get(new).filter(|u| **u != uid).cloned() {
                self.forget(&stale, out);
            }
            // The record's own copies of the name and uniqueid, shared.
            if let Some(ch) = self.chans.get(&uid) {
                let (name, shared) = (ch.name().clone(), ch.uid.clone());
                self.by_name.insert(name, shared);
            }
        }
        if let Some(d) = self.chans.get_mut(&uid).and_then(|c| c.device.take()) {
            let d = self.intern_device(d);
            if let Some(c) = self.chans.get_mut(&uid) {
                c.device = Some(d);
            }
        }
    }

    /// Asterisk 1.4-11: the `Original` channel takes over the `Clone` channel's place
    /// (its call, its role and, through the `Rename` that follows, its name); the clone
    /// becomes `<ZOMBIE>` and hangs up.
    fn on_masquerade(&mut self, msg: &Message, out: &mut Vec<Event>) {
        let clone = msg.get("Clone").and_then(|n| self.by_name.get(n.trim()).cloned());
        let original = msg.get("Original").and_then(|n| self.by_name.get(n.trim()).cloned());
        let (Some(clone), Some(original)) = (clone, original) else { return };
        if clone == original {
            return;
        }
        let Some(c) = self.chans.get(&clone) else { return };
        let (key, role, conn, delivered, device, label) =
            (c.call, c.role, c.conn, c.delivered, c.device.clone(), c.label().cloned());
        let Some(key) = key.filter(|k| self.calls.contains_key(k)) else { return };
        if self.chans.get(&original).and_then(|o| o.call) != Some(key) {
            // The original leaves whatever it was part of, quietly when it was plumbing.
            self.leave(&original, None, out);
        }
        if let Some(c) = self.calls.get_mut(&key) {
            c.members.retain(|m| *m != clone && *m != original);
            super::calls::push_member(&mut c.members, original.clone());
            if c.calling.as_deref() == Some(&*clone) {
                c.calling = Some(original.clone());
            }
        }
        if let Some(c) = self.chans.get_mut(&clone) {
            c.call = None;
            c.conn = ConnectionState::Null;
            c.set_label(None);
            c.detached = true;
        }
        if let Some(o) = self.chans.get_mut(&original) {
            o.call = Some(key);
            o.role = role;
            o.conn = conn;
            o.delivered = delivered;
            o.device = device;
            o.set_label(label);
            o.local_one = None;
            o.peer = None;
            o.detached = false;
        }
    }

    fn on_hold(&mut self, msg: &Message, hold: bool, out: &mut Vec<Event>) {
        let Some(uid) = self.uid_of(msg, "") else { return };
        let Some(ch) = self.chans.get(&uid) else { return };
        let (Some(key), Some(device)) = (ch.call, ch.device.clone()) else { return };
        if !self.is_announced(key) {
            return;
        }
        let to = if hold { ConnectionState::Held } else { ConnectionState::Connected };
        if !self.move_conn(&uid, to) {
            return;
        }
        let channel = self.chans[&uid].shown();
        let call = self.calls[&key].id.clone();
        out.push(if hold {
            Event::Held { call, device, channel, state: to }
        } else {
            Event::Retrieved { call, device, channel, state: to }
        });
    }

    fn on_user_event(&mut self, msg: &Message, out: &mut Vec<Event>) {
        let name = msg.get_lossy("UserEvent").map(|n| n.trim().to_owned()).unwrap_or_default();
        if name.eq_ignore_ascii_case("ctilink-forward") {
            self.on_forward_event(msg, out);
            return;
        }
        let call = self.uid_of(msg, "").and_then(|u| self.call_id_of(&u));
        let fields = msg
            .fields()
            .filter(|(k, _)| {
                !k.eq_ignore_ascii_case("Event")
                    && !k.eq_ignore_ascii_case("Privilege")
                    && !k.eq_ignore_ascii_case("UserEvent")
            })
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        out.push(Event::UserEvent { name, call, fields });
    }
}
