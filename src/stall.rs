//! Since when a progress counter has stood still while work was waiting for it: Kafka
//! acknowledgements with sends pending (gather), consumption with lag (cache). Observed
//! periodically by a watchdog task; read by `/readyz` and the progress line.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How often the watchdogs observe.
pub const OBSERVE_EVERY: Duration = Duration::from_millis(250);

/// A stall clock.
#[derive(Debug, Default)]
pub struct Stall {
    /// When the stall began, UTC epoch µs; 0 while there is none.
    since_us: AtomicU64,
    /// The counter at the last observation.
    last: AtomicU64,
}

impl Stall {
    /// One observation: `progress` is a monotonic counter, `waiting` whether work waits on it.
    pub fn observe(&self, progress: u64, waiting: bool, now_us: u64) {
        let moved = self.last.swap(progress, Ordering::Relaxed) != progress;
        if moved || !waiting {
            self.since_us.store(0, Ordering::Relaxed);
        } else if self.since_us.load(Ordering::Relaxed) == 0 {
            self.since_us.store(now_us.max(1), Ordering::Relaxed);
        }
    }

    /// How long the counter has stood still with work waiting (`None`: it has not).
    pub fn stalled_for(&self, now_us: u64) -> Option<Duration> {
        match self.since_us.load(Ordering::Relaxed) {
            0 => None,
            since => Some(Duration::from_micros(now_us.saturating_sub(since))),
        }
    }
}

/// Now, UTC epoch µs, unsigned.
pub fn now() -> u64 {
    u64::try_from(crate::model::time::now_us()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stall_starts_when_nothing_moves_with_work_waiting_and_ends_when_it_moves() {
        let s = Stall::default();
        s.observe(5, true, 1_000);
        assert_eq!(
            s.stalled_for(2_000),
            None,
            "the first look saw it move from 0"
        );
        s.observe(5, true, 3_000);
        assert_eq!(s.stalled_for(10_000), Some(Duration::from_micros(7_000)));
        s.observe(5, true, 11_000);
        assert_eq!(s.stalled_for(11_000), Some(Duration::from_micros(8_000)));
        s.observe(6, true, 12_000);
        assert_eq!(s.stalled_for(13_000), None);
        s.observe(6, false, 14_000);
        s.observe(6, false, 99_000);
        assert_eq!(s.stalled_for(100_000), None, "nothing waiting is no stall");
    }
}
