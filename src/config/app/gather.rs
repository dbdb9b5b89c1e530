//! `[gather]`: tuning of `tickflow gather` (its queue, its wait for librdkafka, its deadline
//! for stopping, its progress lines and readiness).

use super::Problems;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Frames buffered between the connections and the producer: 16384.
pub const DEFAULT_QUEUE_FRAMES: usize = 16_384;
/// Longest wait for room in librdkafka's queue, ms: 60000.
pub const DEFAULT_MAX_BLOCK_MS: u64 = 60_000;
/// One deadline for stopping (drain and flush), ms: 30000.
pub const DEFAULT_SHUTDOWN_TIMEOUT_MS: u64 = 30_000;
/// Seconds between progress lines: 5.
pub const DEFAULT_PROGRESS_SECS: u64 = 5;
/// Sends pending and nothing acknowledged for this long is not ready, ms: 10000.
pub const DEFAULT_UNACKED_TIMEOUT_MS: u64 = 10_000;

/// Keys read only to be refused with what replaced them (so tickflow.toml does not show them).
pub(super) const RETIRED: [(&str, &str); 1] = [(
    "gather.flush_timeout_ms",
    "renamed to shutdown_timeout_ms (one deadline for draining and flushing)",
)];

/// `[gather]` as written.
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GatherFile {
    /// Frames buffered between the connections and the producer (default
    /// [`DEFAULT_QUEUE_FRAMES`]).
    #[serde(default, deserialize_with = "crate::config::lenient::opt")]
    queue_frames: Option<usize>,
    /// Longest wait for room in librdkafka's queue before a message counts as failed
    /// (default [`DEFAULT_MAX_BLOCK_MS`]).
    #[serde(default, deserialize_with = "crate::config::lenient::opt")]
    max_block_ms: Option<u64>,
    /// One deadline for stopping: draining the queue and waiting for the broker's
    /// acknowledgements (default [`DEFAULT_SHUTDOWN_TIMEOUT_MS`]).
    #[serde(default, deserialize_with = "crate::config::lenient::opt")]
    shutdown_timeout_ms: Option<u64>,
    /// The former name of `shutdown_timeout_ms`: refused with a message saying so
    /// ([`RETIRED`]).
    #[serde(default, deserialize_with = "crate::config::lenient::opt")]
    flush_timeout_ms: Option<u64>,
    /// Seconds between progress lines on stderr (default [`DEFAULT_PROGRESS_SECS`]; 0 turns
    /// them off).
    #[serde(default, deserialize_with = "crate::config::lenient::opt")]
    progress_secs: Option<u64>,
    /// `/readyz` fails when sends are pending and the broker acknowledged nothing for this
    /// long (default [`DEFAULT_UNACKED_TIMEOUT_MS`]).
    #[serde(default, deserialize_with = "crate::config::lenient::opt")]
    unacked_timeout_ms: Option<u64>,
    /// This process's shard `i/n` of every market a connector follows with `[markets]`
    /// (default `0/1`, everything; `--shard` overrides): instruments split by a stable hash of
    /// `EXCHANGE:BASE-QUOTE`, so a StatefulSet's ordinal is enough.
    #[serde(default, deserialize_with = "crate::config::lenient::opt")]
    shard: Option<String>,
}

/// Gatherer tuning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatherSettings {
    /// Frames buffered between the connections and the producer.
    pub queue_frames: usize,
    /// Longest wait for room in librdkafka's queue.
    pub max_block: Duration,
    /// One deadline for stopping (drain and flush); what is not acknowledged by then is
    /// abandoned and counted.
    pub shutdown_timeout: Duration,
    /// Period of progress lines (`None`: off).
    pub progress: Option<Duration>,
    /// Sends pending and nothing acknowledged for this long: not ready.
    pub unacked_timeout: Duration,
    /// This process's part of each followed market.
    pub shard: crate::markets::Shard,
}

impl GatherFile {
    /// The settings, defaults filled in; every problem goes to `p`.
    pub(super) fn validate(self, p: &mut Problems<'_>) -> GatherSettings {
        let queue_frames = self.queue_frames.unwrap_or(DEFAULT_QUEUE_FRAMES);
        if queue_frames == 0 {
            p.add("gather.queue_frames", "must be at least 1");
        }
        if self.flush_timeout_ms.is_some() {
            let (field, what) = RETIRED[0];
            p.add(field, what);
        }
        let shard = match self.shard.as_deref().map(crate::markets::Shard::parse) {
            None => crate::markets::Shard::default(),
            Some(Ok(s)) => s,
            Some(Err(e)) => {
                p.add("gather.shard", e);
                crate::markets::Shard::default()
            }
        };
        let ms = |v: Option<u64>, default| Duration::from_millis(v.unwrap_or(default));
        GatherSettings {
            queue_frames: queue_frames.max(1),
            max_block: ms(self.max_block_ms, DEFAULT_MAX_BLOCK_MS),
            shutdown_timeout: ms(self.shutdown_timeout_ms, DEFAULT_SHUTDOWN_TIMEOUT_MS),
            unacked_timeout: ms(self.unacked_timeout_ms, DEFAULT_UNACKED_TIMEOUT_MS),
            shard,
            progress: match self.progress_secs.unwrap_or(DEFAULT_PROGRESS_SECS) {
                0 => None,
                s => Some(Duration::from_secs(s)),
            },
        }
    }
}
