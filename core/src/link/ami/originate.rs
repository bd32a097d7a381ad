//! Click-to-dial calls that fail before any channel exists.
//!
//! `make_call` returns the call id it gave the Originate (`ChannelId`). When the PBX cannot
//! even create the user's channel (no such endpoint, not registered), no channel event
//! ever names that id: only the `OriginateResponse` with `Response: Failure` and
//! `Uniqueid: <null>` tells, and it names the action, not the call. This table joins the
//! two, so that the application gets `Failed` and `CallCleared` for the id it holds. The
//! response may arrive before `make_call` has read its action's id (the event and the
//! action's answer travel different paths), so either side may come first.
//!
//! Asterisk 20 and 22 name the `ChannelId` we asked for in that response's `Uniqueid`
//! even when no channel was ever made (a real Asterisk 22, `PJSIP/105` not registered:
//! `Response: Failure`, `Reason: 0`, `Uniqueid: <our id>`). So "no channel" is: no
//! `Uniqueid`, or one the call model never reported a call for.

use std::collections::{HashMap, VecDeque};

use crate::ami::Message;
use crate::model::{CallId, ConnectionState, DeviceId, Event, FailureReason};

/// Entries kept on either side; beyond it the oldest are forgotten (an Originate that never
/// gets a response, a failure nobody waits for).
const MAX_ENTRIES: usize = 1024;

#[derive(Debug)]
struct Pending {
    call: CallId,
    device: DeviceId,
    channel: String,
}

#[derive(Debug, Default)]
pub(super) struct Originates {
    /// Originates sent, by ActionID.
    pending: HashMap<String, Pending>,
    /// Failures without a channel whose Originate was not registered yet, by ActionID.
    failed: HashMap<String, FailureReason>,
    order: VecDeque<String>,
    /// Calls the model reported (their first events), newest last: a failed Originate
    /// naming one of them is the model's to report.
    reported: VecDeque<CallId>,
}

/// `Reason:` of `OriginateResponse` (Asterisk's control frame numbers).
fn reason(msg: &Message) -> FailureReason {
    match msg.get("Reason").map(str::trim) {
        Some("3") => FailureReason::NoAnswer,
        Some("5") => FailureReason::Busy,
        Some("8") => FailureReason::Congestion,
        Some("0") => FailureReason::Unreachable,
        _ => FailureReason::Other,
    }
}

fn failure_events(p: Pending, reason: FailureReason) -> Vec<Event> {
    vec![
        Event::Failed {
            call: p.call.clone(),
            device: p.device,
            channel: p.channel,
            state: ConnectionState::Failed,
            reason,
            cause: None,
        },
        Event::CallCleared { call: p.call, cause: None, answered: false, merged_into: None },
    ]
}

impl Originates {
    fn remember(&mut self, id: &str) {
        if self.order.len() >= MAX_ENTRIES {
            if let Some(old) = self.order.pop_front() {
                self.pending.remove(&old);
                self.failed.remove(&old);
            }
        }
        self.order.push_back(id.to_owned());
    }

    /// The model's events for one AMI message: remembers the calls they start.
    pub(super) fn note_reported(&mut self, events: &[Event]) {
        for e in events {
            let (Event::Originated { call, .. } | Event::Delivered { call, .. } | Event::Failed { call, .. }) =
                e
            else {
                continue;
            };
            if self.reported.iter().rev().take(8).any(|c| c == call) {
                continue;
            }
            if self.reported.len() >= MAX_ENTRIES {
                self.reported.pop_front();
            }
            self.reported.push_back(call.clone());
        }
    }

    fn was_reported(&self, call: &str) -> bool {
        self.reported.iter().any(|c| c.as_str() == call)
    }

    /// `make_call`'s Originate was accepted with `action_id`. Returns the events to emit
    /// if its failure already arrived.
    pub(super) fn sent(
        &mut self,
        action_id: &str,
        call: CallId,
        device: DeviceId,
        channel: String,
    ) -> Vec<Event> {
        let p = Pending { call, device, channel };
        if let Some(reason) = self.failed.remove(action_id) {
            if self.was_reported(p.call.as_str()) {
                return Vec::new();
            }
            return failure_events(p, reason);
        }
        self.remember(action_id);
        self.pending.insert(action_id.to_owned(), p);
        Vec::new()
    }

    /// An `OriginateResponse` arrived. Returns the events to emit for a failure that no
    /// channel event will report.
    pub(super) fn response(&mut self, msg: &Message) -> Vec<Event> {
        let Some(id) = msg.action_id() else { return Vec::new() };
        let failed = !msg.get("Response").is_some_and(|r| r.trim().eq_ignore_ascii_case("Success"));
        let no_channel = msg.get("Uniqueid").is_none_or(|u| {
            let u = u.trim();
            u.is_empty() || u.eq_ignore_ascii_case("<null>") || !self.was_reported(u)
        });
        if !(failed && no_channel) {
            // Channels exist: the call model reports the outcome.
            self.pending.remove(id);
            return Vec::new();
        }
        match self.pending.remove(id) {
            Some(p) => failure_events(p, reason(msg)),
            None => {
                self.remember(id);
                self.failed.insert(id.to_owned(), reason(msg));
                Vec::new()
            }
        }
    }

    /// After a resync the model is the PBX's again; forget what is pending.
    pub(super) fn clear(&mut self) {
        self.pending.clear();
        self.failed.clear();
        self.order.clear();
        self.reported.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(id: &str, response: &str, uid: &str, reason: &str) -> Message {
        Message::from_pairs([
            ("Event", "OriginateResponse"),
            ("ActionID", id),
            ("Response", response),
            ("Uniqueid", uid),
            ("Reason", reason),
        ])
    }

    fn kinds(evs: &[Event]) -> Vec<&str> {
        evs.iter().map(Event::kind).collect()
    }

    #[test]
    fn a_failure_without_channel_is_reported_whichever_side_comes_first() {
        let mut o = Originates::default();
        assert!(o.sent("a1", "c1".into(), "100".into(), "PJSIP/100".into()).is_empty());
        let evs = o.response(&resp("a1", "Failure", "<null>", "0"));
        assert_eq!(kinds(&evs), ["failed", "call_cleared"]);
        assert!(matches!(&evs[0], Event::Failed { reason: FailureReason::Unreachable, .. }));
        // The response first, then the action's answer.
        assert!(o.response(&resp("a2", "Failure", "", "5")).is_empty());
        let evs = o.sent("a2", "c2".into(), "100".into(), "PJSIP/100".into());
        assert!(
            matches!(&evs[0], Event::Failed { reason: FailureReason::Busy, call, .. } if call.as_str() == "c2")
        );
    }

    fn delivered(call: &str) -> Event {
        Event::Delivered {
            call: call.into(),
            device: "100".into(),
            channel: "PJSIP/100-00000001".into(),
            state: ConnectionState::Alerting,
            caller: Default::default(),
            called: Default::default(),
            calling_device: None,
            click_to_dial: true,
        }
    }

    /// What a real Asterisk 22 sends for `PJSIP/105` not registered: our own ChannelId
    /// as the Uniqueid, though no channel exists.
    #[test]
    fn a_failure_naming_our_channel_id_that_never_existed_is_reported() {
        let mut o = Originates::default();
        o.sent("a1", "ctilinkc1".into(), "105".into(), "PJSIP/105".into());
        let evs = o.response(&resp("a1", "Failure", "ctilinkc1", "0"));
        assert_eq!(kinds(&evs), ["failed", "call_cleared"]);
        // The same before the action's answer.
        assert!(o.response(&resp("a2", "Failure", "ctilinkc2", "0")).is_empty());
        assert_eq!(
            kinds(&o.sent("a2", "ctilinkc2".into(), "105".into(), "PJSIP/105".into())),
            ["failed", "call_cleared"]
        );
        // A call the model reported is the model's, whichever side came first.
        o.note_reported(&[delivered("ctilinkc3")]);
        assert!(o.response(&resp("a3", "Failure", "ctilinkc3", "0")).is_empty());
        assert!(o.sent("a3", "ctilinkc3".into(), "105".into(), "PJSIP/105".into()).is_empty());
        for i in 0..5000 {
            o.note_reported(&[delivered(&format!("x{i}"))]);
        }
        assert!(o.reported.len() <= MAX_ENTRIES);
    }

    #[test]
    fn success_or_a_channel_leaves_it_to_the_model_and_the_table_is_bounded() {
        let mut o = Originates::default();
        o.sent("a1", "c1".into(), "100".into(), "PJSIP/100".into());
        assert!(o.response(&resp("a1", "Success", "1.1", "4")).is_empty());
        o.sent("a2", "c2".into(), "100".into(), "PJSIP/100".into());
        o.note_reported(&[delivered("1.2")]);
        assert!(o.response(&resp("a2", "Failure", "1.2", "3")).is_empty());
        assert!(o.pending.is_empty());
        for i in 0..5000 {
            o.response(&resp(&format!("x{i}"), "Failure", "<null>", "0"));
        }
        assert!(o.failed.len() <= MAX_ENTRIES && o.order.len() <= MAX_ENTRIES);
    }
}
