//! The cache's member of the consumer group: its librdkafka context (consumer lag from the
//! statistics, errors and failed commits counted, everything gathered written and committed
//! before partitions are revoked), how it is built ([`crate::kafka::contract`] states its
//! settings) and its synchronous commit.

use super::handoff::Handoff;
use crate::config::AppConfig;
use rdkafka::TopicPartitionList;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

/// Longest wait for the writer when partitions are revoked.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

/// The consumer's context: counts failed commits, flushes before partitions are revoked.
#[derive(Debug)]
pub(super) struct CacheContext {
    shared: Arc<Handoff>,
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
        *self
            .shared
            .stats
            .lag
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = lag;
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
            && self.shared.paused()
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
pub(super) fn commit(consumer: &BaseConsumer<CacheContext>, when: &str) {
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

/// Builds the consumer ([`crate::kafka::contract::cache_consumer_config`]: group, manual
/// offset store, auto commit of stored offsets).
pub(super) fn consumer(app: &AppConfig, shared: Arc<Handoff>) -> KafkaResult<CacheConsumer> {
    let properties = crate::kafka::producer_properties(&app.kafka);
    // `[kafka] client.id` names gather's clients and the cache's dead-letter producer; this
    // consumer is always tickflow-cache, said once. group.id and the fixed properties are
    // refused in `[kafka]` at load (config::kafka), so nothing replaces a setting unsaid.
    if let Some(id) = app.kafka.get("client.id") {
        tracing::info!(
            "[kafka] client.id={id} names the cache's dead-letter producer and admin client; its consumer is {}",
            crate::kafka::contract::CACHE_CLIENT_ID
        );
    }
    let config = crate::kafka::contract::cache_consumer_config(&properties, &app.cache.group_id);
    // `debug` (e.g. TICKFLOW_KAFKA__DEBUG=consumer,fetch) turns on librdkafka's own log.
    let verbose = app.kafka.contains_key("debug");
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
