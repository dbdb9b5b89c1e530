//! Failures an operator can act on: each names what failed and where, once, with secrets
//! redacted; the progress line says when Kafka acknowledges nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::stack::free_port;
use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_tickflow");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Redis down when the cache starts: it keeps running, says so once with the URL redacted,
/// answers 503 on `/readyz`, and writes once Redis comes up (docs/operating.md, Reliability:
/// retried with backoff).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_at_start_is_retried_and_named_with_its_password_redacted() {
    let test = "redis_down_at_start";
    let Some(broker) = common::stack::Broker::start(test) else {
        return;
    };
    let app = common::run::app(&broker.bootstrap);
    tickflow::kafka::ensure_topics(
        &tickflow::kafka::producer_properties(&app.kafka),
        &["ticks.v1", "ticks.dlq.v1"],
        1,
        1,
    )
    .await
    .unwrap();
    let port = free_port();
    let url = format!("redis://default:S3CRET-pw@127.0.0.1:{port}");
    let mut cache = common::child::Tickflow::spawn(
        &["cache"],
        &[
            (
                "TICKFLOW_KAFKA__BOOTSTRAP_SERVERS",
                broker.bootstrap.as_str(),
            ),
            ("TICKFLOW_REDIS__URL", url.as_str()),
        ],
    );
    let done = tokio::task::spawn_blocking(move || {
        cache.wait_until("the retry line", Duration::from_secs(20), |c| {
            c.stderr().contains("not answering at start")
        });
        let stderr = cache.stderr();
        let line = stderr
            .lines()
            .find(|l| l.contains("not answering at start"))
            .unwrap();
        assert!(
            line.contains(&format!("redis redis://***@127.0.0.1:{port}")),
            "{line}"
        );
        assert_eq!(line.matches("Connection refused").count(), 1, "{line}");
        let (status, body) = cache.get("/readyz").unwrap();
        assert_eq!(status, 503);
        assert!(body.contains("redis is not answering"), "{body}");
        let redis = common::stack::RedisServer::start_on(test, port).unwrap();
        let set = Command::new("redis-cli")
            .args([
                "-p",
                &port.to_string(),
                "CONFIG",
                "SET",
                "requirepass",
                "S3CRET-pw",
            ])
            .output()
            .unwrap();
        assert!(set.status.success());
        cache.wait_until("ready", Duration::from_secs(30), |c| {
            c.get("/readyz").is_some_and(|(s, _)| s == 200)
        });
        cache.signal("TERM");
        let (status, stderr, _) = cache.wait_exit(Duration::from_secs(30));
        assert_eq!(status.code(), Some(0), "{stderr}");
        assert_eq!(
            stderr.matches("not answering at start").count(),
            1,
            "{stderr}"
        );
        assert!(!stderr.contains("S3CRET"), "{stderr}");
        drop(redis);
    });
    done.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_broker_is_logged_once_and_the_progress_line_says_so() {
    let (base, _sim) = common::start_simulator(50, Duration::from_secs(1), None).await;
    let broker = format!("127.0.0.1:{}", free_port());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args([
                "gather",
                "--simulator",
                &base,
                "--connector",
                "upbit",
                "--duration",
                "17",
            ])
            .current_dir(ROOT)
            .env("TICKFLOW_KAFKA__BOOTSTRAP_SERVERS", &broker)
            .env("TICKFLOW_TOPICS__CREATE", "false")
            .env("TICKFLOW_HTTP__BIND", "127.0.0.1:0")
            .env("TICKFLOW_GATHER__PROGRESS_SECS", "5")
            .env("TICKFLOW_GATHER__SHUTDOWN_TIMEOUT_MS", "1000")
            .output()
            .map(|o| (o, broker))
    })
    .await
    .unwrap()
    .unwrap();
    let (out, broker) = out;
    let stderr = String::from_utf8_lossy(&out.stderr);
    // librdkafka reports the dead broker at every retry, with changing counts ("1/1 brokers
    // are down", "0/1 ..."): one line per kind of error, naming the bootstrap list.
    let kafka_lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(&format!("kafka {broker}:")))
        .collect();
    assert!(!kafka_lines.is_empty(), "{stderr}");
    assert!(kafka_lines.len() <= 2, "{kafka_lines:#?}");
    assert!(
        stderr.contains("KAFKA: nothing acknowledged for"),
        "the progress line never said Kafka is down:\n{stderr}"
    );
    // Nothing was delivered: the exit code says so.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
}

#[tokio::test]
async fn topic_creation_says_which_broker_did_not_answer() {
    // A port nobody listens on: librdkafka retries until the admin timeout (35 s).
    let bootstrap = format!("127.0.0.1:{}", free_port());
    let mut properties = std::collections::BTreeMap::new();
    properties.insert("bootstrap.servers".to_owned(), bootstrap.clone());
    let err = tickflow::kafka::ensure_topics(&properties, &["ticks.v1", "ticks.dlq.v1"], 1, 1)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("no broker at {bootstrap} answered")),
        "{err}"
    );
    assert!(err.contains("ticks.v1, ticks.dlq.v1"), "{err}");
}
