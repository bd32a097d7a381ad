//! Starting the simulator, and the handle tests drive it with.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::channel::EventClass;
use crate::config::{SimConfig, SimError};
use crate::faults::{self, Control};
use crate::hub::{lock, receives, Hub};
use crate::pbx::{Effect, Pbx, SimTruth, Timer};
use crate::server;
use crate::traffic::{self, TrafficConfig, TrafficHandle};

/// Counters the handle reports.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) logins: AtomicU64,
    pub(crate) failed_logins: AtomicU64,
    pub(crate) actions: AtomicU64,
    /// The last [`ACTION_LOG`] actions as `(action in lower case, ActionID)`, Login,
    /// Challenge and Ping left out: what a test reads to prove a command ran once.
    pub(crate) log: Mutex<std::collections::VecDeque<(String, String)>>,
}

/// How many actions `SimHandle::action_log` keeps.
pub(crate) const ACTION_LOG: usize = 65_536;

impl Stats {
    pub(crate) fn record(&self, action: &str, id: Option<&str>) {
        if matches!(action, "login" | "challenge" | "ping") {
            return;
        }
        let mut log = lock(&self.log);
        if log.len() >= ACTION_LOG {
            log.pop_front();
        }
        log.push_back((action.to_owned(), id.unwrap_or_default().to_owned()));
    }
}

/// Everything the accept loop, the connections, the timers and the handles share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: SimConfig,
    pub(crate) pbx: Mutex<Pbx>,
    pub(crate) hub: Hub,
    pub(crate) stats: Stats,
    pub(crate) started: Instant,
    /// The AMI secret in force; starts as the configured one and can be changed
    /// while running, as an administrator edits manager.conf and reloads.
    pub(crate) secret: Mutex<String>,
    /// Actions (lower case) the AMI user may not send, as a `write=` line in manager.conf
    /// without their permission class would.
    pub(crate) denied: Mutex<std::collections::HashSet<String>>,
    /// Actions (lower case) this PBX does not have.
    pub(crate) unknown: Mutex<std::collections::HashSet<String>>,
    /// Timers are spawned here, so that the handle's methods work from any thread.
    pub(crate) runtime: tokio::runtime::Handle,
    shutdown: watch::Sender<bool>,
    next_conn: AtomicU64,
}

impl Shared {
    pub(crate) fn next_conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Runs `f` on the PBX and carries out its effects before releasing the lock,
    /// so that events from concurrent timers and actions leave in one order.
    pub(crate) fn with_pbx<R>(self: &Arc<Self>, f: impl FnOnce(&mut Pbx) -> R) -> R {
        let mut pbx = lock(&self.pbx);
        let r = f(&mut pbx);
        let effects = pbx.take_effects();
        self.apply(effects);
        r
    }

    fn apply(self: &Arc<Self>, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Event(ev) => self.hub.broadcast(&ev),
                Effect::Reply { conn, msg } => self.hub.send_to(conn, &msg),
                Effect::Schedule { after, timer } => {
                    let me = Arc::clone(self);
                    self.runtime.spawn(async move {
                        tokio::time::sleep(after).await;
                        me.fire(timer);
                    });
                }
            }
        }
    }

    fn fire(self: &Arc<Self>, timer: Timer) {
        if self.is_shut_down() {
            return;
        }
        let mut pbx = lock(&self.pbx);
        pbx.fire(timer);
        let effects = pbx.take_effects();
        self.apply(effects);
    }
}

/// The simulator: an AMI server in front of a simulated PBX.
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    /// Binds `addr` (tests use `127.0.0.1:0`) and serves AMI until
    /// [`SimHandle::shutdown`] (or until the tokio runtime ends).
    ///
    /// Fails if the address cannot be bound or the TLS certificate or key do
    /// not parse. Must be called within a tokio runtime.
    pub async fn start(config: SimConfig, addr: SocketAddr) -> std::io::Result<SimHandle> {
        if !config.asterisk.has_technology(&config.technology) {
            let msg =
                format!("Asterisk {} has no channel technology {:?}", config.asterisk, config.technology);
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, msg));
        }
        let tls = match &config.tls {
            Some(t) => Some(server::tls_acceptor(t)?),
            None => None,
        };
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let (shutdown, stop) = watch::channel(false);
        let shared = Arc::new(Shared {
            pbx: Mutex::new(Pbx::new(&config)),
            secret: Mutex::new(config.secret.clone()),
            denied: Mutex::new(std::collections::HashSet::new()),
            unknown: Mutex::new(missing_actions(&config)),
            config,
            hub: Hub::default(),
            stats: Stats::default(),
            started: Instant::now(),
            runtime: tokio::runtime::Handle::current(),
            shutdown,
            next_conn: AtomicU64::new(1),
        });
        let task = tokio::spawn(server::accept_loop(Arc::clone(&shared), listener, tls, stop));
        Ok(SimHandle { shared, addr: local, task: Arc::new(Mutex::new(Some(task))) })
    }
}

/// Actions (lower case) of channel drivers this PBX lacks: chan_sip's `SIPnotify`
/// on Asterisk 22 (chan_sip was removed in 21), res_pjsip_notify's `PJSIPNotify`
/// on a chan_sip PBX (as in the Asterisk 20 captures, where PJSIP is not loaded).
fn missing_actions(config: &SimConfig) -> std::collections::HashSet<String> {
    let mut set = std::collections::HashSet::new();
    if !config.asterisk.has_technology("SIP") {
        set.insert("sipnotify".to_owned());
    }
    if config.technology.eq_ignore_ascii_case("SIP") {
        set.insert("pjsipnotify".to_owned());
    }
    set
}

/// A handle on a running simulator; cheap to clone. Fault-injection methods act
/// on the connections open at the time of the call.
#[derive(Clone, Debug)]
pub struct SimHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    task: Arc<Mutex<Option<JoinHandle<()>>>>,
}

/// Escapes what may not stand in a URL's user-info part.
fn userinfo(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl SimHandle {
    /// The address the simulator listens on (the real port when bound to port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ami://USER:SECRET@HOST:PORT` (`amis://` with TLS), ready for
    /// `AmiConfig::from_url`. An unspecified listen address becomes loopback.
    pub fn url(&self) -> String {
        let cfg = &self.shared.config;
        let scheme = if cfg.tls.is_some() { "amis" } else { "ami" };
        let host = match self.addr.ip() {
            std::net::IpAddr::V4(ip) if ip.is_unspecified() => "127.0.0.1".to_owned(),
            std::net::IpAddr::V4(ip) => ip.to_string(),
            std::net::IpAddr::V6(ip) if ip.is_unspecified() => "[::1]".to_owned(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        };
        format!(
            "{scheme}://{}:{}@{host}:{}",
            userinfo(&cfg.username),
            userinfo(&cfg.secret),
            self.addr.port()
        )
    }

    /// [`url`](Self::url) plus the session options that tell the SDK's `Session`
    /// what this PBX supports: phone remote control (`control=pjsip`, or
    /// `control=sip` with `technology: "SIP"`) and the AstDB convention
    /// (`astdb=1`). `url()` stays bare because the plain AMI client rejects
    /// parameters it does not know.
    pub fn session_url(&self) -> String {
        let control = if self.shared.config.technology.eq_ignore_ascii_case("SIP") { "sip" } else { "pjsip" };
        format!("{}?control={control}&astdb=1", self.url())
    }

    /// What the PBX really holds now: phones and their states, channels, DND and
    /// forwarding as set in the AstDB. For tests that compare a client's view
    /// with the truth.
    pub fn truth(&self) -> SimTruth {
        lock(&self.shared.pbx).truth()
    }

    /// The DTMF digits `PlayDTMF` played, per channel name, in order (the last
    /// 1024 channels, 1024 digits each).
    pub fn dtmf_received(&self) -> Vec<(String, String)> {
        lock(&self.shared.pbx).dtmf_received()
    }

    /// The user of phone `ext` hangs up (the phone sends BYE: `HangupRequest`),
    /// or rejects a ringing call (486 Busy Here, cause 17). `false` if the phone
    /// has no channel.
    pub fn hangup_ext(&self, ext: &str) -> bool {
        self.shared.with_pbx(|p| p.hangup_ext(ext))
    }

    /// The user of phone `ext` answers its ringing call now, before
    /// `answer_delay`. `false` if it is not ringing.
    pub fn answer_ext(&self, ext: &str) -> bool {
        self.shared.with_pbx(|p| p.answer_ext(ext))
    }

    /// Refuses `action` (any case) with `Permission denied`, as Asterisk does for an AMI
    /// user without the write permission it needs; `false` allows it again.
    pub fn set_action_allowed(&self, action: &str, allowed: bool) {
        mark(&self.shared.denied, action, !allowed);
    }

    /// Makes the PBX not know `action` (any case): it answers `Invalid/unknown command`,
    /// as an Asterisk without the module that provides it does. `true` brings it back.
    pub fn set_action_known(&self, action: &str, known: bool) {
        mark(&self.shared.unknown, action, !known);
    }

    /// The phone registers again (`true`) or goes away (`false`, as if unplugged): its
    /// device state becomes `UNAVAILABLE`, an Originate to it fails at once with no
    /// channel (`Reason: 0`), and calls to it end with `CHANUNAVAIL` (cause 20). Returns
    /// false for an unknown extension.
    pub fn set_registered(&self, ext: &str, registered: bool) -> bool {
        self.shared.with_pbx(|p| p.set_registered(ext, registered))
    }

    /// Broadcasts one `Event: UserEvent` (`UserEvent: name`, then `fields` in
    /// order) now, to every logged-in connection that takes user events.
    pub fn emit_user_event(&self, name: &str, fields: &[(&str, &str)]) {
        let mut msg = crate::events::user_event(name);
        for (k, v) in fields {
            msg.push(*k, *v);
        }
        self.shared.with_pbx(|p| p.user_event(msg));
    }

    /// Starts generating random calls among the phones (see [`TrafficConfig`]);
    /// they stop when the returned handle is stopped or dropped, or at shutdown.
    pub fn start_traffic(&self, cfg: TrafficConfig) -> TrafficHandle {
        traffic::start(Arc::clone(&self.shared), cfg)
    }

    /// Changes the AMI secret for logins from now on (sessions already logged in
    /// stay), as an administrator changing manager.conf would. `url()` keeps the
    /// configured secret.
    pub fn set_secret(&self, secret: &str) {
        *lock(&self.shared.secret) = secret.to_owned();
    }

    /// Client sockets currently open (logged in or not).
    pub fn connections(&self) -> usize {
        self.shared.hub.len()
    }

    /// Successful logins since start.
    pub fn logins(&self) -> u64 {
        self.shared.stats.logins.load(Ordering::Relaxed)
    }

    /// Failed logins since start.
    pub fn failed_logins(&self) -> u64 {
        self.shared.stats.failed_logins.load(Ordering::Relaxed)
    }

    /// Actions received from all clients since start (Login included).
    pub fn actions_received(&self) -> u64 {
        self.shared.stats.actions.load(Ordering::Relaxed)
    }

    /// The actions received lately (at most 65,536), oldest first, as `(action in
    /// lower case, ActionID)`; Login, Challenge and Ping are not kept.
    pub fn action_log(&self) -> Vec<(String, String)> {
        lock(&self.shared.stats.log).iter().cloned().collect()
    }

    /// Closes every client socket at once, without `Goodbye` (a PBX restart or a
    /// network cut).
    pub fn drop_connections(&self) {
        self.shared.hub.close_all();
    }

    /// The PBX restarts with other phones: `extensions` replace the configured ones
    /// (an administrator renumbered the office and restarted Asterisk). Every call ends
    /// without an event, every connection is closed without `Goodbye`, and a client that
    /// logs in again finds the new PBX: its lists name only `extensions`. The AstDB (DND,
    /// forwarding) and custom device states survive, as on a real restart. Refused after
    /// [`shutdown`](Self::shutdown).
    pub fn restart(&self, extensions: Vec<String>) -> Result<(), SimError> {
        if self.shared.is_shut_down() {
            return Err(SimError::ShutDown);
        }
        // The connections close under the PBX's lock: no client reads the new PBX's
        // lists on a connection that still belongs to the old one.
        self.shared.with_pbx(|p| {
            p.restart(extensions);
            self.shared.hub.close_all();
        });
        Ok(())
    }

    /// For `d`, every open connection neither reads nor writes: the peer goes
    /// silent, as a hung PBX or a dead link does. Events meanwhile are queued
    /// (a connection whose queue overflows is dropped).
    pub fn stall(&self, d: Duration) {
        self.shared.hub.control(|_| true, &Control::Stall(d));
    }

    /// Writes `bytes` verbatim to every logged-in connection.
    pub fn send_raw(&self, bytes: &[u8]) {
        let raw = Control::Raw(bytes::Bytes::copy_from_slice(bytes));
        self.shared.hub.control(|e| e.logged_in, &raw);
    }

    /// Writes a few lines of binary junk, then a blank line, to every logged-in connection.
    pub fn send_garbage(&self) {
        self.shared.hub.control(|e| e.logged_in, &Control::Raw(faults::garbage()));
    }

    /// Writes one `UserEvent` with a header line of `bytes` bytes, then a normal
    /// `UserEvent` (`UserEvent: AfterOversized`), to every logged-in connection.
    pub fn send_oversized(&self, bytes: usize) {
        self.shared.hub.control(|e| e.logged_in, &Control::Raw(faults::oversized(bytes)));
    }

    /// Sends `n` small events (`Event: UserEvent`, `UserEvent: Burst`, `Seq: 1..=n`)
    /// to every logged-in connection whose event mask takes user events, as fast
    /// as each socket accepts them.
    pub fn emit_burst(&self, n: usize) {
        self.shared.hub.control(|e| receives(e, EventClass::User), &Control::Burst(n));
    }

    /// Phone `from` dials `to`: `to` rings, and answers after `answer_delay`.
    /// An unknown `to` is dialed anyway and fails as in Asterisk (cause 1); a
    /// busy `to` answers busy (cause 17).
    pub fn place_call(&self, from: &str, to: &str) -> Result<(), SimError> {
        if self.shared.is_shut_down() {
            return Err(SimError::ShutDown);
        }
        self.shared.with_pbx(|p| p.place_call(from, to))
    }

    /// Ends every call as if each calling phone hung up.
    pub fn hangup_all(&self) {
        self.shared.with_pbx(Pbx::hangup_all);
    }

    /// Channels that exist now (two per connected call).
    pub fn active_channels(&self) -> usize {
        lock(&self.shared.pbx).active_channels()
    }

    /// Stops accepting, closes every connection and waits for the accept loop.
    pub async fn shutdown(self) {
        self.shared.shutdown.send_replace(true);
        self.shared.hub.close_all();
        let task = lock(&self.task).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// Puts `action` (compared in lower case, as the session dispatches) in or out of `set`.
fn mark(set: &Mutex<std::collections::HashSet<String>>, action: &str, member: bool) {
    let action = action.to_ascii_lowercase();
    let mut set = lock(set);
    if member {
        set.insert(action);
    } else {
        set.remove(&action);
    }
}

#[cfg(test)]
mod tests {
    use super::userinfo;

    #[test]
    fn userinfo_escapes_reserved() {
        assert_eq!(userinfo("admin"), "admin");
        assert_eq!(userinfo("p@ss:w/rd"), "p%40ss%3Aw%2Frd");
    }
}
