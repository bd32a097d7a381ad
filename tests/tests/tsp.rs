//! The TAPI service provider shim (`examples/tsp/`): its portable part driven natively
//! against the simulator under valgrind, with a C program playing TAPI. Its Windows build,
//! run under Wine, is tested in tsp_windows.rs.

use std::time::Duration;

use ctilink_sim::SimHandle;
use ctilink_tests::live::{fast_office, start_sim};
use ctilink_tests::native::{compile_c, Program};

const LONG: Duration = Duration::from_secs(120);

/// Waits until the simulator has `n` answered channels.
async fn until_up(sim: &SimHandle, n: usize) {
    for _ in 0..250 {
        if sim.truth().channels.iter().filter(|c| c.state == "Up").count() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{n} channels were not up: {:?}", sim.truth().channels);
}

/// Waits until phone `ext` has no channel left (its last call is over).
async fn until_idle(sim: &SimHandle, ext: &str) {
    for _ in 0..250 {
        if !sim.truth().channels.iter().any(|c| c.ext == ext) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("phone {ext} still has channels: {:?}", sim.truth().channels);
}

async fn call(sim: &SimHandle, p: &mut Program, from: &str, to: &str) {
    p.expect_line(&format!("CALL {from} {to}"), LONG).await;
    until_idle(sim, from).await;
    sim.place_call(from, to).unwrap_or_else(|e| panic!("{from} calls {to}: {e}"));
    p.send_line("go").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tsp_core_maps_ctilink_events_to_tapi_messages() {
    let exe = compile_c("tsp_mapping_test", &["examples/tsp/mapping_test.c", "examples/tsp/tsp_core.c"]);
    let sim = start_sim(fast_office()).await;
    // A call that exists before the provider starts, and survives the link drop.
    sim.place_call("102", "103").expect("102 calls 103");
    until_up(&sim, 2).await;
    let url = format!("{}&reconnect_ms=3000", sim.session_url());
    let mut p = Program::start(&exe, &[&url]);

    // lineDial on 100's call to 101: ctilink plays the digits towards the far end.
    p.expect_line("DTMF", LONG).await;
    let dtmf = sim.dtmf_received();
    assert!(
        dtmf.iter().any(|(chan, digits)| chan.contains("/101-") && digits == "12#"),
        "lineDial's digits did not reach the far end (101): {dtmf:?}"
    );
    p.send_line("go").await;

    call(&sim, &mut p, "101", "100").await; // incoming, then blind transfer to 104
    call(&sim, &mut p, "101", "108").await; // lineAnswer
    call(&sim, &mut p, "101", "109").await; // lineRedirect to 105
    call(&sim, &mut p, "101", "109").await; // linePickup from 100

    p.expect_line("DROP", LONG).await;
    sim.drop_connections();
    p.send_line("go").await;
    p.expect_line("done", LONG).await;
    p.finish(LONG).await;
}
