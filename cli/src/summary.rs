//! The summary `replay` and `events` print when they end: how many calls, which are still
//! open, the devices. One form for both, so that a recording's replay ends like the run.

use std::io::Write;

use ctilink::model::{Call, Device};
use serde::Serialize;

use crate::event_line::{party, quoted, snake};

/// The counts; in `--json` the last line is `{"summary": {"calls_total": N, "calls_open": M,
/// "devices": D}}`.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Summary {
    /// Calls reported since the start (of the capture, or of the run).
    pub(crate) calls_total: u64,
    /// Calls still open at the end.
    pub(crate) calls_open: usize,
    /// Devices known.
    pub(crate) devices: usize,
}

#[derive(Serialize)]
struct SummaryLine<'a> {
    summary: &'a Summary,
}

/// The `--json` summary line.
pub(crate) fn write_json(out: &mut dyn Write, counts: &Summary) -> std::io::Result<()> {
    let line = serde_json::to_string(&SummaryLine { summary: counts }).map_err(std::io::Error::other)?;
    writeln!(out, "{line}")
}

/// The text summary: `header` (what was read), the counts, the calls still open with
/// their connections, the devices.
pub(crate) fn write_text(
    out: &mut dyn Write,
    header: &str,
    counts: &Summary,
    mut calls: Vec<Call>,
    devices: &[Device],
) -> std::io::Result<()> {
    calls.sort_by(|a, b| a.id.cmp(&b.id));
    writeln!(out)?;
    writeln!(out, "summary: {header}")?;
    writeln!(out, "  calls total:  {}", counts.calls_total)?;
    writeln!(out, "  calls open:   {}", counts.calls_open)?;
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
