//! `ctilink demo`: everything on one machine with no PBX. An embedded simulator
//! places calls among its extensions; ctilink connects over AMI like it would to
//! a real PBX, prints what happens, and hangs calls up after a while with the AMI
//! `Hangup` action.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

use ctilink::ami::{Action, AmiClient, AmiConfig, LinkEvent};
use ctilink_sim::{SimConfig, Simulator};
use tokio::time::Instant;

use crate::monitor::Printer;

#[derive(clap::Args, Debug)]
pub(crate) struct DemoArgs {
    /// End after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    duration: Option<f64>,
    /// Seconds between new calls.
    #[arg(long, default_value_t = 2.0)]
    call_every: f64,
    /// Number of simulated extensions (100 and up).
    #[arg(long, default_value_t = 10)]
    extensions: u32,
    /// Seed for the random choice of callers and talk times.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// One JSON object per line instead of text.
    #[arg(long)]
    json: bool,
    /// Show every AMI event, also dialplan steps and variables (Newexten, VarSet, ...).
    #[arg(long)]
    all: bool,
}

/// The events that tell what happens to calls and phones; the rest (dialplan
/// steps, variables, security notices) is shown with `--all`.
const CALL_EVENTS: &[&str] = &[
    "Newchannel",
    "Newstate",
    "DialBegin",
    "DialEnd",
    "BridgeEnter",
    "BridgeLeave",
    "Hangup",
    "OriginateResponse",
    "ExtensionStatus",
];

pub(crate) async fn run(args: DemoArgs) -> ExitCode {
    let n = args.extensions.clamp(2, 1000);
    let sim_cfg = SimConfig {
        extensions: SimConfig::extension_range(100, 100 + n - 1),
        ring_delay: Duration::from_millis(500),
        answer_delay: Duration::from_millis(1500),
        ..SimConfig::default()
    };
    let extensions = sim_cfg.extensions.clone();
    let sim = match Simulator::start(sim_cfg, ([127, 0, 0, 1], 0).into()).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ctilink demo: cannot start the simulator: {e}");
            return ExitCode::from(1);
        }
    };
    let cfg = match AmiConfig::from_url(&sim.url()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ctilink demo: {e}");
            return ExitCode::from(1);
        }
    };
    if !args.all {
        eprintln!("ctilink demo: showing call and extension events (--all for every AMI event)");
    }
    eprintln!(
        "ctilink demo: simulator with extensions {}-{} on {}",
        extensions[0],
        extensions[extensions.len() - 1],
        sim.addr()
    );
    let (client, mut sub) = match AmiClient::connect_subscribed(cfg).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ctilink demo: {e}");
            return ExitCode::from(1);
        }
    };
    let printer = Printer { json: args.json };
    let mut rng = fastrand::Rng::with_seed(args.seed);
    let deadline = args.duration.map(|d| Instant::now() + Duration::from_secs_f64(d));
    let mut next_call = tokio::time::interval(Duration::from_secs_f64(args.call_every.max(0.1)));
    // Channels that answered, with when to hang them up.
    let mut hangups: HashMap<String, Instant> = HashMap::new();
    let mut sweep = tokio::time::interval(Duration::from_millis(200));
    let (mut calls, mut events) = (0u64, 0u64);
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        tokio::select! {
            _ = next_call.tick() => {
                let a = rng.usize(..extensions.len());
                let mut b = rng.usize(..extensions.len() - 1);
                if b >= a { b += 1; }
                if sim.place_call(&extensions[a], &extensions[b]).is_ok() {
                    calls += 1;
                }
            }
            _ = sweep.tick() => {
                let now = Instant::now();
                let due: Vec<String> = hangups.iter().filter(|(_, t)| **t <= now).map(|(c, _)| c.clone()).collect();
                for ch in due {
                    hangups.remove(&ch);
                    // The call may have ended already; the PBX then says "No such channel".
                    let _ = client.send(Action::hangup(&ch, Some(16))).await;
                }
            }
            ev = sub.recv() => {
                let Some(ev) = ev else { break };
                if let LinkEvent::Event(m) = &ev {
                    events += 1;
                    // The caller's channel enters the bridge: talk for 2 to 6 seconds.
                    if m.is_event("BridgeEnter") && m.get("Linkedid") == m.get("Uniqueid") {
                        if let Some(ch) = m.get("Channel") {
                            let talk = Duration::from_millis(rng.u64(2000..6000));
                            hangups.insert(ch.to_owned(), Instant::now() + talk);
                        }
                    }
                }
                let shown = match &ev {
                    LinkEvent::Event(m) => args.all || CALL_EVENTS.iter().any(|e| m.is_event(e)),
                    _ => true,
                };
                if shown && printer.print(&ev).is_err() {
                    break;
                }
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    client.close().await;
    sim.shutdown().await;
    eprintln!("ctilink demo: {calls} calls placed, {events} AMI events received");
    ExitCode::SUCCESS
}
