//! Click-to-dial calls that fail before any channel exists.
//!
//! `make_call` returns the call id it gave the Originate (`ChannelId`). When the PBX cannot
//! even create the user's channel (no such endpoint, not registered), no channel event
//! ever names that id: only the `OriginateResponse` with `Response: Failure` and
//! `Uniqueid: <null>` tells, and it names the action, not the call. This table joins the
//! two, so that the application gets `Failed` and `CallCleared` for the id it holds. The
//! response may arrive before `make_call` has read its action's id (the event and the
//! action's answer travel different paths), so either side may come first.

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
            u.is_empty() || u.eq_ignore_ascii_case("<null>")
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

    #[test]
    fn success_or_a_channel_leaves_it_to_the_model_and_the_table_is_bounded() {
        let mut o = Originates::default();
        o.sent("a1", "c1".into(), "100".into(), "PJSIP/100".into());
        assert!(o.response(&resp("a1", "Success", "1.1", "4")).is_empty());
        o.sent("a2", "c2".into(), "100".into(), "PJSIP/100".into());
        assert!(o.response(&resp("a2", "Failure", "1.2", "3")).is_empty());
        assert!(o.pending.is_empty());
        for i in 0..5000 {
            o.response(&resp(&format!("x{i}"), "Failure", "<null>", "0"));
        }
        assert!(o.failed.len() <= MAX_ENTRIES && o.order.len() <= MAX_ENTRIES);
    }
}
