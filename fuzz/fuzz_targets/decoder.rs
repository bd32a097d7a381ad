//! Fuzz target for the sans-IO AMI decoder.
//!
//! Input layout: byte 0 is a control byte, then `n = byte0 & 0x0f` bytes that
//! choose read sizes, then the AMI stream itself.
//! - bit 4 of byte 0 selects small limits (64-byte lines, 512-byte messages) so the
//!   over-limit and resynchronisation paths are reached with short inputs;
//! - each read-size byte `b` gives a read of `b + 1` bytes (cycled; with none, the
//!   stream is fed one byte at a time).
//!
//! Properties checked:
//! 1. decoding never panics and never spins: every call that returns a frame or an
//!    error consumes input, and the number of calls is bounded by the input size;
//! 2. the frames and errors (stream offsets included) and the skipped-byte count do
//!    not depend on how the stream was split into reads;
//! 3. a decoded message re-encoded with `MessageBuilder` either encodes or gives an
//!    `EncodeError`; when it encodes, the output is canonical (CRLF, blank-line end)
//!    and decodes back to the same message.

#![no_main]

use bytes::BytesMut;
use ctilink::ami::{DecodeError, Decoder, Frame, Limits, Message, MessageBuilder};
use libfuzzer_sys::fuzz_target;

type Out = (Vec<Result<Frame, DecodeError>>, u64);

/// Upper bound on decoder calls for `len` input bytes: each productive call eats at
/// least one byte, and each read adds one unproductive `Ok(None)` call.
fn call_budget(len: usize, reads: usize) -> usize {
    2 * len + 2 * reads + 16
}

fn decode(input: &[u8], limits: Limits, reads: &[u8]) -> Out {
    let mut d = Decoder::new(limits);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut calls = 0usize;
    let mut pos = 0;
    let mut nread = 0;
    while pos < input.len() {
        let size = if reads.is_empty() { 1 } else { reads[nread % reads.len()] as usize + 1 };
        let end = (pos + size).min(input.len());
        buf.extend_from_slice(&input[pos..end]);
        pos = end;
        nread += 1;
        loop {
            calls += 1;
            let before = buf.len();
            match d.decode(&mut buf) {
                Ok(None) => break,
                Ok(Some(f)) => {
                    assert!(buf.len() < before, "frame produced without consuming input");
                    out.push(Ok(f));
                }
                Err(e) => out.push(Err(e)),
            }
            assert!(calls <= call_budget(input.len(), nread), "decoder loops");
        }
    }
    loop {
        calls += 1;
        match d.decode_eof(&mut buf) {
            Ok(None) => break,
            Ok(Some(f)) => out.push(Ok(f)),
            Err(e) => out.push(Err(e)),
        }
        assert!(calls <= call_budget(input.len(), nread) + 8, "decode_eof loops");
    }
    (out, d.skipped_bytes())
}

fn decode_whole(input: &[u8], limits: Limits) -> Out {
    let mut d = Decoder::new(limits);
    let mut buf = BytesMut::from(input);
    let mut out = Vec::new();
    let mut calls = 0usize;
    loop {
        calls += 1;
        match d.decode_eof(&mut buf) {
            Ok(None) => break,
            Ok(Some(f)) => out.push(Ok(f)),
            Err(e) => out.push(Err(e)),
        }
        assert!(calls <= call_budget(input.len(), 1), "decoder loops on a whole buffer");
    }
    (out, d.skipped_bytes())
}

fn check_reencode(m: &Message) {
    let builder = MessageBuilder::from(m);
    let mut out = BytesMut::new();
    match builder.encode(&mut out) {
        Err(_) => assert!(out.is_empty(), "bytes written despite an encode error"),
        Ok(()) => {
            assert!(out.ends_with(b"\r\n\r\n") || (m.is_empty() && &out[..] == b"\r\n"));
            if m.is_empty() {
                return;
            }
            // What was read and written again must read back the same, unless the
            // writer had to substitute invalid UTF-8 (MessageBuilder holds Strings).
            let utf8 = m.raw_fields().all(|(k, v)| std::str::from_utf8(k).is_ok() && std::str::from_utf8(v).is_ok());
            if utf8 && m.body().is_none() {
                let (frames, _) = decode_whole(&out, Limits::default());
                match &frames[..] {
                    [Ok(Frame::Message(back))] => assert_eq!(back, &builder.to_message()),
                    other => panic!("re-encoded message {m:?} decodes as {other:?}"),
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else { return };
    let n = (ctl & 0x0f) as usize;
    if rest.len() < n {
        return;
    }
    let (reads, input) = rest.split_at(n);
    let limits = if ctl & 0x10 != 0 {
        Limits { max_line: 64, max_message: 512 }
    } else {
        Limits::default()
    };
    let whole = decode_whole(input, limits);
    let split = decode(input, limits, reads);
    assert_eq!(whole, split, "result depends on the read split {reads:?}");
    for f in &whole.0 {
        if let Ok(Frame::Message(m)) = f {
            check_reencode(m);
        }
    }
});
