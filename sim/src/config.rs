//! What the simulated PBX looks like: its phones, its AMI account, its timings.

use std::fmt;
use std::time::Duration;

use crate::version::AsteriskVersion;

/// Configuration of a [`Simulator`](crate::Simulator).
///
/// The defaults describe a small office PBX: phones `100`-`149` on PJSIP in
/// context `internal`, AMI user `admin` with secret `secret`, an originated call
/// that rings the first phone for 1 s and the destination for 2 s.
#[derive(Clone)]
pub struct SimConfig {
    /// The phones, by extension number. Each has a hint `TECH/EXT` in `context`
    /// and is registered (reachable) for the whole run.
    pub extensions: Vec<String>,
    /// AMI user name (compared without regard to case, as Asterisk does).
    pub username: String,
    /// AMI secret, for plain and MD5 login.
    pub secret: String,
    /// The Asterisk the simulator imitates: its AMI banner, which NOTIFY action
    /// exists, and the version's differences in call events. Default: 20.
    pub asterisk: AsteriskVersion,
    /// Channel technology of the phones: `PJSIP` (channels `PJSIP/100-0000000a`)
    /// or `SIP` (chan_sip naming, as in the Asterisk 20 captures; not on 22).
    /// [`SimConfig::for_asterisk`] picks the version's own.
    pub technology: String,
    /// Dialplan context of the phones and of their hints.
    pub context: String,
    /// `Originate`: how long the first phone rings before it answers.
    pub ring_delay: Duration,
    /// How long a called phone rings before it answers.
    pub answer_delay: Duration,
    /// Phones that ring but never answer (nobody at the desk): a call to one ends
    /// after `dial_timeout` with `DialStatus: NOANSWER` and cause 19, as `Dial(...,30)`
    /// does in Asterisk.
    pub no_answer: Vec<String>,
    /// How long `Dial()` rings a phone that does not answer.
    pub dial_timeout: Duration,
    /// Serve AMI over TLS (Asterisk's `amis`, usually port 5039).
    pub tls: Option<SimTls>,
    /// Each phone has a hint of its own (the default). `false` is a PBX with a pattern
    /// hint (`_1XX`, which Asterisk 22's `ExtensionStateList` skips) or none:
    /// `ExtensionStateList` is empty, no `ExtensionStatus` is sent, and `DeviceStateList`
    /// names a phone only once its state changed; `PJSIPShowEndpoints` (or `SIPpeers`)
    /// still lists every phone.
    pub hints: bool,
}

impl SimConfig {
    /// The defaults, imitating Asterisk `version` with its usual channel
    /// technology (chan_sip on 18 and 20, PJSIP on 22).
    pub fn for_asterisk(version: AsteriskVersion) -> Self {
        Self { asterisk: version, technology: version.default_technology().into(), ..Self::default() }
    }

    /// Extensions `first..=last` as strings (`100`, `101`, ...).
    pub fn extension_range(first: u32, last: u32) -> Vec<String> {
        (first..=last).map(|n| n.to_string()).collect()
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            extensions: Self::extension_range(100, 149),
            username: "admin".into(),
            secret: "secret".into(),
            asterisk: AsteriskVersion::default(),
            technology: "PJSIP".into(),
            context: "internal".into(),
            ring_delay: Duration::from_secs(1),
            answer_delay: Duration::from_secs(2),
            no_answer: Vec::new(),
            dial_timeout: Duration::from_secs(30),
            tls: None,
            hints: true,
        }
    }
}

impl fmt::Debug for SimConfig {
    /// The secret and the TLS key are not shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("extensions", &self.extensions.len())
            .field("username", &self.username)
            .field("secret", &"***")
            .field("asterisk", &self.asterisk)
            .field("technology", &self.technology)
            .field("context", &self.context)
            .field("ring_delay", &self.ring_delay)
            .field("answer_delay", &self.answer_delay)
            .field("tls", &self.tls.is_some())
            .field("hints", &self.hints)
            .finish()
    }
}

/// A PEM certificate chain and its PEM private key, to serve AMI over TLS.
#[derive(Clone)]
pub struct SimTls {
    /// One or more `CERTIFICATE` blocks, leaf first.
    pub cert_pem: String,
    /// One private key block (PKCS#8, PKCS#1 or SEC1).
    pub key_pem: String,
}

impl fmt::Debug for SimTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimTls").field("cert_pem", &self.cert_pem.len()).field("key_pem", &"***").finish()
    }
}

/// Why a simulator command was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// The extension is not one of the simulator's phones.
    #[error("no such extension {0:?}")]
    UnknownExtension(String),
    /// The calling phone is already in a call (the simulator's phones have one line).
    #[error("extension {0:?} is busy")]
    ExtensionBusy(String),
    /// The simulator has been shut down.
    #[error("the simulator is shut down")]
    ShutDown,
}
