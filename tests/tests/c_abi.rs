//! The C ABI through real C programs (`tests/c/`), compiled with `-Wall -Wextra -Werror`
//! against `include/ctilink.h`, run under valgrind against the simulator over TCP.

use std::time::Duration;

use ctilink_sim::SimHandle;
use ctilink_tests::live::{fast_office, start_sim};
use ctilink_tests::native::{compile_c, Program};

const LONG: Duration = Duration::from_secs(120);

/// Places a call from `from` to `to` and waits until the simulator has it answered.
async fn call_in_progress(sim: &SimHandle, from: &str, to: &str) {
    sim.place_call(from, to).expect("the simulator places the call");
    for _ in 0..200 {
        if sim.truth().channels.iter().filter(|c| c.state == "Up").count() >= 2 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the call {from} -> {to} was not answered: {:?}", sim.truth().channels);
}

#[tokio::test(flavor = "multi_thread")]
async fn click_to_dial_answered_and_busy() {
    let exe = compile_c("click_to_dial_test", &["tests/c/click_to_dial_test.c"]);
    let sim = start_sim(fast_office()).await;
    call_in_progress(&sim, "102", "103").await;
    let mut p = Program::start(&exe, &[&sim.session_url()]);
    p.expect_line("answered", LONG).await;
    p.expect_line("busy", LONG).await;
    p.expect_line("done", LONG).await;
    p.finish(LONG).await;
}

async fn incoming(mode: &str) {
    let exe = compile_c("incoming_call_test", &["tests/c/incoming_call_test.c"]);
    let sim = start_sim(fast_office()).await;
    let mut p = Program::start(&exe, &[&sim.session_url(), mode]);
    p.expect_line("READY", LONG).await;
    sim.place_call("101", "100").expect("101 calls 100");
    p.send_line("go").await;
    p.expect_line("RINGING", LONG).await;
    assert!(sim.hangup_ext("101"), "101 hangs up");
    p.send_line("go").await;
    p.expect_line("CLEARED", LONG).await;
    p.finish(LONG).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn incoming_call_by_pull() {
    incoming("pull").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn incoming_call_by_callback() {
    incoming("callback").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_of_a_line_opened_during_a_call() {
    let exe = compile_c("snapshot_test", &["tests/c/snapshot_test.c"]);
    let sim = start_sim(fast_office()).await;
    call_in_progress(&sim, "102", "103").await;
    let p = Program::start(&exe, &[&sim.session_url()]);
    assert_eq!(p.finish(LONG).await, ["done"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_error_path() {
    let exe = compile_c("errors_test", &["tests/c/errors_test.c"]);
    let sim = start_sim(fast_office()).await;
    // A port that was just free: nothing listens there.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let dead_url = format!("ami://admin:secret@127.0.0.1:{dead}?reconnect=0");
    let p = Program::start(&exe, &[&sim.session_url(), &dead_url]);
    assert_eq!(p.finish(LONG).await, ["done"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn link_down_and_back() {
    let exe = compile_c("link_down_test", &["tests/c/link_down_test.c"]);
    let sim = start_sim(fast_office()).await;
    call_in_progress(&sim, "102", "103").await;
    let url = format!("{}&reconnect_ms=3000", sim.session_url());
    let mut p = Program::start(&exe, &[&url]);
    p.expect_line("DROP", LONG).await;
    sim.drop_connections();
    p.send_line("go").await;
    p.expect_line("done", LONG).await;
    p.finish(LONG).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_that_falls_behind_is_made_consistent_again() {
    let exe = compile_c("lag_test", &["tests/c/lag_test.c"]);
    let sim = start_sim(fast_office()).await;
    let mut p = Program::start(&exe, &[&sim.session_url()]);
    p.expect_line("READY", LONG).await;
    for (from, to) in [("100", "101"), ("102", "103"), ("104", "105"), ("106", "107")] {
        sim.place_call(from, to).expect("call");
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(sim.hangup_ext("100") && sim.hangup_ext("104"), "two calls end");
    tokio::time::sleep(Duration::from_millis(300)).await;
    p.send_line("go").await;
    p.expect_line("done", LONG).await;
    p.finish(LONG).await;
}
