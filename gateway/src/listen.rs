//! The listeners: accept a connection, do TLS and the first HTTP request (the panel, or
//! the WebSocket handshake: [`crate::front`]) where the listener needs them (all within the
//! hello timeout, so a client that stalls there holds nothing for long), register it, and
//! hand it to the session.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;

use crate::config::TlsFiles;
use crate::front;
use crate::io::{self, BoxIo};
use crate::registry::{Client, Metrics, Transport};
use crate::{session, Shared};

/// The WebSocket path.
pub const WS_PATH: &str = "/ws";

/// A TLS acceptor from the configured PEM files.
pub(crate) fn tls_acceptor(files: &TlsFiles) -> Result<TlsAcceptor, String> {
    let read =
        |p: &std::path::Path| std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    let cert_pem = read(&files.cert)?;
    let key_pem = read(&files.key)?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", files.cert.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate", files.cert.display()));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| format!("{}: {e}", files.key.display()))?;
    let config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| format!("certificate and key: {e}"))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accepts connections until the gateway stops.
pub(crate) async fn accept_loop(
    gw: Arc<Shared>,
    listener: TcpListener,
    kind: Transport,
    tls: Option<TlsAcceptor>,
) {
    let mut stop = gw.stopping.subscribe();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((sock, peer)) => {
                    let _ = sock.set_nodelay(true);
                    tokio::spawn(connection(gw.clone(), sock, peer, kind, tls.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly.
                    tracing::warn!("gateway accept failed on {}: {e}", kind.as_str());
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

async fn connection(
    gw: Arc<Shared>,
    mut sock: TcpStream,
    peer: SocketAddr,
    kind: Transport,
    tls: Option<TlsAcceptor>,
) {
    let client = Arc::new(Client::new(gw.registry.next_id(), peer, kind, gw.limits.stream()));
    gw.registry.add(client.clone());
    let evicted = match gw.admission.admit(&client) {
        Ok(evicted) => evicted,
        Err(refused) => {
            Metrics::add(&gw.metrics.unauthenticated_evicted, refused.evicted.len() as u64);
            Metrics::add(&gw.metrics.unauthenticated_refused, 1);
            tracing::info!("refused {peer}: too many connections without hello");
            if tls.is_none() && kind == Transport::Tcp {
                let bye = ctilink::wire::encode(&ctilink::wire::ServerMessage::Bye {
                    reason: "too many connections are waiting for hello: try again".into(),
                });
                let _ = tokio::time::timeout(Duration::from_secs(1), sock.write_all(&bye)).await;
            }
            return gone(&gw, &client, "refused: too many connections without hello".into());
        }
    };
    if !evicted.is_empty() {
        Metrics::add(&gw.metrics.unauthenticated_evicted, evicted.len() as u64);
        tracing::info!("{peer}: {} connection(s) without hello closed to make room", evicted.len());
    }
    Metrics::add(&gw.metrics.connections, 1);
    let wait = gw.limits.hello_timeout;
    if kind == Transport::Tcp {
        let (reader, writer) = io::tcp_lines(sock, gw.limits.max_line);
        return session::serve(gw, client, reader, writer).await;
    }
    let io: BoxIo = match tls {
        None => Box::new(sock),
        Some(acceptor) => match before_hello(&client, wait, acceptor.accept(sock)).await {
            Some(Ok(s)) => Box::new(s),
            Some(Err(e)) => return gone(&gw, &client, format!("TLS handshake failed: {e}")),
            None => return gone(&gw, &client, "TLS handshake timed out".into()),
        },
    };
    let (reader, writer) = match kind {
        Transport::Tls | Transport::Tcp => io::lines(io, gw.limits.max_line),
        Transport::Ws | Transport::Wss => match websocket(&gw, &client, io, kind == Transport::Wss).await {
            Ok(rw) => rw,
            Err(reason) => return gone(&gw, &client, reason),
        },
    };
    session::serve(gw, client, reader, writer).await;
}

/// The first request on a WebSocket listener, within the hello timeout: the WebSocket
/// handshake (with the bytes read for routing put back), or an answer over HTTP and the
/// end of the connection (`Err` with the reason, for the registry's closed list).
async fn websocket(
    gw: &Shared,
    client: &Client,
    mut io: BoxIo,
    https: bool,
) -> Result<(io::Reader, io::Writer), String> {
    let wait = gw.limits.hello_timeout;
    let started = Instant::now();
    let left = || wait.saturating_sub(started.elapsed());
    let (head, read) = match before_hello(client, wait, front::read_head(&mut io)).await {
        Some(Ok(h)) => h,
        Some(Err(e)) => {
            if matches!(e, front::HeadError::TooLong | front::HeadError::Malformed) {
                let bad = front::plain(400, "Bad Request", "bad request head\n");
                let _ = before_hello(client, left(), front::answer_and_close(&mut io, &bad)).await;
            }
            return Err(format!("HTTP request: {e}"));
        }
        None => return Err("HTTP request head timed out".into()),
    };
    if let front::Route::Answer(response) = front::route(&head, https, &gw.ws_allowed_origins) {
        let _ = before_hello(client, left(), front::answer_and_close(&mut io, &response)).await;
        // The path as the diagnostics may show it: short, no control characters.
        let path: String = head.path.chars().filter(|c| !c.is_control()).take(64).collect();
        return Err(format!(
            "HTTP {} {path}: answered",
            head.method.chars().filter(|c| !c.is_control()).take(16).collect::<String>()
        ));
    }
    let replayed: BoxIo = Box::new(front::Prefixed::new(read, io));
    let handshake = tokio_tungstenite::accept_hdr_async_with_config(
        replayed,
        check_path,
        Some(io::ws_config(gw.limits.max_line)),
    );
    match before_hello(client, left(), handshake).await {
        Some(Ok(ws)) => Ok(io::ws(ws)),
        Some(Err(e)) => Err(format!("WebSocket handshake failed: {e}")),
        None => Err("WebSocket handshake timed out".into()),
    }
}

/// A handshake, within `wait` and unless the connection is pushed out meanwhile (then
/// `None`; the reason is recorded already).
async fn before_hello<T>(client: &Client, wait: Duration, step: impl Future<Output = T>) -> Option<T> {
    tokio::select! {
        r = tokio::time::timeout(wait, step) => r.ok(),
        () = client.evict_now.notified() => None,
    }
}

fn gone(gw: &Shared, client: &Client, reason: String) {
    tracing::debug!("client {} ({}): {reason}", client.id, client.addr);
    client.end(reason);
    gw.forget(client);
}

/// Only `/ws` is a WebSocket; anything else is 404.
#[allow(clippy::result_large_err)] // the signature is tungstenite's callback's
fn check_path(req: &Request, resp: Response) -> Result<Response, ErrorResponse> {
    if req.uri().path() == WS_PATH {
        Ok(resp)
    } else {
        let mut r = ErrorResponse::new(Some(format!("the WebSocket is at {WS_PATH}")));
        *r.status_mut() = StatusCode::NOT_FOUND;
        Err(r)
    }
}
