//! Calls and the connection changes that produce events. Every change of a connection goes
//! through [`Tracker::move_conn`], which refuses transitions the state table forbids, so
//! no handler can report an impossible sequence.

use crate::model::call::{Call, Connection, Diversion};
use crate::model::event::{Cause, DivertReason, Endpoint, Event, FailureReason};
use crate::model::ids::{CallId, DeviceId};
use crate::model::state::{ConnectionState, Party};

use super::chan::{CallKey, Chan, Role, Uid};
use super::Tracker;

/// The longest Local/dial chain the tracker follows (real chains are 2 to 6 long; the
/// bound protects against loops in corrupt input).
const MAX_CHAIN: usize = 32;

/// One call, as the tracker holds it (inline in its table: kept small, the fields most
/// calls never set are in [`CallMore`]).
#[derive(Debug)]
pub(super) struct CallRec {
    pub(super) id: CallId,
    /// Non-Local channels in the call, each one device's connection.
    pub(super) members: Vec<Uid>,
    pub(super) calling: Option<Uid>,
    pub(super) answered: bool,
    /// Whether the call's first event was reported.
    pub(super) announced: bool,
    pub(super) click_to_dial: bool,
    pub(super) last_cause: Option<Cause>,
    /// What only some calls have (a diversion, a queue, a merge, a release): allocated
    /// when first set.
    more: Option<Box<CallMore>>,
}

/// The fields of a call that most calls never set.
#[derive(Debug, Default)]
pub(super) struct CallMore {
    pub(super) merged_into: Option<CallId>,
    pub(super) diverted: Option<Diversion>,
    /// A phone the call left unanswered, and why: it forwarded the call (SIP 302), or the
    /// caller was sent elsewhere while it rang (deflect: `Redirect`). The next phone to
    /// ring in this call is reported as diverted from it.
    pub(super) pending_divert: Option<(Endpoint, DivertReason)>,
    /// The queue the call waits in, if any.
    pub(super) queue: Option<(DeviceId, ConnectionState)>,
    /// The talking device that asked first to hang up, until its connection is cleared.
    pub(super) released_by: Option<DeviceId>,
}

/// What [`CallRec::more`] reads when a call has none of them.
static NO_MORE: CallMore =
    CallMore { merged_into: None, diverted: None, pending_divert: None, queue: None, released_by: None };

impl CallRec {
    fn new(id: CallId) -> Self {
        CallRec {
            id,
            members: Vec::new(),
            calling: None,
            answered: false,
            announced: false,
            click_to_dial: false,
            last_cause: None,
            more: None,
        }
    }

    /// The rarely set fields, to read (all `None` when the call has none).
    pub(super) fn more(&self) -> &CallMore {
        self.more.as_deref().unwrap_or(&NO_MORE)
    }

    /// The rarely set fields, to change (allocated on first use).
    pub(super) fn more_mut(&mut self) -> &mut CallMore {
        self.more.get_or_insert_with(Box::default)
    }

    /// The rarely set fields, to change, only when the call already has them (for
    /// clearing or taking one: nothing to allocate then).
    pub(super) fn more_if_any(&mut self) -> Option<&mut CallMore> {
        self.more.as_deref_mut()
    }

    /// The call's record taken apart for its end: the rare fields by value.
    fn into_more(self) -> CallMore {
        self.more.map(|m| *m).unwrap_or_default()
    }
}

/// Appends `uid` to a member list without the spare room `Vec` growth leaves (calls and
/// bridges have two or three members; at 100,000 calls the spare room is megabytes).
pub(super) fn push_member(list: &mut Vec<Uid>, uid: Uid) {
    list.reserve_exact(1);
    list.push(uid);
}

/// The number a channel dialed: its extension, except the `s` ("start") extension that
/// Asterisk uses when a channel was not dialed by number.
fn dialed(exten: &str) -> &str {
    if exten == "s" {
        ""
    } else {
        exten
    }
}

fn endpoint(ch: &Chan) -> Option<Endpoint> {
    Some(Endpoint { device: ch.device.clone()?, channel: ch.shown() })
}

impl Tracker {
    /// A new call with id `id`, or `id-2`, `id-3`... if an open call has it already (a
    /// channel can reappear after its hangup, and events can name a Linkedid whose call
    /// was already split by a transfer).
    pub(super) fn new_call(&mut self, id: &str) -> CallKey {
        let key = self.next_key;
        self.next_key = key.saturating_add(1);
        // The id is usually a channel's uniqueid (its Linkedid): share that copy.
        let mut call_id = CallId::from_shared(self.shared_uid(id));
        let mut n = 2u32;
        while self.by_id.contains_key(&call_id) {
            call_id = CallId::new(&format!("{id}-{n}"));
            n += 1;
        }
        self.by_id.insert(call_id.clone(), key);
        self.calls.insert(key, CallRec::new(call_id));
        key
    }

    /// The open call with this id.
    pub(super) fn call_by_id(&self, id: &str) -> Option<CallKey> {
        self.by_id.get(id).copied().filter(|k| self.calls.contains_key(k))
    }

    /// Makes sure a call has been reported before an event that cannot start a call: its
    /// calling party (or the first phone in it, when nothing dialed that one) is reported
    /// as having placed it. Events were lost or came out of order when this does anything.
    pub(super) fn open_call(&mut self, key: CallKey, out: &mut Vec<Event>) {
        let Some(c) = self.calls.get(&key) else { return };
        if c.announced {
            return;
        }
        let first = c.calling.clone().or_else(|| {
            c.members
                .iter()
                .find(|m| {
                    self.chans.get(&***m).is_some_and(|ch| {
                        matches!(ch.role, Role::Calling | Role::Undecided)
                            && ch.parent.is_none()
                            && !ch.detached
                    })
                })
                .cloned()
        });
        if let Some(first) = first {
            self.originate(&first, out);
        }
    }

    /// Puts a non-Local channel into a call (as a connection in state Null).
    pub(super) fn join(&mut self, uid: &str, key: CallKey) {
        let Some(ch) = self.chans.get_mut(uid) else { return };
        if ch.call == Some(key) {
            return;
        }
        ch.call = Some(key);
        if ch.is_local() {
            return;
        }
        let shared = ch.uid.clone();
        if let Some(c) = self.calls.get_mut(&key) {
            if !c.members.iter().any(|m| &**m == uid) {
                push_member(&mut c.members, shared);
            }
        }
    }

    /// Walks up from `uid` through dialers and Local halves. Returns the first non-Local
    /// channel above it, or else the topmost Local half (an Originate's first channel).
    pub(super) fn chain_root(&self, uid: &str) -> (Option<Uid>, Option<Uid>) {
        let mut cur: Option<Uid> = self.chans.get(uid).and_then(|c| c.parent.clone());
        let mut top: Option<Uid> = None;
        for _ in 0..MAX_CHAIN {
            let Some(u) = cur else { break };
            let Some(ch) = self.chans.get(&u) else { break };
            if !ch.is_local() {
                return (Some(u), top);
            }
            // From a `;2` half, continue at its `;1` half, which is what was dialed.
            let one = match (ch.local_one, &ch.peer) {
                (Some(false), Some(p)) => p.clone(),
                _ => u.clone(),
            };
            if self.chans.get(&one).is_some_and(|c| !c.is_local()) {
                // The `;1` half stands for a transferer: its phone placed this dial.
                return (Some(one), top);
            }
            top = Some(one.clone());
            cur = self.chans.get(&one).and_then(|c| c.parent.clone());
        }
        (None, top)
    }

    /// The call of a non-Local channel, creating it when the channel is the first of its
    /// call. `None` for Local channels and unknown ids.
    pub(super) fn ensure_call(&mut self, uid: &str) -> Option<CallKey> {
        let ch = self.chans.get(uid)?;
        if ch.is_local() || ch.detached {
            return None;
        }
        if let Some(k) = ch.call.filter(|k| self.calls.contains_key(k)) {
            return Some(k);
        }
        let (root, top) = self.chain_root(uid);
        if let Some(r) = root {
            if &*r != uid {
                let key = self.ensure_call(&r)?;
                self.join(uid, key);
                self.set_role(uid, Role::Called);
                return Some(key);
            }
        }
        if let Some(t) = top.as_ref().filter(|t| self.chans.get(&***t).is_some_and(|c| c.call.is_none())) {
            if let Some(phone) = self.consultation_transferer(t) {
                // Not a click-to-dial: an attended transfer's Local half, dialing before it
                // was bridged with its transferer. It stands for that phone from now on.
                let t = t.clone();
                self.make_proxy(&t, &phone)?;
                return self.ensure_call(uid);
            }
        }
        if let Some(t) = top {
            // Dialed by an Originate's Local channel with no phone above it: this is the
            // user's own phone in a click-to-dial.
            let existing = self.chans.get(&t).and_then(|c| c.call).filter(|k| self.calls.contains_key(k));
            let key = match existing {
                Some(k) => k,
                None => {
                    let id = self.chans.get(&t).map(|c| c.linkedid.to_string()).unwrap_or_default();
                    let k = self.new_call(&id);
                    if let Some(tc) = self.chans.get_mut(&t) {
                        tc.call = Some(k);
                    }
                    k
                }
            };
            let first_party =
                self.calls.get(&key).is_some_and(|c| c.calling.is_none() && c.members.is_empty());
            self.join(uid, key);
            if first_party {
                self.set_role(uid, Role::Prompt);
                if let Some(c) = self.calls.get_mut(&key) {
                    c.click_to_dial = true;
                }
            } else {
                self.set_role(uid, Role::Called);
            }
            return Some(key);
        }
        // Nothing links it: its Linkedid does, or it starts a call of its own.
        let ch = self.chans.get(uid)?;
        let linked = ch.linkedid.clone();
        let root = ch.is_root();
        // The call of the Linkedid's channel, or the open call of that id (its first
        // channel may not have been seen yet, or may be gone).
        let by_link = self
            .chans
            .get(&*linked)
            .and_then(|c| c.call)
            .filter(|k| self.calls.contains_key(k))
            .or_else(|| self.call_by_id(&linked));
        if let Some(k) = by_link {
            self.join(uid, k);
            if !root {
                self.set_role(uid, Role::Called);
            }
            return Some(k);
        }
        let key = self.new_call(&linked);
        self.join(uid, key);
        Some(key)
    }

    fn set_role(&mut self, uid: &str, role: Role) {
        if let Some(ch) = self.chans.get_mut(uid) {
            if ch.role == Role::Undecided || role != Role::Undecided {
                ch.role = role;
            }
        }
    }

    /// Moves a connection to `to` if the state table allows it.
    pub(super) fn move_conn(&mut self, uid: &str, to: ConnectionState) -> bool {
        match self.chans.get_mut(uid) {
            Some(ch) if ch.conn.can_become(to) => {
                // A Local half standing for a transferer shows the transferer's channel.
                if ch.conn == ConnectionState::Null && ch.proxy_for().is_none() {
                    ch.set_label(Some(ch.name().clone()));
                }
                ch.conn = to;
                true
            }
            _ => false,
        }
    }

    fn announce(&mut self, key: CallKey) {
        if let Some(c) = self.calls.get_mut(&key) {
            if !c.announced {
                c.announced = true;
                self.calls_total += 1;
            }
        }
    }

    pub(super) fn is_announced(&self, key: CallKey) -> bool {
        self.calls.get(&key).is_some_and(|c| c.announced)
    }

    /// Who called, as shown to the parties.
    pub(super) fn caller_of(&self, key: CallKey, uid: &str) -> Party {
        let calling = self.calls.get(&key).and_then(|c| c.calling.clone());
        if let Some(ch) = calling.as_deref().and_then(|c| self.chans.get(c)) {
            return ch.caller();
        }
        self.chans.get(uid).map(|c| c.connected()).unwrap_or_default()
    }

    /// Who was called: the number the caller dialed, and the name where the PBX gave one.
    pub(super) fn called_of(&self, key: CallKey, uid: &str) -> Party {
        let calling = self.calls.get(&key).and_then(|c| c.calling.clone());
        let ch = self.chans.get(uid);
        let mut p = Party::default();
        if let Some(cc) = calling.as_deref().and_then(|c| self.chans.get(c)) {
            p.number = dialed(cc.exten()).to_owned();
        }
        if let Some(ch) = ch {
            if ch.role == Role::Called || ch.role == Role::Prompt {
                if p.number.is_empty() {
                    p.number = ch.caller_number().to_owned();
                }
                if p.name.is_empty() {
                    p.name = ch.texts.get(super::chan::Text::CallerName).to_owned();
                }
            }
        }
        p
    }

    fn calling_device(&self, key: CallKey) -> Option<DeviceId> {
        let calling = self.calls.get(&key)?.calling.clone()?;
        self.chans.get(&*calling)?.device.clone()
    }

    /// The call's calling party made the call: connection Connected, `Originated`.
    pub(super) fn originate(&mut self, uid: &str, out: &mut Vec<Event>) {
        let Some(key) = self.ensure_call(uid) else { return };
        let Some(ch) = self.chans.get(uid) else { return };
        if ch.conn != ConnectionState::Null && ch.conn != ConnectionState::Initiated {
            return;
        }
        let Some(device) = ch.device.clone() else { return };
        let shared = self.shared_uid(uid);
        if let Some(c) = self.calls.get_mut(&key) {
            if c.calling.is_none() {
                c.calling = Some(shared);
            }
        }
        self.set_role(uid, Role::Calling);
        if !self.move_conn(uid, ConnectionState::Connected) {
            return;
        }
        self.announce(key);
        let Some(ch) = self.chans.get(uid) else { return };
        let called = Party { number: dialed(ch.exten()).to_owned(), ..Party::default() };
        self.push_originated(key, uid, device, called, out);
    }

    fn push_originated(
        &self,
        key: CallKey,
        uid: &str,
        device: DeviceId,
        called: Party,
        out: &mut Vec<Event>,
    ) {
        let (Some(ch), Some(c)) = (self.chans.get(uid), self.calls.get(&key)) else { return };
        out.push(Event::Originated {
            call: c.id.clone(),
            device,
            channel: ch.shown(),
            state: ConnectionState::Connected,
            caller: ch.caller(),
            called,
        });
    }

    /// The click-to-dial prompt was answered: the user's phone now places the call.
    pub(super) fn prompt_answered(&mut self, uid: &str, out: &mut Vec<Event>) {
        let Some(key) = self.ensure_call(uid) else { return };
        if self.chans.get(uid).is_none_or(|c| c.device.is_none()) {
            // Not a phone (a channel known only by its uniqueid): nothing to report.
            return;
        }
        let shared = self.shared_uid(uid);
        if let Some(c) = self.calls.get_mut(&key) {
            c.calling = Some(shared);
            c.click_to_dial = false;
        }
        if let Some(ch) = self.chans.get_mut(uid) {
            ch.role = Role::Calling;
        }
        if !self.move_conn(uid, ConnectionState::Connected) {
            return;
        }
        self.announce(key);
        let Some(ch) = self.chans.get(uid) else { return };
        let Some(device) = ch.device.clone() else { return };
        // The prompt leg shows the destination as its connected line once Asterisk dials it;
        // until then the channel's extension is the best name for the destination.
        let called = if !ch.connected_number().is_empty() && ch.connected_number() != ch.caller_number() {
            ch.connected()
        } else {
            Party { number: dialed(ch.exten()).to_owned(), ..Party::default() }
        };
        self.push_originated(key, uid, device, called, out);
    }

    /// The call rings at this channel's device.
    pub(super) fn deliver(&mut self, uid: &str, out: &mut Vec<Event>) {
        let Some(key) = self.ensure_call(uid) else { return };
        let Some(ch) = self.chans.get(uid) else { return };
        if ch.delivered || ch.role == Role::Calling {
            return;
        }
        let Some(device) = ch.device.clone() else { return };
        let prompt = ch.role == Role::Prompt;
        if !ch.conn.can_become(ConnectionState::Alerting) {
            return;
        }
        if !prompt {
            self.open_call(key, out);
            // Reporting the call may have made this very channel its calling party.
            if self
                .chans
                .get(uid)
                .is_none_or(|c| c.role == Role::Calling || !c.conn.can_become(ConnectionState::Alerting))
            {
                return;
            }
        }
        let was_announced = self.is_announced(key);
        self.announce(key);
        let divert = self
            .calls
            .get_mut(&key)
            .and_then(|c| c.more_if_any()?.pending_divert.take())
            .filter(|_| was_announced);
        if let Some((from, reason)) = divert.filter(|(from, _)| from.device != device) {
            let ch = &self.chans[uid];
            let (channel, caller, called) = (ch.shown(), self.caller_of(key, uid), self.called_of(key, uid));
            let call = self.calls[&key].id.clone();
            if let Some(c) = self.calls.get_mut(&key) {
                c.more_mut().diverted = Some(Diversion { from: from.clone(), reason });
            }
            out.push(Event::Diverted { call, device: device.clone(), channel, from, reason, caller, called });
        }
        if !self.move_conn(uid, ConnectionState::Alerting) {
            return;
        }
        if let Some(ch) = self.chans.get_mut(uid) {
            ch.delivered = true;
        }
        let ch = &self.chans[uid];
        let channel = ch.shown();
        let (caller, called) = if prompt {
            (ch.caller(), Party { number: dialed(ch.exten()).to_owned(), ..Party::default() })
        } else {
            (self.caller_of(key, uid), self.called_of(key, uid))
        };
        let calling_device = if prompt { None } else { self.calling_device(key) };
        let call = self.calls[&key].id.clone();
        out.push(Event::Delivered {
            call,
            device,
            channel,
            state: ConnectionState::Alerting,
            caller,
            called,
            calling_device,
            click_to_dial: prompt,
        });
    }

    /// This channel's device answered.
    pub(super) fn establish(&mut self, uid: &str, out: &mut Vec<Event>) {
        let Some(key) = self.ensure_call(uid) else { return };
        let Some(ch) = self.chans.get(uid) else { return };
        match ch.role {
            Role::Calling => return,
            Role::Prompt => return self.prompt_answered(uid, out),
            _ => {}
        }
        self.open_call(key, out);
        let Some(ch) = self.chans.get(uid) else { return };
        if ch.role == Role::Calling {
            // Reporting the call made this channel its calling party: it placed the call.
            return;
        }
        let unreported = !self.is_announced(key);
        if matches!(ch.conn, ConnectionState::Null | ConnectionState::Queued) && (!ch.delivered || unreported)
        {
            // Answered without ringing first (auto-answer, or events lost): report the
            // ringing too, so every consumer sees the same sequence.
            if let Some(ch) = self.chans.get_mut(uid) {
                ch.delivered = false;
            }
            self.deliver(uid, out);
        }
        let Some(ch) = self.chans.get(uid) else { return };
        let Some(device) = ch.device.clone() else { return };
        if !self.is_announced(key) || !self.move_conn(uid, ConnectionState::Connected) {
            return;
        }
        self.announce(key);
        if let Some(c) = self.calls.get_mut(&key) {
            c.answered = true;
            if let Some(m) = c.more_if_any() {
                m.pending_divert = None;
            }
        }
        let channel = self.chans[uid].shown();
        let (caller, called) = (self.caller_of(key, uid), self.called_of(key, uid));
        let calling_device = self.calling_device(key);
        let call = self.calls[&key].id.clone();
        out.push(Event::Established {
            call,
            device,
            channel,
            state: ConnectionState::Connected,
            caller,
            called,
            calling_device,
            click_to_dial: false,
        });
    }

    /// The call could not reach this channel's device.
    pub(super) fn fail(
        &mut self,
        uid: &str,
        reason: FailureReason,
        cause: Option<Cause>,
        out: &mut Vec<Event>,
    ) {
        let Some(key) = self.ensure_call(uid) else { return };
        self.open_call(key, out);
        let Some(ch) = self.chans.get(uid) else { return };
        let Some(device) = ch.device.clone() else { return };
        if !self.move_conn(uid, ConnectionState::Failed) {
            return;
        }
        self.announce(key);
        let channel = self.chans[uid].shown();
        let call = self.calls[&key].id.clone();
        out.push(Event::Failed { call, device, channel, state: ConnectionState::Failed, reason, cause });
    }

    /// The channel left its call (hung up, or moved to another call). Ends the call when it
    /// was the last connection.
    pub(super) fn leave(&mut self, uid: &str, cause: Option<Cause>, out: &mut Vec<Event>) {
        let Some(key) = self.chans.get(uid).and_then(|c| c.call) else { return };
        let Some(ch) = self.chans.get_mut(uid) else { return };
        let previous = ch.conn;
        let channel = ch.shown();
        ch.conn = ConnectionState::Null;
        ch.call = None;
        ch.set_label(None);
        let device = ch.device.clone();
        let Some(call) = self.calls.get_mut(&key) else { return };
        call.members.retain(|m| &**m != uid);
        // The call ends with the calling party's cause if it has one, else the first seen.
        if (cause.is_some() && call.calling.as_deref() == Some(uid)) || call.last_cause.is_none() {
            call.last_cause = cause;
        }
        if previous != ConnectionState::Null && call.announced {
            if let Some(device) = device {
                let released_by = call.more().released_by.clone();
                if released_by.as_ref() == Some(&device) {
                    // The releaser is gone; a later hang-up is another's.
                    if let Some(m) = call.more_if_any() {
                        m.released_by = None;
                    }
                }
                out.push(Event::ConnectionCleared {
                    call: call.id.clone(),
                    device,
                    channel,
                    state: ConnectionState::Null,
                    previous,
                    cause,
                    released_by,
                });
            }
        }
        if call.members.is_empty() {
            let cause = call.last_cause;
            self.drop_call(key, cause, out);
        }
    }

    /// Removes a call, reporting `CallCleared` if it was ever reported.
    pub(super) fn drop_call(&mut self, key: CallKey, cause: Option<Cause>, out: &mut Vec<Event>) {
        let Some(call) = self.calls.remove(&key) else { return };
        if self.by_id.get(&call.id) == Some(&key) {
            self.by_id.remove(&call.id);
        }
        for m in &call.members {
            if let Some(ch) = self.chans.get_mut(m) {
                if ch.call == Some(key) {
                    ch.call = None;
                    ch.conn = ConnectionState::Null;
                    ch.set_label(None);
                }
            }
        }
        if call.announced {
            let (id, answered) = (call.id.clone(), call.answered);
            let more = call.into_more();
            if let Some((queue, state)) = more.queue {
                out.push(Event::ConnectionCleared {
                    call: id.clone(),
                    device: queue,
                    channel: String::new(),
                    state: ConnectionState::Null,
                    previous: state,
                    cause,
                    released_by: None,
                });
            }
            out.push(Event::CallCleared { call: id, cause, answered, merged_into: more.merged_into });
        }
    }

    /// The public view of a call.
    pub(super) fn call_view(&self, c: &CallRec) -> Call {
        let mut connections: Vec<Connection> = c
            .members
            .iter()
            .filter_map(|m| self.chans.get(&**m))
            .filter(|ch| ch.conn != ConnectionState::Null)
            .filter_map(|ch| {
                Some(Connection { device: ch.device.clone()?, channel: ch.shown(), state: ch.conn })
            })
            .collect();
        if let Some((q, s)) = &c.more().queue {
            connections.push(Connection { device: q.clone(), channel: String::new(), state: *s });
        }
        let calling = c.calling.as_deref().and_then(|u| self.chans.get(u));
        let caller = calling.map(|ch| ch.caller()).unwrap_or_default();
        let called = calling
            .map(|ch| Party { number: dialed(ch.exten()).to_owned(), ..Party::default() })
            .unwrap_or_default();
        Call {
            id: c.id.clone(),
            calling_device: calling.and_then(|ch| ch.device.clone()),
            caller,
            called,
            connections,
            answered: c.answered,
            diverted: c.more().diverted.clone(),
            click_to_dial: c.click_to_dial,
        }
    }

    pub(super) fn endpoint_of(&self, uid: &str) -> Option<Endpoint> {
        self.chans.get(uid).and_then(endpoint)
    }
}
