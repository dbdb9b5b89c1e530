//! Cache throughput and latency on this machine (tansu, redis-server and tickflow on the same 2
//! cores, loopback).
//!
//! 1. Throughput: the topic is pre-filled with `--messages` canonical ticks spread over 1,000
//!    and then 10,000 distinct instruments; `tickflow cache` (in-process) consumes it from the
//!    start. Reported: ticks consumed per second (first message consumed → Redis acknowledged
//!    the batch of the last), Redis writes (compare-and-sets) per second, and what the broker
//!    serves a fetch-only consumer of the same topic (the ceiling).
//! 2. Latency: simulator → gather → Kafka → cache → Redis at `--rate` ticks/s; reported: the
//!    exchange-receive → Redis-applied latency (p50/p99) of the ticks applied in the window.
//!
//! Run: `cargo bench --bench cache -- [--messages 1000000] [--rate 10000] [--secs 15]`
//! (tansu and redis-server must be installed: `scripts/stack.sh install`).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/mod.rs"]
mod common;

#[path = "../tests/common/stack.rs"]
#[allow(dead_code)]
mod stack;

#[path = "../tests/common/fill.rs"]
mod fill;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tickflow::cache::consume::spawn;
use tickflow::config::{AppConfig, load_app_config};
use tickflow::metrics::quantile_of;

fn app(broker: &stack::Broker, redis: &stack::RedisServer, group: &str) -> AppConfig {
    let url = redis.url();
    let env = [
        (
            "TICKFLOW_KAFKA__BOOTSTRAP_SERVERS",
            broker.bootstrap.as_str(),
        ),
        ("TICKFLOW_REDIS__URL", url.as_str()),
        ("TICKFLOW_CACHE__GROUP_ID", group),
        ("TICKFLOW_CACHE__HTTP_BIND", "127.0.0.1:0"),
        ("TICKFLOW_HTTP__BIND", "127.0.0.1:0"),
        ("TICKFLOW_GATHER__PROGRESS_SECS", "0"),
    ];
    load_app_config(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tickflow.toml"),
        false,
        env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    )
    .unwrap()
}

async fn throughput(messages: u64, instruments: u64) -> Option<(f64, f64, f64)> {
    let broker = stack::Broker::start("cache bench")?;
    let redis = stack::RedisServer::start("cache bench")?;
    let app = app(&broker, &redis, "bench");
    fill::create_topics(&app).await;
    fill::fill(&app, 0..messages, instruments, 10_000);
    let fetch_only = ceiling(&app, messages);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = spawn(&app, stopped).await.unwrap();
    let (stats, task) = (running.stats, running.task);
    // From the first message consumed until Redis acknowledged the batch of the last.
    while stats.consumed.load(Ordering::Relaxed) == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let t0 = Instant::now();
    while stats.acknowledged.load(Ordering::Relaxed) < messages {
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "cache bench stalled"
        );
    }
    let secs = t0.elapsed().as_secs_f64();
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
    let writes =
        (stats.applied.load(Ordering::Relaxed) + stats.stale.load(Ordering::Relaxed)) as f64;
    Some((messages as f64 / secs, writes / secs, fetch_only))
}

/// Fetch only (no decode, no Redis; the cache's fetch settings): what the broker serves one
/// consumer, the ceiling for the cache.
fn ceiling(app: &AppConfig, messages: u64) -> f64 {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &app.kafka["bootstrap.servers"])
        .set("group.id", "ceiling")
        .set("fetch.wait.max.ms", "10")
        .set("fetch.queue.backoff.ms", "10")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    c.subscribe(&[&app.topics.ticks]).unwrap();
    let (mut n, mut bytes) = (0, 0);
    let mut t0 = None;
    while n < messages {
        if let Some(m) = c.poll(Duration::from_millis(100)) {
            t0.get_or_insert_with(Instant::now);
            bytes += rdkafka::message::Message::payload(&m.unwrap()).map_or(0, <[u8]>::len);
            n += 1;
        }
    }
    std::hint::black_box(bytes);
    n as f64 / t0.map_or(1.0, |t| t.elapsed().as_secs_f64())
}

async fn latency(rate: u32, secs: u64) -> Option<(f64, f64, u64)> {
    let broker = stack::Broker::start("cache bench")?;
    let redis = stack::RedisServer::start("cache bench")?;
    let app = app(&broker, &redis, "bench-latency");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (running, sim_stop) = common::simulated_gather(app.clone(), rate, 3, stopped.clone()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cache = spawn(&app, stopped).await.unwrap();
    let (stats, task) = (cache.stats, cache.task);
    tokio::time::sleep(Duration::from_secs(5)).await; // warm-up
    let h0 = stats.receive_to_redis_us.snapshot();
    let applied0 = stats.applied.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let h1 = stats.receive_to_redis_us.snapshot();
    let applied = stats.applied.load(Ordering::Relaxed) - applied0;
    stop.send(true).unwrap();
    running.done.await.unwrap().unwrap();
    task.await.unwrap().unwrap();
    let _ = sim_stop.send(true);
    let window: Vec<u64> = h1.iter().zip(&h0).map(|(a, b)| a - b).collect();
    Some((
        quantile_of(&window, 0.5).unwrap_or(0) as f64 / 1e3,
        quantile_of(&window, 0.99).unwrap_or(0) as f64 / 1e3,
        applied,
    ))
}

fn main() {
    let messages: u64 = common::arg("--messages").map_or(1_000_000, |s| s.parse().unwrap());
    let rate: u32 = common::arg("--rate").map_or(10_000, |s| s.parse().unwrap());
    let secs: u64 = common::arg("--secs").map_or(15, |s| s.parse().unwrap());
    let repeat: usize = common::arg("--repeat").map_or(1, |s| s.parse().unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for _ in 0..repeat {
        for instruments in [1_000u64, 10_000] {
            let Some((consumed, writes, fetch_only)) =
                runtime.block_on(throughput(messages, instruments))
            else {
                return;
            };
            println!(
                "throughput: {messages} ticks over {instruments} instruments: {consumed:.0} ticks/s consumed, {writes:.0} Redis writes/s (fetch only: {fetch_only:.0}/s)"
            );
        }
        let Some((p50, p99, applied)) = runtime.block_on(latency(rate, secs)) else {
            return;
        };
        println!(
            "latency at {rate} ticks/s (gather running): receive→Redis p50 {p50:.1} ms, p99 {p99:.1} ms ({applied} updates applied in {secs} s)"
        );
    }
}
