//! Recording the AMI link to a file: every byte received on the socket (banner, responses,
//! events), in order, so that the file is a capture `ctilink replay` and
//! [`read_capture`](super::read_capture) read like the ones in `tests/vectors/ami`.
//!
//! Why received bytes only: the login's secret is *sent*, never received, so the capture
//! cannot leak it. The optional `.sent` companion holds what the client sent, with the
//! login's `Secret:` and `Key:` replaced by `***`.
//!
//! A recording must never hurt the link it watches: it is bounded ([`DEFAULT_RECORD_LIMIT`]
//! unless told otherwise), and a write error (a full disk, a removed USB stick) stops the
//! recording with a warning in the log while the link goes on. Each chunk read from the
//! socket is written at once, unbuffered, so that the file is complete up to the last read
//! even if the process is killed.

use std::fmt;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{Error, Result};

/// The default bound of a recording: 1 GiB per file.
pub const DEFAULT_RECORD_LIMIT: u64 = 1 << 30;

/// What to record and how much.
///
/// ```
/// use ctilink::ami::RecordOptions;
/// let o = RecordOptions::new("/tmp/pbx.ami").max_bytes(64 << 20).sent(true);
/// assert_eq!(o.sent_path().as_deref(), Some(std::path::Path::new("/tmp/pbx.sent")));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordOptions {
    /// The capture of received bytes (created, or truncated if it exists).
    pub path: PathBuf,
    /// Bytes each file may hold; the recording stops (with a warning) before a read that
    /// would go past it, so a file never exceeds it.
    pub max_bytes: u64,
    /// Also write the sent actions to [`sent_path`](Self::sent_path).
    pub sent: bool,
}

impl RecordOptions {
    /// Received bytes to `path`, up to [`DEFAULT_RECORD_LIMIT`], no `.sent` companion.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), max_bytes: DEFAULT_RECORD_LIMIT, sent: false }
    }

    /// Sets [`max_bytes`](Self::max_bytes).
    #[must_use]
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// Sets [`sent`](Self::sent).
    #[must_use]
    pub fn sent(mut self, on: bool) -> Self {
        self.sent = on;
        self
    }

    /// The companion of the sent actions when [`sent`](Self::sent) is on: the path with
    /// the extension `sent` (`call.ami` -> `call.sent`, as the Asterisk 20 captures are
    /// named); `x.sent.sent` if the capture is itself named `*.sent`.
    pub fn sent_path(&self) -> Option<PathBuf> {
        if !self.sent {
            return None;
        }
        if self.path.extension().is_some_and(|e| e == "sent") {
            let mut p = self.path.clone().into_os_string();
            p.push(".sent");
            return Some(p.into());
        }
        Some(self.path.with_extension("sent"))
    }
}

/// One file being written.
struct Sink {
    path: PathBuf,
    /// `None` once stopped.
    file: Option<File>,
    written: u64,
    /// Why it stopped, if it did.
    stopped: Option<String>,
}

impl Sink {
    fn create(path: &Path) -> Result<Sink> {
        let file = File::create(path).map_err(|e| {
            Error::InvalidArgument(format!("cannot create the recording {}: {e}", path.display()))
        })?;
        Ok(Sink { path: path.to_owned(), file: Some(file), written: 0, stopped: None })
    }

    fn write(&mut self, bytes: &[u8], limit: u64) {
        let Some(file) = self.file.as_mut() else { return };
        if bytes.is_empty() {
            return;
        }
        let why = if self.written.saturating_add(bytes.len() as u64) > limit {
            format!("it reached its limit of {limit} bytes")
        } else {
            match file.write_all(bytes) {
                Ok(()) => {
                    self.written += bytes.len() as u64;
                    return;
                }
                // A partial write may have happened: the file ends with part of a chunk,
                // which a reader resynchronises after.
                Err(e) => format!("write error: {e}"),
            }
        };
        tracing::warn!(
            file = %self.path.display(),
            bytes = self.written,
            "recording stopped: {why} (the link goes on)"
        );
        self.file = None;
        self.stopped = Some(why);
    }
}

struct State {
    received: Sink,
    sent: Option<Sink>,
    limit: u64,
}

/// A recording in progress. Clones share it: the link keeps writing to the same file
/// across reconnects (each reconnect adds the new banner and login response), while the
/// caller keeps a clone to ask how it went.
#[derive(Clone)]
pub struct Recorder {
    state: Arc<Mutex<State>>,
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.lock();
        f.debug_struct("Recorder")
            .field("path", &s.received.path)
            .field("written", &s.received.written)
            .field("limit", &s.limit)
            .field("stopped", &s.received.stopped)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// Creates the file(s) now, so that a bad path is reported before connecting
    /// ([`Error::InvalidArgument`], naming the file).
    pub fn create(options: &RecordOptions) -> Result<Recorder> {
        let received = Sink::create(&options.path)?;
        let sent = match options.sent_path() {
            Some(p) => Some(Sink::create(&p)?),
            None => None,
        };
        Ok(Recorder { state: Arc::new(Mutex::new(State { received, sent, limit: options.max_bytes })) })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while writing leaves at worst a short file; keep recording.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The capture's path.
    pub fn path(&self) -> PathBuf {
        self.lock().received.path.clone()
    }

    /// The `.sent` companion's path, if there is one.
    pub fn sent_path(&self) -> Option<PathBuf> {
        self.lock().sent.as_ref().map(|s| s.path.clone())
    }

    /// Bytes written to the capture so far.
    pub fn bytes(&self) -> u64 {
        self.lock().received.written
    }

    /// Bytes written to the `.sent` companion so far (0 without one).
    pub fn sent_bytes(&self) -> u64 {
        self.lock().sent.as_ref().map_or(0, |s| s.written)
    }

    /// Why the capture stopped recording (limit reached, write error), or `None` while it
    /// records.
    pub fn stopped(&self) -> Option<String> {
        self.lock().received.stopped.clone()
    }

    /// Bytes just read from the socket.
    pub(crate) fn received(&self, bytes: &[u8]) {
        let mut s = self.lock();
        let limit = s.limit;
        s.received.write(bytes, limit);
    }

    /// One encoded action just written to the socket; the login's secret is masked.
    pub(crate) fn sent(&self, bytes: &[u8]) {
        let mut s = self.lock();
        let limit = s.limit;
        if let Some(sink) = s.sent.as_mut() {
            sink.write(&mask_login(bytes), limit);
        }
    }
}

/// `bytes` with the value of `Secret:` and, in a `Login` action, `Key:` (the MD5 of
/// challenge and secret, which would allow guessing the secret offline) replaced by `***`.
/// `Key:` stays in other actions, where it is an AstDB key.
fn mask_login(bytes: &[u8]) -> Vec<u8> {
    let is_login = bytes.split(|&b| b == b'\n').any(|line| {
        field(line)
            .is_some_and(|(k, v)| k.eq_ignore_ascii_case(b"Action") && v.eq_ignore_ascii_case(b"Login"))
    });
    let mut out = Vec::with_capacity(bytes.len());
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let secret = field(line).is_some_and(|(k, _)| {
            k.eq_ignore_ascii_case(b"Secret") || (is_login && k.eq_ignore_ascii_case(b"Key"))
        });
        match line.iter().position(|&b| b == b':') {
            Some(colon) if secret => {
                out.extend_from_slice(&line[..=colon]);
                out.extend_from_slice(b" ***");
                let ending = if line.ends_with(b"\r\n") { &b"\r\n"[..] } else { &b"\n"[..] };
                out.extend_from_slice(if line.ends_with(b"\n") { ending } else { b"" });
            }
            _ => out.extend_from_slice(line),
        }
    }
    out
}

/// `Key: Value` of a line, trimmed.
fn field(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = line.iter().position(|&b| b == b':')?;
    Some((line[..colon].trim_ascii(), line[colon + 1..].trim_ascii()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ctilink-record-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("pbx.ami")
    }

    #[test]
    fn the_limit_stops_the_recording_at_a_read_and_never_exceeds_it() {
        let path = tmp("limit");
        let rec = Recorder::create(&RecordOptions::new(&path).max_bytes(10)).unwrap();
        rec.received(b"0123456");
        assert_eq!(rec.stopped(), None);
        rec.received(b"789ab"); // would make 12 bytes: refused whole
        rec.received(b"c"); // stopped: nothing more, even if it would fit
        assert_eq!(std::fs::read(&path).unwrap(), b"0123456");
        assert_eq!(rec.bytes(), 7);
        assert!(rec.stopped().is_some_and(|w| w.contains("limit of 10 bytes")), "{:?}", rec.stopped());
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_write_error_stops_the_recording_without_failing() {
        let rec = Recorder::create(&RecordOptions::new("/dev/full")).unwrap();
        rec.received(b"Asterisk Call Manager/9.0.0\r\n");
        assert!(rec.stopped().is_some_and(|w| w.starts_with("write error")), "{:?}", rec.stopped());
        rec.received(b"Event: FullyBooted\r\n\r\n"); // ignored, no panic
        assert_eq!(rec.bytes(), 0);
    }

    #[test]
    fn a_path_that_cannot_be_created_is_a_typed_error_naming_it() {
        let e = Recorder::create(&RecordOptions::new("/nonexistent-dir/x/pbx.ami")).unwrap_err();
        assert!(matches!(&e, Error::InvalidArgument(m) if m.contains("/nonexistent-dir/x/pbx.ami")), "{e}");
    }

    #[test]
    fn the_sent_companion_masks_the_login() {
        let path = tmp("sent");
        let o = RecordOptions::new(&path).sent(true);
        assert_eq!(o.sent_path(), Some(path.with_extension("sent")));
        let rec = Recorder::create(&o).unwrap();
        rec.sent(b"Action: Login\r\nActionID: 1\r\nUsername: admin\r\nSecret: s3cret\r\nEvents: on\r\n\r\n");
        rec.sent(b"Action: Login\r\nUsername: admin\r\nKey: 0123abcd\r\n\r\n");
        rec.sent(b"Action: DBGet\r\nFamily: CF\r\nKey: 100\r\n\r\n");
        let sent = std::fs::read_to_string(path.with_extension("sent")).unwrap();
        assert_eq!(
            sent,
            "Action: Login\r\nActionID: 1\r\nUsername: admin\r\nSecret: ***\r\nEvents: on\r\n\r\n\
             Action: Login\r\nUsername: admin\r\nKey: ***\r\n\r\n\
             Action: DBGet\r\nFamily: CF\r\nKey: 100\r\n\r\n"
        );
        assert_eq!(rec.sent_bytes(), sent.len() as u64);
        assert_eq!(std::fs::read(&path).unwrap(), b"", "sent bytes are not in the capture");
        let odd = RecordOptions::new("/tmp/x.sent").sent(true);
        assert_eq!(odd.sent_path(), Some(PathBuf::from("/tmp/x.sent.sent")));
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
