//! The lamp field: one cell per extension, coloured by what it is doing.

use ctilink::{Device, DeviceState};

/// What a cell shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Lamp {
    Idle,
    Ringing,
    InUse,
    Busy,
    OnHold,
    /// Idle, with do-not-disturb on (a phone in a call shows the call instead).
    Dnd,
    Unavailable,
}

impl Lamp {
    pub(super) fn of(state: DeviceState, dnd: bool) -> Lamp {
        match state {
            DeviceState::Ringing | DeviceState::RingInUse => Lamp::Ringing,
            DeviceState::InUse => Lamp::InUse,
            DeviceState::Busy => Lamp::Busy,
            DeviceState::OnHold => Lamp::OnHold,
            DeviceState::Unavailable | DeviceState::Unknown => Lamp::Unavailable,
            _ if dnd => Lamp::Dnd,
            _ => Lamp::Idle,
        }
    }

    pub(super) fn label(self) -> &'static str {
        match self {
            Lamp::Idle => "idle",
            Lamp::Ringing => "ringing",
            Lamp::InUse => "in use",
            Lamp::Busy => "busy",
            Lamp::OnHold => "on hold",
            Lamp::Dnd => "DND",
            Lamp::Unavailable => "n/a",
        }
    }

    /// ANSI SGR colours: background and foreground.
    fn colour(self) -> &'static str {
        match self {
            Lamp::Idle => "\x1b[42;30m",
            Lamp::Ringing => "\x1b[103;30;1m",
            Lamp::InUse => "\x1b[41;97m",
            Lamp::Busy => "\x1b[45;97m",
            Lamp::OnHold => "\x1b[44;97m",
            Lamp::Dnd => "\x1b[100;97m",
            Lamp::Unavailable => "\x1b[2m",
        }
    }

    pub(super) const ALL: [Lamp; 7] =
        [Lamp::Idle, Lamp::Ringing, Lamp::InUse, Lamp::Busy, Lamp::OnHold, Lamp::Dnd, Lamp::Unavailable];
}

const RESET: &str = "\x1b[0m";

/// Width of a cell's text: ` 100 ringing `.
fn cell(id: &str, lamp: Lamp, id_width: usize, colour: bool) -> String {
    let text = format!(" {id:>id_width$} {:<7} ", lamp.label());
    if colour {
        format!("{}{text}{RESET}", lamp.colour())
    } else {
        format!("[{}]", text.trim_end())
    }
}

/// The field as lines of `per_row` cells, in the order given.
pub(super) fn render(devices: &[Device], per_row: usize, colour: bool) -> Vec<String> {
    let id_width = devices.iter().map(|d| d.id.as_str().len()).max().unwrap_or(0);
    devices
        .chunks(per_row.max(1))
        .map(|row| {
            row.iter()
                .map(|d| cell(d.id.as_str(), Lamp::of(d.state, d.do_not_disturb), id_width, colour))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// One line explaining the colours.
pub(super) fn legend() -> String {
    Lamp::ALL.iter().map(|l| format!("{} {:<7} {RESET}", l.colour(), l.label())).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_shows_over_dnd() {
        assert_eq!(Lamp::of(DeviceState::Idle, true), Lamp::Dnd);
        assert_eq!(Lamp::of(DeviceState::InUse, true), Lamp::InUse);
        assert_eq!(Lamp::of(DeviceState::RingInUse, false), Lamp::Ringing);
        assert_eq!(Lamp::of(DeviceState::Idle, false), Lamp::Idle);
    }

    #[test]
    fn cells_are_aligned_and_rows_split() {
        assert_eq!(cell("100", Lamp::Ringing, 3, false), "[ 100 ringing]");
        assert_eq!(cell("99", Lamp::Idle, 3, false), "[  99 idle]");
        let coloured = cell("100", Lamp::InUse, 3, true);
        assert!(
            coloured.starts_with("\x1b[41;97m 100 in use  ") && coloured.ends_with(RESET),
            "{coloured:?}"
        );
    }
}
