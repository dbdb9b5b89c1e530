//! `tickflow cache`: Kafka (`ticks.v1`, consumer group) → Redis, at least once.
//!
//! Each batch (up to `batch_max` messages or `batch_wait`) is decoded, coalesced to the newest
//! tick per key, written through the compare-and-set, and only then are its offsets stored for
//! commit. A batch is always finished before the next poll, so a revoked partition never has
//! unwritten ticks behind a committed offset. Redis unavailable: retry with backoff, offsets
//! held. Undecodable messages go to the DLQ and their offsets move on.

use super::{Store, newest_per_key};
use crate::codec::{Encoder, Format};
use crate::config::AppConfig;
use crate::kafka::{ProducerStats, TickProducer, dlq::rfc3339_micros, producer_properties};
use crate::metrics::{Exposition, Histogram};
use crate::model::Tick;
use crate::model::time::now_us;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{CommitMode, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::{KafkaResult, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Counters of the cache consumer.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Messages consumed.
    pub consumed: AtomicU64,
    /// Messages that could not be decoded (sent to the DLQ).
    pub poison: AtomicU64,
    /// Ticks dropped by coalescing (a newer one of the same key was in the batch).
    pub coalesced: AtomicU64,
    /// Updates applied in Redis.
    pub applied: AtomicU64,
    /// Updates refused as stale (duplicates, late arrivals).
    pub stale: AtomicU64,
    /// Batches written.
    pub batches: AtomicU64,
    /// Failed Redis writes (each retried).
    pub redis_errors: AtomicU64,
    /// Offset commits that failed (retried by the next commit).
    pub commit_errors: AtomicU64,
    /// Script reloads after NOSCRIPT.
    pub script_reloads: AtomicU64,
    /// 1 while Redis answers.
    pub redis_up: AtomicU64,
    /// Exchange receive → applied in Redis, µs.
    pub receive_to_redis_us: Histogram,
}

impl CacheStats {
    /// Prometheus text.
    pub fn metrics(&self) -> String {
        let mut e = Exposition::default();
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let all: [(&str, &str, &str, u64); 10] = [
            (
                "tickflow_cache_consumed_total",
                "counter",
                "messages consumed",
                g(&self.consumed),
            ),
            (
                "tickflow_cache_poison_total",
                "counter",
                "undecodable messages sent to the DLQ",
                g(&self.poison),
            ),
            (
                "tickflow_cache_coalesced_total",
                "counter",
                "ticks superseded within a batch",
                g(&self.coalesced),
            ),
            (
                "tickflow_cache_applied_total",
                "counter",
                "updates applied in Redis",
                g(&self.applied),
            ),
            (
                "tickflow_cache_stale_total",
                "counter",
                "duplicate or late updates refused",
                g(&self.stale),
            ),
            (
                "tickflow_cache_batches_total",
                "counter",
                "batches written",
                g(&self.batches),
            ),
            (
                "tickflow_cache_redis_errors_total",
                "counter",
                "failed Redis writes (retried)",
                g(&self.redis_errors),
            ),
            (
                "tickflow_cache_commit_errors_total",
                "counter",
                "failed offset commits",
                g(&self.commit_errors),
            ),
            (
                "tickflow_cache_script_reloads_total",
                "counter",
                "script loads after NOSCRIPT",
                g(&self.script_reloads),
            ),
            (
                "tickflow_cache_redis_up",
                "gauge",
                "1 while Redis answers",
                g(&self.redis_up),
            ),
        ];
        for (name, kind, help, v) in all {
            e.family(name, kind, help).sample(name, &[], v);
        }
        e.histogram_us(
            "tickflow_cache_receive_to_redis_seconds",
            "exchange receive to applied in Redis",
            &self.receive_to_redis_us,
        );
        e.finish()
    }
}

/// Counts failed offset commits (auto commits run inside librdkafka; this is where they report).
#[derive(Debug)]
pub struct CacheContext {
    stats: Arc<CacheStats>,
}

impl ClientContext for CacheContext {}

impl ConsumerContext for CacheContext {
    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        match result {
            // Nothing stored since the last commit: not a failure.
            Err(e) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::NoOffset) => {}
            Err(e) => {
                let n = self.stats.commit_errors.fetch_add(1, Ordering::Relaxed);
                if n.is_power_of_two() || n == 0 {
                    tracing::warn!(
                        so_far = n + 1,
                        "offset commit failed (the next commit retries): {e}"
                    );
                }
            }
            Ok(()) => {}
        }
    }
}

/// Builds the consumer: group, manual offset store, auto commit of stored offsets.
pub fn consumer(
    app: &AppConfig,
    stats: Arc<CacheStats>,
) -> KafkaResult<StreamConsumer<CacheContext>> {
    let mut config = ClientConfig::new();
    // Kafka's default of 500 ms lets a broker hold each fetch that long (tansu 0.6.0 does, even
    // with data waiting); a price cache wants fresh data. Overridable in [kafka].
    config.set("fetch.wait.max.ms", "10");
    for (k, v) in &producer_properties(&app.kafka) {
        if !crate::kafka::admin::is_producer_only(k) && k != "client.id" {
            config.set(k, v);
        }
    }
    config
        .set("client.id", "tickflow-cache")
        .set("group.id", &app.cache.group_id)
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        // Offsets are stored by tickflow after Redis acknowledged the batch, never before.
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest");
    config.create_with_context(CacheContext { stats })
}

/// Runs until `shutdown` turns true, then commits what Redis has and returns.
async fn run(
    app: AppConfig,
    consumer: StreamConsumer<CacheContext>,
    mut store: Store,
    dlq: TickProducer,
    stats: Arc<CacheStats>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    consumer.subscribe(&[&app.topics.ticks])?;
    let format: Format = app.format;
    let mut decoded: Vec<Tick> = Vec::with_capacity(app.cache.batch_max);
    // Highest offset per (topic, partition) of the batch.
    let mut offsets: BTreeMap<(String, i32), i64> = BTreeMap::new();
    loop {
        decoded.clear();
        offsets.clear();
        // The first message waits (for shutdown too); the rest of the batch for at most
        // batch_wait.
        let first = tokio::select! {
            biased;
            _ = shutdown.changed() => break,
            m = consumer.recv() => m,
        };
        let mut next = Some(first);
        let deadline = Instant::now() + app.cache.batch_wait;
        let mut count = 0;
        while let Some(result) = next.take() {
            match result {
                Ok(m) => {
                    count += 1;
                    take(
                        &m,
                        format,
                        &app.topics.dlq,
                        &dlq,
                        &stats,
                        &mut decoded,
                        &mut offsets,
                    );
                }
                Err(e) => {
                    tracing::warn!("kafka consume: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            if count >= app.cache.batch_max {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            next = tokio::time::timeout(left, consumer.recv()).await.ok();
        }
        let newest = newest_per_key(decoded.iter());
        stats
            .coalesced
            .fetch_add((decoded.len() - newest.len()) as u64, Ordering::Relaxed);
        if !write(&mut store, &newest, &stats, &mut shutdown).await {
            // Shut down while Redis was failing: these offsets stay uncommitted.
            break;
        }
        let mut list = TopicPartitionList::new();
        for ((topic, partition), offset) in &offsets {
            // The committed position is the next message to read.
            let _ = list.add_partition_offset(topic, *partition, Offset::Offset(offset + 1));
        }
        if let Err(e) = consumer.store_offsets(&list) {
            // A partition revoked mid-batch: its new owner re-reads; the CAS makes that harmless.
            tracing::debug!("storing offsets: {e}");
        }
    }
    // Commit what Redis has acknowledged, synchronously, before leaving the group.
    match consumer.commit_consumer_state(CommitMode::Sync) {
        // Nothing stored since the last commit is reported as an error too; it is harmless.
        Err(e) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::NoOffset) => {}
        Err(e) => tracing::warn!(
            "final offset commit failed; a restart re-reads from the last commit: {e}"
        ),
        Ok(()) => {}
    }
    let left = dlq.flush(Duration::from_secs(10));
    if left > 0 {
        tracing::error!(left, "dead letters not delivered at shutdown");
    }
    Ok(())
}

/// Decodes one message into the batch, or sends it to the DLQ.
fn take(
    m: &BorrowedMessage<'_>,
    format: Format,
    dlq_topic: &str,
    dlq: &TickProducer,
    stats: &CacheStats,
    decoded: &mut Vec<Tick>,
    offsets: &mut BTreeMap<(String, i32), i64>,
) {
    stats.consumed.fetch_add(1, Ordering::Relaxed);
    // One entry per partition of the batch; the topic string is allocated once per entry.
    match offsets
        .iter_mut()
        .find(|((t, p), _)| *p == m.partition() && t == m.topic())
    {
        Some((_, o)) => *o = (*o).max(m.offset()),
        None => {
            offsets.insert((m.topic().to_owned(), m.partition()), m.offset());
        }
    }
    let payload = m.payload().unwrap_or_default();
    match Encoder::decode(format, payload) {
        Ok((_, tick)) => decoded.push(tick),
        Err(e) => {
            let n = stats.poison.fetch_add(1, Ordering::Relaxed);
            if n.is_power_of_two() || n == 0 {
                tracing::warn!(
                    partition = m.partition(),
                    offset = m.offset(),
                    so_far = n + 1,
                    "undecodable message sent to the DLQ: {e}"
                );
            }
            let headers = [
                ("stage", "decode".to_owned()),
                ("reason", "undecodable".to_owned()),
                ("error", e.to_string()),
                ("received_at", rfc3339_micros(now_us())),
                ("source_topic", m.topic().to_owned()),
                ("source_partition", m.partition().to_string()),
                ("source_offset", m.offset().to_string()),
            ];
            let key = m.key().unwrap_or_default();
            if let Err(e) =
                dlq.send_raw_dead_letter(dlq_topic, key, payload, &headers, None, now_us())
            {
                tracing::error!("poison message not sent to the DLQ: {e}");
            }
        }
    }
}

/// Writes until Redis acknowledges (true) or shutdown comes first (false).
async fn write(
    store: &mut Store,
    ticks: &[&Tick],
    stats: &CacheStats,
    shutdown: &mut watch::Receiver<bool>,
) -> bool {
    let mut delay = Duration::from_millis(100);
    loop {
        let reloads = store.script_reloads;
        match store.apply(ticks, now_us()).await {
            Ok(done) => {
                stats.redis_up.store(1, Ordering::Relaxed);
                stats.applied.fetch_add(done.applied, Ordering::Relaxed);
                stats.stale.fetch_add(done.stale, Ordering::Relaxed);
                stats.batches.fetch_add(1, Ordering::Relaxed);
                stats
                    .script_reloads
                    .fetch_add(store.script_reloads - reloads, Ordering::Relaxed);
                let now = now_us();
                for t in ticks {
                    stats
                        .receive_to_redis_us
                        .record(u64::try_from(now - t.received_ts_us).unwrap_or(0));
                }
                return true;
            }
            Err(e) => {
                let first = stats.redis_up.swap(0, Ordering::Relaxed) == 1
                    || stats.redis_errors.load(Ordering::Relaxed) == 0;
                stats.redis_errors.fetch_add(1, Ordering::Relaxed);
                if first {
                    tracing::warn!("redis write failed, retrying with backoff, offsets held: {e}");
                }
                tokio::select! {
                    biased;
                    _ = shutdown.changed() => return false,
                    () = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(5));
                if e.is_io_error()
                    || e.is_connection_dropped()
                    || e.is_timeout()
                    || e.is_connection_refusal()
                {
                    // Best effort; a failure here shows up as the next write's error.
                    let _ = store.reconnect().await;
                }
            }
        }
    }
}

/// A started cache consumer.
#[derive(Debug)]
pub struct RunningCache {
    /// Live counters (metrics, health, tests).
    pub stats: Arc<CacheStats>,
    /// Completes after `shutdown`, once what Redis has is committed.
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Connects the consumer, Redis (loading the script) and the DLQ producer, then runs the
/// cache until `shutdown` turns true.
pub async fn spawn(
    app: &AppConfig,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<RunningCache> {
    let stats = Arc::new(CacheStats::default());
    let consumer = consumer(app, Arc::clone(&stats))?;
    let store = Store::open(
        &app.redis_url,
        app.redis_cluster,
        &app.cache.prefix,
        app.cache.ttl,
    )
    .await?;
    let dlq = TickProducer::new(
        &producer_properties(&app.kafka),
        app.gather.max_block,
        Arc::new(ProducerStats::default()),
    )?;
    stats.redis_up.store(1, Ordering::Relaxed);
    let task = tokio::spawn(run(
        app.clone(),
        consumer,
        store,
        dlq,
        Arc::clone(&stats),
        shutdown,
    ));
    Ok(RunningCache { stats, task })
}
