//! Simulator throughput on loopback: one Binance combined-stream connection at a requested
//! rate, counted by a WebSocket client in the same process (both on this machine's 2 cores).
//! Run: `cargo bench --bench simulator` (prints requested vs delivered frames/s).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use futures_util::StreamExt;
use std::time::{Duration, Instant};
use tickflow::exchange::reference::References;
use tickflow::sim::{SimConfig, serve};

async fn delivered(rate: u32, seconds: u64) -> f64 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let config = SimConfig {
        rate,
        seed: 1,
        server_ping: Duration::from_secs(20),
        references: References::bundled().unwrap(),
        default_fault: None,
    };
    tokio::spawn(serve(listener, config, stopped));
    let url = format!("ws://{addr}/binance/stream?streams=btcusdt@ticker/ethusdt@ticker");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws.next().await;
    let started = Instant::now();
    let mut frames = 0u64;
    while started.elapsed() < Duration::from_secs(seconds) {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Ok(Some(Ok(m))) if m.is_text() => frames += 1,
            Ok(Some(Ok(_))) => {}
            _ => break,
        }
    }
    let _ = stop.send(true);
    frames as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: run briefly then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let rates: &[u32] = if quick {
        &[1_000]
    } else {
        &[10_000, 100_000, 300_000, 1_000_000]
    };
    for &rate in rates {
        let got = runtime.block_on(delivered(rate, if quick { 1 } else { 3 }));
        println!(
            "simulator binance ticker: requested {rate:>9} frames/s, delivered {got:>9.0} frames/s"
        );
    }
}
