//! `Session::connect("ctilink://TOKEN@host:port")`: the same API and events through the
//! gateway as directly. Click-to-dial end to end, typed errors from the gateway's access
//! control, the snapshot as the client's mirror keeps it, and random traffic after which
//! the mirror through the gateway holds what a direct session holds.

mod common;

use std::time::Duration;

use common::{config, office, start, start_sim, DESK_100, SUPERVISOR};
use ctilink::model::ConnectionState;
use ctilink::{DialOutcome, DialProgress, Error, Event, LinkStatus, Session};

fn url(gw: &ctilink_gateway::Gateway, token: &str) -> String {
    format!("ctilink://{token}@{}?client=session-test", gw.addrs().tcp.expect("tcp"))
}

async fn next(events: &mut ctilink::EventStream, what: &str, pred: impl Fn(&Event) -> bool) -> Event {
    let found = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match events.next().await {
                Some(ev) if pred(&ev) => return ev,
                Some(_) => {}
                None => panic!("the stream ended waiting for {what}"),
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

#[tokio::test]
async fn click_to_dial_through_the_gateway_is_answered_like_a_direct_one() {
    let sim = start_sim(office()).await;
    let gw = start(config(&sim)).await;
    let s = Session::connect(&url(&gw, DESK_100)).await.expect("connects through the gateway");
    assert_eq!(s.status(), LinkStatus::Up);
    let snap = s.snapshot();
    let ids: Vec<&str> = snap.devices.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["100", "101"], "the token's devices, with what the PBX knows of them");
    assert_eq!(s.device("100").and_then(|d| d.interface), Some("PJSIP/100".into()));
    assert!(s.device("102").is_none(), "another desk's phone does not exist for this client");

    let mut events = s.events();
    let call = s.make_call("100", "101").await.expect("make_call");
    let mut dial = DialProgress::new(call.clone(), "100", "101");
    let mut kinds = Vec::new();
    let outcome = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let ev = events.next().await.expect("events");
            if ev.call() == Some(&call) {
                kinds.push(format!("{} {}", ev.kind(), ev.device().map(|d| d.as_str()).unwrap_or("")));
            }
            if let Some(o) = dial.apply(&ev) {
                return o;
            }
        }
    })
    .await
    .expect("an outcome in time");
    assert_eq!(outcome, DialOutcome::Answered, "{kinds:?}");
    assert_eq!(kinds[..2], ["delivered 100".to_owned(), "originated 100".to_owned()], "{kinds:?}");
    let c = s.call(&call).expect("the call is in the client's model");
    assert!(c.answered);
    assert_eq!(c.connection("101").map(|k| k.state), Some(ConnectionState::Connected));
    assert_eq!(c.calling_device.as_ref().map(|d| d.as_str()), Some("100"));
    s.clear_call(&call).await.expect("clear_call through the gateway");
    next(&mut events, "the call to end", |e| e.call() == Some(&call) && e.kind() == "call_cleared").await;
    assert!(s.call(&call).is_none());
    assert!(s.snapshot().calls.is_empty());
    s.close().await;
    assert!(matches!(s.make_call("100", "101").await, Err(Error::Closed)));
}

#[tokio::test]
async fn the_gateways_refusals_are_the_same_typed_errors() {
    let sim = start_sim(office()).await;
    let gw = start(config(&sim)).await;
    let s = Session::connect(&url(&gw, DESK_100)).await.expect("connect");
    assert!(matches!(s.make_call("102", "101").await, Err(Error::NotAllowed(_))));
    assert!(matches!(s.clear_call("no-such-call").await, Err(Error::UnknownCall(c)) if c == "no-such-call"));
    assert!(matches!(s.make_call("100", "10 1").await, Err(Error::InvalidArgument(_))));
    assert!(matches!(s.hold("nope", "100").await, Err(Error::UnknownCall(_))));
    // A refusal by the PBX itself crosses the gateway as it is.
    sim.set_action_allowed("Originate", false);
    assert!(
        matches!(s.make_call("100", "101").await, Err(Error::PbxRefused(m)) if m.contains("Permission denied"))
    );
    let bad =
        Session::connect(&format!("ctilink://not-a-token-at-all@{}", gw.addrs().tcp.expect("tcp"))).await;
    match bad {
        Err(Error::AuthFailed(m)) => assert!(!m.contains("not-a-token"), "{m}"),
        other => panic!("expected AuthFailed, got {other:?}"),
    }
}

#[tokio::test]
async fn after_random_traffic_the_client_mirror_is_the_pbx_model() {
    let sim = start_sim(office()).await;
    let gw = start(config(&sim)).await;
    let direct = Session::connect(&sim.session_url()).await.expect("direct session");
    let through = Session::connect(&url(&gw, SUPERVISOR)).await.expect("gateway session");
    let mut ev = through.events();
    let traffic = sim.start_traffic(ctilink_sim::TrafficConfig {
        calls_per_sec: 20.0,
        seed: 7,
        talk_min: Duration::from_millis(100),
        talk_max: Duration::from_millis(600),
        ..ctilink_sim::TrafficConfig::default()
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    traffic.stop();
    assert!(traffic.calls_started() >= 20, "{} calls", traffic.calls_started());
    sim.hangup_all();
    // Quiet again: every call cleared on both sides.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !(direct.snapshot().calls.is_empty()
        && through.snapshot().calls.is_empty()
        && sim.active_channels() == 0)
    {
        assert!(tokio::time::Instant::now() < deadline, "calls left: {:#?}", through.snapshot().calls);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut seen = 0;
    while let Ok(Some(_)) = ev.next_timeout(Duration::from_millis(1)).await {
        seen += 1;
    }
    assert!(seen > 100, "the supervisor saw the traffic ({seen} events)");
    let (d, t) = (direct.snapshot(), through.snapshot());
    assert_eq!(t.devices, d.devices, "device states, DND, forwarding, interfaces");
    // And a snapshot the gateway makes now is the same as the mirror the events built.
    let fresh = Session::connect(&url(&gw, SUPERVISOR)).await.expect("another session");
    assert_eq!(fresh.snapshot(), t);
}

#[tokio::test]
async fn a_call_in_progress_is_introduced_whole_to_a_client_that_sees_it_join() {
    let sim = start_sim(office()).await;
    let gw = start(config(&sim)).await;
    let s = Session::connect(&url(&gw, DESK_100)).await.expect("connect");
    let mut events = s.events();
    // 104 calls 105 (neither is desk 100's); then 105 blind-transfers the caller to 100.
    let direct = Session::connect(&sim.session_url()).await.expect("direct");
    let mut dev = direct.events();
    sim.place_call("104", "105").expect("call");
    let est = next(&mut dev, "105 answers", |e| {
        e.kind() == "established" && e.device().is_some_and(|d| d.as_str() == "105")
    })
    .await;
    let call = est.call().cloned().expect("call id");
    direct.single_step_transfer(&call, "105", "100").await.expect("transfer");
    let first = next(&mut events, "the call reaches desk 100", |e| e.call() == Some(&call)).await;
    // The client learns the call's state before the event that made it visible.
    assert_eq!(first.kind(), "originated", "{first:?}");
    assert_eq!(first.device().map(|d| d.as_str()), Some("104"));
    next(&mut events, "100 rings", |e| {
        e.kind() == "delivered" && e.device().is_some_and(|d| d.as_str() == "100")
    })
    .await;
    let c = s.call(&call).expect("the call is in the client's model");
    assert!(c.connection("104").is_some(), "{c:#?}");
    assert_eq!(c.connection("100").map(|k| k.state), Some(ConnectionState::Alerting));
}

#[tokio::test]
async fn a_session_pings_on_a_beat_so_a_busy_stream_is_never_taken_for_idle() {
    let sim = start_sim(office()).await;
    let mut cfg = config(&sim);
    cfg.clients.idle_timeout = Duration::from_millis(700);
    let gw = start(cfg).await;
    let mut o = ctilink::SessionOptions::from_url(&url(&gw, SUPERVISOR)).expect("url");
    let ctilink::Transport::Gateway(g) = &mut o.transport else { panic!("{:?}", o.transport) };
    g.ping_interval = Duration::from_millis(200);
    let s = Session::connect_with(o).await.expect("connect");
    let mut events = s.events();
    // Events flow towards the client the whole time; it sends nothing but its pings.
    for i in 0..12 {
        sim.emit_user_event("Tick", &[("n", &i.to_string())]);
        next(&mut events, "the tick", |e| matches!(e, Event::UserEvent { name, .. } if name == "Tick")).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(s.status(), LinkStatus::Up, "still connected after 1.8 s with a 0.7 s idle timeout");
    let clients = gw.clients();
    assert!(clients.closed.is_empty(), "{:#?}", clients.closed);
    assert!(clients.clients[0].messages_in >= 6, "pings counted: {:#?}", clients.clients[0]);
}
