//! The vocabulary the PBX and the event builders share: channels, their states,
//! Q.850 causes, device and extension states, and event classes.

use std::time::Instant;

/// Asterisk channel states (`ChannelState` / `ChannelStateDesc`), only those a
/// simulated call passes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChanState {
    /// 0: created, nothing sent yet.
    Down,
    /// 4: an incoming call the PBX is handling (the caller's leg).
    Ring,
    /// 5: the far end is alerting (a phone ringing).
    Ringing,
    /// 6: answered.
    Up,
    /// 7: busy indication played.
    Busy,
}

impl ChanState {
    pub(crate) fn code(self) -> u8 {
        match self {
            Self::Down => 0,
            Self::Ring => 4,
            Self::Ringing => 5,
            Self::Up => 6,
            Self::Busy => 7,
        }
    }

    pub(crate) fn desc(self) -> &'static str {
        match self {
            Self::Down => "Down",
            Self::Ring => "Ring",
            Self::Ringing => "Ringing",
            Self::Up => "Up",
            Self::Busy => "Busy",
        }
    }
}

/// One channel as Asterisk's channel snapshot describes it: the fields every
/// channel event repeats, in the order Asterisk 20 writes them.
#[derive(Clone, Debug)]
pub(crate) struct Channel {
    /// `PJSIP/100-0000000a`.
    pub(crate) name: String,
    /// The phone this channel belongs to (`100`).
    pub(crate) ext: String,
    pub(crate) uniqueid: String,
    pub(crate) linkedid: String,
    pub(crate) state: ChanState,
    pub(crate) cid_num: String,
    pub(crate) cid_name: String,
    pub(crate) conn_num: String,
    pub(crate) conn_name: String,
    pub(crate) account: String,
    pub(crate) context: String,
    pub(crate) exten: String,
    pub(crate) priority: u32,
    /// Current application and its data (CoreShowChannels shows them).
    pub(crate) app: String,
    pub(crate) app_data: String,
    /// A leg the PBX dialed out to a phone: while not answered, the phone rings.
    pub(crate) outbound: bool,
    pub(crate) bridge: Option<String>,
    /// The phone put this channel on hold (a re-INVITE with `sendonly`).
    pub(crate) held: bool,
    /// The other party holds this channel through the bridge (the `Atxfer`
    /// feature): Asterisk indicates hold to it, and PJSIP reports its device
    /// `ONHOLD` (the Asterisk 22 capture), not the holding phone's.
    pub(crate) moh: bool,
    pub(crate) created: Instant,
    /// The call this channel belongs to.
    pub(crate) call: u64,
}

impl Channel {
    /// Whether this channel makes its phone ring (an outbound leg not yet answered).
    pub(crate) fn alerting(&self) -> bool {
        self.outbound && matches!(self.state, ChanState::Down | ChanState::Ringing)
    }
}

/// Cause text as Asterisk writes it in `Cause-txt` (main/causes.c).
pub(crate) fn cause_text(cause: u32) -> &'static str {
    match cause {
        1 => "Unallocated (unassigned) number",
        3 => "No route to destination",
        16 => "Normal Clearing",
        17 => "User busy",
        18 => "No user responding",
        19 => "User alerting, no answer",
        20 => "Subscriber absent",
        21 => "Call Rejected",
        26 => "Answered elsewhere",
        27 => "Destination out of order",
        28 => "Invalid number format",
        31 => "Normal, unspecified",
        34 => "Circuit/channel congestion",
        38 => "Network out of order",
        41 => "Temporary failure",
        127 => "Interworking, unspecified",
        _ => "Unknown",
    }
}

/// `DialStatus` of a dial whose callee hung up with `cause` before answering
/// (Asterisk's `ast_hangup_cause_to_dial_status`, with CANCEL for a plain
/// clearing).
pub(crate) fn dial_status_for_cause(cause: u32) -> &'static str {
    match cause {
        17 => "BUSY",
        18 | 19 => "NOANSWER",
        34 | 42 => "CONGESTION",
        3 | 20 => "CHANUNAVAIL",
        _ => "CANCEL",
    }
}

/// A phone's device state (`DeviceStateChange` `State:`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeviceState {
    NotInUse,
    InUse,
    Ringing,
    RingInUse,
    OnHold,
    /// Not registered: no contact to send calls to.
    Unavailable,
}

impl DeviceState {
    /// From the channels of one phone: any leg alerting makes it ring; a phone
    /// whose only other channels are held is on hold; any other channel makes it
    /// in use (Asterisk's aggregation of a PJSIP endpoint's channels).
    pub(crate) fn of<'a>(channels: impl Iterator<Item = &'a Channel>) -> Self {
        let (mut ringing, mut busy, mut held) = (false, false, false);
        for c in channels {
            if c.alerting() {
                ringing = true;
            } else if c.held || c.moh {
                held = true;
            } else {
                busy = true;
            }
        }
        match (ringing, busy, held) {
            (false, false, false) => Self::NotInUse,
            (false, true, _) => Self::InUse,
            (false, false, true) => Self::OnHold,
            (true, false, false) => Self::Ringing,
            (true, _, _) => Self::RingInUse,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::NotInUse => "NOT_INUSE",
            Self::InUse => "INUSE",
            Self::Ringing => "RINGING",
            Self::RingInUse => "RINGINUSE",
            Self::OnHold => "ONHOLD",
            Self::Unavailable => "UNAVAILABLE",
        }
    }

    /// The hint state it maps to (`ExtensionStatus` `Status:`).
    pub(crate) fn extension_status(self) -> i32 {
        match self {
            Self::NotInUse => 0,
            Self::InUse => 1,
            Self::Ringing => 8,
            Self::RingInUse => 9,
            Self::OnHold => 16,
            Self::Unavailable => 4,
        }
    }
}

/// `StatusText` of an extension status (`ast_extension_state2str`).
pub(crate) fn extension_status_text(status: i32) -> &'static str {
    match status {
        0 => "Idle",
        1 => "InUse",
        2 => "Busy",
        4 => "Unavailable",
        8 => "Ringing",
        9 => "InUse&Ringing",
        16 => "Hold",
        17 => "InUse&Hold",
        _ => "Unknown",
    }
}

/// The class of an event, as its `Privilege:` line names it; a connection's
/// event mask is a set of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventClass {
    Call,
    Dialplan,
    System,
    Security,
    User,
    /// `DTMFBegin`/`DTMFEnd`.
    Dtmf,
}

impl EventClass {
    pub(crate) fn privilege(self) -> &'static str {
        match self {
            Self::Call => "call,all",
            Self::Dialplan => "dialplan,all",
            Self::System => "system,all",
            Self::Security => "security,all",
            Self::User => "user,all",
            Self::Dtmf => "dtmf,all",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Self::Call => 1,
            Self::Dialplan => 2,
            Self::System => 4,
            Self::Security => 8,
            Self::User => 16,
            Self::Dtmf => 32,
        }
    }
}

/// Which event classes a connection receives (`Events:` at login, `Events` action).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EventMask(u8);

impl EventMask {
    pub(crate) const ALL: Self = Self(0xff);
    pub(crate) const NONE: Self = Self(0);

    /// Parses `on`/`off` and their synonyms, or a list such as `call,system`,
    /// as Asterisk's `strings_to_mask` does; unknown class names are ignored.
    pub(crate) fn parse(s: &str) -> Self {
        let s = s.trim();
        let word = |w: &[&str]| w.iter().any(|x| s.eq_ignore_ascii_case(x));
        if word(&["on", "yes", "true", "y", "t", "1", "all"]) {
            return Self::ALL;
        }
        if s.is_empty() || word(&["off", "no", "false", "n", "f", "0", "none"]) {
            return Self::NONE;
        }
        let mut bits = 0;
        for part in s.split(',').map(str::trim) {
            let class = match part.to_ascii_lowercase().as_str() {
                "all" => return Self::ALL,
                "call" => EventClass::Call,
                "dialplan" => EventClass::Dialplan,
                "system" => EventClass::System,
                "security" => EventClass::Security,
                "user" => EventClass::User,
                "dtmf" => EventClass::Dtmf,
                _ => continue,
            };
            bits |= class.bit();
        }
        Self(bits)
    }

    pub(crate) fn allows(self, class: EventClass) -> bool {
        self.0 & class.bit() != 0
    }

    pub(crate) fn is_off(self) -> bool {
        self.0 == 0
    }
}

/// Caller ID as `"Name" <number>`, `Name <number>`, `<number>` or `number`.
pub(crate) fn parse_caller_id(s: &str) -> (Option<String>, Option<String>) {
    let s = s.trim();
    if let (Some(lt), true) = (s.rfind('<'), s.ends_with('>')) {
        let num = s[lt + 1..s.len() - 1].trim();
        let name = s[..lt].trim().trim_matches('"').trim();
        let opt = |v: &str| (!v.is_empty()).then(|| v.to_owned());
        return (opt(name), opt(num));
    }
    if s.is_empty() {
        (None, None)
    } else if s.chars().all(|c| c.is_ascii_digit() || "+*#".contains(c)) {
        (None, Some(s.to_owned()))
    } else {
        (Some(s.trim_matches('"').to_owned()), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_masks() {
        assert_eq!(EventMask::parse("on"), EventMask::ALL);
        assert_eq!(EventMask::parse("OFF"), EventMask::NONE);
        assert!(EventMask::parse("off").is_off());
        let m = EventMask::parse("call, system");
        assert!(m.allows(EventClass::Call) && m.allows(EventClass::System));
        assert!(!m.allows(EventClass::User));
        assert!(EventMask::parse("bogus").is_off());
    }

    #[test]
    fn caller_ids() {
        assert_eq!(parse_caller_id("\"Click2Dial\" <101>"), (Some("Click2Dial".into()), Some("101".into())));
        assert_eq!(parse_caller_id("Bob <7>"), (Some("Bob".into()), Some("7".into())));
        assert_eq!(parse_caller_id("<7>"), (None, Some("7".into())));
        assert_eq!(parse_caller_id("101"), (None, Some("101".into())));
        assert_eq!(parse_caller_id("Reception"), (Some("Reception".into()), None));
        assert_eq!(parse_caller_id(""), (None, None));
    }

    #[test]
    fn causes_and_states() {
        assert_eq!(cause_text(16), "Normal Clearing");
        assert_eq!(cause_text(17), "User busy");
        assert_eq!(dial_status_for_cause(17), "BUSY");
        assert_eq!(dial_status_for_cause(16), "CANCEL");
        assert_eq!(extension_status_text(DeviceState::Ringing.extension_status()), "Ringing");
        assert_eq!(DeviceState::of(std::iter::empty()), DeviceState::NotInUse);
    }
}
