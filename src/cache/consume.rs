//! `tickflow cache`: Kafka (`ticks.v1`, consumer group) → Redis, at least once.
//!
//! Two stages overlap. A polling thread consumes, decodes and coalesces into the gathering
//! [`Batch`] (newest tick per key, highest offset per partition). A writer task takes the batch
//! when Redis is idle and the batch is due (`batch_max` messages or `batch_wait`), writes it
//! through the compare-and-set and only then stores its offsets for commit. While a write is
//! in flight the next batch keeps coalescing, so the slower Redis is, the more messages each
//! write covers. At `pending_keys_max` distinct keys the thread pauses its partitions until
//! the writer catches up (bounded memory, the group still served).
//!
//! A revoked partition first has everything gathered written and committed (the rebalance
//! callback flushes), so its next owner starts after the last tick in Redis. Redis unavailable:
//! retry with backoff, offsets held. Every message is decoded by the schema id in its header
//! (resolved through the Schema Registry once per id, [`crate::registry::resolver`]); a
//! message that cannot be decoded (unknown id, incompatible writer schema, bad bytes) goes to
//! the DLQ with a typed reason and its offset moves on with the batch.

use super::batch::{Batch, Letter, SourceRef};
pub use super::stats::CacheStats;
use super::writer::{DlqSink, RedisTarget, writer};
use crate::config::AppConfig;
use crate::kafka::{TickProducer, dlq::rfc3339_micros, producer_properties};
use crate::model::time::now_us;
use crate::registry::resolver::Resolver;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{ClientConfig, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Longest wait for the writer when partitions are revoked.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

/// Least time left for the final commit and leaving the group, even past the deadline.
const CLOSE_AT_LEAST: Duration = Duration::from_secs(1);

/// Work for the writer.
#[derive(Debug)]
pub(super) enum Job {
    Write(Batch),
    Stop,
}

/// State shared by the polling thread, its rebalance callback and the writer.
#[derive(Debug)]
pub(super) struct Shared {
    gathering: Mutex<Batch>,
    /// True while the writer holds a batch (from hand-off until its offsets are stored).
    busy: Mutex<bool>,
    idle: Condvar,
    jobs: mpsc::Sender<Job>,
    paused: AtomicBool,
    pub(super) stats: Arc<CacheStats>,
    batch_max: u64,
    batch_wait: Duration,
    /// The shutdown deadline, set when the polling thread stops.
    stop_by: Mutex<Option<Instant>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The data stays consistent across a panic elsewhere (plain counters and maps).
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn gathering(&self) -> MutexGuard<'_, Batch> {
        lock(&self.gathering)
    }

    /// Hands the gathering batch to the writer when the writer is idle and the batch is due
    /// (or `force`). True when handed off.
    fn hand_off(&self, force: bool) -> bool {
        let mut busy = lock(&self.busy);
        if *busy {
            return false;
        }
        let mut gathering = self.gathering();
        let due = gathering.messages >= self.batch_max
            || gathering
                .started
                .is_some_and(|t| t.elapsed() >= self.batch_wait);
        if gathering.is_empty() || !(force || due) {
            return false;
        }
        let batch = std::mem::take(&mut *gathering);
        drop(gathering);
        // The writer is idle, so the one-slot queue is free; it fails only when the writer
        // has gone (stopped), and then the batch's offsets stay uncommitted.
        if self.jobs.try_send(Job::Write(batch)).is_err() {
            return false;
        }
        *busy = true;
        true
    }

    /// Waits until the writer is idle; false when `timeout` passed first.
    fn wait_idle(&self, timeout: Duration) -> bool {
        let busy = lock(&self.busy);
        let (busy, _) = self
            .idle
            .wait_timeout_while(busy, timeout, |b| *b)
            .unwrap_or_else(PoisonError::into_inner);
        !*busy
    }

    /// Writes everything gathered so far (bounded by `timeout`); true when done.
    fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        if !self.wait_idle(timeout) {
            return false;
        }
        if !self.hand_off(true) {
            return self.gathering().is_empty();
        }
        self.wait_idle(deadline.saturating_duration_since(Instant::now()))
    }

    /// Time left before the shutdown deadline (`None`: not stopping yet).
    pub(super) fn stop_left(&self) -> Option<Duration> {
        lock(&self.stop_by).map(|by| by.saturating_duration_since(Instant::now()))
    }

    pub(super) fn writer_idle(&self) {
        *lock(&self.busy) = false;
        self.idle.notify_all();
    }

    /// One look at the gathering batch after each poll: its distinct keys, and the next poll's
    /// timeout (the batch goes as soon as it is due; shutdown is seen within 100 ms).
    fn glance(&self) -> (usize, Duration) {
        let most = Duration::from_millis(100);
        let gathering = self.gathering();
        let timeout = match gathering.started {
            None => most,
            Some(t) => self
                .batch_wait
                .saturating_sub(t.elapsed())
                .clamp(Duration::from_millis(2), most),
        };
        // Dead letters count like keys: a flood of them while the DLQ is down is bounded too.
        (gathering.keys() + gathering.letters.len(), timeout)
    }
}

/// The consumer's context: counts failed commits, flushes before partitions are revoked.
#[derive(Debug)]
pub struct CacheContext {
    shared: Arc<Shared>,
    /// Print every librdkafka log line (the `debug` property is set).
    verbose: bool,
    /// `bootstrap.servers`, named in every error.
    bootstrap: String,
}

impl ClientContext for CacheContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        crate::kafka::librdkafka_log(self.verbose, level, fac, message);
    }

    fn stats(&self, statistics: rdkafka::Statistics) {
        let mut lag = BTreeMap::new();
        for (topic, t) in statistics.topics {
            for (partition, p) in t.partitions {
                // Partition -1 is librdkafka's internal one. librdkafka's lag is against the
                // committed offset; a partition with nothing committed yet (empty, or just
                // assigned) counts from where consumption starts.
                let known = |o: i64| (o >= 0).then_some(o);
                let n = if p.consumer_lag >= 0 {
                    p.consumer_lag
                } else if let (true, Some(hi)) = (p.fetch_state == "active", known(p.hi_offset)) {
                    let from = [p.app_offset, p.committed_offset, p.lo_offset, 0]
                        .into_iter()
                        .max()
                        .unwrap_or(0);
                    (hi - from).max(0)
                } else {
                    continue;
                };
                if partition >= 0 {
                    lag.insert((topic.clone(), partition), n);
                }
            }
        }
        *lock(&self.shared.stats.lag) = lag;
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let stats = &self.shared.stats;
        let kind = match error.rdkafka_error_code() {
            Some(code) => format!("{code:?}"),
            None => error.to_string(),
        };
        if let Some((so_far, more)) = stats.failure(&stats.kafka_errors, &kind) {
            tracing::warn!(
                so_far,
                "kafka {}: {error}: {reason} (librdkafka retries){more}",
                self.bootstrap
            );
        }
    }
}

impl ConsumerContext for CacheContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(_) = rebalance {
            // Everything gathered is written and committed before the partitions go, so the
            // next owner starts after the last tick in Redis (when stopping: within what is
            // left of the deadline).
            let within = self.shared.stop_left().unwrap_or(FLUSH_TIMEOUT);
            if !self.shared.flush(within) {
                tracing::warn!(
                    "partitions revoked before Redis acknowledged the gathered ticks; their next owner re-reads them (harmless: compare-and-set)"
                );
            }
            commit(consumer, "on revocation");
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let assigned = match rebalance {
            Rebalance::Assign(partitions) => partitions.count(),
            _ => 0,
        };
        let stats = &self.shared.stats;
        stats.assigned.store(assigned as u64, Ordering::Relaxed);
        // An assignment, even an empty one, means the member is in the group.
        stats
            .joined
            .store(matches!(rebalance, Rebalance::Assign(_)), Ordering::Relaxed);
        if let Rebalance::Assign(partitions) = rebalance
            && self.shared.paused.load(Ordering::Relaxed)
            && let Err(e) = consumer.pause(partitions)
        {
            tracing::warn!("pausing newly assigned partitions: {e}");
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        match result {
            // Nothing stored since the last commit: not a failure.
            Err(e) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::NoOffset) => {}
            Err(e) => {
                let stats = &self.shared.stats;
                if let Some((so_far, more)) = stats.failure(&stats.commit_errors, "commit") {
                    tracing::warn!(
                        so_far,
                        "offset commit failed (the next commit retries): {e}{more}"
                    );
                }
            }
            Ok(()) => {}
        }
    }
}

/// Commits the stored offsets synchronously.
fn commit(consumer: &BaseConsumer<CacheContext>, when: &str) {
    match consumer.commit_consumer_state(CommitMode::Sync) {
        // Nothing stored since the last commit is reported as an error too; it is harmless.
        Err(e) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::NoOffset) => {}
        Err(e) => tracing::warn!(
            "offset commit {when} failed; the next owner re-reads from the last commit: {e}"
        ),
        Ok(()) => {}
    }
}

pub(super) type CacheConsumer = BaseConsumer<CacheContext>;

/// Builds the consumer: group, manual offset store, auto commit of stored offsets.
fn consumer(app: &AppConfig, shared: Arc<Shared>) -> KafkaResult<CacheConsumer> {
    let mut config = ClientConfig::new();
    // Kafka's default of 500 ms lets a broker hold each fetch that long (tansu 0.6.0 does, even
    // with data waiting); a price cache wants fresh data. Overridable in [kafka].
    config.set("fetch.wait.max.ms", "10");
    // librdkafka stops fetching for fetch.queue.backoff.ms (default 1 s) whenever its local
    // queue is above queued.min.messages, which a catching-up consumer hits all the time: the
    // 1 s pauses cut consumption to a third here (librdkafka #2879). Overridable in [kafka].
    config.set("fetch.queue.backoff.ms", "10");
    // Consumer lag per partition for /metrics comes from librdkafka's statistics.
    config.set("statistics.interval.ms", "5000");
    for (k, v) in &producer_properties(&app.kafka) {
        if !crate::kafka::admin::is_producer_only(k) && k != "client.id" {
            config.set(k, v);
        }
    }
    // `[kafka] client.id` names gather's clients and the cache's dead-letter producer; this
    // consumer is always tickflow-cache, said once. group.id and the fixed properties are
    // refused in `[kafka]` at load (config::kafka), so nothing below replaces a setting unsaid.
    if let Some(id) = app.kafka.get("client.id") {
        tracing::info!(
            "[kafka] client.id={id} names the cache's dead-letter producer and admin client; its consumer is tickflow-cache"
        );
    }
    config
        .set("client.id", "tickflow-cache")
        .set("group.id", &app.cache.group_id);
    // Offsets are stored by tickflow after Redis acknowledged the batch, never before.
    for (key, value, _) in crate::config::kafka::CACHE_CONSUMER_FIXED {
        config.set(key, value);
    }
    // `debug` (e.g. TICKFLOW_KAFKA__DEBUG=consumer,fetch) turns on librdkafka's own log.
    let verbose = app.kafka.contains_key("debug");
    if verbose {
        config.set_log_level(RDKafkaLogLevel::Debug);
    }
    let bootstrap = app
        .kafka
        .get("bootstrap.servers")
        .cloned()
        .unwrap_or_else(|| "(no bootstrap.servers)".into());
    config.create_with_context(CacheContext {
        shared,
        verbose,
        bootstrap,
    })
}

/// What the polling thread needs.
struct Poller {
    consumer: Arc<CacheConsumer>,
    shared: Arc<Shared>,
    resolver: Resolver,
    pending_keys_max: usize,
    shutdown: watch::Receiver<bool>,
    /// One deadline for writing what was gathered and committing.
    shutdown_timeout: Duration,
}

impl Poller {
    /// Polls until shutdown, then hands the last batch to the writer and stops it.
    fn run(self) {
        let mut timeout = self.shared.glance().1;
        while !*self.shutdown.borrow() {
            match self.consumer.poll(timeout) {
                Some(Ok(m)) => self.take(&m),
                Some(Err(e)) => {
                    let stats = &self.shared.stats;
                    if let Some((so_far, more)) = stats.failure(&stats.kafka_errors, "consume") {
                        tracing::warn!(so_far, "kafka consume (librdkafka retries): {e}{more}");
                    }
                }
                None => {}
            }
            self.shared.hand_off(false);
            let (keys, next) = self.shared.glance();
            self.backpressure(keys >= self.pending_keys_max);
            timeout = next;
        }
        *lock(&self.shared.stop_by) = Some(Instant::now() + self.shutdown_timeout);
        if !self.shared.flush(self.shutdown_timeout) {
            tracing::warn!(
                "stopping with ticks Redis (or dead letters the DLQ) has not acknowledged within the shutdown deadline of {:?}; their offsets stay uncommitted",
                self.shutdown_timeout
            );
        }
    }

    /// Pauses the assigned partitions while the gathering batch is `full`, resumes after.
    fn backpressure(&self, full: bool) {
        if full == self.shared.paused.load(Ordering::Relaxed) {
            return;
        }
        let result = self.consumer.assignment().and_then(|partitions| {
            if full {
                self.consumer.pause(&partitions)
            } else {
                self.consumer.resume(&partitions)
            }
        });
        match result {
            Ok(()) => {
                self.shared.paused.store(full, Ordering::Relaxed);
                if full {
                    self.shared.stats.pauses.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(e) => tracing::warn!(full, "pausing/resuming partitions: {e}"),
        }
    }

    /// Decodes one message into the gathering batch, or makes it a dead letter of the batch.
    fn take(&self, m: &BorrowedMessage<'_>) {
        let stats = &self.shared.stats;
        stats.consumed.fetch_add(1, Ordering::Relaxed);
        let payload = m.payload().unwrap_or_default();
        let decoded = self.resolver.decode(payload);
        let letter = match &decoded {
            Err(e) => Some(self.dead_letter(m, payload, e.reason, &e.error)),
            Ok(_) => None,
        };
        let mut gathering = self.shared.gathering();
        gathering.cover(m.topic(), m.partition(), m.offset());
        match decoded {
            Ok((_, mut tick)) => {
                tick.simulated = is_simulated(m);
                let from = SourceRef {
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m.key().unwrap_or_default(),
                    payload,
                };
                gathering.add(tick, from);
            }
            Err(_) => gathering.letters.extend(letter),
        }
    }

    fn dead_letter(
        &self,
        m: &BorrowedMessage<'_>,
        payload: &[u8],
        reason: &'static str,
        error: &str,
    ) -> Letter {
        let stats = &self.shared.stats;
        let so_far = stats.poison.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(more) = stats.poison_log.admit(reason) {
            tracing::warn!(
                partition = m.partition(),
                offset = m.offset(),
                so_far,
                reason,
                "message not decoded, sent to the DLQ: {error}{more}"
            );
        }
        self.shared.stats.count_poison_reason(reason);
        Letter {
            key: m.key().unwrap_or_default().to_vec(),
            payload: payload.to_vec(),
            headers: vec![
                ("stage", "decode".to_owned()),
                ("reason", reason.to_owned()),
                ("error", error.to_owned()),
                ("received_at", rfc3339_micros(now_us())),
                ("source_topic", m.topic().to_owned()),
                ("source_partition", m.partition().to_string()),
                ("source_offset", m.offset().to_string()),
            ],
        }
    }
}

/// The message carries the `simulated: true` header (synthetic data).
pub(super) fn is_simulated(m: &BorrowedMessage<'_>) -> bool {
    use rdkafka::message::Headers;
    let (key, value) = crate::kafka::producer::SIMULATED_HEADER;
    m.headers().is_some_and(|h| {
        h.iter()
            .any(|x| x.key == key && x.value == Some(value.as_bytes()))
    })
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
    let stats = Arc::new(CacheStats {
        stall_timeout: app.cache.stall_timeout,
        ..CacheStats::default()
    });
    let (jobs, inbox) = mpsc::channel(1);
    let shared = Arc::new(Shared {
        gathering: Mutex::new(Batch::default()),
        busy: Mutex::new(false),
        idle: Condvar::new(),
        jobs,
        paused: AtomicBool::new(false),
        stats: Arc::clone(&stats),
        batch_max: app.cache.batch_max as u64,
        batch_wait: app.cache.batch_wait,
        stop_by: Mutex::new(None),
    });
    let consumer = Arc::new(consumer(app, Arc::clone(&shared))?);
    // A URL that cannot work is a configuration error; a server not answering yet is retried
    // by the writer (it may start after the cache).
    redis::Client::open(app.redis_url.expose()).map_err(|e| {
        anyhow::anyhow!(
            "[redis] url: {}",
            super::store::describe(app.redis_url.expose(), &e)
        )
    })?;
    let store = RedisTarget {
        url: app.redis_url.expose().to_owned(),
        cluster: app.redis_cluster,
        prefix: app.cache.prefix.clone(),
        ttl: app.cache.ttl,
    };
    let properties = producer_properties(&app.kafka);
    // Like gather: a dead letter must have somewhere to go before any offset moves on, and the
    // cache may start before gather made the ticks topic (librdkafka would look for a missing
    // subscribed topic again only at its next metadata refresh, minutes later).
    crate::kafka::admin::ensure_configured(
        app,
        &properties,
        &[&app.topics.ticks, &app.topics.dlq, &app.topics.instruments],
    )
    .await?;
    // The instrument reference: its own reader of the whole compacted topic (not the group's;
    // see cache::reference), writing through its own Redis connection.
    let reader =
        super::reference::Reader::new(app, store.clone(), Arc::clone(&stats), shutdown.clone())?;
    let reading = std::thread::Builder::new()
        .name("cache-reference".into())
        .spawn(move || reader.run())?;
    // Subscribed once the topic exists.
    consumer.subscribe(&[&app.topics.ticks])?;
    let dlq = DlqSink {
        producer: TickProducer::new(&properties, app.gather.max_block, Arc::clone(&stats.dlq))?,
        topic: app.topics.dlq.clone(),
        source_topic: app.topics.ticks.clone(),
    };
    let registry = match &app.schema_registry {
        Some(settings) => Some((
            crate::registry::Registry::new(settings)?,
            tokio::runtime::Handle::current(),
        )),
        None => {
            tracing::info!(
                "no [schema_registry] configured: reading only messages with schema id {} ([output] schema_id)",
                app.schema_id
            );
            None
        }
    };
    let poller = Poller {
        consumer: Arc::clone(&consumer),
        shared: Arc::clone(&shared),
        resolver: Resolver::new(registry, app.schema_id, app.format),
        pending_keys_max: app.cache.pending_keys_max,
        shutdown: shutdown.clone(),
        shutdown_timeout: app.cache.shutdown_timeout,
    };
    let mut stopping = shutdown.clone();
    let deadline_of = Arc::clone(&shared);
    let stopper = Arc::clone(&shared);
    let polling = std::thread::Builder::new()
        .name("cache-poll".into())
        .spawn(move || {
            let ended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| poller.run()));
            // Always stop the writer, even after a panic (it fails when the writer has gone
            // already, shut down while Redis was failing).
            let _ = stopper.jobs.blocking_send(Job::Stop);
            ended.is_ok()
        })?;
    let writing = tokio::spawn(writer(
        inbox,
        store,
        Arc::clone(&consumer),
        shared,
        dlq,
        shutdown,
    ));
    let task = tokio::spawn(async move {
        let _ = stopping.wait_for(|stop| *stop).await;
        // The polling thread writes what was gathered (bounded by the deadline) and stops.
        if !tokio::task::spawn_blocking(move || polling.join().unwrap_or(false)).await? {
            anyhow::bail!("the cache's polling thread panicked");
        }
        let left = deadline_of.stop_left().unwrap_or(Duration::ZERO);
        let mut writing = writing;
        if tokio::time::timeout(left, &mut writing).await.is_err() {
            tracing::warn!(
                "the writer was still waiting for Redis or the DLQ at the shutdown deadline; that batch's offsets stay uncommitted"
            );
            // Stopped here, so that it releases the consumer for the bounded close below.
            writing.abort();
            let _ = writing.await;
        }
        // The reference reader stops between two operations (each bounded); it commits nothing.
        let (read, reader_done) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("cache-reference-join".into())
            .spawn(move || {
                let _ = reading.join();
                let _ = read.send(());
            })?;
        let bound = super::store::REDIS_TIMEOUT + Duration::from_secs(1);
        if tokio::task::spawn_blocking(move || reader_done.recv_timeout(bound))
            .await?
            .is_err()
        {
            tracing::warn!("the instrument reference reader did not stop within {bound:?}");
        }
        let close_within = deadline_of
            .stop_left()
            .unwrap_or(Duration::ZERO)
            .max(CLOSE_AT_LEAST);
        // Commit what Redis has acknowledged, then leave the group (the drop closes). With the
        // broker gone, librdkafka's close can wait forever: bounded here, and on a plain thread
        // so that nothing waits for it after the timeout.
        let (closed, done) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("cache-close".into())
            .spawn(move || {
                commit(&consumer, "at shutdown");
                drop(consumer);
                let _ = closed.send(());
            })?;
        let left = tokio::task::spawn_blocking(move || done.recv_timeout(close_within)).await?;
        if left.is_err() {
            tracing::warn!(
                "leaving the consumer group did not finish within {close_within:?} (broker unreachable?); the group drops this member after session.timeout.ms"
            );
        }
        Ok(())
    });
    Ok(RunningCache { stats, task })
}
