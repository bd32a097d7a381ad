//! The link against replies taken byte for byte from real captures of older
//! Asterisk versions (the simulator speaks Asterisk 20 only): old-style
//! `Response: Follows` command output, a response without ActionID, and a list
//! without `EventList` headers. A tiny server on 127.0.0.1:0 plays them back with
//! the client's ActionID substituted for the one recorded.

use std::path::Path;
use std::time::Duration;

use bytes::BytesMut;
use ctilink::ami::{Action, AmiClient, AmiConfig, Decoder, Frame};
use ctilink_tests::vectors_dir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The server's part of a capture: everything after the client's first action
/// block when the capture starts with one.
fn server_part(file: &str) -> String {
    let path = vectors_dir().join("ami/real").join(file);
    let text = std::fs::read_to_string(Path::new(&path)).unwrap_or_else(|e| panic!("{file}: {e}"));
    if text.to_ascii_lowercase().starts_with("action:") {
        let end = text.find("\r\n\r\n").expect("action block ends") + 4;
        text[end..].to_owned()
    } else {
        text
    }
}

/// Scripted replies: action name -> (capture bytes, the ActionID recorded in them).
fn script(action: &str) -> Option<(String, Option<&'static str>)> {
    match action.to_ascii_lowercase().as_str() {
        "command" => Some((server_part("panoramisk_command_core_show_channels.ami"), Some("generated_id"))),
        "sipnotify" => Some((server_part("panoramisk_sipnotify_multivariable.ami"), None)),
        "queuestatus" => {
            Some((server_part("panoramisk_queue_status.ami"), Some("action/transaction_uid/1/1")))
        }
        _ => None,
    }
}

async fn serve_once(listener: TcpListener) {
    let (mut sock, _) = listener.accept().await.expect("accept");
    sock.write_all(b"Asterisk Call Manager/1.3\r\n").await.expect("banner");
    let mut dec = Decoder::default();
    let mut buf = BytesMut::new();
    loop {
        let frame = match dec.decode(&mut buf) {
            Ok(Some(f)) => f,
            Ok(None) => {
                if sock.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                    return;
                }
                continue;
            }
            Err(e) => panic!("client sent invalid AMI: {e}"),
        };
        let Frame::Message(m) = frame else { continue };
        let id = m.action_id().unwrap_or_default().to_owned();
        let action = m.action().unwrap_or_default().to_owned();
        let reply = match action.to_ascii_lowercase().as_str() {
            "login" => {
                format!("Response: Success\r\nActionID: {id}\r\nMessage: Authentication accepted\r\n\r\n")
            }
            "logoff" => {
                let bye = format!(
                    "Response: Goodbye\r\nActionID: {id}\r\nMessage: Thanks for all the fish.\r\n\r\n"
                );
                let _ = sock.write_all(bye.as_bytes()).await;
                return;
            }
            other => match script(other) {
                Some((text, Some(recorded))) => text.replace(recorded, &id),
                Some((text, None)) => text,
                None => {
                    format!("Response: Error\r\nActionID: {id}\r\nMessage: Invalid/unknown command\r\n\r\n")
                }
            },
        };
        sock.write_all(reply.as_bytes()).await.expect("reply");
    }
}

async fn client() -> AmiClient {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(serve_once(listener));
    let mut cfg = AmiConfig::from_url(&format!("ami://u:p@127.0.0.1:{port}")).expect("url");
    cfg.action_timeout = Duration::from_secs(3);
    AmiClient::connect(cfg).await.expect("login")
}

#[tokio::test]
async fn old_style_command_output_comes_back_as_lines() {
    let c = client().await;
    assert_eq!(c.banner().as_deref(), Some("Asterisk Call Manager/1.3"));
    let r = c.send(Action::command("core show channels")).await.expect("command");
    assert_eq!(r.status(), "Follows");
    let lines = r.message().output_lines();
    assert!(lines.iter().any(|l| l == "0 active channels"), "{lines:?}");
    assert!(lines.iter().any(|l| l == "2 calls processed"), "{lines:?}");
}

#[tokio::test]
async fn a_response_without_action_id_answers_the_oldest_action() {
    let c = client().await;
    let notify =
        Action::new("SIPnotify").field("Channel", "SIP/nnnnnn").field("Variable", "Event=check-sync");
    let r = c.send(notify).await.expect("answered despite the missing ActionID");
    assert_eq!(r.text(), Some("Notify Sent"));
}

#[tokio::test]
async fn list_without_eventlist_headers_is_collected_to_its_complete_event() {
    let c = client().await;
    let list = c.send_list(Action::new_list("QueueStatus")).await.expect("list");
    assert_eq!(list.response.text(), Some("Queue status will follow"));
    assert!(list.items.len() >= 3, "{}", list.items.len());
    assert!(list.items[0].is_event("QueueParams"));
    assert!(list.items[1..].iter().all(|m| m.is_event("QueueMember") || m.is_event("QueueParams")));
    assert!(list.complete.as_ref().is_some_and(|m| m.is_event("QueueStatusComplete")));
    c.close().await;
}
