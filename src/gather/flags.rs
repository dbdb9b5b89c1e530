//! The quality flags the pipeline decides (schema v4): `first_after_connect` and
//! `sequence_gap`. (`snapshot` is what the venue says of a frame: the adapters set it.)
//! Adapters are pure, so what these flags need to remember lives here, one [`Tracker`] per
//! connector: per instrument and kind of tick, the WebSocket session that last carried it, the
//! highest id seen where the connector's channel for that kind numbers its events
//! consecutively ([`ChannelSpec::consecutive_ids`]), and when. One hash lookup per tick.
//!
//! A tick of session `s` with id `n`, against what was seen of its instrument and kind
//! (session `S`, id `N`):
//! - nothing seen: `first_after_connect`; no gap (nothing to compare with).
//! - `s > S`, a newer session (the first connect's successor, a reconnect, a renewal, the
//!   instrument subscribed anew on another connection): `first_after_connect`, and
//!   `sequence_gap` too when `n > N + 1`: a reconnect's jump is a real gap (what happened while
//!   no session carried it is missing). `n` becomes the new baseline even when lower: a venue
//!   numbering anew proves nothing missing.
//! - `s == S`: `sequence_gap` when `n > N + 1`. A repeated or lower id is not a gap (nothing is
//!   missing before it) and keeps the baseline, so it cannot make the next tick look like one.
//! - `s < S`, an older session still open beside a newer one (a make-before-break renewal):
//!   its ticks are published unflagged and change nothing. Unless the newer session has carried
//!   nothing of the pair for [`HANDOVER_US`] (the instrument moved back to an older
//!   connection): then the older one is taken as the newer case above.
//!
//! A tick that is not published after all (its encoding failed; it goes to the DLQ) is undone
//! ([`Tracker::undo`]), and a frame the adapter rejected never reaches the tracker, so a gap
//! always describes the ticks topic: its ids between the two ticks are not on it.

use crate::exchange::profile::ChannelSpec;
use crate::model::{EventKind, Instrument, Tick};
use std::collections::HashMap;

/// Instruments one connector's tracker remembers at most. A connector's adapter accepts only
/// its configured or followed instruments, so this is reached only by years of listings; then
/// instruments silent for [`FORGET_AFTER_US`] are forgotten (their next tick is flagged
/// `first_after_connect`), and if that is not enough, all of them.
pub const MAX_INSTRUMENTS: usize = 16_384;

/// An instrument without a tick for this long may be forgotten when the table is full.
pub const FORGET_AFTER_US: i64 = 10 * 60 * 1_000_000;

/// How long a newer session must have carried nothing of an instrument and kind before an
/// older session's ticks of it count. A make-before-break overlap lasts seconds.
pub const HANDOVER_US: i64 = 30 * 1_000_000;

const KINDS: usize = EventKind::ALL.len();

/// What was last seen of one instrument and kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    /// The session that carries it.
    session: u64,
    /// The highest id seen on that session (only where ids are consecutive).
    sequence: Option<i64>,
    /// When its last tick was received, UTC epoch µs.
    at_us: i64,
}

/// What [`Tracker::observe`] replaced: [`Tracker::undo`] puts it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Before(Option<Seen>);

/// One connector's memory for the flags.
#[derive(Debug, Default)]
pub struct Tracker {
    /// Per kind: the connector's channel of that kind numbers its events consecutively (a
    /// connector has at most one channel per kind).
    consecutive: [bool; KINDS],
    seen: HashMap<Instrument, [Option<Seen>; KINDS]>,
    /// Per kind: the connector's channel of that kind drops ids not above the last
    /// ([`ChannelSpec::drop_not_newer`]).
    ordered: [bool; KINDS],
    /// The highest id seen per instrument and kind, across sessions (ordered kinds only).
    newest: HashMap<Instrument, [Option<i64>; KINDS]>,
}

impl Tracker {
    /// A tracker for a connector subscribing `channels`.
    pub fn new(channels: &[&ChannelSpec]) -> Self {
        let mut consecutive = [false; KINDS];
        let mut ordered = [false; KINDS];
        for c in channels {
            consecutive[c.kind as usize] |= c.consecutive_ids;
            ordered[c.kind as usize] |= c.drop_not_newer;
        }
        Self {
            consecutive,
            seen: HashMap::new(),
            ordered,
            newest: HashMap::new(),
        }
    }

    /// Whether `tick` restates an older state than one already seen: its channel's ids only
    /// increase and each frame is a whole state, and its id is not above the highest seen
    /// (any session). Otherwise its id becomes the highest. A tick without an id is new.
    #[inline]
    pub fn not_newer(&mut self, tick: &Tick) -> bool {
        let kind = tick.kind as usize;
        let (true, Some(id)) = (self.ordered[kind], tick.sequence) else {
            return false;
        };
        let slots = match self.newest.get_mut(&tick.instrument) {
            Some(slots) => slots,
            None => {
                if self.newest.len() >= MAX_INSTRUMENTS {
                    // Bounded like `seen`: instruments still remembered there stay (forgetting
                    // one lets at most one restated book through; the cache's compare-and-set
                    // keeps the newer price anyway).
                    let seen = &self.seen;
                    self.newest.retain(|i, _| seen.contains_key(i));
                    if self.newest.len() >= MAX_INSTRUMENTS {
                        self.newest.clear();
                    }
                }
                self.newest.entry(tick.instrument.clone()).or_default()
            }
        };
        match slots[kind] {
            Some(newest) if id <= newest => true,
            _ => {
                slots[kind] = Some(id);
                false
            }
        }
    }

    /// Instruments remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Sets `tick`'s `first_after_connect` and `sequence_gap` for a tick received on
    /// `session`, and remembers it.
    #[inline]
    pub fn observe(&mut self, session: u64, tick: &mut Tick) -> Before {
        let kind = tick.kind as usize;
        let consecutive = self.consecutive[kind];
        let slots = match self.seen.get_mut(&tick.instrument) {
            Some(slots) => slots,
            None => self.insert(tick),
        };
        let slot = &mut slots[kind];
        let before = *slot;
        let sequence = if consecutive { tick.sequence } else { None };
        let now = Seen {
            session,
            sequence,
            at_us: tick.received_ts_us,
        };
        match before {
            None => {
                tick.first_after_connect = true;
                *slot = Some(now);
            }
            Some(seen) if session == seen.session => {
                tick.sequence_gap = jumped(seen.sequence, sequence);
                *slot = Some(Seen {
                    sequence: seen.sequence.max(sequence),
                    ..now
                });
            }
            Some(seen)
                if session > seen.session
                    || tick.received_ts_us.saturating_sub(seen.at_us) > HANDOVER_US =>
            {
                tick.first_after_connect = true;
                tick.sequence_gap = jumped(seen.sequence, sequence);
                *slot = Some(Seen {
                    sequence: sequence.or(seen.sequence),
                    ..now
                });
            }
            // An older session overlapping a newer one: unflagged, nothing changes.
            Some(_) => {}
        }
        Before(before)
    }

    /// Forgets `tick`'s observation: it was not published.
    pub fn undo(&mut self, tick: &Tick, before: Before) {
        if let Some(slots) = self.seen.get_mut(&tick.instrument) {
            slots[tick.kind as usize] = before.0;
        }
    }

    #[cold]
    fn insert(&mut self, tick: &Tick) -> &mut [Option<Seen>; KINDS] {
        if self.seen.len() >= MAX_INSTRUMENTS {
            let now = tick.received_ts_us;
            self.seen.retain(|_, slots| {
                slots
                    .iter()
                    .flatten()
                    .any(|s| now.saturating_sub(s.at_us) < FORGET_AFTER_US)
            });
            if self.seen.len() >= MAX_INSTRUMENTS {
                self.seen.clear();
            }
        }
        self.seen.entry(tick.instrument.clone()).or_default()
    }
}

/// Whether `next` skips ids after `last`.
#[inline]
fn jumped(last: Option<i64>, next: Option<i64>) -> bool {
    match (last, next) {
        (Some(last), Some(next)) => last.checked_add(1).is_some_and(|want| next > want),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Exchange;

    const TRADE: ChannelSpec = ChannelSpec {
        name: "trade",
        kind: EventKind::Trade,
        consecutive_ids: true,
        drop_not_newer: false,
    };
    const BOOK: ChannelSpec = ChannelSpec {
        name: "bookTicker",
        kind: EventKind::BestBidOffer,
        consecutive_ids: false,
        drop_not_newer: false,
    };

    fn tick(instrument: &str, kind: EventKind, sequence: i64, at_s: i64) -> Tick {
        let mut t = Tick::new(
            Exchange::Binance,
            Instrument::parse(instrument).unwrap(),
            "X",
            kind,
            1.into(),
            at_s * 1_000_000,
        );
        t.sequence = Some(sequence);
        t
    }

    /// (first_after_connect, sequence_gap) of each (session, id) of BTC-USDT trades, at one
    /// second apart.
    fn flags(tracker: &mut Tracker, ticks: &[(u64, i64)]) -> Vec<(bool, bool)> {
        ticks
            .iter()
            .enumerate()
            .map(|(at, &(session, id))| {
                let mut t = tick("BTC-USDT", EventKind::Trade, id, at as i64);
                let _ = tracker.observe(session, &mut t);
                (t.first_after_connect, t.sequence_gap)
            })
            .collect()
    }

    #[test]
    fn ids_not_above_the_newest_are_not_newer_on_ordered_channels_only() {
        let book = ChannelSpec {
            name: "book",
            kind: EventKind::BestBidOffer,
            consecutive_ids: false,
            drop_not_newer: true,
        };
        let trades = ChannelSpec {
            name: "trades",
            kind: EventKind::Trade,
            consecutive_ids: false,
            drop_not_newer: false,
        };
        let mut t = Tracker::new(&[&book, &trades]);
        let seen: Vec<bool> = [5, 7, 7, 6, 9]
            .into_iter()
            .map(|id| t.not_newer(&tick("BTC-KRW", EventKind::BestBidOffer, id, 1)))
            .collect();
        assert_eq!(seen, [false, false, true, true, false]);
        // Another instrument has its own newest; another kind is never dropped.
        assert!(!t.not_newer(&tick("ETH-KRW", EventKind::BestBidOffer, 1, 1)));
        assert!(!t.not_newer(&tick("BTC-KRW", EventKind::Trade, 1, 1)));
        assert!(!t.not_newer(&tick("BTC-KRW", EventKind::Trade, 1, 1)));
        // No id: nothing to compare.
        let mut none = tick("BTC-KRW", EventKind::BestBidOffer, 1, 1);
        none.sequence = None;
        assert!(!t.not_newer(&none));
    }

    #[test]
    fn one_gap_flag_per_jump_and_none_for_consecutive_ids() {
        let mut t = Tracker::new(&[&TRADE]);
        let got = flags(
            &mut t,
            &[(1, 10), (1, 11), (1, 13), (1, 14), (1, 20), (1, 21)],
        );
        let first: Vec<bool> = got.iter().map(|g| g.0).collect();
        let gaps: Vec<bool> = got.iter().map(|g| g.1).collect();
        assert_eq!(first, [true, false, false, false, false, false]);
        assert_eq!(gaps, [false, false, true, false, true, false]);
    }

    #[test]
    fn repeated_and_lower_ids_are_not_gaps_and_keep_the_baseline() {
        let mut t = Tracker::new(&[&TRADE]);
        let got = flags(
            &mut t,
            &[(1, 10), (1, 11), (1, 11), (1, 9), (1, 12), (1, 14)],
        );
        let gaps: Vec<bool> = got.iter().map(|g| g.1).collect();
        assert_eq!(gaps, [false, false, false, false, false, true]);
    }

    #[test]
    fn a_reconnect_flags_its_first_tick_and_a_jump_across_it_too() {
        let mut t = Tracker::new(&[&TRADE]);
        let got = flags(
            &mut t,
            &[(1, 10), (1, 11), (2, 12), (2, 13), (3, 20), (3, 21)],
        );
        assert_eq!(
            got,
            [
                (true, false),
                (false, false),
                (true, false), // a new session continuing without a jump
                (false, false),
                (true, true), // ids missed while reconnecting: both flags
                (false, false),
            ]
        );
        // A venue numbering anew on the new session: first, no gap, and the new baseline.
        let got = flags(&mut t, &[(4, 5), (4, 6), (4, 8)]);
        assert_eq!(got, [(true, false), (false, false), (false, true)]);
    }

    #[test]
    fn an_older_overlapping_session_is_neither_flagged_nor_counted() {
        let mut t = Tracker::new(&[&TRADE]);
        // Session 1 carries; session 2 (a renewal) starts at 12; session 1 still delivers 12
        // and 13 (ignored), then session 2 goes on from 13.
        let got = flags(
            &mut t,
            &[(1, 10), (1, 11), (2, 12), (1, 12), (1, 13), (2, 13)],
        );
        assert_eq!(
            got,
            [
                (true, false),
                (false, false),
                (true, false),
                (false, false),
                (false, false),
                (false, false),
            ]
        );
        // The older session's 30 on its own would have been a gap; ignored, it is none, and
        // it did not move the baseline.
        let got = flags(&mut t, &[(1, 30), (2, 14)]);
        assert_eq!(got, [(false, false), (false, false)]);
    }

    #[test]
    fn an_older_session_carries_again_once_the_newer_one_went_quiet() {
        let mut t = Tracker::new(&[&TRADE]);
        let mut a = tick("BTC-USDT", EventKind::Trade, 10, 0);
        let _ = t.observe(5, &mut a);
        // Session 3 (older) within the handover window: ignored.
        let mut b = tick("BTC-USDT", EventKind::Trade, 11, 10);
        let _ = t.observe(3, &mut b);
        assert!(!b.first_after_connect && !b.sequence_gap);
        // After it: session 3 carries the instrument now.
        let mut c = tick("BTC-USDT", EventKind::Trade, 12, 31);
        let _ = t.observe(3, &mut c);
        assert!(c.first_after_connect && c.sequence_gap, "{c:?}");
        let mut d = tick("BTC-USDT", EventKind::Trade, 13, 32);
        let _ = t.observe(3, &mut d);
        assert!(!d.first_after_connect && !d.sequence_gap);
    }

    #[test]
    fn kinds_and_instruments_are_tracked_apart_and_only_consecutive_channels_gap() {
        let mut t = Tracker::new(&[&TRADE, &BOOK]);
        let mut seen = Vec::new();
        for (instrument, kind, id) in [
            ("BTC-USDT", EventKind::Trade, 10),
            ("BTC-USDT", EventKind::BestBidOffer, 500),
            ("ETH-USDT", EventKind::Trade, 70),
            ("BTC-USDT", EventKind::Trade, 11),
            ("BTC-USDT", EventKind::BestBidOffer, 900), // book ids only increase
            ("ETH-USDT", EventKind::Trade, 72),
        ] {
            let mut x = tick(instrument, kind, id, 0);
            let _ = t.observe(1, &mut x);
            seen.push((x.first_after_connect, x.sequence_gap));
        }
        assert_eq!(
            seen,
            [
                (true, false),
                (true, false),
                (true, false),
                (false, false),
                (false, false),
                (false, true),
            ]
        );
        assert_eq!(t.len(), 2);
        // No consecutive channel at all (a connector on Binance's ticker): never a gap.
        let mut none = Tracker::new(&[&BOOK]);
        let got: Vec<bool> = [1, 5, 9]
            .iter()
            .map(|&id| {
                let mut x = tick("BTC-USDT", EventKind::Trade, id, 0);
                let _ = none.observe(1, &mut x);
                x.sequence_gap
            })
            .collect();
        assert_eq!(got, [false, false, false]);
    }

    #[test]
    fn an_unpublished_tick_is_undone() {
        let mut t = Tracker::new(&[&TRADE]);
        let mut a = tick("BTC-USDT", EventKind::Trade, 10, 0);
        let before = t.observe(1, &mut a);
        t.undo(&a, before);
        // The first published tick is still the first.
        let mut b = tick("BTC-USDT", EventKind::Trade, 11, 0);
        let _ = t.observe(1, &mut b);
        assert!(b.first_after_connect);
        // 12 dead-lettered: 13 follows a gap on the topic.
        let mut c = tick("BTC-USDT", EventKind::Trade, 12, 0);
        let before = t.observe(1, &mut c);
        t.undo(&c, before);
        let mut d = tick("BTC-USDT", EventKind::Trade, 13, 0);
        let _ = t.observe(1, &mut d);
        assert!(d.sequence_gap && !d.first_after_connect);
    }

    #[test]
    fn the_table_is_bounded() {
        let mut t = Tracker::new(&[&TRADE]);
        let name = |n: usize| format!("A{n}-USDT");
        for n in 0..MAX_INSTRUMENTS {
            let mut x = tick(&name(n), EventKind::Trade, 1, 0);
            let _ = t.observe(1, &mut x);
        }
        assert_eq!(t.len(), MAX_INSTRUMENTS);
        // Full, the newest of them recent: one kept...
        let mut fresh = tick(&name(0), EventKind::Trade, 2, 700);
        let _ = t.observe(1, &mut fresh);
        // ...and the next new one forgets those silent for ten minutes.
        let mut x = tick("NEW-USDT", EventKind::Trade, 1, 701);
        let _ = t.observe(1, &mut x);
        assert_eq!(t.len(), 2);
        let mut again = tick(&name(0), EventKind::Trade, 3, 702);
        let _ = t.observe(1, &mut again);
        assert!(!again.first_after_connect && !again.sequence_gap);
    }
}
