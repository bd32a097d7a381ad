//! The diagnostics' HTTP server: hyper's HTTP/1 connection under an accept loop of the
//! gateway's own. `axum::serve` has no header timeout, no idle timeout and no connection
//! limit, so half-sent requests held a file descriptor each for as long as their sender
//! liked (3,000 of them took the process past a limit of 1,024 open files, and then no
//! client could connect either); and it answered any `Host`, so a web page whose name an
//! attacker made resolve to 127.0.0.1 (DNS rebinding) could read `/api/clients` from an
//! administrator's browser.
//!
//! Time, as nginx counts it: a connection with no request in progress (new, or kept alive
//! after a response) may wait `idle_timeout` for a request's first byte; from that byte the
//! request's head must be complete within `header_timeout`, however slowly it trickles;
//! while a request is in progress, a response nobody reads for `idle_timeout` ends it.
//! These are enforced by the socket wrapper [`Guarded`], which knows the phase from the
//! service; hyper's own `header_read_timeout` is set to the sum of both, a backstop.
//!
//! Number: at most `max_connections`. A new connection is always accepted; at the limit
//! the oldest connection *without a request in progress* is closed to make room (the
//! oldest of all if every one has a request in progress). Per-address budgets would not
//! help here: the server listens on loopback unless configured, so the attacker and the
//! administrator's browser (or the reverse proxy in front) share one address. And a
//! browser sends its whole request as soon as it connects, so the newest connection has
//! its request in progress long before `max_connections` newer ones could push it out; a
//! flood of half-sent requests only ever closes its own.
//!
//! Name: a request whose `Host` (and absolute URI, if any) is not in `allowed_hosts` gets
//! 421 Misdirected Request with a short text body and is counted.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::Ipv6Addr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, Response, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep};

use crate::config::{Diagnostics, MAX_DIAGNOSTICS_CONNECTIONS};
use crate::registry::{lock, Metrics};
use crate::Shared;

/// hyper's read and write buffers, each, per connection (its default is ~400 KB): a head
/// bigger than this is refused, so `max_connections` bounds the bytes held too. Browsers
/// send 1 to 2 KB, more with cookies that other sites on `localhost` set.
const MAX_BUF: usize = 64 * 1024;
/// How long a connection may finish its response once the gateway is stopping.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);
/// How long a new connection waits for the one closed to make room for it (it closes as
/// soon as its task runs: this only bounds a stuck one).
const MAKE_ROOM_WAIT: Duration = Duration::from_secs(1);
/// The pause after a failed `accept` (out of file descriptors, say) before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

const MISDIRECTED: &str = "421 Misdirected Request: this diagnostics server does not answer to that \
                           host name; add it to [diagnostics] allowed_hosts to use it\n";

/// A `Host` as `allowed_hosts` and requests name it: lower case, IPv6 in brackets and in
/// its canonical form, with a port or not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HostName {
    host: String,
    port: Option<u16>,
}

impl HostName {
    /// `host`, `host:port`, `[ipv6]` or `[ipv6]:port`; `None` for anything else (a
    /// scheme, a path, user info, spaces, an empty or bad port).
    pub(crate) fn parse(s: &str) -> Option<HostName> {
        if s.is_empty() || s.len() > 300 {
            return None;
        }
        let port = |p: &str| match p {
            "" => None,
            p if p.bytes().all(|b| b.is_ascii_digit()) => p.parse::<u16>().ok(),
            _ => None,
        };
        if let Some(rest) = s.strip_prefix('[') {
            let (inner, after) = rest.split_once(']')?;
            let ip: Ipv6Addr = inner.parse().ok()?;
            let port = match after {
                "" => None,
                p => Some(port(p.strip_prefix(':')?)?),
            };
            return Some(HostName { host: format!("[{ip}]"), port });
        }
        let (host, port) = match s.split_once(':') {
            Some((h, p)) => (h, Some(port(p)?)),
            None => (s, None),
        };
        let name_byte = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_');
        if host.is_empty() || !host.bytes().all(name_byte) {
            return None;
        }
        Some(HostName { host: host.to_ascii_lowercase(), port })
    }

    /// Whether a request naming `asked` is for this name: the same host, and the same
    /// port if this one has a port (80 when the request names none).
    fn admits(&self, asked: &HostName) -> bool {
        self.host == asked.host && self.port.is_none_or(|p| p == asked.port.unwrap_or(80))
    }
}

/// The names the server answers to.
#[derive(Debug)]
struct Allowed(Vec<HostName>);

impl Allowed {
    fn admits(&self, name: &str) -> bool {
        HostName::parse(name).is_some_and(|asked| self.0.iter().any(|h| h.admits(&asked)))
    }

    /// A request must name an allowed host in its one `Host` header, and in its URI if the
    /// URI is absolute (which takes precedence over `Host` for HTTP/1.1); a request naming
    /// none (HTTP/1.0 allows that) is refused too: a browser always names one.
    fn admits_request<B>(&self, req: &Request<B>) -> bool {
        let mut hosts = req.headers().get_all(header::HOST).iter();
        let host = match (hosts.next(), hosts.next()) {
            (Some(h), None) => Some(h.to_str().unwrap_or("")),
            (None, _) => None,
            (Some(_), Some(_)) => return false,
        };
        let authority = req.uri().authority().map(|a| a.as_str());
        if host.is_none() && authority.is_none() {
            return false;
        }
        host.into_iter().chain(authority).all(|h| self.admits(h))
    }
}

// Where a connection is: it decides which timeout applies and whether the connection may
// be closed to make room.
/// No request in progress: new, or kept alive after a response.
const IDLE: u8 = 0;
/// A request's head has begun to arrive and is not complete.
const HEAD: u8 = 1;
/// A request is being answered (from its complete head to its response's last byte).
const BUSY: u8 = 2;

/// One connection's state, shared by its socket wrapper, its service and the accept loop.
#[derive(Debug)]
struct Conn {
    /// Grows with each connection: the table's first is the oldest.
    id: u64,
    born: Instant,
    phase: AtomicU8,
    /// Milliseconds after `born` when the phase began (in `HEAD`, the request's first
    /// byte) or, in `BUSY`, when a byte last moved.
    mark_ms: AtomicU64,
    /// Set when a timeout closed it (counted once, by its task).
    timed_out: AtomicBool,
    /// Told to close to make room for a newer connection.
    make_room: Notify,
}

impl Conn {
    fn new(id: u64) -> Self {
        Conn {
            id,
            born: Instant::now(),
            phase: AtomicU8::new(IDLE),
            mark_ms: AtomicU64::new(0),
            timed_out: AtomicBool::new(false),
            make_room: Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn enter(&self, phase: u8) {
        self.mark_ms.store(self.now_ms(), Ordering::Relaxed);
        self.phase.store(phase, Ordering::Relaxed);
    }

    fn phase(&self) -> u8 {
        self.phase.load(Ordering::Relaxed)
    }

    /// `n` bytes came in: the first of a request starts its head's clock (later ones do
    /// not move it: a trickled head is still closed in time).
    fn received(&self, n: usize) {
        match self.phase() {
            _ if n == 0 => {}
            IDLE => self.enter(HEAD),
            BUSY => self.mark_ms.store(self.now_ms(), Ordering::Relaxed),
            _ => {}
        }
    }

    /// `n` bytes went out: a response being read is progress.
    fn sent(&self, n: usize) {
        if n > 0 && self.phase() == BUSY {
            self.mark_ms.store(self.now_ms(), Ordering::Relaxed);
        }
    }

    fn deadline(&self, t: &Timeouts) -> Instant {
        let limit = if self.phase() == HEAD { t.header } else { t.idle };
        self.born + Duration::from_millis(self.mark_ms.load(Ordering::Relaxed)) + limit
    }
}

#[derive(Clone, Copy, Debug)]
struct Timeouts {
    header: Duration,
    idle: Duration,
}

/// The socket, closed (with an error hyper ends the connection on) when an operation
/// would wait past the deadline of the connection's phase.
#[derive(Debug)]
struct Guarded {
    tcp: TcpStream,
    conn: Arc<Conn>,
    timeouts: Timeouts,
    timer: Pin<Box<Sleep>>,
}

impl Guarded {
    fn new(tcp: TcpStream, conn: Arc<Conn>, timeouts: Timeouts) -> Self {
        let timer = Box::pin(tokio::time::sleep_until(conn.deadline(&timeouts)));
        Guarded { tcp, conn, timeouts, timer }
    }

    /// The socket is not ready: wait, unless the phase's deadline has passed.
    fn wait(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let deadline = self.conn.deadline(&self.timeouts);
        if self.timer.deadline() != deadline {
            self.timer.as_mut().reset(deadline);
        }
        ready!(self.timer.as_mut().poll(cx));
        self.conn.timed_out.store(true, Ordering::Relaxed);
        Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, "diagnostics connection timed out"))
    }
}

impl AsyncRead for Guarded {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.tcp).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                this.conn.received(buf.filled().len() - before);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => this.wait(cx).map(Err),
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.tcp).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                this.conn.sent(n);
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => this.wait(cx).map(Err),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.tcp).poll_write_vectored(cx, bufs) {
            Poll::Ready(Ok(n)) => {
                this.conn.sent(n);
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => this.wait(cx).map(Err),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.tcp).poll_flush(cx) {
            Poll::Pending => this.wait(cx).map(Err),
            done => done,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.tcp).poll_shutdown(cx) {
            Poll::Pending => this.wait(cx).map(Err),
            done => done,
        }
    }
}

/// Marks the end of a request when dropped (its response body is done or abandoned).
#[derive(Debug)]
struct InProgress(Arc<Conn>);

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.enter(IDLE);
    }
}

/// A response body that ends its request when hyper has taken all of it.
#[derive(Debug)]
struct Tracked {
    body: Body,
    _request: InProgress,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// One connection's service: the `Host` check, then the router.
#[derive(Debug, Clone)]
struct Service {
    router: TowerToHyperService<Router>,
    conn: Arc<Conn>,
    allowed: Arc<Allowed>,
    metrics: Arc<Metrics>,
}

type Answer = Pin<Box<dyn Future<Output = Result<Response<Tracked>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for Service {
    type Response = Response<Tracked>;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, req: Request<Incoming>) -> Answer {
        self.conn.enter(BUSY);
        let request = InProgress(self.conn.clone());
        if !self.allowed.admits_request(&req) {
            Metrics::add(&self.metrics.diagnostics_refused_host, 1);
            tracing::debug!("diagnostics: a request for a host not in allowed_hosts refused");
            let refusal = (StatusCode::MISDIRECTED_REQUEST, [(header::CONNECTION, "close")], MISDIRECTED)
                .into_response();
            let refusal = refusal.map(|body| Tracked { body, _request: request });
            return Box::pin(std::future::ready(Ok(refusal)));
        }
        let answer = hyper::service::Service::call(&self.router, req);
        Box::pin(async move {
            let response = answer.await?;
            Ok(response.map(|body| Tracked { body, _request: request }))
        })
    }
}

/// The open connections, oldest first.
#[derive(Debug, Default)]
struct Table(Mutex<BTreeMap<u64, Arc<Conn>>>);

impl Table {
    /// Tells the oldest connection without a request in progress (else the oldest) to
    /// close, and forgets it.
    fn make_room(&self) {
        let mut open = lock(&self.0);
        let victim = open.values().find(|c| c.phase() != BUSY).or_else(|| open.values().next()).map(|c| c.id);
        if let Some(c) = victim.and_then(|id| open.remove(&id)) {
            c.make_room.notify_one();
        }
    }
}

/// Takes a connection out of the table and the gauge when its task ends.
#[derive(Debug)]
struct Leave {
    table: Arc<Table>,
    id: u64,
    metrics: Arc<Metrics>,
}

impl Drop for Leave {
    fn drop(&mut self) {
        lock(&self.table.0).remove(&self.id);
        self.metrics.diagnostics_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves the diagnostics on `listener` until the gateway stops.
pub(crate) async fn serve(gw: Arc<Shared>, listener: TcpListener, cfg: Diagnostics) {
    let allowed = Arc::new(Allowed(cfg.allowed_hosts.iter().filter_map(|h| HostName::parse(h)).collect()));
    let router = TowerToHyperService::new(super::router(gw.clone()));
    let timeouts = Timeouts { header: cfg.header_timeout, idle: cfg.idle_timeout };
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(cfg.header_timeout.saturating_add(cfg.idle_timeout))
        .max_buf_size(MAX_BUF);
    let table = Arc::new(Table::default());
    // `Config::check` keeps it in range; clamped again so that no configuration built in
    // code can make the semaphore panic.
    let slots = Arc::new(Semaphore::new(cfg.max_connections.clamp(1, MAX_DIAGNOSTICS_CONNECTIONS)));
    let mut stop = gw.stopping.subscribe();
    let mut tasks = JoinSet::new();
    let mut next_id = 0u64;
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    tracing::warn!("diagnostics: accept failed: {e}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            () = stopped(&mut stop) => break,
        };
        let Some(slot) = slot(&slots, &table).await else {
            Metrics::add(&gw.metrics.diagnostics_refused_cap, 1);
            continue;
        };
        next_id += 1;
        let conn = Arc::new(Conn::new(next_id));
        lock(&table.0).insert(next_id, conn.clone());
        gw.metrics.diagnostics_connections.fetch_add(1, Ordering::Relaxed);
        let leave = Leave { table: table.clone(), id: next_id, metrics: gw.metrics.clone() };
        let service = Service {
            router: router.clone(),
            conn: conn.clone(),
            allowed: allowed.clone(),
            metrics: gw.metrics.clone(),
        };
        let io = TokioIo::new(Guarded::new(tcp, conn.clone(), timeouts));
        let served = http.serve_connection(io, service);
        let (conn_stop, metrics) = (gw.stopping.subscribe(), gw.metrics.clone());
        tasks.spawn(async move {
            // The socket is closed (`served` dropped) before the slot is given back.
            let ended = connection(served, &conn, conn_stop).await;
            let counter = match ended {
                Ended::MadeRoom => Some(&metrics.diagnostics_refused_cap),
                _ if conn.timed_out.load(Ordering::Relaxed) => Some(&metrics.diagnostics_timeouts),
                _ => None,
            };
            if let Some(c) = counter {
                Metrics::add(c, 1);
            }
            drop((leave, slot));
        });
    }
    drop(listener);
    // Stopping: each connection finishes its response within SHUTDOWN_GRACE; dropping the
    // set ends any left.
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async { while tasks.join_next().await.is_some() {} }).await;
}

/// A slot for a new connection: a free one, or the one of a connection closed for it.
async fn slot(slots: &Arc<Semaphore>, table: &Table) -> Option<OwnedSemaphorePermit> {
    if let Ok(s) = slots.clone().try_acquire_owned() {
        return Some(s);
    }
    table.make_room();
    tokio::time::timeout(MAKE_ROOM_WAIT, slots.clone().acquire_owned()).await.ok()?.ok()
}

type Connection = http1::Connection<TokioIo<Guarded>, Service>;

#[derive(Debug)]
enum Ended {
    Served,
    MadeRoom,
    Stopped,
}

/// Drives one connection until it ends, is told to make room, or the gateway stops.
async fn connection(served: Connection, conn: &Conn, mut stop: watch::Receiver<bool>) -> Ended {
    let mut served = std::pin::pin!(served);
    tokio::select! {
        r = served.as_mut() => {
            if let Err(e) = r {
                tracing::debug!("diagnostics connection: {e}");
            }
            Ended::Served
        }
        () = conn.make_room.notified() => Ended::MadeRoom,
        () = stopped(&mut stop) => {
            served.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, served).await;
            Ended::Stopped
        }
    }
}

/// Returns once the gateway is stopping (or gone). The watch's guard is dropped here, not
/// held by a caller's `select!` while it shuts a connection down.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(names: &[&str]) -> Allowed {
        Allowed(names.iter().map(|n| HostName::parse(n).expect("valid")).collect())
    }

    #[test]
    fn names_parse_as_browsers_send_them() {
        let n = |s| HostName::parse(s);
        assert_eq!(n("LocalHost:7090"), Some(HostName { host: "localhost".into(), port: Some(7090) }));
        assert_eq!(n("[0:0::1]"), Some(HostName { host: "[::1]".into(), port: None }));
        assert_eq!(n("[::1]:80"), Some(HostName { host: "[::1]".into(), port: Some(80) }));
        for bad in
            ["", "::1", "[::1", "[::1]x", "[::1]:", "a b", "a:b", "a:1:2", "u@h", "h/p", "h:+80", "h:65536"]
        {
            assert_eq!(n(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn only_allowed_names_and_ports_are_admitted() {
        let a = allowed(&["localhost", "127.0.0.1", "[::1]", "diag.example.org:443"]);
        for ok in [
            "localhost",
            "localhost:7090",
            "LOCALHOST:1",
            "127.0.0.1:7090",
            "[::1]:7090",
            "diag.example.org:443",
        ] {
            assert!(a.admits(ok), "{ok}");
        }
        for no in [
            "evil.example",
            "localhost.evil.example",
            "127.0.0.1.nip.io:7090",
            "diag.example.org",
            "diag.example.org:8443",
            "127.0.0.2",
            "",
        ] {
            assert!(!a.admits(no), "{no}");
        }
        let req = |uri: &str, hosts: &[&str]| {
            let mut b = Request::builder().uri(uri);
            for h in hosts {
                b = b.header(header::HOST, *h);
            }
            b.body(()).expect("request")
        };
        assert!(a.admits_request(&req("/api/clients", &["localhost:7090"])));
        assert!(a.admits_request(&req("http://localhost:7090/", &[])));
        assert!(!a.admits_request(&req("/api/clients", &[])), "no Host");
        assert!(!a.admits_request(&req("/", &["localhost", "evil.example"])), "two");
        assert!(!a.admits_request(&req("http://evil.example/", &["localhost"])), "the URI names another");
    }

    #[test]
    fn the_phase_sets_the_deadline_and_a_trickled_head_keeps_its_own() {
        let t = Timeouts { header: Duration::from_secs(10), idle: Duration::from_secs(60) };
        let c = Conn::new(1);
        assert_eq!(c.deadline(&t), c.born + t.idle, "new: idle");
        c.received(0);
        assert_eq!(c.phase(), IDLE);
        c.received(5);
        assert_eq!(c.phase(), HEAD);
        let head = c.deadline(&t);
        assert!(head < c.born + t.idle && head >= c.born + t.header);
        std::thread::sleep(Duration::from_millis(20));
        c.received(5);
        assert_eq!(c.deadline(&t), head, "more of the head does not extend it");
        c.enter(BUSY);
        let busy = c.deadline(&t);
        assert!(busy >= c.born + t.idle);
        std::thread::sleep(Duration::from_millis(20));
        c.sent(100);
        assert!(c.deadline(&t) > busy, "a response being read is progress");
        let c = Arc::new(c);
        drop(InProgress(c.clone()));
        assert_eq!(c.phase(), IDLE, "the response is done");
    }
}
