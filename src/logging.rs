//! Bounded logging of per-message failures: one line per reason per interval, with the count
//! of the lines it stands for, so that a flood of failures (a broker gone with 100 k messages
//! in flight) costs a few lines, and every failure is still counted in the metrics.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Distinct reasons remembered; further ones share one slot (error texts can carry ids).
const MAX_REASONS: usize = 256;

/// Admits the first line of each reason at once, then one per `interval`.
#[derive(Debug)]
pub struct RateLimited {
    interval: Duration,
    /// Reason → (when last admitted, occurrences since).
    seen: Mutex<HashMap<String, (Instant, u64)>>,
}

impl Default for RateLimited {
    fn default() -> Self {
        Self::new(Duration::from_secs(10))
    }
}

impl RateLimited {
    /// At most one line per reason per `interval`.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one occurrence of `reason`. `Some(suffix)` when a line should be logged now:
    /// the suffix is empty for the first, else says how many were not logged since the last.
    pub fn admit(&self, reason: &str) -> Option<String> {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let slot = if seen.contains_key(reason) || seen.len() < MAX_REASONS {
            reason
        } else {
            "(other reasons)"
        };
        let now = Instant::now();
        match seen.get_mut(slot) {
            None => {
                seen.insert(slot.to_owned(), (now, 0));
                Some(String::new())
            }
            Some((at, since)) if now.duration_since(*at) >= self.interval => {
                let suffix = match *since {
                    0 => String::new(),
                    n => format!(
                        " ({n} more like it in the last {} s, not logged)",
                        now.duration_since(*at).as_secs()
                    ),
                };
                *at = now;
                *since = 0;
                Some(suffix)
            }
            Some((_, since)) => {
                *since += 1;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_reason_per_interval_with_the_count_it_stands_for() {
        let log = RateLimited::new(Duration::from_millis(50));
        assert_eq!(log.admit("a").as_deref(), Some(""));
        assert_eq!(log.admit("b").as_deref(), Some(""));
        for _ in 0..1000 {
            assert_eq!(log.admit("a"), None);
        }
        std::thread::sleep(Duration::from_millis(60));
        let line = log.admit("a").unwrap_or_default();
        assert!(line.starts_with(" (1000 more like it"), "{line}");
        assert_eq!(log.admit("a"), None);
    }

    #[test]
    fn distinct_reasons_are_bounded() {
        let log = RateLimited::new(Duration::from_secs(60));
        for i in 0..(MAX_REASONS * 2) {
            let _ = log.admit(&format!("reason {i}"));
        }
        assert!(log.seen.lock().map(|m| m.len()).unwrap_or(0) <= MAX_REASONS + 1);
        assert_eq!(log.admit("reason 99999"), None);
    }
}
