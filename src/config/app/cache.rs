//! `[cache]`: tuning of `tickflow cache` (its consumer group, batches, key expiry and prefix,
//! its HTTP endpoints and deadlines).

use super::Problems;
use super::http::bind_address;
use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

/// Kafka consumer group: `tickflow-cache`.
pub const DEFAULT_GROUP_ID: &str = "tickflow-cache";
/// A batch is due at this many messages: 5000.
pub const DEFAULT_BATCH_MAX: usize = 5000;
/// ... or this long after its first message, ms: 0 (at once: a batch goes as soon as Redis is
/// idle, and what arrives during a write goes in the next one).
pub const DEFAULT_BATCH_WAIT_MS: u64 = 0;
/// Most distinct keys a gathering batch holds before consumption pauses: 100000.
pub const DEFAULT_PENDING_KEYS_MAX: usize = 100_000;
/// Price keys expire after this long without an update, seconds: 86400 (a day).
pub const DEFAULT_TTL_SECS: u64 = 86_400;
/// Key prefix: `px`.
pub const DEFAULT_PREFIX: &str = "px";
/// The cache's HTTP endpoints: `127.0.0.1:9465` (loopback only; gather's port + 1).
pub const DEFAULT_HTTP_BIND: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9465));
/// One deadline for stopping, ms: 30000.
pub const DEFAULT_SHUTDOWN_TIMEOUT_MS: u64 = 30_000;
/// Lag and nothing consumed for this long is not ready, ms: 15000.
pub const DEFAULT_STALL_TIMEOUT_MS: u64 = 15_000;

/// `[cache]` as written (`tickflow cache`).
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CacheFile {
    /// Kafka consumer group (default [`DEFAULT_GROUP_ID`]).
    group_id: Option<String>,
    /// A batch is due at this many messages (default [`DEFAULT_BATCH_MAX`]).
    #[serde(default, deserialize_with = "crate::config::lenient::opt")]
    batch_max: Option<usize>,
    /// ... or this long after its first message, ms (default [`DEFAULT_BATCH_WAIT_MS`]).
    #[serde(default, deserialize_with = "crate::config::lenient::opt")]
    batch_wait_ms: Option<u64>,
    /// Most distinct keys a gathering batch holds before consumption pauses (default
    /// [`DEFAULT_PENDING_KEYS_MAX`]).
    #[serde(default, deserialize_with = "crate::config::lenient::opt")]
    pending_keys_max: Option<usize>,
    /// Price keys expire after this long without an update (default [`DEFAULT_TTL_SECS`]; 0:
    /// never).
    #[serde(default, deserialize_with = "crate::config::lenient::opt")]
    ttl_secs: Option<u64>,
    /// Key prefix (default [`DEFAULT_PREFIX`]).
    prefix: Option<String>,
    /// Address of the cache's `/metrics`, `/healthz`, `/readyz` (default
    /// [`DEFAULT_HTTP_BIND`]).
    http_bind: Option<String>,
    /// One deadline for stopping: writing what was gathered (and its dead letters) and
    /// committing (default [`DEFAULT_SHUTDOWN_TIMEOUT_MS`]).
    #[serde(default, deserialize_with = "crate::config::lenient::opt")]
    shutdown_timeout_ms: Option<u64>,
    /// `/readyz` fails when there is consumer lag and nothing was consumed for this long
    /// (default [`DEFAULT_STALL_TIMEOUT_MS`]; lag is measured every 5 s).
    #[serde(default, deserialize_with = "crate::config::lenient::opt")]
    stall_timeout_ms: Option<u64>,
}

/// Cache consumer settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSettings {
    /// Consumer group.
    pub group_id: String,
    /// A batch is due at this many messages...
    pub batch_max: usize,
    /// ... or this long after its first message.
    pub batch_wait: Duration,
    /// Most distinct keys gathered before consumption pauses.
    pub pending_keys_max: usize,
    /// Key TTL (zero: none).
    pub ttl: Duration,
    /// Key prefix.
    pub prefix: String,
    /// HTTP endpoint address.
    pub http_bind: SocketAddr,
    /// Lag and nothing consumed for this long: not ready.
    pub stall_timeout: Duration,
    /// One deadline for stopping (write the last batch, commit, leave the group).
    pub shutdown_timeout: Duration,
}

impl CacheFile {
    /// The settings, defaults filled in; every problem goes to `p`.
    pub(super) fn validate(self, p: &mut Problems<'_>) -> CacheSettings {
        let ms = |v: Option<u64>, default| Duration::from_millis(v.unwrap_or(default));
        let cache = CacheSettings {
            group_id: self.group_id.unwrap_or_else(|| DEFAULT_GROUP_ID.into()),
            batch_max: self.batch_max.unwrap_or(DEFAULT_BATCH_MAX).max(1),
            batch_wait: ms(self.batch_wait_ms, DEFAULT_BATCH_WAIT_MS),
            pending_keys_max: self
                .pending_keys_max
                .unwrap_or(DEFAULT_PENDING_KEYS_MAX)
                .max(1),
            ttl: Duration::from_secs(self.ttl_secs.unwrap_or(DEFAULT_TTL_SECS)),
            prefix: self.prefix.unwrap_or_else(|| DEFAULT_PREFIX.into()),
            stall_timeout: ms(self.stall_timeout_ms, DEFAULT_STALL_TIMEOUT_MS),
            shutdown_timeout: ms(self.shutdown_timeout_ms, DEFAULT_SHUTDOWN_TIMEOUT_MS),
            http_bind: bind_address(self.http_bind, DEFAULT_HTTP_BIND, "cache.http_bind", p),
        };
        if cache.group_id.is_empty() {
            p.add("cache.group_id", "must not be empty");
        }
        if cache.prefix.is_empty() || cache.prefix.contains(['{', '}', ':']) {
            p.add(
                "cache.prefix",
                format!(
                    "`{}` must be non-empty without `{{`, `}}` or `:`",
                    cache.prefix
                ),
            );
        }
        cache
    }
}
