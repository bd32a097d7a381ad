//! What the gateway tests share: a simulator and a gateway in front of it on 127.0.0.1
//! port 0, two desk tokens and a supervisor token, a raw line client that counts what it
//! sends and receives, and a bare HTTP GET for the diagnostics.
#![allow(dead_code)] // each test file uses part of it

use std::net::SocketAddr;
use std::time::Duration;

use ctilink_gateway::{Config, Gateway, Listen, TokenConfig};
use ctilink_sim::{SimConfig, SimHandle, Simulator};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

pub(crate) const DESK_100: &str = "token-desk-100-3f9a1c77e2";
pub(crate) const DESK_102: &str = "token-desk-102-b81d04e6aa";
pub(crate) const SUPERVISOR: &str = "token-supervisor-5c2e9d10f4";

/// A small, fast office: phones 100-109, quick ringing; 108 and 109 never answer.
pub(crate) fn office() -> SimConfig {
    SimConfig {
        extensions: SimConfig::extension_range(100, 109),
        ring_delay: Duration::from_millis(50),
        answer_delay: Duration::from_millis(150),
        no_answer: vec!["108".into(), "109".into()],
        dial_timeout: Duration::from_millis(1500),
        ..SimConfig::default()
    }
}

pub(crate) async fn start_sim(cfg: SimConfig) -> SimHandle {
    Simulator::start(cfg, "127.0.0.1:0".parse().expect("addr")).await.expect("simulator starts")
}

pub(crate) fn token(
    t: &str,
    identity: &str,
    monitor: &[&str],
    control: &[&str],
    user_events: bool,
) -> TokenConfig {
    TokenConfig {
        token: Some(t.into()),
        token_sha256: None,
        identity: identity.into(),
        monitor: monitor.iter().map(|s| s.to_string()).collect(),
        control: control.iter().map(|s| s.to_string()).collect(),
        user_events,
    }
}

/// Desk 100 sees 100 and 101 and acts for 100; desk 102 sees 102 and 103 and acts for
/// 102; the supervisor sees everything (user events too) and acts for nothing.
pub(crate) fn config(sim: &SimHandle) -> Config {
    let mut c = Config::new(&format!("{}&reconnect_ms=100", sim.session_url()));
    c.listen = Listen {
        tcp: Some("127.0.0.1:0".parse().expect("addr")),
        diagnostics: Some("127.0.0.1:0".parse().expect("addr")),
        ..Listen::default()
    };
    c.tokens = vec![
        token(DESK_100, "desk-100", &["100", "101"], &["100"], false),
        token(DESK_102, "desk-102", &["102", "103"], &["102"], false),
        token(SUPERVISOR, "supervisor", &["*"], &[], true),
    ];
    c
}

pub(crate) async fn start(cfg: Config) -> Gateway {
    Gateway::start(cfg).await.expect("gateway starts")
}

/// A client speaking the protocol by hand, counting every message each way.
#[derive(Debug)]
pub(crate) struct Raw {
    pub(crate) reader: BufReader<OwnedReadHalf>,
    pub(crate) writer: OwnedWriteHalf,
    pub(crate) sent: u64,
    pub(crate) received: u64,
    /// Every message received, in order.
    pub(crate) seen: Vec<Value>,
}

impl Raw {
    pub(crate) async fn connect(addr: SocketAddr) -> Raw {
        let s = TcpStream::connect(addr).await.expect("connect to the gateway");
        let (r, w) = s.into_split();
        Raw { reader: BufReader::new(r), writer: w, sent: 0, received: 0, seen: Vec::new() }
    }

    /// Connects and says hello; returns the client after `welcome` and the snapshot.
    pub(crate) async fn hello(addr: SocketAddr, token: &str, name: &str) -> (Raw, Value, Value) {
        let mut c = Raw::connect(addr).await;
        c.send(json!({"type": "hello", "version": 1, "token": token, "client": name})).await;
        let welcome = c.recv().await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        let snapshot = c.recv().await;
        assert_eq!(snapshot["type"], "snapshot", "{snapshot}");
        (c, welcome, snapshot)
    }

    pub(crate) async fn send(&mut self, v: Value) {
        self.send_raw(format!("{v}\n").as_bytes()).await;
        self.sent += 1;
    }

    /// Bytes as they are (not counted: the caller knows what they make).
    pub(crate) async fn send_raw(&mut self, b: &[u8]) {
        self.writer.write_all(b).await.expect("write to the gateway");
    }

    /// The next message, within 5 s.
    pub(crate) async fn recv(&mut self) -> Value {
        self.recv_within(Duration::from_secs(5)).await.expect("a message from the gateway within 5 s")
    }

    /// The next message within `d`, or `None`.
    pub(crate) async fn recv_within(&mut self, d: Duration) -> Option<Value> {
        let mut line = String::new();
        match tokio::time::timeout(d, self.reader.read_line(&mut line)).await {
            Err(_) => None,
            Ok(Ok(0)) => panic!("the gateway closed the connection; saw {:#?}", self.seen),
            Ok(Ok(_)) => {
                let v: Value =
                    serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad JSON {line:?}: {e}"));
                self.received += 1;
                self.seen.push(v.clone());
                Some(v)
            }
            Ok(Err(e)) => panic!("read error: {e}"),
        }
    }

    /// Reads until a message matches, within 5 s.
    pub(crate) async fn until(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.recv_within(left).await {
                Some(v) if pred(&v) => return v,
                Some(_) => {}
                None => panic!("timed out waiting for {what}; saw {:#?}", self.seen),
            }
        }
    }

    /// Waits for the gateway to close the connection (within 5 s); returns what came first.
    pub(crate) async fn until_closed(&mut self) -> Vec<Value> {
        let mut got = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let mut line = String::new();
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.reader.read_line(&mut line)).await {
                Err(_) => panic!("the gateway did not close the connection; got {got:#?}"),
                Ok(Ok(0)) | Ok(Err(_)) => return got,
                Ok(Ok(_)) => {
                    self.received += 1;
                    got.push(serde_json::from_str(&line).unwrap_or(Value::String(line)));
                }
            }
        }
    }

    /// A ping round trip: everything before the pong is returned (and counted).
    pub(crate) async fn sync(&mut self, id: u64) -> Vec<Value> {
        self.send(json!({"type": "ping", "id": id})).await;
        let mut before = Vec::new();
        loop {
            let v = self.recv().await;
            if v["type"] == "pong" && v["id"] == id {
                return before;
            }
            before.push(v);
        }
    }

    /// Sends a command and waits for its result (events meanwhile are kept in `seen`).
    pub(crate) async fn command(&mut self, id: u64, command: Value) -> Value {
        self.send(json!({"type": "command", "id": id, "command": command})).await;
        self.until("the result", |v| v["type"] == "result" && v["id"] == id).await
    }
}

/// The devices a message names anywhere: `device`, `calling_device`, endpoints,
/// `parties`, `devices_changed`, and the ids of a snapshot's devices.
pub(crate) fn devices_named(v: &Value) -> Vec<String> {
    fn walk(key: &str, v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    match (key, k.as_str(), x) {
                        (_, "device" | "calling_device", Value::String(s)) => out.push(s.clone()),
                        ("devices", "id", Value::String(s)) => out.push(s.clone()),
                        (_, "parties" | "devices_changed", Value::Array(a)) => {
                            out.extend(a.iter().filter_map(|d| d.as_str().map(str::to_owned)))
                        }
                        _ => walk(k, x, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(key, x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk("", v, &mut out);
    out
}

/// `GET path` on the diagnostics; the status and the body.
pub(crate) async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect to the diagnostics");
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf))
        .await
        .expect("in time")
        .expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("a status");
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

/// `/api/clients` as JSON.
pub(crate) async fn api_clients(addr: SocketAddr) -> Value {
    let (status, body) = http_get(addr, "/api/clients").await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("JSON")
}

/// The row of `/api/clients` with this identity (exactly one).
pub(crate) fn row<'a>(clients: &'a Value, identity: &str) -> &'a Value {
    let rows: Vec<&Value> = clients["clients"]
        .as_array()
        .expect("clients")
        .iter()
        .filter(|c| c["identity"] == identity)
        .collect();
    assert_eq!(rows.len(), 1, "one client {identity}: {clients:#}");
    rows[0]
}

/// Waits (at most 5 s) until `pred` holds of `/api/clients`.
pub(crate) async fn until_clients(addr: SocketAddr, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let v = api_clients(addr).await;
        if pred(&v) {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}: {v:#}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
