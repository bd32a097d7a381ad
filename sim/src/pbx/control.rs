//! What a phone or an AMI client does to a call in progress, besides hanging up
//! and transferring: SIP NOTIFY `talk`/`hold` (answer, hold, retrieve), the
//! phone's own answer and hang-up keys, `Redirect`, `PlayDTMF`, and the actions
//! that only touch what the dialplan reads (AstDB, custom device states,
//! `UserEvent`).

use super::{events, ChanState, DeviceState, Pbx, Phase, Trigger, MAX_DTMF_CHANNELS, MAX_DTMF_DIGITS};
use crate::astdb::device_state_value;
use crate::channel::EventClass;
use crate::events::OutEvent;
use ctilink::ami::MessageBuilder;

/// What a phone is told by a SIP NOTIFY (`Event: talk` or `Event: hold`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Notify {
    /// Answer a ringing call, or take a held call off hold.
    Talk,
    /// Put the connected call on hold.
    Hold,
}

impl Notify {
    /// From the `Variable: Event=talk` header's value (`talk`, `hold`).
    pub(crate) fn parse(v: &str) -> Option<Self> {
        let v = v.trim();
        if v.eq_ignore_ascii_case("talk") {
            Some(Self::Talk)
        } else if v.eq_ignore_ascii_case("hold") {
            Some(Self::Hold)
        } else {
            None
        }
    }
}

/// The answer to an action: `Ok(message)` for `Response: Success`, `Err(message)`
/// for `Response: Error`.
pub(crate) type Answer = Result<&'static str, String>;

/// The digits `PlayDTMF` plays.
pub(crate) fn is_dtmf_digit(c: char) -> bool {
    c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D' | 'a'..='d')
}

impl Pbx {
    /// A channel by name, without regard to case (as Asterisk looks channels up).
    pub(crate) fn key_of(&self, name: &str) -> Option<u64> {
        let name = name.trim();
        self.channels.iter().find(|(_, c)| c.name.eq_ignore_ascii_case(name)).map(|(k, _)| *k)
    }

    /// The phone of the channel named `name` (full name, any case), if it exists.
    pub(crate) fn channel_ext(&self, name: &str) -> Option<String> {
        self.key_of(name).and_then(|k| self.channels.get(&k)).map(|c| c.ext.clone())
    }

    /// The other channels in the bridge of channel `key`.
    pub(super) fn bridge_peers(&self, key: u64) -> Vec<u64> {
        let Some(b) = self.channels.get(&key).and_then(|c| c.bridge.clone()) else { return Vec::new() };
        self.channels
            .iter()
            .filter(|(k, c)| **k != key && c.bridge.as_ref() == Some(&b))
            .map(|(k, _)| *k)
            .collect()
    }

    /// The phone at `ext` receives a NOTIFY. `false` if there is no such endpoint;
    /// a phone with nothing to do ignores it, as a real one does.
    pub(crate) fn notify(&mut self, ext: &str, what: Notify) -> bool {
        if !self.is_extension(ext) {
            return false;
        }
        match what {
            Notify::Talk => {
                if !self.answer_ext(ext) {
                    self.retrieve_ext(ext);
                }
            }
            Notify::Hold => {
                self.hold_ext(ext);
            }
        }
        true
    }

    /// The phone answers its ringing call now (as its answer timer would). `false`
    /// if it has no ringing call.
    pub(crate) fn answer_ext(&mut self, ext: &str) -> bool {
        let Some((key, call)) =
            self.channels.iter().find(|(_, c)| c.ext == ext && c.alerting()).map(|(k, c)| (*k, c.call))
        else {
            return false;
        };
        let Some(c) = self.calls.get(&call) else { return false };
        match c.phase {
            Phase::FirstLegRinging if c.caller == key => self.first_leg_answers(call),
            Phase::Dialing if c.callee == Some(key) => self.dest_answers(call),
            _ => return false,
        }
        true
    }

    /// The phone puts its connected call on hold: `Hold` on its channel,
    /// `MusicOnHoldStart` on the other party. `false` if it has no such call.
    pub(crate) fn hold_ext(&mut self, ext: &str) -> bool {
        let key = self
            .channels
            .iter()
            .find(|(_, c)| c.ext == ext && c.state == ChanState::Up && c.bridge.is_some() && !c.held)
            .map(|(k, _)| *k);
        match key {
            Some(key) => {
                self.hold_key(key);
                true
            }
            None => false,
        }
    }

    pub(super) fn hold_key(&mut self, key: u64) {
        let Some(ext) = self.channels.get(&key).map(|c| c.ext.clone()) else { return };
        self.with_chan(key, |c| c.held = true);
        self.emit_chan(key, events::hold);
        for p in self.bridge_peers(key) {
            self.emit_chan(p, |c| events::music_on_hold(true, c));
        }
        self.emit_device_state(&ext);
        self.emit_extension_status(&ext);
    }

    /// The phone takes its held call back: `Unhold`, `MusicOnHoldStop` on the
    /// other party. `false` if it holds no call.
    pub(crate) fn retrieve_ext(&mut self, ext: &str) -> bool {
        let Some(key) = self.channels.iter().find(|(_, c)| c.ext == ext && c.held).map(|(k, _)| *k) else {
            return false;
        };
        self.with_chan(key, |c| c.held = false);
        self.emit_chan(key, |c| events::channel_event("Unhold", c));
        for p in self.bridge_peers(key) {
            self.emit_chan(p, |c| events::music_on_hold(false, c));
        }
        self.emit_device_state(ext);
        self.emit_extension_status(ext);
        true
    }

    /// The user hangs up (BYE, or 486 Busy Here on a ringing phone): a ringing
    /// channel is rejected (cause 17), else the active call ends, else the held
    /// one. `false` if the phone has no channel.
    pub(crate) fn hangup_ext(&mut self, ext: &str) -> bool {
        let mine = |c: &&crate::channel::Channel| c.ext == ext;
        let ringing = self.channels.iter().find(|(_, c)| mine(c) && c.alerting()).map(|(k, _)| *k);
        if let Some(key) = ringing {
            self.hangup_key(key, 17, Trigger::Phone);
            return true;
        }
        let active = self.channels.iter().find(|(_, c)| mine(c) && !c.held).map(|(k, _)| *k);
        let any = active.or_else(|| self.channels.iter().find(|(_, c)| mine(c)).map(|(k, _)| *k));
        match any {
            Some(key) => {
                self.hangup_key(key, 16, Trigger::Phone);
                true
            }
            None => false,
        }
    }

    /// `Redirect`: a channel that is dialing a phone stops (the phone is released,
    /// `DialEnd CANCEL`) and dials `exten` instead (a deflection); a channel in a
    /// two-party bridge leaves it (the other party is hung up, as Asterisk does when
    /// such a bridge dissolves) and runs `exten`.
    pub(crate) fn redirect(&mut self, name: &str, context: &str, exten: &str) -> Answer {
        let Some(key) = self.key_of(name) else {
            return Err(format!("Channel does not exist: {}", name.trim()));
        };
        let Some(call) = self.channels.get(&key).map(|c| c.call) else {
            return Err("Redirect failed".into());
        };
        let Some(c) = self.calls.get(&call) else { return Err("Redirect failed".into()) };
        let (phase, caller, callee) = (c.phase, c.caller, c.callee);
        match phase {
            Phase::Dialing if caller == key => {
                if let Some(b) = callee.and_then(|b| self.channels.remove(&b)) {
                    if let Some(a) = self.channels.get(&key) {
                        let ev = events::dial("DialEnd", Some(a), &b, ("DialStatus", "CANCEL"));
                        self.emit(ev);
                    }
                    self.emit_extension_status(&b.ext);
                    self.emit_device_state(&b.ext);
                    self.emit(events::hangup(&b, 16));
                }
                self.goto_exten(key, call, context, exten);
                Ok("Redirect successful")
            }
            Phase::Bridged => {
                let Some(id) = self.channels.get(&key).and_then(|c| c.bridge.clone()) else {
                    return Err("Redirect failed".into());
                };
                let other = if caller == key { callee } else { Some(caller) };
                self.emit_chan(key, |c| events::bridge_channel("BridgeLeave", &id, 1, c));
                if let Some(o) = other {
                    self.emit_chan(o, |c| events::bridge_channel("BridgeLeave", &id, 0, c));
                }
                self.emit(events::bridge("BridgeDestroy", &id, 0));
                if let Some(o) = other.and_then(|o| self.channels.remove(&o)) {
                    self.emit(events::hangup_request("SoftHangupRequest", &o, 16));
                    self.emit_extension_status(&o.ext);
                    self.emit_device_state(&o.ext);
                    self.emit(events::hangup(&o, 16));
                }
                let ext = self.channels.get(&key).map(|c| c.ext.clone()).unwrap_or_default();
                self.with_chan(key, |c| {
                    c.bridge = None;
                    c.held = false;
                });
                if let Some(c) = self.calls.get_mut(&call) {
                    c.caller = key;
                }
                self.emit_device_state(&ext);
                self.emit_extension_status(&ext);
                self.goto_exten(key, call, context, exten);
                Ok("Redirect successful")
            }
            _ => Err("Redirect failed".into()),
        }
    }

    /// `PlayDTMF`: `DTMFBegin`/`DTMFEnd` on the channel, and the digit remembered.
    /// `false` if there is no such channel.
    pub(crate) fn play_dtmf(&mut self, name: &str, digit: char, duration_ms: u32) -> bool {
        let Some(key) = self.key_of(name) else { return false };
        self.emit_chan(key, |c| events::dtmf(c, digit, None));
        self.emit_chan(key, |c| events::dtmf(c, digit, Some(duration_ms)));
        let Some(chan) = self.channels.get(&key).map(|c| c.name.clone()) else { return false };
        match self.dtmf.iter_mut().find(|(n, _)| *n == chan) {
            Some((_, digits)) if digits.len() < MAX_DTMF_DIGITS => digits.push(digit),
            Some(_) => {}
            None => {
                if self.dtmf.len() >= MAX_DTMF_CHANNELS {
                    self.dtmf.remove(0);
                }
                self.dtmf.push((chan, digit.to_string()));
            }
        }
        true
    }

    /// Digits played so far, per channel, oldest channel first.
    pub(crate) fn dtmf_received(&self) -> Vec<(String, String)> {
        self.dtmf.clone()
    }

    pub(crate) fn db_put(&mut self, family: &str, key: &str, val: &str) -> bool {
        self.db.put(family, key, val)
    }

    pub(crate) fn db_get(&self, family: &str, key: &str) -> Option<String> {
        self.db.get(family, key).map(str::to_owned)
    }

    pub(crate) fn db_del(&mut self, family: &str, key: &str) -> bool {
        self.db.del(family, key)
    }

    pub(crate) fn db_del_tree(&mut self, family: &str, key: Option<&str>) -> usize {
        self.db.del_tree(family, key)
    }

    /// `Set(DEVICE_STATE(Custom:NAME)=STATE)`: `DeviceStateChange` for `Custom:NAME`.
    /// `false` if the table of custom states is full.
    pub(crate) fn set_custom_state(&mut self, name: &str, value: &str) -> bool {
        let state = device_state_value(value);
        if !self.custom.set(name, state) {
            return false;
        }
        let dev = format!("Custom:{name}");
        self.emit(OutEvent { class: EventClass::Call, msg: events::device_state(&dev, state, None) });
        true
    }

    /// Broadcasts one event of class `user` (the `UserEvent` action or the handle).
    pub(crate) fn user_event(&mut self, msg: MessageBuilder) {
        self.emit(OutEvent { class: EventClass::User, msg });
    }

    /// Whether a phone's state lets the traffic generator use it.
    pub(crate) fn is_idle(&self, ext: &str) -> bool {
        self.is_extension(ext) && self.device_state(ext) == DeviceState::NotInUse
    }
}

impl Pbx {
    /// The phones, in configuration order.
    pub(crate) fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// The name of the phone's channel that is bridged and not held.
    pub(crate) fn talking_channel(&self, ext: &str) -> Option<String> {
        self.channels.values().find(|c| c.ext == ext && c.bridge.is_some() && !c.held).map(|c| c.name.clone())
    }

    /// Like `place_call`, but the destination rings until `dial_timeout` (nobody answers).
    pub(crate) fn place_call_unanswered(
        &mut self,
        from: &str,
        to: &str,
    ) -> Result<(), crate::config::SimError> {
        if !self.is_extension(from) {
            return Err(crate::config::SimError::UnknownExtension(from.to_owned()));
        }
        if !self.is_idle(from) {
            return Err(crate::config::SimError::ExtensionBusy(from.to_owned()));
        }
        let ctx = self.context.clone();
        self.start_call(from, &ctx, to, true);
        Ok(())
    }
}
