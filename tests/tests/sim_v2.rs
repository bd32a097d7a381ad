//! Simulator v2 (the PBX side of call control) over real TCP: each action of
//! docs/call-control.md is sent with the AMI client, and the call model fed by
//! the same link must report what a telephony developer expects (held,
//! transferred, diverted, busy, forwarded...).

use std::time::Duration;

use ctilink::ami::action::Originate;
use ctilink::ami::{Action, LinkEvent};
use ctilink::model::{DivertReason, Event, FailureReason, TransferKind};
use ctilink_sim::{SimConfig, SimHandle, Simulator, TrafficConfig};
use ctilink_tests::ami_live::Live;
use ctilink_tests::live::is;
use tokio::time::timeout;

/// Phones 100-109; called phones answer only when told to (answer_ext / NOTIFY talk).
async fn sim() -> SimHandle {
    sim_with(&[]).await
}

/// Like `sim`, with phones that ring out after `dial_timeout` (nobody at the desk).
async fn sim_with(no_answer: &[&str]) -> SimHandle {
    let cfg = SimConfig {
        extensions: SimConfig::extension_range(100, 109),
        no_answer: no_answer.iter().map(|s| (*s).to_owned()).collect(),
        ring_delay: Duration::from_millis(50),
        answer_delay: Duration::from_secs(600),
        dial_timeout: Duration::from_millis(400),
        ..SimConfig::default()
    };
    Simulator::start(cfg, "127.0.0.1:0".parse().expect("addr")).await.expect("simulator starts")
}

fn is_dev(e: &Event, dev: &str) -> bool {
    e.device().is_some_and(|d| d.as_str() == dev)
}

/// The name of phone `ext`'s channel (the first one, or the one matching `pred`).
fn chan(sim: &SimHandle, ext: &str, pred: impl Fn(&ctilink_sim::SimChannel) -> bool) -> String {
    sim.truth()
        .channels
        .into_iter()
        .find(|c| c.ext == ext && pred(c))
        .map(|c| c.name)
        .unwrap_or_else(|| panic!("no channel of {ext} in {:?}", sim.truth()))
}

/// 100 calls 101 and 101 answers.
async fn connected(sim: &SimHandle, live: &mut Live) {
    sim.place_call("100", "101").expect("call");
    live.until("101 rings", |e| is(e, "delivered", "101")).await;
    assert!(sim.answer_ext("101"));
    live.until("101 answers", |e| is(e, "established", "101")).await;
}

async fn all_cleared(sim: &SimHandle, live: &mut Live) {
    sim.hangup_all();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while live.tracker.open_calls() > 0 && tokio::time::Instant::now() < deadline {
        let _ = timeout(Duration::from_millis(200), async {
            if let Some(LinkEvent::Event(m)) = live.sub.recv().await {
                live.tracker.apply_into(&m, &mut live.events);
            }
        })
        .await;
    }
    assert_eq!(live.tracker.open_calls(), 0, "{:#?}", live.tracker.calls());
    assert_eq!(sim.active_channels(), 0);
}

#[tokio::test]
async fn pjsipnotify_answers_holds_and_retrieves() {
    let sim = sim().await;
    let mut live = Live::connect(&sim).await;
    sim.place_call("100", "101").expect("call");
    live.until("101 rings", |e| is(e, "delivered", "101")).await;
    let talk = || Action::new("PJSIPNotify").field("Endpoint", "101").field("Variable", "Event=talk");
    assert_eq!(live.act(talk()).await, Ok("NOTIFY sent".into()));
    live.until("answered", |e| is(e, "established", "101")).await;
    let hold = Action::new("PJSIPNotify").field("Endpoint", "101").field("Variable", "Event=hold");
    assert!(live.act(hold).await.is_ok());
    live.until("held", |e| is(e, "held", "101")).await;
    assert!(sim.truth().devices.iter().any(|d| d.ext == "101" && d.state == "ONHOLD"));
    // chan_sip's form works the same way.
    let talk_sip = Action::new("SIPnotify").field("Channel", "SIP/101").field("Variable", "Event=talk");
    assert_eq!(live.act(talk_sip).await, Ok("Notify Sent".into()));
    live.until("retrieved", |e| is(e, "retrieved", "101")).await;
    // An idle phone ignores it; an unknown endpoint is an error, as in Asterisk.
    let idle = Action::new("PJSIPNotify").field("Endpoint", "105").field("Variable", "Event=hold");
    assert!(live.act(idle).await.is_ok());
    let unknown = Action::new("PJSIPNotify").field("Endpoint", "999").field("Variable", "Event=talk");
    let err = live.act(unknown).await.expect_err("unknown endpoint");
    assert!(err.contains("Unable to retrieve endpoint 999"), "{err}");
    assert!(live.act(Action::new("PJSIPNotify").field("Variable", "Event=talk")).await.is_err());
    all_cleared(&sim, &mut live).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn blind_transfer_moves_the_caller_to_the_target() {
    let sim = sim().await;
    let mut live = Live::connect(&sim).await;
    connected(&sim, &mut live).await;
    let c101 = chan(&sim, "101", |_| true);
    let r = live.act(
        Action::new("BlindTransfer")
            .field("Channel", &c101)
            .field("Context", "internal")
            .field("Exten", "102"),
    );
    assert_eq!(r.await, Ok("Transfer succeeded".into()));
    let i = live.until("transferred", |e| matches!(e, Event::Transferred { .. })).await;
    let Event::Transferred { kind, transferring, transferred, .. } = &live.events[i] else { unreachable!() };
    assert_eq!(*kind, TransferKind::Blind);
    assert_eq!((transferring.device.as_str(), transferred.device.as_str()), ("101", "100"));
    let call = live.events[i].call().cloned();
    let j = live.until("102 rings", |e| is(e, "delivered", "102")).await;
    assert_eq!(live.events[j].call().cloned(), call, "the same call goes on");
    assert!(sim.answer_ext("102"));
    live.until("102 answers", |e| is(e, "established", "102")).await;
    assert_eq!(live.tracker.open_calls(), 1);
    // Not in a bridge / no such channel: errors.
    sim.place_call("103", "104").expect("call");
    let ringing = chan(&sim, "103", |_| true);
    let bad = Action::new("BlindTransfer").field("Channel", &ringing).field("Exten", "105");
    assert!(live.act(bad).await.expect_err("not bridged").contains("Transfer invalid"));
    let bad = Action::new("BlindTransfer").field("Channel", "PJSIP/999-00000000").field("Exten", "105");
    assert!(live.act(bad).await.is_err());
    all_cleared(&sim, &mut live).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn blind_transfer_to_unknown_number_ends_the_call() {
    let sim = sim().await;
    let mut live = Live::connect(&sim).await;
    connected(&sim, &mut live).await;
    let c101 = chan(&sim, "101", |_| true);
    let r = live.act(Action::new("BlindTransfer").field("Channel", &c101).field("Exten", "555")).await;
    assert!(r.is_ok());
    live.until("cleared", |e| matches!(e, Event::CallCleared { .. })).await;
    assert_eq!(sim.active_channels(), 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn atxfer_then_hangup_is_an_attended_transfer() {
    let sim = sim().await;
    let mut live = Live::connect(&sim).await;
    connected(&sim, &mut live).await;
    let first_call = live.events.iter().find(|e| is_dev(e, "101")).and_then(Event::call).cloned();
    let c101 = chan(&sim, "101", |_| true);
    let r = live.act(
        Action::new("Atxfer").field("Channel", &c101).field("Context", "internal").field("Exten", "102"),
    );
    assert_eq!(r.await, Ok("Atxfer successfully queued".into()));
    live.until("101 holds", |e| is(e, "held", "101")).await;
    let d = live.until("102 rings", |e| is(e, "delivered", "102")).await;
    let consult = live.events[d].call().cloned();
    assert_ne!(consult, first_call, "the consultation is a new call");
    assert!(sim.answer_ext("102"));
    live.until("102 answers", |e| is(e, "established", "102")).await;
    // transfer_call: hang up the transferer's consultation channel.
    let c101b = chan(&sim, "101", |c| !c.held);
    assert!(live.act(Action::new("Hangup").field("Channel", &c101b).field("Cause", "16")).await.is_ok());
    let i = live.until("transferred", |e| matches!(e, Event::Transferred { .. })).await;
    let Event::Transferred { kind, secondary_call, transferred, targets, .. } = &live.events[i] else {
        unreachable!()
    };
    assert_eq!(*kind, TransferKind::Attended);
    assert!(secondary_call.is_some());
    assert_eq!(transferred.device.as_str(), "100");
    assert_eq!(targets.iter().map(|t| t.device.as_str()).collect::<Vec<_>>(), ["102"]);
    let t = sim.truth();
    assert!(t.channels.iter().all(|c| c.ext != "101"));
    // 100 and 102 and, between them, the Local pair of the Atxfer (as in Asterisk).
    assert_eq!(t.channels.len(), 4);
    all_cleared(&sim, &mut live).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn atxfer_completed_while_ringing_is_blonde() {
    let sim = sim().await;
    let mut live = Live::connect(&sim).await;
    connected(&sim, &mut live).await;
    let c101 = chan(&sim, "101", |_| true);
    assert!(live.act(Action::new("Atxfer").field("Channel", &c101).field("Exten", "102")).await.is_ok());
    live.until("102 rings", |e| is(e, "delivered", "102")).await;
    let c101b = chan(&sim, "101", |c| !c.held);
    assert!(live.act(Action::new("Hangup").field("Channel", &c101b)).await.is_ok());
    let i = live.until("transferred", |e| matches!(e, Event::Transferred { .. })).await;
    // Through a Local pair Asterisk reports a blonde transfer like an attended
    // one (`DestType: Bridge`, the target `;1` still ringing).
    assert!(
        matches!(
            &live.events[i],
            Event::Transferred { kind: TransferKind::Blonde | TransferKind::Attended, .. }
        ),
        "{:?}",
        live.events[i]
    );
    assert!(sim.answer_ext("102"));
    live.until_from(i, "102 answers", |e| is(e, "established", "102")).await;
    all_cleared(&sim, &mut live).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn atxfer_rejected_keeps_the_call_held() {
    let sim = sim().await;
    let mut live = Live::connect(&sim).await;
    connected(&sim, &mut live).await;
    let c101 = chan(&sim, "101", |_| true);
    assert!(live.act(Action::new("Atxfer").field("Channel", &c101).field("Exten", "102")).await.is_ok());
    live.until("102 rings", |e| is(e, "delivered", "102")).await;
    assert!(sim.hangup_ext("102"));
    live.until("rejected", |e| matches!(e, Event::Failed { reason: FailureReason::Busy, .. })).await;
    live.until("consultation cleared", |e| matches!(e, Event::CallCleared { .. })).await;
    assert_eq!(live.tracker.open_calls(), 1);
    // bridge_basic's TRANSFER_REBRIDGE: the transferer is back with the transferee, off hold.
    let t = sim.truth();
    assert!(t.channels.iter().any(|c| c.ext == "101" && !c.held && c.bridged_with.len() == 1), "{t:?}");
    all_cleared(&sim, &mut live).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn redirect_of_a_ringing_call_deflects_it() {
    let sim = sim().await;
    let mut live = Live::connect(&sim).await;
    sim.place_call("100", "101").expect("call");
    live.until("101 rings", |e| is(e, "delivered", "101")).await;
    let c100 = chan(&sim, "100", |_| true);
    let r = Action::new("Redirect")
        .field("Channel", &c100)
        .field("Context", "internal")
        .field("Exten", "102")
        .field("Priority", "1");
    assert_eq!(live.act(r).await, Ok("Redirect successful".into()));
    live.until("101 cleared", |e| is(e, "connection_cleared", "101")).await;
    live.until("102 rings", |e| is(e, "delivered", "102")).await;
    assert_eq!(live.tracker.open_calls(), 1);
    let bad = Action::new("Redirect").field("Channel", "PJSIP/999-00000000").field("Exten", "102");
    assert!(live.act(bad).await.expect_err("no channel").contains("Channel does not exist"));
    all_cleared(&sim, &mut live).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn pickupchan_originate_picks_up_the_ringing_call() {
    let sim = sim().await;
    let mut live = Live::connect(&sim).await;
    sim.place_call("100", "101").expect("call");
    live.until("101 rings", |e| is(e, "delivered", "101")).await;
    let ringing = chan(&sim, "101", |_| true);
    let o = Action::new("Originate")
        .field("Channel", "PJSIP/102")
        .field("Application", "PickupChan")
        .field("Data", &ringing)
        .field("Async", "true");
    assert!(live.act(o).await.is_ok());
    // ring_delay: the picking phone rings, answers, and takes the call.
    let i = live.until("diverted", |e| matches!(e, Event::Diverted { .. })).await;
    let Event::Diverted { reason, from, device, .. } = &live.events[i] else { unreachable!() };
    assert_eq!((*reason, from.device.as_str(), device.as_str()), (DivertReason::Pickup, "101", "102"));
    live.until_from(i, "102 talks", |e| is(e, "established", "102")).await;
    assert!(sim.truth().channels.iter().all(|c| c.ext != "101"));
    all_cleared(&sim, &mut live).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn dnd_and_forwarding_follow_the_astdb_convention() {
    let sim = sim().await;
    let mut live = Live::connect(&sim).await;
    // set_do_not_disturb(101, true)
    let put = Action::new("DBPut").field("Family", "DND").field("Key", "101").field("Val", "YES");
    assert_eq!(live.act(put).await, Ok("Updated database successfully".into()));
    let set = Action::new("Setvar").field("Variable", "DEVICE_STATE(Custom:DND101)").field("Value", "BUSY");
    assert_eq!(live.act(set).await, Ok("Variable Set".into()));
    live.until("dnd on", |e| matches!(e, Event::DoNotDisturb { enabled: true, .. })).await;
    let list = live.client.send_list(Action::new_list("DeviceStateList")).await.expect("list");
    assert!(list.items.iter().any(|m| m.get("Device") == Some("Custom:DND101")));
    sim.place_call("100", "101").expect("call");
    live.until("busy", |e| {
        matches!(e, Event::Failed { reason: FailureReason::Busy, .. }) && is_dev(e, "101")
    })
    .await;
    live.until("cleared", |e| matches!(e, Event::CallCleared { .. })).await;
    assert_eq!(sim.truth().dnd, ["101"]);
    let del = Action::new("DBDel").field("Family", "DND").field("Key", "101");
    assert!(live.act(del.clone()).await.is_ok());
    assert!(live.act(del).await.expect_err("gone").contains("Database entry does not exist"));
    // set_forwarding(101, immediate, 102)
    let put = Action::new("DBPut").field("Family", "CF").field("Key", "101").field("Val", "102");
    assert!(live.act(put).await.is_ok());
    let ev = Action::new("UserEvent")
        .field("UserEvent", "ctilink-forward")
        .field("Device", "101")
        .field("Kind", "immediate")
        .field("Target", "102");
    assert_eq!(live.act(ev).await, Ok("Event Sent".into()));
    live.until("forwarding", |e| matches!(e, Event::Forwarding { .. })).await;
    let n = live.events.len();
    sim.place_call("100", "101").expect("call");
    live.until_from(n, "102 rings", |e| is(e, "delivered", "102")).await;
    assert!(!live.events[n..].iter().any(|e| is(e, "delivered", "101")));
    assert_eq!(sim.truth().forwards, [("101".to_owned(), "immediate".to_owned(), "102".to_owned())]);
    let get =
        live.client.send_list(Action::new_list("DBGet").field("Family", "CF").field("Key", "101")).await;
    let get = get.expect("DBGet");
    assert_eq!(get.items.first().and_then(|m| m.get("Val")), Some("102"));
    let missing = Action::new("DBGet").field("Family", "CF").field("Key", "109");
    assert!(live.act(missing).await.expect_err("missing").contains("Database entry not found"));
    all_cleared(&sim, &mut live).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn busy_forward_and_no_answer_forward() {
    let sim = sim_with(&["101"]).await;
    let mut live = Live::connect(&sim).await;
    for (fam, target) in [("CFB", "103"), ("CFNA", "104")] {
        let put = Action::new("DBPut").field("Family", fam).field("Key", "101").field("Val", target);
        assert!(live.act(put).await.is_ok());
    }
    // No answer: 101 rings for dial_timeout, then 104 rings.
    sim.place_call("100", "101").expect("call");
    live.until("104 rings", |e| is(e, "delivered", "104")).await;
    all_cleared(&sim, &mut live).await;
    // Busy: 101 rejects, then 103 rings.
    let n = live.events.len();
    sim.place_call("100", "101").expect("call");
    live.until_from(n, "101 rings", |e| is(e, "delivered", "101")).await;
    assert!(sim.hangup_ext("101"));
    live.until_from(n, "103 rings", |e| is(e, "delivered", "103")).await;
    all_cleared(&sim, &mut live).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn playdtmf_is_recorded() {
    let sim = sim().await;
    let mut live = Live::connect(&sim).await;
    connected(&sim, &mut live).await;
    let c100 = chan(&sim, "100", |_| true);
    for d in ["1", "2", "#"] {
        let a = Action::new("PlayDTMF").field("Channel", &c100).field("Digit", d).field("Duration", "80");
        assert_eq!(live.act(a).await, Ok("DTMF successfully queued".into()));
    }
    assert_eq!(sim.dtmf_received(), [(c100.clone(), "12#".to_owned())]);
    let bad = Action::new("PlayDTMF").field("Channel", "PJSIP/999-00000000").field("Digit", "1");
    assert!(live.act(bad).await.expect_err("no channel").contains("Channel not found"));
    let bad = Action::new("PlayDTMF").field("Channel", &c100);
    assert!(live.act(bad).await.is_err());
    all_cleared(&sim, &mut live).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn user_events_from_action_and_handle() {
    let sim = sim().await;
    let mut live = Live::connect(&sim).await;
    let a = Action::new("UserEvent").field("UserEvent", "Ping1").field("Seq", "7");
    assert!(live.act(a).await.is_ok());
    let i = live.until("user event", |e| matches!(e, Event::UserEvent { .. })).await;
    let Event::UserEvent { name, fields, .. } = &live.events[i] else { unreachable!() };
    assert_eq!(name, "Ping1");
    assert!(fields.iter().any(|(k, v)| k == "Seq" && v == "7"));
    assert!(!fields.iter().any(|(k, _)| k.eq_ignore_ascii_case("ActionID")));
    sim.emit_user_event("Bench", &[("T", "1")]);
    live.until_from(i + 1, "handle event", |e| matches!(e, Event::UserEvent { name, .. } if name == "Bench"))
        .await;
    assert!(live.act(Action::new("UserEvent")).await.is_err());
    assert!(sim.session_url().ends_with("?control=pjsip&astdb=1"));
    assert!(sim.session_url().starts_with(&sim.url()));
    sim.shutdown().await;
}

#[tokio::test]
async fn originate_to_unknown_number_and_click_to_dial_still_work() {
    let sim = sim().await;
    let mut live = Live::connect(&sim).await;
    let o = Originate {
        channel: "PJSIP/100".into(),
        context: "internal".into(),
        exten: "555".into(),
        priority: 1,
        ..Originate::default()
    };
    assert!(live.client.send(Action::originate(&o)).await.is_ok());
    live.until("cleared", |e| matches!(e, Event::CallCleared { .. })).await;
    assert_eq!(sim.active_channels(), 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn traffic_runs_and_leaves_nothing_behind() {
    let cfg = SimConfig {
        extensions: SimConfig::extension_range(100, 119),
        ring_delay: Duration::from_millis(20),
        answer_delay: Duration::from_millis(30),
        dial_timeout: Duration::from_millis(150),
        ..SimConfig::default()
    };
    let sim = Simulator::start(cfg, "127.0.0.1:0".parse().expect("addr")).await.expect("start");
    let mut live = Live::connect(&sim).await;
    let traffic = sim.start_traffic(TrafficConfig {
        calls_per_sec: 25.0,
        seed: 42,
        talk_min: Duration::from_millis(50),
        talk_max: Duration::from_millis(300),
        busy: 0.1,
        unknown: 0.1,
        no_answer: 0.1,
        hold: 0.2,
        transfer: 0.2,
    });
    // Feed the tracker while traffic runs.
    let _ = timeout(Duration::from_millis(1500), async {
        while let Some(ev) = live.sub.recv().await {
            if let LinkEvent::Event(m) = ev {
                live.tracker.apply_into(&m, &mut live.events);
            }
        }
    })
    .await;
    traffic.stop();
    let started = traffic.calls_started();
    assert!(started >= 10, "only {started} calls");
    assert!(live.events.iter().any(|e| matches!(e, Event::Established { .. })));
    assert!(live.events.iter().any(|e| matches!(e, Event::Held { .. })));
    assert!(live.events.iter().any(|e| matches!(e, Event::Transferred { .. })));
    // No more calls once stopped.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(traffic.calls_started(), started);
    all_cleared(&sim, &mut live).await;
    assert!(sim.truth().devices.iter().all(|d| d.state == "NOT_INUSE"));
    sim.shutdown().await;
}
