//! Sans-IO AMI decoder: bytes in, [`Frame`]s out.
//!
//! The decoder is a tolerant reader of what Asterisk 1.4 to 22 really send (see
//! `tests/vectors/ami/QUIRKS.md`): LF or CRLF, the banner line, old-style
//! `Response: Follows` command output ending in `--END COMMAND--`, messages with no
//! blank line between them, values containing `: `, key case variants, trailing
//! spaces. It never buffers without bound: a line or a message over its limit is a
//! typed error, after which the decoder skips to the next message boundary and goes
//! on. "Need more bytes" (`Ok(None)`) is distinct from "invalid" (`Err`), and the
//! frames produced do not depend on how the stream was split into reads.

use bytes::{Buf, BytesMut};

use super::message::{FieldSpan, Message};

/// Bounds on what one peer can make the decoder hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest line accepted, without its line ending. Default 64 KiB.
    pub max_line: usize,
    /// Largest message accepted, in bytes up to its last line. Default 1 MiB.
    pub max_message: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_line: 64 * 1024, max_message: 1024 * 1024 }
    }
}

/// What the decoder produces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// The greeting line a server sends first, e.g. `Asterisk Call Manager/9.0.0`.
    Banner(Banner),
    /// An event, response or action.
    Message(Message),
}

/// The AMI greeting line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Banner {
    line: String,
}

impl Banner {
    /// The whole line, e.g. `Asterisk Call Manager/9.0.0`.
    pub fn line(&self) -> &str {
        &self.line
    }

    /// The AMI protocol version after the slash, e.g. `9.0.0` (Asterisk 20).
    pub fn version(&self) -> Option<&str> {
        self.line.rsplit_once('/').map(|(_, v)| v.trim())
    }
}

/// Why some input was rejected. The decoder has already skipped past it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A line longer than [`Limits::max_line`].
    #[error("AMI line longer than {limit} bytes at stream offset {offset}")]
    LineTooLong { limit: usize, offset: u64 },
    /// A message larger than [`Limits::max_message`].
    #[error("AMI message larger than {limit} bytes at stream offset {offset}")]
    MessageTooLarge { limit: usize, offset: u64 },
    /// A line that is neither `Key: Value`, a banner, nor command output.
    #[error("invalid AMI line at stream offset {offset}: {excerpt:?}")]
    InvalidLine { offset: u64, excerpt: String },
    /// The stream ended inside a message.
    #[error("AMI stream ended inside a message ({bytes} bytes unterminated)")]
    Truncated { bytes: usize },
}

/// Marker that ends old-style command output.
const END_COMMAND: &[u8] = b"--END COMMAND--";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Normal,
    /// Dropping the rest of an over-long line, then the rest of its message.
    DiscardLine,
    /// Dropping lines until a blank line or a line that starts a message.
    DiscardMessage,
    /// As `DiscardMessage`, inside a line that has been blank so far and whose
    /// start was already dropped (a whitespace line longer than the line limit).
    DiscardBlankLine,
}

/// Progress through an old-style `Response: Follows` message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Follows {
    No,
    /// Reading `Privilege:`/`ActionID:` headers.
    Header,
    /// Reading free text from this buffer offset until `--END COMMAND--`.
    Body(usize),
}

/// The key that opened the current message, and the facts about it that decide
/// whether a later `Event:`/`Response:`/`Action:` line starts a new message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Opened {
    None,
    Event { user_event: bool, originate_response: bool, has_response: bool },
    Response,
    Action,
}

/// The incremental AMI decoder. Feed it a [`BytesMut`] that you append reads to.
#[derive(Debug)]
pub struct Decoder {
    limits: Limits,
    state: State,
    /// Offset in the buffer of the next line to examine; the current message
    /// always starts at offset 0.
    scan: usize,
    fields: Vec<FieldSpan>,
    opened: Opened,
    /// Reading what a client sends (a server's side): only `Action:` opens a message, and
    /// `Event:` or `Response:` are ordinary fields of an action.
    reads_actions: bool,
    follows: Follows,
    /// A header-only `Response: Follows` was emitted: its output may come as a
    /// block of its own (in two-way captures, after the client's next actions).
    detached_output: bool,
    /// Stream bytes dropped from the front of the buffer so far (for error offsets).
    consumed: u64,
    /// Junk bytes skipped before a message start without an error.
    skipped: u64,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

enum LineKind {
    Blank,
    Header(FieldSpan),
    Text,
}

impl Decoder {
    /// A decoder with the given limits.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            state: State::Normal,
            scan: 0,
            fields: Vec::with_capacity(16),
            opened: Opened::None,
            reads_actions: false,
            follows: Follows::No,
            detached_output: false,
            consumed: 0,
            skipped: 0,
        }
    }

    /// A decoder for a server reading a client's actions (the simulator's side of AMI).
    /// The PBX's stream needs the missing-blank-line rule (an `Event:` line inside a
    /// message starts the next one); a client's actions do not, and some clients send an
    /// `Event:` field inside `Login` (the npm asterisk-manager sorts its keys, putting
    /// `Action` last), which that rule would cut in two.
    pub fn for_actions(limits: Limits) -> Self {
        Self { reads_actions: true, ..Self::new(limits) }
    }

    /// Bytes of junk skipped in front of a message start (e.g. `[218 bytes missing
    /// in capture file]Event: Newexten`) and so not reported as errors.
    pub fn skipped_bytes(&self) -> u64 {
        self.skipped
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Decodes the next frame from `buf`, removing its bytes.
    ///
    /// `Ok(None)` means more bytes are needed. An `Err` reports input that was
    /// skipped; call again to go on with what follows.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        loop {
            let Some(nl) = find_nl(&buf[self.scan..]) else {
                return self.incomplete(buf);
            };
            let ls = self.scan;
            let next = ls + nl + 1;
            let le = if nl > 0 && buf[ls + nl - 1] == b'\r' { ls + nl - 1 } else { ls + nl };
            match self.state {
                State::DiscardLine => {
                    self.drop_front(buf, next);
                    self.state = State::DiscardMessage;
                    continue;
                }
                State::DiscardBlankLine => {
                    let blank = is_blank(&buf[ls..le]);
                    self.drop_front(buf, next);
                    self.state = if blank { State::Normal } else { State::DiscardMessage };
                    continue;
                }
                State::DiscardMessage => {
                    let line = &buf[ls..le];
                    if is_blank(line) {
                        self.drop_front(buf, next);
                        self.state = State::Normal;
                    } else if starts_message(line) {
                        self.drop_front(buf, ls);
                        self.state = State::Normal;
                    } else {
                        self.drop_front(buf, next);
                    }
                    continue;
                }
                State::Normal => {}
            }
            if le - ls > self.limits.max_line {
                let offset = self.consumed + ls as u64;
                self.fail_discard(buf, next);
                return Err(DecodeError::LineTooLong { limit: self.limits.max_line, offset });
            }
            let line = &buf[ls..le];
            if le > self.limits.max_message && !is_blank(line) {
                return Err(self.too_large(buf, next));
            }
            if let Follows::Body(body_start) = self.follows {
                if let Some(text_end) = end_command(line) {
                    let body = body_span(buf, body_start, ls + text_end);
                    return Ok(Some(self.finish(buf, next, Some(body))));
                }
                self.scan = next;
                continue;
            }
            match classify(line, ls) {
                LineKind::Blank => {
                    if self.fields.is_empty() {
                        // Blank lines between messages.
                        self.drop_front(buf, next);
                        continue;
                    }
                    if self.follows == Follows::Header {
                        // Old Asterisk sends the Follows header as its own block; its
                        // output follows unless another message starts right away.
                        // A line over the limit is output (and rejected as such)
                        // whatever it holds: a partial line's content is not known
                        // yet, and the answer must not depend on the split.
                        let ends_here = match self.peek_line(buf, next) {
                            Some(l) => l.len() <= self.limits.max_line && (is_blank(l) || starts_message(l)),
                            None if buf.len() - next <= self.limits.max_line + 1 => return Ok(None),
                            None => false,
                        };
                        if ends_here {
                            let frame = self.finish(buf, next, None);
                            self.detached_output = true;
                            return Ok(Some(frame));
                        }
                        self.follows = Follows::Body(next);
                        self.scan = next;
                        continue;
                    }
                    return Ok(Some(self.finish(buf, next, None)));
                }
                LineKind::Header(span) => {
                    let key = &buf[span.key_start as usize..span.key_end as usize];
                    if !self.fields.is_empty() && self.starts_new_message(key) {
                        // Missing blank line: this line opens the next message.
                        return Ok(Some(self.finish(buf, ls, None)));
                    }
                    let value = &buf[span.value_start as usize..span.value_end as usize];
                    self.note_key(key, value);
                    self.fields.push(span);
                    self.scan = next;
                }
                LineKind::Text => {
                    if self.follows == Follows::Header {
                        if let Some(text_end) = end_command(line) {
                            let body = body_span(buf, ls, ls + text_end);
                            return Ok(Some(self.finish(buf, next, Some(body))));
                        }
                        self.follows = Follows::Body(ls);
                        self.scan = next;
                        continue;
                    }
                    if self.fields.is_empty() && line.starts_with(b"Asterisk Call Manager") {
                        let banner = Banner { line: String::from_utf8_lossy(trim_end(line)).into_owned() };
                        self.drop_front(buf, next);
                        return Ok(Some(Frame::Banner(banner)));
                    }
                    if self.fields.is_empty() && self.detached_output {
                        self.detached_output = false;
                        if let Some(text_end) = end_command(line) {
                            let body = body_span(buf, ls, ls + text_end);
                            return Ok(Some(self.finish(buf, next, Some(body))));
                        }
                        self.follows = Follows::Body(ls);
                        self.scan = next;
                        continue;
                    }
                    if !self.fields.is_empty() && is_printable(line) {
                        // A folded value (the 2007 manager trace wraps long values
                        // onto the next line): it continues the previous field.
                        if let Some(last) = self.fields.last_mut() {
                            last.value_end = (ls + trim_end(line).len()) as u32;
                        }
                        self.scan = next;
                        continue;
                    }
                    if self.fields.is_empty() {
                        if let Some(at) = embedded_start(line) {
                            // Bytes lost before a message (a gap in a capture, a
                            // partial write): skip to where the message begins.
                            self.skipped += at as u64;
                            self.drop_front(buf, ls + at);
                            continue;
                        }
                    }
                    let offset = self.consumed + ls as u64;
                    let excerpt = excerpt(line);
                    self.fail_discard(buf, next);
                    return Err(DecodeError::InvalidLine { offset, excerpt });
                }
            }
        }
    }

    /// Decodes what is left when the stream has ended: a last message without its
    /// blank line is completed; an unterminated one is [`DecodeError::Truncated`].
    /// Call repeatedly until it returns `Ok(None)`.
    pub fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        if let Some(frame) = self.decode(buf)? {
            return Ok(Some(frame));
        }
        if buf.is_empty() {
            return Ok(None);
        }
        if self.state != State::Normal {
            self.drop_front(buf, buf.len());
            self.state = State::Normal;
            return Ok(None);
        }
        if matches!(self.follows, Follows::Body(_)) {
            let bytes = buf.len();
            self.reset_message();
            self.drop_front(buf, bytes);
            return Err(DecodeError::Truncated { bytes });
        }
        // Terminate the last line and the message, then decode them.
        buf.extend_from_slice(b"\n\n");
        let frame = self.decode(buf)?;
        let rest = buf.len();
        if rest > 0 && buf.iter().all(|b| b.is_ascii_whitespace()) {
            self.drop_front(buf, rest);
        }
        Ok(frame)
    }

    /// No complete line is in the buffer: decide between "wait" and "too big".
    fn incomplete(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        let pending = buf.len() - self.scan;
        match self.state {
            State::DiscardLine => {
                self.drop_front(buf, buf.len());
                Ok(None)
            }
            State::DiscardBlankLine => {
                let blank = is_blank(&buf[self.scan..]);
                self.drop_front(buf, buf.len());
                if !blank {
                    self.state = State::DiscardLine;
                }
                Ok(None)
            }
            State::DiscardMessage => {
                // A partial line that may still turn out blank or a message start
                // is kept until complete, so the split of reads cannot matter.
                let partial = &buf[self.scan..];
                let fits = pending <= self.limits.max_line + 1;
                if fits && (is_blank(partial) || could_start_message(partial)) {
                    return Ok(None);
                }
                if is_blank(partial) {
                    // Whitespace past the line limit: keep only that it is blank.
                    self.drop_front(buf, buf.len());
                    self.state = State::DiscardBlankLine;
                    return Ok(None);
                }
                if !fits && could_start_message(partial) {
                    self.state = State::Normal;
                    return self.incomplete(buf);
                }
                self.drop_front(buf, buf.len());
                self.state = State::DiscardLine;
                Ok(None)
            }
            State::Normal => {
                // Only the line limit can be decided on a partial line: whether the
                // message limit or the line limit is crossed first depends on the
                // whole line, and the answer must not depend on the split of reads.
                // Waiting for the line keeps at most max_line more bytes.
                if pending > self.limits.max_line + 1 {
                    let offset = self.consumed + self.scan as u64;
                    self.fail_discard(buf, buf.len());
                    self.state = State::DiscardLine;
                    return Err(DecodeError::LineTooLong { limit: self.limits.max_line, offset });
                }
                Ok(None)
            }
        }
    }

    fn too_large(&mut self, buf: &mut BytesMut, next: usize) -> DecodeError {
        let offset = self.consumed;
        self.fail_discard(buf, next);
        DecodeError::MessageTooLarge { limit: self.limits.max_message, offset }
    }

    /// Abandons the current message, drops `upto` bytes, and skips to the next
    /// message boundary.
    fn fail_discard(&mut self, buf: &mut BytesMut, upto: usize) {
        self.reset_message();
        self.drop_front(buf, upto);
        self.state = State::DiscardMessage;
    }

    fn reset_message(&mut self) {
        self.fields.clear();
        self.opened = Opened::None;
        self.follows = Follows::No;
        self.detached_output = false;
        self.scan = 0;
    }

    fn drop_front(&mut self, buf: &mut BytesMut, n: usize) {
        debug_assert!(self.fields.is_empty() || n == 0);
        buf.advance(n);
        self.consumed += n as u64;
        self.scan = 0;
    }

    /// Ends the current message: its frame is the first `consume` bytes.
    fn finish(&mut self, buf: &mut BytesMut, consume: usize, body: Option<(usize, usize)>) -> Frame {
        let frame = buf.split_to(consume).freeze();
        self.consumed += consume as u64;
        let body = body.map(|(s, e)| (s as u32, e as u32));
        let message = Message::from_parts(frame, &self.fields, body);
        self.fields.clear();
        self.opened = Opened::None;
        self.follows = Follows::No;
        self.scan = 0;
        Frame::Message(message)
    }

    /// The line starting at `at`, if complete.
    fn peek_line<'b>(&self, buf: &'b BytesMut, at: usize) -> Option<&'b [u8]> {
        let nl = memchr::memchr(b'\n', &buf[at..])?;
        let line = &buf[at..at + nl];
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    }

    /// Whether a header line with `key`, inside a message, is really the first line
    /// of the next message (a missing blank line). Asterisk never repeats these
    /// keys within one message, except an `OriginateResponse` event's `Response`
    /// field and the free-form headers of a `UserEvent`.
    fn starts_new_message(&self, key: &[u8]) -> bool {
        let opened = self.opened;
        if self.reads_actions {
            return key.eq_ignore_ascii_case(b"Action") && opened == Opened::Action;
        }
        if key.eq_ignore_ascii_case(b"Event") {
            return opened != Opened::None;
        }
        if key.eq_ignore_ascii_case(b"Response") {
            return !matches!(
                opened,
                Opened::None
                    | Opened::Event { originate_response: true, has_response: false, .. }
                    | Opened::Event { user_event: true, .. }
            );
        }
        if key.eq_ignore_ascii_case(b"Action") {
            return !matches!(opened, Opened::None | Opened::Event { user_event: true, .. });
        }
        false
    }

    fn note_key(&mut self, key: &[u8], value: &[u8]) {
        if self.reads_actions {
            if self.opened == Opened::None && key.eq_ignore_ascii_case(b"Action") {
                self.opened = Opened::Action;
            }
            return;
        }
        match self.opened {
            Opened::None => {
                if key.eq_ignore_ascii_case(b"Event") {
                    self.opened = Opened::Event {
                        user_event: value.eq_ignore_ascii_case(b"UserEvent"),
                        originate_response: value.eq_ignore_ascii_case(b"OriginateResponse"),
                        has_response: false,
                    };
                } else if key.eq_ignore_ascii_case(b"Response") {
                    self.opened = Opened::Response;
                    if value.eq_ignore_ascii_case(b"Follows") {
                        self.follows = Follows::Header;
                    }
                } else if key.eq_ignore_ascii_case(b"Action") {
                    self.opened = Opened::Action;
                }
            }
            Opened::Event { user_event, originate_response, .. } if key.eq_ignore_ascii_case(b"Response") => {
                self.opened = Opened::Event { user_event, originate_response, has_response: true };
            }
            _ => {}
        }
    }
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|&b| b == b' ' || b == b'\t' || b == b'\r')
}

fn trim_end(v: &[u8]) -> &[u8] {
    let mut end = v.len();
    while end > 0 && matches!(v[end - 1], b' ' | b'\t' | b'\r') {
        end -= 1;
    }
    &v[..end]
}

/// Text without control characters (bytes >= 0x80 pass: Latin-1 names exist).
fn is_printable(line: &[u8]) -> bool {
    line.iter().all(|&b| (b >= b' ' && b != 0x7f) || b == b'\t' || b == b'\r')
}

/// Offset of the first LF. AMI lines are short (20-40 bytes), so the first 32
/// bytes are searched 8 at a time in a register (SWAR) before falling back to
/// memchr, whose per-call set-up costs more than the search on a short line.
#[inline]
fn find_nl(h: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const NL: u64 = LO * b'\n' as u64;
    let mut i = 0;
    while i < 32 {
        let Some(chunk) = h.get(i..i + 8) else { break };
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let x = u64::from_le_bytes(w) ^ NL;
        let z = x.wrapping_sub(LO) & !x & HI;
        if z != 0 {
            return Some(i + (z.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    memchr::memchr(b'\n', &h[i..]).map(|p| p + i)
}

/// Offset of the first `:` when every byte before it is a key byte (printable
/// ASCII, no space); `None` when another byte comes first or there is no colon.
/// As every AMI key is such a word, command output such as
/// `Sales has 0 calls (...), W:0` never passes for a header.
/// Eight bytes per step (SWAR); the lowest flagged byte of each test is exact.
#[inline]
fn key_end(line: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut i = 0;
    while let Some(chunk) = line.get(i..i + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let w = u64::from_le_bytes(w);
        let x = w ^ (LO * u64::from(b':'));
        let colon = x.wrapping_sub(LO) & !x & HI;
        // byte <= 0x20: has-less-than 0x21; byte >= 0x7f: high bit set, or adding
        // 1 to the low 7 bits carries into bit 7 (0x7f).
        let low = w.wrapping_sub(LO * 0x21) & !w & HI;
        let high = (w | ((w & !HI).wrapping_add(LO))) & HI;
        let stop = colon | low | high;
        if stop != 0 {
            let at = i + (stop.trailing_zeros() / 8) as usize;
            return (line[at] == b':').then_some(at);
        }
        i += 8;
    }
    while let Some(&b) = line.get(i) {
        if b == b':' {
            return Some(i);
        }
        if b <= b' ' || b >= 0x7f {
            return None;
        }
        i += 1;
    }
    None
}

fn classify(line: &[u8], at: usize) -> LineKind {
    if is_blank(line) {
        return LineKind::Blank;
    }
    // Tolerate indentation before a key (seen in the 2007 manager trace).
    let indent = line.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    let (line, at) = (&line[indent..], at + indent);
    // One pass finds the colon and checks the key bytes (printable, no space).
    let Some(colon) = key_end(line) else {
        return LineKind::Text;
    };
    if colon == 0 {
        return LineKind::Text;
    }
    let mut vs = colon + 1;
    if line.get(vs) == Some(&b' ') {
        vs += 1;
    }
    let ve = vs + trim_end(&line[vs..]).len();
    LineKind::Header(FieldSpan {
        key_start: at as u32,
        key_end: (at + colon) as u32,
        value_start: (at + vs) as u32,
        value_end: (at + ve) as u32,
    })
}

/// Whether a line is `Event:`, `Response:` or `Action:` — where the decoder
/// resynchronises after bad input even without a blank line.
fn starts_message(line: &[u8]) -> bool {
    let Some(colon) = memchr::memchr(b':', line) else {
        return false;
    };
    let key = &line[..colon];
    key.eq_ignore_ascii_case(b"Event")
        || key.eq_ignore_ascii_case(b"Response")
        || key.eq_ignore_ascii_case(b"Action")
}

/// Where a start key (`Event:`, `Response:`, `Action:`) begins inside a junk line.
fn embedded_start(line: &[u8]) -> Option<usize> {
    [&b"Event: "[..], b"Response: ", b"Action: "]
        .iter()
        .filter_map(|k| memchr::memmem::find(line, k))
        .filter(|&at| at > 0)
        .min()
}

/// While discarding: could this partial line still become a message start? If so
/// it is kept until complete, so the split of reads cannot change the result.
fn could_start_message(partial: &[u8]) -> bool {
    const STARTS: [&[u8]; 3] = [b"event:", b"response:", b"action:"];
    STARTS.iter().any(|s| {
        let n = partial.len().min(s.len());
        partial[..n].eq_ignore_ascii_case(&s[..n])
    })
}

/// If the line ends with `--END COMMAND--`, the length of the text before it
/// (Asterisk 1.4 appends the marker to the last output line).
fn end_command(line: &[u8]) -> Option<usize> {
    let t = trim_end(line);
    t.ends_with(END_COMMAND).then(|| t.len() - END_COMMAND.len())
}

/// The body from `start` to `end`, without the line break before the marker.
fn body_span(buf: &[u8], start: usize, end: usize) -> (usize, usize) {
    let mut end = end.max(start);
    if end > start && buf[end - 1] == b'\n' {
        end -= 1;
        if end > start && buf[end - 1] == b'\r' {
            end -= 1;
        }
    }
    (start, end)
}

/// The start of a rejected line, for the error message. A line that begins with
/// a secret's key name (a malformed `Secret hunter2` in a login) is not shown.
fn excerpt(line: &[u8]) -> String {
    let word_end = line.iter().position(|&b| !b.is_ascii_alphanumeric()).unwrap_or(line.len());
    let word = &line[..word_end];
    if super::message::SECRET_KEYS.iter().any(|k| k.as_bytes().eq_ignore_ascii_case(word)) {
        return "<redacted>".to_owned();
    }
    let cut = &line[..line.len().min(40)];
    cut.escape_ascii().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8]) -> Vec<Result<Frame, DecodeError>> {
        let mut d = Decoder::default();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        loop {
            match d.decode_eof(&mut buf) {
                Ok(Some(f)) => out.push(Ok(f)),
                Ok(None) => break,
                Err(e) => out.push(Err(e)),
            }
        }
        out
    }

    fn messages(input: &[u8]) -> Vec<Message> {
        decode_all(input)
            .into_iter()
            .map(|r| match r {
                Ok(Frame::Message(m)) => m,
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn lf_and_crlf_decode_alike() {
        let a = messages(b"Event: Hangup\r\nCause: 16\r\n\r\n");
        let b = messages(b"Event: Hangup\nCause: 16\n\n");
        assert_eq!(a, b);
        assert_eq!(a[0].get("cause"), Some("16"));
    }

    #[test]
    fn banner_then_message() {
        let out = decode_all(b"Asterisk Call Manager/9.0.0\r\nResponse: Success\r\nMessage: ok\r\n\r\n");
        match &out[0] {
            Ok(Frame::Banner(b)) => assert_eq!(b.version(), Some("9.0.0")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(&out[1], Ok(Frame::Message(m)) if m.response() == Some("Success")));
    }

    #[test]
    fn values_with_colons_and_empty_values() {
        let m = &messages(b"Event: Newexten\r\nAppData: a: b: c\r\nAccountCode: \r\nExten:\r\n\r\n")[0];
        assert_eq!(m.get("AppData"), Some("a: b: c"));
        assert_eq!(m.get("AccountCode"), Some(""));
        assert_eq!(m.get("Exten"), Some(""));
    }

    #[test]
    fn missing_blank_line_splits_on_event() {
        let ms = messages(b"Event: A\r\nX: 1\r\nEvent: B\r\nY: 2\r\n\r\n");
        assert_eq!(ms.len(), 2);
        assert_eq!(ms[1].event(), Some("B"));
    }

    #[test]
    fn an_action_may_carry_event_fields_in_any_order() {
        let mut d = Decoder::for_actions(Limits::default());
        let mut buf = BytesMut::from(
            &b"ActionID: 1\r\nEvent: on\r\nSecret: s\r\nUsername: u\r\naction: login\r\n\r\nAction: Ping\r\nAction: Ping\r\n\r\n"[..],
        );
        let mut ms = Vec::new();
        while let Ok(Some(Frame::Message(m))) = d.decode(&mut buf) {
            ms.push(m);
        }
        assert_eq!(ms.len(), 3, "{ms:?}");
        assert_eq!(ms[0].action(), Some("login"));
        assert_eq!(ms[0].get("Username"), Some("u"));
        assert_eq!(ms[0].get("Event"), Some("on"));
        assert_eq!(ms[2].action(), Some("Ping"), "an Action line still starts the next action");
    }

    #[test]
    fn originate_response_keeps_its_response_field() {
        let ms =
            messages(b"Event: OriginateResponse\r\nActionID: 1\r\nResponse: Success\r\nReason: 4\r\n\r\n");
        assert_eq!(ms.len(), 1);
        assert_eq!(ms[0].response(), Some("Success"));
    }

    #[test]
    fn list_complete_followed_by_response_without_blank_line() {
        let ms = messages(
            b"Event: QueueStatusComplete\r\nEventList: Complete\r\nResponse: Success\r\nActionID: 2\r\n\r\n",
        );
        assert_eq!(ms.len(), 2);
        assert_eq!(ms[1].action_id(), Some("2"));
    }

    #[test]
    fn user_event_may_carry_action_header() {
        let ms = messages(
            b"Event: UserEvent\r\nUserEvent: AgentLogin\r\nAction: UserEvent\r\nActionID: 2\r\n\r\n",
        );
        assert_eq!(ms.len(), 1);
    }

    #[test]
    fn old_command_output() {
        let ms = messages(
            b"Response: Follows\r\nPrivilege: Command\r\nActionID: 7\r\nChannel   State: x\r\n0 active calls\r\n--END COMMAND--\r\n\r\nEvent: X\r\n\r\n",
        );
        assert_eq!(ms.len(), 2);
        assert_eq!(ms[0].action_id(), Some("7"));
        assert_eq!(ms[0].output_lines(), vec!["Channel   State: x", "0 active calls"]);
        assert_eq!(ms[1].event(), Some("X"));
    }

    #[test]
    fn command_output_after_separate_header_block() {
        let ms = messages(
            b"Response: Follows\r\nPrivilege: Command\r\n\r\nline one\nline two\r\n--END COMMAND--\r\n\r\n",
        );
        assert_eq!(ms.len(), 1);
        let body = String::from_utf8_lossy(ms[0].body().unwrap_or_default()).into_owned();
        assert_eq!(body, "line one\nline two");
    }

    #[test]
    fn asterisk14_output_lines() {
        let m = &messages(
            b"Response: Success\r\nMessage: Command output follows\r\nOutput: a\r\nOutput:   b\r\n\r\n",
        )[0];
        assert_eq!(m.output_lines(), vec!["a", "  b"]);
    }

    #[test]
    fn garbage_is_an_error_and_next_message_survives() {
        let out = decode_all(b"\x00\x01garbage\r\nmore\r\n\r\nEvent: Ok\r\n\r\n");
        assert!(matches!(out[0], Err(DecodeError::InvalidLine { .. })));
        assert!(matches!(&out[1], Ok(Frame::Message(m)) if m.event() == Some("Ok")));
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn garbage_then_event_without_blank_line_resyncs_at_event() {
        let out = decode_all(b"Event: A\r\n\x01\x02 binary\r\nEvent: B\r\n\r\n");
        assert!(matches!(out[0], Err(DecodeError::InvalidLine { .. })));
        assert!(matches!(&out[1], Ok(Frame::Message(m)) if m.event() == Some("B")));
    }

    #[test]
    fn long_line_is_an_error_then_resync() {
        let limits = Limits { max_line: 32, max_message: 1024 };
        let mut d = Decoder::new(limits);
        let mut input = b"Event: A\r\nX: ".to_vec();
        input.extend(std::iter::repeat_n(b'y', 100));
        input.extend_from_slice(b"\r\nZ: 1\r\n\r\nEvent: B\r\n\r\n");
        let mut buf = BytesMut::from(&input[..]);
        assert!(matches!(d.decode(&mut buf), Err(DecodeError::LineTooLong { limit: 32, .. })));
        match d.decode(&mut buf) {
            Ok(Some(Frame::Message(m))) => assert_eq!(m.event(), Some("B")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn long_line_arriving_in_pieces_never_buffers_more_than_the_limit() {
        let limits = Limits { max_line: 64, max_message: 1024 };
        let mut d = Decoder::new(limits);
        let mut buf = BytesMut::new();
        buf.extend_from_slice(b"Event: A\r\nX: ");
        let mut errors = 0;
        for _ in 0..1000 {
            buf.extend_from_slice(&[b'y'; 50]);
            match d.decode(&mut buf) {
                Err(DecodeError::LineTooLong { .. }) => errors += 1,
                Ok(None) => {}
                other => panic!("{other:?}"),
            }
            assert!(buf.len() <= 200, "buffer grew to {}", buf.len());
        }
        assert_eq!(errors, 1);
        buf.extend_from_slice(b"\r\n\r\nEvent: B\r\n\r\n");
        match d.decode(&mut buf) {
            Ok(Some(Frame::Message(m))) => assert_eq!(m.event(), Some("B")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn large_message_is_an_error_then_resync() {
        let limits = Limits { max_line: 64, max_message: 256 };
        let mut input = b"Event: Big\r\n".to_vec();
        for i in 0..50 {
            input.extend_from_slice(format!("ChanVariable: v{i}=x\r\n").as_bytes());
        }
        input.extend_from_slice(b"\r\nEvent: Small\r\n\r\n");
        let mut d = Decoder::new(limits);
        let mut buf = BytesMut::from(&input[..]);
        assert!(matches!(d.decode(&mut buf), Err(DecodeError::MessageTooLarge { limit: 256, .. })));
        match d.decode(&mut buf) {
            Ok(Some(Frame::Message(m))) => assert_eq!(m.event(), Some("Small")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn need_more_bytes_is_not_an_error() {
        let mut d = Decoder::default();
        let mut buf = BytesMut::from(&b"Event: Hang"[..]);
        assert_eq!(d.decode(&mut buf), Ok(None));
        buf.extend_from_slice(b"up\r\n\r");
        assert_eq!(d.decode(&mut buf), Ok(None));
        buf.extend_from_slice(b"\n");
        assert!(matches!(d.decode(&mut buf), Ok(Some(Frame::Message(_)))));
        assert!(buf.is_empty());
    }

    #[test]
    fn truncated_follows_at_eof() {
        let out = decode_all(b"Response: Follows\r\nPrivilege: Command\r\nsome text\r\n");
        assert!(matches!(out[..], [Err(DecodeError::Truncated { .. })]));
    }

    #[test]
    fn folded_values_and_indented_keys_from_the_2007_trace() {
        let ms =
            messages(b"Event: Hangup \r\nCause-txt: Normal \r\nClearing \r\n Privilege: call,all \r\n\r\n");
        assert_eq!(ms.len(), 1);
        assert_eq!(ms[0].get("Cause-txt"), Some("Normal \r\nClearing"));
        assert_eq!(ms[0].get("Privilege"), Some("call,all"));
    }

    #[test]
    fn junk_before_a_message_start_is_skipped_and_counted() {
        let mut d = Decoder::default();
        let mut buf =
            BytesMut::from(&b"[218 bytes missing in capture file]Event: Newexten\r\nX: 1\r\n\r\n"[..]);
        match d.decode(&mut buf) {
            Ok(Some(Frame::Message(m))) => assert_eq!(m.event(), Some("Newexten")),
            other => panic!("{other:?}"),
        }
        assert_eq!(d.skipped_bytes(), 35);
    }

    /// Decodes `input` fed in pieces of `step` bytes (0: whole), then at EOF.
    fn decode_split(input: &[u8], limits: Limits, step: usize) -> Vec<Result<Frame, DecodeError>> {
        let mut d = Decoder::new(limits);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let step = if step == 0 { input.len().max(1) } else { step };
        for chunk in input.chunks(step) {
            buf.extend_from_slice(chunk);
            loop {
                match d.decode(&mut buf) {
                    Ok(Some(f)) => out.push(Ok(f)),
                    Ok(None) => break,
                    Err(e) => out.push(Err(e)),
                }
            }
        }
        loop {
            match d.decode_eof(&mut buf) {
                Ok(Some(f)) => out.push(Ok(f)),
                Ok(None) => break,
                Err(e) => out.push(Err(e)),
            }
        }
        out
    }

    fn assert_split_invariant(input: &[u8], limits: Limits) -> Vec<Result<Frame, DecodeError>> {
        let whole = decode_split(input, limits, 0);
        for step in [1, 2, 3, 7, 16, 64] {
            assert_eq!(decode_split(input, limits, step), whole, "split every {step} bytes");
        }
        whole
    }

    /// Found by cargo-fuzz: a line over both limits was LineTooLong whole but
    /// MessageTooLarge when split.
    #[test]
    fn line_and_message_limits_crossed_together_give_one_answer() {
        let limits = Limits { max_line: 64, max_message: 512 };
        let mut input = b"Event: Big\r\n".to_vec();
        for i in 0..18 {
            input.extend_from_slice(format!("Header{i:02}: value-{i:02}-xxxxx\r\n").as_bytes());
        }
        input.extend(std::iter::repeat_n(b'y', 100));
        input.extend_from_slice(b"\r\n\r\nEvent: Next\r\n\r\n");
        let out = assert_split_invariant(&input, limits);
        assert!(matches!(out[0], Err(DecodeError::LineTooLong { .. })), "{out:?}");
        assert!(matches!(&out[1], Ok(Frame::Message(m)) if m.event() == Some("Next")), "{out:?}");
    }

    /// Found by cargo-fuzz: a whitespace line longer than the line limit ends a
    /// discarded message whether or not it arrives in pieces.
    #[test]
    fn long_blank_line_ends_a_discarded_message_in_any_split() {
        let limits = Limits { max_line: 64, max_message: 512 };
        let mut input = b"Even  479\r\n".to_vec();
        input.extend(std::iter::repeat_n(b'\t', 120));
        input.extend_from_slice(b"\r\nEven\xd0\xd0\nEvent: Next\r\n\r\n");
        let out = assert_split_invariant(&input, limits);
        assert_eq!(
            out.iter().filter(|r| matches!(r, Err(DecodeError::InvalidLine { .. }))).count(),
            2,
            "{out:?}"
        );
        assert!(matches!(out.last(), Some(Ok(Frame::Message(m))) if m.event() == Some("Next")), "{out:?}");
    }

    /// Found by cargo-fuzz: after a header-only `Response: Follows` block, an
    /// over-long line that starts with whitespace was taken as blank when split.
    #[test]
    fn follows_header_then_long_indented_line_in_any_split() {
        let limits = Limits { max_line: 64, max_message: 1024 };
        let mut input = b"Response: Follows\r\nPrivilege: Command\r\n\r\n".to_vec();
        input.extend(std::iter::repeat_n(b'\t', 70));
        input.extend_from_slice(b" VARIABLE\r\n--END COMMAND--\r\n\r\nEvent: Next\r\n\r\n");
        let out = assert_split_invariant(&input, limits);
        assert!(matches!(out[0], Err(DecodeError::LineTooLong { .. })), "{out:?}");
        assert!(matches!(out.last(), Some(Ok(Frame::Message(m))) if m.event() == Some("Next")), "{out:?}");
    }

    /// Found by cargo-fuzz: after a header-only `Response: Follows` block, a body
    /// line of exactly `max_line` bytes was rejected when it arrived in pieces.
    #[test]
    fn follows_body_line_at_the_limit_survives_any_split() {
        let limits = Limits { max_line: 64, max_message: 1024 };
        let mut input = b"Response: Follows\r\nPrivilege: Command\r\n\r\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 64));
        input.extend_from_slice(b"\r\n--END COMMAND--\r\n\r\n");
        let out = assert_split_invariant(&input, limits);
        match &out[..] {
            [Ok(Frame::Message(m))] => assert_eq!(m.body().map(<[u8]>::len), Some(64)),
            other => panic!("{other:?}"),
        }
        // One byte more is over the limit, whatever the split.
        let mut input = b"Response: Follows\r\nPrivilege: Command\r\n\r\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 65));
        input.extend_from_slice(b"\r\n--END COMMAND--\r\n\r\nEvent: Next\r\n\r\n");
        let out = assert_split_invariant(&input, limits);
        assert!(out.iter().any(|r| matches!(r, Err(DecodeError::LineTooLong { .. }))), "{out:?}");
        assert!(matches!(out.last(), Some(Ok(Frame::Message(m))) if m.event() == Some("Next")), "{out:?}");
    }

    #[test]
    fn invalid_line_that_looks_like_a_secret_is_not_echoed() {
        let out = decode_all(b"Secret hunter2\r\nAction: Login\r\n\r\n");
        match &out[0] {
            Err(e @ DecodeError::InvalidLine { excerpt, .. }) => {
                assert_eq!(excerpt, "<redacted>");
                assert!(!e.to_string().contains("hunter2"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn trailing_spaces_are_trimmed() {
        let m = &messages(b"Event: Newcallerid \r\nChannel: Zap/1 \r\n \r\n")[0];
        assert!(m.is_event("Newcallerid"));
        assert_eq!(m.get("Channel"), Some("Zap/1"));
    }
}
#[cfg(test)]
mod swar_tests {
    #[test]
    fn key_end_matches_naive() {
        let alphabet = [b':', b' ', b'a', b'Z', 0x7f, 0x80, 0xff, b'\t', 0x21, 0x7e, 0x20, 0x00, b'\n'];
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..200_000 {
            let n = rng.usize(0..40);
            let v: Vec<u8> = (0..n)
                .map(|_| if rng.bool() { b'k' } else { alphabet[rng.usize(0..alphabet.len())] })
                .collect();
            let naive = (|| {
                for (i, &b) in v.iter().enumerate() {
                    if b == b':' {
                        return Some(i);
                    }
                    if !(b > b' ' && b < 0x7f) {
                        return None;
                    }
                }
                None
            })();
            assert_eq!(super::key_end(&v), naive, "{v:?}");
            let nl = v.iter().position(|&b| b == b'\n');
            assert_eq!(super::find_nl(&v), nl, "{v:?}");
        }
    }
}
