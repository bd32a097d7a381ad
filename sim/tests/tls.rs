//! AMI over TLS (`amis://`): the simulator serves the banner and a login
//! through tokio-rustls with a PEM certificate and key.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use ctilink::ami::{Decoder, Frame, Message};
use ctilink_sim::{SimConfig, SimTls, Simulator};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A self-signed P-256 certificate for `localhost` and 127.0.0.1 (CA:FALSE,
/// valid until 2126), made with openssl for this test only.
const CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBmDCCAT6gAwIBAgIUMqS8I5DazM+LSMMQpaqzXAEZXy0wCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNjAzNDEwMFoYDzIxMjYxMTAy
MDM0MTAwWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAR3+TpM1wa2VdS628Lc+Q65h+b2Gt85NUSsqsVXa2MIIzsYnCAxnFps
l1+xiMSaWqGfZHeqDglGPs2NObaSJTIuo2wwajAdBgNVHQ4EFgQUtzyVfXv+LQAI
dGbD4ll3VvLmSUowHwYDVR0jBBgwFoAUtzyVfXv+LQAIdGbD4ll3VvLmSUowGgYD
VR0RBBMwEYIJbG9jYWxob3N0hwR/AAABMAwGA1UdEwEB/wQCMAAwCgYIKoZIzj0E
AwIDSAAwRQIhAIfDcwVyo5TR7tP2c45n8ppT+/N864+dIUs5bDnD20kHAiBIxTId
UAWYqDqu/GME8xzWb6/xJ1qYDXCH4Wk/M0Ukgg==
-----END CERTIFICATE-----
";
const KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgHrnqMYXZrfof/7nX
WYoXF7oILtSoXp0MO/18MI73bDahRANCAAR3+TpM1wa2VdS628Lc+Q65h+b2Gt85
NUSsqsVXa2MIIzsYnCAxnFpsl1+xiMSaWqGfZHeqDglGPs2NObaSJTIu
-----END PRIVATE KEY-----
";

async fn read_message<S: tokio::io::AsyncRead + Unpin>(
    s: &mut S,
    buf: &mut BytesMut,
    dec: &mut Decoder,
) -> Frame {
    loop {
        if let Ok(Some(f)) = dec.decode(buf) {
            return f;
        }
        let n = tokio::time::timeout(Duration::from_secs(5), s.read_buf(buf)).await;
        assert!(matches!(n, Ok(Ok(n)) if n > 0), "read failed: {n:?}");
    }
}

#[tokio::test]
async fn login_over_tls() {
    let cfg = SimConfig {
        tls: Some(SimTls { cert_pem: CERT.into(), key_pem: KEY.into() }),
        ..SimConfig::default()
    };
    let sim = Simulator::start(cfg, ([127, 0, 0, 1], 0).into()).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(sim.url().starts_with("amis://admin:secret@127.0.0.1:"), "{}", sim.url());

    let mut roots = rustls::RootCertStore::empty();
    let cert = CertificateDer::from_pem_slice(CERT.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    roots.add(cert).unwrap_or_else(|e| panic!("{e}"));
    let client =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap_or_else(|e| panic!("{e}"))
            .with_root_certificates(roots)
            .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp = tokio::net::TcpStream::connect(sim.addr()).await.unwrap_or_else(|e| panic!("{e}"));
    let name = ServerName::try_from("localhost").unwrap_or_else(|e| panic!("{e}"));
    let mut tls = connector.connect(name, tcp).await.unwrap_or_else(|e| panic!("TLS handshake: {e}"));

    let (mut buf, mut dec) = (BytesMut::new(), Decoder::default());
    match read_message(&mut tls, &mut buf, &mut dec).await {
        Frame::Banner(b) => assert_eq!(b.line(), "Asterisk Call Manager/9.0.0"),
        other => panic!("expected the banner, got {other:?}"),
    }
    tls.write_all(b"Action: Login\r\nActionID: 1\r\nUsername: admin\r\nSecret: secret\r\n\r\n")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let resp: Message = match read_message(&mut tls, &mut buf, &mut dec).await {
        Frame::Message(m) => m,
        other => panic!("{other:?}"),
    };
    assert_eq!(resp.get("Message"), Some("Authentication accepted"));
    assert_eq!(resp.action_id(), Some("1"));
    assert_eq!(sim.logins(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_pem_is_an_error() {
    let cfg = SimConfig {
        tls: Some(SimTls { cert_pem: "not a cert".into(), key_pem: KEY.into() }),
        ..SimConfig::default()
    };
    let err = Simulator::start(cfg, ([127, 0, 0, 1], 0).into()).await.err();
    assert_eq!(err.map(|e| e.kind()), Some(std::io::ErrorKind::InvalidInput));
}
