//! `tickflow cache`: Kafka (`ticks.v1`, consumer group) → Redis, at least once.
//!
//! Two stages overlap. A polling thread consumes, decodes and coalesces into the gathering
//! [`super::batch::Batch`] (newest tick per key, highest offset per partition). A writer task
//! takes the batch as soon as Redis is idle (with `batch_wait` > 0: once it is that old or holds
//! `batch_max` messages), writes it through the compare-and-set and only then stores its offsets
//! for commit. While a write is in flight the next batch keeps coalescing, and the writer takes
//! it itself when the write is done (natural batching): a lone tick is written at once, and the
//! slower Redis is, the more messages each write covers. At `pending_keys_max` distinct keys
//! the thread pauses its partitions until the writer catches up (bounded memory, the group
//! still served). What the two stages share is owned by `cache::handoff`; the group member's
//! librdkafka context and commit are `cache::group`'s.
//!
//! A revoked partition first has everything gathered written and committed (the rebalance
//! callback flushes), so its next owner starts after the last tick in Redis. Redis unavailable:
//! retry with backoff, offsets held. Every message is decoded by the schema id in its header
//! (resolved through the Schema Registry once per id, [`crate::registry::resolver`]); a
//! message that cannot be decoded (unknown id, incompatible writer schema, bad bytes) goes to
//! the DLQ with a typed reason and its offset moves on with the batch.

use super::batch::{Letter, SourceRef};
use super::group::{CacheConsumer, commit, consumer};
use super::handoff::Handoff;
pub use super::stats::CacheStats;
use super::writer::{DlqSink, RedisTarget, writer};
use crate::config::AppConfig;
use crate::kafka::contract::{self, Origin, Source};
use crate::kafka::{DeadLetter, TickProducer, producer_properties};
use crate::model::time::now_us;
use crate::registry::DecodeFailure;
use crate::registry::resolver::Resolver;
use rdkafka::consumer::Consumer;
use rdkafka::message::{BorrowedMessage, Message};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Least time left for the final commit and leaving the group, even past the deadline.
const CLOSE_AT_LEAST: Duration = Duration::from_secs(1);

/// What the polling thread needs.
struct Poller {
    consumer: Arc<CacheConsumer>,
    shared: Arc<Handoff>,
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
        self.shared.stop_within(self.shutdown_timeout);
        if !self.shared.flush(self.shutdown_timeout) {
            tracing::warn!(
                "stopping with ticks Redis (or dead letters the DLQ) has not acknowledged within the shutdown deadline of {:?}; their offsets stay uncommitted",
                self.shutdown_timeout
            );
        }
    }

    /// Pauses the assigned partitions while the gathering batch is `full`, resumes after.
    fn backpressure(&self, full: bool) {
        if full == self.shared.paused() {
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
                self.shared.set_paused(full);
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
            Err(e) => Some(self.dead_letter(m, payload, e)),
            Ok(_) => None,
        };
        let mut gathering = self.shared.gathering();
        gathering.cover(m.topic(), m.partition(), m.offset());
        match decoded {
            Ok((_, mut tick)) => {
                tick.simulated = contract::is_simulated(m);
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
        failure: &DecodeFailure,
    ) -> Letter {
        let stats = &self.shared.stats;
        let reason = failure.reason.code();
        let so_far = stats.poison.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(more) = stats.poison_log.admit(reason) {
            tracing::warn!(
                partition = m.partition(),
                offset = m.offset(),
                so_far,
                reason,
                "message not decoded, sent to the DLQ: {}{more}",
                failure.error
            );
        }
        stats.count_poison_reason(failure.reason);
        let source = Source {
            topic: m.topic(),
            partition: m.partition(),
            offset: m.offset(),
        };
        Letter {
            key: m.key().unwrap_or_default().to_vec(),
            payload: payload.to_vec(),
            headers: contract::dead_letter_headers(
                &DeadLetter::undecodable(failure),
                &Origin::Undecodable(source),
                now_us(),
            ),
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
    let stats = Arc::new(CacheStats {
        stall_timeout: app.cache.stall_timeout,
        ..CacheStats::default()
    });
    let (jobs, inbox) = mpsc::channel(1);
    let shared = Arc::new(Handoff::new(
        jobs,
        Arc::clone(&stats),
        app.cache.batch_max as u64,
        app.cache.batch_wait,
    ));
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
        &[
            &app.topics.ticks,
            &app.topics.dlq,
            &app.topics.instruments,
            &app.topics.status,
        ],
    )
    .await?;
    // The instrument reference: its own reader of the whole compacted topic (not the group's;
    // see cache::reference), writing through its own Redis connection.
    let reader =
        super::reference::Reader::new(app, store.clone(), Arc::clone(&stats), shutdown.clone())?;
    let reading = std::thread::Builder::new()
        .name("cache-reference".into())
        .spawn(move || reader.run())?;
    // The feed status: likewise its own reader of the whole topic (see cache::status).
    let status_reader =
        super::status::Reader::new(app, store.clone(), Arc::clone(&stats), shutdown.clone())?;
    let reading_status = std::thread::Builder::new()
        .name("cache-status".into())
        .spawn(move || status_reader.run())?;
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
            let _ = stopper.stop_writer();
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
        // The reference and status readers stop between two operations (each bounded); they
        // commit nothing.
        let (read, reader_done) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("cache-reference-join".into())
            .spawn(move || {
                let _ = reading.join();
                let _ = reading_status.join();
                let _ = read.send(());
            })?;
        let bound = super::store::REDIS_TIMEOUT + Duration::from_secs(1);
        if tokio::task::spawn_blocking(move || reader_done.recv_timeout(bound))
            .await?
            .is_err()
        {
            tracing::warn!(
                "the instrument reference or feed status reader did not stop within {bound:?}"
            );
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
