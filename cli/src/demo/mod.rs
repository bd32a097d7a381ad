//! `ctilink demo`: everything on one machine with no PBX. An embedded simulator places
//! random calls among its extensions (ringing, answered, busy, not answered, held,
//! transferred); a `ctilink::Session` connects to it over AMI as it would to a real PBX.
//!
//! On a terminal the demo draws a lamp field of the extensions and a table of the active
//! calls a few times per second; otherwise (piped, redirected) it prints one line per
//! event of the session (`--json`: its JSON form). It ends after `--duration` or on Ctrl-C, with a summary.

mod call_table;
mod lamp_field;
mod screen;
mod tally;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use ctilink::{Session, SessionOptions};
use ctilink_sim::{SimConfig, SimHandle, Simulator, TrafficConfig};
use tokio::time::Instant;

use crate::event_line::event_line;
use crate::monitor::now;
use screen::Screen;
use tally::Tally;

/// Arguments of `ctilink demo`.
#[derive(clap::Args, Debug)]
pub(crate) struct DemoArgs {
    /// End after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    duration: Option<f64>,
    /// Number of simulated extensions (100 and up).
    #[arg(long, default_value_t = 16)]
    extensions: u32,
    /// New calls per second.
    #[arg(long, default_value_t = 1.0)]
    rate: f64,
    /// Seed of the random traffic (same seed, same choices); default: a new one each run.
    #[arg(long)]
    seed: Option<u64>,
    /// Print each event as one JSON object per line (the form of `replay --json`),
    /// also on a terminal.
    #[arg(long)]
    json: bool,
}

/// How long a called phone rings before it answers.
const RING: Duration = Duration::from_millis(2500);
/// Redraws per second on a terminal.
const FRAMES_PER_SEC: u64 = 4;

pub(crate) async fn run(args: DemoArgs) -> ExitCode {
    let n = args.extensions.clamp(2, 200);
    let cfg = SimConfig {
        extensions: SimConfig::extension_range(100, 100 + n - 1),
        ring_delay: Duration::from_millis(1500),
        answer_delay: RING,
        // `Dial(..., 8)`: a phone nobody answers rings for 8 s.
        dial_timeout: Duration::from_secs(8),
        ..SimConfig::default()
    };
    let exts = cfg.extensions.clone();
    let sim = match Simulator::start(cfg, ([127, 0, 0, 1], 0).into()).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ctilink demo: cannot start the simulator: {e}");
            return ExitCode::from(1);
        }
    };
    let session = match connect(&sim).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ctilink demo: {e}");
            sim.shutdown().await;
            return ExitCode::from(1);
        }
    };
    let seed = args.seed.unwrap_or_else(|| fastrand::u64(..));
    let tty = std::io::stdout().is_terminal() && !args.json;
    let intro = format!(
        "ctilink demo: simulated PBX on {} with extensions {}-{}, {} calls/s, seed {seed}",
        sim.addr(),
        exts[0],
        exts[exts.len() - 1],
        args.rate
    );
    if !tty && !args.json {
        println!("{intro}");
    }
    let mut events = session.events();
    opening_call(&sim, &exts);
    let traffic = sim.start_traffic(TrafficConfig {
        calls_per_sec: args.rate,
        seed,
        talk_min: Duration::from_secs(3),
        talk_max: Duration::from_secs(20),
        busy: 0.10,
        unknown: 0.03,
        no_answer: 0.08,
        hold: 0.10,
        transfer: 0.05,
    });

    let started = Instant::now();
    let deadline = args.duration.and_then(|d| Duration::try_from_secs_f64(d).ok()).map(|d| started + d);
    let mut tally = Tally::default();
    let mut screen = tty.then(Screen::enter);
    let mut frame = tokio::time::interval(Duration::from_millis(1000 / FRAMES_PER_SEC));
    let stop = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(stop);
    loop {
        tokio::select! {
            ev = events.next() => {
                let Some(ev) = ev else { break };
                tally.apply(&ev, std::time::Instant::now());
                if screen.is_none() && println_checked(&log_line(&ev, args.json)).is_err() {
                    break; // stdout closed
                }
            }
            _ = frame.tick(), if screen.is_some() => {
                if let Some(s) = &mut screen {
                    s.draw(&view(&intro, &session, &tally, started.elapsed()));
                }
            }
            _ = &mut stop => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    if let Some(s) = screen.take() {
        s.leave();
    }
    traffic.stop();
    session.close().await;
    sim.hangup_all();
    sim.shutdown().await;
    let summary = format!("ctilink demo: {:.1} s, {}", started.elapsed().as_secs_f64(), tally.line());
    if args.json {
        // stdout holds only JSON lines.
        eprintln!("{summary}");
    } else {
        println!("{summary}");
    }
    ExitCode::SUCCESS
}

async fn connect(sim: &SimHandle) -> ctilink::Result<Session> {
    let mut options = SessionOptions::from_url(&sim.session_url())?;
    options.set_action_timeout(Duration::from_secs(5));
    Session::connect_with(options).await
}

/// A first, short call, so that a whole call (ringing, answered, ended) shows within
/// seconds: the first extension calls the second and hangs up after 2 s of talk.
fn opening_call(sim: &SimHandle, exts: &[String]) {
    let (a, b) = (exts[0].clone(), exts[1].clone());
    if sim.place_call(&a, &b).is_err() {
        return;
    }
    let sim = sim.clone();
    tokio::spawn(async move {
        tokio::time::sleep(RING + Duration::from_secs(2)).await;
        sim.hangup_ext(&a);
    });
}

/// One event for the log: `time kind call=... device=... details`, or its JSON form.
fn log_line(ev: &ctilink::Event, json: bool) -> String {
    if json {
        serde_json::to_string(ev).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    } else {
        format!("{} {}", now(), event_line(ev))
    }
}

/// `println!` that reports a closed stdout instead of panicking.
fn println_checked(line: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
}

/// One frame: title, lamp field, legend, active calls, counters.
fn view(intro: &str, session: &Session, tally: &Tally, elapsed: Duration) -> Vec<String> {
    let snap = session.snapshot();
    let mut lines = vec![
        format!("\x1b[1m{intro}\x1b[0m"),
        format!("running {}   Ctrl-C to stop", call_table::duration(elapsed)),
        String::new(),
    ];
    let mut devices = snap.devices;
    devices.sort_by(|a, b| natural(a.id.as_str()).cmp(&natural(b.id.as_str())));
    lines.extend(lamp_field::render(&devices, 6, true));
    lines.push(String::new());
    lines.push(lamp_field::legend());
    lines.push(String::new());
    lines.push(format!("\x1b[1mactive calls: {}\x1b[0m", snap.calls.len()));
    lines.extend(call_table::render(&snap.calls, &tally.since(), std::time::Instant::now()));
    lines.push(String::new());
    lines.push(tally.line());
    lines
}

/// Sorts `99` before `100`.
fn natural(id: &str) -> (usize, &str) {
    (id.len(), id)
}
