//! The simulator against real Asterisk 20: the same events, fields and order.
//!
//! Each test starts a simulator on 127.0.0.1:0 with short delays and talks to
//! it over a raw TCP socket through the core decoder, as a PBX client would.
//! Sequences are compared with the captures in `$CTILINK_VECTORS/ami/asterisk20/`
//! per channel (Asterisk interleaves channels freely), and field lists are
//! compared event by event.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use ctilink::ami::{DecodeError, Decoder, Frame, Limits, Message, MessageBuilder};
use ctilink_sim::{AsteriskVersion, SimConfig, SimError, SimHandle, Simulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(5);

/// The channel events the simulator emits; everything else in the captures
/// (VarSet, Cdr, security and system events) is left out of comparisons.
const CALL_EVENTS: &[&str] = &[
    "Newchannel",
    "Newstate",
    "NewCallerid",
    "NewConnectedLine",
    "Newexten",
    "DialBegin",
    "DialState",
    "DialEnd",
    "BridgeCreate",
    "BridgeEnter",
    "BridgeLeave",
    "BridgeDestroy",
    "HangupRequest",
    "SoftHangupRequest",
    "Hangup",
    "DeviceStateChange",
    "ExtensionStatus",
    "OriginateResponse",
];

fn config() -> SimConfig {
    SimConfig {
        extensions: SimConfig::extension_range(100, 109),
        ring_delay: Duration::from_millis(80),
        answer_delay: Duration::from_millis(120),
        ..SimConfig::default()
    }
}

async fn start(cfg: SimConfig) -> SimHandle {
    let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
    match Simulator::start(cfg, addr).await {
        Ok(sim) => sim,
        Err(e) => panic!("simulator did not start: {e}"),
    }
}

/// What reading the socket gave.
#[derive(Debug)]
enum Got {
    Msg(Message),
    Error(DecodeError),
    Eof,
    Timeout,
}

/// A bare AMI client: a socket and the core decoder, nothing else.
struct Raw {
    stream: TcpStream,
    buf: BytesMut,
    dec: Decoder,
    banner: Option<String>,
}

impl Raw {
    async fn connect(sim: &SimHandle) -> Raw {
        Self::connect_with(sim, Limits::default()).await
    }

    async fn connect_with(sim: &SimHandle, limits: Limits) -> Raw {
        let stream = match TcpStream::connect(sim.addr()).await {
            Ok(s) => s,
            Err(e) => panic!("connect: {e}"),
        };
        let mut raw = Raw { stream, buf: BytesMut::new(), dec: Decoder::new(limits), banner: None };
        // The banner comes first.
        match raw.next_within(WAIT).await {
            Got::Timeout if raw.banner.is_some() => {}
            other => panic!("expected only a banner, got {other:?}"),
        }
        raw
    }

    async fn send(&mut self, pairs: &[(&str, &str)]) {
        let mut m = MessageBuilder::new();
        for (k, v) in pairs {
            m.push(*k, *v);
        }
        let mut out = BytesMut::new();
        if let Err(e) = m.encode(&mut out) {
            panic!("encode: {e}");
        }
        if let Err(e) = self.stream.write_all(&out).await {
            panic!("write: {e}");
        }
    }

    /// The next message, decode error, EOF, or `Timeout` after `d` (a banner
    /// is recorded and reading goes on; `Timeout` is returned right after it
    /// if nothing else is buffered).
    async fn next_within(&mut self, d: Duration) -> Got {
        let deadline = tokio::time::Instant::now() + d;
        loop {
            match self.dec.decode(&mut self.buf) {
                Ok(Some(Frame::Message(m))) => return Got::Msg(m),
                Ok(Some(Frame::Banner(b))) => {
                    self.banner = Some(b.line().to_owned());
                    if self.buf.is_empty() {
                        return Got::Timeout;
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => return Got::Error(e),
            }
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await {
                Err(_) => return Got::Timeout,
                Ok(Ok(0)) | Ok(Err(_)) => return Got::Eof,
                Ok(Ok(_)) => {}
            }
        }
    }

    async fn next(&mut self) -> Message {
        match self.next_within(WAIT).await {
            Got::Msg(m) => m,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    /// Reads until the response with this ActionID; events seen meanwhile are kept.
    async fn response(&mut self, id: &str, seen: &mut Vec<Message>) -> Message {
        loop {
            let m = self.next().await;
            if m.response().is_some() && m.action_id() == Some(id) {
                return m;
            }
            seen.push(m);
        }
    }

    /// Reads until `done` holds for the messages read so far.
    async fn until(&mut self, seen: &mut Vec<Message>, done: impl Fn(&[Message]) -> bool) {
        while !done(seen) {
            let m = self.next().await;
            seen.push(m);
        }
    }

    /// Reads until nothing has come for `quiet`.
    async fn drain(&mut self, seen: &mut Vec<Message>, quiet: Duration) {
        loop {
            match self.next_within(quiet).await {
                Got::Msg(m) => seen.push(m),
                Got::Timeout => return,
                other => panic!("while draining: {other:?}"),
            }
        }
    }

    async fn login(&mut self, user: &str, secret: &str, events: &str) -> Message {
        self.send(&[
            ("Action", "Login"),
            ("ActionID", "login-1"),
            ("Username", user),
            ("Secret", secret),
            ("Events", events),
        ])
        .await;
        self.response("login-1", &mut Vec::new()).await
    }

    /// Logs in with the defaults and reads past the login's own events.
    async fn logged_in(sim: &SimHandle) -> Raw {
        let mut raw = Raw::connect(sim).await;
        let r = raw.login("admin", "secret", "on").await;
        assert_eq!(r.get("Message"), Some("Authentication accepted"));
        raw.drain(&mut Vec::new(), Duration::from_millis(100)).await;
        raw
    }

    async fn expect_eof(&mut self) {
        loop {
            match self.next_within(WAIT).await {
                Got::Eof => return,
                Got::Msg(_) | Got::Error(_) => continue,
                Got::Timeout => panic!("socket not closed"),
            }
        }
    }
}

fn events_of(all: &[Message]) -> Vec<Message> {
    all.iter()
        .filter(|m| m.event().is_some_and(|e| CALL_EVENTS.contains(&e)))
        .filter(|m| m.action_id().is_none() || m.is_event("OriginateResponse"))
        .cloned()
        .collect()
}

/// Every message of a capture file.
fn capture(name: &str) -> Vec<Message> {
    capture_of("asterisk20", name)
}

/// Every message of a capture file under `ami/<dir>/`.
fn capture_of(dir: &str, name: &str) -> Vec<Message> {
    let path = ctilink_tests::vectors_dir().join("ami").join(dir).join(name);
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut buf = BytesMut::from(&data[..]);
    let mut dec = Decoder::default();
    let mut out = Vec::new();
    loop {
        match dec.decode_eof(&mut buf) {
            Ok(Some(Frame::Message(m))) => out.push(m),
            Ok(Some(Frame::Banner(_))) => {}
            Ok(None) => break,
            Err(e) => panic!("{name}: {e}"),
        }
    }
    out
}

/// The phone a message is about: `SIP/101-00000000` and `PJSIP/101-0000000a` are
/// both `101`; device and hint events name it too; bridges form their own group.
fn party(m: &Message) -> String {
    let ext_of = |chan: &str| {
        let after = chan.split_once('/').map_or(chan, |(_, r)| r);
        after.rsplit_once('-').map_or(after, |(l, _)| l).to_owned()
    };
    if let Some(c) = m.get("Channel") {
        return ext_of(c);
    }
    if let Some(c) = m.get("DestChannel") {
        return ext_of(c);
    }
    if let Some(d) = m.get("Device") {
        return ext_of(d);
    }
    if let Some(e) = m.get("Exten") {
        return e.to_owned();
    }
    "bridge".into()
}

/// An event and the values that matter for call tracking.
fn label(m: &Message) -> String {
    let name = m.event().unwrap_or_default();
    let key = match name {
        "Newstate" => "ChannelStateDesc",
        "DialBegin" => "DialString",
        "DialState" | "DialEnd" => "DialStatus",
        "Hangup" | "HangupRequest" | "SoftHangupRequest" => "Cause",
        "DeviceStateChange" => "State",
        "ExtensionStatus" => "StatusText",
        "BridgeEnter" | "BridgeLeave" => "BridgeNumChannels",
        "OriginateResponse" => "Reason",
        "Newexten" => "Application",
        _ => return name.to_owned(),
    };
    format!("{name}({})", m.get(key).unwrap_or("-"))
}

fn per_party(events: &[Message]) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in events {
        map.entry(party(m)).or_default().push(label(m));
    }
    map
}

/// Field names in order, per event name (and whether a calling channel is
/// present, since an Originate's own DialBegin has only `Dest` fields).
fn shapes(events: &[Message]) -> HashMap<(String, bool), Vec<String>> {
    let mut map = HashMap::new();
    for m in events {
        let keys: Vec<String> = m.fields().map(|(k, _)| k.into_owned()).collect();
        let key = (m.event().unwrap_or_default().to_owned(), m.contains("Channel"));
        map.entry(key).or_insert(keys);
    }
    map
}

fn assert_same_shapes(sim: &[Message], real: &[Message]) {
    let (sim, real) = (shapes(sim), shapes(real));
    for (key, keys) in &sim {
        match real.get(key) {
            Some(real_keys) => assert_eq!(keys, real_keys, "fields of {key:?}"),
            None => panic!("{key:?} emitted by the simulator but not in the capture"),
        }
    }
    for key in real.keys() {
        assert!(sim.contains_key(key), "{key:?} in the capture but not emitted by the simulator");
    }
}

fn assert_same_sequences(sim: &[Message], real: &[Message]) {
    assert!(real.len() >= 10, "capture too short: {}", real.len());
    let (s, r) = (per_party(sim), per_party(real));
    assert_eq!(s.keys().collect::<Vec<_>>(), r.keys().collect::<Vec<_>>(), "parties");
    for (party, seq) in &s {
        assert_eq!(seq, &r[party], "event sequence of {party}");
    }
}

fn count(seen: &[Message], event: &str) -> usize {
    seen.iter().filter(|m| m.is_event(event)).count()
}

#[tokio::test]
async fn phone_call_matches_asterisk20_sip_call() {
    let sim = start(config()).await;
    let mut c = Raw::logged_in(&sim).await;
    let mut seen = Vec::new();
    sim.place_call("101", "100").map_err(|e| e.to_string()).unwrap_or_else(|e| panic!("{e}"));
    c.until(&mut seen, |s| count(s, "BridgeEnter") == 2).await;
    assert_eq!(sim.active_channels(), 2);
    sim.hangup_all();
    c.until(&mut seen, |s| count(s, "Hangup") == 2).await;
    c.drain(&mut seen, Duration::from_millis(200)).await;
    assert_eq!(sim.active_channels(), 0);

    let sim_events = events_of(&seen);
    let real_events = events_of(&capture("sip_call.ami"));
    assert_same_sequences(&sim_events, &real_events);
    assert_same_shapes(&sim_events, &real_events);
    // The simulator reproduces the capture's global order too.
    let labels = |v: &[Message]| v.iter().map(|m| format!("{} {}", party(m), label(m))).collect::<Vec<_>>();
    assert_eq!(labels(&sim_events), labels(&real_events));

    // Key values a call tracker relies on.
    let states: Vec<_> = sim_events
        .iter()
        .filter(|m| m.is_event("Newstate"))
        .map(|m| m.get("ChannelState").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(states, ["4", "5", "6", "6"]);
    let hangups: Vec<_> = sim_events.iter().filter(|m| m.is_event("Hangup")).collect();
    assert!(hangups
        .iter()
        .all(|m| m.get("Cause") == Some("16") && m.get("Cause-txt") == Some("Normal Clearing")));
    let first = sim_events.iter().find(|m| m.is_event("Newchannel")).cloned();
    let linked = first.as_ref().and_then(|m| m.get("Uniqueid")).unwrap_or_default().to_owned();
    assert!(sim_events
        .iter()
        .filter(|m| m.contains("Linkedid"))
        .all(|m| m.get("Linkedid") == Some(linked.as_str())));
    let chan = first.as_ref().and_then(|m| m.get("Channel")).unwrap_or_default();
    assert!(chan.starts_with("PJSIP/101-") && chan.len() == "PJSIP/101-".len() + 8, "{chan}");
    let (secs, seq) = linked.split_once('.').unwrap_or_default();
    assert!(secs.len() == 10 && secs.parse::<u64>().is_ok() && seq.parse::<u64>().is_ok(), "{linked}");
    sim.shutdown().await;
}

#[tokio::test]
async fn originate_matches_asterisk20_originate_sip() {
    let sim = start(config()).await;
    let mut c = Raw::logged_in(&sim).await;
    let mut seen = Vec::new();
    c.send(&[
        ("Action", "Originate"),
        ("ActionID", "originate_sip-2"),
        ("Channel", "PJSIP/101"),
        ("Context", "internal"),
        ("Exten", "100"),
        ("Priority", "1"),
        ("CallerID", "\"Click2Dial\" <101>"),
        ("Timeout", "20000"),
        ("Async", "true"),
        ("Variable", "CTI_TAG=click2dial"),
    ])
    .await;
    let r = c.response("originate_sip-2", &mut seen).await;
    assert_eq!(r.response(), Some("Success"));
    assert_eq!(r.get("Message"), Some("Originate successfully queued"));
    c.until(&mut seen, |s| count(s, "BridgeEnter") == 2).await;
    let chan = seen
        .iter()
        .find(|m| m.is_event("Newchannel"))
        .and_then(|m| m.get("Channel"))
        .unwrap_or_default()
        .to_owned();
    c.send(&[("Action", "Hangup"), ("ActionID", "originate_sip-3"), ("Channel", &chan), ("Cause", "16")])
        .await;
    let r = c.response("originate_sip-3", &mut seen).await;
    assert_eq!((r.response(), r.get("Message")), (Some("Success"), Some("Channel Hungup")));
    c.until(&mut seen, |s| count(s, "Hangup") == 2).await;
    c.drain(&mut seen, Duration::from_millis(200)).await;

    let sim_events = events_of(&seen);
    let real_events = events_of(&capture("originate_sip.ami"));
    assert_same_sequences(&sim_events, &real_events);
    assert_same_shapes(&sim_events, &real_events);
    let labels = |v: &[Message]| v.iter().map(|m| format!("{} {}", party(m), label(m))).collect::<Vec<_>>();
    assert_eq!(labels(&sim_events), labels(&real_events));

    let or = sim_events.iter().find(|m| m.is_event("OriginateResponse")).cloned();
    let or = or.unwrap_or_else(|| panic!("no OriginateResponse"));
    assert_eq!(or.get("ActionID"), Some("originate_sip-2"));
    assert_eq!(or.get("Response"), Some("Success"));
    assert_eq!(or.get("Reason"), Some("4"));
    assert_eq!(or.get("Channel"), Some(chan.as_str()));
    assert_eq!((or.get("CallerIDNum"), or.get("CallerIDName")), (Some("101"), Some("Click2Dial")));
    let dial_end: Vec<_> =
        sim_events.iter().filter(|m| m.is_event("DialEnd")).filter_map(|m| m.get("DialStatus")).collect();
    assert_eq!(dial_end, ["ANSWER", "ANSWER"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn busy_phone_matches_asterisk20_busy_phone() {
    let sim = start(config()).await;
    let mut c = Raw::logged_in(&sim).await;
    let mut seen = Vec::new();
    // Phone 100 is in a call with 102 first.
    sim.place_call("102", "100").unwrap_or_else(|e| panic!("{e}"));
    c.until(&mut seen, |s| count(s, "BridgeEnter") == 2).await;
    seen.clear();
    sim.place_call("101", "100").unwrap_or_else(|e| panic!("{e}"));
    c.until(&mut seen, |s| count(s, "Hangup") == 2).await;
    c.drain(&mut seen, Duration::from_millis(100)).await;
    assert_eq!(sim.active_channels(), 2, "the first call goes on");

    // Only the channels of the busy call: phone 100's state reflects its other call.
    let channel_events = |v: Vec<Message>| -> Vec<Message> {
        v.into_iter().filter(|m| m.contains("Channel") || m.contains("DestChannel")).collect()
    };
    let sim_events = channel_events(events_of(&seen));
    let real_events = channel_events(events_of(&capture("busy_phone.ami")));
    assert_same_sequences(&sim_events, &real_events);
    let dial_end = sim_events.iter().find(|m| m.is_event("DialEnd"));
    assert_eq!(dial_end.and_then(|m| m.get("DialStatus")), Some("BUSY"));
    let causes: Vec<_> =
        sim_events.iter().filter(|m| m.is_event("Hangup")).filter_map(|m| m.get("Cause")).collect();
    assert_eq!(causes, ["17", "17"]);
    sim.shutdown().await;
}

async fn list(c: &mut Raw, action: &str, id: &str, complete: &str) -> Vec<Message> {
    c.send(&[("Action", action), ("ActionID", id)]).await;
    let r = c.response(id, &mut Vec::new()).await;
    assert_eq!((r.response(), r.get("EventList")), (Some("Success"), Some("start")), "{action}");
    let mut items = Vec::new();
    loop {
        let m = c.next().await;
        if m.action_id() != Some(id) {
            continue; // an unsolicited event interleaved
        }
        if m.is_event(complete) {
            assert_eq!(m.get("EventList"), Some("Complete"));
            assert_eq!(m.get("ListItems"), Some(items.len().to_string().as_str()), "{action}");
            return items;
        }
        items.push(m);
    }
}

#[tokio::test]
async fn list_actions_have_asterisk20_form() {
    let sim = start(config()).await;
    let mut c = Raw::logged_in(&sim).await;
    let items = list(&mut c, "CoreShowChannels", "l-1", "CoreShowChannelsComplete").await;
    assert!(items.is_empty());
    sim.place_call("101", "100").unwrap_or_else(|e| panic!("{e}"));
    c.until(&mut Vec::new(), |s| count(s, "BridgeEnter") == 2).await;

    let ext = list(&mut c, "ExtensionStateList", "l-2", "ExtensionStateListComplete").await;
    assert_eq!(ext.len(), 10);
    let status: HashMap<_, _> = ext
        .iter()
        .map(|m| (m.get("Exten").unwrap_or_default(), m.get("StatusText").unwrap_or_default()))
        .collect();
    assert_eq!((status["100"], status["101"], status["102"]), ("InUse", "InUse", "Idle"));
    assert_eq!(ext[0].get("Hint"), Some("PJSIP/100"));

    let dev = list(&mut c, "DeviceStateList", "l-3", "DeviceStateListComplete").await;
    assert_eq!(dev.len(), 10);
    assert!(dev.iter().any(|m| m.get("Device") == Some("PJSIP/101") && m.get("State") == Some("INUSE")));

    let chans = list(&mut c, "CoreShowChannels", "l-4", "CoreShowChannelsComplete").await;
    assert_eq!(chans.len(), 2);
    assert_eq!(chans[0].get("BridgeId"), chans[1].get("BridgeId"));
    assert_eq!(chans[0].get("Application"), Some("Dial"));
    assert_eq!(chans[1].get("Application"), Some("AppDial"));

    // Field order of list items as in state_lists*.ami.
    let real = capture("state_lists_incall.ami");
    for name in ["ExtensionStatus", "DeviceStateChange", "CoreShowChannel"] {
        let real_item = real.iter().find(|m| m.is_event(name) && m.action_id().is_some());
        let sim_item = ext.iter().chain(&dev).chain(&chans).find(|m| m.is_event(name));
        let keys =
            |m: Option<&Message>| m.map(|m| m.fields().map(|(k, _)| k.into_owned()).collect::<Vec<_>>());
        assert_eq!(keys(sim_item), keys(real_item), "fields of {name}");
    }

    c.send(&[("Action", "ExtensionState"), ("ActionID", "l-5"), ("Exten", "102"), ("Context", "internal")])
        .await;
    let r = c.response("l-5", &mut Vec::new()).await;
    assert_eq!((r.get("Message"), r.get("StatusText")), (Some("Extension Status"), Some("Idle")));
    sim.shutdown().await;
}

// ---- login --------------------------------------------------------------------

#[tokio::test]
async fn plain_login_and_protocol_basics() {
    let sim = start(config()).await;
    let mut c = Raw::connect(&sim).await;
    assert_eq!(c.banner.as_deref(), Some("Asterisk Call Manager/9.0.0"));
    c.send(&[("Action", "Ping"), ("ActionID", "p-0")]).await;
    let r = c.response("p-0", &mut Vec::new()).await;
    assert_eq!((r.response(), r.get("Message")), (Some("Error"), Some("Permission denied")));

    let r = c.login("admin", "secret", "on").await;
    assert_eq!(r.response(), Some("Success"));
    assert_eq!(r.get("Message"), Some("Authentication accepted"));
    let booted = c.next().await;
    assert!(booted.is_event("FullyBooted"), "{booted:?}");
    assert_eq!(sim.logins(), 1);

    c.send(&[("Action", "Ping"), ("ActionID", "p-1")]).await;
    let r = c.response("p-1", &mut Vec::new()).await;
    assert_eq!((r.response(), r.get("Ping")), (Some("Success"), Some("Pong")));
    let ts = r.get("Timestamp").unwrap_or_default();
    assert!(ts.split_once('.').is_some_and(|(_, us)| us.len() == 6), "{ts}");

    c.send(&[("Action", "NoSuchThing"), ("ActionID", "u-1")]).await;
    let r = c.response("u-1", &mut Vec::new()).await;
    assert_eq!(
        r.get("Message"),
        Some("Invalid/unknown command: NoSuchThing. Use Action: ListCommands to show available commands.")
    );

    c.send(&[("Action", "Hangup"), ("ActionID", "h-1"), ("Channel", "PJSIP/100-deadbeef")]).await;
    let r = c.response("h-1", &mut Vec::new()).await;
    assert_eq!((r.response(), r.get("Message")), (Some("Error"), Some("No such channel")));

    // Events off: a call produces nothing for this client.
    c.send(&[("Action", "Events"), ("ActionID", "e-1"), ("EventMask", "off")]).await;
    let r = c.response("e-1", &mut Vec::new()).await;
    assert_eq!(r.get("Events"), Some("Off"));
    sim.place_call("103", "104").unwrap_or_else(|e| panic!("{e}"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    c.send(&[("Action", "Ping"), ("ActionID", "p-2")]).await;
    let m = c.next().await;
    assert_eq!(m.action_id(), Some("p-2"), "no event may come before the Ping response: {m:?}");
    c.send(&[("Action", "Events"), ("ActionID", "e-2"), ("EventMask", "on")]).await;
    let r = c.response("e-2", &mut Vec::new()).await;
    assert_eq!(r.get("Events"), Some("On"));

    c.send(&[("Action", "Logoff"), ("ActionID", "bye")]).await;
    let r = c.response("bye", &mut Vec::new()).await;
    assert_eq!((r.response(), r.get("Message")), (Some("Goodbye"), Some("Thanks for all the fish.")));
    c.expect_eof().await;
    assert!(sim.actions_received() >= 8);
    sim.shutdown().await;
}

#[tokio::test]
async fn events_off_at_login_sends_no_events() {
    let sim = start(config()).await;
    let mut c = Raw::connect(&sim).await;
    let r = c.login("admin", "secret", "off").await;
    assert_eq!(r.get("Message"), Some("Authentication accepted"));
    sim.place_call("101", "100").unwrap_or_else(|e| panic!("{e}"));
    match c.next_within(Duration::from_millis(400)).await {
        Got::Timeout => {}
        other => panic!("expected silence, got {other:?}"),
    }
    sim.shutdown().await;
}

/// `hex(md5(input))`, computed independently of both the client and the simulator.
fn md5_hex(input: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(input).iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn md5_login() {
    assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(md5_hex(b"840415273mysecret"), "72ee2809cbf69e9bdb27bdd924cda8e3");
    let sim = start(config()).await;
    let mut c = Raw::connect(&sim).await;
    c.send(&[("Action", "Challenge"), ("ActionID", "c-1"), ("AuthType", "MD5")]).await;
    let r = c.response("c-1", &mut Vec::new()).await;
    let challenge = r.get("Challenge").unwrap_or_default().to_owned();
    assert!(!challenge.is_empty() && challenge.bytes().all(|b| b.is_ascii_digit()), "{challenge}");
    let key = md5_hex(format!("{challenge}secret").as_bytes());
    c.send(&[
        ("Action", "Login"),
        ("ActionID", "l-1"),
        ("AuthType", "MD5"),
        ("Username", "admin"),
        ("Key", &key),
    ])
    .await;
    let r = c.response("l-1", &mut Vec::new()).await;
    assert_eq!(r.get("Message"), Some("Authentication accepted"));
    assert_eq!(sim.logins(), 1);

    // A wrong key fails like a wrong password.
    let mut c = Raw::connect(&sim).await;
    c.send(&[("Action", "Challenge"), ("ActionID", "c-2"), ("AuthType", "MD5")]).await;
    c.response("c-2", &mut Vec::new()).await;
    c.send(&[
        ("Action", "Login"),
        ("ActionID", "l-2"),
        ("AuthType", "MD5"),
        ("Username", "admin"),
        ("Key", "00"),
    ])
    .await;
    let r = c.response("l-2", &mut Vec::new()).await;
    assert_eq!(r.get("Message"), Some("Authentication failed"));
    c.expect_eof().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn wrong_password_fails_and_closes() {
    let sim = start(config()).await;
    let mut c = Raw::connect(&sim).await;
    let r = c.login("admin", "wrong", "on").await;
    assert_eq!((r.response(), r.get("Message")), (Some("Error"), Some("Authentication failed")));
    c.expect_eof().await;
    assert_eq!((sim.logins(), sim.failed_logins()), (0, 1));
    sim.shutdown().await;
}

// ---- fault injection ----------------------------------------------------------

async fn wait_for(what: &str, f: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn drop_connections_closes_without_goodbye() {
    let sim = start(config()).await;
    let mut a = Raw::logged_in(&sim).await;
    let mut b = Raw::connect(&sim).await; // not logged in: dropped too
    wait_for("2 connections", || sim.connections() == 2).await;
    sim.drop_connections();
    for c in [&mut a, &mut b] {
        loop {
            match c.next_within(WAIT).await {
                Got::Eof => break,
                Got::Msg(m) => assert!(m.response() != Some("Goodbye"), "{m:?}"),
                other => panic!("{other:?}"),
            }
        }
    }
    wait_for("no connections", || sim.connections() == 0).await;
    // The simulator still accepts new clients.
    let _c = Raw::logged_in(&sim).await;
    assert_eq!(sim.logins(), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn stall_silences_the_peer_then_resumes() {
    let sim = start(config()).await;
    let mut c = Raw::logged_in(&sim).await;
    sim.stall(Duration::from_millis(400));
    tokio::time::sleep(Duration::from_millis(20)).await;
    let t0 = tokio::time::Instant::now();
    c.send(&[("Action", "Ping"), ("ActionID", "s-1")]).await;
    match c.next_within(Duration::from_millis(200)).await {
        Got::Timeout => {}
        other => panic!("expected silence during the stall, got {other:?}"),
    }
    let r = c.response("s-1", &mut Vec::new()).await;
    assert_eq!(r.get("Ping"), Some("Pong"));
    assert!(t0.elapsed() >= Duration::from_millis(300));
    sim.shutdown().await;
}

#[tokio::test]
async fn send_raw_garbage_oversized_and_burst() {
    let sim = start(config()).await;
    let limits = Limits { max_line: 64 * 1024, max_message: 1024 * 1024 };
    let mut c = Raw::connect_with(&sim, limits).await;
    c.login("admin", "secret", "on").await;
    c.drain(&mut Vec::new(), Duration::from_millis(100)).await;

    sim.send_raw(b"Event: Custom\r\nFoo: bar\r\n\r\n");
    let m = c.next().await;
    assert!(m.is_event("Custom") && m.get("Foo") == Some("bar"), "{m:?}");

    sim.send_garbage();
    match c.next_within(WAIT).await {
        Got::Error(_) => {}
        other => panic!("expected a decode error, got {other:?}"),
    }
    c.send(&[("Action", "Ping"), ("ActionID", "g-1")]).await;
    let r = c.response("g-1", &mut Vec::new()).await;
    assert_eq!(r.get("Ping"), Some("Pong"), "decoder recovered after garbage");

    sim.send_oversized(100_000);
    let mut errors = 0;
    let after = loop {
        match c.next_within(WAIT).await {
            Got::Error(DecodeError::LineTooLong { .. }) => errors += 1,
            Got::Msg(m) => break m,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(errors, 1);
    assert_eq!(after.get("UserEvent"), Some("AfterOversized"));

    sim.emit_burst(20_000);
    for seq in 1..=20_000usize {
        let m = c.next().await;
        assert!(m.is_event("UserEvent") && m.get("UserEvent") == Some("Burst"), "{m:?}");
        assert_eq!(m.get("Seq"), Some(seq.to_string().as_str()));
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn slow_client_is_dropped_others_unaffected() {
    let sim = start(config()).await;
    // A client that logs in and then never reads, with a tiny receive buffer.
    let sock = tokio::net::TcpSocket::new_v4().unwrap_or_else(|e| panic!("{e}"));
    let _ = sock.set_recv_buffer_size(4096);
    let mut slow = sock.connect(sim.addr()).await.unwrap_or_else(|e| panic!("{e}"));
    slow.write_all(b"Action: Login\r\nUsername: admin\r\nSecret: secret\r\n\r\n")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // A client that reads everything.
    let mut fast = Raw::logged_in(&sim).await;
    wait_for("two logins", || sim.logins() == 2).await;
    let reader = tokio::spawn(async move {
        let mut n = 0u64;
        loop {
            match fast.next_within(Duration::from_secs(2)).await {
                Got::Msg(_) => n += 1,
                Got::Timeout => return (fast, n),
                other => panic!("fast client: {other:?}"),
            }
        }
    });
    let mut cycles = 0;
    while sim.connections() == 2 && cycles < 20_000 {
        sim.place_call("101", "100").unwrap_or_else(|e| panic!("{e}"));
        sim.hangup_all();
        cycles += 1;
        if cycles % 20 == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    assert_eq!(sim.connections(), 1, "the slow client is dropped after {cycles} calls");
    let (mut fast, n) = reader.await.unwrap_or_else(|e| panic!("{e}"));
    assert!(n > 1000, "the fast client got the events ({n})");
    fast.send(&[("Action", "Ping"), ("ActionID", "f-1")]).await;
    let r = fast.response("f-1", &mut Vec::new()).await;
    assert_eq!(r.get("Ping"), Some("Pong"));
    sim.shutdown().await;
}

#[tokio::test]
async fn place_call_errors_and_shutdown() {
    let sim = start(config()).await;
    assert_eq!(sim.place_call("999", "100"), Err(SimError::UnknownExtension("999".into())));
    assert!(sim.url().starts_with("ami://admin:secret@127.0.0.1:"));
    let other = sim.clone();
    let mut c = Raw::logged_in(&sim).await;
    sim.shutdown().await;
    c.expect_eof().await;
    assert_eq!(other.place_call("101", "100"), Err(SimError::ShutDown));
    assert!(TcpStream::connect(other.addr()).await.is_err(), "listener closed");
}

// ---- Asterisk 22 (PJSIP) ------------------------------------------------------

/// What the Asterisk 22 comparisons look at besides `CALL_EVENTS`: holds and
/// transfers, and the Local channel events of an `Atxfer`.
const TRANSFER_EVENTS: &[&str] =
    &["Hold", "Unhold", "LocalBridge", "BridgeMerge", "AttendedTransfer", "BlindTransfer"];

fn config22() -> SimConfig {
    SimConfig { asterisk: AsteriskVersion::V22, ..config() }
}

/// Channel and bridge events (device and hint states left out: Asterisk
/// publishes those from its own thread, and the two 22 captures of the same
/// Originate order them differently), from the first `from` on.
fn channel_events22(all: &[Message], from: Option<&str>) -> Vec<Message> {
    let start = from.and_then(|f| all.iter().position(|m| m.is_event(f))).unwrap_or(0);
    all[start..]
        .iter()
        .filter(|m| m.event().is_some_and(|e| CALL_EVENTS.contains(&e) || TRANSFER_EVENTS.contains(&e)))
        .filter(|m| !m.is_event("DeviceStateChange") && !m.is_event("ExtensionStatus"))
        .filter(|m| m.action_id().is_none() || m.is_event("OriginateResponse"))
        .cloned()
        .collect()
}

/// The events up to the second `BridgeEnter` (a two-party bridge complete).
fn upto_second_bridge_enter(mut v: Vec<Message>) -> Vec<Message> {
    let ends = v.iter().enumerate().filter(|(_, m)| m.is_event("BridgeEnter")).map(|(i, _)| i).nth(1);
    if let Some(i) = ends {
        v.truncate(i + 1);
    }
    v
}

/// Per-party sequences that differ, as readable lines (empty: the same).
fn party_diffs(sim: &[Message], real: &[Message]) -> Vec<String> {
    let (s, r) = (per_party(sim), per_party(real));
    let mut out = Vec::new();
    for party in s.keys().chain(r.keys()).collect::<std::collections::BTreeSet<_>>() {
        let (a, b) = (s.get(party), r.get(party));
        if a != b {
            out.push(format!("{party}:\n  sim:  {a:?}\n  real: {b:?}"));
        }
    }
    out
}

/// The same field names in the same order, for each of `names` the capture has.
fn assert_same_fields(sim: &[Message], real: &[Message], names: &[&str]) {
    let keys = |m: &Message| m.fields().map(|(k, _)| k.into_owned()).collect::<Vec<_>>();
    for name in names {
        let r = real.iter().find(|m| m.is_event(name)).unwrap_or_else(|| panic!("{name} not in the capture"));
        let s = sim.iter().find(|m| m.is_event(name) && m.contains("Channel") == r.contains("Channel"));
        let s = s.unwrap_or_else(|| panic!("{name} not emitted by the simulator"));
        let strip = |v: Vec<String>| -> Vec<String> { v.into_iter().filter(|k| k != "SystemName").collect() };
        assert_eq!(strip(keys(s)), strip(keys(r)), "fields of {name}");
    }
}

#[tokio::test]
async fn banner_technology_and_notify_of_asterisk22() {
    let sim = start(config22()).await;
    let c = Raw::connect(&sim).await;
    assert_eq!(c.banner.as_deref(), Some("Asterisk Call Manager/11.0.0"));
    let mut c = Raw::logged_in(&sim).await;
    let mut ask = async |id: &str, pairs: &[(&str, &str)]| {
        let mut all = vec![("Action", "PJSIPNotify"), ("ActionID", id)];
        all.extend_from_slice(pairs);
        c.send(&all).await;
        let r = c.response(id, &mut Vec::new()).await;
        (r.response().unwrap_or_default().to_owned(), r.get("Message").unwrap_or_default().to_owned())
    };
    let err = |m: &str| ("Error".to_owned(), m.to_owned());
    assert_eq!(
        ask("n1", &[("Endpoint", "999"), ("Variable", "Event=talk")]).await,
        err("Unable to retrieve endpoint 999")
    );
    assert_eq!(
        ask("n2", &[("Variable", "Event=talk")]).await,
        err("PJSIPNotify requires either an endpoint name, a SIP URI, or a channel.")
    );
    assert_eq!(
        ask("n3", &[("Endpoint", "100")]).await,
        err("PJSIPNotify requires either an Option or Variable(s).You must use only one of them.")
    );
    assert_eq!(
        ask("n4", &[("Endpoint", "100"), ("Variable", "Event=check-sync")]).await,
        ("Success".to_owned(), "NOTIFY sent".to_owned())
    );
    assert_eq!(
        ask("n5", &[("Channel", "PJSIP/100"), ("Variable", "Event=talk")]).await,
        err("Channel not found")
    );
    c.send(&[
        ("Action", "SIPnotify"),
        ("ActionID", "s1"),
        ("Channel", "SIP/100"),
        ("Variable", "Event=talk"),
    ])
    .await;
    let r = c.response("s1", &mut Vec::new()).await;
    assert_eq!(
        r.get("Message"),
        Some("Invalid/unknown command: SIPnotify. Use Action: ListCommands to show available commands.")
    );
    // No chan_sip on 22; on 20 chan_sip has no PJSIPNotify.
    let sip22 = SimConfig { technology: "SIP".into(), ..config22() };
    assert!(Simulator::start(sip22, ([127, 0, 0, 1], 0).into()).await.is_err());
    let sim20 =
        start(SimConfig { extensions: config().extensions, ..SimConfig::for_asterisk(AsteriskVersion::V20) })
            .await;
    let mut c = Raw::logged_in(&sim20).await;
    c.send(&[("Action", "PJSIPNotify"), ("ActionID", "p1"), ("Endpoint", "100"), ("Variable", "Event=talk")])
        .await;
    let r = c.response("p1", &mut Vec::new()).await;
    assert!(
        r.get("Message").unwrap_or_default().starts_with("Invalid/unknown command: PJSIPNotify."),
        "{r:?}"
    );
    sim20.place_call("101", "100").unwrap_or_else(|e| panic!("{e}"));
    let mut seen = Vec::new();
    c.until(&mut seen, |s| count(s, "Newchannel") >= 1).await;
    assert!(seen.iter().any(|m| m.get("Channel").is_some_and(|ch| ch.starts_with("SIP/101-"))), "{seen:?}");
    sim20.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn incoming_call_matches_asterisk22() {
    let sim = start(config22()).await;
    let mut c = Raw::logged_in(&sim).await;
    let mut seen = Vec::new();
    sim.place_call("101", "100").unwrap_or_else(|e| panic!("{e}"));
    c.until(&mut seen, |s| count(s, "BridgeEnter") == 2).await;
    assert!(sim.hangup_ext("101"));
    c.until(&mut seen, |s| count(s, "Hangup") == 2).await;
    c.drain(&mut seen, Duration::from_millis(150)).await;
    let real = capture_of("asterisk22", "incoming_call.ami");
    let (s, r) = (channel_events22(&seen, None), channel_events22(&real, None));
    let diffs = party_diffs(&s, &r);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    let first = s.iter().find(|m| m.is_event("Newchannel"));
    assert_eq!(first.and_then(|m| m.get("ChannelStateDesc")), Some("Ring"), "chan_pjsip creates it ringing");
    assert_same_fields(&s, &r, &["Newchannel", "Newexten", "DialBegin", "DialEnd", "BridgeEnter", "Hangup"]);
    sim.shutdown().await;
}

/// 100 and 101 talk (100 called 101, as in the captures); the transfers under
/// test start here.
async fn talking22(sim: &SimHandle, c: &mut Raw) -> (String, Vec<Message>) {
    let mut seen = Vec::new();
    sim.place_call("100", "101").unwrap_or_else(|e| panic!("{e}"));
    c.until(&mut seen, |s| count(s, "BridgeEnter") == 2).await;
    c.drain(&mut seen, Duration::from_millis(50)).await;
    let chan = sim.truth().channels.iter().find(|ch| ch.ext == "100").map(|ch| ch.name.clone());
    (chan.unwrap_or_default(), seen)
}

/// The capture's parties are 100 (transferer), 101 (transferee) and 102; its
/// first call is an Originate, the simulator's a call placed by 100, so only
/// what follows the `Hold` is compared.
#[tokio::test]
async fn attended_transfer_matches_asterisk22() {
    let sim = start(config22()).await;
    let mut c = Raw::logged_in(&sim).await;
    let (a1, _) = talking22(&sim, &mut c).await;
    let mut seen = Vec::new();
    c.send(&[
        ("Action", "Atxfer"),
        ("ActionID", "x1"),
        ("Channel", &a1),
        ("Context", "internal"),
        ("Exten", "102"),
    ])
    .await;
    let r = c.response("x1", &mut seen).await;
    assert_eq!(r.get("Message"), Some("Atxfer successfully queued"));
    c.until(&mut seen, |s| count(s, "BridgeEnter") >= 4).await;
    c.send(&[("Action", "Hangup"), ("ActionID", "x2"), ("Channel", &a1)]).await;
    c.response("x2", &mut seen).await;
    c.until(&mut seen, |s| count(s, "AttendedTransfer") == 1 && count(s, "Hangup") >= 1).await;
    c.drain(&mut seen, Duration::from_millis(50)).await;
    assert!(sim.hangup_ext("101"));
    c.until(&mut seen, |s| count(s, "Hangup") >= 5).await;
    c.drain(&mut seen, Duration::from_millis(150)).await;
    assert_eq!(sim.active_channels(), 0);

    let real = capture_of("asterisk22", "attended_transfer.ami");
    // The capture's phone 101 left with no `HangupRequest` (how the harness ended
    // it is not recorded); the simulator's phone sends BYE, which has one.
    let no_request = |v: Vec<Message>| -> Vec<Message> {
        v.into_iter().filter(|m| !m.is_event("HangupRequest")).collect()
    };
    let (s, r) = (
        no_request(channel_events22(&seen, Some("Hold"))),
        no_request(channel_events22(&real, Some("Hold"))),
    );
    let diffs = party_diffs(&s, &r);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    assert_same_fields(
        &s,
        &r,
        &["Hold", "LocalBridge", "BridgeMerge", "AttendedTransfer", "BridgeEnter", "DialBegin", "Hangup"],
    );
    let at =
        s.iter().find(|m| m.is_event("AttendedTransfer")).cloned().unwrap_or_else(|| panic!("no transfer"));
    assert_eq!(at.get("OrigTransfererChannel"), Some(a1.as_str()));
    assert_eq!(at.get("SecondTransfererChannel"), Some(a1.as_str()));
    assert_eq!(at.get("TransferTargetChannel"), Some("Local/102@internal-00000000;1"));
    assert_eq!((at.get("DestType"), at.get("IsExternal")), (Some("Bridge"), Some("No")));
    assert_eq!(at.get("DestBridgeUniqueid"), at.get("OrigBridgeUniqueid"));
    sim.shutdown().await;
}

#[tokio::test]
async fn blind_transfer_matches_asterisk22() {
    let sim = start(config22()).await;
    let mut c = Raw::logged_in(&sim).await;
    let (a1, _) = talking22(&sim, &mut c).await;
    let mut seen = Vec::new();
    send_on_to_102(&mut c, &a1, &mut seen, 2).await;
    let (s, r) = after_blind_transfer(&seen);
    assert_same_fields(&s, &r, &["BlindTransfer", "DialBegin"]);
    sim.shutdown().await;
}

/// 100 clicks to dial 101 (an async Originate, with `ids` such as `ChannelId`), until both
/// are bridged: every message seen.
async fn originated22(c: &mut Raw, ids: &[(&str, &str)]) -> Vec<Message> {
    let mut seen = Vec::new();
    let mut action = vec![
        ("Action", "Originate"),
        ("ActionID", "o1"),
        ("Channel", "PJSIP/100"),
        ("Context", "internal"),
        ("Exten", "101"),
        ("Priority", "1"),
        ("Async", "true"),
    ];
    action.extend_from_slice(ids);
    c.send(&action).await;
    c.response("o1", &mut seen).await;
    c.until(&mut seen, |s| count(s, "BridgeEnter") == 2).await;
    c.drain(&mut seen, Duration::from_millis(50)).await;
    seen
}

/// `channel` sends its call on to 102 (`BlindTransfer`), until `seen` holds `bridged`
/// `BridgeEnter`s in all.
async fn send_on_to_102(c: &mut Raw, channel: &str, seen: &mut Vec<Message>, bridged: usize) {
    c.send(&[
        ("Action", "BlindTransfer"),
        ("ActionID", "b1"),
        ("Channel", channel),
        ("Context", "internal"),
        ("Exten", "102"),
    ])
    .await;
    c.response("b1", seen).await;
    c.until(seen, |s| count(s, "BridgeEnter") == bridged).await;
    c.drain(seen, Duration::from_millis(50)).await;
}

/// The simulator's and asterisk22/blind_transfer.ami's channel events from the
/// `BlindTransfer` to 102's bridge (the capture then hangs everything up), which must
/// agree party by party.
fn after_blind_transfer(seen: &[Message]) -> (Vec<Message>, Vec<Message>) {
    let real = capture_of("asterisk22", "blind_transfer.ami");
    let (s, r) = (
        upto_second_bridge_enter(channel_events22(seen, Some("BlindTransfer"))),
        upto_second_bridge_enter(channel_events22(&real, Some("BlindTransfer"))),
    );
    let diffs = party_diffs(&s, &r);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    (s, r)
}

/// The capture's own case: a click-to-dial (Originate) that 100 then sends on. The
/// simulator once reported the Originate again for 101's new dial, and gave 102's leg the
/// Originate's `OtherChannelId` (Asterisk gives the dialed phones ids of its own).
#[tokio::test]
async fn blind_transfer_of_an_originated_call_matches_asterisk22() {
    let sim = start(config22()).await;
    let mut c = Raw::logged_in(&sim).await;
    let mut seen =
        originated22(&mut c, &[("ChannelId", "ctilink-t1"), ("OtherChannelId", "ctilink-t2")]).await;
    let a1 = sim.truth().channels.iter().find(|ch| ch.ext == "100").map(|ch| ch.name.clone());
    send_on_to_102(&mut c, &a1.expect("100's channel"), &mut seen, 4).await;
    let real = capture_of("asterisk22", "blind_transfer.ami");
    assert_eq!(count(&seen, "OriginateResponse"), count(&real, "OriginateResponse"));
    let ids: Vec<&str> =
        seen.iter().filter(|m| m.is_event("Newchannel")).filter_map(|m| m.get("Uniqueid")).collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(ids[0], "ctilink-t1", "the Originate's ChannelId names 100's leg");
    assert!(ids[1..].iter().all(|id| !id.starts_with("ctilink")), "the PBX names the dialed legs: {ids:?}");
    after_blind_transfer(&seen);
    sim.shutdown().await;
}

#[tokio::test]
async fn dial_answered_matches_asterisk22() {
    let sim = start(config22()).await;
    let mut c = Raw::logged_in(&sim).await;
    let seen = originated22(&mut c, &[]).await;
    let real = capture_of("asterisk22", "dial_answered.ami");
    let upto = |v: Vec<Message>| -> Vec<Message> { upto_second_bridge_enter(v) };
    let (s, r) = (upto(channel_events22(&seen, None)), upto(channel_events22(&real, None)));
    let diffs = party_diffs(&s, &r);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    assert_same_fields(&s, &r, &["Newchannel", "DialBegin", "OriginateResponse", "BridgeEnter"]);
    sim.shutdown().await;
}
