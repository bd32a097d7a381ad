//! The outcome of a click-to-dial as a user tells it: answered, busy, no answer, failed.
//!
//! The events of a click-to-dial say much more (the user's phone rang, was answered, the
//! destination rang, was diverted...). Every program that dials wants the same four
//! words from them, with the same fine points: the user's own phone answering is not the
//! outcome; a failure is not final while the call goes on (forwarding on busy dials
//! another number); a call cleared while the destination rang was not answered. Defined
//! once here so that the CLI, the examples and every binding agree.

use std::fmt;

use crate::model::{CallId, DeviceId, Event, FailureReason};

/// How a click-to-dial ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DialOutcome {
    /// The destination answered.
    Answered,
    /// The destination (or the user's own phone) was busy.
    Busy,
    /// The destination, or the user's own phone, did not answer (or the user gave up
    /// while it rang).
    NoAnswer,
    /// Anything else: an unknown number, unreachable, refused, congestion.
    Failed,
}

impl DialOutcome {
    /// `answered`, `busy`, `no-answer` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            DialOutcome::Answered => "answered",
            DialOutcome::Busy => "busy",
            DialOutcome::NoAnswer => "no-answer",
            DialOutcome::Failed => "failed",
        }
    }
}

impl fmt::Display for DialOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Follows the events of one click-to-dial (the call id `make_call` returned) to its
/// outcome. Feed it every event of the session; link events are left to the caller (the
/// link reconnects, and the call may go on).
#[derive(Clone, Debug)]
pub struct DialProgress {
    call: CallId,
    from: DeviceId,
    to: String,
    /// The user's phone answered (`Originated`): the destination is being dialed.
    user_answered: bool,
    /// A destination rang.
    dest_rang: bool,
    /// The last failure: the outcome unless the call goes on.
    failure: Option<DialOutcome>,
}

impl DialProgress {
    pub fn new(call: CallId, from: &str, to: &str) -> Self {
        DialProgress {
            call,
            from: DeviceId::new(from),
            to: to.to_owned(),
            user_answered: false,
            dest_rang: false,
            failure: None,
        }
    }

    pub fn call(&self) -> &CallId {
        &self.call
    }

    pub fn from(&self) -> &DeviceId {
        &self.from
    }

    pub fn to(&self) -> &str {
        &self.to
    }

    /// A failure seen and not yet overtaken by the call going on. A program that stops
    /// waiting (a timeout, or a grace period after the failure) reports this.
    pub fn pending_failure(&self) -> Option<DialOutcome> {
        self.failure
    }

    /// Takes one event; `Some` once the outcome is known.
    pub fn apply(&mut self, ev: &Event) -> Option<DialOutcome> {
        if ev.call() != Some(&self.call) {
            return None;
        }
        match ev {
            Event::Originated { device, .. } if *device == self.from => self.user_answered = true,
            Event::Established { device, .. } => {
                if *device != self.from || device.as_str() == self.to {
                    return Some(DialOutcome::Answered);
                }
                self.user_answered = true;
            }
            Event::Delivered { device, click_to_dial: false, .. } if *device != self.from => {
                self.dest_rang = true;
                self.failure = None;
            }
            Event::Diverted { .. } => {
                self.dest_rang = true;
                self.failure = None;
            }
            Event::Failed { reason, .. } => {
                self.failure = Some(match reason {
                    FailureReason::Busy => DialOutcome::Busy,
                    FailureReason::NoAnswer => DialOutcome::NoAnswer,
                    _ => DialOutcome::Failed,
                });
            }
            Event::CallCleared { answered, .. } => {
                return Some(if *answered {
                    DialOutcome::Answered
                } else if let Some(f) = self.failure {
                    f
                } else if self.dest_rang || !self.user_answered {
                    // Cleared while the destination rang, or before the user answered.
                    DialOutcome::NoAnswer
                } else {
                    DialOutcome::Failed
                });
            }
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Cause, ConnectionState, DivertReason, Endpoint, Party};

    fn party(n: &str) -> Party {
        Party { number: n.into(), ..Party::default() }
    }

    fn delivered(call: &str, device: &str, ctd: bool) -> Event {
        Event::Delivered {
            call: CallId::new(call),
            device: DeviceId::new(device),
            channel: format!("PJSIP/{device}-1"),
            state: ConnectionState::Alerting,
            caller: party("100"),
            called: party("200"),
            calling_device: None,
            click_to_dial: ctd,
        }
    }

    fn originated(call: &str, device: &str) -> Event {
        Event::Originated {
            call: CallId::new(call),
            device: DeviceId::new(device),
            channel: format!("PJSIP/{device}-1"),
            state: ConnectionState::Connected,
            caller: party("100"),
            called: party("200"),
        }
    }

    fn established(call: &str, device: &str, ctd: bool) -> Event {
        Event::Established {
            call: CallId::new(call),
            device: DeviceId::new(device),
            channel: format!("PJSIP/{device}-2"),
            state: ConnectionState::Connected,
            caller: party("100"),
            called: party("200"),
            calling_device: Some(DeviceId::new("100")),
            click_to_dial: ctd,
        }
    }

    fn failed(call: &str, device: &str, reason: FailureReason) -> Event {
        Event::Failed {
            call: CallId::new(call),
            device: DeviceId::new(device),
            channel: format!("PJSIP/{device}-2"),
            state: ConnectionState::Failed,
            reason,
            cause: Some(Cause(17)),
        }
    }

    fn cleared(call: &str, answered: bool) -> Event {
        Event::CallCleared { call: CallId::new(call), cause: None, answered, merged_into: None }
    }

    fn run(events: &[Event]) -> Option<DialOutcome> {
        let mut p = DialProgress::new(CallId::new("c1"), "100", "200");
        events.iter().find_map(|e| p.apply(e)).or(p.pending_failure())
    }

    #[test]
    fn the_destination_answering_is_answered_and_the_users_own_answer_is_not() {
        let evs = [delivered("c1", "100", true), originated("c1", "100"), delivered("c1", "200", false)];
        assert_eq!(run(&evs), None);
        let mut all = evs.to_vec();
        all.push(established("c1", "200", false));
        assert_eq!(run(&all), Some(DialOutcome::Answered));
        assert_eq!(run(&[delivered("c1", "100", true), established("c1", "100", true)]), None);
    }

    #[test]
    fn failures_give_their_word() {
        let busy = [originated("c1", "100"), failed("c1", "200", FailureReason::Busy), cleared("c1", false)];
        assert_eq!(run(&busy), Some(DialOutcome::Busy));
        let na =
            [originated("c1", "100"), failed("c1", "200", FailureReason::NoAnswer), cleared("c1", false)];
        assert_eq!(run(&na), Some(DialOutcome::NoAnswer));
        let unreachable = [originated("c1", "100"), failed("c1", "200", FailureReason::Unreachable)];
        assert_eq!(run(&unreachable), Some(DialOutcome::Failed));
    }

    #[test]
    fn a_call_that_goes_on_after_a_failure_is_not_failed() {
        let diverted = Event::Diverted {
            call: CallId::new("c1"),
            device: DeviceId::new("300"),
            channel: "PJSIP/300-3".into(),
            from: Endpoint { device: DeviceId::new("200"), channel: "PJSIP/200-2".into() },
            reason: DivertReason::Forward,
            caller: party("100"),
            called: party("200"),
        };
        let evs = [originated("c1", "100"), failed("c1", "200", FailureReason::Busy), diverted];
        assert_eq!(run(&evs), None);
    }

    #[test]
    fn cleared_without_failure_depends_on_how_far_the_call_got() {
        assert_eq!(run(&[delivered("c1", "100", true), cleared("c1", false)]), Some(DialOutcome::NoAnswer));
        let rang = [originated("c1", "100"), delivered("c1", "200", false), cleared("c1", false)];
        assert_eq!(run(&rang), Some(DialOutcome::NoAnswer));
        assert_eq!(run(&[originated("c1", "100"), cleared("c1", false)]), Some(DialOutcome::Failed));
    }

    #[test]
    fn other_calls_and_link_events_are_ignored() {
        assert_eq!(run(&[established("c2", "200", false), cleared("c2", true)]), None);
        assert_eq!(run(&[Event::LinkDown { reason: "reset".into() }]), None);
        assert_eq!(DialOutcome::NoAnswer.to_string(), "no-answer");
    }
}
