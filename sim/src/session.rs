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
use crate::pbx::{is_dtmf_digit, Answer, Notify, OriginateRequest};

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
        let sent = action.trim().to_owned();
        let action = sent.to_ascii_lowercase();
        shared.stats.record(&action, id);
        match action.as_str() {
            "login" => return self.login(shared, m, out),
            "challenge" => return self.challenge(m, out),
            "logoff" => {
                write(out, &events::response("Goodbye", id).field("Message", "Thanks for all the fish."));
                self.closing = true;
                return;
            }
            _ if !self.authenticated => return error(out, id, "Permission denied"),
            // The AMI user lacks the write permission this action needs (manager.conf).
            a if crate::hub::lock(&shared.denied).contains(a) => return error(out, id, "Permission denied"),
            // An older Asterisk, or one without the module (chan_pjsip, res_pjsip_notify).
            a if crate::hub::lock(&shared.unknown).contains(a) => {
                return error(out, id, &unknown_command(&sent))
            }
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
            // res_pjsip is loaded with PJSIP phones (and, with none, says so, as on an
            // Asterisk 20 whose phones are chan_sip); chan_sip exists only with SIP phones
            // (Asterisk 21 and later have none).
            "pjsipshowendpoints" => {
                match shared.with_pbx(|p| p.runs("PJSIP").then(|| p.endpoint_items(id))) {
                    Some(items) if !items.is_empty() => {
                        write(
                            out,
                            &events::response("Success", id).field("EventList", "start").field(
                                "Message",
                                "A listing of Endpoints follows, presented as EndpointList events",
                            ),
                        );
                        for item in &items {
                            write(out, item);
                        }
                        write(out, &events::list_complete("EndpointListComplete", id, items.len()));
                    }
                    _ => error(out, id, "No endpoints found"),
                }
            }
            "sippeers" => match shared.with_pbx(|p| p.runs("SIP").then(|| p.peer_items(id))) {
                Some(items) => write_list(out, id, "Peer status list", &items, "PeerlistComplete"),
                None => error(out, id, "Invalid/unknown command"),
            },
            "pjsipnotify" => self.pjsip_notify(shared, m, out),
            "sipnotify" => self.sip_notify(shared, m, out),
            "blindtransfer" | "atxfer" | "redirect" => self.transfer(shared, m, &action, out),
            "playdtmf" => self.play_dtmf(shared, m, out),
            "dbput" | "dbget" | "dbdel" | "dbdeltree" => self.astdb(shared, m, &action, out),
            "setvar" => self.setvar(shared, m, out),
            "userevent" => self.user_event(shared, m, out),
            _ => error(out, id, &unknown_command(&sent)),
        }
    }

    /// `PJSIPNotify` with `Variable: Event=talk|hold`: the phone answers, holds or
    /// retrieves. Checks and texts as res_pjsip_notify.c's `manager_notify` (22.10.1):
    /// an `Option` or variables (not both, not neither), then one target: an
    /// endpoint (known is enough, registered or not), a SIP URI (sent as is), or a
    /// channel by its full name.
    fn pjsip_notify(&mut self, shared: &Arc<Shared>, m: &Message, out: &mut BytesMut) {
        let id = m.action_id();
        let vars: Vec<String> = m.get_all("Variable").map(|v| v.into_owned()).collect();
        let has_vars = vars.iter().any(|v| !v.trim().is_empty());
        if field(m, "Option").is_some() == has_vars {
            // Sic: Asterisk's two sentences have no space between them.
            return error(
                out,
                id,
                "PJSIPNotify requires either an Option or Variable(s).You must use only one of them.",
            );
        }
        let (endpoint, uri, channel) = (field(m, "Endpoint"), field(m, "URI"), field(m, "Channel"));
        let targets = [&endpoint, &uri, &channel].iter().filter(|t| t.is_some()).count();
        if targets > 1 {
            return error(
                out,
                id,
                "PJSIPNotify requires either an endpoint name, a SIP URI, or a channel.  You must use only one of them.",
            );
        }
        let what = notify_event(&vars);
        let sent = if let Some(ep) = endpoint {
            // `PJSIP/100` names endpoint 100 too.
            let ext = ep.split_once('/').map_or(ep.as_str(), |(_, r)| r).to_owned();
            if !shared.with_pbx(|p| notify_phone(p, &ext, what)) {
                return error(out, id, &format!("Unable to retrieve endpoint {ep}"));
            }
            true
        } else if uri.is_some() {
            true
        } else if let Some(chan) = channel {
            let ext = shared.with_pbx(|p| p.channel_ext(&chan));
            let Some(ext) = ext else { return error(out, id, "Channel not found") };
            shared.with_pbx(|p| notify_phone(p, &ext, what))
        } else {
            false
        };
        if sent {
            write(out, &events::response("Success", id).field("Message", "NOTIFY sent"));
        } else {
            error(out, id, "PJSIPNotify requires either an endpoint name, a SIP URI, or a channel.");
        }
    }

    /// chan_sip's `SIPnotify` (`Channel: SIP/100`) with `Variable: Event=talk|hold`,
    /// with chan_sip's texts.
    fn sip_notify(&mut self, shared: &Arc<Shared>, m: &Message, out: &mut BytesMut) {
        let id = m.action_id();
        let Some(target) = field(m, "Channel") else { return error(out, id, "Channel not specified") };
        let vars: Vec<String> = m.get_all("Variable").map(|v| v.into_owned()).collect();
        if vars.is_empty() {
            return error(out, id, "At least one variable is required");
        }
        // `SIP/100` or `100`; a channel name (`SIP/100-0000000a`) names its peer.
        let res = target.split_once('/').map_or(target.as_str(), |(_, r)| r);
        let ext = res.split_once('-').map_or(res, |(e, _)| e).to_owned();
        let what = notify_event(&vars);
        if shared.with_pbx(|p| notify_phone(p, &ext, what)) {
            write(out, &events::response("Success", id).field("Message", "Notify Sent"));
        } else {
            error(out, id, "Could not create address");
        }
    }

    /// `BlindTransfer`, `Atxfer` and `Redirect`: `Channel`, `Context`, `Exten`.
    fn transfer(&mut self, shared: &Arc<Shared>, m: &Message, action: &str, out: &mut BytesMut) {
        let id = m.action_id();
        let Some(channel) = field(m, "Channel") else {
            return error(
                out,
                id,
                if action == "redirect" { "Channel not specified" } else { "No channel specified" },
            );
        };
        let Some(exten) = field(m, "Exten") else {
            return error(
                out,
                id,
                if action == "redirect" { "Exten not specified" } else { "No extension specified" },
            );
        };
        if action == "redirect" {
            if let Some(p) = field(m, "Priority") {
                if p.parse::<u32>().map_or(true, |p| p == 0) {
                    return error(out, id, "Invalid priority");
                }
            }
        }
        let context = field(m, "Context").unwrap_or_else(|| shared.config.context.clone());
        let answer: Answer = shared.with_pbx(|p| match action {
            "blindtransfer" => p.blind_transfer(&channel, &context, &exten),
            "atxfer" => p.atxfer(&channel, &context, &exten),
            _ => p.redirect(&channel, &context, &exten),
        });
        answer_with(out, id, answer);
    }

    /// `PlayDTMF`: `Channel`, `Digit`, optional `Duration` (ms).
    fn play_dtmf(&mut self, shared: &Arc<Shared>, m: &Message, out: &mut BytesMut) {
        let id = m.action_id();
        let Some(channel) = field(m, "Channel") else { return error(out, id, "Channel not specified") };
        let Some(digit) = field(m, "Digit").and_then(|d| d.chars().next()) else {
            return error(out, id, "No digit specified");
        };
        if !is_dtmf_digit(digit) {
            return error(out, id, "Invalid digit");
        }
        let duration = field(m, "Duration").and_then(|d| d.parse::<u32>().ok()).unwrap_or(100).min(10_000);
        if shared.with_pbx(|p| p.play_dtmf(&channel, digit, duration)) {
            write(out, &events::response("Success", id).field("Message", "DTMF successfully queued"));
        } else {
            error(out, id, "Channel not found");
        }
    }

    /// `DBPut`, `DBGet`, `DBDel`, `DBDelTree`, with Asterisk 20's texts.
    fn astdb(&mut self, shared: &Arc<Shared>, m: &Message, action: &str, out: &mut BytesMut) {
        let id = m.action_id();
        let Some(family) = field(m, "Family") else { return error(out, id, "No family specified.") };
        let key = field(m, "Key");
        if action == "dbdeltree" {
            let n = shared.with_pbx(|p| p.db_del_tree(&family, key.as_deref()));
            return answer_with(
                out,
                id,
                if n > 0 {
                    Ok("Key tree deleted successfully")
                } else {
                    Err("Database entry not found".into())
                },
            );
        }
        let Some(key) = key else { return error(out, id, "No key specified.") };
        match action {
            "dbput" => {
                let val = m.get("Val").unwrap_or_default().trim().to_owned();
                let ok = shared.with_pbx(|p| p.db_put(&family, &key, &val));
                answer_with(
                    out,
                    id,
                    if ok {
                        Ok("Updated database successfully")
                    } else {
                        Err("Failed to update entry".into())
                    },
                );
            }
            "dbdel" => {
                let ok = shared.with_pbx(|p| p.db_del(&family, &key));
                answer_with(
                    out,
                    id,
                    if ok {
                        Ok("Key deleted successfully")
                    } else {
                        Err("Database entry does not exist".into())
                    },
                );
            }
            _ => match shared.with_pbx(|p| p.db_get(&family, &key)) {
                Some(val) => {
                    write(
                        out,
                        &events::response("Success", id)
                            .field("EventList", "start")
                            .field("Message", "Result will follow"),
                    );
                    write(
                        out,
                        &MessageBuilder::event("DBGetResponse")
                            .field("Family", family)
                            .field("Key", key)
                            .field("Val", val)
                            .field_opt("ActionID", id),
                    );
                    write(out, &events::list_complete("DBGetComplete", id, 1));
                }
                None => error(out, id, "Database entry not found"),
            },
        }
    }

    /// `Setvar`: `DEVICE_STATE(Custom:NAME)` sets a custom device state; any
    /// other variable is accepted (and not kept).
    fn setvar(&mut self, shared: &Arc<Shared>, m: &Message, out: &mut BytesMut) {
        let id = m.action_id();
        let Some(var) = field(m, "Variable") else { return error(out, id, "No variable specified") };
        if let Some(chan) = field(m, "Channel") {
            if shared.with_pbx(|p| p.key_of(&chan).is_none()) {
                return error(out, id, "Channel not found");
            }
        }
        let value = m.get("Value").unwrap_or_default().trim().to_owned();
        let custom = var
            .strip_prefix("DEVICE_STATE(")
            .and_then(|r| r.strip_suffix(')'))
            .and_then(|d| d.trim().strip_prefix("Custom:"))
            .map(str::to_owned);
        if let Some(name) = custom.filter(|n| !n.is_empty()) {
            if !shared.with_pbx(|p| p.set_custom_state(&name, &value)) {
                return error(out, id, "Failed to set variable");
            }
        }
        write(out, &events::response("Success", id).field("Message", "Variable Set"));
    }

    /// `UserEvent`: broadcast `Event: UserEvent` with every header of the action
    /// but `Action` and `ActionID`, as Asterisk does.
    fn user_event(&mut self, shared: &Arc<Shared>, m: &Message, out: &mut BytesMut) {
        let id = m.action_id();
        let Some(name) = field(m, "UserEvent") else { return error(out, id, "UserEvent header missing") };
        let mut ev = events::user_event(&name);
        for (k, v) in m.fields() {
            if ["Action", "ActionID", "UserEvent"].iter().any(|x| k.eq_ignore_ascii_case(x)) {
                continue;
            }
            ev.push(k.into_owned(), v.into_owned());
        }
        write(out, &events::response("Success", id).field("Message", "Event Sent"));
        shared.with_pbx(|p| p.user_event(ev));
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
        let application = field("Application");
        if let Some(app) = &application {
            if !app.eq_ignore_ascii_case("PickupChan") {
                return error(out, id, "Originate with Application is not supported by the simulator");
            }
        }
        let exten = match (&application, field("Exten")) {
            (_, Some(e)) if application.is_none() => e,
            (Some(_), _) => String::new(),
            _ => return error(out, id, "Exten not specified"),
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
            data: application.as_ref().map(|_| field("Data").unwrap_or_default()),
            application,
            reply_to: (!is_async).then_some(self.id),
        };
        if is_async {
            write(out, &events::response("Success", id).field("Message", "Originate successfully queued"));
        }
        shared.with_pbx(|p| p.originate(req));
    }
}

/// `Invalid/unknown command: X. Use Action: ListCommands to show available commands.`,
/// as manager.c answers an action it has not registered (the name as sent).
fn unknown_command(action: &str) -> String {
    format!("Invalid/unknown command: {action}. Use Action: ListCommands to show available commands.")
}

/// What the `Event=` variable of a NOTIFY asks the phone to do, if anything it knows.
fn notify_event(vars: &[String]) -> Option<Notify> {
    vars.iter().find_map(|v| {
        let (k, val) = v.split_once('=')?;
        k.trim().eq_ignore_ascii_case("Event").then(|| Notify::parse(val)).flatten()
    })
}

/// Delivers a NOTIFY to phone `ext`; `false` if there is no such phone.
fn notify_phone(p: &mut crate::pbx::Pbx, ext: &str, what: Option<Notify>) -> bool {
    match what {
        Some(w) => p.notify(ext, w),
        None => p.is_extension(ext),
    }
}

/// A header's trimmed value, if present and not empty.
fn field(m: &Message, key: &str) -> Option<String> {
    m.get(key).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

fn answer_with(out: &mut BytesMut, id: Option<&str>, answer: Answer) {
    match answer {
        Ok(text) => write(out, &events::response("Success", id).field("Message", text)),
        Err(text) => error(out, id, &text),
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
