//! Unit tests of the call-control paths: NOTIFY talk/hold, hang-up keys,
//! Redirect, BlindTransfer, Atxfer (attended, blonde, rejected), PickupChan,
//! PlayDTMF, AstDB and the DND/forwarding convention, custom device states.

use std::time::Duration;

use super::*;

use super::test_util::{count, drain, has, pbx};

fn chan_of(p: &Pbx, ext: &str) -> String {
    p.channels.values().find(|c| c.ext == ext).map(|c| c.name.clone()).unwrap_or_default()
}

fn state_of(p: &Pbx, ext: &str) -> String {
    p.truth().devices.into_iter().find(|d| d.ext == ext).map(|d| d.state).unwrap_or_default()
}

/// 101 calls 100 and 100 answers: a bridged call.
fn connected(p: &mut Pbx) {
    p.place_call("101", "100").expect("call");
    drain(p);
    assert!(p.answer_ext("100"));
    drain(p);
}

#[test]
fn notify_talk_answers_a_ringing_phone() {
    let mut p = pbx();
    p.place_call("101", "100").expect("call");
    drain(&mut p);
    assert!(p.notify("100", Notify::Talk));
    let (evs, _) = drain(&mut p);
    assert!(has(&evs, "DialEnd=ANSWER") && count(&evs, "BridgeEnter") == 2, "{evs:?}");
    // Nothing left to do: a real phone ignores the NOTIFY.
    assert!(p.notify("100", Notify::Talk));
    assert!(drain(&mut p).0.is_empty());
    assert!(!p.notify("999", Notify::Talk), "no such endpoint");
}

#[test]
fn notify_hold_and_talk_hold_and_retrieve() {
    let mut p = pbx();
    connected(&mut p);
    assert!(p.notify("100", Notify::Hold));
    let (evs, _) = drain(&mut p);
    assert_eq!(
        evs.iter().filter(|e| !e.starts_with("ExtensionStatus")).cloned().collect::<Vec<_>>(),
        ["Hold", "MusicOnHoldStart", "DeviceStateChange=ONHOLD"]
    );
    assert!(has(&evs, "ExtensionStatus=16"), "{evs:?}");
    assert_eq!(state_of(&p, "100"), "ONHOLD");
    assert!(p.truth().channels.iter().any(|c| c.ext == "100" && c.held));
    // Holding again does nothing.
    assert!(p.notify("100", Notify::Hold));
    assert!(drain(&mut p).0.is_empty());
    assert!(p.notify("100", Notify::Talk));
    let (evs, _) = drain(&mut p);
    assert!(has(&evs, "Unhold") && has(&evs, "MusicOnHoldStop") && has(&evs, "DeviceStateChange=INUSE"));
    assert_eq!(state_of(&p, "100"), "INUSE");
    // An idle phone has nothing to hold.
    assert!(!p.hold_ext("103"));
}

#[test]
fn notify_talk_answers_an_originate_first_leg() {
    let mut p = pbx();
    p.originate(OriginateRequest {
        channel: "PJSIP/101".into(),
        context: "internal".into(),
        exten: "100".into(),
        priority: 1,
        timeout: Duration::from_secs(30),
        ..OriginateRequest::default()
    });
    drain(&mut p);
    assert!(p.answer_ext("101"));
    let (evs, _) = drain(&mut p);
    assert!(has(&evs, "OriginateResponse=4") && has(&evs, "DialBegin"), "{evs:?}");
}

#[test]
fn hangup_of_a_held_call_stops_the_music() {
    let mut p = pbx();
    connected(&mut p);
    p.hold_ext("101");
    drain(&mut p);
    assert!(p.hangup_ext("100"));
    let (evs, _) = drain(&mut p);
    assert!(has(&evs, "MusicOnHoldStop") && count(&evs, "Hangup=16") == 2, "{evs:?}");
    assert_eq!(p.active_channels(), 0);
    assert!(!p.hangup_ext("100"), "nothing left");
}

#[test]
fn hangup_ext_rejects_a_ringing_call_as_busy() {
    let mut p = pbx();
    p.place_call("101", "100").expect("call");
    drain(&mut p);
    assert!(p.hangup_ext("100"));
    let (evs, _) = drain(&mut p);
    assert!(has(&evs, "HangupRequest=17") && has(&evs, "DialEnd=BUSY"), "{evs:?}");
    assert_eq!(p.active_channels(), 0);
}

#[test]
fn blind_transfer_sends_the_other_party_on() {
    let mut p = pbx();
    connected(&mut p);
    let a = chan_of(&p, "101");
    let b_uid = p.channels.values().find(|c| c.ext == "100").map(|c| c.linkedid.clone());
    let transferer = chan_of(&p, "100");
    assert_eq!(p.blind_transfer(&transferer, "internal", "102"), Ok("Transfer succeeded"));
    let (evs, timers) = drain(&mut p);
    let pos = |w: &str| evs.iter().position(|e| e == w);
    assert!(pos("BlindTransfer") < pos("BridgeLeave") && pos("BridgeDestroy") < pos("DialBegin"), "{evs:?}");
    assert!(has(&evs, "Hangup=16") && has(&evs, "DialState=RINGING"), "{evs:?}");
    // 101 stays in the same call (same Linkedid) and now dials 102.
    let t = p.truth();
    assert!(t.channels.iter().all(|c| c.ext != "100"));
    let c102 = t.channels.iter().find(|c| c.ext == "102").expect("102 rings");
    assert_eq!(Some(c102.linkedid.clone()), b_uid);
    p.fire(timers[0]);
    let t = p.truth();
    assert_eq!(t.channels.iter().find(|c| c.name == a).map(|c| c.bridged_with.len()), Some(1));
    // Errors: no such channel, a channel not in a bridge.
    assert!(p.blind_transfer("PJSIP/999-00000000", "internal", "102").is_err());
    p.place_call("103", "104").ok();
    let ringing = chan_of(&p, "103");
    assert_eq!(p.blind_transfer(&ringing, "internal", "100"), Err("Transfer invalid".into()));
}

#[test]
fn blind_transfer_to_an_unknown_number_hangs_up_unallocated() {
    let mut p = pbx();
    connected(&mut p);
    let transferer = chan_of(&p, "100");
    assert!(p.blind_transfer(&transferer, "internal", "555").is_ok());
    let (evs, _) = drain(&mut p);
    let pos = |w: &str| evs.iter().position(|e| e == w);
    assert!(pos("BlindTransfer") < pos("Hangup=1") && pos("Hangup=1").is_some(), "{evs:?}");
    assert_eq!(p.active_channels(), 0);
}

#[test]
fn redirect_of_a_ringing_call_deflects_it() {
    let mut p = pbx();
    p.place_call("101", "100").expect("call");
    drain(&mut p);
    let caller = chan_of(&p, "101");
    assert_eq!(p.redirect(&caller, "internal", "102"), Ok("Redirect successful"));
    let (evs, timers) = drain(&mut p);
    let pos = |w: &str| evs.iter().position(|e| e == w);
    assert!(pos("DialEnd=CANCEL") < pos("Hangup=16") && pos("Hangup=16") < pos("DialBegin"), "{evs:?}");
    assert_eq!(timers.len(), 1);
    assert!(p.truth().channels.iter().any(|c| c.ext == "102"));
    assert!(p.truth().channels.iter().all(|c| c.ext != "100"));
    assert!(p.redirect("PJSIP/nope", "internal", "100").is_err());
    // The ringing leg itself cannot be redirected in the simulator.
    let ringing = chan_of(&p, "102");
    assert_eq!(p.redirect(&ringing, "internal", "103"), Err("Redirect failed".into()));
}

#[test]
fn redirect_of_a_bridged_channel_hangs_up_its_peer() {
    let mut p = pbx();
    connected(&mut p);
    let callee = chan_of(&p, "100");
    assert!(p.redirect(&callee, "internal", "102").is_ok());
    let (evs, _) = drain(&mut p);
    assert!(has(&evs, "BridgeDestroy") && has(&evs, "Hangup=16") && has(&evs, "DialBegin"), "{evs:?}");
    let t = p.truth();
    assert!(t.channels.iter().all(|c| c.ext != "101"));
    assert!(t.channels.iter().any(|c| c.ext == "100") && t.channels.iter().any(|c| c.ext == "102"));
}

/// 101 calls 100 (answered); 100 starts an attended transfer to 102. The
/// transferer's channel and the answer timer of 102.
fn consulting(p: &mut Pbx) -> (String, Timer) {
    connected(p);
    let a1 = chan_of(p, "100");
    assert_eq!(p.atxfer(&a1, "internal", "102"), Ok("Atxfer successfully queued"));
    let (evs, timers) = drain(p);
    let pos = |w: &str| evs.iter().position(|e| e == w);
    // attended_transfer.ami: Hold, the Local pair, its bridge, the transferer
    // moves there, then `;2` dials the target.
    assert_eq!(evs.first().map(String::as_str), Some("Hold"), "{evs:?}");
    assert!(pos("Newchannel") < pos("LocalBridge") && pos("LocalBridge") < pos("DialBegin"), "{evs:?}");
    assert!(has(&evs, "DeviceStateChange=ONHOLD") && has(&evs, "DialState=RINGING"), "{evs:?}");
    assert!(!has(&evs, "MusicOnHoldStart"), "{evs:?}");
    let t = p.truth();
    let names: Vec<_> = t.channels.iter().map(|c| c.name.as_str()).collect();
    assert!(
        names.contains(&"Local/102@internal-00000000;1") && names.contains(&"Local/102@internal-00000000;2")
    );
    assert_eq!(
        t.channels.iter().filter(|c| c.ext == "100").count(),
        1,
        "no second channel of the transferer"
    );
    let linked: Vec<_> = t.channels.iter().map(|c| c.linkedid.clone()).collect();
    assert!(linked.iter().all(|l| *l == linked[0]), "one Linkedid throughout: {linked:?}");
    let me = t.channels.iter().find(|c| c.ext == "100").expect("100");
    assert_eq!(me.bridged_with, ["Local/102@internal-00000000;1"]);
    assert_eq!(state_of(p, "101"), "ONHOLD");
    assert_eq!(state_of(p, "100"), "INUSE");
    (a1, timers[0])
}

#[test]
fn atxfer_then_hangup_completes_an_attended_transfer() {
    let mut p = pbx();
    let (a1, answer) = consulting(&mut p);
    p.fire(answer);
    let (evs, _) = drain(&mut p);
    assert!(has(&evs, "DialEnd=ANSWER") && count(&evs, "BridgeEnter") == 2, "{evs:?}");
    assert_eq!(
        p.truth().channels.iter().find(|c| c.ext == "102").map(|c| c.bridged_with.clone()),
        Some(vec!["Local/102@internal-00000000;2".to_owned()])
    );
    assert!(p.hangup(&a1, 16));
    let (evs, _) = drain(&mut p);
    let pos = |w: &str| evs.iter().position(|e| e == w);
    assert!(
        pos("BridgeMerge") < pos("BridgeEnter") && pos("BridgeEnter") < pos("AttendedTransfer=Bridge"),
        "{evs:?}"
    );
    assert!(
        pos("AttendedTransfer=Bridge") < pos("BridgeDestroy") && pos("BridgeDestroy") < pos("Hangup=16"),
        "{evs:?}"
    );
    assert_eq!(count(&evs, "Hangup=16"), 1, "only the transferer: {evs:?}");
    let t = p.truth();
    assert!(t.channels.iter().all(|c| c.ext != "100"));
    let c101 = t.channels.iter().find(|c| c.ext == "101").expect("101");
    assert_eq!(c101.bridged_with, ["Local/102@internal-00000000;1"], "the pair stays up");
    assert_eq!((state_of(&p, "100").as_str(), state_of(&p, "101").as_str()), ("NOT_INUSE", "INUSE"));
    // The transferee hangs up: the pair and the target follow.
    assert!(p.hangup_ext("101"));
    let (evs, _) = drain(&mut p);
    assert_eq!(count(&evs, "Hangup=16"), 4, "{evs:?}");
    assert_eq!(count(&evs, "BridgeDestroy"), 2, "{evs:?}");
    assert_eq!(p.active_channels(), 0);
}

#[test]
fn target_hangs_up_after_the_transfer() {
    let mut p = pbx();
    let (a1, answer) = consulting(&mut p);
    p.fire(answer);
    drain(&mut p);
    assert!(p.hangup(&a1, 16));
    drain(&mut p);
    assert!(p.hangup_ext("102"));
    let (evs, _) = drain(&mut p);
    assert!(has(&evs, "HangupRequest=16") && count(&evs, "Hangup=16") == 4, "{evs:?}");
    assert_eq!(p.active_channels(), 0);
}

#[test]
fn atxfer_completed_while_the_target_rings_is_blonde() {
    let mut p = pbx();
    let (a1, answer) = consulting(&mut p);
    assert!(p.hangup(&a1, 16));
    let (evs, _) = drain(&mut p);
    // With a Local pair Asterisk reports it like an attended transfer.
    assert!(has(&evs, "AttendedTransfer=Bridge") && !has(&evs, "DialEnd=CANCEL"), "{evs:?}");
    assert!(p.truth().channels.iter().all(|c| c.ext != "100"));
    // The target answers and talks to the transferee through the pair.
    p.fire(answer);
    let (evs, _) = drain(&mut p);
    assert!(has(&evs, "DialEnd=ANSWER"), "{evs:?}");
    let t = p.truth();
    assert_eq!(t.channels.iter().find(|c| c.ext == "101").map(|c| c.bridged_with.len()), Some(1));
    assert!(t.channels.iter().all(|c| c.state == "Up"), "{t:?}");
    p.hangup_all();
    assert_eq!(p.active_channels(), 0);
}

#[test]
fn blonde_target_rejects_and_the_transferee_is_hung_up() {
    let mut p = pbx();
    let (a1, _) = consulting(&mut p);
    assert!(p.hangup(&a1, 16));
    drain(&mut p);
    assert!(p.hangup_ext("102"));
    let (evs, _) = drain(&mut p);
    assert!(has(&evs, "DialEnd=BUSY"), "{evs:?}");
    assert_eq!(p.active_channels(), 0);
}

#[test]
fn atxfer_target_rejects_and_the_transferer_is_back() {
    let mut p = pbx();
    consulting(&mut p);
    assert!(p.hangup_ext("102"));
    let (evs, _) = drain(&mut p);
    let pos = |w: &str| evs.iter().position(|e| e == w);
    assert!(has(&evs, "DialEnd=BUSY") && pos("BridgeEnter") < pos("Unhold"), "{evs:?}");
    let t = p.truth();
    assert_eq!(t.channels.len(), 2);
    let c100 = t.channels.iter().find(|c| c.ext == "100").expect("100");
    assert_eq!(c100.bridged_with, [chan_of(&p, "101")]);
    assert_eq!((state_of(&p, "100").as_str(), state_of(&p, "101").as_str()), ("INUSE", "INUSE"));
    // Errors.
    assert!(p.atxfer("PJSIP/nope", "internal", "102").is_err());
}

#[test]
fn atxfer_target_hangs_up_while_consulting() {
    let mut p = pbx();
    let (_, answer) = consulting(&mut p);
    p.fire(answer);
    drain(&mut p);
    assert!(p.hangup_ext("102"));
    let (evs, _) = drain(&mut p);
    assert!(has(&evs, "Unhold") && count(&evs, "BridgeDestroy") == 2, "{evs:?}");
    assert_eq!(p.active_channels(), 2);
    assert_eq!(p.truth().channels.iter().find(|c| c.ext == "100").map(|c| c.bridged_with.len()), Some(1));
}

#[test]
fn atxfer_transferee_hangs_up_while_consulting() {
    let mut p = pbx();
    let (a1, answer) = consulting(&mut p);
    p.fire(answer);
    drain(&mut p);
    assert!(p.hangup_ext("101"));
    let (evs, _) = drain(&mut p);
    assert!(has(&evs, "BridgeDestroy") && count(&evs, "Hangup=16") == 1, "{evs:?}");
    // The consultation goes on; the transferer hanging up now just ends it.
    assert_eq!(p.active_channels(), 4);
    assert!(p.hangup(&a1, 16));
    drain(&mut p);
    assert_eq!(p.active_channels(), 0);
}

#[test]
fn atxfer_to_an_unknown_number_rebridges() {
    let mut p = pbx();
    connected(&mut p);
    let a1 = chan_of(&p, "100");
    assert!(p.atxfer(&a1, "internal", "555").is_ok());
    let (evs, _) = drain(&mut p);
    assert!(has(&evs, "Unhold") && !has(&evs, "DialBegin"), "{evs:?}");
    assert_eq!(p.active_channels(), 2);
    // A channel of a consultation cannot be transferred again.
    p.atxfer(&a1, "internal", "102").expect("atxfer");
    assert!(p.atxfer(&a1, "internal", "103").is_err());
    assert!(p.blind_transfer(&chan_of(&p, "101"), "internal", "103").is_err());
}

fn pickup_req(channel: &str, data: &str) -> OriginateRequest {
    OriginateRequest {
        channel: channel.into(),
        context: "internal".into(),
        priority: 1,
        timeout: Duration::from_secs(30),
        application: Some("PickupChan".into()),
        data: Some(data.into()),
        ..OriginateRequest::default()
    }
}

#[test]
fn pickupchan_takes_the_ringing_call() {
    let mut p = pbx();
    p.place_call("101", "100").expect("call");
    drain(&mut p);
    let ringing = chan_of(&p, "100");
    p.originate(pickup_req("PJSIP/102", &ringing));
    let (evs, _) = drain(&mut p);
    assert!(has(&evs, "DialState=RINGING"), "the picking phone rings first: {evs:?}");
    assert!(p.answer_ext("102"));
    let (evs, _) = drain(&mut p);
    let pos = |w: &str| evs.iter().position(|e| e == w);
    assert!(pos("OriginateResponse=4") < pos("Pickup") && pos("Pickup") < pos("DialEnd=CANCEL"), "{evs:?}");
    assert!(has(&evs, "Hangup=26") && has(&evs, "DialEnd=ANSWER") && count(&evs, "BridgeEnter") == 2);
    let t = p.truth();
    assert!(t.channels.iter().all(|c| c.ext != "100"));
    let c102 = t.channels.iter().find(|c| c.ext == "102").expect("picker");
    assert_eq!(c102.bridged_with, [chan_of(&p, "101")]);
}

#[test]
fn pickupchan_of_a_call_no_longer_ringing_hangs_up() {
    let mut p = pbx();
    p.originate(pickup_req("PJSIP/102", "PJSIP/100-000000ff"));
    drain(&mut p);
    assert!(p.answer_ext("102"));
    let (evs, _) = drain(&mut p);
    assert!(!has(&evs, "Pickup") && has(&evs, "Hangup=16"), "{evs:?}");
    assert_eq!(p.active_channels(), 0);
}

#[test]
fn play_dtmf_emits_and_records() {
    let mut p = pbx();
    connected(&mut p);
    let c = chan_of(&p, "101");
    assert!(p.play_dtmf(&c, '1', 100));
    assert!(p.play_dtmf(&c.to_lowercase(), '#', 100));
    let (evs, _) = drain(&mut p);
    assert_eq!(evs, ["DTMFBegin", "DTMFEnd", "DTMFBegin", "DTMFEnd"]);
    assert_eq!(p.dtmf_received(), [(c, "1#".to_owned())]);
    assert!(!p.play_dtmf("PJSIP/999-00000000", '1', 100));
    assert!(is_dtmf_digit('D') && !is_dtmf_digit('x'));
}

#[test]
fn dnd_makes_a_phone_busy() {
    let mut p = pbx();
    assert!(p.db_put("DND", "100", "YES"));
    p.place_call("101", "100").expect("call");
    let (evs, timers) = drain(&mut p);
    assert!(has(&evs, "DialEnd=BUSY") && count(&evs, "Hangup=17") == 2, "{evs:?}");
    assert!(timers.is_empty());
    assert_eq!(p.truth().dnd, ["100"]);
    assert!(p.db_del("DND", "100"));
    assert!(!p.db_del("DND", "100"));
}

#[test]
fn forwarding_immediate_busy_and_no_answer() {
    let mut p = pbx();
    // Immediate: the dialplan dials the target instead, the phone never rings.
    p.db_put("CF", "100", "102");
    p.place_call("101", "100").expect("call");
    let (evs, _) = drain(&mut p);
    assert!(has(&evs, "DialBegin"), "{evs:?}");
    let t = p.truth();
    assert!(t.channels.iter().any(|c| c.ext == "102") && t.channels.iter().all(|c| c.ext != "100"));
    assert_eq!(t.forwards, [("100".to_owned(), "immediate".to_owned(), "102".to_owned())]);
    p.hangup_all();
    drain(&mut p);
    p.db_del("CF", "100");
    // Busy: the phone refuses (DND), then the target rings.
    p.db_put("DND", "100", "YES");
    p.db_put("CFB", "100", "103");
    p.place_call("101", "100").expect("call");
    let (evs, _) = drain(&mut p);
    assert!(has(&evs, "DialEnd=BUSY") && count(&evs, "Hangup=17") == 1, "{evs:?}");
    assert!(p.truth().channels.iter().any(|c| c.ext == "103"));
    p.hangup_all();
    drain(&mut p);
    // No answer: rings out, then the target rings.
    p.db_del("DND", "100");
    p.db_put("CFNA", "100", "104");
    p.place_call_unanswered("101", "100").expect("call");
    let (_, timers) = drain(&mut p);
    assert_eq!(timers[0].step, Step::DestTimeout);
    p.fire(timers[0]);
    let (evs, _) = drain(&mut p);
    assert!(has(&evs, "DialEnd=NOANSWER") && has(&evs, "DialBegin"), "{evs:?}");
    assert!(p.truth().channels.iter().any(|c| c.ext == "104"));
}

#[test]
fn forwarding_loops_end() {
    let mut p = pbx();
    p.db_put("CF", "100", "102");
    p.db_put("CF", "102", "100");
    p.place_call("101", "100").expect("call");
    let (evs, _) = drain(&mut p);
    assert_eq!(count(&evs, "DialBegin"), 1, "{evs:?}");
    assert_eq!(p.active_channels(), 2);
}

#[test]
fn forward_to_an_unknown_number_is_unallocated() {
    let mut p = pbx();
    p.db_put("CF", "100", "555");
    p.place_call("101", "100").expect("call");
    let (evs, _) = drain(&mut p);
    assert!(has(&evs, "Hangup=1") && !has(&evs, "DialBegin"), "{evs:?}");
    assert_eq!(p.active_channels(), 0);
}

#[test]
fn custom_device_states_are_events_and_list_items() {
    let mut p = pbx();
    assert!(p.set_custom_state("DND100", "busy"));
    let (evs, _) = drain(&mut p);
    assert_eq!(evs, ["DeviceStateChange=BUSY"]);
    let items = p.device_state_items(Some("x"));
    let last = items.last().expect("items");
    assert_eq!(last.get("Device"), Some("Custom:DND100"));
    assert_eq!(items.len(), 6);
}

#[test]
fn notify_values_parse() {
    assert_eq!(Notify::parse(" Talk "), Some(Notify::Talk));
    assert_eq!(Notify::parse("hold"), Some(Notify::Hold));
    assert_eq!(Notify::parse("check-sync"), None);
}
