//! The instrument reference publisher: every accepted listing of a connector that follows whole
//! markets ([`ReferenceUpdate`], from [`crate::markets::follow`]) becomes records on the
//! compacted topic `instruments.v1` (key `EXCHANGE:BASE-QUOTE`, Confluent-framed value of
//! `schemas/*/instrument.v1.*`):
//!
//! - the run's first update of a connector: a `LIVE` record for every instrument it follows;
//! - later ones: a `LIVE` record for every instrument whose reference changed since the record
//!   last produced for it (status, sizes, notices, symbol; the times that move with every
//!   listing, `last_seen_ts_us` and `as_of_ts_us`, are not a change), or whose last record was
//!   not delivered;
//! - a `DELISTED` record for every instrument gone from what the connector follows;
//! - with the run's first update, a `DELISTED` record for every instrument the topic still
//!   says is live from an earlier run and the connector no longer follows ([`retract`]).
//!
//! One thread ([`spawn`]) reads a bounded queue and produces through its own producer (the
//! gatherer's settings; delivery counted in the shared [`crate::kafka::ProducerStats`] as
//! `reference_*`, apart from ticks and dead letters). It ends when every connector's follower
//! has stopped, then waits for the broker's acknowledgements like the pipeline (the shutdown
//! deadline purges what is left, counted as abandoned).

pub mod retract;

use crate::codec::Format;
use crate::codec::instrument::{InstrumentRecord, State};
use crate::kafka::{TickProducer, Ticket};
use crate::markets::reference::ReferenceUpdate;
use crate::model::{Exchange, Instrument};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

/// Listing updates waiting for the publisher; a follower waits for room (each update is
/// every followed instrument of one connector, so a few are plenty).
pub const QUEUE_UPDATES: usize = 8;

/// The publisher's own counters (delivery is counted by the producer).
#[derive(Debug, Default)]
pub struct ReferenceStats {
    /// Listing updates taken from the queue.
    pub updates: AtomicU64,
    /// `LIVE` records made (handed to the producer or refused by it).
    pub live: AtomicU64,
    /// `DELISTED` records made (retractions included).
    pub delisted: AtomicU64,
    /// `DELISTED` records retracting what an earlier run left live (see [`retract`]).
    pub retracted: AtomicU64,
    /// First updates whose retraction was skipped: the topic could not be read in time.
    pub retraction_skipped: AtomicU64,
    /// Records that could not be encoded exactly (a size beyond the wire's decimal(38,18)):
    /// not produced, counted and logged.
    pub unencodable: AtomicU64,
    /// One line per failure kind per interval.
    pub failures_log: crate::logging::RateLimited,
}

/// What was last produced for one instrument, and whether the broker took it.
#[derive(Debug)]
struct Sent {
    record: InstrumentRecord,
    ticket: Arc<Ticket>,
}

/// Turns listing updates into records and produces them.
pub struct Publisher {
    producer: TickProducer,
    topic: String,
    format: Format,
    schema_id: u32,
    stats: Arc<ReferenceStats>,
    last: HashMap<(Exchange, Instrument), Sent>,
    reader: Option<retract::TopicReader>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("topic", &self.topic)
            .field("instruments", &self.last.len())
            .finish_non_exhaustive()
    }
}

impl Publisher {
    /// A publisher producing to `topic` in `format` with `schema_id` in every header.
    pub fn new(
        producer: TickProducer,
        topic: String,
        format: Format,
        schema_id: u32,
        stats: Arc<ReferenceStats>,
    ) -> Self {
        Self {
            producer,
            topic,
            format,
            schema_id,
            stats,
            last: HashMap::new(),
            reader: None,
        }
    }

    /// Reads the topic with `reader` at each connector's first update and retracts what an
    /// earlier run left live (without one, nothing is retracted).
    pub fn with_reader(mut self, reader: retract::TopicReader) -> Self {
        self.reader = Some(reader);
        self
    }

    /// The `DELISTED` records retracting what the topic still says is live and `update` no
    /// longer follows (its first update; none otherwise, or when the topic cannot be read in
    /// time: skipped, counted and logged).
    fn retractions(&mut self, update: &ReferenceUpdate) -> Vec<InstrumentRecord> {
        let (Some(scope), Some(reader)) = (&update.retract, &mut self.reader) else {
            return Vec::new();
        };
        let started = std::time::Instant::now();
        match reader.read() {
            Ok(snapshot) => {
                let out = retract::retractions(&snapshot, update, scope, as_of(update));
                self.stats
                    .retracted
                    .fetch_add(out.len() as u64, Ordering::Relaxed);
                tracing::info!(
                    connector = %update.connector,
                    retracted = out.len(),
                    read = snapshot.records,
                    instruments = snapshot.newest.len(),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    topic = %self.topic,
                    "instrument reference: retracted what an earlier run left live and this one no longer follows"
                );
                out
            }
            Err(why) => {
                self.stats
                    .retraction_skipped
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    connector = %update.connector,
                    topic = %self.topic,
                    "instrument reference: no retraction of what an earlier run left live (the topic was not read: {why}); the next start tries again"
                );
                Vec::new()
            }
        }
    }

    /// The records `update` calls for (see the module docs), in order: live ones, then the
    /// delisted.
    pub fn records(&self, update: &ReferenceUpdate) -> Vec<InstrumentRecord> {
        let as_of = as_of(update);
        let mut out = Vec::new();
        for listed in &update.live {
            let record = InstrumentRecord::of(listed, State::Live, as_of);
            let unchanged = self
                .last
                .get(&(listed.exchange, listed.instrument.clone()))
                .is_some_and(|sent| {
                    sent.record.same_reference(&record) && sent.ticket.outcome() != Some(false)
                });
            if update.first || !unchanged {
                out.push(record);
            }
        }
        out.extend(
            update
                .gone
                .iter()
                .map(|listed| InstrumentRecord::of(listed, State::Delisted, as_of)),
        );
        out
    }

    /// Produces what `update` calls for.
    pub fn publish(&mut self, update: &ReferenceUpdate) {
        self.stats.updates.fetch_add(1, Ordering::Relaxed);
        let mut records = self.records(update);
        records.extend(self.retractions(update));
        let mut value = Vec::with_capacity(256);
        for record in records {
            let counter = match record.state {
                State::Live => &self.stats.live,
                State::Delisted => &self.stats.delisted,
            };
            let key = record.key();
            value.clear();
            if let Err(e) = record.encode(self.format, self.schema_id, &mut value) {
                self.stats.unencodable.fetch_add(1, Ordering::Relaxed);
                if let Some(more) = self.stats.failures_log.admit("unencodable") {
                    tracing::error!(
                        connector = %update.connector,
                        key,
                        "instrument record not produced: {e}{more}"
                    );
                }
                continue;
            }
            counter.fetch_add(1, Ordering::Relaxed);
            let ticket = Arc::new(Ticket::default());
            let sent = self.producer.send_reference(
                &self.topic,
                key.as_bytes(),
                &value,
                record.exchange,
                Arc::clone(&ticket),
            );
            if let Err(e) = sent {
                // Counted as refused by the producer; the next listing tries it again.
                if let Some(more) = self.stats.failures_log.admit("refused") {
                    tracing::error!(
                        connector = %update.connector,
                        key,
                        topic = %self.topic,
                        "instrument record not handed to the producer (the next listing sends it again): {e}{more}"
                    );
                }
                self.last
                    .remove(&(record.exchange, record.instrument.clone()));
                continue;
            }
            self.last.insert(
                (record.exchange, record.instrument.clone()),
                Sent { record, ticket },
            );
        }
    }

    /// Waits for every outstanding delivery (up to the shutdown deadline, then purged).
    pub fn drain(&self) {
        self.producer.drain();
    }
}

/// The fetch time of `update`'s listing: every live record's last-seen time is it (a
/// first update's listing has it on every row). A listing that removed everything (refused
/// upstream beyond max_drop) has none: now.
fn as_of(update: &ReferenceUpdate) -> i64 {
    let listed = update.retract.iter().flat_map(|r| &r.listed);
    update
        .live
        .iter()
        .chain(listed)
        .map(|r| r.last_seen_us)
        .max()
        .unwrap_or_else(crate::model::time::now_us)
}

/// Runs `publisher` on a thread of its own until every sender of `updates` is gone, then
/// drains it.
pub fn spawn(
    mut publisher: Publisher,
    mut updates: mpsc::Receiver<ReferenceUpdate>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("tickflow-reference".into())
        .spawn(move || {
            while let Some(update) = updates.blocking_recv() {
                publisher.publish(&update);
            }
            publisher.drain();
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::listing::{Listed, ListingStatus, Notice};

    fn listed(i: &str, at: i64) -> Listed {
        Listed {
            exchange: Exchange::Upbit,
            instrument: Instrument::parse(i).unwrap(),
            native_symbol: format!("KRW-{}", i.split('-').next().unwrap()),
            status: ListingStatus::Trading,
            tick_size: None,
            lot_size: None,
            notices: vec![],
            first_seen_us: 100,
            last_seen_us: at,
        }
    }

    fn update(live: Vec<Listed>, gone: Vec<Listed>, first: bool) -> ReferenceUpdate {
        ReferenceUpdate {
            connector: "upbit".into(),
            exchange: Exchange::Upbit,
            live,
            gone,
            first,
            retract: None,
        }
    }

    fn publisher() -> Publisher {
        // Never connects: nothing is sent in these tests.
        let properties = crate::kafka::producer_properties(&Default::default());
        let producer = TickProducer::new(
            &properties,
            std::time::Duration::from_millis(1),
            Arc::default(),
        )
        .unwrap();
        Publisher::new(producer, "i".into(), Format::Avro, 1, Arc::default())
    }

    fn remember(p: &mut Publisher, records: &[InstrumentRecord], outcome: Option<bool>) {
        for r in records {
            let ticket = Arc::new(Ticket::default());
            if let Some(ok) = outcome {
                ticket.settle_for_test(ok);
            }
            p.last.insert(
                (r.exchange, r.instrument.clone()),
                Sent {
                    record: r.clone(),
                    ticket,
                },
            );
        }
    }

    #[test]
    fn the_first_update_produces_everything_then_only_changes_and_delistings() {
        let mut p = publisher();
        let first = p.records(&update(
            vec![listed("BTC-KRW", 200), listed("ETH-KRW", 200)],
            vec![],
            true,
        ));
        assert_eq!(first.len(), 2);
        assert!(
            first
                .iter()
                .all(|r| r.state == State::Live && r.as_of_ts_us == 200)
        );
        remember(&mut p, &first, Some(true));
        // Only the times moved: nothing.
        let same = update(
            vec![listed("BTC-KRW", 300), listed("ETH-KRW", 300)],
            vec![],
            false,
        );
        assert!(p.records(&same).is_empty());
        // ...unless it is a first update (a restart re-states everything).
        let mut again = same.clone();
        again.first = true;
        assert_eq!(p.records(&again).len(), 2);
        // ETH gets a warning, XRP is listed, BTC is delisted.
        let mut eth = listed("ETH-KRW", 400);
        eth.notices = vec![Notice::Warning];
        let mut btc = listed("BTC-KRW", 300);
        btc.status = ListingStatus::Break;
        let next = p.records(&update(vec![eth, listed("XRP-KRW", 400)], vec![btc], false));
        let got: Vec<(&str, State, Option<ListingStatus>, i64)> = next
            .iter()
            .map(|r| (r.instrument.as_str(), r.state, r.status, r.as_of_ts_us))
            .collect();
        assert_eq!(
            got,
            [
                ("ETH-KRW", State::Live, Some(ListingStatus::Trading), 400),
                ("XRP-KRW", State::Live, Some(ListingStatus::Trading), 400),
                ("BTC-KRW", State::Delisted, Some(ListingStatus::Break), 400),
            ]
        );
        assert_eq!(next[2].last_seen_ts_us, 300, "as last seen");
    }

    #[test]
    fn an_unreachable_topic_skips_the_retraction_and_counts_it() {
        let properties = crate::kafka::producer_properties(&Default::default());
        let mut properties = properties;
        properties.insert("bootstrap.servers".into(), "127.0.0.1:9".into());
        let reader = retract::TopicReader::new(
            "i".into(),
            properties,
            crate::registry::instrument::InstrumentResolver::new(None, 1, Format::Avro),
            std::time::Duration::from_millis(500),
        );
        let mut p = publisher().with_reader(reader);
        let mut first = update(vec![], vec![], true);
        first.retract = Some(crate::markets::reference::Retract {
            selector: Default::default(),
            shard: Default::default(),
            listed: vec![listed("BTC-KRW", 200)],
        });
        let started = std::time::Instant::now();
        p.publish(&first);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let s = Arc::clone(&p.stats);
        assert_eq!(s.retraction_skipped.load(Ordering::Relaxed), 1);
        assert_eq!(s.retracted.load(Ordering::Relaxed), 0);
        assert_eq!(s.delisted.load(Ordering::Relaxed), 0);
        // A later update does not read the topic again.
        p.publish(&update(vec![], vec![], false));
        assert_eq!(s.retraction_skipped.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_record_the_broker_did_not_take_is_sent_again() {
        let mut p = publisher();
        let first = p.records(&update(vec![listed("BTC-KRW", 200)], vec![], true));
        remember(&mut p, &first, Some(false));
        let next = p.records(&update(vec![listed("BTC-KRW", 300)], vec![], false));
        assert_eq!(next.len(), 1);
        // Still in flight: not sent twice.
        remember(&mut p, &first, None);
        assert!(
            p.records(&update(vec![listed("BTC-KRW", 300)], vec![], false))
                .is_empty()
        );
    }
}
