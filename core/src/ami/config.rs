//! How to reach and log in to the PBX: parsed from `ami://user:secret@host:5038`.

use std::path::PathBuf;
use std::time::Duration;

use super::backoff::ReconnectPolicy;
use super::decoder::Limits;
use super::record::{RecordOptions, Recorder};
use crate::error::{Error, Result};
use crate::secret::Secret;

/// Login method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AuthMethod {
    /// `Login` with `Secret:` (the secret crosses the wire; use TLS).
    #[default]
    Plain,
    /// `Challenge` then `Login` with `Key: md5(challenge + secret)`.
    Md5,
}

/// TLS settings for `amis://` (Asterisk serves AMI over TLS on 5039).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// PEM file of CA certificates to trust instead of the built-in web roots
    /// (a PBX usually has a private or self-signed certificate).
    pub ca_file: Option<PathBuf>,
    /// Name to verify the certificate against; defaults to the host.
    pub server_name: Option<String>,
    /// Accept any certificate. For lab use only: it allows a man in the middle.
    pub insecure_skip_verify: bool,
}

/// The most standby PBXs one link may have (`standby=` in the URL).
pub const MAX_STANDBY: usize = 8;

/// The default byte bound of an event queue ([`AmiConfig::event_queue_bytes`], and
/// `SessionOptions::event_queue_bytes` for the model's events): 16 MiB, 16 messages of the
/// largest size AMI accepts, and far more than 4,096 ordinary events (a few hundred bytes
/// each) take, so for normal traffic the count is the bound that applies.
pub const DEFAULT_EVENT_QUEUE_BYTES: usize = 16 * 1024 * 1024;

/// Everything the AMI link needs. Build with [`AmiConfig::from_url`] or
/// [`AmiConfig::new`] and adjust the public fields.
#[derive(Clone, Debug)]
pub struct AmiConfig {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub secret: Secret,
    pub auth: AuthMethod,
    pub tls: Option<TlsConfig>,
    /// The `Events:` mask sent at login (`on`, `off`, or e.g. `call,system`).
    pub events: String,
    pub connect_timeout: Duration,
    pub login_timeout: Duration,
    /// Default time an action may wait for its response.
    pub action_timeout: Duration,
    /// Send `Ping` after this long without traffic from the PBX.
    pub ping_interval: Duration,
    /// Declare the PBX dead after this long without any traffic.
    pub dead_after: Duration,
    pub reconnect: ReconnectPolicy,
    /// Standby PBXs (`host`, `port`), with the same login and TLS settings: when
    /// `host:port` does not answer, at connect or after the link is lost, the next one that
    /// answers is used, and the link stays there until it is lost (no flapping back). At
    /// most [`MAX_STANDBY`] of them.
    pub standby: Vec<(String, u16)>,
    /// Events queued for subscribers at most: past it, a subscriber that has not read
    /// the oldest gets `Lagged`. Default 4,096.
    pub event_queue: usize,
    /// Bytes of events queued for subscribers at most (a message's frame and field index;
    /// the newest message is always kept): past it, as past `event_queue`, a subscriber
    /// that has not read the oldest gets `Lagged`. Default
    /// [`DEFAULT_EVENT_QUEUE_BYTES`] (16 MiB). The count alone does not bound memory: a
    /// message may be up to `limits.max_message` (1 MiB), so 4,096 of them are 4 GiB for
    /// a subscriber that stopped reading. One queue serves every subscriber: this is the
    /// bound for all of them together.
    pub event_queue_bytes: usize,
    /// Actions that may wait for a response at once.
    pub max_in_flight: usize,
    /// Items a list response may collect.
    pub max_list_items: usize,
    pub limits: Limits,
    /// Where the link records what it receives (and, if asked, sends); set with
    /// [`record`](Self::record). Kept across reconnects: one file for the link's life.
    pub recorder: Option<Recorder>,
}

impl AmiConfig {
    /// Defaults for `host:port` with the given login.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        username: impl Into<String>,
        secret: impl Into<Secret>,
    ) -> Self {
        Self {
            host: host.into(),
            port,
            username: username.into(),
            secret: secret.into(),
            auth: AuthMethod::Plain,
            tls: None,
            events: "on".into(),
            connect_timeout: Duration::from_secs(5),
            login_timeout: Duration::from_secs(5),
            action_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(15),
            dead_after: Duration::from_secs(35),
            reconnect: ReconnectPolicy::default(),
            standby: Vec::new(),
            event_queue: 4096,
            event_queue_bytes: DEFAULT_EVENT_QUEUE_BYTES,
            max_in_flight: 1024,
            max_list_items: 100_000,
            limits: Limits::default(),
            recorder: None,
        }
    }

    /// Records every byte this link receives to `options.path` (a capture `ctilink replay`
    /// reads), bounded by `options.max_bytes`. The file is created now: a path that
    /// cannot be created is an [`Error::InvalidArgument`] naming it. The returned handle
    /// (a clone of [`recorder`](Self::recorder)) tells later how much was written and
    /// whether the recording stopped.
    pub fn record(&mut self, options: &RecordOptions) -> Result<Recorder> {
        let recorder = Recorder::create(options)?;
        self.recorder = Some(recorder.clone());
        Ok(recorder)
    }

    /// Parses `ami://user:secret@host[:port][?auth=md5&events=call,system]`, or
    /// `amis://` for TLS (port 5039 by default; `tls_ca=PATH`, `tls_insecure=1`), with
    /// `standby=host[:port],...` for [`standby`](Self::standby) PBXs.
    /// User and secret may be percent-encoded.
    pub fn from_url(url: &str) -> Result<Self> {
        let bad = |why: &str| Error::InvalidUrl(format!("{why} (expected ami://user:secret@host:port)"));
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "ami" => false,
            "amis" => true,
            _ => return Err(bad("scheme must be ami or amis")),
        };
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let rest = rest.trim_end_matches('/');
        let (userinfo, hostport) = rest.rsplit_once('@').ok_or_else(|| bad("no user"))?;
        let (user, secret) = userinfo.split_once(':').ok_or_else(|| bad("no secret"))?;
        let user = percent_decode(user).ok_or_else(|| bad("bad percent-encoding in user"))?;
        let secret = percent_decode(secret).ok_or_else(|| bad("bad percent-encoding in secret"))?;
        if user.is_empty() {
            return Err(bad("empty user"));
        }
        let (host, port) = split_host_port(hostport).ok_or_else(|| bad("bad host or port"))?;
        let port = port.unwrap_or(if tls { 5039 } else { 5038 });
        let mut cfg = AmiConfig::new(host, port, user, secret);
        if tls {
            cfg.tls = Some(TlsConfig::default());
        }
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_decode(v).ok_or_else(|| bad("bad percent-encoding in query"))?;
            match k {
                "auth" => {
                    cfg.auth = match v.as_str() {
                        "md5" => AuthMethod::Md5,
                        "plain" => AuthMethod::Plain,
                        _ => return Err(Error::InvalidUrl(format!("auth must be md5 or plain, not {v:?}"))),
                    }
                }
                "events" => cfg.events = v,
                "tls_ca" => cfg.tls.get_or_insert_with(TlsConfig::default).ca_file = Some(v.into()),
                "tls_name" => cfg.tls.get_or_insert_with(TlsConfig::default).server_name = Some(v),
                "tls_insecure" => {
                    cfg.tls.get_or_insert_with(TlsConfig::default).insecure_skip_verify =
                        v == "1" || v == "true"
                }
                "standby" => {
                    for hp in v.split(',').filter(|x| !x.is_empty()) {
                        let (h, p) = split_host_port(hp)
                            .ok_or_else(|| Error::InvalidUrl(format!("bad standby host {hp:?}")))?;
                        cfg.standby.push((h, p.unwrap_or(if tls { 5039 } else { 5038 })));
                    }
                    if cfg.standby.len() > MAX_STANDBY {
                        return Err(Error::InvalidUrl(format!("at most {MAX_STANDBY} standby hosts")));
                    }
                }
                _ => return Err(Error::InvalidUrl(format!("unknown parameter {k:?}"))),
            }
        }
        Ok(cfg)
    }

    /// How many PBXs the link may use: `host:port` and the standby ones.
    pub fn endpoint_count(&self) -> usize {
        1 + self.standby.len()
    }

    /// This configuration for endpoint `i` (0: `host:port`, then the standby ones in order).
    pub(crate) fn for_endpoint(&self, i: usize) -> AmiConfig {
        let mut c = self.clone();
        if let Some((h, p)) = i.checked_sub(1).and_then(|j| self.standby.get(j)) {
            c.host = h.clone();
            c.port = *p;
        }
        c
    }

    /// `host:port` for messages and logs.
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The URL with the secret replaced by `***`, safe to log.
    pub fn redacted_url(&self) -> String {
        let scheme = if self.tls.is_some() { "amis" } else { "ami" };
        format!("{scheme}://{}:***@{}", self.username, self.addr())
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port` (shared with the gateway client's URLs).
pub(crate) fn split_host_port(s: &str) -> Option<(String, Option<u16>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((host.to_owned(), port));
    }
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p.parse().ok()?)),
        None => (s, None),
    };
    if host.is_empty() || host.contains(['/', ' ', '@']) {
        return None;
    }
    Some((host.to_owned(), port))
}

/// `%XX` escapes of a URL's user part (shared with the gateway client's URLs).
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_url() {
        let c = AmiConfig::from_url("ami://admin:s%40cret@pbx.local:5038").expect("valid");
        assert_eq!((c.host.as_str(), c.port, c.username.as_str()), ("pbx.local", 5038, "admin"));
        assert_eq!(c.secret.expose(), "s@cret");
        assert!(c.tls.is_none());
        assert_eq!(c.auth, AuthMethod::Plain);
    }

    #[test]
    fn parses_tls_defaults_and_query() {
        let c = AmiConfig::from_url("amis://u:p@[::1]?auth=md5&events=call&tls_insecure=1").expect("valid");
        assert_eq!((c.host.as_str(), c.port), ("::1", 5039));
        assert_eq!(c.auth, AuthMethod::Md5);
        assert_eq!(c.events, "call");
        assert!(c.tls.as_ref().is_some_and(|t| t.insecure_skip_verify));
        assert_eq!(c.addr(), "[::1]:5039");
    }

    #[test]
    fn rejects_bad_urls_without_echoing_the_secret() {
        for url in [
            "http://u:topsecret@h",
            "ami://h:5038",
            "ami://u@h",
            "ami://u:topsecret@h:notaport",
            "ami://u:topsecret@h?auth=rot13",
            "ami://:topsecret@h",
        ] {
            match AmiConfig::from_url(url) {
                Err(Error::InvalidUrl(why)) => assert!(!why.contains("topsecret"), "{why}"),
                other => panic!("{url}: {other:?}"),
            }
        }
    }

    #[test]
    fn debug_and_redacted_url_hide_the_secret() {
        let c = AmiConfig::from_url("ami://u:topsecret@h").expect("valid");
        assert!(!format!("{c:?}").contains("topsecret"));
        assert_eq!(c.redacted_url(), "ami://u:***@h:5038");
    }
}
