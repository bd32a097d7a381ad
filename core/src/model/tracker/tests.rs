//! Scenarios the captures do not cover, built from Asterisk 13+ event shapes: hold,
//! conference, forwarding, pickup by event, queues, device flags, limits.

use crate::ami::Message;
use crate::model::{ConnectionState, DeviceState, DivertReason, Event, ForwardKind, Tracker, TrackerLimits};

fn msg(pairs: &[(&str, &str)]) -> Message {
    Message::from_pairs(pairs.iter().copied())
}

fn newchannel(name: &str, uid: &str, linked: &str, state: &str, exten: &str) -> Message {
    let num = name.split(['/', '-']).nth(1).unwrap_or("");
    msg(&[
        ("Event", "Newchannel"),
        ("Channel", name),
        ("ChannelState", state),
        ("CallerIDNum", num),
        ("Exten", exten),
        ("Uniqueid", uid),
        ("Linkedid", linked),
    ])
}

fn newstate(name: &str, uid: &str, state: &str) -> Message {
    msg(&[("Event", "Newstate"), ("Channel", name), ("ChannelState", state), ("Uniqueid", uid)])
}

fn dial_begin(src: (&str, &str), dst: (&str, &str)) -> Message {
    msg(&[
        ("Event", "DialBegin"),
        ("Channel", src.0),
        ("Uniqueid", src.1),
        ("DestChannel", dst.0),
        ("DestUniqueid", dst.1),
    ])
}

fn dial_end(src: (&str, &str), dst: (&str, &str), status: &str, forward: &str) -> Message {
    msg(&[
        ("Event", "DialEnd"),
        ("Channel", src.0),
        ("Uniqueid", src.1),
        ("DestChannel", dst.0),
        ("DestUniqueid", dst.1),
        ("DialStatus", status),
        ("Forward", forward),
    ])
}

fn bridge_enter(ch: (&str, &str), bridge: &str) -> Message {
    msg(&[("Event", "BridgeEnter"), ("Channel", ch.0), ("Uniqueid", ch.1), ("BridgeUniqueid", bridge)])
}

fn hangup(ch: (&str, &str), cause: &str) -> Message {
    msg(&[("Event", "Hangup"), ("Channel", ch.0), ("Uniqueid", ch.1), ("Cause", cause)])
}

const A: (&str, &str) = ("PJSIP/100-00000001", "1.1");
const B: (&str, &str) = ("PJSIP/101-00000002", "1.2");
const C: (&str, &str) = ("PJSIP/102-00000003", "1.3");

/// A calls B, B answers; returns the tracker and the events so far.
fn connected_call() -> (Tracker, Vec<Event>) {
    let mut t = Tracker::new();
    let mut out = Vec::new();
    for m in [
        newchannel(A.0, A.1, A.1, "4", "101"),
        newchannel(B.0, B.1, A.1, "0", "s"),
        dial_begin(A, B),
        newstate(B.0, B.1, "5"),
        newstate(B.0, B.1, "6"),
        dial_end(A, B, "ANSWER", ""),
        bridge_enter(B, "br1"),
        bridge_enter(A, "br1"),
    ] {
        t.apply_into(&m, &mut out);
    }
    (t, out)
}

fn kinds(events: &[Event]) -> Vec<String> {
    events.iter().map(|e| format!("{} {}", e.kind(), e.device().map(|d| d.as_str()).unwrap_or("-"))).collect()
}

#[test]
fn a_call_is_established_when_the_parties_hear_each_other() {
    let (t, out) = connected_call();
    assert_eq!(kinds(&out), ["originated 100", "delivered 101", "established 101"]);
    let call = &t.calls()[0];
    assert_eq!(call.id.as_str(), "1.1");
    assert!(call.answered);
    assert_eq!(t.call("1.1").as_ref(), Some(call));
    assert!(t.call("1.2").is_none(), "a channel's id is not a call id");
    assert_eq!(call.connection("101").map(|c| c.state), Some(ConnectionState::Connected));
}

#[test]
fn hold_and_retrieve() {
    let (mut t, _) = connected_call();
    let held = t.apply(&msg(&[("Event", "Hold"), ("Channel", B.0), ("Uniqueid", B.1)]));
    assert_eq!(kinds(&held), ["held 101"]);
    assert_eq!(t.calls()[0].connection("101").map(|c| c.state), Some(ConnectionState::Held));
    // A second Hold changes nothing (Held cannot become Held).
    assert!(t.apply(&msg(&[("Event", "Hold"), ("Channel", B.0), ("Uniqueid", B.1)])).is_empty());
    let back = t.apply(&msg(&[("Event", "Unhold"), ("Channel", B.0), ("Uniqueid", B.1)]));
    assert_eq!(kinds(&back), ["retrieved 101"]);
}

#[test]
fn a_third_party_in_the_bridge_is_a_conference() {
    let (mut t, _) = connected_call();
    let mut out = Vec::new();
    for m in [
        newchannel(C.0, C.1, A.1, "0", "s"),
        dial_begin(A, C),
        newstate(C.0, C.1, "5"),
        newstate(C.0, C.1, "6"),
        bridge_enter(C, "br1"),
    ] {
        t.apply_into(&m, &mut out);
    }
    let conf: Vec<&Event> = out.iter().filter(|e| e.kind() == "conferenced").collect();
    assert_eq!(conf.len(), 3, "{out:#?}");
    let Event::Conferenced { parties, .. } = conf[0] else { unreachable!() };
    assert_eq!(parties.len(), 3);
}

#[test]
fn a_forwarded_call_is_diverted_to_the_next_phone() {
    let mut t = Tracker::new();
    let mut out = Vec::new();
    for m in [
        newchannel(A.0, A.1, A.1, "4", "101"),
        newchannel(B.0, B.1, A.1, "0", "s"),
        dial_begin(A, B),
        newstate(B.0, B.1, "5"),
        dial_end(A, B, "CANCEL", "102"),
        hangup(B, "16"),
        newchannel(C.0, C.1, A.1, "0", "s"),
        dial_begin(A, C),
        newstate(C.0, C.1, "5"),
    ] {
        t.apply_into(&m, &mut out);
    }
    assert_eq!(
        kinds(&out),
        ["originated 100", "delivered 101", "connection_cleared 101", "diverted 102", "delivered 102"]
    );
    assert!(
        matches!(&out[3], Event::Diverted { from, reason: DivertReason::Forward, .. } if from.device.as_str() == "101")
    );
    let call = &t.calls()[0];
    assert_eq!(call.diverted.as_ref().map(|d| d.from.device.as_str()), Some("101"));
}

#[test]
fn a_redirected_caller_diverts_the_call_from_the_ringing_phone() {
    let (mut t, mut out) = (Tracker::new(), Vec::new());
    // The caller is redirected while 101 rings (deflect): the dial is called off, then the
    // same caller dials 102.
    for m in [
        newchannel(A.0, A.1, A.1, "4", "101"),
        newchannel(B.0, B.1, A.1, "0", "s"),
        dial_begin(A, B),
        newstate(B.0, B.1, "5"),
        dial_end(A, B, "CANCEL", ""),
        hangup(B, "16"),
        newchannel(C.0, C.1, A.1, "0", "s"),
        dial_begin(A, C),
        newstate(C.0, C.1, "5"),
    ] {
        t.apply_into(&m, &mut out);
    }
    assert_eq!(
        kinds(&out),
        ["originated 100", "delivered 101", "connection_cleared 101", "diverted 102", "delivered 102"]
    );
    assert!(matches!(&out[3], Event::Diverted { reason: DivertReason::Deflect, .. }));
    // A caller who gives up: the call just ends, nothing is diverted.
    let (mut t, mut out) = (Tracker::new(), Vec::new());
    for m in [
        newchannel(A.0, A.1, A.1, "4", "101"),
        newchannel(B.0, B.1, A.1, "0", "s"),
        dial_begin(A, B),
        newstate(B.0, B.1, "5"),
        dial_end(A, B, "CANCEL", ""),
        hangup(B, "16"),
        hangup(A, "16"),
    ] {
        t.apply_into(&m, &mut out);
    }
    assert!(!kinds(&out).iter().any(|k| k.starts_with("diverted")), "{out:#?}");
    assert_eq!(t.open_calls(), 0);
}

#[test]
fn pickup_event_moves_the_call_to_the_picker() {
    let mut t = Tracker::new();
    let mut out = Vec::new();
    for m in [
        newchannel(A.0, A.1, A.1, "4", "101"),
        newchannel(B.0, B.1, A.1, "0", "s"),
        dial_begin(A, B),
        newstate(B.0, B.1, "5"),
        newchannel(C.0, C.1, C.1, "4", "*8"),
        newstate(C.0, C.1, "6"),
        msg(&[
            ("Event", "Pickup"),
            ("Channel", C.0),
            ("Uniqueid", C.1),
            ("TargetChannel", B.0),
            ("TargetUniqueid", B.1),
        ]),
        bridge_enter(C, "br2"),
        bridge_enter(A, "br2"),
    ] {
        t.apply_into(&m, &mut out);
    }
    let k = kinds(&out);
    assert_eq!(
        k,
        [
            "originated 100",
            "delivered 101",
            "originated 102",
            "connection_cleared 102",
            "call_cleared -",
            "diverted 102",
            "connection_cleared 101",
            "established 102"
        ],
        "{out:#?}"
    );
    assert!(matches!(&out[4], Event::CallCleared { merged_into: Some(m), .. } if m.as_str() == "1.1"));
    assert_eq!(t.open_calls(), 1);
}

#[test]
fn queue_join_and_abandon() {
    let mut t = Tracker::new();
    let mut out = Vec::new();
    for m in [
        newchannel(A.0, A.1, A.1, "4", "500"),
        newstate(A.0, A.1, "6"),
        msg(&[
            ("Event", "QueueCallerJoin"),
            ("Channel", A.0),
            ("Uniqueid", A.1),
            ("Queue", "support"),
            ("Position", "1"),
        ]),
        msg(&[("Event", "QueueCallerAbandon"), ("Channel", A.0), ("Uniqueid", A.1), ("Queue", "support")]),
        hangup(A, "16"),
    ] {
        t.apply_into(&m, &mut out);
    }
    assert_eq!(
        kinds(&out),
        [
            "originated 100",
            "queued support",
            "connection_cleared support",
            "connection_cleared 100",
            "call_cleared -"
        ]
    );
    assert!(matches!(&out[1], Event::Queued { position: Some(1), state: ConnectionState::Queued, .. }));
}

#[test]
fn device_state_presence_dnd_and_forwarding() {
    let mut t = Tracker::new();
    let ev = t.apply(&msg(&[("Event", "DeviceStateChange"), ("Device", "PJSIP/100"), ("State", "INUSE")]));
    assert_eq!(kinds(&ev), ["device_state 100"]);
    assert_eq!(t.device("100").map(|d| d.state), Some(DeviceState::InUse));
    // The same state from ExtensionStatus is not reported again.
    let ev = t.apply(&msg(&[
        ("Event", "ExtensionStatus"),
        ("Exten", "100"),
        ("Context", "internal"),
        ("Hint", "PJSIP/100"),
        ("Status", "1"),
    ]));
    assert!(ev.is_empty(), "{ev:?}");
    // Queue member pause states and Local channels are not the phone's state.
    for device in ["Queue:support_pause_PJSIP/100", "Local/7711@confbridge-invite"] {
        let ev = t.apply(&msg(&[("Event", "DeviceStateChange"), ("Device", device), ("State", "NOT_INUSE")]));
        assert!(ev.is_empty(), "{device}: {ev:?}");
    }
    assert_eq!(t.device("100").and_then(|d| d.interface.as_deref()), Some("PJSIP/100"));
    assert_eq!(t.devices().len(), 1);
    let ev = t.apply(&msg(&[("Event", "DeviceStateChange"), ("Device", "Custom:DND100"), ("State", "BUSY")]));
    assert!(matches!(&ev[..], [Event::DoNotDisturb { enabled: true, .. }]));
    assert!(t.device("100").is_some_and(|d| d.do_not_disturb));
    let ev = t.apply(&msg(&[
        ("Event", "PresenceStateChange"),
        ("Presentity", "CustomPresence:100"),
        ("Status", "away"),
        ("Subtype", ""),
        ("Message", "lunch"),
    ]));
    assert!(
        matches!(&ev[..], [Event::Presence { presence, message, .. }] if presence == "away" && message == "lunch")
    );
    let ev = t.apply(&msg(&[
        ("Event", "UserEvent"),
        ("UserEvent", "ctilink-forward"),
        ("Device", "100"),
        ("Target", "200"),
    ]));
    assert!(matches!(&ev[..], [Event::Forwarding { to: Some(to), .. }] if to == "200"));
    let ev = t.apply(&msg(&[
        ("Event", "UserEvent"),
        ("UserEvent", "ctilink-forward"),
        ("Device", "100"),
        ("Target", ""),
    ]));
    assert!(matches!(&ev[..], [Event::Forwarding { to: None, .. }]));
    // Forwarding on busy is its own setting; an unknown kind changes nothing.
    let fwd = |kind: &str, target: &str| {
        msg(&[
            ("Event", "UserEvent"),
            ("UserEvent", "ctilink-forward"),
            ("Device", "100"),
            ("Kind", kind),
            ("Target", target),
        ])
    };
    let ev = t.apply(&fwd("busy", "300"));
    assert!(
        matches!(&ev[..], [Event::Forwarding { kind: ForwardKind::Busy, to: Some(to), .. }] if to == "300")
    );
    assert!(t.apply(&fwd("sometimes", "400")).is_empty());
    let dev = t.device("100").expect("device");
    assert_eq!((dev.forward_to.as_deref(), dev.forwarding(ForwardKind::Busy)), (None, Some("300")));
}

fn extension_status(exten: &str, status: &str) -> Message {
    let hint = format!("PJSIP/{exten}");
    msg(&[
        ("Event", "ExtensionStatus"),
        ("Exten", exten),
        ("Context", "internal"),
        ("Hint", &hint),
        ("Status", status),
    ])
}

fn device_state_change(device: &str, state: &str) -> Message {
    msg(&[("Event", "DeviceStateChange"), ("Device", device), ("State", state)])
}

#[test]
fn resync_removes_the_devices_no_list_names_any_more() {
    use crate::model::ResyncLists;
    let mut t = Tracker::new();
    let before = ResyncLists {
        extensions: ["100", "101", "102"].iter().map(|e| extension_status(e, "0")).collect(),
        devices: vec![device_state_change("Custom:DND101", "BUSY")],
        ..ResyncLists::default()
    };
    t.resync(&before);
    assert_eq!(t.devices().len(), 3);
    assert!(t.device("101").is_some_and(|d| d.do_not_disturb));
    // The PBX restarted with 102 and 103: 100 and 101 are gone, 101's DND lamp (kept in the
    // AstDB) too.
    let after = ResyncLists {
        extensions: ["102", "103"].iter().map(|e| extension_status(e, "0")).collect(),
        devices: vec![device_state_change("Custom:DND101", "NOT_INUSE")],
        ..ResyncLists::default()
    };
    let events = t.resync(&after);
    assert_eq!(
        kinds(&events),
        ["device_state 103", "device_removed 100", "device_removed 101", "resynced -"],
        "{events:#?}"
    );
    let Some(Event::Resynced { devices_changed, .. }) = events.last() else { panic!("{events:#?}") };
    let changed: Vec<&str> = devices_changed.iter().map(|d| d.as_str()).collect();
    assert_eq!(changed, ["103", "100", "101"]);
    let ids: Vec<String> = t.devices().iter().map(|d| d.id.to_string()).collect();
    assert_eq!(ids, ["102", "103"]);
    // Lists that name nothing (refused) remove nothing.
    let events = t.resync(&ResyncLists::default());
    assert_eq!(kinds(&events), ["resynced -"]);
    assert_eq!(t.devices().len(), 2);
}

#[test]
fn channel_table_is_bounded() {
    let mut t = Tracker::with_limits(TrackerLimits { max_channels: 100, max_devices: 10 });
    let mut out = Vec::new();
    for i in 0..1_000 {
        let uid = format!("1.{i}");
        let name = format!("PJSIP/{}-{i:08x}", 100 + i % 50);
        t.apply_into(&newchannel(&name, &uid, &uid, "4", "999"), &mut out);
    }
    assert!(t.channels() <= 100, "{}", t.channels());
    assert!(t.open_calls() <= 100);
    // Every call that was dropped to make room was reported cleared.
    let started = out.iter().filter(|e| e.kind() == "originated").count();
    let cleared = out.iter().filter(|e| e.kind() == "call_cleared").count();
    assert_eq!(started - cleared, t.open_calls());
    assert!(t.devices().len() <= 10);
}

/// Found by the tracker fuzz target: an Originate leg known only by its uniqueid (no
/// channel name, so no device) answering must not open a call that is never reported.
#[test]
fn a_channel_without_a_device_reports_nothing() {
    let mut t = Tracker::new();
    let mut out = Vec::new();
    for m in [
        msg(&[("Event", "DialBegin"), ("DestUniqueid", "1.9")]),
        msg(&[("Event", "Newstate"), ("ChannelState", "6"), ("Uniqueid", "1.9")]),
        msg(&[("Event", "Hangup"), ("Uniqueid", "1.9"), ("Cause", "16")]),
    ] {
        t.apply_into(&m, &mut out);
    }
    assert!(out.is_empty(), "{out:?}");
    assert_eq!((t.open_calls(), t.channels()), (0, 0));
}

/// Asterisk 1.8/11: `Dial` with `SubEvent: Begin/End`; the end names only the caller.
#[test]
fn asterisk11_dial_end_busy_fails_the_dialed_phone() {
    let mut t = Tracker::new();
    let mut out = Vec::new();
    for m in [
        newchannel(A.0, A.1, A.1, "4", "101"),
        newchannel(B.0, B.1, A.1, "0", "s"),
        msg(&[
            ("Event", "Dial"),
            ("SubEvent", "Begin"),
            ("Channel", A.0),
            ("UniqueID", A.1),
            ("Destination", B.0),
            ("DestUniqueID", B.1),
        ]),
        newstate(B.0, B.1, "5"),
        msg(&[
            ("Event", "Dial"),
            ("SubEvent", "End"),
            ("Channel", A.0),
            ("UniqueID", A.1),
            ("DialStatus", "BUSY"),
        ]),
        hangup(B, "17"),
        hangup(A, "17"),
    ] {
        t.apply_into(&m, &mut out);
    }
    assert_eq!(
        kinds(&out),
        [
            "originated 100",
            "delivered 101",
            "failed 101",
            "connection_cleared 101",
            "connection_cleared 100",
            "call_cleared -"
        ]
    );
    assert!(matches!(&out[2], Event::Failed { reason: crate::model::FailureReason::Busy, .. }));
    assert_eq!((t.open_calls(), t.channels()), (0, 0));
}

/// An Originate through a Local channel names its second half with our `OtherChannelId`:
/// that id is taken while the half lives, though no call has it, and free once it is gone.
#[test]
fn a_local_half_named_by_us_is_a_taken_id() {
    let mut t = Tracker::new();
    let one = ("Local/101@internal-00000001;1", "ctilink-a");
    let two = ("Local/101@internal-00000001;2", "ctilink-b");
    t.apply(&newchannel(one.0, one.1, one.1, "4", "101"));
    t.apply(&newchannel(two.0, two.1, one.1, "4", "101"));
    assert!(t.id_taken("ctilink-a") && t.id_taken("ctilink-b"));
    assert!(!t.id_taken("ctilink-c"));
    t.apply(&hangup(two, "16"));
    t.apply(&hangup(one, "16"));
    assert!(!t.id_taken("ctilink-b"), "a channel gone frees its id");
}
