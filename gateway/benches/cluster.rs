//! Benchmark of gateways as a cluster over NATS JetStream (issue 19, docs/cluster.md
//! "Benchmarks"), modelled on `fanout.rs`:
//!
//! 1. **Load.** 3 gateways (child processes) in one cluster on one `nats-server`, 2 PBXs
//!    (simulators, in this process) with 10,000 extensions each, about 2,000 normalized
//!    events/s of call traffic in all, 10,000 raw TCP clients spread evenly over the
//!    gateways. Reports end-to-end latency (a probe stamped just before the simulator
//!    writes it, to the client reading it), RSS and CPU of every gateway process and of
//!    `nats-server`, and NATS messages/s (`/varz` `in_msgs`/`out_msgs`). Then the same
//!    load served by ONE gateway alone (no `[cluster]`, the two PBXs as two `[[pbx]]`).
//! 2. **Failover.** 3 gateways; the owner of PBX `berlin` is killed (SIGKILL) 10 times, a
//!    new gateway started after each kill so that there are always 3; the time from the
//!    kill to a client's `resynced` (the client on a surviving gateway, its token sees
//!    `berlin/*` only) is measured. Lease TTL 6,000 ms (the default) unless `--ttl`.
//!
//! Each gateway runs in a child process (this same binary with `--serve`), so that its
//! memory and CPU are its own, read from `/proc/<pid>`. `nats-server` must be on the PATH
//! (scripts/setup.sh installs it).
//!
//! Probes: each PBX has 10 "reception" extensions that take no calls; every desk client
//! monitors one reception of its PBX (and its own block of extensions), every wallboard
//! sees everything. 20 probes a second (`PresenceStateChange`) go round the 20 receptions,
//! so each desk gets about one probe a second and each probe reaches about 1/20 of the
//! clients (with 10,000 clients, 10,000 probe deliveries a second).
//!
//! ```sh
//! cargo bench -p ctilink-gateway --bench cluster                        # load (cluster, then alone), failover
//! cargo bench -p ctilink-gateway --bench cluster -- --load              # the load runs only
//! cargo bench -p ctilink-gateway --bench cluster -- --failover --ttl 2000 --kills 10
//! cargo bench -p ctilink-gateway --bench cluster -- --clients 3000 --seconds 10
//! cargo bench -p ctilink-gateway --bench cluster -- --test              # quick: 60 clients, 2 s, 1 kill
//! ```

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ctilink_sim::{SimConfig, SimHandle, Simulator};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

mod support;
use support::{arg, calls, client, cpu_secs, metric, pct, status_kb};

/// The first extension of each PBX; the first `RECEPTIONS` are the probes' receptions.
const FIRST: u32 = 1000;
const RECEPTIONS: u32 = 10;
const PBXS: [&str; 2] = ["berlin", "hamburg"];

#[derive(Clone, Debug)]
struct Params {
    quick: bool,
    gateways: usize,
    clients: usize,
    wallboards: usize,
    /// Per PBX.
    extensions: u32,
    /// In all (half per PBX).
    calls_per_sec: f64,
    warmup: Duration,
    measure: Duration,
    probes_per_sec: u32,
    load: bool,
    single: bool,
    cluster: bool,
    failover: bool,
    kills: usize,
    ttl_ms: u64,
    failover_gateways: usize,
    failover_calls: f64,
}

fn params(args: &[String]) -> Params {
    let quick = args.iter().any(|a| a == "--test");
    let mut p = if quick {
        Params {
            quick,
            gateways: 3,
            clients: 60,
            wallboards: 3,
            extensions: 500,
            calls_per_sec: 20.0,
            warmup: Duration::from_millis(500),
            measure: Duration::from_secs(2),
            probes_per_sec: 20,
            load: true,
            single: true,
            cluster: true,
            failover: true,
            kills: 1,
            ttl_ms: 2000,
            failover_gateways: 3,
            failover_calls: 4.0,
        }
    } else {
        Params {
            quick,
            gateways: 3,
            clients: 10_000,
            wallboards: 10,
            extensions: 10_000,
            calls_per_sec: 200.0,
            warmup: Duration::from_secs(5),
            measure: Duration::from_secs(20),
            probes_per_sec: 20,
            load: true,
            single: true,
            cluster: true,
            failover: true,
            kills: 10,
            ttl_ms: 6000,
            failover_gateways: 3,
            failover_calls: 20.0,
        }
    };
    let has = |f: &str| args.iter().any(|a| a == f);
    if has("--load") {
        p.failover = false;
    }
    if has("--failover") {
        p.load = false;
    }
    if has("--single-only") {
        p.cluster = false;
    }
    if has("--cluster-only") {
        p.single = false;
    }
    p.gateways = arg(args, "--gateways").unwrap_or(p.gateways).max(1);
    p.clients = arg(args, "--clients").unwrap_or(p.clients).max(1);
    p.wallboards = arg(args, "--wallboards").unwrap_or(p.wallboards);
    p.extensions = arg(args, "--extensions").unwrap_or(p.extensions).max(2 * RECEPTIONS);
    p.calls_per_sec = arg(args, "--calls").unwrap_or(p.calls_per_sec);
    p.measure = arg::<u64>(args, "--seconds").map(Duration::from_secs).unwrap_or(p.measure);
    p.probes_per_sec = arg(args, "--probes").unwrap_or(p.probes_per_sec);
    p.kills = arg(args, "--kills").unwrap_or(p.kills);
    p.ttl_ms = arg(args, "--ttl").unwrap_or(p.ttl_ms);
    p.failover_gateways = arg(args, "--failover-gateways").unwrap_or(p.failover_gateways).max(2);
    p.failover_calls = arg(args, "--failover-calls").unwrap_or(p.failover_calls);
    p
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        support::serve("cluster", args.get(i + 1).map(String::as_str).unwrap_or(""));
        return;
    }
    let p = params(&args);
    let runtime = |threads: usize| match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => fail(&format!("runtime: {e}")),
    };
    // The simulators on their own thread, the clients on two (as fanout.rs).
    let sim_rt = runtime(1);
    let rt = runtime(2);
    if p.load {
        let mut reports = Vec::new();
        if p.cluster {
            let sims = start_sims(&sim_rt, p.extensions);
            match rt.block_on(drive(&p, &sims, p.gateways, true)) {
                Ok(r) => {
                    report(&p, &r);
                    reports.push(r);
                }
                Err(e) => fail(&e),
            }
            stop_sims(&sim_rt, sims);
        }
        if p.single {
            let sims = start_sims(&sim_rt, p.extensions);
            match rt.block_on(drive(&p, &sims, 1, false)) {
                Ok(r) => {
                    report(&p, &r);
                    reports.push(r);
                }
                Err(e) => fail(&e),
            }
            stop_sims(&sim_rt, sims);
        }
        if reports.len() == 2 {
            let (c, s) = (&reports[0], &reports[1]);
            println!(
                "cluster vs alone: p50 {:.2} vs {:.2} ms, p99 {:.2} vs {:.2} ms, gateway CPU in all {:.0} % vs {:.0} %, \
                 gateway RSS in all {:.1} vs {:.1} MB",
                pct(&c.latencies, 0.5),
                pct(&s.latencies, 0.5),
                pct(&c.latencies, 0.99),
                pct(&s.latencies, 0.99),
                c.gateways.iter().map(|g| g.cpu).sum::<f64>() * 100.0,
                s.gateways.iter().map(|g| g.cpu).sum::<f64>() * 100.0,
                c.gateways.iter().map(|g| g.rss_kb).sum::<u64>() as f64 / 1024.0,
                s.gateways.iter().map(|g| g.rss_kb).sum::<u64>() as f64 / 1024.0,
            );
        }
    }
    if p.failover {
        let sims = start_sims(&sim_rt, p.extensions);
        if let Err(e) = rt.block_on(failover(&p, &sims)) {
            fail(&e);
        }
        stop_sims(&sim_rt, sims);
    }
}

fn fail(e: &str) -> ! {
    support::fail("cluster", e)
}

fn start_sims(rt: &tokio::runtime::Runtime, extensions: u32) -> Vec<SimHandle> {
    PBXS.iter()
        .map(|_| {
            rt.block_on(Simulator::start(
                SimConfig {
                    extensions: SimConfig::extension_range(FIRST, FIRST + extensions - 1),
                    ring_delay: Duration::from_millis(300),
                    answer_delay: Duration::from_millis(800),
                    dial_timeout: Duration::from_secs(5),
                    ..SimConfig::default()
                },
                ([127, 0, 0, 1], 0).into(),
            ))
            .unwrap_or_else(|e| fail(&format!("simulator: {e}")))
        })
        .collect()
}

fn stop_sims(rt: &tokio::runtime::Runtime, sims: Vec<SimHandle>) {
    for s in sims {
        rt.block_on(s.shutdown());
    }
}

// ---------------------------------------------------------------------------------------
// Processes: nats-server and the gateways.

/// A `nats-server` with JetStream and its monitoring port, both on ports it picked.
struct Nats {
    child: Child,
    port: u16,
    monitor: SocketAddr,
    dir: PathBuf,
}

fn tmp_dir(what: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "ctilink-bench-{what}-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    if let Err(e) = std::fs::create_dir_all(&d) {
        fail(&format!("temp dir: {e}"));
    }
    d
}

impl Nats {
    fn start() -> Result<Nats, String> {
        let dir = tmp_dir("nats");
        let mut child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", "-1", "-m", "-1", "-js", "-sd"])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("nats-server (scripts/setup.sh installs it): {e}"))?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let (mut port, mut monitor) = (None, None);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("Listening for client connections on ").nth(1) {
                    port = rest.trim().rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
                }
                if let Some(rest) = line.split("Starting http monitor on ").nth(1) {
                    monitor = rest.trim().parse::<SocketAddr>().ok();
                }
                if line.contains("Server is ready") {
                    let _ = tx.send((port, monitor));
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok((Some(port), Some(monitor))) => Ok(Nats { child, port, monitor, dir }),
            other => {
                let _ = child.kill();
                Err(format!("nats-server did not say its ports: {other:?}"))
            }
        }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// `in_msgs` and `out_msgs` of `/varz`.
    async fn msgs(&self) -> (u64, u64) {
        let v = json(&http10(self.monitor, "/varz").await);
        let n = |k: &str| v.get(k).and_then(|x| x.as_u64()).unwrap_or(0);
        (n("in_msgs"), n("out_msgs"))
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A gateway child process.
struct Gw {
    child: Child,
    node: String,
    tcp: SocketAddr,
    diag: SocketAddr,
    dir: PathBuf,
}

impl Gw {
    fn start(node: &str, toml: &str) -> Result<Gw, String> {
        let dir = tmp_dir(node);
        let config = dir.join("gateway.toml");
        std::fs::write(&config, toml).map_err(|e| e.to_string())?;
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut child = Command::new(exe)
            .arg("--serve")
            .arg(&config)
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("gateway process: {e}"))?;
        let out = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line).map_err(|e| e.to_string())?;
        let mut parts = line.split_whitespace().map(|s| s.parse::<SocketAddr>());
        match (parts.next(), parts.next()) {
            (Some(Ok(tcp)), Some(Ok(diag))) => Ok(Gw { child, node: node.to_owned(), tcp, diag, dir }),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("gateway {node} printed {line:?}"))
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn term(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status();
        let _ = self.child.wait();
    }

    /// SIGKILL.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    async fn link(&self) -> serde_json::Value {
        json(&http10(self.diag, "/api/link").await)
    }
}

impl Drop for Gw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `pbx`'s owner and state in a gateway's `/api/link`.
fn owner_in(link: &serde_json::Value, pbx: &str) -> Option<(String, String)> {
    let pbxs = link.get("cluster")?.get("pbxs")?.as_array()?;
    let p = pbxs.iter().find(|p| p.get("id").and_then(|i| i.as_str()) == Some(pbx))?;
    let s = |k: &str| p.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
    Some((s("owner"), s("state")))
}

fn owns_in(link: &serde_json::Value) -> Vec<String> {
    link.get("cluster")
        .and_then(|c| c.get("owns"))
        .and_then(|o| o.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Configuration.

fn pbx_tables(sims: &[SimHandle]) -> String {
    let mut t = String::new();
    for (id, sim) in PBXS.iter().zip(sims) {
        t.push_str(&format!("[[pbx]]\nid = \"{id}\"\nurl = \"{}?reconnect_ms=100\"\n\n", sim.url()));
    }
    t
}

fn cluster_table(nats: &str, node: &str, ttl_ms: u64) -> String {
    format!(
        "[cluster]\nnats = \"{nats}\"\nnode = \"{node}\"\nlease_ttl_ms = {ttl_ms}\nrebalance_after_ms = 2000\n\
         command_timeout_ms = 5000\n\n"
    )
}

const LISTEN: &str = "[listen]\ntcp = \"127.0.0.1:0\"\ndiagnostics = \"127.0.0.1:0\"\n\
    [clients]\nqueue = 4096\nmax_clients = 20000\nidle_timeout_ms = 3600000\n\
    max_unauthenticated = 20000\nmax_unauthenticated_per_address = 20000\n\n";

/// Client `i`: a wallboard (`None`), or a desk of PBX `pbx` with reception `rec` and its
/// block of extensions.
struct Desk {
    pbx: usize,
    rec: u32,
    block: std::ops::Range<u32>,
}

fn desk(p: &Params, i: usize) -> Option<Desk> {
    if i < p.wallboards {
        return None;
    }
    let j = i - p.wallboards;
    let per_pbx = (p.clients - p.wallboards).div_ceil(PBXS.len()).max(1) as u32;
    // The desks' blocks cover the extensions that take calls, not the receptions.
    let span = p.extensions - RECEPTIONS;
    let block = (span / per_pbx).max(1);
    let k = (j / PBXS.len()) as u32;
    let first = FIRST + RECEPTIONS + (k * block) % span;
    Some(Desk { pbx: j % PBXS.len(), rec: FIRST + k % RECEPTIONS, block: first..first + block })
}

fn tokens(p: &Params) -> String {
    let mut t = String::with_capacity(p.clients * 120);
    for i in 0..p.clients {
        let monitor = match desk(p, i) {
            None => "\"*\"".to_owned(),
            Some(d) => {
                let id = PBXS[d.pbx];
                let mut m: Vec<String> = d.block.map(|e| format!("\"{id}/{e}\"")).collect();
                m.push(format!("\"{id}/{}\"", d.rec));
                m.join(", ")
            }
        };
        t.push_str(&format!(
            "[[token]]\nidentity = \"client-{i}\"\ntoken = \"bench-token-{i:08}\"\nmonitor = [{monitor}]\ncontrol = []\n"
        ));
    }
    t
}

/// How many clients see a probe of reception `rec` of PBX `pbx`, by `pbx * RECEPTIONS + rec`.
fn audience(p: &Params) -> Vec<u64> {
    let mut n = vec![0u64; PBXS.len() * RECEPTIONS as usize];
    for i in 0..p.clients {
        match desk(p, i) {
            None => n.iter_mut().for_each(|c| *c += 1),
            Some(d) => n[d.pbx * RECEPTIONS as usize + (d.rec - FIRST) as usize] += 1,
        }
    }
    n
}

// ---------------------------------------------------------------------------------------
// Measuring.

/// An HTTP/1.0 GET (so that no server chunks its answer); the body.
async fn http10(addr: SocketAddr, path: &str) -> String {
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else { return String::new() };
    // The Host a browser sends: the diagnostics answer only to the names they allow.
    let req = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).await.is_err() {
        return String::new();
    }
    let mut buf = Vec::new();
    let _ = tokio::io::AsyncReadExt::read_to_end(&mut s, &mut buf).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    match text.split_once("\r\n\r\n") {
        Some((_, body)) => body.to_owned(),
        None => String::new(),
    }
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
}

struct GwFigures {
    node: String,
    owns: Vec<String>,
    clients: usize,
    cpu: f64,
    rss_kb: u64,
    hwm_kb: u64,
    upstream: f64,
    p50: f64,
    p99: f64,
}

struct Results {
    cluster: bool,
    latencies: Vec<u64>,
    probes: u64,
    expected: u64,
    received: u64,
    lagged: u64,
    connected: usize,
    elapsed: f64,
    gateways: Vec<GwFigures>,
    nats: Option<(f64, f64, f64, u64)>,
    driver_cpu: f64,
    placed: u64,
    connect_secs: f64,
}

/// One load run: `n` gateways, a cluster on a fresh nats-server or (`cluster` false) one
/// gateway with both PBXs.
async fn drive(p: &Params, sims: &[SimHandle], n: usize, cluster: bool) -> Result<Results, String> {
    let nats = if cluster { Some(Nats::start()?) } else { None };
    let toks = tokens(p);
    let mut gws = Vec::with_capacity(n);
    for g in 0..n {
        let node = format!("load-{g}");
        let mut t = String::from(LISTEN);
        if let Some(nats) = &nats {
            t.push_str(&cluster_table(&nats.url(), &node, 6000));
        }
        t.push_str(&pbx_tables(sims));
        t.push_str(&toks);
        gws.push(Gw::start(&node, &t)?);
    }
    if cluster {
        // Ownership spread (rebalance_after_ms = 2000): no gateway with both.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut owned = Vec::new();
            for g in &gws {
                owned.push(owns_in(&g.link().await));
            }
            if owned.iter().all(|o| o.len() <= 1) && owned.iter().map(Vec::len).sum::<usize>() == PBXS.len() {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("ownership did not spread: {owned:?}"));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let origin = Instant::now();
    let measuring = Arc::new(AtomicBool::new(false));
    let ready = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(p.clients);
    let t_connect = Instant::now();
    for i in 0..p.clients {
        let g = i % n;
        let seen = client(gws[g].tcp, i, origin, measuring.clone(), ready.clone());
        tasks.push(tokio::spawn(async move { (g, seen.await) }));
        if i % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    while ready.load(Ordering::Relaxed) < p.clients as u64 {
        if Instant::now() > deadline {
            return Err(format!("only {} of {} clients connected", ready.load(Ordering::Relaxed), p.clients));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let connect_secs = t_connect.elapsed().as_secs_f64();
    let stop_traffic = Arc::new(AtomicBool::new(false));
    let traffic: Vec<_> = sims
        .iter()
        .map(|sim| {
            let (sim, stop, rate, x) =
                (sim.clone(), stop_traffic.clone(), p.calls_per_sec / PBXS.len() as f64, p.extensions);
            std::thread::spawn(move || calls(&sim, rate, FIRST + RECEPTIONS..FIRST + x, &stop))
        })
        .collect();
    tokio::time::sleep(p.warmup).await;

    let me = std::process::id();
    let mut m0 = Vec::new();
    for g in &gws {
        m0.push(metric(&http10(g.diag, "/metrics").await, "ctilink_gateway_upstream_events_total"));
    }
    let cpu0: Vec<f64> = gws.iter().map(|g| cpu_secs(g.pid())).collect();
    let nats0 = match &nats {
        Some(s) => Some((s.msgs().await, cpu_secs(s.child.id()))),
        None => None,
    };
    let (me0, t0) = (cpu_secs(me), Instant::now());
    measuring.store(true, Ordering::Relaxed);
    let stop = Arc::new(AtomicBool::new(false));
    let pacer = {
        let (sims, stop, rate) = (sims.to_vec(), stop.clone(), p.probes_per_sec);
        std::thread::spawn(move || probe(&sims, rate, origin, &stop))
    };
    tokio::time::sleep(p.measure).await;
    stop.store(true, Ordering::Relaxed);
    let sent = pacer.join().map_err(|_| "the probe thread panicked".to_owned())?;
    // The last probes' deliveries.
    tokio::time::sleep(Duration::from_millis(500)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = t0.elapsed().as_secs_f64();
    let me1 = cpu_secs(me);
    let mut figures = Vec::new();
    for (k, g) in gws.iter().enumerate() {
        let m1 = metric(&http10(g.diag, "/metrics").await, "ctilink_gateway_upstream_events_total");
        figures.push(GwFigures {
            node: g.node.clone(),
            owns: owns_in(&g.link().await),
            clients: (0..p.clients).filter(|i| i % n == k).count(),
            cpu: (cpu_secs(g.pid()) - cpu0[k]) / elapsed,
            rss_kb: status_kb(g.pid(), "VmRSS:"),
            hwm_kb: status_kb(g.pid(), "VmHWM:"),
            upstream: (m1 - m0[k]) / elapsed,
            p50: 0.0,
            p99: 0.0,
        });
    }
    let nats_fig = match (&nats, nats0) {
        (Some(s), Some(((in0, out0), c0))) => {
            let (in1, out1) = s.msgs().await;
            Some((
                (in1 - in0) as f64 / elapsed,
                (out1 - out0) as f64 / elapsed,
                (cpu_secs(s.child.id()) - c0) / elapsed,
                status_kb(s.child.id(), "VmRSS:"),
            ))
        }
        _ => None,
    };
    stop_traffic.store(true, Ordering::Relaxed);
    let mut placed = 0;
    for t in traffic {
        placed += t.join().map_err(|_| "the traffic thread panicked".to_owned())?;
    }
    for g in &mut gws {
        g.term();
    }
    let mut latencies = Vec::new();
    let mut per_gw: Vec<Vec<u64>> = vec![Vec::new(); n];
    let (mut received, mut lagged) = (0, 0);
    for t in tasks {
        if let Ok((g, s)) = t.await {
            per_gw[g].extend_from_slice(&s.latencies);
            latencies.extend(s.latencies);
            received += s.received;
            lagged += s.lagged;
        }
    }
    for (f, mut l) in figures.iter_mut().zip(per_gw) {
        l.sort_unstable();
        f.p50 = pct(&l, 0.5);
        f.p99 = pct(&l, 0.99);
    }
    drop(gws);
    drop(nats);
    latencies.sort_unstable();
    let aud = audience(p);
    let expected = sent.iter().zip(&aud).map(|(s, a)| s * a).sum();
    Ok(Results {
        cluster,
        latencies,
        probes: sent.iter().sum(),
        expected,
        received,
        lagged,
        connected: p.clients,
        elapsed,
        gateways: figures,
        nats: nats_fig,
        driver_cpu: (me1 - me0) / elapsed,
        placed,
        connect_secs,
    })
}

/// Sends `rate` presence probes a second round the receptions of both PBXs, each stamped
/// just before the simulator writes it, until `stop`; how many went to each reception.
fn probe(sims: &[SimHandle], rate: u32, origin: Instant, stop: &AtomicBool) -> Vec<u64> {
    let mut sent = vec![0u64; PBXS.len() * RECEPTIONS as usize];
    let period = Duration::from_secs(1) / rate.max(1);
    let start = Instant::now();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let due = start + period * n as u32;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let pbx = (n % PBXS.len() as u64) as usize;
        let rec = ((n / PBXS.len() as u64) % RECEPTIONS as u64) as u32;
        let status = if (n / sent.len() as u64) % 2 == 0 { "away" } else { "available" };
        let stamp = origin.elapsed().as_nanos();
        let msg = format!(
            "Event: PresenceStateChange\r\nPrivilege: call,all\r\nPresentity: CustomPresence:{}\r\nStatus: {status}\r\nSubtype: \r\nMessage: {stamp}\r\n\r\n",
            FIRST + rec
        );
        sims[pbx].send_raw(msg.as_bytes());
        sent[pbx * RECEPTIONS as usize + rec as usize] += 1;
        n += 1;
    }
    sent
}

fn report(p: &Params, r: &Results) {
    let what = if r.cluster {
        format!("{} gateways in a cluster on one nats-server", r.gateways.len())
    } else {
        "ONE gateway alone (no [cluster], two [[pbx]])".to_owned()
    };
    println!(
        "cluster load: {what}; {} clients ({} see everything), 2 PBXs x {} extensions, {} calls/s offered ({} placed)",
        r.connected, p.wallboards, p.extensions, p.calls_per_sec, r.placed
    );
    println!("  clients connected in      : {:.1} s (hello to snapshot, all of them)", r.connect_secs);
    println!(
        "  messages to clients        : {:.0}/s ({} in {:.1} s, {} lagged)",
        r.received as f64 / r.elapsed,
        r.received,
        r.elapsed,
        r.lagged
    );
    println!(
        "  probe deliveries           : {} of {} ({} probes, each to the clients of its reception and the wallboards)",
        r.latencies.len(),
        r.expected,
        r.probes
    );
    println!(
        "  end-to-end latency ms      : p50 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        pct(&r.latencies, 0.50),
        pct(&r.latencies, 0.99),
        pct(&r.latencies, 0.999),
        r.latencies.last().map_or(f64::NAN, |m| *m as f64 / 1e6)
    );
    for g in &r.gateways {
        println!(
            "  gateway {:8} owns {:18} {:5} clients: upstream {:5.0} ev/s, CPU {:3.0} %, RSS {:6.1} MB (peak {:6.1}), p50 {:.2} p99 {:.2} ms",
            g.node,
            format!("{:?}", g.owns),
            g.clients,
            g.upstream,
            g.cpu * 100.0,
            g.rss_kb as f64 / 1024.0,
            g.hwm_kb as f64 / 1024.0,
            g.p50,
            g.p99
        );
    }
    if let Some((i, o, cpu, rss)) = r.nats {
        println!(
            "  nats-server                : in {i:.0} msgs/s, out {o:.0} msgs/s, CPU {:.0} %, RSS {:.1} MB",
            cpu * 100.0,
            rss as f64 / 1024.0
        );
    }
    println!("  driver CPU (sims + clients): {:.0} % of one core", r.driver_cpu * 100.0);
}

// ---------------------------------------------------------------------------------------
// Failover.

/// Kills the owner of `berlin` `p.kills` times; kill to `resynced` at a client of another
/// gateway whose token sees `berlin/*` only.
async fn failover(p: &Params, sims: &[SimHandle]) -> Result<(), String> {
    let nats = Nats::start()?;
    let toks = "[[token]]\nidentity = \"berlin-watch\"\ntoken = \"bench-token-berlin\"\nmonitor = [\"berlin/*\"]\ncontrol = []\n\
                [[token]]\nidentity = \"hamburg-watch\"\ntoken = \"bench-token-hamburg\"\nmonitor = [\"hamburg/*\"]\ncontrol = []\n";
    let toml = |node: &str| {
        let mut t = String::from(LISTEN);
        t.push_str(&cluster_table(&nats.url(), node, p.ttl_ms));
        t.push_str(&pbx_tables(sims));
        t.push_str(toks);
        t
    };
    let mut made = 0usize;
    let mut gws: Vec<Gw> = Vec::new();
    for _ in 0..p.failover_gateways {
        let node = format!("gw-{made}");
        made += 1;
        gws.push(Gw::start(&node, &toml(&node))?);
    }
    let stop_traffic = Arc::new(AtomicBool::new(false));
    let traffic: Vec<_> = sims
        .iter()
        .map(|sim| {
            let (sim, stop, rate, x) =
                (sim.clone(), stop_traffic.clone(), p.failover_calls / PBXS.len() as f64, p.extensions);
            std::thread::spawn(move || calls(&sim, rate, FIRST + RECEPTIONS..FIRST + x, &stop))
        })
        .collect();
    let mut to_resync = Vec::new();
    let mut to_down = Vec::new();
    for k in 0..p.kills {
        // Settled: every gateway agrees on both owners, two different gateways, both PBXs
        // up everywhere.
        let deadline = Instant::now() + Duration::from_secs(120);
        let owner = loop {
            let mut views = Vec::new();
            for g in &gws {
                let l = g.link().await;
                views.push((owner_in(&l, "berlin"), owner_in(&l, "hamburg"), owns_in(&l)));
            }
            let first = views.first().map(|v| (v.0.clone(), v.1.clone())).unwrap_or_default();
            let up =
                |o: &Option<(String, String)>| o.as_ref().is_some_and(|(n, s)| !n.is_empty() && s == "up");
            let agreed = up(&first.0)
                && up(&first.1)
                && first.0.as_ref().map(|o| &o.0) != first.1.as_ref().map(|o| &o.0)
                && views.iter().all(|v| v.0 == first.0 && v.1 == first.1 && v.2.len() <= 1);
            if agreed {
                break first.0.map(|o| o.0).unwrap_or_default();
            }
            if Instant::now() > deadline {
                return Err(format!("kill {k}: the cluster did not settle: {views:?}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let victim = gws.iter().position(|g| g.node == owner).ok_or(format!("owner {owner:?} not ours"))?;
        // The watching client on a gateway that owns nothing, else on hamburg's owner.
        let mut watch_at = None;
        for (i, g) in gws.iter().enumerate() {
            if i != victim && (watch_at.is_none() || owns_in(&g.link().await).is_empty()) {
                watch_at = Some(i);
            }
        }
        let watch_at = watch_at.ok_or("no other gateway")?;
        let s = tokio::net::TcpStream::connect(gws[watch_at].tcp).await.map_err(|e| e.to_string())?;
        let (r, mut w) = s.into_split();
        w.write_all(
            b"{\"type\":\"hello\",\"version\":1,\"token\":\"bench-token-berlin\",\"client\":\"bench\"}\n",
        )
        .await
        .map_err(|e| e.to_string())?;
        let mut r = tokio::io::BufReader::new(r);
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line).await.map_err(|e| e.to_string())? == 0 {
                return Err("the watching client was closed".into());
            }
            if line.starts_with("{\"type\":\"snapshot\"") {
                break;
            }
        }
        // Past the give-back window of a fresh gateway and in steady state.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let killed = Instant::now();
        gws[victim].kill();
        let mut down = None;
        let resynced = loop {
            line.clear();
            let n = tokio::time::timeout(Duration::from_secs(120), r.read_line(&mut line))
                .await
                .map_err(|_| format!("kill {k}: no resynced within 120 s"))?
                .map_err(|e| e.to_string())?;
            if n == 0 {
                return Err(format!("kill {k}: the watching client was closed"));
            }
            // berlin's link_down names it; the resync after it is berlin's.
            if down.is_none() && line.contains("\"event\":\"link_down\"") && line.contains("berlin") {
                down = Some(killed.elapsed());
            }
            if down.is_some() && line.contains("\"event\":\"resynced\"") {
                break killed.elapsed();
            }
        };
        drop(w);
        let removed = gws.remove(victim);
        let mut new_owner = String::new();
        let watcher_link = gws[if watch_at > victim { watch_at - 1 } else { watch_at }].link().await;
        if let Some((o, _)) = owner_in(&watcher_link, "berlin") {
            new_owner = o;
        }
        println!(
            "failover {}: SIGKILL of {} (berlin's owner) -> link_down at the client on {} after {} ms, resynced after {} ms; new owner {}",
            k + 1,
            removed.node,
            gws[if watch_at > victim { watch_at - 1 } else { watch_at }].node,
            down.map_or("-".to_owned(), |d| d.as_millis().to_string()),
            resynced.as_millis(),
            new_owner
        );
        drop(removed);
        to_resync.push(resynced);
        if let Some(d) = down {
            to_down.push(d);
        }
        let node = format!("gw-{made}");
        made += 1;
        gws.push(Gw::start(&node, &toml(&node))?);
    }
    stop_traffic.store(true, Ordering::Relaxed);
    for t in traffic {
        let _ = t.join();
    }
    for g in &mut gws {
        g.term();
    }
    drop(nats);
    to_resync.sort_unstable();
    to_down.sort_unstable();
    let ms = |v: &[Duration], q: f64| {
        if v.is_empty() {
            f64::NAN
        } else {
            v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1].as_secs_f64() * 1e3
        }
    };
    println!(
        "failover: {} kills, {} gateways, lease_ttl_ms {}, {} extensions per PBX, {} calls/s: kill -> resynced median {:.0} ms, worst {:.0} ms, best {:.0} ms; kill -> link_down median {:.0} ms, worst {:.0} ms",
        to_resync.len(),
        p.failover_gateways,
        p.ttl_ms,
        p.extensions,
        p.failover_calls,
        ms(&to_resync, 0.5),
        to_resync.last().map_or(f64::NAN, |d| d.as_secs_f64() * 1e3),
        to_resync.first().map_or(f64::NAN, |d| d.as_secs_f64() * 1e3),
        ms(&to_down, 0.5),
        to_down.last().map_or(f64::NAN, |d| d.as_secs_f64() * 1e3),
    );
    if p.quick && to_resync.len() != p.kills {
        return Err("a kill without resync".into());
    }
    Ok(())
}
