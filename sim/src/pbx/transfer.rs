//! Calls that change hands: `BlindTransfer` and `PickupChan`. Sequences after
//! `cacofonisk_xfer_blind_*` and `cacofonisk_xfer_misc_star_pickup`. `Atxfer`,
//! which goes through a Local channel pair, is in `local.rs`.

use super::control::Answer;
use super::{bridge_uuid, events, ChanState, Pbx, Phase};
use crate::channel::Channel;

impl Pbx {
    /// The two channels of a bridged call: `(key, the other party)`, or why not.
    /// A channel in an attended transfer (or in the call it left behind) is not one.
    pub(super) fn bridged_pair(&self, key: u64) -> Option<(u64, u64, u64, String)> {
        if self.local_role(key).is_some() {
            return None;
        }
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
        let known = context.eq_ignore_ascii_case(&self.context) && self.is_extension(exten);
        if self.version.blind_transfer_goto() && known {
            self.blind_transfer_22(call, (x, xc), y, &id, exten);
            return Ok("Transfer succeeded");
        }
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
        }
        self.goto_exten(y, call, context, exten);
        Ok("Transfer succeeded")
    }

    /// The rest of a blind transfer as blind_transfer.ami (Asterisk 22) shows it:
    /// the transferee's async goto appears as a `Newexten` of its current
    /// application at priority 1, the transferer is hung up, then the
    /// transferee runs `Dial` (no `NoOp` is reported).
    fn blind_transfer_22(&mut self, call: u64, (x, xc): (u64, Channel), y: u64, id: &str, exten: &str) {
        let ctx = self.context.clone();
        self.with_chan(y, |c| {
            c.context = ctx;
            c.exten = exten.to_owned();
            c.priority = 1;
        });
        self.emit_chan(y, events::newexten);
        self.emit(events::bridge_channel("BridgeLeave", id, 1, &xc));
        self.emit(events::hangup_request("SoftHangupRequest", &xc, 16));
        if let Some(x) = self.channels.remove(&x) {
            self.emit(events::hangup(&x, 16));
            self.emit_extension_status(&x.ext);
            self.emit_device_state(&x.ext);
        }
        self.emit_chan(y, |c| events::bridge_channel("BridgeLeave", id, 0, c));
        let tech = self.technology.clone();
        self.with_chan(y, |c| {
            c.bridge = None;
            c.held = false;
            c.priority = 2;
            c.app = "Dial".into();
            c.app_data = format!("{tech}/{exten},30,tTkK");
        });
        self.emit_chan(y, events::newexten);
        self.emit(events::bridge("BridgeDestroy", id, 0));
        if let Some(c) = self.calls.get_mut(&call) {
            c.caller = y;
            c.dest = exten.to_owned();
            c.callee = None;
            c.phase = Phase::Dialing;
            c.bridge = None;
        }
        self.dial_dest(call);
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
