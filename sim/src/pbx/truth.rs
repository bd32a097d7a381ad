//! The simulator's own view of its phones and channels ([`SimTruth`]), for tests
//! that compare what a client believes with what the PBX really has.

use super::Pbx;

/// What the simulated PBX holds at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimTruth {
    /// Every phone, in configuration order.
    pub devices: Vec<SimDevice>,
    /// Every channel, in creation order.
    pub channels: Vec<SimChannel>,
    /// Phones with `DND/<ext>` set in the AstDB, sorted.
    pub dnd: Vec<String>,
    /// Forwards set in the AstDB: `(ext, kind, target)`, kind `immediate`
    /// (`CF`), `busy` (`CFB`) or `no_answer` (`CFNA`, or FreePBX's `CFU`).
    pub forwards: Vec<(String, String, String)>,
}

/// One phone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimDevice {
    pub ext: String,
    /// As `DeviceStateChange` `State:` reports it: `NOT_INUSE`, `INUSE`,
    /// `RINGING`, `RINGINUSE`, `ONHOLD`.
    pub state: String,
}

/// One channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimChannel {
    /// `PJSIP/100-0000000a`.
    pub name: String,
    /// The phone it belongs to.
    pub ext: String,
    pub uniqueid: String,
    pub linkedid: String,
    /// `ChannelStateDesc`: `Down`, `Ring`, `Ringing`, `Up`, `Busy`.
    pub state: String,
    /// Its phone holds it.
    pub held: bool,
    /// The other channels in its bridge, by name.
    pub bridged_with: Vec<String>,
}

impl Pbx {
    pub(crate) fn truth(&self) -> SimTruth {
        let devices = self
            .extensions
            .iter()
            .map(|e| SimDevice { ext: e.clone(), state: self.device_state(e).as_str().to_owned() })
            .collect();
        let channels = self
            .channels
            .values()
            .map(|c| SimChannel {
                name: c.name.clone(),
                ext: c.ext.clone(),
                uniqueid: c.uniqueid.clone(),
                linkedid: c.linkedid.clone(),
                state: c.state.desc().to_owned(),
                held: c.held,
                bridged_with: match &c.bridge {
                    Some(b) => self
                        .channels
                        .values()
                        .filter(|o| o.name != c.name && o.bridge.as_ref() == Some(b))
                        .map(|o| o.name.clone())
                        .collect(),
                    None => Vec::new(),
                },
            })
            .collect();
        let dnd = self.db.family("DND").into_iter().map(|(k, _)| k).collect();
        let mut forwards = Vec::new();
        for (family, kind) in
            [("CF", "immediate"), ("CFB", "busy"), ("CFNA", "no_answer"), ("CFU", "no_answer")]
        {
            for (ext, target) in self.db.family(family) {
                forwards.push((ext, kind.to_owned(), target));
            }
        }
        SimTruth { devices, channels, dnd, forwards }
    }
}
