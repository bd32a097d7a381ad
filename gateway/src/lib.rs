//! The CTI gateway: one PBX connection for many clients (deployment scenarios 2 and 3 of
//! docs/architecture.md).
//!
//! Upstream, one AMI link with the core's call model. Downstream, clients over TCP, TLS
//! and WebSocket speaking the wire protocol of `ctilink::wire` (docs/wire-protocol.md).
//! Each client authenticates with a token that names the devices it may monitor and
//! control ([`acl`]); the hub ([`hub`]) hands each event to the clients that may see it,
//! through a bounded queue per client with a policy for slow ones ([`queue`]). The
//! diagnostics ([`diag`]) show the link and every client with its message counts.
//! `ctilink gateway --config gateway.toml` runs it; docs/gateway.md says how to deploy it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ctilink_gateway::Config::load(std::path::Path::new("gateway.toml"))?;
//! let gateway = ctilink_gateway::Gateway::start(config).await?;
//! gateway.run_until_signal().await;
//! # Ok(()) }
//! ```

pub mod acl;
pub mod admission;
pub mod cluster;
pub mod config;
pub mod diag;
mod front;
pub mod hub;
mod io;
mod listen;
mod panel;
pub mod queue;
pub mod registry;
mod session;
mod time;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ctilink::link::ami::AmiLink;
use ctilink::link::multi::MultiLink;
use ctilink::{Link, LinkStatus, SessionOptions, Transport};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{ClientLimits, Config, ConfigError, Listen, SlowClientPolicy, TlsFiles, TokenConfig};
pub use diag::{ClientsReport, LinkReport};
pub use listen::WS_PATH;
pub use registry::{ClientReport, Transport as ClientTransport};

/// Capacity of the upstream link's event queue for the fan-out: at 2,000 events per
/// second, 30 s of events before the fan-out would count as lagging.
const UPSTREAM_QUEUE: usize = 65_536;
/// The same queue's bound in bytes (events and the strings they own): 64 MiB, about four
/// times what 65,536 ordinary events weigh, so the count above is what applies to normal
/// traffic; a PBX that sends `UserEvent`s near the 1 MiB message limit makes the fan-out
/// lag (and resync its clients) past 64 MiB instead of holding 65,536 of them (64 GiB).
const UPSTREAM_QUEUE_BYTES: usize = 64 * 1024 * 1024;
/// How long shutdown waits for clients to receive their `bye`.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(3);

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The PBX link could not be established (the message never holds the AMI secret).
    #[error("PBX link: {0}")]
    Pbx(#[from] ctilink::Error),
    /// One of several PBXs' links could not be established (never with its AMI secret).
    #[error("PBX {pbx}: {source}")]
    PbxOf { pbx: String, source: ctilink::Error },
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind { what: &'static str, addr: SocketAddr, source: std::io::Error },
    #[error("TLS: {0}")]
    Tls(String),
    /// `[cluster]`: NATS or its lease bucket could not be reached.
    #[error("cluster: {0}")]
    Cluster(#[from] cluster::ClusterError),
}

/// What the connection tasks share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) hub: Arc<hub::Hub>,
    /// What the hub and the commands use: the one PBX's link, or a [`MultiLink`] over
    /// several.
    pub(crate) link: Arc<dyn Link>,
    /// Each PBX's own link with its id, for the diagnostics' AMI counters.
    pub(crate) pbxs: Vec<(String, Arc<AmiLink>)>,
    pub(crate) tokens: acl::Tokens,
    pub(crate) limits: ClientLimits,
    pub(crate) registry: registry::Registry,
    pub(crate) admission: admission::Admission,
    pub(crate) metrics: Arc<registry::Metrics>,
    pub(crate) stopping: watch::Sender<bool>,
    pub(crate) started: SystemTime,
    /// `[listen] ws_allowed_origins`: pages of other sites allowed to open the WebSocket.
    pub(crate) ws_allowed_origins: Vec<String>,
    /// `[cluster]`: this gateway as a member, and each PBX as it follows it.
    pub(crate) cluster: Option<ClusterView>,
}

/// What the diagnostics show of the cluster.
#[derive(Debug)]
pub(crate) struct ClusterView {
    pub(crate) node: Arc<cluster::Node>,
    pub(crate) links: Vec<(String, Arc<cluster::RemoteLink>)>,
}

impl Shared {
    /// A connection is gone: out of the registry (into its closed list) and its budget.
    pub(crate) fn forget(&self, client: &registry::Client) {
        self.admission.gone(client);
        self.registry.remove(client);
    }
}

/// The addresses the gateway listens on (the real ports when configured with port 0).
#[derive(Clone, Copy, Debug, Default)]
pub struct Addrs {
    pub tcp: Option<SocketAddr>,
    pub tls: Option<SocketAddr>,
    pub ws: Option<SocketAddr>,
    pub wss: Option<SocketAddr>,
    pub diagnostics: Option<SocketAddr>,
}

/// A running gateway.
#[derive(Debug)]
pub struct Gateway {
    shared: Arc<Shared>,
    cluster: Option<cluster::Cluster>,
    addrs: Addrs,
    tasks: Vec<JoinHandle<()>>,
    hub_task: JoinHandle<()>,
}

async fn bind(what: &'static str, addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr).await.map_err(|source| StartError::Bind { what, addr, source })
}

impl Gateway {
    /// Connects to the PBX (returning once the model holds its devices and calls), binds
    /// every configured listener and starts serving.
    pub async fn start(config: Config) -> Result<Gateway, StartError> {
        config.check()?;
        for w in config.warnings() {
            tracing::warn!("{w}");
        }
        let mut upstreams = Vec::new();
        let urls = config.upstreams()?;
        for (id, url) in urls {
            let options = SessionOptions::from_url(url.expose())?;
            let Transport::Ami(ami) = options.transport else {
                return Err(ConfigError(format!("the url of PBX {id} must be ami:// or amis://")).into());
            };
            upstreams.push((id, ami, options.control));
        }
        let tls = match &config.tls {
            Some(files) => Some(listen::tls_acceptor(files).map_err(StartError::Tls)?),
            None => None,
        };
        // Bind before connecting upstream, so that a port in use fails at once.
        let l = &config.listen;
        let tcp = match l.tcp {
            Some(a) => Some(bind("tcp", a).await?),
            None => None,
        };
        let tls_l = match l.tls {
            Some(a) => Some(bind("tls", a).await?),
            None => None,
        };
        let ws = match l.ws {
            Some(a) => Some(bind("ws", a).await?),
            None => None,
        };
        let wss = match l.wss {
            Some(a) => Some(bind("wss", a).await?),
            None => None,
        };
        let diag = bind("diagnostics", config.diagnostics_addr()).await?;

        let mut pbxs: Vec<(String, Arc<AmiLink>)> = Vec::new();
        let prefixed = config.prefixed();
        let clients_now: Arc<std::sync::OnceLock<std::sync::Weak<Shared>>> = Arc::default();
        let mut joined = None;
        let link: Arc<dyn Link> = if let Some(cc) = &config.cluster {
            let each = upstreams
                .into_iter()
                .map(|(id, ami, control)| cluster::owner::Pbx { id, ami, control })
                .collect();
            let count = clients_now.clone();
            let c = cluster::join(cluster::JoinArgs {
                config: cc,
                pbxs: each,
                prefixed,
                tokens: &config.tokens,
                event_queue: UPSTREAM_QUEUE,
                event_queue_bytes: UPSTREAM_QUEUE_BYTES,
                clients: Arc::new(move || {
                    count.get().and_then(|w| w.upgrade()).map_or(0, |s| s.registry.len())
                }),
            })
            .await?;
            tracing::info!("cluster: joined as {} ({} PBXs)", cc.node, c.links.len());
            let link: Arc<dyn Link> = if prefixed {
                let each = c.links.iter().map(|(id, l)| (id.clone(), l.clone() as Arc<dyn Link>)).collect();
                Arc::new(MultiLink::new(each, UPSTREAM_QUEUE, UPSTREAM_QUEUE_BYTES)?)
            } else {
                c.links[0].1.clone()
            };
            // As alone, start serving with the model whole when it can be had: wait for
            // an owner's snapshot, at most a lease's TTL and a few seconds more.
            let deadline = tokio::time::Instant::now() + cc.lease_ttl + Duration::from_secs(5);
            while link.status() != LinkStatus::Up && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            joined = Some(c);
            link
        } else {
            for (id, ami, control) in upstreams {
                let link = match AmiLink::connect(ami, control, UPSTREAM_QUEUE, UPSTREAM_QUEUE_BYTES).await {
                    Ok(l) => l,
                    Err(e) if prefixed => {
                        // Log off the PBXs already connected rather than leave their sessions
                        // to the PBXs' timeouts.
                        for (_, l) in &pbxs {
                            l.close().await;
                        }
                        return Err(StartError::PbxOf { pbx: id, source: e });
                    }
                    Err(e) => return Err(StartError::Pbx(e)),
                };
                tracing::info!("PBX link up: {id} {}", link.client().config().redacted_url());
                pbxs.push((id, Arc::new(link)));
            }
            if prefixed {
                let each = pbxs.iter().map(|(id, l)| (id.clone(), l.clone() as Arc<dyn Link>)).collect();
                Arc::new(MultiLink::new(each, UPSTREAM_QUEUE, UPSTREAM_QUEUE_BYTES)?)
            } else {
                pbxs[0].1.clone()
            }
        };
        let rx = link.subscribe();
        let metrics = Arc::new(registry::Metrics::default());
        let hub = Arc::new(hub::Hub::new(
            link.snapshot(),
            link.status() == LinkStatus::Up,
            config.clients.slow_client,
            metrics.clone(),
        ));
        let (stopping, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            hub: hub.clone(),
            link: link.clone(),
            pbxs,
            tokens: acl::Tokens::new(&config.tokens),
            limits: config.clients.clone(),
            registry: registry::Registry::default(),
            admission: admission::Admission::new(
                config.clients.max_unauthenticated,
                config.clients.max_unauthenticated_per_address,
                config.clients.max_clients,
            ),
            metrics,
            stopping,
            started: SystemTime::now(),
            ws_allowed_origins: config.listen.ws_allowed_origins.clone(),
            cluster: joined.as_ref().map(|c| ClusterView { node: c.node.clone(), links: c.links.clone() }),
        });
        let _ = clients_now.set(Arc::downgrade(&shared));
        let hub_task = tokio::spawn(hub::run(hub, link, rx));
        let mut addrs = Addrs::default();
        let mut tasks = Vec::new();
        let listeners = [
            (tcp, registry::Transport::Tcp, None, &mut addrs.tcp),
            (tls_l, registry::Transport::Tls, tls.clone(), &mut addrs.tls),
            (ws, registry::Transport::Ws, None, &mut addrs.ws),
            (wss, registry::Transport::Wss, tls.clone(), &mut addrs.wss),
        ];
        for (listener, kind, acceptor, slot) in listeners {
            let Some(listener) = listener else { continue };
            *slot = listener.local_addr().ok();
            tracing::info!("listening for {} clients on {:?}", kind.as_str(), slot);
            tasks.push(tokio::spawn(listen::accept_loop(shared.clone(), listener, kind, acceptor)));
        }
        addrs.diagnostics = diag.local_addr().ok();
        tracing::info!("diagnostics on http://{:?}/", addrs.diagnostics);
        tasks.push(tokio::spawn(diag::serve(shared.clone(), diag, config.diagnostics.clone())));
        Ok(Gateway { shared, cluster: joined, addrs, tasks, hub_task })
    }

    pub fn addrs(&self) -> Addrs {
        self.addrs
    }

    /// Every connection open now, as `/api/clients` shows them.
    pub fn clients(&self) -> ClientsReport {
        diag::clients_report(&self.shared)
    }

    /// The PBX link, as `/api/link` shows it.
    pub fn link(&self) -> LinkReport {
        diag::link_report(&self.shared)
    }

    /// The model at the fan-out's position in the event stream.
    pub fn snapshot(&self) -> ctilink::Snapshot {
        self.shared.hub.snapshot()
    }

    /// Says `bye` with `reason` to every client, waits briefly for the byes to be written,
    /// stops listening and logs off the PBX.
    pub async fn shutdown(mut self, reason: &str) {
        tracing::info!("gateway shutting down: {reason}");
        let bye = ctilink::wire::encode(&ctilink::wire::ServerMessage::Bye { reason: reason.to_owned() });
        for c in self.shared.registry.open() {
            c.end(reason);
            c.queue.close_with(bye.clone());
        }
        self.shared.stopping.send_replace(true);
        let _ = tokio::time::timeout(SHUTDOWN_WAIT, self.shared.registry.until_empty()).await;
        if let Some(c) = self.cluster.as_mut() {
            c.leave().await;
        }
        self.shared.link.close().await;
        self.hub_task.abort();
        for t in std::mem::take(&mut self.tasks) {
            let _ = tokio::time::timeout(Duration::from_secs(1), t).await;
        }
    }

    /// Serves until SIGTERM or SIGINT (Ctrl-C), then shuts down gracefully. The signal
    /// handlers are installed when this is called, before the future is first polled, so
    /// a signal that arrives from then on is never missed.
    pub fn run_until_signal(self) -> impl std::future::Future<Output = ()> + Send {
        let signals = Signals::watch();
        async move {
            let which = signals.recv().await;
            self.shutdown(&format!("the gateway is shutting down ({which})")).await;
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        // Dropped without `shutdown`: stop serving anyway (clients see the sockets close).
        self.shared.stopping.send_replace(true);
        self.hub_task.abort();
    }
}

/// SIGTERM and SIGINT, watched from creation on.
#[derive(Debug)]
pub struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    /// Installs the handlers now. Needs a tokio runtime.
    pub fn watch() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let term =
                signal(SignalKind::terminate()).map_err(|e| tracing::warn!("cannot watch SIGTERM: {e}")).ok();
            Signals { term }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// Waits for either signal; returns which.
    #[allow(unused_mut)] // mutated on unix only
    pub async fn recv(mut self) -> &'static str {
        #[cfg(unix)]
        if let Some(term) = self.term.as_mut() {
            return tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = tokio::signal::ctrl_c() => "SIGINT",
            };
        }
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}
