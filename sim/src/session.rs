//! One manager session: login state, event mask, and the answer to each action,
//! with Asterisk 20's response texts.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use ctilink::ami::{Decoder, Frame, Message, MessageBuilder};
use md5::{Digest, Md5};

use crate::channel::{extension_status_text, EventClass, EventMask};
use crate::events::{self, AuthInfo};
use crate::handle::Shared;
use crate::pbx::OriginateRequest;

/// The protocol state of one connection.
#[derive(Debug)]
pub(crate) struct Session {
    id: u64,
    peer: SocketAddr,
    local: SocketAddr,
    authenticated: bool,
    /// The last `Challenge` handed out, for an MD5 `Login`.
    challenge: Option<String>,
    /// After `Logoff` or a failed login: write what is pending, then close.
    closing: bool,
}

fn write(out: &mut BytesMut, msg: &MessageBuilder) {
    if let Err(e) = msg.encode(out) {
        tracing::warn!("simulator response not encodable: {e}");
    }
}

fn error(out: &mut BytesMut, id: Option<&str>, text: &str) {
    write(out, &events::response("Error", id).field("Message", text));
}

/// `hex(md5(challenge + secret))`, the key of an MD5 login.
pub(crate) fn md5_key(challenge: &str, secret: &str) -> String {
    let mut h = Md5::new();
    h.update(challenge.as_bytes());
    h.update(secret.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Asterisk's `ast_true`.
fn is_true(v: &str) -> bool {
    ["yes", "true", "y", "t", "1", "on"].iter().any(|t| v.trim().eq_ignore_ascii_case(t))
}

fn now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// `IPV4/TCP/127.0.0.1/5038`, as security events name addresses.
fn security_addr(a: SocketAddr) -> String {
    let v = if a.is_ipv4() { "IPV4" } else { "IPV6" };
    format!("{v}/TCP/{}/{}", a.ip(), a.port())
}

/// `2026-11-26T03:09:41.617+0000` (UTC), as security events stamp themselves.
fn event_tv(t: Duration) -> String {
    let secs = t.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}+0000",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        t.subsec_millis()
    )
}

impl Session {
    pub(crate) fn new(id: u64, peer: SocketAddr, local: SocketAddr) -> Self {
        Self { id, peer, local, authenticated: false, challenge: None, closing: false }
    }

    pub(crate) fn closing(&self) -> bool {
        self.closing
    }

    /// Decodes what has arrived and answers each complete action into `out`.
    /// Input the decoder rejects (junk, over-long lines) is skipped.
    pub(crate) fn input(
        &mut self,
        shared: &Arc<Shared>,
        decoder: &mut Decoder,
        rbuf: &mut BytesMut,
        out: &mut BytesMut,
    ) {
        loop {
            if self.closing {
                rbuf.clear();
                return;
            }
            match decoder.decode(rbuf) {
                Ok(Some(Frame::Message(m))) => self.handle(shared, &m, out),
                Ok(Some(Frame::Banner(_))) => {}
                Ok(None) => return,
                Err(e) => tracing::debug!(conn = self.id, "ignoring bad input: {e}"),
            }
        }
    }

    fn handle(&mut self, shared: &Arc<Shared>, m: &Message, out: &mut BytesMut) {
        let id = m.action_id();
        let Some(action) = m.action() else {
            error(out, id, "Missing action in request");
            return;
        };
        shared.stats.actions.fetch_add(1, Ordering::Relaxed);
        let action = action.trim().to_ascii_lowercase();
        match action.as_str() {
            "login" => return self.login(shared, m, out),
            "challenge" => return self.challenge(m, out),
            "logoff" => {
                write(out, &events::response("Goodbye", id).field("Message", "Thanks for all the fish."));
                self.closing = true;
                return;
            }
            _ if !self.authenticated => return error(out, id, "Permission denied"),
            _ => {}
        }
        match action.as_str() {
            "ping" => {
                let t = now();
                let ts = format!("{}.{:06}", t.as_secs(), t.subsec_micros());
                write(out, &events::response("Success", id).field("Ping", "Pong").field("Timestamp", ts));
            }
            "events" => match m.get("EventMask") {
                Some(mask) => {
                    let mask = EventMask::parse(mask);
                    shared.hub.set_mask(self.id, mask);
                    let state = if mask.is_off() { "Off" } else { "On" };
                    write(out, &events::response("Success", id).field("Events", state));
                }
                None => error(out, id, "Invalid event mask"),
            },
            "originate" => self.originate(shared, m, out),
            "hangup" => {
                let Some(channel) = m.get("Channel").map(str::trim).filter(|c| !c.is_empty()) else {
                    return error(out, id, "No channel specified");
                };
                let cause = m.get("Cause").and_then(|c| c.trim().parse::<u32>().ok()).unwrap_or(16);
                // Events go through the connection's queue, which is drained
                // after `out`: the response precedes them, as in Asterisk.
                if shared.with_pbx(|p| p.hangup(channel, cause)) {
                    write(out, &events::response("Success", id).field("Message", "Channel Hungup"));
                } else {
                    error(out, id, "No such channel");
                }
            }
            "extensionstatelist" => {
                let items = shared.with_pbx(|p| p.extension_state_items(id));
                write_list(out, id, "Extension Statuses", &items, "ExtensionStateListComplete");
            }
            "devicestatelist" => {
                let items = shared.with_pbx(|p| p.device_state_items(id));
                write_list(out, id, "Device State Changes", &items, "DeviceStateListComplete");
            }
            "coreshowchannels" => {
                let items = shared.with_pbx(|p| p.channel_items(id));
                write_list(out, id, "Channels", &items, "CoreShowChannelsComplete");
            }
            "extensionstate" => {
                let exten = m.get("Exten").unwrap_or_default().trim();
                let (hint, status, context) = shared.with_pbx(|p| {
                    let context =
                        m.get("Context").map_or_else(|| p.context().to_owned(), |c| c.trim().to_owned());
                    let (hint, status) = p.extension_state(exten, &context);
                    (hint, status, context)
                });
                write(
                    out,
                    &events::response("Success", id)
                        .field("Message", "Extension Status")
                        .field("Exten", exten)
                        .field("Context", context)
                        .field("Hint", hint)
                        .field("Status", status.to_string())
                        .field("StatusText", extension_status_text(status)),
                );
            }
            _ => error(out, id, "Invalid/unknown command"),
        }
    }

    fn login(&mut self, shared: &Arc<Shared>, m: &Message, out: &mut BytesMut) {
        let id = m.action_id();
        if self.authenticated {
            write(out, &events::response("Success", id).field("Message", "Already authenticated"));
            return;
        }
        let cfg = &shared.config;
        let secret = crate::hub::lock(&shared.secret).clone();
        let user_ok = m.get("Username").is_some_and(|u| u.eq_ignore_ascii_case(&cfg.username));
        let md5 = m.get("AuthType").is_some_and(|t| t.trim().eq_ignore_ascii_case("md5"));
        let secret_ok = if md5 {
            match (self.challenge.take(), m.get("Key")) {
                (Some(ch), Some(key)) => key.trim().eq_ignore_ascii_case(&md5_key(&ch, &secret)),
                _ => false,
            }
        } else {
            m.get("Secret") == Some(secret.as_str())
        };
        if !(user_ok && secret_ok) {
            shared.stats.failed_logins.fetch_add(1, Ordering::Relaxed);
            error(out, id, "Authentication failed");
            self.closing = true;
            return;
        }
        self.authenticated = true;
        let mask = m.get("Events").map_or(EventMask::ALL, EventMask::parse);
        write(out, &events::response("Success", id).field("Message", "Authentication accepted"));
        if mask.allows(EventClass::System) {
            write(out, &events::fully_booted(shared.started.elapsed().as_secs()));
        }
        shared.hub.set_login(self.id, mask);
        shared.stats.logins.fetch_add(1, Ordering::Relaxed);
        let (tv, session_id) = (event_tv(now()), format!("0x{:012x}", 0x7f00_0000_0000u64 + self.id * 0x40));
        let ev = events::successful_auth(&AuthInfo {
            event_tv: &tv,
            account: m.get("Username").unwrap_or_default(),
            session_id: &session_id,
            local: &security_addr(self.local),
            remote: &security_addr(self.peer),
            using_password: false,
        });
        shared.hub.broadcast(&ev);
    }

    fn challenge(&mut self, m: &Message, out: &mut BytesMut) {
        let id = m.action_id();
        if m.get("AuthType").is_some_and(|t| t.trim().eq_ignore_ascii_case("md5")) {
            let challenge = fastrand::u32(100_000_000..1_000_000_000).to_string();
            write(out, &events::response("Success", id).field("Challenge", challenge.as_str()));
            self.challenge = Some(challenge);
        } else {
            error(out, id, "Must specify AuthType");
        }
    }

    fn originate(&mut self, shared: &Arc<Shared>, m: &Message, out: &mut BytesMut) {
        let id = m.action_id();
        let field = |k: &str| m.get(k).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        let Some(channel) = field("Channel") else {
            return error(out, id, "Channel not specified");
        };
        if field("Application").is_some() && field("Exten").is_none() {
            return error(out, id, "Originate with Application is not supported by the simulator");
        }
        let Some(exten) = field("Exten") else {
            return error(out, id, "Exten not specified");
        };
        let priority = match field("Priority") {
            None => 1,
            Some(p) => match p.parse::<u32>() {
                Ok(p) if p > 0 => p,
                _ => return error(out, id, "Invalid priority"),
            },
        };
        let timeout_ms = field("Timeout").and_then(|t| t.parse::<u64>().ok()).unwrap_or(30_000);
        let is_async = m.get("Async").is_some_and(is_true);
        let req = OriginateRequest {
            action_id: id.map(str::to_owned),
            channel,
            context: field("Context").unwrap_or_else(|| shared.config.context.clone()),
            exten,
            priority,
            caller_id: field("CallerID"),
            timeout: Duration::from_millis(timeout_ms),
            account: field("Account"),
            channel_id: field("ChannelId"),
            other_channel_id: field("OtherChannelId"),
            reply_to: (!is_async).then_some(self.id),
        };
        if is_async {
            write(out, &events::response("Success", id).field("Message", "Originate successfully queued"));
        }
        shared.with_pbx(|p| p.originate(req));
    }
}

fn write_list(out: &mut BytesMut, id: Option<&str>, what: &str, items: &[MessageBuilder], complete: &str) {
    write(out, &events::list_start(id, what));
    for item in items {
        write(out, item);
    }
    write(out, &events::list_complete(complete, id, items.len()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_known_vector() {
        // The same vector as the client's test: md5("840415273" + "mysecret").
        assert_eq!(md5_key("840415273", "mysecret"), "72ee2809cbf69e9bdb27bdd924cda8e3");
    }

    #[test]
    fn event_tv_format() {
        // 2026-11-26T03:09:41.617Z
        let t = Duration::from_millis(1_795_662_581_617);
        assert_eq!(event_tv(t), "2026-11-26T03:09:41.617+0000");
    }

    #[test]
    fn truthy_values() {
        assert!(is_true("true") && is_true("Yes") && is_true("1"));
        assert!(!is_true("false") && !is_true(""));
    }
}
