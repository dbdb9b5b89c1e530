//! Writing the instrument reference into Redis: one Lua script per record (its reference hash
//! and the mark on its price hash, atomically: they share a hash tag), then the venue's live
//! set and index by the state each script left in effect.

use super::super::contract::{
    DELISTED_TS_FIELD, LISTING_FIELD, REFERENCE_FIELDS, index_key, live_key, price_key,
    reference_key, reference_values, reference_version,
};
use super::super::store::{REDIS_TIMEOUT, RedisConnection, connect};
use crate::codec::instrument::{InstrumentRecord, State};
use crate::model::{Exchange, Instrument};
use redis::{ErrorKind, Pipeline, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// The reference compare-and-set. KEYS[1]: the reference hash; KEYS[2]: the price hash (same
/// hash tag). ARGV[1]: the record's version (its `as_of_ts_us` as sortable digits); ARGV[2]:
/// its state, `live` or `delisted`; ARGV[3]: TTL in ms of a delisted reference (0: none);
/// ARGV[4]: its `as_of_ts_us`; ARGV[5]: the JSON published on the price channel when the mark changes;
/// then field/value pairs (`""`: absent). A record applies only when its version is greater
/// than the stored `ver`: it then replaces the hash whole (so a hash of contract 2 loses its
/// old time names, [`REFERENCE_RENAMED_IN_3`](super::super::contract::REFERENCE_RENAMED_IN_3)).
/// Delisted: the price hash, if there is one, gets `listing` = `delisted` and `delisted_ts_us`
/// (no price field touched; contract 2's `delisted_ts` removed, and the price hash's other
/// fields left to its next tick to upgrade) and the JSON is published; live: a mark there,
/// under either name, is removed (and published). Returns the state in effect
/// afterwards, 0 live or 2 delisted, plus 1 when this record applied.
pub const REFERENCE_SCRIPT: &str = r"
local current = redis.call('HGET', KEYS[1], 'ver')
if current and current >= ARGV[1] then
  if redis.call('HGET', KEYS[1], 'state') == 'delisted' then return 2 end
  return 0
end
local sets = {'ver', ARGV[1]}
for j = 6, #ARGV, 2 do
  if ARGV[j + 1] ~= '' then sets[#sets + 1] = ARGV[j]; sets[#sets + 1] = ARGV[j + 1] end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(sets))
if ARGV[2] == 'delisted' then
  if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
  if redis.call('EXISTS', KEYS[2]) == 1 then
    redis.call('HSET', KEYS[2], 'listing', 'delisted', 'delisted_ts_us', ARGV[4])
    redis.call('HDEL', KEYS[2], 'delisted_ts')
    redis.call('PUBLISH', KEYS[2], ARGV[5])
  end
  return 3
end
if redis.call('HDEL', KEYS[2], 'listing', 'delisted_ts_us', 'delisted_ts') > 0 then
  redis.call('PUBLISH', KEYS[2], ARGV[5])
end
return 1
";

/// What one batch of records did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordsApplied {
    /// Records that applied (newer than what Redis held).
    pub applied: u64,
    /// Records older than, or the same as, what Redis held (a replay, another gatherer's).
    pub stale: u64,
    /// The state in effect afterwards of each instrument of the batch.
    pub states: Vec<((Exchange, Instrument), State)>,
}

/// Writes instrument records (see the module docs).
#[derive(Debug)]
pub struct ReferenceStore {
    conn: RedisConnection,
    url: String,
    cluster: bool,
    sha: String,
    prefix: String,
    ttl_ms: u64,
}

fn timed_out(what: &str) -> redis::RedisError {
    redis::RedisError::from((
        ErrorKind::Io,
        "timed out",
        format!("{what} took longer than {REDIS_TIMEOUT:?}"),
    ))
}

impl ReferenceStore {
    /// Connects (see [`connect`]) and loads the script.
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
            sha: redis::Script::new(REFERENCE_SCRIPT).get_hash().to_owned(),
            prefix: prefix.to_owned(),
            ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
        };
        store.load_script().await?;
        Ok(store)
    }

    /// [`super::super::store::describe`] for this store's server.
    pub fn describe(&self, e: &redis::RedisError) -> String {
        super::super::store::describe(&self.url, e)
    }

    async fn load_script(&mut self) -> redis::RedisResult<()> {
        let mut load = redis::cmd("SCRIPT");
        load.arg("LOAD").arg(REFERENCE_SCRIPT);
        tokio::time::timeout(REDIS_TIMEOUT, load.query_async::<String>(&mut self.conn))
            .await
            .unwrap_or_else(|_| Err(timed_out("SCRIPT LOAD")))?;
        Ok(())
    }

    async fn query(&mut self, groups: &[Pipeline]) -> redis::RedisResult<Vec<Value>> {
        let running = groups.iter().map(|pipe| {
            let mut conn = self.conn.clone();
            async move { pipe.query_async::<Vec<Value>>(&mut conn).await }
        });
        let all = tokio::time::timeout(REDIS_TIMEOUT, futures_util::future::join_all(running))
            .await
            .map_err(|_| timed_out("pipeline"))?;
        let mut out = Vec::new();
        for r in all {
            out.extend(r?);
        }
        Ok(out)
    }

    /// One pipeline per command in a cluster (the keys of a batch cross slots), one in all
    /// otherwise.
    fn pipelines(&self, commands: Vec<redis::Cmd>) -> Vec<Pipeline> {
        let fresh = || {
            let mut p = redis::pipe();
            p.ignore_errors();
            p
        };
        if self.cluster {
            commands
                .into_iter()
                .map(|c| {
                    let mut p = fresh();
                    p.add_command(c);
                    p
                })
                .collect()
        } else {
            let mut p = fresh();
            for c in commands {
                p.add_command(c);
            }
            vec![p]
        }
    }

    /// Applies `records` (each with whether it is synthetic), then the live sets and indexes.
    /// Any error is the batch's: retrying it whole is harmless (a record already applied is
    /// then stale, and the sets follow the state in effect).
    pub async fn apply(
        &mut self,
        records: &[(InstrumentRecord, bool)],
        now_us: i64,
    ) -> redis::RedisResult<RecordsApplied> {
        let mut done = RecordsApplied::default();
        if records.is_empty() {
            return Ok(done);
        }
        let scripts: Vec<redis::Cmd> = records
            .iter()
            .map(|(r, simulated)| {
                let delisted = r.state == State::Delisted;
                let mut publish = serde_json::json!({
                    "exchange": r.exchange.as_str(),
                    "instrument": r.instrument.as_str(),
                    LISTING_FIELD: if delisted { "delisted" } else { "live" },
                });
                if delisted {
                    publish[DELISTED_TS_FIELD] = r.as_of_ts_us.to_string().into();
                }
                let mut cmd = redis::cmd("EVALSHA");
                cmd.arg(&self.sha)
                    .arg(2)
                    .arg(reference_key(
                        &self.prefix,
                        r.instrument.as_str(),
                        r.exchange,
                    ))
                    .arg(price_key(&self.prefix, r.instrument.as_str(), r.exchange))
                    .arg(reference_version(r))
                    .arg(if delisted { "delisted" } else { "live" })
                    .arg(self.ttl_ms)
                    .arg(r.as_of_ts_us)
                    .arg(publish.to_string());
                for (k, v) in REFERENCE_FIELDS
                    .iter()
                    .zip(reference_values(r, now_us, *simulated))
                {
                    cmd.arg(*k).arg(v);
                }
                cmd
            })
            .collect();
        let groups = self.pipelines(scripts);
        let mut results = self.query(&groups).await?;
        let no_script = |r: &[Value]| {
            r.iter().any(|v| {
                matches!(v, Value::ServerError(e) if e.kind() == Some(redis::ServerErrorKind::NoScript))
            })
        };
        if no_script(&results) {
            // The server lost its scripts (restart, SCRIPT FLUSH, failover): load and retry.
            self.load_script().await?;
            results = self.query(&groups).await?;
        }
        let mut sets: Vec<redis::Cmd> = Vec::new();
        for ((r, _), result) in records.iter().zip(&results) {
            let n = match result {
                Value::Int(n @ 0..=3) => *n,
                Value::ServerError(e) => return Err(redis::RedisError::from(e.clone())),
                other => {
                    return Err(redis::RedisError::from((
                        ErrorKind::Parse,
                        "unexpected script result",
                        format!("{other:?}"),
                    )));
                }
            };
            if n & 1 == 1 {
                done.applied += 1;
            } else {
                done.stale += 1;
            }
            let member = r.instrument.as_str();
            let state = if n & 2 == 2 {
                let mut zrem = redis::cmd("ZREM");
                zrem.arg(live_key(&self.prefix, r.exchange)).arg(member);
                sets.push(zrem);
                let mut zrem = redis::cmd("ZREM");
                zrem.arg(index_key(&self.prefix, r.exchange)).arg(member);
                sets.push(zrem);
                State::Delisted
            } else {
                // NX: the score is when the cache first saw it live, kept through replays.
                let mut zadd = redis::cmd("ZADD");
                zadd.arg(live_key(&self.prefix, r.exchange))
                    .arg("NX")
                    .arg(now_us)
                    .arg(member);
                sets.push(zadd);
                State::Live
            };
            done.states
                .push(((r.exchange, r.instrument.clone()), state));
        }
        let groups = self.pipelines(sets);
        for result in self.query(&groups).await? {
            if let Value::ServerError(e) = result {
                return Err(redis::RedisError::from(e));
            }
        }
        Ok(done)
    }

    /// Removes the delisted instruments of `delisted` from their venue's index and live set
    /// again: a tick written by another cache member between a delisting's script and its
    /// removal from the index may have added one back. Returns how many members were removed.
    pub async fn sweep(
        &mut self,
        delisted: &BTreeMap<Exchange, Vec<Instrument>>,
    ) -> redis::RedisResult<u64> {
        let mut commands = Vec::new();
        for (exchange, members) in delisted.iter().filter(|(_, m)| !m.is_empty()) {
            let names: Vec<&str> = members.iter().map(Instrument::as_str).collect();
            for key in [
                index_key(&self.prefix, *exchange),
                live_key(&self.prefix, *exchange),
            ] {
                let mut zrem = redis::cmd("ZREM");
                zrem.arg(key).arg(&names);
                commands.push(zrem);
            }
        }
        if commands.is_empty() {
            return Ok(0);
        }
        let groups = self.pipelines(commands);
        let mut removed = 0;
        for result in self.query(&groups).await? {
            match result {
                Value::Int(n) => removed += u64::try_from(n).unwrap_or(0),
                Value::ServerError(e) => return Err(redis::RedisError::from(e)),
                _ => {}
            }
        }
        Ok(removed)
    }
}
