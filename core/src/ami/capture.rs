//! Reading a recorded AMI capture (a file of wire-format messages) in one call, for
//! replay tools and tests.

use bytes::BytesMut;

use super::decoder::{DecodeError, Decoder, Frame, Limits};
use super::message::Message;

/// What a capture holds: its messages in order, and the errors the decoder recovered from.
#[derive(Debug, Default)]
pub struct Capture {
    pub messages: Vec<Message>,
    pub errors: Vec<DecodeError>,
}

/// Decodes a whole capture. The decoder resynchronises after an error, so a damaged
/// capture still gives every message that can be read.
pub fn read_capture(data: &[u8]) -> Capture {
    let mut dec = Decoder::new(Limits::default());
    let mut buf = BytesMut::from(data);
    let mut cap = Capture::default();
    loop {
        match dec.decode_eof(&mut buf) {
            Ok(Some(Frame::Message(m))) => cap.messages.push(m),
            Ok(Some(Frame::Banner(_))) => {}
            Ok(None) => break,
            Err(e) => cap.errors.push(e),
        }
    }
    cap
}
