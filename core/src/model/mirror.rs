//! A copy of the model kept from the outside: a [`Snapshot`] brought forward by applying
//! the normalized [`Event`]s that followed it. This is how a client of the gateway (which
//! sees events, not PBX channels) keeps devices and calls, and how the gateway itself
//! keeps the position in the event stream that each new client's snapshot must match.
//!
//! It is pure and deterministic like the tracker. What events say is all it knows, so it
//! matches the tracker's own snapshot wherever the tracker reports every change as an
//! event. Known gaps (docs/gateway.md, "The mirror"): a device's `interface` is only what
//! the first snapshot had; a call's `called` party is what its first `originated` or
//! `delivered` said (the tracker may later learn the dialed number from the PBX without an
//! event); a device the PBX reported without a state change is not known until an event
//! names it.

use std::collections::HashMap;

use super::call::{Call, Connection, Diversion};
use super::device::Device;
use super::event::{Endpoint, Event, FailureReason};
use super::ids::{CallId, DeviceId};
use super::state::{ConnectionState, DeviceState, Party};
use super::tracker::Snapshot;

/// Bounds of a mirror, like the tracker's: a stream that never clears its calls cannot
/// grow memory without limit. A call or device beyond the bound is not added (its events
/// are ignored) until others are gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MirrorLimits {
    /// Calls held at once (default 100,000).
    pub max_calls: usize,
    /// Devices held (default 100,000).
    pub max_devices: usize,
}

impl Default for MirrorLimits {
    fn default() -> Self {
        MirrorLimits { max_calls: 100_000, max_devices: 100_000 }
    }
}

/// Devices and calls, kept in step with an event stream.
#[derive(Clone, Debug, Default)]
pub struct Mirror {
    devices: HashMap<DeviceId, Device>,
    calls: HashMap<CallId, Call>,
    limits: MirrorLimits,
}

fn new_call(id: &CallId) -> Call {
    Call {
        id: id.clone(),
        calling_device: None,
        caller: Party::default(),
        called: Party::default(),
        connections: Vec::new(),
        answered: false,
        diverted: None,
        click_to_dial: false,
    }
}

fn new_device(id: &DeviceId) -> Device {
    Device {
        id: id.clone(),
        interface: None,
        state: DeviceState::Unknown,
        presence: None,
        do_not_disturb: false,
        forward_to: None,
        forward_busy: None,
        forward_no_answer: None,
    }
}

/// Sets the state of a connection, adding it if new. A queue's connection (no channel)
/// stays last, where the tracker shows it.
fn set_conn(call: &mut Call, device: &DeviceId, channel: &str, state: ConnectionState) {
    if let Some(c) = call.connections.iter_mut().find(|c| c.device == *device && c.channel == channel) {
        c.state = state;
        return;
    }
    let conn = Connection { device: device.clone(), channel: channel.to_owned(), state };
    match call.connections.iter().position(|c| c.channel.is_empty()) {
        Some(q) if !channel.is_empty() => call.connections.insert(q, conn),
        _ => call.connections.push(conn),
    }
}

impl Mirror {
    /// A mirror starting from `snapshot`, with the default limits.
    pub fn new(snapshot: Snapshot) -> Self {
        Self::with_limits(snapshot, MirrorLimits::default())
    }

    /// A mirror starting from `snapshot`; what is beyond `limits` is left out.
    pub fn with_limits(snapshot: Snapshot, limits: MirrorLimits) -> Self {
        let mut m = Mirror { devices: HashMap::new(), calls: HashMap::new(), limits };
        m.replace(snapshot);
        m
    }

    /// Starts again from `snapshot` (after a reconnect or a lag).
    pub fn replace(&mut self, snapshot: Snapshot) {
        self.devices =
            snapshot.devices.into_iter().take(self.limits.max_devices).map(|d| (d.id.clone(), d)).collect();
        self.calls =
            snapshot.calls.into_iter().take(self.limits.max_calls).map(|c| (c.id.clone(), c)).collect();
    }

    /// Devices and calls now, each sorted by id (as the tracker's snapshot is).
    pub fn snapshot(&self) -> Snapshot {
        let mut devices: Vec<Device> = self.devices.values().cloned().collect();
        devices.sort_by(|a, b| a.id.cmp(&b.id));
        let mut calls: Vec<Call> = self.calls.values().cloned().collect();
        calls.sort_by(|a, b| a.id.cmp(&b.id));
        Snapshot { devices, calls }
    }

    pub fn device(&self, id: &str) -> Option<&Device> {
        self.devices.get(id)
    }

    pub fn call(&self, id: &str) -> Option<&Call> {
        self.calls.get(id)
    }

    /// The calls now, in no particular order.
    pub fn calls(&self) -> impl Iterator<Item = &Call> {
        self.calls.values()
    }

    /// The devices now, in no particular order.
    pub fn devices(&self) -> impl Iterator<Item = &Device> {
        self.devices.values()
    }

    /// Number of calls held.
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// Number of devices held.
    pub fn device_count(&self) -> usize {
        self.devices.len()
    }

    fn call_mut(&mut self, id: &CallId) -> Option<&mut Call> {
        if !self.calls.contains_key(id) {
            if self.calls.len() >= self.limits.max_calls {
                return None;
            }
            self.calls.insert(id.clone(), new_call(id));
        }
        self.calls.get_mut(id)
    }

    fn device_mut(&mut self, id: &DeviceId) -> Option<&mut Device> {
        if !self.devices.contains_key(id) {
            if self.devices.len() >= self.limits.max_devices {
                return None;
            }
            self.devices.insert(id.clone(), new_device(id));
        }
        self.devices.get_mut(id)
    }

    /// Applies one event. Events that change nothing in the model (link events,
    /// `resynced`, user events) are ignored; so is an event that names a call it cannot
    /// know (a `connection_cleared` of a call never seen). `device_removed` drops the
    /// device (a later event naming it adds it again, as new).
    pub fn apply(&mut self, ev: &Event) {
        match ev {
            Event::Originated { call, device, channel, state, caller, called } => {
                let Some(c) = self.call_mut(call) else { return };
                c.calling_device = Some(device.clone());
                c.caller = caller.clone();
                c.called = called.clone();
                c.click_to_dial = false;
                set_conn(c, device, channel, *state);
            }
            Event::Delivered {
                call,
                device,
                channel,
                state,
                caller,
                called,
                calling_device,
                click_to_dial,
            } => {
                let fresh = !self.calls.contains_key(call);
                let Some(c) = self.call_mut(call) else { return };
                if *click_to_dial {
                    // The user's own phone rings: nobody is calling yet.
                    c.click_to_dial = true;
                } else if fresh || (c.calling_device.is_none() && calling_device.is_some()) {
                    c.calling_device = calling_device.clone();
                    c.caller = caller.clone();
                    c.called = Party { number: called.number.clone(), ..Party::default() };
                }
                set_conn(c, device, channel, *state);
            }
            Event::Established { call, device, channel, state, .. } => {
                let Some(c) = self.call_mut(call) else { return };
                c.answered = true;
                set_conn(c, device, channel, *state);
            }
            Event::Held { call, device, channel, state }
            | Event::Retrieved { call, device, channel, state }
            | Event::Conferenced { call, device, channel, state, .. }
            | Event::Failed { call, device, channel, state, .. } => {
                let Some(c) = self.call_mut(call) else { return };
                set_conn(c, device, channel, *state);
            }
            Event::Queued { call, device, state, .. } => {
                let Some(c) = self.call_mut(call) else { return };
                set_conn(c, device, "", *state);
            }
            Event::Diverted { call, from, reason, .. } => {
                let Some(c) = self.call_mut(call) else { return };
                c.diverted = Some(Diversion { from: from.clone(), reason: *reason });
            }
            Event::Transferred { call, transferred, targets, secondary_call, caller, kind, .. } => {
                self.transferred(call, transferred, targets, secondary_call.as_ref(), caller, *kind)
            }
            Event::ConnectionCleared { call, device, channel, .. } => {
                if let Some(c) = self.calls.get_mut(call) {
                    c.connections.retain(|k| !(k.device == *device && k.channel == *channel));
                    if c.calling_device.as_ref() == Some(device)
                        && !c.connections.iter().any(|k| k.device == *device)
                    {
                        // The calling party hung up: the call no longer has one.
                        c.calling_device = None;
                        c.caller = Party::default();
                        c.called = Party::default();
                    }
                }
            }
            Event::CallCleared { call, .. } => {
                self.calls.remove(call);
            }
            Event::DeviceState { device, state, .. } => {
                if let Some(d) = self.device_mut(device) {
                    d.state = *state;
                }
            }
            Event::DeviceRemoved { device } => {
                self.devices.remove(device);
            }
            Event::Presence { device, presence, .. } => {
                if let Some(d) = self.device_mut(device) {
                    d.presence = Some(presence.clone());
                }
            }
            Event::DoNotDisturb { device, enabled } => {
                if let Some(d) = self.device_mut(device) {
                    d.do_not_disturb = *enabled;
                }
            }
            Event::Forwarding { device, kind, to } => {
                if let Some(d) = self.device_mut(device) {
                    *d.forwarding_mut(*kind) = to.clone();
                }
            }
            Event::UserEvent { .. }
            | Event::Resynced { .. }
            | Event::LinkUp { .. }
            | Event::LinkDown { .. }
            | Event::Lagged { .. } => {}
        }
    }

    /// The transferee now calls the targets in `call`: their connections move in from the
    /// consultation call (or wherever they are) with their state.
    fn transferred(
        &mut self,
        call: &CallId,
        transferred: &Endpoint,
        targets: &[Endpoint],
        secondary: Option<&CallId>,
        caller: &Party,
        kind: super::event::TransferKind,
    ) {
        let mut moved = Vec::new();
        for t in targets {
            let from = secondary.filter(|s| *s != call).cloned().or_else(|| {
                self.calls
                    .values()
                    .find(|c| {
                        c.id != *call
                            && c.connections.iter().any(|k| k.device == t.device && k.channel == t.channel)
                    })
                    .map(|c| c.id.clone())
            });
            let Some(src) = from.and_then(|id| self.calls.get_mut(&id)) else { continue };
            if let Some(i) =
                src.connections.iter().position(|k| k.device == t.device && k.channel == t.channel)
            {
                moved.push(src.connections.remove(i));
            }
        }
        let Some(c) = self.call_mut(call) else { return };
        c.calling_device = Some(transferred.device.clone());
        c.caller = caller.clone();
        if kind == super::event::TransferKind::Blind {
            if let Some(t) = targets.first() {
                c.called = Party { number: t.device.to_string(), ..Party::default() };
            }
        }
        for k in moved {
            if k.state == ConnectionState::Connected {
                c.answered = true;
            }
            set_conn(c, &k.device, &k.channel, k.state);
        }
    }

    /// The events that report `call` as it stands to a consumer that has not seen it:
    /// the calling party first (a call's first event), then each connection's state, as
    /// a resync reports a call it found. The gateway sends them when a call becomes
    /// visible to a client midway (a monitored device joins a call in progress).
    pub fn introduce(call: &Call) -> Vec<Event> {
        let mut out = Vec::new();
        let mut conns: Vec<&Connection> = call.connections.iter().collect();
        conns.sort_by_key(|k| Some(&k.device) != call.calling_device.as_ref());
        for k in conns {
            connection_events(call, k, ConnectionState::Null, &mut out);
        }
        out
    }

    /// The events that bring a consumer of this mirror to `fresh` (what a server or the
    /// PBX holds now, after a reconnect or a lag), ending with `Resynced`, in the form the
    /// AMI link reports its own resync: connections and calls that are gone are cleared,
    /// calls found are reported as their connections' states, device changes as device
    /// events, devices `fresh` no longer has as `DeviceRemoved`. The mirror then holds
    /// `fresh`.
    pub fn resync(&mut self, fresh: Snapshot) -> Vec<Event> {
        let mut out = Vec::new();
        let new_calls: HashMap<&CallId, &Call> = fresh.calls.iter().map(|c| (&c.id, c)).collect();
        let mut old_ids: Vec<&CallId> = self.calls.keys().collect();
        old_ids.sort();
        let mut calls_ended = Vec::new();
        for id in old_ids {
            let old = &self.calls[id];
            match new_calls.get(id) {
                None => {
                    for k in &old.connections {
                        out.push(cleared(id, k));
                    }
                    out.push(Event::CallCleared {
                        call: id.clone(),
                        cause: None,
                        answered: old.answered,
                        merged_into: None,
                    });
                    calls_ended.push(id.clone());
                }
                Some(now) => {
                    for k in &old.connections {
                        if !now.connections.iter().any(|n| n.device == k.device && n.channel == k.channel) {
                            out.push(cleared(id, k));
                        }
                    }
                    for n in &now.connections {
                        let was = old
                            .connections
                            .iter()
                            .find(|k| k.device == n.device && k.channel == n.channel)
                            .map_or(ConnectionState::Null, |k| k.state);
                        if was != n.state {
                            connection_events(now, n, was, &mut out);
                        }
                    }
                }
            }
        }
        let mut calls_found = Vec::new();
        for now in &fresh.calls {
            if self.calls.contains_key(&now.id) {
                continue;
            }
            calls_found.push(now.id.clone());
            out.extend(Self::introduce(now));
        }
        let mut devices_changed = Vec::new();
        for d in &fresh.devices {
            let old = self.devices.get(&d.id);
            let before = out.len();
            device_events(old, d, &mut out);
            if out.len() > before {
                devices_changed.push(d.id.clone());
            }
        }
        // Devices the fresh model no longer has (the PBX was restarted with other
        // extensions): removed, as the AMI link's resync reports them.
        let kept: std::collections::HashSet<&DeviceId> = fresh.devices.iter().map(|d| &d.id).collect();
        let mut removed: Vec<&DeviceId> = self.devices.keys().filter(|d| !kept.contains(d)).collect();
        removed.sort();
        for d in removed {
            out.push(Event::DeviceRemoved { device: d.clone() });
            devices_changed.push(d.clone());
        }
        out.push(Event::Resynced { calls_ended, calls_found, devices_changed });
        self.replace(fresh);
        out
    }
}

fn cleared(call: &CallId, k: &Connection) -> Event {
    Event::ConnectionCleared {
        call: call.clone(),
        device: k.device.clone(),
        channel: k.channel.clone(),
        state: ConnectionState::Null,
        previous: k.state,
        cause: None,
        released_by: None,
    }
}

/// The events that move connection `k` of `call` from `was` to its state, along the state
/// table (a connection that is held now was connected first).
fn connection_events(call: &Call, k: &Connection, was: ConnectionState, out: &mut Vec<Event>) {
    use ConnectionState as S;
    let (id, device, channel) = (call.id.clone(), k.device.clone(), k.channel.clone());
    let calling = call.calling_device.as_ref() == Some(&k.device);
    let connected = |out: &mut Vec<Event>| {
        if calling {
            out.push(Event::Originated {
                call: id.clone(),
                device: device.clone(),
                channel: channel.clone(),
                state: S::Connected,
                caller: call.caller.clone(),
                called: call.called.clone(),
            });
        } else {
            out.push(Event::Established {
                call: id.clone(),
                device: device.clone(),
                channel: channel.clone(),
                state: S::Connected,
                caller: call.caller.clone(),
                called: call.called.clone(),
                calling_device: call.calling_device.clone(),
                click_to_dial: false,
            });
        }
    };
    match k.state {
        S::Alerting if was.can_become(S::Alerting) => out.push(Event::Delivered {
            call: id,
            device,
            channel,
            state: S::Alerting,
            caller: call.caller.clone(),
            called: call.called.clone(),
            calling_device: call.calling_device.clone(),
            click_to_dial: call.click_to_dial,
        }),
        S::Connected if was == S::Held => {
            out.push(Event::Retrieved { call: id, device, channel, state: S::Connected })
        }
        S::Connected if was.can_become(S::Connected) => connected(out),
        S::Held if was == S::Connected => out.push(Event::Held { call: id, device, channel, state: S::Held }),
        S::Held if was.can_become(S::Connected) => {
            connected(out);
            out.push(Event::Held { call: id, device, channel, state: S::Held });
        }
        S::Queued if was == S::Null => out.push(Event::Queued {
            call: id,
            queue: device.to_string(),
            device,
            state: S::Queued,
            caller: call.caller.clone(),
            position: None,
        }),
        S::Failed if was.can_become(S::Failed) => out.push(Event::Failed {
            call: id,
            device,
            channel,
            state: S::Failed,
            reason: FailureReason::Other,
            cause: None,
        }),
        // `initiated` has no event of its own, and no other move is in the table.
        _ => {}
    }
}

/// The device events that move `old` (or a device not seen before) to `now`.
fn device_events(old: Option<&Device>, now: &Device, out: &mut Vec<Event>) {
    let previous = old.map_or(DeviceState::Unknown, |d| d.state);
    if previous != now.state {
        out.push(Event::DeviceState { device: now.id.clone(), state: now.state, previous });
    }
    if old.map_or(now.presence.is_some(), |d| d.presence != now.presence) {
        if let Some(p) = &now.presence {
            out.push(Event::Presence {
                device: now.id.clone(),
                presence: p.clone(),
                subtype: String::new(),
                message: String::new(),
            });
        }
    }
    if old.map_or(now.do_not_disturb, |d| d.do_not_disturb != now.do_not_disturb) {
        out.push(Event::DoNotDisturb { device: now.id.clone(), enabled: now.do_not_disturb });
    }
    for kind in [super::ForwardKind::Immediate, super::ForwardKind::Busy, super::ForwardKind::NoAnswer] {
        let before = old.and_then(|d| d.forwarding(kind));
        if before != now.forwarding(kind) {
            out.push(Event::Forwarding {
                device: now.id.clone(),
                kind,
                to: now.forwarding(kind).map(str::to_owned),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CallId, DeviceId};

    fn dev(id: &str, state: DeviceState) -> Device {
        Device { state, ..new_device(&DeviceId::new(id)) }
    }

    fn party(n: &str) -> Party {
        Party::new(n, "")
    }

    fn call_events() -> Vec<Event> {
        let call = CallId::new("c1");
        vec![
            Event::Originated {
                call: call.clone(),
                device: "101".into(),
                channel: "PJSIP/101-1".into(),
                state: ConnectionState::Connected,
                caller: party("101"),
                called: party("100"),
            },
            Event::Delivered {
                call: call.clone(),
                device: "100".into(),
                channel: "PJSIP/100-2".into(),
                state: ConnectionState::Alerting,
                caller: party("101"),
                called: Party::new("100", "Phone 100"),
                calling_device: Some("101".into()),
                click_to_dial: false,
            },
            Event::DeviceState {
                device: "100".into(),
                state: DeviceState::Ringing,
                previous: DeviceState::Idle,
            },
            Event::Established {
                call: call.clone(),
                device: "100".into(),
                channel: "PJSIP/100-2".into(),
                state: ConnectionState::Connected,
                caller: party("101"),
                called: party("100"),
                calling_device: Some("101".into()),
                click_to_dial: false,
            },
            Event::Held {
                call,
                device: "100".into(),
                channel: "PJSIP/100-2".into(),
                state: ConnectionState::Held,
            },
        ]
    }

    fn start() -> Snapshot {
        Snapshot {
            devices: vec![dev("100", DeviceState::Idle), dev("101", DeviceState::InUse)],
            calls: vec![],
        }
    }

    #[test]
    fn events_build_the_call_and_clearing_removes_it() {
        let mut m = Mirror::new(start());
        for e in call_events() {
            m.apply(&e);
        }
        let c = m.call("c1").expect("the call");
        assert_eq!(c.calling_device.as_ref().map(DeviceId::as_str), Some("101"));
        assert!(c.answered);
        assert_eq!(c.called, party("100"), "the calling party's dialed number, no name");
        let states: Vec<_> = c.connections.iter().map(|k| (k.device.as_str(), k.state)).collect();
        assert_eq!(states, [("101", ConnectionState::Connected), ("100", ConnectionState::Held)]);
        assert_eq!(m.device("100").map(|d| d.state), Some(DeviceState::Ringing));
        m.apply(&Event::ConnectionCleared {
            call: "c1".into(),
            device: "100".into(),
            channel: "PJSIP/100-2".into(),
            state: ConnectionState::Null,
            previous: ConnectionState::Held,
            cause: None,
            released_by: None,
        });
        assert_eq!(m.call("c1").map(|c| c.connections.len()), Some(1));
        m.apply(&Event::CallCleared { call: "c1".into(), cause: None, answered: true, merged_into: None });
        assert!(m.snapshot().calls.is_empty());
    }

    #[test]
    fn applying_events_twice_ends_in_the_same_model() {
        // The gateway subscribes before it takes its first snapshot, so the events in
        // between may be applied to a snapshot that already holds them.
        let mut once = Mirror::new(start());
        let mut twice = Mirror::new(start());
        for e in call_events() {
            once.apply(&e);
        }
        let mut pre = Mirror::new(start());
        for e in &call_events()[..3] {
            pre.apply(e);
        }
        twice.replace(pre.snapshot());
        for e in call_events() {
            twice.apply(&e);
        }
        assert_eq!(once.snapshot(), twice.snapshot());
    }

    #[test]
    fn resync_events_bring_another_mirror_to_the_fresh_snapshot() {
        let mut old = Mirror::new(start());
        for e in &call_events()[..2] {
            old.apply(e);
        }
        old.apply(&Event::Queued {
            call: "q".into(),
            device: "support".into(),
            queue: "support".into(),
            state: ConnectionState::Queued,
            caller: party("0301"),
            position: Some(1),
        });
        let mut fresh = Mirror::new(start());
        for e in call_events() {
            fresh.apply(&e);
        }
        fresh.apply(&Event::DoNotDisturb { device: "101".into(), enabled: true });
        fresh.apply(&Event::Forwarding {
            device: "100".into(),
            kind: crate::model::ForwardKind::Busy,
            to: Some("200".into()),
        });
        let target = fresh.snapshot();
        let mut follower = old.clone();
        let events = old.resync(target.clone());
        assert_eq!(old.snapshot(), target, "the mirror holds the fresh snapshot");
        for e in &events {
            follower.apply(e);
        }
        let got = follower.snapshot();
        assert_eq!(got.devices, target.devices);
        assert_eq!(got.calls.len(), 1, "{events:#?}");
        assert_eq!(got.calls[0].connections, target.calls[0].connections, "{events:#?}");
        let Some(Event::Resynced { calls_ended, calls_found, devices_changed }) = events.last() else {
            panic!("no resynced: {events:#?}")
        };
        assert_eq!(calls_ended, &[CallId::new("q")]);
        assert!(calls_found.is_empty());
        assert_eq!(devices_changed.len(), 2);
        // Held came after Established: the connection never jumped a state.
        let kinds: Vec<&str> = events.iter().map(Event::kind).collect();
        assert!(kinds.windows(2).any(|w| w == ["established", "held"]), "{kinds:?}");
    }

    #[test]
    fn resync_removes_devices_the_fresh_snapshot_lacks_and_a_follower_drops_them() {
        let mut m = Mirror::new(start());
        let mut follower = m.clone();
        let fresh = Snapshot {
            devices: vec![dev("101", DeviceState::InUse), dev("102", DeviceState::Idle)],
            calls: vec![],
        };
        let events = m.resync(fresh.clone());
        let kinds: Vec<String> = events
            .iter()
            .map(|e| format!("{} {}", e.kind(), e.device().map_or("-", |d| d.as_str())))
            .collect();
        assert_eq!(kinds, ["device_state 102", "device_removed 100", "resynced -"]);
        let Some(Event::Resynced { devices_changed, .. }) = events.last() else { panic!("{events:#?}") };
        assert_eq!(devices_changed, &[DeviceId::new("102"), DeviceId::new("100")]);
        assert_eq!(m.snapshot(), fresh);
        for e in &events {
            follower.apply(e);
        }
        assert_eq!(follower.snapshot(), fresh, "the events alone bring a follower there");
    }

    #[test]
    fn a_call_found_on_resync_starts_with_its_calling_party() {
        let mut fresh = Mirror::new(start());
        for e in call_events() {
            fresh.apply(&e);
        }
        let mut m = Mirror::new(start());
        let events = m.resync(fresh.snapshot());
        let first = events.iter().find(|e| e.call().is_some()).expect("call events");
        assert_eq!(first.kind(), "originated", "{events:#?}");
    }

    #[test]
    fn limits_bound_the_calls() {
        let mut m = Mirror::with_limits(Snapshot::default(), MirrorLimits { max_calls: 1, max_devices: 1 });
        for id in ["a", "b"] {
            m.apply(&Event::Failed {
                call: id.into(),
                device: "100".into(),
                channel: "x".into(),
                state: ConnectionState::Failed,
                reason: FailureReason::Busy,
                cause: None,
            });
            m.apply(&Event::DoNotDisturb { device: id.into(), enabled: true });
        }
        assert_eq!(m.call_count(), 1);
        assert_eq!(m.devices().count(), 1);
    }
}
