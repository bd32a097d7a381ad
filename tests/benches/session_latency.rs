//! Latency of one event through the whole SDK: from the simulator writing an AMI
//! `UserEvent` to `Session::events()` yielding it as `Event::UserEvent`, at a steady rate.
//!
//! Path measured: simulator hub queue -> its connection task -> TCP over loopback -> the
//! AMI connection task (decoder) -> the call model (tracker) -> the session's broadcast ->
//! `EventStream::next`. Simulator and session share one process and one tokio runtime
//! (2 worker threads); a plain thread paces the events. Each event carries its sequence
//! number and the nanoseconds since a common `Instant`, stamped just before the simulator
//! writes it; the receiver subtracts. The first half second of each rate is a warm-up and
//! is not counted.
//!
//! ```sh
//! cargo bench -p ctilink-tests --bench session_latency            # 1,000/s and 10,000/s, 5 s each
//! cargo bench -p ctilink-tests --bench session_latency -- --test  # quick: a few hundred events
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ctilink::{Event, Session};
use ctilink_sim::{SimConfig, SimHandle, Simulator};

/// One measured rate.
struct Run {
    rate: u32,
    /// Events emitted (warm-up excluded).
    sent: u64,
    /// Latencies in nanoseconds of the events received (warm-up excluded), sorted.
    latencies: Vec<u64>,
    /// Events the session dropped (`Lagged`).
    lagged: u64,
}

impl Run {
    fn pct(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies.len() as f64 * p).ceil() as usize).clamp(1, self.latencies.len()) - 1;
        self.latencies[i] as f64 / 1000.0
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("session_latency: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let (warmup, measure) = if quick {
        (Duration::from_millis(50), Duration::from_millis(250))
    } else {
        (Duration::from_millis(500), Duration::from_secs(5))
    };
    let result = rt.block_on(async {
        let sim = Simulator::start(
            SimConfig { extensions: SimConfig::extension_range(100, 109), ..SimConfig::default() },
            ([127, 0, 0, 1], 0).into(),
        )
        .await
        .map_err(|e| format!("simulator: {e}"))?;
        let session = Session::connect(&sim.url()).await.map_err(|e| format!("connect: {e}"))?;
        let mut runs = Vec::new();
        for rate in [1_000u32, 10_000] {
            runs.push(measure_rate(&sim, &session, rate, warmup, measure).await?);
        }
        session.close().await;
        sim.shutdown().await;
        Ok::<_, String>(runs)
    });
    let runs = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("session_latency: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "session_latency{}: simulator writes an AMI UserEvent -> Session::events() yields it",
        if quick { " (quick --test run)" } else { "" }
    );
    println!(
        "{:>8} {:>8} {:>8} {:>7} {:>9} {:>9} {:>9} {:>9}",
        "rate/s", "sent", "received", "lagged", "p50 µs", "p99 µs", "p99.9 µs", "max µs"
    );
    for r in &runs {
        println!(
            "{:>8} {:>8} {:>8} {:>7} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            r.rate,
            r.sent,
            r.latencies.len(),
            r.lagged,
            r.pct(0.50),
            r.pct(0.99),
            r.pct(0.999),
            r.latencies.last().map_or(f64::NAN, |&m| m as f64 / 1000.0)
        );
    }
    if let Some(r) = runs.iter().find(|r| r.rate == 1_000) {
        let p99 = r.pct(0.99);
        println!("goal p99 < 1000 µs at 1,000/s: {}", if p99 < 1000.0 { "met" } else { "NOT met" });
    }
}

/// Emits `rate` events per second for `warmup + measure` from a pacing thread and
/// collects their latencies until the last one arrived.
async fn measure_rate(
    sim: &SimHandle,
    session: &Session,
    rate: u32,
    warmup: Duration,
    measure: Duration,
) -> Result<Run, String> {
    let mut events = session.events();
    let origin = Instant::now();
    let total = ((warmup + measure).as_secs_f64() * f64::from(rate)) as u64;
    let skip = (warmup.as_secs_f64() * f64::from(rate)) as u64;
    let name = format!("Latency{rate}");
    let done = Arc::new(AtomicBool::new(false));
    let pacer = {
        let (sim, name, done) = (sim.clone(), name.clone(), Arc::clone(&done));
        std::thread::spawn(move || pace(&sim, &name, rate, total, origin, &done))
    };
    let mut latencies = Vec::with_capacity((total - skip) as usize);
    let mut lagged = 0u64;
    let mut last_seq = 0u64;
    // Generous: the run ends with the last event, or when nothing came for 2 s.
    while last_seq + 1 < total {
        let ev = match events.next_timeout(Duration::from_secs(2)).await {
            Ok(Some(ev)) => ev,
            Ok(None) => break,
            Err(e) => return Err(format!("event stream: {e}")),
        };
        let received = origin.elapsed().as_nanos() as u64;
        let fields = match ev {
            Event::UserEvent { name: n, fields, .. } if n == name => fields,
            Event::Lagged { missed } => {
                lagged += missed;
                continue;
            }
            _ => continue,
        };
        let get = |k: &str| fields.iter().find(|(f, _)| f == k).and_then(|(_, v)| v.parse::<u64>().ok());
        let (Some(seq), Some(sent)) = (get("Seq"), get("T")) else { continue };
        last_seq = seq;
        if seq >= skip {
            latencies.push(received.saturating_sub(sent));
        }
    }
    done.store(true, Ordering::Relaxed);
    pacer.join().map_err(|_| "the pacing thread panicked".to_owned())?;
    latencies.sort_unstable();
    Ok(Run { rate, sent: total - skip, latencies, lagged })
}

/// Emits event `i` at `origin + i / rate`, sleeping between; an event that is late (the
/// thread overslept) goes at once, stamped with the time it really leaves.
fn pace(sim: &SimHandle, name: &str, rate: u32, total: u64, origin: Instant, done: &AtomicBool) {
    let period = Duration::from_secs(1) / rate;
    let start = Instant::now();
    for seq in 0..total {
        if done.load(Ordering::Relaxed) {
            return;
        }
        let due = start + period * seq as u32;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let stamp = origin.elapsed().as_nanos().to_string();
        sim.emit_user_event(name, &[("Seq", &seq.to_string()), ("T", &stamp)]);
    }
}
