//! The cache under test: started in-process with the shipped config, and what Kafka and Redis
//! should hold afterwards.

use super::run::app_with;
use super::stack::{Broker, RedisServer, consume_all};
use rdkafka::message::Message;
use redis::AsyncCommands;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tickflow::cache::consume::{CacheStats, spawn};
use tickflow::cache::contract::{Part, part_values, parts, version};
use tickflow::codec::{Encoder, Format};
use tickflow::config::AppConfig;
use tickflow::model::Tick;

/// A running cache consumer.
pub struct Cache {
    pub stats: Arc<CacheStats>,
    stop: tokio::sync::watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// A test that fails before `finish` still stops the cache: its poll thread would otherwise
/// keep the runtime's shutdown (and the test binary) waiting for ever.
impl Drop for Cache {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

pub async fn cache(app: &AppConfig) -> Cache {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = spawn(app, stopped).await.unwrap();
    Cache {
        stats: running.stats,
        stop,
        task: Some(running.task),
    }
}

impl Cache {
    pub async fn finish(mut self) -> Arc<CacheStats> {
        self.stop.send(true).unwrap();
        let task = self.task.take().unwrap();
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        Arc::clone(&self.stats)
    }
}

pub fn config(broker: &Broker, redis: &RedisServer, group: &str) -> AppConfig {
    config_with(broker, redis, group, &[])
}

/// [`config`] with more environment overrides.
pub fn config_with(
    broker: &Broker,
    redis: &RedisServer,
    group: &str,
    extra: &[(&str, &str)],
) -> AppConfig {
    let url = redis.url();
    let mut env = vec![
        ("TICKFLOW_REDIS__URL", url.as_str()),
        ("TICKFLOW_CACHE__GROUP_ID", group),
        ("TICKFLOW_CACHE__HTTP_BIND", "127.0.0.1:0"),
    ];
    env.extend_from_slice(extra);
    app_with(&broker.bootstrap, &env)
}

/// The newest tick of every part of every key: what the contract must hold.
pub type Newest = HashMap<String, BTreeMap<Part, Tick>>;

/// The oracle: for each key and part, the tick with the greatest version (independent of the
/// cache's coalescing and of the Lua script).
pub fn newest_of(ticks: impl IntoIterator<Item = Tick>) -> Newest {
    let mut newest = Newest::new();
    for tick in ticks {
        let key = format!("px:{{{}}}:{}", tick.instrument, tick.exchange.as_str());
        let by_part = newest.entry(key).or_default();
        for &part in parts(&tick) {
            match by_part.get(&part) {
                Some(t) if version(t, part) >= version(&tick, part) => {}
                _ => {
                    by_part.insert(part, tick.clone());
                }
            }
        }
    }
    newest
}

/// [`newest_of`] every tick on the topic.
pub fn newest_in_kafka(bootstrap: &str, at_least: usize) -> Newest {
    let ticks = consume_all(bootstrap, "ticks.v1", at_least, Duration::from_secs(60))
        .into_iter()
        .filter_map(|m| Encoder::decode(Format::Avro, m.payload()?).ok())
        .map(|(_, tick)| tick);
    newest_of(ticks)
}

pub async fn assert_redis_holds(redis: &RedisServer, newest: &Newest) {
    let mut c = tickflow::cache::connect(&redis.url(), false).await.unwrap();
    for (key, by_part) in newest {
        let h: HashMap<String, String> = c.hgetall(key).await.unwrap();
        for (part, tick) in by_part {
            let ver = format!("{}_ver", part.name());
            assert_eq!(
                h.get(&ver),
                Some(&version(tick, *part)),
                "{key}: {ver} is not the newest tick's"
            );
            for (field, want) in part.fields().iter().zip(part_values(tick, *part)) {
                let got = h.get(*field).map_or("", String::as_str);
                assert_eq!(got, want, "{key}: {field}");
            }
        }
    }
}

/// The group's committed offsets of `ticks.v1`, summed.
pub fn committed_offsets(bootstrap: &str, group: &str, partitions: i32) -> i64 {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut committed = 0;
    {
        let mut list = rdkafka::TopicPartitionList::new();
        for p in 0..partitions {
            list.add_partition("ticks.v1", p);
        }
        let offsets = consumer
            .committed_offsets(list, Duration::from_secs(10))
            .unwrap();
        for e in offsets.elements() {
            if let rdkafka::Offset::Offset(o) = e.offset() {
                committed += o;
            }
        }
        // The lists are dropped here, before the consumer (TESTING.md).
    }
    committed
}
