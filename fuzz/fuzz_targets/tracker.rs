//! Fuzz target for the call-state machine: any bytes, decoded as AMI, fed to a
//! `Tracker`, then every channel hung up.
//!
//! Properties checked:
//! 1. nothing panics, whatever the events and their order;
//! 2. every connection change reported moves along `ConnectionState::can_become`
//!    (per call, device and channel), and no call reports anything after `CallCleared`
//!    unless it starts again with a first event;
//! 3. once a `Hangup` was applied for every uniqueid the input named, no call and no
//!    channel remains.

#![no_main]

use std::collections::{HashMap, HashSet};

use bytes::BytesMut;
use ctilink::ami::{Decoder, Frame, Limits, Message};
use ctilink::model::{ConnectionState, Event, Tracker};
use libfuzzer_sys::fuzz_target;

#[derive(Default)]
struct Check {
    conns: HashMap<(String, String, String), ConnectionState>,
    open: HashSet<String>,
}

impl Check {
    fn push(&mut self, ev: &Event) {
        let Some(call) = ev.call().map(|c| c.to_string()) else { return };
        if !self.open.contains(&call) {
            let starts = matches!(
                ev,
                Event::Originated { .. }
                    | Event::Delivered { .. }
                    | Event::Queued { .. }
                    | Event::Failed { .. }
                    | Event::Transferred { .. }
            );
            if matches!(ev, Event::UserEvent { .. }) {
                return;
            }
            assert!(starts, "call {call} reports {} before its first event", ev.kind());
            self.open.insert(call.clone());
        }
        match ev {
            Event::CallCleared { .. } => {
                self.open.remove(&call);
                self.conns.retain(|k, _| k.0 != call);
            }
            Event::Transferred { secondary_call: Some(s), targets, .. } => {
                for t in targets {
                    let from = (s.to_string(), t.device.to_string(), t.channel.clone());
                    if let Some(st) = self.conns.remove(&from) {
                        self.conns.insert((call.clone(), t.device.to_string(), t.channel.clone()), st);
                    }
                }
            }
            _ => {
                let (Some(d), Some(to)) = (ev.device(), ev.connection_state()) else { return };
                let key = (call, d.to_string(), ev.channel().unwrap_or("").to_owned());
                let from = self.conns.get(&key).copied().unwrap_or(ConnectionState::Null);
                if matches!(ev, Event::Conferenced { .. }) && from == to {
                    return;
                }
                assert!(from.can_become(to), "{key:?}: {from:?} -> {to:?} by {}", ev.kind());
                if to == ConnectionState::Null {
                    self.conns.remove(&key);
                } else {
                    self.conns.insert(key, to);
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut dec = Decoder::new(Limits { max_line: 1024, max_message: 16 * 1024 });
    let mut buf = BytesMut::from(data);
    let mut msgs: Vec<Message> = Vec::new();
    for _ in 0..(2 * data.len() + 16) {
        match dec.decode_eof(&mut buf) {
            Ok(Some(Frame::Message(m))) => msgs.push(m),
            Ok(Some(Frame::Banner(_))) | Err(_) => {}
            Ok(None) => break,
        }
    }
    let mut t = Tracker::new();
    let mut check = Check::default();
    let mut uids: Vec<String> = Vec::new();
    for m in &msgs {
        for (k, v) in m.fields() {
            if k.to_ascii_lowercase().ends_with("uniqueid") && !k.to_ascii_lowercase().contains("bridge") {
                uids.push(v.trim().to_owned());
            }
        }
        for ev in t.apply(m) {
            check.push(&ev);
        }
    }
    // Hang everything up: by uniqueid, then by name for channels known only by name.
    let mut names: Vec<String> = Vec::new();
    for m in &msgs {
        for (k, v) in m.fields() {
            let k = k.to_ascii_lowercase();
            if k.ends_with("channel") || k == "source" || k == "destination" || k.starts_with("channel") {
                names.push(v.trim().to_owned());
            }
        }
    }
    for u in &uids {
        let m = Message::from_pairs([("Event", "Hangup"), ("Uniqueid", u.as_str()), ("Cause", "16")]);
        for ev in t.apply(&m) {
            check.push(&ev);
        }
    }
    for n in &names {
        let m = Message::from_pairs([("Event", "Hangup"), ("Channel", n.as_str()), ("Cause", "16")]);
        for ev in t.apply(&m) {
            check.push(&ev);
        }
    }
    assert_eq!(t.channels(), 0, "channels left after every hangup");
    assert_eq!(t.open_calls(), 0, "calls left after every hangup");
});
