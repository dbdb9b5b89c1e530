//! `[backoff]` of a connector file: reconnect delays, exponential with jitter, reset after a
//! healthy period (the delays themselves are computed in `ws::backoff`).

use super::Problems;
use serde::Deserialize;
use std::time::Duration;

/// First reconnect delay, ms: 500.
pub const DEFAULT_INITIAL_MS: u64 = 500;
/// Largest reconnect delay, ms: 30000.
pub const DEFAULT_MAX_MS: u64 = 30_000;
/// Growth factor per failed attempt: 2.
pub const DEFAULT_MULTIPLIER: f64 = 2.0;
/// Random spread as a fraction of the delay: 0.2.
pub const DEFAULT_JITTER: f64 = 0.2;
/// A connection up this long resets the delay, seconds: 60.
pub const DEFAULT_RESET_AFTER_SECS: u64 = 60;
/// First retry of an instrument the venue refused, seconds: 30 (doubling up to 30 min).
pub const DEFAULT_REFUSAL_RETRY_SECS: u64 = 30;

/// `[backoff]` as written.
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BackoffFile {
    /// First delay (default [`DEFAULT_INITIAL_MS`]).
    initial_ms: Option<u64>,
    /// Largest delay (default [`DEFAULT_MAX_MS`]).
    max_ms: Option<u64>,
    /// Growth factor per failed attempt, >= 1 (default [`DEFAULT_MULTIPLIER`]).
    multiplier: Option<f64>,
    /// Random spread as a fraction of the delay, 0..=1 (default [`DEFAULT_JITTER`]).
    jitter: Option<f64>,
    /// A connection up this long resets the delay to `initial_ms` (default
    /// [`DEFAULT_RESET_AFTER_SECS`]).
    reset_after_secs: Option<u64>,
    /// An instrument the venue refused is asked for again after this long, doubling up to
    /// 30 min (default [`DEFAULT_REFUSAL_RETRY_SECS`]).
    refusal_retry_secs: Option<u64>,
}

/// Reconnect backoff.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// First delay.
    pub initial: Duration,
    /// Largest delay.
    pub max: Duration,
    /// Growth factor.
    pub multiplier: f64,
    /// Random spread, 0..=1.
    pub jitter: f64,
    /// Healthy period that resets the delay.
    pub reset_after: Duration,
    /// First retry of a refused instrument.
    pub refusal_retry: Duration,
}

impl BackoffFile {
    /// The settings, defaults filled in; every problem goes to `p`.
    pub(super) fn validate(&self, p: &mut Problems<'_>) -> Backoff {
        let backoff = Backoff {
            initial: Duration::from_millis(self.initial_ms.unwrap_or(DEFAULT_INITIAL_MS)),
            max: Duration::from_millis(self.max_ms.unwrap_or(DEFAULT_MAX_MS)),
            multiplier: self.multiplier.unwrap_or(DEFAULT_MULTIPLIER),
            jitter: self.jitter.unwrap_or(DEFAULT_JITTER),
            reset_after: Duration::from_secs(
                self.reset_after_secs.unwrap_or(DEFAULT_RESET_AFTER_SECS),
            ),
            refusal_retry: Duration::from_secs(
                self.refusal_retry_secs
                    .unwrap_or(DEFAULT_REFUSAL_RETRY_SECS),
            ),
        };
        if backoff.refusal_retry.is_zero() {
            p.add("backoff.refusal_retry_secs", "must be > 0");
        }
        if backoff.initial.is_zero() {
            p.add("backoff.initial_ms", "must be > 0");
        }
        if backoff.max < backoff.initial {
            p.add("backoff.max_ms", "must be >= initial_ms");
        }
        if !(backoff.multiplier.is_finite() && backoff.multiplier >= 1.0) {
            p.add(
                "backoff.multiplier",
                format!("{} must be a number >= 1", backoff.multiplier),
            );
        }
        if !(0.0..=1.0).contains(&backoff.jitter) {
            p.add(
                "backoff.jitter",
                format!("{} must be within 0..=1", backoff.jitter),
            );
        }
        if backoff.reset_after.is_zero() {
            p.add("backoff.reset_after_secs", "must be > 0");
        }
        backoff
    }
}
