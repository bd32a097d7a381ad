//! `ctilink.Simulator`: the PBX simulator in-process, so that scripts and their tests run
//! with no PBX. It serves AMI over real TCP on the ctilink runtime; a session connects to
//! it exactly as to Asterisk.

use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use ctilink_sim::{AsteriskVersion, SimConfig, SimHandle, Simulator, TrafficConfig, TrafficHandle};

use crate::errors;
use crate::wait::{block_on, seconds};

/// More phones than this is a typo, not an office.
const MAX_EXTENSIONS: usize = 100_000;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `100-149`, `100,101,200`, or both mixed, as `ctilink sim --extensions` takes them.
fn parse_extensions(spec: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let a: u32 = a.trim().parse().map_err(|_| format!("bad range start in {part:?}"))?;
                let b: u32 = b.trim().parse().map_err(|_| format!("bad range end in {part:?}"))?;
                if b < a || (b - a) as usize >= MAX_EXTENSIONS {
                    return Err(format!("bad range {part:?}"));
                }
                out.extend(SimConfig::extension_range(a, b));
            }
            None => out.push(part.to_owned()),
        }
    }
    Ok(out)
}

fn extensions(value: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    let list = match value.cast::<PyString>() {
        Ok(s) => parse_extensions(&s.to_cow()?).map_err(PyValueError::new_err)?,
        Err(_) => value.extract::<Vec<String>>()?,
    };
    if list.is_empty() || list.len() > MAX_EXTENSIONS {
        return Err(PyValueError::new_err(format!(
            "between 1 and {MAX_EXTENSIONS} extensions, not {}",
            list.len()
        )));
    }
    if let Some(bad) = list.iter().find(|e| e.is_empty() || !e.chars().all(|c| c.is_ascii_alphanumeric())) {
        return Err(PyValueError::new_err(format!("bad extension {bad:?}: letters and digits only")));
    }
    Ok(list)
}

/// `asterisk=`: 18, 20 or 22, as a number or a string (`"22"`, `"22.10.1"`). Anything else
/// is `InvalidArgument`, as `ctilink sim --asterisk` refuses it.
fn asterisk_version(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<AsteriskVersion> {
    let invalid = |shown: String| {
        errors::error(py, "InvalidArgument", format!("unsupported Asterisk version {shown} (18, 20 or 22)"))
    };
    if let Ok(s) = value.cast::<PyString>() {
        return s.to_cow()?.parse().map_err(|e: String| errors::error(py, "InvalidArgument", e));
    }
    if value.is_instance_of::<pyo3::types::PyBool>() {
        return Err(invalid(value.repr()?.to_string()));
    }
    match value.extract::<i64>() {
        Ok(n) => {
            u32::try_from(n).ok().and_then(AsteriskVersion::from_major).ok_or_else(|| invalid(n.to_string()))
        }
        Err(_) => Err(invalid(value.repr()?.to_string())),
    }
}

fn duration(py: Python<'_>, what: &str, s: f64) -> PyResult<Duration> {
    seconds(py, what, Some(s)).map(|d| d.unwrap_or_default())
}

/// A simulated PBX (phones that ring, answer, hold and transfer) serving AMI on a local TCP
/// port, for trying and testing scripts without a PBX.
#[pyclass(frozen, module = "ctilink", name = "Simulator")]
#[derive(Debug)]
pub(crate) struct PySimulator {
    handle: Mutex<Option<SimHandle>>,
    traffic: Mutex<Option<TrafficHandle>>,
    url: String,
    session_url: String,
    addr: SocketAddr,
}

impl PySimulator {
    fn handle(&self, py: Python<'_>) -> PyResult<SimHandle> {
        lock(&self.handle)
            .clone()
            .ok_or_else(|| errors::error(py, "SimulatorError", "the simulator is shut down".into()))
    }

    /// Runs `f` on the handle inside the runtime (the simulator spawns its timers there).
    fn with<R>(&self, py: Python<'_>, f: impl FnOnce(&SimHandle) -> R) -> PyResult<R> {
        let h = self.handle(py)?;
        let _guard = crate::runtime()?.enter();
        Ok(f(&h))
    }
}

#[pymethods]
impl PySimulator {
    /// Starts a simulator; durations are in seconds. `extensions` is a list or a spec such
    /// as `"100-149"`; phones in `no_answer` ring until `dial_timeout`. `asterisk` (18, 20 or
    /// 22) is the Asterisk imitated; `technology` defaults to its own (`SIP` on 18 and 20,
    /// `PJSIP` on 22), or to `PJSIP` on the default Asterisk 20.
    #[new]
    #[pyo3(signature = (
        *, extensions=None, listen="127.0.0.1:0", username="admin", secret="secret",
        technology=None, context="internal", ring_delay=1.0, answer_delay=2.0,
        no_answer=Vec::new(), dial_timeout=30.0, asterisk=None,
    ))]
    #[allow(clippy::too_many_arguments)] // One keyword per setting, as Python users pass them.
    fn new(
        py: Python<'_>,
        extensions: Option<&Bound<'_, PyAny>>,
        listen: &str,
        username: &str,
        secret: &str,
        technology: Option<&str>,
        context: &str,
        ring_delay: f64,
        answer_delay: f64,
        no_answer: Vec<String>,
        dial_timeout: f64,
        asterisk: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let addr: SocketAddr = listen
            .parse()
            .map_err(|_| PyValueError::new_err(format!("listen must be HOST:PORT, not {listen:?}")))?;
        // Without `asterisk`, the simulator as it always was: Asterisk 20 with PJSIP phones.
        let base = match asterisk {
            Some(v) => SimConfig::for_asterisk(asterisk_version(py, v)?),
            None => SimConfig::default(),
        };
        let technology = technology.map_or_else(|| base.technology.clone(), str::to_owned);
        if !base.asterisk.has_technology(&technology) {
            return Err(errors::error(
                py,
                "InvalidArgument",
                format!(
                    "Asterisk {} has no {technology:?} channels (PJSIP, or SIP before 22)",
                    base.asterisk
                ),
            ));
        }
        let cfg = SimConfig {
            extensions: match extensions {
                Some(e) => self::extensions(e)?,
                None => base.extensions.clone(),
            },
            username: username.to_owned(),
            secret: secret.to_owned(),
            technology,
            context: context.to_owned(),
            ring_delay: duration(py, "ring_delay", ring_delay)?,
            answer_delay: duration(py, "answer_delay", answer_delay)?,
            no_answer,
            dial_timeout: duration(py, "dial_timeout", dial_timeout)?,
            tls: None,
            // The version, hints on, and the other defaults.
            ..base
        };
        let handle = block_on(py, Simulator::start(cfg, addr))?.map_err(|e| {
            pyo3::exceptions::PyOSError::new_err(format!("cannot start the simulator on {addr}: {e}"))
        })?;
        Ok(PySimulator {
            url: handle.url(),
            session_url: handle.session_url(),
            addr: handle.addr(),
            handle: Mutex::new(Some(handle)),
            traffic: Mutex::new(None),
        })
    }

    /// `ami://USER:SECRET@127.0.0.1:PORT`.
    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    /// `url` with `?control=pjsip&astdb=1`: the options under which every command works.
    #[getter]
    fn session_url(&self) -> &str {
        &self.session_url
    }

    /// The TCP port it listens on (the real one when started on port 0).
    #[getter]
    fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Phone `from_` dials `to`: `to` rings, and answers after `answer_delay`.
    fn place_call(&self, py: Python<'_>, from_: &str, to: &str) -> PyResult<()> {
        self.with(py, |h| h.place_call(from_, to))?
            .map_err(|e| errors::error(py, "SimulatorError", e.to_string()))
    }

    /// The user of phone `ext` answers its ringing call now; `False` if it does not ring.
    fn answer_ext(&self, py: Python<'_>, ext: &str) -> PyResult<bool> {
        self.with(py, |h| h.answer_ext(ext))
    }

    /// The user of phone `ext` hangs up (or rejects a ringing call: busy); `False` if the
    /// phone has no call.
    fn hangup_ext(&self, py: Python<'_>, ext: &str) -> PyResult<bool> {
        self.with(py, |h| h.hangup_ext(ext))
    }

    /// Ends every call as if each calling phone hung up.
    fn hangup_all(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |h| h.hangup_all())
    }

    /// Unplugs phone `ext` (`False`) or plugs it in again; `False` for an unknown phone.
    fn set_registered(&self, py: Python<'_>, ext: &str, registered: bool) -> PyResult<bool> {
        self.with(py, |h| h.set_registered(ext, registered))
    }

    /// Refuses `action` with `Permission denied`, as for an AMI user without the right.
    fn set_action_allowed(&self, py: Python<'_>, action: &str, allowed: bool) -> PyResult<()> {
        self.with(py, |h| h.set_action_allowed(action, allowed))
    }

    /// Makes the PBX not know `action` (`Invalid/unknown command`).
    fn set_action_known(&self, py: Python<'_>, action: &str, known: bool) -> PyResult<()> {
        self.with(py, |h| h.set_action_known(action, known))
    }

    /// Changes the AMI secret for logins from now on.
    fn set_secret(&self, py: Python<'_>, secret: &str) -> PyResult<()> {
        self.with(py, |h| h.set_secret(secret))
    }

    /// Sends one AMI `UserEvent` to every logged-in client.
    #[pyo3(signature = (name, fields=Vec::new()))]
    fn emit_user_event(&self, py: Python<'_>, name: &str, fields: Vec<(String, String)>) -> PyResult<()> {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.with(py, |h| h.emit_user_event(name, &fields))
    }

    /// Sends `n` small `UserEvent`s (`UserEvent: Burst`, `Seq: 1..n`) as fast as each client
    /// reads: a load for measuring event throughput.
    fn emit_burst(&self, py: Python<'_>, n: usize) -> PyResult<()> {
        self.with(py, |h| h.emit_burst(n))
    }

    /// Writes `data` verbatim to every logged-in client: AMI the simulator does not make
    /// itself (queues, conferences, presence), or junk.
    fn send_raw(&self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        self.with(py, |h| h.send_raw(data))
    }

    /// The PBX restarts with other phones: `extensions` (a list or a spec such as
    /// `"150-249"`) replace its phones, every call ends without an event and every client
    /// connection closes. A session reconnects, and its resync removes the phones that are
    /// gone (`DeviceRemoved`).
    fn restart(&self, py: Python<'_>, extensions: &Bound<'_, PyAny>) -> PyResult<()> {
        let list = self::extensions(extensions)?;
        self.with(py, |h| h.restart(list))?.map_err(|e| errors::error(py, "SimulatorError", e.to_string()))
    }

    /// Closes every client connection at once (a PBX restart, a network cut).
    fn drop_connections(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |h| h.drop_connections())
    }

    /// Every connection goes silent for `seconds` (a hung PBX).
    fn stall(&self, py: Python<'_>, seconds: f64) -> PyResult<()> {
        let d = duration(py, "seconds", seconds)?;
        self.with(py, |h| h.stall(d))
    }

    /// Starts random calls among the phones (replacing traffic started before).
    #[pyo3(signature = (
        calls_per_sec, *, seed=1, talk_min=3.0, talk_max=30.0, busy=0.05, unknown=0.03,
        no_answer=0.05, hold=0.10, transfer=0.05,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn start_traffic(
        &self,
        py: Python<'_>,
        calls_per_sec: f64,
        seed: u64,
        talk_min: f64,
        talk_max: f64,
        busy: f64,
        unknown: f64,
        no_answer: f64,
        hold: f64,
        transfer: f64,
    ) -> PyResult<()> {
        let cfg = TrafficConfig {
            calls_per_sec,
            seed,
            talk_min: duration(py, "talk_min", talk_min)?,
            talk_max: duration(py, "talk_max", talk_max)?,
            busy,
            unknown,
            no_answer,
            hold,
            transfer,
        };
        let t = self.with(py, |h| h.start_traffic(cfg))?;
        let old = lock(&self.traffic).replace(t);
        if let Some(old) = old {
            old.stop();
        }
        Ok(())
    }

    /// Stops the traffic (calls in progress go on); the number of calls it started.
    fn stop_traffic(&self) -> u64 {
        lock(&self.traffic)
            .take()
            .map(|t| {
                t.stop();
                t.calls_started()
            })
            .unwrap_or(0)
    }

    /// What the PBX really holds: `devices` (ext to state), `channels`, `dnd`, `forwards`.
    fn truth<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let t = self.with(py, |h| h.truth())?;
        let out = PyDict::new(py);
        let devices = PyDict::new(py);
        for d in &t.devices {
            devices.set_item(&d.ext, &d.state)?;
        }
        out.set_item("devices", devices)?;
        let channels = PyList::empty(py);
        for c in &t.channels {
            let ch = PyDict::new(py);
            ch.set_item("name", &c.name)?;
            ch.set_item("ext", &c.ext)?;
            ch.set_item("uniqueid", &c.uniqueid)?;
            ch.set_item("linkedid", &c.linkedid)?;
            ch.set_item("state", &c.state)?;
            ch.set_item("held", c.held)?;
            ch.set_item("bridged_with", PyTuple::new(py, &c.bridged_with)?)?;
            channels.append(ch)?;
        }
        out.set_item("channels", channels)?;
        out.set_item("dnd", PyList::new(py, &t.dnd)?)?;
        out.set_item("forwards", PyList::new(py, &t.forwards)?)?;
        Ok(out)
    }

    /// `(channel, digits)` that `PlayDTMF` played, per channel.
    fn dtmf_received(&self, py: Python<'_>) -> PyResult<Vec<(String, String)>> {
        self.with(py, |h| h.dtmf_received())
    }

    /// Channels that exist now.
    fn active_channels(&self, py: Python<'_>) -> PyResult<usize> {
        self.with(py, |h| h.active_channels())
    }

    /// Client sockets open now.
    fn connections(&self, py: Python<'_>) -> PyResult<usize> {
        self.with(py, |h| h.connections())
    }

    /// Successful logins since start.
    fn logins(&self, py: Python<'_>) -> PyResult<u64> {
        self.with(py, |h| h.logins())
    }

    /// Actions received from all clients since start (logins included).
    fn actions_received(&self, py: Python<'_>) -> PyResult<u64> {
        self.with(py, |h| h.actions_received())
    }

    /// Stops the simulator: closes every connection and the port. Calling it again does
    /// nothing.
    fn shutdown(&self, py: Python<'_>) -> PyResult<()> {
        self.stop_traffic();
        let handle = lock(&self.handle).take();
        if let Some(h) = handle {
            block_on(py, h.shutdown())?;
        }
        Ok(())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.shutdown(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        let state = if lock(&self.handle).is_some() { "running" } else { "shut down" };
        format!("<ctilink.Simulator on {} ({state})>", self.addr)
    }
}

impl Drop for PySimulator {
    /// A simulator the script forgot to shut down still frees its port when collected.
    fn drop(&mut self) {
        let handle = lock(&self.handle).take();
        if let (Some(h), Some(rt)) = (handle, crate::RUNTIME.get()) {
            rt.spawn(h.shutdown());
        }
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySimulator>()?;
    Ok(())
}
