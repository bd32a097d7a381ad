//! The PBX simulator in-process, for trying the SDK and testing programs without a PBX.
//! The same simulator as `ctilink sim`: it speaks AMI over real TCP on the address given.

use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use ctilink_sim::{
    AsteriskVersion, SimConfig, SimError, SimHandle, SimTls, Simulator, TrafficConfig, TrafficHandle,
};
use napi::Either;
use napi_derive::napi;

use crate::error::coded;

/// What the simulated PBX looks like. Unset fields take the simulator's defaults.
#[napi(object)]
#[derive(Debug, Default)]
pub struct SimulatorOptions {
    /// Listen address; `127.0.0.1` by default.
    pub host: Option<String>,
    /// Listen port; `0` (any free port) by default.
    pub port: Option<u32>,
    /// The phones' extension numbers (`100`-`149` by default).
    pub extensions: Option<Vec<String>>,
    pub username: Option<String>,
    pub secret: Option<String>,
    /// The Asterisk imitated: 18, 20 (the default) or 22, or a version such as `22.10.1`.
    /// It sets the AMI banner, the default technology and the version's event differences.
    pub asterisk: Option<Either<f64, String>>,
    /// `PJSIP` or `SIP` (not on Asterisk 22); by default the version's own (`SIP` on 18
    /// and 20, `PJSIP` on 22), or `PJSIP` when `asterisk` is not given.
    pub technology: Option<String>,
    pub context: Option<String>,
    /// How long a click-to-dial rings the user's phone before it answers.
    pub ring_delay_ms: Option<u32>,
    /// How long a called phone rings before it answers.
    pub answer_delay_ms: Option<u32>,
    /// Phones that ring but never answer.
    pub no_answer: Option<Vec<String>>,
    /// How long `Dial()` rings a phone that does not answer.
    pub dial_timeout_ms: Option<u32>,
    /// Serve AMI over TLS with this PEM certificate chain and key.
    pub tls: Option<SimulatorTls>,
}

#[napi(object)]
#[derive(Debug)]
pub struct SimulatorTls {
    pub cert_pem: String,
    pub key_pem: String,
}

/// Random calls among the phones (see `TrafficConfig` in the simulator).
#[napi(object)]
#[derive(Debug, Default)]
pub struct TrafficOptions {
    pub calls_per_sec: f64,
    pub seed: Option<u32>,
    pub talk_min_ms: Option<u32>,
    pub talk_max_ms: Option<u32>,
    pub busy: Option<f64>,
    pub unknown: Option<f64>,
    pub no_answer: Option<f64>,
    pub hold: Option<f64>,
    pub transfer: Option<f64>,
}

/// What the simulated PBX holds now.
#[napi(object)]
#[derive(Debug)]
pub struct SimTruthInfo {
    pub devices: Vec<SimDeviceInfo>,
    pub channels: Vec<SimChannelInfo>,
    /// Phones with DND set in the AstDB.
    pub dnd: Vec<String>,
    pub forwards: Vec<SimForwardInfo>,
}

#[napi(object)]
#[derive(Debug)]
pub struct SimDeviceInfo {
    pub ext: String,
    /// `NOT_INUSE`, `INUSE`, `RINGING`, `RINGINUSE`, `ONHOLD`, `UNAVAILABLE`.
    pub state: String,
}

#[napi(object)]
#[derive(Debug)]
pub struct SimChannelInfo {
    pub name: String,
    pub ext: String,
    pub uniqueid: String,
    pub linkedid: String,
    pub state: String,
    pub held: bool,
    pub bridged_with: Vec<String>,
}

#[napi(object)]
#[derive(Debug)]
pub struct SimForwardInfo {
    pub ext: String,
    /// `immediate`, `busy` or `no_answer`.
    pub kind: String,
    pub to: String,
}

/// DTMF digits played to one channel.
#[napi(object)]
#[derive(Debug)]
pub struct SimDtmfInfo {
    pub channel: String,
    pub digits: String,
}

#[napi]
pub struct NativeSimulator {
    handle: SimHandle,
    traffic: Mutex<Option<TrafficHandle>>,
    /// The runtime the simulator runs on, for `Drop`: napi's own spawn panics once Node
    /// has shut the runtime down at exit, while a handle's spawn then just drops the task.
    runtime: tokio::runtime::Handle,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn ms(v: u32) -> Duration {
    Duration::from_millis(u64::from(v))
}

/// More phones than this in a restart is a mistake, not an office.
const MAX_EXTENSIONS: usize = 100_000;

fn sim_err(e: SimError) -> napi::Error {
    let code = match &e {
        SimError::UnknownExtension(_) => "ERR_SIM_UNKNOWN_EXTENSION",
        SimError::ExtensionBusy(_) => "ERR_SIM_EXTENSION_BUSY",
        SimError::ShutDown => "ERR_SIM_SHUT_DOWN",
    };
    coded(code, &e.to_string())
}

/// `asterisk`: 18, 20 or 22, as a number or a string (`"22"`, `"22.10.1"`).
fn asterisk_version(v: Either<f64, String>) -> napi::Result<AsteriskVersion> {
    match v {
        Either::A(n) => Some(n)
            .filter(|n| n.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(n))
            .and_then(|n| AsteriskVersion::from_major(n as u32))
            .ok_or_else(|| {
                coded("ERR_INVALID_ARGUMENT", &format!("unsupported Asterisk version {n} (18, 20 or 22)"))
            }),
        Either::B(s) => s.parse().map_err(|e: String| coded("ERR_INVALID_ARGUMENT", &e)),
    }
}

fn config(o: SimulatorOptions) -> napi::Result<SimConfig> {
    // Without `asterisk`, the simulator as it always was: Asterisk 20 with PJSIP phones.
    let d = match o.asterisk {
        Some(v) => SimConfig::for_asterisk(asterisk_version(v)?),
        None => SimConfig::default(),
    };
    if let Some(t) = o.technology.as_deref().filter(|t| !d.asterisk.has_technology(t)) {
        let msg = format!("Asterisk {} has no {t:?} channels (PJSIP, or SIP before 22)", d.asterisk);
        return Err(coded("ERR_INVALID_ARGUMENT", &msg));
    }
    Ok(SimConfig {
        extensions: o.extensions.unwrap_or(d.extensions),
        username: o.username.unwrap_or(d.username),
        secret: o.secret.unwrap_or(d.secret),
        technology: o.technology.unwrap_or(d.technology),
        context: o.context.unwrap_or(d.context),
        ring_delay: o.ring_delay_ms.map_or(d.ring_delay, ms),
        answer_delay: o.answer_delay_ms.map_or(d.answer_delay, ms),
        no_answer: o.no_answer.unwrap_or(d.no_answer),
        dial_timeout: o.dial_timeout_ms.map_or(d.dial_timeout, ms),
        tls: o.tls.map(|t| SimTls { cert_pem: t.cert_pem, key_pem: t.key_pem }),
        // The version, hints on, and the other defaults.
        ..d
    })
}

/// Starts a simulator listening on `host:port` (default `127.0.0.1:0`).
#[napi]
pub async fn start_simulator(options: Option<SimulatorOptions>) -> napi::Result<NativeSimulator> {
    let o = options.unwrap_or_default();
    let host = o.host.clone().unwrap_or_else(|| "127.0.0.1".into());
    let port = o.port.unwrap_or(0);
    let port = u16::try_from(port)
        .map_err(|_| coded("ERR_INVALID_ARGUMENT", &format!("port {port} out of range")))?;
    let ip = host
        .parse()
        .map_err(|_| coded("ERR_INVALID_ARGUMENT", &format!("host must be an IP address, not {host:?}")))?;
    let config = config(o)?;
    let handle = Simulator::start(config, SocketAddr::new(ip, port))
        .await
        .map_err(|e| coded("ERR_SIM_START", &format!("cannot start the simulator on {host}:{port}: {e}")))?;
    let runtime = tokio::runtime::Handle::current();
    Ok(NativeSimulator { handle, traffic: Mutex::new(None), runtime })
}

#[napi]
impl NativeSimulator {
    /// `ami://USER:SECRET@HOST:PORT`.
    #[napi(getter, catch_unwind)]
    pub fn url(&self) -> String {
        self.handle.url()
    }

    /// `url` with `?control=pjsip&astdb=1`: every command works against it.
    #[napi(getter, catch_unwind)]
    pub fn session_url(&self) -> String {
        self.handle.session_url()
    }

    #[napi(getter, catch_unwind)]
    pub fn port(&self) -> u32 {
        u32::from(self.handle.addr().port())
    }

    /// Phone `from` dials `to`.
    #[napi(catch_unwind)]
    pub fn place_call(&self, from: String, to: String) -> napi::Result<()> {
        self.handle.place_call(&from, &to).map_err(sim_err)
    }

    /// The user at `ext` answers its ringing call now; false if it does not ring.
    #[napi(catch_unwind)]
    pub fn answer_ext(&self, ext: String) -> bool {
        self.handle.answer_ext(&ext)
    }

    /// The user at `ext` hangs up (or rejects a ringing call); false if it has no call.
    #[napi(catch_unwind)]
    pub fn hangup_ext(&self, ext: String) -> bool {
        self.handle.hangup_ext(&ext)
    }

    #[napi(catch_unwind)]
    pub fn hangup_all(&self) {
        self.handle.hangup_all();
    }

    /// The phone registers again or goes away; false for an unknown extension.
    #[napi(catch_unwind)]
    pub fn set_registered(&self, ext: String, registered: bool) -> bool {
        self.handle.set_registered(&ext, registered)
    }

    /// Refuses `action` with `Permission denied` (or allows it again).
    #[napi(catch_unwind)]
    pub fn set_action_allowed(&self, action: String, allowed: bool) {
        self.handle.set_action_allowed(&action, allowed);
    }

    /// Makes the PBX not know `action` (or know it again).
    #[napi(catch_unwind)]
    pub fn set_action_known(&self, action: String, known: bool) {
        self.handle.set_action_known(&action, known);
    }

    /// Changes the AMI secret for logins from now on.
    #[napi(catch_unwind)]
    pub fn set_secret(&self, secret: String) {
        self.handle.set_secret(&secret);
    }

    /// Sends one `UserEvent` with these fields, in order.
    #[napi(catch_unwind)]
    pub fn emit_user_event(&self, name: String, fields: Option<Vec<Vec<String>>>) -> napi::Result<()> {
        let fields = fields.unwrap_or_default();
        let mut pairs = Vec::with_capacity(fields.len());
        for f in &fields {
            match f.as_slice() {
                [k, v] => pairs.push((k.as_str(), v.as_str())),
                _ => return Err(coded("ERR_INVALID_ARGUMENT", "each field is a [name, value] pair")),
            }
        }
        self.handle.emit_user_event(&name, &pairs);
        Ok(())
    }

    /// Sends `n` small `UserEvent`s (`UserEvent: Burst`, `Seq: 1..=n`) as fast as each
    /// connection takes them.
    #[napi(catch_unwind)]
    pub fn emit_burst(&self, n: u32) {
        self.handle.emit_burst(n as usize);
    }

    /// Starts random calls (replacing traffic started before).
    #[napi(catch_unwind)]
    pub fn start_traffic(&self, options: TrafficOptions) {
        let d = TrafficConfig::default();
        let cfg = TrafficConfig {
            calls_per_sec: options.calls_per_sec,
            seed: options.seed.map_or(d.seed, u64::from),
            talk_min: options.talk_min_ms.map_or(d.talk_min, ms),
            talk_max: options.talk_max_ms.map_or(d.talk_max, ms),
            busy: options.busy.unwrap_or(d.busy),
            unknown: options.unknown.unwrap_or(d.unknown),
            no_answer: options.no_answer.unwrap_or(d.no_answer),
            hold: options.hold.unwrap_or(d.hold),
            transfer: options.transfer.unwrap_or(d.transfer),
        };
        *lock(&self.traffic) = Some(self.handle.start_traffic(cfg));
    }

    /// Stops random calls; returns how many were started. Calls in progress go on.
    #[napi(catch_unwind)]
    pub fn stop_traffic(&self) -> u32 {
        let traffic = lock(&self.traffic).take();
        match traffic {
            Some(t) => {
                t.stop();
                u32::try_from(t.calls_started()).unwrap_or(u32::MAX)
            }
            None => 0,
        }
    }

    /// The PBX restarts with other phones: `extensions` replace its phones, every call ends
    /// without an event and every client connection closes. A session reconnects, and its
    /// resync removes the phones that are gone (`device_removed`).
    #[napi(catch_unwind)]
    pub fn restart(&self, extensions: Vec<String>) -> napi::Result<()> {
        if extensions.is_empty() || extensions.len() > MAX_EXTENSIONS {
            let msg = format!("between 1 and {MAX_EXTENSIONS} extensions, not {}", extensions.len());
            return Err(coded("ERR_INVALID_ARGUMENT", &msg));
        }
        self.handle.restart(extensions).map_err(sim_err)
    }

    /// Closes every client connection at once (a PBX restart).
    #[napi(catch_unwind)]
    pub fn drop_connections(&self) {
        self.handle.drop_connections();
    }

    /// Every connection goes silent for `ms` (a hung PBX).
    #[napi(catch_unwind)]
    pub fn stall(&self, ms_: u32) {
        self.handle.stall(ms(ms_));
    }

    #[napi(catch_unwind)]
    pub fn truth(&self) -> SimTruthInfo {
        let t = self.handle.truth();
        SimTruthInfo {
            devices: t.devices.into_iter().map(|d| SimDeviceInfo { ext: d.ext, state: d.state }).collect(),
            channels: t
                .channels
                .into_iter()
                .map(|c| SimChannelInfo {
                    name: c.name,
                    ext: c.ext,
                    uniqueid: c.uniqueid,
                    linkedid: c.linkedid,
                    state: c.state,
                    held: c.held,
                    bridged_with: c.bridged_with,
                })
                .collect(),
            dnd: t.dnd,
            forwards: t
                .forwards
                .into_iter()
                .map(|(ext, kind, to)| SimForwardInfo { ext, kind, to })
                .collect(),
        }
    }

    #[napi(catch_unwind)]
    pub fn dtmf_received(&self) -> Vec<SimDtmfInfo> {
        let d = self.handle.dtmf_received();
        d.into_iter().map(|(channel, digits)| SimDtmfInfo { channel, digits }).collect()
    }

    /// Client sockets open now.
    #[napi(catch_unwind)]
    pub fn connections(&self) -> u32 {
        u32::try_from(self.handle.connections()).unwrap_or(u32::MAX)
    }

    #[napi(catch_unwind)]
    pub fn logins(&self) -> f64 {
        self.handle.logins() as f64
    }

    #[napi(catch_unwind)]
    pub fn failed_logins(&self) -> f64 {
        self.handle.failed_logins() as f64
    }

    #[napi(catch_unwind)]
    pub fn actions_received(&self) -> f64 {
        self.handle.actions_received() as f64
    }

    #[napi(catch_unwind)]
    pub fn active_channels(&self) -> u32 {
        u32::try_from(self.handle.active_channels()).unwrap_or(u32::MAX)
    }

    /// Stops accepting, closes every connection and waits for the server to end.
    #[napi]
    pub async fn shutdown(&self) {
        lock(&self.traffic).take();
        self.handle.clone().shutdown().await;
    }
}

impl Drop for NativeSimulator {
    /// Garbage-collected without `shutdown()`: a simulator nobody can reach any more would
    /// otherwise hold its port until the process ends.
    fn drop(&mut self) {
        let handle = self.handle.clone();
        drop(self.runtime.spawn(handle.shutdown()));
    }
}
