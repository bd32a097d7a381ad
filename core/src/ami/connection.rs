//! One AMI connection: the socket (TCP or TLS), its decoder, and the login.
//!
//! The connection knows nothing of pending actions or subscribers; the client task
//! in [`client`](super::client) owns one at a time and replaces it on reconnect.

use std::sync::Arc;

use bytes::BytesMut;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};
use tokio_rustls::TlsConnector;

use super::action::Action;
use super::auth::md5_key;
use super::config::{AmiConfig, AuthMethod, TlsConfig};
use super::decoder::{DecodeError, Decoder, Frame};
use super::encoder::MessageBuilder;
use super::message::{Message, MessageKind};
use super::record::Recorder;
use crate::error::{Error, Result};

/// Any byte stream the link can run over.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// What one read produced.
#[derive(Debug)]
pub(crate) enum Read {
    Frame(Frame),
    Invalid(DecodeError),
    /// The peer closed the connection.
    Eof,
}

pub(crate) struct Connection {
    reader: ReadHalf<Box<dyn Io>>,
    writer: WriteHalf<Box<dyn Io>>,
    decoder: Decoder,
    buf: BytesMut,
    out: BytesMut,
    pub(crate) banner: Option<String>,
    eof: bool,
    /// Gets every byte read and every action written, when the link is recorded.
    recorder: Option<Recorder>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("banner", &self.banner).finish_non_exhaustive()
    }
}

/// Read size: large enough for bursts, small enough to keep frames' shared
/// buffers (which slices keep alive) modest.
const READ_CHUNK: usize = 16 * 1024;

impl Connection {
    /// Connects, reads the banner and logs in, all within the configured timeouts.
    /// `next_id` gives the ActionIDs for the login actions.
    pub(crate) async fn open(cfg: &AmiConfig, next_id: &(dyn Fn() -> String + Sync)) -> Result<Connection> {
        let addr = cfg.addr();
        let tcp = timeout(cfg.connect_timeout, TcpStream::connect((cfg.host.as_str(), cfg.port)))
            .await
            .map_err(|_| Error::Connect { addr: addr.clone(), reason: "connect timed out".into() })?
            .map_err(|e| Error::Connect { addr: addr.clone(), reason: e.to_string() })?;
        let _ = tcp.set_nodelay(true);
        let io: Box<dyn Io> = match &cfg.tls {
            None => Box::new(tcp),
            Some(tls) => {
                let connector = tls_connector(tls)?;
                let name = tls.server_name.clone().unwrap_or_else(|| cfg.host.clone());
                let name =
                    ServerName::try_from(name).map_err(|e| Error::Tls(format!("bad server name: {e}")))?;
                let stream = timeout(cfg.connect_timeout, connector.connect(name, tcp))
                    .await
                    .map_err(|_| Error::Tls("handshake timed out".into()))?
                    .map_err(|e| Error::Tls(e.to_string()))?;
                Box::new(stream)
            }
        };
        let (reader, writer) = tokio::io::split(io);
        let mut conn = Connection {
            reader,
            writer,
            decoder: Decoder::new(cfg.limits),
            buf: BytesMut::with_capacity(READ_CHUNK),
            out: BytesMut::with_capacity(1024),
            banner: None,
            eof: false,
            recorder: cfg.recorder.clone(),
        };
        timeout(cfg.login_timeout, conn.login(cfg, next_id))
            .await
            .map_err(|_| Error::Timeout(cfg.login_timeout))??;
        Ok(conn)
    }

    /// Opens the first endpoint of `cfg` that answers, starting at endpoint `start` (the one
    /// in use before) and going round the standby PBXs in order; the connection and its
    /// endpoint's index. When none answers: a refused login if one was refused (it needs the
    /// slow retry), else the first endpoint's error.
    pub(crate) async fn open_first(
        cfg: &AmiConfig,
        start: usize,
        next_id: &(dyn Fn() -> String + Sync),
    ) -> Result<(Connection, usize)> {
        let n = cfg.endpoint_count();
        let mut first_error = None;
        let mut refused = None;
        for k in 0..n {
            let i = (start + k) % n;
            let endpoint = cfg.for_endpoint(i);
            match Connection::open(&endpoint, next_id).await {
                Ok(conn) => return Ok((conn, i)),
                Err(e) => {
                    if n > 1 {
                        tracing::warn!(url = %endpoint.redacted_url(), error = %e, "PBX did not answer");
                    }
                    if matches!(e, Error::AuthFailed(_)) && refused.is_none() {
                        refused = Some(e);
                    } else if first_error.is_none() {
                        first_error = Some(e);
                    }
                }
            }
        }
        Err(refused.or(first_error).unwrap_or(Error::LinkDown))
    }

    async fn login(&mut self, cfg: &AmiConfig, next_id: &(dyn Fn() -> String + Sync)) -> Result<()> {
        let login = match cfg.auth {
            AuthMethod::Plain => Action::login_plain(&cfg.username, cfg.secret.expose(), &cfg.events),
            AuthMethod::Md5 => {
                let reply = self.request(Action::challenge().into_message(), &next_id()).await?;
                if reply.response().is_some_and(|r| r.eq_ignore_ascii_case("Error")) {
                    return Err(Error::AuthFailed(
                        reply.get("Message").unwrap_or("challenge refused").to_owned(),
                    ));
                }
                let challenge = reply
                    .get("Challenge")
                    .ok_or_else(|| Error::Protocol("Challenge response without a challenge".into()))?;
                let key = md5_key(challenge, cfg.secret.expose());
                Action::login_md5(&cfg.username, &key, &cfg.events)
            }
        };
        let reply = self.request(login.into_message(), &next_id()).await?;
        if reply.response().is_some_and(|r| r.eq_ignore_ascii_case("Success")) {
            Ok(())
        } else {
            Err(Error::AuthFailed(reply.get("Message").unwrap_or("login refused").to_owned()))
        }
    }

    /// Sends one action and waits for its response, skipping events (used only
    /// before the client task takes over, when nobody else reads).
    async fn request(&mut self, mut msg: MessageBuilder, id: &str) -> Result<Message> {
        msg.set("ActionID", id);
        self.write(&msg).await.map_err(|_| Error::LinkDown)?;
        loop {
            match self.read().await.map_err(|e| Error::Protocol(e.to_string()))? {
                Read::Frame(Frame::Banner(b)) => self.banner = Some(b.line().to_owned()),
                Read::Frame(Frame::Message(m)) if m.kind() == MessageKind::Response => {
                    if m.action_id().is_none_or(|a| a == id) {
                        return Ok(m);
                    }
                }
                Read::Frame(_) => {}
                Read::Invalid(e) => tracing::debug!("ignoring invalid input during login: {e}"),
                Read::Eof => {
                    return Err(Error::AuthFailed("the PBX closed the connection during login".into()))
                }
            }
        }
    }

    /// The next frame, reading from the socket as needed. Cancel-safe: a read
    /// interrupted by `select!` loses no bytes.
    pub(crate) async fn read(&mut self) -> std::io::Result<Read> {
        loop {
            match self.decode_buffered() {
                Some(r) => return Ok(r),
                None if self.eof => return Ok(Read::Eof),
                None => {}
            }
            self.buf.reserve(READ_CHUNK);
            let before = self.buf.len();
            if self.reader.read_buf(&mut self.buf).await? == 0 {
                self.eof = true;
            }
            // Recorded right after the read, with no await in between: cancel-safe too.
            if let Some(r) = &self.recorder {
                r.received(&self.buf[before..]);
            }
        }
    }

    /// A frame already in the buffer, without reading.
    pub(crate) fn decode_buffered(&mut self) -> Option<Read> {
        let r = if self.eof {
            self.decoder.decode_eof(&mut self.buf)
        } else {
            self.decoder.decode(&mut self.buf)
        };
        match r {
            Ok(Some(f)) => Some(Read::Frame(f)),
            Ok(None) => None,
            Err(e) => Some(Read::Invalid(e)),
        }
    }

    /// Writes one message; nothing is written if it does not validate.
    pub(crate) async fn write(&mut self, msg: &MessageBuilder) -> std::io::Result<()> {
        self.out.clear();
        msg.encode(&mut self.out).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        self.writer.write_all(&self.out).await?;
        self.writer.flush().await?;
        if let Some(r) = &self.recorder {
            r.sent(&self.out);
        }
        Ok(())
    }

    /// Sends `Logoff` and waits briefly for `Goodbye`, then closes.
    pub(crate) async fn logoff(&mut self, id: &str, wait: std::time::Duration) {
        let deadline = Instant::now() + wait;
        let msg = Action::logoff().into_message().field("ActionID", id);
        if self.write(&msg).await.is_ok() {
            while let Ok(Ok(r)) = tokio::time::timeout_at(deadline, self.read()).await {
                match r {
                    Read::Frame(Frame::Message(m)) if m.action_id() == Some(id) => break,
                    Read::Eof => break,
                    _ => {}
                }
            }
        }
        let _ = self.writer.shutdown().await;
    }
}

/// The TLS client configuration of `t`: the AMI link and the gateway client share it.
pub(crate) fn tls_connector(t: &TlsConfig) -> Result<TlsConnector> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?;
    let config = if t.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        match &t.ca_file {
            Some(path) => {
                let pem = std::fs::read(path)
                    .map_err(|e| Error::Tls(format!("cannot read {}: {e}", path.display())))?;
                for cert in CertificateDer::pem_slice_iter(&pem) {
                    let cert = cert.map_err(|e| Error::Tls(format!("bad PEM in {}: {e}", path.display())))?;
                    roots.add(cert).map_err(|e| Error::Tls(e.to_string()))?;
                }
                if roots.is_empty() {
                    return Err(Error::Tls(format!("no certificate in {}", path.display())));
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(TlsConnector::from(Arc::new(config)))
}

/// `tls_insecure=1`: checks signatures but not who signed the certificate.
#[derive(Debug)]
struct AcceptAnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
