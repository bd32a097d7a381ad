//! Every real capture decodes without error, whole and split at arbitrary points.

use bytes::BytesMut;
use ctilink::ami::{Decoder, Frame, MessageKind};
use ctilink_tests::vector_files;
use proptest::prelude::*;

#[derive(Debug, Default, PartialEq)]
struct Counts {
    banners: usize,
    events: usize,
    responses: usize,
    actions: usize,
    other: usize,
}

fn decode_chunks(chunks: &[&[u8]]) -> (Vec<Frame>, usize) {
    let mut d = Decoder::default();
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut errors = 0;
    for c in chunks {
        buf.extend_from_slice(c);
        loop {
            match d.decode(&mut buf) {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => break,
                Err(_) => errors += 1,
            }
        }
    }
    loop {
        match d.decode_eof(&mut buf) {
            Ok(Some(f)) => frames.push(f),
            Ok(None) => break,
            Err(_) => errors += 1,
        }
    }
    (frames, errors)
}

fn count(frames: &[Frame]) -> Counts {
    let mut c = Counts::default();
    for f in frames {
        match f {
            Frame::Banner(_) => c.banners += 1,
            Frame::Message(m) => match m.kind() {
                MessageKind::Event => c.events += 1,
                MessageKind::Response => c.responses += 1,
                MessageKind::Action => c.actions += 1,
                MessageKind::Other => c.other += 1,
            },
        }
    }
    c
}

fn all_captures() -> Vec<(String, Vec<u8>)> {
    let mut files = vector_files("real", "ami");
    files.extend(vector_files("asterisk20", "ami"));
    files.extend(vector_files("asterisk20", "sent"));
    assert!(files.len() >= 70, "expected the real captures, found {}", files.len());
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            (name, std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        })
        .collect()
}

#[test]
fn every_real_capture_decodes_without_error() {
    let mut total = Counts::default();
    for (name, data) in all_captures() {
        let (frames, errors) = decode_chunks(&[&data]);
        assert_eq!(errors, 0, "{name}: decode errors");
        let c = count(&frames);
        assert!(c.events + c.responses + c.actions > 0, "{name}: nothing decoded");
        total.banners += c.banners;
        total.events += c.events;
        total.responses += c.responses;
        total.actions += c.actions;
        total.other += c.other;
    }
    println!("{total:?}");
    assert!(total.events > 4000, "{total:?}");
}

#[test]
fn captures_with_missing_blank_lines_are_split() {
    // The 2007 documentation trace has about 40 events glued to the previous one.
    let (_, data) = all_captures()
        .into_iter()
        .find(|(n, _)| n == "asteriskdocs_ast14_zap_call_park_3way_events.ami")
        .expect("capture present");
    let (frames, errors) = decode_chunks(&[&data]);
    assert_eq!(errors, 0);
    let event_lines = data.split(|&b| b == b'\n').filter(|l| l.starts_with(b"Event:")).count();
    assert_eq!(count(&frames).events, event_lines);
}

#[test]
fn every_event_line_starts_its_own_message() {
    for (name, data) in all_captures() {
        let (frames, _) = decode_chunks(&[&data]);
        let decoded = count(&frames).events;
        // Lines that begin with "Event:", or carry it after a capture-gap marker.
        let lines = data
            .split(|&b| b == b'\n')
            .filter(|l| {
                (l.len() > 6 && l[..6].eq_ignore_ascii_case(b"Event:"))
                    || (l.starts_with(b"[") && l.windows(8).any(|w| w == b"]Event: "))
            })
            .count();
        assert_eq!(decoded, lines, "{name}");
    }
}

#[test]
fn asterisk20_banner_and_login() {
    let (_, data) =
        all_captures().into_iter().find(|(n, _)| n == "originate_sip.ami").expect("capture present");
    let (frames, _) = decode_chunks(&[&data]);
    match &frames[0] {
        Frame::Banner(b) => assert_eq!(b.version(), Some("9.0.0")),
        other => panic!("{other:?}"),
    }
    let Frame::Message(login) = &frames[1] else { panic!("no login response") };
    assert_eq!(login.response(), Some("Success"));
    let orig = frames
        .iter()
        .filter_map(|f| match f {
            Frame::Message(m) if m.is_event("OriginateResponse") => Some(m),
            _ => None,
        })
        .next()
        .expect("OriginateResponse");
    assert_eq!(orig.response(), Some("Success"));
    assert_eq!(orig.get("Reason"), Some("4"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Splitting a stream at any byte positions gives the same frames and errors.
    #[test]
    fn split_anywhere_gives_same_frames(file_idx in 0usize..1000, cuts in proptest::collection::vec(0usize..1_000_000, 0..64)) {
        let captures = all_captures();
        let (name, data) = &captures[file_idx % captures.len()];
        let (whole, whole_errors) = decode_chunks(&[data]);
        let mut points: Vec<usize> = cuts.into_iter().map(|c| c % (data.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut at = 0;
        for p in points {
            chunks.push(&data[at..p]);
            at = p;
        }
        chunks.push(&data[at..]);
        let (split, split_errors) = decode_chunks(&chunks);
        prop_assert_eq!(whole_errors, split_errors, "{}", name);
        prop_assert_eq!(whole, split, "{}", name);
    }

    /// Byte-at-a-time decoding of arbitrary bytes never panics and agrees with whole decoding.
    #[test]
    fn arbitrary_bytes_split_equals_whole(data in proptest::collection::vec(prop_oneof![
        Just(b'\r'), Just(b'\n'), Just(b':'), Just(b' '), Just(b'E'), Just(b'a'),
        Just(b'-'), any::<u8>()], 0..400)) {
        let (whole, we) = decode_chunks(&[&data]);
        let singles: Vec<&[u8]> = data.chunks(1).collect();
        let (split, se) = decode_chunks(&singles);
        prop_assert_eq!(we, se);
        prop_assert_eq!(whole, split);
    }
}

#[test]
fn typed_views_read_the_real_captures() {
    use ctilink::ami::AmiEvent;
    let (mut hangups, mut dials, mut bridges, mut other) = (0, 0, 0, 0);
    for (name, data) in all_captures() {
        let (frames, _) = decode_chunks(&[&data]);
        for f in &frames {
            let Frame::Message(m) = f else { continue };
            if m.kind() != MessageKind::Event {
                continue;
            }
            match AmiEvent::parse(m) {
                AmiEvent::Hangup(h) => {
                    hangups += 1;
                    if m.contains("Cause") {
                        assert!(h.cause().is_some(), "{name}: unparsable cause in {m:?}");
                    }
                    assert!(h.channel().uniqueid().is_some(), "{name}: Hangup without Uniqueid");
                }
                AmiEvent::DialBegin(d) => {
                    dials += 1;
                    assert!(d.dest().uniqueid().is_some(), "{name}: DialBegin without DestUniqueid");
                    assert!(d.dest().channel().is_some(), "{name}: DialBegin without DestChannel");
                }
                AmiEvent::BridgeEnter(b) => {
                    bridges += 1;
                    assert!(b.bridge_id().is_some() && b.channel().channel().is_some(), "{name}: {m:?}");
                }
                AmiEvent::Newchannel(c) | AmiEvent::Newstate(c) => {
                    assert!(c.state().is_some(), "{name}: channel event without a state: {m:?}");
                }
                AmiEvent::Other(_) => other += 1,
                _ => {}
            }
        }
    }
    assert!(hangups > 300 && dials > 200 && bridges > 300, "{hangups} {dials} {bridges}");
    assert!(other > 0);
}
