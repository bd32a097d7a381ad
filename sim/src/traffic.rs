//! A traffic generator: random, realistic calls among the simulator's phones,
//! for demos and load runs (`ctilink sim --traffic RATE`).
//!
//! Every decision comes from a `fastrand::Rng` seeded with [`TrafficConfig::seed`],
//! so a run makes the same choices in the same order (the timing of events still
//! depends on the scheduler). It never grows without bound: a call is started
//! only between idle phones and skipped when there are none, so at most one
//! call per two phones runs at a time, each with one small task.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fastrand::Rng;
use tokio::sync::watch;

use crate::handle::Shared;

/// What the generated traffic looks like.
#[derive(Clone, Debug)]
pub struct TrafficConfig {
    /// New calls per second (e.g. `0.5`); values `<= 0` or not finite start nothing.
    pub calls_per_sec: f64,
    /// Seed of every random decision.
    pub seed: u64,
    /// Shortest and longest talk time of an answered call.
    pub talk_min: Duration,
    pub talk_max: Duration,
    /// Share of calls (0.0-1.0) to a phone that is already in a call (busy).
    pub busy: f64,
    /// Share of calls to a number that does not exist.
    pub unknown: f64,
    /// Share of calls nobody answers (the caller gives up after the talk time,
    /// or `Dial()` times out first).
    pub no_answer: f64,
    /// Share of answered calls put on hold and taken back midway.
    pub hold: f64,
    /// Share of answered calls blind-transferred to a third idle phone midway.
    pub transfer: f64,
}

impl Default for TrafficConfig {
    /// One call every two seconds, seed 1, talk 3-30 s, 5 % busy, 3 % unknown
    /// number, 5 % no answer, 10 % hold, 5 % transfer.
    fn default() -> Self {
        Self {
            calls_per_sec: 0.5,
            seed: 1,
            talk_min: Duration::from_secs(3),
            talk_max: Duration::from_secs(30),
            busy: 0.05,
            unknown: 0.03,
            no_answer: 0.05,
            hold: 0.10,
            transfer: 0.05,
        }
    }
}

/// A running traffic generator. It stops when [`stop`](Self::stop) is called,
/// when the handle is dropped, or when the simulator shuts down. Stopping
/// leaves the calls in progress as they are (end them with `hangup_all`).
#[derive(Debug)]
pub struct TrafficHandle {
    stop: watch::Sender<bool>,
    started: Arc<AtomicU64>,
}

impl TrafficHandle {
    /// Stops generating calls and stops the scenarios of the calls in progress.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Calls started so far (including busy and unknown-number attempts).
    pub fn calls_started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }
}

impl Drop for TrafficHandle {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// What one generated call does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scenario {
    Busy,
    Unknown,
    NoAnswer,
    Hold,
    Transfer,
    Plain,
}

fn choose(rng: &mut Rng, cfg: &TrafficConfig) -> Scenario {
    let r = rng.f64();
    let mut acc = 0.0;
    for (share, s) in [
        (cfg.busy, Scenario::Busy),
        (cfg.unknown, Scenario::Unknown),
        (cfg.no_answer, Scenario::NoAnswer),
        (cfg.hold, Scenario::Hold),
        (cfg.transfer, Scenario::Transfer),
    ] {
        acc += share.clamp(0.0, 1.0);
        if r < acc {
            return s;
        }
    }
    Scenario::Plain
}

fn talk_time(rng: &mut Rng, cfg: &TrafficConfig) -> Duration {
    let (lo, hi) = (cfg.talk_min.as_millis() as u64, cfg.talk_max.as_millis() as u64);
    Duration::from_millis(if hi > lo { rng.u64(lo..=hi) } else { lo })
}

pub(crate) fn start(shared: Arc<Shared>, cfg: TrafficConfig) -> TrafficHandle {
    let (stop, rx) = watch::channel(false);
    let started = Arc::new(AtomicU64::new(0));
    if cfg.calls_per_sec.is_finite() && cfg.calls_per_sec > 0.0 {
        let interval = Duration::from_secs_f64((1.0 / cfg.calls_per_sec).clamp(0.001, 86_400.0));
        let task = generate(Arc::clone(&shared), cfg, interval, rx, Arc::clone(&started));
        shared.runtime.spawn(task);
    }
    TrafficHandle { stop, started }
}

/// Sleeps for `d`; `false` if traffic was stopped (or the simulator shut down) meanwhile.
async fn pause(shared: &Shared, stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    if *stop.borrow() || shared.is_shut_down() {
        return false;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => !*stop.borrow() && !shared.is_shut_down(),
        _ = stop.changed() => false,
    }
}

async fn generate(
    shared: Arc<Shared>,
    cfg: TrafficConfig,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
    started: Arc<AtomicU64>,
) {
    let mut rng = Rng::with_seed(cfg.seed);
    while pause(&shared, &mut stop, interval).await {
        let scenario = choose(&mut rng, &cfg);
        let (idle, busy): (Vec<String>, Vec<String>) =
            shared.with_pbx(|p| p.extensions().iter().cloned().partition(|e| p.is_idle(e)));
        if idle.len() < 2 {
            continue;
        }
        let from = idle[rng.usize(..idle.len())].clone();
        let others: Vec<&String> = idle.iter().filter(|e| **e != from).collect();
        let to = others[rng.usize(..others.len())].clone();
        let placed = match scenario {
            Scenario::Unknown => {
                let number = format!("9{:04}", rng.u32(0..10_000));
                shared.with_pbx(|p| p.place_call(&from, &number)).is_ok()
            }
            Scenario::Busy if !busy.is_empty() => {
                let to = busy[rng.usize(..busy.len())].clone();
                shared.with_pbx(|p| p.place_call(&from, &to)).is_ok()
            }
            Scenario::NoAnswer => shared.with_pbx(|p| p.place_call_unanswered(&from, &to)).is_ok(),
            _ => shared.with_pbx(|p| p.place_call(&from, &to)).is_ok(),
        };
        if !placed {
            continue;
        }
        started.fetch_add(1, Ordering::Relaxed);
        if matches!(scenario, Scenario::Unknown) || (scenario == Scenario::Busy && !busy.is_empty()) {
            continue; // ends at once
        }
        let talk = talk_time(&mut rng, &cfg);
        let caller_ends = rng.bool();
        let run = Run {
            shared: Arc::clone(&shared),
            stop: stop.clone(),
            from,
            to,
            rng: Rng::with_seed(rng.u64(..)),
            talk,
            caller_ends,
            scenario,
        };
        shared.runtime.spawn(run.play());
    }
}

/// One call's life after it was placed.
struct Run {
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
    from: String,
    to: String,
    /// This call's own decisions (seeded from the generator's).
    rng: Rng,
    talk: Duration,
    caller_ends: bool,
    scenario: Scenario,
}

impl Run {
    async fn play(mut self) {
        let shared = Arc::clone(&self.shared);
        let ring = shared.config.answer_delay;
        if self.scenario == Scenario::NoAnswer {
            // The caller gives up (unless Dial() timed out first).
            if pause(&shared, &mut self.stop, self.talk.min(shared.config.dial_timeout)).await {
                shared.with_pbx(|p| p.hangup_ext(&self.from));
            }
            return;
        }
        let half = self.talk / 2;
        if !pause(&shared, &mut self.stop, ring + half).await {
            return;
        }
        let mut talker = self.to.clone();
        match self.scenario {
            Scenario::Hold if shared.with_pbx(|p| p.hold_ext(&self.to)) => {
                if !pause(&shared, &mut self.stop, half / 2).await {
                    return;
                }
                shared.with_pbx(|p| p.retrieve_ext(&self.to));
            }
            Scenario::Transfer => {
                // The called phone sends the caller on to a third phone, if one is idle.
                let ctx = shared.config.context.clone();
                let idle: Vec<String> =
                    shared.with_pbx(|p| p.extensions().iter().filter(|e| p.is_idle(e)).cloned().collect());
                let target = (!idle.is_empty()).then(|| idle[self.rng.usize(..idle.len())].clone());
                if let Some(t) = target {
                    let chan = shared.with_pbx(|p| p.talking_channel(&self.to));
                    if let Some(chan) = chan {
                        if shared.with_pbx(|p| p.blind_transfer(&chan, &ctx, &t)).is_ok() {
                            talker = t;
                        }
                    }
                }
            }
            _ => {}
        }
        if !pause(&shared, &mut self.stop, half).await {
            return;
        }
        let who = if self.caller_ends { self.from.clone() } else { talker };
        shared.with_pbx(|p| p.hangup_ext(&who));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_follow_the_shares_and_the_seed() {
        let cfg = TrafficConfig { busy: 0.5, unknown: 0.5, ..TrafficConfig::default() };
        let mut rng = Rng::with_seed(7);
        for _ in 0..100 {
            assert!(matches!(choose(&mut rng, &cfg), Scenario::Busy | Scenario::Unknown));
        }
        let cfg = TrafficConfig::default();
        let a: Vec<_> = {
            let mut r = Rng::with_seed(3);
            (0..50).map(|_| choose(&mut r, &cfg)).collect()
        };
        let b: Vec<_> = {
            let mut r = Rng::with_seed(3);
            (0..50).map(|_| choose(&mut r, &cfg)).collect()
        };
        assert_eq!(a, b);
        assert!(a.contains(&Scenario::Plain));
    }

    #[test]
    fn talk_time_stays_in_range() {
        let cfg = TrafficConfig::default();
        let mut rng = Rng::with_seed(1);
        for _ in 0..100 {
            let t = talk_time(&mut rng, &cfg);
            assert!(t >= cfg.talk_min && t <= cfg.talk_max);
        }
        let fixed = TrafficConfig { talk_max: Duration::ZERO, ..TrafficConfig::default() };
        assert_eq!(talk_time(&mut rng, &fixed), fixed.talk_min);
    }
}
