//! `connect(url, options)`: the URL says where the PBX is and may carry the session's
//! parameters (`?control=pjsip&astdb=1`); the options object says the same in code and
//! wins over the URL where both do.

use std::time::Duration;

use ctilink::{AstDbConvention, Error, PhoneControl, SessionOptions, Transport};
use napi::Either;
use napi_derive::napi;

/// Options of `connect`. Every field is optional; see `docs/session.md` for the defaults.
#[napi(object)]
#[derive(Debug, Default)]
pub struct ConnectOptions {
    /// Only these devices' events (and their calls').
    pub monitor: Option<Vec<String>>,
    /// Capacity of each event queue; a consumer further behind gets `lagged`.
    pub event_queue: Option<u32>,
    /// How long a command waits for the PBX.
    pub timeout_ms: Option<u32>,
    /// Reconnect with backoff when the link drops.
    pub reconnect: Option<bool>,
    /// How phones are made to answer and hold: `pjsip`, `sip` or `none`.
    pub control: Option<String>,
    /// The AstDB convention the PBX follows for DND and forwarding: `true` (ctilink's),
    /// `false` (none), or a name, `ctilink` or `freepbx`, as `astdb=` in the URL.
    pub astdb: Option<Either<bool, String>>,
    /// Dialplan context for devices whose hint names none.
    pub context: Option<String>,
    /// Channel technology for devices the PBX did not report.
    pub technology: Option<String>,
    /// How long a click-to-dial rings the user's own phone.
    pub originate_timeout_ms: Option<u32>,
    /// How long `consultationCall` waits for the new call.
    pub consultation_timeout_ms: Option<u32>,
    /// How long connecting (TCP and TLS) may take.
    pub connect_timeout_ms: Option<u32>,
}

/// The URL's options with `o` laid over them.
pub(crate) fn session_options(url: &str, o: Option<ConnectOptions>) -> ctilink::Result<SessionOptions> {
    let mut s = SessionOptions::from_url(url)?;
    let Some(o) = o else { return Ok(s) };
    if let Some(m) = o.monitor {
        s.monitor = Some(m);
    }
    if let Some(q) = o.event_queue {
        if q == 0 {
            return Err(Error::InvalidArgument("eventQueue must be at least 1".into()));
        }
        s.event_queue = q as usize;
    }
    if let Some(t) = o.timeout_ms {
        s.set_action_timeout(ms(t));
    }
    if let Some(r) = o.reconnect {
        // Only the switch: the URL's backoff parameters stay.
        if let Transport::Ami(c) = &mut s.transport {
            c.reconnect.enabled = r;
        }
    }
    if let Some(c) = o.control {
        s.control.phone_control = match c.to_ascii_lowercase().as_str() {
            "pjsip" => PhoneControl::Pjsip,
            "sip" => PhoneControl::Sip,
            "none" | "" => PhoneControl::None,
            _ => {
                return Err(Error::InvalidArgument(format!("control must be pjsip, sip or none, not {c:?}")))
            }
        };
    }
    if let Some(a) = o.astdb {
        s.control.astdb = match a {
            Either::A(on) => on.then_some(AstDbConvention::Ctilink),
            Either::B(name) => AstDbConvention::from_url_value(&name)?,
        };
    }
    if let Some(c) = o.context {
        s.control.context = nonempty("context", c)?;
    }
    if let Some(t) = o.technology {
        s.control.technology = nonempty("technology", t)?;
    }
    if let Some(t) = o.originate_timeout_ms {
        s.control.originate_timeout = ms(t);
    }
    if let Some(t) = o.consultation_timeout_ms {
        s.control.consultation_timeout = ms(t);
    }
    if let Some(t) = o.connect_timeout_ms {
        // Other transports, when the core has them, will take their own field.
        if let Transport::Ami(c) = &mut s.transport {
            c.connect_timeout = ms(t);
        }
    }
    Ok(s)
}

fn ms(t: u32) -> Duration {
    Duration::from_millis(u64::from(t))
}

fn nonempty(what: &str, v: String) -> ctilink::Result<String> {
    if v.is_empty() {
        return Err(Error::InvalidArgument(format!("{what} is empty")));
    }
    Ok(v)
}
