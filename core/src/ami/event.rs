//! Typed views over the events the SDK uses. A view borrows its [`Message`] and
//! reads fields on demand, so classifying an event costs one name comparison;
//! any other event stays available as [`AmiEvent::Other`].

use std::borrow::Cow;

use super::message::Message;

/// An AMI channel state (`ChannelState:` number, or the `State:` text of Asterisk 1.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChannelState {
    Down,
    Reserved,
    OffHook,
    Dialing,
    /// The caller's side while its call is being set up.
    Ring,
    /// The called phone is ringing.
    Ringing,
    Up,
    Busy,
    DialingOffHook,
    PreRing,
    Unknown,
}

impl ChannelState {
    /// From `ChannelState: 6`.
    pub fn from_code(code: &str) -> Self {
        match code.trim() {
            "0" => Self::Down,
            "1" => Self::Reserved,
            "2" => Self::OffHook,
            "3" => Self::Dialing,
            "4" => Self::Ring,
            "5" => Self::Ringing,
            "6" => Self::Up,
            "7" => Self::Busy,
            "8" => Self::DialingOffHook,
            "9" => Self::PreRing,
            _ => Self::Unknown,
        }
    }

    /// From `ChannelStateDesc: Ringing` or Asterisk 1.4 `State: Ringing`.
    pub fn from_desc(desc: &str) -> Self {
        let d = desc.trim();
        let is = |s: &str| d.eq_ignore_ascii_case(s);
        if is("Down") {
            Self::Down
        } else if is("Rsrvd") || is("Reserved") {
            Self::Reserved
        } else if is("OffHook") {
            Self::OffHook
        } else if is("Dialing") {
            Self::Dialing
        } else if is("Ring") {
            Self::Ring
        } else if is("Ringing") {
            Self::Ringing
        } else if is("Up") {
            Self::Up
        } else if is("Busy") {
            Self::Busy
        } else if is("Dialing Offhook") {
            Self::DialingOffHook
        } else if is("Pre-ring") {
            Self::PreRing
        } else {
            Self::Unknown
        }
    }

    /// The number Asterisk uses.
    pub fn code(self) -> u8 {
        match self {
            Self::Down => 0,
            Self::Reserved => 1,
            Self::OffHook => 2,
            Self::Dialing => 3,
            Self::Ring => 4,
            Self::Ringing => 5,
            Self::Up => 6,
            Self::Busy => 7,
            Self::DialingOffHook => 8,
            Self::PreRing => 9,
            Self::Unknown => 10,
        }
    }

    /// The text Asterisk uses in `ChannelStateDesc`.
    pub fn desc(self) -> &'static str {
        match self {
            Self::Down => "Down",
            Self::Reserved => "Rsrvd",
            Self::OffHook => "OffHook",
            Self::Dialing => "Dialing",
            Self::Ring => "Ring",
            Self::Ringing => "Ringing",
            Self::Up => "Up",
            Self::Busy => "Busy",
            Self::DialingOffHook => "Dialing Offhook",
            Self::PreRing => "Pre-ring",
            Self::Unknown => "Unknown",
        }
    }
}

/// A device state as in `DeviceStateChange` / `DeviceStateList`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceStateCode {
    Unknown,
    NotInUse,
    InUse,
    Busy,
    Invalid,
    Unavailable,
    Ringing,
    RingInUse,
    OnHold,
}

impl DeviceStateCode {
    pub fn parse(s: &str) -> Self {
        let is = |x: &str| s.trim().eq_ignore_ascii_case(x);
        if is("NOT_INUSE") {
            Self::NotInUse
        } else if is("INUSE") {
            Self::InUse
        } else if is("BUSY") {
            Self::Busy
        } else if is("INVALID") {
            Self::Invalid
        } else if is("UNAVAILABLE") {
            Self::Unavailable
        } else if is("RINGING") {
            Self::Ringing
        } else if is("RINGINUSE") {
            Self::RingInUse
        } else if is("ONHOLD") {
            Self::OnHold
        } else {
            Self::Unknown
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "UNKNOWN",
            Self::NotInUse => "NOT_INUSE",
            Self::InUse => "INUSE",
            Self::Busy => "BUSY",
            Self::Invalid => "INVALID",
            Self::Unavailable => "UNAVAILABLE",
            Self::Ringing => "RINGING",
            Self::RingInUse => "RINGINUSE",
            Self::OnHold => "ONHOLD",
        }
    }
}

/// The fields every channel event carries, optionally under a prefix
/// (`Dest` in DialBegin, `Transferee` in BlindTransfer, ...).
#[derive(Clone, Copy, Debug)]
pub struct ChannelView<'a> {
    msg: &'a Message,
    prefix: &'static str,
}

impl<'a> ChannelView<'a> {
    pub fn new(msg: &'a Message, prefix: &'static str) -> Self {
        Self { msg, prefix }
    }

    fn get(&self, key: &str) -> Option<&'a str> {
        if self.prefix.is_empty() {
            return self.msg.get(key);
        }
        let (p, k) = (self.prefix.as_bytes(), key.as_bytes());
        self.msg
            .raw_fields()
            .find(|(name, _)| {
                name.len() == p.len() + k.len()
                    && name[..p.len()].eq_ignore_ascii_case(p)
                    && name[p.len()..].eq_ignore_ascii_case(k)
            })
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// Whether the event carries this channel at all.
    pub fn is_present(&self) -> bool {
        self.channel().is_some() || self.uniqueid().is_some()
    }

    /// `PJSIP/100-0000000a`, `Local/200@ctx-00000001;1`, ...
    pub fn channel(&self) -> Option<&'a str> {
        self.get("Channel")
    }

    /// The channel's unique id (`Uniqueid`, `UniqueID`).
    pub fn uniqueid(&self) -> Option<&'a str> {
        self.get("Uniqueid")
    }

    /// The id shared by all channels of one call (Asterisk 12+).
    pub fn linkedid(&self) -> Option<&'a str> {
        self.get("Linkedid")
    }

    /// State from `ChannelState`, else from the text of `ChannelStateDesc`/`State`.
    pub fn state(&self) -> Option<ChannelState> {
        if let Some(code) = self.get("ChannelState") {
            return Some(ChannelState::from_code(code));
        }
        self.get("ChannelStateDesc").or_else(|| self.get("State")).map(ChannelState::from_desc)
    }

    pub fn caller_id_num(&self) -> Option<&'a str> {
        self.get("CallerIDNum").or_else(|| self.get("CallerID"))
    }

    pub fn caller_id_name(&self) -> Option<Cow<'a, str>> {
        self.lossy("CallerIDName")
    }

    pub fn connected_line_num(&self) -> Option<&'a str> {
        self.get("ConnectedLineNum")
    }

    pub fn connected_line_name(&self) -> Option<Cow<'a, str>> {
        self.lossy("ConnectedLineName")
    }

    pub fn context(&self) -> Option<&'a str> {
        self.get("Context")
    }

    pub fn exten(&self) -> Option<&'a str> {
        self.get("Exten")
    }

    pub fn account_code(&self) -> Option<&'a str> {
        self.get("AccountCode")
    }

    fn lossy(&self, key: &str) -> Option<Cow<'a, str>> {
        if self.prefix.is_empty() {
            return self.msg.get_lossy(key);
        }
        self.get(key).map(Cow::Borrowed)
    }
}

/// The events the SDK understands, each a view of its message.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum AmiEvent<'a> {
    FullyBooted,
    Shutdown,
    Newchannel(ChannelView<'a>),
    Newstate(ChannelView<'a>),
    NewCallerid(ChannelView<'a>),
    NewConnectedLine(ChannelView<'a>),
    Hangup(Hangup<'a>),
    HangupRequest(ChannelView<'a>),
    /// Asterisk 12+: `DialBegin`; the dialed channel is under the `Dest` prefix.
    DialBegin(Dial<'a>),
    /// Asterisk 12+: `DialEnd` with `DialStatus`.
    DialEnd(Dial<'a>),
    /// Asterisk 1.4-11: `Dial` with `SubEvent: Begin|End`.
    LegacyDial(&'a Message),
    BridgeCreate(Bridge<'a>),
    BridgeEnter(Bridge<'a>),
    BridgeLeave(Bridge<'a>),
    BridgeDestroy(Bridge<'a>),
    /// Asterisk 1.4-11 `Bridge`/`Link`/`Unlink`.
    LegacyBridge(&'a Message),
    LocalBridge(&'a Message),
    Masquerade(&'a Message),
    Hold(ChannelView<'a>),
    Unhold(ChannelView<'a>),
    BlindTransfer(&'a Message),
    AttendedTransfer(&'a Message),
    OriginateResponse(OriginateResponse<'a>),
    ExtensionStatus(ExtensionStatus<'a>),
    DeviceStateChange(DeviceStateChange<'a>),
    PresenceStateChange(&'a Message),
    /// A `CoreShowChannels` list item.
    CoreShowChannel(ChannelView<'a>),
    Other(&'a Message),
}

impl<'a> AmiEvent<'a> {
    /// Classifies an event by name (case-insensitive); anything else is `Other`.
    pub fn parse(msg: &'a Message) -> Self {
        let Some(name) = msg.event() else {
            return Self::Other(msg);
        };
        let ch = ChannelView::new(msg, "");
        let is = |s: &str| name.eq_ignore_ascii_case(s);
        if is("Newchannel") {
            Self::Newchannel(ch)
        } else if is("Newstate") {
            Self::Newstate(ch)
        } else if is("Hangup") {
            Self::Hangup(Hangup { msg })
        } else if is("DialBegin") {
            Self::DialBegin(Dial { msg })
        } else if is("DialEnd") {
            Self::DialEnd(Dial { msg })
        } else if is("BridgeEnter") {
            Self::BridgeEnter(Bridge { msg })
        } else if is("BridgeLeave") {
            Self::BridgeLeave(Bridge { msg })
        } else if is("BridgeCreate") {
            Self::BridgeCreate(Bridge { msg })
        } else if is("BridgeDestroy") {
            Self::BridgeDestroy(Bridge { msg })
        } else if is("NewCallerid") {
            Self::NewCallerid(ch)
        } else if is("NewConnectedLine") {
            Self::NewConnectedLine(ch)
        } else if is("HangupRequest") || is("SoftHangupRequest") {
            Self::HangupRequest(ch)
        } else if is("DeviceStateChange") {
            Self::DeviceStateChange(DeviceStateChange { msg })
        } else if is("ExtensionStatus") {
            Self::ExtensionStatus(ExtensionStatus { msg })
        } else if is("OriginateResponse") {
            Self::OriginateResponse(OriginateResponse { msg })
        } else if is("Dial") {
            Self::LegacyDial(msg)
        } else if is("Bridge") || is("Link") || is("Unlink") {
            Self::LegacyBridge(msg)
        } else if is("LocalBridge") {
            Self::LocalBridge(msg)
        } else if is("Masquerade") {
            Self::Masquerade(msg)
        } else if is("Hold") || is("MusicOnHoldStart") {
            Self::Hold(ch)
        } else if is("Unhold") || is("MusicOnHoldStop") {
            Self::Unhold(ch)
        } else if is("BlindTransfer") {
            Self::BlindTransfer(msg)
        } else if is("AttendedTransfer") {
            Self::AttendedTransfer(msg)
        } else if is("PresenceStateChange") || is("PresenceStatus") {
            Self::PresenceStateChange(msg)
        } else if is("CoreShowChannel") {
            Self::CoreShowChannel(ch)
        } else if is("FullyBooted") {
            Self::FullyBooted
        } else if is("Shutdown") {
            Self::Shutdown
        } else {
            Self::Other(msg)
        }
    }
}

/// `Hangup`: the channel and the Q.850 cause.
#[derive(Clone, Copy, Debug)]
pub struct Hangup<'a> {
    msg: &'a Message,
}

impl<'a> Hangup<'a> {
    pub fn channel(&self) -> ChannelView<'a> {
        ChannelView::new(self.msg, "")
    }

    /// Q.850 cause (16 normal clearing, 17 busy, 19 no answer, 21 rejected, ...).
    pub fn cause(&self) -> Option<u16> {
        self.msg.get("Cause")?.trim().parse().ok()
    }

    /// `Cause-txt` (any case).
    pub fn cause_text(&self) -> Option<&'a str> {
        self.msg.get("Cause-txt")
    }
}

/// `DialBegin`/`DialEnd`: the dialing channel, the dialed one under `Dest`.
#[derive(Clone, Copy, Debug)]
pub struct Dial<'a> {
    msg: &'a Message,
}

impl<'a> Dial<'a> {
    /// The dialing channel (absent when an Originate dials).
    pub fn caller(&self) -> ChannelView<'a> {
        ChannelView::new(self.msg, "")
    }

    /// The dialed channel.
    pub fn dest(&self) -> ChannelView<'a> {
        ChannelView::new(self.msg, "Dest")
    }

    pub fn dial_string(&self) -> Option<&'a str> {
        self.msg.get("DialString")
    }

    /// `ANSWER`, `BUSY`, `NOANSWER`, `CANCEL`, `CONGESTION`, `CHANUNAVAIL`, ...
    pub fn dial_status(&self) -> Option<&'a str> {
        self.msg.get("DialStatus")
    }

    /// Where the call was forwarded (`Forward:` in DialEnd).
    pub fn forward(&self) -> Option<&'a str> {
        self.msg.get("Forward").filter(|f| !f.is_empty())
    }
}

/// `BridgeCreate/Enter/Leave/Destroy`.
#[derive(Clone, Copy, Debug)]
pub struct Bridge<'a> {
    msg: &'a Message,
}

impl<'a> Bridge<'a> {
    pub fn bridge_id(&self) -> Option<&'a str> {
        self.msg.get("BridgeUniqueid")
    }

    pub fn bridge_type(&self) -> Option<&'a str> {
        self.msg.get("BridgeType")
    }

    pub fn num_channels(&self) -> Option<u32> {
        self.msg.get("BridgeNumChannels")?.trim().parse().ok()
    }

    /// The channel entering or leaving (absent for Create/Destroy).
    pub fn channel(&self) -> ChannelView<'a> {
        ChannelView::new(self.msg, "")
    }
}

/// `OriginateResponse`: the outcome of an async `Originate`.
#[derive(Clone, Copy, Debug)]
pub struct OriginateResponse<'a> {
    msg: &'a Message,
}

impl<'a> OriginateResponse<'a> {
    pub fn action_id(&self) -> Option<&'a str> {
        self.msg.action_id()
    }

    /// `Success` or `Failure`.
    pub fn is_success(&self) -> bool {
        self.msg.response().is_some_and(|r| r.eq_ignore_ascii_case("Success"))
    }

    /// Asterisk's originate reason: 0 failed, 1 hung up, 3 ringing (no answer),
    /// 4 answered, 5 busy, 8 congestion. Not a reliable cause on its own.
    pub fn reason(&self) -> Option<u8> {
        self.msg.get("Reason")?.trim().parse().ok()
    }

    pub fn channel(&self) -> Option<&'a str> {
        self.msg.get("Channel")
    }

    pub fn uniqueid(&self) -> Option<&'a str> {
        self.msg.get("Uniqueid").filter(|u| !u.is_empty() && *u != "<null>")
    }
}

/// `ExtensionStatus` (also the items of `ExtensionStateList`).
#[derive(Clone, Copy, Debug)]
pub struct ExtensionStatus<'a> {
    msg: &'a Message,
}

impl<'a> ExtensionStatus<'a> {
    pub fn exten(&self) -> Option<&'a str> {
        self.msg.get("Exten")
    }

    pub fn context(&self) -> Option<&'a str> {
        self.msg.get("Context")
    }

    /// The devices behind the hint, e.g. `PJSIP/100&Custom:DND100`.
    pub fn hint(&self) -> Option<&'a str> {
        self.msg.get("Hint")
    }

    /// Bit field: -2 removed, -1 hint removed, 0 idle, 1 in use, 2 busy,
    /// 4 unavailable, 8 ringing, 16 on hold (combinations add up).
    pub fn status(&self) -> Option<i32> {
        self.msg.get("Status")?.trim().parse().ok()
    }

    /// `Idle`, `InUse`, `Ringing`, ... (absent before Asterisk 13).
    pub fn status_text(&self) -> Option<&'a str> {
        self.msg.get("StatusText")
    }
}

/// `DeviceStateChange` (also the items of `DeviceStateList`).
#[derive(Clone, Copy, Debug)]
pub struct DeviceStateChange<'a> {
    msg: &'a Message,
}

impl<'a> DeviceStateChange<'a> {
    /// `PJSIP/100`, `SIP/100`, `Custom:DND100`, `Queue:sales_avail`, ...
    pub fn device(&self) -> Option<&'a str> {
        self.msg.get("Device")
    }

    pub fn state(&self) -> DeviceStateCode {
        self.msg.get("State").map(DeviceStateCode::parse).unwrap_or(DeviceStateCode::Unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dial_begin_dest_prefix() {
        let m = Message::from_pairs([
            ("Event", "DialBegin"),
            ("Channel", "SIP/101-00000001"),
            ("Uniqueid", "1.1"),
            ("DestChannel", "SIP/100-00000002"),
            ("DestUniqueid", "1.2"),
            ("DestChannelState", "5"),
            ("DialString", "100"),
        ]);
        match AmiEvent::parse(&m) {
            AmiEvent::DialBegin(d) => {
                assert_eq!(d.caller().uniqueid(), Some("1.1"));
                assert_eq!(d.dest().uniqueid(), Some("1.2"));
                assert_eq!(d.dest().channel(), Some("SIP/100-00000002"));
                assert_eq!(d.dest().state(), Some(ChannelState::Ringing));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn legacy_state_text_and_uniqueid_case() {
        let m = Message::from_pairs([("Event", "Newstate"), ("State", "Ringing"), ("UniqueID", "x")]);
        match AmiEvent::parse(&m) {
            AmiEvent::Newstate(c) => {
                assert_eq!(c.state(), Some(ChannelState::Ringing));
                assert_eq!(c.uniqueid(), Some("x"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hangup_cause_and_unknown_events() {
        let m = Message::from_pairs([("Event", "Hangup"), ("Cause", "17"), ("Cause-txt", "User busy")]);
        assert!(
            matches!(AmiEvent::parse(&m), AmiEvent::Hangup(h) if h.cause() == Some(17) && h.cause_text() == Some("User busy"))
        );
        let m = Message::from_pairs([("Event", "RTCPSent")]);
        assert!(matches!(AmiEvent::parse(&m), AmiEvent::Other(_)));
    }

    #[test]
    fn state_codes_round_trip() {
        for code in 0..10u8 {
            let s = ChannelState::from_code(&code.to_string());
            assert_eq!(s.code(), code);
            assert_eq!(ChannelState::from_desc(s.desc()), s);
        }
        for s in [
            "NOT_INUSE",
            "INUSE",
            "BUSY",
            "INVALID",
            "UNAVAILABLE",
            "RINGING",
            "RINGINUSE",
            "ONHOLD",
            "UNKNOWN",
        ] {
            assert_eq!(DeviceStateCode::parse(s).as_str(), s);
        }
    }
}
