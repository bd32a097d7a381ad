//! `ctilink monitor URL`: connect and print the PBX's raw AMI events as they arrive
//! (`--record FILE` also writes every byte received to a capture).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use ctilink::ami::{AmiClient, AmiConfig, LinkEvent, Message, Subscription};

use crate::record_args::{self, RecordArgs};
use crate::stop;

#[derive(clap::Args, Debug)]
pub(crate) struct MonitorArgs {
    /// The PBX, e.g. ami://admin:secret@127.0.0.1:5038 (amis:// for TLS; add
    /// ?auth=md5 for challenge login).
    url: String,
    /// One JSON object per line instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    limits: crate::stop::Limits,
    #[command(flatten)]
    record: RecordArgs,
}

pub(crate) async fn run(args: MonitorArgs) -> ExitCode {
    let limit = match args.limits.time_limit() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("ctilink monitor: {e}");
            return ExitCode::from(2);
        }
    };
    let mut cfg = match AmiConfig::from_url(&args.url) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ctilink monitor: {e}");
            return ExitCode::from(2);
        }
    };
    let recorder = match args.record.options().map(|r| cfg.record(&r)).transpose() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ctilink monitor: {e}");
            return ExitCode::from(2);
        }
    };
    let (client, sub) = match AmiClient::connect_subscribed(cfg).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ctilink monitor: {e}");
            return ExitCode::from(1);
        }
    };
    let printer = Printer { json: args.json };
    print_events(sub, printer, args.limits.count, limit).await;
    client.close().await;
    if let Some(r) = &recorder {
        record_args::report("monitor", r);
    }
    ExitCode::SUCCESS
}

/// Prints until `count` events, `limit` elapsed, Ctrl-C or SIGTERM, or the link closes.
pub(crate) async fn print_events(
    mut sub: Subscription,
    printer: Printer,
    count: Option<u64>,
    limit: Option<Duration>,
) {
    let deadline = limit.map(|d| tokio::time::Instant::now() + d);
    let mut seen = 0u64;
    let stop = stop::requested();
    tokio::pin!(stop);
    loop {
        let next = async {
            match deadline {
                Some(d) => tokio::time::timeout_at(d, sub.recv()).await.ok().flatten(),
                None => sub.recv().await,
            }
        };
        let ev = tokio::select! {
            ev = next => ev,
            () = &mut stop => None,
        };
        let Some(ev) = ev else { break };
        let is_event = matches!(ev, LinkEvent::Event(_));
        if printer.print(&ev).is_err() {
            break; // stdout closed (e.g. piped into head)
        }
        if is_event {
            seen += 1;
            if count.is_some_and(|c| seen >= c) {
                break;
            }
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Printer {
    pub(crate) json: bool,
}

/// Fields worth a column in text mode, in this order.
const SHOWN: &[&str] = &[
    "Channel",
    "ChannelStateDesc",
    "CallerIDNum",
    "ConnectedLineNum",
    "Exten",
    "DestChannel",
    "DialStatus",
    "Cause",
    "Cause-txt",
    "BridgeUniqueid",
    "Device",
    "State",
    "Status",
    "StatusText",
    "Response",
    "Reason",
    "UserEvent",
];

impl Printer {
    pub(crate) fn print(&self, ev: &LinkEvent) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        if self.json {
            writeln!(out, "{}", to_json(ev))
        } else {
            writeln!(out, "{}", to_text(ev))
        }
    }
}

/// The wall-clock time of day (UTC), `HH:MM:SS.mmm`, for log lines.
pub(crate) fn now() -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let s = t.as_secs() % 86_400;
    format!("{:02}:{:02}:{:02}.{:03}", s / 3600, s / 60 % 60, s % 60, t.subsec_millis())
}

pub(crate) fn to_text(ev: &LinkEvent) -> String {
    match ev {
        LinkEvent::Up { reconnected, banner } => format!(
            "{} -- link up{} ({})",
            now(),
            if *reconnected { " again" } else { "" },
            banner.as_deref().unwrap_or("no banner")
        ),
        LinkEvent::Down { reason } => format!("{} -- link down: {reason}", now()),
        LinkEvent::Lagged(n) => format!("{} -- {n} events dropped (this monitor fell behind)", now()),
        LinkEvent::Event(m) => {
            let mut line = format!("{} {:<20}", now(), m.event().unwrap_or("?"));
            for key in SHOWN {
                if let Some(v) = m.get(key).filter(|v| !v.is_empty()) {
                    line.push_str(&format!(" {key}={v}"));
                }
            }
            line
        }
    }
}

pub(crate) fn to_json(ev: &LinkEvent) -> serde_json::Value {
    use serde_json::json;
    match ev {
        LinkEvent::Up { reconnected, banner } => {
            json!({"type": "link", "state": "up", "reconnected": reconnected, "banner": banner})
        }
        LinkEvent::Down { reason } => json!({"type": "link", "state": "down", "reason": reason}),
        LinkEvent::Lagged(n) => json!({"type": "lagged", "dropped": n}),
        LinkEvent::Event(m) => json!({"type": "event", "event": m.event(), "fields": fields_json(m)}),
    }
}

/// Fields as an object; a repeated key becomes an array of its values in order.
fn fields_json(m: &Message) -> serde_json::Value {
    let mut obj = serde_json::Map::new();
    for (k, v) in m.fields() {
        let v = serde_json::Value::String(v.into_owned());
        match obj.get_mut(k.as_ref()) {
            Some(serde_json::Value::Array(a)) => a.push(v),
            Some(prev) => {
                let first = prev.take();
                *prev = serde_json::Value::Array(vec![first, v]);
            }
            None => {
                obj.insert(k.into_owned(), v);
            }
        }
    }
    serde_json::Value::Object(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_become_arrays() {
        let m =
            Message::from_pairs([("Event", "Newchannel"), ("ChanVariable", "a=1"), ("ChanVariable", "b=2")]);
        let j = to_json(&LinkEvent::Event(m));
        assert_eq!(j["event"], "Newchannel");
        assert_eq!(j["fields"]["ChanVariable"], serde_json::json!(["a=1", "b=2"]));
    }

    #[test]
    fn text_shows_the_interesting_fields() {
        let m = Message::from_pairs([
            ("Event", "Hangup"),
            ("Privilege", "call,all"),
            ("Channel", "PJSIP/100-01"),
            ("Cause", "16"),
        ]);
        let t = to_text(&LinkEvent::Event(m));
        assert!(t.contains("Hangup") && t.contains("Channel=PJSIP/100-01") && t.contains("Cause=16"), "{t}");
        assert!(!t.contains("Privilege"));
    }
}
