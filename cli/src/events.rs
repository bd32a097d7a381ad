//! `ctilink events URL`: the call model's events from a live PBX, as they happen.
//!
//! `monitor` shows the raw AMI; this runs a [`Session`], as an application would, and prints
//! each normalized event in the line format of `replay` (`--json`: the SDK's JSON form, one
//! object per line, as `replay --json`). Same lines as `replay`, so that a run recorded with
//! `--record FILE` and `ctilink replay FILE` can be compared line for line.
//!
//! The events the session makes while it connects (its first `link_up`, the resync) are
//! not printed: a line on stderr tells what the PBX holds when the events start. It stops
//! after `--count` events, after `--duration`, on Ctrl-C or SIGTERM, or when stdout is
//! closed; then it logs off and prints the summary `replay` prints (calls, devices), except
//! when stdout was closed. It does not watch stdin: it may run with none.
//!
//! Exit status: 0 when it ran, 1 when the PBX could not be reached or refused the login,
//! 2 for a bad URL or a recording file that cannot be created. No message shows the secret.

use std::collections::HashSet;
use std::io::Write;
use std::process::ExitCode;

use ctilink::{CallId, Event, Session, SessionOptions, Transport};
use tokio::time::Instant;

use crate::event_line::event_line;
use crate::record_args::{self, RecordArgs};
use crate::stop;
use crate::summary::{self, Summary};

/// Arguments of `ctilink events`.
#[derive(clap::Args, Debug)]
pub(crate) struct EventsArgs {
    /// The PBX, e.g. ami://admin:secret@127.0.0.1:5038 (amis:// for TLS), with the session's
    /// parameters (monitor=100,101, control=pjsip, ...); or ctilink://TOKEN@gateway:7070.
    url: String,
    /// One JSON object per line: each event, then a summary object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    limits: crate::stop::Limits,
    #[command(flatten)]
    record: RecordArgs,
}

/// Why the printing stopped.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// `--count`, `--duration`, Ctrl-C or SIGTERM: print the summary.
    Done,
    /// stdout is closed (piped into `head`): nothing more can be printed.
    StdoutClosed,
    /// The session's stream ended (the session was closed).
    Closed,
}

pub(crate) async fn run(args: EventsArgs) -> ExitCode {
    let limit = match args.limits.time_limit() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("ctilink events: {e}");
            return ExitCode::from(2);
        }
    };
    let mut options = match SessionOptions::from_url(&args.url) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("ctilink events: {e}");
            return ExitCode::from(2);
        }
    };
    let recorder = match args.record.options().map(|r| options.record(&r)).transpose() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ctilink events: {e}");
            return ExitCode::from(2);
        }
    };
    let place = redacted(&options);
    let session = match Session::connect_with(options).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ctilink events: {place}: {e}");
            return ExitCode::from(1);
        }
    };
    // Subscribe before the snapshot, so that no event falls between the two.
    let mut stream = session.events();
    let start = session.snapshot();
    eprintln!(
        "ctilink events: connected to {place} ({} devices, {} calls open); Ctrl-C to stop",
        start.devices.len(),
        start.calls.len()
    );
    let mut calls: HashSet<CallId> = start.calls.iter().map(|c| c.id.clone()).collect();
    let deadline = limit.map(|d| Instant::now() + d);
    let started = Instant::now();
    let stop = stop::requested();
    tokio::pin!(stop);
    let mut printed = 0u64;
    let end = loop {
        let ev = tokio::select! {
            ev = stream.next() => ev,
            () = until(deadline) => break End::Done,
            () = &mut stop => break End::Done,
        };
        let Some(ev) = ev else { break End::Closed };
        if let Some(c) = ev.call() {
            calls.insert(c.clone());
        }
        if print(&ev, args.json).is_err() {
            break End::StdoutClosed;
        }
        printed += 1;
        if args.limits.count.is_some_and(|c| printed >= c) {
            break End::Done;
        }
    };
    let now = session.snapshot();
    session.close().await;
    if end != End::StdoutClosed {
        let counts = Summary {
            calls_total: calls.len() as u64,
            calls_open: now.calls.len(),
            devices: now.devices.len(),
        };
        let mut out = std::io::stdout().lock();
        let header = format!("{printed} events in {:.1} s", started.elapsed().as_secs_f64());
        let written = if args.json {
            summary::write_json(&mut out, &counts)
        } else {
            summary::write_text(&mut out, &header, &counts, now.calls, &now.devices)
        };
        // A closed stdout at the very end loses only the summary.
        let _ = written.and_then(|()| out.flush());
    }
    if end == End::Closed {
        eprintln!("ctilink events: the session ended");
    }
    if let Some(r) = &recorder {
        record_args::report("events", r);
    }
    ExitCode::SUCCESS
}

/// One event on stdout: its text line, or its JSON form.
fn print(ev: &Event, json: bool) -> std::io::Result<()> {
    let line = if json { serde_json::to_string(ev).map_err(std::io::Error::other)? } else { event_line(ev) };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

/// Resolves at `deadline`, never without one.
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// The URL without its secret, for messages.
fn redacted(o: &SessionOptions) -> String {
    match &o.transport {
        Transport::Ami(c) => c.redacted_url(),
        Transport::Gateway(c) => c.redacted_url(),
        _ => "the PBX".to_owned(),
    }
}
