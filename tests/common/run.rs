//! Running the gatherer in-process for end-to-end tests: the shipped config with test
//! overrides, bundled connectors pointed at a simulator, and helpers to wait and stop.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tickflow::config::{AppConfig, ConnectorConfig, load_app_config, load_connectors};
use tickflow::exchange::reference::References;
use tickflow::gather::{GatherOutcome, GatherSetup, GatherState, start};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn app(bootstrap: &str) -> AppConfig {
    app_with(bootstrap, &[])
}

/// The shipped tickflow.toml with the broker, a free HTTP port and `extra` overrides.
pub fn app_with(bootstrap: &str, extra: &[(&str, &str)]) -> AppConfig {
    let env = [
        ("TICKFLOW_KAFKA__BOOTSTRAP_SERVERS", bootstrap),
        ("TICKFLOW_HTTP__BIND", "127.0.0.1:0"),
        ("TICKFLOW_GATHER__PROGRESS_SECS", "0"),
    ];
    load_app_config(
        &repo().join("tickflow.toml"),
        false,
        env.iter()
            .chain(extra)
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    )
    .unwrap()
}

/// Every venue's shipped reference data.
pub fn symbols() -> References {
    References::bundled().unwrap()
}

/// The bundled connectors named in `pick` (with a URL query to add, e.g. a simulator fault),
/// pointed at the simulator at `base`.
pub fn connectors(base: &str, pick: &[(&str, &str)]) -> Vec<ConnectorConfig> {
    let all = load_connectors(&repo().join("connectors"), &symbols()).unwrap();
    pick.iter()
        .map(|(name, query)| {
            let mut c = all
                .iter()
                .find(|c| c.name == *name)
                .unwrap()
                .redirected_to(base);
            c.url.push_str(query);
            c.enabled = true;
            c.backoff.initial = Duration::from_millis(100);
            c
        })
        .collect()
}

pub fn setup(app: AppConfig, connectors: Vec<ConnectorConfig>) -> GatherSetup {
    GatherSetup {
        app,
        connectors,
        references: symbols(),
        tls: tickflow::ws::tls::client_config().unwrap(),
        simulated: true,
        shard: tickflow::markets::Shard::default(),
    }
}

pub fn get(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

pub async fn wait_for(what: &str, within: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !ok() {
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub struct Run {
    pub state: Arc<GatherState>,
    pub stop: tokio::sync::watch::Sender<bool>,
    pub done: tokio::task::JoinHandle<anyhow::Result<GatherOutcome>>,
    pub http: std::net::SocketAddr,
}

pub async fn gather(setup: GatherSetup) -> Run {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = start(setup, stopped).await.unwrap();
    Run {
        state: running.state,
        stop,
        done: running.done,
        http: running.http_addr,
    }
}

impl Run {
    pub async fn finish(self) -> (GatherOutcome, Arc<GatherState>) {
        self.stop.send(true).unwrap();
        let outcome = tokio::time::timeout(Duration::from_secs(60), self.done)
            .await
            .expect("gather did not stop")
            .unwrap()
            .unwrap();
        (outcome, self.state)
    }
}

pub fn acked(s: &GatherState) -> u64 {
    s.producer.ticks_acked.total()
}

/// One kind's accounting in gather's last line: made = acknowledged + not delivered, and the
/// not-delivered breakdown (refused, failed, abandoned, unresolved) when there is one.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub produced: u64,
    pub acked: u64,
    pub not_delivered: u64,
    pub refused: u64,
    pub failed: u64,
    pub abandoned: u64,
    pub unresolved: u64,
}

/// gather's `stopped; ticks: ...; dead letters: ...; [instrument records: ...; ]status
/// records: ...; N received frames abandoned undecoded`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub ticks: Kind,
    pub dead_letters: Kind,
    /// Present when the run followed whole markets.
    pub instrument_records: Option<Kind>,
    /// Feed status records.
    pub status_records: Kind,
    pub frames_abandoned: u64,
}

fn numbers(text: &str) -> Vec<u64> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect()
}

impl Summary {
    /// Finds and parses the summary line in gather's stderr.
    pub fn find(stderr: &str) -> Self {
        let line = stderr
            .lines()
            .find(|l| l.contains("stopped; ticks:"))
            .unwrap_or_else(|| panic!("no summary line in:\n{stderr}"));
        let parts: Vec<&str> = line.split("; ").collect();
        let kind = |text: &str| {
            let n = numbers(text);
            let at = |i: usize| n.get(i).copied().unwrap_or(0);
            Kind {
                produced: at(0),
                acked: at(1),
                not_delivered: at(2),
                refused: at(3),
                failed: at(4),
                abandoned: at(5),
                unresolved: at(6),
            }
        };
        let (ticks, dead_letters, instruments, status, frames) = match parts[..] {
            [_, ticks, dead_letters, status, frames] if status.starts_with("status records:") => {
                (ticks, dead_letters, None, status, frames)
            }
            [_, ticks, dead_letters, instruments, status, frames]
                if instruments.starts_with("instrument records:")
                    && status.starts_with("status records:") =>
            {
                (ticks, dead_letters, Some(instruments), status, frames)
            }
            _ => panic!("unexpected summary: {line}"),
        };
        let summary = Self {
            ticks: kind(ticks),
            dead_letters: kind(dead_letters),
            instrument_records: instruments.map(kind),
            status_records: kind(status),
            frames_abandoned: numbers(frames).first().copied().unwrap_or(0),
        };
        for k in [summary.ticks, summary.dead_letters, summary.status_records]
            .into_iter()
            .chain(summary.instrument_records)
        {
            assert_eq!(
                k.produced,
                k.acked + k.not_delivered,
                "produced = acknowledged + not delivered: {line}"
            );
            assert_eq!(
                k.not_delivered,
                k.refused + k.failed + k.abandoned + k.unresolved,
                "the breakdown adds up: {line}"
            );
        }
        summary
    }
}

/// Reads `ticks.v1` after a run whose last line said `ticks`: it holds everything acknowledged
/// and at most what was produced (messages in flight when a run was cut short may have been
/// written, at least once), none twice. Returns how many it holds.
pub fn assert_topic_holds(bootstrap: &str, ticks: &Kind) -> u64 {
    let messages = super::stack::consume_all(
        bootstrap,
        "ticks.v1",
        usize::try_from(ticks.acked).unwrap(),
        Duration::from_secs(30),
    );
    let n = messages.len() as u64;
    assert!(
        n >= ticks.acked && n <= ticks.produced,
        "{n} on the topic; {ticks:?}"
    );
    let distinct: std::collections::HashSet<&[u8]> = messages
        .iter()
        .map(|m| rdkafka::Message::payload(m).unwrap_or_default())
        .collect();
    assert_eq!(distinct.len() as u64, n, "no tick written twice");
    n
}

/// Every enabled bundled connector (one per venue), pointed at the simulator at `base`: a new
/// venue is in every end-to-end test that takes them all.
pub fn every_venue(base: &str) -> Vec<ConnectorConfig> {
    let names: Vec<String> = load_connectors(&repo().join("connectors"), &symbols())
        .unwrap()
        .into_iter()
        .filter(|c| c.enabled)
        .map(|c| c.name)
        .collect();
    let pick: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "")).collect();
    connectors(base, &pick)
}

/// How many price hashes `connectors` give the cache: one per venue and instrument.
pub fn price_keys(connectors: &[ConnectorConfig]) -> usize {
    let keys: std::collections::HashSet<(tickflow::model::Exchange, &tickflow::model::Instrument)> =
        connectors
            .iter()
            .flat_map(|c| c.instruments.iter().map(move |i| (c.exchange, i)))
            .collect();
    keys.len()
}
