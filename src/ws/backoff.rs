//! Reconnect delays: exponential growth with jitter, capped, reset by a healthy session.
//!
//! A session is healthy when it was subscribed, delivered data (the connection counts more frames
//! than replies to its subscription requests) and stayed up for at least
//! [`MIN_HEALTHY_SESSION`], or stayed up for `reset_after` whatever it delivered. After a healthy
//! session the next attempt waits a random fraction of `initial` (spreading the reconnects of
//! many connections cut at once) and later failures grow from `initial` again. Counting only
//! long sessions as healthy made a venue that cuts connections every 30 s (data flowing all
//! along) push every wait to the maximum: feeds were down 34–48 % of a soak (issue 18).

use crate::config::Backoff as BackoffConfig;
use std::time::Duration;

/// Delay state for one connection.
#[derive(Debug, Clone)]
pub struct Backoff {
    config: BackoffConfig,
    attempt: u32,
    rng: u64,
    /// The last session was healthy: the next delay is a fraction of `initial`.
    after_healthy: bool,
}

/// A session that delivered data must also have lasted this long to count as healthy, so that
/// a venue accepting, answering and closing at once still meets a growing backoff.
pub const MIN_HEALTHY_SESSION: Duration = Duration::from_secs(1);

impl Backoff {
    /// A fresh state; `seed` makes the jitter reproducible (use e.g. the connection id).
    pub fn new(config: BackoffConfig, seed: u64) -> Self {
        Self {
            config,
            attempt: 0,
            rng: seed | 1,
            after_healthy: false,
        }
    }

    /// Uniform in [0, 1): xorshift64*, enough for spreading reconnects.
    fn unit(&mut self) -> f64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The delay before the next attempt: `initial * multiplier^attempt`, capped at `max`,
    /// then spread by ±`jitter` (never above `max`, never below zero).
    /// After a healthy session: uniform in [0, `initial`) instead.
    pub fn next_delay(&mut self) -> Duration {
        let c = self.config;
        if std::mem::take(&mut self.after_healthy) {
            return Duration::from_secs_f64(c.initial.as_secs_f64() * self.unit()).min(c.max);
        }
        let base = c.initial.as_secs_f64() * c.multiplier.powi(self.attempt.min(64) as i32);
        let capped = base.min(c.max.as_secs_f64());
        let spread = 1.0 + c.jitter * (2.0 * self.unit() - 1.0);
        self.attempt = self.attempt.saturating_add(1);
        Duration::from_secs_f64((capped * spread).clamp(0.0, c.max.as_secs_f64()))
    }

    /// Call when a session ends: `uptime` since it was subscribed (zero when it never was),
    /// `delivered` whether it received data frames. A healthy session (see the module) resets
    /// the growth; returns whether it was healthy.
    pub fn connection_ended(&mut self, uptime: Duration, delivered: bool) -> bool {
        let healthy = uptime >= self.config.reset_after
            || (delivered && uptime >= MIN_HEALTHY_SESSION.min(self.config.reset_after));
        if healthy {
            self.attempt = 0;
        }
        self.after_healthy = healthy;
        healthy
    }

    /// Failed attempts since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(jitter: f64) -> BackoffConfig {
        BackoffConfig {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            multiplier: 2.0,
            jitter,
            reset_after: Duration::from_secs(60),
            refusal_retry: Duration::from_secs(30),
        }
    }

    #[test]
    fn grows_exponentially_to_the_cap_without_jitter() {
        let mut b = Backoff::new(config(0.0), 1);
        let delays: Vec<u64> = (0..9).map(|_| b.next_delay().as_millis() as u64).collect();
        assert_eq!(
            delays,
            [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
    }

    #[test]
    fn jitter_stays_within_bounds_and_spreads() {
        let mut b = Backoff::new(config(0.2), 7);
        let first: Vec<Duration> = (0..200)
            .map(|_| {
                let mut fresh = Backoff::new(config(0.2), b.unit().to_bits());
                fresh.next_delay()
            })
            .collect();
        assert!(
            first
                .iter()
                .all(|d| (400..=600).contains(&(d.as_millis() as u64))),
            "{first:?}"
        );
        let distinct: std::collections::BTreeSet<_> = first.iter().collect();
        assert!(distinct.len() > 50, "jitter should spread reconnects");
        for _ in 0..100 {
            assert!(b.next_delay() <= Duration::from_secs(30));
        }
    }

    #[test]
    fn a_long_session_resets_the_delay_even_without_data() {
        let mut b = Backoff::new(config(0.0), 1);
        for _ in 0..5 {
            b.next_delay();
        }
        assert!(!b.connection_ended(Duration::from_secs(10), false));
        assert_eq!(
            b.next_delay(),
            Duration::from_secs(16),
            "short-lived without data: keeps growing"
        );
        assert!(b.connection_ended(Duration::from_secs(61), false));
        assert_eq!(b.attempts(), 0);
        assert!(b.next_delay() < Duration::from_millis(500));
        assert_eq!(b.next_delay(), Duration::from_millis(500));
    }

    /// A venue cutting connections every 30 s while data flows: every wait stays below
    /// `initial` (it grew to the 30 s maximum before).
    #[test]
    fn a_session_that_delivered_data_resets_the_delay() {
        let mut b = Backoff::new(config(0.2), 3);
        for _ in 0..6 {
            b.next_delay();
        }
        let mut waited = Duration::ZERO;
        for _ in 0..20 {
            assert!(b.connection_ended(Duration::from_secs(30), true));
            let d = b.next_delay();
            assert!(d < Duration::from_millis(500), "{d:?}");
            waited += d;
        }
        assert!(waited > Duration::ZERO, "spread, not all zero");
        // Then a failed attempt (never subscribed) grows from `initial` again.
        assert!(!b.connection_ended(Duration::ZERO, false));
        let d = b.next_delay();
        assert!((400..=600).contains(&d.as_millis()), "{d:?}");
    }

    /// Accepted, answered, closed at once: data, but not healthy; the delay keeps growing.
    #[test]
    fn a_session_closed_at_once_is_not_healthy_even_with_data() {
        let mut b = Backoff::new(config(0.0), 1);
        let delays: Vec<u128> = (0..4)
            .map(|_| {
                assert!(!b.connection_ended(Duration::from_millis(200), true));
                b.next_delay().as_millis()
            })
            .collect();
        assert_eq!(delays, [500, 1000, 2000, 4000]);
    }
}
