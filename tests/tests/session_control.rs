//! Every call-control command of the Session against the simulator, through the public
//! API: answer, hold and retrieve, blind and attended transfer, deflect, pickup, DTMF,
//! do-not-disturb and forwarding; and the dialplan snippet that sets a real PBX up for
//! them names what the SDK sends.

use ctilink::model::{DivertReason, FailureReason, TransferKind};
use ctilink::{CallId, ConnectionState, ForwardKind, Session};
use ctilink_sim::SimHandle;
use ctilink_tests::live::{fast_office, is, start_sim, Watch};

async fn session(sim: &SimHandle) -> Session {
    Session::connect(&format!("{}?control=pjsip&astdb=1", sim.url())).await.expect("session connects")
}

/// A call from `from` to `to`, answered; its id.
async fn talking(sim: &SimHandle, w: &mut Watch, from: &str, to: &str) -> CallId {
    sim.place_call(from, to).expect("call");
    let ev = w.until("answered", |e| is(e, "established", to)).await;
    ev.call().cloned().expect("call id")
}

/// A call from `from` ringing at `to` (a phone that does not answer by itself).
async fn ringing(sim: &SimHandle, w: &mut Watch, from: &str, to: &str) -> CallId {
    sim.place_call(from, to).expect("call");
    let ev = w.until("ringing", |e| is(e, "delivered", to)).await;
    ev.call().cloned().expect("call id")
}

fn state(s: &Session, call: &CallId, device: &str) -> Option<ConnectionState> {
    s.call(call)?.connection(device).map(|c| c.state)
}

#[tokio::test]
async fn answer_makes_a_ringing_phone_answer() {
    let sim = start_sim(fast_office()).await;
    let s = session(&sim).await;
    let mut w = Watch::new(&s);
    let call = ringing(&sim, &mut w, "101", "108").await;
    s.answer(&call, "108").await.expect("answer");
    w.until("108 answers", |e| e.call() == Some(&call) && is(e, "established", "108")).await;
    assert_eq!(state(&s, &call, "108"), Some(ConnectionState::Connected));
}

#[tokio::test]
async fn hold_and_retrieve() {
    let sim = start_sim(fast_office()).await;
    let s = session(&sim).await;
    let mut w = Watch::new(&s);
    let call = talking(&sim, &mut w, "101", "100").await;
    s.hold(&call, "100").await.expect("hold");
    w.until("held", |e| e.call() == Some(&call) && is(e, "held", "100")).await;
    assert_eq!(state(&s, &call, "100"), Some(ConnectionState::Held));
    s.retrieve(&call, "100").await.expect("retrieve");
    w.until("retrieved", |e| e.call() == Some(&call) && is(e, "retrieved", "100")).await;
    assert_eq!(state(&s, &call, "100"), Some(ConnectionState::Connected));
}

#[tokio::test]
async fn single_step_transfer_sends_the_other_party_on() {
    let sim = start_sim(fast_office()).await;
    let s = session(&sim).await;
    let mut w = Watch::new(&s);
    let call = talking(&sim, &mut w, "101", "100").await;
    s.single_step_transfer(&call, "100", "102").await.expect("transfer");
    let ev = w.until("transferred", |e| e.kind() == "transferred").await;
    assert!(matches!(&ev, ctilink::Event::Transferred { kind: TransferKind::Blind, .. }), "{ev:?}");
    let ev = w.until("102 answers", |e| is(e, "established", "102")).await;
    let now = ev.call().cloned().expect("id");
    assert_eq!(now, call, "the call keeps its id across the transfer");
    assert_eq!(state(&s, &now, "101"), Some(ConnectionState::Connected));
    assert_eq!(state(&s, &now, "100"), None, "the transferring phone is released");
}

#[tokio::test]
async fn consultation_call_then_transfer_call() {
    let sim = start_sim(fast_office()).await;
    let s = session(&sim).await;
    let mut w = Watch::new(&s);
    let call = talking(&sim, &mut w, "101", "100").await;
    let consult = s.consultation_call(&call, "100", "102").await.expect("consultation");
    assert_ne!(consult, call);
    w.until("100 holds the first call", |e| e.call() == Some(&call) && is(e, "held", "100")).await;
    w.until("102 answers", |e| e.call() == Some(&consult) && is(e, "established", "102")).await;
    s.transfer_call(&call, &consult).await.expect("transfer");
    let ev = w.until("transferred", |e| e.kind() == "transferred").await;
    assert!(matches!(&ev, ctilink::Event::Transferred { kind: TransferKind::Attended, .. }), "{ev:?}");
    // 101 and 102 talk; 100 is in no call.
    w.until("the consultation merged", |e| e.kind() == "call_cleared").await;
    let calls = s.snapshot().calls;
    assert_eq!(calls.len(), 1, "{calls:#?}");
    let devices: Vec<&str> = calls[0].connections.iter().map(|k| k.device.as_str()).collect();
    assert!(devices.contains(&"101") && devices.contains(&"102") && !devices.contains(&"100"), "{calls:#?}");
}

#[tokio::test]
async fn deflect_sends_a_ringing_call_elsewhere() {
    let sim = start_sim(fast_office()).await;
    let s = session(&sim).await;
    let mut w = Watch::new(&s);
    let call = ringing(&sim, &mut w, "101", "108").await;
    s.deflect(&call, "108", "102").await.expect("deflect");
    let ev = w.until("diverted to 102", |e| is(e, "diverted", "102")).await;
    assert_eq!(ev.call(), Some(&call), "the same call moves on");
    assert!(
        matches!(&ev, ctilink::Event::Diverted { reason: DivertReason::Deflect, from, .. } if from.device.as_str() == "108"),
        "{ev:?}"
    );
    w.until("102 rings", |e| e.call() == Some(&call) && is(e, "delivered", "102")).await;
    w.until("102 answers", |e| e.call() == Some(&call) && is(e, "established", "102")).await;
    assert_eq!(state(&s, &call, "108"), None, "108 no longer rings");
}

#[tokio::test]
async fn pickup_takes_a_call_ringing_elsewhere() {
    let sim = start_sim(fast_office()).await;
    let s = session(&sim).await;
    let mut w = Watch::new(&s);
    // By call id.
    let call = ringing(&sim, &mut w, "101", "108").await;
    s.pickup("103", &call).await.expect("pickup by call");
    let ev = w.until("picked up", |e| is(e, "diverted", "103")).await;
    assert!(matches!(&ev, ctilink::Event::Diverted { reason: DivertReason::Pickup, .. }), "{ev:?}");
    w.until("103 talks", |e| is(e, "established", "103")).await;
    let now = s.snapshot().calls.into_iter().find(|c| c.connection("101").is_some()).expect("101's call");
    assert_eq!(now.connection("103").map(|k| k.state), Some(ConnectionState::Connected));
    assert!(now.connection("108").is_none());
    // By ringing device.
    ringing(&sim, &mut w, "104", "109").await;
    s.pickup("105", "109").await.expect("pickup by device");
    w.until("105 talks", |e| is(e, "established", "105")).await;
}

#[tokio::test]
async fn send_dtmf_plays_digits_to_the_other_party() {
    let sim = start_sim(fast_office()).await;
    let s = session(&sim).await;
    let mut w = Watch::new(&s);
    let call = talking(&sim, &mut w, "101", "100").await;
    s.send_dtmf(&call, "100", "12#*").await.expect("dtmf");
    let peer =
        s.call(&call).and_then(|c| c.connection("101").map(|k| k.channel.clone())).expect("101's channel");
    let played: String =
        sim.dtmf_received().into_iter().filter(|(ch, _)| *ch == peer).map(|(_, d)| d).collect();
    assert_eq!(played, "12#*");
}

#[tokio::test]
async fn do_not_disturb_makes_callers_hear_busy() {
    let sim = start_sim(fast_office()).await;
    let s = session(&sim).await;
    let mut w = Watch::new(&s);
    s.set_do_not_disturb("104", true).await.expect("dnd on");
    w.until("dnd on", |e| matches!(e, ctilink::Event::DoNotDisturb { enabled: true, .. })).await;
    assert!(s.device("104").expect("104").do_not_disturb);
    assert!(sim.truth().dnd.contains(&"104".to_owned()));
    let call = s.make_call("100", "104").await.expect("make_call");
    let ev = w.until("busy", |e| e.call() == Some(&call) && e.kind() == "failed").await;
    assert!(matches!(ev, ctilink::Event::Failed { reason: FailureReason::Busy, .. }), "{ev:?}");
    s.set_do_not_disturb("104", false).await.expect("dnd off");
    w.until("dnd off", |e| matches!(e, ctilink::Event::DoNotDisturb { enabled: false, .. })).await;
    assert!(!s.device("104").expect("104").do_not_disturb);
    assert!(sim.truth().dnd.is_empty());
}

#[tokio::test]
async fn forwarding_sends_calls_to_the_target() {
    let sim = start_sim(fast_office()).await;
    let s = session(&sim).await;
    let mut w = Watch::new(&s);
    s.set_forwarding("105", ForwardKind::Immediate, Some("106")).await.expect("forward on");
    w.until("forwarding", |e| matches!(e, ctilink::Event::Forwarding { to: Some(t), .. } if t == "106"))
        .await;
    assert_eq!(s.device("105").expect("105").forward_to.as_deref(), Some("106"));
    sim.place_call("100", "105").expect("call");
    w.until("106 rings instead", |e| is(e, "delivered", "106")).await;
    assert!(!w.seen.iter().any(|e| is(e, "delivered", "105")));
    s.set_forwarding("105", ForwardKind::Immediate, None).await.expect("forward off");
    w.until("off", |e| matches!(e, ctilink::Event::Forwarding { to: None, .. })).await;
    assert!(sim.truth().forwards.is_empty());
}

/// The snippet in examples/asterisk/ must read the keys and raise the events that the SDK
/// writes and the call model reads (docs/call-control.md).
#[test]
fn the_dialplan_snippet_names_what_the_sdk_sends() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/asterisk");
    let ext = std::fs::read_to_string(dir.join("extensions_ctilink.conf")).expect("snippet");
    for key in
        ["DND/${EXTEN}", "CF/${EXTEN}", "CFB/${EXTEN}", "CFNA/${EXTEN}", "Custom:DND", "ctilink-forward"]
    {
        assert!(ext.contains(key), "extensions_ctilink.conf lacks {key}");
    }
    let notify = std::fs::read_to_string(dir.join("pjsip_notify_ctilink.conf")).expect("notify");
    assert!(notify.contains("Event=>talk") && notify.contains("Event=>hold"));
}

/// Each command's failure paths: the state checks before anything is sent, and the PBX
/// refusing (an AMI user without the write permission) with its message.
#[tokio::test]
async fn every_command_fails_with_a_typed_error_where_it_cannot_work() {
    use ctilink::Error;
    let sim = start_sim(fast_office()).await;
    let s = session(&sim).await;
    let mut w = Watch::new(&s);
    let ring = ringing(&sim, &mut w, "101", "108").await;
    let talk = talking(&sim, &mut w, "102", "103").await;
    let not_allowed = |r: ctilink::Result<()>| matches!(r, Err(Error::NotAllowed(_)));
    // Ringing is not talking, and talking is not ringing.
    assert!(not_allowed(s.single_step_transfer(&ring, "108", "104").await));
    assert!(matches!(s.consultation_call(&ring, "108", "104").await, Err(Error::NotAllowed(_))));
    assert!(not_allowed(s.send_dtmf(&ring, "108", "1").await));
    assert!(not_allowed(s.deflect(&talk, "103", "104").await));
    assert!(not_allowed(s.answer(&talk, "103").await));
    assert!(not_allowed(s.transfer_call(&talk, &ring).await), "nothing is held");
    assert!(not_allowed(s.pickup("104", "105").await), "nothing rings at 105");
    assert!(not_allowed(s.pickup("104", &talk).await), "nothing rings in that call");
    assert!(matches!(s.set_do_not_disturb("999", true).await, Err(Error::UnknownDevice(_))));
    assert!(matches!(
        s.set_forwarding("100", ForwardKind::Busy, Some("1 2")).await,
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(s.pickup("999", &ring).await, Err(Error::UnknownDevice(_))));
    // A PBX without the action (no res_pjsip_notify) is not set up for the command.
    sim.set_action_known("PJSIPNotify", false);
    assert!(matches!(s.retrieve(&talk, "103").await, Err(Error::NotAllowed(_))), "checked first");
    assert!(matches!(s.hold(&talk, "103").await, Err(Error::Unsupported(_))));
    sim.set_action_known("PJSIPNotify", true);
    // The PBX refuses: its message comes through.
    for action in ["Originate", "Hangup", "PJSIPNotify", "BlindTransfer", "DBPut"] {
        sim.set_action_allowed(action, false);
    }
    let refused = |r: ctilink::Result<()>| matches!(r, Err(Error::PbxRefused(m)) if m == "Permission denied");
    assert!(matches!(s.make_call("100", "104").await, Err(Error::PbxRefused(m)) if m == "Permission denied"));
    assert!(refused(s.clear_connection(&talk, "103").await));
    assert!(refused(s.hold(&talk, "103").await));
    assert!(refused(s.single_step_transfer(&talk, "103", "104").await));
    assert!(refused(s.set_do_not_disturb("104", true).await));
    // Both calls went on through all of that.
    assert_eq!(state(&s, &talk, "103"), Some(ConnectionState::Connected));
    assert_eq!(state(&s, &ring, "108"), Some(ConnectionState::Alerting));
    sim.set_action_allowed("Hangup", true);
    s.clear_call(&talk).await.expect("clear_call");
    s.clear_call(&ring).await.expect("clear_call");
    w.until("both cleared", |_| s.snapshot().calls.is_empty()).await;
}

/// A click-to-dial call that its caller hands on: the far party is sent to the target,
/// and the model shows the target's connection in the call it keeps.
#[tokio::test]
async fn a_click_to_dial_call_transferred_by_its_caller() {
    let sim = start_sim(fast_office()).await;
    let s = session(&sim).await;
    let mut w = Watch::new(&s);
    let call = s.make_call("100", "101").await.expect("make_call");
    w.until("101 answers", |e| e.call() == Some(&call) && is(e, "established", "101")).await;
    s.single_step_transfer(&call, "100", "105").await.expect("transfer");
    let ev = w.until("105 answers", |e| is(e, "established", "105")).await;
    assert_eq!(ev.call(), Some(&call), "the call keeps its id across the transfer");
    assert_eq!(state(&s, &call, "101"), Some(ConnectionState::Connected));
    assert_eq!(state(&s, &call, "105"), Some(ConnectionState::Connected));
    assert_eq!(state(&s, &call, "100"), None, "the transferring phone is released");
}
