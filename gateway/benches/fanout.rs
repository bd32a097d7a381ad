//! Load benchmark of the gateway's fan-out: 1,000 clients on one gateway in front of a
//! simulated PBX with 10,000 extensions and about 2,000 normalized events per second of
//! call traffic. Reports fan-out latency (p50/p99/p99.9/max), the gateway's memory (RSS,
//! peak RSS) and CPU. Figures and method: docs/gateway.md, "Performance".
//!
//! Three processes' worth of work on one machine: this program runs the simulator and
//! the clients; the gateway runs in a child process (this same binary with `--serve`), so
//! that its memory and CPU are its own, read from `/proc/<pid>`.
//!
//! Latency is end to end, from the simulator to each client: a probe (`PresenceStateChange`
//! for extension 1000, which every client monitors) is stamped with the nanoseconds since
//! a common `Instant` just before the simulator writes it; each client subtracts on
//! receipt. The path: simulator -> TCP -> gateway (AMI decoder, call model, fan-out,
//! per-client queue, JSON) -> TCP -> client. 20 probes per second, each to all clients.
//!
//! ```sh
//! cargo bench -p ctilink-gateway --bench fanout                       # 1,000 clients, 20 s
//! cargo bench -p ctilink-gateway --bench fanout -- --wallboards 100   # 100 of them see all
//! cargo bench -p ctilink-gateway --bench fanout -- --test             # quick: 50 clients, 2 s
//! ```

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ctilink_sim::{SimConfig, SimHandle, Simulator};
use tokio::io::AsyncWriteExt;

mod support;
use support::{arg, calls, client, cpu_secs, metric, pct, status_kb};

/// The first extension; it is also the "reception" every client monitors (the probes').
const FIRST: u32 = 1000;

#[derive(Clone, Debug)]
struct Params {
    clients: usize,
    wallboards: usize,
    extensions: u32,
    calls_per_sec: f64,
    warmup: Duration,
    measure: Duration,
    probes_per_sec: u32,
}

fn params(args: &[String]) -> Params {
    let quick = args.iter().any(|a| a == "--test");
    let mut p = if quick {
        Params {
            clients: 50,
            wallboards: 2,
            extensions: 500,
            calls_per_sec: 20.0,
            warmup: Duration::from_millis(500),
            measure: Duration::from_secs(2),
            probes_per_sec: 20,
        }
    } else {
        Params {
            clients: 1000,
            wallboards: 10,
            extensions: 10_000,
            calls_per_sec: 200.0,
            warmup: Duration::from_secs(5),
            measure: Duration::from_secs(20),
            probes_per_sec: 20,
        }
    };
    p.clients = arg(args, "--clients").unwrap_or(p.clients);
    p.wallboards = arg(args, "--wallboards").unwrap_or(p.wallboards);
    p.calls_per_sec = arg(args, "--calls").unwrap_or(p.calls_per_sec);
    p.measure = arg::<u64>(args, "--seconds").map(Duration::from_secs).unwrap_or(p.measure);
    p
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        support::serve("fanout", args.get(i + 1).map(String::as_str).unwrap_or(""));
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
    // The simulator on its own thread, the clients on two: the clients' reading never
    // delays the PBX's events, nor the other way round, beyond what the OS does.
    let sim_rt = runtime(1);
    let rt = runtime(2);
    let sim = sim_rt
        .block_on(Simulator::start(
            SimConfig {
                extensions: SimConfig::extension_range(FIRST, FIRST + p.extensions - 1),
                ring_delay: Duration::from_millis(300),
                answer_delay: Duration::from_millis(800),
                dial_timeout: Duration::from_secs(5),
                ..SimConfig::default()
            },
            ([127, 0, 0, 1], 0).into(),
        ))
        .unwrap_or_else(|e| fail(&format!("simulator: {e}")));
    match rt.block_on(drive(&p, &sim)) {
        Ok(r) => report(&p, &r),
        Err(e) => fail(&e),
    }
}

fn fail(e: &str) -> ! {
    support::fail("fanout", e)
}

struct Results {
    latencies: Vec<u64>,
    probes: u64,
    received: u64,
    events: u64,
    upstream_rate: f64,
    gw_cpu: f64,
    gw_rss_kb: u64,
    gw_hwm_kb: u64,
    driver_cpu: f64,
    lagged: u64,
    connected: usize,
    calls_open: u64,
    placed: u64,
}

fn config_text(sim: &SimHandle, p: &Params) -> String {
    let mut t = format!(
        "[pbx]\nurl = \"{}?reconnect_ms=100\"\n[listen]\ntcp = \"127.0.0.1:0\"\ndiagnostics = \"127.0.0.1:0\"\n\
         [clients]\nqueue = 4096\nmax_clients = 20000\nidle_timeout_ms = 3600000\n\
         max_unauthenticated = 20000\nmax_unauthenticated_per_address = 20000\n",
        sim.url()
    );
    let block = (p.extensions / p.clients.max(1) as u32).max(1);
    for i in 0..p.clients {
        let monitor = if i < p.wallboards {
            "\"*\"".to_owned()
        } else {
            // Its own block of extensions (its team's lamps) and the reception.
            let first = FIRST + (i as u32 * block) % p.extensions;
            let mut m: Vec<String> = (first..first + block).map(|e| format!("\"{e}\"")).collect();
            m.push(format!("\"{FIRST}\""));
            m.join(", ")
        };
        t.push_str(&format!(
            "[[token]]\nidentity = \"client-{i}\"\ntoken = \"bench-token-{i:08}\"\nmonitor = [{monitor}]\ncontrol = []\n"
        ));
    }
    t
}

fn start_gateway(config: &std::path::Path) -> Result<(Child, SocketAddr, SocketAddr), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .arg("--serve")
        .arg(config)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("gateway process: {e}"))?;
    let out = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).map_err(|e| e.to_string())?;
    let mut parts = line.split_whitespace().map(|s| s.parse::<SocketAddr>());
    match (parts.next(), parts.next()) {
        (Some(Ok(t)), Some(Ok(d))) => Ok((child, t, d)),
        _ => Err(format!("the gateway printed {line:?}")),
    }
}

async fn http(addr: SocketAddr, path: &str) -> String {
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else { return String::new() };
    // The Host a browser sends: the diagnostics answer only to the names they allow.
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).await.is_err() {
        return String::new();
    }
    let mut buf = Vec::new();
    let _ = tokio::io::AsyncReadExt::read_to_end(&mut s, &mut buf).await;
    String::from_utf8_lossy(&buf).into_owned()
}

async fn drive(p: &Params, sim: &SimHandle) -> Result<Results, String> {
    let dir = std::env::temp_dir().join(format!("ctilink-fanout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let config = dir.join("gateway.toml");
    std::fs::write(&config, config_text(sim, p)).map_err(|e| e.to_string())?;
    let (mut child, tcp, diag) = start_gateway(&config)?;
    let pid = child.id();
    let origin = Instant::now();
    let measuring = Arc::new(AtomicBool::new(false));
    let ready = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(p.clients);
    for i in 0..p.clients {
        tasks.push(tokio::spawn(client(tcp, i, origin, measuring.clone(), ready.clone())));
        if i % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while ready.load(Ordering::Relaxed) < p.clients as u64 {
        if Instant::now() > deadline {
            return Err(format!("only {} of {} clients connected", ready.load(Ordering::Relaxed), p.clients));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let connected = p.clients;
    let stop_traffic = Arc::new(AtomicBool::new(false));
    let traffic = {
        let (sim, stop, rate, n) = (sim.clone(), stop_traffic.clone(), p.calls_per_sec, p.extensions);
        std::thread::spawn(move || calls(&sim, rate, FIRST + 1..FIRST + n, &stop))
    };
    tokio::time::sleep(p.warmup).await;

    let pid_s = pid.to_string();
    let me = std::process::id().to_string();
    let (m0, gw0, me0, t0) = (http(diag, "/metrics").await, cpu_secs(&pid_s), cpu_secs(&me), Instant::now());
    measuring.store(true, Ordering::Relaxed);
    let stop = Arc::new(AtomicBool::new(false));
    let pacer = {
        let (sim, stop, rate) = (sim.clone(), stop.clone(), p.probes_per_sec);
        std::thread::spawn(move || probe(&sim, rate, origin, &stop))
    };
    tokio::time::sleep(p.measure).await;
    stop.store(true, Ordering::Relaxed);
    let probes = pacer.join().map_err(|_| "the probe thread panicked".to_owned())?;
    // The last probes' deliveries.
    tokio::time::sleep(Duration::from_millis(500)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = t0.elapsed().as_secs_f64();
    let (m1, gw1, me1) = (http(diag, "/metrics").await, cpu_secs(&pid_s), cpu_secs(&me));
    let (rss, hwm) = (status_kb(pid, "VmRSS:"), status_kb(pid, "VmHWM:"));
    let link = http(diag, "/api/link").await;
    let calls_open = link
        .split("\"calls\":")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    stop_traffic.store(true, Ordering::Relaxed);
    let placed = traffic.join().map_err(|_| "the traffic thread panicked".to_owned())?;
    let events = metric(&m1, "ctilink_gateway_upstream_events_total")
        - metric(&m0, "ctilink_gateway_upstream_events_total");
    let _ = Command::new("kill").args(["-TERM", &pid_s]).status();
    let mut latencies = Vec::new();
    let (mut received, mut lagged) = (0, 0);
    for t in tasks {
        if let Ok(s) = t.await {
            latencies.extend(s.latencies);
            received += s.received;
            lagged += s.lagged;
        }
    }
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    latencies.sort_unstable();
    Ok(Results {
        latencies,
        probes,
        received,
        events: events as u64,
        upstream_rate: events / elapsed,
        gw_cpu: (gw1 - gw0) / elapsed,
        gw_rss_kb: rss,
        gw_hwm_kb: hwm,
        driver_cpu: (me1 - me0) / elapsed,
        lagged,
        connected,
        calls_open,
        placed,
    })
}

/// Sends `rate` presence probes a second for extension 1000, each stamped, until `stop`.
fn probe(sim: &SimHandle, rate: u32, origin: Instant, stop: &AtomicBool) -> u64 {
    let period = Duration::from_secs(1) / rate.max(1);
    let start = Instant::now();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let due = start + period * n as u32;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let status = if n % 2 == 0 { "away" } else { "available" };
        let stamp = origin.elapsed().as_nanos();
        let msg = format!(
            "Event: PresenceStateChange\r\nPrivilege: call,all\r\nPresentity: CustomPresence:{FIRST}\r\nStatus: {status}\r\nSubtype: \r\nMessage: {stamp}\r\n\r\n"
        );
        sim.send_raw(msg.as_bytes());
        n += 1;
    }
    n
}

fn report(p: &Params, r: &Results) {
    println!(
        "fanout: {} clients ({} see every device), {} extensions, {} calls/s offered ({} placed)",
        r.connected, p.wallboards, p.extensions, p.calls_per_sec, r.placed
    );
    println!(
        "  upstream normalized events : {:.0}/s ({} in {:.1} s), {} calls open at the end",
        r.upstream_rate,
        r.events,
        p.measure.as_secs_f64(),
        r.calls_open
    );
    println!(
        "  messages to clients        : {:.0}/s ({} total, {} lagged)",
        r.received as f64 / p.measure.as_secs_f64(),
        r.received,
        r.lagged
    );
    let expected = r.probes * r.connected as u64;
    println!(
        "  probe deliveries           : {} of {} ({} probes x {} clients)",
        r.latencies.len(),
        expected,
        r.probes,
        r.connected
    );
    println!(
        "  fan-out latency ms         : p50 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        pct(&r.latencies, 0.50),
        pct(&r.latencies, 0.99),
        pct(&r.latencies, 0.999),
        r.latencies.last().map_or(f64::NAN, |m| *m as f64 / 1e6)
    );
    println!(
        "  gateway RSS                : {:.1} MB (peak {:.1} MB)",
        r.gw_rss_kb as f64 / 1024.0,
        r.gw_hwm_kb as f64 / 1024.0
    );
    println!("  gateway CPU                : {:.0} % of one core", r.gw_cpu * 100.0);
    println!("  driver CPU (sim + clients) : {:.0} % of one core", r.driver_cpu * 100.0);
    let p99 = pct(&r.latencies, 0.99);
    println!(
        "  goals: p99 < 20 ms {}; RSS < 200 MB {}",
        if p99 < 20.0 { "met" } else { "NOT met" },
        if r.gw_hwm_kb < 200 * 1024 { "met" } else { "NOT met" }
    );
}
