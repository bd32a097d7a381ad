//! `Atxfer` as Asterisk does it (bridge_basic.c, the attended transfer feature):
//! the transferer's channel leaves the bridge it shares with the transferee,
//! who is held, and joins a new bridge with the `;1` half of a Local channel
//! pair `Local/<exten>@<context>-XXXXXXXX;1/;2`; `;2` runs the dialplan of
//! `<exten>` and dials the target phone into a third bridge. Event shapes and
//! order follow `tests/vectors/ami/asterisk22/attended_transfer.ami`.
//!
//! What happens next depends on who hangs up:
//! - the transferer: the transfer completes (the transferee's bridge takes `;1`
//!   in, `AttendedTransfer`); the Local pair then stays up between transferee
//!   and target, ringing still if the target had not answered (a "blonde"
//!   transfer, which Asterisk reports the same way, `DestType: Bridge`);
//! - the target (or the dial fails): the pair goes away and the transferer goes
//!   back into the first bridge (`Unhold`), bridge_basic's `TRANSFER_REBRIDGE`;
//! - the transferee: the first bridge goes away, the consultation goes on;
//! - after the transfer, either side: everything of the call ends, in the
//!   capture's order.

use super::control::Answer;
use super::{bridge_uuid, events, Call, ChanState, Pbx, Phase, Trigger};
use crate::channel::Channel;
use crate::events::Attended;
use crate::version::AsteriskVersion;

/// The Local pair of a call whose `caller` is its `;2` half.
#[derive(Clone, Debug)]
pub(super) struct LocalPair {
    /// The `;1` half.
    one: u64,
    /// `Local/102@internal`: the pair's device.
    device: String,
    /// The phone channel bridged with `;1`: the transferer while consulting,
    /// then the transferee (or still the transferer if the transferee left).
    near: u64,
    /// The bridge of `near` and `;1`.
    near_bridge: String,
    /// While consulting: the held first call.
    held: Option<Held>,
}

/// The first call of an attended transfer, held while the transferer consults.
#[derive(Clone, Debug)]
struct Held {
    call: u64,
    transferee: u64,
    bridge: String,
}

/// A consultation call at a glance: its pair, `;2`, the target, the target's
/// bridge, the phase of the dial.
type PairView = (LocalPair, u64, Option<u64>, Option<String>, Phase);

/// What a channel is to an attended transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    /// The transferer, consulting.
    Transferer,
    /// The held transferee, before the transfer.
    Transferee,
    /// The phone bridged with `;1` once the transfer is done.
    Near,
    One,
    Two,
    Target,
}

/// Snapshots of the channels an event sequence names.
fn snap(p: &Pbx, key: u64) -> Option<Channel> {
    p.channels.get(&key).cloned()
}

impl Pbx {
    /// The consultation call `key` takes part in, and its role there.
    pub(super) fn local_role(&self, key: u64) -> Option<(u64, Role)> {
        for (id, c) in &self.calls {
            let Some(l) = &c.local else { continue };
            let role = if key == l.near {
                if l.held.is_some() {
                    Role::Transferer
                } else {
                    Role::Near
                }
            } else if l.held.as_ref().is_some_and(|h| h.transferee == key) {
                Role::Transferee
            } else if key == l.one {
                Role::One
            } else if key == c.caller {
                Role::Two
            } else if c.callee == Some(key) {
                Role::Target
            } else {
                continue;
            };
            return Some((*id, role));
        }
        None
    }

    fn pair(&self, call: u64) -> Option<PairView> {
        let c = self.calls.get(&call)?;
        Some((c.local.clone()?, c.caller, c.callee, c.bridge.clone(), c.phase))
    }

    /// `Hangup` or `HangupRequest` of the channel a hang-up starts with: the phone
    /// sends BYE (`HangupRequest`), or an AMI `Hangup` asks (Asterisk 22 reports
    /// that `SoftHangupRequest` with `Cause: 32`, AST_SOFTHANGUP_EXPLICIT; the
    /// Asterisk 20 captures show none).
    fn request_hangup(&mut self, ch: &Channel, cause: u32, trigger: Trigger) {
        match trigger {
            Trigger::Phone => self.emit(events::hangup_request("HangupRequest", ch, cause)),
            Trigger::Action if self.version == AsteriskVersion::V22 => {
                self.emit(events::hangup_request("SoftHangupRequest", ch, 32))
            }
            Trigger::Action => {}
        }
    }

    /// `Atxfer` on channel `name`: see the module documentation.
    pub(crate) fn atxfer(&mut self, name: &str, context: &str, exten: &str) -> Answer {
        let Some(key) = self.key_of(name) else { return Err("Channel specified does not exist".into()) };
        let Some((call1, a1, y, bridge1)) = self.bridged_pair(key) else {
            return Err("Transfer invalid".into());
        };
        let Some(a1c) = snap(self, a1) else { return Err("Transfer invalid".into()) };
        // The feature holds the transferee: `Hold` on the transferer's channel,
        // the transferee's device on hold.
        self.emit(events::hold_feature(&a1c));
        self.with_chan(y, |c| c.moh = true);
        if let Some(ext) = self.channels.get(&y).map(|c| c.ext.clone()) {
            self.emit_extension_status(&ext);
            self.emit_device_state(&ext);
        }
        // The Local pair, in a new call that keeps the first call's Linkedid.
        let device = format!("Local/{exten}@{context}");
        let consult = self.new_call(Call { dest: exten.to_owned(), ..Call::default() });
        let base = format!("{device}-{:08x}", self.next_local);
        self.next_local = self.next_local.wrapping_add(1);
        let mut halves = [0u64; 2];
        for (i, (suffix, state)) in [(";1", ChanState::Down), (";2", ChanState::Ring)].into_iter().enumerate()
        {
            let k = self.new_channel(&device, consult, false, Some(&a1c.linkedid), None);
            self.with_chan(k, |c| {
                c.name = format!("{base}{suffix}");
                c.state = state;
                c.cid_num = super::UNKNOWN.into();
                c.cid_name = super::UNKNOWN.into();
                c.context = context.to_owned();
                c.exten = exten.to_owned();
            });
            self.emit_chan(k, |c| events::channel_event("Newchannel", c));
            halves[i] = k;
        }
        let [one, two] = halves;
        let bridge2 = bridge_uuid();
        if let Some(c) = self.calls.get_mut(&consult) {
            c.caller = two;
            c.local = Some(LocalPair {
                one,
                device: device.clone(),
                near: a1,
                near_bridge: bridge2.clone(),
                held: Some(Held { call: call1, transferee: y, bridge: bridge1.clone() }),
            });
        }
        self.emit(events::bridge("BridgeCreate", &bridge2, 0));
        self.with_chan(two, |c| {
            c.cid_num = a1c.cid_num.clone();
            c.cid_name = a1c.cid_name.clone();
        });
        self.emit_chan(two, events::new_callerid);
        if let (Some(o), Some(t)) = (snap(self, one), snap(self, two)) {
            self.emit(events::local_bridge(&o, &t, context, exten));
        }
        self.with_chan(one, |c| {
            c.conn_num = a1c.cid_num.clone();
            c.conn_name = a1c.cid_name.clone();
            c.bridge = Some(bridge2.clone());
        });
        self.emit_chan(one, |c| events::channel_event("NewConnectedLine", c));
        self.emit_chan(one, |c| events::bridge_channel("BridgeEnter", &bridge2, 1, c));
        let known = context.eq_ignore_ascii_case(&self.context) && self.is_extension(exten);
        if known {
            self.run_dial_exten(two, exten);
        }
        // The transferer moves to the consultation bridge.
        self.emit(events::bridge_channel("BridgeLeave", &bridge1, 1, &a1c));
        self.with_chan(a1, |c| {
            c.bridge = Some(bridge2.clone());
            c.conn_num = super::UNKNOWN.into();
            c.conn_name = super::UNKNOWN.into();
        });
        self.emit_chan(a1, |c| events::bridge_channel("BridgeEnter", &bridge2, 2, c));
        self.emit_chan(a1, |c| events::channel_event("NewConnectedLine", c));
        if known {
            self.dial_dest(consult);
        } else {
            // No such number: `;2` finds nothing to run and hangs up.
            self.local_far_gone(consult, 1);
        }
        Ok("Atxfer successfully queued")
    }

    /// Hooks of `dial_dest` while the target rings: `;1` rings too (before the
    /// `DialState` of `;2`), and the transfer's own dial of `;1` reports it (after).
    pub(super) fn local_ringing(&mut self, call: u64, before: bool) {
        let Some((l, _, Some(target), _, _)) = self.pair(call) else { return };
        let Some(tc) = snap(self, target) else { return };
        if before {
            self.with_chan(l.one, |c| {
                c.state = ChanState::Ringing;
                c.cid_num = tc.cid_num.clone();
                c.cid_name = tc.cid_name.clone();
            });
            self.emit_chan(l.one, |c| events::channel_event("Newstate", c));
            self.emit_chan(l.one, events::new_callerid);
            return;
        }
        self.with_chan(l.near, |c| {
            c.conn_num = tc.cid_num.clone();
            c.conn_name = tc.cid_name.clone();
        });
        self.emit_chan(l.near, |c| events::channel_event("NewConnectedLine", c));
        self.emit_device_state(&l.device);
        self.emit_chan(l.one, |c| events::dial("DialState", None, c, ("DialStatus", "RINGING")));
    }

    /// Hook of `dest_answers` after `BridgeCreate`: `;1` answers too.
    pub(super) fn local_answered(&mut self, call: u64) {
        let Some((l, ..)) = self.pair(call) else { return };
        self.with_chan(l.one, |c| c.state = ChanState::Up);
        self.emit_chan(l.one, |c| events::channel_event("Newstate", c));
        self.emit_chan(l.one, |c| events::dial("DialEnd", None, c, ("DialStatus", "ANSWER")));
        self.emit_device_state(&l.device);
        self.emit_device_state(&l.device);
    }

    /// A hang-up that concerns an attended transfer. `false` if `key` has no
    /// part in one.
    pub(super) fn local_hangup(&mut self, key: u64, cause: u32, trigger: Trigger) -> bool {
        let Some((call, role)) = self.local_role(key) else { return false };
        let Some((_, _, _, _, phase)) = self.pair(call) else { return false };
        match role {
            Role::Transferer => self.complete_transfer(call, cause, trigger),
            Role::Transferee => self.transferee_gone(call, cause, trigger),
            Role::Target if phase == Phase::Dialing => {
                let request = if trigger == Trigger::Phone { "HangupRequest" } else { "SoftHangupRequest" };
                self.dest_fails(call, cause, Some(request));
            }
            Role::Target | Role::Two => self.far_side_ends(call, key, cause, trigger),
            Role::Near | Role::One => self.near_side_ends(call, key, cause, trigger),
        }
        true
    }

    /// The transferer hangs up while consulting: the transferee's bridge takes
    /// `;1` in (bridge_basic's `bridge_merge`) and `AttendedTransfer` reports it.
    fn complete_transfer(&mut self, call: u64, cause: u32, trigger: Trigger) {
        let Some((l, _, target, _, _)) = self.pair(call) else { return };
        let Some(h) = l.held.clone() else { return };
        let (a1, one, y, bridge2) = (l.near, l.one, h.transferee, l.near_bridge.clone());
        let Some(a1c) = snap(self, a1) else { return };
        self.request_hangup(&a1c, cause, trigger);
        self.emit(events::bridge_channel("BridgeLeave", &bridge2, 1, &a1c));
        self.emit(events::hangup_request("SoftHangupRequest", &a1c, 16));
        self.emit(events::bridge_merge((&h.bridge, 1), (&bridge2, 1)));
        self.emit_chan(one, |c| events::bridge_channel("BridgeLeave", &bridge2, 0, c));
        // The transferee is taken off hold.
        self.with_chan(y, |c| {
            c.moh = false;
            c.call = call;
        });
        let Some(yc) = snap(self, y) else { return };
        self.emit_extension_status(&yc.ext);
        self.emit_device_state(&yc.ext);
        self.with_chan(one, |c| c.bridge = Some(h.bridge.clone()));
        self.emit_chan(one, |c| events::bridge_channel("BridgeEnter", &h.bridge, 2, c));
        let a1c = self.channels.remove(&a1).unwrap_or(a1c);
        self.emit_extension_status(&a1c.ext);
        if let Some(oc) = snap(self, one) {
            self.emit(events::attended_transfer(&Attended {
                orig: &a1c,
                orig_bridge: (&h.bridge, 2),
                second: &a1c,
                second_bridge: (&bridge2, 0),
                transferee: &yc,
                target: &oc,
                dest_bridge: &h.bridge,
                external: false,
            }));
        }
        self.with_chan(one, |c| {
            c.conn_num = yc.cid_num.clone();
            c.conn_name = yc.cid_name.clone();
        });
        self.emit_chan(one, |c| events::channel_event("NewConnectedLine", c));
        self.emit(events::bridge("BridgeDestroy", &bridge2, 0));
        self.emit(events::hangup(&a1c, 16));
        // Both phones now see each other.
        let tc = target.and_then(|t| snap(self, t));
        if let Some(tc) = &tc {
            self.with_chan(y, |c| {
                c.conn_num = tc.cid_num.clone();
                c.conn_name = tc.cid_name.clone();
            });
            self.emit_chan(y, |c| events::channel_event("NewConnectedLine", c));
        }
        self.emit_device_state(&a1c.ext);
        if let Some(t) = target {
            self.with_chan(t, |c| {
                c.conn_num = yc.cid_num.clone();
                c.conn_name = yc.cid_name.clone();
            });
            self.emit_chan(t, |c| events::channel_event("NewConnectedLine", c));
        }
        self.calls.remove(&h.call);
        if let Some(c) = self.calls.get_mut(&call) {
            if let Some(l) = c.local.as_mut() {
                l.near = y;
                l.near_bridge = h.bridge;
                l.held = None;
            }
        }
    }

    /// The transferee hangs up while the transferer consults: the first bridge
    /// goes away; the consultation goes on as a call of its own.
    fn transferee_gone(&mut self, call: u64, cause: u32, trigger: Trigger) {
        let Some((l, ..)) = self.pair(call) else { return };
        let Some(h) = l.held.clone() else { return };
        let Some(yc) = self.channels.remove(&h.transferee) else { return };
        self.request_hangup(&yc, cause, trigger);
        self.emit(events::bridge_channel("BridgeLeave", &h.bridge, 0, &yc));
        self.emit(events::bridge("BridgeDestroy", &h.bridge, 0));
        self.emit(events::hangup(&yc, cause));
        self.emit_extension_status(&yc.ext);
        self.emit_device_state(&yc.ext);
        self.calls.remove(&h.call);
        self.with_chan(l.near, |c| c.call = call);
        if let Some(l) = self.calls.get_mut(&call).and_then(|c| c.local.as_mut()) {
            l.held = None;
        }
    }

    /// The target (answered) or `;2` is hung up: the target's bridge goes away
    /// (or its dial is cancelled), then the pair (`local_far_gone`).
    fn far_side_ends(&mut self, call: u64, key: u64, cause: u32, trigger: Trigger) {
        let Some((_, two, target, bridge3, phase)) = self.pair(call) else { return };
        let x = snap(self, key);
        if let Some(xc) = &x {
            self.request_hangup(xc, cause, trigger);
        }
        let target_cause = if key == two { 16 } else { cause };
        match (phase, target.and_then(|t| self.channels.remove(&t)), bridge3) {
            (Phase::Bridged, Some(tc), Some(b3)) => {
                self.emit(events::bridge_channel("BridgeLeave", &b3, 1, &tc));
                self.emit_chan(two, |c| events::bridge_channel("BridgeLeave", &b3, 0, c));
                self.emit(events::bridge("BridgeDestroy", &b3, 0));
                self.emit(events::hangup(&tc, target_cause));
                self.emit_extension_status(&tc.ext);
                self.emit_device_state(&tc.ext);
            }
            (_, Some(tc), _) => {
                // `;2` goes while the target rings: Dial is cancelled.
                self.emit_chan(two, |c| events::dial("DialEnd", Some(c), &tc, ("DialStatus", "CANCEL")));
                self.emit(events::hangup(&tc, 16));
                self.emit_extension_status(&tc.ext);
                self.emit_device_state(&tc.ext);
            }
            _ => {}
        }
        self.with_chan(two, |c| c.bridge = None);
        self.local_far_gone(call, if key == two { cause } else { 16 });
    }

    /// `;2` has nothing left to do (its dial failed, or its bridge is gone) and
    /// hangs up, which ends `;1`. While consulting, the transferer goes back to
    /// the transferee (bridge_basic's `TRANSFER_REBRIDGE`: `Unhold`); after the
    /// transfer, the phone bridged with `;1` is hung up.
    pub(super) fn local_far_gone(&mut self, call: u64, cause: u32) {
        let Some((l, two, ..)) = self.pair(call) else { return };
        self.calls.remove(&call);
        if let Some(tc) = self.channels.remove(&two) {
            self.emit(events::hangup_request("SoftHangupRequest", &tc, 16));
            self.emit(events::hangup(&tc, cause));
        }
        let Some(oc) = self.channels.remove(&l.one) else { return };
        self.emit(events::hangup_request("HangupRequest", &oc, 16));
        self.emit(events::bridge_channel("BridgeLeave", &l.near_bridge, 1, &oc));
        self.emit(events::hangup(&oc, 16));
        match l.held {
            Some(h) => {
                self.emit_chan(l.near, |c| events::bridge_channel("BridgeLeave", &l.near_bridge, 0, c));
                self.with_chan(l.near, |c| {
                    c.bridge = Some(h.bridge.clone());
                    c.call = h.call;
                });
                if let Some(yc) = snap(self, h.transferee) {
                    self.with_chan(l.near, |c| {
                        c.conn_num = yc.cid_num.clone();
                        c.conn_name = yc.cid_name.clone();
                    });
                }
                self.emit_chan(l.near, |c| events::bridge_channel("BridgeEnter", &h.bridge, 2, c));
                self.emit_chan(l.near, |c| events::channel_event("Unhold", c));
                self.with_chan(h.transferee, |c| c.moh = false);
                if let Some(ext) = self.channels.get(&h.transferee).map(|c| c.ext.clone()) {
                    self.emit_extension_status(&ext);
                    self.emit_device_state(&ext);
                }
                self.emit(events::bridge("BridgeDestroy", &l.near_bridge, 0));
                self.emit_device_state(&l.device);
                self.emit_device_state(&l.device);
            }
            None => {
                let Some(nc) = self.channels.remove(&l.near) else { return };
                self.emit(events::bridge_channel("BridgeLeave", &l.near_bridge, 0, &nc));
                self.emit(events::bridge("BridgeDestroy", &l.near_bridge, 0));
                self.emit_device_state(&l.device);
                self.emit_device_state(&l.device);
                self.emit(events::hangup(&nc, 16));
                self.emit_extension_status(&nc.ext);
                self.emit_device_state(&nc.ext);
            }
        }
    }

    /// After the transfer, the phone bridged with `;1` (or `;1` itself) hangs
    /// up: everything of the call ends, in the order of the capture's end.
    fn near_side_ends(&mut self, call: u64, key: u64, cause: u32, trigger: Trigger) {
        let Some((l, two, target, bridge3, phase)) = self.pair(call) else { return };
        self.calls.remove(&call);
        if let Some(xc) = snap(self, key) {
            self.request_hangup(&xc, cause, trigger);
        }
        let near = self.channels.remove(&l.near);
        let one = self.channels.remove(&l.one);
        let two_c = self.channels.remove(&two);
        let tc = target.and_then(|t| self.channels.remove(&t));
        if let Some(nc) = &near {
            self.emit(events::bridge_channel("BridgeLeave", &l.near_bridge, 1, nc));
        }
        if let Some(oc) = &one {
            self.emit(events::bridge_channel("BridgeLeave", &l.near_bridge, 0, oc));
        }
        let Some(mut two_c) = two_c else { return };
        self.emit(events::hangup_request("HangupRequest", &two_c, 16));
        if let Some(oc) = &one {
            self.emit(events::hangup(oc, if key == l.one { cause } else { 16 }));
        }
        if phase == Phase::Bridged {
            if let Some(nc) = &near {
                two_c.cid_num = nc.cid_num.clone();
                two_c.cid_name = nc.cid_name.clone();
                self.emit(events::new_callerid(&two_c));
            }
            let b3 = bridge3.unwrap_or_default();
            self.emit(events::bridge_channel("BridgeLeave", &b3, 1, &two_c));
            self.emit(events::hangup_request("SoftHangupRequest", &two_c, 16));
            self.emit(events::hangup(&two_c, 16));
            if let Some(tc) = &tc {
                self.emit(events::bridge_channel("BridgeLeave", &b3, 0, tc));
            }
            self.emit(events::bridge("BridgeDestroy", &l.near_bridge, 0));
            self.emit(events::bridge("BridgeDestroy", &b3, 0));
        } else {
            self.emit(events::bridge("BridgeDestroy", &l.near_bridge, 0));
            if let Some(tc) = &tc {
                self.emit(events::dial("DialEnd", Some(&two_c), tc, ("DialStatus", "CANCEL")));
            }
            self.emit(events::hangup(&two_c, 16));
        }
        self.emit_device_state(&l.device);
        self.emit_device_state(&l.device);
        if let Some(nc) = &near {
            self.emit(events::hangup(nc, if key == l.near { cause } else { 16 }));
        }
        if let Some(tc) = &tc {
            self.emit(events::hangup(tc, 16));
        }
        for ch in [&near, &tc].into_iter().flatten() {
            self.emit_extension_status(&ch.ext);
        }
        for ch in [&near, &tc].into_iter().flatten() {
            self.emit_device_state(&ch.ext);
        }
    }
}
