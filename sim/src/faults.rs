//! Fault injection: what a misbehaving PBX or network does to a client.
//!
//! Commands go to connection tasks through a small bounded queue, so they act
//! on the connections open when they were issued, in order with one another.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};

use crate::events;

/// A command for one connection task.
#[derive(Clone, Debug)]
pub(crate) enum Control {
    /// Stop reading and writing for this long (the peer goes silent).
    Stall(Duration),
    /// Write these bytes verbatim.
    Raw(Bytes),
    /// Write this many small `UserEvent`s as fast as the socket takes them.
    Burst(usize),
}

/// A few lines of binary junk that are no AMI, then a blank line so that a
/// tolerant reader can resynchronise on the next message.
pub(crate) fn garbage() -> Bytes {
    let mut b = BytesMut::new();
    b.put_slice(b"\x00\x01\x02\xff\xfe\xfd\x1b[0m\r\n");
    b.put_slice(b"\x80\x81\x82 not an AMI line \xc3\x28\xa0\xa1\r\n");
    b.put_slice(&[0xde, 0xad, 0xbe, 0xef, 0x7f, 0x00, b'\r', b'\n']);
    b.put_slice(b"\r\n");
    b.freeze()
}

/// One `UserEvent` with a header line of exactly `line_len` bytes (without its
/// CRLF), then a normal `UserEvent` that a reader must still get.
pub(crate) fn oversized(line_len: usize) -> Bytes {
    const KEY: &[u8] = b"Payload: ";
    let fill = line_len.saturating_sub(KEY.len()).max(1);
    let mut b = BytesMut::with_capacity(fill + 200);
    b.put_slice(b"Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: Oversized\r\n");
    b.put_slice(KEY);
    b.put_bytes(b'x', fill);
    b.put_slice(b"\r\n\r\n");
    let _ = events::user_event("AfterOversized").encode(&mut b);
    b.freeze()
}

/// The events of a burst, generated on demand per connection.
#[derive(Debug, Default)]
pub(crate) struct Burst {
    next: usize,
    remaining: usize,
}

impl Burst {
    pub(crate) fn add(&mut self, n: usize) {
        self.remaining = self.remaining.saturating_add(n);
    }

    pub(crate) fn is_idle(&self) -> bool {
        self.remaining == 0
    }

    /// Appends burst events to `out` until it holds `high` bytes or the burst ends.
    pub(crate) fn fill(&mut self, out: &mut BytesMut, high: usize) {
        while self.remaining > 0 && out.len() < high {
            self.next += 1;
            self.remaining -= 1;
            let _ = events::burst_event(self.next).encode(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use ctilink::ami::{Decoder, Frame, Limits};

    use super::*;

    fn decode_all(mut buf: BytesMut, limits: Limits) -> (Vec<String>, usize) {
        let mut d = Decoder::new(limits);
        let (mut names, mut errors) = (Vec::new(), 0);
        loop {
            match d.decode(&mut buf) {
                Ok(Some(Frame::Message(m))) => names.push(m.get("UserEvent").unwrap_or("?").to_owned()),
                Ok(Some(Frame::Banner(_))) => {}
                Ok(None) => break,
                Err(_) => errors += 1,
            }
        }
        (names, errors)
    }

    #[test]
    fn garbage_is_rejected_then_decoder_recovers() {
        let mut buf = BytesMut::from(&garbage()[..]);
        buf.extend_from_slice(&events::burst_event(1).to_message().frame()[..]);
        let (names, errors) = decode_all(buf, Limits::default());
        assert!(errors > 0);
        assert_eq!(names, ["Burst"]);
    }

    #[test]
    fn oversized_line_has_requested_length() {
        let b = oversized(100_000);
        let line = b.split(|&c| c == b'\n').find(|l| l.starts_with(b"Payload")).map(<[u8]>::len);
        assert_eq!(line, Some(100_000 + 1)); // with its CR
        let (names, errors) = decode_all(BytesMut::from(&b[..]), Limits::default());
        assert_eq!(names, ["AfterOversized"]);
        assert!(errors >= 1);
    }

    #[test]
    fn burst_fills_up_to_high_water() {
        let mut b = Burst::default();
        b.add(1000);
        let mut out = BytesMut::new();
        b.fill(&mut out, 1000);
        assert!(!b.is_idle());
        assert!(out.len() >= 1000 && out.len() < 1200);
        b.fill(&mut out, usize::MAX);
        assert!(b.is_idle());
    }
}
