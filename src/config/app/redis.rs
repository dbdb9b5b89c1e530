//! `[redis]`: the Redis the cache writes and `tickflow price` reads.

use super::Problems;
use crate::config::{SecretUrl, redact_url};
use serde::{Deserialize, Serialize};

/// Redis URL: `redis://127.0.0.1:6379`.
pub const DEFAULT_URL: &str = "redis://127.0.0.1:6379";
/// Redis Cluster mode: off.
pub const DEFAULT_CLUSTER: bool = false;

/// `[redis]` as written (used by `tickflow cache` and `tickflow price`).
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RedisFile {
    /// `redis://[user:password@]host:port[/db]` (default [`DEFAULT_URL`]).
    url: Option<String>,
    /// The URL is a seed node of a Redis Cluster (default [`DEFAULT_CLUSTER`]).
    #[serde(default, deserialize_with = "crate::config::lenient::opt")]
    cluster: Option<bool>,
}

impl RedisFile {
    /// The URL (its password never shown) and the cluster flag; a problem goes to `p`.
    pub(super) fn validate(self, p: &mut Problems<'_>) -> (SecretUrl, bool) {
        let url = self.url.unwrap_or_else(|| DEFAULT_URL.into());
        if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
            p.add(
                "redis.url",
                format!("`{}` is not a redis:// or rediss:// URL", redact_url(&url)),
            );
        }
        (SecretUrl::new(url), self.cluster.unwrap_or(DEFAULT_CLUSTER))
    }
}
