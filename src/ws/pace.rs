//! Staying under a venue's published rates: a sliding-window gate that hands out the earliest
//! moment the next request (or connection attempt) may go, and books it. One gate per
//! connection for subscribe requests; one per venue and process for connection attempts
//! ([`crate::exchange::profile::LimitRules::connects`]).
//!
//! Hand-written (40 lines) rather than `governor`: the gate must *book* future slots for
//! callers that then sleep, across several windows at once, and must be testable with given
//! instants; a token bucket of one window does not say when a burst of five within a minute is
//! allowed.

use crate::exchange::profile::Rate;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// At most `max` events within any `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Events allowed per window.
    pub max: usize,
    /// The window.
    pub window: Duration,
}

impl Window {
    /// One event per `gap`.
    pub fn gap(gap: Duration) -> Self {
        Self {
            max: 1,
            window: gap,
        }
    }
}

impl From<Rate> for Window {
    fn from(r: Rate) -> Self {
        Self {
            max: usize::try_from(r.max.max(1)).unwrap_or(usize::MAX),
            window: Duration::from_secs(r.per_secs),
        }
    }
}

/// Books slots under every window at once.
#[derive(Debug, Clone)]
pub struct Gate {
    windows: Vec<Window>,
    /// Booked slots, oldest first; at most the largest `max` are kept.
    booked: VecDeque<Instant>,
}

impl Gate {
    /// A gate for all of `windows`.
    pub fn new(windows: Vec<Window>) -> Self {
        Self {
            windows,
            booked: VecDeque::new(),
        }
    }

    /// Books the earliest slot at or after `now` that keeps every window's count within its
    /// `max`, and returns it.
    pub fn book(&mut self, now: Instant) -> Instant {
        let mut at = now;
        if let Some(last) = self.booked.back() {
            at = at.max(*last);
        }
        for w in &self.windows {
            let n = self.booked.len();
            if n >= w.max {
                at = at.max(self.booked[n - w.max] + w.window);
            }
        }
        self.booked.push_back(at);
        let keep = self.windows.iter().map(|w| w.max).max().unwrap_or(1);
        while self.booked.len() > keep {
            self.booked.pop_front();
        }
        at
    }
}

impl Gate {
    /// The last booked event really happened at `at` (later than booked: a sender that was
    /// busy): the windows count from then.
    pub fn went(&mut self, at: Instant) {
        if let Some(last) = self.booked.back_mut() {
            *last = (*last).max(at);
        }
    }
}

/// A gate shared by several tasks: a venue's connection attempts, and where the venue caps
/// them, its open connections.
#[derive(Debug)]
pub struct SharedGate(std::sync::Mutex<Gate>, Option<Arc<tokio::sync::Semaphore>>);

impl SharedGate {
    /// A shared gate for `rate`, with no cap on open connections.
    pub fn new(rate: Rate) -> Self {
        Self::capped(rate, None)
    }

    /// A shared gate for `rate` that holds at most `open` connections open at once.
    pub fn capped(rate: Rate, open: Option<usize>) -> Self {
        Self(
            std::sync::Mutex::new(Gate::new(vec![rate.into()])),
            open.map(|n| Arc::new(tokio::sync::Semaphore::new(n))),
        )
    }

    /// Whether every open-connection slot is taken (never, without a cap).
    pub fn at_cap(&self) -> bool {
        self.1.as_ref().is_some_and(|s| s.available_permits() == 0)
    }

    /// A slot for one open connection, held as long as its socket: waits while the venue's
    /// cap is reached; `None` without a cap.
    pub async fn slot(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let open = Arc::clone(self.1.as_ref()?);
        open.acquire_owned().await.ok()
    }

    /// Waits for this caller's booked slot.
    pub async fn wait(&self) {
        let at = {
            let mut gate = self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            gate.book(Instant::now())
        };
        tokio::time::sleep_until(at).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn open_connections_wait_for_a_slot_under_the_cap() {
        let rate = Rate {
            max: 100,
            per_secs: 1,
        };
        assert!(
            SharedGate::new(rate).slot().await.is_none(),
            "no cap, no slot"
        );
        assert!(!SharedGate::new(rate).at_cap());
        let gate = SharedGate::capped(rate, Some(1));
        let first = gate.slot().await.unwrap();
        assert!(gate.at_cap());
        let waiting = tokio::time::timeout(Duration::from_millis(50), gate.slot()).await;
        assert!(waiting.is_err(), "a second connection waits at the cap");
        drop(first);
        assert!(!gate.at_cap());
        assert!(gate.slot().await.is_some());
    }

    #[test]
    fn books_under_every_window() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        // Upbit: 5 a second (200 ms apart) and 100 a minute.
        let mut g = Gate::new(vec![
            Window::gap(ms(200)),
            Window {
                max: 100,
                window: Duration::from_secs(60),
            },
        ]);
        let slots: Vec<Duration> = (0..101).map(|_| g.book(t0) - t0).collect();
        assert_eq!(slots[0], ms(0));
        assert_eq!(slots[1], ms(200));
        assert_eq!(slots[99], ms(19_800));
        // The 101st waits for the first to leave the minute.
        assert_eq!(slots[100], Duration::from_secs(60));
        // Later requests after a quiet spell go at once.
        let later = t0 + Duration::from_secs(200);
        assert_eq!(g.book(later), later);
    }

    #[test]
    fn a_late_send_pushes_the_next_slot() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut g = Gate::new(vec![Window::gap(ms(200))]);
        assert_eq!(g.book(t0), t0);
        // It went out 190 ms late: the next may not follow 10 ms after it.
        g.went(t0 + ms(190));
        assert_eq!(g.book(t0 + ms(195)), t0 + ms(390));
    }

    #[test]
    fn a_burst_window() {
        let t0 = Instant::now();
        // Binance connection attempts: 300 in 5 minutes, in bursts.
        let mut g = Gate::new(vec![
            Rate {
                max: 300,
                per_secs: 300,
            }
            .into(),
        ]);
        for _ in 0..300 {
            assert_eq!(g.book(t0), t0);
        }
        assert_eq!(g.book(t0), t0 + Duration::from_secs(300));
    }
}
