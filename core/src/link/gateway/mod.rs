//! The gateway client: a [`Link`] to a `ctilink gateway` instead of the PBX, so that a
//! `Session::connect("ctilink://TOKEN@server:7070")` gives the same API and events as a
//! direct AMI session (deployment scenario 2 of docs/architecture.md).
//!
//! The gateway sends a snapshot of what this client may see, then the events that follow
//! it; the link keeps the model as a [`Mirror`] of them, so `snapshot()`, `device()` and
//! `call()` answer locally. One task owns the connection: it applies each event to the
//! mirror under a short lock and broadcasts it, so subscribers see the gateway's order.
//! When the connection is lost it reports `LinkDown`, reconnects with backoff, and on
//! `welcome` reports `LinkUp`, then the difference between the mirror and the new
//! snapshot as events, then `Resynced`, as the AMI link does after its own reconnect.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{BoxFuture, Link, LinkStatus};
use crate::ami::backoff::Backoff;
use crate::command::{Command, Outcome};
use crate::error::{Error, Result};
use crate::fanout;
use crate::model::{Call, Device, Event, Mirror, Snapshot};
use crate::wire::{self, ClientMessage, ServerMessage};

mod config;
mod conn;

pub use config::GatewayConfig;
use conn::{Reader, Welcome, Writer};

/// The reason reported while the gateway's own PBX link is down.
const PBX_DOWN: &str = "the gateway's PBX link is down";

type Pending = HashMap<u64, oneshot::Sender<Result<Outcome>>>;

#[derive(Debug)]
struct Shared {
    mirror: Mutex<Mirror>,
    /// Taken on close, so that every subscriber's stream ends.
    events: Mutex<Option<fanout::Sender<Event>>>,
    status: Mutex<LinkStatus>,
    /// Commands sent and not yet answered, by id.
    pending: Mutex<Pending>,
    next_id: AtomicU64,
    welcome: Mutex<Welcome>,
    max_in_flight: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data; keep serving.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn emit(&self, ev: Event) {
        if let Some(tx) = &*lock(&self.events) {
            // No subscriber is not an error: the mirror keeps the state.
            let _ = tx.send(ev);
        }
    }

    fn set_status(&self, s: LinkStatus) {
        let mut st = lock(&self.status);
        if *st != LinkStatus::Closed {
            *st = s;
        }
    }

    /// Fails every command waiting for a result.
    fn fail_pending(&self, e: &Error) {
        let pending = std::mem::take(&mut *lock(&self.pending));
        for (_, tx) in pending {
            let _ = tx.send(Err(e.clone()));
        }
    }
}

/// The gateway link. Dropping it stops its task and closes the connection.
#[derive(Debug)]
pub struct GatewayLink {
    shared: Arc<Shared>,
    out: mpsc::Sender<Bytes>,
    task: JoinHandle<()>,
    config: GatewayConfig,
}

impl Drop for GatewayLink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl GatewayLink {
    /// Connects and authenticates, and returns once the first snapshot is in, so that
    /// `snapshot()` is complete at once. A refused token is `Error::AuthFailed`.
    /// The queue of events holds at most `event_queue` events and `event_queue_bytes` bytes
    /// of them (see `AmiLink::connect`); a subscriber further behind gets `Lagged`.
    pub async fn connect(
        config: GatewayConfig,
        event_queue: usize,
        event_queue_bytes: usize,
    ) -> Result<GatewayLink> {
        fanout::check_bounds(event_queue, event_queue_bytes)?;
        let (reader, writer, welcome, snapshot) = conn::open(&config).await?;
        let (events, _) = fanout::channel(event_queue, event_queue_bytes);
        let status =
            if welcome.link_up { LinkStatus::Up } else { LinkStatus::Down { reason: PBX_DOWN.into() } };
        let shared = Arc::new(Shared {
            mirror: Mutex::new(Mirror::new(snapshot)),
            events: Mutex::new(Some(events)),
            status: Mutex::new(status),
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            welcome: Mutex::new(welcome),
            max_in_flight: config.max_in_flight.max(1),
        });
        // Bounded like the in-flight commands it carries (plus pings).
        let (out, out_rx) = mpsc::channel(config.max_in_flight.max(1) + 8);
        let task = tokio::spawn(run(shared.clone(), config.clone(), reader, writer, out_rx));
        Ok(GatewayLink { shared, out, task, config })
    }

    /// Who the gateway says this client is (the token's identity).
    pub fn identity(&self) -> String {
        lock(&self.shared.welcome).identity.clone()
    }

    /// The devices this client may monitor (`["*"]`: all), as the gateway said.
    pub fn monitor(&self) -> Vec<String> {
        lock(&self.shared.welcome).monitor.clone()
    }

    /// The devices this client may control (`["*"]`: all).
    pub fn control(&self) -> Vec<String> {
        lock(&self.shared.welcome).control.clone()
    }

    /// The gateway's URL, without the token.
    pub fn redacted_url(&self) -> String {
        self.config.redacted_url()
    }

    async fn run_command(&self, command: Command) -> Result<Outcome> {
        command.validate()?;
        match &*lock(&self.shared.status) {
            LinkStatus::Closed => return Err(Error::Closed),
            LinkStatus::Down { .. } => return Err(Error::LinkDown),
            LinkStatus::Up => {}
        }
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        {
            let mut pending = lock(&self.shared.pending);
            if pending.len() >= self.shared.max_in_flight {
                return Err(Error::Busy(self.shared.max_in_flight));
            }
            pending.insert(id, tx);
        }
        if *lock(&self.shared.status) != LinkStatus::Up {
            // Lost between the check and the insert: the task may have failed the others.
            lock(&self.shared.pending).remove(&id);
            return Err(Error::LinkDown);
        }
        let line = wire::encode(&ClientMessage::Command { id, command });
        if self.out.try_send(line).is_err() {
            lock(&self.shared.pending).remove(&id);
            return Err(Error::LinkDown);
        }
        let wait = self.config.command_timeout;
        match tokio::time::timeout(wait, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(Error::LinkDown),
            Err(_) => {
                lock(&self.shared.pending).remove(&id);
                Err(Error::Timeout(wait))
            }
        }
    }
}

/// Why a connection ended.
enum End {
    Lost(String),
    Closed,
}

/// The connection task: serves one connection after another until closed.
async fn run(
    shared: Arc<Shared>,
    cfg: GatewayConfig,
    mut reader: Reader,
    mut writer: Writer,
    mut out: mpsc::Receiver<Bytes>,
) {
    // One backoff for the link's life: a gateway that welcomes the client and drops the
    // connection at once is retried ever more slowly (`ReconnectPolicy::stable_after`).
    let mut backoff = Backoff::new(cfg.reconnect.clone());
    backoff.connected(Instant::now());
    loop {
        let reason = match serve(&shared, &cfg, &mut reader, &mut writer, &mut out).await {
            End::Closed => break,
            End::Lost(reason) => reason,
        };
        backoff.lost(Instant::now());
        let _ = tokio::time::timeout(conn::SHUTDOWN_WAIT, writer.shutdown()).await;
        tracing::warn!("gateway {}: connection lost: {reason}", cfg.redacted_url());
        shared.set_status(LinkStatus::Down { reason: reason.clone() });
        shared.fail_pending(&Error::LinkDown);
        shared.emit(Event::LinkDown { reason });
        let Some((r, w, welcome, snapshot)) = reconnect(&shared, &cfg, &mut backoff, &mut out).await else {
            break;
        };
        (reader, writer) = (r, w);
        if welcome.link_up {
            shared.set_status(LinkStatus::Up);
            shared.emit(Event::LinkUp { reconnected: true });
        } else {
            shared.set_status(LinkStatus::Down { reason: PBX_DOWN.into() });
        }
        *lock(&shared.welcome) = welcome;
        let events = lock(&shared.mirror).resync(snapshot);
        for e in events {
            shared.emit(e);
        }
    }
    shared.fail_pending(&Error::Closed);
}

/// Tries until connected (or the policy gives up: `None`). Commands queued meanwhile were
/// already failed; their lines are dropped.
async fn reconnect(
    shared: &Shared,
    cfg: &GatewayConfig,
    backoff: &mut Backoff,
    out: &mut mpsc::Receiver<Bytes>,
) -> Option<(Reader, Writer, Welcome, Snapshot)> {
    if !cfg.reconnect.enabled {
        return None;
    }
    loop {
        if backoff.exhausted() {
            tracing::warn!("gateway {}: giving up after {} attempts", cfg.redacted_url(), backoff.attempts());
            return None;
        }
        tokio::time::sleep(backoff.next_delay()).await;
        while out.try_recv().is_ok() {}
        match conn::open(cfg).await {
            Ok(c) => {
                // Not a reset: the delays start again only once this connection has
                // stayed up (`lost` decides).
                backoff.connected(Instant::now());
                return Some(c);
            }
            Err(e) => {
                tracing::warn!("gateway {}: reconnect failed: {e}", cfg.redacted_url());
                if matches!(e, Error::AuthFailed(_)) {
                    // The token was revoked: asking again quickly only fills the gateway's log.
                    backoff.jump_to_max();
                }
                shared.set_status(LinkStatus::Down { reason: e.to_string() });
            }
        }
    }
}

/// Serves one connection: messages in, commands and pings out.
async fn serve(
    shared: &Shared,
    cfg: &GatewayConfig,
    reader: &mut Reader,
    writer: &mut Writer,
    out: &mut mpsc::Receiver<Bytes>,
) -> End {
    // Pings go out on a fixed beat whatever arrives: the gateway closes a client that
    // sends nothing for its idle timeout, however busy the stream towards it is.
    let mut last_heard = Instant::now();
    let mut ping_id = 0u64;
    let mut ping_at = Instant::now() + cfg.ping_interval;
    loop {
        let dead_at = last_heard + cfg.dead_after;
        tokio::select! {
            msg = reader.next() => {
                let msg = match msg {
                    Ok(Some(m)) => m,
                    Ok(None) => return End::Lost("the gateway closed the connection".into()),
                    Err(e) => return End::Lost(format!("read error: {e}")),
                };
                last_heard = Instant::now();
                match msg {
                    Ok(m) => {
                        if let Some(end) = handle(shared, m) {
                            return end;
                        }
                    }
                    // A message this build does not know (a newer gateway): skipped.
                    Err(e) => tracing::debug!("gateway {}: skipped a message: {e}", cfg.redacted_url()),
                }
            }
            line = out.recv() => {
                let Some(line) = line else { return End::Closed };
                if let Err(e) = writer.send(&line).await {
                    return End::Lost(format!("write error: {e}"));
                }
            }
            () = tokio::time::sleep_until(ping_at) => {
                ping_id += 1;
                ping_at = Instant::now() + cfg.ping_interval;
                if let Err(e) = writer.send(&wire::encode(&ClientMessage::Ping { id: ping_id })).await {
                    return End::Lost(format!("write error: {e}"));
                }
            }
            () = tokio::time::sleep_until(dead_at) => {
                return End::Lost(format!("no message from the gateway for {:?}", cfg.dead_after));
            }
        }
    }
}

/// Takes one message from the gateway; `Some` ends the connection.
fn handle(shared: &Shared, msg: ServerMessage) -> Option<End> {
    match msg {
        ServerMessage::Event { event } => {
            match &event {
                Event::LinkDown { reason } => shared.set_status(LinkStatus::Down { reason: reason.clone() }),
                Event::LinkUp { .. } => shared.set_status(LinkStatus::Up),
                _ => {}
            }
            lock(&shared.mirror).apply(&event);
            shared.emit(event);
        }
        ServerMessage::Snapshot { devices, calls, .. } => {
            // The gateway dropped our backlog (we read too slowly) and sent the state now:
            // report the difference, as after a reconnect.
            let events = lock(&shared.mirror).resync(Snapshot { devices, calls });
            for e in events {
                shared.emit(e);
            }
        }
        ServerMessage::Result(r) => {
            let waiting = lock(&shared.pending).remove(&r.id);
            if let Some(tx) = waiting {
                let _ = tx.send(r.into_result());
            }
        }
        ServerMessage::Bye { reason } => return Some(End::Lost(format!("the gateway said bye: {reason}"))),
        ServerMessage::Error(e) => tracing::warn!("the gateway refused a message: {e}"),
        ServerMessage::Pong { .. } | ServerMessage::Welcome { .. } => {}
    }
    None
}

impl Link for GatewayLink {
    fn execute(&self, command: Command) -> BoxFuture<'_, Result<Outcome>> {
        Box::pin(self.run_command(command))
    }

    fn subscribe(&self) -> fanout::Receiver<Event> {
        match &*lock(&self.shared.events) {
            Some(tx) => tx.subscribe(),
            // Closed: a receiver whose sender is already gone ends at once.
            None => fanout::channel(1, 1).1,
        }
    }

    fn snapshot(&self) -> Snapshot {
        lock(&self.shared.mirror).snapshot()
    }

    fn device(&self, id: &str) -> Option<Device> {
        lock(&self.shared.mirror).device(id).cloned()
    }

    fn call(&self, id: &str) -> Option<Call> {
        lock(&self.shared.mirror).call(id).cloned()
    }

    fn status(&self) -> LinkStatus {
        lock(&self.shared.status).clone()
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            *lock(&self.shared.status) = LinkStatus::Closed;
            self.task.abort();
            lock(&self.shared.events).take();
            self.shared.fail_pending(&Error::Closed);
        })
    }
}
