//! Who a client is and what it may see and do.
//!
//! A token names the devices its client may monitor and the devices it may control. The
//! rule (docs/gateway.md, "Access control"):
//! - a device event (state, presence, DND, forwarding) reaches the client only for a
//!   monitored device;
//! - a call is visible from the moment a monitored device takes part in it until it is
//!   cleared, and then every event of it reaches the client, including the connections
//!   of the other parties (who answered, who it was transferred to), as a CSTA call
//!   monitor reports a call and as the phone's display shows the other party;
//! - calls no monitored device took part in, and devices outside the list, are never
//!   mentioned: not in events, not in snapshots, not in `resynced`'s lists;
//! - a command acts only for a controlled device, and only on a call the client sees
//!   (one it does not see is answered as if it did not exist).
//!
//! Tokens are kept as SHA-256 digests and looked up by comparing the digest of what a
//! client sent with every configured one in constant time, so neither the time a refusal
//! takes nor any log tells how close a guess was.

use std::collections::HashSet;
use std::sync::Arc;

use ctilink::model::{Call, DeviceId, Event};
use ctilink::{CallId, Command, Error, Secret};
use ring::digest;

use crate::config::TokenConfig;

/// A set of devices, or all of them. With several PBXs an entry may be `PBX/*`: every
/// device of that PBX, now or added later (kept as the entry itself, so that the hub
/// indexes it like a device and a device's lookup tries its PBX's entry too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Devices {
    All,
    Some(HashSet<String>),
}

/// The `PBX/*` entry that covers `device` (`berlin/100`), if it has a PBX part.
pub fn pbx_entry(device: &str) -> Option<String> {
    ctilink::link::multi::ids::split(device).map(|(pbx, _)| format!("{pbx}/*"))
}

impl Devices {
    fn from_list(list: &[String]) -> Self {
        if list.iter().any(|d| d == "*") {
            Devices::All
        } else {
            Devices::Some(list.iter().cloned().collect())
        }
    }

    pub fn contains(&self, device: &str) -> bool {
        match self {
            Devices::All => true,
            Devices::Some(s) => s.contains(device) || pbx_entry(device).is_some_and(|e| s.contains(&e)),
        }
    }

    /// The list as `welcome` shows it (sorted; `["*"]` for all).
    pub fn to_list(&self) -> Vec<String> {
        match self {
            Devices::All => vec!["*".to_owned()],
            Devices::Some(s) => {
                let mut v: Vec<String> = s.iter().cloned().collect();
                v.sort();
                v
            }
        }
    }
}

/// What one token allows.
#[derive(Debug)]
pub struct Access {
    pub identity: String,
    pub monitor: Devices,
    pub control: Devices,
    pub user_events: bool,
}

impl Access {
    /// Whether a call is one this client may see now: a monitored device is in it, or
    /// was (`seen`: the calls the hub tracks as visible to the client).
    pub fn sees_call(&self, call: &Call, seen: bool) -> bool {
        seen || call.connections.iter().any(|k| self.monitor.contains(k.device.as_str()))
    }

    /// Whether a monitored device is named in the event (as its device, or as a party of a
    /// transfer, a diversion or a conference), so that its call becomes visible.
    pub fn names_monitored(&self, ev: &Event) -> bool {
        let m = |d: &DeviceId| self.monitor.contains(d.as_str());
        if ev.device().is_some_and(m) {
            return true;
        }
        match ev {
            Event::Transferred { transferred, targets, .. } => {
                m(&transferred.device) || targets.iter().any(|t| m(&t.device))
            }
            Event::Diverted { from, .. } => m(&from.device),
            Event::Conferenced { parties, .. } => parties.iter().any(m),
            _ => false,
        }
    }

    /// Checks a command against the token and the model as the upstream link holds it.
    /// `call` looks a call up; `seen` says whether the client saw it before.
    pub fn check(
        &self,
        cmd: &Command,
        call: impl Fn(&CallId) -> Option<Call>,
        seen: impl Fn(&CallId) -> bool,
    ) -> Result<(), Error> {
        let control = |d: &DeviceId| {
            if self.control.contains(d.as_str()) {
                Ok(())
            } else {
                Err(Error::NotAllowed(format!("device {d} is not in this client's control list")))
            }
        };
        // A call the client does not see is, to it, a call that does not exist.
        let visible = |c: &CallId| match call(c) {
            Some(k) if self.sees_call(&k, seen(c)) => Ok(k),
            _ => Err(Error::UnknownCall(c.to_string())),
        };
        let has_controlled = |k: &Call| {
            if k.connections.iter().any(|x| self.control.contains(x.device.as_str())) {
                Ok(())
            } else {
                Err(Error::NotAllowed(format!("no device of call {} is in this client's control list", k.id)))
            }
        };
        match cmd {
            Command::MakeCall { from, .. } => control(from),
            Command::Answer { call, device }
            | Command::ClearConnection { call, device }
            | Command::Hold { call, device }
            | Command::Retrieve { call, device }
            | Command::SingleStepTransfer { call, device, .. }
            | Command::ConsultationCall { call, device, .. }
            | Command::Deflect { call, device, .. }
            | Command::SendDtmf { call, device, .. } => {
                control(device)?;
                visible(call).map(drop)
            }
            Command::ClearCall { call } => has_controlled(&visible(call)?),
            Command::TransferCall { held, active } => {
                has_controlled(&visible(held)?)?;
                has_controlled(&visible(active)?)
            }
            Command::Pickup { device, target } => {
                control(device)?;
                let as_call = CallId::new(target);
                if visible(&as_call).is_ok() || self.monitor.contains(target) {
                    Ok(())
                } else {
                    Err(Error::NotAllowed(format!("pickup target {target} is not one this client monitors")))
                }
            }
            Command::SetDoNotDisturb { device, .. } | Command::SetForwarding { device, .. } => {
                control(device)
            }
            other => Err(Error::NotAllowed(format!("the gateway does not forward {}", other.name()))),
        }
    }
}

/// The configured tokens, as digests.
#[derive(Debug)]
pub struct Tokens {
    entries: Vec<([u8; 32], Arc<Access>)>,
}

fn sha256(b: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, b);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

fn from_hex(h: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(h.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Equal in time that depends on the length only (always 32 here).
fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // Through black_box so the compiler cannot turn the fold back into an early exit.
    std::hint::black_box(diff) == 0
}

impl Tokens {
    /// From the configuration (checked already: each has a token or a valid digest).
    pub fn new(configs: &[TokenConfig]) -> Self {
        let entries = configs
            .iter()
            .filter_map(|t| {
                let digest = match (&t.token, &t.token_sha256) {
                    (Some(s), _) => sha256(s.expose().as_bytes()),
                    (None, Some(h)) => from_hex(h)?,
                    (None, None) => return None,
                };
                let access = Access {
                    identity: t.identity.clone(),
                    monitor: Devices::from_list(&t.monitor),
                    control: Devices::from_list(&t.control),
                    user_events: t.user_events,
                };
                Some((digest, Arc::new(access)))
            })
            .collect();
        Tokens { entries }
    }

    /// What `token` allows; every entry is compared, whatever matched.
    pub fn lookup(&self, token: &Secret) -> Option<Arc<Access>> {
        let want = sha256(token.expose().as_bytes());
        let mut found = None;
        for (digest, access) in &self.entries {
            if ct_eq(digest, &want) && found.is_none() {
                found = Some(access.clone());
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use ctilink::model::{Connection, ConnectionState, Party};

    use super::*;

    fn token(t: &str, id: &str, monitor: &[&str], control: &[&str]) -> TokenConfig {
        TokenConfig {
            token: Some(Secret::new(t)),
            token_sha256: None,
            identity: id.into(),
            monitor: monitor.iter().map(|s| s.to_string()).collect(),
            control: control.iter().map(|s| s.to_string()).collect(),
            user_events: false,
        }
    }

    fn call(id: &str, devices: &[&str]) -> Call {
        Call {
            id: CallId::new(id),
            calling_device: None,
            caller: Party::default(),
            called: Party::default(),
            connections: devices
                .iter()
                .map(|d| Connection {
                    device: (*d).into(),
                    channel: format!("PJSIP/{d}-1"),
                    state: ConnectionState::Connected,
                })
                .collect(),
            answered: true,
            diverted: None,
            click_to_dial: false,
        }
    }

    #[test]
    fn tokens_are_found_by_value_or_digest_and_nothing_else() {
        let hex = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"; // sha256("password")
        let mut by_digest = token("x", "b", &[], &[]);
        by_digest.token = None;
        by_digest.token_sha256 = Some(hex.into());
        let t = Tokens::new(&[token("desk-100-token-0123456789", "a", &["100"], &["100"]), by_digest]);
        assert_eq!(
            t.lookup(&Secret::new("desk-100-token-0123456789")).map(|a| a.identity.clone()).as_deref(),
            Some("a")
        );
        assert_eq!(t.lookup(&Secret::new("password")).map(|a| a.identity.clone()).as_deref(), Some("b"));
        assert!(t.lookup(&Secret::new("desk-100-token-012345678")).is_none());
        assert!(t.lookup(&Secret::new("")).is_none());
    }

    #[test]
    fn commands_act_only_for_controlled_devices_on_visible_calls() {
        let t = Tokens::new(&[token("desk-100-token-0123456789", "a", &["100", "101"], &["100"])]);
        let a = t.lookup(&Secret::new("desk-100-token-0123456789")).expect("token");
        let calls =
            [call("mine", &["100", "200"]), call("other", &["102", "103"]), call("seen", &["101", "104"])];
        let look = |c: &CallId| calls.iter().find(|k| k.id == *c).cloned();
        let never = |_: &CallId| false;
        let ok = |cmd: Command| a.check(&cmd, look, never);
        assert!(ok(Command::MakeCall { from: "100".into(), to: "0301234567".into(), id: None }).is_ok());
        assert!(matches!(
            ok(Command::MakeCall { from: "101".into(), to: "1".into(), id: None }),
            Err(Error::NotAllowed(_))
        ));
        assert!(ok(Command::ClearConnection { call: "mine".into(), device: "100".into() }).is_ok());
        // Another device's call is unknown to this client, whether or not it exists.
        let other = ok(Command::ClearConnection { call: "other".into(), device: "100".into() });
        let none = ok(Command::ClearConnection { call: "nope".into(), device: "100".into() });
        assert!(matches!(other, Err(Error::UnknownCall(_))) && matches!(none, Err(Error::UnknownCall(_))));
        assert!(matches!(ok(Command::ClearCall { call: "other".into() }), Err(Error::UnknownCall(_))));
        // Visible (101 is monitored) but no controlled device in it.
        assert!(matches!(ok(Command::ClearCall { call: "seen".into() }), Err(Error::NotAllowed(_))));
        assert!(ok(Command::ClearCall { call: "mine".into() }).is_ok());
        assert!(matches!(
            ok(Command::Pickup { device: "100".into(), target: "103".into() }),
            Err(Error::NotAllowed(_))
        ));
        assert!(ok(Command::Pickup { device: "100".into(), target: "101".into() }).is_ok());
        assert!(matches!(
            ok(Command::SetDoNotDisturb { device: "101".into(), on: true }),
            Err(Error::NotAllowed(_))
        ));
        // A call the client saw (a monitored device was in it) stays visible.
        assert!(a
            .check(
                &Command::SendDtmf { call: "other".into(), device: "100".into(), digits: "1".into() },
                look,
                |_| true
            )
            .is_ok());
    }

    #[test]
    fn all_devices() {
        let t = Tokens::new(&[token("supervisor-token-0123456789", "s", &["*"], &["*"])]);
        let a = t.lookup(&Secret::new("supervisor-token-0123456789")).expect("token");
        assert!(a.monitor.contains("anything") && a.control.contains("anything"));
        assert_eq!(a.monitor.to_list(), ["*"]);
    }

    #[test]
    fn a_pbx_entry_covers_that_pbx_only() {
        let t = Tokens::new(&[token("berlin-desk-token-0123456789", "b", &["berlin/*"], &["berlin/*"])]);
        let a = t.lookup(&Secret::new("berlin-desk-token-0123456789")).expect("token");
        assert!(a.monitor.contains("berlin/100") && a.control.contains("berlin/anything"));
        assert!(!a.monitor.contains("hamburg/100"));
        assert!(!a.monitor.contains("100"), "an id without a PBX is no PBX's");
        assert!(!a.monitor.contains("berlin"));
        assert_eq!(a.monitor.to_list(), ["berlin/*"]);
        let calls = [call("hamburg/1.1", &["hamburg/100", "hamburg/101"])];
        let look = |c: &CallId| calls.iter().find(|k| k.id == *c).cloned();
        let r = a.check(
            &Command::MakeCall { from: "hamburg/100".into(), to: "101".into(), id: None },
            look,
            |_| false,
        );
        assert!(matches!(r, Err(Error::NotAllowed(_))), "{r:?}");
        let r = a.check(&Command::ClearCall { call: "hamburg/1.1".into() }, look, |_| false);
        assert!(matches!(r, Err(Error::UnknownCall(_))), "{r:?}");
    }
}
