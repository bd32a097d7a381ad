//! The examples in `examples/rust/` run against the simulator, as a user would run them.

use std::time::Duration;

use ctilink_sim::{SimConfig, Simulator};
use ctilink_tests::live::{until_ready, SESSION_CONNECT_ACTIONS};

#[path = "../../examples/rust/ami_monitor.rs"]
mod ami_monitor;

#[path = "../../examples/rust/call_model.rs"]
mod call_model;

#[path = "../../examples/rust/click_to_dial.rs"]
mod click_to_dial;

#[path = "../../examples/rust/incoming_call.rs"]
mod incoming_call;

#[path = "../../examples/rust/busy_lamp_field.rs"]
mod busy_lamp_field;

/// Phones 100-105 that ring briefly; 105 rings until `Dial()` gives up (nobody at the desk).
fn quick_office() -> SimConfig {
    SimConfig {
        extensions: SimConfig::extension_range(100, 105),
        ring_delay: Duration::from_millis(50),
        answer_delay: Duration::from_millis(150),
        no_answer: vec!["105".into()],
        dial_timeout: Duration::from_millis(500),
        ..SimConfig::default()
    }
}

async fn start(cfg: SimConfig) -> ctilink_sim::SimHandle {
    Simulator::start(cfg, "127.0.0.1:0".parse().expect("addr")).await.expect("sim")
}

#[tokio::test]
async fn ami_monitor_sees_a_call_ring_connect_and_end() {
    let cfg = SimConfig {
        extensions: SimConfig::extension_range(100, 104),
        answer_delay: Duration::from_millis(100),
        ..SimConfig::default()
    };
    let sim = Simulator::start(cfg, "127.0.0.1:0".parse().expect("addr")).await.expect("sim");
    let caller = sim.clone();
    tokio::spawn(async move {
        // Login and ExtensionStateList: then the example listens and sees the whole call.
        until_ready(&caller, 2).await;
        caller.place_call("101", "100").expect("call");
        tokio::time::sleep(Duration::from_millis(400)).await;
        caller.hangup_all();
    });
    let seen = ami_monitor::run(&sim.url(), Duration::from_secs(10)).await.expect("example runs");
    assert_eq!(seen.hints, 5);
    assert_eq!(seen.ringing, vec!["100".to_owned()]);
    assert!(
        seen.answered.contains(&"100".to_owned()) && seen.answered.contains(&"101".to_owned()),
        "{seen:?}"
    );
    assert!(seen.hangup_causes.iter().all(|&c| c == 16), "{seen:?}");
}

#[tokio::test]
async fn call_model_example_follows_a_call_from_ringing_to_cleared() {
    let cfg = SimConfig {
        extensions: SimConfig::extension_range(100, 104),
        answer_delay: Duration::from_millis(100),
        ..SimConfig::default()
    };
    let sim = Simulator::start(cfg, "127.0.0.1:0".parse().expect("addr")).await.expect("sim");
    let caller = sim.clone();
    tokio::spawn(async move {
        // The example reads the model itself: its login and the three state lists.
        until_ready(&caller, 4).await;
        caller.place_call("101", "100").expect("call");
        tokio::time::sleep(Duration::from_millis(400)).await;
        caller.hangup_all();
    });
    let seen = call_model::run(&sim.url(), Duration::from_secs(10)).await.expect("example runs");
    assert_eq!(seen.devices, 5, "{seen:?}");
    assert_eq!(
        seen.kinds,
        [
            "originated",
            "delivered",
            "established",
            "connection_cleared",
            "connection_cleared",
            "call_cleared"
        ],
        "{seen:?}"
    );
    // The called line (100) shows OFFERING, CONNECTED, then, since the caller (101) hung
    // up, DISCONNECTED when its own connection ends and IDLE when the call is cleared.
    use ctilink::model::tapi::{
        LINECALLSTATE_CONNECTED, LINECALLSTATE_DISCONNECTED, LINECALLSTATE_IDLE, LINECALLSTATE_OFFERING,
    };
    assert_eq!(seen.called_line[1], LINECALLSTATE_OFFERING);
    assert_eq!(seen.called_line[2], LINECALLSTATE_CONNECTED);
    assert_eq!(seen.called_line[3], LINECALLSTATE_DISCONNECTED, "{seen:?}");
    assert_eq!(seen.called_line[5], LINECALLSTATE_IDLE, "{seen:?}");
}

#[tokio::test]
async fn click_to_dial_reports_answered_when_the_destination_answers() {
    let sim = start(quick_office()).await;
    let word = click_to_dial::run(&sim.url(), "100", "101", Duration::from_secs(20)).await.expect("runs");
    assert_eq!(word, "answered");
    // The call goes on after the example has ended, as a click-to-dial call does.
    let truth = sim.truth();
    assert!(truth.channels.iter().any(|c| c.ext == "101"), "{truth:?}");
}

#[tokio::test]
async fn click_to_dial_reports_busy_when_the_destination_is_in_a_call() {
    let sim = start(quick_office()).await;
    sim.place_call("102", "101").expect("the other call");
    let word = click_to_dial::run(&sim.url(), "100", "101", Duration::from_secs(20)).await.expect("runs");
    assert_eq!(word, "busy");
}

#[tokio::test]
async fn click_to_dial_reports_no_answer_when_nobody_picks_up() {
    let sim = start(quick_office()).await;
    let word = click_to_dial::run(&sim.url(), "100", "105", Duration::from_secs(20)).await.expect("runs");
    assert_eq!(word, "no-answer");
}

#[tokio::test]
async fn click_to_dial_reports_failed_for_an_unknown_number() {
    let sim = start(quick_office()).await;
    let word = click_to_dial::run(&sim.url(), "100", "999", Duration::from_secs(20)).await.expect("runs");
    assert_eq!(word, "failed");
}

#[tokio::test]
async fn click_to_dial_from_an_unknown_device_is_a_typed_error() {
    let sim = start(quick_office()).await;
    let err =
        click_to_dial::run(&sim.url(), "777", "101", Duration::from_secs(20)).await.expect_err("refused");
    assert!(matches!(err, ctilink::Error::UnknownDevice(_)), "{err:?}");
}

#[tokio::test]
async fn incoming_call_pops_up_the_caller_at_the_ringing_phone() {
    let cfg = SimConfig { answer_delay: Duration::from_secs(60), ..quick_office() };
    let sim = start(cfg).await;
    let driver = sim.clone();
    tokio::spawn(async move {
        until_ready(&driver, SESSION_CONNECT_ACTIONS).await;
        driver.place_call("101", "100").expect("call 1");
        driver.place_call("103", "102").expect("call 2");
    });
    let popups = incoming_call::run(&sim.url(), 2, Duration::from_secs(20)).await.expect("runs");
    let seen: Vec<(&str, &str, &str)> =
        popups.iter().map(|p| (p.device.as_str(), p.number.as_str(), p.name.as_str())).collect();
    assert_eq!(seen, [("100", "101", "Phone 101"), ("102", "103", "Phone 103")], "{popups:?}");
    assert_ne!(popups[0].call, popups[1].call);
    sim.hangup_all();
}

#[tokio::test]
async fn busy_lamp_field_shows_the_snapshot_then_each_change() {
    let cfg = SimConfig { answer_delay: Duration::from_secs(60), ..quick_office() };
    let sim = start(cfg).await;
    // A call that is up before the example starts is in its snapshot.
    sim.place_call("104", "103").expect("call up before");
    assert!(sim.answer_ext("103"));
    let driver = sim.clone();
    tokio::spawn(async move {
        until_ready(&driver, SESSION_CONNECT_ACTIONS).await;
        driver.place_call("101", "100").expect("call");
        assert!(driver.answer_ext("100"));
        assert!(driver.hangup_ext("101"));
    });
    let field = busy_lamp_field::run(&sim.url(), 5, Duration::from_secs(20)).await.expect("runs");
    let initial: Vec<(&str, char)> = field.initial.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        initial,
        [("100", '.'), ("101", '.'), ("102", '.'), ("103", 'U'), ("104", 'U'), ("105", '.')],
        "{field:?}"
    );
    let lamps_of =
        |ext: &str| -> String { field.changes.iter().filter(|(e, _)| e == ext).map(|(_, l)| *l).collect() };
    assert_eq!(lamps_of("100"), "RU.", "{field:?}");
    assert_eq!(lamps_of("101"), "U.", "{field:?}");
    assert_eq!(field.lines.len(), 6, "{field:?}");
    assert_eq!(field.lines[5], "100[.] 101[.] 102[.] 103[U] 104[U] 105[.]", "{field:?}");
}
