//! Reconnect delays: exponential, capped, with jitter so that many clients of one
//! PBX that went down together do not all come back in the same instant.
//!
//! The delay grows across connections, not only across failed attempts: a login that
//! succeeds is not yet a sign that the peer is well. A PBX that accepts the login and
//! drops the connection at once (a crash loop, a proxy that lets the TCP handshake
//! through and then gives up) would otherwise be retried every `initial` forever, since
//! each accepted login started the delays again. The delay goes back to `initial` only
//! once a connection stayed up for [`ReconnectPolicy::stable_after`].

use std::time::Duration;

use tokio::time::Instant;

/// How the link reconnects after losing the PBX.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// Whether to reconnect at all.
    pub enabled: bool,
    /// Delay before the first attempt.
    pub initial: Duration,
    /// The cap the delay doubles up to.
    pub max: Duration,
    /// Give up after this many failed attempts in a row (`None`: never). An accepted
    /// login ends the row, even if the connection then drops at once (its delay does not
    /// go back to `initial` for that: see `stable_after`).
    pub max_attempts: Option<u32>,
    /// How long a connection must stay up before the next loss starts the delays again
    /// from `initial`. A connection lost sooner counts as a failed attempt for the delay:
    /// the next one keeps doubling from where the last was, so a peer that accepts the
    /// login and drops the connection at once is retried at `max` intervals, not every
    /// `initial`. Default 10 s: well past a crash loop's or a refusing proxy's seconds,
    /// well below the hours a healthy link stays up. `Duration::ZERO` goes back to
    /// `initial` after every accepted login (the behaviour before this field).
    pub stable_after: Duration,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            max_attempts: None,
            stable_after: Duration::from_secs(10),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Backoff {
    policy: ReconnectPolicy,
    /// The exponent of the next delay.
    exp: u32,
    /// Delays handed out since the last accepted login, i.e. attempts made or about to be.
    attempts: u32,
    rng: fastrand::Rng,
    /// When the connection now up was made; `None` while down.
    up_since: Option<Instant>,
}

impl Backoff {
    /// The backoff of one link for its whole life: it is kept across connections (see
    /// [`connected`](Self::connected) and [`lost`](Self::lost)).
    pub(crate) fn new(policy: ReconnectPolicy) -> Self {
        Self { policy, exp: 0, attempts: 0, rng: fastrand::Rng::new(), up_since: None }
    }

    /// A connection was made (logged in) at `now`. The attempts so far succeeded, so the
    /// count towards `max_attempts` starts again; the delay does not (yet): the connection
    /// has to prove itself first.
    pub(crate) fn connected(&mut self, now: Instant) {
        self.attempts = 0;
        self.up_since = Some(now);
    }

    /// The connection was lost at `now`. If it had stayed up for `stable_after`, the next
    /// delay is `initial` again; if not, the delays go on growing from where they were.
    pub(crate) fn lost(&mut self, now: Instant) {
        if let Some(up) = self.up_since.take() {
            if now.saturating_duration_since(up) >= self.policy.stable_after {
                self.exp = 0;
            }
        }
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
            ..ReconnectPolicy::default()
        });
        let d: Vec<Duration> = (0..8).map(|_| b.next_delay()).collect();
        assert!(d[0] >= Duration::from_millis(50) && d[0] <= Duration::from_millis(100));
        assert!(d[3] >= Duration::from_millis(400) && d[3] <= Duration::from_millis(800));
        for x in &d[5..] {
            assert!(*x >= Duration::from_secs(1) && *x <= Duration::from_secs(2), "{x:?}");
        }
        assert!(b.exhausted());
    }

    fn policy() -> ReconnectPolicy {
        ReconnectPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
            stable_after: Duration::from_secs(10),
            ..ReconnectPolicy::default()
        }
    }

    #[test]
    fn a_connection_that_drops_at_once_does_not_reset_the_delay() {
        let mut b = Backoff::new(policy());
        let t0 = Instant::now();
        b.connected(t0);
        for _ in 0..4 {
            b.lost(t0 + Duration::from_secs(1));
            b.next_delay();
            b.connected(t0 + Duration::from_secs(1));
        }
        b.lost(t0 + Duration::from_secs(2));
        // The fifth delay in a row: 100 ms * 2^4 = 1.6 s, in its upper half.
        assert!(b.next_delay() >= Duration::from_millis(800));
        // An accepted login ends a row of failed attempts.
        assert_eq!(b.attempts(), 1);
        assert!(!b.exhausted());
    }

    #[test]
    fn a_connection_that_stayed_up_resets_the_delay() {
        let mut b = Backoff::new(policy());
        let t0 = Instant::now();
        for _ in 0..6 {
            b.next_delay();
        }
        b.connected(t0);
        b.lost(t0 + Duration::from_secs(10));
        assert!(b.next_delay() <= Duration::from_millis(100));
        // Lost while down (no `connected` since): nothing to reset.
        b.next_delay();
        b.lost(t0 + Duration::from_secs(100));
        assert!(b.next_delay() >= Duration::from_millis(200));
    }

    #[test]
    fn stable_after_zero_resets_after_every_login() {
        let mut b = Backoff::new(ReconnectPolicy { stable_after: Duration::ZERO, ..policy() });
        let t0 = Instant::now();
        for _ in 0..6 {
            b.next_delay();
        }
        b.connected(t0);
        b.lost(t0);
        assert!(b.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn refused_login_waits_the_longest() {
        let mut b = Backoff::new(ReconnectPolicy::default());
        b.jump_to_max();
        assert!(b.next_delay() >= Duration::from_secs(15));
    }
}
