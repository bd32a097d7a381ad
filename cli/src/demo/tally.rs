//! Counting what happened to the calls, for the status line and the summary at the end.

use std::collections::HashMap;
use std::time::Instant;

use ctilink::model::FailureReason;
use ctilink::{CallId, Event};

/// Most calls followed at once; beyond it new calls are counted but not followed (the
/// demo's simulator never gets near it).
const MAX_OPEN: usize = 100_000;

/// One open call as far as the tally is concerned.
#[derive(Debug)]
struct Open {
    since: Instant,
    rang: bool,
    answered: bool,
    failure: Option<FailureReason>,
}

/// Counters over the events of a session.
#[derive(Debug, Default)]
pub(super) struct Tally {
    pub(super) events: u64,
    pub(super) calls: u64,
    pub(super) answered: u64,
    pub(super) busy: u64,
    /// Rang and nobody answered (no answer, or the caller gave up).
    pub(super) not_answered: u64,
    /// Unknown number, unreachable, rejected...
    pub(super) failed: u64,
    pub(super) held: u64,
    pub(super) transferred: u64,
    open: HashMap<CallId, Open>,
}

impl Tally {
    pub(super) fn apply(&mut self, ev: &Event, now: Instant) {
        self.events += 1;
        let Some(id) = ev.call() else { return };
        if matches!(ev, Event::UserEvent { .. }) {
            return;
        }
        if !self.open.contains_key(id) && !matches!(ev, Event::CallCleared { .. }) {
            self.calls += 1;
            if self.open.len() < MAX_OPEN {
                let o = Open { since: now, rang: false, answered: false, failure: None };
                self.open.insert(id.clone(), o);
            }
        }
        match ev {
            Event::Held { .. } => self.held += 1,
            Event::Transferred { .. } => self.transferred += 1,
            _ => {}
        }
        if let Event::CallCleared { answered, .. } = ev {
            let Some(o) = self.open.remove(id) else { return };
            match o.failure {
                _ if o.answered || *answered => self.answered += 1,
                Some(FailureReason::Busy) => self.busy += 1,
                Some(FailureReason::NoAnswer) => self.not_answered += 1,
                Some(_) => self.failed += 1,
                None if o.rang => self.not_answered += 1,
                None => self.failed += 1,
            }
            return;
        }
        let Some(o) = self.open.get_mut(id) else { return };
        match ev {
            Event::Delivered { click_to_dial: false, .. } | Event::Diverted { .. } => {
                o.rang = true;
                o.failure = None;
            }
            Event::Established { .. } => o.answered = true,
            Event::Failed { reason, .. } => o.failure = Some(*reason),
            _ => {}
        }
    }

    /// When each open call was first seen.
    pub(super) fn since(&self) -> HashMap<CallId, Instant> {
        self.open.iter().map(|(id, o)| (id.clone(), o.since)).collect()
    }

    /// Calls not yet cleared.
    pub(super) fn open(&self) -> usize {
        self.open.len()
    }

    /// One line: `12 calls: 8 answered, 1 busy, 1 not answered, 1 failed, 1 in progress`.
    pub(super) fn line(&self) -> String {
        format!(
            "{} calls: {} answered, {} busy, {} not answered, {} failed, {} in progress; {} holds, {} transfers; {} events",
            self.calls,
            self.answered,
            self.busy,
            self.not_answered,
            self.failed,
            self.open(),
            self.held,
            self.transferred,
            self.events
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctilink::model::{Cause, ConnectionState, Party};
    use ctilink::DeviceId;

    fn delivered(call: &str) -> Event {
        Event::Delivered {
            call: CallId::new(call),
            device: DeviceId::new("100"),
            channel: "PJSIP/100-1".into(),
            state: ConnectionState::Alerting,
            caller: Party::new("101", ""),
            called: Party::new("100", ""),
            calling_device: Some(DeviceId::new("101")),
            click_to_dial: false,
        }
    }

    fn cleared(call: &str) -> Event {
        Event::CallCleared { call: CallId::new(call), cause: None, answered: false, merged_into: None }
    }

    #[test]
    fn each_call_counts_once_with_its_outcome() {
        let now = Instant::now();
        let mut t = Tally::default();
        t.apply(&delivered("a"), now);
        t.apply(&cleared("a"), now);
        t.apply(&delivered("b"), now);
        t.apply(
            &Event::Failed {
                call: CallId::new("b"),
                device: DeviceId::new("100"),
                channel: "PJSIP/100-2".into(),
                state: ConnectionState::Failed,
                reason: FailureReason::Busy,
                cause: Some(Cause::USER_BUSY),
            },
            now,
        );
        t.apply(&cleared("b"), now);
        t.apply(&delivered("c"), now);
        t.apply(&Event::LinkUp { reconnected: false }, now);
        assert_eq!((t.calls, t.answered, t.busy, t.not_answered, t.failed, t.open()), (3, 0, 1, 1, 0, 1));
        assert_eq!(t.events, 7);
        assert!(t.line().starts_with("3 calls: 0 answered, 1 busy, 1 not answered, 0 failed, 1 in progress"));
    }
}
