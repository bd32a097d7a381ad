//! Transfers, pickups and queues: the events that move a party from one call to another
//! or make a call wait. The call keeps the id of the transferee's call, so an application
//! that showed "call 42" keeps showing it through any number of transfers.

use crate::ami::Message;
use crate::model::call::Diversion;
use crate::model::event::{Cause, DivertReason, Endpoint, Event, TransferKind};
use crate::model::ids::DeviceId;
use crate::model::state::ConnectionState;

use super::chan::{CallKey, Role, Text, Uid};
use super::Tracker;

impl Tracker {
    /// `BlindTransfer`: the transferee goes to an extension. Reported at once, as CSTA
    /// does for a single-step transfer: the target is the extension dialed (no channel
    /// yet); its `Delivered` follows when it rings.
    pub(super) fn on_blind_transfer(&mut self, msg: &Message, out: &mut Vec<Event>) {
        if !msg.get("Result").map(str::trim).unwrap_or("Success").eq_ignore_ascii_case("Success") {
            return;
        }
        let (Some(transferee), Some(transferer)) =
            (self.uid_of(msg, "Transferee"), self.uid_of(msg, "Transferer"))
        else {
            return;
        };
        let Some(key) = self.party_call(&transferee) else { return };
        let (Some(transferred), Some(transferring)) =
            (self.endpoint_of(&transferee), self.endpoint_of(&transferer))
        else {
            return;
        };
        let exten = msg.get("Extension").map(str::trim).unwrap_or("").to_owned();
        if let Some(ch) = self.chans.get_mut(&transferee) {
            ch.role = Role::Calling;
            if !exten.is_empty() {
                ch.texts.set(Text::Exten, &exten);
            }
        }
        let Some(c) = self.calls.get_mut(&key) else { return };
        c.calling = Some(transferee.clone());
        let call = c.id.clone();
        let announced = c.announced;
        let caller = self.chans.get(&transferee).map(|c| c.caller()).unwrap_or_default();
        let targets = if exten.is_empty() {
            Vec::new()
        } else {
            vec![Endpoint { device: DeviceId::new(&exten), channel: String::new() }]
        };
        if announced {
            out.push(Event::Transferred {
                call,
                kind: TransferKind::Blind,
                transferring,
                transferred,
                targets,
                secondary_call: None,
                caller,
            });
        }
        self.detach(&transferer, out);
    }

    /// Asterisk's own attended transfer (the `Atxfer` action, the `*2` feature) holds the
    /// call and dials the target through a Local pair whose `;1` half nobody dialed; the
    /// transferer's channel leaves its call's bridge for one with that half. The half then
    /// stands for the transferer's phone: the consultation is a call of its own, placed by
    /// the transferring device, as CSTA and TAPI expect (one PBX channel, two connections).
    ///
    /// Called when a channel entered `bridge`: the half (imparted into the consultation
    /// bridge) or the transferer (moving there). Asterisk calls the Local channel before it
    /// imparts it, so the target's dial can come first: [`consultation_transferer`] is
    /// also asked when a dial is traced up to such a half (see `ensure_call`).
    ///
    /// [`consultation_transferer`]: Self::consultation_transferer
    pub(super) fn adopt_consultation(&mut self, entered: &str, bridge: &str, out: &mut Vec<Event>) {
        let Some(members) = self.bridges.get(bridge) else { return };
        let pair = |t: &Self, half: &Uid, phone: &Uid| {
            t.undialed_half(half) && t.chans.get(&**phone).is_some_and(|c| t.can_consult(c))
        };
        let found = match members.as_slice() {
            [a, b] if pair(self, a, b) => Some((a.clone(), b.clone())),
            [a, b] if pair(self, b, a) => Some((b.clone(), a.clone())),
            _ => self.chans.get_key_value(entered).and_then(|(half, _)| {
                let half = half.clone();
                self.consultation_transferer(&half).map(|phone| (half, phone))
            }),
        };
        if let Some((half, phone)) = found {
            self.make_proxy(&half, &phone);
            self.originate(&half, out);
        }
    }

    /// A `;1` Local half that nothing dialed and that is in no call yet.
    fn undialed_half(&self, uid: &str) -> bool {
        self.chans.get(uid).is_some_and(|c| {
            c.local_one == Some(true)
                && c.proxy_for().is_none()
                && c.parent.is_none()
                && c.call.is_none()
                && !c.detached
        })
    }

    /// A phone that holds its call and is not consulting already.
    fn can_consult(&self, c: &super::chan::Chan) -> bool {
        !c.is_local() && c.conn == ConnectionState::Held && c.consult().is_none() && c.device.is_some()
    }

    /// The transferer an undialed `;1` half was created for: Asterisk gives the half the
    /// Linkedid of the transferer's call, in which the transferer alone holds (its `Hold`
    /// comes before the Local pair is made). An Originate's Local half starts a Linkedid of
    /// its own, so it is never taken for one.
    pub(super) fn consultation_transferer(&self, half: &str) -> Option<Uid> {
        if !self.undialed_half(half) {
            return None;
        }
        let ch = self.chans.get(half)?;
        if ch.is_root() || !ch.has_linkedid {
            return None;
        }
        let key =
            self.chans.get(&*ch.linkedid).and_then(|c| c.call).or_else(|| self.call_by_id(&ch.linkedid))?;
        let mut holding = self
            .calls
            .get(&key)?
            .members
            .iter()
            .filter(|m| self.chans.get(&***m).is_some_and(|c| self.can_consult(c)));
        match (holding.next(), holding.next()) {
            (Some(one), None) => Some(one.clone()),
            _ => None,
        }
    }

    /// Makes `half` stand for `phone` in a new (consultation) call; no event yet (the call
    /// is reported when its first event is).
    pub(super) fn make_proxy(&mut self, half: &Uid, phone: &Uid) -> Option<CallKey> {
        let p = self.chans.get(&**phone)?;
        let (device, shown, caller) = (p.device.clone(), p.shown(), p.caller());
        if let Some(h) = self.chans.get_mut(&**half) {
            h.more_mut().proxy_for = Some(phone.clone());
            h.device = device;
            h.set_label(Some(shown.into()));
            h.texts.set(Text::CallerNumber, &caller.number);
            h.texts.set(Text::CallerName, &caller.name);
            h.caller_pres = caller.presentation;
            h.role = Role::Calling;
        }
        if let Some(p) = self.chans.get_mut(&**phone) {
            p.more_mut().consult = Some(half.clone());
        }
        let key = self.new_call(half);
        self.join(half, key);
        Some(key)
    }

    /// Ends the consultation a channel takes part in, when it goes away without an
    /// `AttendedTransfer` (the transferer hung up, or the Local half did): the
    /// transferer's connection in the consultation call is cleared, and the half is
    /// plumbing again.
    pub(super) fn end_consultation_of(&mut self, uid: &str, out: &mut Vec<Event>) {
        let Some(ch) = self.chans.get(uid) else { return };
        let half = match (ch.proxy_for(), ch.consult()) {
            (Some(_), _) => Some(Uid::from(uid)),
            (None, Some(h)) => Some(h.clone()),
            (None, None) => None,
        };
        if let Some(half) = half {
            self.release_proxy(&half);
            self.retire_half(&half, out);
        }
    }

    /// The transferer's connection in its consultation call ends; the half it was is
    /// plumbing from now on and names no phone.
    fn retire_half(&mut self, half: &str, out: &mut Vec<Event>) {
        self.detach(half, out);
        if let Some(h) = self.chans.get_mut(half) {
            h.device = None;
        }
    }

    /// Makes a half that stood for a transferer plumbing again (it keeps its connection
    /// until it is detached) and returns its consultation call.
    fn release_proxy(&mut self, half: &str) -> Option<CallKey> {
        let h = self.chans.get_mut(half)?;
        let phone = h.more_if_any()?.proxy_for.take()?;
        let key = h.call;
        if let Some(m) = self.chans.get_mut(&phone).and_then(|p| p.more_if_any()) {
            m.consult = None;
        }
        key
    }

    /// `AttendedTransfer`: the transferee's call absorbs the consultation call.
    pub(super) fn on_attended_transfer(&mut self, msg: &Message, out: &mut Vec<Event>) {
        if !msg.get("Result").map(str::trim).unwrap_or("Success").eq_ignore_ascii_case("Success") {
            return;
        }
        let dest_type = msg.get("DestType").map(str::trim).unwrap_or("Bridge");
        let orig = self.uid_of(msg, "OrigTransferer");
        let second = self.uid_of(msg, "SecondTransferer");
        // The Local half that stood for the transferer in its consultation is plumbing
        // from here on: the target is the phone behind it.
        let half = second.as_deref().and_then(|s| self.chans.get(s)).and_then(|c| c.consult().cloned());
        let consultation = half.as_deref().and_then(|h| self.release_proxy(h));
        // Asterisk omits the transferee and target in some versions; they are then the
        // other parties of the transferers' two bridges.
        let (found_transferee, found_target) = self.transfer_parties(msg, &orig, &second);
        let named_transferee = self.uid_of(msg, "Transferee");
        let phone_transferee =
            named_transferee.clone().filter(|u| self.chans.get(&**u).is_some_and(|c| !c.is_local()));
        let target = self
            .uid_of(msg, "TransferTarget")
            .map(|u| self.party_behind(&u, &[&orig, &second, &phone_transferee]))
            .or(found_target);
        let transferee =
            named_transferee.map(|u| self.party_behind(&u, &[&orig, &second, &target])).or(found_transferee);
        let (Some(transferee), Some(second)) = (transferee, second) else { return };
        let Some(primary) = self.party_call(&transferee) else { return };
        let secondary = match consultation {
            Some(k) => Some(k),
            None => target.as_deref().and_then(|t| self.party_call(t)).or_else(|| self.party_call(&second)),
        };
        let is_party = |u: &Uid| Some(u) == orig.as_ref() || *u == second || *u == transferee;
        let target = target.filter(|t| !is_party(t));
        let (kind, targets): (TransferKind, Vec<Uid>) = if let Some(k) = consultation {
            // A consultation through a Local pair: the targets are the other parties of the
            // consultation call, talking (attended) or still ringing (blonde). Asterisk
            // says `DestType: Bridge` for both.
            let others: Vec<Uid> = self
                .calls
                .get(&k)
                .map(|c| {
                    c.members.iter().filter(|m| !is_party(m) && Some(*m) != half.as_ref()).cloned().collect()
                })
                .unwrap_or_default();
            let talking = others
                .iter()
                .any(|m| self.chans.get(&**m).is_some_and(|c| c.conn == ConnectionState::Connected));
            (if talking || others.is_empty() { TransferKind::Attended } else { TransferKind::Blonde }, others)
        } else if dest_type.eq_ignore_ascii_case("App") {
            // Blonde: the transferer hung up while the target was still being dialed.
            let ringing = secondary
                .and_then(|k| self.calls.get(&k))
                .map(|c| {
                    c.members
                        .iter()
                        .filter(|m| !is_party(m))
                        .filter(|m| self.chans.get(&***m).is_some_and(|ch| ch.role == Role::Called))
                        .filter(|m| {
                            self.chans.get(&***m).is_some_and(|ch| {
                                matches!(ch.conn, ConnectionState::Null | ConnectionState::Alerting)
                            })
                        })
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            (TransferKind::Blonde, ringing)
        } else {
            (TransferKind::Attended, target.into_iter().collect())
        };
        let (Some(transferring), Some(transferred)) =
            (self.endpoint_of(&second), self.endpoint_of(&transferee))
        else {
            return;
        };
        let secondary = secondary.filter(|k| *k != primary);
        let primary_id = self.calls[&primary].id.clone();
        let secondary_id = secondary.and_then(|k| self.calls.get(&k)).map(|c| c.id.clone());
        // The transferee is now the calling party of the merged call.
        if let Some(ch) = self.chans.get_mut(&transferee) {
            ch.role = Role::Calling;
        }
        if let Some(c) = self.calls.get_mut(&primary) {
            c.calling = Some(transferee.clone());
            c.announced = true;
        }
        let caller = self.chans.get(&transferee).map(|c| c.caller()).unwrap_or_default();
        let target_endpoints = targets.iter().filter_map(|t| self.endpoint_of(t)).collect();
        out.push(Event::Transferred {
            call: primary_id.clone(),
            kind,
            transferring,
            transferred,
            targets: target_endpoints,
            secondary_call: secondary_id,
            caller,
        });
        if let Some(o) = orig {
            self.detach(&o, out);
        }
        self.detach(&second, out);
        if let Some(h) = &half {
            self.retire_half(h, out);
        }
        for t in &targets {
            self.move_party(t, primary);
        }
        if let Some(k) = secondary {
            if let Some(c) = self.calls.get_mut(&k) {
                c.more_mut().merged_into = Some(primary_id);
            }
            if self.calls.get(&k).is_some_and(|c| c.members.is_empty()) {
                self.drop_call(k, None, out);
            }
        }
    }

    /// A Local channel stands for the phone it connects (a click-to-dial's transferee is
    /// the Originate's Local channel): the first party that hears it, not a transferer.
    fn party_behind(&self, uid: &Uid, except: &[&Option<Uid>]) -> Uid {
        if self.chans.get(&**uid).is_none_or(|c| !c.is_local()) {
            return uid.clone();
        }
        self.component(uid)
            .into_iter()
            .find(|u| except.iter().all(|e| e.as_ref() != Some(u)))
            .unwrap_or_else(|| uid.clone())
    }

    /// Finds the transferee and the target from the bridges when the event does not name
    /// them. Asterisk may report the transfer before or after it moved the transferee
    /// into the target's bridge, so both layouts are recognised.
    fn transfer_parties(
        &self,
        msg: &Message,
        orig: &Option<Uid>,
        second: &Option<Uid>,
    ) -> (Option<Uid>, Option<Uid>) {
        let orig_bridge = msg.get("OrigBridgeUniqueid").map(str::trim).unwrap_or("");
        let second_bridge = msg.get("SecondBridgeUniqueid").map(str::trim).unwrap_or("");
        let dest_bridge = msg.get("DestBridgeUniqueid").map(str::trim).unwrap_or(second_bridge);
        let not_transferer = |u: &Uid| Some(u) != orig.as_ref() && Some(u) != second.as_ref();
        let parties_of = |bridge: &str| -> Vec<Uid> {
            let Some(first) = self.bridges.get(bridge).and_then(|m| m.first()) else { return Vec::new() };
            self.component(first).into_iter().filter(|u| not_transferer(u)).collect()
        };
        let in_orig = parties_of(orig_bridge);
        let in_dest = parties_of(dest_bridge);
        // Before the swap: the transferee still hears the original transferer.
        if let Some(t) = in_orig.first() {
            let target = in_dest.iter().find(|u| *u != t).cloned();
            return (Some(t.clone()), target);
        }
        // After the swap: the transferee came from the original bridge.
        let came_from_orig = |u: &Uid| {
            self.chans.get(&**u).is_some_and(|c| c.prev_bridge().map(|b| &**b) == Some(orig_bridge))
        };
        let transferee = in_dest.iter().find(|u| came_from_orig(u)).cloned();
        let target = in_dest.iter().find(|u| Some(*u) != transferee.as_ref()).cloned();
        (transferee, target)
    }

    /// The call of a channel, following a Local half to the phone behind it.
    fn party_call(&mut self, uid: &str) -> Option<CallKey> {
        let ch = self.chans.get(uid)?;
        if ch.is_local() {
            return ch.call.filter(|k| self.calls.contains_key(k));
        }
        self.ensure_call(uid)
    }

    /// Moves a connection into another call, keeping its state (no event: the caller
    /// reports the move as `Transferred`).
    fn move_party(&mut self, uid: &str, to: CallKey) {
        let Some(from) = self.chans.get(uid).and_then(|c| c.call) else { return };
        if from == to {
            return;
        }
        if let Some(c) = self.calls.get_mut(&from) {
            c.members.retain(|m| &**m != uid);
        }
        if let Some(ch) = self.chans.get_mut(uid) {
            ch.call = None;
        }
        self.join(uid, to);
        if let Some(ch) = self.chans.get_mut(uid) {
            ch.role = Role::Called;
        }
        if self.chans.get(uid).is_some_and(|c| c.conn == ConnectionState::Connected) {
            if let Some(c) = self.calls.get_mut(&to) {
                c.answered = true;
            }
        }
    }

    /// Takes a channel out of its call for good (a transferer, a picked-up phone): its
    /// connection is cleared now, and its later events change nothing.
    pub(super) fn detach(&mut self, uid: &str, out: &mut Vec<Event>) {
        if self.chans.get(uid).is_none_or(|c| c.call.is_none()) {
            return;
        }
        self.leave(uid, None, out);
        if let Some(ch) = self.chans.get_mut(uid) {
            ch.role = Role::Called;
            ch.detached = true;
        }
    }

    /// A channel that had placed its own call (the picker dialed `*8`, or a directed
    /// pickup) takes over a ringing call. `target` is the ringing channel when the PBX
    /// names it (`Pickup` event); else the ringing party of the call that dials the picker.
    pub(super) fn pickup(&mut self, picker: &str, target: Option<Uid>, out: &mut Vec<Event>) {
        let key = match &target {
            Some(t) => self.chans.get(&**t).and_then(|c| c.call),
            None => {
                let (root, top) = self.chain_root(picker);
                let anchor = root.or(top);
                anchor.and_then(|a| {
                    let ch = self.chans.get(&*a)?;
                    if ch.is_local() {
                        ch.call
                    } else {
                        self.ensure_call(&a)
                    }
                })
            }
        };
        let Some(key) = key.filter(|k| self.calls.contains_key(k)) else { return };
        if self.chans.get(picker).and_then(|c| c.call) == Some(key) {
            return;
        }
        // The ringing connection that is being picked up.
        let from =
            target.filter(|t| self.chans.get(&**t).is_some_and(|c| c.call == Some(key))).or_else(|| {
                let c = self.calls.get(&key)?;
                let ringing =
                    |m: &&Uid| self.chans.get(&***m).is_some_and(|ch| ch.conn == ConnectionState::Alerting);
                let cancelled = c.members.iter().filter(ringing).find(|m| {
                    self.chans
                        .get(&***m)
                        .is_some_and(|ch| ch.dial_end == Some(super::chan::DialOutcome::Cancel))
                });
                cancelled.or_else(|| c.members.iter().find(ringing)).cloned()
            });
        self.open_call(key, out);
        let announced = self.is_announced(key);
        let call_id = self.calls[&key].id.clone();
        // The picker's own call (to the pickup code) merges into the picked-up call.
        if let Some(own) = self.chans.get(picker).and_then(|c| c.call) {
            if let Some(c) = self.calls.get_mut(&own) {
                c.more_mut().merged_into = Some(call_id.clone());
            }
            self.leave(picker, None, out);
        }
        if let Some(ch) = self.chans.get_mut(picker) {
            ch.role = Role::Called;
            ch.delivered = true;
            ch.conn = ConnectionState::Null;
            ch.set_label(None);
        }
        self.join(picker, key);
        if let (Some(from_uid), Some(to), true) = (from, self.endpoint_of(picker), announced) {
            if let Some(from) = self.endpoint_of(&from_uid) {
                let caller = self.caller_of(key, &from_uid);
                let called = self.called_of(key, &from_uid);
                if let Some(c) = self.calls.get_mut(&key) {
                    c.more_mut().diverted =
                        Some(Diversion { from: from.clone(), reason: DivertReason::Pickup });
                }
                out.push(Event::Diverted {
                    call: call_id,
                    device: to.device,
                    channel: to.channel,
                    from,
                    reason: DivertReason::Pickup,
                    caller,
                    called,
                });
                self.leave(&from_uid, Some(Cause::ANSWERED_ELSEWHERE), out);
                if let Some(ch) = self.chans.get_mut(&from_uid) {
                    ch.detached = true;
                }
            }
        }
        let bridged =
            self.chans.get(picker).is_some_and(|c| c.bridge.is_some() && c.state == super::chan::UP);
        if bridged {
            self.establish(picker, out);
        }
    }

    /// Asterisk 13+ `Pickup`: `Channel` picked up `TargetChannel`.
    pub(super) fn on_pickup_event(&mut self, msg: &Message, out: &mut Vec<Event>) {
        let (Some(picker), Some(target)) = (self.uid_of(msg, ""), self.uid_of(msg, "Target")) else { return };
        if self.chans.get(&picker).is_none_or(|c| c.is_local()) {
            return;
        }
        self.pickup(&picker, Some(target), out);
    }

    /// `QueueCallerJoin`: the call waits in a queue (reported as the queue's connection).
    pub(super) fn on_queue_join(&mut self, msg: &Message, out: &mut Vec<Event>) {
        let Some(uid) = self.uid_of(msg, "") else { return };
        let Some(queue) = msg.get("Queue").map(str::trim).filter(|q| !q.is_empty()) else { return };
        let Some(key) = self.ensure_call(&uid) else { return };
        if self.chans.get(&uid).is_some_and(|c| c.role == Role::Undecided) {
            // A caller entering a queue is the calling party even if we missed its dial.
            if let Some(ch) = self.chans.get_mut(&uid) {
                ch.role = Role::Calling;
            }
            self.originate(&uid, out);
        }
        let Some(c) = self.calls.get_mut(&key) else { return };
        if c.more().queue.is_some() {
            return;
        }
        let device = DeviceId::new(queue);
        c.more_mut().queue = Some((device.clone(), ConnectionState::Queued));
        c.announced = true;
        let call = c.id.clone();
        let caller = self.chans.get(&uid).map(|c| c.caller()).unwrap_or_default();
        let position = msg.get("Position").and_then(|p| p.trim().parse().ok());
        out.push(Event::Queued {
            call,
            device,
            queue: queue.to_owned(),
            state: ConnectionState::Queued,
            caller,
            position,
        });
    }

    /// `QueueCallerLeave` (an agent took it) or `QueueCallerAbandon` (the caller gave up).
    /// A leave without a join we saw (events lost, or a capture filtered) still reports
    /// the queue, so the consumer sees a matching pair.
    pub(super) fn on_queue_leave(&mut self, msg: &Message, out: &mut Vec<Event>) {
        let Some(uid) = self.uid_of(msg, "") else { return };
        let Some(key) = self.chans.get(&uid).and_then(|c| c.call) else { return };
        if self.calls.get(&key).is_some_and(|c| c.more().queue.is_none() && c.announced) {
            self.on_queue_join(msg, out);
        }
        let Some(c) = self.calls.get_mut(&key) else { return };
        let Some((device, previous)) = c.more_if_any().and_then(|m| m.queue.take()) else { return };
        out.push(Event::ConnectionCleared {
            call: c.id.clone(),
            device,
            channel: String::new(),
            state: ConnectionState::Null,
            previous,
            cause: None,
            released_by: None,
        });
    }
}
