//! Finding 2: the gateway's memory grew with requested snapshots and big events, because a
//! client's queue was bounded in messages only and every snapshot request built one more.
//! Now a queue is bounded in bytes too, and at most one snapshot waits per client.

use std::time::Duration;

use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::attack::metric;
use crate::common::{config, start, start_sim, Raw, SUPERVISOR};
use crate::heap::{live, mb, peak, reset_peak};

/// 100 phones, as in the probe.
fn hundred() -> ctilink_sim::SimConfig {
    ctilink_sim::SimConfig {
        extensions: ctilink_sim::SimConfig::extension_range(100, 199),
        ..crate::common::office()
    }
}

/// 100 phones and a gateway whose write timeout (60 s) outlasts the test: clients that
/// do not read stay connected, their queues are what is measured.
async fn patient_gateway() -> (ctilink_sim::SimHandle, ctilink_gateway::Gateway) {
    let sim = start_sim(hundred()).await;
    let mut cfg = config(&sim);
    cfg.clients.write_timeout = Duration::from_secs(60);
    let gw = start(cfg).await;
    (sim, gw)
}

/// Waits (at most 20 s) until `/metrics` shows `name` at least `at_least`.
async fn until_metric(diag: std::net::SocketAddr, name: &str, at_least: f64) -> f64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let v = metric(diag, name).await;
        if v >= at_least {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "{name} stayed at {v}, below {at_least}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallboards_asking_for_snapshots_without_reading_hold_one_each() {
    let _turn = crate::serial().await;
    let (_sim, gw) = patient_gateway().await;
    let (addr, diag) = (gw.addrs().tcp.expect("tcp"), gw.addrs().diagnostics.expect("diag"));
    let (mut other, _, _) = Raw::hello(addr, SUPERVISOR, "other").await;
    let mut boards = Vec::new();
    for i in 0..10 {
        let (b, _, snapshot) = Raw::hello(addr, SUPERVISOR, &format!("wallboard-{i}")).await;
        assert_eq!(snapshot["devices"].as_array().map(Vec::len), Some(100));
        boards.push(b);
    }
    let before = live();
    reset_peak();
    // Each wallboard asks 1,000 times in one write and reads nothing.
    let mut requests = String::new();
    for id in 1..=1000 {
        requests.push_str(&format!("{}\n", json!({"type": "snapshot", "id": id})));
    }
    for b in &mut boards {
        b.writer.write_all(requests.as_bytes()).await.expect("write");
    }
    // Most are answered by the snapshot already waiting (the rest went to the sockets
    // while their buffers had room).
    let coalesced = until_metric(diag, "snapshots_coalesced_total", 9000.0).await;
    let grew = peak().saturating_sub(before);
    // Another client is served meanwhile.
    assert!(other.sync(1).await.iter().all(|v| v["type"] == "event"));
    eprintln!(
        "memory: 10 wallboards x 1,000 snapshot requests (100 devices), not reading: heap grew by \
         {:.1} MB at most; {coalesced} requests coalesced",
        mb(grew)
    );
    assert!(grew < 16_000_000, "the heap grew by {:.1} MB", mb(grew));
    // A wallboard that reads at last gets its snapshots, the last for its last request.
    let b = &mut boards[0];
    let mut last = 0;
    let mut n = 0;
    while let Some(v) = b.recv_within(Duration::from_millis(500)).await {
        if v["type"] == "snapshot" {
            n += 1;
            last = v["id"].as_u64().expect("id");
        }
    }
    assert_eq!(last, 1000, "the waiting snapshot answers the last request");
    assert!(n < 1000, "requests were coalesced: {n} snapshots for 1,000 requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_events_to_clients_that_do_not_read_are_bounded_in_bytes() {
    let _turn = crate::serial().await;
    let (sim, gw) = patient_gateway().await;
    let (addr, diag) = (gw.addrs().tcp.expect("tcp"), gw.addrs().diagnostics.expect("diag"));
    let mut boards = Vec::new();
    for i in 0..10 {
        boards.push(Raw::hello(addr, SUPERVISOR, &format!("wallboard-{i}")).await.0);
    }
    let before = live();
    reset_peak();
    // 300 dialplan UserEvents of 50 KB each (15 MB), under every message limit; the
    // wallboards take user events and read nothing.
    let payload = "x".repeat(50_000);
    for i in 0..300 {
        sim.emit_user_event("Big", &[("Seq", &i.to_string()), ("Payload", &payload)]);
    }
    until_metric(diag, "upstream_events_total", 300.0).await;
    let resyncs = until_metric(diag, "slow_client_total{action=\"resync\"}", 1.0).await;
    let grew = peak().saturating_sub(before);
    let queued = metric(diag, "client_queue_bytes").await;
    eprintln!(
        "memory: 300 UserEvents of 50 KB to 10 clients not reading: heap grew by {:.1} MB at most; \
         {:.1} MB queued; {resyncs} slow-client resyncs",
        mb(grew),
        queued / 1e6
    );
    // 10 clients: 1 MiB of events and one snapshot each, besides the PBX link's own rings.
    assert!(queued <= 10.0 * 1.2e6, "{queued} bytes queued");
    assert!(grew < 64_000_000, "the heap grew by {:.1} MB", mb(grew));
    // Clients that read again are served; those that fell behind were told they lagged
    // and got a snapshot. (Which ones fell behind depends on how much each socket took.)
    let mut lagged = 0;
    for (i, b) in boards.iter_mut().enumerate() {
        // Answers overtake queued events, so read until the stream is quiet, not to a pong.
        let mut seen = Vec::new();
        while let Some(v) = b.recv_within(Duration::from_millis(500)).await {
            seen.push(v);
        }
        let l = seen.iter().filter(|v| v["type"] == "event" && v["event"]["event"] == "lagged").count();
        let s = seen.iter().filter(|v| v["type"] == "snapshot").count();
        assert_eq!(l, s, "wallboard {i}: a snapshot after each lagged");
        lagged += l;
    }
    // A resync still waiting when the next one comes is replaced by it: one each at most.
    assert!(lagged >= 1 && lagged as f64 <= resyncs, "{lagged} lagged seen, {resyncs} resyncs");
}
