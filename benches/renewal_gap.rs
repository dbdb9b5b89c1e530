//! The data gap of a planned renewal, break-before-make against make-before-break, side by
//! side: one Binance connection (two trade streams, the simulator at `--rate` frames/s) renewed
//! every `--age` seconds (`max_connection_age_secs`, Binance's 24 h cut compressed), or on the
//! venue's announced close (`serverShutdown`, then the close 3 s later), for `--secs` per round,
//! the simulated venue answering `--latency-ms` after each connect (a venue far away);
//! the rounds alternate the two modes `--repeat` times. Per instrument, the gap is the longest
//! time between two consecutive frames; the nominal spacing is 2 × 1000 / rate ms.
//! Run: `cargo bench --profile dev --bench renewal_gap -- --secs 12 --repeat 3 --rate 400 --latency-ms 300`
//! (I/O bound: the dev profile measures the same and builds in a fraction of the time).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tickflow::config::load_connector;
use tickflow::exchange::reference::References;
use tickflow::exchange::{Decoded, Frame};
use tickflow::model::Exchange;
use tickflow::sim::{SimConfig, serve};
use tickflow::ws::{ConnectionStats, Link, run};

#[path = "common/mod.rs"]
#[allow(dead_code)]
mod common;

fn arg(name: &str, default: u64) -> u64 {
    common::arg(name).map_or(default, |v| v.parse().unwrap())
}

/// What one round measured.
struct Round {
    /// The longest gap of any instrument, ms.
    max_gap_ms: f64,
    /// Gaps above 5 × the nominal spacing, all instruments.
    long_gaps: usize,
    renewals: u64,
    overlap_frames: u64,
    failures: u64,
}

async fn round(
    base: &str,
    symbols: &References,
    (scenario, overlap): (&str, bool),
    (secs, rate, age, latency): (u64, u64, u64, u64),
) -> Round {
    let (url, keepalive) = match scenario {
        "age" => (
            format!("{base}/binance/stream?latency_ms={latency}"),
            format!("max_connection_age_secs = {age}\n"),
        ),
        // Announced `age` seconds into each connection.
        _ => (
            format!(
                "{base}/binance/stream?latency_ms={latency}&fault=shutdown&after={}",
                rate * age
            ),
            String::new(),
        ),
    };
    let text = format!(
        "exchange = \"binance\"\nurl = \"{url}\"\nchannel = \"trade\"\n\
         instruments = [\"BTC-USDT\", \"ETH-USDT\"]\n[keepalive]\nidle_timeout_secs = 5\n\
         make_before_break = {overlap}\n{keepalive}"
    );
    let config = load_connector("renewal.toml", &text, symbols).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(65_536);
    let stats = Arc::new(ConnectionStats::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let instruments = config.instruments.clone();
    let (link, _wanted) = Link::new(
        Arc::new(config),
        instruments,
        symbols.get(tickflow::model::Exchange::Binance).clone(),
        tx,
        Arc::clone(&stats),
        tickflow::ws::tls::client_config().unwrap(),
    );
    let task = tokio::spawn(run(link, stopped, 5));
    let adapter = tickflow::exchange::adapter_for(
        Exchange::Binance,
        tickflow::exchange::AdapterConfig::default(),
        symbols,
    )
    .unwrap();
    let until = tokio::time::Instant::now() + Duration::from_secs(secs);
    let mut last: HashMap<String, i64> = HashMap::new();
    let mut gaps_us: Vec<i64> = Vec::new();
    // The first second is the first connect: not a renewal.
    let from_us = tickflow::model::time::now_us() + 1_000_000;
    while let Ok(Some(f)) = tokio::time::timeout_at(until, rx.recv()).await {
        let Ok(Decoded::Tick(t)) = adapter.decode(Frame::text(&f.bytes), f.received_ts_us) else {
            continue;
        };
        if f.received_ts_us < from_us {
            last.insert(t.instrument.to_string(), f.received_ts_us);
            continue;
        }
        if let Some(before) = last.insert(t.instrument.to_string(), f.received_ts_us) {
            gaps_us.push(f.received_ts_us - before);
        }
    }
    stop.send(true).unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    let nominal_us = 2_000_000 / i64::try_from(rate).unwrap();
    let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    Round {
        max_gap_ms: gaps_us.iter().copied().max().unwrap_or(0) as f64 / 1000.0,
        long_gaps: gaps_us.iter().filter(|g| **g > 5 * nominal_us).count(),
        renewals: get(&stats.proactive_reconnects),
        overlap_frames: get(&stats.overlap_frames),
        failures: get(&stats.failures),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let secs = arg("--secs", 10);
    let repeat = arg("--repeat", 3);
    let rate = arg("--rate", 400);
    let age = arg("--age", 3);
    let latency = arg("--latency-ms", 300);
    let symbols = References::bundled().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("ws://{}", listener.local_addr().unwrap());
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    let sim = SimConfig {
        rate: u32::try_from(rate).unwrap(),
        seed: 1,
        server_ping: Duration::from_secs(20),
        references: symbols.clone(),
        default_fault: None,
    };
    tokio::spawn(serve(listener, sim, stopped));
    println!(
        "renewal every {age} s or on serverShutdown, connect + subscribe {latency} ms, {rate} frames/s over 2 streams (nominal spacing {} ms), {secs} s rounds, {repeat} repeats, medians",
        2000 / rate
    );
    println!(
        "{:<10} {:<20} {:>11} {:>10} {:>9} {:>9} {:>9}",
        "scenario", "renewal", "max gap ms", "long gaps", "renewals", "overlap", "failures"
    );
    for scenario in ["age", "shutdown"] {
        let mut by_mode: [Vec<Round>; 2] = [Vec::new(), Vec::new()];
        for _ in 0..repeat {
            for (m, overlap) in [false, true].into_iter().enumerate() {
                let r = round(
                    &base,
                    &symbols,
                    (scenario, overlap),
                    (secs, rate, age, latency),
                )
                .await;
                by_mode[m].push(r);
            }
        }
        for (m, name) in ["break-before-make", "make-before-break"]
            .iter()
            .enumerate()
        {
            let rs = &by_mode[m];
            let med = |f: fn(&Round) -> f64| median(rs.iter().map(f).collect());
            println!(
                "{:<10} {:<20} {:>11.1} {:>10.0} {:>9.0} {:>9.0} {:>9.0}",
                scenario,
                name,
                med(|r| r.max_gap_ms),
                med(|r| r.long_gaps as f64),
                med(|r| r.renewals as f64),
                med(|r| r.overlap_frames as f64),
                med(|r| r.failures as f64),
            );
        }
    }
}
