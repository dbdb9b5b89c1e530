//! The dashboard and the alert rules name only metrics that exist: a running gather and cache
//! are scraped, and every metric named in `docker/grafana/dashboards/tickflow.json` and
//! `docker/prometheus/alerts.yml` must be among the families they export. Also: the
//! standard families (`tickflow_build_info`, `process_*`), base units, and consumer lag.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::cache::{cache, config};
use common::run::{acked, connectors, gather, get, setup, wait_for};
use common::stack::{Broker, RedisServer, http_get};
use std::collections::BTreeSet;
use std::time::Duration;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn scrape(addr: std::net::SocketAddr) -> String {
    let (status, body) = http_get(addr, "/metrics").expect("/metrics answered");
    assert_eq!(status, 200, "{body}");
    body
}

/// Every series name an exposition can produce: its families, histograms' parts included.
fn families(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let (name, kind) = rest.split_once(' ').unwrap();
        out.insert(name.to_owned());
        if kind == "histogram" {
            for part in ["_bucket", "_sum", "_count"] {
                out.insert(format!("{name}{part}"));
            }
        }
    }
    out
}

/// The tickflow and process metric names in a PromQL expression.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut word = String::new();
    for c in expr.chars().chain([' ']) {
        if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            word.push(c);
            continue;
        }
        // `{{ $labels.x }}`-style template words never start with these prefixes.
        if (word.starts_with("tickflow_") || word.starts_with("process_")) && c != '.' {
            names.push(std::mem::take(&mut word));
        }
        word.clear();
    }
    names
}

fn dashboard_exprs() -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(format!("{ROOT}/docker/grafana/dashboards/tickflow.json")).unwrap();
    let dash: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut out = Vec::new();
    for panel in dash["panels"].as_array().unwrap() {
        for t in panel["targets"].as_array().unwrap() {
            out.push((
                panel["title"].as_str().unwrap().to_owned(),
                t["expr"].as_str().unwrap().to_owned(),
            ));
        }
    }
    out
}

fn rule_exprs() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(format!("{ROOT}/docker/prometheus/alerts.yml")).unwrap();
    let mut out = Vec::new();
    let mut alert = String::new();
    for line in text.lines().map(str::trim) {
        if let Some(a) = line.strip_prefix("- alert: ") {
            alert = a.to_owned();
        } else if let Some(e) = line.strip_prefix("expr: ") {
            out.push((alert.clone(), e.to_owned()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_and_the_rules_name_only_exported_metrics() {
    let test = "the_dashboard_and_the_rules_name_only_exported_metrics";
    let (Some(broker), Some(redis)) = (Broker::start(test), RedisServer::start(test)) else {
        return;
    };
    let (base, _sim) = common::start_simulator(100, Duration::from_secs(1), None).await;
    let app = config(&broker, &redis, "cache-observability");
    let run = gather(setup(
        app.clone(),
        connectors(&base, &[("upbit", ""), ("binance", "")]),
    ))
    .await;
    wait_for("acked ticks", Duration::from_secs(30), || {
        acked(&run.state) > 100
    })
    .await;
    let c = cache(&app).await;
    wait_for("the cache applied ticks", Duration::from_secs(30), || {
        get(&c.stats.applied) > 0
    })
    .await;
    // librdkafka's statistics come every 5 s: the lag of every assigned partition.
    wait_for(
        "consumer lag per partition",
        Duration::from_secs(20),
        || c.stats.lag.lock().unwrap().len() == app.topics.partitions as usize,
    )
    .await;
    let gather_text = scrape(run.http);
    let cache_text = c.stats.metrics();
    let mut exported = families(&gather_text);
    exported.extend(families(&cache_text));

    let mut named = 0;
    for (where_, expr) in dashboard_exprs().into_iter().chain(rule_exprs()) {
        let names = metric_names(&expr);
        for name in &names {
            assert!(
                exported.contains(name),
                "`{where_}` names `{name}`, which nothing exports"
            );
        }
        named += names.len();
    }
    assert!(
        named >= 25,
        "the dashboard and the rules name {named} metrics"
    );
    assert!(dashboard_exprs().len() >= 20 && rule_exprs().len() >= 8);

    // Prometheus conventions: counters end in _total, no unit other than seconds or bytes.
    for text in [&gather_text, &cache_text] {
        for line in text.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
            let (name, kind) = line.split_once(' ').unwrap();
            if kind == "counter" {
                assert!(name.ends_with("_total"), "counter {name}");
            }
            for unit in ["micro", "milli", "_ms", "_us"] {
                assert!(!name.contains(unit), "{name}: base units only");
            }
        }
        assert!(text.contains("tickflow_build_info{version=\""), "{text}");
        assert!(text.contains("process_resident_memory_bytes "));
    }
    // Real values, not just families: a fresh frame and a lag sample per partition.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let last_frame: Vec<f64> = gather_text
        .lines()
        .filter(|l| l.starts_with("tickflow_ws_last_frame_timestamp_seconds{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(last_frame.len(), 2);
    assert!(
        last_frame.iter().all(|t| now - t < 10.0),
        "{last_frame:?} vs {now}"
    );
    let lag_samples = cache_text
        .lines()
        .filter(|l| l.starts_with("tickflow_cache_consumer_lag{"))
        .count();
    assert_eq!(lag_samples, app.topics.partitions as usize, "{cache_text}");
    assert!(gather_text.contains("tickflow_ready 1"), "{gather_text}");
    run.finish().await;
    c.finish().await;
}

/// tickflow's histogram exposition read by Prometheus' own Python parser (prometheus_client),
/// with samples on both sides of every bound: each `le` counts exactly the samples at or below
/// it (before, a log-linear bucket straddling a bound left up to ~8 % of them out).
#[test]
fn histograms_read_right_with_an_independent_prometheus_parser() {
    let Some(python) = common::python_with(
        "histograms_read_right",
        "prometheus_client.parser",
        "prometheus-client",
    ) else {
        return;
    };
    let h = tickflow::metrics::Histogram::default();
    let mut samples: Vec<u64> = vec![0, 1, 4_608, 4_999, 5_000, 5_001, 90_000_000];
    for bound in tickflow::metrics::EXPOSED_BOUNDS_US {
        samples.extend([
            bound - 1,
            bound,
            bound + 1,
            bound - bound / 13,
            bound + bound / 13,
        ]);
    }
    for &v in &samples {
        h.record(v);
    }
    let mut e = tickflow::metrics::Exposition::default();
    e.histogram_us("tickflow_test_seconds", "test samples", &h);
    let dir =
        std::env::temp_dir().join(format!("tickflow-histogram-{}", common::stack::free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("exposition.txt"), e.finish()).unwrap();
    let seconds: String = samples
        .iter()
        .map(|us| format!("{}.{:06}\n", us / 1_000_000, us % 1_000_000))
        .collect();
    std::fs::write(dir.join("samples.txt"), seconds).unwrap();
    let out = std::process::Command::new(&python)
        .arg(common::run::repo().join("tests/prometheus_histogram.py"))
        .arg(dir.join("exposition.txt"))
        .arg(dir.join("samples.txt"))
        .arg("tickflow_test_seconds")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn metric_names_are_found_in_expressions() {
    assert_eq!(
        metric_names(
            "histogram_quantile(0.99, sum by (le) (rate(tickflow_receive_to_ack_seconds_bucket[5m])))"
        ),
        ["tickflow_receive_to_ack_seconds_bucket"]
    );
    assert_eq!(
        metric_names("time() - tickflow_ws_last_frame_timestamp_seconds > 60 and up == 1"),
        ["tickflow_ws_last_frame_timestamp_seconds"]
    );
}
