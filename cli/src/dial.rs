//! `ctilink dial URL --from 100 --to 0301234567`: click-to-dial from the command line.
//!
//! Rings the user's phone (`--from`); when it answers, the PBX calls `--to`. One progress
//! line per event of the call, then the outcome as one word on the last line of stdout, so
//! that scripts can read it with `tail -n1`: `answered`, `busy`, `no-answer` or `failed`.

use std::process::ExitCode;
use std::time::Duration;

use ctilink::model::Party;
use ctilink::{DialOutcome, DialProgress, Error, Event, EventStream, Session};
use tokio::time::Instant;

use crate::event_line::{event_line, party, snake};
use crate::monitor::now;

const AFTER_HELP: &str = "\
The last line of stdout is the outcome, one word, and the exit status tells the same:
  answered   0  the destination answered
  failed     1  unknown number, refused, link down, timeout, Ctrl-C, ...
  busy       3  the destination (or your own phone) was busy
  no-answer  4  the destination, or your own phone, did not answer
Exit status 2: bad arguments.";

/// Arguments of `ctilink dial`.
#[derive(clap::Args, Debug)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct DialArgs {
    /// The PBX, e.g. ami://admin:secret@127.0.0.1:5038 (amis:// for TLS).
    url: String,
    /// Your own phone: it rings first; when you answer, the PBX calls --to.
    #[arg(long)]
    from: String,
    /// The number to call.
    #[arg(long)]
    to: String,
    /// Give up after this many seconds (the call is then hung up; outcome `failed`).
    #[arg(long, default_value_t = 90.0)]
    timeout: f64,
}

/// The process exit status of an outcome (see `AFTER_HELP`).
fn exit_code(o: DialOutcome) -> u8 {
    match o {
        DialOutcome::Answered => 0,
        DialOutcome::Failed => 1,
        DialOutcome::Busy => 3,
        DialOutcome::NoAnswer => 4,
    }
}

/// After a failure, how long to wait for the call to go on (forwarding on busy or on no
/// answer dials another number) before the failure is the outcome.
const FAILURE_GRACE: Duration = Duration::from_millis(1500);

/// A line telling what the event means for this call, or `None` for another call's.
fn describe(p: &DialProgress, ev: &Event) -> Option<String> {
    if ev.call() != Some(p.call()) {
        return match ev {
            Event::LinkDown { reason } => Some(format!("the link to the PBX is down: {reason}")),
            _ => None,
        };
    }
    let from = p.from();
    Some(match ev {
        Event::Delivered { device, .. } if device == from => format!("your phone {from} rings"),
        Event::Originated { device, called, .. } if device == from => {
            format!("{from} answered, calling {}", number(called, p.to()))
        }
        Event::Delivered { device, caller, .. } => format!("{device} rings (caller {})", party(caller)),
        Event::Established { device, .. } => format!("{device} answered"),
        Event::Diverted { device, from: was, reason, .. } => {
            format!("diverted from {} to {device} ({})", was.device, snake(reason))
        }
        Event::Failed { device, reason, cause, .. } => match cause {
            Some(c) => format!("{device} failed: {} (cause {} {})", snake(reason), c.0, c.name()),
            None => format!("{device} failed: {}", snake(reason)),
        },
        Event::ConnectionCleared { device, .. } => format!("{device} hung up"),
        Event::CallCleared { cause: Some(c), .. } => format!("call ended (cause {} {})", c.0, c.name()),
        Event::CallCleared { .. } => "call ended".to_owned(),
        other => event_line(other),
    })
}

fn number(p: &Party, fallback: &str) -> String {
    if p.number.is_empty() {
        fallback.to_owned()
    } else {
        p.number.clone()
    }
}

pub(crate) async fn run(args: DialArgs) -> ExitCode {
    let outcome = match dial(&args).await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("ctilink dial: {e}");
            DialOutcome::Failed
        }
    };
    println!("{outcome}");
    ExitCode::from(exit_code(outcome))
}

async fn dial(args: &DialArgs) -> Result<DialOutcome, Error> {
    let limit = Duration::try_from_secs_f64(args.timeout).ok().filter(|d| !d.is_zero()).ok_or_else(|| {
        Error::InvalidArgument(format!("--timeout {} is not a positive duration", args.timeout))
    })?;
    let deadline = Instant::now() + limit;
    let session = tokio::time::timeout_at(deadline, Session::connect(&args.url))
        .await
        .map_err(|_| Error::Timeout(limit))??;
    // Subscribe first: the call's first event may come before make_call returns.
    let mut events = session.events();
    let call = match session.make_call(&args.from, &args.to).await {
        Ok(c) => c,
        Err(e) => {
            session.close().await;
            return Err(e);
        }
    };
    println!("{} call {call}: {} rings first, then {} is called", now(), args.from, args.to);
    let mut progress = DialProgress::new(call.clone(), &args.from, &args.to);
    let end = follow(&session, &mut events, &mut progress, deadline).await;
    let outcome = match end {
        End::Outcome(o) => o,
        End::GaveUp(why) => {
            println!("{} {why}: hanging up", now());
            // The call may be gone already, or never have appeared (the PBX could not
            // ring the user's phone); either way nothing is left to hang up.
            if let Err(e) = session.clear_call(&call).await {
                if !matches!(e, Error::UnknownCall(_)) {
                    eprintln!("ctilink dial: cannot hang up: {e}");
                }
            }
            DialOutcome::Failed
        }
    };
    session.close().await;
    Ok(outcome)
}

enum End {
    Outcome(DialOutcome),
    /// Timeout or Ctrl-C, with what to tell the user.
    GaveUp(&'static str),
}

async fn follow(
    session: &Session,
    events: &mut EventStream,
    progress: &mut DialProgress,
    deadline: Instant,
) -> End {
    let mut failed_at: Option<Instant> = None;
    loop {
        let wake = match failed_at {
            Some(t) => (t + FAILURE_GRACE).min(deadline),
            None => deadline,
        };
        let ev = tokio::select! {
            ev = tokio::time::timeout_at(wake, events.next()) => ev,
            _ = tokio::signal::ctrl_c() => return End::GaveUp("interrupted"),
        };
        let ev = match ev {
            Ok(Some(ev)) => ev,
            Ok(None) => return End::Outcome(progress.pending_failure().unwrap_or(DialOutcome::Failed)),
            Err(_) => match progress.pending_failure() {
                Some(f) if Instant::now() < deadline => return End::Outcome(f),
                _ => return End::GaveUp("timed out"),
            },
        };
        if let Some(line) = describe(progress, &ev) {
            println!("{} {line}", now());
        }
        if let Event::Lagged { .. } = ev {
            // Events were lost; the model still tells whether the call exists.
            if session.call(progress.call()).is_none() {
                return End::Outcome(progress.pending_failure().unwrap_or(DialOutcome::Failed));
            }
            continue;
        }
        if let Event::LinkDown { .. } = ev {
            // The link reconnects, but a command-line dial does not wait for it.
            return End::Outcome(DialOutcome::Failed);
        }
        if let Some(o) = progress.apply(&ev) {
            return End::Outcome(o);
        }
        failed_at = match (progress.pending_failure(), failed_at) {
            (Some(_), Some(t)) => Some(t),
            (Some(_), None) => Some(Instant::now()),
            (None, _) => None,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_distinct_and_0_is_answered() {
        let all = [DialOutcome::Answered, DialOutcome::Busy, DialOutcome::NoAnswer, DialOutcome::Failed];
        let codes: std::collections::HashSet<u8> = all.iter().map(|o| exit_code(*o)).collect();
        assert_eq!(codes.len(), 4);
        assert_eq!(exit_code(DialOutcome::Answered), 0);
        assert!(!codes.contains(&2), "2 is clap's usage error");
    }
}
