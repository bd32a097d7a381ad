//! `ctilink status URL [--json]`: the PBX's devices and calls now, then exit.

use std::io::Write;
use std::process::ExitCode;

use ctilink::model::{Call, Device, Snapshot};
use ctilink::{ForwardKind, Session};

use crate::event_line::{party, snake};

/// Arguments of `ctilink status`.
#[derive(clap::Args, Debug)]
pub(crate) struct StatusArgs {
    /// The PBX, e.g. ami://admin:secret@127.0.0.1:5038 (amis:// for TLS).
    url: String,
    /// Print the snapshot as one JSON object: {"devices": [...], "calls": [...]}.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(args: StatusArgs) -> ExitCode {
    let session = match Session::connect(&args.url).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ctilink status: {e}");
            return ExitCode::from(1);
        }
    };
    let snapshot = session.snapshot();
    session.close().await;
    let text = if args.json {
        match serde_json::to_string_pretty(&snapshot) {
            Ok(j) => j,
            Err(e) => {
                eprintln!("ctilink status: cannot encode the snapshot: {e}");
                return ExitCode::from(1);
            }
        }
    } else {
        render(&snapshot)
    };
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}") {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(1),
    }
}

/// The text form: a table of devices, then each call with its connections.
pub(crate) fn render(s: &Snapshot) -> String {
    let mut out = format!("devices: {}\n", s.devices.len());
    let width = s.devices.iter().map(|d| d.id.as_str().len()).max().unwrap_or(0).max(6);
    if !s.devices.is_empty() {
        out.push_str(&format!("  {:<width$}  {:<11}  {:<3}  {}\n", "device", "state", "dnd", "forward"));
    }
    for d in &s.devices {
        out.push_str(&device_line(d, width));
    }
    out.push_str(&format!("calls: {}\n", s.calls.len()));
    for c in &s.calls {
        out.push_str(&call_lines(c));
    }
    out.trim_end().to_owned()
}

fn device_line(d: &Device, width: usize) -> String {
    format!(
        "  {:<width$}  {:<11}  {:<3}  {}\n",
        d.id.as_str(),
        snake(&d.state),
        if d.do_not_disturb { "on" } else { "-" },
        forwarding(d)
    )
}

/// `immediate=200,no_answer=300`, or `-` when no forwarding is on.
fn forwarding(d: &Device) -> String {
    let on: Vec<String> = [ForwardKind::Immediate, ForwardKind::Busy, ForwardKind::NoAnswer]
        .into_iter()
        .filter_map(|k| d.forwarding(k).map(|to| format!("{k}={to}")))
        .collect();
    if on.is_empty() {
        "-".to_owned()
    } else {
        on.join(",")
    }
}

fn call_lines(c: &Call) -> String {
    let mut out = format!("  call {}  {} -> {}", c.id, party(&c.caller), party(&c.called));
    if c.answered {
        out.push_str("  answered");
    }
    if c.click_to_dial {
        out.push_str("  click-to-dial");
    }
    out.push('\n');
    for k in &c.connections {
        out.push_str(&format!("      {:<8} {:<10} {}\n", k.device.as_str(), snake(&k.state), k.channel));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctilink::model::{CallId, Connection, ConnectionState, DeviceId, DeviceState, Party};

    #[test]
    fn text_lists_devices_and_calls_with_connections() {
        assert_eq!(render(&Snapshot::default()), "devices: 0\ncalls: 0");
        let dev = |id: &str, state, dnd, fwd: Option<&str>| Device {
            id: DeviceId::new(id),
            interface: Some(format!("PJSIP/{id}")),
            state,
            presence: None,
            do_not_disturb: dnd,
            forward_to: fwd.map(str::to_owned),
            forward_busy: None,
            forward_no_answer: fwd.map(|_| "200".to_owned()),
        };
        let conn =
            |d: &str, state| Connection { device: DeviceId::new(d), channel: format!("PJSIP/{d}-1"), state };
        let call = Call {
            id: CallId::new("1.1"),
            calling_device: Some(DeviceId::new("100")),
            caller: Party::new("100", "Ann"),
            called: Party::new("101", ""),
            connections: vec![
                conn("100", ConnectionState::Connected),
                conn("101", ConnectionState::Alerting),
            ],
            answered: false,
            diverted: None,
            click_to_dial: false,
        };
        let snap = Snapshot {
            devices: vec![
                dev("100", DeviceState::InUse, false, None),
                dev("101", DeviceState::Ringing, true, Some("0301234567")),
            ],
            calls: vec![call],
        };
        let text = render(&snap);
        let expected = "devices: 2
  device  state        dnd  forward
  100     in_use       -    -
  101     ringing      on   immediate=0301234567,no_answer=200
calls: 1
  call 1.1  \"Ann\" <100> -> <101>
      100      connected  PJSIP/100-1
      101      alerting   PJSIP/101-1";
        assert_eq!(text, expected);
    }
}
