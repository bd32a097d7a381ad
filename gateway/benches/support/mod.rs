//! What the gateway's load benchmarks (`fanout.rs`, `cluster.rs`) share: arguments, the
//! call traffic they put on a simulator, and readings of a process from `/proc`.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use ctilink_sim::SimHandle;

/// `--name VALUE` from the command line, parsed.
pub(crate) fn arg<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok())
}

/// Calls at `rate` per second between random idle phones of `phones`, each talking
/// 2 to 8 s, until `stop`; returns how many were placed.
pub(crate) fn calls(sim: &SimHandle, rate: f64, phones: std::ops::Range<u32>, stop: &AtomicBool) -> u64 {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let mut rng = fastrand::Rng::with_seed(11);
    let mut idle: Vec<u32> = phones.collect();
    let mut hangups: BinaryHeap<Reverse<(Instant, u32, u32, bool)>> = BinaryHeap::new();
    let mut resting: BinaryHeap<Reverse<(Instant, u32)>> = BinaryHeap::new();
    let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let start = Instant::now();
    let mut placed = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        while hangups.peek().is_some_and(|Reverse((t, ..))| *t <= now) {
            let Some(Reverse((_, a, b, caller_ends))) = hangups.pop() else { break };
            sim.hangup_ext(&(if caller_ends { a } else { b }).to_string());
            // Back to idle once the PBX has cleared both phones.
            resting.push(Reverse((now + Duration::from_secs(1), a)));
            resting.push(Reverse((now + Duration::from_secs(1), b)));
        }
        while resting.peek().is_some_and(|Reverse((t, _))| *t <= now) {
            if let Some(Reverse((_, e))) = resting.pop() {
                idle.push(e);
            }
        }
        let due = start + period.mul_f64(placed as f64);
        if due > now {
            std::thread::sleep((due - now).min(Duration::from_millis(2)));
            continue;
        }
        if rate <= 0.0 || idle.len() < 2 {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        }
        let a = idle.swap_remove(rng.usize(..idle.len()));
        let b = idle.swap_remove(rng.usize(..idle.len()));
        if sim.place_call(&a.to_string(), &b.to_string()).is_ok() {
            let talk = Duration::from_millis(rng.u64(2000..=8000));
            hangups.push(Reverse((now + talk, a, b, rng.bool())));
        } else {
            idle.extend([a, b]);
        }
        placed += 1;
    }
    placed
}

/// CPU seconds (user and system) of process `pid` (or `self`) so far.
pub(crate) fn cpu_secs(pid: impl std::fmt::Display) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 of stat; `after` starts at field 3.
    (ticks(11) + ticks(12)) / clock_ticks()
}

pub(crate) fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// A `kB` line of `/proc/<pid>/status` (`VmRSS:`, `VmHWM:`).
pub(crate) fn status_kb(pid: u32, key: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A Prometheus sample's value from `/metrics` text.
pub(crate) fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// The `p` quantile of sorted nanoseconds, in milliseconds.
pub(crate) fn pct(v: &[u64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
    v[i] as f64 / 1e6
}

/// Ends the bench with its name and why.
pub(crate) fn fail(bench: &str, e: &str) -> ! {
    eprintln!("{bench}: {e}");
    std::process::exit(1);
}

/// The gateway side of a bench: `--serve CONFIG` runs a gateway in this process until
/// SIGTERM, so that its memory and CPU are its own.
pub(crate) fn serve(bench: &str, config: &str) {
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => fail(bench, &format!("runtime: {e}")),
    };
    rt.block_on(async {
        let cfg = ctilink_gateway::Config::load(std::path::Path::new(config))
            .unwrap_or_else(|e| fail(bench, &e.to_string()));
        let gw = ctilink_gateway::Gateway::start(cfg).await.unwrap_or_else(|e| fail(bench, &e.to_string()));
        let a = gw.addrs();
        let (Some(tcp), Some(diag)) = (a.tcp, a.diagnostics) else { fail(bench, "no listener") };
        println!("{tcp} {diag}");
        let _ = std::io::Write::flush(&mut std::io::stdout());
        gw.run_until_signal().await;
    });
}

/// What one client saw: the probes' latencies (ns), lines read, `lagged` events.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    pub(crate) latencies: Vec<u64>,
    pub(crate) received: u64,
    pub(crate) lagged: u64,
}

pub(crate) async fn client(
    addr: SocketAddr,
    i: usize,
    origin: Instant,
    measuring: Arc<AtomicBool>,
    ready: Arc<AtomicU64>,
) -> Seen {
    let mut seen = Seen::default();
    let Ok(s) = tokio::net::TcpStream::connect(addr).await else { return seen };
    let (r, mut w) = s.into_split();
    let hello = format!(
        "{{\"type\":\"hello\",\"version\":1,\"token\":\"bench-token-{i:08}\",\"client\":\"bench\"}}\n"
    );
    if w.write_all(hello.as_bytes()).await.is_err() {
        return seen;
    }
    let mut r = tokio::io::BufReader::with_capacity(64 * 1024, r);
    let mut line = Vec::with_capacity(512);
    let mut counted = false;
    loop {
        line.clear();
        match r.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if !counted && line.starts_with(b"{\"type\":\"snapshot\"") {
            counted = true;
            ready.fetch_add(1, Ordering::Relaxed);
        }
        let now = origin.elapsed().as_nanos() as u64;
        if !measuring.load(Ordering::Relaxed) {
            continue;
        }
        seen.received += 1;
        if memchr::memmem::find(&line, b"\"event\":\"lagged\"").is_some() {
            seen.lagged += 1;
        }
        if memchr::memmem::find(&line, b"\"event\":\"presence\"").is_none() {
            continue;
        }
        let Some(at) = memchr::memmem::find(&line, b"\"message\":\"") else { continue };
        let rest = &line[at + 11..];
        let end = rest.iter().position(|b| *b == b'"').unwrap_or(0);
        if let Some(sent) = std::str::from_utf8(&rest[..end]).ok().and_then(|s| s.parse::<u64>().ok()) {
            seen.latencies.push(now.saturating_sub(sent));
        }
    }
    seen
}
