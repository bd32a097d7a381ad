//! The fan-out: one task takes the upstream link's events in order, keeps a [`Mirror`] of
//! the model at exactly that position in the stream, and hands each event to every
//! attached client that may see it.
//!
//! Everything a client receives in order (its `snapshot` on attach or on request, and
//! each event) is queued under one lock together with the mirror's update, so a client's
//! snapshot is always the state just before the next event it gets: a client mirror built
//! from them is never off by an event. The lock is held for one event's fan-out: index
//! lookups, then a queue push per recipient (the writers do the I/O). Indexes of who
//! monitors each device and who sees each call make an event cost what its recipients
//! cost, not what the number of clients would.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;
use ctilink::model::{Call, CallId, DeviceId, Event, Mirror, Snapshot};
use ctilink::wire::{self, LinkState, ServerMessage, PROTOCOL_VERSION};
use ctilink::Link;
use tokio::sync::broadcast::error::RecvError;

use crate::acl::{Access, Devices};
use crate::config::SlowClientPolicy;
use crate::queue::{Full, Requested, SnapshotBody};
use crate::registry::{lock, Client, Metrics};

/// Calls one client remembers as visible; beyond it, those no longer open are forgotten.
const MAX_VISIBLE: usize = 65_536;
/// Calls the index of viewers holds (twice the mirror's calls); beyond it, those no longer
/// open are forgotten.
const MAX_VIEWED: usize = 200_000;
/// Visible calls cleared since the last `resynced`, kept to filter its `calls_ended`.
const MAX_ENDED: usize = 4096;

#[derive(Debug)]
struct Attached {
    client: Arc<Client>,
    access: Arc<Access>,
    /// Calls a monitored device took part in, until cleared (not kept for a client that
    /// monitors every device: it sees every call).
    visible: HashSet<CallId>,
    ended: VecDeque<CallId>,
}

impl Attached {
    fn all(&self) -> bool {
        self.access.monitor == Devices::All
    }

    /// The devices and calls this client may see now; its visible calls become those.
    fn snapshot(&mut self, mirror: &Mirror) -> Snapshot {
        let mut devices: Vec<_> = match &self.access.monitor {
            Devices::All => mirror.devices().cloned().collect(),
            // A `PBX/*` entry names no device to look up: walk the model instead.
            Devices::Some(list) if list.iter().any(|d| d.ends_with("/*")) => {
                mirror.devices().filter(|d| self.access.monitor.contains(d.id.as_str())).cloned().collect()
            }
            Devices::Some(list) => list.iter().filter_map(|d| mirror.device(d)).cloned().collect(),
        };
        devices.sort_by(|a, b| a.id.cmp(&b.id));
        let mut calls: Vec<Call> = mirror
            .calls()
            .filter(|c| self.access.sees_call(c, self.visible.contains(&c.id)))
            .cloned()
            .collect();
        calls.sort_by(|a, b| a.id.cmp(&b.id));
        self.visible = if self.all() { HashSet::new() } else { calls.iter().map(|c| c.id.clone()).collect() };
        Snapshot { devices, calls }
    }
}

/// What one client gets of one event.
enum Pass {
    /// The event as it is.
    Same,
    /// The events that introduce a call it had not seen, then the event.
    Introduced(Vec<Event>),
    /// A form of the event for this client only (`resynced` with its lists filtered).
    Own(Event),
}

/// What the diagnostics show of the upstream link.
#[derive(Clone, Debug)]
pub struct LinkView {
    pub up: bool,
    pub since: SystemTime,
    pub reason: Option<String>,
}

/// The fan-out's state. Besides the clients, two indexes make one event's fan-out cost
/// what its recipients cost, not what every client costs: who monitors each device, and
/// who sees each call.
#[derive(Debug, Default)]
struct State {
    mirror: Mirror,
    link_up: bool,
    attached: HashMap<u64, Attached>,
    /// Clients by monitored device (explicit lists; a `PBX/*` entry under itself).
    by_device: HashMap<String, Vec<u64>>,
    /// Clients that monitor every device.
    everyone: Vec<u64>,
    /// Clients (not in `everyone`) that see each call.
    viewers: HashMap<CallId, Vec<u64>>,
}

fn add(list: &mut Vec<u64>, id: u64) {
    if !list.contains(&id) {
        list.push(id);
    }
}

impl State {
    fn index(&mut self, id: u64) {
        let Some(a) = self.attached.get(&id) else { return };
        match &a.access.monitor {
            Devices::All => add(&mut self.everyone, id),
            Devices::Some(list) => {
                for d in list {
                    add(self.by_device.entry(d.clone()).or_default(), id);
                }
            }
        }
        for c in &a.visible {
            add(self.viewers.entry(c.clone()).or_default(), id);
        }
    }

    /// Clients (not in `everyone`) that monitor `device`: by its own entry, or by its
    /// PBX's `PBX/*` (once, if a token lists both). Borrowed, not collected: this runs for
    /// every device an event names.
    fn monitors<'a>(&'a self, device: &str) -> impl Iterator<Item = u64> + 'a {
        let own: &'a [u64] = self.by_device.get(device).map_or(&[], Vec::as_slice);
        let by_pbx: &'a [u64] =
            crate::acl::pbx_entry(device).and_then(|e| self.by_device.get(&e)).map_or(&[], Vec::as_slice);
        own.iter().copied().chain(by_pbx.iter().copied().filter(move |id| !own.contains(id)))
    }

    fn unindex(&mut self, id: u64, a: &Attached) {
        self.everyone.retain(|x| *x != id);
        if let Devices::Some(list) = &a.access.monitor {
            for d in list {
                if let Some(v) = self.by_device.get_mut(d) {
                    v.retain(|x| *x != id);
                    if v.is_empty() {
                        self.by_device.remove(d);
                    }
                }
            }
        }
        for c in &a.visible {
            self.unview(c, id);
        }
    }

    fn unview(&mut self, call: &CallId, id: u64) {
        if let Some(v) = self.viewers.get_mut(call) {
            v.retain(|x| *x != id);
            if v.is_empty() {
                self.viewers.remove(call);
            }
        }
    }

    fn remove(&mut self, id: u64) -> Option<Attached> {
        let a = self.attached.remove(&id)?;
        self.unindex(id, &a);
        Some(a)
    }

    /// A snapshot for client `id` at this position of the stream (its visible calls are
    /// reset to the snapshot's).
    fn snapshot_of(&mut self, id: u64) -> Option<Snapshot> {
        let old: Vec<CallId> = self.attached.get(&id)?.visible.iter().cloned().collect();
        for c in &old {
            self.unview(c, id);
        }
        let a = self.attached.get_mut(&id)?;
        let snap = a.snapshot(&self.mirror);
        let now: Vec<CallId> = a.visible.iter().cloned().collect();
        for c in now {
            add(self.viewers.entry(c).or_default(), id);
        }
        Some(snap)
    }

    /// Makes call `c` visible to client `id`.
    fn view(&mut self, c: &CallId, id: u64) {
        if self.viewers.len() >= MAX_VIEWED {
            let mirror = &self.mirror;
            self.viewers.retain(|k, _| mirror.call(k.as_str()).is_some());
        }
        if let Some(a) = self.attached.get_mut(&id) {
            if a.visible.len() >= MAX_VISIBLE {
                let mirror = &self.mirror;
                a.visible.retain(|k| mirror.call(k.as_str()).is_some());
            }
            if a.visible.len() < MAX_VISIBLE && self.viewers.len() < MAX_VIEWED {
                a.visible.insert(c.clone());
                add(self.viewers.entry(c.clone()).or_default(), id);
            }
        }
    }
}

/// The fan-out's shared state.
#[derive(Debug)]
pub struct Hub {
    state: Mutex<State>,
    view: Mutex<LinkView>,
    policy: SlowClientPolicy,
    metrics: Arc<Metrics>,
}

fn encode(msg: &ServerMessage) -> Bytes {
    wire::encode(msg)
}

/// A snapshot encoded once, its request id left open (the queue sets it).
fn snapshot_body(snap: Snapshot) -> SnapshotBody {
    let encoded = encode(&ServerMessage::snapshot(0, snap));
    SnapshotBody::cut(&encoded).unwrap_or_else(|| {
        // The wire encoding always starts with the type and the id; kept as a safe default.
        tracing::error!("a snapshot message did not start with its id: sent as is");
        SnapshotBody::whole(encoded)
    })
}

impl Hub {
    pub fn new(snapshot: Snapshot, link_up: bool, policy: SlowClientPolicy, metrics: Arc<Metrics>) -> Self {
        Hub {
            state: Mutex::new(State { mirror: Mirror::new(snapshot), link_up, ..State::default() }),
            view: Mutex::new(LinkView { up: link_up, since: SystemTime::now(), reason: None }),
            policy,
            metrics,
        }
    }

    pub fn link_view(&self) -> LinkView {
        lock(&self.view).clone()
    }

    /// Devices and calls as the hub holds them (at the position of the last event it
    /// handed out).
    pub fn snapshot(&self) -> Snapshot {
        lock(&self.state).mirror.snapshot()
    }

    /// Devices and calls in the model, without copying it (the diagnostics ask often).
    pub fn counts(&self) -> (usize, usize) {
        let st = lock(&self.state);
        (st.mirror.device_count(), st.mirror.call_count())
    }

    /// Clients attached (authenticated and receiving events).
    pub fn attached(&self) -> usize {
        lock(&self.state).attached.len()
    }

    /// Starts the stream of an authenticated client: `welcome`, its snapshot, then events.
    pub fn attach(&self, client: Arc<Client>, access: Arc<Access>) -> Result<(), Full> {
        let mut st = lock(&self.state);
        let welcome = ServerMessage::Welcome {
            version: PROTOCOL_VERSION,
            identity: access.identity.clone(),
            monitor: access.monitor.to_list(),
            control: access.control.to_list(),
            link: if st.link_up { LinkState::Up } else { LinkState::Down },
        };
        client.queue.push_answer(encode(&welcome))?;
        let id = client.id;
        let mut a = Attached { client, access, visible: HashSet::new(), ended: VecDeque::new() };
        let snap = a.snapshot(&st.mirror);
        a.client.queue.push_snapshot(0, snapshot_body(snap))?;
        st.attached.insert(id, a);
        st.index(id);
        Ok(())
    }

    pub fn detach(&self, id: u64) {
        lock(&self.state).remove(id);
    }

    /// Whether client `id` saw call `call` (a monitored device was in it).
    pub fn seen(&self, id: u64, call: &CallId) -> bool {
        lock(&self.state).attached.get(&id).is_some_and(|a| a.visible.contains(call))
    }

    /// A snapshot a client asked for, in order with its events. One that waits in the
    /// client's queue already answers it (see [`crate::queue`]): a client that asks again
    /// and again without reading costs neither memory nor a walk of the model.
    pub fn snapshot_for(&self, id: u64, request: u64) {
        let mut guard = lock(&self.state);
        let st = &mut *guard;
        let Some(client) = st.attached.get(&id).map(|a| a.client.clone()) else { return };
        match client.queue.request_snapshot(request) {
            Requested::Build => {}
            Requested::Coalesced => return Metrics::add(&self.metrics.snapshots_coalesced, 1),
            Requested::Closed => return,
        }
        let Some(snap) = st.snapshot_of(id) else { return };
        let _ = client.queue.push_snapshot(request, snapshot_body(snap));
    }

    /// Hands one upstream event to every client that may see it.
    pub fn dispatch(&self, ev: &Event) {
        Metrics::add(&self.metrics.upstream_events, 1);
        let mut guard = lock(&self.state);
        let st = &mut *guard;
        // The call as it was, to introduce it to clients that see it from this event on.
        let before = ev.call().and_then(|c| st.mirror.call(c.as_str()).cloned());
        st.mirror.apply(ev);
        match ev {
            Event::LinkUp { .. } => st.link_up = true,
            Event::LinkDown { .. } => st.link_up = false,
            _ => {}
        }
        self.track_link(ev);
        let recipients = recipients(st, ev, before.as_ref());
        let mut shared: Option<Bytes> = None;
        let mut full = Vec::new();
        for (id, pass) in recipients {
            let Some(a) = st.attached.get(&id) else { continue };
            let msgs: Vec<Bytes> = match pass {
                Pass::Same => {
                    vec![shared
                        .get_or_insert_with(|| encode(&ServerMessage::Event { event: ev.clone() }))
                        .clone()]
                }
                Pass::Introduced(mut intro) => {
                    intro.push(ev.clone());
                    intro.into_iter().map(|event| encode(&ServerMessage::Event { event })).collect()
                }
                Pass::Own(event) => vec![encode(&ServerMessage::Event { event })],
            };
            for m in msgs {
                match a.client.queue.push_stream(m) {
                    Ok(()) => {}
                    Err(Full::Stream) => {
                        full.push(id);
                        break;
                    }
                    Err(_) => break,
                }
            }
        }
        for id in full {
            self.overflow(st, id, 1);
        }
        if matches!(ev, Event::Resynced { .. }) {
            for a in st.attached.values_mut() {
                a.ended.clear();
            }
        }
    }

    /// The upstream receiver fell behind and missed `missed` events: the mirror starts
    /// again from the link's model, and every client is sent `lagged` and its snapshot.
    pub fn relag(&self, missed: u64, fresh: Snapshot) {
        Metrics::add(&self.metrics.upstream_lags, 1);
        let mut guard = lock(&self.state);
        let st = &mut *guard;
        st.mirror.replace(fresh);
        let ids: Vec<u64> = st.attached.keys().copied().collect();
        for id in ids {
            let Some(snap) = st.snapshot_of(id) else { continue };
            let Some(a) = st.attached.get(&id) else { continue };
            let dropped = a.client.queue.replace_stream(
                encode(&ServerMessage::Event { event: Event::Lagged { missed } }),
                snapshot_body(snap),
            );
            a.client.dropped(dropped);
            a.client.resynced();
        }
    }

    /// The upstream model after a resync: taken as the mirror's new base, so that what a
    /// party's caller id became without an event is in later snapshots (the clients'
    /// mirrors already hold the resync's events).
    pub fn rebase(&self, fresh: Snapshot) {
        lock(&self.state).mirror.replace(fresh);
    }

    /// Applies the slow-client policy to client `id`, whose stream is full. `pending` is
    /// the number of messages that did not fit.
    fn overflow(&self, st: &mut State, id: u64, pending: usize) {
        let Some(c) = st.attached.get(&id).map(|a| a.client.clone()) else { return };
        match self.policy {
            SlowClientPolicy::Resync => {
                let Some(snap) = st.snapshot_of(id) else { return };
                let behind = c.queue.depth() + pending;
                let dropped = c.queue.replace_stream(
                    encode(&ServerMessage::Event { event: Event::Lagged { missed: behind as u64 } }),
                    snapshot_body(snap),
                );
                c.dropped(dropped + pending);
                c.resynced();
                Metrics::add(&self.metrics.dropped, (dropped + pending) as u64);
                Metrics::add(&self.metrics.slow_resyncs, 1);
                tracing::info!(
                    "client {} ({}) fell {behind} messages behind: sent a fresh snapshot",
                    c.id,
                    c.addr
                );
            }
            SlowClientPolicy::Disconnect => {
                let reason = format!("too slow: more than {} messages waiting", c.queue.depth());
                c.end(reason.clone());
                let dropped = c.queue.close_with(encode(&ServerMessage::Bye { reason })).unwrap_or(0);
                c.dropped(dropped + pending);
                Metrics::add(&self.metrics.dropped, (dropped + pending) as u64);
                Metrics::add(&self.metrics.slow_disconnects, 1);
                tracing::info!("client {} ({}) too slow: disconnected", c.id, c.addr);
                st.remove(id);
            }
        }
    }

    fn track_link(&self, ev: &Event) {
        let (up, reason) = match ev {
            Event::LinkUp { .. } => (true, None),
            Event::LinkDown { reason } => (false, Some(reason.clone())),
            _ => return,
        };
        let mut v = lock(&self.view);
        if v.up != up {
            v.since = SystemTime::now();
        }
        v.up = up;
        v.reason = reason;
    }
}

/// The devices an event names: its device, and the parties of a transfer, a diversion
/// or a conference. A monitored one makes the event's call visible.
fn named(ev: &Event) -> Vec<&DeviceId> {
    let mut v: Vec<&DeviceId> = ev.device().into_iter().collect();
    match ev {
        Event::Transferred { transferred, targets, .. } => {
            v.push(&transferred.device);
            v.extend(targets.iter().map(|t| &t.device));
        }
        Event::Diverted { from, .. } => v.push(&from.device),
        Event::Conferenced { parties, .. } => v.extend(parties.iter()),
        _ => {}
    }
    v
}

/// Who gets `ev`, and in what form (the rule is in `acl.rs`). Updates who sees which
/// call.
fn recipients(st: &mut State, ev: &Event, before: Option<&Call>) -> Vec<(u64, Pass)> {
    match ev {
        Event::Lagged { .. } => Vec::new(),
        Event::LinkUp { .. } | Event::LinkDown { .. } => {
            st.attached.keys().map(|id| (*id, Pass::Same)).collect()
        }
        Event::UserEvent { call: None, .. } => st
            .attached
            .iter()
            .filter(|(_, a)| a.access.user_events)
            .map(|(id, _)| (*id, Pass::Same))
            .collect(),
        Event::Resynced { calls_ended, calls_found, devices_changed } => st
            .attached
            .iter()
            .map(|(id, a)| {
                if a.all() {
                    return (*id, Pass::Same);
                }
                let own = Event::Resynced {
                    calls_ended: calls_ended.iter().filter(|c| a.ended.contains(c)).cloned().collect(),
                    calls_found: calls_found.iter().filter(|c| a.visible.contains(*c)).cloned().collect(),
                    devices_changed: devices_changed
                        .iter()
                        .filter(|d| a.access.monitor.contains(d.as_str()))
                        .cloned()
                        .collect(),
                };
                (*id, Pass::Own(own))
            })
            .collect(),
        _ => {
            let mut out: Vec<(u64, Pass)> = st.everyone.iter().map(|id| (*id, Pass::Same)).collect();
            let Some(call) = ev.call() else {
                // A device event.
                if let Some(d) = ev.device() {
                    out.extend(st.monitors(d.as_str()).map(|id| (id, Pass::Same)));
                }
                return out;
            };
            let viewers: Vec<u64> = st.viewers.get(call).cloned().unwrap_or_default();
            out.extend(viewers.iter().map(|id| (*id, Pass::Same)));
            let mut newly: Vec<u64> = Vec::new();
            for d in named(ev) {
                for id in st.monitors(d.as_str()) {
                    if !viewers.contains(&id) && !newly.contains(&id) {
                        newly.push(id);
                    }
                }
            }
            for id in newly {
                st.view(call, id);
                let pass = match before {
                    Some(b) if !b.connections.is_empty() => Pass::Introduced(Mirror::introduce(b)),
                    _ => Pass::Same,
                };
                out.push((id, pass));
            }
            if matches!(ev, Event::CallCleared { .. }) {
                for id in st.viewers.remove(call).unwrap_or_default() {
                    if let Some(a) = st.attached.get_mut(&id) {
                        a.visible.remove(call);
                        if a.ended.len() >= MAX_ENDED {
                            a.ended.pop_front();
                        }
                        a.ended.push_back(call.clone());
                    }
                }
            }
            out
        }
    }
}

/// The hub's task: the upstream link's events into the hub until the link closes.
pub async fn run(hub: Arc<Hub>, link: Arc<dyn Link>, mut rx: ctilink::fanout::Receiver<Event>) {
    loop {
        match rx.recv().await {
            Ok(ev) => {
                hub.dispatch(&ev);
                if matches!(ev, Event::Resynced { .. }) {
                    hub.rebase(link.snapshot());
                }
            }
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(
                    "the gateway's fan-out missed {n} upstream events; clients get a fresh snapshot"
                );
                hub.relag(n, link.snapshot());
            }
            Err(RecvError::Closed) => break,
        }
    }
}
