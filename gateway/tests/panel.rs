//! The WebSocket listener's HTTP side over real TCP: the operator panel's files with their
//! security headers, 404 and 405, and the `Origin` check of WebSocket upgrades (a foreign
//! page refused, the gateway's own page, a configured origin and non-browser clients
//! without `Origin` accepted).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{config, office, start, start_sim, DESK_100};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One raw request; the whole answer up to the gateway's close, as (head, body).
async fn http(addr: SocketAddr, request: &str) -> (String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(request.as_bytes()).await.expect("write");
    let mut all = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut all))
        .await
        .expect("the gateway closes after answering")
        .expect("read");
    let end = all.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete head") + 4;
    (String::from_utf8(all[..end].to_vec()).expect("UTF-8 head"), all[end..].to_vec())
}

fn get(addr: SocketAddr, path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n")
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

async fn gateway_with_ws(origins: &[&str]) -> (ctilink_sim::SimHandle, ctilink_gateway::Gateway, SocketAddr) {
    let sim = start_sim(office()).await;
    let mut cfg = config(&sim);
    cfg.clients.hello_timeout = Duration::from_millis(500);
    cfg.listen.ws = Some("127.0.0.1:0".parse().expect("addr"));
    cfg.listen.ws_allowed_origins = origins.iter().map(|s| s.to_string()).collect();
    let gw = start(cfg).await;
    let addr = gw.addrs().ws.expect("ws");
    (sim, gw, addr)
}

#[tokio::test]
async fn the_panel_is_served_with_its_security_headers() {
    let (_sim, gw, addr) = gateway_with_ws(&[]).await;
    for (path, ty, needle) in [
        ("/panel", "text/html; charset=utf-8", "<script type=\"module\" src=\"/panel/panel.js\">"),
        ("/panel/", "text/html; charset=utf-8", "<form id=\"login\""),
        ("/panel/panel.js?v=2", "text/javascript; charset=utf-8", "from '/panel/ctilink-web.js'"),
        ("/panel/panel.css", "text/css; charset=utf-8", ".lamps"),
    ] {
        let (head, body) = http(addr, &get(addr, path)).await;
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{path}: {head}");
        assert_eq!(header(&head, "content-type"), Some(ty), "{path}");
        assert_eq!(header(&head, "content-security-policy"), Some(CSP), "{path}");
        assert_eq!(header(&head, "x-content-type-options"), Some("nosniff"), "{path}");
        assert_eq!(header(&head, "referrer-policy"), Some("no-referrer"), "{path}");
        assert_eq!(header(&head, "connection"), Some("close"), "{path}");
        assert_eq!(header(&head, "content-length"), Some(body.len().to_string().as_str()), "{path}");
        let text = String::from_utf8(body).expect("UTF-8");
        assert!(text.contains(needle), "{path} lacks {needle}");
        // No inline code and nothing from another site.
        assert!(!text.contains("http://") && !text.contains("https://"), "{path} names another site");
        assert!(!text.contains("style=\""), "{path} has an inline style");
    }
    let (_, html) = http(addr, &get(addr, "/panel")).await;
    let html = String::from_utf8(html).expect("UTF-8");
    assert!(!html.contains("<script>") && !html.contains("<style"), "inline script or style");

    // The browser library is the package's file, byte for byte.
    let (head, body) = http(addr, &get(addr, "/panel/ctilink-web.js")).await;
    assert_eq!(header(&head, "content-type"), Some("text/javascript; charset=utf-8"));
    let lib =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../bindings-web/index.js")).expect("index.js");
    assert_eq!(body, lib);

    // HEAD: the same head, no body.
    let (head, body) = http(addr, &format!("HEAD /panel HTTP/1.1\r\nHost: {addr}\r\n\r\n")).await;
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(body.is_empty());
    assert_ne!(header(&head, "content-length"), Some("0"));

    // Served connections leave the registry (and the budget of connections without hello).
    assert!(none_waiting(&gw).await, "{:?}", gw.clients());
}

#[tokio::test]
async fn other_paths_are_404_and_other_methods_405() {
    let (_sim, _gw, addr) = gateway_with_ws(&[]).await;
    for path in ["/", "/panel/../diag", "/panelx", "/panel/secret.txt", "/api/clients"] {
        let (head, _) = http(addr, &get(addr, path)).await;
        assert!(head.starts_with("HTTP/1.1 404 "), "{path}: {head}");
    }
    for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
        let (head, _) =
            http(addr, &format!("{method} /panel HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\n\r\n"))
                .await;
        assert!(head.starts_with("HTTP/1.1 405 "), "{method}: {head}");
        assert_eq!(header(&head, "allow"), Some("GET, HEAD"), "{method}");
    }
    // A head that never ends within the limit is refused, not buffered.
    let long = format!("GET /panel HTTP/1.1\r\nHost: {addr}\r\nX-Pad: {}\r\n\r\n", "a".repeat(9000));
    let (head, _) = http(addr, &long).await;
    assert!(head.starts_with("HTTP/1.1 400 "), "{head}");
}

/// A WebSocket handshake to `/ws` with `origin` (if any): 101 once the protocol works on
/// it (hello, welcome), else the HTTP status of the refusal.
async fn upgrade(addr: SocketAddr, origin: Option<&str>) -> u16 {
    let mut req = format!("ws://{addr}/ws").into_client_request().expect("request");
    if let Some(o) = origin {
        req.headers_mut().insert("Origin", HeaderValue::from_str(o).expect("header"));
    }
    let sock = TcpStream::connect(addr).await.expect("connect");
    match tokio_tungstenite::client_async(req, sock).await {
        Ok((mut ws, _)) => {
            let hello = json!({"type": "hello", "version": 1, "token": DESK_100, "client": "origin-test"});
            ws.send(Message::text(hello.to_string())).await.expect("send");
            let m = tokio::time::timeout(Duration::from_secs(5), ws.next())
                .await
                .expect("welcome in time")
                .expect("open")
                .expect("no error");
            let v: Value = serde_json::from_str(m.to_text().expect("text")).expect("JSON");
            assert_eq!(v["type"], "welcome", "{v}");
            101
        }
        Err(tungstenite::Error::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("handshake failed otherwise: {e}"),
    }
}

/// Waits (up to 2 s) until no connection is left without hello; whether that happened.
async fn none_waiting(gw: &ctilink_gateway::Gateway) -> bool {
    for _ in 0..100 {
        if gw.clients().clients.iter().all(|c| c.identity.is_some()) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn websocket_upgrades_are_checked_by_origin() {
    let (_sim, gw, addr) = gateway_with_ws(&["https://crm.example.org"]).await;
    assert_eq!(upgrade(addr, Some("http://evil.example")).await, 403, "a foreign page");
    assert_eq!(upgrade(addr, Some(&format!("https://{addr}"))).await, 403, "another scheme");
    assert_eq!(upgrade(addr, Some("null")).await, 403, "an opaque origin");
    assert_eq!(upgrade(addr, Some(&format!("http://{addr}"))).await, 101, "the gateway's own page");
    assert_eq!(upgrade(addr, Some("https://crm.example.org")).await, 101, "a configured origin");
    assert_eq!(upgrade(addr, None).await, 101, "no Origin: not a browser");
    assert!(none_waiting(&gw).await, "a refused upgrade left a connection: {:?}", gw.clients());
}

#[tokio::test]
async fn a_request_head_never_finished_is_closed_at_the_hello_timeout() {
    let (_sim, gw, addr) = gateway_with_ws(&[]).await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(format!("GET /panel HTTP/1.1\r\nHost: {addr}\r\n").as_bytes()).await.expect("write");
    let mut rest = Vec::new();
    // The guard is far above the 500 ms hello timeout: it only keeps a broken build from hanging.
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut rest))
        .await
        .expect("closed by the gateway")
        .expect("read");
    assert!(rest.is_empty(), "no answer to half a request: {}", String::from_utf8_lossy(&rest));
    assert!(none_waiting(&gw).await, "{:?}", gw.clients());
    let closed = gw.clients().closed;
    assert!(
        closed.iter().any(|c| c.closed_reason.as_deref() == Some("HTTP request head timed out")),
        "{closed:?}"
    );
}
