//! Writing feed status records into Redis: one Lua compare-and-set on the venue hash
//! (`px:feed:EXCHANGE`, the record's connection) and one on each instrument hash the record
//! names (`px:feed:{I}:EXCHANGE`); see [`crate::cache::contract::feed`]. Each script is atomic
//! on its own key; the venue hash and an instrument's live in different slots of a cluster, so
//! they are separate scripts, each ordered by the record's version on its own.

use super::super::contract::feed::{
    ConnectionState, FEED_INSTRUMENT_FIELDS, InstrumentFeed, connection_name, feed_instrument_key,
    feed_key, instrument_values, since_ts_us, status_version,
};
use super::super::store::{REDIS_TIMEOUT, RedisConnection, connect};
use crate::model::status::{FeedState, FeedStatus};
use redis::{ErrorKind, Value};

/// The venue compare-and-set. KEYS[1]: `px:feed:EXCHANGE`. ARGV[1]: the connection
/// (`binance#0`); ARGV[2]: the record's version; ARGV[3]: the connection state it sets;
/// ARGV[4]: 1 for an `UP` record; ARGV[5]: since (µs); ARGV[6]: its reason (`""`: none);
/// ARGV[7]: its `ts_us`; ARGV[8]: the cache's write time (µs); ARGV[9]: the exchange. Applies
/// only when the version is greater than the connection's `<c>:ver`; an `UP` of a `live` or
/// `refused` connection (a renewal) keeps its state. `<c>:since_ts_us` moves only when the
/// state changes. Then the venue's `state` is the worst of its connections'; a change of
/// either is PUBLISHed on the key's channel. Returns 1 when applied, 0 when older.
pub const VENUE_SCRIPT: &str = r"
local c = ARGV[1]
local cur = redis.call('HMGET', KEYS[1], c .. ':ver', c .. ':state')
if cur[1] and cur[1] >= ARGV[2] then return 0 end
local state = ARGV[3]
if ARGV[4] == '1' and (cur[2] == 'live' or cur[2] == 'refused') then state = cur[2] end
local changed = state ~= cur[2]
redis.call('HSET', KEYS[1], c .. ':ver', ARGV[2], c .. ':ts_us', ARGV[7], 'updated_ts_us', ARGV[8], 'exchange', ARGV[9])
if changed then redis.call('HSET', KEYS[1], c .. ':state', state, c .. ':since_ts_us', ARGV[5]) end
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[1], c .. ':reason', ARGV[6])
elseif changed then
  redis.call('HDEL', KEYS[1], c .. ':reason')
end
local newest = redis.call('HGET', KEYS[1], 'ts_us')
if not newest or tonumber(newest) < tonumber(ARGV[7]) then redis.call('HSET', KEYS[1], 'ts_us', ARGV[7]) end
local rank = {live = 1, refused = 2, connecting = 3, stale = 4, down = 5}
local worst = 'live'
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if string.sub(all[i], -6) == ':state' and (rank[all[i + 1]] or 0) > rank[worst] then worst = all[i + 1] end
end
local before = redis.call('HGET', KEYS[1], 'state')
redis.call('HSET', KEYS[1], 'state', worst)
if changed or before ~= worst then
  local o = {exchange = ARGV[9], connection = c, state = state, venue_state = worst, ts_us = ARGV[7],
    since_ts_us = redis.call('HGET', KEYS[1], c .. ':since_ts_us')}
  local reason = redis.call('HGET', KEYS[1], c .. ':reason')
  if reason then o['reason'] = reason end
  redis.call('PUBLISH', KEYS[1], cjson.encode(o))
end
return 1
";

/// The instrument compare-and-set. KEYS[1]: `px:feed:{I}:EXCHANGE`. ARGV[1]: the record's
/// version; ARGV[2]: the state it sets ([`InstrumentFeed`]); ARGV[3]: since (µs); ARGV[4]: its
/// reason (`""`: none); ARGV[5], ARGV[6]: its connector and connection index; then
/// field/value pairs ([`FEED_INSTRUMENT_FIELDS`]; `""`: absent, the gap fields kept). Applies
/// only when the version is greater than `ver`. A `stale`/`down` from the connection that
/// holds the instrument `refused` keeps `refused` (it was not flowing; the refusal says why)
/// and moves only `ver`, `ts_us` and `updated_ts_us`: returns 2. Otherwise sets the state
/// (`since_ts_us` only when it changes), `reason` (removed when none), the fields, and
/// PUBLISHes the hash (but `ver`) as JSON on the key's channel: returns 1. Older: 0.
pub const INSTRUMENT_SCRIPT: &str = r"
local cur = redis.call('HMGET', KEYS[1], 'ver', 'state', 'connector', 'connection')
if cur[1] and cur[1] >= ARGV[1] then return 0 end
local state = ARGV[2]
local fields = {}
for j = 7, #ARGV, 2 do fields[ARGV[j]] = ARGV[j + 1] end
if (state == 'stale' or state == 'down') and cur[2] == 'refused' and cur[3] == ARGV[5] and cur[4] == ARGV[6] then
  redis.call('HSET', KEYS[1], 'ver', ARGV[1], 'ts_us', fields['ts_us'], 'updated_ts_us', fields['updated_ts_us'])
  return 2
end
local sets = {'ver', ARGV[1], 'state', state}
local dels = {}
if state ~= cur[2] then sets[#sets + 1] = 'since_ts_us'; sets[#sets + 1] = ARGV[3] end
if ARGV[4] ~= '' then sets[#sets + 1] = 'reason'; sets[#sets + 1] = ARGV[4] else dels[#dels + 1] = 'reason' end
for j = 7, #ARGV, 2 do
  if ARGV[j + 1] ~= '' then
    sets[#sets + 1] = ARGV[j]; sets[#sets + 1] = ARGV[j + 1]
  elseif ARGV[j] ~= 'gap_start_ts_us' and ARGV[j] ~= 'gap_end_ts_us' then
    dels[#dels + 1] = ARGV[j]
  end
end
redis.call('HSET', KEYS[1], unpack(sets))
if #dels > 0 then redis.call('HDEL', KEYS[1], unpack(dels)) end
local h = redis.call('HGETALL', KEYS[1])
local o = {}
for i = 1, #h, 2 do if h[i] ~= 'ver' then o[h[i]] = h[i + 1] end end
redis.call('PUBLISH', KEYS[1], cjson.encode(o))
return 1
";

/// What one batch of records did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusApplied {
    /// Records of which at least one write applied (newer than what Redis held).
    pub applied: u64,
    /// Records Redis held, or held newer ones of, everywhere they write (a replay, another
    /// cache replica's write).
    pub stale: u64,
}

/// Writes feed status records (see the module docs).
#[derive(Debug)]
pub struct StatusStore {
    conn: RedisConnection,
    url: String,
    cluster: bool,
    venue_sha: String,
    instrument_sha: String,
    prefix: String,
}

fn timed_out(what: &str) -> redis::RedisError {
    redis::RedisError::from((
        ErrorKind::Io,
        "timed out",
        format!("{what} took longer than {REDIS_TIMEOUT:?}"),
    ))
}

impl StatusStore {
    /// Connects (see [`connect`]) and loads the scripts.
    pub async fn open(url: &str, cluster: bool, prefix: &str) -> redis::RedisResult<Self> {
        let mut store = Self {
            conn: connect(url, cluster).await?,
            url: url.to_owned(),
            cluster,
            venue_sha: redis::Script::new(VENUE_SCRIPT).get_hash().to_owned(),
            instrument_sha: redis::Script::new(INSTRUMENT_SCRIPT).get_hash().to_owned(),
            prefix: prefix.to_owned(),
        };
        store.load_scripts().await?;
        Ok(store)
    }

    /// [`super::super::store::describe`] for this store's server.
    pub fn describe(&self, e: &redis::RedisError) -> String {
        super::super::store::describe(&self.url, e)
    }

    async fn load_scripts(&mut self) -> redis::RedisResult<()> {
        for script in [VENUE_SCRIPT, INSTRUMENT_SCRIPT] {
            let mut load = redis::cmd("SCRIPT");
            load.arg("LOAD").arg(script);
            tokio::time::timeout(REDIS_TIMEOUT, load.query_async::<String>(&mut self.conn))
                .await
                .unwrap_or_else(|_| Err(timed_out("SCRIPT LOAD")))?;
        }
        Ok(())
    }

    /// The commands in order: one pipeline on one server; one command at a time in a cluster
    /// (the keys cross slots, and one instrument's records must apply in their order).
    async fn query(&mut self, commands: &[redis::Cmd]) -> redis::RedisResult<Vec<Value>> {
        let mut out = Vec::with_capacity(commands.len());
        if self.cluster {
            for c in commands {
                let mut p = redis::pipe();
                p.ignore_errors().add_command(c.clone());
                let r = tokio::time::timeout(
                    REDIS_TIMEOUT,
                    p.query_async::<Vec<Value>>(&mut self.conn),
                )
                .await
                .map_err(|_| timed_out("pipeline"))??;
                out.extend(r);
            }
        } else {
            let mut p = redis::pipe();
            p.ignore_errors();
            for c in commands {
                p.add_command(c.clone());
            }
            out = tokio::time::timeout(REDIS_TIMEOUT, p.query_async::<Vec<Value>>(&mut self.conn))
                .await
                .map_err(|_| timed_out("pipeline"))??;
        }
        Ok(out)
    }

    /// The scripts `record` runs: its connection's, then one per instrument it names (none for
    /// `UP`).
    fn commands(&self, record: &FeedStatus, simulated: bool, now_us: i64) -> Vec<redis::Cmd> {
        let version = status_version(record);
        let since = since_ts_us(record);
        let reason = record.reason.clone().unwrap_or_default();
        let mut venue = redis::cmd("EVALSHA");
        venue
            .arg(&self.venue_sha)
            .arg(1)
            .arg(feed_key(&self.prefix, record.exchange))
            .arg(connection_name(&record.connector, record.connection))
            .arg(&version)
            .arg(ConnectionState::of(record.state).as_str())
            .arg(if record.state == FeedState::Up {
                "1"
            } else {
                "0"
            })
            .arg(since)
            .arg(&reason)
            .arg(record.ts_us)
            .arg(now_us)
            .arg(record.exchange.as_str());
        let mut out = vec![venue];
        let Some(state) = InstrumentFeed::of(record.state) else {
            return out;
        };
        for instrument in &record.instruments {
            let mut cmd = redis::cmd("EVALSHA");
            cmd.arg(&self.instrument_sha)
                .arg(1)
                .arg(feed_instrument_key(
                    &self.prefix,
                    instrument.as_str(),
                    record.exchange,
                ))
                .arg(&version)
                .arg(state.as_str())
                .arg(since)
                .arg(if state == InstrumentFeed::Live {
                    ""
                } else {
                    &reason
                })
                .arg(&record.connector)
                .arg(record.connection);
            let values = instrument_values(record, instrument.as_str(), now_us, simulated);
            for (k, v) in FEED_INSTRUMENT_FIELDS.iter().zip(values) {
                cmd.arg(*k).arg(v);
            }
            out.push(cmd);
        }
        out
    }

    /// Applies `records` (each with whether it is synthetic) in order. Any error is the
    /// batch's: retrying it whole is harmless (what applied is then older or equal).
    pub async fn apply(
        &mut self,
        records: &[(FeedStatus, bool)],
        now_us: i64,
    ) -> redis::RedisResult<StatusApplied> {
        let mut done = StatusApplied::default();
        let mut commands = Vec::new();
        let mut per_record = Vec::with_capacity(records.len());
        for (record, simulated) in records {
            let mine = self.commands(record, *simulated, now_us);
            per_record.push(mine.len());
            commands.extend(mine);
        }
        if commands.is_empty() {
            return Ok(done);
        }
        let mut results = self.query(&commands).await?;
        let no_script = results.iter().any(|v| {
            matches!(v, Value::ServerError(e) if e.kind() == Some(redis::ServerErrorKind::NoScript))
        });
        if no_script {
            // The server lost its scripts (restart, SCRIPT FLUSH, failover): load and retry.
            self.load_scripts().await?;
            results = self.query(&commands).await?;
        }
        let mut at = 0;
        for n in per_record {
            let mut applied = false;
            let Some(mine) = results.get(at..at + n) else {
                return Err(redis::RedisError::from((
                    ErrorKind::Parse,
                    "fewer script results than scripts",
                    format!("{} for {}", results.len(), commands.len()),
                )));
            };
            for result in mine {
                match result {
                    Value::Int(0) => {}
                    Value::Int(1 | 2) => applied = true,
                    Value::ServerError(e) => return Err(redis::RedisError::from(e.clone())),
                    other => {
                        return Err(redis::RedisError::from((
                            ErrorKind::Parse,
                            "unexpected script result",
                            format!("{other:?}"),
                        )));
                    }
                }
            }
            at += n;
            if applied {
                done.applied += 1;
            } else {
                done.stale += 1;
            }
        }
        Ok(done)
    }
}
