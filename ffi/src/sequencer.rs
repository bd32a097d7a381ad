//! The order a C host sees. A TAPI provider needs three promises the Rust stream does not
//! make by itself, and this sans-IO state machine makes them:
//!
//! 1. a `NEW_CALL` precedes every state event of a call (calls that exist when the
//!    session starts, or that the link finds after it returns, are announced too, with
//!    their current state);
//! 2. a request that starts a call (`make_call`, `consultation_call`) completes before any
//!    event of that call: while such a request is pending, events of calls not yet
//!    announced are held back (at most [`MAX_HELD`]), and released after the completion;
//! 3. after `LINK_DOWN` the host forgets every call (TAPI drops them); clearing events of
//!    forgotten calls are not repeated, and at `RESYNCED` every call that still exists is
//!    announced again. After `LAGGED`, the difference between what the host was told and
//!    the model is made up: `CALL_CLEARED` for calls that are gone, `NEW_CALL` for new ones.
//!    That happens once the backlog the stream kept is read (those events are older than
//!    the model), and meanwhile clearing events of calls the host never heard of are
//!    dropped, as after `LINK_DOWN`.

use std::collections::VecDeque;

use ctilink_core::model::Party;
use ctilink_core::{Call, CallId, DeviceId, Error, Event, Outcome};
use foldhash::{HashMap, HashMapExt};

/// Events held back while call-starting requests are pending; past it the oldest is
/// released (order promise 2 is then broken for it, which needs 4096 new calls within
/// one request's round trip).
pub(crate) const MAX_HELD: usize = 4096;
/// Calls the host was told about; the tracker holds no more than this either.
pub(crate) const MAX_ANNOUNCED: usize = 200_000;
/// After a lag, the difference is made up at the latest after this many events (the
/// stream's backlog is at most its capacity, 4096 by default).
pub(crate) const CATCH_UP_LIMIT: usize = 8192;

/// The answer to one request.
#[derive(Debug)]
pub(crate) struct Completion {
    pub(crate) request: u64,
    pub(crate) result: Result<Outcome, Error>,
    /// The request was `make_call` or `consultation_call`.
    pub(crate) starts_call: bool,
}

/// A call as announced by `NEW_CALL`.
#[derive(Debug, Clone)]
pub(crate) struct NewCall {
    pub(crate) call: CallId,
    pub(crate) caller: Party,
    pub(crate) called: Party,
    pub(crate) calling_device: Option<DeviceId>,
    /// The request that started the call, 0 if none.
    pub(crate) request: u64,
    /// The call's state when it is announced after it began (at start, after a resync
    /// or lag); `None` when its first event follows at once.
    pub(crate) current: Option<Call>,
}

/// One item for the host, in order.
#[derive(Debug)]
pub(crate) enum Delivery {
    NewCall(NewCall),
    Event {
        event: Event,
        calling_device: Option<DeviceId>,
        /// A `CONNECTION_CLEARED` of the device that just transferred the call: the call
        /// goes on for the others, so their lines do not see it disconnected.
        transferred_away: bool,
    },
    Completed(Completion),
}

/// What the sequencer reads from the session's model.
pub(crate) trait Model {
    fn call(&self, id: &CallId) -> Option<Call>;
    fn calls(&self) -> Vec<Call>;
}

#[derive(Debug, Default)]
pub(crate) struct Sequencer {
    /// Announced calls and the device that placed each (for the TAPI per-line view).
    announced: HashMap<CallId, Option<DeviceId>>,
    /// Calls started by a completed request, not announced yet.
    started_by: HashMap<CallId, u64>,
    /// Calls just transferred, and the device that transferred each (until it leaves).
    transferring: HashMap<CallId, DeviceId>,
    held: VecDeque<Event>,
    /// Between `LINK_DOWN` and `RESYNCED`.
    down: bool,
    /// After `LAGGED`: how many more events may come before the difference is made up
    /// even if the stream never runs dry.
    catching_up: Option<usize>,
    out: VecDeque<Delivery>,
}

fn is_call_state(ev: &Event) -> bool {
    ev.call().is_some() && !matches!(ev, Event::UserEvent { .. })
}

fn calling_device_of(ev: &Event) -> Option<DeviceId> {
    match ev {
        Event::Originated { device, .. } => Some(device.clone()),
        Event::Delivered { calling_device, .. } | Event::Established { calling_device, .. } => {
            calling_device.clone()
        }
        _ => None,
    }
}

fn parties_of(ev: &Event) -> Option<(&Party, &Party)> {
    match ev {
        Event::Originated { caller, called, .. }
        | Event::Delivered { caller, called, .. }
        | Event::Established { caller, called, .. }
        | Event::Diverted { caller, called, .. } => Some((caller, called)),
        _ => None,
    }
}

impl Sequencer {
    pub(crate) fn new() -> Self {
        Sequencer { announced: HashMap::with_capacity(64), ..Default::default() }
    }

    /// Announces the calls that exist when the session starts.
    pub(crate) fn start(&mut self, model: &dyn Model) {
        self.reconcile(model, false);
    }

    /// The next item for the host.
    pub(crate) fn pop(&mut self) -> Option<Delivery> {
        self.out.pop_front()
    }

    /// An event from the session. `pending_starts` is the number of call-starting
    /// requests issued whose completion has not been through [`Sequencer::completed`].
    pub(crate) fn event(&mut self, ev: Event, pending_starts: usize, model: &dyn Model) {
        match &ev {
            Event::LinkDown { .. } => {
                self.release_held(usize::MAX, 0, model);
                self.out.push_back(Delivery::Event {
                    event: ev,
                    calling_device: None,
                    transferred_away: false,
                });
                self.announced.clear();
                self.transferring.clear();
                self.down = true;
            }
            Event::Resynced { .. } => {
                if self.down {
                    self.reconcile(model, false);
                    self.down = false;
                }
                self.out.push_back(Delivery::Event {
                    event: ev,
                    calling_device: None,
                    transferred_away: false,
                });
            }
            Event::Lagged { .. } => {
                self.out.push_back(Delivery::Event {
                    event: ev,
                    calling_device: None,
                    transferred_away: false,
                });
                if !self.down {
                    self.catching_up = Some(CATCH_UP_LIMIT);
                }
                return;
            }
            _ if is_call_state(&ev) => self.call_event(ev, pending_starts, model),
            _ => self.out.push_back(Delivery::Event {
                event: ev,
                calling_device: None,
                transferred_away: false,
            }),
        }
        if let Some(n) = self.catching_up {
            if n <= 1 {
                self.caught_up(model);
            } else {
                self.catching_up = Some(n - 1);
            }
        }
    }

    /// Whether a lag's difference is still to be made up (see [`Sequencer::caught_up`]).
    pub(crate) fn catching_up(&self) -> bool {
        self.catching_up.is_some()
    }

    /// The stream has no backlog left after a lag: make what the host was told match the
    /// model.
    pub(crate) fn caught_up(&mut self, model: &dyn Model) {
        if self.catching_up.take().is_some() {
            self.reconcile(model, true);
        }
    }

    /// A request's completion; `pending_starts` counts the call-starting requests still
    /// pending after this one.
    pub(crate) fn completed(&mut self, c: Completion, pending_starts: usize, model: &dyn Model) {
        if let Ok(Outcome::Call(id)) = &c.result {
            if !self.announced.contains_key(id) && self.started_by.len() < MAX_HELD {
                self.started_by.insert(id.clone(), c.request);
            }
        }
        self.out.push_back(Delivery::Completed(c));
        self.release_held(0, pending_starts, model);
    }

    fn call_event(&mut self, ev: Event, pending_starts: usize, model: &dyn Model) {
        let Some(call) = ev.call().cloned() else { return };
        if let Some(known) = self.announced.get_mut(&call) {
            if known.is_none() {
                *known = calling_device_of(&ev);
            }
            let calling_device = known.clone();
            let mut transferred_away = false;
            match &ev {
                Event::CallCleared { .. } => {
                    self.announced.remove(&call);
                    self.transferring.remove(&call);
                }
                Event::Transferred { transferring, .. } if self.transferring.len() < MAX_HELD => {
                    self.transferring.insert(call.clone(), transferring.device.clone());
                }
                Event::ConnectionCleared { device, .. } if self.transferring.get(&call) == Some(device) => {
                    self.transferring.remove(&call);
                    transferred_away = true;
                }
                _ => {}
            }
            self.out.push_back(Delivery::Event { event: ev, calling_device, transferred_away });
            return;
        }
        let cleared = matches!(ev, Event::CallCleared { .. } | Event::ConnectionCleared { .. });
        if (self.down || self.catching_up.is_some()) && cleared {
            // The host forgot this call at LINK_DOWN, or never heard of it (its first
            // events were lost in a lag).
            return;
        }
        if pending_starts > 0 && !self.started_by.contains_key(&call) {
            self.held.push_back(ev);
            if self.held.len() > MAX_HELD {
                self.release_held(1, usize::MAX, model);
            }
            return;
        }
        self.announce_then(ev, model);
    }

    /// Releases held events: the first `force` unconditionally, then those whose call
    /// may go now (`pending_starts` 0, or started by a completed request). Per call the
    /// order is kept, because a call's events are either all released or all kept.
    fn release_held(&mut self, force: usize, pending_starts: usize, model: &dyn Model) {
        let held = std::mem::take(&mut self.held);
        let mut forced = 0;
        let mut kept_calls: Vec<CallId> = Vec::new();
        for ev in held {
            let call = ev.call().cloned();
            let may_go = match &call {
                _ if forced < force => {
                    forced += 1;
                    true
                }
                Some(c) if kept_calls.contains(c) => false,
                Some(c) => {
                    pending_starts == 0 || self.started_by.contains_key(c) || self.announced.contains_key(c)
                }
                None => true,
            };
            if may_go {
                self.call_event(ev, 0, model);
            } else {
                if let Some(c) = call {
                    if !kept_calls.contains(&c) {
                        kept_calls.push(c);
                    }
                }
                self.held.push_back(ev);
            }
        }
    }

    /// Announces `ev`'s call, then delivers `ev`.
    fn announce_then(&mut self, ev: Event, model: &dyn Model) {
        let Some(call) = ev.call().cloned() else { return };
        let current = if self.down { model.call(&call) } else { None };
        let from_model;
        let (caller, called) = match parties_of(&ev) {
            Some((a, b)) => (a.clone(), b.clone()),
            None => {
                from_model = model.call(&call);
                match &from_model {
                    Some(c) => (c.caller.clone(), c.called.clone()),
                    None => (Party::new("", ""), Party::new("", "")),
                }
            }
        };
        let calling_device =
            calling_device_of(&ev).or_else(|| current.as_ref().and_then(|c| c.calling_device.clone()));
        let request = self.started_by.remove(&call).unwrap_or(0);
        self.push_new_call(NewCall { call: call.clone(), caller, called, calling_device, request, current });
        self.call_event(ev, 0, model);
    }

    fn push_new_call(&mut self, n: NewCall) {
        if self.announced.len() < MAX_ANNOUNCED {
            self.announced.insert(n.call.clone(), n.calling_device.clone());
        }
        self.out.push_back(Delivery::NewCall(n));
    }

    /// Makes what the host was told match the model: announces calls it does not know
    /// (with their state), and, if `clear_gone`, reports cleared the calls that are gone.
    fn reconcile(&mut self, model: &dyn Model, clear_gone: bool) {
        let calls = model.calls();
        if clear_gone {
            let mut gone: Vec<CallId> =
                self.announced.keys().filter(|id| !calls.iter().any(|c| &c.id == *id)).cloned().collect();
            gone.sort();
            for id in gone {
                let calling_device = self.announced.remove(&id).flatten();
                let event = Event::CallCleared { call: id, cause: None, answered: false, merged_into: None };
                self.out.push_back(Delivery::Event { event, calling_device, transferred_away: false });
            }
        }
        for c in calls {
            if self.announced.contains_key(&c.id) {
                continue;
            }
            let request = self.started_by.remove(&c.id).unwrap_or(0);
            self.push_new_call(NewCall {
                call: c.id.clone(),
                caller: c.caller.clone(),
                called: c.called.clone(),
                calling_device: c.calling_device.clone(),
                request,
                current: Some(c),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctilink_core::model::{Connection, ConnectionState};

    #[derive(Default)]
    struct Calls(Vec<Call>);

    impl Model for Calls {
        fn call(&self, id: &CallId) -> Option<Call> {
            self.0.iter().find(|c| &c.id == id).cloned()
        }
        fn calls(&self) -> Vec<Call> {
            self.0.clone()
        }
    }

    fn call(id: &str, dev: &str, state: ConnectionState) -> Call {
        Call {
            id: CallId::new(id),
            calling_device: Some(DeviceId::new(dev)),
            caller: Party::new(dev, ""),
            called: Party::new("200", ""),
            connections: vec![Connection {
                device: DeviceId::new(dev),
                channel: format!("PJSIP/{dev}-1"),
                state,
            }],
            answered: false,
            diverted: None,
            click_to_dial: false,
        }
    }

    fn delivered(id: &str, dev: &str) -> Event {
        Event::Delivered {
            call: CallId::new(id),
            device: DeviceId::new(dev),
            channel: format!("PJSIP/{dev}-1"),
            state: ConnectionState::Alerting,
            caller: Party::new("100", "Alice"),
            called: Party::new(dev, ""),
            calling_device: Some(DeviceId::new("100")),
            click_to_dial: false,
        }
    }

    fn cleared(id: &str) -> Event {
        Event::CallCleared { call: CallId::new(id), cause: None, answered: false, merged_into: None }
    }

    fn drain(s: &mut Sequencer) -> Vec<String> {
        std::iter::from_fn(|| s.pop())
            .map(|d| match d {
                Delivery::NewCall(n) => {
                    format!("new {} req={} current={}", n.call, n.request, n.current.is_some())
                }
                Delivery::Event { event, .. } => {
                    format!("{} {}", event.kind(), event.call().map_or("-", |c| c.as_str()))
                }
                Delivery::Completed(c) => format!("done {} {}", c.request, c.result.is_ok()),
            })
            .collect()
    }

    #[test]
    fn every_call_is_announced_once_before_its_first_event() {
        let m = Calls::default();
        let mut s = Sequencer::new();
        s.event(delivered("a", "200"), 0, &m);
        s.event(delivered("a", "201"), 0, &m);
        s.event(cleared("a"), 0, &m);
        s.event(delivered("a", "200"), 0, &m);
        assert_eq!(
            drain(&mut s),
            [
                "new a req=0 current=false",
                "delivered a",
                "delivered a",
                "call_cleared a",
                "new a req=0 current=false",
                "delivered a"
            ]
        );
    }

    #[test]
    fn calls_that_exist_at_start_are_announced_with_their_state() {
        let m = Calls(vec![call("x", "100", ConnectionState::Connected)]);
        let mut s = Sequencer::new();
        s.start(&m);
        s.event(cleared("x"), 0, &m);
        assert_eq!(drain(&mut s), ["new x req=0 current=true", "call_cleared x"]);
    }

    #[test]
    fn a_started_call_completes_before_its_events_and_names_its_request() {
        let m = Calls::default();
        let mut s = Sequencer::new();
        s.event(delivered("mine", "100"), 1, &m);
        s.event(Event::DoNotDisturb { device: DeviceId::new("105"), enabled: true }, 1, &m);
        s.completed(
            Completion { request: 7, result: Ok(Outcome::Call(CallId::new("mine"))), starts_call: true },
            0,
            &m,
        );
        s.event(cleared("mine"), 0, &m);
        assert_eq!(
            drain(&mut s),
            [
                "do_not_disturb -",
                "done 7 true",
                "new mine req=7 current=false",
                "delivered mine",
                "call_cleared mine"
            ]
        );
    }

    #[test]
    fn other_new_calls_wait_only_while_a_start_is_pending() {
        let m = Calls::default();
        let mut s = Sequencer::new();
        s.event(delivered("mine", "100"), 2, &m);
        s.event(delivered("other", "300"), 2, &m);
        s.completed(
            Completion { request: 1, result: Ok(Outcome::Call(CallId::new("mine"))), starts_call: true },
            1,
            &m,
        );
        assert_eq!(drain(&mut s), ["done 1 true", "new mine req=1 current=false", "delivered mine"]);
        s.completed(Completion { request: 2, result: Err(Error::LinkDown), starts_call: true }, 0, &m);
        assert_eq!(drain(&mut s), ["done 2 false", "new other req=0 current=false", "delivered other"]);
    }

    #[test]
    fn the_hold_back_is_bounded() {
        let m = Calls::default();
        let mut s = Sequencer::new();
        for i in 0..MAX_HELD + 10 {
            s.event(delivered(&format!("c{i}"), "200"), 1, &m);
        }
        assert_eq!(s.held.len(), MAX_HELD);
        assert_eq!(drain(&mut s).len(), 20, "the 10 oldest were released, each announced");
    }

    #[test]
    fn after_link_down_calls_are_forgotten_and_announced_again_at_resync() {
        let mut m = Calls(vec![call("x", "100", ConnectionState::Connected)]);
        let mut s = Sequencer::new();
        s.event(delivered("x", "200"), 0, &m);
        s.event(delivered("y", "201"), 0, &m);
        drain(&mut s);
        s.event(Event::LinkDown { reason: "eof".into() }, 0, &m);
        s.event(Event::LinkUp { reconnected: true }, 0, &m);
        s.event(cleared("y"), 0, &m);
        m.0.push(call("z", "102", ConnectionState::Alerting));
        s.event(
            Event::Resynced {
                calls_ended: vec![CallId::new("y")],
                calls_found: vec![],
                devices_changed: vec![],
            },
            0,
            &m,
        );
        assert_eq!(
            drain(&mut s),
            [
                "link_down -",
                "link_up -",
                "new x req=0 current=true",
                "new z req=0 current=true",
                "resynced -"
            ]
        );
    }

    #[test]
    fn the_transferring_device_leaving_is_marked_so_other_lines_go_on() {
        let m = Calls::default();
        let mut s = Sequencer::new();
        let ep = |d: &str| ctilink_core::model::Endpoint {
            device: DeviceId::new(d),
            channel: format!("PJSIP/{d}-1"),
        };
        let left = |d: &str| Event::ConnectionCleared {
            call: CallId::new("t"),
            device: DeviceId::new(d),
            channel: format!("PJSIP/{d}-1"),
            state: ConnectionState::Null,
            previous: ConnectionState::Connected,
            cause: None,
            released_by: None,
        };
        s.event(delivered("t", "200"), 0, &m);
        s.event(
            Event::Transferred {
                call: CallId::new("t"),
                kind: ctilink_core::model::TransferKind::Blind,
                transferring: ep("200"),
                transferred: ep("100"),
                targets: vec![ep("300")],
                secondary_call: None,
                caller: Party::new("100", ""),
            },
            0,
            &m,
        );
        s.event(left("200"), 0, &m);
        s.event(left("300"), 0, &m);
        let away: Vec<bool> = std::iter::from_fn(|| s.pop())
            .filter_map(|d| match d {
                Delivery::Event { event: Event::ConnectionCleared { .. }, transferred_away, .. } => {
                    Some(transferred_away)
                }
                _ => None,
            })
            .collect();
        assert_eq!(away, [true, false], "only the transferring device's leaving is marked");
    }

    #[test]
    fn after_lag_the_difference_is_made_up() {
        let m = Calls(vec![call("new", "100", ConnectionState::Alerting)]);
        let mut s = Sequencer::new();
        s.event(delivered("old", "200"), 0, &m);
        drain(&mut s);
        s.event(Event::Lagged { missed: 12 }, 0, &m);
        // The backlog: a call the host never heard of ends (dropped), another rings.
        s.event(cleared("lost"), 0, &m);
        s.event(delivered("new", "100"), 0, &m);
        assert!(s.catching_up());
        assert_eq!(drain(&mut s), ["lagged -", "new new req=0 current=false", "delivered new"]);
        s.caught_up(&m);
        assert!(!s.catching_up());
        assert_eq!(drain(&mut s), ["call_cleared old"]);
        s.event(cleared("new"), 0, &m);
        assert_eq!(drain(&mut s), ["call_cleared new"]);
    }
}
