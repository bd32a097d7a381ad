//! Finding 5: the diagnostics HTTP server. It had no header timeout, no idle timeout and no
//! connection limit (3,000 half-sent requests held 3,000 file descriptors past 60 s, which
//! under a limit of 1,024 stops the whole gateway accepting), and it answered any `Host`
//! (a DNS-rebinding page in an administrator's browser could read `/api/clients`).
//!
//! Each test runs the real gateway and simulator on 127.0.0.1 and prints its figures
//! (`--nocapture` shows them): sockets the server holds, how long until it closes them,
//! whether the administrator's request got through.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ctilink_gateway::Config;
use ctilink_sim::SimHandle;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{config, http_get, office, start, start_sim, Raw, DESK_100};
use crate::heap::{live, mb, peak, reset_peak};

/// The simulator's office with the diagnostics' timeouts and cap set for a test.
fn diag_config(sim: &SimHandle, header_ms: u64, idle_ms: u64, cap: usize) -> Config {
    let mut c = config(sim);
    c.diagnostics.header_timeout = Duration::from_millis(header_ms);
    c.diagnostics.idle_timeout = Duration::from_millis(idle_ms);
    c.diagnostics.max_connections = cap;
    c
}

/// Inodes of the sockets whose local port is `port`, the listener excluded: the server's
/// ends of the diagnostics connections. A socket still owned by a process has a nonzero
/// inode in /proc/net/tcp (a closed one in FIN_WAIT or TIME_WAIT has 0).
fn socket_inodes(port: u16) -> std::collections::HashSet<String> {
    let text = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let ours = f.len() > 9
                && f[1].rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok()) == Some(port)
                && f[3] != "0A"
                && f[9] != "0";
            ours.then(|| f[9].to_owned())
        })
        .collect()
}

/// How many server-side sockets are open. The kernel hands /proc/net/tcp out a page at a
/// time, each a later look at a table that changes meanwhile, so one reading can hold a
/// socket closed while it was read and its replacement: only the sockets in two readings
/// one after the other are counted (one that is really held is in both).
fn server_sockets(port: u16) -> usize {
    let first = socket_inodes(port);
    socket_inodes(port).intersection(&first).count()
}

/// File descriptors this process holds (the gateway's and the attackers' alike).
fn fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

/// The soft limit on open files of this process.
fn fd_limit() -> usize {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1024)
}

/// Sends `request` as it is and reads the answer until the server closes: status, body.
async fn http_raw(addr: SocketAddr, request: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect to the diagnostics");
    s.write_all(request.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf))
        .await
        .expect("an answer within 5 s")
        .expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, body.to_owned())
}

/// One complete response on a kept-alive connection: its status (the body is read by its
/// `content-length`).
async fn read_response(s: &mut TcpStream) -> u16 {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut byte))
            .await
            .expect("a response within 5 s")
            .expect("read");
        assert_eq!(n, 1, "the server closed the connection before answering");
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("a content-length");
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await.expect("the body");
    head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("a status")
}

/// How long until the server closes `s` (EOF or reset), measured from `from`; `None` if it
/// is still open after `patience`.
async fn closed_after(s: &mut TcpStream, from: Instant, patience: Duration) -> Option<Duration> {
    let mut buf = [0u8; 512];
    let wait = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return from.elapsed(),
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(patience, wait).await.ok()
}

/// A sample of `/metrics`: the value of the line that starts with `name`.
fn sample(metrics: &str, name: &str) -> Option<u64> {
    metrics.lines().find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok().map(|v| v as u64))
}

/// 2,000 connections each send half a request and wait. The server holds at most its cap
/// of them at any moment (a newer one closes the oldest), closes every one it kept when
/// the header timeout passes, and meanwhile the administrator's `GET /api/link` gets 200
/// and a gateway client says hello.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_are_capped_and_timed_out_and_the_page_still_loads() {
    let _turn = crate::serial().await;
    const CAP: usize = 64;
    const HEADER_MS: u64 = 500;
    // Each attacking connection is two descriptors of this process when the server keeps
    // it (its end and ours): the test needs room for both before the fix, one after.
    let limit = fd_limit();
    let n = 2000.min(limit.saturating_sub(fds() + 300) / 2);
    assert!(n >= 500, "the open-files limit ({limit}) leaves room for {n} connections only");
    let sim = start_sim(office()).await;
    let gw = start(diag_config(&sim, HEADER_MS, 10_000, CAP)).await;
    let diag = gw.addrs().diagnostics.expect("diagnostics");
    let tcp = gw.addrs().tcp.expect("tcp");
    let fds_before = fds();
    reset_peak();
    let heap_before = live();

    // The sampler: the most server-side sockets seen at once.
    let done = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let most_fds = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (done, most, most_fds) = (done.clone(), most.clone(), most_fds.clone());
        tokio::spawn(async move {
            while done.load(Ordering::Relaxed) == 0 {
                most.fetch_max(server_sockets(diag.port()), Ordering::Relaxed);
                most_fds.fetch_max(fds(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    // The attack: connect, send half a request, wait for the server to close.
    let opened = Arc::new(AtomicUsize::new(0));
    let patience = Duration::from_millis(HEADER_MS) + Duration::from_secs(4);
    let attack_started = Instant::now();
    let attack = {
        let opened = opened.clone();
        tokio::spawn(async move {
            let mut held = Vec::with_capacity(n);
            let mut refused = 0usize;
            for _ in 0..n {
                let Ok(mut s) = TcpStream::connect(diag).await else {
                    refused += 1;
                    continue;
                };
                let _ = s.write_all(b"GET /api/clients HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ").await;
                let sent = Instant::now();
                opened.fetch_add(1, Ordering::Relaxed);
                held.push(tokio::spawn(async move { closed_after(&mut s, sent, patience).await }));
            }
            (held, refused, attack_started.elapsed())
        })
    };

    // The administrator, half-way through the attack.
    while opened.load(Ordering::Relaxed) < n / 2 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let t = Instant::now();
    let (status, body) = http_get(diag, "/api/link").await;
    let page_took = t.elapsed();
    let t = Instant::now();
    let (mut client, _, _) = Raw::hello(tcp, DESK_100, "during-the-attack").await;
    let hello_took = t.elapsed();
    let during = opened.load(Ordering::Relaxed);

    let (held, refused, attack_took) = attack.await.expect("the attack runs");
    let after_attack = server_sockets(diag.port());
    let mut closed = Vec::new();
    let mut still_open = 0usize;
    for h in held {
        match h.await.expect("a waiter") {
            Some(d) => closed.push(d),
            None => still_open += 1,
        }
    }
    done.store(1, Ordering::Relaxed);
    let _ = sampler.await;
    let heap_peak = peak().saturating_sub(heap_before);
    let slowest = closed.iter().max().copied().unwrap_or_default();
    let timed_out: Vec<&Duration> =
        closed.iter().filter(|d| **d >= Duration::from_millis(HEADER_MS)).collect();
    let fastest_timeout = timed_out.iter().min().copied().copied().unwrap_or_default();
    let (_, metrics) = http_get(diag, "/metrics").await;
    let cap_refusals = sample(&metrics, "ctilink_gateway_diagnostics_refused_total{reason=\"cap\"}");
    let timeouts = sample(&metrics, "ctilink_gateway_diagnostics_refused_total{reason=\"timeout\"}");
    println!(
        "diagnostics under {n} half-sent requests (cap {CAP}, header timeout {HEADER_MS} ms; \
         open-files limit {limit}): opened {n} in {attack_took:?} ({refused} refused at connect); \
         server sockets at most {} while sampled, {after_attack} just after the attack; \
         descriptors {fds_before} before, at most {} during (attackers' included); \
         closed by the server: {} ({} after the header timeout: {fastest_timeout:?} to \
         {slowest:?}), still open after {patience:?}: {still_open}; GET /api/link during the \
         attack ({during} opened): {status} in {page_took:?}; hello in {hello_took:?}; \
         /metrics cap {cap_refusals:?}, timeout {timeouts:?}; heap peak +{:.1} MB",
        most.load(Ordering::Relaxed),
        most_fds.load(Ordering::Relaxed),
        closed.len(),
        timed_out.len(),
        mb(heap_peak),
    );

    assert_eq!(status, 200, "the administrator's request during the attack: {body}");
    assert!(body.contains("\"state\":\"up\""), "{body}");
    client.sync(1).await;
    // The cap, and the one just accepted while its oldest is being closed.
    let most = most.load(Ordering::Relaxed);
    assert!(most <= CAP + 1, "the server held {most} connections at once (cap {CAP})");
    assert_eq!(still_open, 0, "connections still open {patience:?} after their half request");
    assert!(
        fastest_timeout >= Duration::from_millis(HEADER_MS - 50)
            && slowest < Duration::from_millis(HEADER_MS + 1500),
        "connections kept under the cap close at the header timeout: {fastest_timeout:?} to {slowest:?}"
    );
    assert_eq!(
        cap_refusals.unwrap_or(0) + timeouts.unwrap_or(0),
        n as u64,
        "each attacking connection is counted once, as evicted or timed out:\n{metrics}"
    );
    assert!(timeouts.is_some_and(|t| t >= 1), "{metrics}");
    // This process's whole heap, the attackers' 2,000 tasks included (65 MB before the cap:
    // every half-sent request held hyper's buffers).
    assert!(heap_peak < 24_000_000, "the heap grew by {:.1} MB", mb(heap_peak));
    assert!(server_sockets(diag.port()) <= 1, "only /metrics' own connection may be left");
}

/// A page served from another name (a DNS-rebinding attack: `evil.example` resolving to
/// 127.0.0.1 in the administrator's browser) gets 421 and no client data; so does a
/// request without `Host`. A name added to `allowed_hosts` is served.
#[tokio::test]
async fn a_foreign_or_missing_host_is_refused_and_an_allowed_one_is_served() {
    let _turn = crate::serial().await;
    let sim = start_sim(office()).await;
    let gw = start(config(&sim)).await;
    let diag = gw.addrs().diagnostics.expect("diagnostics");
    let port = diag.port();
    let (_client, _, _) = Raw::hello(gw.addrs().tcp.expect("tcp"), DESK_100, "crm").await;

    let get = |target: &str, host: Option<String>| {
        let host = host.map(|h| format!("Host: {h}\r\n")).unwrap_or_default();
        format!("GET {target} HTTP/1.1\r\n{host}Connection: close\r\n\r\n")
    };
    let refused = [
        get("/api/clients", Some("evil.example".into())),
        get("/api/clients", Some(format!("evil.example:{port}"))),
        get("/api/clients", Some(format!("localhost.evil.example:{port}"))),
        get("/api/clients", Some(format!("127.0.0.1.nip.io:{port}"))),
        get("/api/clients", None),
        "GET /api/clients HTTP/1.0\r\n\r\n".to_owned(),
        get("http://evil.example/api/clients", Some(format!("127.0.0.1:{port}"))),
        get("/", Some(format!("evil.example:{port}"))),
    ];
    let mut figures = Vec::new();
    for req in &refused {
        let (status, body) = http_raw(diag, req).await;
        figures.push(status);
        assert!(
            !body.contains("desk-100") && !body.contains("127.0.0.1:"),
            "client data leaked to {req:?}: {body}"
        );
        assert_eq!(status, 421, "{req:?}: {body}");
        assert!(body.contains("allowed_hosts"), "the refusal says why: {body}");
    }
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "LocalHost".into(),
        format!("[::1]:{port}"),
    ] {
        let (status, body) = http_raw(diag, &get("/api/clients", Some(host.clone()))).await;
        assert_eq!(status, 200, "Host {host}: {body}");
        assert!(body.contains("desk-100"), "{body}");
    }
    let (_, metrics) = http_get(diag, "/metrics").await;
    let counted = sample(&metrics, "ctilink_gateway_diagnostics_refused_total{reason=\"host\"}");
    println!("diagnostics, foreign Host: statuses {figures:?}, counted {counted:?}");
    assert_eq!(counted, Some(refused.len() as u64), "{metrics}");
    drop(gw);

    // A name of the administrator's (a reverse proxy's, say) is added to the defaults.
    let mut c = config(&sim);
    c.diagnostics.allowed_hosts.push("cti-diag.example.org".into());
    let gw = start(c).await;
    let diag = gw.addrs().diagnostics.expect("diagnostics");
    let (_client, _, _) = Raw::hello(gw.addrs().tcp.expect("tcp"), DESK_100, "crm").await;
    let (status, body) = http_raw(diag, &get("/api/clients", Some("cti-diag.example.org".into()))).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("desk-100"), "{body}");
    let (status, _) = http_raw(diag, &get("/api/clients", Some("CTI-DIAG.example.org:443".into()))).await;
    assert_eq!(status, 200);
    assert_eq!(http_raw(diag, &get("/api/clients", Some("evil.example".into()))).await.0, 421);
    assert_eq!(http_get(diag, "/api/link").await.0, 200, "the defaults still hold");
}

/// A kept-alive connection with no request in progress, and one that never sends, are
/// closed after the idle timeout; one that trickles a request head byte by byte is closed
/// at the header timeout though bytes keep coming; requests closer together than the
/// idle timeout keep a connection open.
#[tokio::test]
async fn idle_and_trickling_connections_are_closed_and_busy_ones_kept() {
    let _turn = crate::serial().await;
    const HEADER_MS: u64 = 1200;
    const IDLE_MS: u64 = 600;
    let sim = start_sim(office()).await;
    let gw = start(diag_config(&sim, HEADER_MS, IDLE_MS, 64)).await;
    let diag = gw.addrs().diagnostics.expect("diagnostics");
    let patience = Duration::from_secs(4);
    let request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";

    // Kept alive: one request, then nothing.
    let mut kept = TcpStream::connect(diag).await.expect("connect");
    kept.write_all(request).await.expect("write");
    assert_eq!(read_response(&mut kept).await, 200);
    let answered = Instant::now();
    let kept = tokio::spawn(async move { closed_after(&mut kept, answered, patience).await });
    // Silent from the start.
    let mut silent = TcpStream::connect(diag).await.expect("connect");
    let silent_since = Instant::now();
    let silent = tokio::spawn(async move { closed_after(&mut silent, silent_since, patience).await });
    // Trickling: a byte of a head every 100 ms, never finishing it.
    let mut trickle = TcpStream::connect(diag).await.expect("connect");
    let trickle_since = Instant::now();
    let trickler = tokio::spawn(async move {
        let head = b"GET /api/clients HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        for b in head {
            if trickle.write_all(&[*b]).await.is_err() {
                return Some(trickle_since.elapsed());
            }
            let mut one = [0u8; 1];
            match tokio::time::timeout(Duration::from_millis(100), trickle.read(&mut one)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return Some(trickle_since.elapsed()),
                _ => {}
            }
        }
        None
    });
    // Busy: a request every 300 ms for 1.5 s, on one connection.
    let mut busy = TcpStream::connect(diag).await.expect("connect");
    for _ in 0..5 {
        busy.write_all(request).await.expect("the connection is still open");
        assert_eq!(read_response(&mut busy).await, 200);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    busy.write_all(request).await.expect("the connection is still open");
    assert_eq!(read_response(&mut busy).await, 200, "requests 300 ms apart keep a connection");

    let kept_closed = kept.await.expect("the kept-alive watcher");
    let silent_closed = silent.await.expect("the silent watcher");
    let trickle_closed = trickler.await.expect("the trickler");
    println!(
        "diagnostics timeouts (idle {IDLE_MS} ms, header {HEADER_MS} ms): kept-alive closed after \
         {kept_closed:?}, silent after {silent_closed:?}, trickling after {trickle_closed:?}; 6 \
         requests 300 ms apart on one connection answered"
    );
    let idle = Duration::from_millis(IDLE_MS);
    let within = |d: Option<Duration>, t: Duration| {
        d.is_some_and(|d| d >= t - Duration::from_millis(50) && d < t + Duration::from_millis(700))
    };
    assert!(within(kept_closed, idle), "kept-alive: {kept_closed:?}");
    assert!(within(silent_closed, idle), "silent: {silent_closed:?}");
    assert!(within(trickle_closed, Duration::from_millis(HEADER_MS)), "trickling: {trickle_closed:?}");
    let (_, metrics) = http_get(diag, "/metrics").await;
    let timeouts = sample(&metrics, "ctilink_gateway_diagnostics_refused_total{reason=\"timeout\"}");
    assert_eq!(timeouts, Some(3), "{metrics}");
}
