//! Reconnect delays: exponential growth with jitter, capped, reset after a healthy period.

use crate::config::Backoff as BackoffConfig;
use std::time::Duration;

/// Delay state for one connection.
#[derive(Debug, Clone)]
pub struct Backoff {
    config: BackoffConfig,
    attempt: u32,
    rng: u64,
}

impl Backoff {
    /// A fresh state; `seed` makes the jitter reproducible (use e.g. the connection id).
    pub fn new(config: BackoffConfig, seed: u64) -> Self {
        Self {
            config,
            attempt: 0,
            rng: seed | 1,
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
    pub fn next_delay(&mut self) -> Duration {
        let c = self.config;
        let base = c.initial.as_secs_f64() * c.multiplier.powi(self.attempt.min(64) as i32);
        let capped = base.min(c.max.as_secs_f64());
        let spread = 1.0 + c.jitter * (2.0 * self.unit() - 1.0);
        self.attempt = self.attempt.saturating_add(1);
        Duration::from_secs_f64((capped * spread).clamp(0.0, c.max.as_secs_f64()))
    }

    /// Call when a connection closes: a connection that stayed up for `reset_after` was
    /// healthy, so the next delay starts from `initial` again.
    pub fn connection_ended(&mut self, uptime: Duration) {
        if uptime >= self.config.reset_after {
            self.attempt = 0;
        }
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
    fn a_healthy_connection_resets_the_delay() {
        let mut b = Backoff::new(config(0.0), 1);
        for _ in 0..5 {
            b.next_delay();
        }
        b.connection_ended(Duration::from_secs(10));
        assert_eq!(
            b.next_delay(),
            Duration::from_secs(16),
            "short-lived: keeps growing"
        );
        b.connection_ended(Duration::from_secs(61));
        assert_eq!(
            (b.attempts(), b.next_delay()),
            (0, Duration::from_millis(500))
        );
    }
}
