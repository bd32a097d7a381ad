//! The gateway's configuration: a TOML file (`examples/gateway/gateway.toml` is the
//! annotated example), or built in code by tests and embedders.
//!
//! Tokens are read into [`Secret`]s and kept only as SHA-256 digests once the gateway
//! runs; neither `Debug` nor any error message shows one.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ctilink::Secret;
use serde::Deserialize;

/// What the gateway does with a client whose queue of events is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlowClientPolicy {
    /// Drop its backlog and send it `lagged` and a fresh snapshot in its place; it stays
    /// connected. Counted as a resync.
    #[default]
    Resync,
    /// Send it `bye` with the reason and close the connection. Counted as a disconnect.
    Disconnect,
}

/// Where the gateway listens. Each is optional but one client listener is needed.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listen {
    /// Plain TCP, newline-delimited JSON (`ctilink://`).
    pub tcp: Option<SocketAddr>,
    /// TLS, the same protocol (`ctilinks://`); needs `[tls]`.
    pub tls: Option<SocketAddr>,
    /// WebSocket at path `/ws`, one JSON message per text message (browsers).
    pub ws: Option<SocketAddr>,
    /// WebSocket over TLS (`wss://host/ws`); needs `[tls]`.
    pub wss: Option<SocketAddr>,
    /// The diagnostics page, JSON, `/metrics` and `/healthz`. Default `127.0.0.1:7090`:
    /// it lists who is connected, so it is not exposed unless configured.
    pub diagnostics: Option<SocketAddr>,
    /// Origins (`https://crm.example.org`) of web pages besides the gateway's own that may
    /// open the WebSocket. A browser names the page in `Origin`; one of another site gets
    /// 403, so that a page the user happens to open cannot use the gateway through the
    /// user's network position. Clients that send no `Origin` (not browsers) are not
    /// affected.
    #[serde(default)]
    pub ws_allowed_origins: Vec<String>,
}

/// The diagnostics server (`[listen] diagnostics` is its address): the names it answers
/// to and what one connection may hold. It lists every client's identity and address, so
/// a page of another site must not read it (DNS rebinding), and connections that send
/// nothing useful must not starve the gateway of file descriptors.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Diagnostics {
    /// `Host` names (or addresses) a request must name, each with any port (`localhost`)
    /// or one port (`diag.example.org:443`); IPv6 in brackets. Others get 421: a web page
    /// whose name was made to resolve to this machine (DNS rebinding) cannot read the
    /// clients. Add the name a reverse proxy or an administrator uses; default the
    /// loopback names.
    pub allowed_hosts: Vec<String>,
    /// Time for a request's head (line and headers) from its first byte; a connection
    /// still sending it then is closed (half-sent or trickled requests).
    #[serde(rename = "header_timeout_ms", with = "millis")]
    pub header_timeout: Duration,
    /// A connection with no request in progress (new, or kept alive after a response),
    /// or whose response nobody reads, is closed after this long.
    #[serde(rename = "idle_timeout_ms", with = "millis")]
    pub idle_timeout: Duration,
    /// Connections open at once. At the limit, the oldest one without a request in
    /// progress is closed to admit the new one: the administrator's page still loads.
    pub max_connections: usize,
}

/// The most `[diagnostics] max_connections` may be: each is a file descriptor and up to
/// two buffers of 64 KiB, and the choice of which to close scans them.
pub const MAX_DIAGNOSTICS_CONNECTIONS: usize = 4096;

impl Default for Diagnostics {
    fn default() -> Self {
        Diagnostics {
            allowed_hosts: ["localhost", "127.0.0.1", "[::1]"].map(String::from).to_vec(),
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 64,
        }
    }
}

/// Certificate and key for the TLS listeners, as PEM files.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Limits per client. Every queue and buffer of a client is bounded by these.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientLimits {
    /// Events queued for one client before the slow-client policy applies.
    pub queue: usize,
    /// Bytes of events queued for one client before the slow-client policy applies (a
    /// snapshot is held apart: at most one waits per client).
    pub queue_bytes: usize,
    /// The longest message a client may send, in bytes.
    pub max_line: usize,
    /// Authenticated clients at once; a `hello` beyond it is refused with `bye`.
    pub max_clients: usize,
    /// Connections that have not authenticated yet (in the TLS or WebSocket handshake,
    /// or before `hello`), in all. At the limit, the oldest of them is closed to admit a
    /// new one once it has had a second to say `hello`; before that the new one is refused.
    pub max_unauthenticated: usize,
    /// The same, per source address (an IPv6 /64 counts as one address). At the limit,
    /// that address's oldest is closed (or the new one refused, while the oldest is
    /// within its grace): one address cannot push out anyone else's. Raise it where many
    /// clients share one address (a terminal server, a NAT) and reconnect at once.
    pub max_unauthenticated_per_address: usize,
    pub slow_client: SlowClientPolicy,
    /// Time allowed for the TLS or WebSocket handshake, and then for `hello`.
    #[serde(rename = "hello_timeout_ms", with = "millis")]
    pub hello_timeout: Duration,
    /// A client that sends nothing (not even `ping`) for this long is closed.
    #[serde(rename = "idle_timeout_ms", with = "millis")]
    pub idle_timeout: Duration,
    /// A write to a client that does not complete in this long closes it (it stopped
    /// reading, or its network is gone).
    #[serde(rename = "write_timeout_ms", with = "millis")]
    pub write_timeout: Duration,
    /// Commands of one client carried out at once; more are answered `busy`.
    pub max_commands: usize,
}

impl ClientLimits {
    /// How one client's stream of events is bounded.
    pub fn stream(&self) -> crate::queue::StreamLimits {
        crate::queue::StreamLimits { messages: self.queue, bytes: self.queue_bytes }
    }
}

impl Default for ClientLimits {
    fn default() -> Self {
        ClientLimits {
            queue: 1024,
            queue_bytes: 1024 * 1024,
            max_line: ctilink::wire::DEFAULT_MAX_LINE,
            max_clients: 5000,
            max_unauthenticated: 512,
            max_unauthenticated_per_address: 32,
            slow_client: SlowClientPolicy::Resync,
            hello_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(120),
            write_timeout: Duration::from_secs(10),
            max_commands: 32,
        }
    }
}

/// One token: who it identifies and what it may see and do.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// The token itself; better, `token_sha256` (hex), so the file holds no secret.
    #[serde(default, with = "opt_secret")]
    pub token: Option<Secret>,
    /// The SHA-256 of the token, in hex (`printf %s TOKEN | sha256sum`).
    #[serde(default)]
    pub token_sha256: Option<String>,
    /// Shown on the diagnostics page and in logs.
    pub identity: String,
    /// Devices whose events and calls the client sees (`"*"`: all).
    #[serde(default)]
    pub monitor: Vec<String>,
    /// Devices the client may act for (`"*"`: all).
    #[serde(default)]
    pub control: Vec<String>,
    /// Whether the client gets dialplan `UserEvent`s that belong to no call (they carry
    /// whatever the dialplan puts in them, so they are not shown by default).
    #[serde(default)]
    pub user_events: bool,
}

/// An upstream PBX: the one of a `[pbx]` table, or one of several `[[pbx]]`.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PbxConfig {
    /// The PBX's part of device and call ids (`berlin` in `berlin/100`) when the gateway
    /// serves several: `[a-z0-9_-]{1,32}`, unique. A single PBX's ids have no prefix.
    #[serde(default)]
    pub id: Option<String>,
    /// A session URL: `ami://user:secret@host:5038?control=pjsip&astdb=1`.
    #[serde(default, with = "opt_secret")]
    pub url: Option<Secret>,
    /// The name of an environment variable holding the URL instead (keeps the AMI secret
    /// out of the file).
    #[serde(default)]
    pub url_env: Option<String>,
}

impl std::fmt::Debug for PbxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PbxConfig")
            .field("id", &self.id)
            .field("url", &"***")
            .field("url_env", &self.url_env)
            .finish()
    }
}

/// The whole configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(from = "RawConfig")]
pub struct Config {
    /// The PBX of a `[pbx]` table (unused when `pbxs` has entries).
    pub pbx: PbxConfig,
    /// The PBXs of `[[pbx]]` tables. With two or more, clients see `PBX/ID` device and
    /// call ids; with one, the same as `[pbx]`.
    pub pbxs: Vec<PbxConfig>,
    pub listen: Listen,
    pub tls: Option<TlsFiles>,
    pub clients: ClientLimits,
    pub diagnostics: Diagnostics,
    pub tokens: Vec<TokenConfig>,
    /// `[cluster]`: this gateway is one of several sharing the PBXs over NATS
    /// (docs/cluster.md). Without it the gateway works alone.
    pub cluster: Option<ClusterConfig>,
}

/// `[cluster]`: where the NATS servers are, this gateway's name and the lease's timing.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// The NATS servers, comma-separated (`nats://10.0.0.5:4222,nats://10.0.0.6:4222`);
    /// a user and password in a URL are a secret and never logged.
    #[serde(with = "secret")]
    pub nats: Secret,
    /// This gateway's name in the cluster: unique, `[A-Za-z0-9_-]{1,64}`.
    pub node: String,
    /// A dead owner's PBX is taken over this long after its last renewal; an owner that
    /// cannot renew for half of it stops its PBX link.
    #[serde(rename = "lease_ttl_ms", with = "millis", default = "default_lease_ttl")]
    pub lease_ttl: Duration,
    /// Replicas of the lease bucket (3 in a 3-server NATS cluster; 1 for one server).
    #[serde(default = "one")]
    pub lease_replicas: usize,
    /// A NATS credentials file (`.creds`), if the servers want one.
    #[serde(default)]
    pub credentials: Option<std::path::PathBuf>,
    /// A gateway owning more than its share of the PBXs gives one back after owning it
    /// this long, so that ownership spreads without flapping.
    #[serde(rename = "rebalance_after_ms", with = "millis", default = "default_rebalance")]
    pub rebalance_after: Duration,
    /// A command sent to a PBX's owner fails with `link_down` when no answer comes in
    /// this long.
    #[serde(rename = "command_timeout_ms", with = "millis", default = "default_cluster_command_timeout")]
    pub command_timeout: Duration,
}

fn default_lease_ttl() -> Duration {
    Duration::from_secs(6)
}
fn default_rebalance() -> Duration {
    Duration::from_secs(60)
}
fn default_cluster_command_timeout() -> Duration {
    Duration::from_secs(15)
}
fn one() -> usize {
    1
}

impl std::fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("nats", &"***")
            .field("node", &self.node)
            .field("lease_ttl", &self.lease_ttl)
            .field("lease_replicas", &self.lease_replicas)
            .field("credentials", &self.credentials)
            .field("rebalance_after", &self.rebalance_after)
            .field("command_timeout", &self.command_timeout)
            .finish()
    }
}

impl ClusterConfig {
    /// A cluster configuration with the defaults.
    pub fn new(nats: &str, node: &str) -> Self {
        ClusterConfig {
            nats: Secret::new(nats),
            node: node.to_owned(),
            lease_ttl: default_lease_ttl(),
            lease_replicas: 1,
            credentials: None,
            rebalance_after: default_rebalance(),
            command_timeout: default_cluster_command_timeout(),
        }
    }
}

/// The file as written: `pbx` is one table (`[pbx]`) or a list (`[[pbx]]`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    pbx: PbxTables,
    #[serde(default)]
    listen: Listen,
    #[serde(default)]
    tls: Option<TlsFiles>,
    #[serde(default)]
    clients: ClientLimits,
    #[serde(default)]
    diagnostics: Diagnostics,
    #[serde(default, rename = "token")]
    tokens: Vec<TokenConfig>,
    #[serde(default)]
    cluster: Option<ClusterConfig>,
}

impl From<RawConfig> for Config {
    fn from(r: RawConfig) -> Self {
        let (pbx, pbxs) = match r.pbx {
            PbxTables::One(p) => (p, Vec::new()),
            PbxTables::Many(v) => (PbxConfig::default(), v),
        };
        Config {
            pbx,
            pbxs,
            listen: r.listen,
            tls: r.tls,
            clients: r.clients,
            diagnostics: r.diagnostics,
            tokens: r.tokens,
            cluster: r.cluster,
        }
    }
}

/// `[pbx]` or `[[pbx]]`, told apart by TOML's own shape so that an error inside either
/// is reported as that table's (an untagged enum would only say that neither matched).
enum PbxTables {
    One(PbxConfig),
    Many(Vec<PbxConfig>),
}

impl<'de> Deserialize<'de> for PbxTables {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = PbxTables;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a [pbx] table or [[pbx]] tables")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, a: A) -> Result<PbxTables, A::Error> {
                PbxConfig::deserialize(serde::de::value::MapAccessDeserializer::new(a)).map(PbxTables::One)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, a: A) -> Result<PbxTables, A::Error> {
                Vec::<PbxConfig>::deserialize(serde::de::value::SeqAccessDeserializer::new(a))
                    .map(PbxTables::Many)
            }
        }
        d.deserialize_any(V)
    }
}

/// The id a single `[[pbx]]` gets when it names none (it is not shown to clients).
pub const DEFAULT_PBX_ID: &str = "default";

/// A configuration that cannot be used. The text names the problem, never a token.
#[derive(Debug, thiserror::Error)]
#[error("gateway configuration: {0}")]
pub struct ConfigError(pub String);

/// Where the diagnostics listen when the file does not say.
pub const DEFAULT_DIAGNOSTICS: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 7090);

impl Config {
    /// A configuration for `pbx_url` with the default limits and no listener or token.
    pub fn new(pbx_url: &str) -> Self {
        Config {
            pbx: PbxConfig { id: None, url: Some(Secret::new(pbx_url)), url_env: None },
            pbxs: Vec::new(),
            listen: Listen::default(),
            tls: None,
            clients: ClientLimits::default(),
            diagnostics: Diagnostics::default(),
            tokens: Vec::new(),
            cluster: None,
        }
    }

    /// Reads and checks a TOML file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
        Self::from_toml(&text)
    }

    /// Parses and checks TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        // toml's message quotes the offending line, which could be a token's: keep only
        // the position and the kind of problem.
        let cfg: Config = toml::from_str(text).map_err(|e| {
            let pos = e.span().map(|s| format!(" at byte {}", s.start)).unwrap_or_default();
            ConfigError(format!("invalid TOML{pos}: {}", e.message()))
        })?;
        cfg.check()?;
        Ok(cfg)
    }

    /// The PBXs to connect to, each with its id and URL (from the file or the
    /// environment). A `[pbx]` table, or a single `[[pbx]]` without an id, has the id
    /// [`DEFAULT_PBX_ID`]. Ids are prefixed to clients' device and call ids when there is
    /// more than one ([`Config::prefixed`]).
    pub fn upstreams(&self) -> Result<Vec<(String, Secret)>, ConfigError> {
        if self.pbxs.is_empty() {
            let id = self.pbx.id.clone().unwrap_or_else(|| DEFAULT_PBX_ID.to_owned());
            return Ok(vec![(id, url_of(&self.pbx, "[pbx]")?)]);
        }
        self.pbxs
            .iter()
            .map(|p| {
                let id = p.id.clone().unwrap_or_else(|| DEFAULT_PBX_ID.to_owned());
                let url = url_of(p, &format!("[[pbx]] {id}"))?;
                Ok((id, url))
            })
            .collect()
    }

    /// Whether clients see `PBX/ID` ids: with two or more PBXs. One PBX, however
    /// written, keeps the ids of a gateway for one PBX, so that nothing changes for its
    /// tokens and clients.
    pub fn prefixed(&self) -> bool {
        self.pbxs.len() > 1
    }

    fn check_pbxs(&self) -> Result<(), ConfigError> {
        if self.pbxs.is_empty() {
            if self.pbx.url.is_none() && self.pbx.url_env.is_none() {
                return Err(ConfigError("[pbx] needs url or url_env".into()));
            }
            return Ok(());
        }
        if self.pbx.url.is_some() || self.pbx.url_env.is_some() {
            return Err(ConfigError("give either one [pbx] table or [[pbx]] tables, not both".into()));
        }
        let mut seen: Vec<&str> = Vec::new();
        for (i, p) in self.pbxs.iter().enumerate() {
            let n = i + 1;
            let id = match (&p.id, self.pbxs.len()) {
                (Some(id), _) => id.as_str(),
                (None, 1) => DEFAULT_PBX_ID,
                (None, _) => {
                    return Err(ConfigError(format!("[[pbx]] {n} needs an id (there are several PBXs)")))
                }
            };
            if !valid_pbx_id(id) {
                return Err(ConfigError(format!(
                    "[[pbx]] {n}: id {id:?} is not 1 to 32 of a-z, 0-9, _ and -"
                )));
            }
            if seen.contains(&id) {
                return Err(ConfigError(format!("[[pbx]] {n}: id {id:?} is given twice")));
            }
            seen.push(id);
            if p.url.is_none() && p.url_env.is_none() {
                return Err(ConfigError(format!("[[pbx]] {id} needs url or url_env")));
            }
        }
        Ok(())
    }

    /// A token's device entry: a device; `*`; or, with several PBXs, `PBX/DEVICE` or
    /// `PBX/*` of a configured PBX (an entry for no PBX would silently match nothing).
    fn check_device_entry(&self, d: &str) -> Result<(), String> {
        if d.is_empty() || d.len() > 128 || d.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(format!("bad device {d:?}"));
        }
        if !self.prefixed() {
            if d.ends_with("/*") {
                return Err(format!("{d:?}: a PBX's devices (PBX/*) need several [[pbx]]"));
            }
            return Ok(());
        }
        if d == "*" {
            return Ok(());
        }
        match d.split_once('/') {
            Some((pbx, dev)) if !dev.is_empty() && self.pbxs.iter().any(|p| p.id.as_deref() == Some(pbx)) => {
                Ok(())
            }
            _ => Err(format!("{d:?} is not PBX/DEVICE or PBX/* of a configured [[pbx]] id")),
        }
    }

    /// Checks what serde cannot: a listener, the TLS files a TLS listener needs, tokens.
    pub fn check(&self) -> Result<(), ConfigError> {
        let l = &self.listen;
        if l.tcp.is_none() && l.tls.is_none() && l.ws.is_none() && l.wss.is_none() {
            return Err(ConfigError("[listen] needs at least one of tcp, tls, ws, wss".into()));
        }
        if (l.tls.is_some() || l.wss.is_some()) && self.tls.is_none() {
            return Err(ConfigError("a tls or wss listener needs [tls] cert and key".into()));
        }
        self.check_pbxs()?;
        if let Some(c) = &self.cluster {
            let name_ok = !c.node.is_empty()
                && c.node.len() <= 64
                && c.node.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !name_ok {
                return Err(ConfigError(format!(
                    "[cluster] node {:?} is not 1 to 64 of A-Z, a-z, 0-9, _ and -",
                    c.node
                )));
            }
            if c.lease_ttl < Duration::from_millis(600)
                || c.lease_replicas == 0
                || c.command_timeout.is_zero()
            {
                return Err(ConfigError(
                    "[cluster] lease_ttl_ms must be at least 600, lease_replicas and command_timeout_ms positive".into(),
                ));
            }
        }
        // An origin is compared as the browser sends it: scheme and host (and port), no path.
        for o in &l.ws_allowed_origins {
            let rest = o.strip_prefix("https://").or_else(|| o.strip_prefix("http://"));
            if !rest.is_some_and(|h| !h.is_empty() && !h.trim_end_matches('/').contains('/')) {
                return Err(ConfigError(format!(
                    "[listen] ws_allowed_origins: {o:?} is not an origin such as \"https://crm.example.org\""
                )));
            }
        }
        let c = &self.clients;
        if c.queue == 0
            || c.max_line < 256
            || c.queue_bytes < c.max_line
            || c.max_clients == 0
            || c.max_commands == 0
            || c.max_unauthenticated == 0
            || c.max_unauthenticated_per_address == 0
        {
            return Err(ConfigError(
                "[clients] queue, max_clients, max_unauthenticated, max_unauthenticated_per_address and \
                 max_commands must be positive, max_line at least 256, queue_bytes at least max_line"
                    .into(),
            ));
        }
        let d = &self.diagnostics;
        if d.allowed_hosts.is_empty() {
            return Err(ConfigError(
                "[diagnostics] allowed_hosts is empty: no browser could load the page".into(),
            ));
        }
        if let Some(h) = d.allowed_hosts.iter().find(|h| crate::diag::HostName::parse(h).is_none()) {
            return Err(ConfigError(format!(
                "[diagnostics] allowed_hosts: {h:?} is not a host name or address with an optional port"
            )));
        }
        if d.header_timeout.is_zero()
            || d.idle_timeout.is_zero()
            || d.max_connections == 0
            || d.max_connections > MAX_DIAGNOSTICS_CONNECTIONS
        {
            return Err(ConfigError(format!(
                "[diagnostics] header_timeout_ms and idle_timeout_ms must be positive, max_connections \
                 1 to {MAX_DIAGNOSTICS_CONNECTIONS}"
            )));
        }
        if self.tokens.is_empty() {
            return Err(ConfigError("no [[token]]: no client could connect".into()));
        }
        for (i, t) in self.tokens.iter().enumerate() {
            let n = i + 1;
            match (&t.token, &t.token_sha256) {
                (Some(s), None) if s.expose().len() >= 16 => {}
                (Some(_), None) => {
                    return Err(ConfigError(format!(
                        "token {n} ({}) is shorter than 16 characters",
                        t.identity
                    )))
                }
                (None, Some(h)) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {}
                (None, Some(_)) => {
                    return Err(ConfigError(format!(
                        "token {n} ({}): token_sha256 is not 64 hex digits",
                        t.identity
                    )))
                }
                _ => {
                    return Err(ConfigError(format!(
                        "token {n} ({}) needs exactly one of token and token_sha256",
                        t.identity
                    )))
                }
            }
            if t.identity.trim().is_empty() || t.identity.len() > 128 {
                return Err(ConfigError(format!("token {n}: identity must be 1 to 128 characters")));
            }
            for d in t.monitor.iter().chain(&t.control) {
                if let Err(e) = self.check_device_entry(d) {
                    return Err(ConfigError(format!("token {n} ({}): {e}", t.identity)));
                }
            }
        }
        Ok(())
    }

    /// What is allowed but probably a mistake: a plaintext listener (`tcp`, `ws`) on an
    /// address other machines reach carries every token in clear. `gateway --check`
    /// prints these, and the gateway logs them when it starts.
    pub fn warnings(&self) -> Vec<String> {
        let l = &self.listen;
        let mut out = Vec::new();
        for (what, addr, instead) in [("tcp", l.tcp, "tls"), ("ws", l.ws, "wss")] {
            if let Some(a) = addr.filter(|a| !a.ip().is_loopback()) {
                out.push(format!(
                    "[listen] {what} = \"{a}\" is reachable from the network without TLS: tokens cross it \
                     in clear (use {instead} with [tls], or a loopback address behind a TLS proxy)"
                ));
            }
        }
        out
    }

    /// The diagnostics address.
    pub fn diagnostics_addr(&self) -> SocketAddr {
        self.listen.diagnostics.unwrap_or(DEFAULT_DIAGNOSTICS)
    }
}

/// `[a-z0-9_-]{1,32}`: the id is part of device ids, and later of NATS subjects.
pub fn valid_pbx_id(id: &str) -> bool {
    (1..=32).contains(&id.len()) && id.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'))
}

fn url_of(p: &PbxConfig, what: &str) -> Result<Secret, ConfigError> {
    if let Some(u) = &p.url {
        return Ok(u.clone());
    }
    let var = p.url_env.as_deref().ok_or_else(|| ConfigError(format!("{what} needs url or url_env")))?;
    std::env::var(var)
        .map(Secret::new)
        .map_err(|_| ConfigError(format!("{what} url_env: the environment variable {var} is not set")))
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

mod secret {
    use ctilink::Secret;
    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

mod opt_secret {
    use ctilink::Secret;
    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
        Option::<String>::deserialize(d).map(|o| o.map(Secret::new))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        [pbx]
        url = "ami://admin:amisecret@127.0.0.1:5038"
        [listen]
        tcp = "127.0.0.1:7070"
        [clients]
        queue = 64
        slow_client = "disconnect"
        idle_timeout_ms = 1000
        [[token]]
        token = "desk-100-token-0123456789"
        identity = "desk-100"
        monitor = ["100", "101"]
        control = ["100"]
    "#;

    #[test]
    fn a_cluster_table_parses_checks_its_node_and_hides_its_url() {
        let with = |t: &str| Config::from_toml(&format!("{GOOD}\n[cluster]\n{t}"));
        let c = with("nats = \"nats://ctl:natssecret@10.0.0.5:4222\"\nnode = \"gw-a\"").expect("valid");
        let cl = c.cluster.as_ref().expect("[cluster]");
        assert_eq!((cl.lease_ttl, cl.lease_replicas), (Duration::from_secs(6), 1));
        assert_eq!(cl.rebalance_after, Duration::from_secs(60));
        assert!(!format!("{c:?}").contains("natssecret"), "{c:?}");
        let e = with("nats = \"nats://x:4222\"\nnode = \"gw a\"").expect_err("a space in the node");
        assert!(e.to_string().contains("node"), "{e}");
        let e = with("nats = \"nats://x:4222\"\nnode = \"a\"\nlease_ttl_ms = 100").expect_err("too short");
        assert!(e.to_string().contains("lease_ttl_ms"), "{e}");
        assert!(Config::from_toml(GOOD).expect("valid").cluster.is_none(), "alone without [cluster]");
    }

    #[test]
    fn ws_allowed_origins_must_be_origins() {
        let with = |o: &str| {
            let toml = GOOD.replace(
                "tcp = \"127.0.0.1:7070\"",
                &format!("ws = \"127.0.0.1:7080\"\nws_allowed_origins = [\"{o}\"]"),
            );
            Config::from_toml(&toml)
        };
        assert!(with("https://crm.example.org").is_ok());
        assert!(with("http://127.0.0.1:8080/").is_ok());
        for bad in ["crm.example.org", "https://crm.example.org/app", "https://", "*"] {
            assert!(with(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn a_good_file_parses_with_defaults_filled_in() {
        let c = Config::from_toml(GOOD).expect("valid");
        assert_eq!(c.clients.queue, 64);
        assert_eq!(c.clients.slow_client, SlowClientPolicy::Disconnect);
        assert_eq!(c.clients.idle_timeout, Duration::from_secs(1));
        assert_eq!(c.clients.max_line, ctilink::wire::DEFAULT_MAX_LINE);
        assert_eq!(c.diagnostics_addr(), DEFAULT_DIAGNOSTICS);
        assert_eq!(c.tokens[0].monitor, ["100", "101"]);
        let shown = format!("{c:?}");
        assert!(!shown.contains("desk-100-token") && !shown.contains("amisecret"), "{shown}");
    }

    #[test]
    fn the_example_configuration_is_valid_and_its_tokens_work() {
        let c = Config::from_toml(include_str!("../../examples/gateway/gateway.toml"))
            .expect("the example parses");
        assert_eq!(c.tokens.len(), 3);
        let tokens = crate::acl::Tokens::new(&c.tokens);
        let who = |t: &str| tokens.lookup(&Secret::new(t)).map(|a| a.identity.clone());
        assert_eq!(who("desk-100-change-me-0a1b2c3d4e5f").as_deref(), Some("desk-100"));
        // The one given by its SHA-256 only: the comment beside it names the token.
        assert_eq!(who("desk-101-change-me-7c6d5e4f3a2b").as_deref(), Some("desk-101"));
        assert_eq!(who("reception-change-me-9f8e7d6c5b4a").as_deref(), Some("reception-board"));
    }

    #[test]
    fn plaintext_listeners_on_the_network_are_warned_about() {
        let c = Config::from_toml(GOOD).expect("valid");
        assert!(c.warnings().is_empty(), "{:?}", c.warnings());
        let c = Config::from_toml(&GOOD.replace("127.0.0.1:7070", "0.0.0.0:7070")).expect("valid");
        assert_eq!(c.warnings().len(), 1);
        assert!(c.warnings()[0].contains("[listen] tcp = \"0.0.0.0:7070\""), "{:?}", c.warnings());
        let c = Config::from_toml(&GOOD.replace("tcp = \"127.0.0.1:7070\"", "ws = \"[::]:7080\""))
            .expect("valid");
        assert!(c.warnings()[0].contains("without TLS"), "{:?}", c.warnings());
        let example = Config::from_toml(include_str!("../../examples/gateway/gateway.toml")).expect("valid");
        assert!(example.warnings().is_empty(), "the example is safe as it is: {:?}", example.warnings());
    }

    #[test]
    fn errors_name_the_problem_and_never_a_token() {
        let cases = [
            GOOD.replace("tcp = ", "nothing = "),
            GOOD.replace("desk-100-token-0123456789", "short"),
            GOOD.replace(
                "token = \"desk-100-token-0123456789\"",
                "token = \"desk-100-token-0123456789\"\ntoken_sha256 = \"00\"",
            ),
            GOOD.replace("[listen]", "[listen]\ntls = \"127.0.0.1:7071\""),
            GOOD.replace("queue = 64", "queue = 0"),
            GOOD.replace("monitor = [\"100\", \"101\"]", "monitor = [\"10 0\"]"),
            GOOD.replace("token = \"desk-100-token-0123456789\"", "token = desk-100-token-0123456789"),
        ];
        for text in cases {
            let e = Config::from_toml(&text).expect_err(&text).to_string();
            assert!(!e.contains("desk-100-token") && !e.contains("amisecret"), "{e}");
        }
    }
    #[test]
    fn the_diagnostics_table_parses_with_defaults_and_is_checked() {
        let d = Config::from_toml(GOOD).expect("valid").diagnostics;
        assert_eq!(d.allowed_hosts, ["localhost", "127.0.0.1", "[::1]"]);
        assert_eq!((d.header_timeout, d.idle_timeout), (Duration::from_secs(10), Duration::from_secs(60)));
        assert_eq!(d.max_connections, 64);
        let table = "\n[diagnostics]\nallowed_hosts = [\"localhost\", \"diag.example.org:443\", \"[::1]\"]\n\
                     header_timeout_ms = 2500\nidle_timeout_ms = 30000\nmax_connections = 16\n";
        let d = Config::from_toml(&format!("{GOOD}{table}")).expect("valid").diagnostics;
        assert_eq!(d.allowed_hosts, ["localhost", "diag.example.org:443", "[::1]"]);
        assert_eq!(
            (d.header_timeout, d.idle_timeout),
            (Duration::from_millis(2500), Duration::from_secs(30))
        );
        assert_eq!(d.max_connections, 16);
        // The example's commented block, uncommented, is valid and says the defaults.
        let example = include_str!("../../examples/gateway/gateway.toml");
        let block: String = example
            .lines()
            .skip_while(|l| *l != "# [diagnostics]")
            .take_while(|l| l.starts_with("# "))
            .map(|l| format!("{}\n", &l[2..]))
            .collect();
        assert!(block.starts_with("[diagnostics]\n") && block.lines().count() == 5, "{block}");
        let d = Config::from_toml(&format!("{GOOD}\n{block}")).expect("the example's block").diagnostics;
        let default = Diagnostics::default();
        assert_eq!(d.allowed_hosts, default.allowed_hosts);
        assert_eq!((d.header_timeout, d.idle_timeout), (default.header_timeout, default.idle_timeout));
        assert_eq!(d.max_connections, default.max_connections);
        for bad in [
            "allowed_hosts = []",
            "allowed_hosts = [\"\"]",
            "allowed_hosts = [\"http://localhost\"]",
            "allowed_hosts = [\"local host\"]",
            "allowed_hosts = [\"localhost:\"]",
            "allowed_hosts = [\"localhost:99999\"]",
            "allowed_hosts = [\"::1\"]",
            "allowed_hosts = [\"[::g]\"]",
            "header_timeout_ms = 0",
            "idle_timeout_ms = 0",
            "max_connections = 0",
            "max_connections = 100000",
            "max_conections = 8",
        ] {
            let text = format!("{GOOD}\n[diagnostics]\n{bad}\n");
            let e = Config::from_toml(&text).expect_err(bad).to_string();
            assert!(e.contains("diagnostics") || e.contains("unknown field"), "{bad}: {e}");
        }
    }

    const TWO: &str = r#"
        [[pbx]]
        id = "berlin"
        url = "ami://admin:berlinsecret@127.0.0.1:5038"
        [[pbx]]
        id = "hamburg"
        url = "ami://admin:hamburgsecret@127.0.0.1:5039"
        [listen]
        tcp = "127.0.0.1:7070"
        [[token]]
        token = "desk-100-token-0123456789"
        identity = "berlin-desk"
        monitor = ["berlin/*", "hamburg/100"]
        control = ["berlin/100"]
    "#;

    #[test]
    fn several_pbx_tables_give_prefixed_upstreams() {
        let c = Config::from_toml(TWO).expect("valid");
        assert!(c.prefixed());
        let ups = c.upstreams().expect("urls");
        let ids: Vec<&str> = ups.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["berlin", "hamburg"]);
        assert_eq!(ups[1].1.expose(), "ami://admin:hamburgsecret@127.0.0.1:5039");
        let shown = format!("{c:?}");
        assert!(!shown.contains("berlinsecret") && !shown.contains("hamburgsecret"), "{shown}");
    }

    #[test]
    fn one_pbx_in_either_form_is_unprefixed() {
        let c = Config::from_toml(GOOD).expect("valid");
        assert!(!c.prefixed());
        let ups = c.upstreams().expect("url");
        assert_eq!(ups.len(), 1);
        assert_eq!(ups[0].0, DEFAULT_PBX_ID);
        let one = GOOD.replace("[pbx]", "[[pbx]]");
        let c = Config::from_toml(&one).expect("one [[pbx]] without id");
        assert!(!c.prefixed());
        assert_eq!(c.upstreams().expect("url")[0].0, DEFAULT_PBX_ID);
        let named = GOOD.replace("[pbx]", "[[pbx]]\nid = \"berlin\"");
        let c = Config::from_toml(&named).expect("one named [[pbx]]");
        assert!(!c.prefixed(), "one PBX keeps plain ids whatever its id");
        assert_eq!(c.upstreams().expect("url")[0].0, "berlin");
    }

    #[test]
    fn bad_pbx_tables_are_refused_without_their_secrets() {
        let cases = [
            (TWO.replace("id = \"hamburg\"", "id = \"Hamburg\""), "Hamburg"),
            (TWO.replace("id = \"hamburg\"", "id = \"ham/burg\""), "ham/burg"),
            (TWO.replace("id = \"hamburg\"", "id = \"\""), "1 to 32"),
            (TWO.replace("id = \"hamburg\"", &format!("id = \"{}\"", "h".repeat(33))), "1 to 32"),
            (TWO.replace("id = \"hamburg\"", "id = \"berlin\""), "twice"),
            (TWO.replace("id = \"hamburg\"\n", ""), "needs an id"),
            (TWO.replace("url = \"ami://admin:hamburgsecret@127.0.0.1:5039\"", ""), "hamburg needs url"),
            (TWO.replace("\"hamburg/100\"", "\"paris/*\""), "paris/*"),
            (TWO.replace("\"berlin/100\"", "\"100\""), "\"100\" is not PBX/DEVICE"),
            (TWO.replace("url = \"ami://admin:hamburgsecret@127.0.0.1:5039\"", "url = 5039"), "invalid TOML"),
            (
                TWO.replace(
                    "[[pbx]]\n        id = \"hamburg\"",
                    "[[pbx]]\n        id = \"hamburg\"\n        secret = 1",
                ),
                "unknown field",
            ),
            (GOOD.replace("\"100\", \"101\"", "\"berlin/*\""), "need several [[pbx]]"),
        ];
        for (text, want) in cases {
            let e = Config::from_toml(&text).expect_err(want);
            let shown = e.to_string();
            assert!(shown.contains(want), "{want}: {shown}");
            assert!(
                !shown.contains("berlinsecret")
                    && !shown.contains("hamburgsecret")
                    && !shown.contains("amisecret"),
                "{shown}"
            );
        }
    }

    #[test]
    fn both_forms_at_once_are_refused() {
        let mut c = Config::from_toml(TWO).expect("valid");
        c.pbx.url = Some(Secret::new("ami://a:b@127.0.0.1:1"));
        let e = c.check().expect_err("both");
        assert!(e.to_string().contains("not both"), "{e}");
    }
}
