//! The same protocol over WebSocket (a browser CRM), TLS (`ctilinks://`) and WebSocket
//! over TLS, each against the simulator; over WSS also the panel and the `Origin` check,
//! whose own origin is then `https`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{api_clients, config, office, row, start, start_sim, DESK_100, DESK_102};
use ctilink::Session;
use ctilink_gateway::TlsFiles;
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::ServerName;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// A certificate for `localhost` signed by a CA, written to a temporary directory.
struct Certs {
    dir: std::path::PathBuf,
    ca: std::path::PathBuf,
    files: TlsFiles,
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn certs(tag: &str) -> Certs {
    let dir = std::env::temp_dir().join(format!("ctilink-gw-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "ctilink test CA");
    let ca = ca_params.self_signed(&ca_key).expect("CA cert");
    let key = rcgen::KeyPair::generate().expect("server key");
    let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("server params");
    let cert = params.signed_by(&key, &ca, &ca_key).expect("server cert");
    let write = |name: &str, text: String| {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write PEM");
        p
    };
    let ca_path = write("ca.pem", ca.pem());
    let files = TlsFiles { cert: write("cert.pem", cert.pem()), key: write("key.pem", key.serialize_pem()) };
    Certs { dir, ca: ca_path, files }
}

async fn ws_send<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    ws: &mut WebSocketStream<S>,
    v: Value,
) {
    ws.send(Message::text(v.to_string())).await.expect("send");
}

async fn ws_recv<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    ws: &mut WebSocketStream<S>,
) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("a message in time");
        match m.expect("open").expect("no error") {
            Message::Text(t) => return serde_json::from_str(t.as_str()).expect("JSON"),
            Message::Close(c) => panic!("closed: {c:?}"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_websocket_client_gets_welcome_snapshot_events_and_results() {
    let sim = start_sim(office()).await;
    let mut cfg = config(&sim);
    cfg.listen.ws = Some("127.0.0.1:0".parse().expect("addr"));
    let gw = start(cfg).await;
    let addr = gw.addrs().ws.expect("ws");
    // Anything but /ws is not a WebSocket.
    let sock = TcpStream::connect(addr).await.expect("connect");
    assert!(tokio_tungstenite::client_async(format!("ws://{addr}/other"), sock).await.is_err());

    let sock = TcpStream::connect(addr).await.expect("connect");
    let (mut ws, _) =
        tokio_tungstenite::client_async(format!("ws://{addr}/ws"), sock).await.expect("handshake");
    ws_send(&mut ws, json!({"type": "hello", "version": 1, "token": DESK_100, "client": "browser-crm"}))
        .await;
    let welcome = ws_recv(&mut ws).await;
    assert_eq!((welcome["type"].as_str(), welcome["identity"].as_str()), (Some("welcome"), Some("desk-100")));
    let snap = ws_recv(&mut ws).await;
    assert_eq!(snap["devices"].as_array().map(Vec::len), Some(2), "{snap}");
    // An incoming call pops up in the browser.
    sim.place_call("101", "100").expect("call");
    let ringing = loop {
        let v = ws_recv(&mut ws).await;
        if v["event"]["event"] == "delivered" && v["event"]["device"] == "100" {
            break v;
        }
    };
    assert_eq!(ringing["event"]["caller"]["number"], "101");
    ws_send(&mut ws, json!({"type": "command", "id": 1, "command": {"command": "clear_call", "call": ringing["event"]["call"]}})).await;
    loop {
        let v = ws_recv(&mut ws).await;
        if v["type"] == "result" {
            assert_eq!((v["id"].as_u64(), v["ok"].as_bool()), (Some(1), Some(true)), "{v}");
            break;
        }
    }
    // Garbage is an error; a message over the limit ends this connection (the frame is
    // not read), with a reason.
    ws.send(Message::text("nonsense")).await.expect("send");
    let e = ws_recv(&mut ws).await;
    assert_eq!(e["code"], "protocol");
    let clients = api_clients(gw.addrs().diagnostics.expect("diag")).await;
    assert_eq!(row(&clients, "desk-100")["transport"], "ws");
    ws.send(Message::text("x".repeat(70_000))).await.expect("send");
    let mut last = Value::Null;
    while let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
        if let Message::Text(t) = m {
            last = serde_json::from_str(t.as_str()).expect("JSON");
        }
    }
    assert_eq!(last["type"], "bye", "{last}");
}

#[tokio::test]
async fn tls_clients_connect_with_the_ca_and_fail_without_it() {
    let certs = certs("tls");
    let sim = start_sim(office()).await;
    let mut cfg = config(&sim);
    cfg.tls = Some(certs.files.clone());
    cfg.listen.tls = Some("127.0.0.1:0".parse().expect("addr"));
    cfg.listen.wss = Some("127.0.0.1:0".parse().expect("addr"));
    let gw = start(cfg).await;
    let port = gw.addrs().tls.expect("tls").port();
    let url = format!("ctilinks://{DESK_100}@localhost:{port}?tls_ca={}", certs.ca.display());
    let s = Session::connect(&url).await.expect("a TLS session through the gateway");
    let call = s.make_call("100", "101").await.expect("make_call over TLS");
    let mut ev = s.events();
    while let Ok(Some(e)) = ev.next_timeout(Duration::from_secs(5)).await {
        if e.call() == Some(&call) && e.kind() == "established" {
            break;
        }
    }
    assert!(s.call(&call).is_some_and(|c| c.answered));
    // Without the CA the certificate is not trusted: a TLS error, and no token sent.
    let untrusted = Session::connect(&format!("ctilinks://{DESK_102}@localhost:{port}")).await;
    assert!(matches!(untrusted, Err(ctilink::Error::Tls(_))), "{untrusted:?}");
    let clients = api_clients(gw.addrs().diagnostics.expect("diag")).await;
    assert_eq!(row(&clients, "desk-100")["transport"], "tls");
    assert!(clients["clients"].as_array().is_some_and(|v| v.len() == 1), "{clients:#}");

    // WebSocket over TLS.
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::pem::PemObject::pem_file_iter(&certs.ca).expect("CA file") {
        roots.add(c.expect("CA cert")).expect("add");
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
    let wss = gw.addrs().wss.expect("wss");
    let tls_to = |connector: tokio_rustls::TlsConnector| async move {
        let sock = TcpStream::connect(wss).await.expect("connect");
        connector.connect(ServerName::try_from("localhost").expect("name"), sock).await.expect("TLS")
    };
    let stream = tls_to(connector.clone()).await;
    let (mut ws, _) = tokio_tungstenite::client_async(format!("wss://localhost:{}/ws", wss.port()), stream)
        .await
        .expect("handshake");
    ws_send(&mut ws, json!({"type": "hello", "version": 1, "token": DESK_102, "client": "secure-crm"})).await;
    assert_eq!(ws_recv(&mut ws).await["identity"], "desk-102");
    assert_eq!(ws_recv(&mut ws).await["type"], "snapshot");
    ws_send(&mut ws, json!({"type": "ping", "id": 3})).await;
    assert_eq!(ws_recv(&mut ws).await, json!({"type": "pong", "id": 3}));

    // The panel over TLS; its own page's origin is https, so an http one is foreign.
    let mut s = tls_to(connector.clone()).await;
    s.write_all(format!("GET /panel HTTP/1.1\r\nHost: localhost:{}\r\n\r\n", wss.port()).as_bytes())
        .await
        .expect("write");
    let mut page = Vec::new();
    let _ = s.read_to_end(&mut page).await; // a close without TLS close_notify is fine here
    let page = String::from_utf8_lossy(&page);
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n") && page.contains("Content-Security-Policy: "), "{page}");
    for (origin, accepted) in [("https://localhost:{port}", true), ("http://localhost:{port}", false)] {
        let origin = origin.replace("{port}", &wss.port().to_string());
        let mut req = format!("wss://localhost:{}/ws", wss.port()).into_client_request().expect("request");
        req.headers_mut().insert("Origin", origin.parse().expect("header"));
        let r = tokio_tungstenite::client_async(req, tls_to(connector.clone()).await).await;
        match r {
            Ok(_) => assert!(accepted, "{origin} accepted"),
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                assert!(!accepted && resp.status() == 403, "{origin}: {}", resp.status())
            }
            Err(e) => panic!("{origin}: {e}"),
        }
    }
}
