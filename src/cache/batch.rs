//! A batch being gathered: the newest tick of each key (exchange, instrument) and the highest
//! offset of each partition it covers. Coalescing happens on insert, so a batch holds one tick
//! per key however many messages it covers.

use super::contract::order;
use crate::model::{Exchange, Instrument, Tick};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::time::Instant;

/// The newest tick per key, with the offsets it covers.
#[derive(Debug, Default)]
pub struct Batch {
    newest: HashMap<(Exchange, Instrument), Tick>,
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

    /// Keeps `tick` if it is the newest of its key so far.
    pub fn add(&mut self, tick: Tick) {
        match self.newest.entry((tick.exchange, tick.instrument.clone())) {
            Entry::Occupied(mut kept) => {
                self.coalesced += 1;
                if order(&tick) > order(kept.get()) {
                    kept.insert(tick);
                }
            }
            Entry::Vacant(slot) => {
                slot.insert(tick);
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
        self.newest.values().collect()
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

    #[test]
    fn keeps_the_newest_per_key_whatever_the_arrival_order() {
        let mut b = Batch::default();
        for (i, event) in [5, 9, 1, 7].into_iter().enumerate() {
            b.cover("ticks.v1", 0, i as i64);
            b.add(tick("BTC-KRW", event as u32, event));
        }
        b.cover("ticks.v1", 1, 3);
        b.add(tick("ETH-KRW", 1, 1));
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
        assert_eq!(
            b.offsets(),
            [("ticks.v1".to_owned(), 0, 3), ("ticks.v1".to_owned(), 1, 3)]
        );
    }
}
