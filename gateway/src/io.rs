//! The two framings of the protocol over a byte stream: newline-delimited JSON (TCP and
//! TLS) and one JSON message per WebSocket message (WS and WSS). The rest of the gateway
//! sees messages, not framing.

use bytes::{Bytes, BytesMut};
use ctilink::wire::{LineCodec, LineError};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

/// A byte stream from a client, plain or TLS.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub(crate) type BoxIo = Box<dyn Io>;

/// What a read gives.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// One message (not yet parsed), and the bytes it took on the wire.
    Message(Bytes, usize),
    /// A message over the limit; it was skipped. Over WebSocket the connection cannot
    /// go on after one (the frame is not read), so it ends too.
    TooLong { fatal: bool },
    /// The client closed the connection.
    Closed,
    /// The connection failed.
    Failed(String),
}

/// How much a WebSocket connection buffers, in bytes. Small: a browser sends short
/// messages, and 1,000 connections with tungstenite's 128 KiB default would hold 128 MB.
const WS_BUFFER: usize = 8 * 1024;

/// WebSocket limits for a message limit of `max_line`.
pub(crate) fn ws_config(max_line: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(WS_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(4 * 1024 * 1024)
        .max_message_size(Some(max_line))
        .max_frame_size(Some(max_line))
}

type BoxRead = Box<dyn AsyncRead + Unpin + Send>;
type BoxWrite = Box<dyn AsyncWrite + Unpin + Send>;

pub(crate) enum Reader {
    Lines { io: BoxRead, codec: LineCodec, buf: BytesMut },
    Ws(SplitStream<WebSocketStream<BoxIo>>),
}

pub(crate) enum Writer {
    Lines { io: BoxWrite, buf: Vec<u8> },
    Ws(SplitSink<WebSocketStream<BoxIo>, Message>),
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Reader::Lines { .. } => "Reader::Lines",
            Reader::Ws(_) => "Reader::Ws",
        })
    }
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Writer::Lines { .. } => "Writer::Lines",
            Writer::Ws(_) => "Writer::Ws",
        })
    }
}

/// The two halves of a line-framed TLS connection.
pub(crate) fn lines(io: BoxIo, max_line: usize) -> (Reader, Writer) {
    let (r, w) = tokio::io::split(io);
    lines_of(Box::new(r), Box::new(w), max_line)
}

/// The two halves of a line-framed TCP connection: owned halves, which need no lock
/// between reading and writing (the fan-out writes to every client).
pub(crate) fn tcp_lines(sock: tokio::net::TcpStream, max_line: usize) -> (Reader, Writer) {
    let (r, w) = sock.into_split();
    lines_of(Box::new(r), Box::new(w), max_line)
}

fn lines_of(r: BoxRead, w: BoxWrite, max_line: usize) -> (Reader, Writer) {
    (
        Reader::Lines { io: r, codec: LineCodec::new(max_line), buf: BytesMut::with_capacity(1024) },
        Writer::Lines { io: w, buf: Vec::new() },
    )
}

/// The two halves of a WebSocket connection.
pub(crate) fn ws(stream: WebSocketStream<BoxIo>) -> (Reader, Writer) {
    let (w, r) = stream.split();
    (Reader::Ws(r), Writer::Ws(w))
}

impl Reader {
    /// The next message. Empty lines are skipped.
    pub(crate) async fn next(&mut self) -> Incoming {
        match self {
            Reader::Lines { io, codec, buf } => loop {
                match codec.decode(buf) {
                    Ok(Some(line)) if line.iter().all(u8::is_ascii_whitespace) => continue,
                    Ok(Some(line)) => {
                        let n = line.len() + 1;
                        return Incoming::Message(line, n);
                    }
                    Ok(None) => {}
                    Err(LineError::TooLong { .. }) => return Incoming::TooLong { fatal: false },
                    Err(_) => return Incoming::TooLong { fatal: false },
                }
                // Bounded by the codec: it never keeps more than the limit.
                buf.reserve(4096);
                match io.read_buf(buf).await {
                    Ok(0) => return Incoming::Closed,
                    Ok(_) => {}
                    Err(e) => return Incoming::Failed(e.to_string()),
                }
            },
            Reader::Ws(s) => loop {
                let msg = match s.next().await {
                    None => return Incoming::Closed,
                    Some(Ok(m)) => m,
                    Some(Err(tungstenite::Error::Capacity(_))) => return Incoming::TooLong { fatal: true },
                    Some(Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed)) => {
                        return Incoming::Closed
                    }
                    Some(Err(e)) => return Incoming::Failed(e.to_string()),
                };
                let data: Bytes = match msg {
                    Message::Text(t) => t.into(),
                    Message::Binary(b) => b,
                    Message::Close(_) => return Incoming::Closed,
                    // tungstenite answers pings itself.
                    Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
                };
                let n = data.len();
                let trimmed = trim(data);
                if trimmed.is_empty() {
                    continue;
                }
                return Incoming::Message(trimmed, n);
            },
        }
    }
}

fn trim(b: Bytes) -> Bytes {
    let start = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !c.is_ascii_whitespace()).map_or(start, |e| e + 1);
    b.slice(start..end.max(start))
}

impl Writer {
    /// Writes messages (each ends with `\n`), with one write for the lot on a byte stream;
    /// returns the bytes written.
    pub(crate) async fn send(&mut self, msgs: &[Bytes]) -> std::io::Result<usize> {
        match self {
            Writer::Lines { io, buf } => {
                // Flush: a no-op on TCP, and what sends TLS records rustls still holds.
                if let [one] = msgs {
                    io.write_all(one).await?;
                    io.flush().await?;
                    return Ok(one.len());
                }
                buf.clear();
                for m in msgs {
                    buf.extend_from_slice(m);
                }
                io.write_all(buf).await?;
                io.flush().await?;
                let n = buf.len();
                // Batches are at most 64 KiB; one snapshot can be more. Do not keep that.
                if buf.capacity() > 2 * crate::queue::MAX_BATCH_BYTES {
                    *buf = Vec::new();
                }
                Ok(n)
            }
            Writer::Ws(sink) => {
                let mut n = 0;
                for m in msgs {
                    let body = m.slice(..m.len().saturating_sub(usize::from(m.ends_with(b"\n"))));
                    n += body.len();
                    let text = tungstenite::Utf8Bytes::try_from(body)
                        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
                    sink.feed(Message::Text(text)).await.map_err(ws_io)?;
                }
                sink.flush().await.map_err(ws_io)?;
                Ok(n)
            }
        }
    }

    /// Closes the connection (a WebSocket close frame, or the TCP write side).
    pub(crate) async fn close(&mut self) {
        match self {
            Writer::Lines { io, .. } => {
                let _ = io.shutdown().await;
            }
            Writer::Ws(sink) => {
                let _ = sink.close().await;
            }
        }
    }
}

fn ws_io(e: tungstenite::Error) -> std::io::Error {
    match e {
        tungstenite::Error::Io(e) => e,
        other => std::io::Error::other(other.to_string()),
    }
}
