//! A batch being gathered: the newest tick of each key and kind (exchange, instrument, event
//! kind: a trade, a best bid/offer and a ticker of one key write different parts of its hash,
//! so none may hide another) with the Kafka message it came from, the dead letters of the messages it covers, and the highest offset of
//! each partition it covers. Coalescing happens on insert, so a batch holds one tick per key
//! however many messages it covers. Its offsets are stored only once Redis acknowledged its
//! ticks and the DLQ its dead letters.

use super::contract::{Part, part_order};
use crate::model::{EventKind, Exchange, Instrument, Tick};
use foldhash::fast::RandomState;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::time::Instant;

/// Where a kept tick came from: its message's place, and its key and value as a slot of the
/// batch's byte arena (what a dead letter needs if Redis refuses the tick).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    partition: i32,
    offset: i64,
    /// Start of the slot in [`Batch::bytes`].
    at: usize,
    /// Bytes the slot can hold (a newer message of the key is written over it when it fits).
    cap: usize,
    key_len: usize,
    payload_len: usize,
}

/// Room a slot leaves for a newer message of the same key that is a little longer.
const SLOT_SLACK: usize = 32;

/// A consumed message, borrowed: what [`Batch::add`] copies when it keeps the tick.
#[derive(Debug, Clone, Copy)]
pub struct SourceRef<'a> {
    /// Partition of the ticks topic.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// The message's key.
    pub key: &'a [u8],
    /// The message's value.
    pub payload: &'a [u8],
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
    /// Hashed with foldhash, not SipHash: one lookup per message on the polling thread. The
    /// keys are instruments gather validated, from tickflow's own topic; foldhash is still
    /// seeded per process.
    newest: HashMap<(Exchange, Instrument, EventKind), (Tick, Span), RandomState>,
    /// The kept messages' keys and values, one slot per key: no allocation per message, and
    /// bounded by the keys held (a slot is reused by the key's newer messages).
    bytes: Vec<u8>,
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

    /// Keeps `tick` (from the message `from` describes) if it is the newest of its key so
    /// far, with a copy of that message.
    pub fn add(&mut self, tick: Tick, from: SourceRef<'_>) {
        let part = Part::ordering(tick.kind);
        match self
            .newest
            .entry((tick.exchange, tick.instrument.clone(), tick.kind))
        {
            Entry::Occupied(mut kept) => {
                self.coalesced += 1;
                let (held, span) = kept.get_mut();
                if part_order(&tick, part) > part_order(held, part) {
                    *held = tick;
                    *span = store(&mut self.bytes, Some(*span), from);
                }
            }
            Entry::Vacant(slot) => {
                slot.insert((tick, store(&mut self.bytes, None, from)));
            }
        }
    }

    /// Distinct (key, kind) pairs held.
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
    pub fn entries(&self) -> Vec<(&Tick, SourceRef<'_>)> {
        self.newest
            .values()
            .map(|(t, s)| {
                let key_end = s.at + s.key_len;
                let from = SourceRef {
                    partition: s.partition,
                    offset: s.offset,
                    key: &self.bytes[s.at..key_end],
                    payload: &self.bytes[key_end..key_end + s.payload_len],
                };
                (t, from)
            })
            .collect()
    }

    /// This batch, leaving an empty one in its place (the writer takes the batch; the next
    /// one gathers here).
    ///
    /// The empty one is sized for as many keys and bytes: the next batch will likely hold
    /// about as many, and growing a map of 10,000 ticks from empty rehashes it a dozen times.
    pub fn take(&mut self) -> Batch {
        let next = Batch {
            newest: HashMap::with_capacity_and_hasher(self.newest.len(), RandomState::default()),
            bytes: Vec::with_capacity(self.bytes.len()),
            ..Batch::default()
        };
        std::mem::replace(self, next)
    }

    /// (topic, partition, highest offset covered).
    pub fn offsets(&self) -> &[(String, i32, i64)] {
        &self.offsets
    }
}

/// Copies `from`'s key and value into `bytes`: over the old slot when they fit, else into a
/// new slot at the end.
fn store(bytes: &mut Vec<u8>, old: Option<Span>, from: SourceRef<'_>) -> Span {
    let len = from.key.len() + from.payload.len();
    let (at, cap) = match old {
        Some(s) if len <= s.cap => (s.at, s.cap),
        _ => {
            let at = bytes.len();
            let cap = len + SLOT_SLACK;
            bytes.resize(at + cap, 0);
            (at, cap)
        }
    };
    bytes[at..at + from.key.len()].copy_from_slice(from.key);
    bytes[at + from.key.len()..at + len].copy_from_slice(from.payload);
    Span {
        partition: from.partition,
        offset: from.offset,
        at,
        cap,
        key_len: from.key.len(),
        payload_len: from.payload.len(),
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

    fn source(offset: i64) -> SourceRef<'static> {
        SourceRef {
            partition: 0,
            offset,
            key: b"",
            payload: b"p",
        }
    }

    #[test]
    fn keeps_the_newest_per_key_whatever_the_arrival_order() {
        let mut b = Batch::default();
        for (i, event) in [5, 9, 1, 7].into_iter().enumerate() {
            b.cover("ticks.v1", 0, i as i64);
            b.add(tick("BTC-KRW", event as u32, event), source(i as i64));
        }
        b.cover("ticks.v1", 1, 3);
        b.add(tick("ETH-KRW", 1, 1), source(3));
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
        // Slots: one per key, a newer message written over its key's slot when it fits.
        let mut slots = Batch::default();
        let msg = |offset: i64, payload: &'static [u8]| SourceRef {
            partition: 0,
            offset,
            key: b"K",
            payload,
        };
        slots.add(tick("BTC-KRW", 1, 1), msg(0, b"first"));
        let size = slots.bytes.len();
        slots.add(tick("BTC-KRW", 2, 2), msg(1, b"second, longer"));
        slots.add(tick("BTC-KRW", 3, 3), msg(2, b"third"));
        assert_eq!(slots.bytes.len(), size, "the slot was reused");
        let (_, s) = slots.entries()[0];
        assert_eq!((s.offset, s.key, s.payload), (2, &b"K"[..], &b"third"[..]));
        slots.add(tick("BTC-KRW", 4, 4), msg(3, &[b'x'; 100]));
        assert!(slots.bytes.len() > size, "too long for the slot: a new one");
        assert_eq!(slots.entries()[0].1.payload, &[b'x'; 100][..]);
        assert_eq!(
            b.offsets(),
            [("ticks.v1".to_owned(), 0, 3), ("ticks.v1".to_owned(), 1, 3)]
        );
    }

    #[test]
    fn a_trade_and_a_book_of_one_key_are_both_kept() {
        let mut b = Batch::default();
        let mut trade = tick("BTC-KRW", 5, 5);
        trade.kind = EventKind::Trade;
        let mut book = tick("BTC-KRW", 6, 6);
        book.kind = EventKind::BestBidOffer;
        b.add(trade, source(0));
        b.add(book, source(1));
        b.add(tick("BTC-KRW", 7, 7), source(2));
        assert_eq!((b.keys(), b.coalesced), (3, 0));
    }
}
