//! The table of active calls: who calls whom, the call's state, and for how long.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ctilink::model::{Call, ConnectionState, Party};
use ctilink::CallId;

/// The call's state in a word, from its connections.
pub(super) fn state(c: &Call) -> &'static str {
    let has = |s: ConnectionState| c.connections.iter().any(|k| k.state == s);
    if has(ConnectionState::Held) {
        "on hold"
    } else if has(ConnectionState::Alerting) {
        "ringing"
    } else if c.answered
        && c.connections.iter().filter(|k| k.state == ConnectionState::Connected).count() >= 2
    {
        "talking"
    } else if has(ConnectionState::Failed) {
        "failed"
    } else {
        "dialing"
    }
}

/// `101 Phone 101`, or `-` when nothing is known.
fn who(p: &Party) -> String {
    match (p.number.is_empty(), p.name.is_empty()) {
        (true, true) => "-".to_owned(),
        (false, true) => p.number.clone(),
        (true, false) => p.name.clone(),
        (false, false) => format!("{} {}", p.number, p.name),
    }
}

/// `m:ss`.
pub(super) fn duration(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}", s / 60, s % 60)
}

/// The table's lines: a header, then one line per call, oldest first. A call's duration
/// counts from when it was first seen (`since`).
pub(super) fn render(calls: &[Call], since: &HashMap<CallId, Instant>, now: Instant) -> Vec<String> {
    let mut rows: Vec<(Instant, &Call)> =
        calls.iter().map(|c| (since.get(&c.id).copied().unwrap_or(now), c)).collect();
    rows.sort_by_key(|(t, c)| (*t, c.id.clone()));
    let mut out = vec![format!("  {:<18} {:<18} {:<8} {:>6}", "caller", "called", "state", "time")];
    for (t, c) in rows {
        out.push(format!(
            "  {:<18} {:<18} {:<8} {:>6}",
            clip(&who(&c.caller), 18),
            clip(&format!("-> {}", who(&c.called)), 18),
            state(c),
            duration(now.saturating_duration_since(t))
        ));
    }
    out
}

fn clip(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctilink::model::Connection;
    use ctilink::DeviceId;

    fn call(states: &[ConnectionState], answered: bool) -> Call {
        Call {
            id: CallId::new("1.1"),
            calling_device: Some(DeviceId::new("101")),
            caller: Party::new("101", "Phone 101"),
            called: Party::new("105", ""),
            connections: states
                .iter()
                .enumerate()
                .map(|(i, s)| Connection {
                    device: DeviceId::new(&format!("10{i}")),
                    channel: format!("PJSIP/10{i}-1"),
                    state: *s,
                })
                .collect(),
            answered,
            diverted: None,
            click_to_dial: false,
        }
    }

    #[test]
    fn states_from_connections() {
        use ConnectionState::*;
        assert_eq!(state(&call(&[Connected, Alerting], false)), "ringing");
        assert_eq!(state(&call(&[Connected, Connected], true)), "talking");
        assert_eq!(state(&call(&[Held, Connected], true)), "on hold");
        assert_eq!(state(&call(&[Connected], false)), "dialing");
    }

    #[test]
    fn rows_show_parties_state_and_duration() {
        let now = Instant::now();
        let c = call(&[ConnectionState::Connected, ConnectionState::Alerting], false);
        let since = HashMap::from([(c.id.clone(), now - Duration::from_secs(75))]);
        let lines = render(&[c], &since, now);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1], "  101 Phone 101      -> 105             ringing    1:15");
    }
}
