//! Every client connection and the gateway's counters: what the diagnostics show.
//!
//! A connection is registered from its first byte (so a client stuck before `hello` is
//! visible too) until it is gone; the last [`MAX_CLOSED`] closed connections are kept with
//! the reason they ended. Counters are atomics written by the connection's own tasks and
//! read by the diagnostics, never under a lock that the fan-out takes.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

use serde::Serialize;
use tokio::sync::Notify;

use crate::queue::{ClientQueue, StreamLimits};
use crate::time::rfc3339;

/// Closed connections kept for the diagnostics.
pub const MAX_CLOSED: usize = 50;

/// How a client is connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    Tcp,
    Tls,
    Ws,
    Wss,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
            Transport::Ws => "ws",
            Transport::Wss => "wss",
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// Who the client said it is, once it did.
#[derive(Clone, Debug, Default)]
pub(crate) struct Identity {
    pub(crate) identity: Option<String>,
    pub(crate) name: String,
}

/// One connection's state, shared by its reader, its writer, the hub and the diagnostics.
#[derive(Debug)]
pub struct Client {
    pub id: u64,
    pub addr: SocketAddr,
    pub transport: Transport,
    pub since: SystemTime,
    started: Instant,
    pub(crate) queue: ClientQueue,
    pub(crate) who: Mutex<Identity>,
    messages_in: AtomicU64,
    messages_out: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    errors: AtomicU64,
    dropped: AtomicU64,
    resyncs: AtomicU64,
    /// Milliseconds since `started` of the last message in or out.
    last_activity_ms: AtomicU64,
    pub(crate) commands_in_flight: AtomicUsize,
    /// Why it is ending, once it is.
    pub(crate) ending: Mutex<Option<String>>,
    /// Wakes the reader when the writer has stopped (the socket is done).
    pub(crate) writer_done: Notify,
    /// Set, and the connection's task woken, when it must make room ([`crate::admission`]).
    evicted: AtomicBool,
    pub(crate) evict_now: Notify,
    /// Past a good `hello`, holding a client slot.
    authenticated: AtomicBool,
}

impl Client {
    pub(crate) fn new(id: u64, addr: SocketAddr, transport: Transport, queue: StreamLimits) -> Self {
        Client {
            id,
            addr,
            transport,
            since: SystemTime::now(),
            started: Instant::now(),
            queue: ClientQueue::new(queue),
            who: Mutex::new(Identity::default()),
            messages_in: AtomicU64::new(0),
            messages_out: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            resyncs: AtomicU64::new(0),
            last_activity_ms: AtomicU64::new(0),
            commands_in_flight: AtomicUsize::new(0),
            ending: Mutex::new(None),
            writer_done: Notify::new(),
            evicted: AtomicBool::new(false),
            evict_now: Notify::new(),
            authenticated: AtomicBool::new(false),
        }
    }

    /// Tells the connection's task to end (it is still before `hello`).
    pub(crate) fn evict(&self, reason: &str) {
        self.end(reason);
        self.evicted.store(true, Ordering::Relaxed);
        // A permit is stored if the task is not waiting yet: it ends at its next wait.
        self.evict_now.notify_one();
    }

    pub(crate) fn is_evicted(&self) -> bool {
        self.evicted.load(Ordering::Relaxed)
    }

    /// How long ago it connected.
    pub(crate) fn age(&self) -> std::time::Duration {
        self.started.elapsed()
    }

    pub(crate) fn set_authenticated(&self) {
        self.authenticated.store(true, Ordering::Relaxed);
    }

    pub(crate) fn is_authenticated(&self) -> bool {
        self.authenticated.load(Ordering::Relaxed)
    }

    fn touch(&self) {
        let ms = self.started.elapsed().as_millis() as u64;
        self.last_activity_ms.fetch_max(ms, Ordering::Relaxed);
    }

    pub(crate) fn received(&self, bytes: usize) {
        bump(&self.messages_in, 1);
        bump(&self.bytes_in, bytes as u64);
        self.touch();
    }

    pub(crate) fn sent(&self, messages: usize, bytes: usize) {
        bump(&self.messages_out, messages as u64);
        bump(&self.bytes_out, bytes as u64);
        self.touch();
    }

    pub(crate) fn error(&self) {
        bump(&self.errors, 1);
    }

    pub(crate) fn dropped(&self, n: usize) {
        bump(&self.dropped, n as u64);
    }

    pub(crate) fn resynced(&self) {
        bump(&self.resyncs, 1);
    }

    /// Records why the connection ends (the first reason wins).
    pub(crate) fn end(&self, reason: impl Into<String>) {
        let mut e = lock(&self.ending);
        if e.is_none() {
            *e = Some(reason.into());
        }
    }

    /// The row of the diagnostics page.
    pub fn report(&self) -> ClientReport {
        let who = lock(&self.who).clone();
        let last = self.last_activity_ms.load(Ordering::Relaxed);
        let last_at = self.since + std::time::Duration::from_millis(last);
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ClientReport {
            id: self.id,
            address: self.addr.to_string(),
            identity: who.identity,
            client: who.name,
            transport: self.transport,
            since: rfc3339(self.since),
            connected_secs: self.started.elapsed().as_secs_f64(),
            messages_in: get(&self.messages_in),
            messages_out: get(&self.messages_out),
            bytes_in: get(&self.bytes_in),
            bytes_out: get(&self.bytes_out),
            last_activity: rfc3339(last_at),
            idle_secs: self.started.elapsed().as_secs_f64() - last as f64 / 1000.0,
            queue: self.queue.depth(),
            dropped: get(&self.dropped),
            resyncs: get(&self.resyncs),
            errors: get(&self.errors),
            commands_in_flight: self.commands_in_flight.load(Ordering::Relaxed),
            closed_reason: lock(&self.ending).clone(),
        }
    }
}

/// One client as `/api/clients` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct ClientReport {
    pub id: u64,
    pub address: String,
    /// The token's identity; `null` before `hello`.
    pub identity: Option<String>,
    /// The name the client gave in `hello`.
    pub client: String,
    pub transport: Transport,
    pub since: String,
    pub connected_secs: f64,
    pub messages_in: u64,
    pub messages_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub last_activity: String,
    pub idle_secs: f64,
    pub queue: usize,
    pub dropped: u64,
    pub resyncs: u64,
    pub errors: u64,
    pub commands_in_flight: usize,
    /// Why it ended (closed clients), or is ending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_reason: Option<String>,
}

/// Counters of the whole gateway, for `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    pub connections: AtomicU64,
    pub refused_full: AtomicU64,
    pub auth_failures: AtomicU64,
    pub protocol_errors: AtomicU64,
    pub commands: AtomicU64,
    pub commands_refused: AtomicU64,
    pub messages_in: AtomicU64,
    pub messages_out: AtomicU64,
    pub dropped: AtomicU64,
    pub slow_resyncs: AtomicU64,
    pub slow_disconnects: AtomicU64,
    pub write_timeouts: AtomicU64,
    pub upstream_events: AtomicU64,
    pub upstream_lags: AtomicU64,
    /// Snapshot requests answered by the snapshot already waiting in the client's queue.
    pub snapshots_coalesced: AtomicU64,
    /// Connections not yet authenticated, closed to make room for a newer one.
    pub unauthenticated_evicted: AtomicU64,
    /// Connections refused because every connection without hello was within its grace.
    pub unauthenticated_refused: AtomicU64,
    /// Hellos whose check waited because their address had failed before.
    pub hellos_throttled: AtomicU64,
    /// Milliseconds those hellos waited, in all.
    pub hello_throttle_ms: AtomicU64,
    /// Diagnostics requests refused for their `Host` (421): a DNS-rebinding page, or a
    /// name missing from `[diagnostics] allowed_hosts`.
    pub diagnostics_refused_host: AtomicU64,
    /// Diagnostics connections closed to admit a newer one at `max_connections`.
    pub diagnostics_refused_cap: AtomicU64,
    /// Diagnostics connections closed by the header or idle timeout.
    pub diagnostics_timeouts: AtomicU64,
    /// Diagnostics connections open now (a gauge).
    pub diagnostics_connections: AtomicU64,
}

impl Metrics {
    pub(crate) fn add(c: &AtomicU64, n: u64) {
        bump(c, n);
    }
}

/// The connections, open and recently closed.
#[derive(Debug, Default)]
pub struct Registry {
    open: Mutex<BTreeMap<u64, Arc<Client>>>,
    closed: Mutex<VecDeque<ClientReport>>,
    next_id: AtomicU64,
    /// Wakes whoever waits for every connection to be gone (shutdown).
    emptied: Notify,
}

impl Registry {
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Adds a connection (how many may be open is [`crate::admission`]'s to say).
    pub(crate) fn add(&self, c: Arc<Client>) {
        lock(&self.open).insert(c.id, c);
    }

    pub(crate) fn remove(&self, c: &Client) {
        let report = c.report();
        let empty = {
            let mut open = lock(&self.open);
            open.remove(&c.id);
            open.is_empty()
        };
        let mut closed = lock(&self.closed);
        if closed.len() >= MAX_CLOSED {
            closed.pop_front();
        }
        closed.push_back(report);
        drop(closed);
        if empty {
            self.emptied.notify_waiters();
        }
    }

    pub fn open(&self) -> Vec<Arc<Client>> {
        lock(&self.open).values().cloned().collect()
    }

    pub fn len(&self) -> usize {
        lock(&self.open).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The recently closed connections, oldest first.
    pub fn closed(&self) -> Vec<ClientReport> {
        lock(&self.closed).iter().cloned().collect()
    }

    /// Waits until no connection is open.
    pub(crate) async fn until_empty(&self) {
        loop {
            let n = self.emptied.notified();
            if self.is_empty() {
                return;
            }
            n.await;
        }
    }
}
