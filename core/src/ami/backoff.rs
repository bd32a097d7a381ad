//! Reconnect delays: exponential, capped, with jitter so that many clients of one
//! PBX that went down together do not all come back in the same instant.

use std::time::Duration;

/// How the link reconnects after losing the PBX.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// Whether to reconnect at all.
    pub enabled: bool,
    /// Delay before the first attempt.
    pub initial: Duration,
    /// The cap the delay doubles up to.
    pub max: Duration,
    /// Give up after this many failed attempts in a row (`None`: never).
    pub max_attempts: Option<u32>,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            max_attempts: None,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Backoff {
    policy: ReconnectPolicy,
    /// The exponent of the next delay.
    exp: u32,
    /// Delays handed out so far, i.e. attempts made or about to be.
    attempts: u32,
    rng: fastrand::Rng,
}

impl Backoff {
    pub(crate) fn new(policy: ReconnectPolicy) -> Self {
        Self { policy, exp: 0, attempts: 0, rng: fastrand::Rng::new() }
    }

    /// The delay before the next attempt: `initial * 2^n` capped at `max`, then a
    /// random point in its upper half ("equal jitter"), so it never collapses to 0.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let exp = self.exp.min(20);
        self.exp = self.exp.saturating_add(1);
        self.attempts = self.attempts.saturating_add(1);
        let base = self.policy.initial.saturating_mul(1u32 << exp).min(self.policy.max);
        let half = base / 2;
        let jitter_ms = self.rng.u64(0..=half.as_millis() as u64);
        half + Duration::from_millis(jitter_ms)
    }

    /// After a refused login, wait the longest: retrying a wrong password quickly
    /// only fills the PBX's security log.
    pub(crate) fn jump_to_max(&mut self) {
        self.exp = 20;
    }

    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }

    pub(crate) fn exhausted(&self) -> bool {
        self.policy.max_attempts.is_some_and(|m| self.attempts >= m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps_with_jitter() {
        let mut b = Backoff::new(ReconnectPolicy {
            enabled: true,
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
            max_attempts: Some(8),
        });
        let d: Vec<Duration> = (0..8).map(|_| b.next_delay()).collect();
        assert!(d[0] >= Duration::from_millis(50) && d[0] <= Duration::from_millis(100));
        assert!(d[3] >= Duration::from_millis(400) && d[3] <= Duration::from_millis(800));
        for x in &d[5..] {
            assert!(*x >= Duration::from_secs(1) && *x <= Duration::from_secs(2), "{x:?}");
        }
        assert!(b.exhausted());
    }

    #[test]
    fn refused_login_waits_the_longest() {
        let mut b = Backoff::new(ReconnectPolicy::default());
        b.jump_to_max();
        assert!(b.next_delay() >= Duration::from_secs(15));
    }
}
