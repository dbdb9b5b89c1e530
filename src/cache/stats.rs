//! Counters and metrics of `tickflow cache`.

use crate::kafka::dlq::{CACHE_STAGE, DECODE_STAGE};
use crate::metrics::{Exposition, Histogram};
use crate::registry::DecodeReason;
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
    /// The same by DLQ reason, in the order of [`DecodeReason::ALL`].
    pub poison_by_reason: [AtomicU64; DecodeReason::ALL.len()],
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
    /// Updates Redis refused for their key alone (sent to the DLQ, `stage=cache`).
    pub refused: AtomicU64,
    /// The same by reason, in the order of [`super::store::KEY_REFUSALS`].
    pub refused_by_reason: [AtomicU64; super::store::KEY_REFUSALS.len()],
    /// One line per decode failure reason per interval.
    pub poison_log: crate::logging::RateLimited,
    /// One line per kind of Kafka or commit failure per interval (librdkafka repeats them at
    /// every retry).
    pub failures_log: crate::logging::RateLimited,
    /// One line per refusal reason per interval.
    pub refusals_log: crate::logging::RateLimited,
    /// Updates applied by pipelines that failed as a whole (retried; then found stale).
    pub applied_in_failed: AtomicU64,
    /// Index updates Redis refused (the index key holds another type).
    pub index_refused: AtomicU64,
    /// The DLQ producer's counters.
    pub dlq: std::sync::Arc<crate::kafka::ProducerStats>,
    /// Dead letters the DLQ did not acknowledge (each sent again, offsets held).
    pub dlq_failures: AtomicU64,
    /// Dead letters of the batch being written, not yet acknowledged.
    pub dlq_pending: AtomicU64,
    /// True while the last attempt to deliver dead letters failed.
    pub dlq_failing: std::sync::atomic::AtomicBool,
    /// One line per DLQ failure kind per interval.
    pub dlq_log: crate::logging::RateLimited,
    /// The HTTP endpoint's counters.
    pub http: std::sync::Arc<crate::http::HttpStats>,
    /// Partitions assigned to this member.
    pub assigned: AtomicU64,
    /// Set by the group's assignment (even an empty one), cleared by a revocation: a member that
    /// joined with no partition is an idle standby (more members than partitions), not a
    /// member still joining.
    pub joined: std::sync::atomic::AtomicBool,
    /// Since when nothing was consumed with lag waiting.
    pub kafka_stall: crate::stall::Stall,
    /// Not ready after this long of [`CacheStats::kafka_stall`] (`[cache] stall_timeout_ms`).
    pub stall_timeout: std::time::Duration,
    /// Set from the first stop signal on.
    pub stopping: std::sync::atomic::AtomicBool,
    /// Consumer lag per assigned partition (high watermark − position), from librdkafka's
    /// statistics every few seconds.
    pub lag: std::sync::Mutex<std::collections::BTreeMap<(String, i32), i64>>,
    /// The instrument reference reader's counters.
    pub reference: super::reference::ReferenceStats,
    /// The feed status reader's counters.
    pub status: super::status::StatusStats,
    /// Tick updates (applied or stale) of instruments the reference says are delisted (kept
    /// out of the index).
    pub delisted_ticks: AtomicU64,
}

impl CacheStats {
    /// Counts one failure in `counter`; when a line is due for `kind` (the first, then one per
    /// interval), the running total and the suffix saying how many it stands for.
    pub fn failure(&self, counter: &AtomicU64, kind: &str) -> Option<(u64, String)> {
        let so_far = counter.fetch_add(1, Ordering::Relaxed) + 1;
        self.failures_log.admit(kind).map(|more| (so_far, more))
    }

    /// Counts an update Redis refused for its key under its reason.
    pub fn count_refusal(&self, reason: &str) {
        self.refused.fetch_add(1, Ordering::Relaxed);
        if let Some(i) = super::store::KEY_REFUSALS.iter().position(|r| *r == reason) {
            self.refused_by_reason[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Ready when not stopping, Redis answers, the group has given this member its assignment
    /// (an empty one too: an idle standby is a normal state of a consumer group, ready to take
    /// over), and consumption moves whenever there is lag. `Err` says why not.
    pub fn ready(&self) -> Result<(), String> {
        if self.stopping.load(Ordering::Relaxed) {
            return Err("stopping: writing what was gathered and committing".into());
        }
        let mut why = Vec::new();
        if self.redis_up.load(Ordering::Relaxed) == 0 {
            why.push("redis is not answering (writes retried, offsets held)".to_owned());
        }
        if !self.joined.load(Ordering::Relaxed) {
            why.push("kafka: joining the consumer group (no assignment yet)".to_owned());
        }
        let letters = self.dlq_pending.load(Ordering::Relaxed);
        if letters > 0 && self.dlq_failing.load(Ordering::Relaxed) {
            why.push(format!(
                "dlq: {letters} dead letters not acknowledged (sent again; offsets held)"
            ));
        }
        let timeout = self.stall_timeout;
        if let Some(stalled) = self.kafka_stall.stalled_for(crate::stall::now())
            && stalled >= timeout
        {
            why.push(format!(
                "kafka: lag {} and nothing consumed for {} s",
                self.total_lag(),
                stalled.as_secs()
            ));
        }
        if why.is_empty() {
            Ok(())
        } else {
            Err(why.join("; "))
        }
    }

    /// In the group with no partition: an idle standby.
    pub fn standby(&self) -> bool {
        self.joined.load(Ordering::Relaxed) && self.assigned.load(Ordering::Relaxed) == 0
    }

    /// Sum of the consumer lag over the assigned partitions.
    pub fn total_lag(&self) -> i64 {
        self.lag.lock().map(|m| m.values().sum()).unwrap_or(0)
    }

    /// One observation for the stall clock.
    pub fn observe(&self) {
        self.kafka_stall.observe(
            self.consumed.load(Ordering::Relaxed),
            self.total_lag() > 0,
            crate::stall::now(),
        );
    }

    /// Counts an undecodable message under its reason.
    pub fn count_poison_reason(&self, reason: DecodeReason) {
        if let Some(i) = DecodeReason::ALL.iter().position(|r| *r == reason) {
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
            .sample(name, &[], u64::from(self.ready().is_ok()));
        let name = "tickflow_cache_assigned_partitions";
        e.family(name, "gauge", "partitions assigned to this member")
            .sample(name, &[], g(&self.assigned));
        let name = "tickflow_cache_standby";
        e.family(
            name,
            "gauge",
            "1 while this member is in the group with no partition (more members than partitions): ready, idle",
        )
        .sample(name, &[], u64::from(self.standby()));
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
            "dead letters by stage (decode: the message; cache: Redis refused its key) and reason",
        );
        for (reason, v) in DecodeReason::ALL.iter().zip(&self.poison_by_reason) {
            family.sample(
                name,
                &[("stage", DECODE_STAGE), ("reason", reason.code())],
                g(v),
            );
        }
        for (reason, v) in super::store::KEY_REFUSALS
            .iter()
            .zip(&self.refused_by_reason)
        {
            family.sample(name, &[("stage", CACHE_STAGE), ("reason", reason)], g(v));
        }
        let d = &self.dlq;
        let dlq: [(&str, &str, &str, u64); 6] = [
            (
                "tickflow_cache_dlq_sent_total",
                "counter",
                "dead letters handed to the producer",
                g(&d.dlq_sent),
            ),
            (
                "tickflow_cache_dlq_acked_total",
                "counter",
                "dead letters the DLQ acknowledged",
                g(&d.dlq_acked),
            ),
            (
                "tickflow_cache_dlq_failures_total",
                "counter",
                "dead letters not acknowledged (sent again with backoff, offsets held)",
                g(&self.dlq_failures),
            ),
            (
                "tickflow_cache_dlq_pending",
                "gauge",
                "dead letters of the batch being written, waiting for the DLQ",
                g(&self.dlq_pending),
            ),
            (
                "tickflow_cache_redis_applied_in_failed_pipelines_total",
                "counter",
                "updates that applied in pipelines that failed as a whole (retried)",
                g(&self.applied_in_failed),
            ),
            (
                "tickflow_cache_index_refused_total",
                "counter",
                "instrument index updates Redis refused (the index key holds another type)",
                g(&self.index_refused),
            ),
        ];
        for (name, kind, help, v) in dlq {
            e.family(name, kind, help).sample(name, &[], v);
        }
        let name = "tickflow_cache_delisted_ticks_total";
        e.family(
            name,
            "counter",
            "tick updates of instruments the reference says are delisted (kept out of the index)",
        )
        .sample(name, &[], g(&self.delisted_ticks));
        self.reference.expose(&mut e);
        self.status.expose(&mut e);
        self.http.expose(&mut e);
        e.histogram_us(
            "tickflow_cache_receive_to_redis_seconds",
            "exchange receive to applied in Redis",
            &self.receive_to_redis_us,
        );
        e.standard();
        e.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answering() -> CacheStats {
        let s = CacheStats::default();
        s.redis_up.store(1, Ordering::Relaxed);
        s
    }

    /// A member still joining is not ready; one the group gave no partition (more replicas
    /// than partitions) is an idle standby: ready, and says so in its metrics.
    #[test]
    fn an_idle_standby_is_ready_and_a_joining_member_is_not() {
        let s = answering();
        let why = s.ready().unwrap_err();
        assert!(why.contains("joining the consumer group"), "{why}");
        s.joined.store(true, Ordering::Relaxed);
        assert_eq!(s.ready(), Ok(()));
        assert!(s.standby());
        let text = s.metrics();
        assert!(text.contains("\ntickflow_cache_ready 1\n"), "{text}");
        assert!(text.contains("\ntickflow_cache_standby 1\n"), "{text}");
        assert!(text.contains("\ntickflow_cache_assigned_partitions 0\n"));
        s.assigned.store(2, Ordering::Relaxed);
        assert!(!s.standby());
        assert!(s.metrics().contains("\ntickflow_cache_standby 0\n"));
        s.redis_up.store(0, Ordering::Relaxed);
        assert!(s.ready().unwrap_err().contains("redis is not answering"));
    }
}
