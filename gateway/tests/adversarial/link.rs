//! The AMI link and the gateway client against a hostile peer (findings 7 and 8 of the
//! probe): a PBX (or gateway) that accepts the login and drops the connection at once, and
//! a PBX that floods a subscriber that does not read with events just under the 1 MiB
//! message limit. The hostile PBX is written here: real TCP on 127.0.0.1 port 0, AMI
//! framing by hand, a plan per connection.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ctilink::ami::{Action, AmiClient, AmiConfig, LinkEvent, LinkState, ReconnectPolicy, Subscription};
use ctilink::{Event, EventStream, LinkStatus, Session, SessionOptions};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;

use crate::heap;

/// What the hostile peer does with a connection once the login is answered.
#[derive(Clone, Copy, Debug)]
enum Plan {
    /// Closes it at once.
    Drop,
    /// Answers actions for this long, then closes it.
    Hold(Duration),
    /// Answers actions; when [`Pbx::flood`] is notified, sends `count` `UserEvent`s of
    /// about `size` bytes each, `pace` apart, then a small `UserEvent: Marker`, and goes
    /// on answering.
    Flood { count: usize, size: usize, pace: Duration },
}

/// When each login was answered and each connection closed by the peer.
#[derive(Debug, Default)]
struct Log {
    logins: Vec<Instant>,
    closes: Vec<Instant>,
}

/// The hostile peer: an AMI server (or, with [`Pbx::start_gateway`], a ctilink gateway)
/// following a [`Plan`] chosen by the connection's number (0 for the first).
struct Pbx {
    addr: SocketAddr,
    log: Arc<Mutex<Log>>,
    flood: Arc<Notify>,
    task: JoinHandle<()>,
}

impl Drop for Pbx {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type PlanFn = Arc<dyn Fn(usize) -> Plan + Send + Sync>;

impl Pbx {
    async fn start(plan: impl Fn(usize) -> Plan + Send + Sync + 'static) -> Pbx {
        Self::listen(Arc::new(plan), false).await
    }

    async fn start_gateway(plan: impl Fn(usize) -> Plan + Send + Sync + 'static) -> Pbx {
        Self::listen(Arc::new(plan), true).await
    }

    async fn listen(plan: PlanFn, gateway: bool) -> Pbx {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let log = Arc::new(Mutex::new(Log::default()));
        let flood = Arc::new(Notify::new());
        let task = {
            let (log, flood) = (log.clone(), flood.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while let Ok((stream, _)) = listener.accept().await {
                    let (plan, log, flood) = (plan(n), log.clone(), flood.clone());
                    n += 1;
                    if gateway {
                        tokio::spawn(serve_gateway(stream, plan, log, flood));
                    } else {
                        tokio::spawn(serve_ami(stream, plan, log, flood));
                    }
                }
            })
        };
        Pbx { addr, log, flood, task }
    }

    fn url(&self) -> String {
        format!("ami://admin:secret@{}", self.addr)
    }

    fn logins(&self) -> Vec<Instant> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).logins.clone()
    }

    fn closes(&self) -> Vec<Instant> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).closes.clone()
    }
}

fn note(log: &Mutex<Log>, f: impl FnOnce(&mut Log)) {
    f(&mut log.lock().unwrap_or_else(|p| p.into_inner()));
}

type Fields = Vec<(String, String)>;

/// One AMI message as bytes: `Key: Value` lines and the empty line.
fn frame(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in pairs {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The client's messages, one `Fields` each, until it closes.
async fn read_messages(r: OwnedReadHalf, tx: mpsc::Sender<Fields>) {
    let mut lines = BufReader::new(r).lines();
    let mut fields = Fields::new();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.is_empty() {
            if !fields.is_empty() && tx.send(std::mem::take(&mut fields)).await.is_err() {
                return;
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            fields.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
}

fn get<'a>(m: &'a Fields, key: &str) -> &'a str {
    m.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map_or("", |(_, v)| v.as_str())
}

/// What the PBX answers to an action after the login: `Ping`, the state lists the AMI
/// link reads after each login (empty), `Logoff`; anything else is refused, as Asterisk
/// refuses an unknown action.
fn answer(m: &Fields) -> Vec<u8> {
    let id = get(m, "ActionID");
    let action = get(m, "Action").to_ascii_lowercase();
    match action.as_str() {
        "ping" => frame(&[("Response", "Success"), ("ActionID", id), ("Ping", "Pong")]),
        "logoff" => frame(&[("Response", "Goodbye"), ("ActionID", id)]),
        "coreshowchannels" | "extensionstatelist" | "devicestatelist" => {
            let mut out = frame(&[
                ("Response", "Success"),
                ("ActionID", id),
                ("EventList", "start"),
                ("Message", "List will follow"),
            ]);
            out.extend(frame(&[
                ("Event", "ListComplete"),
                ("ActionID", id),
                ("EventList", "Complete"),
                ("ListItems", "0"),
            ]));
            out
        }
        _ => frame(&[("Response", "Error"), ("ActionID", id), ("Message", "Invalid/unknown command")]),
    }
}

/// A `UserEvent` of about `size` bytes: lines of 60,000 bytes, under the 64 KiB line limit.
fn big_event(size: usize) -> Vec<u8> {
    let mut out = b"Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: Big\r\n".to_vec();
    let mut i = 0;
    while out.len() + 100 < size {
        let n = (size - out.len() - 100).min(60_000);
        out.extend_from_slice(format!("Data{i}: ").as_bytes());
        out.resize(out.len() + n, b'x');
        out.extend_from_slice(b"\r\n");
        i += 1;
    }
    out.extend_from_slice(b"\r\n");
    out
}

async fn serve_ami(stream: TcpStream, plan: Plan, log: Arc<Mutex<Log>>, flood: Arc<Notify>) {
    let (r, mut w) = stream.into_split();
    let (tx, mut rx) = mpsc::channel(64);
    let reader = tokio::spawn(read_messages(r, tx));
    if w.write_all(b"Asterisk Call Manager/9.0.0\r\n").await.is_err() {
        return;
    }
    let Some(login) = rx.recv().await else { return };
    assert!(get(&login, "Action").eq_ignore_ascii_case("Login"), "{login:?}");
    let mut hello = frame(&[
        ("Response", "Success"),
        ("ActionID", get(&login, "ActionID")),
        ("Message", "Authentication accepted"),
    ]);
    hello.extend(frame(&[("Event", "FullyBooted"), ("Privilege", "system,all"), ("Status", "Fully Booted")]));
    if w.write_all(&hello).await.is_err() {
        return;
    }
    note(&log, |l| l.logins.push(Instant::now()));
    let until = match plan {
        Plan::Drop => Some(Instant::now()),
        Plan::Hold(d) => Some(Instant::now() + d),
        Plan::Flood { .. } => None,
    };
    let deadline = async {
        match until {
            Some(t) => tokio::time::sleep_until(t.into()).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            biased;
            () = &mut deadline => break,
            m = rx.recv() => match m {
                Some(m) => {
                    if w.write_all(&answer(&m)).await.is_err() {
                        return;
                    }
                }
                None => return,
            },
            () = flood.notified() => {
                let Plan::Flood { count, size, pace } = plan else { continue };
                let ev = big_event(size);
                for _ in 0..count {
                    if w.write_all(&ev).await.is_err() {
                        return;
                    }
                    if !pace.is_zero() {
                        tokio::time::sleep(pace).await;
                    }
                }
                let marker = frame(&[("Event", "UserEvent"), ("Privilege", "user,all"), ("UserEvent", "Marker")]);
                if w.write_all(&marker).await.is_err() {
                    return;
                }
            }
        }
    }
    reader.abort();
    drop(w);
    note(&log, |l| l.closes.push(Instant::now()));
}

/// A `user_event` line of the gateway protocol of about `size` bytes.
fn big_gateway_event(name: &str, size: usize) -> Vec<u8> {
    let mut line = format!(
        r#"{{"type":"event","event":{{"event":"user_event","name":"{name}","call":null,"fields":[["Data",""#
    )
    .into_bytes();
    line.resize(line.len() + size.saturating_sub(line.len() + 8), b'x');
    line.extend_from_slice(b"\"]]}}\n");
    line
}

/// A ctilink gateway as far as the handshake: `welcome` and an empty snapshot after any
/// `hello`, then the plan (a flood sends `user_event`s, no pings are answered).
async fn serve_gateway(stream: TcpStream, plan: Plan, log: Arc<Mutex<Log>>, flood: Arc<Notify>) {
    let (r, mut w) = stream.into_split();
    let mut lines = BufReader::new(r).lines();
    let Ok(Some(_hello)) = lines.next_line().await else { return };
    let welcome = concat!(
        r#"{"type":"welcome","version":1,"identity":"desk","monitor":["*"],"control":["*"],"link":"up"}"#,
        "\n",
        r#"{"type":"snapshot","id":0,"devices":[],"calls":[]}"#,
        "\n"
    );
    if w.write_all(welcome.as_bytes()).await.is_err() {
        return;
    }
    note(&log, |l| l.logins.push(Instant::now()));
    match plan {
        Plan::Drop => {}
        Plan::Hold(d) => {
            // The client pings every 15 s by default; nothing needs an answer in `d`.
            let _ =
                tokio::time::timeout(d, async { while let Ok(Some(_)) = lines.next_line().await {} }).await;
        }
        Plan::Flood { count, size, pace } => {
            flood.notified().await;
            let ev = big_gateway_event("Big", size);
            for _ in 0..count {
                if w.write_all(&ev).await.is_err() {
                    return;
                }
                if !pace.is_zero() {
                    tokio::time::sleep(pace).await;
                }
            }
            if w.write_all(&big_gateway_event("Marker", 0)).await.is_err() {
                return;
            }
            // Until the client goes.
            while let Ok(Some(_)) = lines.next_line().await {}
        }
    }
    drop(w);
    note(&log, |l| l.closes.push(Instant::now()));
}

/// Initial 200 ms, doubling up to 2 s.
fn policy() -> ReconnectPolicy {
    ReconnectPolicy {
        initial: Duration::from_millis(200),
        max: Duration::from_secs(2),
        ..ReconnectPolicy::default()
    }
}

/// How long the login-then-drop tests count logins.
const WINDOW: Duration = Duration::from_secs(8);

/// The most logins the window can hold with the delay growing across connections: the
/// first, then one after each delay, whose lower bounds (half of `initial * 2^n`, capped
/// at `max`) are 0.1, 0.2, 0.4, 0.8, then 1 s: 10 reconnects fit in 8 s. Resetting the
/// delay at each login (the old behaviour) gives one every 0.1 to 0.2 s: about 50.
const MAX_LOGINS_IN_WINDOW: usize = 11;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pbx_that_drops_every_login_is_retried_with_a_growing_delay() {
    let _turn = crate::serial().await;
    let pbx = Pbx::start(|_| Plan::Drop).await;
    let mut cfg = AmiConfig::from_url(&pbx.url()).expect("url");
    cfg.reconnect = policy();
    let started = Instant::now();
    let client = AmiClient::connect(cfg).await.expect("the first login is accepted");
    tokio::time::sleep_until((started + WINDOW).into()).await;
    let logins = pbx.logins().iter().filter(|t| **t < started + WINDOW).count();
    client.close().await;
    eprintln!("login-then-drop (AMI): {logins} logins in {WINDOW:?}");
    assert!(
        (3..=MAX_LOGINS_IN_WINDOW).contains(&logins),
        "{logins} logins in {WINDOW:?}: the delay must keep growing across connections that drop at once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_that_drops_every_welcome_is_retried_with_a_growing_delay() {
    let _turn = crate::serial().await;
    let gw = Pbx::start_gateway(|_| Plan::Drop).await;
    let mut o = SessionOptions::from_url(&format!("ctilink://token-desk@{}", gw.addr)).expect("url");
    o.set_reconnect(policy());
    let started = Instant::now();
    let s = Session::connect_with(o).await.expect("the first hello is welcomed");
    tokio::time::sleep_until((started + WINDOW).into()).await;
    let logins = gw.logins().iter().filter(|t| **t < started + WINDOW).count();
    s.close().await;
    eprintln!("login-then-drop (gateway client): {logins} welcomes in {WINDOW:?}");
    assert!(
        (3..=MAX_LOGINS_IN_WINDOW).contains(&logins),
        "{logins} welcomes in {WINDOW:?}: the delay must keep growing across connections that drop at once"
    );
}

/// For the stability tests: the first 4 connections drop at once, the fifth stays up
/// past `stable_after` (1 s), the later ones drop at once again.
fn drops_then_one_stable(n: usize) -> Plan {
    match n {
        0..=3 => Plan::Drop,
        4 => Plan::Hold(Duration::from_millis(1500)),
        _ => Plan::Drop,
    }
}

/// Initial 200 ms, doubling up to 2 s, stable after 1 s.
fn stable_policy() -> ReconnectPolicy {
    ReconnectPolicy { stable_after: Duration::from_secs(1), ..policy() }
}

/// Waits until the peer saw 6 logins and checks the delays: the one before the stable
/// connection had grown (the fourth in a row: 1.6 s, at least 0.8 s with jitter), the one
/// after it is `initial` again (at most 200 ms).
async fn check_stable_resets(peer: &Pbx, what: &str) {
    tokio::time::timeout(Duration::from_secs(12), async {
        while peer.logins().len() < 6 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("6 logins within 12 s");
    let (logins, closes) = (peer.logins(), peer.closes());
    let grown = logins[4] - closes[3];
    let after_stable = logins[5] - closes[4];
    let held = closes[4] - logins[4];
    eprintln!("{what}: delay before the stable connection {grown:?}; it stayed up {held:?}; delay after it {after_stable:?}");
    assert!(
        grown >= Duration::from_millis(800),
        "{what}: the delay must grow across dropped connections: {grown:?}"
    );
    assert!(
        after_stable < Duration::from_millis(500),
        "{what}: after a connection that stayed up past stable_after the delay is initial again: {after_stable:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pbx_link_that_stayed_up_reconnects_at_the_initial_delay() {
    let _turn = crate::serial().await;
    let pbx = Pbx::start(drops_then_one_stable).await;
    let mut cfg = AmiConfig::from_url(&pbx.url()).expect("url");
    cfg.reconnect = stable_policy();
    let client = AmiClient::connect(cfg).await.expect("the first login is accepted");
    check_stable_resets(&pbx, "AMI").await;
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_link_that_stayed_up_reconnects_at_the_initial_delay() {
    let _turn = crate::serial().await;
    let gw = Pbx::start_gateway(drops_then_one_stable).await;
    let mut o = SessionOptions::from_url(&format!("ctilink://token-desk@{}", gw.addr)).expect("url");
    o.set_reconnect(stable_policy());
    let s = Session::connect_with(o).await.expect("the first hello is welcomed");
    check_stable_resets(&gw, "gateway client").await;
    s.close().await;
}

/// Events in the flood tests, and their size: under the 1 MiB message limit. Before the
/// byte bound, a subscriber that did not read held all of them (the ring held 4,096).
const FLOOD_EVENTS: usize = 600;
const FLOOD_EVENT_SIZE: usize = 930_000;

/// The heap a flood may add, at most: the event queue's default byte bound (16 MiB, the
/// raw queue or the model's) counts message bytes, and a frame keeps alive the read buffer
/// it was cut from (up to about twice its length), so up to 32 MiB, plus the newest event,
/// the read buffer, the event being decoded and applied: 64 MiB leaves room for those.
/// Before the byte bound: 600 events of 0.93 MB held whole, 575 MB (model) to 820 MB
/// (raw) on the machine the suite was written on.
const FLOOD_HEAP_BOUND: usize = 64 * 1024 * 1024;

/// Waits (at most 60 s) until `sub` has seen the flood's marker.
async fn raw_marker(sub: &mut Subscription) {
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match sub.recv().await {
                Some(LinkEvent::Event(m)) if m.get("UserEvent") == Some("Marker") => return,
                Some(_) => {}
                None => panic!("the link closed during the flood"),
            }
        }
    })
    .await
    .expect("the flood arrives within 60 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_raw_events_to_a_subscriber_that_does_not_read_stay_within_the_byte_bound() {
    let _turn = crate::serial().await;
    let flood = Plan::Flood { count: FLOOD_EVENTS, size: FLOOD_EVENT_SIZE, pace: Duration::ZERO };
    let pbx = Pbx::start(move |_| flood).await;
    let cfg = AmiConfig::from_url(&pbx.url()).expect("url");
    // What `ctilink monitor` does: connect with a subscription, print what it gets.
    let (client, mut slow) = AmiClient::connect_subscribed(cfg).await.expect("connects");
    // What came before the flood (`Up`, `FullyBooted`) is read, so that the lag counts
    // the flood's events only.
    tokio::time::timeout(Duration::from_secs(5), async {
        while !matches!(slow.recv().await, Some(LinkEvent::Event(m)) if m.is_event("FullyBooted")) {}
    })
    .await
    .expect("FullyBooted arrives");
    // A subscriber that reads, to know when the flood is in.
    let mut watcher = client.subscribe();
    let base = heap::live();
    heap::reset_peak();
    let started = Instant::now();
    pbx.flood.notify_one();
    raw_marker(&mut watcher).await;
    let grew = heap::peak().saturating_sub(base);
    eprintln!(
        "raw flood: {FLOOD_EVENTS} events of {FLOOD_EVENT_SIZE} bytes in {:?}; heap peak +{:.1} MB (bound {:.1} MB)",
        started.elapsed(),
        heap::mb(grew),
        heap::mb(FLOOD_HEAP_BOUND)
    );
    assert!(grew < FLOOD_HEAP_BOUND, "heap grew by {:.1} MB", heap::mb(grew));
    // The slow subscriber now reads: it was told it lagged, then gets the newest events
    // and the marker.
    let mut lagged = 0;
    let mut big = 0;
    loop {
        match slow.try_recv() {
            Some(LinkEvent::Lagged(n)) => lagged += n,
            Some(LinkEvent::Event(m)) if m.get("UserEvent") == Some("Marker") => break,
            Some(LinkEvent::Event(m)) if m.get("UserEvent") == Some("Big") => big += 1,
            Some(_) => {}
            None => panic!("the marker never reached the slow subscriber ({lagged} lagged, {big} big)"),
        }
    }
    eprintln!("raw flood: the slow subscriber lagged {lagged}, then read {big} big events and the marker");
    assert!(lagged > 0, "the slow subscriber must be told it lagged");
    assert_eq!(lagged as usize + big, FLOOD_EVENTS, "every big event is either read or counted as lagged");
    assert_eq!(client.state(), LinkState::Up);
    client.send(Action::ping()).await.expect("the link still serves actions");
    client.close().await;
}

/// Waits (at most 60 s) until `events` has seen the flood's marker; whether it saw a
/// `Resynced` on the way (the link's own task fell behind the PBX).
async fn model_marker(events: &mut EventStream) -> bool {
    tokio::time::timeout(Duration::from_secs(60), async {
        let mut resynced = false;
        loop {
            match events.next().await {
                Some(Event::UserEvent { name, .. }) if name == "Marker" => return resynced,
                Some(Event::Resynced { .. }) => resynced = true,
                Some(_) => {}
                None => panic!("the session closed during the flood"),
            }
        }
    })
    .await
    .expect("the flood arrives within 60 s")
}

/// Floods a session's two streams, one read and one not, and checks the heap and what the
/// unread stream gets when it reads at last.
async fn flood_a_session(peer: &Pbx, session: &Session, what: &str) {
    let mut slow = session.events();
    let mut watcher = session.events();
    let base = heap::live();
    heap::reset_peak();
    let started = Instant::now();
    peer.flood.notify_one();
    let resynced = model_marker(&mut watcher).await;
    let grew = heap::peak().saturating_sub(base);
    eprintln!(
        "{what} flood: {FLOOD_EVENTS} UserEvents of {FLOOD_EVENT_SIZE} bytes in {:?}; heap peak +{:.1} MB (bound {:.1} MB)",
        started.elapsed(),
        heap::mb(grew),
        heap::mb(FLOOD_HEAP_BOUND)
    );
    assert!(grew < FLOOD_HEAP_BOUND, "{what}: heap grew by {:.1} MB", heap::mb(grew));
    let mut lagged = 0;
    let mut big = 0;
    loop {
        match tokio::time::timeout(Duration::from_secs(5), slow.next()).await {
            Ok(Some(Event::Lagged { missed })) => lagged += missed,
            Ok(Some(Event::UserEvent { name, .. })) if name == "Marker" => break,
            Ok(Some(Event::UserEvent { name, .. })) if name == "Big" => big += 1,
            Ok(Some(_)) => {}
            other => panic!(
                "{what}: the marker never reached the slow stream ({lagged} lagged, {big} big): {other:?}"
            ),
        }
    }
    eprintln!(
        "{what} flood: the slow stream lagged {lagged}, then read {big} big events and the marker{}",
        if resynced { " (the link itself fell behind and resynced)" } else { "" }
    );
    assert!(lagged > 0, "{what}: the slow stream must be told it lagged");
    // When the link's task fell behind, the events it missed never reached the stream's
    // queue (the link resynced instead): then the count cannot add up.
    if !resynced {
        assert_eq!(
            lagged as usize + big,
            FLOOD_EVENTS,
            "{what}: every big event is either read or counted as lagged"
        );
    }
    assert_eq!(session.status(), LinkStatus::Up);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_user_events_to_a_session_stream_that_does_not_read_stay_within_the_byte_bound() {
    let _turn = crate::serial().await;
    // The link's own task applies each event to the model, slower than the client decodes
    // it: if it falls 16 MiB behind, its raw queue overflows and the link resyncs instead,
    // and those events never reach the stream's queue. Paced, and with the stream's queue
    // at 4 MiB (the raw one at its default, 16 MiB), the stream's queue overflows first
    // even on a loaded machine.
    let flood = Plan::Flood { count: FLOOD_EVENTS, size: FLOOD_EVENT_SIZE, pace: Duration::from_millis(3) };
    let pbx = Pbx::start(move |_| flood).await;
    let mut o = SessionOptions::from_url(&pbx.url()).expect("url");
    o.event_queue_bytes = 4 * 1024 * 1024;
    let session = Session::connect_with(o).await.expect("connects");
    flood_a_session(&pbx, &session, "AMI session").await;
    session.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_user_events_from_a_gateway_to_a_stream_that_does_not_read_stay_within_the_byte_bound() {
    let _turn = crate::serial().await;
    let flood = Plan::Flood { count: FLOOD_EVENTS, size: FLOOD_EVENT_SIZE, pace: Duration::ZERO };
    let gw = Pbx::start_gateway(move |_| flood).await;
    let session = Session::connect(&format!("ctilink://token-desk@{}", gw.addr)).await.expect("connects");
    flood_a_session(&gw, &session, "gateway session").await;
    session.close().await;
}
