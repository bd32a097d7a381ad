//! Busy lamp field: the state of every extension, as the lamps on an operator's console.
//! Prints the field from a snapshot, then a new line each time a lamp changes.
//!
//! Lamps: `.` idle, `R` ringing, `U` in use, `B` busy, `H` on hold, `D` do not disturb,
//! `X` unavailable, `?` unknown.
//!
//! ```sh
//! cargo run -p ctilink-tests --example busy_lamp_field -- ami://admin:secret@pbx:5038
//! cargo run -p ctilink-tests --example busy_lamp_field      # no PBX: in-process simulator
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use ctilink::{DeviceState, Event, Session};

/// One extension's lamp.
pub(crate) fn lamp(state: DeviceState, dnd: bool) -> char {
    match state {
        DeviceState::Ringing | DeviceState::RingInUse => 'R',
        DeviceState::InUse => 'U',
        DeviceState::Busy => 'B',
        DeviceState::OnHold => 'H',
        DeviceState::Unavailable => 'X',
        DeviceState::Unknown => '?',
        _ if dnd => 'D',
        _ => '.',
    }
}

/// What the example showed, for its test.
#[derive(Debug, Default)]
pub(crate) struct Field {
    /// The lamps of the snapshot, by extension.
    pub(crate) initial: BTreeMap<String, char>,
    /// Every change, in order: the extension and its new lamp.
    pub(crate) changes: Vec<(String, char)>,
    /// The lines printed.
    pub(crate) lines: Vec<String>,
}

/// Prints the field as one line: `100[.] 101[R] 102[U]`.
fn show(field: &mut Field, lamps: &BTreeMap<String, char>) {
    let line = lamps.iter().map(|(ext, l)| format!("{ext}[{l}]")).collect::<Vec<_>>().join(" ");
    println!("{line}");
    field.lines.push(line);
}

/// Shows the field until `changes` lamps changed or `limit` passed.
pub(crate) async fn run(url: &str, changes: usize, limit: Duration) -> ctilink::Result<Field> {
    let session = Session::connect(url).await?;
    // Subscribe before the snapshot: a change between the two is then not lost.
    let mut events = session.events();
    // Each device's state and do-not-disturb flag.
    let mut devices: BTreeMap<String, (DeviceState, bool)> = session
        .snapshot()
        .devices
        .into_iter()
        .map(|d| (d.id.to_string(), (d.state, d.do_not_disturb)))
        .collect();
    let mut lamps: BTreeMap<String, char> =
        devices.iter().map(|(id, (state, dnd))| (id.clone(), lamp(*state, *dnd))).collect();
    let mut field = Field { initial: lamps.clone(), ..Field::default() };
    show(&mut field, &lamps);
    let deadline = tokio::time::Instant::now() + limit;
    while field.changes.len() < changes {
        let Ok(Some(ev)) = tokio::time::timeout_at(deadline, events.next()).await else { break };
        let Some(id) = ev.device().map(|d| d.to_string()) else { continue };
        let entry = devices.entry(id.clone()).or_insert((DeviceState::Unknown, false));
        match ev {
            Event::DeviceState { state, .. } => entry.0 = state,
            Event::DoNotDisturb { enabled, .. } => entry.1 = enabled,
            _ => continue,
        }
        let new = lamp(entry.0, entry.1);
        if lamps.insert(id.clone(), new) != Some(new) {
            field.changes.push((id, new));
            show(&mut field, &lamps);
        }
    }
    session.close().await;
    Ok(field)
}

#[allow(dead_code)] // `main` is unused when a test includes this file as a module.
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    match std::env::args().nth(1) {
        Some(url) => {
            run(&url, usize::MAX, Duration::from_secs(24 * 3600)).await?;
        }
        None => {
            let cfg = ctilink_sim::SimConfig {
                extensions: ctilink_sim::SimConfig::extension_range(100, 107),
                answer_delay: Duration::from_millis(800),
                ..Default::default()
            };
            let sim = ctilink_sim::Simulator::start(cfg, ([127, 0, 0, 1], 0).into()).await?;
            let traffic = sim.start_traffic(ctilink_sim::TrafficConfig {
                calls_per_sec: 1.0,
                talk_min: Duration::from_secs(1),
                talk_max: Duration::from_secs(4),
                ..Default::default()
            });
            let field = run(&sim.url(), usize::MAX, Duration::from_secs(10)).await?;
            println!("{} extensions, {} lamp changes", field.initial.len(), field.changes.len());
            traffic.stop();
            sim.shutdown().await;
        }
    }
    Ok(())
}
