//! Cache throughput and freshness on this machine (tansu, redis-server and tickflow on the same
//! 2 cores, loopback).
//!
//! 1. Throughput: the topic is pre-filled with `--messages` canonical ticks spread over 1,000
//!    and then 10,000 distinct instruments; `tickflow cache` (in-process) consumes it from the
//!    start. Reported: ticks consumed per second (first message consumed → Redis acknowledged
//!    the batch of the last), Redis writes (compare-and-sets) per second, and what the broker
//!    serves a fetch-only consumer of the same topic (the ceiling); and redis-server's CPU: the
//!    share of one core it used, and its CPU time per compare-and-set.
//! 2. Freshness: simulator → gather → Kafka → cache → Redis at each of `--rates` ticks/s, read
//!    as an API server reads: a client `PSUBSCRIBE`d to the price channels (`px:{*`) takes,
//!    for every update it is told of, its arrival time minus the update's `received_ts_us` (when
//!    gather received the frame). Reported: p50, p99 and max of that, updates seen, and where
//!    the time went in the same window: gather's own receive → Kafka ack p50/p99 and the
//!    cache's own receive → Redis ack p50/p99. Each rate runs `--windows` times (default 3),
//!    each on a fresh stack (broker, Redis, gather, cache), and the windows' updates are pooled;
//!    also shown: each window's p99, and the pooled p99 by 5 s slice of the windows. Both
//!    test brokers' fetch costs grow with what they hold (below), so a window's later slices
//!    are slower, and one long window would measure the broker's age more than tickflow.
//!
//! `--broker mock` runs the freshness cases on librdkafka's mock cluster (in process) instead
//! of tansu: tansu 0.6.0 holds every fetch for the whole `fetch.wait.max.ms` and lists every
//! stored batch of a partition on each fetch, so its latency grows with the data it holds;
//! the mock answers a fetch at once when it has data but parks an empty one for the whole
//! wait, even when data arrives meanwhile, and finds a fetch's offset by walking its log from
//! the oldest batch (`rd_kafka_mock_msgset_find`, "FIXME: Maintain an index"), so its cost
//! too grows with what it holds (up to 5 MB per partition). Apache Kafka answers a parked
//! fetch as soon as data arrives and finds an offset through an index:
//! `--broker mock --set TICKFLOW_KAFKA__FETCH_WAIT_MAX_MS=0` (every fetch answered at once) on
//! short windows models that.
//!
//! `--set KEY=VALUE` (repeatable) sets a `TICKFLOW_...` variable for both (e.g.
//! `--set TICKFLOW_CACHE__BATCH_WAIT_MS=20`), so settings compare side by side in one build.
//!
//! `--venues upbit,binance` takes only those connectors (to compare with a build that had
//! fewer venues).
//!
//! Run: `cargo bench --bench cache -- [--messages 1000000] [--rates 1000,10000,50000]
//! [--secs 10] [--windows 3] [--repeat 1] [--only throughput|freshness] [--broker mock]
//! [--set K=V ...] [--venues a,b]`
//! (tansu and redis-server must be installed: `scripts/stack.sh install`).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/mod.rs"]
mod common;

#[path = "../tests/common/stack.rs"]
#[allow(dead_code)]
mod stack;

#[path = "../tests/common/fill.rs"]
mod fill;

use futures_util::StreamExt;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tickflow::cache::consume::spawn;
use tickflow::config::{AppConfig, load_app_config};
use tickflow::metrics::quantile_of;

fn app(broker: &stack::Broker, redis: &stack::RedisServer, group: &str) -> AppConfig {
    app_on(&broker.bootstrap, redis, group)
}

fn app_on(bootstrap: &str, redis: &stack::RedisServer, group: &str) -> AppConfig {
    let url = redis.url();
    let mut env: Vec<(String, String)> = [
        ("TICKFLOW_KAFKA__BOOTSTRAP_SERVERS", bootstrap),
        ("TICKFLOW_REDIS__URL", url.as_str()),
        ("TICKFLOW_CACHE__GROUP_ID", group),
        ("TICKFLOW_CACHE__HTTP_BIND", "127.0.0.1:0"),
        ("TICKFLOW_HTTP__BIND", "127.0.0.1:0"),
        ("TICKFLOW_GATHER__PROGRESS_SECS", "0"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    env.extend(common::settings());
    load_app_config(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tickflow.toml"),
        false,
        env,
    )
    .unwrap()
}

async fn throughput(messages: u64, instruments: u64) -> Option<Throughput> {
    let broker = stack::Broker::start("cache bench")?;
    let redis = stack::RedisServer::start("cache bench")?;
    let app = app(&broker, &redis, "bench");
    fill::create_topics(&app).await;
    fill::fill(&app, 0..messages, instruments, 10_000);
    let fetch_only = ceiling(&app, messages);
    let cpu0 = redis_cpu(&redis).await;
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
    let redis_cpu_s = redis_cpu(&redis).await - cpu0;
    Some(Throughput {
        consumed: messages as f64 / secs,
        writes: writes / secs,
        fetch_only,
        redis_busy: redis_cpu_s / secs,
        redis_us_per_write: redis_cpu_s * 1e6 / writes,
    })
}

/// What one throughput case measured.
struct Throughput {
    consumed: f64,
    writes: f64,
    fetch_only: f64,
    /// redis-server's CPU time over the run's wall time (1.0: one core all the time).
    redis_busy: f64,
    /// redis-server's CPU time per compare-and-set, µs.
    redis_us_per_write: f64,
}

/// redis-server's CPU time so far (user + system), seconds.
async fn redis_cpu(redis: &stack::RedisServer) -> f64 {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let info: String = redis::cmd("INFO")
        .arg("cpu")
        .query_async(&mut conn)
        .await
        .unwrap();
    info.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| *k == "used_cpu_user" || *k == "used_cpu_sys")
        .map(|(_, v)| v.trim().parse::<f64>().unwrap())
        .sum()
}

/// Fetch only (no decode, no Redis; the cache's fetch settings): what the broker serves one
/// consumer, the ceiling for the cache.
fn ceiling(app: &AppConfig, messages: u64) -> f64 {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let mut config = rdkafka::ClientConfig::new();
    for (k, v) in tickflow::kafka::contract::CACHE_CONSUMER_DEFAULTS {
        config.set(k, v);
    }
    let c: BaseConsumer = config
        .set("bootstrap.servers", &app.kafka["bootstrap.servers"])
        .set("group.id", "ceiling")
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

/// Freshness at `rate` ticks/s, as an API server subscribed to the price channels sees it, in
/// one window.
struct Freshness {
    /// Each update's arrival (µs into the window) and age then (µs).
    samples: Vec<(i64, i64)>,
    /// Where the time goes, as histogram counts over the window: gather's receive → Kafka ack,
    /// and the cache's own receive → Redis ack (its `receive_to_redis` histogram).
    gather_acks: Vec<u64>,
    cache_acks: Vec<u64>,
    /// Ticks the broker acknowledged to gather in the window, per second: what was offered
    /// reached Kafka.
    acked_per_s: f64,
}

/// The `q` quantile of `values` (sorted), in ms.
fn quantile_ms(values: &[i64], q: f64) -> f64 {
    let i = ((values.len() as f64 * q).ceil() as usize).clamp(1, values.len().max(1)) - 1;
    values.get(i).copied().unwrap_or(0) as f64 / 1e3
}

/// The p99 of `ages` (µs) in ms, as printed ("none" when there are none).
fn p99_shown(ages: impl Iterator<Item = i64>) -> String {
    let mut a: Vec<i64> = ages.collect();
    if a.is_empty() {
        return "none".to_owned();
    }
    a.sort_unstable();
    format!("{:.1}", quantile_ms(&a, 0.99))
}

/// Histogram counts summed bucket by bucket.
fn summed<'a>(windows: impl Iterator<Item = &'a Vec<u64>>) -> Vec<u64> {
    let mut sum: Vec<u64> = Vec::new();
    for counts in windows {
        sum.resize(sum.len().max(counts.len()), 0);
        for (s, c) in sum.iter_mut().zip(counts) {
            *s += c;
        }
    }
    sum
}

/// One line for `windows` of one rate, pooled: the subscriber's p50/p99/max, each window's p99,
/// the pooled p99 by 5 s slice, and gather's and the cache's own p50/p99.
fn report(windows: &[Freshness], secs: u64) -> String {
    let mut ages: Vec<i64> = windows
        .iter()
        .flat_map(|w| w.samples.iter().map(|(_, age)| *age))
        .collect();
    ages.sort_unstable();
    let each: Vec<String> = windows
        .iter()
        .map(|w| p99_shown(w.samples.iter().map(|(_, age)| *age)))
        .collect();
    let slices: Vec<String> = (0..secs.div_ceil(5))
        .map(|k| {
            let slice = k as i64 * 5_000_000..(k as i64 + 1) * 5_000_000;
            p99_shown(
                windows
                    .iter()
                    .flat_map(|w| w.samples.iter())
                    .filter(|(at, _)| slice.contains(at))
                    .map(|(_, age)| *age),
            )
        })
        .collect();
    let acked: Vec<String> = windows
        .iter()
        .map(|w| format!("{:.0}", w.acked_per_s))
        .collect();
    let gather = summed(windows.iter().map(|w| &w.gather_acks));
    let cache = summed(windows.iter().map(|w| &w.cache_acks));
    let ms = |counts: &[u64], q| quantile_of(counts, q).unwrap_or(0) as f64 / 1e3;
    format!(
        "receive→Redis (PSUBSCRIBE) p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} updates in {} × {secs} s; p99 by window {}; p99 by 5 s slice {}); gather acknowledged {} ticks/s, receive→ack p50 {:.1} ms, p99 {:.1} ms; cache receive→Redis ack p50 {:.1} ms, p99 {:.1} ms",
        quantile_ms(&ages, 0.5),
        quantile_ms(&ages, 0.99),
        quantile_ms(&ages, 1.0),
        ages.len(),
        windows.len(),
        each.join("/"),
        slices.join("/"),
        acked.join("/"),
        ms(&gather, 0.5),
        ms(&gather, 0.99),
        ms(&cache, 0.5),
        ms(&cache, 0.99),
    )
}

/// An API server: its own thread and runtime (as its own process would be), `PSUBSCRIBE`d to
/// the price channels for `secs` from when it says it is ready; for each update, when it
/// arrived (µs into the window) and its age then (now minus its `received_ts_us`, µs).
fn subscriber(
    url: String,
    secs: u64,
) -> (
    std::sync::mpsc::Receiver<()>,
    std::thread::JoinHandle<Vec<(i64, i64)>>,
) {
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let api_server = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let client = redis::Client::open(url).unwrap();
            let mut pubsub = client.get_async_pubsub().await.unwrap();
            pubsub.psubscribe("px:{*").await.unwrap();
            ready_tx.send(()).unwrap();
            let mut ages = Vec::new();
            let mut messages = pubsub.on_message();
            let until = tokio::time::Instant::now() + Duration::from_secs(secs);
            let start = tickflow::model::time::now_us();
            while let Ok(Some(m)) = tokio::time::timeout_at(until, messages.next()).await {
                let now = tickflow::model::time::now_us();
                let body: String = m.get_payload().unwrap();
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                let received = v["received_ts_us"]
                    .as_str()
                    .and_then(|s| s.parse::<i64>().ok());
                if let Some(received) = received {
                    ages.push((now - start, now - received));
                }
            }
            ages
        })
    });
    (ready, api_server)
}

/// The broker of a freshness case.
enum Kafka {
    /// Kept until the case ends (the process is killed on drop).
    Tansu(#[allow(dead_code)] stack::Broker),
    Mock(rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext>),
}

async fn freshness(rate: u32, secs: u64, mock: bool) -> Option<Freshness> {
    let (kafka, bootstrap) = if mock {
        let cluster = rdkafka::mocking::MockCluster::new(1).unwrap();
        let bootstrap = cluster.bootstrap_servers();
        (Kafka::Mock(cluster), bootstrap)
    } else {
        let broker = stack::Broker::start("cache bench")?;
        let bootstrap = broker.bootstrap.clone();
        (Kafka::Tansu(broker), bootstrap)
    };
    let redis = stack::RedisServer::start("cache bench")?;
    let mut app = app_on(&bootstrap, &redis, "bench-freshness");
    if let Kafka::Mock(cluster) = &kafka {
        // The mock cluster creates no topic through the admin API.
        app.topics.create = false;
        let t = &app.topics;
        cluster.create_topic(&t.ticks, t.partitions, 1).unwrap();
        for topic in [&t.dlq, &t.instruments, &t.status] {
            cluster.create_topic(topic, 1, 1).unwrap();
        }
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (running, sim_stop) = common::simulated_gather(app.clone(), rate, 3, stopped.clone()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cache = spawn(&app, stopped).await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await; // warm-up
    let (ready, api_server) = subscriber(redis.url(), secs);
    tokio::task::spawn_blocking(move || ready.recv())
        .await
        .unwrap()
        .unwrap();
    let acks = &running.state.producer.ack_latency_us;
    let h0 = acks.snapshot();
    let acked0 = running.state.producer.ticks_acked.total();
    let window_started = Instant::now();
    let written = &cache.stats.receive_to_redis_us;
    let w0 = written.snapshot();
    let samples = tokio::task::spawn_blocking(move || api_server.join().unwrap())
        .await
        .unwrap();
    let h1 = acks.snapshot();
    let acked_per_s = (running.state.producer.ticks_acked.total() - acked0) as f64
        / window_started.elapsed().as_secs_f64();
    let w1 = written.snapshot();
    stop.send(true).unwrap();
    running.done.await.unwrap().unwrap();
    cache.task.await.unwrap().unwrap();
    let _ = sim_stop.send(true);
    drop(kafka);
    Some(Freshness {
        samples,
        gather_acks: h1.iter().zip(&h0).map(|(a, b)| a - b).collect(),
        cache_acks: w1.iter().zip(&w0).map(|(a, b)| a - b).collect(),
        acked_per_s,
    })
}

fn main() {
    let messages: u64 = common::arg("--messages").map_or(1_000_000, |s| s.parse().unwrap());
    let rates: Vec<u32> = common::arg("--rates")
        .or_else(|| common::arg("--rate"))
        .map_or(vec![1_000, 10_000, 50_000], |s| {
            s.split(',').map(|r| r.parse().unwrap()).collect()
        });
    let secs: u64 = common::arg("--secs").map_or(10, |s| s.parse().unwrap());
    let windows: usize = common::arg("--windows").map_or(3, |s| s.parse().unwrap());
    let repeat: usize = common::arg("--repeat").map_or(1, |s| s.parse().unwrap());
    let only = common::arg("--only");
    // `--broker mock`: freshness on librdkafka's mock cluster, in process, instead of tansu.
    let mock = common::arg("--broker").as_deref() == Some("mock");
    let broker_label = if mock { " (mock cluster)" } else { "" };
    let label = common::settings_label();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for _ in 0..repeat {
        if only.as_deref() != Some("freshness") {
            for instruments in [1_000u64, 10_000] {
                let Some(t) = runtime.block_on(throughput(messages, instruments)) else {
                    return;
                };
                println!(
                    "throughput{label}: {messages} ticks over {instruments} instruments: {:.0} ticks/s consumed, {:.0} Redis writes/s, redis-server {:.2} cores busy, {:.1} µs CPU per write (fetch only: {:.0}/s)",
                    t.consumed, t.writes, t.redis_busy, t.redis_us_per_write, t.fetch_only
                );
            }
        }
        if only.as_deref() == Some("throughput") {
            continue;
        }
        for &rate in &rates {
            let mut measured = Vec::new();
            for _ in 0..windows {
                let Some(f) = runtime.block_on(freshness(rate, secs, mock)) else {
                    return;
                };
                measured.push(f);
            }
            println!(
                "freshness{broker_label}{label} at {rate} ticks/s: {}",
                report(&measured, secs)
            );
        }
    }
}
