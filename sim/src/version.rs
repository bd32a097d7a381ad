//! Which Asterisk the simulator imitates. Versions differ in what a client can
//! see: the AMI banner, the channel drivers that exist (chan_sip is gone in 22),
//! and small differences in the events of a call, taken from the captures under
//! `tests/vectors/ami/asterisk20/` (chan_sip) and `tests/vectors/ami/asterisk22/`
//! (PJSIP).

use std::fmt;
use std::str::FromStr;

/// The major Asterisk version the simulator imitates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AsteriskVersion {
    /// Asterisk 18 (AMI 7.0.3; chan_sip and PJSIP).
    V18,
    /// Asterisk 20 (AMI 9.0.0; chan_sip and PJSIP). The default, as the simulator
    /// has always been.
    #[default]
    V20,
    /// Asterisk 22 (AMI 11.0.0; PJSIP only).
    V22,
}

impl AsteriskVersion {
    /// From the major version number (18, 20, 22); `None` for any other.
    pub fn from_major(major: u32) -> Option<Self> {
        match major {
            18 => Some(Self::V18),
            20 => Some(Self::V20),
            22 => Some(Self::V22),
            _ => None,
        }
    }

    /// The major version number.
    pub fn major(self) -> u32 {
        match self {
            Self::V18 => 18,
            Self::V20 => 20,
            Self::V22 => 22,
        }
    }

    /// `AMI_VERSION` of include/asterisk/manager.h at 18.26.4, 20.20.1 and 22.10.1.
    pub fn ami_version(self) -> &'static str {
        match self {
            Self::V18 => "7.0.3",
            Self::V20 => "9.0.0",
            Self::V22 => "11.0.0",
        }
    }

    /// The line Asterisk writes first on every manager connection (without CRLF).
    pub fn banner(self) -> String {
        format!("Asterisk Call Manager/{}", self.ami_version())
    }

    /// The phones' channel technology when none is chosen: chan_sip (`SIP`) for
    /// 18 and 20, as in the Asterisk 20 captures, `PJSIP` for 22.
    pub fn default_technology(self) -> &'static str {
        match self {
            Self::V18 | Self::V20 => "SIP",
            Self::V22 => "PJSIP",
        }
    }

    /// Whether this version has the channel technology `tech` (chan_sip was
    /// removed in Asterisk 21).
    pub fn has_technology(self, tech: &str) -> bool {
        tech.eq_ignore_ascii_case("PJSIP") || (tech.eq_ignore_ascii_case("SIP") && self != Self::V22)
    }

    /// Whether chan_pjsip creates an incoming channel already in state `Ring`
    /// (one `Newchannel`, no `Newstate Ring`), as the Asterisk 22 captures show.
    /// Older versions keep the chan_sip shape of the Asterisk 20 captures.
    pub(crate) fn ring_on_newchannel(self) -> bool {
        self == Self::V22
    }

    /// Whether `OriginateResponse` comes as soon as the originated phone answers,
    /// before its `DialEnd` (dial_answered.ami, 22), rather than once the
    /// dialplan dials the destination (originate_sip.ami, 20).
    pub(crate) fn early_originate_response(self) -> bool {
        self == Self::V22
    }

    /// Whether a blind transfer shows the transferee's dialplan jump as one
    /// `Newexten` of its current application before it leaves the bridge, and the
    /// transferer a `SoftHangupRequest` (blind_transfer.ami, 22).
    pub(crate) fn blind_transfer_goto(self) -> bool {
        self == Self::V22
    }
}

impl fmt::Display for AsteriskVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.major())
    }
}

impl FromStr for AsteriskVersion {
    type Err = String;

    /// `18`, `20` or `22` (a full version such as `22.10.1` is read by its major).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let major = s.trim().split('.').next().unwrap_or_default();
        major
            .parse::<u32>()
            .ok()
            .and_then(Self::from_major)
            .ok_or_else(|| format!("unsupported Asterisk version {s:?} (18, 20 or 22)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banners_and_technologies() {
        assert_eq!(AsteriskVersion::V18.banner(), "Asterisk Call Manager/7.0.3");
        assert_eq!(AsteriskVersion::default().banner(), "Asterisk Call Manager/9.0.0");
        assert_eq!(AsteriskVersion::V22.banner(), "Asterisk Call Manager/11.0.0");
        assert_eq!(AsteriskVersion::V20.default_technology(), "SIP");
        assert_eq!(AsteriskVersion::V22.default_technology(), "PJSIP");
        assert!(!AsteriskVersion::V22.has_technology("SIP"));
        assert!(AsteriskVersion::V20.has_technology("sip") && AsteriskVersion::V22.has_technology("PJSIP"));
        assert!(!AsteriskVersion::V20.has_technology("IAX2"));
    }

    #[test]
    fn parses_majors() {
        assert_eq!("22".parse(), Ok(AsteriskVersion::V22));
        assert_eq!(" 20.20.1 ".parse(), Ok(AsteriskVersion::V20));
        assert_eq!(AsteriskVersion::from_major(18), Some(AsteriskVersion::V18));
        assert!("21".parse::<AsteriskVersion>().is_err());
        assert!("x".parse::<AsteriskVersion>().is_err());
        assert_eq!(AsteriskVersion::V22.to_string(), "22");
    }
}
