//! The AMI link against the simulator over real TCP on 127.0.0.1:0.

use std::time::Duration;

use ctilink::ami::{Action, AmiClient, AmiConfig, AuthMethod, LinkEvent, LinkState, ReconnectPolicy};
use ctilink::Error;
use ctilink_sim::{SimConfig, SimHandle, Simulator};
use tokio::time::{timeout, Instant};

async fn start_sim() -> SimHandle {
    start_sim_with(SimConfig {
        extensions: SimConfig::extension_range(100, 109),
        ring_delay: Duration::from_millis(50),
        answer_delay: Duration::from_millis(100),
        ..SimConfig::default()
    })
    .await
}

async fn start_sim_with(cfg: SimConfig) -> SimHandle {
    Simulator::start(cfg, "127.0.0.1:0".parse().expect("addr")).await.expect("simulator starts")
}

/// A config with fast timers so failures show within a test's patience.
fn fast(url: &str) -> AmiConfig {
    let mut cfg = AmiConfig::from_url(url).expect("url");
    cfg.action_timeout = Duration::from_secs(3);
    cfg.reconnect = ReconnectPolicy {
        enabled: true,
        initial: Duration::from_millis(50),
        max: Duration::from_millis(200),
        max_attempts: None,
        ..ReconnectPolicy::default()
    };
    cfg
}

/// Waits for the first subscription event matching `pred`, failing after 5 s.
async fn wait_event(sub: &mut ctilink::ami::Subscription, pred: impl Fn(&LinkEvent) -> bool) -> LinkEvent {
    timeout(Duration::from_secs(5), async {
        loop {
            match sub.recv().await {
                Some(ev) if pred(&ev) => return ev,
                Some(_) => {}
                None => panic!("subscription closed"),
            }
        }
    })
    .await
    .expect("event within 5 s")
}

async fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn plain_login_banner_and_ping() {
    let sim = start_sim().await;
    let client = AmiClient::connect(fast(&sim.url())).await.expect("connects");
    assert_eq!(client.banner().as_deref(), Some("Asterisk Call Manager/9.0.0"));
    let pong = client.send(Action::ping()).await.expect("ping");
    assert_eq!(pong.get("Ping"), Some("Pong"));
    assert_eq!(client.state(), LinkState::Up);
    assert_eq!(sim.logins(), 1);
    client.close().await;
}

#[tokio::test]
async fn md5_challenge_login() {
    let sim = start_sim().await;
    let mut cfg = fast(&sim.url());
    cfg.auth = AuthMethod::Md5;
    let client = AmiClient::connect(cfg).await.expect("md5 login");
    client.send(Action::ping()).await.expect("ping");
    assert_eq!(sim.logins(), 1);
}

#[tokio::test]
async fn wrong_password_is_a_typed_error_and_no_retry_storm() {
    let sim = start_sim().await;
    for auth in [AuthMethod::Plain, AuthMethod::Md5] {
        let mut cfg = fast(&sim.url());
        cfg.secret = "not-the-secret".into();
        cfg.auth = auth;
        match AmiClient::connect(cfg).await {
            Err(Error::AuthFailed(why)) => assert!(!why.contains("not-the-secret"), "{why}"),
            other => panic!("{auth:?}: expected AuthFailed, got {other:?}"),
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sim.failed_logins(), 2, "exactly one attempt per connect");
    assert_eq!(sim.logins(), 0);
}

#[tokio::test]
async fn nothing_listening_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    match AmiClient::connect_url(&format!("ami://u:p@127.0.0.1:{port}")).await {
        Err(Error::Connect { addr, .. }) => assert_eq!(addr, format!("127.0.0.1:{port}")),
        other => panic!("expected Connect error, got {other:?}"),
    }
}

#[tokio::test]
async fn action_times_out_when_the_pbx_stalls() {
    let sim = start_sim().await;
    let client = AmiClient::connect(fast(&sim.url())).await.expect("connects");
    sim.stall(Duration::from_millis(1500));
    let started = Instant::now();
    let r = client.send_with_timeout(Action::ping(), Duration::from_millis(200)).await;
    assert!(matches!(r, Err(Error::Timeout(d)) if d == Duration::from_millis(200)), "{r:?}");
    assert!(started.elapsed() < Duration::from_millis(1200), "returned at its deadline, not the stall's end");
    assert_eq!(client.stats().action_timeouts, 1);
    // Once the PBX talks again, the link serves actions as before.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    client.send(Action::ping()).await.expect("ping after stall");
}

#[tokio::test]
async fn list_responses_are_collected() {
    let sim = start_sim().await;
    let client = AmiClient::connect(fast(&sim.url())).await.expect("connects");
    let ext = client.send_list(Action::extension_state_list()).await.expect("list");
    assert_eq!(ext.items.len(), 10);
    assert_eq!(ext.announced_items(), Some(10));
    assert!(ext.items.iter().all(|m| m.is_event("ExtensionStatus")));
    let dev = client.send_list(Action::device_state_list()).await.expect("list");
    assert!(dev.items.len() >= 10, "{}", dev.items.len());
    assert_eq!(dev.announced_items(), Some(dev.items.len()));
    let none = client.send_list(Action::core_show_channels()).await.expect("list");
    assert_eq!(none.items.len(), 0);
    assert_eq!(none.announced_items(), Some(0));

    sim.place_call("101", "100").expect("call");
    eventually("two channels", || sim.active_channels() == 2).await;
    let chans = client.send_list(Action::core_show_channels()).await.expect("list");
    assert_eq!(chans.items.len(), 2);
    assert!(chans.items.iter().all(|m| m.is_event("CoreShowChannel")));
}

#[tokio::test]
async fn pbx_errors_are_refusals_with_the_pbx_message() {
    let sim = start_sim().await;
    let client = AmiClient::connect(fast(&sim.url())).await.expect("connects");
    match client.send(Action::hangup("PJSIP/999-00000000", Some(16))).await {
        Err(Error::PbxRefused(msg)) => assert_eq!(msg, "No such channel"),
        other => panic!("{other:?}"),
    }
    match client.send(Action::new("NoSuchAction")).await {
        Err(Error::PbxRefused(msg)) => assert!(msg.to_lowercase().contains("invalid"), "{msg}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn header_injection_is_rejected_before_sending() {
    let sim = start_sim().await;
    let client = AmiClient::connect(fast(&sim.url())).await.expect("connects");
    let before = sim.actions_received();
    let r = client.send(Action::new("Originate").field("Exten", "100\r\nAction: Hangup")).await;
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    client.send(Action::ping()).await.expect("ping");
    assert_eq!(sim.actions_received(), before + 1, "only the ping reached the PBX");
}

#[tokio::test]
async fn originate_reports_its_outcome_as_events() {
    let sim = start_sim().await;
    let (client, mut sub) = AmiClient::connect_subscribed(fast(&sim.url())).await.expect("connects");
    let o = ctilink::ami::action::Originate {
        channel: "PJSIP/101".into(),
        context: "internal".into(),
        exten: "100".into(),
        priority: 1,
        caller_id: Some("\"Click2Dial\" <101>".into()),
        timeout_ms: Some(20_000),
        ..Default::default()
    };
    let r = client.send(Action::originate(&o)).await.expect("queued");
    assert_eq!(r.text(), Some("Originate successfully queued"));
    let ev =
        wait_event(&mut sub, |e| matches!(e, LinkEvent::Event(m) if m.is_event("OriginateResponse"))).await;
    let LinkEvent::Event(m) = ev else { unreachable!() };
    assert_eq!(m.response(), Some("Success"));
    assert_eq!(m.get("Reason"), Some("4"));
    wait_event(&mut sub, |e| matches!(e, LinkEvent::Event(m) if m.is_event("BridgeEnter"))).await;
}

#[tokio::test]
async fn reconnects_after_the_pbx_drops_the_link() {
    let sim = start_sim().await;
    let (client, mut sub) = AmiClient::connect_subscribed(fast(&sim.url())).await.expect("connects");
    wait_event(&mut sub, |e| matches!(e, LinkEvent::Up { reconnected: false, .. })).await;
    sim.drop_connections();
    wait_event(&mut sub, |e| matches!(e, LinkEvent::Down { .. })).await;
    wait_event(&mut sub, |e| matches!(e, LinkEvent::Up { reconnected: true, .. })).await;
    client.send(Action::ping()).await.expect("ping after reconnect");
    assert_eq!(sim.logins(), 2);
    let s = client.stats();
    assert_eq!((s.link_ups, s.link_downs), (2, 1));
}

#[tokio::test]
async fn pending_actions_fail_at_once_when_the_link_drops() {
    let sim = start_sim().await;
    let client = AmiClient::connect(fast(&sim.url())).await.expect("connects");
    sim.stall(Duration::from_secs(10));
    let c = client.clone();
    let pending =
        tokio::spawn(async move { c.send_with_timeout(Action::ping(), Duration::from_secs(8)).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    sim.drop_connections();
    let r = timeout(Duration::from_secs(2), pending).await.expect("no hang").expect("task");
    assert_eq!(r.map(|_| ()), Err(Error::LinkDown));
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn actions_while_reconnecting_fail_fast_instead_of_queueing() {
    let sim = start_sim().await;
    let mut cfg = fast(&sim.url());
    cfg.reconnect.initial = Duration::from_secs(4);
    cfg.reconnect.max = Duration::from_secs(4);
    let client = AmiClient::connect(cfg).await.expect("connects");
    sim.drop_connections();
    client.wait_for_state(|s| matches!(s, LinkState::Reconnecting { .. })).await;
    let started = Instant::now();
    assert_eq!(client.send(Action::ping()).await.map(|_| ()), Err(Error::LinkDown));
    // Well under the reconnect delay (at least 2 s): it did not wait for the link.
    assert!(started.elapsed() < Duration::from_secs(1));
    // And once back, the same handle works.
    client.wait_for_state(|s| *s == LinkState::Up).await;
    client.send(Action::ping()).await.expect("ping after reconnect");
}

#[tokio::test]
async fn a_silent_peer_is_detected_and_replaced() {
    let sim = start_sim().await;
    let mut cfg = fast(&sim.url());
    cfg.ping_interval = Duration::from_millis(100);
    cfg.dead_after = Duration::from_millis(400);
    let (client, mut sub) = AmiClient::connect_subscribed(cfg).await.expect("connects");
    sim.stall(Duration::from_secs(30));
    let started = Instant::now();
    let down = wait_event(&mut sub, |e| matches!(e, LinkEvent::Down { .. })).await;
    assert!(matches!(&down, LinkEvent::Down { reason } if reason.contains("no traffic")), "{down:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    wait_event(&mut sub, |e| matches!(e, LinkEvent::Up { reconnected: true, .. })).await;
    client.send(Action::ping()).await.expect("ping on the new connection");
}

#[tokio::test]
async fn keepalive_pings_keep_a_quiet_link_up() {
    let sim = start_sim().await;
    let mut cfg = fast(&sim.url());
    cfg.ping_interval = Duration::from_millis(50);
    cfg.dead_after = Duration::from_millis(300);
    let client = AmiClient::connect(cfg).await.expect("connects");
    tokio::time::sleep(Duration::from_millis(800)).await;
    let s = client.stats();
    assert_eq!(s.link_downs, 0);
    assert!(s.messages_out >= 5, "pings sent: {s:?}");
}

#[tokio::test]
async fn slow_subscriber_gets_lagged_instead_of_growing_memory() {
    let sim = start_sim().await;
    let mut cfg = fast(&sim.url());
    cfg.event_queue = 64;
    let (client, mut slow) = AmiClient::connect_subscribed(cfg).await.expect("connects");
    let before = client.stats().messages_in;
    sim.emit_burst(5_000);
    // The subscriber reads nothing while the link takes in the whole burst.
    eventually("burst received", || client.stats().messages_in >= before + 5_000).await;
    let (mut lagged, mut queued) = (0u64, 0u64);
    while let Some(ev) = slow.try_recv() {
        match ev {
            LinkEvent::Lagged(n) => lagged += n,
            LinkEvent::Event(_) => queued += 1,
            _ => {}
        }
    }
    assert!(queued <= 64, "queue bounded by its capacity: {queued}");
    assert!(lagged >= 5_000 - 64, "lagged {lagged}");
    // After the gap, the subscriber goes on with new events, and the link is unaffected.
    sim.emit_burst(1);
    wait_event(&mut slow, |e| matches!(e, LinkEvent::Event(m) if m.get("UserEvent") == Some("Burst"))).await;
    client.send(Action::ping()).await.expect("link unaffected");
    assert_eq!(client.stats().link_downs, 0);
}

/// Injects bad input from the PBX, then checks that it was counted as a decode
/// error, that the next event still arrives, and that the link never dropped.
async fn survives(inject: impl FnOnce(&SimHandle)) {
    let sim = start_sim().await;
    let (client, mut sub) = AmiClient::connect_subscribed(fast(&sim.url())).await.expect("connects");
    inject(&sim);
    sim.emit_burst(1);
    wait_event(&mut sub, |e| matches!(e, LinkEvent::Event(m) if m.get("UserEvent") == Some("Burst"))).await;
    let s = client.stats();
    assert!(s.decode_errors >= 1, "{s:?}");
    assert_eq!(s.link_downs, 0);
    client.send(Action::ping()).await.expect("ping");
}

#[tokio::test]
async fn garbage_from_the_pbx_is_skipped_and_the_link_stays_up() {
    survives(|sim| sim.send_garbage()).await;
}

#[tokio::test]
async fn oversized_message_is_skipped_and_the_link_stays_up() {
    survives(|sim| sim.send_oversized(2 * 1024 * 1024)).await;
}

#[tokio::test]
async fn close_logs_off_and_later_calls_fail() {
    let sim = start_sim().await;
    let client = AmiClient::connect(fast(&sim.url())).await.expect("connects");
    eventually("one connection", || sim.connections() == 1).await;
    client.close().await;
    eventually("logged off", || sim.connections() == 0).await;
    assert_eq!(client.state(), LinkState::Closed);
    assert_eq!(client.send(Action::ping()).await.map(|_| ()), Err(Error::Closed));
}

#[tokio::test]
async fn dropping_every_handle_ends_the_link() {
    let sim = start_sim().await;
    let client = AmiClient::connect(fast(&sim.url())).await.expect("connects");
    eventually("one connection", || sim.connections() == 1).await;
    drop(client);
    eventually("connection closed", || sim.connections() == 0).await;
}

#[tokio::test]
async fn reconnect_disabled_leaves_the_link_down_with_fast_failures() {
    let sim = start_sim().await;
    let mut cfg = fast(&sim.url());
    cfg.reconnect.enabled = false;
    let client = AmiClient::connect(cfg).await.expect("connects");
    sim.drop_connections();
    client.wait_for_state(|s| *s == LinkState::Down).await;
    assert_eq!(client.send(Action::ping()).await.map(|_| ()), Err(Error::LinkDown));
    assert_eq!(sim.logins(), 1);
}

#[tokio::test]
async fn secrets_never_appear_in_debug_or_errors() {
    let secret = "Zq7-very-private";
    let sim = start_sim_with(SimConfig {
        extensions: SimConfig::extension_range(100, 101),
        secret: secret.into(),
        ..SimConfig::default()
    })
    .await;
    let client = AmiClient::connect(fast(&sim.url())).await.expect("connects");
    assert!(!format!("{client:?}").contains(secret));
    assert!(!format!("{:?}", client.config()).contains(secret));
    assert!(!client.config().redacted_url().contains(secret));
    let mut bad = fast(&sim.url());
    bad.secret = "hunter2-wrong".into();
    let err = AmiClient::connect(bad).await.expect_err("refused");
    assert!(!err.to_string().contains("hunter2") && !format!("{err:?}").contains("hunter2"));
}

#[tokio::test]
async fn a_secret_changed_on_the_pbx_gets_slow_retries_not_a_storm() {
    let sim = start_sim().await;
    let mut cfg = fast(&sim.url());
    cfg.reconnect.initial = Duration::from_millis(20);
    cfg.reconnect.max = Duration::from_secs(10);
    let (client, mut sub) = AmiClient::connect_subscribed(cfg).await.expect("connects");
    sim.set_secret("rotated-by-the-admin");
    sim.drop_connections();
    wait_event(&mut sub, |e| matches!(e, LinkEvent::Down { .. })).await;
    eventually("the first reconnect attempt", || sim.failed_logins() == 1).await;
    let state =
        client.wait_for_state(|s| matches!(s, LinkState::Reconnecting { attempt, .. } if *attempt > 1)).await;
    assert!(
        matches!(&state, LinkState::Reconnecting { last_error, .. } if last_error.contains("login refused")),
        "{state:?}"
    );
    // After a refusal the next try waits at least half the 10 s cap.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sim.failed_logins(), 1, "no retry storm against the PBX");
    assert_eq!(client.send(Action::ping()).await.map(|_| ()), Err(Error::LinkDown));
}

#[tokio::test]
async fn events_off_at_login_means_no_events() {
    let sim = start_sim().await;
    let url = format!("{}?events=off", sim.url());
    let (client, mut sub) = AmiClient::connect_subscribed(fast(&url)).await.expect("connects");
    sim.place_call("101", "100").expect("call");
    eventually("call up", || sim.active_channels() == 2).await;
    // Actions still work; the ping's response proves everything before it was read.
    client.send(Action::ping()).await.expect("ping");
    while let Some(ev) = sub.try_recv() {
        assert!(!matches!(ev, LinkEvent::Event(_)), "unexpected event {ev:?}");
    }
}

#[tokio::test]
async fn reconnect_gives_up_after_max_attempts() {
    let sim = start_sim().await;
    let mut cfg = fast(&sim.url());
    cfg.reconnect.max_attempts = Some(3);
    cfg.reconnect.initial = Duration::from_millis(10);
    cfg.reconnect.max = Duration::from_millis(40);
    let client = AmiClient::connect(cfg).await.expect("connects");
    sim.set_secret("changed");
    sim.drop_connections();
    let state = timeout(Duration::from_secs(5), client.wait_for_state(|s| *s == LinkState::Down))
        .await
        .expect("gives up");
    assert_eq!(state, LinkState::Down);
    assert_eq!(sim.failed_logins(), 3);
    assert_eq!(client.send(Action::ping()).await.map(|_| ()), Err(Error::LinkDown));
}
