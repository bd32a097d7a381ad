//! Which AstDB keys and lamps the PBX's dialplan reads for do-not-disturb and forwarding.
//!
//! Asterisk itself has no do-not-disturb or forwarding: the dialplan looks them up in the
//! AstDB before dialing a phone. Two layouts are in use. ctilink's own (the snippet in
//! examples/asterisk/extensions_ctilink.conf) and FreePBX's (its `donotdisturb` and
//! `callforward` modules, which every FreePBX feature code and the UCP write). They share
//! `DND/<ext>` = `YES`, `CF/<ext>` and `CFB/<ext>`, and differ in the no-answer key
//! (`CFNA` for ctilink, `CFU` for FreePBX) and in the lamps: FreePBX lights
//! `Custom:CF<ext>` while unconditional forwarding is on (`BUSY`, else `NOT_INUSE`), and
//! sends no event when a feature code changes forwarding, so the link re-reads the key
//! when that lamp changes.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;
use crate::model::ForwardKind;

/// The AstDB layout the PBX's dialplan follows for do-not-disturb and forwarding
/// (`SessionOptions::control.astdb`, `astdb=` in the URL).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AstDbConvention {
    /// ctilink's dialplan snippet: `DND`, `CF`, `CFB`, `CFNA`, and a
    /// `UserEvent: ctilink-forward` on every change (`astdb=1` or `astdb=ctilink`).
    #[default]
    Ctilink,
    /// FreePBX's modules: `DND`, `CF`, `CFB`, `CFU`, the `Custom:DND<ext>` and
    /// `Custom:CF<ext>` lamps (`astdb=freepbx`).
    FreePbx,
}

/// Every forwarding kind, in the order the link reads them.
pub(super) const KINDS: [ForwardKind; 3] = [ForwardKind::Immediate, ForwardKind::Busy, ForwardKind::NoAnswer];

/// The do-not-disturb family (both layouts).
pub(super) const DND_FAMILY: &str = "DND";

/// The prefix of FreePBX's unconditional-forwarding lamp, `Custom:CF<ext>`.
const CF_LAMP: &str = "Custom:CF";

impl AstDbConvention {
    /// The name used in URLs and bindings: `ctilink` or `freepbx`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ctilink => "ctilink",
            Self::FreePbx => "freepbx",
        }
    }

    /// The URL value of `astdb=`: `None` when the PBX follows no convention (`0`), the
    /// convention otherwise (`1` is ctilink's, for compatibility). `Err` for anything else.
    pub fn from_url_value(v: &str) -> Result<Option<Self>, Error> {
        match v.trim().to_ascii_lowercase().as_str() {
            "0" | "false" | "no" | "off" | "none" => Ok(None),
            "1" | "true" | "yes" | "on" | "" | "ctilink" => Ok(Some(Self::Ctilink)),
            "freepbx" => Ok(Some(Self::FreePbx)),
            other => Err(Error::InvalidArgument(format!(
                "unknown AstDB convention {other:?} (expected 0, 1, ctilink or freepbx)"
            ))),
        }
    }

    /// The AstDB family that holds forwarding of `kind`.
    pub fn family(self, kind: ForwardKind) -> &'static str {
        match (self, kind) {
            (_, ForwardKind::Immediate) => "CF",
            (_, ForwardKind::Busy) => "CFB",
            (Self::Ctilink, ForwardKind::NoAnswer) => "CFNA",
            (Self::FreePbx, ForwardKind::NoAnswer) => "CFU",
        }
    }

    /// The custom device state that shows forwarding of `kind` for `device`, if the
    /// convention keeps one (FreePBX: `CF<ext>` for unconditional forwarding only).
    pub(super) fn forward_lamp(self, kind: ForwardKind, device: &str) -> Option<String> {
        (self == Self::FreePbx && kind == ForwardKind::Immediate).then(|| format!("CF{device}"))
    }

    /// The device whose unconditional forwarding a `DeviceStateChange` of `Custom:...`
    /// announces, when the convention keeps such a lamp (FreePBX: `Custom:CF100`).
    pub(super) fn forward_lamp_device(self, state_device: &str) -> Option<&str> {
        if self != Self::FreePbx {
            return None;
        }
        let id = state_device.strip_prefix(CF_LAMP)?;
        (!id.is_empty()
            && id.len() <= 80
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .then_some(id)
    }

    /// The convention reads do-not-disturb from the AstDB at resync too: FreePBX lights
    /// `Custom:DND<ext>` only when its `USEDEVSTATE` setting is on, so the key is the truth.
    pub(super) fn reads_dnd_key(self) -> bool {
        self == Self::FreePbx
    }
}

impl fmt::Display for AstDbConvention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AstDbConvention {
    type Err = Error;

    /// `ctilink` or `freepbx` (any case).
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ctilink" => Ok(Self::Ctilink),
            "freepbx" => Ok(Self::FreePbx),
            other => Err(Error::InvalidArgument(format!(
                "unknown AstDB convention {other:?} (expected ctilink or freepbx)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_values() {
        assert_eq!(AstDbConvention::from_url_value("1").ok(), Some(Some(AstDbConvention::Ctilink)));
        assert_eq!(AstDbConvention::from_url_value("FreePBX").ok(), Some(Some(AstDbConvention::FreePbx)));
        assert_eq!(AstDbConvention::from_url_value("0").ok(), Some(None));
        assert!(AstDbConvention::from_url_value("maybe").is_err());
        assert_eq!("freepbx".parse::<AstDbConvention>().ok(), Some(AstDbConvention::FreePbx));
        assert!("1".parse::<AstDbConvention>().is_err());
    }

    #[test]
    fn families_and_lamps() {
        use AstDbConvention::*;
        assert_eq!(Ctilink.family(ForwardKind::NoAnswer), "CFNA");
        assert_eq!(FreePbx.family(ForwardKind::NoAnswer), "CFU");
        assert_eq!(FreePbx.family(ForwardKind::Busy), "CFB");
        assert_eq!(FreePbx.forward_lamp(ForwardKind::Immediate, "100").as_deref(), Some("CF100"));
        assert_eq!(FreePbx.forward_lamp(ForwardKind::Busy, "100"), None);
        assert_eq!(Ctilink.forward_lamp(ForwardKind::Immediate, "100"), None);
        assert_eq!(FreePbx.forward_lamp_device("Custom:CF100"), Some("100"));
        assert_eq!(FreePbx.forward_lamp_device("Custom:CFx/y"), None);
        assert_eq!(FreePbx.forward_lamp_device("Custom:DND100"), None);
        assert_eq!(Ctilink.forward_lamp_device("Custom:CF100"), None);
    }
}
