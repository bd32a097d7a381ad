//! The tracker on recorded traffic: exact event sequences for the Asterisk 20 captures
//! (a real PBX with SIP phones), and no ghost calls on any capture: a call the capture
//! ended must not stay open in the model.

use std::collections::HashSet;
use std::path::Path;

use ctilink::ami::{read_capture, Message};
use ctilink::model::{ConnectionState, Event, FailureReason, Tracker};
use ctilink_tests::{vector_files, vectors_dir};

fn replay(path: &Path) -> (Tracker, Vec<Event>, Vec<Message>) {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let cap = read_capture(&data);
    let mut t = Tracker::new();
    let mut events = Vec::new();
    for m in &cap.messages {
        t.apply_into(m, &mut events);
    }
    (t, events, cap.messages)
}

/// The call events as `kind device` (device state and user events left out).
fn call_kinds(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.call().is_some() && !matches!(e, Event::UserEvent { .. }))
        .map(|e| match e.device() {
            Some(d) => format!("{} {d}", e.kind()),
            None => e.kind().to_owned(),
        })
        .collect()
}

fn asterisk20(name: &str) -> std::path::PathBuf {
    vectors_dir().join("ami/asterisk20").join(name)
}

#[test]
fn asterisk20_basic_call() {
    let (t, events, _) = replay(&asterisk20("sip_call.ami"));
    assert_eq!(
        call_kinds(&events),
        [
            "originated 101",
            "delivered 100",
            "established 100",
            "connection_cleared 100",
            "connection_cleared 101",
            "call_cleared"
        ]
    );
    let Some(Event::Delivered { caller, called, calling_device, .. }) =
        events.iter().find(|e| matches!(e, Event::Delivered { .. }))
    else {
        panic!("no delivered event")
    };
    assert_eq!((caller.number.as_str(), caller.name.as_str()), ("101", "Phone 101"));
    assert_eq!(called.number, "100");
    assert_eq!(calling_device.as_ref().map(|d| d.as_str()), Some("101"));
    assert!(matches!(events.iter().rev().find(|e| e.kind() == "call_cleared"),
        Some(Event::CallCleared { answered: true, cause: Some(c), .. }) if c.0 == 16));
    assert_eq!(t.open_calls(), 0);
    assert_eq!(t.channels(), 0);
    // Device states came from ExtensionStatus/DeviceStateChange and ended idle.
    assert_eq!(t.device("100").map(|d| d.state), Some(ctilink::model::DeviceState::Idle));
}

#[test]
fn asterisk20_busy_callee() {
    let (t, events, _) = replay(&asterisk20("busy_phone.ami"));
    assert_eq!(
        call_kinds(&events),
        ["originated 101", "failed 100", "connection_cleared 100", "connection_cleared 101", "call_cleared"]
    );
    assert!(events.iter().any(|e| matches!(e, Event::Failed { reason: FailureReason::Busy, .. })));
    let cleared = events.iter().find(|e| e.kind() == "call_cleared");
    assert!(
        matches!(cleared, Some(Event::CallCleared { answered: false, cause: Some(c), .. }) if c.0 == 17),
        "{cleared:?}"
    );
    assert_eq!(t.open_calls(), 0);
}

#[test]
fn asterisk20_click_to_dial_is_one_call() {
    let (t, events, _) = replay(&asterisk20("originate_sip.ami"));
    assert_eq!(
        call_kinds(&events),
        [
            "delivered 101",
            "originated 101",
            "delivered 100",
            "established 100",
            "connection_cleared 100",
            "connection_cleared 101",
            "call_cleared"
        ]
    );
    let ids: HashSet<_> = events.iter().filter_map(|e| e.call()).collect();
    assert_eq!(ids.len(), 1, "click-to-dial must be one call: {ids:?}");
    assert!(matches!(
        &events.iter().find(|e| e.kind() == "delivered"),
        Some(Event::Delivered { click_to_dial: true, .. })
    ));
    assert!(events.iter().any(|e| matches!(e, Event::Delivered { click_to_dial: false, calling_device: Some(d), .. } if d.as_str() == "101")));
    assert_eq!(t.open_calls(), 0);
}

/// The uniqueids of non-Local channels the capture created and did not hang up.
fn alive_channels(messages: &[Message]) -> HashSet<String> {
    let mut alive = HashSet::new();
    for m in messages {
        let Some(ev) = m.event() else { continue };
        let ev = ev.trim();
        let uid = m.get("Uniqueid").map(|u| u.trim().to_owned());
        let name = m.get("Channel").unwrap_or("");
        if ev.eq_ignore_ascii_case("Newchannel") && !name.starts_with("Local/") {
            alive.extend(uid);
        } else if ev.eq_ignore_ascii_case("Hangup") {
            if let Some(u) = uid {
                alive.remove(&u);
            }
        }
    }
    alive
}

#[test]
fn no_capture_leaves_a_call_open_that_it_ended() {
    let mut files = vector_files("real", "ami");
    files.extend(vector_files("asterisk20", "ami"));
    let mut checked = 0;
    for f in &files {
        let (t, events, messages) = replay(f);
        let alive = alive_channels(&messages);
        for call in t.calls() {
            assert!(
                call.connections.iter().any(|c| c.state != ConnectionState::Null),
                "{}: open call {} has no connection",
                f.display(),
                call.id
            );
        }
        if alive.is_empty() {
            assert_eq!(
                t.open_calls(),
                0,
                "{}: every channel hung up but calls remain: {:?}",
                f.display(),
                t.calls()
            );
        }
        // Every call that started also ended, unless a channel of the capture is still up.
        let started: HashSet<_> = events.iter().filter_map(|e| e.call()).cloned().collect();
        let cleared: HashSet<_> = events
            .iter()
            .filter_map(|e| match e {
                Event::CallCleared { call, .. } => Some(call.clone()),
                _ => None,
            })
            .collect();
        if alive.is_empty() {
            let ghosts: Vec<_> = started.difference(&cleared).collect();
            assert!(ghosts.is_empty(), "{}: calls never cleared: {ghosts:?}", f.display());
        }
        checked += 1;
    }
    assert_eq!(checked, files.len());
    assert!(checked >= 78, "expected every capture, got {checked}");
}

/// Who hung up, from a real Asterisk's `HangupRequest`/`SoftHangupRequest`: Asterisk clears
/// the called channel first whoever hung up, so only these tell it. With it the TAPI view is
/// right on both lines: the line that hung up goes IDLE, the other sees DISCONNECTED first.
#[test]
fn the_releasing_party_is_known_and_the_tapi_lines_follow_it() {
    use ctilink::model::tapi::{line_call_state, LINECALLSTATE_DISCONNECTED, LINECALLSTATE_IDLE};
    use ctilink::model::DeviceId;
    // Asterisk 20, chan_sip: phone 101 hangs up. Asterisk 22, PJSIP: the Session hangs up 100.
    for (file, releaser, other) in
        [("asterisk20/sip_call.ami", "101", "100"), ("asterisk22/dial_answered.ami", "100", "101")]
    {
        let (_, events, _) = replay(&vectors_dir().join("ami").join(file));
        let cleared: Vec<&Event> = events.iter().filter(|e| e.kind() == "connection_cleared").collect();
        assert_eq!(cleared.len(), 2, "{file}: {cleared:#?}");
        for e in &cleared {
            let Event::ConnectionCleared { released_by, .. } = e else { unreachable!() };
            assert_eq!(released_by.as_ref().map(DeviceId::as_str), Some(releaser), "{file}: {e:?}");
        }
        let states = |line: &str| -> Vec<u32> {
            let line = DeviceId::new(line);
            events
                .iter()
                .filter(|e| matches!(e.kind(), "connection_cleared" | "call_cleared"))
                .filter_map(|e| line_call_state(e, &line, false).map(|s| s.0))
                .collect()
        };
        assert_eq!(states(releaser), [LINECALLSTATE_IDLE, LINECALLSTATE_IDLE], "{file}: the releaser's line");
        assert_eq!(states(other)[0], LINECALLSTATE_DISCONNECTED, "{file}: the far end's line");
        assert_eq!(states(other).last(), Some(&LINECALLSTATE_IDLE), "{file}: the far end's line");
    }
}
