//! The call model against the simulator over real TCP: each scenario a phone user knows
//! (a call, busy, no answer, the caller giving up, click-to-dial) gives the normalized
//! events a telephony developer expects, and leaves no call behind.

use std::time::Duration;

use ctilink::ami::action::Originate;
use ctilink::ami::Action;
use ctilink::model::{Event, FailureReason};
use ctilink_sim::{SimConfig, SimHandle, Simulator};
use ctilink_tests::ami_live::Live;

async fn sim(answer_delay: Duration) -> SimHandle {
    let cfg = SimConfig {
        extensions: SimConfig::extension_range(100, 109),
        ring_delay: Duration::from_millis(50),
        answer_delay,
        no_answer: vec!["109".into()],
        dial_timeout: Duration::from_millis(300),
        ..SimConfig::default()
    };
    Simulator::start(cfg, "127.0.0.1:0".parse().expect("addr")).await.expect("simulator starts")
}

fn cleared(e: &Event) -> bool {
    matches!(e, Event::CallCleared { .. })
}

#[tokio::test]
async fn basic_call_rings_is_answered_and_ends() {
    let sim = sim(Duration::from_millis(100)).await;
    let mut live = Live::connect(&sim).await;
    sim.place_call("100", "101").expect("place call");
    live.until("established", |e| matches!(e, Event::Established { .. })).await;
    sim.hangup_all();
    live.until("call cleared", cleared).await;
    assert_eq!(
        live.kinds(),
        [
            "originated 100",
            "delivered 101",
            "established 101",
            // Asterisk hangs up the called leg first when the caller hangs up (sip_call.ami).
            "connection_cleared 101",
            "connection_cleared 100",
            "call_cleared"
        ]
    );
    let Some(Event::Delivered { caller, called, calling_device, .. }) =
        live.events.iter().find(|e| e.kind() == "delivered")
    else {
        panic!("no delivered")
    };
    assert_eq!(caller.number, "100");
    assert_eq!(called.number, "101");
    assert_eq!(calling_device.as_ref().map(|d| d.as_str()), Some("100"));
    assert!(matches!(
        live.events.iter().find(|e| cleared(e)),
        Some(Event::CallCleared { answered: true, .. })
    ));
    assert_eq!(live.tracker.open_calls(), 0);
    live.client.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn busy_callee_fails_the_call() {
    let sim = sim(Duration::from_millis(100)).await;
    let mut live = Live::connect(&sim).await;
    sim.place_call("100", "101").expect("first call");
    live.until("first call established", |e| matches!(e, Event::Established { .. })).await;
    sim.place_call("102", "101").expect("second call");
    let i = live.until("failed", |e| matches!(e, Event::Failed { .. })).await;
    assert!(
        matches!(&live.events[i], Event::Failed { device, reason: FailureReason::Busy, .. } if device.as_str() == "101"),
        "{:?}",
        live.events[i]
    );
    let j = live.until("second call cleared", cleared).await;
    assert!(
        matches!(&live.events[j], Event::CallCleared { answered: false, cause: Some(c), .. } if c.0 == 17),
        "{:?}",
        live.events[j]
    );
    // The first call goes on.
    assert_eq!(live.tracker.open_calls(), 1);
    sim.hangup_all();
    let second = live.events[j].call().cloned();
    live.until("first call cleared", |e| cleared(e) && e.call() != second.as_ref()).await;
    assert_eq!(live.tracker.open_calls(), 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn unanswered_call_fails_with_no_answer() {
    let sim = sim(Duration::from_millis(100)).await;
    let mut live = Live::connect(&sim).await;
    sim.place_call("100", "109").expect("place call");
    live.until("call cleared", cleared).await;
    assert_eq!(
        live.kinds(),
        [
            "originated 100",
            "delivered 109",
            "failed 109",
            "connection_cleared 109",
            "connection_cleared 100",
            "call_cleared"
        ]
    );
    assert!(live.events.iter().any(|e| matches!(e, Event::Failed { reason: FailureReason::NoAnswer, .. })));
    assert!(matches!(
        live.events.iter().find(|e| cleared(e)),
        Some(Event::CallCleared { answered: false, .. })
    ));
    sim.shutdown().await;
}

#[tokio::test]
async fn caller_gives_up_while_it_rings() {
    let sim = sim(Duration::from_secs(60)).await;
    let mut live = Live::connect(&sim).await;
    sim.place_call("100", "101").expect("place call");
    live.until("delivered", |e| matches!(e, Event::Delivered { .. })).await;
    sim.hangup_all();
    live.until("call cleared", cleared).await;
    let k = live.kinds();
    assert_eq!(k[..2], ["originated 100", "delivered 101"]);
    assert_eq!(k.last().map(String::as_str), Some("call_cleared"));
    // The ringing phone stops ringing: cleared from Alerting, not failed.
    assert!(live.events.iter().any(|e| matches!(e,
        Event::ConnectionCleared { device, previous: ctilink::model::ConnectionState::Alerting, .. } if device.as_str() == "101")));
    assert!(!live.events.iter().any(|e| matches!(e, Event::Failed { .. } | Event::Established { .. })));
    assert!(matches!(
        live.events.iter().find(|e| cleared(e)),
        Some(Event::CallCleared { answered: false, .. })
    ));
    sim.shutdown().await;
}

#[tokio::test]
async fn click_to_dial_is_one_call_from_the_users_phone() {
    let sim = sim(Duration::from_millis(100)).await;
    let mut live = Live::connect(&sim).await;
    let originate = Originate {
        channel: "PJSIP/100".into(),
        context: "internal".into(),
        exten: "101".into(),
        priority: 1,
        timeout_ms: Some(5_000),
        ..Originate::default()
    };
    live.client.send(Action::originate(&originate)).await.expect("originate accepted");
    live.until("established", |e| matches!(e, Event::Established { .. })).await;
    sim.hangup_all();
    live.until("call cleared", cleared).await;
    let k = live.kinds();
    assert_eq!(k[..4], ["delivered 100", "originated 100", "delivered 101", "established 101"], "{k:?}");
    assert!(matches!(
        &live.events.iter().find(|e| e.kind() == "delivered"),
        Some(Event::Delivered { click_to_dial: true, .. })
    ));
    let ids: std::collections::HashSet<_> = live.events.iter().filter_map(|e| e.call()).collect();
    assert_eq!(ids.len(), 1, "one call: {ids:?}");
    assert_eq!(live.tracker.open_calls(), 0);
    sim.shutdown().await;
}
