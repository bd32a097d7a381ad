//! `ctilink replay FILE`: feed an AMI capture through the call model and print what it
//! makes of it.
//!
//! Every message of the capture goes through a fresh [`Tracker`], in order; each
//! normalized [`Event`] is printed as it comes out, then a summary of the calls and
//! devices the model holds at the end of the capture. Text mode prints one aligned line
//! per event (`delivered          call=... device=... state=alerting caller="Ann" <201>`)
//! and a summary section; `--json` prints each event as its JSON form (the one the SDK
//! defines: the kind in `event`, the fields by name), one per line, and last
//! `{"summary": {"calls_total": N, "calls_open": M, "devices": D}}`.
//!
//! Decoder errors are counted and the first few are shown on stderr; the replay goes on
//! with every message that could be read. Exit status: 0 when the capture was replayed,
//! 2 when the file could not be read.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use bytes::BytesMut;
use ctilink::ami::{Decoder, Frame};
use ctilink::model::{Call, Cause, Device, Endpoint, Event, Party, Presentation, Tracker};
use serde::Serialize;

/// How many decoder errors are shown with their text.
const ERROR_SAMPLES: usize = 5;

/// Width of the event-kind column in text mode (`connection_cleared` fits).
const KIND_WIDTH: usize = 18;

/// Arguments of `ctilink replay`.
#[derive(clap::Args, Debug)]
pub(crate) struct ReplayArgs {
    /// An AMI capture file (raw bytes as received from port 5038).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// One JSON object per line: each event, then a summary object.
    #[arg(long)]
    json: bool,
}

/// The last line of `--json`: `{"summary": {"calls_total": N, "calls_open": M, "devices": D}}`.
#[derive(Serialize)]
struct SummaryLine {
    summary: Summary,
}

#[derive(Serialize)]
struct Summary {
    /// Calls reported since the start of the capture.
    calls_total: u64,
    /// Calls still open at its end.
    calls_open: usize,
    /// Devices seen.
    devices: usize,
}

/// Runs `ctilink replay` on stdout.
pub(crate) fn run(args: &ReplayArgs) -> ExitCode {
    let name = args.file.display().to_string();
    let data = match std::fs::read(&args.file) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("ctilink replay: cannot read {name}: {e}");
            return ExitCode::from(2);
        }
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let result = replay(&data, args.json, &mut out, &mut |errors, samples| {
        eprintln!(
            "ctilink replay: {name}: {errors} decoder errors (replaying the messages that could be read)"
        );
        for e in samples {
            eprintln!("  error: {e}");
        }
        if errors > samples.len() {
            eprintln!("  ... and {} more errors", errors - samples.len());
        }
    })
    .and_then(|()| out.flush());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // stdout closed early (e.g. piped into `head`): not an error of the replay.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ctilink replay: cannot write the output: {e}");
            ExitCode::from(1)
        }
    }
}

/// Decodes `data`, replays it through a fresh tracker and writes the events and the
/// summary to `out`. `on_errors` gets the number of decoder errors and the text of the
/// first few, when there are any.
///
/// The decoding is the one of [`read_capture`](ctilink::ami::read_capture) (default
/// limits, resynchronising after an error), one message at a time so that a large
/// capture is not held twice in memory.
fn replay(
    data: &[u8],
    json: bool,
    out: &mut dyn Write,
    on_errors: &mut dyn FnMut(usize, &[String]),
) -> std::io::Result<()> {
    let mut buf = BytesMut::from(data);
    let mut decoder = Decoder::default();
    let mut tracker = Tracker::new();
    let (mut messages, mut events, mut errors) = (0usize, 0u64, 0usize);
    let mut samples: Vec<String> = Vec::new();
    let mut evs = Vec::new();
    loop {
        let msg = match decoder.decode_eof(&mut buf) {
            Ok(Some(Frame::Message(m))) => m,
            Ok(Some(Frame::Banner(_))) => continue,
            Ok(None) => break,
            Err(e) => {
                errors += 1;
                if samples.len() < ERROR_SAMPLES {
                    samples.push(e.to_string());
                }
                continue;
            }
        };
        messages += 1;
        evs.clear();
        tracker.apply_into(&msg, &mut evs);
        for ev in &evs {
            events += 1;
            if json {
                writeln!(out, "{}", serde_json::to_string(ev).map_err(std::io::Error::other)?)?;
            } else {
                writeln!(out, "{}", event_line(ev))?;
            }
        }
    }
    if errors > 0 {
        on_errors(errors, &samples);
    }
    let devices = tracker.devices();
    if json {
        let summary = SummaryLine {
            summary: Summary {
                calls_total: tracker.calls_total(),
                calls_open: tracker.open_calls(),
                devices: devices.len(),
            },
        };
        writeln!(out, "{}", serde_json::to_string(&summary).map_err(std::io::Error::other)?)?;
    } else {
        write_summary(out, &tracker, &devices, messages, events, errors)?;
    }
    Ok(())
}

/// The text summary: counts, the calls still open with their connections, the devices.
fn write_summary(
    out: &mut dyn Write,
    tracker: &Tracker,
    devices: &[Device],
    messages: usize,
    events: u64,
    errors: usize,
) -> std::io::Result<()> {
    let mut calls = tracker.calls();
    calls.sort_by(|a, b| a.id.cmp(&b.id));
    writeln!(out)?;
    writeln!(out, "summary: {messages} AMI messages ({errors} decoder errors), {events} events")?;
    writeln!(out, "  calls total:  {}", tracker.calls_total())?;
    writeln!(out, "  calls open:   {}", tracker.open_calls())?;
    for call in &calls {
        write_open_call(out, call)?;
    }
    if devices.is_empty() {
        writeln!(out, "  devices seen: 0 (only device-state and presence events report devices)")?;
    } else {
        writeln!(out, "  devices seen: {}", devices.len())?;
    }
    let id_width = devices.iter().map(|d| d.id.as_str().len()).max().unwrap_or(0);
    for d in devices {
        let mut line = format!("    {:<id_width$}  {:<12}", d.id.as_str(), snake(&d.state));
        if let Some(iface) = &d.interface {
            line.push_str(&format!(" interface={iface}"));
        }
        if let Some(p) = &d.presence {
            line.push_str(&format!(" presence={}", quoted(p)));
        }
        if d.do_not_disturb {
            line.push_str(" dnd");
        }
        if let Some(to) = &d.forward_to {
            line.push_str(&format!(" forward_to={to}"));
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

fn write_open_call(out: &mut dyn Write, call: &Call) -> std::io::Result<()> {
    let mut line =
        format!("    call={} caller={} called={}", call.id, party(&call.caller), party(&call.called));
    if call.answered {
        line.push_str(" answered");
    }
    if call.click_to_dial {
        line.push_str(" click_to_dial");
    }
    writeln!(out, "{line}")?;
    if call.connections.is_empty() {
        writeln!(out, "      (no connections)")?;
    }
    let dev_width = call.connections.iter().map(|c| c.device.as_str().len()).max().unwrap_or(0);
    for c in &call.connections {
        writeln!(out, "      {:<dev_width$}  {:<10} {}", c.device.as_str(), snake(&c.state), c.channel)?;
    }
    Ok(())
}

/// One event as an aligned text line: the kind, then `key=value` fields.
pub(crate) fn event_line(ev: &Event) -> String {
    let mut f = Fields::default();
    match ev {
        Event::Originated { call, device, channel, state, caller, called } => {
            f.call(call).kv("device", device).kv("channel", channel).kv("state", snake(state));
            f.kv("caller", party(caller)).kv("called", party(called));
        }
        Event::Delivered { call, device, channel, state, caller, called, calling_device, click_to_dial }
        | Event::Established {
            call,
            device,
            channel,
            state,
            caller,
            called,
            calling_device,
            click_to_dial,
        } => {
            f.call(call).kv("device", device).kv("channel", channel).kv("state", snake(state));
            f.kv("caller", party(caller)).kv("called", party(called));
            f.opt("calling_device", calling_device.as_ref()).flag("click_to_dial", *click_to_dial);
        }
        Event::Held { call, device, channel, state } | Event::Retrieved { call, device, channel, state } => {
            f.call(call).kv("device", device).kv("channel", channel).kv("state", snake(state));
        }
        Event::Diverted { call, device, channel, from, reason, caller, called } => {
            f.call(call).kv("device", device).kv("channel", channel);
            f.kv("from", endpoint(from)).kv("reason", snake(reason));
            f.kv("caller", party(caller)).kv("called", party(called));
        }
        Event::Transferred { call, kind, transferring, transferred, targets, secondary_call, caller } => {
            f.call(call).kv("kind", snake(kind));
            f.kv("transferring", endpoint(transferring)).kv("transferred", endpoint(transferred));
            f.kv("targets", list(targets.iter().map(endpoint)));
            f.opt("secondary_call", secondary_call.as_ref()).kv("caller", party(caller));
        }
        Event::Conferenced { call, device, channel, state, parties } => {
            f.call(call).kv("device", device).kv("channel", channel).kv("state", snake(state));
            f.kv("parties", list(parties.iter()));
        }
        Event::Queued { call, device, queue, state, caller, position } => {
            f.call(call).kv("device", device).kv("queue", queue).kv("state", snake(state));
            f.kv("caller", party(caller)).opt("position", position.as_ref());
        }
        Event::Failed { call, device, channel, state, reason, cause } => {
            f.call(call).kv("device", device).kv("channel", channel).kv("state", snake(state));
            f.kv("reason", snake(reason)).cause(*cause);
        }
        Event::ConnectionCleared { call, device, channel, state, previous, cause, released_by } => {
            f.call(call).kv("device", device).kv("channel", channel).kv("state", snake(state));
            f.kv("previous", snake(previous)).cause(*cause).opt("released_by", released_by.as_ref());
        }
        Event::CallCleared { call, cause, answered, merged_into } => {
            f.call(call).cause(*cause).kv("answered", answered).opt("merged_into", merged_into.as_ref());
        }
        Event::DeviceState { device, state, previous } => {
            f.kv("device", device).kv("state", snake(state)).kv("previous", snake(previous));
        }
        Event::Presence { device, presence, subtype, message } => {
            f.kv("device", device).kv("presence", quoted(presence));
            f.nonempty("subtype", subtype).nonempty("message", message);
        }
        Event::DoNotDisturb { device, enabled } => {
            f.kv("device", device).kv("enabled", enabled);
        }
        Event::Forwarding { device, kind, to } => {
            f.kv("device", device).kv("kind", kind).kv("to", to.as_deref().unwrap_or("-"));
        }
        Event::UserEvent { name, call, fields } => {
            f.kv("name", quoted(name)).opt("call", call.as_ref());
            for (k, v) in fields {
                f.kv(k, quoted(v));
            }
        }
        Event::Resynced { calls_ended, calls_found, devices_changed } => {
            f.kv("calls_ended", list(calls_ended.iter())).kv("calls_found", list(calls_found.iter()));
            f.kv("devices_changed", list(devices_changed.iter()));
        }
        Event::LinkUp { reconnected } => {
            f.kv("reconnected", reconnected);
        }
        Event::LinkDown { reason } => {
            f.kv("reason", quoted(reason));
        }
        Event::Lagged { missed } => {
            f.kv("missed", missed);
        }
        // A kind added to the model later: its JSON fields, so nothing is lost.
        other => {
            if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(other) {
                for (k, v) in map.iter().filter(|(k, _)| k.as_str() != "event") {
                    match v {
                        serde_json::Value::String(s) => f.kv(k, quoted(s)),
                        v => f.kv(k, v),
                    };
                }
            }
        }
    }
    format!("{:<KIND_WIDTH$} {}", ev.kind(), f.0).trim_end().to_owned()
}

/// The `key=value` fields of a text line.
#[derive(Default)]
struct Fields(String);

impl Fields {
    fn kv(&mut self, key: &str, value: impl std::fmt::Display) -> &mut Self {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        self.0.push_str(&format!("{key}={value}"));
        self
    }

    fn call(&mut self, call: impl std::fmt::Display) -> &mut Self {
        self.kv("call", call)
    }

    fn opt<T: std::fmt::Display>(&mut self, key: &str, value: Option<T>) -> &mut Self {
        match value {
            Some(v) => self.kv(key, v),
            None => self,
        }
    }

    /// A free-text field, left out when empty.
    fn nonempty(&mut self, key: &str, value: &str) -> &mut Self {
        if value.is_empty() {
            self
        } else {
            self.kv(key, quoted(value))
        }
    }

    fn flag(&mut self, key: &str, on: bool) -> &mut Self {
        if on {
            if !self.0.is_empty() {
                self.0.push(' ');
            }
            self.0.push_str(key);
        }
        self
    }

    /// `cause=16 (normal clearing)`, or nothing when the PBX gave none.
    fn cause(&mut self, cause: Option<Cause>) -> &mut Self {
        match cause {
            Some(c) => self.kv("cause", format!("{} ({})", c.0, c.name())),
            None => self,
        }
    }
}

/// A party as a phone shows it: `"Ann Smith" <201>`, `<202>` without a name, `-` when
/// nothing is known; a withheld or unknown number is marked.
pub(crate) fn party(p: &Party) -> String {
    let mut s = match (p.name.is_empty(), p.number.is_empty()) {
        (true, true) => "-".to_owned(),
        (true, false) => format!("<{}>", p.number),
        (false, true) => format!("\"{}\"", p.name),
        (false, false) => format!("\"{}\" <{}>", p.name, p.number),
    };
    match p.presentation {
        Presentation::Allowed => {}
        Presentation::Restricted => s.push_str(" (restricted)"),
        Presentation::Unavailable => s.push_str(" (unavailable)"),
    }
    s
}

/// `device(channel)`, or just the device while the PBX has no channel for it yet (the
/// target of a blind transfer before it is dialed).
fn endpoint(e: &Endpoint) -> String {
    if e.channel.is_empty() {
        e.device.to_string()
    } else {
        format!("{}({})", e.device, e.channel)
    }
}

/// Comma-separated, `-` when empty.
fn list<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    let v: Vec<String> = items.map(|i| i.to_string()).collect();
    if v.is_empty() {
        "-".to_owned()
    } else {
        v.join(",")
    }
}

/// A free-text value, quoted when it holds spaces, quotes or nothing at all.
fn quoted(s: &str) -> String {
    if s.is_empty() || s.contains(|c: char| c.is_whitespace() || c == '"' || c == '=') {
        format!("{s:?}")
    } else {
        s.to_owned()
    }
}

/// The snake_case name of a model enum, as in the JSON form (`alerting`, `no_answer`).
pub(crate) fn snake<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "?".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use ctilink::model::{CallId, ConnectionState, DeviceId, FailureReason, TransferKind};

    const CALL: &[u8] = b"Asterisk Call Manager/9.0.0\r\n\
Event: Newchannel\r\nChannel: PJSIP/201-00000001\r\nChannelState: 4\r\nChannelStateDesc: Ring\r\n\
CallerIDNum: 201\r\nCallerIDName: Ann\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\n\
Exten: 202\r\nContext: internal\r\nUniqueid: 1.1\r\nLinkedid: 1.1\r\n\r\n";

    fn run_replay(data: &[u8], json: bool) -> (String, Vec<(usize, Vec<String>)>) {
        let mut out = Vec::new();
        let mut errs = Vec::new();
        replay(data, json, &mut out, &mut |n, s| errs.push((n, s.to_vec()))).unwrap();
        (String::from_utf8(out).unwrap(), errs)
    }

    #[test]
    fn parties() {
        assert_eq!(party(&Party::new("201", "Ann Smith")), "\"Ann Smith\" <201>");
        assert_eq!(party(&Party::new("202", "")), "<202>");
        assert_eq!(party(&Party::new("<unknown>", "<unknown>")), "-");
        let anon = Party { presentation: Presentation::Restricted, ..Party::new("", "Anonymous") };
        assert_eq!(party(&anon), "\"Anonymous\" (restricted)");
    }

    #[test]
    fn lines_are_aligned_and_carry_the_details() {
        let ev = Event::Failed {
            call: CallId::new("1.1"),
            device: DeviceId::new("202"),
            channel: "PJSIP/202-02".to_owned(),
            state: ConnectionState::Failed,
            reason: FailureReason::Busy,
            cause: Some(Cause::USER_BUSY),
        };
        assert_eq!(
            event_line(&ev),
            "failed             call=1.1 device=202 channel=PJSIP/202-02 state=failed reason=busy \
             cause=17 (user busy)"
        );
        let ev = Event::Transferred {
            call: CallId::new("1.1"),
            kind: TransferKind::Blind,
            transferring: Endpoint { device: DeviceId::new("202"), channel: "SIP/202-2".to_owned() },
            transferred: Endpoint { device: DeviceId::new("201"), channel: "SIP/201-1".to_owned() },
            targets: vec![Endpoint { device: DeviceId::new("203"), channel: "SIP/203-3".to_owned() }],
            secondary_call: None,
            caller: Party::new("201", ""),
        };
        assert_eq!(
            event_line(&ev),
            "transferred        call=1.1 kind=blind transferring=202(SIP/202-2) transferred=201(SIP/201-1) \
             targets=203(SIP/203-3) caller=<201>"
        );
        let ev = Event::CallCleared {
            call: CallId::new("1.1"),
            cause: None,
            answered: false,
            merged_into: Some(CallId::new("2.2")),
        };
        assert_eq!(event_line(&ev), "call_cleared       call=1.1 answered=false merged_into=2.2");
        let ev = Event::LinkDown { reason: "connection reset".to_owned() };
        assert_eq!(event_line(&ev), "link_down          reason=\"connection reset\"");
    }

    #[test]
    fn json_mode_ends_with_the_summary() {
        let (text, errs) = run_replay(CALL, true);
        assert!(errs.is_empty());
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let (last, events) = lines.split_last().unwrap();
        assert_eq!(events.len(), 1, "{text}");
        assert_eq!(events[0]["event"], "originated", "{text}");
        assert_eq!(events[0]["caller"], serde_json::json!({"number": "201", "name": "Ann"}), "{text}");
        assert_eq!(events[0]["called"]["number"], "202", "{text}");
        assert_eq!(*last, serde_json::json!({"summary": {"calls_total": 1, "calls_open": 1, "devices": 0}}));
    }

    #[test]
    fn decoder_errors_are_reported_and_the_replay_goes_on() {
        let mut data = CALL.to_vec();
        data.extend_from_slice(b"\x01\x02 not ami\r\n\r\n");
        let (text, errs) = run_replay(&data, false);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].0, 1);
        assert!(text.contains("summary: 1 AMI messages (1 decoder errors), 1 events"), "{text}");
        assert!(
            text.contains("  calls open:   1\n    call=1.1 caller=\"Ann\" <201> called=<202>\n"),
            "{text}"
        );
        assert!(text.contains("      201  connected  PJSIP/201-00000001\n"), "{text}");
    }

    #[test]
    fn empty_capture_has_an_empty_summary() {
        let (text, _) = run_replay(b"", false);
        assert!(text.contains("calls total:  0"), "{text}");
        assert!(text.contains("calls open:   0"), "{text}");
        assert!(
            text.contains("devices seen: 0 (only device-state and presence events report devices)"),
            "{text}"
        );
        let (json, _) = run_replay(b"", true);
        assert_eq!(json.trim(), r#"{"summary":{"calls_total":0,"calls_open":0,"devices":0}}"#);
    }

    /// The streaming decode gives what `read_capture` gives: same messages, same errors,
    /// so the same events.
    #[test]
    fn same_as_read_capture_on_the_real_captures() {
        let dir = match std::env::var_os("CTILINK_VECTORS") {
            Some(d) => std::path::PathBuf::from(d),
            None => std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors"),
        };
        let mut files = 0;
        for sub in ["ami/real", "ami/asterisk20"] {
            for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_none_or(|x| x != "ami") {
                    continue;
                }
                files += 1;
                let data = std::fs::read(&path).unwrap();
                let cap = ctilink::ami::read_capture(&data);
                let mut tracker = Tracker::new();
                let mut expected = String::new();
                for m in &cap.messages {
                    for ev in tracker.apply(m) {
                        expected.push_str(&serde_json::to_string(&ev).unwrap());
                        expected.push('\n');
                    }
                }
                let (json, errs) = run_replay(&data, true);
                let (events, _summary) = json.trim_end().rsplit_once('\n').unwrap_or(("", &json));
                let events = if events.is_empty() { String::new() } else { format!("{events}\n") };
                assert_eq!(events, expected, "{}", path.display());
                assert_eq!(errs.first().map_or(0, |e| e.0), cap.errors.len(), "{}", path.display());
                let (text, _) = run_replay(&data, false);
                let count = format!(
                    "summary: {} AMI messages ({} decoder errors)",
                    cap.messages.len(),
                    cap.errors.len()
                );
                assert!(text.contains(&count), "{}: {text}", path.display());
            }
        }
        assert!(files > 70, "{files} captures");
    }
}
