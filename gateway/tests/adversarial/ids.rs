//! Finding 3: a `make_call` id chosen by the client could be the Uniqueid of a leg of
//! someone else's call; the foreign call then showed a third party and other clients'
//! view of it was corrupted. Caller-chosen ids now carry a reserved prefix and are
//! checked against every live channel.

use serde_json::{json, Value};

use crate::common::{config, office, start, start_sim, Raw, DESK_100, DESK_102, SUPERVISOR};

fn code(r: &Value) -> String {
    r["error"]["code"].as_str().unwrap_or("").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chosen_id_cannot_take_a_foreign_channel_or_call() {
    let _turn = crate::serial().await;
    let sim = start_sim(office()).await;
    let gw = start(config(&sim)).await;
    let addr = gw.addrs().tcp.expect("tcp");
    let (mut a, _, _) = Raw::hello(addr, DESK_100, "attacker").await;
    let (mut b, _, _) = Raw::hello(addr, DESK_102, "victim").await;
    let (mut sup, _, _) = Raw::hello(addr, SUPERVISOR, "wallboard").await;
    // B's call, 102 to 103, answered.
    let r = b.command(1, json!({"command": "make_call", "from": "102", "to": "103"})).await;
    assert_eq!(r["ok"], true, "{r}");
    let call = r["call"].as_str().expect("the call id").to_owned();
    sup.until("both connected", |v| {
        v["event"]["event"] == "established" && v["event"]["call"] == call.as_str()
    })
    .await;
    // The callee's leg of B's call: the PBX names it, as a real Asterisk does (an
    // Originate's `OtherChannelId` goes only to a Local channel's second half), so it
    // cannot be chosen at all.
    let truth = sim.truth();
    let leg = truth.channels.iter().find(|c| c.ext == "103").expect("103's leg").uniqueid.clone();
    assert_ne!(leg, call);
    let r = a.command(2, json!({"command": "make_call", "from": "100", "to": "101", "id": leg})).await;
    assert_eq!((r["ok"].clone(), code(&r)), (json!(false), "invalid_argument".to_owned()), "{r}");
    // An id some live call holds is refused too.
    let r = a.command(3, json!({"command": "make_call", "from": "100", "to": "101", "id": call})).await;
    assert_eq!((r["ok"].clone(), code(&r)), (json!(false), "not_allowed".to_owned()), "{r}");
    // A call the PBX made itself (a phone dialing): its legs' ids are the PBX's, without
    // the prefix, and cannot be chosen at all, now or before the PBX makes them.
    sim.place_call("104", "105").expect("call");
    sup.until("105 rings", |v| v["event"]["event"] == "delivered" && v["event"]["device"] == "105").await;
    let truth = sim.truth();
    let pbx_leg = truth.channels.iter().find(|c| c.ext == "105").expect("105's leg").uniqueid.clone();
    assert!(!pbx_leg.starts_with("ctilink"), "the PBX named it: {pbx_leg}");
    let (secs, seq) = pbx_leg.rsplit_once('.').expect("seconds.sequence");
    let next = format!("{secs}.{}", seq.parse::<u64>().expect("a sequence") + 1);
    for id in [pbx_leg.as_str(), next.as_str()] {
        let r = a.command(4, json!({"command": "make_call", "from": "100", "to": "101", "id": id})).await;
        assert_eq!((r["ok"].clone(), code(&r)), (json!(false), "invalid_argument".to_owned()), "{id}: {r}");
    }
    sim.hangup_ext("104");
    // B's call is as it was for everyone: two parties, the same ids.
    sup.until("104's call cleared", |v| {
        v["event"]["event"] == "call_cleared" && v["event"]["call"] != call.as_str()
    })
    .await;
    sup.send(json!({"type": "snapshot", "id": 4})).await;
    let snap = sup.until("the snapshot", |v| v["type"] == "snapshot" && v["id"] == 4).await;
    let calls = snap["calls"].as_array().expect("calls");
    assert_eq!(calls.len(), 1, "{snap}");
    assert_eq!(calls[0]["id"], call.as_str());
    let parties: Vec<&str> = calls[0]["connections"]
        .as_array()
        .expect("connections")
        .iter()
        .filter_map(|c| c["device"].as_str())
        .collect();
    assert_eq!(parties, ["102", "103"], "{snap}");
    // A's own call with an id of its own choosing goes through under that id.
    let mine = "ctilink-crm-4711";
    let r = a.command(5, json!({"command": "make_call", "from": "100", "to": "101", "id": mine})).await;
    assert_eq!((r["ok"].clone(), r["call"].clone()), (json!(true), json!(mine)), "{r}");
    a.until("100 rings under that id", |v| v["event"]["call"] == mine && v["event"]["device"] == "100").await;
}
