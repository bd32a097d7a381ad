//! Resync: the model rebuilt from the PBX's lists (CoreShowChannels, ExtensionStateList,
//! DeviceStateList) after connect and reconnect. Checked on a real Asterisk 20 capture
//! taken during a call, and live on the simulator across a link outage.

use std::time::Duration;

use ctilink::ami::{read_capture, Action, AmiClient, AmiConfig, LinkEvent, Message, Subscription};
use ctilink::model::{ConnectionState, Event, ResyncLists, Tracker};
use ctilink_sim::{SimConfig, Simulator};
use ctilink_tests::vectors_dir;
use tokio::time::timeout;

/// The capture's messages, and the list items answering `<stem>-2/3/4`.
fn incall_capture() -> (Vec<Message>, ResyncLists) {
    let data = std::fs::read(vectors_dir().join("ami/asterisk20/state_lists_incall.ami")).expect("capture");
    let cap = read_capture(&data);
    let of = |id: &str, ev: &str| -> Vec<Message> {
        cap.messages.iter().filter(|m| m.action_id() == Some(id) && m.is_event(ev)).cloned().collect()
    };
    let lists = ResyncLists {
        extensions: of("state_lists_incall-2", "ExtensionStatus"),
        devices: of("state_lists_incall-3", "DeviceStateChange"),
        channels: of("state_lists_incall-4", "CoreShowChannel"),
        endpoints: Vec::new(),
    };
    assert_eq!(lists.channels.len(), 2, "the capture lists the two channels of the call");
    // The live events up to the lists: the call is up then (it ends later in the capture).
    let live = cap
        .messages
        .into_iter()
        .take_while(|m| m.action_id() != Some("state_lists_incall-2"))
        .filter(|m| m.action_id().is_none())
        .collect();
    (live, lists)
}

#[test]
fn resync_from_real_lists_finds_the_call_in_progress() {
    let (_, lists) = incall_capture();
    let mut t = Tracker::new();
    let events = t.resync(&lists);
    let kinds: Vec<&str> = events.iter().filter(|e| e.call().is_some()).map(|e| e.kind()).collect();
    assert_eq!(kinds, ["originated", "delivered", "established"], "{events:#?}");
    let Some(Event::Resynced { calls_found, calls_ended, devices_changed }) = events.last() else {
        panic!("Resynced must come last: {events:#?}")
    };
    assert_eq!(calls_found.len(), 1);
    assert!(calls_ended.is_empty());
    assert!(devices_changed.iter().any(|d| d.as_str() == "100"), "{devices_changed:?}");
    let calls = t.calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.id.as_str(), "1795662592.4");
    assert_eq!(call.calling_device.as_ref().map(|d| d.as_str()), Some("101"));
    assert_eq!(call.called.number, "100");
    assert!(call.answered);
    let mut conns: Vec<(&str, ConnectionState)> =
        call.connections.iter().map(|c| (c.device.as_str(), c.state)).collect();
    conns.sort_by_key(|c| c.0);
    assert_eq!(conns, [("100", ConnectionState::Connected), ("101", ConnectionState::Connected)]);
}

#[test]
fn resync_after_following_the_events_reports_no_change() {
    let (live, lists) = incall_capture();
    let mut t = Tracker::new();
    for m in &live {
        t.apply(m);
    }
    assert_eq!(t.open_calls(), 1, "the live events leave the call up");
    let before = t.snapshot();
    let events = t.resync(&lists);
    let call_events: Vec<_> = events.iter().filter(|e| e.call().is_some()).collect();
    assert!(call_events.is_empty(), "nothing changed, nothing to report: {call_events:#?}");
    assert!(matches!(events.last(), Some(Event::Resynced { calls_found, calls_ended, .. })
        if calls_found.is_empty() && calls_ended.is_empty()));
    assert_eq!(t.snapshot().calls, before.calls);
}

#[test]
fn resync_with_the_call_gone_clears_the_ghost() {
    let (_, lists) = incall_capture();
    let mut t = Tracker::new();
    t.resync(&lists);
    let id = t.calls()[0].id.clone();
    let events = t.resync(&ResyncLists::default());
    let kinds: Vec<&str> = events.iter().map(|e| e.kind()).collect();
    assert_eq!(
        kinds,
        ["connection_cleared", "connection_cleared", "call_cleared", "resynced"],
        "{events:#?}"
    );
    assert!(matches!(events.last(), Some(Event::Resynced { calls_ended, .. }) if calls_ended == &vec![id]));
    assert_eq!(t.open_calls(), 0);
}

async fn lists(client: &AmiClient) -> ResyncLists {
    let items = |r: ctilink::ami::ListResponse| r.items;
    ResyncLists {
        channels: items(client.send_list(Action::core_show_channels()).await.expect("CoreShowChannels")),
        extensions: items(
            client.send_list(Action::extension_state_list()).await.expect("ExtensionStateList"),
        ),
        devices: items(client.send_list(Action::device_state_list()).await.expect("DeviceStateList")),
        endpoints: Vec::new(),
    }
}

async fn wait_for(sub: &mut Subscription, t: &mut Tracker, pred: impl Fn(&Event) -> bool) {
    timeout(Duration::from_secs(5), async {
        loop {
            if let Some(LinkEvent::Event(m)) = sub.recv().await {
                if t.apply(&m).iter().any(&pred) {
                    return;
                }
            }
        }
    })
    .await
    .expect("event in time");
}

#[tokio::test]
async fn resync_on_the_simulator_across_an_outage() {
    let cfg = SimConfig {
        extensions: SimConfig::extension_range(100, 109),
        answer_delay: Duration::from_millis(50),
        ..SimConfig::default()
    };
    let sim = Simulator::start(cfg, "127.0.0.1:0".parse().expect("addr")).await.expect("sim");
    // A call is up before the application connects.
    sim.place_call("100", "101").expect("call");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (client, mut sub) =
        AmiClient::connect_subscribed(AmiConfig::from_url(&sim.url()).expect("url")).await.expect("connect");
    let mut t = Tracker::new();
    let events = t.resync(&lists(&client).await);
    assert!(
        matches!(events.last(), Some(Event::Resynced { calls_found, .. }) if calls_found.len() == 1),
        "{events:#?}"
    );
    assert_eq!(t.open_calls(), 1);
    assert!(t.device("101").is_some(), "devices come from the state lists");

    // While "the link is down" (events not applied), the call ends and another starts.
    sim.hangup_all();
    sim.place_call("102", "103").expect("second call");
    tokio::time::sleep(Duration::from_millis(200)).await;
    while sub.try_recv().is_some() {}
    let events = t.resync(&lists(&client).await);
    let Some(Event::Resynced { calls_found, calls_ended, .. }) = events.last() else { panic!("{events:#?}") };
    assert_eq!((calls_found.len(), calls_ended.len()), (1, 1), "{events:#?}");
    assert!(events.iter().any(|e| matches!(e, Event::CallCleared { .. })));
    assert_eq!(t.open_calls(), 1);
    let now = &t.calls()[0];
    assert_eq!(now.calling_device.as_ref().map(|d| d.as_str()), Some("102"));

    // And the model keeps following live events after the resync.
    sim.hangup_all();
    wait_for(&mut sub, &mut t, |e| matches!(e, Event::CallCleared { .. })).await;
    assert_eq!(t.open_calls(), 0);
    client.close().await;
    sim.shutdown().await;
}
