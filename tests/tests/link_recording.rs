//! Recording the AMI link (`AmiConfig::record`) against the simulator over real TCP: the
//! capture is what was received, across a reconnect, without the secret; a recording that
//! reaches its bound or cannot be written stops, and the link goes on.

use std::path::PathBuf;
use std::time::Duration;

use ctilink::ami::{read_capture, Action, AmiClient, AmiConfig, LinkEvent, ReconnectPolicy, RecordOptions};
use ctilink_sim::{SimConfig, SimHandle, Simulator};
use tokio::time::timeout;

async fn start_sim() -> SimHandle {
    let cfg = SimConfig {
        extensions: SimConfig::extension_range(100, 103),
        ring_delay: Duration::from_millis(20),
        answer_delay: Duration::from_millis(50),
        ..SimConfig::default()
    };
    Simulator::start(cfg, "127.0.0.1:0".parse().expect("addr")).await.expect("simulator starts")
}

fn config(sim: &SimHandle) -> AmiConfig {
    let mut cfg = AmiConfig::from_url(&sim.url()).expect("url");
    cfg.reconnect = ReconnectPolicy {
        enabled: true,
        initial: Duration::from_millis(50),
        max: Duration::from_millis(200),
        max_attempts: None,
        ..ReconnectPolicy::default()
    };
    cfg
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ctilink-link-recording-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    dir.join(format!("{name}.ami"))
}

async fn next_up(sub: &mut ctilink::ami::Subscription) {
    timeout(Duration::from_secs(5), async {
        loop {
            match sub.recv().await {
                Some(LinkEvent::Up { .. }) => return,
                Some(_) => {}
                None => panic!("subscription closed"),
            }
        }
    })
    .await
    .expect("link up within 5 s");
}

#[tokio::test]
async fn the_capture_is_what_was_received_across_a_reconnect_without_the_secret() {
    let sim = start_sim().await;
    let path = tmp("reconnect");
    let mut cfg = config(&sim);
    let recorder = cfg.record(&RecordOptions::new(&path).sent(true)).expect("record");
    let (client, mut sub) = AmiClient::connect_subscribed(cfg).await.expect("connect");
    next_up(&mut sub).await;
    client.send(Action::ping()).await.expect("ping");
    sim.drop_connections();
    next_up(&mut sub).await;
    client.send(Action::ping()).await.expect("ping after the reconnect");
    client.close().await;

    let data = std::fs::read(&path).expect("capture");
    assert_eq!(recorder.bytes(), data.len() as u64);
    assert_eq!(recorder.stopped(), None);
    let text = String::from_utf8_lossy(&data);
    assert!(text.starts_with("Asterisk Call Manager/"), "{text}");
    assert_eq!(text.matches("Asterisk Call Manager/").count(), 2, "one banner per login: {text}");
    let cap = read_capture(&data);
    assert!(cap.errors.is_empty(), "{:?}", cap.errors);
    let logins = cap.messages.iter().filter(|m| m.get("Message") == Some("Authentication accepted")).count();
    assert_eq!(logins, 2, "{text}");
    let secret = SimConfig::default().secret;
    assert!(!text.contains(&format!("Secret: {secret}")), "{text}");
    let sent = std::fs::read_to_string(recorder.sent_path().expect("sent companion")).expect("sent");
    assert_eq!(sent.matches("Action: Login\r\n").count(), 2, "{sent}");
    assert_eq!(sent.matches("Secret: ***\r\n").count(), 2, "{sent}");
    assert!(!sent.contains(&secret), "{sent}");
    let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
}

#[tokio::test]
async fn a_recording_that_reaches_its_limit_stops_and_the_link_goes_on() {
    let sim = start_sim().await;
    let path = tmp("limit");
    let mut cfg = config(&sim);
    let recorder = cfg.record(&RecordOptions::new(&path).max_bytes(256)).expect("record");
    let client = AmiClient::connect(cfg).await.expect("connect");
    for _ in 0..20 {
        client.send(Action::ping()).await.expect("ping");
    }
    let why = recorder.stopped().expect("stopped at the limit");
    assert!(why.contains("limit of 256 bytes"), "{why}");
    let len = std::fs::metadata(&path).expect("capture").len();
    assert!(len <= 256 && len == recorder.bytes(), "{len}");
    client.send(Action::ping()).await.expect("the link goes on");
    client.close().await;
    let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_write_error_stops_the_recording_and_the_link_goes_on() {
    let sim = start_sim().await;
    let mut cfg = config(&sim);
    // Every write to /dev/full fails with "No space left on device".
    let recorder = cfg.record(&RecordOptions::new("/dev/full")).expect("record");
    let client = AmiClient::connect(cfg).await.expect("connect despite the full disk");
    client.send(Action::ping()).await.expect("ping");
    let why = recorder.stopped().expect("stopped");
    assert!(why.starts_with("write error"), "{why}");
    assert_eq!(recorder.bytes(), 0);
    client.close().await;
}
