//! A batch being gathered: the newest tick of each key (exchange, instrument) with the Kafka
//! message it came from, the dead letters of the messages it covers, and the highest offset of
//! each partition it covers. Coalescing happens on insert, so a batch holds one tick per key
//! however many messages it covers. Its offsets are stored only once Redis acknowledged its
//! ticks and the DLQ its dead letters.

use super::contract::order;
use crate::model::{Exchange, Instrument, Tick};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::time::Instant;

/// Where a tick came from: what a dead letter needs if Redis refuses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Partition of the ticks topic.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// The message's key.
    pub key: Vec<u8>,
    /// The message's value, as consumed.
    pub payload: Vec<u8>,
}

/// A dead letter waiting for its batch: sent, and acknowledged, before the batch's offsets
/// are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    /// Kafka key.
    pub key: Vec<u8>,
    /// The message as consumed.
    pub payload: Vec<u8>,
    /// DLQ headers (stage, reason, error, source_*).
    pub headers: Vec<(&'static str, String)>,
}

/// The newest tick per key, with the offsets it covers.
#[derive(Debug, Default)]
pub struct Batch {
    newest: HashMap<(Exchange, Instrument), (Tick, Source)>,
    /// Dead letters of messages it covers.
    pub letters: Vec<Letter>,
    /// Highest offset per (topic, partition).
    offsets: Vec<(String, i32, i64)>,
    /// Messages covered (ticks and undecodable ones).
    pub messages: u64,
    /// Ticks superseded by a newer one of the same key.
    pub coalesced: u64,
    /// When the first message arrived.
    pub started: Option<Instant>,
}

impl Batch {
    /// Counts a message at `offset`; the batch then covers it.
    pub fn cover(&mut self, topic: &str, partition: i32, offset: i64) {
        self.messages += 1;
        self.started.get_or_insert_with(Instant::now);
        match self
            .offsets
            .iter_mut()
            .find(|(t, p, _)| *p == partition && t == topic)
        {
            Some((_, _, o)) => *o = (*o).max(offset),
            None => self.offsets.push((topic.to_owned(), partition, offset)),
        }
    }

    /// Keeps `tick` (from the message `source` gives) if it is the newest of its key so far.
    /// `source` is called only then: the message is copied once per key kept, not per tick.
    pub fn add(&mut self, tick: Tick, source: impl FnOnce() -> Source) {
        match self.newest.entry((tick.exchange, tick.instrument.clone())) {
            Entry::Occupied(mut kept) => {
                self.coalesced += 1;
                if order(&tick) > order(&kept.get().0) {
                    kept.insert((tick, source()));
                }
            }
            Entry::Vacant(slot) => {
                slot.insert((tick, source()));
            }
        }
    }

    /// Distinct keys held.
    pub fn keys(&self) -> usize {
        self.newest.len()
    }

    /// Nothing covered.
    pub fn is_empty(&self) -> bool {
        self.messages == 0
    }

    /// The ticks to write, one per key.
    pub fn ticks(&self) -> Vec<&Tick> {
        self.newest.values().map(|(t, _)| t).collect()
    }

    /// The same, with the message each came from (same order as [`Batch::ticks`]).
    pub fn entries(&self) -> Vec<(&Tick, &Source)> {
        self.newest.values().map(|(t, s)| (t, s)).collect()
    }

    /// (topic, partition, highest offset covered).
    pub fn offsets(&self) -> &[(String, i32, i64)] {
        &self.offsets
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EventKind;

    fn tick(instrument: &str, price: u32, event: i64) -> Tick {
        let (base, quote) = instrument.split_once('-').unwrap_or_default();
        let mut t = Tick::new(
            Exchange::Upbit,
            Instrument::new(base, quote).unwrap(),
            "X",
            EventKind::Ticker,
            price.into(),
            event,
        );
        t.event_ts_us = Some(event);
        t
    }

    fn source(offset: i64) -> Source {
        Source {
            partition: 0,
            offset,
            key: Vec::new(),
            payload: offset.to_string().into_bytes(),
        }
    }

    #[test]
    fn keeps_the_newest_per_key_whatever_the_arrival_order() {
        let mut b = Batch::default();
        for (i, event) in [5, 9, 1, 7].into_iter().enumerate() {
            b.cover("ticks.v1", 0, i as i64);
            b.add(tick("BTC-KRW", event as u32, event), || source(i as i64));
        }
        b.cover("ticks.v1", 1, 3);
        b.add(tick("ETH-KRW", 1, 1), || source(3));
        b.cover("ticks.v1", 0, 2);
        assert_eq!(b.keys(), 2);
        assert_eq!(b.messages, 6);
        assert_eq!(b.coalesced, 3);
        let btc = b
            .ticks()
            .into_iter()
            .find(|t| t.instrument.as_str() == "BTC-KRW")
            .map(|t| t.event_ts_us);
        assert_eq!(btc, Some(Some(9)));
        let from = b
            .entries()
            .into_iter()
            .find(|(t, _)| t.instrument.as_str() == "BTC-KRW")
            .map(|(_, s)| s.offset);
        assert_eq!(
            from,
            Some(1),
            "the source of the newest tick is kept with it"
        );
        assert_eq!(
            b.offsets(),
            [("ticks.v1".to_owned(), 0, 3), ("ticks.v1".to_owned(), 1, 3)]
        );
    }
}
