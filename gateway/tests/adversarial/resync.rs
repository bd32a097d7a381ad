//! Finding 6: devices that no longer exist survived a resync. A PBX restarted with other
//! extensions: after `resynced` the gateway's snapshot still listed the old devices, while
//! a session connected afresh showed the new truth. Now the resync removes them, reports
//! each as `device_removed` before `resynced` (to whoever monitors the device), and the
//! gateway's snapshot, each client's and a direct session's agree with the PBX.

use std::collections::BTreeSet;
use std::time::Duration;

use ctilink::{Event, Session};
use ctilink_sim::SimConfig;
use serde_json::{json, Value};

use crate::common::{config, office, start, start_sim, Raw, DESK_100, SUPERVISOR};

fn kind(v: &Value) -> &str {
    v["event"]["event"].as_str().unwrap_or("")
}

/// The device ids of a snapshot message.
fn ids(snapshot: &Value) -> BTreeSet<String> {
    snapshot["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .filter_map(|d| d["id"].as_str().map(str::to_owned))
        .collect()
}

fn range(first: u32, last: u32) -> BTreeSet<String> {
    (first..=last).map(|n| n.to_string()).collect()
}

/// The devices of the `device_removed` events a client got before `resynced`.
fn removed(c: &Raw) -> BTreeSet<String> {
    c.seen
        .iter()
        .filter(|v| kind(v) == "device_removed")
        .filter_map(|v| v["event"]["device"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_pbx_restarted_with_other_extensions_leaves_no_ghost_device_behind() {
    let _turn = crate::serial().await;
    let sim = start_sim(SimConfig { extensions: SimConfig::extension_range(100, 199), ..office() }).await;
    let gw = start(config(&sim)).await;
    let addr = gw.addrs().tcp.expect("tcp");
    let (mut sup, _, snap) = Raw::hello(addr, SUPERVISOR, "supervisor").await;
    assert_eq!(ids(&snap), range(100, 199));
    let (mut desk, _, snap) = Raw::hello(addr, DESK_100, "desk").await;
    assert_eq!(ids(&snap), range(100, 101));
    let gw_ids = |gw: &ctilink_gateway::Gateway| -> BTreeSet<String> {
        gw.snapshot().devices.iter().map(|d| d.id.to_string()).collect()
    };
    let before = gw_ids(&gw);
    assert_eq!(before, range(100, 199));
    // A client of the gateway through the SDK (`ctilink://`): its model is a mirror of the
    // events.
    let client = Session::connect(&format!("ctilink://{SUPERVISOR}@{addr}")).await.expect("ctilink://");
    let mut client_events = client.events();

    // Renumbered: 150-199 stay, 200-249 are new, 100-149 (the desk's 100 and 101 among
    // them) are gone.
    sim.restart(SimConfig::extension_range(150, 249)).expect("restart");

    let done = sup.until("the supervisor's resynced", |v| kind(v) == "resynced").await;
    let after = gw_ids(&gw);
    println!(
        "gateway snapshot: {} devices before the restart, {} after ({} of the 50 vanished, {} of the 50 new)",
        before.len(),
        after.len(),
        after.intersection(&range(100, 149)).count(),
        after.intersection(&range(200, 249)).count(),
    );
    assert_eq!(after, range(150, 249), "the gateway's snapshot lists exactly the new devices");
    assert_eq!(removed(&sup), range(100, 149), "one device_removed per vanished device");
    let changed: BTreeSet<String> = done["event"]["devices_changed"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|d| d.as_str().map(str::to_owned))
        .collect();
    assert!(changed.is_superset(&range(100, 149)), "removals are changes: {changed:?}");
    assert!(changed.is_superset(&range(200, 249)), "the new devices are changes: {changed:?}");

    let done = desk.until("the desk's resynced", |v| kind(v) == "resynced").await;
    assert_eq!(removed(&desk), range(100, 101), "the desk only hears of its own devices");
    assert!(
        !desk
            .seen
            .iter()
            .any(|v| v["event"]["device"].as_str().is_some_and(|d| !["100", "101"].contains(&d))),
        "nothing about devices the desk does not monitor: {:#?}",
        desk.seen
    );
    assert_eq!(done["event"]["devices_changed"], json!(["100", "101"]), "{done}");

    sup.send(json!({"type": "snapshot", "id": 7})).await;
    let snap = sup.until("the supervisor's snapshot", |v| v["type"] == "snapshot" && v["id"] == 7).await;
    assert_eq!(ids(&snap), range(150, 249));
    desk.send(json!({"type": "snapshot", "id": 8})).await;
    let snap = desk.until("the desk's snapshot", |v| v["type"] == "snapshot" && v["id"] == 8).await;
    assert!(ids(&snap).is_empty(), "the desk's devices are gone: {snap}");

    // The SDK's client of the gateway dropped them too.
    let mut seen = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(ev) = client_events.next().await {
            let done = matches!(ev, Event::Resynced { .. });
            seen.push(ev);
            if done {
                break;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the ctilink:// session saw no resynced: {seen:#?}"));
    let client_removed: BTreeSet<String> = seen
        .iter()
        .filter_map(|e| match e {
            Event::DeviceRemoved { device } => Some(device.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(client_removed, range(100, 149));
    // Ids and states: a mirror knows a device's interface only from a snapshot, and the new
    // devices came as events (docs/gateway.md, "The mirror").
    let brief = |s: ctilink::Snapshot| -> Vec<(String, ctilink::DeviceState)> {
        s.devices.into_iter().map(|d| (d.id.to_string(), d.state)).collect()
    };
    assert_eq!(brief(client.snapshot()), brief(gw.snapshot()));

    // A session connected to the PBX directly sees the same devices.
    let direct = Session::connect(&sim.session_url()).await.expect("direct session");
    assert_eq!(direct.snapshot().devices, gw.snapshot().devices, "the gateway agrees with the PBX");
    direct.close().await;
    client.close().await;
    gw.shutdown("done").await;
}
