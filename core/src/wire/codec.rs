//! Framing: one JSON message per line. Sans-IO, like the AMI decoder: bytes in, lines out.
//!
//! [`LineCodec::decode`] tells three cases apart, as a server must: a complete line, a line
//! still *incomplete* (wait for more bytes), and an *invalid* one (over the length limit).
//! A line over the limit is reported once, and the codec then skips to the next newline, so
//! one bad line costs its sender an error, not the connection, and never more memory than
//! the limit. What a complete line holds is checked by [`parse_client`] and
//! [`parse_server`].

use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize};

use super::error::{ErrorCode, WireError};
use super::message::{ClientMessage, ServerMessage};

/// A line that could not be framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineError {
    /// The line is longer than the limit; it is skipped up to its newline.
    #[error("line longer than {limit} bytes")]
    TooLong { limit: usize },
}

/// Splits a byte stream into lines of at most `max` bytes.
#[derive(Clone, Debug)]
pub struct LineCodec {
    max: usize,
    /// Skipping the rest of a line that was too long.
    discarding: bool,
    /// Bytes of the buffer already searched for a newline.
    scanned: usize,
}

impl LineCodec {
    /// A codec for lines of at most `max` bytes (the newline not counted).
    pub fn new(max: usize) -> Self {
        LineCodec { max, discarding: false, scanned: 0 }
    }

    /// The limit.
    pub fn max(&self) -> usize {
        self.max
    }

    /// The next complete line (without `\n` or `\r\n`), `Ok(None)` if the buffer holds only
    /// part of one, or `Err` once for a line over the limit. Empty lines are returned as
    /// such; callers skip them.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, LineError> {
        loop {
            if self.discarding {
                match memchr::memchr(b'\n', buf) {
                    Some(i) => {
                        let _ = buf.split_to(i + 1);
                        self.discarding = false;
                        continue;
                    }
                    None => {
                        buf.clear();
                        return Ok(None);
                    }
                }
            }
            let from = self.scanned.min(buf.len());
            match memchr::memchr(b'\n', &buf[from..]) {
                Some(i) => {
                    let mut line = buf.split_to(from + i + 1);
                    self.scanned = 0;
                    line.truncate(line.len() - 1);
                    if line.last() == Some(&b'\r') {
                        line.truncate(line.len() - 1);
                    }
                    if line.len() > self.max {
                        return Err(LineError::TooLong { limit: self.max });
                    }
                    return Ok(Some(line.freeze()));
                }
                None if buf.len() > self.max => {
                    buf.clear();
                    self.scanned = 0;
                    self.discarding = true;
                    return Err(LineError::TooLong { limit: self.max });
                }
                None => {
                    self.scanned = buf.len();
                    return Ok(None);
                }
            }
        }
    }
}

/// The one field every message has, read when the message as a whole does not parse, so
/// that a malformed `command` still gets a `result` with its id.
#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "type")]
    kind: Option<String>,
    id: Option<u64>,
}

/// How a line from a client failed to parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientParseError {
    /// A `command` whose command is malformed or unknown: answer with a failed `result`.
    Command { id: u64, error: WireError },
    /// Anything else: answer with an `error` message.
    Message(WireError),
}

/// Parses one line from a client. The error says nothing of the line's content beyond
/// what serde reports of its position and of an unknown kind's name.
pub fn parse_client(line: &[u8]) -> Result<ClientMessage, ClientParseError> {
    match serde_json::from_slice::<ClientMessage>(line) {
        Ok(m) => Ok(m),
        Err(e) => {
            let probe = serde_json::from_slice::<Probe>(line).ok();
            let what = describe(&e);
            match probe {
                Some(Probe { kind: Some(k), id: Some(id) }) if k == "command" => {
                    Err(ClientParseError::Command {
                        id,
                        error: WireError::new(ErrorCode::InvalidArgument, format!("bad command: {what}")),
                    })
                }
                Some(Probe { kind: Some(k), .. }) if is_client_kind(&k) => Err(ClientParseError::Message(
                    WireError::new(ErrorCode::Protocol, format!("bad {k}: {what}")),
                )),
                Some(Probe { kind: Some(_), .. }) => Err(ClientParseError::Message(WireError::new(
                    ErrorCode::Protocol,
                    "unknown message type (expected hello, command, ping or snapshot)",
                ))),
                Some(Probe { kind: None, .. }) => Err(ClientParseError::Message(WireError::new(
                    ErrorCode::Protocol,
                    "a message needs a \"type\"",
                ))),
                None => Err(ClientParseError::Message(WireError::new(
                    ErrorCode::Protocol,
                    format!("not a JSON object: {what}"),
                ))),
            }
        }
    }
}

fn is_client_kind(k: &str) -> bool {
    matches!(k, "hello" | "command" | "ping" | "snapshot")
}

/// Serde's reason without echoing values: an invalid-type error would quote what the
/// client sent in that field (a token sent as a number, say), and errors reach logs.
fn describe(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Io => "read error".into(),
        Category::Syntax => format!("invalid JSON at column {}", e.column()),
        Category::Eof => "incomplete JSON".into(),
        Category::Data => {
            let text = e.to_string();
            if text.starts_with("invalid type") || text.starts_with("invalid value") {
                format!("a field has the wrong type (column {})", e.column())
            } else {
                // `missing field`, `unknown variant`: names from the schema or the client's
                // own kind; cut at the position suffix serde adds.
                text.split(" at line ").next().unwrap_or(&text).chars().take(200).collect()
            }
        }
    }
}

/// Parses one line from a server.
pub fn parse_server(line: &[u8]) -> Result<ServerMessage, WireError> {
    serde_json::from_slice(line).map_err(|e| WireError::new(ErrorCode::Protocol, describe(&e)))
}

/// One message as a line (JSON never holds a raw newline, so it is one line).
pub fn encode<T: Serialize>(msg: &T) -> Bytes {
    let mut out = Vec::with_capacity(128);
    encode_into(msg, &mut out);
    Bytes::from(out)
}

/// As [`encode`], appending to `out`.
pub fn encode_into<T: Serialize>(msg: &T, out: &mut Vec<u8>) {
    // Serializing our own types to memory cannot fail: every map key is a string.
    if serde_json::to_writer(&mut *out, msg).is_err() {
        out.extend_from_slice(br#"{"type":"error","code":"protocol","message":"unserializable"}"#);
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(codec: &mut LineCodec, buf: &mut BytesMut) -> Vec<Result<Option<Bytes>, LineError>> {
        let mut out = Vec::new();
        loop {
            let r = codec.decode(buf);
            let stop = matches!(r, Ok(None));
            out.push(r);
            if stop {
                return out;
            }
        }
    }

    #[test]
    fn complete_incomplete_and_crlf() {
        let mut c = LineCodec::new(16);
        let mut buf = BytesMut::from(&b"{\"a\":1}\r\n{\"b\""[..]);
        assert_eq!(c.decode(&mut buf), Ok(Some(Bytes::from_static(b"{\"a\":1}"))));
        assert_eq!(c.decode(&mut buf), Ok(None), "half a line is incomplete, not invalid");
        buf.extend_from_slice(b":2}\n\n");
        assert_eq!(c.decode(&mut buf), Ok(Some(Bytes::from_static(b"{\"b\":2}"))));
        assert_eq!(c.decode(&mut buf), Ok(Some(Bytes::new())));
        assert_eq!(c.decode(&mut buf), Ok(None));
        assert!(buf.is_empty());
    }

    #[test]
    fn a_long_line_is_reported_once_and_skipped() {
        let mut c = LineCodec::new(8);
        let mut buf = BytesMut::from(&b"0123456789"[..]);
        assert_eq!(c.decode(&mut buf), Err(LineError::TooLong { limit: 8 }));
        assert!(buf.is_empty(), "nothing over the limit is kept");
        buf.extend_from_slice(b"abcdefghij");
        assert_eq!(c.decode(&mut buf), Ok(None), "still the same line: skipped silently");
        buf.extend_from_slice(b"xyz\nok\n");
        assert_eq!(lines(&mut c, &mut buf), vec![Ok(Some(Bytes::from_static(b"ok"))), Ok(None)]);
        // A long line that arrives whole is reported too, and the next one is fine.
        let mut buf = BytesMut::from(&b"0123456789abc\nfine\n"[..]);
        assert_eq!(c.decode(&mut buf), Err(LineError::TooLong { limit: 8 }));
        assert_eq!(c.decode(&mut buf), Ok(Some(Bytes::from_static(b"fine"))));
    }

    #[test]
    fn byte_by_byte_is_the_same_as_at_once() {
        let input = b"{\"type\":\"ping\",\"id\":1}\n{\"type\":\"ping\",\"id\":2}\n";
        let mut c = LineCodec::new(64);
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for b in input {
            buf.extend_from_slice(&[*b]);
            while let Ok(Some(l)) = c.decode(&mut buf) {
                got.push(l);
            }
        }
        assert_eq!(got.len(), 2);
        assert!(matches!(parse_client(&got[1]), Ok(ClientMessage::Ping { id: 2 })));
    }

    #[test]
    fn client_parse_errors_are_typed_and_keep_the_command_id() {
        let e = parse_client(br#"{"type":"command","id":7,"command":{"command":"teleport"}}"#);
        assert!(
            matches!(&e, Err(ClientParseError::Command { id: 7, error }) if error.code() == Some(ErrorCode::InvalidArgument)),
            "{e:?}"
        );
        for bad in [&b"garbage"[..], b"{\"type\":\"dance\"}", b"[1,2]", b"{\"id\":3}", b"\xff\xfe"] {
            let e = parse_client(bad);
            assert!(
                matches!(&e, Err(ClientParseError::Message(w)) if w.code() == Some(ErrorCode::Protocol)),
                "{e:?}"
            );
        }
    }

    #[test]
    fn parse_errors_never_echo_a_value() {
        let e = parse_client(br#"{"type":"hello","version":1,"token":123456789}"#);
        let Err(ClientParseError::Message(w)) = e else { panic!("{e:?}") };
        assert!(!w.message.contains("123456789"), "{w:?}");
    }
}
