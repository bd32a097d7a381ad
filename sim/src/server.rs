//! Sockets: the accept loop, TLS, and one task per client connection.
//!
//! A connection task owns its socket and an output buffer. It writes the banner,
//! feeds what it reads through the core [`Decoder`] (with its limits) into the
//! session, and writes responses and queued events. It stops reading and taking
//! events while its output buffer is over a high-water mark, so neither a client
//! that sends actions without reading nor a flood of events grows memory.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use ctilink::ami::{Decoder, Limits};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Notify};
use tokio_rustls::TlsAcceptor;

use crate::channel::EventMask;
use crate::config::SimTls;
use crate::faults::{Burst, Control};
use crate::handle::Shared;
use crate::hub::{ConnEntry, CONTROL_QUEUE, EVENT_QUEUE};
use crate::session::Session;

/// Output held per connection before it stops reading and taking events.
const HIGH_WATER: usize = 256 * 1024;
/// Time allowed for a TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A TLS acceptor from PEM text (rustls with the ring provider).
pub(crate) fn tls_acceptor(tls: &SimTls) -> io::Result<TlsAcceptor> {
    let invalid = |what: &str, e: &dyn std::fmt::Display| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("{what}: {e}"))
    };
    let certs = CertificateDer::pem_slice_iter(tls.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid("TLS certificate", &e))?;
    if certs.is_empty() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "TLS certificate: no CERTIFICATE block"));
    }
    let key = PrivateKeyDer::from_pem_slice(tls.key_pem.as_bytes()).map_err(|e| invalid("TLS key", &e))?;
    let config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid("TLS", &e))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| invalid("TLS certificate/key", &e))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accepts clients until shutdown.
pub(crate) async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((sock, peer)) => {
                    let _ = sock.set_nodelay(true);
                    tokio::spawn(connection(Arc::clone(&shared), sock, peer, tls.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly.
                    tracing::warn!("simulator accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
        }
    }
}

/// Removes the connection from the hub however its task ends.
struct Registered {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.shared.hub.unregister(self.id);
    }
}

/// The per-connection pieces the serve loop needs.
struct Conn {
    shared: Arc<Shared>,
    id: u64,
    events: mpsc::Receiver<Bytes>,
    control: mpsc::Receiver<Control>,
    kill: Arc<Notify>,
    peer: SocketAddr,
    local: SocketAddr,
}

async fn connection(shared: Arc<Shared>, sock: TcpStream, peer: SocketAddr, tls: Option<TlsAcceptor>) {
    if shared.is_shut_down() {
        return;
    }
    let id = shared.next_conn_id();
    let (ev_tx, events) = mpsc::channel(EVENT_QUEUE);
    let (ctl_tx, control) = mpsc::channel(CONTROL_QUEUE);
    let kill = Arc::new(Notify::new());
    shared.hub.register(
        id,
        ConnEntry {
            events: ev_tx,
            control: ctl_tx,
            kill: Arc::clone(&kill),
            logged_in: false,
            mask: EventMask::NONE,
        },
    );
    let _registered = Registered { shared: Arc::clone(&shared), id };
    let local = sock.local_addr().unwrap_or(peer);
    let conn = Conn { shared, id, events, control, kill, peer, local };
    match tls {
        None => serve(sock, conn).await,
        Some(acceptor) => {
            let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(sock));
            tokio::select! {
                _ = conn.kill.notified() => {}
                r = handshake => match r {
                    Ok(Ok(stream)) => serve(stream, conn).await,
                    Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                },
            }
        }
    }
}

enum Wrote {
    Bytes(usize),
    Flushed,
}

/// Writes part of `out`, or flushes when it is empty (TLS keeps records buffered).
/// Cancel-safe: a cancelled `write` has written nothing.
async fn write_some<W: AsyncWrite + Unpin>(wr: &mut W, out: &[u8]) -> io::Result<Wrote> {
    if out.is_empty() {
        wr.flush().await?;
        return Ok(Wrote::Flushed);
    }
    match wr.write(out).await? {
        0 => Err(io::ErrorKind::WriteZero.into()),
        n => Ok(Wrote::Bytes(n)),
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(io: S, mut conn: Conn) {
    let (mut rd, mut wr) = tokio::io::split(io);
    let mut session = Session::new(conn.id, conn.peer, conn.local);
    let mut decoder = Decoder::for_actions(Limits::default());
    let mut rbuf = BytesMut::with_capacity(8 * 1024);
    let mut out = BytesMut::with_capacity(8 * 1024);
    // What Asterisk sends first on every manager connection: its AMI version.
    out.extend_from_slice(conn.shared.config.asterisk.banner().as_bytes());
    out.extend_from_slice(b"\r\n");
    let mut need_flush = false;
    let mut burst = Burst::default();
    let mut stalled_until = None;
    loop {
        burst.fill(&mut out, HIGH_WATER);
        if let Some(until) = stalled_until.take() {
            tokio::select! {
                _ = conn.kill.notified() => return,
                _ = tokio::time::sleep_until(until) => {}
            }
            continue;
        }
        if session.closing() && out.is_empty() && !need_flush && burst.is_idle() {
            // Goodbye or failed login written: close as Asterisk does.
            let _ = tokio::time::timeout(Duration::from_secs(1), wr.shutdown()).await;
            return;
        }
        let take_more = out.len() < HIGH_WATER && !session.closing();
        tokio::select! {
            biased;
            _ = conn.kill.notified() => return,
            ctl = conn.control.recv() => match ctl {
                Some(Control::Stall(d)) => stalled_until = Some(tokio::time::Instant::now() + d),
                Some(Control::Raw(bytes)) => out.extend_from_slice(&bytes),
                Some(Control::Burst(n)) => burst.add(n),
                None => return,
            },
            r = write_some(&mut wr, &out), if !out.is_empty() || need_flush => match r {
                Ok(Wrote::Bytes(n)) => {
                    out.advance(n);
                    need_flush = true;
                }
                Ok(Wrote::Flushed) => need_flush = false,
                Err(_) => return,
            },
            r = rd.read_buf(&mut rbuf), if take_more => match r {
                Ok(0) | Err(_) => return,
                Ok(_) => session.input(&conn.shared, &mut decoder, &mut rbuf, &mut out),
            },
            ev = conn.events.recv(), if take_more => match ev {
                Some(bytes) => {
                    out.extend_from_slice(&bytes);
                    while out.len() < HIGH_WATER {
                        match conn.events.try_recv() {
                            Ok(bytes) => out.extend_from_slice(&bytes),
                            Err(_) => break,
                        }
                    }
                }
                None => return,
            },
        }
    }
}
