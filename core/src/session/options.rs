//! Everything a session can be told: where the PBX is, how patient to be, what the PBX is
//! set up for, which devices to watch. Parsed from a URL, or built in code.

use std::time::Duration;

use crate::ami::{AmiConfig, ReconnectPolicy, RecordOptions, Recorder, DEFAULT_EVENT_QUEUE_BYTES};
use crate::error::{Error, Result};
use crate::link::ami::{AstDbConvention, ControlOptions, PhoneControl};
use crate::link::gateway::GatewayConfig;

/// Which transport the session uses.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Transport {
    /// Straight to Asterisk's AMI (`ami://`, `amis://`).
    Ami(AmiConfig),
    /// Through a `ctilink gateway` (`ctilink://`, `ctilinks://`): the gateway holds the
    /// PBX connection and decides what this client may see and control.
    Gateway(GatewayConfig),
}

/// Options of [`Session::connect_with`](crate::Session::connect_with).
///
/// ```
/// use std::time::Duration;
/// use ctilink::SessionOptions;
/// let mut o = SessionOptions::from_url("ami://admin:secret@pbx.example:5038?control=pjsip&astdb=1")?;
/// o.set_action_timeout(Duration::from_secs(3));
/// o.monitor = Some(vec!["100".into(), "101".into()]);
/// # Ok::<(), ctilink::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct SessionOptions {
    pub transport: Transport,
    /// Call control: dialplan context, phone control, AstDB convention, timeouts.
    pub control: ControlOptions,
    /// Events queued for the `events()` streams at most (default 4,096); a stream that
    /// falls further behind gets `Event::Lagged` and continues with the oldest events
    /// still queued.
    pub event_queue: usize,
    /// Bytes of events queued for the `events()` streams at most, by
    /// [`Weigh`](crate::fanout::Weigh) (an event and the strings it owns; the newest event
    /// is always kept); past it, as past `event_queue`, a stream that has not read the
    /// oldest gets `Event::Lagged`. Default [`DEFAULT_EVENT_QUEUE_BYTES`] (16 MiB): a
    /// `UserEvent` carries the dialplan's fields, up to the PBX's 1 MiB message limit, so
    /// the count alone would let a stream that stopped reading hold gigabytes. One queue
    /// serves every stream of the session: this bounds them all together.
    pub event_queue_bytes: usize,
    /// Only events of these devices, and of the calls they take part in from the moment
    /// they do (the first events of a call from elsewhere are not shown); `None`: all.
    pub monitor: Option<Vec<String>>,
}

impl SessionOptions {
    /// Parses a URL: `ami://user:secret@host[:port]` or `amis://` (TLS), with the AMI
    /// link's parameters (`auth=md5`, `events=`, `tls_ca=`, `tls_name=`, `tls_insecure=1`),
    /// or `ctilink://TOKEN@host[:7070]` or `ctilinks://` (TLS) for a gateway, with its
    /// parameters (`client=NAME`, `tls_ca=`, `tls_name=`), and the session's:
    ///
    /// - `context=from-internal`: dialplan context for devices without a hint;
    /// - `technology=PJSIP`: channel technology for devices the PBX did not report;
    /// - `control=pjsip|sip|none`: how phones are made to answer and hold;
    /// - `astdb=1` (or `ctilink`): the PBX follows ctilink's AstDB convention for DND and
    ///   forwarding; `astdb=freepbx`: FreePBX's (`CFU` for no answer, the `Custom:CF` lamp);
    ///   `astdb=0`: neither (the default);
    /// - `monitor=100,101`: only these devices' events;
    /// - `timeout_ms=10000`: how long a command waits for the PBX;
    /// - `reconnect=0`: do not reconnect when the link drops;
    /// - `reconnect_ms=500`: the delay before the first reconnect attempt (it doubles up
    ///   to 30 s while attempts fail);
    /// - `standby=pbx2:5038,pbx3`: standby PBXs (AMI only), with the same login. When the
    ///   PBX in use does not answer, at connect or after the link is lost, the next one that
    ///   answers is used, reported as a reconnect (`LinkDown`, `LinkUp`, `Resynced` with
    ///   the new PBX's calls); the link stays there until it is lost.
    ///
    /// Through a gateway the PBX's setup is the gateway's business: `context`,
    /// `technology`, `control` and `astdb` are refused there.
    pub fn from_url(url: &str) -> Result<Self> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut control = ControlOptions::default();
        let mut pbx_setup = None;
        let mut monitor = None;
        let mut timeout = None;
        let mut reconnect = None;
        let mut reconnect_delay = None;
        let mut rest = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let bad = || Error::InvalidUrl(format!("bad value for {k}: {v:?}"));
            if matches!(k, "context" | "technology" | "control" | "astdb") {
                pbx_setup = Some(k.to_owned());
            }
            match k {
                "context" if !v.is_empty() => control.context = v.to_owned(),
                "technology" if !v.is_empty() => control.technology = v.to_owned(),
                "control" => {
                    control.phone_control = match v.to_ascii_lowercase().as_str() {
                        "pjsip" => PhoneControl::Pjsip,
                        "sip" => PhoneControl::Sip,
                        "none" | "" => PhoneControl::None,
                        _ => return Err(bad()),
                    }
                }
                "astdb" => control.astdb = AstDbConvention::from_url_value(v).map_err(|_| bad())?,
                "monitor" => {
                    monitor = Some(v.split(',').filter(|d| !d.is_empty()).map(str::to_owned).collect())
                }
                "timeout_ms" => timeout = Some(Duration::from_millis(v.parse().map_err(|_| bad())?)),
                "reconnect" => reconnect = Some(flag(v).ok_or_else(bad)?),
                "reconnect_ms" => {
                    reconnect_delay = Some(Duration::from_millis(v.parse().map_err(|_| bad())?))
                }
                "context" | "technology" => return Err(bad()),
                _ => rest.push(pair),
            }
        }
        let ami_url = if rest.is_empty() { base.to_owned() } else { format!("{base}?{}", rest.join("&")) };
        let scheme = base.split_once("://").map(|(s, _)| s.to_ascii_lowercase()).unwrap_or_default();
        let transport = match scheme.as_str() {
            "ami" | "amis" => Transport::Ami(AmiConfig::from_url(&ami_url)?),
            "ctilink" | "ctilinks" => {
                if let Some(k) = pbx_setup {
                    return Err(Error::InvalidUrl(format!(
                        "{k}= is set in the gateway's configuration, not by its clients"
                    )));
                }
                Transport::Gateway(GatewayConfig::from_url(&ami_url)?)
            }
            _ => {
                return Err(Error::InvalidUrl(
                    "the scheme must be ami://, amis://, ctilink:// or ctilinks://".into(),
                ))
            }
        };
        let mut o = SessionOptions {
            transport,
            control,
            event_queue: 4096,
            event_queue_bytes: DEFAULT_EVENT_QUEUE_BYTES,
            monitor,
        };
        if let Some(t) = timeout {
            o.set_action_timeout(t);
        }
        if reconnect.is_some() || reconnect_delay.is_some() {
            let d = ReconnectPolicy::default();
            let initial = reconnect_delay.unwrap_or(d.initial);
            o.set_reconnect(ReconnectPolicy {
                enabled: reconnect.unwrap_or(true),
                initial,
                max: d.max.max(initial),
                ..d
            });
        }
        Ok(o)
    }

    /// Options for an AMI link configured in code.
    pub fn ami(config: AmiConfig) -> Self {
        SessionOptions {
            transport: Transport::Ami(config),
            control: ControlOptions::default(),
            event_queue: 4096,
            event_queue_bytes: DEFAULT_EVENT_QUEUE_BYTES,
            monitor: None,
        }
    }

    /// Options for a gateway link configured in code.
    pub fn gateway(config: GatewayConfig) -> Self {
        SessionOptions {
            transport: Transport::Gateway(config),
            control: ControlOptions::default(),
            event_queue: 4096,
            event_queue_bytes: DEFAULT_EVENT_QUEUE_BYTES,
            monitor: None,
        }
    }

    /// How long a command waits for the PBX's answer (through a gateway: for the
    /// gateway's result).
    pub fn set_action_timeout(&mut self, t: Duration) -> &mut Self {
        match &mut self.transport {
            Transport::Ami(c) => c.action_timeout = t,
            Transport::Gateway(c) => c.command_timeout = t,
        }
        self
    }

    /// Records the AMI bytes the session receives to a capture file (see
    /// [`AmiConfig::record`]); the handle tells how it went. Through a gateway there are
    /// no AMI bytes to record: [`Error::InvalidArgument`].
    ///
    /// ```no_run
    /// use ctilink::ami::RecordOptions;
    /// use ctilink::SessionOptions;
    /// let mut o = SessionOptions::from_url("ami://admin:secret@pbx.example:5038")?;
    /// let recording = o.record(&RecordOptions::new("pbx.ami").sent(true))?;
    /// # Ok::<(), ctilink::Error>(())
    /// ```
    pub fn record(&mut self, options: &RecordOptions) -> Result<Recorder> {
        match &mut self.transport {
            Transport::Ami(c) => c.record(options),
            Transport::Gateway(_) => Err(Error::InvalidArgument(
                "only an ami:// or amis:// link can be recorded (a gateway link carries no AMI)".into(),
            )),
        }
    }

    /// Whether and how fast to reconnect.
    pub fn set_reconnect(&mut self, policy: ReconnectPolicy) -> &mut Self {
        match &mut self.transport {
            Transport::Ami(c) => c.reconnect = policy,
            Transport::Gateway(c) => c.reconnect = policy,
        }
        self
    }
}

fn flag(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" | "" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_parameters_are_taken_and_the_rest_goes_to_the_link() {
        let o = SessionOptions::from_url(
            "ami://admin:s3cret@10.0.0.1?control=pjsip&astdb=1&auth=md5&monitor=100,101&timeout_ms=2500&context=internal",
        )
        .expect("url");
        assert_eq!(o.control.phone_control, PhoneControl::Pjsip);
        assert_eq!(o.control.astdb, Some(AstDbConvention::Ctilink));
        assert_eq!(o.control.context, "internal");
        let fpbx = SessionOptions::from_url("ami://a:b@h?astdb=freepbx").expect("url");
        assert_eq!(fpbx.control.astdb, Some(AstDbConvention::FreePbx));
        assert_eq!(SessionOptions::from_url("ami://a:b@h?astdb=0").expect("url").control.astdb, None);
        assert_eq!(o.monitor, Some(vec!["100".to_owned(), "101".to_owned()]));
        let Transport::Ami(c) = &o.transport else { panic!("{:?}", o.transport) };
        assert_eq!(c.auth, crate::ami::AuthMethod::Md5);
        assert_eq!(c.action_timeout, Duration::from_millis(2500));
        assert_eq!(c.port, 5038);
    }

    #[test]
    fn reconnect_parameters_shape_the_policy() {
        let policy = |url: &str| {
            let o = SessionOptions::from_url(url).expect("url");
            let Transport::Ami(c) = o.transport else { panic!("{:?}", o.transport) };
            c.reconnect
        };
        let p = policy("ami://a:b@h?reconnect_ms=3000");
        assert!(p.enabled);
        assert_eq!(p.initial, Duration::from_secs(3));
        let p = policy("ami://a:b@h?reconnect_ms=90000");
        assert_eq!(p.max, Duration::from_secs(90), "the cap is never below the first delay");
        assert!(!policy("ami://a:b@h?reconnect=0").enabled);
        assert!(SessionOptions::from_url("ami://a:b@h?reconnect_ms=soon").is_err());
    }

    #[test]
    fn gateway_urls_take_the_session_parameters_and_hide_the_token() {
        let o = SessionOptions::from_url(
            "ctilink://t0ken@gw.example:7070?monitor=100&timeout_ms=3000&reconnect_ms=100&client=desk",
        )
        .expect("url");
        assert_eq!(o.monitor, Some(vec!["100".to_owned()]));
        let Transport::Gateway(c) = &o.transport else { panic!("{:?}", o.transport) };
        assert_eq!((c.host.as_str(), c.port, c.token.expose()), ("gw.example", 7070, "t0ken"));
        assert_eq!(c.command_timeout, Duration::from_secs(3));
        assert_eq!(c.reconnect.initial, Duration::from_millis(100));
        assert_eq!(c.client_name, "desk");
        assert!(!format!("{o:?}").contains("t0ken"));
        let tls = SessionOptions::from_url("ctilinks://t0ken@gw?tls_ca=/ca.pem").expect("url");
        assert!(matches!(&tls.transport, Transport::Gateway(c) if c.tls.is_some() && c.port == 7071));
        for url in
            ["ctilink://t0ken@gw?control=pjsip", "ctilink://t0ken@gw?astdb=1", "ctilink://t0ken@gw?auth=md5"]
        {
            let e = SessionOptions::from_url(url).expect_err(url);
            assert!(matches!(e, Error::InvalidUrl(_)), "{url}: {e:?}");
            assert!(!e.to_string().contains("t0ken"), "{e}");
        }
    }

    #[test]
    fn bad_urls_are_typed_errors_without_the_secret() {
        for url in [
            "ami://admin:s3cret@h?control=telepathy",
            "ami://admin:s3cret@h?astdb=maybe",
            "http://h",
            "ami://admin:s3cret@h?nope=1",
        ] {
            let e = SessionOptions::from_url(url).expect_err(url);
            assert!(matches!(e, Error::InvalidUrl(_)), "{url}: {e:?}");
            assert!(!e.to_string().contains("s3cret"), "{e}");
        }
    }
}
