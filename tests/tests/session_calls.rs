//! The Session against the simulator: click-to-dial to every outcome, hanging up, the
//! typed errors of commands that cannot work, closing, device filters and lag.

use std::time::Duration;

use ctilink::model::FailureReason;
use ctilink::{CallId, Command, ConnectionState, Error, Event, LinkStatus, Outcome, Session, SessionOptions};
use ctilink_tests::live::{fast_office, is, start_sim, Watch};

async fn session(sim: &ctilink_sim::SimHandle) -> Session {
    Session::connect(&format!("{}?control=pjsip&astdb=1", sim.url())).await.expect("session connects")
}

#[tokio::test]
async fn connect_builds_the_model_from_the_pbx() {
    let sim = start_sim(fast_office()).await;
    let s = session(&sim).await;
    let snap = s.snapshot();
    assert_eq!(snap.devices.len(), 10, "{:#?}", snap.devices);
    assert!(snap.calls.is_empty());
    let d = s.device("100").expect("device 100");
    assert_eq!(d.interface.as_deref(), Some("PJSIP/100"));
    assert_eq!(s.status(), LinkStatus::Up);
    s.close().await;
}

#[tokio::test]
async fn make_call_returns_the_id_and_the_call_is_answered_then_cleared() {
    let sim = start_sim(fast_office()).await;
    let s = session(&sim).await;
    let mut w = Watch::new(&s);
    let call = s.make_call("100", "101").await.expect("make_call");
    let mine = |e: &Event| e.call() == Some(&call);
    let ev = w.until("the user's phone rings", |e| mine(e) && is(e, "delivered", "100")).await;
    assert!(matches!(ev, Event::Delivered { click_to_dial: true, .. }), "{ev:?}");
    let ev = w.until("the destination rings", |e| mine(e) && is(e, "delivered", "101")).await;
    let Event::Delivered { caller, .. } = &ev else { unreachable!() };
    assert_eq!(caller.number, "100", "the destination sees the user calling: {ev:?}");
    w.until("the destination answers", |e| mine(e) && is(e, "established", "101")).await;
    let c = s.call(&call).expect("the call is in the model");
    assert!(c.answered);
    assert_eq!(c.connection("101").map(|k| k.state), Some(ConnectionState::Connected));
    s.clear_call(&call).await.expect("clear_call");
    let ev = w.until("the call ends", |e| mine(e) && e.kind() == "call_cleared").await;
    assert!(matches!(ev, Event::CallCleared { answered: true, .. }), "{ev:?}");
    assert!(s.call(&call).is_none());
    assert_eq!(sim.active_channels(), 0);
}

#[tokio::test]
async fn make_call_to_a_busy_phone_fails_busy() {
    let sim = start_sim(fast_office()).await;
    let s = session(&sim).await;
    let mut w = Watch::new(&s);
    sim.place_call("102", "103").expect("a call keeps 103 busy");
    w.until("103 talks", |e| is(e, "established", "103")).await;
    let call = s.make_call("100", "103").await.expect("make_call");
    let ev = w.until("busy", |e| e.call() == Some(&call) && e.kind() == "failed").await;
    assert!(matches!(ev, Event::Failed { reason: FailureReason::Busy, .. }), "{ev:?}");
    let ev = w.until("cleared", |e| e.call() == Some(&call) && e.kind() == "call_cleared").await;
    assert!(matches!(ev, Event::CallCleared { answered: false, .. }), "{ev:?}");
}

#[tokio::test]
async fn make_call_to_an_unknown_number_fails_without_an_answer() {
    let sim = start_sim(fast_office()).await;
    let s = session(&sim).await;
    let mut w = Watch::new(&s);
    let call = s.make_call("100", "555").await.expect("the PBX accepts the Originate");
    let ev = w.until("cleared", |e| e.call() == Some(&call) && e.kind() == "call_cleared").await;
    assert!(matches!(ev, Event::CallCleared { answered: false, .. }), "{ev:?}");
    assert!(!w.kinds().iter().any(|k| k.starts_with("established 555")), "{:?}", w.kinds());
}

#[tokio::test]
async fn commands_that_cannot_work_fail_with_typed_errors() {
    let sim = start_sim(fast_office()).await;
    let s = session(&sim).await;
    assert!(matches!(s.make_call("999", "101").await, Err(Error::UnknownDevice(d)) if d == "999"));
    assert!(matches!(s.make_call("100", "10 1").await, Err(Error::InvalidArgument(_))));
    assert!(matches!(s.make_call("100", "").await, Err(Error::InvalidArgument(_))));
    assert!(matches!(s.make_call("100", "1\r\nAction: Hangup").await, Err(Error::InvalidArgument(_))));
    assert!(matches!(s.clear_call("no-such-call").await, Err(Error::UnknownCall(_))));
    assert!(matches!(s.hold("no-such-call", "100").await, Err(Error::UnknownCall(_))));

    let mut w = Watch::new(&s);
    sim.place_call("101", "108").expect("call");
    let ev = w.until("108 rings", |e| is(e, "delivered", "108")).await;
    let call = ev.call().cloned().expect("call id");
    // Not in the call, or not in the right state.
    assert!(matches!(s.clear_connection(&call, "105").await, Err(Error::NotAllowed(_))));
    assert!(matches!(s.hold(&call, "108").await, Err(Error::NotAllowed(_))), "ringing is not talking");
    assert!(matches!(s.answer(&call, "101").await, Err(Error::NotAllowed(_))), "the caller does not ring");
    assert!(matches!(s.retrieve(&call, "101").await, Err(Error::NotAllowed(_))), "nothing is held");
    assert!(matches!(s.send_dtmf(&call, "101", "12x").await, Err(Error::InvalidArgument(_))));
    assert!(matches!(s.transfer_call(&call, &call).await, Err(Error::InvalidArgument(_))));
    // The connection and the call went on through all of that.
    s.clear_connection(&call, "101").await.expect("the caller hangs up");
    w.until("cleared", |e| e.call() == Some(&call) && e.kind() == "call_cleared").await;
}

#[tokio::test]
async fn phone_control_and_astdb_must_be_enabled() {
    let sim = start_sim(fast_office()).await;
    let plain = Session::connect(&sim.url()).await.expect("connect");
    let mut w = Watch::new(&plain);
    sim.place_call("101", "108").expect("call");
    let call = w.until("108 rings", |e| is(e, "delivered", "108")).await.call().cloned().expect("id");
    assert!(matches!(plain.answer(&call, "108").await, Err(Error::Unsupported(_))));
    assert!(matches!(plain.set_do_not_disturb("100", true).await, Err(Error::Unsupported(_))));
    let fwd = plain.set_forwarding("100", ctilink::ForwardKind::Immediate, Some("101")).await;
    assert!(matches!(fwd, Err(Error::Unsupported(_))));
    plain.close().await;
}

#[tokio::test]
async fn close_ends_the_streams_and_later_commands_fail_closed() {
    let sim = start_sim(fast_office()).await;
    let s = session(&sim).await;
    let mut events = s.events();
    let other = s.clone();
    sim.place_call("101", "102").expect("call");
    // Events are pending in the stream when the session closes.
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.close().await;
    let drained = tokio::time::timeout(Duration::from_secs(5), async {
        let mut n = 0;
        while events.next().await.is_some() {
            n += 1;
        }
        n
    })
    .await
    .expect("the stream ends after close");
    assert!(drained < 10_000);
    assert!(matches!(other.make_call("100", "101").await, Err(Error::Closed)));
    assert_eq!(other.status(), LinkStatus::Closed);
    assert!(matches!(other.events().next_timeout(Duration::from_secs(1)).await, Err(Error::Closed)));
}

#[tokio::test]
async fn monitor_lets_through_only_the_chosen_devices_and_their_calls() {
    let sim = start_sim(fast_office()).await;
    let mut opts = SessionOptions::from_url(&format!("{}?monitor=100", sim.url())).expect("url");
    opts.event_queue = 1024;
    let s = Session::connect_with(opts).await.expect("connect");
    let all = Session::connect(&sim.url()).await.expect("connect");
    let mut mine = Watch::new(&s);
    let mut every = Watch::new(&all);
    sim.place_call("102", "103").expect("a call without 100");
    sim.place_call("101", "100").expect("a call to 100");
    every.until("both answered", |e| is(e, "established", "100")).await;
    let call = mine.until("100 answers", |e| is(e, "established", "100")).await.call().cloned().expect("id");
    // Once 100 is in a call, the other party's events of that call come through too.
    s.clear_connection(&call, "101").await.expect("the caller hangs up");
    mine.until("101 leaves", |e| is(e, "connection_cleared", "101")).await;
    mine.until("the call ends", |e| e.call() == Some(&call) && e.kind() == "call_cleared").await;
    // Nothing of 102 and 103.
    for e in &mine.seen {
        let d = e.device().map(|d| d.as_str().to_owned()).unwrap_or_default();
        assert!(d != "102" && d != "103", "{e:?}");
    }
    assert!(every.seen.iter().any(|e| e.device().is_some_and(|d| d.as_str() == "103")));
    assert!(s.snapshot().devices.iter().all(|d| d.id.as_str() == "100"));
    assert!(s.snapshot().calls.is_empty(), "the call of 102 and 103 is not shown");
    assert_eq!(all.snapshot().calls.len(), 1);
}

#[tokio::test]
async fn a_consumer_that_falls_behind_gets_lagged_and_goes_on() {
    let sim = start_sim(fast_office()).await;
    let mut opts = SessionOptions::from_url(&sim.url()).expect("url");
    opts.event_queue = 4;
    let s = Session::connect_with(opts).await.expect("connect");
    let mut events = s.events();
    for (a, b) in [("100", "101"), ("102", "103"), ("104", "105")] {
        sim.place_call(a, b).expect("call");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let first = events.next().await.expect("an event");
    assert!(matches!(first, Event::Lagged { missed } if missed > 0), "{first:?}");
    // The model did not lag: it is the link's, not this consumer's.
    assert_eq!(s.snapshot().calls.len(), 3);
}

#[tokio::test]
async fn an_unplugged_phone_is_unavailable_and_click_to_dial_from_it_fails_with_its_id() {
    let sim = start_sim(fast_office()).await;
    let s = session(&sim).await;
    let mut w = Watch::new(&s);
    assert!(sim.set_registered("106", false));
    w.until("106 unavailable", |e| {
        matches!(e, Event::DeviceState { device, state: ctilink::DeviceState::Unavailable, .. } if device.as_str() == "106")
    })
    .await;
    // No channel is ever created: only the OriginateResponse tells, and the SDK reports
    // it under the id make_call returned.
    let call = s.make_call("106", "101").await.expect("the PBX queues the Originate");
    let ev = w.until("failed", |e| e.call() == Some(&call) && e.kind() == "failed").await;
    assert!(matches!(ev, Event::Failed { reason: FailureReason::Unreachable, .. }), "{ev:?}");
    w.until("cleared", |e| e.call() == Some(&call) && e.kind() == "call_cleared").await;
    // A call to it fails as unreachable too.
    let call = s.make_call("100", "106").await.expect("make_call");
    let ev = w.until("failed", |e| e.call() == Some(&call) && is(e, "failed", "106")).await;
    assert!(matches!(ev, Event::Failed { reason: FailureReason::Unreachable, .. }), "{ev:?}");
    assert!(sim.set_registered("106", true));
    w.until("106 back", |e| {
        matches!(e, Event::DeviceState { device, state: ctilink::DeviceState::Idle, .. } if device.as_str() == "106")
    })
    .await;
}

#[tokio::test]
async fn dropping_every_clone_releases_the_connection() {
    let sim = start_sim(fast_office()).await;
    let s = session(&sim).await;
    let clone = s.clone();
    let events = s.events();
    assert_eq!(sim.connections(), 1);
    drop(s);
    assert_eq!(sim.connections(), 1, "a clone still uses it");
    drop(clone);
    let released = tokio::time::timeout(Duration::from_secs(5), async {
        while sim.connections() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(released.is_ok(), "the PBX still sees {} connections", sim.connections());
    drop(events);
}

/// Hosts share a session across threads (C callbacks, Python threads, Node's pool).
#[test]
fn session_and_streams_can_cross_threads() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    fn movable<T: Send + 'static>() {}
    shareable::<Session>();
    movable::<ctilink::EventStream>();
    movable::<ctilink::Error>();
}

#[tokio::test]
async fn make_call_with_a_chosen_id_uses_it_and_refuses_one_in_use_or_malformed() {
    let sim = start_sim(fast_office()).await;
    let s = session(&sim).await;
    let mut w = Watch::new(&s);
    let id = CallId::generate();
    let cmd =
        |to: &str, id: &CallId| Command::MakeCall { from: "100".into(), to: to.into(), id: Some(id.clone()) };
    let out = s.execute(cmd("101", &id)).await.expect("make_call with an id");
    assert_eq!(out, Outcome::Call(id.clone()), "the call has the id the host chose");
    w.until("the user's phone rings under that id", |e| e.call() == Some(&id) && is(e, "delivered", "100"))
        .await;
    let again = s.execute(cmd("102", &id)).await;
    assert!(matches!(again, Err(Error::NotAllowed(_))), "an id in use is refused: {again:?}");
    for bad in ["a b", "x/y", "", &"9".repeat(65)] {
        let r = s.execute(cmd("102", &CallId::new(bad))).await;
        assert!(matches!(r, Err(Error::InvalidArgument(_))), "{bad:?}: {r:?}");
    }
    s.clear_call(&id).await.expect("clear_call");
    w.until("cleared", |e| e.call() == Some(&id) && e.kind() == "call_cleared").await;
}
