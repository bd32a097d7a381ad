//! The call-control commands, as data. The `Session` methods build them; every link
//! (AMI now, the gateway client and CSTA-XML later) carries them out in its own protocol,
//! which is why they are plain values and not AMI actions.

use crate::error::{Error, Result};
pub use crate::model::ForwardKind;
use crate::model::{CallId, DeviceId};

/// One call-control request. The names follow CSTA (ECMA-269).
///
/// The JSON form (the gateway's wire protocol, docs/wire-protocol.md) has the name in
/// `command` (as [`name`](Command::name) gives it) and the fields below by name:
/// `{"command":"make_call","from":"100","to":"0301234567"}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Command {
    /// Click-to-dial: ring `from`, and when it answers, call `to`. `id` is the id the new
    /// call gets (it starts with [`CallId::RESERVED_PREFIX`]); the link picks one
    /// ([`CallId::generate`]) when it is `None`. A host that
    /// must hold the call's id before the command completes (a TAPI provider's
    /// `lineMakeCall`) passes its own.
    MakeCall {
        from: DeviceId,
        to: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<CallId>,
    },
    Answer {
        call: CallId,
        device: DeviceId,
    },
    /// `device` leaves the call (hang up its connection).
    ClearConnection {
        call: CallId,
        device: DeviceId,
    },
    /// End the call for everyone.
    ClearCall {
        call: CallId,
    },
    Hold {
        call: CallId,
        device: DeviceId,
    },
    Retrieve {
        call: CallId,
        device: DeviceId,
    },
    /// Blind transfer: the party talking to `device` goes to `to`; `device` is released.
    SingleStepTransfer {
        call: CallId,
        device: DeviceId,
        to: String,
    },
    /// Hold `call` and call `to` from `device` in a new call (the start of an attended
    /// transfer).
    ConsultationCall {
        call: CallId,
        device: DeviceId,
        to: String,
    },
    /// Join the held call's other party with the active (consultation) call's.
    TransferCall {
        held: CallId,
        active: CallId,
    },
    /// Send a call ringing at `device` to `to`.
    Deflect {
        call: CallId,
        device: DeviceId,
        to: String,
    },
    /// Take, at `device`, a call ringing elsewhere: `target` is a call id or the ringing
    /// device.
    Pickup {
        device: DeviceId,
        target: String,
    },
    SendDtmf {
        call: CallId,
        device: DeviceId,
        digits: String,
    },
    SetDoNotDisturb {
        device: DeviceId,
        on: bool,
    },
    /// `to: None` turns this kind of forwarding off.
    SetForwarding {
        device: DeviceId,
        kind: ForwardKind,
        #[serde(default)]
        to: Option<String>,
    },
}

/// What a command gives back when the PBX accepted it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Accepted; the outcome follows as events.
    Accepted,
    /// Accepted, and this is the id of the call it started (`MakeCall`,
    /// `ConsultationCall`).
    Call(CallId),
}

impl Command {
    /// The snake_case name of the command, for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Command::MakeCall { .. } => "make_call",
            Command::Answer { .. } => "answer",
            Command::ClearConnection { .. } => "clear_connection",
            Command::ClearCall { .. } => "clear_call",
            Command::Hold { .. } => "hold",
            Command::Retrieve { .. } => "retrieve",
            Command::SingleStepTransfer { .. } => "single_step_transfer",
            Command::ConsultationCall { .. } => "consultation_call",
            Command::TransferCall { .. } => "transfer_call",
            Command::Deflect { .. } => "deflect",
            Command::Pickup { .. } => "pickup",
            Command::SendDtmf { .. } => "send_dtmf",
            Command::SetDoNotDisturb { .. } => "set_do_not_disturb",
            Command::SetForwarding { .. } => "set_forwarding",
        }
    }

    /// Checks what can be checked without the PBX: ids and numbers are non-empty, short
    /// and free of characters that would break a protocol line, digits are DTMF digits.
    pub fn validate(&self) -> Result<()> {
        match self {
            Command::MakeCall { from, to, id } => {
                device(from)?;
                number(to)?;
                id.as_ref().map_or(Ok(()), new_call_id)
            }
            Command::Answer { call: c, device: d }
            | Command::ClearConnection { call: c, device: d }
            | Command::Hold { call: c, device: d }
            | Command::Retrieve { call: c, device: d } => call(c).and(device(d)),
            Command::ClearCall { call: c } => call(c),
            Command::SingleStepTransfer { call: c, device: d, to }
            | Command::ConsultationCall { call: c, device: d, to }
            | Command::Deflect { call: c, device: d, to } => call(c).and(device(d)).and(number(to)),
            Command::TransferCall { held, active } => {
                call(held)?;
                call(active)?;
                if held == active {
                    return Err(Error::InvalidArgument("transfer_call needs two different calls".into()));
                }
                Ok(())
            }
            Command::Pickup { device: d, target } => device(d).and(token("pickup target", target)),
            Command::SendDtmf { call: c, device: d, digits } => {
                call(c)?;
                device(d)?;
                dtmf(digits)
            }
            Command::SetDoNotDisturb { device: d, .. } => device(d),
            Command::SetForwarding { device: d, to, .. } => {
                device(d)?;
                to.as_deref().map_or(Ok(()), number)
            }
        }
    }
}

/// Longest id or number accepted. Real ones are far shorter; the bound keeps a hostile
/// caller from building huge protocol lines.
const MAX_LEN: usize = 128;

fn token(what: &str, s: &str) -> Result<()> {
    if s.is_empty() {
        return Err(Error::InvalidArgument(format!("{what} is empty")));
    }
    if s.len() > MAX_LEN {
        return Err(Error::InvalidArgument(format!("{what} is longer than {MAX_LEN} bytes")));
    }
    if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::InvalidArgument(format!("{what} {s:?} contains a space or control character")));
    }
    Ok(())
}

fn device(d: &DeviceId) -> Result<()> {
    token("device", d.as_str())
}

fn call(c: &CallId) -> Result<()> {
    token("call id", c.as_str())
}

/// An id for a new call: it becomes the PBX channel's Uniqueid, so only characters that
/// every Asterisk version keeps as they are, and it starts with
/// [`CallId::RESERVED_PREFIX`], which the PBX's own ids (`[SYSTEMNAME-]seconds.sequence`)
/// never do: a caller cannot name a call after a channel the PBX made, now or later. The
/// link also refuses an id that any live channel or call holds.
fn new_call_id(c: &CallId) -> Result<()> {
    call(c)?;
    let s = c.as_str();
    if !s.starts_with(CallId::RESERVED_PREFIX) || s.len() == CallId::RESERVED_PREFIX.len() {
        return Err(Error::InvalidArgument(format!(
            "a new call id must start with {:?} (ids without it are the PBX's)",
            CallId::RESERVED_PREFIX
        )));
    }
    if s.len() > 64 {
        return Err(Error::InvalidArgument("a new call id is at most 64 bytes".into()));
    }
    if let Some(bad) = s.chars().find(|c| !(c.is_ascii_alphanumeric() || "._-".contains(*c))) {
        return Err(Error::InvalidArgument(format!("call id {s:?} contains {bad:?}")));
    }
    Ok(())
}

/// A number to dial: digits, `*`, `#`, `+`, and letters (SIP users, vanity numbers).
fn number(n: &str) -> Result<()> {
    token("number", n)?;
    if let Some(bad) = n.chars().find(|c| !(c.is_ascii_alphanumeric() || "*#+_.-".contains(*c))) {
        return Err(Error::InvalidArgument(format!("number {n:?} contains {bad:?}")));
    }
    Ok(())
}

/// DTMF digits: `0-9`, `*`, `#`, `A-D`, at most 64.
fn dtmf(d: &str) -> Result<()> {
    if d.is_empty() || d.len() > 64 {
        return Err(Error::InvalidArgument("DTMF digits must be 1 to 64 characters".into()));
    }
    if let Some(bad) = d.chars().find(|c| !matches!(c, '0'..='9' | '*' | '#' | 'A'..='D' | 'a'..='d')) {
        return Err(Error::InvalidArgument(format!("{bad:?} is not a DTMF digit")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make_call(from: &str, to: &str) -> Command {
        Command::MakeCall { from: from.into(), to: to.into(), id: None }
    }

    #[test]
    fn validation() {
        assert!(matches!(make_call("100", "+49 30").validate(), Err(Error::InvalidArgument(_))));
        assert!(make_call("100", "0301234567").validate().is_ok());
        assert!(make_call("100", "*8#").validate().is_ok());
        assert!(matches!(make_call("", "200").validate(), Err(Error::InvalidArgument(_))));
        assert!(matches!(make_call("100", "2\r\nAction: Hangup").validate(), Err(Error::InvalidArgument(_))));
        assert!(matches!(make_call("100", &"1".repeat(200)).validate(), Err(Error::InvalidArgument(_))));
        let dtmf = |d: &str| Command::SendDtmf { call: "c".into(), device: "100".into(), digits: d.into() };
        let with_id =
            |id: &str| Command::MakeCall { from: "100".into(), to: "200".into(), id: Some(id.into()) };
        assert!(with_id("ctilink-crm-4711").validate().is_ok());
        assert!(with_id(CallId::generate().as_str()).validate().is_ok());
        for pbx_shaped in ["1795692635.17", "refpbx22-1795692635.17", "crm-4711", "ctilink"] {
            assert!(matches!(with_id(pbx_shaped).validate(), Err(Error::InvalidArgument(_))), "{pbx_shaped}");
        }
        assert!(dtmf("123*#ABCD").validate().is_ok());
        assert!(matches!(dtmf("12E").validate(), Err(Error::InvalidArgument(_))));
        assert!(matches!(dtmf("").validate(), Err(Error::InvalidArgument(_))));
        let xfer = Command::TransferCall { held: "a".into(), active: "a".into() };
        assert!(matches!(xfer.validate(), Err(Error::InvalidArgument(_))));
        assert_eq!(ForwardKind::NoAnswer.to_string(), "no_answer");
    }
}
