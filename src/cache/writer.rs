//! The cache's writer: takes each batch the polling thread hands over, writes it through the
//! compare-and-set (retrying transient Redis errors with backoff), sends its dead letters (the
//! undecodable messages, the ticks Redis refused for their key alone) and waits for the DLQ's
//! acknowledgement of each, and only then stores the batch's offsets for commit.

use super::Store;
use super::batch::Letter;
use super::group::CacheConsumer;
use super::handoff::{Handoff, Job};
use super::stats::CacheStats;
use super::store::Applied;
use crate::kafka::contract::{self, Origin, Source};
use crate::kafka::{DeadLetter, TickProducer, Ticket};
use crate::model::time::now_us;
use rdkafka::consumer::Consumer;
use rdkafka::{Offset, TopicPartitionList};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Where the writer connects.
#[derive(Debug, Clone)]
pub(super) struct RedisTarget {
    pub(super) url: String,
    pub(super) cluster: bool,
    pub(super) prefix: String,
    pub(super) ttl: Duration,
}

/// Connects to Redis (loading the script), retrying with backoff until it answers; `None`
/// when shutdown came first. Consumption goes on meanwhile, paused at `pending_keys_max`.
async fn open_store(
    t: &RedisTarget,
    stats: &CacheStats,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<Store> {
    let mut delay = Duration::from_millis(100);
    let mut failing = false;
    loop {
        match Store::open(&t.url, t.cluster, &t.prefix, t.ttl).await {
            Ok(store) => {
                stats.redis_up.store(1, Ordering::Relaxed);
                if failing {
                    tracing::info!("{}: connected", crate::config::redact_url(&t.url));
                }
                return Some(store);
            }
            Err(e) => {
                stats.redis_errors.fetch_add(1, Ordering::Relaxed);
                if !failing {
                    tracing::warn!(
                        "{}: not answering at start; retrying with backoff (up to 5 s apart), offsets held",
                        super::store::describe(&t.url, &e)
                    );
                    failing = true;
                }
            }
        }
        if !back_off(&mut delay, shutdown).await {
            return None;
        }
    }
}

/// Waits `delay` (doubled for next time, at most 5 s) unless stopping; false when stopping.
async fn back_off(delay: &mut Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    if *shutdown.borrow() {
        return false;
    }
    tokio::select! {
        biased;
        _ = shutdown.changed() => return false,
        () = tokio::time::sleep(*delay) => {}
    }
    *delay = (*delay * 2).min(Duration::from_secs(5));
    true
}

/// The DLQ as the writer sees it.
pub(super) struct DlqSink {
    pub(super) producer: TickProducer,
    pub(super) topic: String,
    /// The ticks topic (named in the headers of refused updates).
    pub(super) source_topic: String,
}

/// Writes each batch handed over, delivers its dead letters, then stores its offsets; until
/// `Job::Stop`. After each batch it takes what gathered meanwhile itself
/// ([`Handoff::writer_next`]), so a batch never waits for an idle writer.
pub(super) async fn writer(
    mut jobs: mpsc::Receiver<Job>,
    target: RedisTarget,
    consumer: Arc<CacheConsumer>,
    shared: Arc<Handoff>,
    dlq: DlqSink,
    mut shutdown: watch::Receiver<bool>,
) {
    let stats = Arc::clone(&shared.stats);
    let Some(mut store) = open_store(&target, &stats, &mut shutdown).await else {
        // Stopped before Redis ever answered: nothing was written, nothing is committed.
        jobs.close();
        shared.writer_idle();
        return;
    };
    let mut sink = Sink {
        store: &mut store,
        consumer: &consumer,
        shared: &shared,
        dlq: &dlq,
    };
    'jobs: while let Some(Job::Write(batch)) = jobs.recv().await {
        let mut next = Some(batch);
        while let Some(batch) = next.take() {
            if !sink.write_batch(batch, &mut shutdown).await {
                // Given up while stopping: its offsets stay where they were. A later batch
                // must not be written either, or its offsets would commit past this one's.
                break 'jobs;
            }
            next = shared.writer_next();
        }
    }
    jobs.close();
    shared.writer_idle();
}

/// Where a batch goes: Redis, the DLQ, the consumer's offset store.
struct Sink<'a> {
    store: &'a mut Store,
    consumer: &'a CacheConsumer,
    shared: &'a Handoff,
    dlq: &'a DlqSink,
}

impl Sink<'_> {
    /// Writes `batch`, delivers its dead letters and stores its offsets. False when stopping
    /// came first (nothing of it stored).
    async fn write_batch(
        &mut self,
        mut batch: super::batch::Batch,
        shutdown: &mut watch::Receiver<bool>,
    ) -> bool {
        let stats = &self.shared.stats;
        let mut letters = std::mem::take(&mut batch.letters);
        let entries = batch.entries();
        let ticks: Vec<&crate::model::Tick> = entries.iter().map(|(t, _)| *t).collect();
        stats
            .coalesced
            .fetch_add(batch.coalesced, Ordering::Relaxed);
        let Some(applied) = write(self.store, &ticks, stats, shutdown).await else {
            return false;
        };
        for refused in &applied.refused {
            let (tick, source) = entries[refused.index];
            stats.count_refusal(refused.reason);
            if let Some(more) = stats.refusals_log.admit(refused.reason) {
                tracing::warn!(
                    key = %super::contract::price_key(self.store.prefix(), tick.instrument.as_str(), tick.exchange),
                    reason = refused.reason,
                    "redis refused this key alone; its tick goes to the DLQ, the others are written: {}{more}",
                    refused.error
                );
            }
            let from = Source {
                topic: &self.dlq.source_topic,
                partition: source.partition,
                offset: source.offset,
            };
            letters.push(Letter {
                key: source.key.to_vec(),
                payload: source.payload.to_vec(),
                headers: contract::dead_letter_headers(
                    &DeadLetter::refused(refused.reason, &refused.error),
                    &Origin::Refused(tick.exchange, from),
                    now_us(),
                ),
            });
        }
        if !letters.is_empty() && !deliver(self.dlq, letters, self.shared, shutdown).await {
            // Stopping before the DLQ acknowledged: the offsets stay where they were, and the
            // next consumer reads these messages again.
            return false;
        }
        let mut list = TopicPartitionList::new();
        for (topic, partition, offset) in batch.offsets() {
            // The committed position is the next message to read.
            let _ = list.add_partition_offset(topic, *partition, Offset::Offset(offset + 1));
        }
        if let Err(e) = self.consumer.store_offsets(&list) {
            // A partition revoked meanwhile: its new owner re-reads; the CAS makes that
            // harmless.
            tracing::debug!("storing offsets: {e}");
        }
        stats
            .acknowledged
            .fetch_add(batch.messages, Ordering::Relaxed);
        true
    }
}

/// Sends `letters` to the DLQ and waits for the broker's acknowledgement of each; the ones
/// that failed are sent again with backoff. True when all were acknowledged; false when
/// shutdown came first.
async fn deliver(
    dlq: &DlqSink,
    mut letters: Vec<Letter>,
    shared: &Handoff,
    shutdown: &mut watch::Receiver<bool>,
) -> bool {
    let stats = &shared.stats;
    let mut delay = Duration::from_millis(100);
    loop {
        stats
            .dlq_pending
            .store(letters.len() as u64, Ordering::Relaxed);
        let tickets: Vec<Option<Arc<Ticket>>> = letters
            .iter()
            .map(|l| {
                let ticket = Arc::new(Ticket::default());
                dlq.producer
                    .send_tracked_dead_letter(
                        &dlq.topic,
                        &l.key,
                        &l.payload,
                        &l.headers,
                        Arc::clone(&ticket),
                    )
                    .map_err(|e| {
                        if let Some(more) = stats.dlq_log.admit("refused") {
                            tracing::error!("dead letter not handed to the producer: {e}{more}");
                        }
                    })
                    .ok()
                    .map(|()| ticket)
            })
            .collect();
        // librdkafka settles each within message.timeout.ms; stopping, until the deadline.
        while !tickets.iter().flatten().all(|t| t.outcome().is_some()) {
            if shared.stop_left() == Some(Duration::ZERO) {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let failed: Vec<Letter> = letters
            .into_iter()
            .zip(&tickets)
            .filter(|(_, t)| t.as_ref().and_then(|t| t.outcome()) != Some(true))
            .map(|(l, _)| l)
            .collect();
        if failed.is_empty() {
            stats.dlq_pending.store(0, Ordering::Relaxed);
            stats.dlq_failing.store(false, Ordering::Relaxed);
            return true;
        }
        stats.dlq_failing.store(true, Ordering::Relaxed);
        stats
            .dlq_failures
            .fetch_add(failed.len() as u64, Ordering::Relaxed);
        if let Some(more) = stats.dlq_log.admit("not acknowledged") {
            tracing::error!(
                "{} dead letters not acknowledged by {} (topic {}); sent again in {delay:?}, the batch's offsets held{more}",
                failed.len(),
                dlq.producer.bootstrap(),
                dlq.topic
            );
        }
        letters = failed;
        if !back_off(&mut delay, shutdown).await {
            return false;
        }
    }
}

/// Writes until Redis acknowledges (what it did) or shutdown comes first (`None`).
async fn write(
    store: &mut Store,
    ticks: &[&crate::model::Tick],
    stats: &CacheStats,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<Applied> {
    let mut delay = Duration::from_millis(100);
    loop {
        let reloads = store.script_reloads;
        let (partial, index_refused) = (store.applied_in_failed, store.index_refused);
        let result = store.apply(ticks, now_us()).await;
        stats
            .script_reloads
            .fetch_add(store.script_reloads - reloads, Ordering::Relaxed);
        stats
            .applied_in_failed
            .fetch_add(store.applied_in_failed - partial, Ordering::Relaxed);
        stats
            .index_refused
            .fetch_add(store.index_refused - index_refused, Ordering::Relaxed);
        match result {
            Ok(done) => {
                stats.redis_up.store(1, Ordering::Relaxed);
                stats.applied.fetch_add(done.applied, Ordering::Relaxed);
                stats.stale.fetch_add(done.stale, Ordering::Relaxed);
                stats
                    .delisted_ticks
                    .fetch_add(done.delisted, Ordering::Relaxed);
                stats.batches.fetch_add(1, Ordering::Relaxed);
                let now = now_us();
                for t in ticks {
                    stats
                        .receive_to_redis_us
                        .record(u64::try_from(now - t.received_ts_us).unwrap_or(0));
                }
                return Some(done);
            }
            Err(e) => {
                let first = stats.redis_up.swap(0, Ordering::Relaxed) == 1
                    || stats.redis_errors.load(Ordering::Relaxed) == 0;
                stats.redis_errors.fetch_add(1, Ordering::Relaxed);
                if first {
                    tracing::warn!(
                        "{}: write failed, retrying with backoff, offsets held",
                        store.describe(&e)
                    );
                }
                if !back_off(&mut delay, shutdown).await {
                    return None;
                }
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
