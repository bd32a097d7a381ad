//! One gateway for two PBXs (two simulators with the same extensions): clients see
//! `PBX/DEVICE` and `PBX/CALLID`, commands reach the PBX their ids name, a token limited
//! to `berlin/*` sees nothing of hamburg, and one PBX's link dropping resyncs that PBX's
//! part of the clients' models only. A single `[[pbx]]` keeps the ids of one PBX.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{config, devices_named, office, start, start_sim, token, Raw, SUPERVISOR};
use ctilink::{Event, Session};
use ctilink_gateway::config::PbxConfig;
use ctilink_gateway::{Config, StartError};
use ctilink_sim::SimHandle;
use serde_json::{json, Value};

const BERLIN_DESK: &str = "token-berlin-desk-7d2c9a41e0";
const OPERATOR: &str = "token-operator-all-0b5f3e8c21";

fn kind(v: &Value) -> &str {
    v["event"]["event"].as_str().unwrap_or("")
}

fn pbx(id: &str, sim: &SimHandle) -> PbxConfig {
    PbxConfig {
        id: Some(id.into()),
        url: Some(format!("{}&reconnect_ms=100", sim.session_url()).into()),
        url_env: None,
    }
}

/// Berlin and hamburg; the supervisor sees all, the operator sees and acts for all, the
/// berlin desk sees and acts for berlin's devices only.
fn two(berlin: &SimHandle, hamburg: &SimHandle) -> Config {
    let mut c = config(berlin);
    c.pbx = PbxConfig::default();
    c.pbxs = vec![pbx("berlin", berlin), pbx("hamburg", hamburg)];
    c.tokens = vec![
        token(SUPERVISOR, "supervisor", &["*"], &[], true),
        token(OPERATOR, "operator", &["*"], &["*"], false),
        // berlin/100 twice over: once by itself, once by berlin/*.
        token(BERLIN_DESK, "berlin-desk", &["berlin/*", "berlin/100"], &["berlin/*"], false),
    ];
    c
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array().expect("array").iter().map(|d| d["id"].as_str().expect("id").to_owned()).collect()
}

fn code(r: &Value) -> String {
    r["error"]["code"].as_str().unwrap_or("").to_owned()
}

#[tokio::test]
async fn both_pbxs_devices_and_calls_arrive_prefixed_and_commands_reach_their_pbx() {
    let berlin = start_sim(office()).await;
    let hamburg = start_sim(office()).await;
    let gw = start(two(&berlin, &hamburg)).await;
    let addr = gw.addrs().tcp.expect("tcp");
    let (mut op, _, snap) = Raw::hello(addr, OPERATOR, "operator").await;
    let devices = ids(&snap["devices"]);
    let want: Vec<String> =
        ["berlin", "hamburg"].iter().flat_map(|p| (100..=109).map(move |n| format!("{p}/{n}"))).collect();
    assert_eq!(devices, want, "{snap}");

    let r = op.command(1, json!({"command": "make_call", "from": "berlin/100", "to": "101"})).await;
    assert_eq!(r["ok"], true, "{r}");
    let b_call = r["call"].as_str().expect("call id").to_owned();
    assert!(b_call.starts_with("berlin/"), "{b_call}");
    let r = op.command(2, json!({"command": "make_call", "from": "hamburg/102", "to": "103"})).await;
    assert_eq!(r["ok"], true, "{r}");
    let h_call = r["call"].as_str().expect("call id").to_owned();
    assert!(h_call.starts_with("hamburg/"), "{h_call}");
    for (call, device) in [(&b_call, "berlin/101"), (&h_call, "hamburg/103")] {
        op.until("the called phone answers", |v| {
            kind(v) == "established" && v["event"]["call"] == call.as_str() && v["event"]["device"] == device
        })
        .await;
    }
    // Each PBX holds its own call, and only it.
    assert!(berlin.truth().channels.iter().any(|c| c.ext == "101"), "{:?}", berlin.truth());
    assert!(!berlin.truth().channels.iter().any(|c| c.ext == "103"), "{:?}", berlin.truth());
    assert!(hamburg.truth().channels.iter().any(|c| c.ext == "103"), "{:?}", hamburg.truth());
    // Every id the client was told carries a PBX.
    op.sync(3).await;
    for d in op.seen.iter().flat_map(devices_named) {
        assert!(d.starts_with("berlin/") || d.starts_with("hamburg/"), "{d}");
    }
    for v in &op.seen {
        if let Some(c) = v["event"]["call"].as_str() {
            assert!(c == b_call || c == h_call, "{v}");
        }
    }
    // An id without a PBX, or of a PBX not configured, is unknown as on one PBX.
    let r = op.command(4, json!({"command": "make_call", "from": "100", "to": "101"})).await;
    assert_eq!(code(&r), "unknown_device", "{r}");
    let r = op.command(5, json!({"command": "make_call", "from": "paris/100", "to": "101"})).await;
    assert_eq!(code(&r), "unknown_device", "{r}");
    let bare = h_call.trim_start_matches("hamburg/");
    let r = op.command(6, json!({"command": "clear_call", "call": bare})).await;
    assert_eq!(code(&r), "unknown_call", "{r}");
    // A call of one PBX named with the other's prefix does not exist there.
    let r = op.command(7, json!({"command": "clear_call", "call": format!("berlin/{bare}")})).await;
    assert_eq!(code(&r), "unknown_call", "{r}");
    let r = op.command(8, json!({"command": "clear_call", "call": h_call})).await;
    assert_eq!(r["ok"], true, "{r}");
    let ended = |v: &Value| kind(v) == "call_cleared" && v["event"]["call"] == h_call.as_str();
    // The result may follow the events it caused.
    if !op.seen.iter().any(ended) {
        op.until("hamburg's call ends", ended).await;
    }
    assert!(berlin.active_channels() > 0, "berlin's call goes on");
}

#[tokio::test]
async fn a_token_for_one_pbx_sees_nothing_of_the_other() {
    let berlin = start_sim(office()).await;
    let hamburg = start_sim(office()).await;
    let gw = start(two(&berlin, &hamburg)).await;
    let addr = gw.addrs().tcp.expect("tcp");
    let (mut desk, welcome, snap) = Raw::hello(addr, BERLIN_DESK, "berlin-desk").await;
    assert_eq!(welcome["monitor"], json!(["berlin/*", "berlin/100"]));
    let devices = ids(&snap["devices"]);
    assert_eq!(devices.len(), 10, "{snap}");
    assert!(devices.iter().all(|d| d.starts_with("berlin/")), "{snap}");

    let (mut op, _, _) = Raw::hello(addr, OPERATOR, "operator").await;
    hamburg.place_call("100", "101").expect("hamburg's call");
    berlin.place_call("102", "103").expect("berlin's call");
    desk.until("berlin's call is answered", |v| {
        kind(v) == "established" && v["event"]["device"] == "berlin/103"
    })
    .await;
    let h = op.until("hamburg's call, seen by the operator", |v| {
        kind(v) == "established" && v["event"]["device"] == "hamburg/101"
    });
    let h_call = h.await["event"]["call"].as_str().expect("call").to_owned();

    let r = desk.command(1, json!({"command": "make_call", "from": "hamburg/100", "to": "101"})).await;
    assert_eq!(code(&r), "not_allowed", "{r}");
    let r =
        desk.command(2, json!({"command": "set_do_not_disturb", "device": "hamburg/100", "on": true})).await;
    assert_eq!(code(&r), "not_allowed", "{r}");
    let r = desk.command(3, json!({"command": "clear_call", "call": h_call})).await;
    assert_eq!(code(&r), "unknown_call", "{r}");
    assert!(hamburg.active_channels() > 0, "hamburg's call goes on");
    let r =
        desk.command(4, json!({"command": "set_do_not_disturb", "device": "berlin/100", "on": true})).await;
    assert_eq!(r["ok"], true, "{r}");
    let dnd = |v: &Value| kind(v) == "do_not_disturb" && v["event"]["device"] == "berlin/100";
    if !desk.seen.iter().any(dnd) {
        desk.until("berlin/100's DND", dnd).await;
    }
    desk.sync(10).await;
    assert_eq!(desk.seen.iter().filter(|v| dnd(v)).count(), 1, "one event, however many entries cover it");
    hamburg.hangup_all();
    op.until("hamburg's call ends", |v| kind(v) == "call_cleared").await;
    desk.send(json!({"type": "snapshot", "id": 9})).await;
    desk.until("a fresh snapshot", |v| v["type"] == "snapshot" && v["id"] == 9).await;
    // Results echo the ids the client itself sent; everything else is the gateway's.
    let told: Vec<&Value> = desk.seen.iter().filter(|v| v["type"] != "result").collect();
    let everything = serde_json::to_string(&told).expect("JSON");
    assert!(!everything.contains("hamburg"), "hamburg leaked: {:#?}", desk.seen);
    assert!(!everything.contains(&h_call), "{:#?}", desk.seen);
}

#[tokio::test]
async fn one_pbx_dropping_resyncs_its_part_and_the_other_pbxs_calls_stay() {
    let berlin = start_sim(office()).await;
    let hamburg = start_sim(office()).await;
    let gw = start(two(&berlin, &hamburg)).await;
    let addr = gw.addrs().tcp.expect("tcp");
    let (mut sup, _, _) = Raw::hello(addr, SUPERVISOR, "supervisor").await;
    let session = Session::connect(&format!("ctilink://{OPERATOR}@{addr}"))
        .await
        .expect("a session through the gateway");
    let mut events = session.events();
    berlin.place_call("100", "101").expect("berlin's call");
    hamburg.place_call("102", "103").expect("hamburg's call");
    let b_call =
        sup.until("berlin's call", |v| kind(v) == "established" && v["event"]["device"] == "berlin/101");
    let b_call = b_call.await["event"]["call"].as_str().expect("call").to_owned();
    let h_call =
        sup.until("hamburg's call", |v| kind(v) == "established" && v["event"]["device"] == "hamburg/103");
    let h_call = h_call.await["event"]["call"].as_str().expect("call").to_owned();
    let mark = sup.seen.len();

    hamburg.drop_connections();
    // Hamburg's call ends while the gateway cannot see it.
    hamburg.hangup_all();
    let down = sup.until("link_down", |v| kind(v) == "link_down").await;
    let reason = down["event"]["reason"].as_str().expect("reason");
    assert!(reason.starts_with("hamburg: "), "the reason names the PBX: {reason}");
    sup.until("link_up", |v| kind(v) == "link_up").await;
    let done = sup.until("resynced", |v| kind(v) == "resynced").await;
    assert_eq!(done["event"]["calls_ended"], json!([h_call]), "{done}");
    assert_eq!(done["event"]["calls_found"], json!([]), "{done}");
    for d in done["event"]["devices_changed"].as_array().expect("list") {
        assert!(d.as_str().is_some_and(|d| d.starts_with("hamburg/")), "{done}");
    }
    let during = &sup.seen[mark..];
    assert!(
        during.iter().any(|v| kind(v) == "call_cleared" && v["event"]["call"] == h_call.as_str()),
        "{during:#?}"
    );
    for v in during {
        assert!(v["event"]["call"] != b_call.as_str(), "berlin's call was touched: {v}");
        assert!(devices_named(v).iter().all(|d| d.starts_with("hamburg/")), "berlin was touched: {v}");
        assert!(kind(v) != "device_removed", "{v}");
    }
    sup.send(json!({"type": "snapshot", "id": 7})).await;
    let snap = sup.until("a snapshot after the resync", |v| v["type"] == "snapshot" && v["id"] == 7).await;
    assert_eq!(ids(&snap["devices"]).len(), 20, "{snap}");
    assert_eq!(ids(&snap["calls"]), [b_call.as_str()], "{snap}");

    // A session through the gateway keeps berlin's call in its model across the same.
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(ev) = events.next().await {
            if matches!(ev, Event::Resynced { .. }) {
                break;
            }
        }
    })
    .await
    .expect("the session sees the resync");
    let model = session.snapshot();
    let calls: HashSet<&str> = model.calls.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(calls, HashSet::from([b_call.as_str()]), "{model:#?}");
    assert_eq!(model.devices.len(), 20);
    // Both PBXs take commands again.
    let c = session.make_call("hamburg/104", "105").await.expect("hamburg after its resync");
    assert!(c.as_str().starts_with("hamburg/"), "{c}");
    let c = session.make_call("berlin/106", "107").await.expect("berlin throughout");
    assert!(c.as_str().starts_with("berlin/"), "{c}");
}

#[tokio::test]
async fn a_pbx_that_refuses_the_login_stops_the_start_and_is_named() {
    let berlin = start_sim(office()).await;
    let hamburg = start_sim(office()).await;
    let mut cfg = two(&berlin, &hamburg);
    let wrong = format!("ami://admin:Wr0ng-S3cret-77@{}?control=pjsip&reconnect=0", hamburg.addr());
    cfg.pbxs[1].url = Some(wrong.into());
    let e = ctilink_gateway::Gateway::start(cfg).await.expect_err("hamburg refuses the login");
    assert!(
        matches!(&e, StartError::PbxOf { pbx, source: ctilink::Error::AuthFailed(_) } if pbx == "hamburg"),
        "{e:?}"
    );
    let shown = e.to_string();
    assert!(shown.starts_with("PBX hamburg: "), "{shown}");
    assert!(!shown.contains("Wr0ng-S3cret-77"), "{shown}");
    assert!(!format!("{e:?}").contains("Wr0ng-S3cret-77"), "{e:?}");
    assert_eq!(hamburg.failed_logins(), 1);
}

#[tokio::test]
async fn a_single_pbx_table_in_the_list_form_keeps_plain_ids() {
    let berlin = start_sim(office()).await;
    let mut cfg = config(&berlin);
    cfg.pbx = PbxConfig::default();
    cfg.pbxs = vec![pbx("berlin", &berlin)];
    let gw = start(cfg).await;
    let addr = gw.addrs().tcp.expect("tcp");
    let (mut sup, _, snap) = Raw::hello(addr, SUPERVISOR, "supervisor").await;
    let want: Vec<String> = (100..=109).map(|n| n.to_string()).collect();
    assert_eq!(ids(&snap["devices"]), want, "{snap}");
    berlin.place_call("100", "101").expect("a call");
    let ev = sup.until("answered", |v| kind(v) == "established").await;
    assert_eq!(ev["event"]["device"], "101", "{ev}");
    assert!(!ev["event"]["call"].as_str().expect("call").contains('/'), "{ev}");
}
