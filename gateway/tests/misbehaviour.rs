//! Clients that misbehave: garbage, a line over the limit, one byte at a time, never
//! reading, vanishing mid-message. Each affects only its own connection: another client,
//! connected all along, keeps getting its events and answers.

mod common;

use std::time::Duration;

use common::{
    api_clients, config, office, row, start, start_sim, until_clients, Raw, DESK_100, DESK_102, SUPERVISOR,
};
use ctilink_gateway::SlowClientPolicy;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// B's view of a call among its phones, proving B is served while A misbehaves.
async fn b_still_served(sim: &ctilink_sim::SimHandle, b: &mut Raw) {
    sim.place_call("102", "103").expect("call");
    b.until("103 rings", |v| v["event"]["event"] == "delivered" && v["event"]["device"] == "103").await;
    sim.hangup_ext("102");
    b.until("cleared", |v| v["event"]["event"] == "call_cleared").await;
}

#[tokio::test]
async fn garbage_and_oversized_lines_get_errors_and_the_connection_goes_on() {
    let sim = start_sim(office()).await;
    let gw = start(config(&sim)).await;
    let addr = gw.addrs().tcp.expect("tcp");
    let (mut a, _, _) = Raw::hello(addr, DESK_100, "bad").await;
    let (mut b, _, _) = Raw::hello(addr, DESK_102, "good").await;
    let garbage: [&[u8]; 6] = [
        b"\xff\xfe\x00binary junk\n",
        b"{\"type\":\"dance\"}\n",
        b"[1,2,3]\n",
        b"{\"type\":\"ping\",\"id\":\"seven\"}\n",
        b"{\"type\":\"hello\",\"version\":1,\"token\":\"x\"}\n",
        b"{not json\r\n",
    ];
    for g in garbage {
        a.send_raw(g).await;
        let e = a.recv().await;
        assert_eq!((e["type"].as_str(), e["code"].as_str()), (Some("error"), Some("protocol")), "{e}");
    }
    // A command without its command gets a result with its id.
    a.send_raw(b"{\"type\":\"command\",\"id\":77}\n").await;
    let r = a.recv().await;
    assert_eq!(
        (r["type"].as_str(), r["id"].as_u64(), r["error"]["code"].as_str()),
        (Some("result"), Some(77), Some("invalid_argument"))
    );
    // A line over the limit (64 KiB), sent in pieces: one error, then it is skipped.
    let big = vec![b'x'; 100 * 1024];
    for chunk in big.chunks(8192) {
        a.send_raw(chunk).await;
        b_tick(&mut b).await;
    }
    a.send_raw(b"\n").await;
    let e = a.recv().await;
    assert_eq!(e["code"], "protocol", "{e}");
    assert!(e["message"].as_str().is_some_and(|m| m.contains("longer than 65536")), "{e}");
    // The very same connection still works.
    assert!(a.sync(1).await.is_empty());
    let r = a.command(2, json!({"command": "make_call", "from": "100", "to": "101"})).await;
    assert_eq!(r["ok"], true, "{r}");
    b_still_served(&sim, &mut b).await;
    let clients = api_clients(gw.addrs().diagnostics.expect("diag")).await;
    assert_eq!(row(&clients, "desk-100")["errors"], 8);
    assert_eq!(row(&clients, "desk-102")["errors"], 0);
}

/// B answers a ping (B is not held up by A).
async fn b_tick(b: &mut Raw) {
    let n = b.sent;
    assert!(b.sync(1000 + n).await.iter().all(|v| v["type"] == "event"));
}

#[tokio::test]
async fn one_byte_at_a_time_is_served_and_never_finishing_hello_is_closed() {
    let sim = start_sim(office()).await;
    let mut cfg = config(&sim);
    cfg.clients.hello_timeout = Duration::from_millis(1500);
    let gw = start(cfg).await;
    let addr = gw.addrs().tcp.expect("tcp");
    let (mut b, _, _) = Raw::hello(addr, DESK_102, "good").await;
    // A says hello one byte every 5 ms (about 0.4 s), then pings the same way.
    let mut a = Raw::connect(addr).await;
    let hello =
        format!("{}\n", json!({"type": "hello", "version": 1, "token": DESK_100, "client": "trickle"}));
    let ping = "{\"type\":\"ping\",\"id\":5}\n";
    let trickle = async {
        for byte in hello.bytes().chain(ping.bytes()) {
            a.send_raw(&[byte]).await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    // B gets its call's events while A trickles.
    tokio::join!(trickle, b_still_served(&sim, &mut b));
    assert_eq!(a.recv().await["type"], "welcome");
    assert_eq!(a.recv().await["type"], "snapshot");
    assert_eq!(a.recv().await, json!({"type": "pong", "id": 5}));

    // C starts a hello and never finishes it: closed when the hello timeout ends.
    let mut c = Raw::connect(addr).await;
    c.send_raw(b"{\"type\":\"hel").await;
    let started = tokio::time::Instant::now();
    let got = c.until_closed().await;
    assert_eq!(got.last().map(|v| v["type"].clone()), Some(json!("bye")), "{got:#?}");
    assert_eq!(got.last().map(|v| v["reason"].clone()), Some(json!("no hello in time")));
    assert!(started.elapsed() < Duration::from_secs(3));
    b_tick(&mut b).await;
}

#[tokio::test]
async fn an_idle_client_is_told_and_closed() {
    let sim = start_sim(office()).await;
    let mut cfg = config(&sim);
    cfg.clients.idle_timeout = Duration::from_millis(400);
    let gw = start(cfg).await;
    let (mut a, _, _) = Raw::hello(gw.addrs().tcp.expect("tcp"), DESK_100, "sleepy").await;
    // Pings keep it alive.
    for id in 0..4 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        a.sync(id).await;
    }
    let got = a.until_closed().await;
    assert_eq!(got, [json!({"type": "bye", "reason": "idle for 400ms"})]);
}

/// A client socket with a small receive buffer, so that not reading fills it soon.
async fn stubborn(addr: std::net::SocketAddr) -> TcpStream {
    let sock = TcpSocket::new_v4().expect("socket");
    sock.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let mut s = sock.connect(addr).await.expect("connect");
    let hello =
        format!("{}\n", json!({"type": "hello", "version": 1, "token": SUPERVISOR, "client": "stubborn"}));
    s.write_all(hello.as_bytes()).await.expect("hello");
    s
}

/// Events of a chunk of the burst. Less than the queue: a client that reads each chunk
/// before the next is emitted can never have a full queue, however the test's threads are
/// scheduled.
const BURST: u64 = 200;
const QUEUE: usize = 256;
/// At most this many chunks (about 100 bytes an event: 40 MB), far more than a socket that
/// is not read holds (kernel buffers autotune to a few MB) plus the queue.
const MAX_CHUNKS: u64 = 2000;

/// Emits the burst in chunks, each once the good client has read the one before (checking
/// that it got every event, in order), until `pred` holds of `/api/clients`.
async fn burst_until(
    sim: &ctilink_sim::SimHandle,
    good: &mut Raw,
    diag: std::net::SocketAddr,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) {
    // The simulator numbers burst events on from one burst to the next.
    let mut next = 1u64;
    for chunk in 0..MAX_CHUNKS {
        sim.emit_burst(BURST as usize);
        while next <= (chunk + 1) * BURST {
            let v = good
                .recv_within(Duration::from_secs(10))
                .await
                .unwrap_or_else(|| panic!("chunk {chunk} stopped at {next}"));
            let ev = &v["event"];
            assert_ne!(ev["event"], "lagged", "the good client never lags: {v}");
            if ev["event"] == "user_event" && ev["name"] == "Burst" {
                let seq = ev["fields"]
                    .as_array()
                    .and_then(|f| f.iter().find(|p| p[0] == "Seq"))
                    .map(|p| p[1].clone());
                assert_eq!(seq, Some(json!(next.to_string())), "{v}");
                next += 1;
            }
        }
        good.seen.clear();
        if chunk % 25 == 24 && pred(&api_clients(diag).await) {
            return;
        }
    }
    panic!("{what} did not happen after {} events: {:#}", MAX_CHUNKS * BURST, api_clients(diag).await);
}

/// The stubborn client's row, open or closed.
fn stubborn_row(c: &Value) -> Option<Value> {
    let find = |k: &str| c[k].as_array().and_then(|v| v.iter().find(|r| r["client"] == "stubborn").cloned());
    find("clients").or_else(|| find("closed"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_resynced_then_closed_while_another_gets_every_event() {
    let sim = start_sim(office()).await;
    let mut cfg = config(&sim);
    cfg.clients.queue = QUEUE;
    cfg.clients.slow_client = SlowClientPolicy::Resync;
    cfg.clients.write_timeout = Duration::from_secs(2);
    let gw = start(cfg).await;
    let addr = gw.addrs().tcp.expect("tcp");
    let diag = gw.addrs().diagnostics.expect("diag");
    let slow = stubborn(addr).await;
    let (mut good, _, _) = Raw::hello(addr, SUPERVISOR, "keeps-up").await;
    until_clients(diag, "both attached", |c| {
        c["clients"]
            .as_array()
            .is_some_and(|v| v.iter().all(|r| r["identity"] == "supervisor") && v.len() == 2)
    })
    .await;
    burst_until(&sim, &mut good, diag, "a resync of the slow client", |c| {
        stubborn_row(c).is_some_and(|r| r["resyncs"].as_u64().is_some_and(|n| n >= 1))
    })
    .await;
    let r = stubborn_row(&api_clients(diag).await).expect("the slow client is listed");
    assert!(r["resyncs"].as_u64().is_some_and(|n| n >= 1), "the policy triggered: {r:#}");
    assert!(r["dropped"].as_u64().is_some_and(|n| n > 0), "its backlog was dropped: {r:#}");
    // It never reads, so the write timeout closes it.
    let gone = until_clients(diag, "the slow client closed", |c| {
        c["clients"].as_array().is_some_and(|v| v.len() == 1)
    })
    .await;
    let closed = gone["closed"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|c| c["client"] == "stubborn")
        .cloned()
        .expect("closed");
    assert!(closed["closed_reason"].as_str().is_some_and(|s| s.starts_with("not reading")), "{closed:#}");
    assert!(good.sync(1).await.is_empty());
    let (_, metrics) = common::http_get(diag, "/metrics").await;
    assert!(metrics.contains("ctilink_gateway_write_timeouts_total 1\n"), "{metrics}");
    assert!(!metrics.contains("ctilink_gateway_slow_client_total{action=\"resync\"} 0\n"), "{metrics}");
    drop(slow);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_disconnect_policy_a_slow_client_is_told_why() {
    let sim = start_sim(office()).await;
    let mut cfg = config(&sim);
    cfg.clients.queue = QUEUE;
    cfg.clients.slow_client = SlowClientPolicy::Disconnect;
    let gw = start(cfg).await;
    let addr = gw.addrs().tcp.expect("tcp");
    let diag = gw.addrs().diagnostics.expect("diag");
    let mut slow = stubborn(addr).await;
    let (mut good, _, _) = Raw::hello(addr, SUPERVISOR, "keeps-up").await;
    until_clients(diag, "both attached", |c| {
        c["clients"]
            .as_array()
            .is_some_and(|v| v.iter().all(|r| r["identity"] == "supervisor") && v.len() == 2)
    })
    .await;
    // The policy ends it with a bye, written when it reads again (or at the write timeout).
    burst_until(&sim, &mut good, diag, "the slow client's disconnection", |c| {
        stubborn_row(c)
            .is_some_and(|r| r["closed_reason"].as_str().is_some_and(|s| s.starts_with("too slow")))
    })
    .await;
    // Now the slow client reads: what was written before the policy, then why it ends.
    let mut all = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut all))
        .await
        .expect("closed in time")
        .expect("read");
    let last = String::from_utf8_lossy(&all).lines().last().map(str::to_owned).unwrap_or_default();
    let bye: Value = serde_json::from_str(&last).unwrap_or_else(|e| panic!("{e}: {last}"));
    assert_eq!(bye["type"], "bye", "{bye}");
    assert!(bye["reason"].as_str().is_some_and(|r| r.starts_with("too slow")), "{bye}");
    let gone = until_clients(diag, "closed", |c| c["clients"].as_array().is_some_and(|v| v.len() == 1)).await;
    let closed = gone["closed"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|c| c["client"] == "stubborn")
        .cloned()
        .expect("listed");
    assert!(closed["dropped"].as_u64().is_some_and(|d| d > 0), "{closed:#}");
    let (_, metrics) = common::http_get(diag, "/metrics").await;
    assert!(metrics.contains("ctilink_gateway_slow_client_total{action=\"disconnect\"} 1\n"), "{metrics}");
}

#[tokio::test]
async fn abrupt_disconnects_leave_the_gateway_and_the_others_alone() {
    let sim = start_sim(office()).await;
    let gw = start(config(&sim)).await;
    let addr = gw.addrs().tcp.expect("tcp");
    let diag = gw.addrs().diagnostics.expect("diag");
    let (mut b, _, _) = Raw::hello(addr, DESK_102, "good").await;
    for i in 0..20u64 {
        let s = TcpStream::connect(addr).await.expect("connect");
        s.set_zero_linger().expect("linger 0: a reset, not a close");
        let mut s = s;
        match i % 4 {
            // Gone before hello.
            0 => {}
            // Gone in the middle of hello.
            1 => s.write_all(b"{\"type\":\"hello\",\"ver").await.expect("write"),
            // Gone with a command in flight (100 rings; the result has nowhere to go).
            2 | 3 => {
                let hello = json!({"type": "hello", "version": 1, "token": DESK_100, "client": format!("vanishing-{i}")});
                let cmd = json!({"type": "command", "id": 1, "command": {"command": "make_call", "from": "100", "to": "109"}});
                s.write_all(format!("{hello}\n{cmd}\n").as_bytes()).await.expect("write");
                if i % 4 == 3 {
                    s.write_all(b"{\"type\":\"pi").await.expect("write");
                }
            }
            _ => unreachable!(),
        }
        drop(s);
    }
    let clients =
        until_clients(diag, "only B left", |c| c["clients"].as_array().is_some_and(|v| v.len() == 1)).await;
    assert_eq!(row(&clients, "desk-102")["errors"], 0);
    b_still_served(&sim, &mut b).await;
    let (_, metrics) = common::http_get(diag, "/metrics").await;
    assert!(metrics.contains("ctilink_gateway_connections_total 21\n"), "{metrics}");
    sim.hangup_all();
}
