//! One client connection: `hello` and the token, then messages in (commands, pings,
//! snapshot requests) and the queue's messages out.
//!
//! Two tasks per connection. The reader (this module's `serve`) parses what the client
//! sends and answers through the client's queue; the writer takes the queue's batches and
//! writes them, each within the write timeout. Whatever a client does (garbage, a line
//! over the limit, one byte a second, never reading, vanishing) ends in an `error`, a
//! `bye` or the closing of this one connection; nothing it sends reaches another client.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ctilink::wire::{
    self, ClientMessage, ClientParseError, CommandResult, ErrorCode, ServerMessage, WireError,
};
use ctilink::{Command, Error, Secret};
use tokio::time::Instant;

use crate::acl::Access;
use crate::io::{Incoming, Reader, Writer};
use crate::queue::Full;
use crate::registry::{lock, Client, Metrics};
use crate::Shared;

/// How long a refused token waits before its answer (besides the throttle of its address,
/// [`crate::admission`]).
const AUTH_FAILURE_DELAY: Duration = Duration::from_millis(250);
/// How long the reader waits for the writer to write the last `bye`.
const BYE_WAIT: Duration = Duration::from_secs(2);
/// The longest client name kept from `hello`.
const MAX_NAME: usize = 64;

fn answer(client: &Client, msg: &ServerMessage) -> Result<(), Full> {
    client.queue.push_answer(wire::encode(msg))
}

fn error(client: &Client, code: ErrorCode, message: impl Into<String>) -> Result<(), Full> {
    client.error();
    answer(client, &ServerMessage::Error(WireError::new(code, message)))
}

/// Ends the connection with `bye`; the writer writes what is queued and closes.
fn bye(client: &Client, reason: &str) {
    client.end(reason);
    client.queue.close_with(wire::encode(&ServerMessage::Bye { reason: reason.to_owned() }));
}

/// A client name as the diagnostics can show it.
fn clean_name(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(MAX_NAME).collect()
}

/// Serves one connection from its first byte to its end.
pub(crate) async fn serve(gw: Arc<Shared>, client: Arc<Client>, reader: Reader, writer: Writer) {
    let mut writer_task = tokio::spawn(write_loop(gw.clone(), client.clone(), writer));
    read_loop(&gw, &client, reader).await;
    gw.hub.detach(client.id);
    if lock(&client.ending).is_none() {
        client.end("closed by the client");
    }
    // A last error or bye is written (within BYE_WAIT); otherwise there is nothing more to say.
    if !client.queue.is_ending() {
        client.queue.shut();
    }
    if tokio::time::timeout(BYE_WAIT, &mut writer_task).await.is_err() {
        // Blocked on a client that does not read: drop the socket.
        writer_task.abort();
    }
    gw.forget(&client);
    tracing::debug!(
        "client {} ({}) gone: {}",
        client.id,
        client.addr,
        lock(&client.ending).clone().unwrap_or_default()
    );
}

async fn write_loop(gw: Arc<Shared>, client: Arc<Client>, mut writer: Writer) {
    let timeout = gw.limits.write_timeout;
    while let Some(batch) = client.queue.next_batch().await {
        match tokio::time::timeout(timeout, writer.send(&batch.messages)).await {
            Ok(Ok(bytes)) => {
                client.sent(batch.messages.len(), bytes);
                Metrics::add(&gw.metrics.messages_out, batch.messages.len() as u64);
            }
            Ok(Err(e)) => {
                client.end(format!("write failed: {e}"));
                break;
            }
            Err(_) => {
                client.end(format!("not reading: a write did not complete in {timeout:?}"));
                Metrics::add(&gw.metrics.write_timeouts, 1);
                break;
            }
        }
        if batch.last {
            break;
        }
    }
    client.queue.shut();
    let _ = tokio::time::timeout(Duration::from_secs(1), writer.close()).await;
    client.writer_done.notify_one();
}

/// Where the reader is in the protocol.
enum Phase {
    Hello,
    Ready(Arc<Access>),
}

async fn read_loop(gw: &Arc<Shared>, client: &Arc<Client>, mut reader: Reader) {
    let mut stopping = gw.stopping.subscribe();
    let mut phase = Phase::Hello;
    let mut deadline = Instant::now() + gw.limits.hello_timeout;
    loop {
        let authenticated = matches!(phase, Phase::Ready(_));
        let next = async {
            if authenticated {
                // Requests are taken as fast as their answers are: a client that pipelines
                // is served in batches; one that never reads stops being read.
                client.queue.answer_room(client.commands_in_flight.load(Ordering::Relaxed)).await;
            }
            reader.next().await
        };
        let incoming = tokio::select! {
            i = next => i,
            () = client.evict_now.notified(), if !authenticated => {
                bye(client, "too many connections without hello: the oldest make room");
                return;
            }
            () = tokio::time::sleep_until(deadline) => {
                match phase {
                    Phase::Hello => bye(client, "no hello in time"),
                    Phase::Ready(_) => bye(client, &format!("idle for {:?}", gw.limits.idle_timeout)),
                }
                return;
            }
            () = client.writer_done.notified() => {
                // The writer stopped (a write failed or timed out, or the bye was written).
                client.writer_done.notify_one();
                return;
            }
            _ = stopping.changed() => return,
        };
        let (line, bytes) = match incoming {
            Incoming::Message(line, bytes) => (line, bytes),
            Incoming::TooLong { fatal } => {
                client.received(gw.limits.max_line);
                Metrics::add(&gw.metrics.messages_in, 1);
                Metrics::add(&gw.metrics.protocol_errors, 1);
                let what = format!("message longer than {} bytes", gw.limits.max_line);
                if fatal || matches!(phase, Phase::Hello) {
                    let _ = error(client, ErrorCode::Protocol, what.clone());
                    bye(client, &what);
                    return;
                }
                if error(client, ErrorCode::Protocol, format!("{what}: skipped")).is_err() {
                    bye(client, "not reading its answers");
                    return;
                }
                continue;
            }
            Incoming::Closed => return,
            Incoming::Failed(e) => {
                client.end(format!("read failed: {e}"));
                return;
            }
        };
        client.received(bytes);
        Metrics::add(&gw.metrics.messages_in, 1);
        let go_on = match &phase {
            Phase::Hello => match hello(gw, client, &line).await {
                Some(access) => {
                    phase = Phase::Ready(access);
                    true
                }
                None => false,
            },
            Phase::Ready(access) => ready(gw, client, access, &line),
        };
        if !go_on {
            return;
        }
        if let Phase::Ready(_) = phase {
            deadline = Instant::now() + gw.limits.idle_timeout;
        }
    }
}

/// The first message: `hello` with a known token, or the connection ends.
async fn hello(gw: &Arc<Shared>, client: &Arc<Client>, line: &Bytes) -> Option<Arc<Access>> {
    let (version, token, name) = match wire::parse_client(line) {
        Ok(ClientMessage::Hello { version, token, client }) => (version, token, client),
        Ok(_) | Err(ClientParseError::Command { .. }) => {
            Metrics::add(&gw.metrics.protocol_errors, 1);
            let _ = error(client, ErrorCode::Protocol, "the first message must be hello");
            bye(client, "no hello");
            return None;
        }
        Err(ClientParseError::Message(e)) => {
            Metrics::add(&gw.metrics.protocol_errors, 1);
            client.error();
            let _ = answer(client, &ServerMessage::Error(e));
            bye(client, "no hello");
            return None;
        }
    };
    lock(&client.who).name = clean_name(&name);
    if version == 0 {
        let _ = error(client, ErrorCode::Protocol, format!("protocol version {version} is not supported"));
        bye(client, "unsupported protocol version");
        return None;
    }
    let wait = gw.admission.throttle(client.addr);
    if !wait.is_zero() {
        Metrics::add(&gw.metrics.hellos_throttled, 1);
        Metrics::add(&gw.metrics.hello_throttle_ms, wait.as_millis() as u64);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = client.evict_now.notified() => {}
        }
    }
    if client.is_evicted() {
        bye(client, "too many connections without hello: the oldest make room");
        return None;
    }
    let Some(access) = authenticate(gw, &token) else {
        Metrics::add(&gw.metrics.auth_failures, 1);
        gw.admission.failed(client.addr);
        tracing::info!("client {} ({}): unknown token", client.id, client.addr);
        tokio::time::sleep(AUTH_FAILURE_DELAY).await;
        client.error();
        let _ =
            answer(client, &ServerMessage::Error(WireError::from(Error::AuthFailed("unknown token".into()))));
        bye(client, "authentication failed");
        return None;
    };
    if gw.admission.authenticated(client).is_err() {
        Metrics::add(&gw.metrics.refused_full, 1);
        tracing::warn!(
            "refused {} ({}): {} clients connected already",
            client.id,
            client.addr,
            gw.limits.max_clients
        );
        bye(client, "the gateway has as many clients as it takes");
        return None;
    }
    lock(&client.who).identity = Some(access.identity.clone());
    if gw.hub.attach(client.clone(), access.clone()).is_err() {
        bye(client, "could not queue the welcome");
        return None;
    }
    tracing::info!(
        "client {} ({}) is {} ({})",
        client.id,
        client.addr,
        access.identity,
        client.transport.as_str()
    );
    Some(access)
}

fn authenticate(gw: &Shared, token: &Secret) -> Option<Arc<Access>> {
    gw.tokens.lookup(token)
}

/// A message after `hello`. `false` ends the connection.
fn ready(gw: &Arc<Shared>, client: &Arc<Client>, access: &Arc<Access>, line: &Bytes) -> bool {
    let sent = match wire::parse_client(line) {
        Ok(ClientMessage::Ping { id }) => answer(client, &ServerMessage::Pong { id }),
        Ok(ClientMessage::Snapshot { id }) => {
            gw.hub.snapshot_for(client.id, id);
            Ok(())
        }
        Ok(ClientMessage::Command { id, command }) => command_in(gw, client, access, id, command),
        Ok(ClientMessage::Hello { .. }) => {
            Metrics::add(&gw.metrics.protocol_errors, 1);
            error(client, ErrorCode::Protocol, "hello was already said")
        }
        Ok(_) => {
            Metrics::add(&gw.metrics.protocol_errors, 1);
            error(client, ErrorCode::Protocol, "unsupported message")
        }
        Err(ClientParseError::Command { id, error }) => {
            client.error();
            Metrics::add(&gw.metrics.protocol_errors, 1);
            answer(
                client,
                &ServerMessage::Result(CommandResult { id, ok: false, call: None, error: Some(error) }),
            )
        }
        Err(ClientParseError::Message(e)) => {
            client.error();
            Metrics::add(&gw.metrics.protocol_errors, 1);
            answer(client, &ServerMessage::Error(e))
        }
    };
    match sent {
        Ok(()) => true,
        Err(Full::Closed) => false,
        Err(_) => {
            bye(client, "not reading its answers");
            false
        }
    }
}

/// A command: checked against the token, then carried out on the PBX link in its own task;
/// the result is queued when it comes.
fn command_in(
    gw: &Arc<Shared>,
    client: &Arc<Client>,
    access: &Arc<Access>,
    id: u64,
    command: Command,
) -> Result<(), Full> {
    Metrics::add(&gw.metrics.commands, 1);
    let refuse = |e: Error| {
        Metrics::add(&gw.metrics.commands_refused, 1);
        answer(client, &ServerMessage::Result(CommandResult::new(id, &Err(e))))
    };
    if client.commands_in_flight.load(Ordering::Relaxed) >= gw.limits.max_commands {
        return refuse(Error::Busy(gw.limits.max_commands));
    }
    if let Err(e) = command.validate() {
        return refuse(e);
    }
    let link = gw.link.clone();
    if let Err(e) = access.check(&command, |c| link.call(c.as_str()), |c| gw.hub.seen(client.id, c)) {
        tracing::debug!("client {} ({}): {} refused: {e}", client.id, access.identity, command.name());
        return refuse(e);
    }
    client.commands_in_flight.fetch_add(1, Ordering::Relaxed);
    let client = client.clone();
    tokio::spawn(async move {
        let r = link.execute(command).await;
        client.commands_in_flight.fetch_sub(1, Ordering::Relaxed);
        // A client gone meanwhile: its result has nowhere to go.
        let _ = answer(&client, &ServerMessage::Result(CommandResult::new(id, &r)));
    });
    Ok(())
}
