//! Whole markets at scale (issue 19, item 7): `tickflow simulate` listing every venue at its
//! real size (Upbit 530 markets, Binance 1,300 TRADING + 65 BREAK, Bithumb 450) with skewed
//! rates (`--hot` markets take `--hot-share` % of the frames), and `tickflow gather` following
//! all of them through `[markets]` connectors (Binance bookTicker + trade, Upbit and Bithumb
//! ticker + trade + orderbook), into tansu. Both are child processes, so the RSS is gather's
//! alone. Reports connections, the time from start until every followed instrument is
//! subscribed, sustained ticks/s, receive→ack p50/p99 over the window, and gather's RSS.
//!
//! Run: `cargo bench --bench markets_scale -- [--rate 7200] [--hot 20] [--hot-share 80]
//! [--secs 20] [--repeat 1]` (`--rate`: frames/s per simulated connection; tansu must be
//! installed: `scripts/stack.sh install`).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/mod.rs"]
#[allow(dead_code)]
mod common;

#[path = "../tests/common/stack.rs"]
#[allow(dead_code)]
mod stack;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CONNECTORS: [(&str, &str); 3] = [
    (
        "binance",
        "exchange = \"binance\"\nurl = \"wss://stream.binance.com:9443/stream\"\n\
         channels = [\"bookTicker\", \"trade\"]\n[markets]\nstatuses = [\"trading\"]\n",
    ),
    (
        "upbit",
        "exchange = \"upbit\"\nurl = \"wss://api.upbit.com/websocket/v1\"\n\
         channels = [\"ticker\", \"trade\", \"orderbook\"]\n[markets]\n",
    ),
    (
        "bithumb",
        "exchange = \"bithumb\"\nurl = \"wss://ws-api.bithumb.com/websocket/v1\"\n\
         channels = [\"ticker\", \"trade\", \"orderbook\"]\n[markets]\n",
    ),
];

/// Samples of a Prometheus text exposition: name{labels} → value.
fn scrape(addr: &str) -> Option<Vec<(String, String, f64)>> {
    let (status, body) = stack::http_get(addr.parse().ok()?, "/metrics")?;
    if status != 200 {
        return None;
    }
    Some(
        body.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| {
                let (series, value) = l.rsplit_once(' ')?;
                let (name, labels) = series.split_once('{').unwrap_or((series, ""));
                Some((name.to_owned(), labels.to_owned(), value.parse().ok()?))
            })
            .collect(),
    )
}

fn sum(samples: &[(String, String, f64)], name: &str) -> f64 {
    samples
        .iter()
        .filter(|(n, ..)| n == name)
        .map(|(.., v)| v)
        .sum()
}

/// Cumulative receive→ack histogram buckets: upper bound (s) → count.
fn buckets(samples: &[(String, String, f64)]) -> BTreeMap<u64, f64> {
    samples
        .iter()
        .filter(|(n, ..)| n == "tickflow_receive_to_ack_seconds_bucket")
        .filter_map(|(_, labels, v)| {
            let le = labels.split("le=\"").nth(1)?.split('"').next()?;
            let le: f64 = if le == "+Inf" {
                f64::MAX
            } else {
                le.parse().ok()?
            };
            Some(((le * 1e9).min(u64::MAX as f64) as u64, *v))
        })
        .collect()
}

/// The quantile `q` of the window between two cumulative snapshots, as a bucket's upper bound
/// in ms (the histogram is exact at its bounds).
fn quantile(before: &BTreeMap<u64, f64>, after: &BTreeMap<u64, f64>, q: f64) -> f64 {
    let total = after.values().last().unwrap_or(&0.0) - before.values().last().unwrap_or(&0.0);
    for (le, n) in after {
        if n - before.get(le).unwrap_or(&0.0) >= q * total {
            return *le as f64 / 1e6;
        }
    }
    f64::NAN
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn one(rate: u32, hot: usize, hot_share: u32, secs: u64) -> Option<String> {
    let broker = stack::Broker::start("markets scale bench")?;
    let bin = env!("CARGO_BIN_EXE_tickflow");
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let sim_port = stack::free_port();
    let _sim = Killed(
        Command::new(bin)
            .args(["simulate", "--bind", &format!("127.0.0.1:{sim_port}")])
            .args(["--rate", &rate.to_string(), "--hot", &hot.to_string()])
            .args(["--hot-share", &hot_share.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let dir = std::env::temp_dir().join(format!("tickflow-scale-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("connectors")).unwrap();
    for (name, text) in CONNECTORS {
        std::fs::write(dir.join("connectors").join(format!("{name}.toml")), text).unwrap();
    }
    // The simulator listens once its port answers.
    let up = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", sim_port)).is_err() {
        assert!(
            up.elapsed() < Duration::from_secs(10),
            "simulator did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let http = format!("127.0.0.1:{}", stack::free_port());
    let started = Instant::now();
    let gather = Killed(
        Command::new(bin)
            .current_dir(&dir)
            .args(["gather", "--config"])
            .arg(repo.join("tickflow.toml"))
            .args(["--connectors", "connectors"])
            .args(["--simulator", &format!("ws://127.0.0.1:{sim_port}")])
            .env("TICKFLOW_KAFKA__BOOTSTRAP_SERVERS", &broker.bootstrap)
            .env("TICKFLOW_HTTP__BIND", &http)
            .env("TICKFLOW_GATHER__PROGRESS_SECS", "0")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("gather.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let pid = gather.0.id();
    // Subscribed: every connection up and carrying, together, every followed instrument.
    let subscribed = loop {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "not all subscribed in 120 s; see {}",
            dir.join("gather.log").display()
        );
        std::thread::sleep(Duration::from_millis(100));
        let Some(m) = scrape(&http) else { continue };
        let followed = sum(&m, "tickflow_listing_instruments");
        let up: Vec<f64> = m
            .iter()
            .filter(|(n, ..)| n == "tickflow_ws_up")
            .map(|(.., v)| *v)
            .collect();
        if followed > 0.0
            && !up.is_empty()
            && up.iter().all(|&u| u == 1.0)
            && sum(&m, "tickflow_ws_instruments") == followed
        {
            break (started.elapsed(), followed, up.len());
        }
    };
    std::thread::sleep(Duration::from_secs(5)); // warm-up
    let m0 = scrape(&http).unwrap();
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let m1 = scrape(&http).unwrap();
    let elapsed = t0.elapsed().as_secs_f64();
    let acked =
        sum(&m1, "tickflow_kafka_ticks_acked_total") - sum(&m0, "tickflow_kafka_ticks_acked_total");
    let (b0, b1) = (buckets(&m0), buckets(&m1));
    let rss = rss_kib(pid, "VmRSS:");
    let hwm = rss_kib(pid, "VmHWM:");
    let dlq = sum(&m1, "tickflow_kafka_dlq_sent_total");
    let failures = sum(&m1, "tickflow_ws_failures_total");
    drop(gather);
    let _ = std::fs::remove_dir_all(&dir);
    let (took, followed, connections) = subscribed;
    Some(format!(
        "{rate:>6}  {hot:>3}/{hot_share:>2}%  {followed:>8.0}  {connections:>5}  {:>9.1}  {:>8.0}  {:>6.1}  {:>6.1}  {:>7.1}  {:>7.1}  {dlq:>4.0}  {failures:>4.0}",
        took.as_secs_f64(),
        acked / elapsed,
        quantile(&b0, &b1, 0.5),
        quantile(&b0, &b1, 0.99),
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0,
    ))
}

fn main() {
    let rates: Vec<u32> = common::arg("--rate")
        .unwrap_or_else(|| "7200".into())
        .split(',')
        .map(|r| r.parse().unwrap())
        .collect();
    let hot: usize = common::arg("--hot").map_or(20, |s| s.parse().unwrap());
    let hot_share: u32 = common::arg("--hot-share").map_or(80, |s| s.parse().unwrap());
    let secs: u64 = common::arg("--secs").map_or(20, |s| s.parse().unwrap());
    let repeat: usize = common::arg("--repeat").map_or(1, |s| s.parse().unwrap());
    println!(
        "rate/conn  hot/share  followed  conns  subscribed_s  acked/s  p50_ms  p99_ms  rss_MiB  hwm_MiB   dlq  fails   (window {secs} s after 5 s warm-up)"
    );
    for _ in 0..repeat {
        for &rate in &rates {
            match one(rate, hot, hot_share, secs) {
                Some(line) => println!("{line}"),
                None => return,
            }
        }
    }
}
