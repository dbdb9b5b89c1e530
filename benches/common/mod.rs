//! Shared by the end-to-end benches (included with `#[path]`).
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::PathBuf;
use std::time::Duration;
use tickflow::config::{AppConfig, load_connectors};
use tickflow::exchange::reference::References;
use tickflow::gather::{GatherSetup, Running, start};
use tickflow::sim::{SimConfig, serve};
use tokio::sync::watch;

/// The value after `--name` on the command line.
pub fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// The `--set KEY=VALUE` pairs of the command line (`TICKFLOW_...` settings for the run).
pub fn settings() -> Vec<(String, String)> {
    let args: Vec<String> = std::env::args().collect();
    args.windows(2)
        .filter(|w| w[0] == "--set")
        .filter_map(|w| w[1].split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The same, as a label for the bench's output (` K=V` each; empty without `--set`).
pub fn settings_label() -> String {
    settings()
        .iter()
        .map(|(k, v)| format!(" {k}={v}"))
        .collect()
}

/// `--venues a,b`: only these connectors (file stems), e.g. to compare with a build that had
/// fewer venues; all enabled ones without it.
pub fn venues() -> Option<Vec<String>> {
    arg("--venues").map(|v| v.split(',').map(str::to_owned).collect())
}

/// A simulator on a free loopback port offering `offered` ticks/s in all (split evenly over
/// the bundled enabled connectors, or those of `--venues`), and gather reading it with `app`.
/// Returns the gatherer and the sender that stops the simulator (stop it after the gatherer).
pub async fn simulated_gather(
    app: AppConfig,
    offered: u32,
    seed: u64,
    shutdown: watch::Receiver<bool>,
) -> (Running, watch::Sender<bool>) {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let symbols = References::bundled().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("ws://{}", listener.local_addr().unwrap());
    let only = venues();
    let connectors: Vec<_> = load_connectors(&repo.join("connectors"), &symbols)
        .unwrap()
        .into_iter()
        .filter(|c| c.enabled)
        .filter(|c| only.as_ref().is_none_or(|names| names.contains(&c.name)))
        .map(|c| c.redirected_to(&base))
        .collect();
    assert!(
        !connectors.is_empty(),
        "no enabled connector named in --venues {only:?}"
    );
    let (sim_stop, sim_stopped) = watch::channel(false);
    let sim = SimConfig {
        rate: offered / u32::try_from(connectors.len()).unwrap(),
        seed,
        server_ping: Duration::from_secs(20),
        references: symbols.clone(),
        default_fault: None,
    };
    tokio::spawn(serve(listener, sim, sim_stopped));
    let setup = GatherSetup {
        app,
        connectors,
        references: symbols,
        tls: tickflow::ws::tls::client_config().unwrap(),
        simulated: true,
        shard: tickflow::markets::Shard::default(),
    };
    (start(setup, shutdown).await.unwrap(), sim_stop)
}
