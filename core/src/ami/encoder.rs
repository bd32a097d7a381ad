//! The strict writer: canonical `Key: Value\r\n` lines and a blank line.
//!
//! Whatever the reader tolerates, the writer emits one form only, and it refuses a
//! key or value that would change the framing: a CR or LF inside a value would let
//! a caller inject headers or whole actions (`Exten: 100\r\nAction: Hangup`).

use std::fmt;

use bytes::{BufMut, BytesMut};

use super::message::{Message, SECRET_KEYS};

/// Why a message could not be written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A key that is empty or holds a space, a colon or a control character.
    #[error("invalid AMI key {0:?}")]
    InvalidKey(String),
    /// A value holding CR or LF (header injection). The value is not repeated here.
    #[error("value of AMI key {0:?} contains a line break")]
    LineBreakInValue(String),
}

/// An outgoing AMI message (action, event or response), built field by field.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct MessageBuilder {
    fields: Vec<(String, String)>,
}

impl MessageBuilder {
    /// An empty message.
    pub fn new() -> Self {
        Self::default()
    }

    /// `Action: name` as first field.
    pub fn action(name: &str) -> Self {
        Self::new().field("Action", name)
    }

    /// `Event: name` as first field.
    pub fn event(name: &str) -> Self {
        Self::new().field("Event", name)
    }

    /// `Response: status` as first field.
    pub fn response(status: &str) -> Self {
        Self::new().field("Response", status)
    }

    /// Appends a field (repeated keys are kept in order).
    pub fn field(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.fields.push((key.into(), value.into()));
        self
    }

    /// Appends a field in place.
    pub fn push(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.fields.push((key.into(), value.into()));
    }

    /// Appends a field only when a value is given.
    pub fn field_opt(self, key: &str, value: Option<impl Into<String>>) -> Self {
        match value {
            Some(v) => self.field(key, v),
            None => self,
        }
    }

    /// Sets `key` to `value`, replacing the first field with that key or appending.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        let value = value.into();
        match self.fields.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((key.to_owned(), value)),
        }
    }

    /// The first value of `key` (case-insensitive).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str())
    }

    /// Fields in order.
    pub fn fields(&self) -> &[(String, String)] {
        &self.fields
    }

    /// Checks every key and value without writing.
    pub fn validate(&self) -> Result<(), EncodeError> {
        for (k, v) in &self.fields {
            if k.is_empty() || !k.bytes().all(|b| b > b' ' && b < 0x7f && b != b':') {
                return Err(EncodeError::InvalidKey(k.escape_debug().to_string()));
            }
            if v.bytes().any(|b| b == b'\r' || b == b'\n') {
                return Err(EncodeError::LineBreakInValue(k.clone()));
            }
        }
        Ok(())
    }

    /// Writes the message in canonical form; nothing is written on error.
    pub fn encode(&self, dst: &mut BytesMut) -> Result<(), EncodeError> {
        self.validate()?;
        let len: usize = self.fields.iter().map(|(k, v)| k.len() + v.len() + 4).sum::<usize>() + 2;
        dst.reserve(len);
        for (k, v) in &self.fields {
            dst.put_slice(k.as_bytes());
            dst.put_slice(b": ");
            dst.put_slice(v.as_bytes());
            dst.put_slice(b"\r\n");
        }
        dst.put_slice(b"\r\n");
        Ok(())
    }

    /// The message as it would be decoded (for tests and in-process delivery).
    pub fn to_message(&self) -> Message {
        Message::from_pairs(self.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }
}

impl From<&Message> for MessageBuilder {
    fn from(m: &Message) -> Self {
        Self { fields: m.fields().map(|(k, v)| (k.into_owned(), v.into_owned())).collect() }
    }
}

impl fmt::Debug for MessageBuilder {
    /// Values under secret keys are shown as `***`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in &self.fields {
            if SECRET_KEYS.iter().any(|s| s.eq_ignore_ascii_case(k)) {
                m.entry(k, &"***");
            } else {
                m.entry(k, v);
            }
        }
        m.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_crlf() {
        let mut out = BytesMut::new();
        MessageBuilder::action("Ping").field("ActionID", "1").encode(&mut out).unwrap_or_default();
        assert_eq!(&out[..], b"Action: Ping\r\nActionID: 1\r\n\r\n");
    }

    #[test]
    fn rejects_header_injection() {
        let mut out = BytesMut::new();
        let m = MessageBuilder::action("Originate").field("Exten", "100\r\nAction: Hangup");
        assert_eq!(m.encode(&mut out), Err(EncodeError::LineBreakInValue("Exten".into())));
        let m = MessageBuilder::action("Originate").field("Exten", "100\nx");
        assert!(m.encode(&mut out).is_err());
        let m = MessageBuilder::action("X").field("Bad Key", "v");
        assert!(matches!(m.encode(&mut out), Err(EncodeError::InvalidKey(_))));
        let m = MessageBuilder::action("X").field("Bad:Key", "v");
        assert!(m.encode(&mut out).is_err());
        assert!(out.is_empty(), "nothing written on error");
    }

    #[test]
    fn debug_hides_secret() {
        let m = MessageBuilder::action("Login").field("Secret", "s3cr3t").field("Key", "abcd");
        let s = format!("{m:?}");
        assert!(!s.contains("s3cr3t") && !s.contains("abcd"), "{s}");
    }

    #[test]
    fn round_trip_through_decoder() {
        let m = MessageBuilder::event("Newchannel")
            .field("Channel", "PJSIP/100-00000001")
            .field("AppData", "a: b")
            .field("ChanVariable", "x=1")
            .field("ChanVariable", "y=2");
        let mut out = BytesMut::new();
        m.encode(&mut out).unwrap_or_default();
        let mut d = super::super::Decoder::default();
        match d.decode(&mut out) {
            Ok(Some(super::super::Frame::Message(got))) => assert_eq!(got, m.to_message()),
            other => panic!("{other:?}"),
        }
    }
}
