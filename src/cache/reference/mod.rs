//! The instrument reference in the cache: a reader of the compacted topic `instruments.v1`
//! that keeps Redis' live sets, reference hashes and delisting marks ([`store`]).
//!
//! Not a member of the cache's consumer group, on purpose: the topic is a table whose newest
//! record per instrument is its state, so every start reads it whole from the beginning
//! (the group's committed offsets would skip it), every partition of it (a delisting must
//! reach the index of its venue whichever member holds the partition of its ticks), and it is
//! small (one record per instrument, a handful of changes per listing refresh). Each record
//! goes through a compare-and-set on its listing time, so every member writing every record,
//! a replay, or two gatherers publishing one venue leave Redis at the newest state. Nothing is
//! committed: a record not yet applied at a stop is read again at the next start.
//!
//! A record that cannot be decoded is counted and logged (once per reason per 10 s) and
//! skipped: it stays on the topic, where the next version of the cache may read it. Redis
//! failing: the batch is retried with backoff and consumption waits. The partitions read are
//! those the topic has at start (a partition added later is read from the next start on).

pub mod store;

use crate::cache::contract::index_key;
use crate::codec::instrument::State;
use crate::config::AppConfig;
use crate::metrics::Exposition;
use crate::model::{Exchange, Instrument};
use crate::registry::instrument::InstrumentResolver;
use rdkafka::consumer::BaseConsumer;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use store::ReferenceStore;
use tokio::sync::watch;

/// Most records applied in one batch (also the most held while Redis is down).
const BATCH_MAX: usize = 1000;

/// How long a batch gathers after its first record.
const BATCH_WAIT: Duration = Duration::from_millis(20);

/// How often the delisted instruments are taken out of the indexes again (see
/// [`ReferenceStore::sweep`]).
pub const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// Counters of the reference reader.
#[derive(Debug, Default)]
pub struct ReferenceStats {
    /// Records consumed.
    pub consumed: AtomicU64,
    /// Records that applied in Redis (newer than what it held).
    pub applied: AtomicU64,
    /// Records Redis already held, or held a newer one of.
    pub stale: AtomicU64,
    /// Records superseded by a later one of the same instrument before their batch was
    /// written (consumed = applied + stale + coalesced + undecodable, once written).
    pub coalesced: AtomicU64,
    /// Records that could not be decoded (skipped, left on the topic).
    pub undecodable: AtomicU64,
    /// Failed Redis writes (each retried).
    pub redis_errors: AtomicU64,
    /// Kafka errors reported by librdkafka (it retries).
    pub kafka_errors: AtomicU64,
    /// Index and live-set members removed again by the periodic sweep.
    pub swept: AtomicU64,
    /// Instruments whose state in effect is live.
    pub live: AtomicU64,
    /// Instruments whose state in effect is delisted.
    pub delisted: AtomicU64,
    /// Set once every partition was read to the end it had at start.
    pub loaded: AtomicBool,
    /// One line per failure kind per interval.
    pub failures_log: crate::logging::RateLimited,
}

impl ReferenceStats {
    /// Adds the reader's families to `e`.
    pub fn expose(&self, e: &mut Exposition) {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let counters: [(&str, &str, u64); 8] = [
            (
                "tickflow_cache_reference_consumed_total",
                "instrument records consumed",
                g(&self.consumed),
            ),
            (
                "tickflow_cache_reference_applied_total",
                "instrument records applied in Redis",
                g(&self.applied),
            ),
            (
                "tickflow_cache_reference_stale_total",
                "instrument records Redis already held (replays) or held a newer one of",
                g(&self.stale),
            ),
            (
                "tickflow_cache_reference_coalesced_total",
                "instrument records superseded by a later one of the same instrument in a batch",
                g(&self.coalesced),
            ),
            (
                "tickflow_cache_reference_undecodable_total",
                "instrument records that could not be decoded (skipped)",
                g(&self.undecodable),
            ),
            (
                "tickflow_cache_reference_redis_errors_total",
                "failed Redis writes of instrument records (retried)",
                g(&self.redis_errors),
            ),
            (
                "tickflow_cache_reference_kafka_errors_total",
                "errors reading the instruments topic (librdkafka retries)",
                g(&self.kafka_errors),
            ),
            (
                "tickflow_cache_reference_swept_total",
                "index and live-set members of delisted instruments removed again by the sweep",
                g(&self.swept),
            ),
        ];
        for (name, help, v) in counters {
            e.family(name, "counter", help).sample(name, &[], v);
        }
        let name = "tickflow_cache_reference_instruments";
        e.family(name, "gauge", "instruments by the state in effect");
        e.sample(name, &[("state", "live")], g(&self.live));
        e.sample(name, &[("state", "delisted")], g(&self.delisted));
        let name = "tickflow_cache_reference_loaded";
        e.family(
            name,
            "gauge",
            "1 once the instruments topic was read to the end it had at start",
        )
        .sample(name, &[], u64::from(self.loaded.load(Ordering::Relaxed)));
    }
}

/// Everything the reader thread needs.
pub(super) struct Reader {
    pub(super) topic: String,
    pub(super) properties: BTreeMap<String, String>,
    /// `[cache] group_id` (the reader's own group is named after it).
    pub(super) cache_group_id: String,
    pub(super) redis: super::writer::RedisTarget,
    pub(super) resolver: InstrumentResolver,
    pub(super) runtime: tokio::runtime::Handle,
    pub(super) stats: std::sync::Arc<super::stats::CacheStats>,
    pub(super) shutdown: watch::Receiver<bool>,
}

impl Reader {
    /// The reader for `app` (its registry, or the fixed id).
    pub(super) fn new(
        app: &AppConfig,
        redis: super::writer::RedisTarget,
        stats: std::sync::Arc<super::stats::CacheStats>,
        shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Handle::current();
        let registry = match &app.schema_registry {
            Some(settings) => Some((crate::registry::Registry::new(settings)?, runtime.clone())),
            None => None,
        };
        Ok(Self {
            topic: app.topics.instruments.clone(),
            properties: crate::kafka::producer_properties(&app.kafka),
            cache_group_id: app.cache.group_id.clone(),
            redis,
            resolver: InstrumentResolver::new(registry, app.schema_id, app.format),
            runtime,
            stats,
            shutdown,
        })
    }

    fn consumer(&self) -> rdkafka::error::KafkaResult<BaseConsumer> {
        crate::kafka::contract::cache_reference_reader_config(
            &self.properties,
            &self.cache_group_id,
        )
        .create()
    }

    /// Every partition of the topic from the beginning; the partitions assigned.
    fn assign(&self, consumer: &BaseConsumer) -> Result<Vec<i32>, String> {
        super::whole_topic::assign_from_beginning(consumer, &self.topic)
    }

    fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Sleeps `d` unless stopping; false when stopping.
    fn pause(&self, d: Duration) -> bool {
        super::whole_topic::pause(&self.shutdown, d)
    }

    fn note(&self, kind: &str, text: &str) {
        if let Some(more) = self.stats.reference.failures_log.admit(kind) {
            tracing::warn!(topic = %self.topic, "instrument reference: {text}{more}");
        }
    }

    /// Runs until shutdown.
    pub(super) fn run(mut self) {
        let consumer = match self.consumer() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("instrument reference: consumer: {e}");
                return;
            }
        };
        let stats = std::sync::Arc::clone(&self.stats);
        let r = &stats.reference;
        let mut partitions = loop {
            match self.assign(&consumer) {
                Ok(p) => break p.into_iter().collect::<HashSet<i32>>(),
                Err(e) => {
                    r.kafka_errors.fetch_add(1, Ordering::Relaxed);
                    self.note("assign", &format!("{e}; trying again"));
                    if !self.pause(Duration::from_secs(2)) {
                        return;
                    }
                }
            }
        };
        let mut store: Option<ReferenceStore> = None;
        let mut pending: HashMap<
            (Exchange, Instrument),
            (crate::codec::instrument::InstrumentRecord, bool),
        > = HashMap::new();
        let mut first_pending: Option<Instant> = None;
        let mut states: HashMap<(Exchange, Instrument), State> = HashMap::new();
        let mut last_sweep = Instant::now();
        while !self.stopping() {
            let due = pending.len() >= BATCH_MAX
                || first_pending.is_some_and(|t| t.elapsed() >= BATCH_WAIT);
            if !due {
                match consumer.poll(Duration::from_millis(20)) {
                    Some(Ok(m)) => {
                        r.consumed.fetch_add(1, Ordering::Relaxed);
                        match self.resolver.decode(m.payload().unwrap_or_default()) {
                            Ok(record) => {
                                let simulated = crate::kafka::contract::is_simulated(&m);
                                first_pending.get_or_insert_with(Instant::now);
                                // Offsets order one key's records: the later is the newer.
                                let earlier = pending.insert(
                                    (record.exchange, record.instrument.clone()),
                                    (record, simulated),
                                );
                                if earlier.is_some() {
                                    r.coalesced.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            Err(e) => {
                                r.undecodable.fetch_add(1, Ordering::Relaxed);
                                self.note(
                                    e.reason.code(),
                                    &format!(
                                        "record at partition {} offset {} skipped ({}): {}",
                                        m.partition(),
                                        m.offset(),
                                        e.reason,
                                        e.error
                                    ),
                                );
                            }
                        }
                        continue;
                    }
                    Some(Err(KafkaError::PartitionEOF(p))) => {
                        partitions.remove(&p);
                        if partitions.is_empty() && pending.is_empty() {
                            self.loaded(&states);
                        }
                    }
                    Some(Err(e)) => {
                        r.kafka_errors.fetch_add(1, Ordering::Relaxed);
                        if e.rdkafka_error_code() != Some(RDKafkaErrorCode::PartitionEOF) {
                            self.note("consume", &format!("consume (librdkafka retries): {e}"));
                        }
                    }
                    None => {}
                }
            }
            if !pending.is_empty()
                && (due || first_pending.is_some_and(|t| t.elapsed() >= BATCH_WAIT))
            {
                let batch: Vec<_> = pending.drain().map(|(_, v)| v).collect();
                first_pending = None;
                let Some(done) = self.write(&mut store, &batch) else {
                    return;
                };
                for (key, state) in done.states {
                    states.insert(key, state);
                }
                r.live.store(
                    states.values().filter(|s| **s == State::Live).count() as u64,
                    Ordering::Relaxed,
                );
                r.delisted.store(
                    states.values().filter(|s| **s == State::Delisted).count() as u64,
                    Ordering::Relaxed,
                );
                if partitions.is_empty() && !r.loaded.load(Ordering::Relaxed) {
                    self.loaded(&states);
                }
            }
            if last_sweep.elapsed() >= SWEEP_EVERY {
                last_sweep = Instant::now();
                self.sweep(&mut store, &states);
            }
        }
    }

    fn loaded(&self, states: &HashMap<(Exchange, Instrument), State>) {
        let r = &self.stats.reference;
        if !r.loaded.swap(true, Ordering::Relaxed) {
            tracing::info!(
                topic = %self.topic,
                live = states.values().filter(|s| **s == State::Live).count(),
                delisted = states.values().filter(|s| **s == State::Delisted).count(),
                "instrument reference loaded"
            );
        }
    }

    /// Writes `batch` until Redis acknowledges it; `None` when stopping first.
    fn write(
        &self,
        store: &mut Option<ReferenceStore>,
        batch: &[(crate::codec::instrument::InstrumentRecord, bool)],
    ) -> Option<store::RecordsApplied> {
        let r = &self.stats.reference;
        let mut delay = Duration::from_millis(100);
        loop {
            let t = &self.redis;
            let result = self.runtime.block_on(async {
                if store.is_none() {
                    *store = Some(ReferenceStore::open(&t.url, t.cluster, &t.prefix, t.ttl).await?);
                }
                match store.as_mut() {
                    Some(s) => s.apply(batch, crate::model::time::now_us()).await,
                    None => unreachable_store(),
                }
            });
            match result {
                Ok(done) => {
                    r.applied.fetch_add(done.applied, Ordering::Relaxed);
                    r.stale.fetch_add(done.stale, Ordering::Relaxed);
                    return Some(done);
                }
                Err(e) => {
                    r.redis_errors.fetch_add(1, Ordering::Relaxed);
                    self.note(
                        "redis",
                        &format!(
                            "{}: write failed, retrying with backoff",
                            super::store::describe(&t.url, &e)
                        ),
                    );
                    // A new connection next time (the old one may be gone).
                    *store = None;
                    if !self.pause(delay) {
                        return None;
                    }
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    fn sweep(
        &self,
        store: &mut Option<ReferenceStore>,
        states: &HashMap<(Exchange, Instrument), State>,
    ) {
        let mut delisted: BTreeMap<Exchange, Vec<Instrument>> = BTreeMap::new();
        for ((exchange, instrument), state) in states {
            if *state == State::Delisted {
                delisted
                    .entry(*exchange)
                    .or_default()
                    .push(instrument.clone());
            }
        }
        let Some(s) = store.as_mut() else {
            return;
        };
        if delisted.is_empty() {
            return;
        }
        let r = &self.stats.reference;
        match self.runtime.block_on(s.sweep(&delisted)) {
            Ok(n) => {
                r.swept.fetch_add(n, Ordering::Relaxed);
                if n > 0 {
                    tracing::info!(
                        removed = n,
                        "instrument reference: delisted members found again in {} and removed",
                        delisted
                            .keys()
                            .map(|e| index_key(&self.redis.prefix, *e))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
            }
            Err(e) => {
                r.redis_errors.fetch_add(1, Ordering::Relaxed);
                self.note(
                    "sweep",
                    &format!("{}: sweep failed (next in {SWEEP_EVERY:?})", s.describe(&e)),
                );
            }
        }
    }
}

fn unreachable_store() -> redis::RedisResult<store::RecordsApplied> {
    Err(redis::RedisError::from((
        redis::ErrorKind::Io,
        "no connection",
        String::new(),
    )))
}
