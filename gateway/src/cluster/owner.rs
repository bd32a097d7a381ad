//! The owner of a PBX: the one gateway holding its lease runs its AMI link and call
//! model, publishes every event once (on the subjects of the devices it concerns),
//! answers commands and snapshot requests, and stops all of it when the lease is lost or
//! cannot be renewed for half its TTL (docs/cluster.md, "Ownership").
//!
//! Each PBX has one such task on every gateway: while another gateway owns the PBX it
//! only tries, now and then, to create the lease key, which succeeds once the key is gone.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_nats::jetstream::kv;
use bytes::Bytes;
use ctilink::ami::AmiConfig;
use ctilink::link::ami::AmiLink;
use ctilink::model::{Event, Mirror, Snapshot};
use ctilink::wire::CommandResult;
use ctilink::ControlOptions;
use ctilink::{Command, Error, Link};
use futures_util::StreamExt;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::proto::{self, SnapReply};
use super::remote::Beat;
use super::{subjects, Node};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The owner's event queue from its AMI link: as the single gateway's.
const QUEUE: usize = 65_536;
const QUEUE_BYTES: usize = 64 * 1024 * 1024;
/// Biggest part of a snapshot reply, under NATS's default 1 MiB message limit.
const CHUNK: usize = 512 * 1024;

/// One PBX, as every gateway's owner task knows it.
#[derive(Clone, Debug)]
pub struct Pbx {
    pub id: String,
    pub ami: AmiConfig,
    pub control: ControlOptions,
}

/// Tries to own `pbx` for the life of the gateway.
pub async fn run(node: Arc<Node>, pbx: Pbx) {
    let key = format!("pbx.{}", pbx.id);
    let mut tick = tokio::time::interval(node.renew_every());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if node.stopping() {
            return;
        }
        if !node.may_take() {
            continue;
        }
        let value = lease_value(&node);
        let created = tokio::time::timeout(node.renew_every(), node.kv.create(&key, value)).await;
        let Ok(Ok(epoch)) = created else { continue };
        tracing::info!("cluster: this gateway ({}) owns PBX {} now (epoch {epoch})", node.name, pbx.id);
        own(&node, &pbx, &key, epoch).await;
        tracing::info!("cluster: this gateway ({}) no longer owns PBX {}", node.name, pbx.id);
    }
}

fn lease_value(node: &Node) -> Bytes {
    let v = proto::Lease { node: node.name.clone(), since_ms: proto::now_ms() };
    Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
}

/// What the owner's tasks share while it owns the PBX.
#[derive(Debug)]
struct Owned {
    pbx: String,
    epoch: u64,
    node: String,
    /// Set once the lease is lost or stale: nothing may reach the PBX any more.
    fenced: AtomicBool,
    fence: Notify,
    /// Set when the lease is to be given back (not lost): deleted once the link is closed.
    release: AtomicBool,
    /// The lease key's last revision written by this owner.
    revision: AtomicU64,
    model: Mutex<Model>,
    link: Mutex<Option<Arc<AmiLink>>>,
}

/// The model as published: event `seq` is the last one in it.
#[derive(Debug)]
struct Model {
    mirror: Mirror,
    seq: u64,
    up: bool,
    reason: String,
}

impl Owned {
    fn fence_now(&self, why: &str) {
        if !self.fenced.swap(true, Ordering::AcqRel) {
            tracing::warn!("cluster: PBX {}: letting go ({why})", self.pbx);
        }
        self.fence.notify_waiters();
    }

    fn fenced(&self) -> bool {
        self.fenced.load(Ordering::Acquire)
    }

    async fn until_fenced(&self) {
        loop {
            let wait = self.fence.notified();
            if self.fenced() {
                return;
            }
            wait.await;
        }
    }
}

/// Holds the lease from `epoch` on: renews it, runs the PBX link and serves the cluster
/// until the lease is lost, stale, given back or the gateway stops.
async fn own(node: &Arc<Node>, pbx: &Pbx, key: &str, epoch: u64) {
    let owned = Arc::new(Owned {
        pbx: pbx.id.clone(),
        epoch,
        node: node.name.clone(),
        fenced: AtomicBool::new(false),
        fence: Notify::new(),
        release: AtomicBool::new(false),
        revision: AtomicU64::new(epoch),
        model: Mutex::new(Model {
            mirror: Mirror::new(Snapshot::default()),
            seq: 0,
            up: false,
            reason: "the owner is connecting to the PBX".into(),
        }),
        link: Mutex::new(None),
    });
    node.took(&pbx.id);
    let mut tasks: Vec<JoinHandle<()>> = Vec::new();
    tasks.push(tokio::spawn(renew(node.clone(), owned.clone(), key.to_owned(), epoch)));
    tasks.push(tokio::spawn(heartbeat(node.clone(), owned.clone())));
    match serve(node, &owned).await {
        Ok(serving) => tasks.extend(serving),
        Err(e) => owned.fence_now(&format!("cannot serve the cluster: {e}")),
    }
    tasks.push(tokio::spawn(connect(node.clone(), owned.clone(), pbx.clone())));
    owned.until_fenced().await;
    // Fenced: the PBX link goes first, before anything else can wait.
    let link = lock(&owned.link).take();
    for t in &tasks {
        t.abort();
    }
    if let Some(link) = link {
        link.close().await;
    }
    if owned.release.load(Ordering::Acquire) {
        // Hand over at once rather than after the TTL: the PBX link is closed already.
        let revision = owned.revision.load(Ordering::Acquire);
        let _ = tokio::time::timeout(node.renew_every(), node.kv.delete_expect_revision(key, Some(revision)))
            .await;
    }
    node.gave_up(&pbx.id);
}

/// Renews the lease every `ttl / 6`; fences the owner when a renewal is refused, when
/// none was acknowledged for `ttl / 2`, when the gateway stops or gives the PBX back.
async fn renew(node: Arc<Node>, owned: Arc<Owned>, key: String, mut revision: u64) {
    let half = node.ttl / 2;
    let mut acked = Instant::now();
    let mut check = tokio::time::interval(Duration::from_millis(50));
    let mut next = Instant::now() + node.renew_every();
    let taken = Instant::now();
    loop {
        check.tick().await;
        if node.stopping() {
            owned.release.store(true, Ordering::Release);
            owned.fence_now("the gateway stops");
            return;
        }
        if acked.elapsed() >= half {
            owned.fence_now("the lease could not be renewed for half its TTL");
            return;
        }
        if taken.elapsed() >= node.rebalance_after && node.should_give_back(&owned.pbx) {
            owned.release.store(true, Ordering::Release);
            owned.fence_now("giving it back so that ownership spreads over the gateways");
            return;
        }
        if Instant::now() < next {
            continue;
        }
        next = Instant::now() + node.renew_every();
        // The renewal may not wait longer than what is left of the half TTL.
        let left = half.saturating_sub(acked.elapsed());
        match tokio::time::timeout(left, node.kv.update(&key, lease_value(&node), revision)).await {
            Ok(Ok(r)) => {
                revision = r;
                owned.revision.store(r, Ordering::Release);
                acked = Instant::now();
            }
            Ok(Err(e)) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                owned.fence_now("another gateway holds the lease");
                return;
            }
            Ok(Err(e)) => tracing::warn!("cluster: PBX {}: lease renewal failed: {e}", owned.pbx),
            Err(_) => {}
        }
    }
}

/// Connects to the PBX (again and again while it is unreachable), then publishes its
/// events.
async fn connect(node: Arc<Node>, owned: Arc<Owned>, pbx: Pbx) {
    let mut delay = Duration::from_millis(200);
    let link = loop {
        if owned.fenced() {
            return;
        }
        let attempt = AmiLink::connect(pbx.ami.clone(), pbx.control.clone(), QUEUE, QUEUE_BYTES);
        let result = tokio::select! {
            r = attempt => r,
            _ = owned.until_fenced() => return,
        };
        match result {
            Ok(l) => break Arc::new(l),
            Err(e) => {
                lock(&owned.model).reason = format!("the owner cannot reach the PBX: {e}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    };
    if owned.fenced() {
        link.close().await;
        return;
    }
    tracing::info!("cluster: PBX {} link up on {}", pbx.id, node.name);
    let mut rx = link.subscribe();
    {
        let mut m = lock(&owned.model);
        m.mirror = Mirror::new(link.snapshot());
        m.up = link.status() == ctilink::LinkStatus::Up;
        m.reason.clear();
    }
    *lock(&owned.link) = Some(link.clone());
    if owned.fenced() {
        // Fenced while storing the link: the main task may have looked already.
        let l = lock(&owned.link).take();
        if let Some(l) = l {
            l.close().await;
        }
        return;
    }
    loop {
        let events = match rx.recv().await {
            Ok(ev) => vec![ev],
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(
                    "cluster: PBX {}: the owner fell {n} events behind its link: resyncing",
                    pbx.id
                );
                let fresh = link.snapshot();
                lock(&owned.model).mirror.resync(fresh)
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        for ev in events {
            publish(&node, &owned, ev).await;
        }
    }
}

/// Numbers `ev`, applies it to the published model and sends it on each subject it
/// concerns.
async fn publish(node: &Node, owned: &Owned, ev: Event) {
    if owned.fenced() {
        return;
    }
    let payload = Bytes::from(serde_json::to_vec(&ev).unwrap_or_default());
    let (seq, subjects) = {
        let mut m = lock(&owned.model);
        let before = ev.call().and_then(|c| m.mirror.call(c.as_str())).cloned();
        match &ev {
            Event::LinkUp { .. } => {
                m.up = true;
                m.reason.clear();
            }
            Event::LinkDown { reason } => {
                m.up = false;
                m.reason = reason.clone();
            }
            _ => {}
        }
        m.mirror.apply(&ev);
        m.seq += 1;
        let after = ev.call().and_then(|c| m.mirror.call(c.as_str()));
        let devices = subjects::devices_of(&ev, before.as_ref(), after);
        let subjects: Vec<String> = if devices.is_empty() {
            vec![subjects::no_device(&owned.pbx)]
        } else {
            devices.iter().map(|d| subjects::event(&owned.pbx, d)).collect()
        };
        (m.seq, subjects)
    };
    for s in subjects {
        let h = proto::headers(owned.epoch, seq);
        if let Err(e) = node.client.publish_with_headers(s, h, payload.clone()).await {
            tracing::warn!("cluster: PBX {}: cannot publish an event: {e}", owned.pbx);
        }
    }
}

/// Says every [`Beat::every`] that the owner is alive, with its epoch and last `Seq`.
async fn heartbeat(node: Arc<Node>, owned: Arc<Owned>) {
    let mut tick = tokio::time::interval(Beat::of(node.ttl).every);
    loop {
        tick.tick().await;
        if owned.fenced() {
            return;
        }
        let seq = lock(&owned.model).seq;
        let mut h = proto::headers(owned.epoch, seq);
        h.insert(proto::KIND, proto::HEARTBEAT);
        let _ = node.client.publish_with_headers(subjects::no_device(&owned.pbx), h, Bytes::new()).await;
    }
}

/// Subscribes to the PBX's command and snapshot subjects and answers them while owner.
async fn serve(
    node: &Arc<Node>,
    owned: &Arc<Owned>,
) -> Result<Vec<JoinHandle<()>>, async_nats::SubscribeError> {
    let cmds = node.client.subscribe(subjects::command(&owned.pbx)).await?;
    let snaps = node.client.subscribe(subjects::snapshot(&owned.pbx)).await?;
    let (n, o) = (node.clone(), owned.clone());
    let commands = tokio::spawn(async move {
        let mut cmds = cmds;
        while let Some(m) = cmds.next().await {
            let (n, o) = (n.clone(), o.clone());
            tokio::spawn(async move { answer_command(&n, &o, m).await });
        }
    });
    let (n, o) = (node.clone(), owned.clone());
    let snapshots = tokio::spawn(async move {
        let mut snaps = snaps;
        while let Some(m) = snaps.next().await {
            answer_snapshot(&n, &o, m).await;
        }
    });
    Ok(vec![commands, snapshots])
}

/// Runs a command once, if it was sent to this epoch and the lease still holds.
async fn answer_command(node: &Node, owned: &Owned, m: async_nats::Message) {
    let Some(reply) = m.reply.clone() else { return };
    let sent_to =
        m.headers.as_ref().and_then(|h| h.get(proto::EPOCH)).and_then(|v| v.as_str().parse::<u64>().ok());
    let link = lock(&owned.link).clone();
    let result = if owned.fenced() || sent_to != Some(owned.epoch) {
        Err(Error::LinkDown)
    } else if let Some(link) = link {
        match serde_json::from_slice::<Command>(&m.payload) {
            Ok(cmd) => link.execute(cmd).await,
            Err(e) => Err(Error::InvalidArgument(format!("a command that does not parse: {e}"))),
        }
    } else {
        Err(Error::LinkDown)
    };
    let body = serde_json::to_vec(&CommandResult::new(0, &result)).unwrap_or_default();
    let _ = node.client.publish(reply, Bytes::from(body)).await;
}

/// The published model and its `Seq`, in parts of at most [`CHUNK`] bytes.
async fn answer_snapshot(node: &Node, owned: &Owned, m: async_nats::Message) {
    let Some(reply) = m.reply.clone() else { return };
    if owned.fenced() {
        return;
    }
    let body = {
        let md = lock(&owned.model);
        let s = md.mirror.snapshot();
        let r = SnapReply {
            epoch: owned.epoch,
            seq: md.seq,
            up: md.up,
            reason: md.reason.clone(),
            node: owned.node.clone(),
            devices: if md.up { s.devices } else { Vec::new() },
            calls: if md.up { s.calls } else { Vec::new() },
        };
        serde_json::to_vec(&r).unwrap_or_default()
    };
    let body = Bytes::from(body);
    let n = body.len().div_ceil(CHUNK).max(1);
    for i in 0..n {
        let part = body.slice(i * CHUNK..((i + 1) * CHUNK).min(body.len()));
        let mut h = async_nats::HeaderMap::new();
        h.insert(proto::CHUNK, format!("{i}/{n}").as_str());
        let _ = node.client.publish_with_headers(reply.clone(), h, part).await;
    }
}
