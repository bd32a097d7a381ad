//! The examples in `examples/rust/` run against the simulator, as a user would run them.

use std::time::Duration;

use ctilink_sim::{SimConfig, Simulator};

#[path = "../../examples/rust/ami_monitor.rs"]
mod ami_monitor;

#[path = "../../examples/rust/call_model.rs"]
mod call_model;

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
        // Wait until the example has logged in, so it sees the whole call.
        while caller.logins() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
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
        while caller.logins() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
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
    // The called line (100) shows OFFERING, CONNECTED, then IDLE.
    use ctilink::model::tapi::{LINECALLSTATE_CONNECTED, LINECALLSTATE_IDLE, LINECALLSTATE_OFFERING};
    assert_eq!(seen.called_line[1], LINECALLSTATE_OFFERING);
    assert_eq!(seen.called_line[2], LINECALLSTATE_CONNECTED);
    assert_eq!(seen.called_line[3], LINECALLSTATE_IDLE);
}
