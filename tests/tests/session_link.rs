//! The Session when the link misbehaves: a command never hangs when the PBX stalls or
//! the link drops under it; a reconnect brings `LinkDown`, `LinkUp` and `Resynced`, and
//! the model afterwards is the PBX's truth.

use std::collections::BTreeMap;
use std::time::Duration;

use ctilink::ami::ReconnectPolicy;
use ctilink::{ConnectionState, DeviceState, Error, Event, LinkStatus, Session, SessionOptions};
use ctilink_sim::SimHandle;
use ctilink_tests::live::{fast_office, is, start_sim, Watch};

fn options(sim: &SimHandle, timeout_ms: u64) -> SessionOptions {
    let mut o = SessionOptions::from_url(&format!("{}?control=pjsip&timeout_ms={timeout_ms}", sim.url()))
        .expect("url");
    o.set_reconnect(ReconnectPolicy {
        enabled: true,
        initial: Duration::from_millis(50),
        max: Duration::from_millis(200),
        max_attempts: None,
        ..ReconnectPolicy::default()
    });
    o
}

#[tokio::test]
async fn a_stalled_pbx_gives_a_timeout_not_a_hang() {
    let sim = start_sim(fast_office()).await;
    let s = Session::connect_with(options(&sim, 300)).await.expect("connect");
    sim.stall(Duration::from_secs(2));
    let r = tokio::time::timeout(Duration::from_secs(5), s.make_call("100", "101")).await;
    assert!(matches!(r, Ok(Err(Error::Timeout(_)))), "{r:?}");
}

#[tokio::test]
async fn a_link_drop_during_a_command_is_a_typed_error_and_commands_fail_fast_while_down() {
    let sim = start_sim(fast_office()).await;
    let s = Session::connect_with(options(&sim, 3000)).await.expect("connect");
    let mut w = Watch::new(&s);
    // The PBX stops answering; the command is in flight when the link drops.
    sim.stall(Duration::from_secs(1));
    let pending = {
        let s = s.clone();
        tokio::spawn(async move { s.make_call("100", "101").await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    sim.drop_connections();
    let r = tokio::time::timeout(Duration::from_secs(5), pending).await.expect("no hang").expect("task");
    assert!(matches!(r, Err(Error::LinkDown)), "{r:?}");
    w.until("link down", |e| matches!(e, Event::LinkDown { .. })).await;
    // While down (or just back), a command is either refused at once or works; it never hangs.
    let r = tokio::time::timeout(Duration::from_secs(5), s.clear_call("x")).await.expect("no hang");
    assert!(matches!(r, Err(Error::UnknownCall(_)) | Err(Error::LinkDown)), "{r:?}");
    w.until("resynced", |e| matches!(e, Event::Resynced { .. })).await;
    assert_eq!(s.status(), LinkStatus::Up);
    s.make_call("100", "101").await.expect("works again after the reconnect");
}

/// The PBX's calls as maps of device to connection state, and the model's, comparable.
fn truth_calls(sim: &SimHandle) -> Vec<BTreeMap<String, String>> {
    let t = sim.truth();
    let mut by_linkedid: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for ch in &t.channels {
        let state = match (ch.state.as_str(), ch.held) {
            (_, true) => ConnectionState::Held,
            ("Ringing", _) => ConnectionState::Alerting,
            // A calling phone that dials (Asterisk's `Ring`) is connected in CSTA terms.
            ("Up" | "Ring", _) => ConnectionState::Connected,
            _ => ConnectionState::Initiated,
        };
        by_linkedid.entry(ch.linkedid.clone()).or_default().insert(ch.ext.clone(), format!("{state:?}"));
    }
    let mut v: Vec<_> = by_linkedid.into_values().collect();
    v.sort();
    v
}

fn model_calls(s: &Session) -> Vec<BTreeMap<String, String>> {
    let mut v: Vec<BTreeMap<String, String>> = s
        .snapshot()
        .calls
        .iter()
        .map(|c| c.connections.iter().map(|k| (k.device.to_string(), format!("{:?}", k.state))).collect())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn after_a_reconnect_the_snapshot_equals_the_pbx() {
    let sim = start_sim(fast_office()).await;
    let s = Session::connect_with(options(&sim, 3000)).await.expect("connect");
    let mut w = Watch::new(&s);
    sim.place_call("100", "101").expect("call 1");
    w.until("101 answers", |e| is(e, "established", "101")).await;
    sim.place_call("102", "108").expect("call 2 rings on");
    w.until("108 rings", |e| is(e, "delivered", "108")).await;

    // While the link is down, call 1 ends and call 3 starts: the model must catch up.
    sim.stall(Duration::from_millis(600));
    sim.drop_connections();
    w.until("link down", |e| matches!(e, Event::LinkDown { .. })).await;
    sim.hangup_ext("101");
    sim.place_call("103", "104").expect("call 3");
    let ev = w.until("resynced", |e| matches!(e, Event::Resynced { .. })).await;
    let Event::Resynced { calls_ended, .. } = &ev else { unreachable!() };
    assert_eq!(calls_ended.len(), 1, "call 1 ended while down: {ev:?}");
    let kinds: Vec<&str> = w.seen.iter().map(Event::kind).collect();
    let down = kinds.iter().position(|k| *k == "link_down");
    let up = kinds.iter().position(|k| *k == "link_up");
    let resynced = kinds.iter().rposition(|k| *k == "resynced");
    assert!(down < up && up < resynced, "{kinds:?}");
    // Let call 3 settle, then compare with the simulator's own state.
    w.until("104 answers", |e| is(e, "established", "104")).await;
    assert_eq!(model_calls(&s), truth_calls(&sim));
    for d in sim.truth().devices {
        let mine = s.device(&d.ext).map(|x| x.state);
        assert_eq!(mine, Some(DeviceState::from_device_state(&d.state)), "device {}", d.ext);
    }
}

#[tokio::test]
async fn a_pbx_restarted_with_other_extensions_reports_the_devices_gone_and_drops_them() {
    let sim = start_sim(fast_office()).await;
    let s = Session::connect_with(options(&sim, 3000)).await.expect("connect");
    let mut w = Watch::new(&s);
    sim.place_call("100", "101").expect("call");
    w.until("101 answers", |e| is(e, "established", "101")).await;

    // Renumbered: 104-109 stay, 110-113 are new, 100-103 are gone (the call with them).
    sim.restart(ctilink_sim::SimConfig::extension_range(104, 113)).expect("restart");
    let ev = w.until("resynced", |e| matches!(e, Event::Resynced { .. })).await;
    let up = w.seen.iter().rposition(|e| matches!(e, Event::LinkUp { .. })).expect("link up");
    let after: Vec<&Event> = w.seen[up..].iter().collect();
    let removed: Vec<&str> = after
        .iter()
        .filter_map(|e| match e {
            Event::DeviceRemoved { device } => Some(device.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(removed, ["100", "101", "102", "103"], "{after:#?}");
    let cleared = after.iter().position(|e| e.kind() == "call_cleared").expect("the call is cleared");
    let first_removed = after.iter().position(|e| e.kind() == "device_removed").expect("removals");
    assert!(cleared < first_removed, "the call goes first, then its devices: {after:#?}");
    let Event::Resynced { devices_changed, calls_ended, .. } = &ev else { unreachable!() };
    assert_eq!(calls_ended.len(), 1);
    for d in &removed {
        assert!(devices_changed.iter().any(|c| c.as_str() == *d), "{d} in {devices_changed:?}");
    }
    let mine: Vec<String> = s.snapshot().devices.iter().map(|d| d.id.to_string()).collect();
    let truth: Vec<String> = sim.truth().devices.into_iter().map(|d| d.ext).collect();
    assert_eq!(mine, truth, "the snapshot is the new PBX's phones");
    assert!(s.device("100").is_none());
    assert!(s.snapshot().calls.is_empty());
}

#[tokio::test]
async fn do_not_disturb_and_forwarding_survive_a_reconnect() {
    let sim = start_sim(fast_office()).await;
    let mut o = options(&sim, 3000);
    o.control.astdb = Some(ctilink::AstDbConvention::Ctilink);
    let s = Session::connect_with(o).await.expect("connect");
    let mut w = Watch::new(&s);
    s.set_do_not_disturb("104", true).await.expect("dnd");
    s.set_forwarding("105", ctilink::ForwardKind::Immediate, Some("106")).await.expect("cfu");
    s.set_forwarding("105", ctilink::ForwardKind::Busy, Some("107")).await.expect("cfb");
    w.until("cfb", |e| matches!(e, Event::Forwarding { kind: ctilink::ForwardKind::Busy, .. })).await;
    sim.drop_connections();
    w.until("resynced", |e| matches!(e, Event::Resynced { .. })).await;
    let d104 = s.device("104").expect("104");
    assert!(d104.do_not_disturb, "{d104:?}");
    let d105 = s.device("105").expect("105");
    assert_eq!((d105.forward_to.as_deref(), d105.forward_busy.as_deref()), (Some("106"), Some("107")));
}

/// Forwarding changed while the link was down (from the phone, or another client) is read
/// back from the AstDB on reconnect.
#[tokio::test]
async fn forwarding_changed_while_down_is_read_back() {
    let sim = start_sim(fast_office()).await;
    let mut o = options(&sim, 3000);
    o.control.astdb = Some(ctilink::AstDbConvention::Ctilink);
    let s = Session::connect_with(o).await.expect("connect");
    let mut w = Watch::new(&s);
    s.set_forwarding("105", ctilink::ForwardKind::Immediate, Some("106")).await.expect("cfu");
    w.until("cfu", |e| matches!(e, Event::Forwarding { .. })).await;
    // The administrator rotates the AMI secret: our session is locked out, so it cannot
    // see the UserEvents of what another client changes meanwhile.
    sim.set_secret("rotated");
    sim.drop_connections();
    w.until("link down", |e| matches!(e, Event::LinkDown { .. })).await;
    let url = sim.url().replace(":secret@", ":rotated@");
    let other = Session::connect(&format!("{url}?astdb=1")).await.expect("another client");
    other.set_forwarding("105", ctilink::ForwardKind::Immediate, None).await.expect("cfu off");
    other.set_forwarding("107", ctilink::ForwardKind::NoAnswer, Some("100")).await.expect("cfna on");
    other.close().await;
    sim.set_secret("secret");
    w.until("link up", |e| matches!(e, Event::LinkUp { .. })).await;
    w.until("resynced", |e| matches!(e, Event::Resynced { .. })).await;
    // The changes came from the AstDB read, between LinkUp and Resynced.
    let up = w.seen.iter().rposition(|e| e.kind() == "link_up").expect("link_up");
    let after: Vec<&Event> = w.seen[up..].iter().filter(|e| e.kind() == "forwarding").collect();
    assert_eq!(after.len(), 2, "{after:#?}");
    let d105 = s.device("105").expect("105");
    assert_eq!(d105.forward_to, None, "{d105:?}");
    let d107 = s.device("107").expect("107");
    assert_eq!(d107.forward_no_answer.as_deref(), Some("100"), "{d107:?}");
    let Some(Event::Resynced { devices_changed, .. }) = w.seen.last() else { panic!("{:#?}", w.seen) };
    assert!(devices_changed.iter().any(|d| d.as_str() == "107"), "{devices_changed:?}");
}

/// Without the channel list the model cannot be trusted: the first connect fails with the
/// PBX's reason, and after a reconnect the resync is tried again until it works.
#[tokio::test]
async fn a_refused_channel_list_fails_connect_and_is_retried_after_a_reconnect() {
    let sim = start_sim(fast_office()).await;
    sim.set_action_allowed("CoreShowChannels", false);
    let r = Session::connect_with(options(&sim, 3000)).await;
    assert!(matches!(&r, Err(Error::PbxRefused(m)) if m == "Permission denied"), "{r:?}");
    sim.set_action_allowed("CoreShowChannels", true);
    let s = Session::connect_with(options(&sim, 3000)).await.expect("connect");
    let mut w = Watch::new(&s);
    sim.place_call("100", "101").expect("call");
    w.until("101 answers", |e| is(e, "established", "101")).await;
    sim.set_action_allowed("CoreShowChannels", false);
    let before = sim.actions_received();
    sim.drop_connections();
    w.until("link up again", |e| matches!(e, Event::LinkUp { reconnected: true })).await;
    // Wait until the PBX has seen the resync's first list (and refused it).
    let login_and_list = 2;
    tokio::time::timeout(Duration::from_secs(5), async {
        while sim.actions_received() < before + login_and_list {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the session asks for the channel list");
    // The resync failed; the call is still in the model, not wrongly ended.
    let next = w.stream.next_timeout(Duration::from_millis(200)).await.expect("open");
    assert!(next.is_none(), "nothing happens until the retry: {next:?}");
    assert_eq!(s.snapshot().calls.len(), 1);
    sim.set_action_allowed("CoreShowChannels", true);
    let ev = w.until("resynced on the retry", |e| matches!(e, Event::Resynced { .. })).await;
    assert!(matches!(&ev, Event::Resynced { calls_ended, .. } if calls_ended.is_empty()), "{ev:?}");
    assert_eq!(model_calls(&s), truth_calls(&sim));
}

/// A standby PBX (`standby=` in the URL): when the one in use is lost and stays
/// unreachable, the session moves to the next, reporting `LinkDown` then `Resynced` as for
/// a reconnect; the model is then the standby's truth, and commands reach it.
#[tokio::test]
async fn a_lost_pbx_is_replaced_by_its_standby() {
    let primary = start_sim(fast_office()).await;
    let standby = start_sim(fast_office()).await;
    let url =
        format!("{}?control=pjsip&timeout_ms=3000&reconnect_ms=50&standby={}", primary.url(), standby.addr());
    let s = Session::connect(&url).await.expect("connect");
    let mut w = Watch::new(&s);
    primary.place_call("100", "101").expect("a call on the primary");
    w.until("101 answers on the primary", |e| is(e, "established", "101")).await;
    standby.place_call("102", "103").expect("a call on the standby");
    assert_eq!(standby.actions_received(), 0, "the session talks to the primary only");

    primary.shutdown().await;
    w.until("link down", |e| matches!(e, Event::LinkDown { .. })).await;
    w.until("resynced", |e| matches!(e, Event::Resynced { .. })).await;
    assert!(standby.actions_received() > 0, "the session logged in to the standby");
    // The primary's call is gone (its shutdown hung it up), the standby's is there.
    assert_eq!(model_calls(&s), truth_calls(&standby), "the model is the standby's truth");
    assert_eq!(model_calls(&s).len(), 1, "{:#?}", s.snapshot().calls);

    // Commands go to the standby now.
    let call = s.make_call("104", "105").await.expect("click-to-dial on the standby");
    w.until("105 answers on the standby", |e| {
        is(e, "established", "105") && e.call().is_some_and(|c| *c == call)
    })
    .await;
    assert_eq!(model_calls(&s), truth_calls(&standby));
}

/// At connect, a primary that does not answer is passed over for the standby.
#[tokio::test]
async fn connect_uses_the_standby_when_the_primary_does_not_answer() {
    let standby = start_sim(fast_office()).await;
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let dead_addr = dead.local_addr().expect("addr");
    drop(dead); // nothing listens there now
    let url = format!("ami://admin:secret@{dead_addr}?control=pjsip&standby={}", standby.addr());
    let s = Session::connect(&url).await.expect("connects to the standby");
    assert!(standby.actions_received() > 0);
    assert_eq!(s.snapshot().devices.len(), 10, "the standby's phones");
    // Without a standby the same primary is an error that names it.
    let alone = Session::connect(&format!("ami://admin:secret@{dead_addr}")).await;
    assert!(matches!(alone, Err(Error::Connect { .. })), "{alone:?}");
}

#[test]
fn standby_hosts_are_parsed_and_bounded() {
    let o = SessionOptions::from_url("ami://u:p@pbx1?standby=pbx2,[::1]:6000").expect("url");
    let ctilink::Transport::Ami(cfg) = &o.transport else { panic!("an AMI transport") };
    assert_eq!(cfg.standby, vec![("pbx2".to_owned(), 5038), ("::1".to_owned(), 6000)]);
    let tls = SessionOptions::from_url("amis://u:p@pbx1?standby=pbx2").expect("url");
    let ctilink::Transport::Ami(cfg) = &tls.transport else { panic!("an AMI transport") };
    assert_eq!(cfg.standby, vec![("pbx2".to_owned(), 5039)], "TLS's default port");
    let nine = ["h"; 9].join(",");
    assert!(matches!(
        SessionOptions::from_url(&format!("ami://u:p@pbx1?standby={nine}")),
        Err(Error::InvalidUrl(_))
    ));
    assert!(matches!(SessionOptions::from_url("ami://u:p@pbx1?standby=a:b"), Err(Error::InvalidUrl(_))));
}

/// An event queue that could hold nothing is refused before any connection is tried,
/// with the same typed error for a PBX and a gateway: a port where nobody listens would
/// otherwise answer first with `Connect`.
#[tokio::test]
async fn an_event_queue_of_zero_is_refused_before_connecting() {
    let nobody = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = nobody.local_addr().expect("addr").port();
    drop(nobody);
    for url in [
        format!("ami://admin:secret@127.0.0.1:{port}"),
        format!("ctilink://desk-token-0123456789@127.0.0.1:{port}"),
    ] {
        for (messages, bytes) in [(0, 1 << 20), (16, 0)] {
            let mut o = SessionOptions::from_url(&url).expect("url");
            o.event_queue = messages;
            o.event_queue_bytes = bytes;
            match Session::connect_with(o).await {
                Err(Error::InvalidArgument(why)) => assert!(why.contains("event_queue"), "{why}"),
                Err(e) => panic!("{url} with ({messages}, {bytes}): {e:?}"),
                Ok(_) => panic!("{url} with ({messages}, {bytes}) connected"),
            }
        }
    }
}
