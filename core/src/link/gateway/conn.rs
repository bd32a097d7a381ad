//! One connection to the gateway: TCP or TLS, the `hello`/`welcome` handshake, and lines
//! in and out.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::config::GatewayConfig;
use crate::ami::TlsConfig;
use crate::error::{Error, Result};
use crate::model::Snapshot;
use crate::wire::{self, ClientMessage, LineCodec, ServerMessage, PROTOCOL_VERSION};

/// A byte stream to the gateway, plain or TLS.
pub(super) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// What `welcome` said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Welcome {
    pub(super) identity: String,
    pub(super) monitor: Vec<String>,
    pub(super) control: Vec<String>,
    pub(super) link_up: bool,
}

/// The reading half with its framing.
pub(super) struct Reader {
    io: ReadHalf<Box<dyn Io>>,
    codec: LineCodec,
    buf: BytesMut,
}

impl Reader {
    /// The next message; `Ok(None)` when the gateway closed the connection. A line that
    /// does not parse (a newer gateway's message) is returned as `Err(Error::Protocol)`
    /// for the caller to skip; an over-long line is a protocol error too.
    pub(super) async fn next(&mut self) -> std::io::Result<Option<Result<ServerMessage>>> {
        loop {
            match self.codec.decode(&mut self.buf) {
                Ok(Some(line)) if line.iter().all(u8::is_ascii_whitespace) => continue,
                Ok(Some(line)) => {
                    return Ok(Some(wire::parse_server(&line).map_err(|e| Error::Protocol(e.message))));
                }
                Ok(None) => {}
                Err(e) => return Ok(Some(Err(Error::Protocol(e.to_string())))),
            }
            self.buf.reserve(16 * 1024);
            if self.io.read_buf(&mut self.buf).await? == 0 {
                return Ok(None);
            }
        }
    }
}

/// The writing half.
pub(super) struct Writer {
    io: WriteHalf<Box<dyn Io>>,
}

impl Writer {
    pub(super) async fn send(&mut self, line: &Bytes) -> std::io::Result<()> {
        self.io.write_all(line).await?;
        self.io.flush().await
    }

    pub(super) async fn shutdown(&mut self) {
        let _ = self.io.shutdown().await;
    }
}

/// Connects, says hello, and waits for `welcome` and the first snapshot.
pub(super) async fn open(cfg: &GatewayConfig) -> Result<(Reader, Writer, Welcome, Snapshot)> {
    let addr = cfg.addr();
    let connect_err = |reason: String| Error::Connect { addr: addr.clone(), reason };
    let tcp = tokio::time::timeout(cfg.connect_timeout, TcpStream::connect((cfg.host.as_str(), cfg.port)))
        .await
        .map_err(|_| connect_err(format!("no connection within {:?}", cfg.connect_timeout)))?
        .map_err(|e| connect_err(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    let io: Box<dyn Io> = match &cfg.tls {
        None => Box::new(tcp),
        Some(t) => {
            let connector = tls_connector(t)?;
            let name = t.server_name.clone().unwrap_or_else(|| cfg.host.clone());
            let name = ServerName::try_from(name).map_err(|e| Error::Tls(format!("bad server name: {e}")))?;
            let tls = tokio::time::timeout(cfg.connect_timeout, connector.connect(name, tcp))
                .await
                .map_err(|_| Error::Tls("TLS handshake timed out".into()))?
                .map_err(|e| Error::Tls(e.to_string()))?;
            Box::new(tls)
        }
    };
    let (r, w) = tokio::io::split(io);
    let mut reader =
        Reader { io: r, codec: LineCodec::new(cfg.max_line), buf: BytesMut::with_capacity(16 * 1024) };
    let mut writer = Writer { io: w };
    let hello = ClientMessage::Hello {
        version: PROTOCOL_VERSION,
        token: cfg.token.clone(),
        client: cfg.client_name.clone(),
    };
    writer.send(&wire::encode(&hello)).await.map_err(|e| connect_err(e.to_string()))?;
    let wait = cfg.handshake_timeout;
    let (welcome, snapshot) =
        tokio::time::timeout(wait, handshake(&mut reader)).await.map_err(|_| Error::Timeout(wait))??;
    Ok((reader, writer, welcome, snapshot))
}

async fn handshake(reader: &mut Reader) -> Result<(Welcome, Snapshot)> {
    let mut welcome = None;
    loop {
        let msg = match reader.next().await {
            Ok(Some(m)) => m?,
            Ok(None) => return Err(Error::Protocol("the gateway closed the connection during hello".into())),
            Err(e) => return Err(Error::Protocol(format!("reading the gateway's welcome: {e}"))),
        };
        match msg {
            ServerMessage::Welcome { version, identity, monitor, control, link } => {
                if version != PROTOCOL_VERSION {
                    return Err(Error::Protocol(format!(
                        "the gateway answered with protocol version {version}"
                    )));
                }
                welcome = Some(Welcome { identity, monitor, control, link_up: link == wire::LinkState::Up });
            }
            ServerMessage::Snapshot { devices, calls, .. } => match welcome {
                Some(w) => return Ok((w, Snapshot { devices, calls })),
                None => return Err(Error::Protocol("a snapshot before welcome".into())),
            },
            ServerMessage::Error(e) => return Err(e.into_error()),
            ServerMessage::Bye { reason } => {
                return Err(Error::Protocol(format!("the gateway said bye: {reason}")))
            }
            // Events before the snapshot cannot happen; anything else is ignored.
            _ => {}
        }
    }
}

fn tls_connector(t: &TlsConfig) -> Result<TlsConnector> {
    if t.insecure_skip_verify {
        return Err(Error::Tls("the gateway client always verifies the certificate (use tls_ca=)".into()));
    }
    crate::ami::connection::tls_connector(t)
}

/// How long the reconnect loop waits at most for a clean close of the old connection.
pub(super) const SHUTDOWN_WAIT: Duration = Duration::from_millis(200);
