//! [`RemoteLink`]: one PBX as every gateway of a cluster sees it, owner or not. Events
//! come from the PBX's subjects this gateway watches, commands and snapshots go to the
//! owner as NATS requests.
//!
//! The link keeps a [`Mirror`] of what it passed on, so that a new owner, an owner that
//! went silent or a loss on the NATS connection shows to the hub exactly as a reconnect
//! of the PBX link does: `link_down`, then `link_up`, the difference, and `resynced`.
//!
//! Order and duplicates: an event of a call goes out on the subject of every device in
//! it, so a gateway watching two of them gets it twice; `Seq` drops the second copy.
//! The NATS client hands messages to the subscriptions in the order they arrived, so
//! when a message of one subscription is taken, all earlier ones are already waiting in
//! theirs: the link takes everything waiting at once and applies it in `Seq` order.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_nats::{Client, Message};
use bytes::Bytes;
use ctilink::command::{Command, Outcome};
use ctilink::fanout;
use ctilink::link::{BoxFuture, Link, LinkStatus};
use ctilink::model::{Call, Device, Event, Mirror, Snapshot};
use ctilink::wire::CommandResult;
use ctilink::{Error, Result};
use futures_util::{FutureExt, StreamExt};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::proto::{self, SnapReply};
use super::subjects;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Which devices of the PBX this gateway's clients may see, and so which subjects it
/// subscribes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Watch {
    All,
    Some(HashSet<String>),
}

impl Watch {
    fn contains(&self, device: &str) -> bool {
        match self {
            Watch::All => true,
            Watch::Some(s) => s.contains(device),
        }
    }

    /// The snapshot cut to the watched devices and the calls that have one of them.
    fn cut(&self, mut s: Snapshot) -> Snapshot {
        if let Watch::Some(_) = self {
            s.devices.retain(|d| self.contains(d.id.as_str()));
            s.calls.retain(|c| c.connections.iter().any(|k| self.contains(k.device.as_str())));
        }
        s
    }
}

/// How often the link checks its owner and, while not in step, asks for a snapshot.
const TICK: Duration = Duration::from_millis(250);
/// How long a snapshot request waits for its first part.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(2);

/// Timing of the owner's heartbeat, shared by owners and links.
#[derive(Clone, Copy, Debug)]
pub struct Beat {
    /// How often an owner says it is alive.
    pub every: Duration,
    /// An owner not heard from this long is gone.
    pub silence: Duration,
}

impl Beat {
    /// A sixth of the lease's TTL, at most a second; gone after three missed.
    pub fn of(ttl: Duration) -> Self {
        let every = (ttl / 6).min(Duration::from_secs(1));
        Beat { every, silence: every * 3 }
    }
}

/// How a [`RemoteLink`] follows its PBX.
#[derive(Clone, Debug)]
pub struct Options {
    /// The devices whose subjects it subscribes to.
    pub watch: Watch,
    pub beat: Beat,
    /// A command without an answer this long fails with `LinkDown`.
    pub command_timeout: Duration,
    /// Set by the NATS client when it dropped messages for this gateway.
    pub lost: Arc<AtomicBool>,
    /// The event queue's bounds, as a link's ([`fanout`]).
    pub event_queue: usize,
    pub event_queue_bytes: usize,
}

/// One PBX of a cluster, as a [`Link`].
#[derive(Debug)]
pub struct RemoteLink {
    inner: Arc<Inner>,
    task: JoinHandle<()>,
}

#[derive(Debug)]
struct Inner {
    pbx: String,
    client: Client,
    watch: Watch,
    command_timeout: Duration,
    beat: Beat,
    state: Mutex<State>,
    /// Set by the NATS client's slow-consumer report: messages were dropped.
    lost: Arc<AtomicBool>,
}

#[derive(Debug)]
struct State {
    mirror: Mirror,
    status: LinkStatus,
    /// The owner's epoch and the last event taken from it; `synced` once a snapshot of
    /// this epoch is in the mirror.
    epoch: u64,
    seq: u64,
    synced: bool,
    ever_up: bool,
    heard: Instant,
    owner: String,
    tx: Option<fanout::Sender<Event>>,
}

impl State {
    fn emit(&mut self, ev: Event) {
        match &ev {
            Event::LinkUp { .. } => {
                self.status = LinkStatus::Up;
                self.ever_up = true;
            }
            Event::LinkDown { reason } => self.status = LinkStatus::Down { reason: reason.clone() },
            _ => {}
        }
        if let Some(tx) = &self.tx {
            let _ = tx.send(ev);
        }
    }

    /// Messages as `(epoch, seq, heartbeat, payload)`: sorted into the owner's order,
    /// those of an older owner, copies and those before the snapshot dropped, the rest
    /// applied and passed on. A newer owner's message means the link missed a takeover.
    fn take(&mut self, pbx: &str, mut items: Vec<(u64, u64, bool, Bytes)>) {
        items.sort_by_key(|(e, s, hb, _)| (*e, *s, !*hb));
        for (epoch, seq, hb, payload) in items {
            if epoch < self.epoch || !self.synced {
                continue;
            }
            if epoch > self.epoch {
                self.unsync(format!("PBX {pbx}: a new owner took it over"));
                continue;
            }
            self.heard = Instant::now();
            if hb || seq <= self.seq {
                continue;
            }
            self.seq = seq;
            match serde_json::from_slice::<Event>(&payload) {
                Ok(ev) => {
                    self.mirror.apply(&ev);
                    self.emit(ev);
                }
                Err(e) => tracing::warn!("PBX {pbx}: an event from its owner that does not parse: {e}"),
            }
        }
    }

    /// The owner's answer to a snapshot request (or why none came): in step again when
    /// its PBX link is up; down, and told so if it was up, otherwise.
    fn rebase(&mut self, pbx: &str, watch: &Watch, reply: std::result::Result<SnapReply, String>) {
        let reply = match reply {
            Ok(r) => r,
            Err(why) => {
                self.down(format!("PBX {pbx}: {why}"));
                self.owner.clear();
                return;
            }
        };
        if reply.epoch < self.epoch {
            return;
        }
        self.owner = reply.node.clone();
        if !reply.up {
            // Keep what the clients have until the owner's link is up: a snapshot of a
            // PBX not yet connected would remove every device.
            self.epoch = reply.epoch;
            self.down(format!("PBX {pbx}: {}", reply.reason));
            return;
        }
        let fresh = watch.cut(Snapshot { devices: reply.devices, calls: reply.calls });
        let events = self.mirror.resync(fresh);
        self.epoch = reply.epoch;
        self.seq = reply.seq;
        self.synced = true;
        self.heard = Instant::now();
        if self.status != LinkStatus::Up {
            let reconnected = self.ever_up;
            self.emit(Event::LinkUp { reconnected });
        }
        for e in events {
            self.emit(e);
        }
    }

    /// Down for `reason`: `link_down` to the clients if it was up, else the new reason.
    fn down(&mut self, reason: String) {
        if self.status == LinkStatus::Up {
            self.emit(Event::LinkDown { reason });
        } else if let LinkStatus::Down { .. } = self.status {
            self.status = LinkStatus::Down { reason };
        }
    }

    /// The owner is gone or cannot be trusted to be in step: down, and a new snapshot.
    fn unsync(&mut self, reason: String) {
        self.synced = false;
        self.down(reason);
    }
}

impl RemoteLink {
    /// Subscribes to the PBX's subjects for `options.watch` and starts following its
    /// owner.
    pub async fn start(pbx: String, client: Client, options: Options) -> Result<Self> {
        let Options { watch, beat, command_timeout, lost, event_queue, event_queue_bytes } = options;
        fanout::check_bounds(event_queue, event_queue_bytes)?;
        let mut subjects = vec![subjects::no_device(&pbx)];
        match &watch {
            Watch::All => subjects = vec![subjects::all_events(&pbx)],
            Watch::Some(devices) => subjects.extend(devices.iter().map(|d| subjects::event(&pbx, d))),
        }
        let mut subs = Vec::with_capacity(subjects.len());
        for s in subjects {
            subs.push(
                client
                    .subscribe(s)
                    .await
                    .map_err(|e| Error::Connect { addr: "NATS".into(), reason: e.to_string() })?,
            );
        }
        let (tx, _) = fanout::channel(event_queue, event_queue_bytes);
        let inner = Arc::new(Inner {
            pbx,
            client,
            watch,
            command_timeout,
            beat,
            state: Mutex::new(State {
                mirror: Mirror::new(Snapshot::default()),
                status: LinkStatus::Down { reason: "waiting for the PBX's owner in the cluster".into() },
                epoch: 0,
                seq: 0,
                synced: false,
                ever_up: false,
                heard: Instant::now(),
                owner: String::new(),
                tx: Some(tx),
            }),
            lost,
        });
        let task = tokio::spawn(follow(inner.clone(), subs));
        Ok(RemoteLink { inner, task })
    }

    /// The gateway that owns the PBX, as far as this link knows (empty: none).
    pub fn owner(&self) -> (String, u64) {
        let st = lock(&self.inner.state);
        (st.owner.clone(), st.epoch)
    }
}

/// The link's task: messages as they come, and a tick to notice a silent owner and ask
/// for snapshots.
async fn follow(inner: Arc<Inner>, subs: Vec<async_nats::Subscriber>) {
    let mut stream = futures_util::stream::select_all(subs);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            m = stream.next() => {
                let Some(m) = m else { break };
                let mut batch = vec![m];
                while let Some(Some(m)) = stream.next().now_or_never() {
                    batch.push(m);
                }
                inner.take(batch);
            }
            _ = tick.tick() => {
                if inner.lost.swap(false, Ordering::AcqRel) {
                    tracing::warn!("PBX {}: NATS dropped messages for this gateway: resyncing", inner.pbx);
                    lock(&inner.state).synced = false;
                }
                let (synced, heard) = {
                    let st = lock(&inner.state);
                    (st.synced, st.heard)
                };
                if synced && heard.elapsed() > inner.beat.silence {
                    lock(&inner.state).unsync(format!("PBX {}: its owner in the cluster went silent", inner.pbx));
                } else if !synced {
                    inner.catch_up().await;
                }
            }
        }
    }
}

impl Inner {
    /// A batch of messages, in the owner's order.
    fn take(&self, batch: Vec<Message>) {
        let items = batch
            .into_iter()
            .filter_map(|m| proto::read_headers(m.headers.as_ref()).map(|(e, s, hb)| (e, s, hb, m.payload)))
            .collect();
        lock(&self.state).take(&self.pbx, items);
    }

    /// Asks the owner for its model; once it has its PBX link up, takes it and passes the
    /// difference on.
    async fn catch_up(&self) {
        let reply = self.fetch().await;
        lock(&self.state).rebase(&self.pbx, &self.watch, reply);
    }

    /// The owner's snapshot, reassembled from its parts.
    async fn fetch(&self) -> std::result::Result<SnapReply, String> {
        let inbox = self.client.new_inbox();
        let mut sub = self.client.subscribe(inbox.clone()).await.map_err(|e| format!("NATS: {e}"))?;
        self.client
            .publish_with_reply(subjects::snapshot(&self.pbx), inbox, Bytes::new())
            .await
            .map_err(|e| format!("NATS: {e}"))?;
        let mut parts: Vec<Option<Bytes>> = Vec::new();
        let mut total = 0usize;
        let deadline = Instant::now() + SNAPSHOT_WAIT;
        loop {
            let m = match tokio::time::timeout_at(deadline, sub.next()).await {
                Ok(Some(m)) => m,
                Ok(None) => return Err("NATS connection closed".into()),
                Err(_) => return Err("no gateway owns it now (no answer)".into()),
            };
            if m.status == Some(async_nats::StatusCode::NO_RESPONDERS) {
                return Err("no gateway owns it now".into());
            }
            let Some((i, n)) = proto::read_chunk(m.headers.as_ref()) else {
                return Err("a snapshot part without its number".into());
            };
            if parts.is_empty() {
                parts.resize(n, None);
            }
            if n != parts.len() {
                return Err("snapshot parts that disagree on their count".into());
            }
            total += m.payload.len();
            if total > proto::MAX_SNAPSHOT_BYTES {
                return Err("a snapshot over its size bound".into());
            }
            parts[i] = Some(m.payload);
            if parts.iter().all(Option::is_some) {
                break;
            }
        }
        let mut all = Vec::with_capacity(total);
        for p in parts.into_iter().flatten() {
            all.extend_from_slice(&p);
        }
        serde_json::from_slice(&all).map_err(|e| format!("a snapshot that does not parse: {e}"))
    }
}

impl Link for RemoteLink {
    fn execute(&self, command: Command) -> BoxFuture<'_, Result<Outcome>> {
        Box::pin(async move {
            let epoch = {
                let st = lock(&self.inner.state);
                if st.tx.is_none() {
                    return Err(Error::Closed);
                }
                if st.status != LinkStatus::Up {
                    return Err(Error::LinkDown);
                }
                st.epoch
            };
            let body = Bytes::from(serde_json::to_vec(&command).map_err(|e| Error::Protocol(e.to_string()))?);
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(proto::EPOCH, epoch.to_string().as_str());
            let request =
                self.inner.client.request_with_headers(subjects::command(&self.inner.pbx), headers, body);
            // No answer, for whatever reason, is the doubt of a PBX link lost mid-command.
            let reply = match tokio::time::timeout(self.inner.command_timeout, request).await {
                Ok(Ok(m)) => m,
                Ok(Err(e)) => {
                    tracing::info!("PBX {}: a command got no answer from its owner: {e}", self.inner.pbx);
                    return Err(Error::LinkDown);
                }
                Err(_) => return Err(Error::LinkDown),
            };
            let result: CommandResult = serde_json::from_slice(&reply.payload)
                .map_err(|e| Error::Protocol(format!("a command's answer from the PBX's owner: {e}")))?;
            result.into_result()
        })
    }

    fn subscribe(&self) -> fanout::Receiver<Event> {
        match &lock(&self.inner.state).tx {
            Some(tx) => tx.subscribe(),
            None => fanout::channel(1, 1).1,
        }
    }

    fn snapshot(&self) -> Snapshot {
        lock(&self.inner.state).mirror.snapshot()
    }

    fn device(&self, id: &str) -> Option<Device> {
        lock(&self.inner.state).mirror.device(id).cloned()
    }

    fn call(&self, id: &str) -> Option<Call> {
        lock(&self.inner.state).mirror.call(id).cloned()
    }

    fn status(&self) -> LinkStatus {
        let st = lock(&self.inner.state);
        if st.tx.is_none() {
            return LinkStatus::Closed;
        }
        st.status.clone()
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.task.abort();
            lock(&self.inner.state).tx.take();
        })
    }
}

impl Drop for RemoteLink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctilink::model::DeviceState::{Busy, Idle, Ringing};

    fn state() -> (State, fanout::Receiver<Event>) {
        let (tx, rx) = fanout::channel(64, 1 << 20);
        let st = State {
            mirror: Mirror::new(Snapshot::default()),
            status: LinkStatus::Up,
            epoch: 7,
            seq: 10,
            synced: true,
            ever_up: true,
            heard: Instant::now(),
            owner: "gw-a".into(),
            tx: Some(tx),
        };
        (st, rx)
    }

    fn ev(device: &str, state: ctilink::model::DeviceState) -> Bytes {
        let e = Event::DeviceState { device: device.into(), state, previous: Idle };
        Bytes::from(serde_json::to_vec(&e).expect("JSON"))
    }

    fn drained(rx: &mut fanout::Receiver<Event>) -> Vec<Event> {
        let mut v = Vec::new();
        while let Ok(e) = rx.try_recv() {
            v.push(e);
        }
        v
    }

    #[test]
    fn events_are_taken_in_seq_order_once_and_only_from_the_current_owner() {
        let (mut st, mut rx) = state();
        st.take(
            "berlin",
            vec![
                (7, 12, false, ev("101", Busy)),
                (7, 11, false, ev("100", Ringing)),
                (7, 12, false, ev("101", Busy)), // the same event from a second subject
                (7, 10, false, ev("102", Busy)), // already in the snapshot
                (6, 13, false, ev("103", Busy)), // an old owner waking up
                (7, 12, true, Bytes::new()),     // a heartbeat
            ],
        );
        let got: Vec<String> = drained(&mut rx)
            .iter()
            .map(|e| e.device().map(|d| d.as_str().to_owned()).unwrap_or_default())
            .collect();
        assert_eq!(got, ["100", "101"]);
        assert_eq!(st.seq, 12);
        assert_eq!(st.status, LinkStatus::Up);
    }

    #[test]
    fn a_newer_owners_message_takes_the_link_down_until_a_snapshot() {
        let (mut st, mut rx) = state();
        st.take("berlin", vec![(9, 1, false, ev("100", Ringing)), (9, 2, false, ev("101", Busy))]);
        assert!(!st.synced);
        assert!(
            matches!(&st.status, LinkStatus::Down { reason } if reason.contains("new owner")),
            "{:?}",
            st.status
        );
        let got = drained(&mut rx);
        assert!(matches!(got.as_slice(), [Event::LinkDown { .. }]), "{got:?}");
        // Nothing is applied until then, from either owner.
        st.take("berlin", vec![(7, 11, false, ev("100", Ringing)), (9, 3, false, ev("101", Busy))]);
        assert!(drained(&mut rx).is_empty());
    }

    fn reply(epoch: u64, up: bool) -> std::result::Result<SnapReply, String> {
        Ok(SnapReply {
            epoch,
            seq: 5,
            up,
            reason: if up { String::new() } else { "the owner is connecting to the PBX".into() },
            node: "gw-b".into(),
            devices: Vec::new(),
            calls: Vec::new(),
        })
    }

    #[test]
    fn out_of_step_while_up_a_failed_or_down_answer_tells_the_clients_link_down() {
        for answer in [Err("no gateway owns it now".to_owned()), reply(8, false)] {
            let (mut st, mut rx) = state();
            // Out of step (NATS dropped messages) while the link was up.
            st.synced = false;
            st.rebase("berlin", &Watch::All, answer);
            assert!(matches!(drained(&mut rx).as_slice(), [Event::LinkDown { .. }]));
            assert!(matches!(st.status, LinkStatus::Down { .. }));
            assert!(!st.synced);
        }
        // Then an owner that is up: link_up, the difference, resynced.
        let (mut st, mut rx) = state();
        st.status = LinkStatus::Down { reason: "x".into() };
        st.synced = false;
        st.rebase("berlin", &Watch::All, reply(8, true));
        let got = drained(&mut rx);
        assert!(matches!(got.first(), Some(Event::LinkUp { reconnected: true })), "{got:?}");
        assert!(matches!(got.last(), Some(Event::Resynced { .. })), "{got:?}");
        assert_eq!((st.epoch, st.seq, st.synced, st.owner.as_str()), (8, 5, true, "gw-b"));
    }

    #[test]
    fn a_watch_cuts_the_snapshot_to_its_devices_and_their_calls() {
        let device = |id: &str| Device {
            id: id.into(),
            interface: None,
            state: Idle,
            presence: None,
            do_not_disturb: false,
            forward_to: None,
            forward_busy: None,
            forward_no_answer: None,
        };
        let call = |id: &str, device: &str| Call {
            id: id.into(),
            calling_device: None,
            caller: Default::default(),
            called: Default::default(),
            connections: vec![ctilink::model::Connection {
                device: device.into(),
                channel: format!("PJSIP/{device}-1"),
                state: ctilink::model::ConnectionState::Alerting,
            }],
            answered: false,
            diverted: None,
            click_to_dial: false,
        };
        let (call, other) = (call("c1", "101"), call("c2", "105"));
        let s =
            Snapshot { devices: vec![device("100"), device("101"), device("105")], calls: vec![call, other] };
        let watch = Watch::Some(["100".to_owned(), "101".to_owned()].into());
        let cut = watch.cut(s.clone());
        assert_eq!(cut.devices.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["100", "101"]);
        assert_eq!(cut.calls.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["c1"]);
        assert_eq!(Watch::All.cut(s.clone()), s);
    }
}
