//! Helpers of the PBX's unit tests: a small PBX, and its effects as readable labels.

use super::{Effect, Pbx, Timer};
use crate::config::SimConfig;

pub(super) fn pbx() -> Pbx {
    Pbx::new(&SimConfig { extensions: SimConfig::extension_range(100, 104), ..SimConfig::default() })
}

/// Drains effects: `Event[=detail]` labels (detail: DialStatus, Cause, State,
/// Reason, DestType) and the timers armed.
pub(super) fn drain(p: &mut Pbx) -> (Vec<String>, Vec<Timer>) {
    let (mut evs, mut timers) = (Vec::new(), Vec::new());
    for e in p.take_effects() {
        match e {
            Effect::Event(ev) => {
                let m = &ev.msg;
                let name = m.get("Event").unwrap_or_default().to_owned();
                let detail = m
                    .get("DialStatus")
                    .or(m.get("Cause"))
                    .or(m.get("Reason"))
                    .or(m.get("DestType"))
                    .or(m.get("State"))
                    .or(m.get("Status"));
                evs.push(match detail {
                    Some(d) => format!("{name}={d}"),
                    None => name,
                });
            }
            Effect::Reply { msg, .. } => {
                evs.push(format!("Reply={}", msg.get("Response").unwrap_or_default()))
            }
            Effect::Schedule { timer, .. } => timers.push(timer),
        }
    }
    (evs, timers)
}

pub(super) fn has(evs: &[String], want: &str) -> bool {
    evs.iter().any(|e| e == want)
}

pub(super) fn count(evs: &[String], want: &str) -> usize {
    evs.iter().filter(|e| *e == want).count()
}
