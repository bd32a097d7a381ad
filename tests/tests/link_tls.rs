//! AMI over TLS (`amis://`), as Asterisk serves it on 5039, against the simulator.

use std::time::Duration;

use ctilink::ami::{Action, AmiClient, AmiConfig};
use ctilink::Error;
use ctilink_sim::{SimConfig, SimHandle, SimTls, Simulator};

struct Pki {
    cert_pem: String,
    key_pem: String,
}

fn self_signed() -> Pki {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("certificate");
    Pki { cert_pem: ck.cert.pem(), key_pem: ck.key_pair.serialize_pem() }
}

async fn tls_sim(pki: &Pki) -> SimHandle {
    let cfg = SimConfig {
        extensions: SimConfig::extension_range(100, 103),
        tls: Some(SimTls { cert_pem: pki.cert_pem.clone(), key_pem: pki.key_pem.clone() }),
        ..SimConfig::default()
    };
    Simulator::start(cfg, "127.0.0.1:0".parse().expect("addr")).await.expect("starts")
}

fn amis_url(sim: &SimHandle) -> String {
    let d = SimConfig::default();
    format!("amis://{}:{}@localhost:{}", d.username, d.secret, sim.addr().port())
}

#[tokio::test]
async fn tls_with_the_pbx_ca_trusted() {
    let pki = self_signed();
    let sim = tls_sim(&pki).await;
    assert!(sim.url().starts_with("amis://"));
    let dir = std::env::temp_dir().join(format!("ctilink-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let ca = dir.join("pbx-ca.pem");
    std::fs::write(&ca, &pki.cert_pem).expect("write ca");
    let mut cfg = AmiConfig::from_url(&amis_url(&sim)).expect("url");
    cfg.tls.as_mut().expect("tls").ca_file = Some(ca);
    let client = AmiClient::connect(cfg).await.expect("TLS login");
    let pong = client.send(Action::ping()).await.expect("ping over TLS");
    assert_eq!(pong.get("Ping"), Some("Pong"));
    let list = client.send_list(Action::extension_state_list()).await.expect("list over TLS");
    assert_eq!(list.items.len(), 4);
    client.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn untrusted_certificate_is_a_tls_error() {
    let pki = self_signed();
    let sim = tls_sim(&pki).await;
    let mut cfg = AmiConfig::from_url(&amis_url(&sim)).expect("url");
    cfg.connect_timeout = Duration::from_secs(3);
    match AmiClient::connect(cfg).await {
        Err(Error::Tls(why)) => assert!(why.to_lowercase().contains("certificate"), "{why}"),
        other => panic!("expected a TLS error, got {other:?}"),
    }
    assert_eq!(sim.logins(), 0);
}

#[tokio::test]
async fn insecure_mode_accepts_a_self_signed_pbx() {
    let pki = self_signed();
    let sim = tls_sim(&pki).await;
    let url = format!("{}?tls_insecure=1", amis_url(&sim));
    let client = AmiClient::connect_url(&url).await.expect("TLS login");
    client.send(Action::ping()).await.expect("ping");
}

/// The Session over TLS: the CA given as a URL parameter, a click-to-dial to its answer.
#[tokio::test]
async fn a_session_over_tls_places_a_call() {
    let pki = self_signed();
    let sim = tls_sim(&pki).await;
    let dir = std::env::temp_dir().join(format!("ctilink-tls-session-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let ca = dir.join("pbx-ca.pem");
    std::fs::write(&ca, &pki.cert_pem).expect("write ca");
    let url = format!("{}?tls_ca={}&control=pjsip", amis_url(&sim), ca.display());
    let s = ctilink::Session::connect(&url).await.expect("session over TLS");
    assert_eq!(s.snapshot().devices.len(), 4);
    let mut events = s.events();
    let call = s.make_call("100", "101").await.expect("make_call");
    let answered = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(ev) = events.next().await {
            if ev.call() == Some(&call) && ev.kind() == "established" {
                return ev.device().map(|d| d.to_string());
            }
        }
        None
    })
    .await
    .expect("answered in time");
    assert_eq!(answered.as_deref(), Some("101"));
    s.close().await;
    let _ = std::fs::remove_dir_all(dir);
}
