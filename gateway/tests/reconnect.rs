//! Links dropping. Upstream: the PBX link drops (`drop_connections`) and every client gets
//! `link_down`, then `link_up` and `resynced` with lists filtered to what it may see.
//! Downstream: the gateway restarts and a `ctilink://` session reconnects by itself,
//! reporting the difference like an AMI session does after its own reconnect.

mod common;

use std::time::Duration;

use common::{config, office, start, start_sim, Raw, DESK_100, DESK_102};
use ctilink::{Error, Event, LinkStatus, Secret, Session};
use serde_json::{json, Value};

fn kind(v: &Value) -> &str {
    v["event"]["event"].as_str().unwrap_or("")
}

#[tokio::test]
async fn the_pbx_link_dropping_gives_every_client_link_down_then_its_own_resync() {
    let sim = start_sim(office()).await;
    let gw = start(config(&sim)).await;
    let addr = gw.addrs().tcp.expect("tcp");
    let (mut a, _, _) = Raw::hello(addr, DESK_100, "a").await;
    let (mut b, _, _) = Raw::hello(addr, DESK_102, "b").await;
    sim.place_call("100", "101").expect("A's call");
    let a_call = a.until("A's call", |v| kind(v) == "established").await["event"]["call"].clone();
    sim.place_call("102", "103").expect("B's call");
    let b_call = b.until("B's call", |v| kind(v) == "established").await["event"]["call"].clone();

    sim.drop_connections();
    // Both calls end while the gateway cannot see it.
    sim.hangup_all();
    for (c, mine, theirs, devices) in
        [(&mut a, &a_call, &b_call, ["100", "101"]), (&mut b, &b_call, &a_call, ["102", "103"])]
    {
        c.until("link_down", |v| kind(v) == "link_down").await;
        let up = c.until("link_up", |v| kind(v) == "link_up").await;
        assert_eq!(up["event"]["reconnected"], true);
        let done = c.until("resynced", |v| kind(v) == "resynced").await;
        let r = &done["event"];
        assert_eq!(r["calls_ended"], json!([mine]), "only its own call: {r}");
        assert_eq!(r["calls_found"], json!([]));
        for d in r["devices_changed"].as_array().expect("list") {
            assert!(devices.contains(&d.as_str().unwrap_or("")), "{r}");
        }
        let between: Vec<&Value> = c.seen.iter().skip_while(|v| kind(v) != "link_up").collect();
        assert!(
            between.iter().any(|v| kind(v) == "call_cleared" && v["event"]["call"] == *mine),
            "{between:#?}"
        );
        assert!(
            !between.iter().any(|v| v["event"]["call"] == *theirs),
            "the other's call leaked: {between:#?}"
        );
    }
    // And the stream goes on after the resync.
    sim.place_call("101", "100").expect("a new call");
    a.until("after the resync", |v| kind(v) == "delivered" && v["event"]["device"] == "100").await;
}

#[tokio::test]
async fn a_session_through_the_gateway_follows_the_pbx_link_and_refuses_commands_while_down() {
    let sim = start_sim(office()).await;
    let mut cfg = config(&sim);
    // A slow reconnect upstream leaves time to try a command while the link is down.
    cfg.pbx.url = Some(format!("{}&reconnect_ms=1500", sim.session_url()).into());
    let gw = start(cfg).await;
    let s = Session::connect(&format!("ctilink://{DESK_100}@{}", gw.addrs().tcp.expect("tcp")))
        .await
        .expect("connect");
    let mut events = s.events();
    sim.drop_connections();
    let down = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("in time")
        .expect("an event");
    assert!(matches!(down, Event::LinkDown { .. }), "{down:?}");
    assert!(matches!(s.status(), LinkStatus::Down { .. }));
    assert!(matches!(s.make_call("100", "101").await, Err(Error::LinkDown)));
    let mut kinds = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(ev) = events.next().await {
            kinds.push(ev.kind());
            if matches!(ev, Event::Resynced { .. }) {
                break;
            }
        }
    })
    .await
    .expect("resynced in time");
    assert_eq!(kinds.first(), Some(&"link_up"), "{kinds:?}");
    assert_eq!(s.status(), LinkStatus::Up);
    let call = s.make_call("100", "101").await.expect("commands work again");
    s.clear_call(&call).await.ok();
}

#[tokio::test]
async fn a_session_reconnects_to_a_restarted_gateway_and_reports_what_changed() {
    let sim = start_sim(office()).await;
    let gw = start(config(&sim)).await;
    let tcp = gw.addrs().tcp.expect("tcp");
    let s = Session::connect(&format!("ctilink://{DESK_100}@{tcp}?reconnect_ms=100")).await.expect("connect");
    let mut events = s.events();
    sim.place_call("100", "101").expect("call");
    let call = loop {
        let ev = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("in time")
            .expect("event");
        if ev.kind() == "established" {
            break ev.call().cloned().expect("call");
        }
    };
    gw.shutdown("restarting").await;
    let down =
        tokio::time::timeout(Duration::from_secs(5), events.next()).await.expect("in time").expect("event");
    assert!(matches!(&down, Event::LinkDown { reason } if reason.contains("restarting")), "{down:?}");
    // The call ends while no gateway runs; a new one takes the same port.
    sim.hangup_all();
    let mut cfg = config(&sim);
    cfg.listen.tcp = Some(tcp);
    let gw2 = start(cfg).await;
    let mut after = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(ev) = events.next().await {
            let done = matches!(ev, Event::Resynced { .. });
            after.push(ev);
            if done {
                break;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no resync; saw {after:#?}"));
    assert!(matches!(after.first(), Some(Event::LinkUp { reconnected: true })), "{after:#?}");
    assert!(
        after.iter().any(|e| matches!(e, Event::CallCleared { call: c, .. } if *c == call)),
        "{after:#?}"
    );
    let Some(Event::Resynced { calls_ended, .. }) = after.last() else { unreachable!() };
    assert_eq!(calls_ended, &[call]);
    assert!(s.snapshot().calls.is_empty());
    assert_eq!(s.status(), LinkStatus::Up);
    assert!(s.make_call("100", "101").await.is_ok(), "commands go through the new gateway");
    drop(gw2);
}

/// The gateway's PBX URL may name a standby PBX (`standby=`): when the PBX is lost and
/// stays unreachable, the gateway moves to the standby and every client gets `link_down`
/// then `resynced`, with the standby's calls.
#[tokio::test]
async fn the_gateway_moves_to_the_standby_pbx() {
    let primary = start_sim(office()).await;
    let standby = start_sim(office()).await;
    let mut cfg = config(&primary);
    let url = format!("{}&reconnect_ms=100&standby={}", primary.session_url(), standby.addr());
    cfg.pbx.url = Some(Secret::new(url));
    let gw = start(cfg).await;
    let addr = gw.addrs().tcp.expect("tcp");
    let (mut a, _, _) = Raw::hello(addr, DESK_100, "a").await;
    standby.place_call("100", "101").expect("a call on the standby");
    primary.shutdown().await;
    a.until("link_down", |v| kind(v) == "link_down").await;
    let done = a.until("resynced", |v| kind(v) == "resynced").await;
    assert_eq!(done["event"]["calls_found"].as_array().map(Vec::len), Some(1), "{done}");
    assert!(standby.actions_received() > 0, "the gateway logged in to the standby");
}
