//! Access control with two desk tokens against the simulator: each client's snapshot and
//! events hold only its devices and the calls they take part in, commands on other
//! devices are `not_allowed`, calls it cannot see are unknown to it, and a wrong token
//! gets nothing at all.

mod common;

use std::time::Duration;

use common::{config, devices_named, office, start, start_sim, Raw, DESK_100, DESK_102};
use serde_json::{json, Value};

fn ids(list: &Value) -> Vec<String> {
    list.as_array().expect("array").iter().map(|d| d["id"].as_str().expect("id").to_owned()).collect()
}

#[tokio::test]
async fn each_token_sees_only_its_devices_and_their_calls() {
    let sim = start_sim(office()).await;
    let gw = start(config(&sim)).await;
    let addr = gw.addrs().tcp.expect("tcp");
    let (mut a, welcome_a, snap_a) = Raw::hello(addr, DESK_100, "crm-a").await;
    let (mut b, welcome_b, snap_b) = Raw::hello(addr, DESK_102, "crm-b").await;
    assert_eq!(welcome_a["identity"], "desk-100");
    assert_eq!(welcome_a["monitor"], json!(["100", "101"]));
    assert_eq!(welcome_a["control"], json!(["100"]));
    assert_eq!(welcome_a["link"], "up");
    assert_eq!(welcome_b["identity"], "desk-102");
    assert_eq!(ids(&snap_a["devices"]), ["100", "101"], "{snap_a}");
    assert_eq!(ids(&snap_b["devices"]), ["102", "103"], "{snap_b}");

    // A call among B's devices: B sees all of it, A nothing.
    sim.place_call("102", "103").expect("call");
    b.until("103 answers", |v| v["event"]["event"] == "established" && v["event"]["device"] == "103").await;
    sim.hangup_ext("102");
    b.until("the call ends", |v| v["event"]["event"] == "call_cleared").await;
    // And one among A's: the mirror image.
    sim.place_call("101", "100").expect("call");
    a.until("100 answers", |v| v["event"]["event"] == "established" && v["event"]["device"] == "100").await;
    sim.hangup_ext("101");
    a.until("the call ends", |v| v["event"]["event"] == "call_cleared").await;
    // A ping round trip flushes what each has been sent since.
    a.sync(1).await;
    b.sync(1).await;
    for (c, mine, theirs) in [(&a, ["100", "101"], ["102", "103"]), (&b, ["102", "103"], ["100", "101"])] {
        let named: Vec<String> = c.seen.iter().flat_map(devices_named).collect();
        assert!(named.iter().any(|d| mine.contains(&d.as_str())), "saw its own devices: {named:?}");
        assert!(
            !named.iter().any(|d| theirs.contains(&d.as_str())),
            "another token's device leaked: {:#?}",
            c.seen
        );
        let calls: Vec<&Value> = c.seen.iter().filter(|v| v["event"]["call"].is_string()).collect();
        let distinct: std::collections::HashSet<&str> =
            calls.iter().filter_map(|v| v["event"]["call"].as_str()).collect();
        assert_eq!(distinct.len(), 1, "one call each: {calls:#?}");
    }
    // Device states of the other token's phones never arrive.
    assert!(a.seen.iter().all(|v| v["event"]["event"] != "device_state"
        || ["100", "101"].contains(&v["event"]["device"].as_str().unwrap_or(""))));
}

#[tokio::test]
async fn a_call_between_both_desks_is_seen_whole_by_both() {
    let sim = start_sim(office()).await;
    let gw = start(config(&sim)).await;
    let addr = gw.addrs().tcp.expect("tcp");
    let (mut a, _, _) = Raw::hello(addr, DESK_100, "crm-a").await;
    let (mut b, _, _) = Raw::hello(addr, DESK_102, "crm-b").await;
    sim.place_call("100", "102").expect("call");
    // The other party's connection is part of the call (CSTA call monitoring).
    a.until("102 answers, seen by A", |v| {
        v["event"]["event"] == "established" && v["event"]["device"] == "102"
    })
    .await;
    b.until("102 answers, seen by B", |v| {
        v["event"]["event"] == "established" && v["event"]["device"] == "102"
    })
    .await;
    // A snapshot now: the call with both connections, but only the token's own devices.
    a.send(json!({"type": "snapshot", "id": 9})).await;
    let snap = a.until("the snapshot", |v| v["type"] == "snapshot" && v["id"] == 9).await;
    assert_eq!(ids(&snap["devices"]), ["100", "101"]);
    let conns: Vec<&str> = snap["calls"][0]["connections"]
        .as_array()
        .expect("connections")
        .iter()
        .map(|k| k["device"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(conns.len(), 2, "{snap}");
    assert!(conns.contains(&"100") && conns.contains(&"102"), "{snap}");
    // B's phone's device state is B's business only.
    sim.hangup_ext("100");
    a.until("cleared", |v| v["event"]["event"] == "call_cleared").await;
    b.until("cleared", |v| v["event"]["event"] == "call_cleared").await;
    a.sync(2).await;
    assert!(
        !a.seen.iter().any(|v| v["event"]["event"] == "device_state" && v["event"]["device"] == "102"),
        "{:#?}",
        a.seen
    );
}

#[tokio::test]
async fn commands_on_other_devices_are_not_allowed_and_other_calls_do_not_exist() {
    let sim = start_sim(office()).await;
    let gw = start(config(&sim)).await;
    let addr = gw.addrs().tcp.expect("tcp");
    let (mut a, _, _) = Raw::hello(addr, DESK_100, "crm-a").await;
    let (mut b, _, _) = Raw::hello(addr, DESK_102, "crm-b").await;
    let code = |r: &Value| r["error"]["code"].as_str().unwrap_or("").to_owned();

    let r = a.command(1, json!({"command": "make_call", "from": "102", "to": "103"})).await;
    assert_eq!((r["ok"].clone(), code(&r)), (json!(false), "not_allowed".to_owned()), "{r}");
    // 101 is monitored but not controlled.
    let r = a.command(2, json!({"command": "set_do_not_disturb", "device": "101", "on": true})).await;
    assert_eq!(code(&r), "not_allowed", "{r}");
    // A device that does not exist is refused the same way: nothing is learned.
    let r = a.command(3, json!({"command": "make_call", "from": "999", "to": "100"})).await;
    assert_eq!(code(&r), "not_allowed", "{r}");

    // B's call is, for A, a call that does not exist; the same answer as a made-up id.
    sim.place_call("102", "103").expect("call");
    let ev =
        b.until("103 rings", |v| v["event"]["event"] == "delivered" && v["event"]["device"] == "103").await;
    let call = ev["event"]["call"].as_str().expect("call id").to_owned();
    let r = a.command(4, json!({"command": "clear_connection", "call": call, "device": "100"})).await;
    assert_eq!(code(&r), "unknown_call", "{r}");
    let made_up =
        a.command(5, json!({"command": "clear_connection", "call": "no-such-call", "device": "100"})).await;
    assert_eq!(code(&made_up), "unknown_call", "{made_up}");
    assert_eq!(
        r["error"]["message"].as_str().map(|m| m.replace(&call, "X")),
        made_up["error"]["message"].as_str().map(|m| m.replace("no-such-call", "X"))
    );
    let r = a.command(6, json!({"command": "clear_call", "call": call})).await;
    assert_eq!(code(&r), "unknown_call", "{r}");
    assert!(sim.active_channels() > 0, "B's call goes on");

    // A's own command goes through to the PBX.
    let r = a.command(7, json!({"command": "make_call", "from": "100", "to": "101"})).await;
    assert_eq!(r["ok"], true, "{r}");
    let mine = r["call"].as_str().expect("the new call's id").to_owned();
    a.until("A's phone rings", |v| v["event"]["call"] == mine.as_str() && v["event"]["event"] == "delivered")
        .await;
    // B may not touch it either.
    let r = b.command(1, json!({"command": "clear_call", "call": mine})).await;
    assert_eq!(code(&r), "unknown_call", "{r}");
    // A malformed command gets its own result, not a dropped connection.
    let r = a.command(8, json!({"command": "teleport", "device": "100"})).await;
    assert_eq!(code(&r), "invalid_argument", "{r}");
    let r = a.command(9, json!({"command": "make_call", "from": "100", "to": "1 01"})).await;
    assert_eq!(code(&r), "invalid_argument", "{r}");
    let r = a.command(10, json!({"command": "clear_call", "call": mine})).await;
    assert_eq!(r["ok"], true, "{r}");
}

#[tokio::test]
async fn a_wrong_token_gets_an_error_and_nothing_else() {
    let sim = start_sim(office()).await;
    let gw = start(config(&sim)).await;
    let addr = gw.addrs().tcp.expect("tcp");
    for bad in ["token-desk-100-3f9a1c77e", "token-desk-100-3f9a1c77e2x", "", "TOKEN-DESK-100-3F9A1C77E2"] {
        let mut c = Raw::connect(addr).await;
        c.send(json!({"type": "hello", "version": 1, "token": bad, "client": "guess"})).await;
        let got = c.until_closed().await;
        assert_eq!(got.len(), 2, "{got:#?}");
        assert_eq!(got[0]["type"], "error");
        assert_eq!(got[0]["code"], "auth_failed");
        assert_eq!(got[1]["type"], "bye");
        assert!(
            !got.iter().any(|v| v.to_string().contains(bad) && !bad.is_empty()),
            "the token is not echoed"
        );
    }
    // Anything but hello first is refused too.
    let mut c = Raw::connect(addr).await;
    c.send(json!({"type": "ping", "id": 1})).await;
    let got = c.until_closed().await;
    assert_eq!(got.first().map(|v| v["code"].clone()), Some(json!("protocol")), "{got:#?}");
    let (status, metrics) = common::http_get(gw.addrs().diagnostics.expect("diag"), "/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("ctilink_gateway_auth_failures_total 4\n"), "{metrics}");
    tokio::time::sleep(Duration::from_millis(10)).await;
}
