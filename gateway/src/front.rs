//! The first request on the WebSocket listener: the gateway reads its head itself, so
//! that one port serves both the WebSocket (`/ws`, handed on to tungstenite with the bytes
//! already read put back in front) and the operator panel (`/panel`, plain HTTP, one
//! response and close), and so that a browser's WebSocket from a foreign page is refused
//! before any of the protocol is spoken.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::listen::WS_PATH;
use crate::panel;

/// The most a request head may take: a browser's Upgrade with cookies of a busy site
/// fits; anything longer is not a client of ours.
pub(crate) const MAX_HEAD: usize = 8 * 1024;

/// Why a request head could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HeadError {
    #[error("connection closed before the request head ended")]
    Closed,
    #[error("request head over {MAX_HEAD} bytes")]
    TooLong,
    #[error("malformed request head")]
    Malformed,
    #[error("read failed: {0}")]
    Io(#[from] io::Error),
}

/// A request's line and headers, as much of them as routing needs.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) method: String,
    pub(crate) path: String,
    headers: Vec<(String, String)>,
}

impl Head {
    /// The first header `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn parse(bytes: &[u8]) -> Result<Head, HeadError> {
        let text = std::str::from_utf8(bytes).map_err(|_| HeadError::Malformed)?;
        let mut lines = text.split("\r\n");
        let mut first = lines.next().ok_or(HeadError::Malformed)?.split(' ');
        let (Some(method), Some(target), Some(version), None) =
            (first.next(), first.next(), first.next(), first.next())
        else {
            return Err(HeadError::Malformed);
        };
        if !version.starts_with("HTTP/1.") || method.is_empty() || !target.starts_with('/') {
            return Err(HeadError::Malformed);
        }
        let path = target.split(['?', '#']).next().unwrap_or(target).to_owned();
        let mut headers = Vec::new();
        for line in lines.take_while(|l| !l.is_empty()) {
            let (k, v) = line.split_once(':').ok_or(HeadError::Malformed)?;
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
        Ok(Head { method: method.to_owned(), path, headers })
    }
}

/// Reads up to the end of the head (`\r\n\r\n`), at most [`MAX_HEAD`] bytes. Returns the
/// head and every byte read, for the WebSocket handshake to read again.
pub(crate) async fn read_head<R: AsyncRead + Unpin>(io: &mut R) -> Result<(Head, Vec<u8>), HeadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = io.read(&mut chunk).await?;
        if n == 0 {
            return Err(HeadError::Closed);
        }
        // Search from just before the new bytes: the terminator may straddle two reads.
        let from = buf.len().saturating_sub(3);
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf[from..].windows(4).position(|w| w == b"\r\n\r\n") {
            let head = Head::parse(&buf[..from + end])?;
            return Ok((head, buf));
        }
        if buf.len() >= MAX_HEAD {
            return Err(HeadError::TooLong);
        }
    }
}

/// What to do with a request.
#[derive(Debug)]
pub(crate) enum Route {
    /// On to the WebSocket handshake.
    WebSocket,
    /// Answer this and close.
    Answer(Vec<u8>),
}

/// Routes a request of a listener that is `https` (wss) or not, given the origins the
/// configuration allows besides the gateway's own.
pub(crate) fn route(head: &Head, https: bool, allowed_origins: &[String]) -> Route {
    if head.path == WS_PATH {
        return match head.header("origin") {
            Some(origin) if !origin_allowed(origin, head.header("host"), https, allowed_origins) => {
                Route::Answer(plain(403, "Forbidden", "this origin may not open the gateway's WebSocket\n"))
            }
            _ => Route::WebSocket,
        };
    }
    let Some(asset) = panel::asset(&head.path) else {
        return Route::Answer(plain(
            404,
            "Not Found",
            "not found: the panel is at /panel, the WebSocket at /ws\n",
        ));
    };
    match head.method.as_str() {
        "GET" => Route::Answer(panel::response(asset, true)),
        "HEAD" => Route::Answer(panel::response(asset, false)),
        _ => {
            let mut r = plain(405, "Method Not Allowed", "only GET and HEAD\n");
            // `Allow` is required with 405; insert it before the blank line.
            let at = r.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 2;
            r.splice(at..at, b"Allow: GET, HEAD\r\n".iter().copied());
            Route::Answer(r)
        }
    }
}

/// A browser names the page that opens a WebSocket in `Origin`; a page of another site
/// (which could otherwise use the gateway as the user's browser reaches it) is refused
/// unless configured. The gateway's own origin is the scheme of the listener and the
/// `Host` the browser sent.
fn origin_allowed(origin: &str, host: Option<&str>, https: bool, allowed: &[String]) -> bool {
    let origin = origin.trim_end_matches('/');
    if allowed.iter().any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin)) {
        return true;
    }
    let Some(host) = host else { return false };
    let scheme = if https { "https" } else { "http" };
    let own = format!("{scheme}://{host}");
    if own.eq_ignore_ascii_case(origin) {
        return true;
    }
    // A browser leaves the default port out of `Origin` but may keep it in `Host`.
    let default_port = if https { ":443" } else { ":80" };
    host.strip_suffix(default_port).is_some_and(|h| format!("{scheme}://{h}").eq_ignore_ascii_case(origin))
}

/// Writes `response`, ends the sending side, and reads what the client still sends until
/// it closes (at most [`MAX_DRAIN`] bytes): closing a socket with unread bytes in it resets
/// the connection, and the reset can destroy the response before the client reads it.
pub(crate) async fn answer_and_close<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    response: &[u8],
) -> io::Result<()> {
    io.write_all(response).await?;
    io.shutdown().await?;
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    while drained < MAX_DRAIN {
        match io.read(&mut sink).await? {
            0 => break,
            n => drained += n,
        }
    }
    Ok(())
}

/// The most read and thrown away after an answer, waiting for the client to close.
const MAX_DRAIN: usize = 64 * 1024;

/// A short text response that closes the connection.
pub(crate) fn plain(status: u16, reason: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A stream that yields `prefix` before the inner stream's bytes: the head already read
/// goes to the WebSocket handshake as if unread.
pub(crate) struct Prefixed<S> {
    prefix: Vec<u8>,
    at: usize,
    inner: S,
}

impl<S> Prefixed<S> {
    pub(crate) fn new(prefix: Vec<u8>, inner: S) -> Self {
        Prefixed { prefix, at: 0, inner }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.at < self.prefix.len() {
            let n = buf.remaining().min(self.prefix.len() - self.at);
            let at = self.at;
            buf.put_slice(&self.prefix[at..at + n]);
            self.at += n;
            if self.at == self.prefix.len() {
                self.prefix = Vec::new();
                self.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(s: &str) -> Head {
        Head::parse(s.as_bytes()).expect("parses")
    }

    #[test]
    fn origins() {
        let allowed = vec!["https://crm.example.org".to_owned()];
        assert!(origin_allowed("http://127.0.0.1:7080", Some("127.0.0.1:7080"), false, &[]));
        assert!(!origin_allowed("https://127.0.0.1:7080", Some("127.0.0.1:7080"), false, &[]));
        assert!(!origin_allowed("http://evil.example", Some("127.0.0.1:7080"), false, &[]));
        assert!(origin_allowed("https://crm.example.org/", Some("gw:7443"), true, &allowed));
        assert!(origin_allowed("https://gw.example", Some("gw.example:443"), true, &[]));
        assert!(!origin_allowed("http://x", None, false, &[]));
    }

    #[test]
    fn heads() {
        let h = head("GET /panel/panel.js?v=1 HTTP/1.1\r\nHost: a:1\r\nOrigin:  http://a:1 ");
        assert_eq!((h.method.as_str(), h.path.as_str()), ("GET", "/panel/panel.js"));
        assert_eq!(h.header("HOST"), Some("a:1"));
        assert_eq!(h.header("origin"), Some("http://a:1"));
        assert!(Head::parse(b"GET panel HTTP/1.1").is_err());
        assert!(Head::parse(b"GET /panel").is_err());
        assert!(Head::parse(b"GET /panel HTTP/1.1\r\nno colon").is_err());
    }
}
