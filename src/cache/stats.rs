//! Counters and metrics of `tickflow cache`.

use crate::metrics::{Exposition, Histogram};
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of the cache consumer.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Messages consumed.
    pub consumed: AtomicU64,
    /// Messages covered by batches Redis acknowledged (their offsets stored for commit).
    pub acknowledged: AtomicU64,
    /// Messages that could not be decoded (sent to the DLQ).
    pub poison: AtomicU64,
    /// The same by DLQ reason, in the order of [`POISON_REASONS`].
    pub poison_by_reason: [AtomicU64; POISON_REASONS.len()],
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
    /// Consumer errors reported by librdkafka (it retries by itself).
    pub kafka_errors: AtomicU64,
    /// Times consumption paused because the gathering batch reached `pending_keys_max`.
    pub pauses: AtomicU64,
    /// Script reloads after NOSCRIPT.
    pub script_reloads: AtomicU64,
    /// 1 while Redis answers.
    pub redis_up: AtomicU64,
    /// Exchange receive → applied in Redis, µs.
    pub receive_to_redis_us: Histogram,
    /// Consumer lag per assigned partition (high watermark − position), from librdkafka's
    /// statistics every few seconds.
    pub lag: std::sync::Mutex<std::collections::BTreeMap<(String, i32), i64>>,
}

/// The DLQ reasons of the cache (`stage=decode`).
pub const POISON_REASONS: [&str; 4] = [
    "undecodable",
    "unknown_schema_id",
    "incompatible_schema",
    "schema_unavailable",
];

impl CacheStats {
    /// Counts a dead letter under its reason.
    pub fn count_poison_reason(&self, reason: &str) {
        if let Some(i) = POISON_REASONS.iter().position(|r| *r == reason) {
            self.poison_by_reason[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Prometheus text.
    pub fn metrics(&self) -> String {
        let mut e = Exposition::default();
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let all: [(&str, &str, &str, u64); 13] = [
            (
                "tickflow_cache_consumed_total",
                "counter",
                "messages consumed",
                g(&self.consumed),
            ),
            (
                "tickflow_cache_acknowledged_total",
                "counter",
                "messages covered by batches Redis acknowledged (offsets stored)",
                g(&self.acknowledged),
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
                "tickflow_cache_kafka_errors_total",
                "counter",
                "consumer errors reported by librdkafka",
                g(&self.kafka_errors),
            ),
            (
                "tickflow_cache_pauses_total",
                "counter",
                "consumption paused: the gathering batch held pending_keys_max keys",
                g(&self.pauses),
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
        let name = "tickflow_cache_ready";
        e.family(name, "gauge", "1 while /readyz answers 200")
            .sample(name, &[], g(&self.redis_up));
        let name = "tickflow_cache_consumer_lag";
        e.family(
            name,
            "gauge",
            "messages behind the partition's end (librdkafka statistics)",
        );
        if let Ok(lag) = self.lag.lock() {
            for ((topic, partition), n) in lag.iter() {
                e.sample(
                    name,
                    &[("topic", topic), ("partition", &partition.to_string())],
                    *n,
                );
            }
        }
        let name = "tickflow_cache_dead_letters_total";
        let family = e.family(
            name,
            "counter",
            "messages sent to the DLQ (stage=decode) by reason",
        );
        for (reason, v) in POISON_REASONS.iter().zip(&self.poison_by_reason) {
            family.sample(name, &[("reason", reason)], g(v));
        }
        e.histogram_us(
            "tickflow_cache_receive_to_redis_seconds",
            "exchange receive to applied in Redis",
            &self.receive_to_redis_us,
        );
        e.standard();
        e.finish()
    }
}

/// Counts one failure in `counter`; returns the running total when it deserves a log line (the
/// 1st, 2nd, 4th, 8th, ...), so a failure repeated at every retry is logged, not flooded.
pub fn count_failure(counter: &AtomicU64) -> Option<u64> {
    let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
    n.is_power_of_two().then_some(n)
}
