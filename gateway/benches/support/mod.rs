//! What the gateway's load benchmarks (`fanout.rs`, `cluster.rs`) share: arguments, the
//! call traffic they put on a simulator, and readings of a process from `/proc`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

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
