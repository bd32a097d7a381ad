//! Graceful shutdown on a real SIGTERM: every client is told `bye` with the reason, the
//! gateway logs off the PBX and `run_until_signal` returns. The signal goes to this test
//! process (its own binary, so no other test sees it) once the gateway watches for it.

mod common;

use std::time::Duration;

use common::{config, office, start, start_sim, Raw, DESK_100, DESK_102};
use serde_json::json;

#[tokio::test]
async fn sigterm_says_bye_to_every_client_and_logs_off() {
    let sim = start_sim(office()).await;
    let gw = start(config(&sim)).await;
    let addr = gw.addrs().tcp.expect("tcp");
    let (mut a, _, _) = Raw::hello(addr, DESK_100, "a").await;
    let (mut b, _, _) = Raw::hello(addr, DESK_102, "b").await;
    let logins = sim.connections();
    assert_eq!(logins, 1, "the gateway holds one PBX connection for both clients");
    // The handler is in place once `run_until_signal` returns its future.
    let run = tokio::spawn(gw.run_until_signal());
    let status = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    for c in [&mut a, &mut b] {
        let got = c.until_closed().await;
        assert_eq!(got, [json!({"type": "bye", "reason": "the gateway is shutting down (SIGTERM)"})]);
    }
    tokio::time::timeout(Duration::from_secs(10), run).await.expect("shut down in time").expect("no panic");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while sim.connections() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "the PBX connection was not closed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
