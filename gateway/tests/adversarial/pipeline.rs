//! Finding 4: more than 1,024 requests in one write (1,030 pings, 29 KB) got `bye "not
//! reading its answers"` though the client read. Requests are now read as fast as their
//! answers are written: a pipelining client is served in batches, and one that never
//! reads is stopped being read (its socket fills), not cut off.

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use crate::common::{config, office, start, start_sim, Raw, DESK_100};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_pipelined_pings_are_all_answered_in_order() {
    let _turn = crate::serial().await;
    let sim = start_sim(office()).await;
    let gw = start(config(&sim)).await;
    let addr = gw.addrs().tcp.expect("tcp");
    let (c, _, _) = Raw::hello(addr, DESK_100, "pipeliner").await;
    let mut burst = String::new();
    for id in 1..=10_000u64 {
        burst.push_str(&format!("{}\n", json!({"type": "ping", "id": id})));
    }
    // Written by another task while this one reads, as a client with a reader thread does.
    let Raw { mut reader, mut writer, .. } = c;
    let bytes = burst.len();
    let sent = tokio::spawn(async move {
        writer.write_all(burst.as_bytes()).await.expect("write");
        writer
    });
    for id in 1..=10_000u64 {
        let mut line = String::new();
        tokio::time::timeout(Duration::from_secs(10), reader.read_line(&mut line))
            .await
            .expect("the next pong within 10 s")
            .expect("read");
        let v: serde_json::Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!((v["type"].as_str(), v["id"].as_u64()), (Some("pong"), Some(id)), "{v}");
    }
    let mut c =
        Raw { reader, writer: sent.await.expect("writer task"), sent: 0, received: 0, seen: Vec::new() };
    eprintln!("pipeline: 10,000 pings in one write ({bytes} bytes): all answered in order");
    // And the connection is still good.
    let r = c.command(1, json!({"command": "make_call", "from": "100", "to": "101"})).await;
    assert_eq!(r["ok"], true, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_pipelines_and_never_reads_is_closed_by_the_write_timeout_only() {
    let _turn = crate::serial().await;
    let sim = start_sim(office()).await;
    let mut cfg = config(&sim);
    cfg.clients.write_timeout = Duration::from_millis(1500);
    let gw = start(cfg).await;
    let addr = gw.addrs().tcp.expect("tcp");
    let diag = gw.addrs().diagnostics.expect("diag");
    let (c, _, _) = Raw::hello(addr, DESK_100, "deaf").await;
    let mut burst = Vec::new();
    for id in 1..=2_000u64 {
        burst.extend_from_slice(format!("{}\n", json!({"type": "ping", "id": id})).as_bytes());
    }
    // Written, never read: the gateway stops reading once its answers wait, the sockets
    // fill, and the write timeout ends it.
    let Raw { reader: _unread, writer: mut w, .. } = c;
    let writing = tokio::spawn(async move {
        for _ in 0..200 {
            if w.write_all(&burst).await.is_err() {
                return;
            }
        }
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let m = crate::attack::metric(diag, "write_timeouts_total").await;
        if m >= 1.0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the deaf client was never closed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    writing.abort();
    let closed = crate::common::api_clients(diag).await;
    let reason = closed["closed"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["client"] == "deaf"))
        .and_then(|r| r["closed_reason"].as_str())
        .map(str::to_owned);
    assert!(
        reason.as_deref().is_some_and(|r| r.starts_with("not reading: a write did not complete")),
        "{reason:?}"
    );
}
