//! Feed status in the cache: a reader of the topic `feed.status.v1` that keeps Redis' feed
//! hashes, `px:feed:EXCHANGE` and `px:feed:{I}:EXCHANGE` ([`store`],
//! [`crate::cache::contract::feed`]).
//!
//! Built like the instrument reference's reader ([`super::reference`]), for the same reasons:
//! not a member of the cache's consumer group (every start reads the topic whole from the
//! beginning, every partition, and follows it), nothing committed. The topic is not
//! compacted, but it is small (a few records per connection event), and its records applied
//! in order leave the current state; each write is a compare-and-set on the record's
//! `ts_us`, so a replay, every cache replica writing every record, or a restart leave the
//! newest state. Records are applied in the order read (not coalesced: a `DOWN` and the
//! `RECOVERED` after it both say something).
//!
//! A record that cannot be decoded is counted and logged (once per reason per 10 s) and
//! skipped. Redis failing: the batch is retried with backoff and reading waits. The partitions
//! read are those the topic has at start.

pub mod store;

use crate::config::AppConfig;
use crate::metrics::Exposition;
use crate::model::status::FeedStatus;
use crate::registry::status::StatusResolver;
use rdkafka::consumer::BaseConsumer;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use store::StatusStore;
use tokio::sync::watch;

/// Most records applied in one batch (also the most held while Redis is down).
const BATCH_MAX: usize = 1000;

/// How long a batch gathers after its first record.
const BATCH_WAIT: Duration = Duration::from_millis(20);

/// Counters of the status reader.
#[derive(Debug, Default)]
pub struct StatusStats {
    /// Records consumed.
    pub consumed: AtomicU64,
    /// Records of which a write applied in Redis (newer than what it held).
    pub applied: AtomicU64,
    /// Records Redis already held, or held newer ones of (consumed = applied + stale +
    /// undecodable, once written).
    pub stale: AtomicU64,
    /// Records that could not be decoded (skipped, left on the topic).
    pub undecodable: AtomicU64,
    /// Failed Redis writes (each retried).
    pub redis_errors: AtomicU64,
    /// Kafka errors reported by librdkafka (it retries).
    pub kafka_errors: AtomicU64,
    /// Set once every partition was read to the end it had at start.
    pub loaded: AtomicBool,
    /// One line per failure kind per interval.
    pub failures_log: crate::logging::RateLimited,
}

impl StatusStats {
    /// Adds the reader's families to `e`.
    pub fn expose(&self, e: &mut Exposition) {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let counters: [(&str, &str, u64); 6] = [
            (
                "tickflow_cache_status_consumed_total",
                "feed status records consumed",
                g(&self.consumed),
            ),
            (
                "tickflow_cache_status_applied_total",
                "feed status records applied in Redis",
                g(&self.applied),
            ),
            (
                "tickflow_cache_status_stale_total",
                "feed status records Redis already held (replays) or held newer ones of",
                g(&self.stale),
            ),
            (
                "tickflow_cache_status_undecodable_total",
                "feed status records that could not be decoded (skipped)",
                g(&self.undecodable),
            ),
            (
                "tickflow_cache_status_redis_errors_total",
                "failed Redis writes of feed status records (retried)",
                g(&self.redis_errors),
            ),
            (
                "tickflow_cache_status_kafka_errors_total",
                "errors reading the feed status topic (librdkafka retries)",
                g(&self.kafka_errors),
            ),
        ];
        for (name, help, v) in counters {
            e.family(name, "counter", help).sample(name, &[], v);
        }
        let name = "tickflow_cache_status_loaded";
        e.family(
            name,
            "gauge",
            "1 once the feed status topic was read to the end it had at start",
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
    pub(super) resolver: StatusResolver,
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
            topic: app.topics.status.clone(),
            properties: crate::kafka::producer_properties(&app.kafka),
            cache_group_id: app.cache.group_id.clone(),
            redis,
            resolver: StatusResolver::new(registry, app.schema_id, app.format),
            runtime,
            stats,
            shutdown,
        })
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
        if let Some(more) = self.stats.status.failures_log.admit(kind) {
            tracing::warn!(topic = %self.topic, "feed status: {text}{more}");
        }
    }

    /// Runs until shutdown.
    pub(super) fn run(mut self) {
        let consumer = match crate::kafka::contract::cache_status_reader_config(
            &self.properties,
            &self.cache_group_id,
        )
        .create::<BaseConsumer>()
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("feed status: consumer: {e}");
                return;
            }
        };
        let stats = std::sync::Arc::clone(&self.stats);
        let r = &stats.status;
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
        let mut store: Option<StatusStore> = None;
        let mut pending: Vec<(FeedStatus, bool)> = Vec::new();
        let mut first_pending: Option<Instant> = None;
        while !self.stopping() {
            let due = pending.len() >= BATCH_MAX
                || first_pending.is_some_and(|t| t.elapsed() >= BATCH_WAIT);
            if !due {
                match consumer.poll(Duration::from_millis(20)) {
                    Some(Ok(m)) => {
                        r.consumed.fetch_add(1, Ordering::Relaxed);
                        match self.resolver.decode(m.payload().unwrap_or_default()) {
                            Ok(record) => {
                                first_pending.get_or_insert_with(Instant::now);
                                pending.push((record, crate::kafka::contract::is_simulated(&m)));
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
                first_pending = None;
                if !self.write(&mut store, &pending) {
                    return;
                }
                pending.clear();
            }
            if partitions.is_empty()
                && pending.is_empty()
                && !r.loaded.swap(true, Ordering::Relaxed)
            {
                tracing::info!(topic = %self.topic, "feed status loaded");
            }
        }
    }

    /// Writes `batch` until Redis acknowledges it; false when stopping first.
    fn write(&self, store: &mut Option<StatusStore>, batch: &[(FeedStatus, bool)]) -> bool {
        let r = &self.stats.status;
        let mut delay = Duration::from_millis(100);
        loop {
            let t = &self.redis;
            let result = self.runtime.block_on(async {
                let s = match store {
                    Some(s) => s,
                    None => store.insert(StatusStore::open(&t.url, t.cluster, &t.prefix).await?),
                };
                s.apply(batch, crate::model::time::now_us()).await
            });
            match result {
                Ok(done) => {
                    r.applied.fetch_add(done.applied, Ordering::Relaxed);
                    r.stale.fetch_add(done.stale, Ordering::Relaxed);
                    return true;
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
                        return false;
                    }
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}
