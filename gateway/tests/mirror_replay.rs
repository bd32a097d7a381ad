//! The mirror against the tracker on every real capture: a client of the gateway knows
//! only the events, so the mirror built from them must describe what the tracker holds.
//!
//! Each capture is fed to a `Tracker` one AMI message at a time; its events go into a
//! `Mirror` that started from the tracker's (empty) snapshot; after **every** message
//! the two are compared. Two levels (docs/gateway.md, "The mirror", says why):
//! - the state of everything (devices' state, presence, DND, forwarding; calls, their
//!   connections and states, `answered`, `diverted`, `click_to_dial`) on every capture;
//! - everything (calling device, caller and called parties too) on the captures where the
//!   PBX changes no party without an event the model reports. On the others the dialplan
//!   rewrites a caller id or the dialed extension (`Newexten`, `NewCallerid`), which the
//!   tracker's call view follows and no normalized event carries.
//!
//! Left out of both: a device's `interface` (learned from state lists, not events) and
//! devices the PBX named without a state change (never in an event); the order of a
//! call's connections (the tracker orders by channel creation, the mirror by first event).

use std::path::{Path, PathBuf};

use ctilink::ami::read_capture;
use ctilink::model::{Call, Device, DeviceState, Mirror, Snapshot, Tracker};

fn vectors() -> PathBuf {
    let dir = match std::env::var_os("CTILINK_VECTORS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors"),
    };
    assert!(dir.join("ami").is_dir(), "test vectors not found at {} (set CTILINK_VECTORS)", dir.display());
    dir
}

fn captures() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for sub in ["real", "asterisk20"] {
        let dir = vectors().join("ami").join(sub);
        for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let p = e.expect("directory entry").path();
            if p.extension().is_some_and(|x| x == "ami") {
                v.push(p);
            }
        }
    }
    v.sort();
    assert!(v.len() >= 70, "expected the 78 captures, found {}", v.len());
    v
}

/// Whether any event could have named the device.
fn reported(d: &Device) -> bool {
    d.state != DeviceState::Unknown
        || d.presence.is_some()
        || d.do_not_disturb
        || d.forward_to.is_some()
        || d.forward_busy.is_some()
        || d.forward_no_answer.is_some()
}

/// The snapshot as the comparison sees it; `parties: false` blanks the calling party.
fn comparable(s: &Snapshot, parties: bool) -> Snapshot {
    let devices =
        s.devices.iter().filter(|d| reported(d)).map(|d| Device { interface: None, ..d.clone() }).collect();
    let calls = s
        .calls
        .iter()
        .map(|c| {
            let mut c: Call = c.clone();
            c.connections.sort_by(|a, b| (&a.device, &a.channel).cmp(&(&b.device, &b.channel)));
            if !parties {
                c.calling_device = None;
                c.caller = Default::default();
                c.called = Default::default();
            }
            c
        })
        .collect();
    Snapshot { devices, calls }
}

/// The first step at which mirror and tracker differ, with both.
fn first_difference(path: &Path, parties: bool) -> Option<String> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let cap = read_capture(&data);
    let mut tracker = Tracker::new();
    let mut mirror = Mirror::new(tracker.snapshot());
    let mut events = Vec::new();
    for (i, msg) in cap.messages.iter().enumerate() {
        events.clear();
        tracker.apply_into(msg, &mut events);
        for e in &events {
            mirror.apply(e);
        }
        let (want, got) = (comparable(&tracker.snapshot(), parties), comparable(&mirror.snapshot(), parties));
        if want != got {
            return Some(format!(
                "{} after message {i} ({events:?}):\ntracker {want:#?}\nmirror {got:#?}",
                path.display()
            ));
        }
    }
    None
}

#[test]
fn the_state_the_mirror_builds_from_events_is_the_trackers_at_every_step_of_every_capture() {
    let failures: Vec<String> = captures().iter().filter_map(|p| first_difference(p, false)).collect();
    assert!(failures.is_empty(), "{} captures differ; the first:\n{}", failures.len(), failures[0]);
}

/// The captures where no party changes without an event: the mirror is the tracker's
/// snapshot in every field compared, calling party and caller ids included.
const EXACT: &[&str] = &[
    "asterisk20/busy_phone.ami",
    "asterisk20/sip_call.ami",
    "asterisk20/state_lists.ami",
    "asterisk20/state_lists_incall.ami",
    "real/asteriskdocs_ast10_confbridge_actions_examples.ami",
    "real/asteriskdocs_ast10_confbridge_events_examples.ami",
    "real/cacofonisk_mobile_acceptance_group_pickup.ami",
    "real/cacofonisk_mobile_acceptance_group_reject.ami",
    "real/cacofonisk_mobile_acceptance_reject.ami",
    "real/cacofonisk_mobile_acceptance_simple.ami",
    "real/cacofonisk_mobile_simple_mobile.ami",
    "real/cacofonisk_originate_ctd_account_account.ami",
    "real/cacofonisk_originate_ctd_account_world_deny_a.ami",
    "real/cacofonisk_simple_a_created_no_answer.ami",
    "real/cacofonisk_xfer_blind_xfer_blind_group.ami",
    "real/cacofonisk_xfer_blind_xfer_blind_group_no_answer.ami",
    "real/cacofonisk_xfer_misc_call_forwarding.ami",
    "real/cacofonisk_xfer_misc_call_forwarding_to_group.ami",
    "real/goami2_ast_call_sip_chanvariables.ami",
    "real/goami2_confbridge_join_kick.ami",
    "real/goami2_queuememberpause.ami",
    "real/goami2_queuestatus_confbridgelist_mixed.ami",
    "real/panoramisk_agents_logged_in.ami",
    "real/panoramisk_queue_status.ami",
];

#[test]
fn where_no_party_changes_silently_the_mirror_is_the_whole_snapshot() {
    let failures: Vec<String> =
        EXACT.iter().filter_map(|name| first_difference(&vectors().join("ami").join(name), true)).collect();
    assert!(failures.is_empty(), "{} captures differ; the first:\n{}", failures.len(), failures[0]);
}

/// Every event the tracker makes of every capture, and the snapshot after each capture,
/// cross the wire (`ServerMessage` as a JSON line and back) unchanged.
#[test]
fn every_event_and_snapshot_of_every_capture_survives_the_wire() {
    use ctilink::wire::{encode, parse_server, ServerMessage};
    let mut kinds = std::collections::BTreeSet::new();
    for path in captures() {
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut tracker = Tracker::new();
        let mut events = Vec::new();
        for msg in &read_capture(&data).messages {
            tracker.apply_into(msg, &mut events);
        }
        for e in events {
            kinds.insert(e.kind());
            let line = encode(&ServerMessage::Event { event: e.clone() });
            match parse_server(&line) {
                Ok(ServerMessage::Event { event }) => {
                    assert_eq!(event, e, "{}", String::from_utf8_lossy(&line))
                }
                other => panic!("{}: {other:?}", String::from_utf8_lossy(&line)),
            }
        }
        let snap = tracker.snapshot();
        let line = encode(&ServerMessage::snapshot(7, snap.clone()));
        match parse_server(&line) {
            Ok(ServerMessage::Snapshot { id: 7, devices, calls }) => {
                assert_eq!(Snapshot { devices, calls }, snap)
            }
            other => panic!("{}: {other:?}", path.display()),
        }
    }
    // The captures hold most kinds of event; the rest are covered by the wire's unit tests.
    assert!(kinds.len() >= 11, "{kinds:?}");
}
