//! Calls that change hands: `BlindTransfer`, `Atxfer` and its completion
//! (attended or blonde), and `PickupChan`. Sequences after
//! `cacofonisk_xfer_blind_*`, `cacofonisk_xfer_attended_*`,
//! `cacofonisk_xfer_blonde_*` and `cacofonisk_xfer_misc_star_pickup`, without
//! the Local channels those dialplans used.

use super::control::Answer;
use super::{bridge_uuid, events, ChanState, Pbx, Phase};
use crate::events::Attended;

impl Pbx {
    /// The two channels of a bridged call: `(key, the other party)`, or why not.
    fn bridged_pair(&self, key: u64) -> Option<(u64, u64, u64, String)> {
        let ch = self.channels.get(&key)?;
        let c = self.calls.get(&ch.call)?;
        if c.phase != Phase::Bridged {
            return None;
        }
        let other = if c.caller == key { c.callee? } else { c.caller };
        let id = ch.bridge.clone()?;
        self.channels.contains_key(&other).then_some((ch.call, key, other, id))
    }

    /// `BlindTransfer`: the party bridged with `name` goes to `exten`; `name` is
    /// hung up.
    pub(crate) fn blind_transfer(&mut self, name: &str, context: &str, exten: &str) -> Answer {
        let Some(key) = self.key_of(name) else { return Err("Channel specified does not exist".into()) };
        let Some((call, x, y, id)) = self.bridged_pair(key) else { return Err("Transfer invalid".into()) };
        let (Some(xc), Some(yc)) = (self.channels.get(&x).cloned(), self.channels.get(&y).cloned()) else {
            return Err("Transfer invalid".into());
        };
        self.emit(events::blind_transfer(&xc, &yc, &id, context, exten));
        if xc.held {
            self.emit(events::music_on_hold(false, &yc));
        }
        self.emit(events::bridge_channel("BridgeLeave", &id, 1, &xc));
        self.emit(events::bridge_channel("BridgeLeave", &id, 0, &yc));
        if let Some(x) = self.channels.remove(&x) {
            self.emit(events::hangup(&x, 16));
            self.emit_device_state(&x.ext);
            self.emit_extension_status(&x.ext);
        }
        self.emit(events::bridge("BridgeDestroy", &id, 0));
        self.with_chan(y, |c| {
            c.bridge = None;
            c.held = false;
        });
        if let Some(c) = self.calls.get_mut(&call) {
            c.caller = y;
            c.consult_of = None;
        }
        self.goto_exten(y, call, context, exten);
        Ok("Transfer succeeded")
    }

    /// `Atxfer`: `name`'s phone holds the call and calls `exten` on a second
    /// channel, in a new call. Hanging that channel up (AMI `Hangup`) completes
    /// the transfer.
    pub(crate) fn atxfer(&mut self, name: &str, context: &str, exten: &str) -> Answer {
        let Some(key) = self.key_of(name) else { return Err("Channel specified does not exist".into()) };
        let Some((call, x, _, _)) = self.bridged_pair(key) else { return Err("Transfer invalid".into()) };
        let Some(ext) = self.channels.get(&x).map(|c| c.ext.clone()) else {
            return Err("Transfer invalid".into());
        };
        if !self.channels.get(&x).is_some_and(|c| c.held) {
            self.hold_key(x);
        }
        let consult = self.start_call(&ext, context, exten, false);
        if let Some(c) = self.calls.get_mut(&consult) {
            c.consult_of = Some(call);
        }
        Ok("Atxfer successfully queued")
    }

    /// The held call of a consultation and its channels: `(call, transferer's
    /// channel in it, transferee, bridge)`.
    fn consulted(&self, consult: u64) -> Option<(u64, u64, u64, String)> {
        let c2 = self.calls.get(&consult)?;
        let ext = &self.channels.get(&c2.caller)?.ext;
        let call1 = c2.consult_of?;
        let c1 = self.calls.get(&call1)?;
        if c1.phase != Phase::Bridged {
            return None;
        }
        let callee = c1.callee?;
        let (a1, y) = if self.channels.get(&c1.caller)?.ext == *ext {
            (c1.caller, callee)
        } else {
            (callee, c1.caller)
        };
        if self.channels.get(&a1)?.ext != *ext || !self.channels.contains_key(&y) {
            return None;
        }
        Some((call1, a1, y, c1.bridge.clone()?))
    }

    /// The transferer's consultation channel is hung up by an action while the
    /// target talks to it: the transferee joins the target (`AttendedTransfer`,
    /// `DestType: Bridge`). `false` if this is no consultation that can complete.
    pub(super) fn complete_attended(&mut self, consult: u64, cause: u32) -> bool {
        let Some((call1, a1, y, bridge1)) = self.consulted(consult) else { return false };
        let Some(c2) = self.calls.get(&consult) else { return false };
        let (a2, Some(c), Some(bridge2)) = (c2.caller, c2.callee, c2.bridge.clone()) else { return false };
        let snap = |p: &Self, k: u64| p.channels.get(&k).cloned();
        let (Some(a1c), Some(a2c), Some(cc)) = (snap(self, a1), snap(self, a2), snap(self, c)) else {
            return false;
        };
        self.emit(events::hangup_request("SoftHangupRequest", &a2c, cause));
        if a1c.held {
            self.emit_chan(y, |ch| events::music_on_hold(false, ch));
        }
        self.emit_chan(y, |ch| events::bridge_channel("BridgeLeave", &bridge1, 1, ch));
        self.emit(events::bridge_channel("BridgeLeave", &bridge2, 1, &a2c));
        self.with_chan(y, |ch| ch.bridge = Some(bridge2.clone()));
        self.emit_chan(y, |ch| events::bridge_enter_swap(&bridge2, 2, ch, &a2c.uniqueid));
        if let Some(yc) = self.channels.get(&y).cloned() {
            self.emit(events::attended_transfer(&Attended {
                orig: &a1c,
                orig_bridge: &bridge1,
                second: &a2c,
                second_bridge: &bridge2,
                transferee: &yc,
                target: Some(&cc),
            }));
        }
        self.emit(events::bridge_channel("BridgeLeave", &bridge1, 0, &a1c));
        self.emit(events::bridge("BridgeDestroy", &bridge1, 0));
        self.calls.remove(&call1);
        if let Some(c2) = self.calls.get_mut(&consult) {
            c2.caller = y;
            c2.consult_of = None;
        }
        self.with_chan(y, |ch| ch.call = consult);
        for (k, cause) in [(a2, cause), (a1, 16)] {
            if let Some(ch) = self.channels.remove(&k) {
                self.emit(events::hangup(&ch, cause));
            }
        }
        self.emit_device_state(&a1c.ext);
        self.emit_extension_status(&a1c.ext);
        true
    }

    /// The consultation channel is hung up by an action while the target still
    /// rings: the transferee takes over the dial (`AttendedTransfer`,
    /// `DestType: App`, a blonde transfer).
    pub(super) fn complete_blonde(&mut self, consult: u64, cause: u32) -> bool {
        let Some((call1, a1, y, bridge1)) = self.consulted(consult) else { return false };
        let Some(c2) = self.calls.get(&consult) else { return false };
        let (a2, Some(c)) = (c2.caller, c2.callee) else { return false };
        let snap = |p: &Self, k: u64| p.channels.get(&k).cloned();
        let (Some(a1c), Some(a2c), Some(cc), Some(yc)) =
            (snap(self, a1), snap(self, a2), snap(self, c), snap(self, y))
        else {
            return false;
        };
        let bridge2 = a2c.bridge.clone().unwrap_or_default();
        self.emit(events::hangup_request("SoftHangupRequest", &a2c, cause));
        self.emit(events::attended_transfer(&Attended {
            orig: &a1c,
            orig_bridge: &bridge1,
            second: &a2c,
            second_bridge: &bridge2,
            transferee: &yc,
            target: None,
        }));
        if a1c.held {
            self.emit(events::music_on_hold(false, &yc));
        }
        self.emit(events::bridge_channel("BridgeLeave", &bridge1, 1, &a1c));
        self.emit(events::bridge_channel("BridgeLeave", &bridge1, 0, &yc));
        if let Some(ch) = self.channels.remove(&a1) {
            self.emit(events::hangup(&ch, 16));
        }
        self.emit(events::bridge("BridgeDestroy", &bridge1, 0));
        self.calls.remove(&call1);
        self.emit(events::dial("DialEnd", Some(&a2c), &cc, ("DialStatus", "CANCEL")));
        self.with_chan(y, |ch| {
            ch.bridge = None;
            ch.call = consult;
        });
        self.with_chan(c, |ch| {
            ch.conn_num = yc.cid_num.clone();
            ch.conn_name = yc.cid_name.clone();
        });
        self.emit_dial("DialBegin", y, c, ("DialString", &cc.ext));
        self.emit_chan(c, |ch| events::channel_event("NewConnectedLine", ch));
        if let Some(c2) = self.calls.get_mut(&consult) {
            c2.caller = y;
            c2.consult_of = None;
        }
        if let Some(ch) = self.channels.remove(&a2) {
            self.emit(events::hangup(&ch, cause));
        }
        self.emit_device_state(&a1c.ext);
        self.emit_extension_status(&a1c.ext);
        true
    }

    /// `PickupChan(target)` on the answered first leg of `call`: the phone takes
    /// the call ringing at `target` (`Pickup`), which stops ringing (cause 26,
    /// answered elsewhere). If `target` no longer rings, the picking phone is
    /// hung up.
    pub(super) fn pickup_chan(&mut self, call: u64, target: &str) {
        let Some(p) = self.calls.get(&call).map(|c| c.caller) else { return };
        let ringing = self.key_of(target).and_then(|t| {
            let tc = self.channels.get(&t)?.call;
            let c = self.calls.get(&tc)?;
            (c.phase == Phase::Dialing && c.callee == Some(t)).then_some((t, tc, c.caller))
        });
        let Some((t, tcall, a)) = ringing else {
            self.calls.remove(&call);
            if let Some(ch) = self.channels.remove(&p) {
                self.emit(events::hangup_request("SoftHangupRequest", &ch, 16));
                self.emit(events::hangup(&ch, 16));
                self.emit_device_state(&ch.ext);
                self.emit_extension_status(&ch.ext);
            }
            return;
        };
        let (Some(pc), Some(tc), Some(ac)) =
            (self.channels.get(&p).cloned(), self.channels.get(&t).cloned(), self.channels.get(&a).cloned())
        else {
            return;
        };
        self.emit(events::pickup(&pc, &tc));
        self.emit(events::dial("DialEnd", Some(&ac), &tc, ("DialStatus", "CANCEL")));
        self.calls.remove(&call);
        self.with_chan(p, |c| {
            c.call = tcall;
            c.conn_num = ac.cid_num.clone();
            c.conn_name = ac.cid_name.clone();
            c.app = "PickupChan".into();
            c.app_data = target.to_owned();
        });
        self.emit_dial("DialBegin", a, p, ("DialString", &tc.ext));
        self.with_chan(a, |c| {
            c.conn_num = pc.cid_num.clone();
            c.conn_name = pc.cid_name.clone();
        });
        self.emit_chan(a, |c| events::channel_event("NewConnectedLine", c));
        if let Some(t) = self.channels.remove(&t) {
            self.emit(events::hangup(&t, 26));
            self.emit_extension_status(&t.ext);
            self.emit_device_state(&t.ext);
        }
        self.emit_dial("DialEnd", a, p, ("DialStatus", "ANSWER"));
        if self.channels.get(&a).is_some_and(|c| c.state != ChanState::Up) {
            self.with_chan(a, |c| c.state = ChanState::Up);
            self.emit_chan(a, |c| events::channel_event("Newstate", c));
        }
        let id = bridge_uuid();
        self.emit(events::bridge("BridgeCreate", &id, 0));
        for (key, n) in [(p, 1), (a, 2)] {
            self.with_chan(key, |c| c.bridge = Some(id.clone()));
            self.emit_chan(key, |c| events::bridge_channel("BridgeEnter", &id, n, c));
        }
        if let Some(c) = self.calls.get_mut(&tcall) {
            c.callee = Some(p);
            c.phase = Phase::Bridged;
            c.bridge = Some(id);
        }
    }
}
