//! Diagnostics over HTTP: the page a PBX's "Diagnose > TAPI" screen would be, its data as
//! JSON, Prometheus metrics and a health check. Bound to 127.0.0.1 unless configured: it
//! lists every client's address and identity, and has no authentication of its own (put
//! a reverse proxy with authentication in front to expose it).
//! It answers only to the `Host` names of `[diagnostics] allowed_hosts` (a page of another
//! site must not read it through DNS rebinding), and bounds its connections in time and
//! number (`diag/server.rs`: a flood of half-sent requests must not use up the gateway's file
//! descriptors).
//!
//! - `/`: HTML that refreshes itself from the two JSON endpoints every 2 s;
//! - `/api/clients`: `{"clients": [...], "closed": [...]}`, one object per connection
//!   (`ClientReport`), the last 50 closed ones with the reason they ended;
//! - `/api/link`: the PBX link (`LinkReport`);
//! - `/metrics`: Prometheus text format;
//! - `/healthz`: 200 while the PBX link is up, 503 while it is down.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::registry::ClientReport;
use crate::time::rfc3339;
use crate::Shared;

mod server;
pub(crate) use server::{serve, HostName};

const PAGE: &str = include_str!("page.html");

pub(crate) fn router(gw: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/api/clients", get(clients))
        .route("/api/link", get(link))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(gw)
}

async fn page() -> Response {
    ([(header::CACHE_CONTROL, "no-store")], Html(PAGE)).into_response()
}

/// `/api/clients`.
#[derive(Debug, Serialize)]
pub struct ClientsReport {
    pub clients: Vec<ClientReport>,
    pub closed: Vec<ClientReport>,
}

/// `/api/link`.
#[derive(Clone, Debug, Serialize)]
pub struct LinkReport {
    /// `up` or `down`.
    pub state: &'static str,
    pub since: String,
    pub reason: Option<String>,
    /// The PBX URL without its secret.
    pub url: String,
    /// AMI messages received from and sent to the PBX.
    pub messages_in: u64,
    pub messages_out: u64,
    pub decode_errors: u64,
    pub link_ups: u64,
    pub link_downs: u64,
    pub action_timeouts: u64,
    /// Normalized events the fan-out handed out.
    pub events: u64,
    pub devices: usize,
    pub calls: usize,
    pub clients: usize,
    pub started: String,
    /// `[cluster]`: this gateway, the others and who owns each PBX.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterReport>,
}

/// The cluster as this gateway sees it.
#[derive(Clone, Debug, Serialize)]
pub struct ClusterReport {
    pub node: String,
    /// The PBXs this gateway owns (holds the lease and the AMI link of).
    pub owns: Vec<String>,
    /// A hash of the PBX ids and tokens: the same on every gateway configured alike.
    pub config: String,
    /// Each PBX: its owner as last heard, the lease's epoch, and the link as followed here.
    pub pbxs: Vec<ClusterPbx>,
    /// The other gateways heard from lately.
    pub peers: Vec<crate::cluster::proto::Hello>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ClusterPbx {
    pub id: String,
    pub owner: String,
    pub epoch: u64,
    pub state: &'static str,
}

pub(crate) fn clients_report(gw: &Shared) -> ClientsReport {
    ClientsReport {
        clients: gw.registry.open().iter().map(|c| c.report()).collect(),
        closed: gw.registry.closed(),
    }
}

pub(crate) fn link_report(gw: &Shared) -> LinkReport {
    let v = gw.hub.link_view();
    // Several PBXs: their AMI counters summed, their URLs named by PBX.
    let mut stats = ctilink::ami::client::LinkStats::default();
    let mut urls = Vec::new();
    for (id, l) in &gw.pbxs {
        let s = l.client().stats();
        stats.messages_in += s.messages_in;
        stats.messages_out += s.messages_out;
        stats.decode_errors += s.decode_errors;
        stats.link_ups += s.link_ups;
        stats.link_downs += s.link_downs;
        stats.action_timeouts += s.action_timeouts;
        let url = l.client().config().redacted_url();
        urls.push(if gw.pbxs.len() > 1 { format!("{id}={url}") } else { url });
    }
    let (devices, calls) = gw.hub.counts();
    LinkReport {
        state: if v.up { "up" } else { "down" },
        since: rfc3339(v.since),
        reason: v.reason,
        url: urls.join(" "),
        messages_in: stats.messages_in,
        messages_out: stats.messages_out,
        decode_errors: stats.decode_errors,
        link_ups: stats.link_ups,
        link_downs: stats.link_downs,
        action_timeouts: stats.action_timeouts,
        events: gw.metrics.upstream_events.load(Ordering::Relaxed),
        devices,
        calls,
        clients: gw.registry.len(),
        started: rfc3339(gw.started),
        cluster: gw.cluster.as_ref().map(cluster_report),
    }
}

fn cluster_report(c: &crate::ClusterView) -> ClusterReport {
    use ctilink::Link;
    ClusterReport {
        node: c.node.name.clone(),
        owns: c.node.owned(),
        config: c.node.config_hash().to_owned(),
        pbxs: c
            .links
            .iter()
            .map(|(id, l)| {
                let (owner, epoch) = l.owner();
                let state = if l.status() == ctilink::LinkStatus::Up { "up" } else { "down" };
                ClusterPbx { id: id.clone(), owner, epoch, state }
            })
            .collect(),
        peers: c.node.peers(),
    }
}

async fn clients(State(gw): State<Arc<Shared>>) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], Json(clients_report(&gw))).into_response()
}

async fn link(State(gw): State<Arc<Shared>>) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], Json(link_report(&gw))).into_response()
}

async fn healthz(State(gw): State<Arc<Shared>>) -> Response {
    if gw.hub.link_view().up {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "the PBX link is down\n").into_response()
    }
}

async fn metrics(State(gw): State<Arc<Shared>>) -> Response {
    let body = render_metrics(&gw);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}

fn render_metrics(gw: &Shared) -> String {
    let m = &gw.metrics;
    let link = link_report(gw);
    let open = gw.registry.open();
    let mut out = String::with_capacity(4096);
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(&str, f64)]| {
        let _ = writeln!(out, "# HELP ctilink_gateway_{name} {help}");
        let _ = writeln!(out, "# TYPE ctilink_gateway_{name} {kind}");
        for (labels, v) in samples {
            let _ = writeln!(out, "ctilink_gateway_{name}{labels} {v}");
        }
    };
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed) as f64;
    let by = |t: &str| open.iter().filter(|c| c.transport.as_str() == t).count() as f64;
    metric(
        "clients",
        "gauge",
        "Client connections open, by transport.",
        &[
            ("{transport=\"tcp\"}", by("tcp")),
            ("{transport=\"tls\"}", by("tls")),
            ("{transport=\"ws\"}", by("ws")),
            ("{transport=\"wss\"}", by("wss")),
        ],
    );
    metric(
        "clients_authenticated",
        "gauge",
        "Clients past hello, receiving events.",
        &[("", gw.hub.attached() as f64)],
    );
    let queued: usize = open.iter().map(|c| c.queue.depth()).sum();
    metric("client_queue_messages", "gauge", "Messages queued for all clients.", &[("", queued as f64)]);
    metric("connections_total", "counter", "Client connections accepted.", &[("", get(&m.connections))]);
    metric(
        "connections_refused_total",
        "counter",
        "Connections refused at max_clients.",
        &[("", get(&m.refused_full))],
    );
    metric("auth_failures_total", "counter", "Hellos with an unknown token.", &[("", get(&m.auth_failures))]);
    metric(
        "protocol_errors_total",
        "counter",
        "Client messages refused as malformed.",
        &[("", get(&m.protocol_errors))],
    );
    metric(
        "client_messages_in_total",
        "counter",
        "Messages received from clients.",
        &[("", get(&m.messages_in))],
    );
    metric(
        "client_messages_out_total",
        "counter",
        "Messages written to clients.",
        &[("", get(&m.messages_out))],
    );
    metric("commands_total", "counter", "Commands received.", &[("", get(&m.commands))]);
    metric(
        "commands_refused_total",
        "counter",
        "Commands refused by the gateway (access control, limits, validation).",
        &[("", get(&m.commands_refused))],
    );
    metric(
        "dropped_messages_total",
        "counter",
        "Messages dropped for slow clients.",
        &[("", get(&m.dropped))],
    );
    metric(
        "slow_client_total",
        "counter",
        "Slow-client policy applications.",
        &[
            ("{action=\"resync\"}", get(&m.slow_resyncs)),
            ("{action=\"disconnect\"}", get(&m.slow_disconnects)),
        ],
    );
    metric(
        "write_timeouts_total",
        "counter",
        "Clients closed because a write did not complete.",
        &[("", get(&m.write_timeouts))],
    );
    metric(
        "upstream_events_total",
        "counter",
        "Normalized events from the PBX link.",
        &[("", get(&m.upstream_events))],
    );
    metric(
        "upstream_lags_total",
        "counter",
        "Times the fan-out fell behind the PBX link.",
        &[("", get(&m.upstream_lags))],
    );
    metric(
        "pbx_link_up",
        "gauge",
        "1 while the PBX link is up.",
        &[("", if link.state == "up" { 1.0 } else { 0.0 })],
    );
    metric(
        "pbx_messages_total",
        "counter",
        "AMI messages exchanged with the PBX.",
        &[("{direction=\"in\"}", link.messages_in as f64), ("{direction=\"out\"}", link.messages_out as f64)],
    );
    metric(
        "pbx_link_downs_total",
        "counter",
        "Times the PBX link was lost.",
        &[("", link.link_downs as f64)],
    );
    metric(
        "clients_unauthenticated",
        "gauge",
        "Connections not yet past hello (their own budget, apart from max_clients).",
        &[("", gw.admission.unauthenticated() as f64)],
    );
    metric(
        "unauthenticated_evicted_total",
        "counter",
        "Connections without hello closed to make room for newer ones.",
        &[("", get(&m.unauthenticated_evicted))],
    );
    metric(
        "unauthenticated_refused_total",
        "counter",
        "Connections refused: every connection without hello was within its grace.",
        &[("", get(&m.unauthenticated_refused))],
    );
    metric(
        "hellos_throttled_total",
        "counter",
        "Hellos that waited because their address had failed before.",
        &[("", get(&m.hellos_throttled))],
    );
    metric(
        "hello_throttle_seconds_total",
        "counter",
        "Time those hellos waited, in all.",
        &[("", get(&m.hello_throttle_ms) / 1000.0)],
    );
    metric(
        "snapshots_coalesced_total",
        "counter",
        "Snapshot requests answered by the snapshot already waiting for the client.",
        &[("", get(&m.snapshots_coalesced))],
    );
    let queued_bytes: usize = open.iter().map(|c| c.queue.bytes()).sum();
    metric("client_queue_bytes", "gauge", "Bytes queued for all clients.", &[("", queued_bytes as f64)]);
    metric(
        "diagnostics_connections",
        "gauge",
        "Connections open to this diagnostics server.",
        &[("", get(&m.diagnostics_connections))],
    );
    metric(
        "diagnostics_refused_total",
        "counter",
        "Diagnostics requests refused for their Host (421), connections closed to make room at \
         max_connections, or by the header or idle timeout.",
        &[
            ("{reason=\"host\"}", get(&m.diagnostics_refused_host)),
            ("{reason=\"cap\"}", get(&m.diagnostics_refused_cap)),
            ("{reason=\"timeout\"}", get(&m.diagnostics_timeouts)),
        ],
    );
    metric("devices", "gauge", "Devices in the model.", &[("", link.devices as f64)]);
    metric("calls", "gauge", "Calls in the model.", &[("", link.calls as f64)]);
    out
}
