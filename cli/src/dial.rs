//! `ctilink dial URL --from 100 --to 0301234567`: click-to-dial from the command line.
//!
//! Rings the user's phone (`--from`); when it answers, the PBX calls `--to`. One progress
//! line per event of the call, then the outcome as one word on the last line of stdout, so
//! that scripts can read it with `tail -n1`: `answered`, `busy`, `no-answer` or `failed`.

use std::process::ExitCode;
use std::time::Duration;

use ctilink::model::{FailureReason, Party};
use ctilink::{CallId, DeviceId, Error, Event, EventStream, Session};
use tokio::time::Instant;

use crate::monitor::now;
use crate::replay::{event_line, party, snake};

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

/// How a click-to-dial ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Answered,
    Busy,
    NoAnswer,
    Failed,
}

impl Outcome {
    /// The word printed on the last line.
    pub(crate) fn word(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Busy => "busy",
            Outcome::NoAnswer => "no-answer",
            Outcome::Failed => "failed",
        }
    }

    /// The process exit status (see `AFTER_HELP`).
    pub(crate) fn exit_code(self) -> u8 {
        match self {
            Outcome::Answered => 0,
            Outcome::Failed => 1,
            Outcome::Busy => 3,
            Outcome::NoAnswer => 4,
        }
    }
}

/// After a failure, how long to wait for the call to go on (forwarding on busy or on no
/// answer dials another number) before the failure is the outcome.
const FAILURE_GRACE: Duration = Duration::from_millis(1500);

/// Follows the events of one click-to-dial call to its outcome.
#[derive(Debug)]
pub(crate) struct Progress {
    call: CallId,
    from: DeviceId,
    to: String,
    /// The user's phone answered (`Originated`): the destination is being dialed.
    user_answered: bool,
    /// A destination rang.
    dest_rang: bool,
    /// The last failure, the outcome unless the call goes on.
    failure: Option<Outcome>,
}

impl Progress {
    pub(crate) fn new(call: CallId, from: &str, to: &str) -> Self {
        Progress {
            call,
            from: DeviceId::new(from),
            to: to.to_owned(),
            user_answered: false,
            dest_rang: false,
            failure: None,
        }
    }

    /// A failure seen and not yet overtaken by the call going on.
    pub(crate) fn pending_failure(&self) -> Option<Outcome> {
        self.failure
    }

    /// Takes one event of the session; `Some` once the outcome is known.
    pub(crate) fn apply(&mut self, ev: &Event) -> Option<Outcome> {
        if let Event::LinkDown { .. } = ev {
            return Some(Outcome::Failed);
        }
        if ev.call() != Some(&self.call) {
            return None;
        }
        match ev {
            Event::Originated { device, .. } if *device == self.from => self.user_answered = true,
            Event::Established { device, .. } => {
                if *device != self.from || device.as_str() == self.to {
                    return Some(Outcome::Answered);
                }
                self.user_answered = true;
            }
            Event::Delivered { device, click_to_dial: false, .. } if *device != self.from => {
                self.dest_rang = true;
                self.failure = None;
            }
            Event::Diverted { .. } => {
                self.dest_rang = true;
                self.failure = None;
            }
            Event::Failed { reason, .. } => {
                self.failure = Some(match reason {
                    FailureReason::Busy => Outcome::Busy,
                    FailureReason::NoAnswer => Outcome::NoAnswer,
                    _ => Outcome::Failed,
                });
            }
            Event::CallCleared { answered, .. } => {
                return Some(if *answered {
                    Outcome::Answered
                } else if let Some(f) = self.failure {
                    f
                } else if self.dest_rang || !self.user_answered {
                    // Cleared while the destination rang, or before the user answered.
                    Outcome::NoAnswer
                } else {
                    Outcome::Failed
                });
            }
            _ => {}
        }
        None
    }

    /// A line telling what the event means for this call, or `None` for another call's.
    pub(crate) fn describe(&self, ev: &Event) -> Option<String> {
        if ev.call() != Some(&self.call) {
            return match ev {
                Event::LinkDown { reason } => Some(format!("the link to the PBX is down: {reason}")),
                _ => None,
            };
        }
        let from = &self.from;
        Some(match ev {
            Event::Delivered { device, .. } if device == from => format!("your phone {from} rings"),
            Event::Originated { device, called, .. } if device == from => {
                format!("{from} answered, calling {}", number(called, &self.to))
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
            Outcome::Failed
        }
    };
    println!("{}", outcome.word());
    ExitCode::from(outcome.exit_code())
}

async fn dial(args: &DialArgs) -> Result<Outcome, Error> {
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
    let mut progress = Progress::new(call.clone(), &args.from, &args.to);
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
            Outcome::Failed
        }
    };
    session.close().await;
    Ok(outcome)
}

enum End {
    Outcome(Outcome),
    /// Timeout or Ctrl-C, with what to tell the user.
    GaveUp(&'static str),
}

async fn follow(
    session: &Session,
    events: &mut EventStream,
    progress: &mut Progress,
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
            Ok(None) => return End::Outcome(progress.pending_failure().unwrap_or(Outcome::Failed)),
            Err(_) => match progress.pending_failure() {
                Some(f) if Instant::now() < deadline => return End::Outcome(f),
                _ => return End::GaveUp("timed out"),
            },
        };
        if let Some(line) = progress.describe(&ev) {
            println!("{} {line}", now());
        }
        if let Event::Lagged { .. } = ev {
            // Events were lost; the model still tells whether the call exists.
            if session.call(&progress.call).is_none() {
                return End::Outcome(progress.pending_failure().unwrap_or(Outcome::Failed));
            }
            continue;
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
    use ctilink::model::{Cause, ConnectionState, Endpoint};
    use ctilink::model::{DivertReason, Party};

    fn delivered(call: &str, device: &str, ctd: bool) -> Event {
        Event::Delivered {
            call: CallId::new(call),
            device: DeviceId::new(device),
            channel: format!("PJSIP/{device}-1"),
            state: ConnectionState::Alerting,
            caller: Party::new("200", ""),
            called: Party::new("200", ""),
            calling_device: None,
            click_to_dial: ctd,
        }
    }

    fn originated(call: &str, device: &str) -> Event {
        Event::Originated {
            call: CallId::new(call),
            device: DeviceId::new(device),
            channel: format!("PJSIP/{device}-1"),
            state: ConnectionState::Connected,
            caller: Party::new("200", ""),
            called: Party::new("200", ""),
        }
    }

    fn established(call: &str, device: &str) -> Event {
        Event::Established {
            call: CallId::new(call),
            device: DeviceId::new(device),
            channel: format!("PJSIP/{device}-2"),
            state: ConnectionState::Connected,
            caller: Party::new("200", ""),
            called: Party::new("200", ""),
            calling_device: Some(DeviceId::new("100")),
            click_to_dial: false,
        }
    }

    fn failed(call: &str, device: &str, reason: FailureReason) -> Event {
        Event::Failed {
            call: CallId::new(call),
            device: DeviceId::new(device),
            channel: format!("PJSIP/{device}-2"),
            state: ConnectionState::Failed,
            reason,
            cause: Some(Cause::USER_BUSY),
        }
    }

    fn cleared(call: &str, answered: bool) -> Event {
        Event::CallCleared { call: CallId::new(call), cause: None, answered, merged_into: None }
    }

    fn run(events: &[Event]) -> Option<Outcome> {
        let mut p = Progress::new(CallId::new("c1"), "100", "200");
        events.iter().find_map(|e| p.apply(e)).or(p.pending_failure())
    }

    #[test]
    fn the_destination_answering_is_answered() {
        let evs = [delivered("c1", "100", true), originated("c1", "100"), delivered("c1", "200", false)];
        assert_eq!(run(&evs), None);
        let mut all = evs.to_vec();
        all.push(established("c1", "200"));
        assert_eq!(run(&all), Some(Outcome::Answered));
    }

    #[test]
    fn the_users_own_phone_answering_is_not_the_outcome() {
        let mut own = established("c1", "100");
        if let Event::Established { click_to_dial, .. } = &mut own {
            *click_to_dial = true;
        }
        assert_eq!(run(&[delivered("c1", "100", true), own]), None);
    }

    #[test]
    fn failures_give_their_word_at_the_end() {
        let busy = [originated("c1", "100"), failed("c1", "200", FailureReason::Busy), cleared("c1", false)];
        assert_eq!(run(&busy), Some(Outcome::Busy));
        let na =
            [originated("c1", "100"), failed("c1", "200", FailureReason::NoAnswer), cleared("c1", false)];
        assert_eq!(run(&na), Some(Outcome::NoAnswer));
        let unreachable = [originated("c1", "100"), failed("c1", "200", FailureReason::Unreachable)];
        assert_eq!(run(&unreachable), Some(Outcome::Failed));
    }

    #[test]
    fn a_call_that_goes_on_after_a_failure_is_not_failed() {
        let diverted = Event::Diverted {
            call: CallId::new("c1"),
            device: DeviceId::new("300"),
            channel: "PJSIP/300-3".into(),
            from: Endpoint { device: DeviceId::new("200"), channel: "PJSIP/200-2".into() },
            reason: DivertReason::Forward,
            caller: Party::new("100", ""),
            called: Party::new("200", ""),
        };
        let evs = [originated("c1", "100"), failed("c1", "200", FailureReason::Busy), diverted];
        assert_eq!(run(&evs), None);
    }

    #[test]
    fn cleared_without_failure_depends_on_how_far_the_call_got() {
        // The user's phone never answered.
        assert_eq!(run(&[delivered("c1", "100", true), cleared("c1", false)]), Some(Outcome::NoAnswer));
        // The destination rang and the user gave up.
        let rang = [originated("c1", "100"), delivered("c1", "200", false), cleared("c1", false)];
        assert_eq!(run(&rang), Some(Outcome::NoAnswer));
        // The user answered and nothing rang: an unknown number.
        assert_eq!(run(&[originated("c1", "100"), cleared("c1", false)]), Some(Outcome::Failed));
    }

    #[test]
    fn other_calls_are_ignored_and_link_down_fails() {
        assert_eq!(run(&[established("c2", "200"), cleared("c2", true)]), None);
        assert_eq!(run(&[Event::LinkDown { reason: "reset".into() }]), Some(Outcome::Failed));
    }

    #[test]
    fn exit_codes_are_distinct() {
        let all = [Outcome::Answered, Outcome::Busy, Outcome::NoAnswer, Outcome::Failed];
        let codes: std::collections::HashSet<u8> = all.iter().map(|o| o.exit_code()).collect();
        assert_eq!(codes.len(), 4);
        assert_eq!(Outcome::Answered.exit_code(), 0);
        assert!(!codes.contains(&2), "2 is clap's usage error");
        assert_eq!(Outcome::NoAnswer.word(), "no-answer");
    }
}
