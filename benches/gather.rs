//! Gatherer throughput and latency on this machine: simulator → gather → tansu, all on
//! loopback and the same 2 cores. For each offered rate, a fresh broker (tansu's memory is
//! never trimmed), a warm-up, then a measured window: ticks acknowledged per second and the
//! receive → Kafka-ack latency (p50/p99) of the ticks acknowledged in the window.
//!
//! Run: `cargo bench --bench gather -- [--rates 30000,60000,...] [--secs 20] [--repeat 3]
//! [--set TICKFLOW_KAFKA__LINGER_MS=5 ...]` (`--set` overrides a setting for the run)
//! (tansu must be installed: `scripts/stack.sh install`).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/mod.rs"]
mod common;

#[path = "../tests/common/stack.rs"]
#[allow(dead_code)]
mod stack;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tickflow::config::load_app_config;
use tickflow::metrics::quantile_of;

struct Result {
    offered: u32,
    acked_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    backpressure_ms: f64,
    lost: u64,
}

async fn one(offered: u32, secs: u64) -> Option<Result> {
    let broker = stack::Broker::start("gather bench")?;
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let env = [
        (
            "TICKFLOW_KAFKA__BOOTSTRAP_SERVERS",
            broker.bootstrap.as_str(),
        ),
        ("TICKFLOW_HTTP__BIND", "127.0.0.1:0"),
        ("TICKFLOW_GATHER__PROGRESS_SECS", "0"),
    ];
    let app = load_app_config(
        &repo.join("tickflow.toml"),
        false,
        env.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .chain(common::settings()),
    )
    .unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (running, sim_stop) = common::simulated_gather(app, offered, 7, stopped).await;
    let s = Arc::clone(&running.state);
    tokio::time::sleep(Duration::from_secs(5)).await; // warm-up
    let acked0 = s.producer.ticks_acked.total();
    let hist0 = s.producer.ack_latency_us.snapshot();
    let wait0 = s.producer.backpressure_wait_us.load(Ordering::Relaxed);
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let acked1 = s.producer.ticks_acked.total();
    let hist1 = s.producer.ack_latency_us.snapshot();
    let wait1 = s.producer.backpressure_wait_us.load(Ordering::Relaxed);
    let elapsed = t0.elapsed().as_secs_f64();
    stop.send(true).unwrap();
    let outcome = running.done.await.unwrap().unwrap();
    let _ = sim_stop.send(true);
    let window: Vec<u64> = hist1.iter().zip(&hist0).map(|(a, b)| a - b).collect();
    Some(Result {
        offered,
        acked_per_sec: (acked1 - acked0) as f64 / elapsed,
        p50_ms: quantile_of(&window, 0.5).unwrap_or(0) as f64 / 1e3,
        p99_ms: quantile_of(&window, 0.99).unwrap_or(0) as f64 / 1e3,
        backpressure_ms: (wait1 - wait0) as f64 / 1e3,
        lost: outcome.lost,
    })
}

fn main() {
    let rates: Vec<u32> = common::arg("--rates")
        .unwrap_or_else(|| "30000,60000,90000,120000,150000".into())
        .split(',')
        .map(|r| r.parse().unwrap())
        .collect();
    let secs: u64 = common::arg("--secs").map_or(20, |s| s.parse().unwrap());
    let repeat: usize = common::arg("--repeat").map_or(1, |s| s.parse().unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let label = common::settings_label();
    println!(
        "offered/s  acked/s  p50_ms  p99_ms  producer_wait_ms  lost   (window {secs} s after 5 s warm-up){label}"
    );
    for _ in 0..repeat {
        for &rate in &rates {
            let Some(r) = runtime.block_on(one(rate, secs)) else {
                return;
            };
            println!(
                "{:>9}  {:>7.0}  {:>6.1}  {:>6.1}  {:>16.0}  {:>4}",
                r.offered, r.acked_per_sec, r.p50_ms, r.p99_ms, r.backpressure_ms, r.lost
            );
        }
    }
}
