//! One AMI message (event, response or action) as received from the wire.
//!
//! A [`Message`] keeps the bytes of its frame as one [`Bytes`] slice of the read
//! buffer and records where each key and value lies inside it. Nothing is copied per
//! field, and looking a key up compares bytes case-insensitively in place: this is
//! what lets the decoder keep up with a PBX that sends thousands of events a second.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

/// Where one `Key: Value` line lies inside its frame. Offsets are `u32` because a
/// frame is bounded by [`Limits::max_message`](super::Limits) far below 4 GiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FieldSpan {
    pub(crate) key_start: u32,
    pub(crate) key_end: u32,
    pub(crate) value_start: u32,
    pub(crate) value_end: u32,
}

/// What a message is, decided by its first `Event:`, `Response:` or `Action:` key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// An unsolicited event or a list item (`Event: ...`).
    Event,
    /// The answer to an action (`Response: Success|Error|Follows|Goodbye`).
    Response,
    /// A client request (`Action: ...`); seen by servers and in two-way captures.
    Action,
    /// Command output that arrived apart from its `Response: Follows` header,
    /// or a message with none of the keys above.
    Other,
}

/// Keys whose values are secrets: [`Message`]'s `Debug` output hides them.
pub(crate) const SECRET_KEYS: &[&str] = &["Secret", "Key"];

/// One decoded AMI message. Cheap to clone (two reference counts), so that one
/// event can be handed to many subscribers.
#[derive(Clone)]
pub struct Message {
    frame: Bytes,
    fields: Arc<[FieldSpan]>,
    /// Free-text output of an old-style `Response: Follows` command, without the
    /// `--END COMMAND--` marker.
    body: Option<(u32, u32)>,
}

impl Message {
    pub(crate) fn from_parts(frame: Bytes, fields: &[FieldSpan], body: Option<(u32, u32)>) -> Self {
        Self { frame, fields: Arc::from(fields), body }
    }

    /// Builds a message from owned pairs (tests, the simulator, typed views that
    /// need to hand a message on). Keys and values are not validated here; the
    /// [`encoder`](super::encoder) validates when writing.
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        let mut frame = Vec::new();
        let mut fields = Vec::new();
        for (k, v) in pairs {
            let key_start = frame.len() as u32;
            frame.extend_from_slice(k.as_ref().as_bytes());
            let key_end = frame.len() as u32;
            frame.extend_from_slice(b": ");
            let value_start = frame.len() as u32;
            frame.extend_from_slice(v.as_ref().as_bytes());
            let value_end = frame.len() as u32;
            frame.extend_from_slice(b"\r\n");
            fields.push(FieldSpan { key_start, key_end, value_start, value_end });
        }
        frame.extend_from_slice(b"\r\n");
        Self { frame: Bytes::from(frame), fields: Arc::from(fields), body: None }
    }

    fn key_bytes(&self, f: &FieldSpan) -> &[u8] {
        &self.frame[f.key_start as usize..f.key_end as usize]
    }

    fn value_bytes(&self, f: &FieldSpan) -> &[u8] {
        &self.frame[f.value_start as usize..f.value_end as usize]
    }

    fn find(&self, key: &str) -> Option<&FieldSpan> {
        let key = key.as_bytes();
        self.fields.iter().find(|f| self.key_bytes(f).eq_ignore_ascii_case(key))
    }

    /// The first value of `key` (case-insensitive), or `None` when the key is absent
    /// or its value is not UTF-8 (use [`get_bytes`](Self::get_bytes) or
    /// [`get_lossy`](Self::get_lossy) for those).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.get_bytes(key).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The first value of `key` as raw bytes.
    pub fn get_bytes(&self, key: &str) -> Option<&[u8]> {
        self.find(key).map(|f| self.value_bytes(f))
    }

    /// The first value of `key`, with invalid UTF-8 replaced (caller names from old
    /// phones are sometimes Latin-1).
    pub fn get_lossy(&self, key: &str) -> Option<Cow<'_, str>> {
        self.get_bytes(key).map(String::from_utf8_lossy)
    }

    /// The first value of `key` as a zero-copy slice of the frame.
    pub fn get_slice(&self, key: &str) -> Option<Bytes> {
        self.find(key).map(|f| self.frame.slice(f.value_start as usize..f.value_end as usize))
    }

    /// Whether `key` is present (case-insensitive).
    pub fn contains(&self, key: &str) -> bool {
        self.find(key).is_some()
    }

    /// Every value of a repeated key (`ChanVariable`, `Variable`, `Output`), in order.
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = Cow<'a, str>> + 'a {
        let key = key.as_bytes();
        self.fields
            .iter()
            .filter(move |f| self.key_bytes(f).eq_ignore_ascii_case(key))
            .map(move |f| String::from_utf8_lossy(self.value_bytes(f)))
    }

    /// All fields in wire order, keys as sent (their case preserved).
    pub fn fields(&self) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> + '_ {
        self.fields.iter().map(move |f| {
            (String::from_utf8_lossy(self.key_bytes(f)), String::from_utf8_lossy(self.value_bytes(f)))
        })
    }

    /// All fields in wire order as raw bytes.
    pub fn raw_fields(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.fields.iter().map(move |f| (self.key_bytes(f), self.value_bytes(f)))
    }

    /// Number of `Key: Value` fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True when the message has no fields (only possible for detached command output).
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The bytes of the whole frame as received, terminator included.
    pub fn frame(&self) -> &Bytes {
        &self.frame
    }

    /// Event, response or action, from the first of those keys.
    pub fn kind(&self) -> MessageKind {
        for f in self.fields.iter() {
            let k = self.key_bytes(f);
            if k.eq_ignore_ascii_case(b"Event") {
                return MessageKind::Event;
            }
            if k.eq_ignore_ascii_case(b"Response") {
                return MessageKind::Response;
            }
            if k.eq_ignore_ascii_case(b"Action") {
                return MessageKind::Action;
            }
        }
        MessageKind::Other
    }

    /// The event name (`Event:` value), if this is an event.
    pub fn event(&self) -> Option<&str> {
        self.get("Event")
    }

    /// Whether this is the event `name` (case-insensitive).
    pub fn is_event(&self, name: &str) -> bool {
        self.event().is_some_and(|e| e.eq_ignore_ascii_case(name))
    }

    /// The response status (`Success`, `Error`, `Follows`, `Goodbye`), if a response.
    pub fn response(&self) -> Option<&str> {
        self.get("Response")
    }

    /// The action name, if this is an action.
    pub fn action(&self) -> Option<&str> {
        self.get("Action")
    }

    /// The `ActionID` (any case of the key: `ActionID`, `Actionid`, `actionid`).
    pub fn action_id(&self) -> Option<&str> {
        self.get("ActionID")
    }

    /// Free-text output of an old-style `Response: Follows` command.
    pub fn body(&self) -> Option<&[u8]> {
        self.body.map(|(s, e)| &self.frame[s as usize..e as usize])
    }

    /// Lines of command output, whichever form the PBX used: `Output:` fields
    /// (Asterisk 14+) or the free text of `Response: Follows` (older).
    pub fn output_lines(&self) -> Vec<Cow<'_, str>> {
        match self.body() {
            Some(body) => body
                .split(|&b| b == b'\n')
                .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
                .map(String::from_utf8_lossy)
                .collect(),
            None => self.get_all("Output").collect(),
        }
    }
}

impl PartialEq for Message {
    /// Two messages are equal when their fields and bodies are, whatever the
    /// line endings or spacing of their frames.
    fn eq(&self, other: &Self) -> bool {
        self.fields.len() == other.fields.len()
            && self.raw_fields().eq(other.raw_fields())
            && self.body() == other.body()
    }
}

impl Eq for Message {}

impl fmt::Debug for Message {
    /// Field values under secret keys are shown as `***`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in self.raw_fields() {
            let key = String::from_utf8_lossy(k);
            if SECRET_KEYS.iter().any(|s| s.as_bytes().eq_ignore_ascii_case(k)) {
                m.entry(&key, &"***");
            } else {
                m.entry(&key, &String::from_utf8_lossy(v));
            }
        }
        if let Some(body) = self.body() {
            m.entry(&"<body>", &String::from_utf8_lossy(body));
        }
        m.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_case_insensitive_and_keeps_repeats() {
        let m = Message::from_pairs([
            ("Event", "Newchannel"),
            ("Uniqueid", "1.1"),
            ("ChanVariable", "a=1"),
            ("ChanVariable", "b=2"),
        ]);
        assert_eq!(m.get("UNIQUEID"), Some("1.1"));
        assert_eq!(m.get("uniqueid"), Some("1.1"));
        assert_eq!(m.get_all("chanvariable").collect::<Vec<_>>(), vec!["a=1", "b=2"]);
        assert_eq!(m.kind(), MessageKind::Event);
        assert!(m.is_event("newchannel"));
        assert_eq!(m.get("Missing"), None);
    }

    #[test]
    fn debug_hides_secrets() {
        let m = Message::from_pairs([("Action", "Login"), ("Username", "u"), ("Secret", "hunter2")]);
        let s = format!("{m:?}");
        assert!(!s.contains("hunter2"), "{s}");
        assert!(s.contains("***"));
    }

    #[test]
    fn non_utf8_values_are_reachable() {
        let mut m = Message::from_pairs([("CallerIDName", "x")]);
        let mut raw = m.frame().to_vec();
        raw[14] = 0xE9; // Latin-1 é
        m.frame = Bytes::from(raw);
        assert_eq!(m.get("CallerIDName"), None);
        assert_eq!(m.get_bytes("CallerIDName"), Some(&[0xE9][..]));
        assert_eq!(m.get_lossy("CallerIDName").as_deref(), Some("\u{FFFD}"));
    }
}
