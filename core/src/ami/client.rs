//! The AMI link: a tokio task that owns the connection, and a cheap handle to it.
//!
//! The task correlates responses with actions by ActionID, collects list
//! responses, fans events out to subscribers through a queue bounded in events and in
//! bytes ([`fanout`]: a slow subscriber gets [`LinkEvent::Lagged`] instead
//! of growing memory, however big the PBX's messages), keeps the link
//! alive with `Ping`, detects a silent peer, and reconnects with backoff. Callers
//! never hang: every action has a deadline, and actions pending when the link
//! drops fail at once with [`Error::LinkDown`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::action::Action;
use super::backoff::Backoff;
use super::config::AmiConfig;
use super::connection::{Connection, Read};
use super::decoder::Frame;
use super::encoder::MessageBuilder;
use super::message::{Message, MessageKind};
use super::response::{ListResponse, Response};
use crate::error::{Error, Result};
use crate::fanout;

/// What subscribers receive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkEvent {
    /// Logged in (first time or after a reconnect).
    Up { reconnected: bool, banner: Option<String> },
    /// The link was lost; the client reconnects unless closed or disabled.
    Down { reason: String },
    /// An event from the PBX (list items of collected lists are not repeated here).
    Event(Message),
    /// This subscriber fell behind and `n` events were dropped for it.
    Lagged(u64),
}

/// The link's state, as a watchable value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkState {
    Up,
    /// Lost, and trying to reconnect.
    Reconnecting {
        attempt: u32,
        last_error: String,
    },
    /// Lost and not reconnecting (policy disabled or attempts exhausted).
    Down,
    Closed,
}

/// Counters of the link, for diagnostics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    pub messages_in: u64,
    pub messages_out: u64,
    pub decode_errors: u64,
    pub link_ups: u64,
    pub link_downs: u64,
    pub action_timeouts: u64,
}

#[derive(Debug, Default)]
struct Counters {
    messages_in: AtomicU64,
    messages_out: AtomicU64,
    decode_errors: AtomicU64,
    link_ups: AtomicU64,
    link_downs: AtomicU64,
    action_timeouts: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// A subscriber's view of the link's queue of [`LinkEvent`]s, bounded by
/// [`AmiConfig::event_queue`] events and [`AmiConfig::event_queue_bytes`] bytes: a
/// subscriber that falls further behind gets [`LinkEvent::Lagged`] and goes on with the
/// oldest event still queued.
#[derive(Debug)]
pub struct Subscription {
    rx: fanout::Receiver<LinkEvent>,
}

impl Subscription {
    /// The next event; `None` once the client is closed and the queue drained.
    pub async fn recv(&mut self) -> Option<LinkEvent> {
        match self.rx.recv().await {
            Ok(ev) => Some(ev),
            Err(fanout::RecvError::Lagged(n)) => Some(LinkEvent::Lagged(n)),
            Err(fanout::RecvError::Closed) => None,
        }
    }

    /// The next event if one is queued, without waiting.
    pub fn try_recv(&mut self) -> Option<LinkEvent> {
        match self.rx.try_recv() {
            Ok(ev) => Some(ev),
            Err(fanout::TryRecvError::Lagged(n)) => Some(LinkEvent::Lagged(n)),
            Err(_) => None,
        }
    }
}

enum Reply {
    Single(Response),
    List(ListResponse),
}

enum Command {
    Send { msg: MessageBuilder, list: bool, deadline: Instant, reply: oneshot::Sender<Result<Reply>> },
    Close { done: oneshot::Sender<()> },
}

struct Inner {
    cfg: Arc<AmiConfig>,
    cmd_tx: mpsc::Sender<Command>,
    events: fanout::Sender<LinkEvent>,
    state: watch::Receiver<LinkState>,
    counters: Arc<Counters>,
    banner: Arc<std::sync::Mutex<Option<String>>>,
}

/// A handle to the AMI link. Clones share one connection; when the last clone is
/// dropped the task logs off and ends.
#[derive(Clone)]
pub struct AmiClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AmiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmiClient")
            .field("url", &self.inner.cfg.redacted_url())
            .field("state", &*self.inner.state.borrow())
            .finish()
    }
}

/// Unique ActionIDs: a random per-client prefix and a counter, so that responses
/// meant for another client of the same PBX session can never match.
#[derive(Debug)]
struct IdGen {
    prefix: String,
    next: AtomicU64,
}

impl IdGen {
    fn new() -> Self {
        Self { prefix: format!("ctl-{:08x}-", fastrand::u32(..)), next: AtomicU64::new(1) }
    }

    fn next(&self) -> String {
        format!("{}{}", self.prefix, self.next.fetch_add(1, Ordering::Relaxed))
    }
}

impl AmiClient {
    /// Parses the URL and connects.
    pub async fn connect_url(url: &str) -> Result<AmiClient> {
        Self::connect(AmiConfig::from_url(url)?).await
    }

    /// Connects and logs in once, reporting failure to the caller (no retry: a wrong
    /// password or address is the caller's to fix). Afterwards the link reconnects
    /// by itself.
    pub async fn connect(cfg: AmiConfig) -> Result<AmiClient> {
        Ok(Self::connect_subscribed(cfg).await?.0)
    }

    /// As [`connect`](Self::connect), with a subscription that already exists when
    /// the first event arrives (so `FullyBooted` and early events are not missed).
    pub async fn connect_subscribed(cfg: AmiConfig) -> Result<(AmiClient, Subscription)> {
        if cfg.event_queue == 0 || cfg.event_queue_bytes == 0 || cfg.max_in_flight == 0 {
            return Err(Error::InvalidArgument(
                "event_queue, event_queue_bytes and max_in_flight must be positive".into(),
            ));
        }
        let ids = Arc::new(IdGen::new());
        let (conn, endpoint) = {
            let ids = ids.clone();
            Connection::open_first(&cfg, 0, &move || ids.next()).await?
        };
        tracing::info!(url = %cfg.for_endpoint(endpoint).redacted_url(), banner = ?conn.banner, "AMI link up");
        let cfg = Arc::new(cfg);
        let (cmd_tx, cmd_rx) = mpsc::channel(cfg.max_in_flight);
        let (events, first) = fanout::channel(cfg.event_queue, cfg.event_queue_bytes);
        let (state_tx, state) = watch::channel(LinkState::Up);
        let counters = Arc::new(Counters::default());
        bump(&counters.link_ups);
        let banner = Arc::new(std::sync::Mutex::new(conn.banner.clone()));
        let task = Task {
            cfg: cfg.clone(),
            ids,
            cmd_rx,
            events: events.clone(),
            state_tx,
            counters: counters.clone(),
            banner: banner.clone(),
            pending: HashMap::new(),
            seq: 0,
            closers: Vec::new(),
            endpoint,
            backoff: {
                let mut b = Backoff::new(cfg.reconnect.clone());
                b.connected(Instant::now());
                b
            },
        };
        tokio::spawn(task.run(conn));
        let client = AmiClient { inner: Arc::new(Inner { cfg, cmd_tx, events, state, counters, banner }) };
        Ok((client, Subscription { rx: first }))
    }

    /// A new subscriber; it sees events from now on.
    pub fn subscribe(&self) -> Subscription {
        Subscription { rx: self.inner.events.subscribe() }
    }

    /// Sends an action and waits for its response, within the configured action timeout.
    pub async fn send(&self, action: Action) -> Result<Response> {
        self.send_with_timeout(action, self.inner.cfg.action_timeout).await
    }

    /// Sends an action and waits at most `wait` for its response. `Response: Error`
    /// becomes [`Error::PbxRefused`] with the PBX's message.
    pub async fn send_with_timeout(&self, action: Action, wait: Duration) -> Result<Response> {
        match self.request(action.into_message(), false, wait).await? {
            Reply::Single(r) => Ok(r),
            Reply::List(l) => Ok(l.response),
        }
    }

    /// Sends a list action (`ExtensionStateList`, `CoreShowChannels`, ...) and
    /// collects its items up to the closing `...Complete` event.
    pub async fn send_list(&self, action: Action) -> Result<ListResponse> {
        match self.request(action.into_message(), true, self.inner.cfg.action_timeout).await? {
            Reply::List(l) => Ok(l),
            Reply::Single(r) => Ok(ListResponse { response: r, items: Vec::new(), complete: None }),
        }
    }

    async fn request(&self, msg: MessageBuilder, list: bool, wait: Duration) -> Result<Reply> {
        msg.validate()?;
        let (reply, rx) = oneshot::channel();
        let deadline = Instant::now() + wait;
        let cmd = Command::Send { msg, list, deadline, reply };
        match self.inner.cmd_tx.try_send(cmd) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => return Err(Error::Busy(self.inner.cfg.max_in_flight)),
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(Error::Closed),
        }
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(Error::Closed),
            Err(_) => {
                bump(&self.inner.counters.action_timeouts);
                Err(Error::Timeout(wait))
            }
        }
    }

    /// The current link state.
    pub fn state(&self) -> LinkState {
        self.inner.state.borrow().clone()
    }

    /// Waits until the state satisfies `pred` (or the client is gone).
    pub async fn wait_for_state(&self, pred: impl Fn(&LinkState) -> bool) -> LinkState {
        let mut rx = self.inner.state.clone();
        let state = match rx.wait_for(|s| pred(s)).await {
            Ok(s) => s.clone(),
            Err(_) => LinkState::Closed,
        };
        state
    }

    /// The banner of the current connection, e.g. `Asterisk Call Manager/9.0.0`.
    pub fn banner(&self) -> Option<String> {
        self.inner.banner.lock().ok().and_then(|b| b.clone())
    }

    /// The configuration (its `Debug` hides the secret).
    pub fn config(&self) -> &AmiConfig {
        &self.inner.cfg
    }

    /// A snapshot of the link's counters.
    pub fn stats(&self) -> LinkStats {
        let c = &self.inner.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        LinkStats {
            messages_in: get(&c.messages_in),
            messages_out: get(&c.messages_out),
            decode_errors: get(&c.decode_errors),
            link_ups: get(&c.link_ups),
            link_downs: get(&c.link_downs),
            action_timeouts: get(&c.action_timeouts),
        }
    }

    /// Logs off and stops the link. Pending actions fail with [`Error::Closed`]
    /// or [`Error::LinkDown`]; later calls fail with [`Error::Closed`].
    pub async fn close(&self) {
        let (done, rx) = oneshot::channel();
        if self.inner.cmd_tx.send(Command::Close { done }).await.is_ok() {
            let _ = rx.await;
        }
    }
}

struct Pending {
    reply: Option<oneshot::Sender<Result<Reply>>>,
    list: bool,
    deadline: Instant,
    seq: u64,
    /// For a list whose response said "will follow": the response and items so far.
    collecting: Option<(Response, Vec<Message>)>,
}

impl Pending {
    fn resolve(mut self, r: Result<Reply>) {
        if let Some(tx) = self.reply.take() {
            let _ = tx.send(r);
        }
    }
}

/// Whether an event closes a list: `EventList: Complete` (Asterisk 12+), or for
/// older forms an event name ending in `Complete` (`StatusComplete`). Compared as
/// bytes: an event name is PBX input and may hold any UTF-8.
fn is_list_complete(msg: &Message) -> bool {
    const SUFFIX: &[u8] = b"Complete";
    msg.get("EventList").is_some_and(|v| v.eq_ignore_ascii_case("Complete"))
        || msg.get_bytes("Event").is_some_and(|e| {
            e.len() > SUFFIX.len() && e[e.len() - SUFFIX.len()..].eq_ignore_ascii_case(SUFFIX)
        })
}

/// How a connected phase ended.
enum Outcome {
    Closed,
    Lost(String),
}

struct Task {
    cfg: Arc<AmiConfig>,
    ids: Arc<IdGen>,
    cmd_rx: mpsc::Receiver<Command>,
    events: fanout::Sender<LinkEvent>,
    state_tx: watch::Sender<LinkState>,
    counters: Arc<Counters>,
    banner: Arc<std::sync::Mutex<Option<String>>>,
    pending: HashMap<String, Pending>,
    seq: u64,
    closers: Vec<oneshot::Sender<()>>,
    /// The PBX in use: 0 for `cfg.host`, then the standby ones.
    endpoint: usize,
    /// Kept for the link's life, so that a PBX that accepts the login and drops the
    /// connection at once is retried ever more slowly (see `ReconnectPolicy::stable_after`).
    backoff: Backoff,
}

impl Task {
    async fn run(mut self, first: Connection) {
        let mut conn = first;
        let _ = self.events.send(LinkEvent::Up { reconnected: false, banner: conn.banner.clone() });
        loop {
            match self.serve(&mut conn).await {
                Outcome::Closed => break,
                Outcome::Lost(reason) => {
                    tracing::warn!(url = %self.cfg.redacted_url(), %reason, "AMI link down");
                    bump(&self.counters.link_downs);
                    self.fail_pending(Error::LinkDown);
                    let _ = self.events.send(LinkEvent::Down { reason: reason.clone() });
                    self.backoff.lost(Instant::now());
                    match self.reconnect(reason).await {
                        Some(c) => {
                            conn = c;
                            self.backoff.connected(Instant::now());
                            bump(&self.counters.link_ups);
                            if let Ok(mut b) = self.banner.lock() {
                                b.clone_from(&conn.banner);
                            }
                            tracing::info!(url = %self.cfg.redacted_url(), "AMI link up again");
                            let _ = self.state_tx.send(LinkState::Up);
                            let _ = self
                                .events
                                .send(LinkEvent::Up { reconnected: true, banner: conn.banner.clone() });
                        }
                        None => break,
                    }
                }
            }
        }
        self.fail_pending(Error::Closed);
        let _ = self.state_tx.send(LinkState::Closed);
        for c in self.closers.drain(..) {
            let _ = c.send(());
        }
    }

    /// Serves one connection until it is lost or the client closes.
    async fn serve(&mut self, conn: &mut Connection) -> Outcome {
        let tick_every =
            (self.cfg.ping_interval / 4).clamp(Duration::from_millis(20), Duration::from_secs(1));
        let mut tick = tokio::time::interval(tick_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_rx = Instant::now();
        let mut ping_sent: Option<Instant> = None;
        loop {
            tokio::select! {
                cmd = self.cmd_rx.recv() => match cmd {
                    None => {
                        self.logoff(conn).await;
                        return Outcome::Closed;
                    }
                    Some(Command::Close { done }) => {
                        self.closers.push(done);
                        self.logoff(conn).await;
                        return Outcome::Closed;
                    }
                    Some(Command::Send { msg, list, deadline, reply }) => {
                        if let Err(reason) = self.send(conn, msg, list, deadline, reply).await {
                            return Outcome::Lost(reason);
                        }
                    }
                },
                read = conn.read() => match read {
                    Ok(Read::Frame(frame)) => {
                        last_rx = Instant::now();
                        ping_sent = None;
                        self.dispatch(frame);
                        // Drain what is already buffered before polling again.
                        while let Some(r) = conn.decode_buffered() {
                            match r {
                                Read::Frame(f) => self.dispatch(f),
                                Read::Invalid(e) => self.invalid(e),
                                Read::Eof => return Outcome::Lost("connection closed by the PBX".into()),
                            }
                        }
                    }
                    Ok(Read::Invalid(e)) => {
                        last_rx = Instant::now();
                        self.invalid(e);
                    }
                    Ok(Read::Eof) => return Outcome::Lost("connection closed by the PBX".into()),
                    Err(e) => return Outcome::Lost(format!("read failed: {e}")),
                },
                _ = tick.tick() => {
                    self.expire(Instant::now());
                    let silent = last_rx.elapsed();
                    if silent >= self.cfg.dead_after {
                        return Outcome::Lost(format!("no traffic from the PBX for {silent:?}"));
                    }
                    if silent >= self.cfg.ping_interval && ping_sent.is_none() {
                        ping_sent = Some(Instant::now());
                        let id = self.ids.next();
                        let ping = Action::ping().into_message().field("ActionID", &id);
                        self.register(id, None, false, Instant::now() + self.cfg.dead_after);
                        if let Err(e) = self.write(conn, &ping).await {
                            return Outcome::Lost(e);
                        }
                    }
                }
            }
        }
    }

    async fn send(
        &mut self,
        conn: &mut Connection,
        mut msg: MessageBuilder,
        list: bool,
        deadline: Instant,
        reply: oneshot::Sender<Result<Reply>>,
    ) -> std::result::Result<(), String> {
        if self.pending.len() >= self.cfg.max_in_flight {
            let _ = reply.send(Err(Error::Busy(self.cfg.max_in_flight)));
            return Ok(());
        }
        let id = self.ids.next();
        msg.set("ActionID", &id);
        self.register(id.clone(), Some(reply), list, deadline);
        if let Err(e) = self.write(conn, &msg).await {
            if let Some(p) = self.pending.remove(&id) {
                p.resolve(Err(Error::LinkDown));
            }
            return Err(e);
        }
        Ok(())
    }

    fn register(
        &mut self,
        id: String,
        reply: Option<oneshot::Sender<Result<Reply>>>,
        list: bool,
        deadline: Instant,
    ) {
        self.seq += 1;
        self.pending.insert(id, Pending { reply, list, deadline, seq: self.seq, collecting: None });
    }

    /// Writes with a deadline, so a PBX that stops reading cannot wedge the task.
    async fn write(
        &mut self,
        conn: &mut Connection,
        msg: &MessageBuilder,
    ) -> std::result::Result<(), String> {
        match tokio::time::timeout(self.cfg.action_timeout, conn.write(msg)).await {
            Ok(Ok(())) => {
                bump(&self.counters.messages_out);
                Ok(())
            }
            Ok(Err(e)) => Err(format!("write failed: {e}")),
            Err(_) => Err("write timed out: the PBX is not reading".into()),
        }
    }

    fn invalid(&mut self, e: super::decoder::DecodeError) {
        bump(&self.counters.decode_errors);
        tracing::warn!("invalid AMI input skipped: {e}");
    }

    fn dispatch(&mut self, frame: Frame) {
        let msg = match frame {
            Frame::Banner(b) => {
                tracing::debug!(banner = b.line(), "banner");
                return;
            }
            Frame::Message(m) => m,
        };
        bump(&self.counters.messages_in);
        match msg.kind() {
            MessageKind::Response => self.on_response(msg),
            MessageKind::Event => self.on_event(msg),
            _ => tracing::debug!("ignoring message that is neither event nor response"),
        }
    }

    fn on_response(&mut self, msg: Message) {
        // Old PBXs omit the ActionID on some responses; they answer in order, so the
        // oldest action still waiting for its response is the one answered.
        let id = match msg.action_id().filter(|id| self.pending.contains_key(*id)) {
            Some(id) => id.to_owned(),
            None if msg.action_id().is_none() => {
                match self.pending.iter().filter(|(_, p)| p.collecting.is_none()).min_by_key(|(_, p)| p.seq) {
                    Some((id, _)) => id.clone(),
                    None => return,
                }
            }
            None => {
                tracing::debug!(action_id = msg.action_id(), "response for no pending action");
                return;
            }
        };
        let Some(mut p) = self.pending.remove(&id) else { return };
        let refused = msg.response().is_some_and(|r| r.eq_ignore_ascii_case("Error"));
        if refused {
            let text = msg.get("Message").unwrap_or("error").to_owned();
            p.resolve(Err(Error::PbxRefused(text)));
        } else if p.list {
            p.collecting = Some((Response::new(msg), Vec::new()));
            self.pending.insert(id, p);
        } else {
            p.resolve(Ok(Reply::Single(Response::new(msg))));
        }
    }

    fn on_event(&mut self, msg: Message) {
        // An item of a list being collected carries that list's ActionID; every
        // other event (OriginateResponse included) goes to subscribers.
        let collecting = msg
            .action_id()
            .filter(|id| self.pending.get(*id).is_some_and(|p| p.collecting.is_some()))
            .map(str::to_owned);
        let Some(id) = collecting else {
            let _ = self.events.send(LinkEvent::Event(msg));
            return;
        };
        let limit = self.cfg.max_list_items;
        let Some(p) = self.pending.get_mut(&id) else { return };
        let full = p.collecting.as_ref().is_some_and(|(_, items)| items.len() >= limit);
        if is_list_complete(&msg) {
            if let Some(mut p) = self.pending.remove(&id) {
                if let Some((response, items)) = p.collecting.take() {
                    p.resolve(Ok(Reply::List(ListResponse { response, items, complete: Some(msg) })));
                }
            }
        } else if full {
            if let Some(p) = self.pending.remove(&id) {
                p.resolve(Err(Error::Protocol(format!("list longer than {limit} items"))));
            }
        } else if let Some((_, items)) = p.collecting.as_mut() {
            items.push(msg);
        }
    }

    fn expire(&mut self, now: Instant) {
        let expired: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now || p.reply.as_ref().is_some_and(|r| r.is_closed()))
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            if let Some(p) = self.pending.remove(&id) {
                let wait = self.cfg.action_timeout;
                p.resolve(Err(Error::Timeout(wait)));
            }
        }
    }

    fn fail_pending(&mut self, e: Error) {
        for (_, p) in self.pending.drain() {
            p.resolve(Err(e.clone()));
        }
    }

    async fn logoff(&mut self, conn: &mut Connection) {
        let id = self.ids.next();
        conn.logoff(&id, Duration::from_secs(1)).await;
        bump(&self.counters.messages_out);
    }

    /// Reconnects with the link's backoff (its delays carry on from the connections
    /// before, unless the last one proved stable). Commands arriving meanwhile fail at
    /// once with `LinkDown`. `None` when closed or when the policy gives up.
    async fn reconnect(&mut self, reason: String) -> Option<Connection> {
        let mut last_error = reason;
        if !self.cfg.reconnect.enabled {
            let _ = self.state_tx.send(LinkState::Down);
            return self.refuse_until_closed().await;
        }
        loop {
            if self.backoff.exhausted() {
                let _ = self.state_tx.send(LinkState::Down);
                return self.refuse_until_closed().await;
            }
            let delay = self.backoff.next_delay();
            let _ = self.state_tx.send(LinkState::Reconnecting {
                attempt: self.backoff.attempts(),
                last_error: last_error.clone(),
            });
            let sleep = tokio::time::sleep(delay);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    _ = &mut sleep => break,
                    cmd = self.cmd_rx.recv() => if !self.refuse(cmd) { return None },
                }
            }
            let ids = self.ids.clone();
            let cfg = self.cfg.clone();
            let start = self.endpoint;
            let open = async move { Connection::open_first(&cfg, start, &move || ids.next()).await };
            tokio::pin!(open);
            let result = loop {
                tokio::select! {
                    r = &mut open => break r,
                    cmd = self.cmd_rx.recv() => if !self.refuse(cmd) { return None },
                }
            };
            match result {
                Ok((conn, endpoint)) => {
                    if endpoint != self.endpoint {
                        tracing::warn!(url = %self.cfg.for_endpoint(endpoint).redacted_url(), "AMI link moved to another PBX");
                        self.endpoint = endpoint;
                    }
                    return Some(conn);
                }
                Err(Error::AuthFailed(why)) => {
                    tracing::error!(url = %self.cfg.redacted_url(), %why, "PBX refused the login; retrying slowly");
                    self.backoff.jump_to_max();
                    last_error = format!("login refused: {why}");
                }
                Err(e) => last_error = e.to_string(),
            }
        }
    }

    /// Answers a command while down; false when the client closes.
    fn refuse(&mut self, cmd: Option<Command>) -> bool {
        match cmd {
            Some(Command::Send { reply, .. }) => {
                let _ = reply.send(Err(Error::LinkDown));
                true
            }
            Some(Command::Close { done }) => {
                self.closers.push(done);
                false
            }
            None => false,
        }
    }

    async fn refuse_until_closed(&mut self) -> Option<Connection> {
        loop {
            let cmd = self.cmd_rx.recv().await;
            if !self.refuse(cmd) {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_end_is_recognised_in_both_forms_and_any_utf8() {
        let m = |pairs: &[(&str, &str)]| Message::from_pairs(pairs.iter().copied());
        assert!(is_list_complete(&m(&[("Event", "DeviceStateListComplete"), ("EventList", "Complete")])));
        assert!(is_list_complete(&m(&[("Event", "StatusComplete")])));
        assert!(is_list_complete(&m(&[("Event", "Foo"), ("EventList", "complete")])));
        assert!(!is_list_complete(&m(&[("Event", "QueueMember")])));
        assert!(!is_list_complete(&m(&[("Event", "Complete")])));
        // 8 bytes from the end falls inside the two-byte 'é': slicing the str
        // there (as the first version did) panics in the link task.
        assert!(!is_list_complete(&m(&[("Event", "xéabcdefg")])));
        assert!(!"xéabcdefg".is_char_boundary("xéabcdefg".len() - 8));
    }
}
