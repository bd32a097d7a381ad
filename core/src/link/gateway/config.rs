//! Where the gateway is and how to talk to it: parsed from `ctilink://TOKEN@host:7070`.

use std::time::Duration;

use crate::ami::config::{percent_decode, split_host_port};
use crate::ami::{ReconnectPolicy, TlsConfig};
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::wire::{DEFAULT_PORT, DEFAULT_TLS_PORT, MAX_SERVER_LINE};

/// Everything the gateway client needs. Build with [`GatewayConfig::from_url`] and adjust
/// the public fields. `Debug` shows the token as `***`.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    pub host: String,
    pub port: u16,
    /// The token the gateway's configuration gave this client.
    pub token: Secret,
    /// TLS (`ctilinks://`): which CA to trust and which name to check.
    pub tls: Option<TlsConfig>,
    /// The name the gateway's diagnostics page shows for this client.
    pub client_name: String,
    pub connect_timeout: Duration,
    /// How long `hello` may take to be answered with `welcome` and the snapshot.
    pub handshake_timeout: Duration,
    /// How long a command waits for its result. Longer than the gateway's own wait for
    /// the PBX, so that the gateway's `timeout` arrives first.
    pub command_timeout: Duration,
    /// Send `ping` this often (the gateway closes a client that sends nothing for its
    /// idle timeout, 120 s by default).
    pub ping_interval: Duration,
    /// Declare the gateway gone after this long without any message.
    pub dead_after: Duration,
    pub reconnect: ReconnectPolicy,
    /// Commands that may wait for a result at once; more fail with `Busy`.
    pub max_in_flight: usize,
    /// The longest line accepted from the gateway (a snapshot is the longest).
    pub max_line: usize,
}

impl GatewayConfig {
    /// Defaults for `host:port` with `token`.
    pub fn new(host: impl Into<String>, port: u16, token: impl Into<Secret>) -> Self {
        GatewayConfig {
            host: host.into(),
            port,
            token: token.into(),
            tls: None,
            client_name: default_client_name(),
            connect_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(10),
            command_timeout: Duration::from_secs(15),
            ping_interval: Duration::from_secs(15),
            dead_after: Duration::from_secs(35),
            reconnect: ReconnectPolicy::default(),
            max_in_flight: 1024,
            max_line: MAX_SERVER_LINE,
        }
    }

    /// Parses `ctilink://TOKEN@host[:7070]` or `ctilinks://TOKEN@host[:7071]` (TLS), with
    /// `client=NAME` (shown on the diagnostics page), `tls_ca=PATH` and `tls_name=NAME`.
    /// The token may be percent-encoded. Errors never contain it.
    pub fn from_url(url: &str) -> Result<Self> {
        let bad = |why: &str| Error::InvalidUrl(format!("{why} (expected ctilink://TOKEN@host:port)"));
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "ctilink" => false,
            "ctilinks" => true,
            _ => return Err(bad("the scheme must be ctilink or ctilinks")),
        };
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let rest = rest.trim_end_matches('/');
        let (token, hostport) = rest.rsplit_once('@').ok_or_else(|| bad("no token"))?;
        let token = percent_decode(token).ok_or_else(|| bad("bad percent-encoding in the token"))?;
        if token.is_empty() {
            return Err(bad("empty token"));
        }
        let (host, port) = split_host_port(hostport).ok_or_else(|| bad("bad host or port"))?;
        let port = port.unwrap_or(if tls { DEFAULT_TLS_PORT } else { DEFAULT_PORT });
        let mut cfg = GatewayConfig::new(host, port, Secret::new(token));
        if tls {
            cfg.tls = Some(TlsConfig::default());
        }
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_decode(v).ok_or_else(|| bad("bad percent-encoding in the query"))?;
            match k {
                "client" if !v.is_empty() => cfg.client_name = v,
                "tls_ca" if tls => cfg.tls.get_or_insert_with(TlsConfig::default).ca_file = Some(v.into()),
                "tls_name" if tls => cfg.tls.get_or_insert_with(TlsConfig::default).server_name = Some(v),
                "tls_ca" | "tls_name" => {
                    return Err(Error::InvalidUrl(format!("{k} needs ctilinks:// (TLS)")));
                }
                _ => return Err(Error::InvalidUrl(format!("unknown parameter {k:?} for ctilink://"))),
            }
        }
        Ok(cfg)
    }

    /// `host:port` for messages and logs.
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The URL with the token replaced by `***`, safe to log.
    pub fn redacted_url(&self) -> String {
        let scheme = if self.tls.is_some() { "ctilinks" } else { "ctilink" };
        format!("{scheme}://***@{}", self.addr())
    }
}

/// `ctilink@HOSTNAME` where the environment tells the host name, so that the diagnostics
/// page tells workstations apart without configuration.
fn default_client_name() -> String {
    let host = std::env::var("HOSTNAME")
        .or_else(|_| std::env::var("COMPUTERNAME"))
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty());
    match host {
        Some(h) => format!("ctilink@{}", h.chars().take(64).collect::<String>()),
        None => "ctilink".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_tls_urls() {
        let c = GatewayConfig::from_url("ctilink://s3cr%40t@gw.example?client=desk-12").expect("url");
        assert_eq!((c.host.as_str(), c.port), ("gw.example", 7070));
        assert_eq!(c.token.expose(), "s3cr@t");
        assert_eq!(c.client_name, "desk-12");
        assert!(c.tls.is_none());
        let c =
            GatewayConfig::from_url("ctilinks://tok@[::1]:9000?tls_ca=/etc/ca.pem&tls_name=gw").expect("url");
        assert_eq!((c.host.as_str(), c.port), ("::1", 9000));
        let tls = c.tls.expect("tls");
        assert_eq!(tls.ca_file.as_deref(), Some(std::path::Path::new("/etc/ca.pem")));
        assert_eq!(tls.server_name.as_deref(), Some("gw"));
        assert_eq!(GatewayConfig::from_url("ctilinks://tok@h").expect("url").port, 7071);
    }

    #[test]
    fn the_token_is_never_shown() {
        let c = GatewayConfig::from_url("ctilink://topsecret@h:1").expect("url");
        assert!(!format!("{c:?}").contains("topsecret"));
        assert_eq!(c.redacted_url(), "ctilink://***@h:1");
        for url in [
            "ctilink://topsecret@h:port",
            "ctilink://topsecret@h?tls_ca=x",
            "ctilink://topsecret@h?nope=1",
            "ctilink://topsecret%zz@h",
            "ctilink://topsecret",
            "ami://topsecret@h",
        ] {
            let e = GatewayConfig::from_url(url).expect_err(url);
            assert!(matches!(e, Error::InvalidUrl(_)), "{url}: {e:?}");
            assert!(!e.to_string().contains("topsecret"), "{e}");
        }
    }
}
