//! Retracting what an earlier run left live (issue 19): at a connector's first update of the
//! run, the publisher reads `instruments.v1` whole ([`TopicReader::read`]: every partition
//! from the beginning to the high watermark it has then, bounded) and produces a `DELISTED`
//! record for every instrument [`retractions`] finds the topic still says is live although
//! this connector no longer follows it (delisted while gather was down, or out of a changed
//! selection).
//!
//! The rule, for each key whose newest record (greatest `as_of_ts_us`, then the later offset)
//! is `LIVE`: retracted when it is of the update's venue, this process's shard owns it, the
//! connector's selector takes it by the status and notices the record states, it is not
//! followed now, and its record is older than this listing. So an instrument is retracted
//! only if this connector would have published that record and does not follow it now; a
//! second `[markets]` connector on the venue with another selection, or another shard, keeps
//! its own. Never guessed: a key with a record this build cannot decode, or a status it does
//! not know, is left as it is, and a read that fails or times out retracts nothing (counted,
//! logged).

use crate::codec::instrument::{InstrumentRecord, State};
use crate::markets::reference::{ReferenceUpdate, Retract};
use crate::model::listing::{Listed, Notice};
use crate::model::{Exchange, Instrument};
use crate::registry::instrument::InstrumentResolver;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

/// Bound on one whole read of the topic (it is small: one record per instrument and change).
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The topic's state as read: the newest record of each key, and the keys with a record this
/// build could not decode.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Newest record per instrument.
    pub newest: HashMap<(Exchange, Instrument), InstrumentRecord>,
    /// Message keys (`EXCHANGE:BASE-QUOTE`) with an undecodable record: never retracted.
    pub unreadable: HashSet<String>,
    /// Records read.
    pub records: u64,
}

impl Snapshot {
    /// Takes `record` when it is newer than what the key has (a later offset wins a tie).
    pub fn take(&mut self, record: InstrumentRecord) {
        let key = (record.exchange, record.instrument.clone());
        match self.newest.get(&key) {
            Some(held) if held.as_of_ts_us > record.as_of_ts_us => {}
            _ => {
                self.newest.insert(key, record);
            }
        }
    }
}

/// The `DELISTED` records retracting what `snapshot` says is live in `scope` and `update`
/// does not follow (the module's rule), as of `as_of_us` (this listing's fetch time), sorted
/// by key. A retracted instrument still listed is stated as the listing has it now (its
/// first-seen time as recorded); one gone from the listing, as last recorded.
pub fn retractions(
    snapshot: &Snapshot,
    update: &ReferenceUpdate,
    scope: &Retract,
    as_of_us: i64,
) -> Vec<InstrumentRecord> {
    let followed: HashSet<&Instrument> = update.live.iter().map(|l| &l.instrument).collect();
    let listed: HashMap<&Instrument, &Listed> =
        scope.listed.iter().map(|l| (&l.instrument, l)).collect();
    let mut out: Vec<InstrumentRecord> = snapshot
        .newest
        .values()
        .filter(|r| {
            r.state == State::Live
                && r.exchange == update.exchange
                && r.as_of_ts_us < as_of_us
                && !followed.contains(&r.instrument)
                && scope.shard.owns(r.exchange, &r.instrument)
                && r.status.is_some_and(|status| {
                    let warned = r.notices.contains(&Notice::Warning);
                    scope.selector.takes(&r.instrument, status, warned)
                })
                && !snapshot.unreadable.contains(&r.key())
        })
        .map(|r| match listed.get(&r.instrument) {
            Some(now) => {
                let mut d = InstrumentRecord::of(now, State::Delisted, as_of_us);
                d.first_seen_ts_us = r.first_seen_ts_us;
                d
            }
            None => InstrumentRecord {
                state: State::Delisted,
                as_of_ts_us: as_of_us,
                ..r.clone()
            },
        })
        .collect();
    out.sort_by(|a, b| a.instrument.cmp(&b.instrument));
    out
}

/// Reads the instruments topic whole, outside any consumer group (assigned partitions,
/// nothing committed), decoding with the cache's [`InstrumentResolver`].
pub struct TopicReader {
    topic: String,
    properties: BTreeMap<String, String>,
    resolver: InstrumentResolver,
    timeout: Duration,
}

impl std::fmt::Debug for TopicReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicReader")
            .field("topic", &self.topic)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl TopicReader {
    /// A reader of `topic` with the gatherer's Kafka `properties`, bounded by `timeout`.
    pub fn new(
        topic: String,
        properties: BTreeMap<String, String>,
        resolver: InstrumentResolver,
        timeout: Duration,
    ) -> Self {
        Self {
            topic,
            properties,
            resolver,
            timeout,
        }
    }

    fn consumer(&self) -> Result<BaseConsumer, String> {
        crate::kafka::contract::gather_reference_reader_config(&self.properties)
            .create()
            .map_err(|e| format!("consumer: {e}"))
    }

    /// Every partition from the beginning to the high watermark it has now; an error (saying
    /// what was left) when that takes longer than the bound or the broker cannot be asked.
    pub fn read(&mut self) -> Result<Snapshot, String> {
        let deadline = Instant::now() + self.timeout;
        let left = || deadline.saturating_duration_since(Instant::now());
        let consumer = self.consumer()?;
        let metadata = consumer
            .fetch_metadata(Some(&self.topic), left())
            .map_err(|e| format!("metadata of {}: {e}", self.topic))?;
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .filter(|t| t.name() == self.topic && t.error().is_none())
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        if partitions.is_empty() {
            return Err(format!("topic {} has no partitions", self.topic));
        }
        // The end of each partition now: records produced later are not waited for.
        let mut wanted: HashMap<i32, i64> = HashMap::new();
        for p in partitions {
            let (low, high) = consumer
                .fetch_watermarks(&self.topic, p, left())
                .map_err(|e| format!("watermarks of {} partition {p}: {e}", self.topic))?;
            if high > low {
                wanted.insert(p, high);
            }
        }
        let mut snapshot = Snapshot::default();
        if wanted.is_empty() {
            return Ok(snapshot);
        }
        let mut list = TopicPartitionList::new();
        for p in wanted.keys() {
            list.add_partition_offset(&self.topic, *p, Offset::Beginning)
                .map_err(|e| e.to_string())?;
        }
        consumer.assign(&list).map_err(|e| e.to_string())?;
        drop(list);
        let mut last_error = String::new();
        while !wanted.is_empty() {
            let wait = left();
            if wait.is_zero() {
                let mut unread: Vec<i32> = wanted.keys().copied().collect();
                unread.sort_unstable();
                return Err(format!(
                    "not read to its end within {} s ({} records read; partitions {unread:?} unfinished{})",
                    self.timeout.as_secs_f64(),
                    snapshot.records,
                    if last_error.is_empty() {
                        String::new()
                    } else {
                        format!("; last error: {last_error}")
                    }
                ));
            }
            match consumer.poll(wait.min(Duration::from_millis(100))) {
                Some(Ok(m)) => {
                    snapshot.records += 1;
                    match self.resolver.decode(m.payload().unwrap_or_default()) {
                        Ok(record) => snapshot.take(record),
                        Err(_) => {
                            if let Some(key) = m.key() {
                                snapshot
                                    .unreadable
                                    .insert(String::from_utf8_lossy(key).into_owned());
                            }
                        }
                    }
                    if wanted
                        .get(&m.partition())
                        .is_some_and(|high| m.offset() + 1 >= *high)
                    {
                        wanted.remove(&m.partition());
                    }
                }
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    wanted.remove(&p);
                }
                Some(Err(e)) => last_error = e.to_string(),
                None => {}
            }
        }
        Ok(snapshot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::markets::{Pattern, Selector, Shard};
    use crate::model::listing::ListingStatus;

    fn listed(i: &str, status: ListingStatus, at: i64) -> Listed {
        Listed {
            exchange: Exchange::Upbit,
            instrument: Instrument::parse(i).unwrap(),
            native_symbol: i.into(),
            status,
            tick_size: None,
            lot_size: None,
            notices: vec![],
            first_seen_us: 50,
            last_seen_us: at,
        }
    }

    fn snapshot(records: &[(&str, State, i64)]) -> Snapshot {
        let mut s = Snapshot::default();
        for (i, state, at) in records {
            s.take(InstrumentRecord::of(
                &listed(i, ListingStatus::Trading, *at),
                *state,
                *at,
            ));
        }
        s
    }

    fn first(live: &[&str], listed_now: Vec<Listed>, scope: (Selector, Shard)) -> ReferenceUpdate {
        ReferenceUpdate {
            connector: "upbit".into(),
            exchange: Exchange::Upbit,
            live: live
                .iter()
                .map(|i| listed(i, ListingStatus::Trading, 1000))
                .collect(),
            gone: vec![],
            first: true,
            retract: Some(Retract {
                selector: scope.0,
                shard: scope.1,
                listed: listed_now,
            }),
        }
    }

    fn keys(r: &[InstrumentRecord]) -> Vec<String> {
        r.iter().map(InstrumentRecord::key).collect()
    }

    #[test]
    fn only_this_connectors_live_instruments_it_no_longer_follows() {
        use ListingStatus::*;
        let s = snapshot(&[
            ("BTC-KRW", State::Live, 100),
            ("ETH-KRW", State::Live, 100),
            // Newest is DELISTED: nothing to do.
            ("XRP-KRW", State::Live, 100),
            ("XRP-KRW", State::Delisted, 200),
            // Of another quote (another connector's selection).
            ("BTC-USDT", State::Live, 100),
            // Newer than this listing: never overruled.
            ("SOL-KRW", State::Live, 5000),
            ("ADA-KRW", State::Live, 100),
        ]);
        let selector = Selector {
            quotes: vec!["KRW".into()],
            ..Selector::default()
        };
        // ETH still listed, now in `break`; ADA gone from the listing.
        let update = first(
            &["BTC-KRW"],
            vec![
                listed("BTC-KRW", Trading, 1000),
                listed("ETH-KRW", Break, 1000),
            ],
            (selector.clone(), Shard::default()),
        );
        let scope = update.retract.clone().unwrap();
        let out = retractions(&s, &update, &scope, 1000);
        assert_eq!(keys(&out), ["UPBIT:ADA-KRW", "UPBIT:ETH-KRW"]);
        assert!(
            out.iter()
                .all(|r| r.state == State::Delisted && r.as_of_ts_us == 1000)
        );
        assert_eq!(out[0].status, Some(Trading), "as last recorded");
        assert_eq!(out[0].last_seen_ts_us, 100);
        assert_eq!(out[1].status, Some(Break), "as listed now");
        assert_eq!(out[1].first_seen_ts_us, 50);
        // A selector that does not take them (another connector's): nothing.
        let other = Selector {
            include: vec![Pattern::parse("BTC-*").unwrap()],
            ..selector.clone()
        };
        let update = first(&["BTC-KRW"], vec![], (other, Shard::default()));
        let scope = update.retract.clone().unwrap();
        assert!(retractions(&s, &update, &scope, 1000).is_empty());
        // Another shard's instruments: not this process's to retract.
        let shard = (0..2)
            .map(|index| Shard { index, count: 2 })
            .find(|sh| !sh.owns(Exchange::Upbit, &Instrument::parse("ETH-KRW").unwrap()))
            .unwrap();
        let update = first(&["BTC-KRW"], vec![], (selector, shard));
        let scope = update.retract.clone().unwrap();
        assert!(!keys(&retractions(&s, &update, &scope, 1000)).contains(&"UPBIT:ETH-KRW".into()));
        // An undecodable record of a key: left alone.
        let mut s = s;
        s.unreadable.insert("UPBIT:ADA-KRW".into());
        let update = first(
            &["BTC-KRW"],
            vec![],
            (Selector::default(), Shard::default()),
        );
        let scope = update.retract.clone().unwrap();
        assert_eq!(
            keys(&retractions(&s, &update, &scope, 1000)),
            ["UPBIT:BTC-USDT", "UPBIT:ETH-KRW"]
        );
    }
}
