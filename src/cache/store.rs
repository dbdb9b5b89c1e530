//! Writing the contract: one Lua compare-and-set per tick, pipelined, by EVALSHA (the script
//! is loaded once and loaded again after a `NOSCRIPT`), against Redis standalone or Cluster.

use super::contract::{
    COMMON_FIELDS, Update, index_key, json_fragment, part_fragment, price_key, reference_key,
};
use crate::model::{Exchange, Tick};
use redis::aio::ConnectionLike;
use redis::{Cmd, ErrorKind, Pipeline, RedisFuture, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// The compare-and-set of contract 3, one call per update. KEYS[1]: the price hash; KEYS[2]:
/// the instrument's reference hash (same hash tag), read to know whether it is delisted.
/// ARGV[1]: TTL in ms (0: none); ARGV[2]: the common fields' JSON fragment; ARGV[3]: n, the
/// number of common fields, then n field/value pairs; then, per part: its name, its version,
/// its JSON fragment, k, and k field/value pairs. A part applies only when its version is
/// greater than the stored `<name>_ver` (fixed-width digit strings: the string comparison is
/// exact where Lua numbers would round); its fields are then set, and those given as `""`
/// removed. When any part applied, the common fields are written too, the TTL renewed and the
/// applied fragments PUBLISHed as one JSON object; and when the stored `contract_version` is
/// not `3` (a hash of an older contract; a new hash has none) the hash is upgraded in place
/// first: contract 1's `ver` is removed and each time field contract 3 renamed
/// ([`PRICE_RENAMED_IN_3`](super::contract::PRICE_RENAMED_IN_3), the script's `renamed`) is
/// moved to its new name (the update's own values then overwrite), so no hash holds both
/// spellings. That check is one HGET per applied update (none for a stale one); the renaming
/// (one HMGET, one HSET, the HDEL the update makes anyway) happens once per hash. Returns 1
/// when any part applied, 0 when every part was stale (a duplicate or a late arrival), plus 2
/// when the reference says the instrument is delisted (an applied update then also keeps the
/// hash's `listing` mark; the caller takes the instrument out of the index).
pub const CAS_SCRIPT: &str = r"
local n = tonumber(ARGV[3])
local i = 4 + 2 * n
-- A contract-2 reference hash (not yet replaced by a newer record) says `as_of_ts`.
local ref = redis.call('HMGET', KEYS[2], 'state', 'as_of_ts_us', 'as_of_ts')
local delisted = ref[1] == 'delisted'
local sets, dels, json, applied = {}, {}, {ARGV[2]}, 0
local function put(k, v)
  if v == '' then dels[#dels + 1] = k else sets[#sets + 1] = k; sets[#sets + 1] = v end
end
while i <= #ARGV do
  local name, ver, frag, k = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  local current = redis.call('HGET', KEYS[1], name .. '_ver')
  if not current or current < ver then
    applied = applied + 1
    put(name .. '_ver', ver)
    for j = i + 4, i + 2 + 2 * k, 2 do put(ARGV[j], ARGV[j + 1]) end
    if frag ~= '' then json[#json + 1] = frag end
  end
  i = i + 4 + 2 * k
end
if applied == 0 then
  if delisted then return 2 end
  return 0
end
local stored = redis.call('HGET', KEYS[1], 'contract_version')
if stored and stored ~= '3' then
  local renamed = {'received_ts', 'received_ts_us', 'updated_ts', 'updated_ts_us',
    'trade_ts', 'trade_ts_us', 'trade_received_ts', 'trade_received_ts_us',
    'book_ts', 'book_ts_us', 'book_received_ts', 'book_received_ts_us',
    'event_ts', 'event_ts_us', 'ticker_received_ts', 'ticker_received_ts_us',
    'delisted_ts', 'delisted_ts_us'}
  local old = {}
  for j = 1, #renamed, 2 do old[#old + 1] = renamed[j] end
  local held = redis.call('HMGET', KEYS[1], unpack(old))
  local moved = {}
  for j, v in ipairs(held) do
    if v then
      moved[#moved + 1] = renamed[2 * j]; moved[#moved + 1] = v
      dels[#dels + 1] = renamed[2 * j - 1]
    end
  end
  if #moved > 0 then redis.call('HSET', KEYS[1], unpack(moved)) end
  dels[#dels + 1] = 'ver'
end
for j = 4, 2 + 2 * n, 2 do put(ARGV[j], ARGV[j + 1]) end
if delisted then
  local since = ref[2] or ref[3] or ''
  put('listing', 'delisted')
  put('delisted_ts_us', since)
  json[#json + 1] = '\034listing\034:\034delisted\034'
  if since ~= '' then json[#json + 1] = '\034delisted_ts_us\034:\034' .. since .. '\034' end
end
if #dels > 0 then redis.call('HDEL', KEYS[1], unpack(dels)) end
redis.call('HSET', KEYS[1], unpack(sets))
if tonumber(ARGV[1]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
redis.call('PUBLISH', KEYS[1], '{' .. table.concat(json, ',') .. '}')
if delisted then return 3 end
return 1
";

/// What one pipelined command of [`Store::apply`] is, to read its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// The compare-and-set of tick `i` of the batch.
    Tick(usize),
    /// An exchange's index update.
    Index,
    /// Removing an exchange's index members not written for the TTL.
    Retire,
}

/// Bound on one Redis round trip; a batch gets this plus [`TIMEOUT_PER_UPDATE`] per update.
pub const REDIS_TIMEOUT: Duration = Duration::from_secs(5);

/// Allowance per compare-and-set in a batch (Redis here runs ~60k/s; this allows 10k/s).
const TIMEOUT_PER_UPDATE: Duration = Duration::from_micros(100);

/// Most compare-and-sets in one pipeline; a larger batch is sent as several pipelines at once.
const PIPELINE_MAX: usize = 1000;

/// A connection to Redis standalone or Redis Cluster.
#[derive(Clone)]
pub enum RedisConnection {
    /// One server (multiplexed connection).
    Single(redis::aio::MultiplexedConnection),
    /// A cluster (commands routed by key slot).
    Cluster(redis::cluster_async::ClusterConnection),
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Single(_) => "RedisConnection::Single",
            Self::Cluster(_) => "RedisConnection::Cluster",
        })
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(cmd, offset, count),
            Self::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

/// Connects to `url` (`redis://[user:password@]host:port[/db]`); `cluster` uses it as the seed
/// of a Redis Cluster.
/// What went wrong with Redis, naming the server (password redacted); redis-rs repeats the
/// cause in its message ("Connection refused (os error 111): Connection refused (os error
/// 111)"), said once here.
pub fn describe(url: &str, e: &redis::RedisError) -> String {
    let text = e.to_string();
    let text = match text.split_once(": ") {
        Some((a, b)) if a == b => a.to_owned(),
        _ => text,
    };
    format!("redis {}: {text}", crate::config::redact_url(url))
}

/// Connects to Redis (a single node, or a cluster through a seed node).
pub async fn connect(url: &str, cluster: bool) -> redis::RedisResult<RedisConnection> {
    // redis-rs gives each request 500 ms by default, less than a large batch of pipelines
    // queued behind each other takes: every caller bounds its requests itself instead (a
    // batch by REDIS_TIMEOUT plus its size).
    let connecting = async {
        if cluster {
            let client = redis::cluster::ClusterClient::builder(vec![url])
                .connection_timeout(REDIS_TIMEOUT)
                .response_timeout(Duration::from_secs(3600))
                .build()?;
            Ok(RedisConnection::Cluster(
                client.get_async_connection().await?,
            ))
        } else {
            let client = redis::Client::open(url)?;
            let config = redis::AsyncConnectionConfig::new()
                .set_connection_timeout(Some(REDIS_TIMEOUT))
                .set_response_timeout(None);
            Ok(RedisConnection::Single(
                client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await?,
            ))
        }
    };
    tokio::time::timeout(REDIS_TIMEOUT, connecting)
        .await
        .unwrap_or_else(|_| Err(timed_out("connect")))
}

fn timed_out(what: &str) -> redis::RedisError {
    redis::RedisError::from((
        ErrorKind::Io,
        "timed out",
        format!("{what} took longer than {REDIS_TIMEOUT:?}"),
    ))
}

/// What one batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Updates written.
    pub applied: u64,
    /// Updates refused as duplicates or late arrivals.
    pub stale: u64,
    /// Updates Redis refused for their key alone (the rest of the batch was written).
    pub refused: Vec<Refused>,
    /// Updates (applied or stale) of instruments the reference says are delisted: kept out of
    /// the index.
    pub delisted: u64,
}

/// One update Redis refused for its key alone: it goes to the DLQ, the others are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Index of the tick in the batch given to [`Store::apply`].
    pub index: usize,
    /// DLQ reason: `redis_wrong_type`, `redis_no_permission`, `redis_script_error`.
    pub reason: &'static str,
    /// Redis's error text.
    pub error: String,
}

/// The DLQ reasons of updates Redis refused for their key alone (`stage=cache`).
pub const KEY_REFUSALS: [&str; 3] = [
    "redis_wrong_type",
    "redis_no_permission",
    "redis_script_error",
];

/// An error Redis gives for one key alone (that key holds another type, an ACL forbids it,
/// the script failed on what the key holds): retrying cannot help, and it must not hold the
/// other keys back. Anything else (LOADING, OOM, BUSY, TRYAGAIN, READONLY, connection errors,
/// timeouts, ...) is transient: the whole batch is retried.
pub fn key_refusal(e: &redis::ServerError) -> Option<&'static str> {
    match e.code() {
        "WRONGTYPE" => Some(KEY_REFUSALS[0]),
        "NOPERM" => Some(KEY_REFUSALS[1]),
        "ERR" if e.details().is_some_and(|d| d.contains("script")) => Some(KEY_REFUSALS[2]),
        _ => None,
    }
}

/// Writes ticks through the compare-and-set.
#[derive(Debug)]
pub struct Store {
    conn: RedisConnection,
    url: String,
    cluster: bool,
    sha: String,
    prefix: String,
    ttl_ms: u64,
    /// Times the script had to be loaded again (after a `NOSCRIPT`).
    pub script_reloads: u64,
    /// Updates that did apply in pipelines that failed as a whole (the retry finds them
    /// stale).
    pub applied_in_failed: u64,
    /// Index updates Redis refused for their key alone (the index key holds another type).
    pub index_refused: u64,
}

impl Store {
    /// Connects to `url` (see [`connect`]), loads the script and returns the store.
    pub async fn open(
        url: &str,
        cluster: bool,
        prefix: &str,
        ttl: Duration,
    ) -> redis::RedisResult<Self> {
        let mut store = Self {
            conn: connect(url, cluster).await?,
            url: url.to_owned(),
            cluster,
            sha: redis::Script::new(CAS_SCRIPT).get_hash().to_owned(),
            prefix: prefix.to_owned(),
            ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
            script_reloads: 0,
            applied_in_failed: 0,
            index_refused: 0,
        };
        store.load_script().await?;
        Ok(store)
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// [`describe`] for this store's server.
    pub fn describe(&self, e: &redis::RedisError) -> String {
        describe(&self.url, e)
    }

    /// Replaces the connection (after the server went away; a multiplexed connection does
    /// not come back by itself). The next write loads the script if the server lost it.
    pub async fn reconnect(&mut self) -> redis::RedisResult<()> {
        self.conn = connect(&self.url, self.cluster).await?;
        Ok(())
    }

    async fn load_script(&mut self) -> redis::RedisResult<()> {
        let mut load = redis::cmd("SCRIPT");
        load.arg("LOAD").arg(CAS_SCRIPT);
        let sha = tokio::time::timeout(REDIS_TIMEOUT, load.query_async::<String>(&mut self.conn))
            .await
            .unwrap_or_else(|_| Err(timed_out("SCRIPT LOAD")))?;
        debug_assert_eq!(sha, self.sha);
        Ok(())
    }

    /// Applies `ticks` (one compare-and-set each, pipelined) and updates the instrument
    /// indexes. An update Redis refuses for its key alone ([`key_refusal`]) is returned in
    /// [`Applied::refused`] and the others count. Any other error is the batch's: nothing may
    /// be assumed written, and the whole batch can be retried (the compare-and-set makes that
    /// harmless; what did apply is counted in [`Store::applied_in_failed`]).
    pub async fn apply(&mut self, ticks: &[&Tick], now_us: i64) -> redis::RedisResult<Applied> {
        if ticks.is_empty() {
            return Ok(Applied::default());
        }
        // Standalone: pipelines of up to PIPELINE_MAX. Cluster: a pipeline may not cross
        // slots, so one pipeline per instrument (its hash tag puts every exchange's key in one
        // slot), plus one per index key. The pipelines are sent concurrently. `order` says
        // which tick each result is (None: an index update).
        let mut groups: Vec<Pipeline> = Vec::new();
        let mut order: Vec<Vec<Slot>> = Vec::new();
        let mut slot_of: BTreeMap<&str, usize> = BTreeMap::new();
        let mut index: BTreeMap<Exchange, Vec<(i64, String)>> = BTreeMap::new();
        for (i, tick) in ticks.iter().enumerate() {
            let update = Update::of(tick, now_us);
            let mut cmd = redis::cmd("EVALSHA");
            cmd.arg(&self.sha)
                .arg(2)
                .arg(price_key(
                    &self.prefix,
                    tick.instrument.as_str(),
                    tick.exchange,
                ))
                .arg(reference_key(
                    &self.prefix,
                    tick.instrument.as_str(),
                    tick.exchange,
                ))
                .arg(self.ttl_ms)
                .arg(json_fragment(&COMMON_FIELDS, &update.common))
                .arg(COMMON_FIELDS.len());
            for (k, v) in COMMON_FIELDS.iter().zip(&update.common) {
                cmd.arg(*k).arg(v);
            }
            for (part, ver, values) in &update.parts {
                cmd.arg(part.name())
                    .arg(ver)
                    .arg(part_fragment(*part, ver, values))
                    .arg(values.len());
                for (k, v) in part.fields().iter().zip(values) {
                    cmd.arg(*k).arg(v);
                }
            }
            let group = if self.cluster {
                let next = groups.len();
                *slot_of.entry(tick.instrument.as_str()).or_insert(next)
            } else {
                i / PIPELINE_MAX
            };
            if group == groups.len() {
                let mut pipe = redis::pipe();
                pipe.ignore_errors();
                groups.push(pipe);
                order.push(Vec::new());
            }
            groups[group].add_command(cmd);
            order[group].push(Slot::Tick(i));
            index
                .entry(tick.exchange)
                .or_default()
                .push((now_us, tick.instrument.to_string()));
        }
        // Members no tick came for during the TTL: their hashes have expired (a hash's TTL is
        // renewed when an update applies, never later than its member's score), so they leave
        // the index. Scores are µs like every time in the hashes; exclusive bound.
        let retire_before = (self.ttl_ms > 0).then(|| {
            let ttl_us = i64::try_from(self.ttl_ms.saturating_mul(1000)).unwrap_or(i64::MAX);
            format!("({}", now_us.saturating_sub(ttl_us))
        });
        for (exchange, members) in &index {
            if self.cluster {
                let mut pipe = redis::pipe();
                pipe.ignore_errors();
                groups.push(pipe);
                order.push(Vec::new());
            }
            let last = groups.len() - 1;
            let key = index_key(&self.prefix, *exchange);
            groups[last].zadd_multiple(&key, members);
            order[last].push(Slot::Index);
            if let Some(before) = &retire_before {
                groups[last].zrembyscore(&key, "-inf", before);
                order[last].push(Slot::Retire);
            }
        }
        let timeout =
            REDIS_TIMEOUT + TIMEOUT_PER_UPDATE * u32::try_from(ticks.len()).unwrap_or(u32::MAX);
        let mut results = self.query(&groups, timeout).await?;
        let no_script = |r: &[Value]| {
            r.iter().any(|v| {
                matches!(v, Value::ServerError(e) if e.kind() == Some(redis::ServerErrorKind::NoScript))
            })
        };
        if no_script(&results) {
            // The server lost its scripts (restart, SCRIPT FLUSH, failover): load and retry.
            self.script_reloads += 1;
            self.load_script().await?;
            results = self.query(&groups, timeout).await?;
        }
        let mut done = Applied::default();
        let mut transient = None;
        let mut index_refused = 0;
        let mut unindex: BTreeMap<Exchange, Vec<&str>> = BTreeMap::new();
        for (r, which) in results.iter().zip(order.iter().flatten()) {
            let tick = match which {
                Slot::Tick(i) => Some(*i),
                _ => None,
            };
            match (r, tick) {
                (Value::Int(n @ 0..=3), Some(i)) => {
                    if n & 1 == 1 {
                        done.applied += 1;
                    } else {
                        done.stale += 1;
                    }
                    if n & 2 == 2 {
                        done.delisted += 1;
                        let t = ticks[i];
                        unindex
                            .entry(t.exchange)
                            .or_default()
                            .push(t.instrument.as_str());
                    }
                }
                (Value::Int(_), None) => {}
                (Value::ServerError(e), tick) => match (key_refusal(e), tick) {
                    (Some(reason), Some(i)) => done.refused.push(Refused {
                        index: i,
                        reason,
                        error: format!("{} {}", e.code(), e.details().unwrap_or_default()),
                    }),
                    // The index key refused: counted once (its retirement fails alike).
                    (Some(_), None) => index_refused += u64::from(*which == Slot::Index),
                    (None, _) => {
                        transient.get_or_insert_with(|| redis::RedisError::from(e.clone()));
                    }
                },
                (other, _) => {
                    transient.get_or_insert_with(|| {
                        redis::RedisError::from((
                            ErrorKind::Parse,
                            "unexpected script result",
                            format!("{other:?}"),
                        ))
                    });
                }
            }
        }
        if let Some(e) = transient {
            self.applied_in_failed += done.applied;
            return Err(e);
        }
        self.index_refused += index_refused;
        if !unindex.is_empty() {
            // Delisted instruments leave the index this batch added them to (rare: the last
            // ticks of a market in flight when its delisting was applied). A failure here is
            // the batch's: it is retried whole, harmlessly.
            let mut groups = Vec::new();
            for (exchange, members) in &unindex {
                let mut pipe = redis::pipe();
                pipe.zrem(index_key(&self.prefix, *exchange), members);
                groups.push(pipe);
            }
            self.query(&groups, REDIS_TIMEOUT).await?;
        }
        Ok(done)
    }

    /// Runs the pipelines concurrently; the script results in order, or the first error.
    async fn query(
        &mut self,
        groups: &[Pipeline],
        timeout: Duration,
    ) -> redis::RedisResult<Vec<Value>> {
        let running = groups.iter().map(|pipe| {
            let mut conn = self.conn.clone();
            async move { pipe.query_async::<Vec<Value>>(&mut conn).await }
        });
        let all = tokio::time::timeout(timeout, futures_util::future::join_all(running))
            .await
            .map_err(|_| timed_out("pipeline"))?;
        let mut out = Vec::new();
        for r in all {
            out.extend(r?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::contract::{CONTRACT_VERSION, PRICE_RENAMED_IN_3};

    #[test]
    fn the_script_renames_what_the_contract_says() {
        for (old, new) in PRICE_RENAMED_IN_3 {
            assert!(
                CAS_SCRIPT.contains(&format!("'{old}', '{new}'")),
                "{old} -> {new}"
            );
        }
        assert!(CAS_SCRIPT.contains(&format!("stored ~= '{CONTRACT_VERSION}'")));
    }
}
