//! Gateways as a cluster over NATS with JetStream (docs/cluster.md): any gateway serves
//! any client, each PBX has one owner at a time by a lease in a JetStream key-value
//! bucket, and events, commands and snapshots travel as NATS messages.
//!
//! Every gateway, owner or not, hands its hub a [`RemoteLink`] per PBX (merged by a
//! `MultiLink` when there are several), so that clients see the same protocol whichever
//! gateway owns what. The [`owner`] tasks compete for the leases.

pub mod owner;
pub mod proto;
pub mod remote;
pub mod subjects;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use remote::{RemoteLink, Watch};

use crate::config::{ClusterConfig, TokenConfig};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The lease bucket.
pub const BUCKET: &str = "ctilink_leases";
/// How long a gateway starting waits for the lease bucket to be there or be made.
const BUCKET_WAIT: Duration = Duration::from_secs(20);

/// Why the cluster could not be joined (never with a NATS password).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    #[error("cannot connect to NATS: {0}")]
    Connect(String),
    #[error("NATS JetStream lease bucket {BUCKET}: {0}")]
    Bucket(String),
    #[error("NATS: {0}")]
    Nats(String),
}

/// This gateway as a member of the cluster: what its owner tasks share.
#[derive(Debug)]
pub struct Node {
    pub name: String,
    pub client: async_nats::Client,
    kv: kv::Store,
    ttl: Duration,
    rebalance_after: Duration,
    pbx_count: usize,
    /// The PBXs this gateway owns, with when it took each.
    owns: Mutex<BTreeMap<String, Instant>>,
    /// Other gateways by name: when last heard and what they said.
    peers: Mutex<HashMap<String, (Instant, proto::Hello)>>,
    stopping: AtomicBool,
    config_hash: String,
}

impl Node {
    fn renew_every(&self) -> Duration {
        self.ttl / 6
    }

    fn hello_every(&self) -> Duration {
        proto::hello_every(self.ttl)
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Gateways heard from lately, this one included.
    fn live(&self) -> usize {
        let peers = lock(&self.peers);
        1 + peers
            .values()
            .filter(|(at, h)| at.elapsed() < self.hello_every() * 3 && h.node != self.name)
            .count()
    }

    /// A gateway owns at most its share of the PBXs: `ceil(pbxs / live gateways)`.
    fn share(&self) -> usize {
        self.pbx_count.div_ceil(self.live()).max(1)
    }

    fn may_take(&self) -> bool {
        !self.stopping() && lock(&self.owns).len() < self.share()
    }

    /// Whether `pbx` is the one to give back: this gateway owns more than its share and
    /// took `pbx` last.
    fn should_give_back(&self, pbx: &str) -> bool {
        let owns = lock(&self.owns);
        if owns.len() <= self.share() {
            return false;
        }
        owns.iter().max_by_key(|(_, at)| **at).is_some_and(|(p, _)| p == pbx)
    }

    fn took(&self, pbx: &str) {
        lock(&self.owns).insert(pbx.to_owned(), Instant::now());
    }

    fn gave_up(&self, pbx: &str) {
        lock(&self.owns).remove(pbx);
    }

    /// The PBXs this gateway owns now.
    pub fn owned(&self) -> Vec<String> {
        lock(&self.owns).keys().cloned().collect()
    }

    /// The other gateways heard from lately, with what they own.
    pub fn peers(&self) -> Vec<proto::Hello> {
        let peers = lock(&self.peers);
        let mut v: Vec<proto::Hello> = peers
            .values()
            .filter(|(at, h)| at.elapsed() < self.hello_every() * 3 && h.node != self.name)
            .map(|(_, h)| h.clone())
            .collect();
        v.sort_by(|a, b| a.node.cmp(&b.node));
        v
    }

    pub fn config_hash(&self) -> &str {
        &self.config_hash
    }
}

/// The running cluster membership of a gateway.
#[derive(Debug)]
pub struct Cluster {
    pub node: Arc<Node>,
    pub links: Vec<(String, Arc<RemoteLink>)>,
    tasks: Vec<JoinHandle<()>>,
}

/// What [`join`] needs besides the configuration.
pub struct JoinArgs<'a> {
    pub config: &'a ClusterConfig,
    pub pbxs: Vec<owner::Pbx>,
    /// Whether device ids carry the PBX (`berlin/100`), as tokens then name them.
    pub prefixed: bool,
    pub tokens: &'a [TokenConfig],
    pub event_queue: usize,
    pub event_queue_bytes: usize,
    /// Clients connected now, for the hello.
    pub clients: Arc<dyn Fn() -> usize + Send + Sync>,
}

impl std::fmt::Debug for JoinArgs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinArgs")
            .field("config", self.config)
            .field("pbxs", &self.pbxs)
            .finish_non_exhaustive()
    }
}

/// Connects to NATS, opens the lease bucket, starts following every PBX and competing
/// for their leases.
pub async fn join(args: JoinArgs<'_>) -> Result<Cluster, ClusterError> {
    let c = args.config;
    let lost = Arc::new(AtomicBool::new(false));
    let lost_cb = lost.clone();
    let mut options = async_nats::ConnectOptions::new()
        .name(format!("ctilink-gateway {}", c.node))
        .connection_timeout(Duration::from_secs(2))
        .ping_interval((c.lease_ttl / 3).max(Duration::from_millis(200)))
        .request_timeout(None)
        // Messages a subscription holds when the gateway falls behind; beyond, the client
        // drops them and reports a slow consumer, answered by a resync.
        .subscription_capacity(8192)
        .max_reconnects(None)
        .reconnect_delay_callback(|n| Duration::from_millis((100 * n as u64).min(1000)))
        .event_callback(move |ev| {
            let lost = lost_cb.clone();
            async move {
                match ev {
                    async_nats::Event::SlowConsumer(_) => lost.store(true, Ordering::Release),
                    async_nats::Event::Disconnected => tracing::warn!("cluster: NATS connection lost"),
                    async_nats::Event::Connected => tracing::info!("cluster: NATS connected"),
                    other => tracing::info!("cluster: NATS: {other}"),
                }
            }
        });
    if let Some(creds) = &c.credentials {
        options = options
            .credentials_file(creds)
            .await
            .map_err(|e| ClusterError::Connect(format!("credentials {}: {e}", creds.display())))?;
    }
    let servers: Vec<async_nats::ServerAddr> = c
        .nats
        .expose()
        .split(',')
        .map(|s| s.trim().parse::<async_nats::ServerAddr>())
        .collect::<Result<_, _>>()
        // The parse error could quote the URL with its password: name none of it.
        .map_err(|_| ClusterError::Connect("[cluster] nats is not a list of nats:// URLs".into()))?;
    let client = options.connect(servers).await.map_err(|e| ClusterError::Connect(e.kind().to_string()))?;
    let js = jetstream::new(client.clone());
    // A NATS cluster started with the gateways may not have elected its JetStream
    // leader yet: try for a while before giving up.
    let deadline = Instant::now() + BUCKET_WAIT;
    let kv = loop {
        let attempt = tokio::time::timeout(Duration::from_secs(5), open_bucket(&js, c)).await;
        let attempt =
            attempt.unwrap_or_else(|_| Err(ClusterError::Bucket("JetStream did not answer".into())));
        match attempt {
            Ok(kv) => break kv,
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(e) => {
                tracing::info!("cluster: {e}; trying again");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    };
    let config_hash = hash_config(&args.pbxs, args.tokens);
    let node = Arc::new(Node {
        name: c.node.clone(),
        client: client.clone(),
        kv,
        ttl: c.lease_ttl,
        rebalance_after: c.rebalance_after,
        pbx_count: args.pbxs.len(),
        owns: Mutex::new(BTreeMap::new()),
        peers: Mutex::new(HashMap::new()),
        stopping: AtomicBool::new(false),
        config_hash,
    });
    let mut tasks = Vec::new();
    let hellos = client.subscribe(subjects::HELLOS).await.map_err(|e| ClusterError::Nats(e.to_string()))?;
    tasks.push(tokio::spawn(listen_hellos(node.clone(), hellos)));
    tasks.push(tokio::spawn(say_hello(node.clone(), args.clients.clone())));
    let beat = remote::Beat::of(c.lease_ttl);
    let mut links = Vec::new();
    for p in &args.pbxs {
        let watch = watch_of(&p.id, args.prefixed, args.tokens);
        let options = remote::Options {
            watch,
            beat,
            command_timeout: c.command_timeout,
            lost: lost.clone(),
            event_queue: args.event_queue,
            event_queue_bytes: args.event_queue_bytes,
        };
        let link = RemoteLink::start(p.id.clone(), client.clone(), options)
            .await
            .map_err(|e| ClusterError::Nats(e.to_string()))?;
        links.push((p.id.clone(), Arc::new(link)));
    }
    for p in args.pbxs {
        tasks.push(tokio::spawn(owner::run(node.clone(), p)));
    }
    Ok(Cluster { node, links, tasks })
}

/// Opens the lease bucket, making it if no gateway has yet. The bucket's stream is made
/// here as the client library would, because the library's own way asks the server for
/// account fields that NATS 2.9 (Debian 12's) does not send.
async fn open_bucket(js: &jetstream::Context, c: &ClusterConfig) -> Result<kv::Store, ClusterError> {
    if let Ok(store) = js.get_key_value(BUCKET).await {
        return Ok(store);
    }
    let config = jetstream::stream::Config {
        name: format!("KV_{BUCKET}"),
        description: Some("ctilink gateways: which gateway owns which PBX".into()),
        subjects: vec![format!("$KV.{BUCKET}.>")],
        max_messages_per_subject: 1,
        max_age: c.lease_ttl,
        storage: jetstream::stream::StorageType::File,
        num_replicas: c.lease_replicas,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: jetstream::stream::DiscardPolicy::New,
        ..Default::default()
    };
    let made = js.create_stream(config).await.err();
    // Made here, or by another gateway at the same time.
    js.get_key_value(BUCKET)
        .await
        .map_err(|e| ClusterError::Bucket(made.map_or_else(|| e.to_string(), |m| format!("{m}; then {e}"))))
}

/// The devices of `pbx` the configured tokens may monitor, unprefixed.
pub fn watch_of(pbx: &str, prefixed: bool, tokens: &[TokenConfig]) -> Watch {
    let mut some = HashSet::new();
    for t in tokens {
        for d in &t.monitor {
            if d == "*" {
                return Watch::All;
            }
            if !prefixed {
                some.insert(d.clone());
                continue;
            }
            match ctilink::link::multi::ids::split(d) {
                Some((p, "*")) if p == pbx => return Watch::All,
                Some((p, rest)) if p == pbx => {
                    some.insert(rest.to_owned());
                }
                _ => {}
            }
        }
    }
    Watch::Some(some)
}

/// A short hash of the PBX ids and the tokens' identities and devices (never the
/// tokens), so that nodes configured differently show on the diagnostics page.
fn hash_config(pbxs: &[owner::Pbx], tokens: &[TokenConfig]) -> String {
    let mut text = String::new();
    for p in pbxs {
        text.push_str(&p.id);
        text.push('\n');
    }
    for t in tokens {
        text.push_str(&format!("{}|{:?}|{:?}|{}\n", t.identity, t.monitor, t.control, t.user_events));
    }
    let d = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    d.as_ref()[..6].iter().map(|b| format!("{b:02x}")).collect()
}

async fn listen_hellos(node: Arc<Node>, mut sub: async_nats::Subscriber) {
    while let Some(m) = sub.next().await {
        let Ok(h) = serde_json::from_slice::<proto::Hello>(&m.payload) else { continue };
        let mut peers = lock(&node.peers);
        // Bounded: gateways long silent are forgotten, and a cluster has few.
        peers.retain(|_, (at, _)| at.elapsed() < Duration::from_secs(60));
        if peers.len() < 1024 || peers.contains_key(&h.node) {
            peers.insert(h.node.clone(), (Instant::now(), h));
        }
    }
}

async fn say_hello(node: Arc<Node>, clients: Arc<dyn Fn() -> usize + Send + Sync>) {
    let mut tick = tokio::time::interval(node.hello_every());
    loop {
        tick.tick().await;
        let h = proto::Hello {
            node: node.name.clone(),
            owns: node.owned(),
            config: node.config_hash.clone(),
            clients: clients(),
        };
        let body = Bytes::from(serde_json::to_vec(&h).unwrap_or_default());
        let _ = node.client.publish(subjects::hello(&node.name), body).await;
    }
}

impl Cluster {
    /// Gives up every lease (closing the PBX links first) and leaves NATS.
    pub async fn leave(&mut self) {
        self.node.stopping.store(true, Ordering::Release);
        let deadline = Instant::now() + Duration::from_secs(3);
        while !self.node.owned().is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for t in &self.tasks {
            t.abort();
        }
        let _ = self.node.client.flush().await;
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.node.stopping.store(true, Ordering::Release);
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(monitor: &[&str]) -> TokenConfig {
        TokenConfig {
            token: Some("t".into()),
            token_sha256: None,
            identity: "i".into(),
            monitor: monitor.iter().map(|s| s.to_string()).collect(),
            control: Vec::new(),
            user_events: false,
        }
    }

    fn some(v: &[&str]) -> Watch {
        Watch::Some(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn a_gateway_watches_the_devices_its_tokens_may_see_of_each_pbx() {
        let tokens = [token(&["berlin/100", "hamburg/7"]), token(&["berlin/101"])];
        assert_eq!(watch_of("berlin", true, &tokens), some(&["100", "101"]));
        assert_eq!(watch_of("hamburg", true, &tokens), some(&["7"]));
        assert_eq!(watch_of("munich", true, &tokens), some(&[]));
        let wide = [token(&["berlin/100"]), token(&["hamburg/*"])];
        assert_eq!(watch_of("hamburg", true, &wide), Watch::All);
        assert_eq!(watch_of("berlin", true, &wide), some(&["100"]));
        assert_eq!(watch_of("berlin", true, &[token(&["*"])]), Watch::All);
        // One PBX: ids without a prefix.
        assert_eq!(watch_of("default", false, &[token(&["100", "101"])]), some(&["100", "101"]));
    }

    #[test]
    fn the_config_hash_follows_pbxs_and_tokens_but_not_token_values() {
        let pbx = |id: &str| owner::Pbx {
            id: id.into(),
            ami: ctilink::ami::AmiConfig::from_url("ami://u:s@127.0.0.1:5038").expect("url"),
            control: Default::default(),
        };
        let a = hash_config(&[pbx("berlin")], &[token(&["berlin/100"])]);
        let mut other_value = token(&["berlin/100"]);
        other_value.token = Some("another".into());
        assert_eq!(a, hash_config(&[pbx("berlin")], &[other_value]));
        assert_ne!(a, hash_config(&[pbx("hamburg")], &[token(&["berlin/100"])]));
        assert_ne!(a, hash_config(&[pbx("berlin")], &[token(&["berlin/101"])]));
    }
}
