//! Availability under a venue that cuts connections: the simulator drops every connection after
//! `--drop-every` seconds of data, one connection of the shipped Binance connector (its own
//! keepalive and backoff) gathers for `--secs`, and the figures are what it received against
//! what the venue offered (rate × time) and how long it was down.
//! Run: `cargo bench --profile dev --bench reconnect_soak -- --secs 600 --drop-every 30`
//! (I/O bound: the dev profile measures the same and builds in a fraction of the time).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tickflow::config::load_connector;
use tickflow::exchange::reference::References;
use tickflow::sim::{SimConfig, serve};
use tickflow::ws::{ConnectionStats, Link, run};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().unwrap())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let secs = arg("--secs", 600);
    let drop_every = arg("--drop-every", 30);
    let rate = arg("--rate", 1000);
    let symbols = References::bundled().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("ws://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let sim = SimConfig {
        rate: u32::try_from(rate).unwrap(),
        seed: 1,
        server_ping: Duration::from_secs(20),
        references: symbols.clone(),
        default_fault: None,
    };
    tokio::spawn(serve(listener, sim, stopped.clone()));

    // The shipped connector's keepalive and backoff, one ticker stream, the drop fault.
    let root = env!("CARGO_MANIFEST_DIR");
    let shipped_text = std::fs::read_to_string(format!("{root}/connectors/binance.toml")).unwrap();
    let shipped = load_connector("binance.toml", &shipped_text, &symbols).unwrap();
    let text = format!(
        "exchange = \"binance\"\nurl = \"{base}/binance/stream?fault=drop&after={}\"\n\
         channel = \"ticker\"\ninstruments = [\"BTC-USDT\"]\n",
        rate * drop_every
    );
    let mut config = load_connector("soak.toml", &text, &symbols).unwrap();
    config.backoff = shipped.backoff;
    config.keepalive = shipped.keepalive;
    let (tx, mut rx) = tokio::sync::mpsc::channel(65_536);
    let stats = Arc::new(ConnectionStats::default());
    let tls = tickflow::ws::tls::client_config().unwrap();
    let instruments = config.instruments.clone();
    let (link, _wanted) = Link::new(
        Arc::new(config),
        instruments,
        symbols.get(tickflow::model::Exchange::Binance).clone(),
        tx,
        Arc::clone(&stats),
        tls,
    );
    let task = tokio::spawn(run(link, stopped, 7));
    let drain = tokio::spawn(async move {
        let mut n = 0u64;
        while rx.recv().await.is_some() {
            n += 1;
        }
        n
    });

    let started = Instant::now();
    let mut down = Duration::ZERO;
    let step = Duration::from_millis(50);
    while started.elapsed() < Duration::from_secs(secs) {
        tokio::time::sleep(step).await;
        if stats.up.load(Ordering::Relaxed) == 0 {
            down += step;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    let gathered = drain.await.unwrap();
    let offered = rate as f64 * elapsed;
    println!(
        "soak {elapsed:.0} s, cut every {drop_every} s, {rate} frames/s offered: \
         connects {}, failures {}, down {:.1} s ({:.1} %), gathered {gathered} of {offered:.0} \
         offered ({:.2} %)",
        stats.connects.load(Ordering::Relaxed),
        stats.failures.load(Ordering::Relaxed),
        down.as_secs_f64(),
        100.0 * down.as_secs_f64() / elapsed,
        100.0 * gathered as f64 / offered,
    );
}
