//! Instruments a venue refused on one connection, and when each is asked for again.
//!
//! The rule (documented in docs/commands.md, "What the venue says is acted on where it is
//! said"): an instrument the venue says it refused (by name, or
//! as part of a request it refused whole) leaves the connection's subscription at once (the
//! rest of a wholly refused request is asked for again without it) and is retried after
//! [`FIRST_RETRY`], doubling up to [`MAX_RETRY`], for as long as it is wanted. Where the venue
//! refuses without saying which instruments and serves the rest (Upbit's format), every
//! instrument of the request is shown as refused but stays asked for, and the retry asks for
//! the whole set again — a market the listing has but the socket does not serve yet comes in by itself; a
//! typo in a connector file stays refused, counted and shown. A retry that is not refused
//! again within [`CONFIRM`] (or is acknowledged, where the venue acknowledges) ends the
//! refusal. The state outlives sessions: a reconnect does not ask again before the retry is
//! due. Each refusal is logged once, when it starts; the current ones are in `/readyz`, in
//! `/metrics` and in [`RefusedNow`].

use crate::model::Instrument;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// The first retry of a refused instrument comes this long after the refusal, by default
/// (`[backoff] refusal_retry_secs`).
pub const FIRST_RETRY: Duration = Duration::from_secs(30);
/// Retries back off up to this.
pub const MAX_RETRY: Duration = Duration::from_secs(30 * 60);
/// A retry not refused within this (where the venue acknowledges nothing) was taken.
pub const CONFIRM: Duration = Duration::from_secs(5);

/// One refused instrument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The venue's words.
    pub text: String,
    /// When it was first refused, UTC epoch µs.
    pub since_us: i64,
    /// Refusals so far in this episode.
    pub times: u32,
    /// When it is asked for again; `None` while a retry is out.
    retry_at: Option<Instant>,
    /// When the retry went out.
    tried_at: Option<Instant>,
    /// Left out of the subscription until the retry (the venue said it refused this one);
    /// `false` where the venue did not say which of a request's instruments it refused: they
    /// stay asked for, and the retry asks for the whole set again.
    held: bool,
}

/// The refusals of one connection, shared with readiness and metrics.
#[derive(Debug, Default)]
pub struct RefusedNow(Mutex<BTreeMap<Instrument, (String, i64)>>);

impl RefusedNow {
    /// The instruments refused now, with the venue's words and since when (UTC epoch µs).
    pub fn list(&self) -> Vec<(Instrument, String, i64)> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(i, (t, s))| (i.clone(), t.clone(), *s))
            .collect()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn publish(&self, map: &BTreeMap<Instrument, Refusal>) {
        let mut now = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        now.clear();
        now.extend(
            map.iter()
                .map(|(i, r)| (i.clone(), (r.text.clone(), r.since_us))),
        );
    }
}

/// A connection's refusal state.
#[derive(Debug)]
pub struct Refusals {
    map: BTreeMap<Instrument, Refusal>,
    /// The first retry's wait (`[backoff] refusal_retry_secs`).
    first_retry: Duration,
}

impl Default for Refusals {
    /// Retries from [`FIRST_RETRY`].
    fn default() -> Self {
        Self::new(FIRST_RETRY)
    }
}

impl Refusals {
    /// None yet; the first retry of a refusal comes after `first_retry`, doubling up to
    /// [`MAX_RETRY`].
    pub fn new(first_retry: Duration) -> Self {
        Self {
            map: BTreeMap::new(),
            first_retry,
        }
    }

    /// Records a refusal of `instruments` with the venue's `text` (held out of the
    /// subscription or not, see [`Refusal::held`]); returns the ones newly refused (to log
    /// once).
    pub fn refuse(
        &mut self,
        instruments: &[Instrument],
        (text, hold): (&str, bool),
        now: Instant,
        now_us: i64,
        shown: &RefusedNow,
    ) -> Vec<Instrument> {
        let mut new = Vec::new();
        for i in instruments {
            let r = self.map.entry(i.clone()).or_insert_with(|| {
                new.push(i.clone());
                Refusal {
                    text: text.to_owned(),
                    since_us: now_us,
                    times: 0,
                    retry_at: None,
                    tried_at: None,
                    held: hold,
                }
            });
            r.held = hold;
            r.times = r.times.saturating_add(1);
            r.text = text.to_owned();
            let wait = self
                .first_retry
                .saturating_mul(1 << r.times.saturating_sub(1).min(10))
                .min(MAX_RETRY);
            r.retry_at = Some(now + wait);
            r.tried_at = None;
        }
        shown.publish(&self.map);
        new
    }

    /// Whether `instrument` is held back now (refused, its retry not due or not out yet).
    pub fn held(&self, instrument: &Instrument) -> bool {
        self.map
            .get(instrument)
            .is_some_and(|r| r.held && r.retry_at.is_some())
    }

    /// The next moment something is due: a retry to send or a retry to confirm.
    pub fn next_due(&self) -> Option<Instant> {
        self.map
            .values()
            .filter_map(|r| r.retry_at.or(r.tried_at.map(|t| t + CONFIRM)))
            .min()
    }

    /// At `now`: retries due are released (they are asked for again: `.0` is true when any
    /// was), and retries out for [`CONFIRM`] without a new refusal end their refusal (`.1`:
    /// those instruments, subscribed now).
    pub fn due(&mut self, now: Instant, shown: &RefusedNow) -> (bool, Vec<Instrument>) {
        let mut released = false;
        let mut ended = Vec::new();
        self.map.retain(|i, r| match (r.retry_at, r.tried_at) {
            (Some(at), _) if at <= now => {
                r.retry_at = None;
                r.tried_at = Some(now);
                released = true;
                true
            }
            (None, Some(tried)) if tried + CONFIRM <= now => {
                ended.push(i.clone());
                false
            }
            _ => true,
        });
        if released || !ended.is_empty() {
            shown.publish(&self.map);
        }
        (released, ended)
    }

    /// The venue accepted a request that asked for `instruments`: their retries out now end
    /// (returned: subscribed now).
    pub fn accepted(&mut self, instruments: &[Instrument], shown: &RefusedNow) -> Vec<Instrument> {
        let mut ended = Vec::new();
        self.map.retain(|i, r| {
            let ends = r.retry_at.is_none() && instruments.contains(i);
            if ends {
                ended.push(i.clone());
            }
            !ends
        });
        if !ended.is_empty() {
            shown.publish(&self.map);
        }
        ended
    }

    /// Forgets instruments no longer wanted (delisted, moved to another connection).
    pub fn keep_only(&mut self, wanted: &[Instrument], shown: &RefusedNow) {
        let before = self.map.len();
        self.map.retain(|i, _| wanted.contains(i));
        if self.map.len() != before {
            shown.publish(&self.map);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i(s: &str) -> Instrument {
        Instrument::parse(s).unwrap()
    }

    #[test]
    fn a_refusal_backs_off_and_a_quiet_retry_ends_it() {
        let shown = RefusedNow::default();
        let mut r = Refusals::default();
        let t0 = Instant::now();
        assert_eq!(
            r.refuse(&[i("ETH-BTC")], ("2: x", true), t0, 1, &shown),
            [i("ETH-BTC")]
        );
        assert!(r.held(&i("ETH-BTC")));
        assert_eq!(shown.len(), 1);
        assert_eq!(r.next_due(), Some(t0 + FIRST_RETRY));
        assert!(!r.due(t0 + FIRST_RETRY / 2, &shown).0);
        assert!(r.due(t0 + FIRST_RETRY, &shown).0, "released for a retry");
        assert!(!r.held(&i("ETH-BTC")));
        // Refused again: not new, twice the wait.
        let t1 = t0 + FIRST_RETRY;
        assert!(
            r.refuse(&[i("ETH-BTC")], ("2: x", true), t1, 2, &shown)
                .is_empty()
        );
        assert_eq!(r.next_due(), Some(t1 + FIRST_RETRY * 2));
        let t2 = t1 + FIRST_RETRY * 2;
        assert!(r.due(t2, &shown).0);
        assert_eq!(shown.len(), 1, "still refused while the retry is out");
        assert_eq!(r.due(t2 + CONFIRM, &shown), (false, vec![i("ETH-BTC")]));
        assert!(shown.is_empty(), "a retry nobody refused ended the refusal");
        assert_eq!(r.next_due(), None);
    }

    #[test]
    fn backoff_is_capped_and_unwanted_ones_are_forgotten() {
        let shown = RefusedNow::default();
        let mut r = Refusals::default();
        let t = Instant::now();
        for _ in 0..20 {
            r.refuse(&[i("A-KRW")], ("x", true), t, 0, &shown);
        }
        assert_eq!(r.next_due(), Some(t + MAX_RETRY));
        r.keep_only(&[i("B-KRW")], &shown);
        assert!(shown.is_empty());
        r.refuse(&[i("B-KRW")], ("x", false), t, 0, &shown);
        assert!(!r.held(&i("B-KRW")), "not said which: still asked for");
        r.due(t + FIRST_RETRY, &shown);
        assert!(r.accepted(&[i("A-KRW")], &shown).is_empty());
        assert_eq!(shown.len(), 1, "only the instruments the request asked for");
        assert_eq!(r.accepted(&[i("B-KRW")], &shown), [i("B-KRW")]);
        assert!(shown.is_empty(), "acknowledged retries end");
    }
}
