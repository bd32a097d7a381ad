//! `ctilink-real-pbx`: the product's scenarios end to end against a real Asterisk with
//! scripted SIP phones (the refpbx kit's `phone.sh`, or anything with its interface).
//! Run through `scripts/test-real-pbx.sh`, which says how; CI has no Asterisk, so what a
//! run teaches is kept as captures (`--record DIR`) that `make test` replays.
//!
//! Each scenario prints `ok - NAME` or `not ok - NAME: why`; the last line is
//! `real-pbx: N passed, M failed`. Scenarios run one after another: they share the phones.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use ctilink::model::{DivertReason, FailureReason, TransferKind};
use ctilink::{DeviceState, Event, EventStream, ForwardKind, Session, SessionOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

type Outcome = Result<(), String>;

struct Env {
    url: String,
    phones: PathBuf,
    cli: Option<PathBuf>,
    record: Option<PathBuf>,
    /// The `ctilink` CLI, for the gateway scenario.
    ctilink: Option<PathBuf>,
    /// `host:port`, user and secret of the AMI, for the recorder's own connection.
    ami: (String, String, String),
}

fn usage() -> ! {
    eprintln!(
        "usage: ctilink-real-pbx --url ami://USER:SECRET@HOST:PORT --phones PHONE_SH \
         [--cli CLI_SH] [--ctilink CTILINK_BIN] [--record DIR] [--only NAME,...]"
    );
    std::process::exit(2)
}

fn parse_ami(url: &str) -> Option<(String, String, String)> {
    let rest = url.strip_prefix("ami://")?;
    let (cred, host) = rest.split_once('@')?;
    let host = host.split(['/', '?']).next()?.to_owned();
    let (user, secret) = cred.split_once(':')?;
    Some((host, user.to_owned(), secret.to_owned()))
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (mut url, mut phones, mut cli, mut record, mut only, mut ctilink) =
        (None, None, None, None, None, None);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--url" => url = Some(val()),
            "--phones" => phones = Some(PathBuf::from(val())),
            "--cli" => cli = Some(PathBuf::from(val())),
            "--record" => record = Some(PathBuf::from(val())),
            "--only" => only = Some(val()),
            "--ctilink" => ctilink = Some(PathBuf::from(val())),
            _ => usage(),
        }
    }
    let (Some(url), Some(phones)) = (url, phones) else { usage() };
    let Some(ami) = parse_ami(&url) else { usage() };
    if let Some(dir) = &record {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("cannot create {}: {e}", dir.display());
            std::process::exit(2);
        }
    }
    let env = Env { url, phones, cli, record, ctilink, ami };
    let wanted = |name: &str| only.as_deref().is_none_or(|o| o.split(',').any(|n| n == name));
    let (mut passed, mut failed) = (0, 0);
    macro_rules! scenario {
        ($name:literal, $f:ident) => {
            if wanted($name) {
                let recorder = Recorder::start(&env, $name).await;
                let started = Instant::now();
                let result = $f(&env).await;
                if let Some(r) = recorder {
                    r.finish().await;
                }
                match result {
                    Ok(()) => {
                        passed += 1;
                        println!("ok - {} ({:.1} s)", $name, started.elapsed().as_secs_f64());
                    }
                    Err(why) => {
                        failed += 1;
                        println!("not ok - {}: {why}", $name);
                    }
                }
                settle(&env).await;
            }
        };
    }
    scenario!("status", status);
    scenario!("dial_answered", dial_answered);
    scenario!("dial_busy", dial_busy);
    scenario!("dial_no_answer", dial_no_answer);
    scenario!("dial_failed", dial_failed);
    scenario!("incoming_call", incoming_call);
    scenario!("blind_transfer", blind_transfer);
    scenario!("attended_transfer", attended_transfer);
    scenario!("blonde_transfer", blonde_transfer);
    scenario!("pickup", pickup);
    scenario!("no_hints", no_hints);
    scenario!("dnd_forwarding_ctilink", dnd_forwarding_ctilink);
    scenario!("dnd_forwarding_freepbx", dnd_forwarding_freepbx);
    scenario!("gateway", gateway);
    scenario!("pbx_restart", pbx_restart);
    println!("real-pbx: {passed} passed, {failed} failed");
    std::process::exit(if failed == 0 { 0 } else { 1 });
}

/// The process groups of the phones a scenario started.
static PHONES: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

/// Between scenarios: every call hung up while the phones still answer the BYE (chan_sip
/// retransmits an unanswered one for 32 s, and the next phone on that port would take it
/// for its own call), then the phones stopped.
async fn settle(env: &Env) {
    if let Some(cli) = &env.cli {
        let _ = Command::new(cli).args(["channel", "request", "hangup", "all"]).output().await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let groups: Vec<u32> = PHONES.lock().map(|mut p| p.drain(..).collect()).unwrap_or_default();
    for g in groups {
        let _ = Command::new("kill").arg("--").arg(format!("-{g}")).output().await;
    }
}

/// Every byte the AMI sends to a second, passive connection while a scenario runs.
struct Recorder {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Recorder {
    async fn start(env: &Env, name: &str) -> Option<Recorder> {
        let path = env.record.as_ref()?.join(format!("{name}.ami"));
        let (addr, user, secret) = env.ami.clone();
        let mut sock = tokio::net::TcpStream::connect(&addr).await.ok()?;
        let login = format!("Action: Login\r\nUsername: {user}\r\nSecret: {secret}\r\nEvents: on\r\n\r\n");
        sock.write_all(login.as_bytes()).await.ok()?;
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let mut data = Vec::new();
            let mut buf = [0u8; 16384];
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    n = sock.read(&mut buf) => match n {
                        Ok(0) | Err(_) => break,
                        Ok(n) if data.len() + n <= 64 << 20 => data.extend_from_slice(&buf[..n]),
                        Ok(_) => break,
                    }
                }
            }
            if let Err(e) = std::fs::write(&path, &data) {
                eprintln!("cannot write {}: {e}", path.display());
            }
        });
        // The login answer comes before anything the scenario causes.
        tokio::time::sleep(Duration::from_millis(300)).await;
        Some(Recorder { stop, task })
    }

    async fn finish(self) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// One scripted phone (`phone.sh MODE NNN ...`) in a process group of its own, stopped
/// by [`settle`] after the scenario.
fn phone(env: &Env, args: &[&str]) -> Result<Child, String> {
    let child = Command::new(&env.phones)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", env.phones.display()))?;
    if let (Some(pid), Ok(mut phones)) = (child.id(), PHONES.lock()) {
        phones.push(pid);
    }
    Ok(child)
}

async fn phone_done(env: &Env, args: &[&str]) -> Outcome {
    let status = Command::new(&env.phones)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .map_err(|e| format!("cannot run {}: {e}", env.phones.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("phone.sh {} failed: {status}", args.join(" ")))
    }
}

/// Phones that answer each call they get, ready to be dialled.
async fn answering(env: &Env, exts: &[&str]) -> Result<Vec<Child>, String> {
    let mut v = Vec::new();
    for e in exts {
        phone_done(env, &["register", e]).await?;
        v.push(phone(env, &["answer", e])?);
    }
    // sipp needs a moment to bind its port.
    tokio::time::sleep(Duration::from_millis(700)).await;
    Ok(v)
}

async fn connect(env: &Env) -> Result<Session, String> {
    Session::connect(&env.url).await.map_err(|e| format!("connect: {e}"))
}

/// Waits for the first event that `pred` accepts; on timeout, says what was seen.
async fn wait_for(
    stream: &mut EventStream,
    secs: u64,
    what: &str,
    mut pred: impl FnMut(&Event) -> bool,
) -> Result<Event, String> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match stream.next_timeout(left).await {
            Ok(Some(ev)) if pred(&ev) => return Ok(ev),
            Ok(Some(ev)) => {
                if ev.call().is_some() {
                    seen.push(format!("{} {}", ev.kind(), ev.device().map_or("-", |d| d.as_str())));
                }
            }
            Ok(None) | Err(_) => {
                return Err(format!("no {what} within {secs} s (call events seen: {})", seen.join(", ")))
            }
        }
    }
}

fn on(ev: &Event, kind: &str, device: &str) -> bool {
    ev.kind() == kind && ev.device().is_some_and(|d| d.as_str() == device)
}

fn in_call(ev: &Event, call: &str) -> bool {
    ev.call().is_some_and(|c| c.as_str() == call)
}

fn expect(cond: bool, why: impl FnOnce() -> String) -> Outcome {
    if cond {
        Ok(())
    } else {
        Err(why())
    }
}

async fn device_state_becomes(session: &Session, device: &str, want: DeviceState, secs: u64) -> Outcome {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let now = session.device(device).map(|d| d.state);
        if now == Some(want) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("device {device} is {now:?}, not {want:?}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Registered phones are idle, an unregistered one unavailable.
async fn status(env: &Env) -> Outcome {
    for e in ["100", "101", "102", "103", "104"] {
        phone_done(env, &["register", e]).await?;
    }
    phone_done(env, &["unregister", "105"]).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let s = connect(env).await?;
    for e in ["100", "101", "104"] {
        device_state_becomes(&s, e, DeviceState::Idle, 5).await?;
    }
    device_state_becomes(&s, "105", DeviceState::Unavailable, 5).await?;
    s.close().await;
    Ok(())
}

/// Click-to-dial: the user's phone rings first, then the destination; lamps follow.
async fn dial_answered(env: &Env) -> Outcome {
    let _phones = answering(env, &["100", "101"]).await?;
    let s = connect(env).await?;
    let mut ev = s.events();
    let call = s.make_call("100", "101").await.map_err(|e| format!("make_call: {e}"))?;
    let c = call.as_str().to_owned();
    let d =
        wait_for(&mut ev, 15, "delivered at 100", |e| on(e, "delivered", "100") && in_call(e, &c)).await?;
    expect(matches!(d, Event::Delivered { click_to_dial: true, .. }), || {
        format!("not click-to-dial: {d:?}")
    })?;
    wait_for(&mut ev, 15, "originated at 100", |e| on(e, "originated", "100") && in_call(e, &c)).await?;
    let d =
        wait_for(&mut ev, 15, "delivered at 101", |e| on(e, "delivered", "101") && in_call(e, &c)).await?;
    let Event::Delivered { caller, calling_device, .. } = &d else { unreachable!() };
    expect(caller.number == "100" && calling_device.as_ref().is_some_and(|d| d.as_str() == "100"), || {
        format!("101 sees the wrong caller: {d:?}")
    })?;
    wait_for(&mut ev, 15, "established at 101", |e| on(e, "established", "101") && in_call(e, &c)).await?;
    device_state_becomes(&s, "101", DeviceState::InUse, 5).await?;
    device_state_becomes(&s, "100", DeviceState::InUse, 5).await?;
    s.clear_call(&c).await.map_err(|e| format!("clear_call: {e}"))?;
    let cleared =
        wait_for(&mut ev, 15, "call cleared", |e| e.kind() == "call_cleared" && in_call(e, &c)).await?;
    expect(matches!(cleared, Event::CallCleared { answered: true, .. }), || format!("{cleared:?}"))?;
    device_state_becomes(&s, "101", DeviceState::Idle, 5).await?;
    device_state_becomes(&s, "100", DeviceState::Idle, 5).await?;
    expect(s.snapshot().calls.is_empty(), || format!("calls left open: {:?}", s.snapshot().calls))?;
    s.close().await;
    Ok(())
}

/// The destination is busy: the call fails with `Busy` at it.
async fn dial_busy(env: &Env) -> Outcome {
    let _a = answering(env, &["100"]).await?;
    phone_done(env, &["register", "101"]).await?;
    let _b = phone(env, &["busy", "101"])?;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let s = connect(env).await?;
    let mut ev = s.events();
    let c = s.make_call("100", "101").await.map_err(|e| format!("make_call: {e}"))?.as_str().to_owned();
    let f = wait_for(&mut ev, 20, "failed at 101", |e| on(e, "failed", "101") && in_call(e, &c)).await?;
    expect(matches!(f, Event::Failed { reason: FailureReason::Busy, .. }), || format!("{f:?}"))?;
    wait_for(&mut ev, 20, "call cleared", |e| e.kind() == "call_cleared" && in_call(e, &c)).await?;
    s.close().await;
    Ok(())
}

/// The user's own phone does not answer the click-to-dial: `NoAnswer` at it.
async fn dial_no_answer(env: &Env) -> Outcome {
    phone_done(env, &["register", "103"]).await?;
    let _r = phone(env, &["ring", "103"])?;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mut options = SessionOptions::from_url(&env.url).map_err(|e| e.to_string())?;
    options.control.originate_timeout = Duration::from_secs(4);
    let s = Session::connect_with(options).await.map_err(|e| format!("connect: {e}"))?;
    let mut ev = s.events();
    let c = s.make_call("103", "101").await.map_err(|e| format!("make_call: {e}"))?.as_str().to_owned();
    wait_for(&mut ev, 10, "delivered at 103", |e| on(e, "delivered", "103") && in_call(e, &c)).await?;
    let f = wait_for(&mut ev, 20, "failed at 103", |e| on(e, "failed", "103") && in_call(e, &c)).await?;
    expect(matches!(f, Event::Failed { reason: FailureReason::NoAnswer, .. }), || format!("{f:?}"))?;
    s.close().await;
    Ok(())
}

/// A click-to-dial from a phone that is not registered fails at once, typed.
async fn dial_failed(env: &Env) -> Outcome {
    phone_done(env, &["unregister", "105"]).await?;
    let s = connect(env).await?;
    let mut ev = s.events();
    match s.make_call("105", "101").await {
        Err(e) => {
            s.close().await;
            Err(format!("make_call was refused instead of failing the call: {e}"))
        }
        Ok(c) => {
            let c = c.as_str().to_owned();
            let f =
                wait_for(&mut ev, 20, "failed at 105", |e| on(e, "failed", "105") && in_call(e, &c)).await?;
            expect(matches!(f, Event::Failed { reason: FailureReason::Unreachable, .. }), || {
                format!("{f:?}")
            })?;
            s.close().await;
            Ok(())
        }
    }
}

/// A phone calls another: the callee sees the caller's number and name.
async fn incoming_call(env: &Env) -> Outcome {
    let _a = answering(env, &["100"]).await?;
    phone_done(env, &["register", "101"]).await?;
    let s = connect(env).await?;
    let mut ev = s.events();
    let caller = phone(env, &["call", "101", "100", "3"])?;
    let d = wait_for(&mut ev, 15, "delivered at 100", |e| on(e, "delivered", "100")).await?;
    let Event::Delivered { caller: who, calling_device, call, .. } = &d else { unreachable!() };
    expect(who.number == "101" && !who.name.is_empty(), || format!("caller not shown: {d:?}"))?;
    expect(calling_device.as_ref().is_some_and(|d| d.as_str() == "101"), || format!("{d:?}"))?;
    let c = call.as_str().to_owned();
    wait_for(&mut ev, 15, "established at 100", |e| on(e, "established", "100") && in_call(e, &c)).await?;
    wait_for(&mut ev, 20, "call cleared", |e| e.kind() == "call_cleared" && in_call(e, &c)).await?;
    let out = caller.wait_with_output().await.map_err(|e| e.to_string())?;
    expect(out.status.success(), || format!("the calling phone failed: {}", out.status))?;
    s.close().await;
    Ok(())
}

/// Click-to-dial 100 -> 101 answered, then both ends are connected.
async fn answered_call(s: &Session, ev: &mut EventStream) -> Result<String, String> {
    let c = s.make_call("100", "101").await.map_err(|e| format!("make_call: {e}"))?.as_str().to_owned();
    wait_for(ev, 20, "established at 101", |e| on(e, "established", "101") && in_call(e, &c)).await?;
    Ok(c)
}

/// 100 sends its party (101) to 102 without consulting: one call, 101 with 102.
async fn blind_transfer(env: &Env) -> Outcome {
    let _phones = answering(env, &["100", "101", "102"]).await?;
    let s = connect(env).await?;
    let mut ev = s.events();
    let c = answered_call(&s, &mut ev).await?;
    s.single_step_transfer(&c, "100", "102").await.map_err(|e| format!("single_step_transfer: {e}"))?;
    let t = wait_for(&mut ev, 15, "transferred", |e| e.kind() == "transferred" && in_call(e, &c)).await?;
    expect(matches!(t, Event::Transferred { kind: TransferKind::Blind, .. }), || format!("{t:?}"))?;
    wait_for(&mut ev, 20, "established at 102", |e| on(e, "established", "102") && in_call(e, &c)).await?;
    let call = s.call(&c).ok_or("the call is gone")?;
    let devices: Vec<&str> = call.connections.iter().map(|k| k.device.as_str()).collect();
    expect(devices.contains(&"101") && devices.contains(&"102") && !devices.contains(&"100"), || {
        format!("after the transfer the call has {devices:?}")
    })?;
    s.clear_call(&c).await.map_err(|e| format!("clear_call: {e}"))?;
    wait_for(&mut ev, 15, "call cleared", |e| e.kind() == "call_cleared" && in_call(e, &c)).await?;
    s.close().await;
    Ok(())
}

/// 100 consults 102 (a call of its own), then transfers: 101 and 102 in one call.
async fn attended_transfer(env: &Env) -> Outcome {
    let _phones = answering(env, &["100", "101", "102"]).await?;
    let s = connect(env).await?;
    let mut ev = s.events();
    let c = answered_call(&s, &mut ev).await?;
    let consult =
        s.consultation_call(&c, "100", "102").await.map_err(|e| format!("consultation_call: {e}"))?;
    let k = consult.as_str().to_owned();
    expect(k != c, || "the consultation is the same call".into())?;
    wait_for(&mut ev, 20, "established at 102", |e| on(e, "established", "102") && in_call(e, &k)).await?;
    let held = s.call(&c).and_then(|x| x.connection("100").map(|k| k.state));
    expect(held == Some(ctilink::ConnectionState::Held), || format!("100 in the first call: {held:?}"))?;
    s.transfer_call(&c, &k).await.map_err(|e| format!("transfer_call: {e}"))?;
    let t = wait_for(&mut ev, 15, "transferred", |e| e.kind() == "transferred" && in_call(e, &c)).await?;
    let Event::Transferred { kind, targets, secondary_call, .. } = &t else { unreachable!() };
    expect(
        *kind == TransferKind::Attended
            && targets.iter().any(|x| x.device.as_str() == "102")
            && secondary_call.as_ref().is_some_and(|x| x.as_str() == k),
        || format!("{t:?}"),
    )?;
    wait_for(&mut ev, 10, "consultation merged", |e| {
        matches!(e, Event::CallCleared { call, merged_into: Some(m), .. } if call.as_str() == k && m.as_str() == c)
    })
    .await?;
    let call = s.call(&c).ok_or("the call is gone")?;
    let devices: Vec<&str> = call.connections.iter().map(|k| k.device.as_str()).collect();
    expect(devices == ["101", "102"] || devices == ["102", "101"], || {
        format!("after the transfer: {devices:?}")
    })?;
    s.clear_call(&c).await.map_err(|e| format!("clear_call: {e}"))?;
    wait_for(&mut ev, 15, "call cleared", |e| e.kind() == "call_cleared" && in_call(e, &c)).await?;
    s.close().await;
    Ok(())
}

/// 100 consults 103, which only rings, and transfers while it rings (blonde): 101 hears
/// 103 ringing in the first call.
async fn blonde_transfer(env: &Env) -> Outcome {
    let _phones = answering(env, &["100", "101"]).await?;
    phone_done(env, &["register", "103"]).await?;
    let _r = phone(env, &["ring", "103"])?;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let s = connect(env).await?;
    let mut ev = s.events();
    let c = answered_call(&s, &mut ev).await?;
    let consult =
        s.consultation_call(&c, "100", "103").await.map_err(|e| format!("consultation_call: {e}"))?;
    let k = consult.as_str().to_owned();
    wait_for(&mut ev, 20, "delivered at 103", |e| on(e, "delivered", "103") && in_call(e, &k)).await?;
    s.transfer_call(&c, &k).await.map_err(|e| format!("transfer_call: {e}"))?;
    let t = wait_for(&mut ev, 15, "transferred", |e| e.kind() == "transferred" && in_call(e, &c)).await?;
    let Event::Transferred { kind, targets, .. } = &t else { unreachable!() };
    expect(*kind == TransferKind::Blonde && targets.iter().any(|x| x.device.as_str() == "103"), || {
        format!("{t:?}")
    })?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let call = s.call(&c).ok_or("the call is gone")?;
    let states: Vec<String> =
        call.connections.iter().map(|k| format!("{} {:?}", k.device, k.state)).collect();
    expect(
        call.connection("103").map(|k| k.state) == Some(ctilink::ConnectionState::Alerting)
            && call.connection("100").is_none(),
        || format!("after the blonde transfer: {states:?}"),
    )?;
    s.clear_call(&c).await.map_err(|e| format!("clear_call: {e}"))?;
    wait_for(&mut ev, 15, "call cleared", |e| e.kind() == "call_cleared" && in_call(e, &c)).await?;
    s.close().await;
    Ok(())
}

/// 101 calls 103, which rings; 100 picks the call up.
async fn pickup(env: &Env) -> Outcome {
    let _a = answering(env, &["100"]).await?;
    phone_done(env, &["register", "103"]).await?;
    phone_done(env, &["register", "101"]).await?;
    let _r = phone(env, &["ring", "103"])?;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let s = connect(env).await?;
    let mut ev = s.events();
    let _caller = phone(env, &["call", "101", "103", "0"])?;
    let d = wait_for(&mut ev, 15, "delivered at 103", |e| on(e, "delivered", "103")).await?;
    let c = d.call().map(|c| c.as_str().to_owned()).unwrap_or_default();
    s.pickup("100", "103").await.map_err(|e| format!("pickup: {e}"))?;
    let dv = wait_for(&mut ev, 20, "diverted to 100", |e| on(e, "diverted", "100") && in_call(e, &c)).await?;
    expect(matches!(dv, Event::Diverted { reason: DivertReason::Pickup, .. }), || format!("{dv:?}"))?;
    wait_for(&mut ev, 20, "established at 100", |e| on(e, "established", "100") && in_call(e, &c)).await?;
    s.clear_call(&c).await.map_err(|e| format!("clear_call: {e}"))?;
    wait_for(&mut ev, 15, "call cleared", |e| e.kind() == "call_cleared" && in_call(e, &c)).await?;
    s.close().await;
    Ok(())
}

/// The PBX restarts under a live session: the link comes back and calls work again.
async fn pbx_restart(env: &Env) -> Outcome {
    let Some(cli) = &env.cli else { return Err("needs --cli".into()) };
    let s = connect(env).await?;
    let mut ev = s.events();
    let out = Command::new(cli).args(["core", "restart", "now"]).output().await.map_err(|e| e.to_string())?;
    expect(out.status.success(), || format!("{}: {}", cli.display(), out.status))?;
    wait_for(&mut ev, 20, "link down", |e| e.kind() == "link_down").await?;
    let up = wait_for(&mut ev, 90, "link up", |e| e.kind() == "link_up").await?;
    expect(matches!(up, Event::LinkUp { reconnected: true }), || format!("{up:?}"))?;
    // The restarted PBX needs its phones again.
    let _phones = answering(env, &["100", "101"]).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let c = answered_call(&s, &mut ev).await?;
    s.clear_call(&c).await.map_err(|e| format!("clear_call: {e}"))?;
    wait_for(&mut ev, 15, "call cleared", |e| e.kind() == "call_cleared" && in_call(e, &c)).await?;
    s.close().await;
    Ok(())
}

/// `url` with one more query parameter.
fn with_param(url: &str, param: &str) -> String {
    format!("{url}{}{param}", if url.contains('?') { '&' } else { '?' })
}

/// DND and forwarding through the AstDB convention `flavour`: the session's own events,
/// the keys as the PBX holds them (`DBGet` by a second, raw connection), and a new session
/// reading them back at its start.
async fn dnd_forwarding(env: &Env, flavour: &str, keys: [&str; 3]) -> Outcome {
    let url = with_param(&env.url, &format!("astdb={flavour}"));
    let s = Session::connect(&url).await.map_err(|e| format!("connect: {e}"))?;
    let mut ev = s.events();
    s.set_do_not_disturb("104", true).await.map_err(|e| format!("dnd on: {e}"))?;
    wait_for(
        &mut ev,
        10,
        "dnd on",
        |e| matches!(e, Event::DoNotDisturb { device, enabled: true } if device.as_str() == "104"),
    )
    .await?;
    s.set_forwarding("104", ForwardKind::Immediate, Some("101")).await.map_err(|e| format!("cfu: {e}"))?;
    s.set_forwarding("104", ForwardKind::NoAnswer, Some("102")).await.map_err(|e| format!("cfna: {e}"))?;
    wait_for(&mut ev, 10, "forwarding", |e| {
        matches!(e, Event::Forwarding { device, kind: ForwardKind::NoAnswer, to: Some(t) } if device.as_str() == "104" && t == "102")
    })
    .await?;
    let (dnd, cf, cfna) = (
        db_get(env, keys[0], "104").await?,
        db_get(env, keys[1], "104").await?,
        db_get(env, keys[2], "104").await?,
    );
    expect(
        dnd.as_deref() == Some("YES") && cf.as_deref() == Some("101") && cfna.as_deref() == Some("102"),
        || format!("the PBX holds {}={dnd:?} {}={cf:?} {}={cfna:?}", keys[0], keys[1], keys[2]),
    )?;
    let fresh = Session::connect(&url).await.map_err(|e| format!("second connect: {e}"))?;
    let d = fresh.device("104").ok_or("a new session does not know 104")?;
    expect(
        d.do_not_disturb
            && d.forward_to.as_deref() == Some("101")
            && d.forward_no_answer.as_deref() == Some("102"),
        || format!("a new session reads back {d:?}"),
    )?;
    fresh.close().await;
    s.set_do_not_disturb("104", false).await.map_err(|e| format!("dnd off: {e}"))?;
    s.set_forwarding("104", ForwardKind::Immediate, None).await.map_err(|e| format!("cfu off: {e}"))?;
    s.set_forwarding("104", ForwardKind::NoAnswer, None).await.map_err(|e| format!("cfna off: {e}"))?;
    let left = (db_get(env, keys[0], "104").await?, db_get(env, keys[1], "104").await?);
    expect(left == (None, None), || format!("keys left after turning off: {left:?}"))?;
    s.close().await;
    Ok(())
}

async fn dnd_forwarding_ctilink(env: &Env) -> Outcome {
    dnd_forwarding(env, "ctilink", ["DND", "CF", "CFNA"]).await
}

async fn dnd_forwarding_freepbx(env: &Env) -> Outcome {
    dnd_forwarding(env, "freepbx", ["DND", "CF", "CFU"]).await
}

/// One raw AMI exchange: login, `DBGet`, and the value of the `DBGetResponse` (None when
/// the PBX has no such entry).
async fn db_get(env: &Env, family: &str, key: &str) -> Result<Option<String>, String> {
    let (addr, user, secret) = &env.ami;
    let mut sock = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let req = format!(
        "Action: Login\r\nUsername: {user}\r\nSecret: {secret}\r\nEvents: off\r\n\r\n\
         Action: DBGet\r\nFamily: {family}\r\nKey: {key}\r\n\r\nAction: Logoff\r\n\r\n"
    );
    sock.write_all(req.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut data = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), sock.read_to_end(&mut data)).await;
    let text = String::from_utf8_lossy(&data);
    let value = text
        .split("\r\n\r\n")
        .find(|m| m.contains("Event: DBGetResponse"))
        .and_then(|m| m.lines().find_map(|l| l.strip_prefix("Val: ")).map(str::to_owned));
    Ok(value)
}

/// The shared-connection deployment: a gateway holds the PBX link; a client session
/// through it places a click-to-dial, and the diagnostics page counts its messages.
async fn gateway(env: &Env) -> Outcome {
    let Some(bin) = &env.ctilink else { return Err("needs --ctilink".into()) };
    let free =
        || std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string());
    let (tcp, diag) = (free()?, free()?);
    let dir = std::env::temp_dir().join(format!("ctilink-real-pbx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let config = dir.join("gateway.toml");
    let token = "real-pbx-desk-100-0123456789";
    std::fs::write(
        &config,
        format!(
            "[pbx]\nurl_env = \"CTILINK_REAL_PBX_URL\"\n[listen]\ntcp = \"{tcp}\"\ndiagnostics = \"{diag}\"\n\
             [[token]]\nidentity = \"desk-100\"\ntoken = \"{token}\"\nmonitor = [\"*\"]\ncontrol = [\"100\"]\n"
        ),
    )
    .map_err(|e| e.to_string())?;
    let _gw = Command::new(bin)
        .args(["gateway", "--config"])
        .arg(&config)
        .env("CTILINK_REAL_PBX_URL", &env.url)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("gateway.log")).map_err(|e| e.to_string())?)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let _phones = answering(env, &["100", "101"]).await?;
    let url = format!("ctilink://{token}@{tcp}");
    let deadline = Instant::now() + Duration::from_secs(15);
    let s = loop {
        match Session::connect(&url).await {
            Ok(s) => break s,
            Err(e) if Instant::now() > deadline => return Err(format!("connect through the gateway: {e}")),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    let mut ev = s.events();
    let c = answered_call(&s, &mut ev).await?;
    s.clear_call(&c).await.map_err(|e| format!("clear_call: {e}"))?;
    wait_for(&mut ev, 15, "call cleared", |e| e.kind() == "call_cleared" && in_call(e, &c)).await?;
    let mut sock = tokio::net::TcpStream::connect(diag).await.map_err(|e| e.to_string())?;
    // The Host a browser sends: the diagnostics answer only to the names they allow.
    sock.write_all(
        format!("GET /api/clients HTTP/1.1\r\nHost: {diag}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let mut body = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), sock.read_to_end(&mut body)).await;
    let body = String::from_utf8_lossy(&body);
    expect(body.contains("desk-100") && body.contains("messages_out"), || format!("diagnostics: {body}"))?;
    s.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Phones without a hint (as with a pattern hint, which Asterisk 22's ExtensionStateList
/// does not list) are still devices with their state, learned from the endpoint lists.
async fn no_hints(env: &Env) -> Outcome {
    let Some(cli) = &env.cli else { return Err("needs --cli".into()) };
    let run = |args: &[&str]| {
        let mut c = Command::new(cli);
        c.args(args);
        c
    };
    for e in ["106", "107"] {
        run(&["dialplan", "remove", "extension", &format!("{e}@internal"), "hint"])
            .output()
            .await
            .map_err(|e| e.to_string())?;
    }
    let result = async {
        phone_done(env, &["register", "106"]).await?;
        phone_done(env, &["unregister", "107"]).await?;
        let s = connect(env).await?;
        device_state_becomes(&s, "106", DeviceState::Idle, 5).await?;
        device_state_becomes(&s, "107", DeviceState::Unavailable, 5).await?;
        let caller = phone(env, &["call", "106", "600", "2"])?;
        device_state_becomes(&s, "106", DeviceState::InUse, 10).await?;
        let out = caller.wait_with_output().await.map_err(|e| e.to_string())?;
        expect(out.status.success(), || format!("106 calling 600 failed: {}", out.status))?;
        device_state_becomes(&s, "106", DeviceState::Idle, 10).await?;
        s.close().await;
        Ok(())
    }
    .await;
    run(&["dialplan", "reload"]).output().await.map_err(|e| e.to_string())?;
    result
}
