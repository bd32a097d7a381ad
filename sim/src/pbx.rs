//! The simulated PBX: phones, channels, calls and how a call progresses.
//!
//! Sans-IO like the core codec: every operation updates the state and queues
//! [`Effect`]s (events to broadcast, a reply to one connection, a timer to arm),
//! which the runtime in `handle.rs` carries out while it still holds the PBX lock,
//! so the events of all calls leave in one global order. Timers come back through
//! [`Pbx::fire`] and are ignored if the call has moved on meanwhile (hung up).
//!
//! The event sequences copy the Asterisk 20 captures in
//! `tests/vectors/ami/asterisk20/`: `sip_call.ami` for a call placed by a phone,
//! `originate_sip.ami` for click-to-dial, `busy_phone.ami` for a busy callee.
//! Values that a real PBX takes from the phone or a timer (device states, which
//! leg hangs up first) are computed from the same rules so that every sequence
//! stays consistent.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ctilink::ami::MessageBuilder;

use crate::astdb::{AstDb, CustomStates};
use crate::channel::{dial_status_for_cause, parse_caller_id, ChanState, Channel, DeviceState};
use crate::config::{SimConfig, SimError};
use crate::events::{self, OriginateOutcome, OutEvent};
use crate::version::AsteriskVersion;

mod control;
#[cfg(test)]
mod control_tests;
mod endpoints;
mod local;
#[cfg(test)]
mod test_util;
mod transfer;
mod truth;

pub(crate) use control::{is_dtmf_digit, Answer, Notify};
pub use truth::{SimChannel, SimDevice, SimTruth};

/// How many times one call may be forwarded (CF/CFB/CFNA) before the dialplan
/// stops following forwards (a loop 100 -> 101 -> 100 ends).
const MAX_FORWARDS: u8 = 3;
/// Channels whose played DTMF digits are remembered, and digits per channel.
const MAX_DTMF_CHANNELS: usize = 1024;
const MAX_DTMF_DIGITS: usize = 1024;

/// Something the runtime must do on the PBX's behalf.
#[derive(Debug)]
pub(crate) enum Effect {
    /// Broadcast to every logged-in connection whose mask allows its class.
    Event(OutEvent),
    /// A response for one connection (a synchronous `Originate` ends).
    Reply { conn: u64, msg: MessageBuilder },
    /// Call [`Pbx::fire`] with `timer` after `after`.
    Schedule { after: Duration, timer: Timer },
}

/// A pending step of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Timer {
    pub(crate) call: u64,
    pub(crate) step: Step,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// The first phone of an Originate answers.
    FirstLegAnswer,
    /// The first phone of an Originate rang for the whole `Timeout`.
    FirstLegTimeout,
    /// The called phone answers.
    DestAnswer,
    /// `Dial()` gives up on a phone that does not answer.
    DestTimeout,
}

/// Who ends a call: the phone (`HangupRequest`, as when it sends BYE) or the
/// PBX on an AMI client's request (`SoftHangupRequest` only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Trigger {
    Phone,
    Action,
}

/// An `Originate` action, already validated by the session.
#[derive(Clone, Debug, Default)]
pub(crate) struct OriginateRequest {
    pub(crate) action_id: Option<String>,
    /// `PJSIP/100`.
    pub(crate) channel: String,
    pub(crate) context: String,
    pub(crate) exten: String,
    pub(crate) priority: u32,
    pub(crate) caller_id: Option<String>,
    pub(crate) timeout: Duration,
    pub(crate) account: Option<String>,
    pub(crate) channel_id: Option<String>,
    /// `Application`/`Data` instead of `Exten`: only `PickupChan` is simulated.
    pub(crate) application: Option<String>,
    pub(crate) data: Option<String>,
    /// Connection waiting for the outcome of a synchronous (`Async: false`) Originate.
    pub(crate) reply_to: Option<u64>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Phase {
    /// Originate: the first phone rings.
    FirstLegRinging,
    /// The dialplan dials the destination, which rings.
    #[default]
    Dialing,
    /// Both legs answered and bridged.
    Bridged,
}

#[derive(Debug, Default)]
struct Call {
    /// `None` for a call placed by a phone.
    originate: Option<OriginateRequest>,
    /// Channel keys of the calling leg and of the dialed leg.
    caller: u64,
    callee: Option<u64>,
    /// The extension the dialplan dials.
    dest: String,
    phase: Phase,
    bridge: Option<String>,
    /// A call the dialplan places through a Local channel pair (`Atxfer`): its
    /// `caller` is the pair's `;2` half.
    local: Option<local::LocalPair>,
    /// An Originate of `PickupChan`: the channel to pick up once the phone answers.
    pickup: Option<String>,
    /// Forwards followed so far.
    hops: u8,
    /// The destination rings until `dial_timeout` whatever its configuration.
    ring_out: bool,
}

/// The PBX state. One instance per simulator, behind one mutex.
#[derive(Debug)]
pub(crate) struct Pbx {
    extensions: Vec<String>,
    known: HashSet<String>,
    version: AsteriskVersion,
    technology: String,
    context: String,
    ring_delay: Duration,
    answer_delay: Duration,
    no_answer: HashSet<String>,
    dial_timeout: Duration,
    db: AstDb,
    /// Phones that are not registered (unplugged): calls to them fail as unavailable.
    unregistered: HashSet<String>,
    custom: CustomStates,
    /// Digits played to each channel (`PlayDTMF`), by channel name, in order.
    dtmf: Vec<(String, String)>,
    /// Channels by allocation number (so lists come in creation order).
    channels: BTreeMap<u64, Channel>,
    calls: HashMap<u64, Call>,
    /// The last `ExtensionStatus` sent per extension: Asterisk sends one only on change.
    last_status: HashMap<String, i32>,
    /// Each phone has a hint of its own (`SimConfig::hints`).
    hints: bool,
    /// Without hints, the phones whose state was reported since start: Asterisk's
    /// device-state cache, all `DeviceStateList` knows of them.
    state_cached: HashSet<String>,
    next_seq: u64,
    next_chan: u32,
    /// Asterisk's counter of Local channel pairs (`Local/102@internal-0000000a;1`).
    next_local: u32,
    next_call: u64,
    effects: Vec<Effect>,
}

const UNKNOWN: &str = "<unknown>";

impl Pbx {
    pub(crate) fn new(cfg: &SimConfig) -> Self {
        Self {
            extensions: cfg.extensions.clone(),
            known: cfg.extensions.iter().cloned().collect(),
            version: cfg.asterisk,
            technology: cfg.technology.clone(),
            context: cfg.context.clone(),
            ring_delay: cfg.ring_delay,
            answer_delay: cfg.answer_delay,
            no_answer: cfg.no_answer.iter().cloned().collect(),
            dial_timeout: cfg.dial_timeout,
            db: AstDb::default(),
            unregistered: HashSet::new(),
            custom: CustomStates::default(),
            dtmf: Vec::new(),
            channels: BTreeMap::new(),
            calls: HashMap::new(),
            last_status: HashMap::new(),
            hints: cfg.hints,
            state_cached: HashSet::new(),
            next_seq: 1,
            next_chan: 0,
            next_local: 0,
            next_call: 1,
            effects: Vec::new(),
        }
    }

    /// The effects queued since the last call.
    pub(crate) fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    pub(crate) fn active_channels(&self) -> usize {
        self.channels.len()
    }

    pub(crate) fn is_extension(&self, ext: &str) -> bool {
        self.known.contains(ext)
    }

    // ---- small helpers -------------------------------------------------------

    fn emit(&mut self, ev: OutEvent) {
        self.effects.push(Effect::Event(ev));
    }

    fn schedule(&mut self, after: Duration, call: u64, step: Step) {
        self.effects.push(Effect::Schedule { after, timer: Timer { call, step } });
    }

    /// The device of a phone (`PJSIP/100`); a Local channel's `ext` is already
    /// its device (`Local/102@internal`).
    fn device(&self, ext: &str) -> String {
        if ext.contains('/') {
            return ext.to_owned();
        }
        format!("{}/{}", self.technology, ext)
    }

    fn device_state(&self, ext: &str) -> DeviceState {
        let state = DeviceState::of(self.channels.values().filter(|c| c.ext == ext));
        if state == DeviceState::NotInUse && self.unregistered.contains(ext) {
            return DeviceState::Unavailable;
        }
        state
    }

    /// The PBX restarts with `extensions` as its phones: every channel and call is gone
    /// without an event (the process died), and what a running Asterisk only holds in
    /// memory (the last extension states, the device-state cache, which phones were
    /// unplugged) starts again. The AstDB and the custom device states stay, as Asterisk
    /// keeps them on disk. The counters go on, so that a timer of a call from before the
    /// restart finds no call and does nothing.
    pub(crate) fn restart(&mut self, extensions: Vec<String>) {
        self.known = extensions.iter().cloned().collect();
        self.extensions = extensions;
        self.channels.clear();
        self.calls.clear();
        self.last_status.clear();
        self.state_cached.clear();
        self.unregistered.clear();
        self.effects.clear();
    }

    /// A phone registers or goes away (unplugged). Returns false for an unknown
    /// extension.
    pub(crate) fn set_registered(&mut self, ext: &str, registered: bool) -> bool {
        if !self.is_extension(ext) {
            return false;
        }
        let changed =
            if registered { self.unregistered.remove(ext) } else { self.unregistered.insert(ext.to_owned()) };
        if changed {
            self.emit_device_state(ext);
            self.emit_extension_status(ext);
        }
        true
    }

    /// `DeviceStateChange` for a phone, always sent (Asterisk repeats them).
    fn emit_device_state(&mut self, ext: &str) {
        if !self.hints && !self.state_cached.contains(ext) {
            self.state_cached.insert(ext.to_owned());
        }
        let state = self.device_state(ext).as_str();
        let dev = self.device(ext);
        self.emit(OutEvent {
            class: crate::channel::EventClass::Call,
            msg: events::device_state(&dev, state, None),
        });
    }

    /// `ExtensionStatus` for a phone's hint, sent only when its status changed.
    fn emit_extension_status(&mut self, ext: &str) {
        // Local channels have no hint.
        if !self.hints || !self.is_extension(ext) {
            return;
        }
        let status = self.device_state(ext).extension_status();
        let last = self.last_status.insert(ext.to_owned(), status).unwrap_or(0);
        if last != status {
            let hint = self.device(ext);
            let msg = events::extension_status(ext, &self.context, &hint, status, None);
            self.emit(OutEvent { class: crate::channel::EventClass::Call, msg });
        }
    }

    /// Emits an event made from channel `key`'s current snapshot.
    fn emit_chan(&mut self, key: u64, build: impl FnOnce(&Channel) -> OutEvent) {
        if let Some(ch) = self.channels.get(&key) {
            let ev = build(ch);
            self.emit(ev);
        }
    }

    fn with_chan(&mut self, key: u64, f: impl FnOnce(&mut Channel)) {
        if let Some(ch) = self.channels.get_mut(&key) {
            f(ch);
        }
    }

    fn new_uniqueid(&mut self) -> (u64, String) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        (seq, format!("{secs}.{seq}"))
    }

    /// A new channel of phone `ext`: `TECH/EXT-0000000a`, named after Asterisk's
    /// per-process counter; Linkedid is the call's first channel.
    fn new_channel(
        &mut self,
        ext: &str,
        call: u64,
        outbound: bool,
        linkedid: Option<&str>,
        uid: Option<&str>,
    ) -> u64 {
        let (key, generated) = self.new_uniqueid();
        let uniqueid = uid.map(str::to_owned).unwrap_or(generated);
        let name = format!("{}/{}-{:08x}", self.technology, ext, self.next_chan);
        self.next_chan = self.next_chan.wrapping_add(1);
        let ch = Channel {
            name,
            ext: ext.to_owned(),
            linkedid: linkedid.map(str::to_owned).unwrap_or_else(|| uniqueid.clone()),
            uniqueid,
            state: ChanState::Down,
            cid_num: ext.to_owned(),
            cid_name: format!("Phone {ext}"),
            conn_num: UNKNOWN.into(),
            conn_name: UNKNOWN.into(),
            account: String::new(),
            context: self.context.clone(),
            exten: "s".into(),
            priority: 1,
            app: String::new(),
            app_data: String::new(),
            outbound,
            bridge: None,
            held: false,
            moh: false,
            created: Instant::now(),
            call,
        };
        self.channels.insert(key, ch);
        key
    }

    fn new_call(&mut self, call: Call) -> u64 {
        let id = self.next_call;
        self.next_call += 1;
        self.calls.insert(id, call);
        id
    }

    fn originate_outcome(&mut self, call: u64, success: bool, reason: u32, chan: Option<&Channel>) {
        let Some(req) = self.calls.get(&call).and_then(|c| c.originate.clone()) else { return };
        self.originate_result(&req, success, reason, chan);
    }

    /// `OriginateResponse` for an async Originate, or the deferred response of a
    /// synchronous one (which gets no event, as in Asterisk).
    fn originate_result(
        &mut self,
        req: &OriginateRequest,
        success: bool,
        reason: u32,
        chan: Option<&Channel>,
    ) {
        if let Some(conn) = req.reply_to {
            let msg = if success {
                events::response("Success", req.action_id.as_deref())
                    .field("Message", "Originate successfully queued")
            } else {
                events::response("Error", req.action_id.as_deref()).field("Message", "Originate failed")
            };
            self.effects.push(Effect::Reply { conn, msg });
            return;
        }
        let (cid_name, cid_num) = req.caller_id.as_deref().map(parse_caller_id).unwrap_or((None, None));
        let ev = events::originate_response(&OriginateOutcome {
            action_id: req.action_id.as_deref(),
            success,
            channel: chan.map_or(req.channel.as_str(), |c| c.name.as_str()),
            context: &req.context,
            exten: &req.exten,
            reason,
            uniqueid: chan.map_or("<null>", |c| c.uniqueid.as_str()),
            cid_num: cid_num.as_deref().unwrap_or(UNKNOWN),
            cid_name: cid_name.as_deref().unwrap_or(UNKNOWN),
        });
        self.emit(ev);
    }

    // ---- a call placed by a phone ------------------------------------------------

    /// Phone `from` dials `to` (sip_call.ami). An unknown `to` is a call to a
    /// number the dialplan lacks: the caller is hung up with cause 1.
    pub(crate) fn place_call(&mut self, from: &str, to: &str) -> Result<(), SimError> {
        if !self.is_extension(from) {
            return Err(SimError::UnknownExtension(from.to_owned()));
        }
        if self.device_state(from) != DeviceState::NotInUse {
            return Err(SimError::ExtensionBusy(from.to_owned()));
        }
        let ctx = self.context.clone();
        self.start_call(from, &ctx, to, false);
        Ok(())
    }

    /// Phone `from` dials `to` on a new channel of its own, whatever else it does
    /// (a second line: the consultation call of an attended transfer). With
    /// `ring_out` the destination rings until `dial_timeout`. The call's id.
    fn start_call(&mut self, from: &str, context: &str, to: &str, ring_out: bool) -> u64 {
        let known = context.eq_ignore_ascii_case(&self.context) && self.is_extension(to);
        let call = self.new_call(Call { dest: to.to_owned(), ring_out, ..Call::default() });
        let a = self.new_channel(from, call, false, None, None);
        if let Some(c) = self.calls.get_mut(&call) {
            c.caller = a;
        }
        self.with_chan(a, |c| c.exten = to.to_owned());
        if self.version.ring_on_newchannel() {
            // chan_pjsip creates an incoming channel in Ring (incoming_call.ami, 22).
            self.with_chan(a, |c| c.state = ChanState::Ring);
            self.emit_chan(a, |c| events::channel_event("Newchannel", c));
        } else {
            self.emit_chan(a, |c| events::channel_event("Newchannel", c));
            self.with_chan(a, |c| c.state = ChanState::Ring);
            self.emit_chan(a, |c| events::channel_event("Newstate", c));
        }
        if !known {
            self.emit_extension_status(from);
            self.emit_device_state(from);
            self.calls.remove(&call);
            if let Some(ch) = self.channels.remove(&a) {
                self.emit(events::hangup(&ch, 1));
            }
            self.emit_device_state(from);
            self.emit_extension_status(from);
            return call;
        }
        self.run_dial_exten(a, to);
        self.dial_dest(call);
        call
    }

    /// Channel `a` of `call` continues in the dialplan at `to`@`context` priority 1
    /// (a forward, a redirect, a blind transfer): it dials that phone, or, for a
    /// number the dialplan lacks, is hung up as unallocated (cause 1) with the
    /// rest of its call.
    fn goto_exten(&mut self, a: u64, call: u64, context: &str, to: &str) {
        let known = context.eq_ignore_ascii_case(&self.context) && self.is_extension(to);
        let ctx = context.to_owned();
        self.with_chan(a, |c| {
            c.context = ctx;
            c.exten = to.to_owned();
            c.priority = 1;
        });
        if let Some(c) = self.calls.get_mut(&call) {
            // A call that was bridged is past its Originate: Asterisk reported it once
            // (asterisk22/blind_transfer.ami has one OriginateResponse), and the leg dialed
            // now is dialed as for any call.
            if c.phase == Phase::Bridged {
                c.originate = None;
            }
            c.dest = to.to_owned();
            c.callee = None;
            c.phase = Phase::Dialing;
            c.bridge = None;
        }
        if known {
            self.run_dial_exten(a, to);
            self.dial_dest(call);
            return;
        }
        let c = self.calls.remove(&call);
        if let Some(ch) = self.channels.remove(&a) {
            self.emit(events::hangup(&ch, 1));
            self.emit_device_state(&ch.ext);
            self.emit_extension_status(&ch.ext);
        }
        // Anything else of the call (it should have nothing left) goes too.
        if let Some(b) = c.and_then(|c| c.callee).and_then(|b| self.channels.remove(&b)) {
            self.emit(events::hangup(&b, 16));
            self.emit_device_state(&b.ext);
            self.emit_extension_status(&b.ext);
        }
    }

    /// The dialplan's forward of `dest` for `kind` (`CF`, `CFB`, `CFNA`), if it
    /// may still follow one for this call.
    fn forward_of(&self, call: u64, kind: &str, dest: &str) -> Option<String> {
        let hops = self.calls.get(&call)?.hops;
        let target = self.db.get(kind, dest)?.trim();
        (hops < MAX_FORWARDS && !target.is_empty() && target != dest).then(|| target.to_owned())
    }

    /// Follows a forward: `Newexten` `Goto(ctx,target,1)` on the calling channel,
    /// then the dialplan of `target`.
    fn follow_forward(&mut self, call: u64, target: &str) {
        let Some(a) = self.calls.get_mut(&call).map(|c| {
            c.hops += 1;
            c.caller
        }) else {
            return;
        };
        let ctx = self.context.clone();
        self.with_chan(a, |c| {
            c.priority += 1;
            c.app = "Goto".into();
            c.app_data = format!("{ctx},{target},1");
        });
        self.emit_chan(a, events::newexten);
        self.goto_exten(a, call, &ctx, target);
    }

    /// The dialplan of extension `to`: `NoOp(Call from ...)`, then `Dial(TECH/to,30,tTkK)`.
    fn run_dial_exten(&mut self, a: u64, to: &str) {
        let tech = self.technology.clone();
        self.with_chan(a, |c| {
            c.app = "NoOp".into();
            c.app_data = format!("Call from \"{}\" <{}> to phone {to}", c.cid_name, c.cid_num);
        });
        self.emit_chan(a, events::newexten);
        self.with_chan(a, |c| {
            c.priority += 1;
            c.app = "Dial".into();
            c.app_data = format!("{tech}/{to},30,tTkK");
        });
        self.emit_chan(a, events::newexten);
    }

    /// `Dial()` from channel `caller` of `call` to its destination phone.
    fn dial_dest(&mut self, call: u64) {
        let Some(c) = self.calls.get(&call) else { return };
        let (a, dest, is_orig, ring_out) = (c.caller, c.dest.clone(), c.originate.is_some(), c.ring_out);
        let Some(caller) = self.channels.get(&a).cloned() else { return };
        if let Some(target) = self.forward_of(call, "CF", &dest) {
            self.follow_forward(call, &target);
            return;
        }
        // A phone with a call already (or the caller itself) answers 486 Busy
        // Here, and so does one with do-not-disturb on.
        let unavailable = self.unregistered.contains(&dest);
        let busy = self.device_state(&dest) != DeviceState::NotInUse || self.db.get("DND", &dest).is_some();
        // The dialed phone's channel gets a Uniqueid of the PBX's own: Asterisk gives an
        // Originate's `OtherChannelId` only to the second half of a Local channel (the
        // asterisk20 and asterisk22 scenario captures: `SIP/101-…` is `refpbx20-…`).
        let b = self.new_channel(&dest, call, true, Some(&caller.linkedid), None);
        if let Some(c) = self.calls.get_mut(&call) {
            c.callee = Some(b);
            c.phase = Phase::Dialing;
        }
        self.emit_chan(b, |c| events::channel_event("Newchannel", c));
        if !is_orig {
            self.emit_extension_status(&caller.ext);
            self.emit_extension_status(&dest);
        }
        self.with_chan(b, |c| {
            c.exten = dest.clone();
            c.conn_num = caller.cid_num.clone();
            c.conn_name = caller.cid_name.clone();
            c.app = "AppDial".into();
            c.app_data = "(Outgoing Line)".into();
        });
        self.emit_chan(b, events::newexten);
        self.emit_chan(b, |c| events::channel_event("NewConnectedLine", c));
        self.emit_dial("DialBegin", a, b, ("DialString", &dest));
        if let Some(callee) = self.channels.get(&b).cloned() {
            self.with_chan(a, |c| {
                c.conn_num = callee.cid_num;
                c.conn_name = callee.cid_name;
            });
        }
        self.emit_chan(a, |c| events::channel_event("NewConnectedLine", c));
        if self.is_extension(&caller.ext) {
            self.emit_device_state(&caller.ext);
        }
        self.emit_device_state(&dest);
        if is_orig && !self.version.early_originate_response() {
            let snapshot = self.channels.get(&a).cloned();
            self.originate_outcome(call, true, 4, snapshot.as_ref());
            self.emit_extension_status(&caller.ext);
            self.emit_extension_status(&dest);
        }
        if unavailable {
            self.dest_fails(call, 20, None);
            return;
        }
        if busy {
            self.dest_fails(call, 17, None);
            return;
        }
        self.with_chan(b, |c| c.state = ChanState::Ringing);
        self.emit_chan(b, |c| events::channel_event("Newstate", c));
        self.emit_device_state(&dest);
        self.local_ringing(call, true);
        self.emit_dial("DialState", a, b, ("DialStatus", "RINGING"));
        self.local_ringing(call, false);
        if ring_out || self.no_answer.contains(&dest) {
            self.schedule(self.dial_timeout, call, Step::DestTimeout);
        } else {
            self.schedule(self.answer_delay, call, Step::DestAnswer);
        }
    }

    fn emit_dial(&mut self, name: &str, a: u64, b: u64, last: (&str, &str)) {
        if let (Some(ca), Some(cb)) = (self.channels.get(&a), self.channels.get(&b)) {
            let ev = events::dial(name, Some(ca), cb, last);
            self.emit(ev);
        }
    }

    /// The called phone refuses (busy, or hung up by an action while ringing):
    /// DialEnd with the matching status, then the caller's dialplan ends the call
    /// (busy_phone.ami).
    fn dest_fails(&mut self, call: u64, cause: u32, request: Option<&str>) {
        let Some(c) = self.calls.get(&call) else { return };
        let (a, dest) = (c.caller, c.dest.clone());
        let Some(b) = c.callee.and_then(|b| self.channels.remove(&b)) else { return };
        if let Some(name) = request {
            self.emit(events::hangup_request(name, &b, cause));
        }
        self.emit_extension_status(&dest);
        let status = dial_status_for_cause(cause);
        if let Some(ca) = self.channels.get(&a) {
            let ev = events::dial("DialEnd", Some(ca), &b, ("DialStatus", status));
            self.emit(ev);
        }
        self.emit(events::hangup(&b, cause));
        self.with_chan(a, |c| {
            c.priority += 1;
            c.app = "NoOp".into();
            c.app_data = format!("DIALSTATUS={status}");
        });
        self.emit_chan(a, events::newexten);
        self.emit_device_state(&dest);
        let forward = match status {
            "BUSY" => self.forward_of(call, "CFB", &dest),
            // ctilink's convention keeps it in `CFNA`, FreePBX's in `CFU`: either works.
            "NOANSWER" => {
                self.forward_of(call, "CFNA", &dest).or_else(|| self.forward_of(call, "CFU", &dest))
            }
            _ => None,
        };
        if let (Some(target), true) = (forward, self.channels.contains_key(&a)) {
            if let Some(c) = self.calls.get_mut(&call) {
                c.callee = None;
            }
            self.follow_forward(call, &target);
            return;
        }
        if status == "BUSY" {
            self.with_chan(a, |c| {
                c.priority += 1;
                c.app = "GotoIf".into();
                c.app_data = "1?busy".into();
            });
            self.emit_chan(a, events::newexten);
            self.with_chan(a, |c| {
                c.priority += 2;
                c.app = "Busy".into();
                c.app_data = "5".into();
            });
            self.emit_chan(a, events::newexten);
            if self.channels.get(&a).is_some_and(|c| c.state != ChanState::Up) {
                self.with_chan(a, |c| c.state = ChanState::Busy);
                self.emit_chan(a, |c| events::channel_event("Newstate", c));
            }
        }
        if self.calls.get(&call).is_some_and(|c| c.local.is_some()) {
            // `;2` ends its dialplan: the Local pair goes away.
            self.local_far_gone(call, cause);
            return;
        }
        self.calls.remove(&call);
        if let Some(ca) = self.channels.remove(&a) {
            self.emit(events::hangup_request("SoftHangupRequest", &ca, 16));
            self.emit(events::hangup(&ca, cause));
            self.emit_device_state(&ca.ext);
            self.emit_extension_status(&ca.ext);
        }
    }

    /// Timer: the called phone answers; both legs are bridged.
    fn dest_answers(&mut self, call: u64) {
        let Some(c) = self.calls.get(&call) else { return };
        let (a, dest) = (c.caller, c.dest.clone());
        let Some(b) = c.callee else { return };
        self.with_chan(b, |c| c.state = ChanState::Up);
        self.emit_extension_status(&dest);
        self.emit_device_state(&dest);
        self.emit_chan(b, |c| events::channel_event("Newstate", c));
        self.with_chan(b, |c| c.exten.clear());
        self.emit_dial("DialEnd", a, b, ("DialStatus", "ANSWER"));
        if self.channels.get(&a).is_some_and(|c| c.state != ChanState::Up) {
            self.with_chan(a, |c| c.state = ChanState::Up);
            self.emit_chan(a, |c| events::channel_event("Newstate", c));
        }
        let id = bridge_uuid();
        self.emit(events::bridge("BridgeCreate", &id, 0));
        self.local_answered(call);
        self.emit_chan(b, events::newexten);
        for (key, n) in [(b, 1), (a, 2)] {
            self.with_chan(key, |c| c.bridge = Some(id.clone()));
            self.emit_chan(key, |c| events::bridge_channel("BridgeEnter", &id, n, c));
        }
        if let Some(c) = self.calls.get_mut(&call) {
            c.phase = Phase::Bridged;
            c.bridge = Some(id);
        }
    }

    // ---- Originate (click-to-dial) ---------------------------------------------

    /// Async Originate (originate_sip.ami): ring `req.channel`; when it answers,
    /// run `req.exten` in the dialplan, which dials that phone.
    pub(crate) fn originate(&mut self, req: OriginateRequest) {
        let ext = match req.channel.split_once('/') {
            Some((tech, ext)) if tech.eq_ignore_ascii_case(&self.technology) && self.is_extension(ext) => {
                ext.to_owned()
            }
            _ => {
                // No such endpoint: no channel is created at all.
                self.originate_result(&req, false, 0, None);
                return;
            }
        };
        if self.unregistered.contains(&ext) {
            // PJSIP: "Endpoint has no available contacts"; no channel is created.
            self.originate_result(&req, false, 0, None);
            return;
        }
        let busy_first = self.device_state(&ext) != DeviceState::NotInUse;
        let (timeout, channel_id, account) = (req.timeout, req.channel_id.clone(), req.account.clone());
        let cid = req.caller_id.as_deref().map(parse_caller_id);
        let pickup = req.application.is_some().then(|| req.data.clone().unwrap_or_default());
        let call = self.new_call(Call {
            originate: Some(req),
            phase: Phase::FirstLegRinging,
            pickup,
            ..Call::default()
        });
        let a = self.new_channel(&ext, call, true, None, channel_id.as_deref());
        if let Some(c) = self.calls.get_mut(&call) {
            c.caller = a;
        }
        self.with_chan(a, |c| c.account = account.unwrap_or_default());
        self.emit_chan(a, |c| events::channel_event("Newchannel", c));
        self.with_chan(a, |c| {
            c.exten.clear();
            c.app = "AppDial2".into();
            c.app_data = "(Outgoing Line)".into();
        });
        self.emit_chan(a, events::newexten);
        if let Some((name, num)) = cid {
            self.with_chan(a, |c| {
                if let Some(num) = num {
                    c.cid_num = num;
                }
                c.cid_name = name.unwrap_or_default();
            });
            self.emit_chan(a, events::new_callerid);
        }
        self.with_chan(a, |c| {
            c.conn_num = c.cid_num.clone();
            c.conn_name = c.cid_name.clone();
        });
        self.emit_chan(a, |c| events::channel_event("NewConnectedLine", c));
        self.emit_device_state(&ext);
        self.emit_extension_status(&ext);
        self.emit_chan(a, |c| events::dial("DialBegin", None, c, ("DialString", &ext)));
        if busy_first {
            // The phone already has a call and answers 486 Busy Here.
            let req = self.calls.remove(&call).and_then(|c| c.originate);
            if let Some(ch) = self.channels.remove(&a) {
                self.emit(events::dial("DialEnd", None, &ch, ("DialStatus", "BUSY")));
                self.emit(events::hangup(&ch, 17));
                self.emit_device_state(&ext);
                self.emit_extension_status(&ext);
            }
            if let Some(req) = req {
                self.originate_result(&req, false, 5, None);
            }
            return;
        }
        self.with_chan(a, |c| c.state = ChanState::Ringing);
        self.emit_chan(a, |c| events::channel_event("Newstate", c));
        self.emit_device_state(&ext);
        self.emit_chan(a, |c| events::dial("DialState", None, c, ("DialStatus", "RINGING")));
        if self.ring_delay < timeout {
            self.schedule(self.ring_delay, call, Step::FirstLegAnswer);
        } else {
            self.schedule(timeout, call, Step::FirstLegTimeout);
        }
    }

    /// Timer: the first phone answers; the dialplan runs `req.exten`.
    fn first_leg_answers(&mut self, call: u64) {
        let Some(req) = self.calls.get(&call).and_then(|c| c.originate.clone()) else { return };
        let Some(a) = self.calls.get(&call).map(|c| c.caller) else { return };
        self.with_chan(a, |c| c.state = ChanState::Up);
        self.emit_chan(a, |c| events::channel_event("Newstate", c));
        let early = self.version.early_originate_response()
            && self.calls.get(&call).is_some_and(|c| c.pickup.is_none());
        if early {
            let snapshot = self.channels.get(&a).cloned();
            self.originate_outcome(call, true, 4, snapshot.as_ref());
        }
        self.emit_chan(a, |c| events::dial("DialEnd", None, c, ("DialStatus", "ANSWER")));
        if let Some(target) = self.calls.get(&call).and_then(|c| c.pickup.clone()) {
            let snapshot = self.channels.get(&a).cloned();
            self.originate_result(&req, true, 4, snapshot.as_ref());
            self.pickup_chan(call, &target);
            return;
        }
        self.with_chan(a, |c| {
            c.context = req.context.clone();
            c.exten = req.exten.clone();
            c.priority = req.priority.max(1) - 1;
        });
        if req.context == self.context && self.is_extension(&req.exten) {
            self.with_chan(a, |c| c.priority += 1);
            self.run_dial_exten(a, &req.exten);
            if let Some(c) = self.calls.get_mut(&call) {
                c.dest = req.exten.clone();
            }
            self.dial_dest(call);
        } else {
            // No such extension in the dialplan: Asterisk hangs the answered
            // channel up as unallocated.
            self.with_chan(a, |c| c.priority += 1);
            let snapshot = self.channels.get(&a).cloned();
            if !early {
                self.originate_result(&req, true, 4, snapshot.as_ref());
            }
            self.calls.remove(&call);
            if let Some(ch) = self.channels.remove(&a) {
                self.emit(events::hangup(&ch, 1));
                self.emit_extension_status(&ch.ext);
                self.emit_device_state(&ch.ext);
            }
        }
    }

    /// Timer: the first phone rang for the whole Originate `Timeout`.
    fn first_leg_times_out(&mut self, call: u64) {
        let Some(c) = self.calls.remove(&call) else { return };
        if let Some(ch) = self.channels.remove(&c.caller) {
            self.emit(events::dial("DialEnd", None, &ch, ("DialStatus", "NOANSWER")));
            self.emit(events::hangup(&ch, 19));
            self.emit_device_state(&ch.ext);
            self.emit_extension_status(&ch.ext);
        }
        if let Some(req) = c.originate {
            self.originate_result(&req, false, 3, None);
        }
    }

    /// Runs a timer armed earlier; stale timers (the call ended or moved on) do nothing.
    pub(crate) fn fire(&mut self, timer: Timer) {
        let Some(phase) = self.calls.get(&timer.call).map(|c| c.phase) else { return };
        match (timer.step, phase) {
            (Step::FirstLegAnswer, Phase::FirstLegRinging) => self.first_leg_answers(timer.call),
            (Step::FirstLegTimeout, Phase::FirstLegRinging) => self.first_leg_times_out(timer.call),
            (Step::DestAnswer, Phase::Dialing) => self.dest_answers(timer.call),
            (Step::DestTimeout, Phase::Dialing) => self.dest_fails(timer.call, 19, None),
            _ => {}
        }
    }

    // ---- hanging up ------------------------------------------------------------

    /// The `Hangup` action: ends channel `name` and its call. `false` if there is
    /// no such channel (Asterisk matches names without regard to case).
    pub(crate) fn hangup(&mut self, name: &str, cause: u32) -> bool {
        let key = self.channels.iter().find(|(_, c)| c.name.eq_ignore_ascii_case(name)).map(|(k, _)| *k);
        match key {
            Some(key) => {
                self.hangup_key(key, cause, Trigger::Action);
                true
            }
            None => false,
        }
    }

    /// Every call ends as if its calling phone hung up.
    pub(crate) fn hangup_all(&mut self) {
        let mut calls: Vec<(u64, u64)> = self.calls.iter().map(|(id, c)| (*id, c.caller)).collect();
        calls.sort_unstable();
        for (_, caller) in calls {
            self.hangup_key(caller, 16, Trigger::Phone);
        }
        // Anything left over (should not happen) is dropped silently.
        self.channels.clear();
    }

    fn hangup_key(&mut self, key: u64, cause: u32, trigger: Trigger) {
        if self.local_hangup(key, cause, trigger) {
            return;
        }
        let Some(call_id) = self.channels.get(&key).map(|c| c.call) else { return };
        let Some(call) = self.calls.get(&call_id) else {
            self.channels.remove(&key);
            return;
        };
        let request = match trigger {
            Trigger::Phone => "HangupRequest",
            Trigger::Action => "SoftHangupRequest",
        };
        match call.phase {
            Phase::FirstLegRinging => {
                let c = self.calls.remove(&call_id);
                if let Some(ch) = self.channels.remove(&key) {
                    self.emit(events::hangup_request(request, &ch, cause));
                    let status = dial_status_for_cause(cause);
                    self.emit(events::dial("DialEnd", None, &ch, ("DialStatus", status)));
                    self.emit(events::hangup(&ch, cause));
                    self.emit_device_state(&ch.ext);
                    self.emit_extension_status(&ch.ext);
                }
                if let Some(req) = c.and_then(|c| c.originate) {
                    self.originate_result(&req, false, 1, None);
                }
            }
            Phase::Dialing if key == call.caller => self.cancel(call_id, cause, request),
            Phase::Dialing => self.dest_fails(call_id, cause, Some(request)),
            Phase::Bridged => self.teardown(call_id, key, cause, trigger),
        }
    }

    /// The caller hangs up while the destination rings: DialEnd CANCEL.
    fn cancel(&mut self, call: u64, cause: u32, request: &str) {
        let Some(c) = self.calls.remove(&call) else { return };
        let a = self.channels.remove(&c.caller);
        let b = c.callee.and_then(|b| self.channels.remove(&b));
        let (Some(a), Some(b)) = (a, b) else { return };
        self.emit(events::hangup_request(request, &a, cause));
        self.emit(events::dial("DialEnd", Some(&a), &b, ("DialStatus", "CANCEL")));
        self.emit_extension_status(&b.ext);
        self.emit_device_state(&b.ext);
        self.emit(events::hangup(&b, 16));
        self.emit(events::hangup(&a, cause));
        self.emit_device_state(&a.ext);
        self.emit_extension_status(&a.ext);
    }

    /// A bridged call ends because channel `x` hung up. The order follows
    /// sip_call.ami when the phone hangs up and originate_sip.ami when an AMI
    /// `Hangup` does; the dialed leg's Hangup always precedes the caller's.
    fn teardown(&mut self, call: u64, x: u64, cause: u32, trigger: Trigger) {
        let Some(c) = self.calls.remove(&call) else { return };
        let a = self.channels.remove(&c.caller);
        let b = c.callee.and_then(|b| self.channels.remove(&b));
        let (Some(a), Some(b)) = (a, b) else { return };
        let id = c.bridge.unwrap_or_default();
        // The party on hold hears music until the call ends.
        if a.held {
            self.emit(events::music_on_hold(false, &b));
        } else if b.held {
            self.emit(events::music_on_hold(false, &a));
        }
        let x_is_caller = x == c.caller;
        let (xc, yc) = if x_is_caller { (&a, &b) } else { (&b, &a) };
        let (cause_a, cause_b) = if x_is_caller { (cause, 16) } else { (16, cause) };
        match trigger {
            Trigger::Phone => {
                self.emit(events::hangup_request("HangupRequest", xc, cause));
                self.emit(events::bridge_channel("BridgeLeave", &id, 1, xc));
                self.emit(events::bridge_channel("BridgeLeave", &id, 0, yc));
                self.emit(events::bridge("BridgeDestroy", &id, 0));
                self.emit(events::hangup_request("SoftHangupRequest", xc, cause));
                self.emit_extension_status(&b.ext);
                self.emit_device_state(&b.ext);
                self.emit(events::hangup(&b, cause_b));
                self.emit_device_state(&a.ext);
                self.emit_extension_status(&a.ext);
                self.emit(events::hangup(&a, cause_a));
            }
            Trigger::Action => {
                self.emit(events::bridge_channel("BridgeLeave", &id, 1, xc));
                self.emit(events::hangup_request("SoftHangupRequest", xc, cause));
                self.emit(events::bridge_channel("BridgeLeave", &id, 0, yc));
                self.emit(events::bridge("BridgeDestroy", &id, 0));
                self.emit_extension_status(&b.ext);
                self.emit_device_state(&b.ext);
                self.emit(events::hangup(&b, cause_b));
                self.emit(events::hangup(&a, cause_a));
                self.emit_extension_status(&a.ext);
                self.emit_device_state(&a.ext);
            }
        }
    }

    // ---- state queries (list actions) ------------------------------------------

    /// `ExtensionStateList` items: one per phone, in configuration order.
    /// None without hints (a pattern hint is not listed by Asterisk 22).
    pub(crate) fn extension_state_items(&self, action_id: Option<&str>) -> Vec<MessageBuilder> {
        self.extensions
            .iter()
            .filter(|_| self.hints)
            .map(|e| {
                let status = self.device_state(e).extension_status();
                events::extension_status(e, &self.context, &self.device(e), status, action_id)
            })
            .collect()
    }

    /// `DeviceStateList` items: one per phone device (without hints, only those whose
    /// state was reported since start), then the custom states set.
    pub(crate) fn device_state_items(&self, action_id: Option<&str>) -> Vec<MessageBuilder> {
        let phones = self
            .extensions
            .iter()
            .filter(|e| self.hints || self.state_cached.contains(*e))
            .map(|e| events::device_state(&self.device(e), self.device_state(e).as_str(), action_id));
        let custom = self.custom.iter().map(|(dev, state)| events::device_state(&dev, state, action_id));
        phones.chain(custom).collect()
    }

    /// `CoreShowChannels` items, in creation order.
    pub(crate) fn channel_items(&self, action_id: Option<&str>) -> Vec<MessageBuilder> {
        self.channels
            .values()
            .map(|c| events::core_show_channel(c, action_id, &events::hms(c.created.elapsed().as_secs())))
            .collect()
    }

    /// `ExtensionState` for one extension: `(hint, status)`; status -1 when there is no hint.
    pub(crate) fn extension_state(&self, exten: &str, context: &str) -> (String, i32) {
        if self.hints && context.eq_ignore_ascii_case(&self.context) && self.is_extension(exten) {
            (self.device(exten), self.device_state(exten).extension_status())
        } else {
            (String::new(), -1)
        }
    }

    pub(crate) fn context(&self) -> &str {
        &self.context
    }
}

/// A random bridge id shaped like Asterisk's UUIDs.
fn bridge_uuid() -> String {
    let h = || fastrand::u64(..);
    let (a, b) = (h(), h());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::test_util::{drain, has, pbx};

    #[test]
    fn phone_call_rings_answers_and_hangs_up() {
        let mut p = pbx();
        assert_eq!(p.place_call("101", "100"), Ok(()));
        let (evs, timers) = drain(&mut p);
        assert_eq!(evs.first().map(String::as_str), Some("Newchannel"));
        assert!(has(&evs, "DialBegin") && has(&evs, "DialState=RINGING"));
        assert_eq!(timers.len(), 1);
        assert_eq!(p.active_channels(), 2);
        p.fire(timers[0]);
        let (evs, _) = drain(&mut p);
        assert!(has(&evs, "DialEnd=ANSWER"));
        assert_eq!(evs.iter().filter(|e| *e == "BridgeEnter").count(), 2);
        // A second answer timer is stale and does nothing.
        p.fire(timers[0]);
        assert!(drain(&mut p).0.is_empty());
        p.hangup_all();
        let (evs, _) = drain(&mut p);
        assert_eq!(evs.first().map(String::as_str), Some("HangupRequest=16"));
        assert_eq!(evs.iter().filter(|e| *e == "Hangup=16").count(), 2);
        assert_eq!(evs.last().map(String::as_str), Some("Hangup=16"));
        assert_eq!(p.active_channels(), 0);
    }

    #[test]
    fn busy_destination_gets_dialstatus_busy() {
        let mut p = pbx();
        p.place_call("101", "100").ok();
        let (_, t) = drain(&mut p);
        p.fire(t[0]);
        drain(&mut p);
        assert_eq!(p.place_call("102", "100"), Ok(()));
        let (evs, timers) = drain(&mut p);
        assert!(has(&evs, "DialEnd=BUSY"), "{evs:?}");
        assert_eq!(evs.iter().filter(|e| *e == "Hangup=17").count(), 2, "{evs:?}");
        assert!(timers.is_empty());
        assert_eq!(p.active_channels(), 2, "the first call is untouched");
        assert_eq!(p.place_call("101", "102"), Err(SimError::ExtensionBusy("101".into())));
        assert_eq!(p.place_call("999", "102"), Err(SimError::UnknownExtension("999".into())));
    }

    #[test]
    fn phone_that_does_not_answer_times_out_with_noanswer() {
        let mut p = Pbx::new(&SimConfig {
            extensions: SimConfig::extension_range(100, 103),
            no_answer: vec!["101".into()],
            ..SimConfig::default()
        });
        p.place_call("100", "101").expect("call");
        let (evs, timers) = drain(&mut p);
        assert!(has(&evs, "Newstate"));
        assert_eq!(timers.len(), 1);
        assert_eq!(timers[0].step, Step::DestTimeout);
        p.fire(timers[0]);
        let (evs, _) = drain(&mut p);
        assert!(has(&evs, "DialEnd=NOANSWER"), "{evs:?}");
        assert!(has(&evs, "Hangup=19"), "{evs:?}");
        assert_eq!(p.active_channels(), 0);
    }

    #[test]
    fn a_restart_with_other_extensions_lists_only_those_and_forgets_the_calls() {
        let mut p = pbx();
        p.place_call("100", "101").expect("call");
        let (_, timers) = drain(&mut p);
        p.restart(SimConfig::extension_range(103, 106));
        assert!(drain(&mut p).0.is_empty(), "a dead process says nothing");
        assert_eq!(p.active_channels(), 0);
        let listed: Vec<String> =
            p.extension_state_items(None).iter().filter_map(|m| m.get("Exten").map(str::to_owned)).collect();
        assert_eq!(listed, ["103", "104", "105", "106"]);
        assert!(!p.is_extension("100") && p.is_extension("106"));
        // The old call's answer timer finds no call.
        p.fire(timers[0]);
        assert!(drain(&mut p).0.is_empty());
        assert_eq!(p.place_call("100", "103"), Err(SimError::UnknownExtension("100".into())));
    }

    #[test]
    fn unknown_destination_is_unallocated() {
        let mut p = pbx();
        assert_eq!(p.place_call("101", "555"), Ok(()));
        let (evs, timers) = drain(&mut p);
        assert!(has(&evs, "Hangup=1") && !has(&evs, "DialBegin"), "{evs:?}");
        assert!(timers.is_empty());
        assert_eq!(p.active_channels(), 0);
    }

    fn originate(channel: &str, exten: &str) -> OriginateRequest {
        OriginateRequest {
            action_id: Some("o-1".into()),
            channel: channel.into(),
            context: "internal".into(),
            exten: exten.into(),
            priority: 1,
            caller_id: Some("\"Click2Dial\" <101>".into()),
            timeout: Duration::from_secs(30),
            ..OriginateRequest::default()
        }
    }

    #[test]
    fn originate_to_unknown_endpoint_fails_with_reason_0() {
        let mut p = pbx();
        p.originate(originate("PJSIP/999", "100"));
        let (evs, _) = drain(&mut p);
        assert_eq!(evs, ["OriginateResponse=0"]);
        p.originate(originate("SIP/101", "100"));
        assert_eq!(drain(&mut p).0, ["OriginateResponse=0"], "wrong technology");
    }

    #[test]
    fn originate_connects_both_phones() {
        let mut p = pbx();
        p.originate(originate("PJSIP/101", "100"));
        let (evs, t) = drain(&mut p);
        assert!(has(&evs, "NewCallerid") && has(&evs, "DialState=RINGING"));
        assert!(!has(&evs, "OriginateResponse=4"));
        p.fire(t[0]);
        let (evs, t) = drain(&mut p);
        assert!(has(&evs, "OriginateResponse=4"), "{evs:?}");
        p.fire(t[0]);
        let (evs, _) = drain(&mut p);
        assert!(has(&evs, "DialEnd=ANSWER"));
        let name = p.channels.values().find(|c| c.ext == "101").map(|c| c.name.clone()).unwrap_or_default();
        assert!(p.hangup(&name, 16));
        let (evs, _) = drain(&mut p);
        assert!(!has(&evs, "HangupRequest=16") && has(&evs, "SoftHangupRequest=16"));
        assert!(!p.hangup(&name, 16), "already gone");
    }

    #[test]
    fn originate_to_unknown_exten_answers_then_hangs_up_unallocated() {
        let mut p = pbx();
        p.originate(originate("PJSIP/101", "555"));
        let (_, t) = drain(&mut p);
        p.fire(t[0]);
        let (evs, t) = drain(&mut p);
        let pos = |w: &str| evs.iter().position(|e| e == w);
        assert!(pos("OriginateResponse=4") < pos("Hangup=1") && pos("Hangup=1").is_some(), "{evs:?}");
        assert!(t.is_empty());
    }

    #[test]
    fn caller_hangup_while_ringing_cancels() {
        let mut p = pbx();
        p.place_call("101", "100").ok();
        drain(&mut p);
        let name = p.channels.values().find(|c| c.ext == "101").map(|c| c.name.clone()).unwrap_or_default();
        assert!(p.hangup(&name, 16));
        let (evs, _) = drain(&mut p);
        assert!(has(&evs, "DialEnd=CANCEL"), "{evs:?}");
        assert_eq!(p.active_channels(), 0);
    }

    #[test]
    fn first_leg_timeout_fails_originate() {
        let mut p = pbx();
        let mut req = originate("PJSIP/101", "100");
        req.timeout = Duration::from_millis(10);
        p.originate(req);
        let (_, t) = drain(&mut p);
        assert_eq!(t[0].step, Step::FirstLegTimeout);
        p.fire(t[0]);
        let (evs, _) = drain(&mut p);
        assert!(has(&evs, "DialEnd=NOANSWER") && has(&evs, "OriginateResponse=3"), "{evs:?}");
    }

    #[test]
    fn channel_names_and_uniqueids_look_like_asterisk() {
        let mut p = pbx();
        p.place_call("101", "100").ok();
        let names: Vec<_> = p.channels.values().map(|c| c.name.clone()).collect();
        assert_eq!(names, ["PJSIP/101-00000000", "PJSIP/100-00000001"]);
        let (a, b) = (&p.channels[&1], &p.channels[&2]);
        assert!(a.uniqueid.ends_with(".1") && b.uniqueid.ends_with(".2"));
        assert_eq!(b.linkedid, a.uniqueid);
        let id = bridge_uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
    }
}
