//! Secure Kafka: gather and the cache through a TLS-terminating proxy in front of tansu, the
//! certificate verified against a test CA; a CA that did not sign it fails with a clear error
//! and `/readyz` 503; and every SASL mechanism the managed services use is built in.
//! (No SASL-capable broker installs here, so SASL is checked as far as a client can be:
//! librdkafka accepts the configuration and offers the mechanism.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::cache::config_with;
use common::run::{acked, connectors, gather, get, setup, wait_for};
use common::stack::{RedisServer, free_port, http_get};
use common::tls::{TestCa, TlsBroker};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_tickflow");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn scratch(test: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("tickflow-{test}-{}", free_port()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gather_and_cache_reach_kafka_over_verified_tls() {
    let test = "gather_and_cache_reach_kafka_over_verified_tls";
    let dir = scratch(test);
    let ca = TestCa::new(&dir, "ca");
    let Some(redis) = RedisServer::start(test) else {
        return;
    };
    let Some(tls) = TlsBroker::start(test, &ca).await else {
        return;
    };
    let ca_path = ca.ca_pem.display().to_string();
    let app = config_with(
        &tls.broker,
        &redis,
        "cache-tls",
        &[
            ("TICKFLOW_KAFKA__SECURITY_PROTOCOL", "SSL"),
            ("TICKFLOW_KAFKA__SSL_CA_LOCATION", &ca_path),
        ],
    );
    let (base, _sim) = common::start_simulator(200, Duration::from_secs(1), None).await;
    let run = gather(setup(app.clone(), connectors(&base, &[("upbit", "")]))).await;
    wait_for(
        "ticks acknowledged over TLS",
        Duration::from_secs(30),
        || acked(&run.state) >= 200,
    )
    .await;
    let c = common::cache::cache(&app).await;
    let (outcome, _) = run.finish().await;
    assert_eq!(outcome.lost, 0);
    wait_for(
        "the cache consumed over TLS",
        Duration::from_secs(30),
        || get(&c.stats.acknowledged) >= outcome.ticks_acked,
    )
    .await;
    let stats = c.finish().await;
    assert_eq!(get(&stats.poison), 0);
    assert!(get(&stats.applied) > 0);
    // Every connection went through the TLS proxy: the broker advertises only its port.
    assert!(tls.handshakes.load(Ordering::Relaxed) >= 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_another_ca_fails_clearly_and_readyz_is_503() {
    let test = "a_certificate_from_another_ca_fails_clearly";
    let dir = scratch(test);
    let signer = TestCa::new(&dir, "signer");
    let other = TestCa::new(&dir, "other");
    let Some(tls) = TlsBroker::start(test, &signer).await else {
        return;
    };
    let (base, _sim) = common::start_simulator(50, Duration::from_secs(1), None).await;
    let http = free_port();
    let child = Command::new(BIN)
        .args([
            "gather",
            "--simulator",
            &base,
            "--connector",
            "upbit",
            "--duration",
            "8",
        ])
        .current_dir(ROOT)
        .env("TICKFLOW_KAFKA__BOOTSTRAP_SERVERS", &tls.broker.bootstrap)
        .env("TICKFLOW_KAFKA__SECURITY_PROTOCOL", "SSL")
        .env("TICKFLOW_KAFKA__SSL_CA_LOCATION", &other.ca_pem)
        // Topic creation would wait for a broker that never answers; readiness is the point.
        .env("TICKFLOW_TOPICS__CREATE", "false")
        .env("TICKFLOW_HTTP__BIND", format!("127.0.0.1:{http}"))
        .env("TICKFLOW_GATHER__SHUTDOWN_TIMEOUT_MS", "1000")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut readyz = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Some(r) = http_get(([127, 0, 0, 1], http).into(), "/readyz") {
            readyz = Some(r);
            if tls.handshakes.load(Ordering::Relaxed) == 0 {
                // Give librdkafka time to try and fail at least once.
                tokio::time::sleep(Duration::from_secs(3)).await;
                readyz = http_get(([127, 0, 0, 1], http).into(), "/readyz");
            }
            break;
        }
    }
    let (status, body) = readyz.expect("gather served /readyz");
    assert_eq!(status, 503, "{body}");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // No TLS session was completed, and the reason is named.
    assert_eq!(tls.handshakes.load(Ordering::Relaxed), 0);
    assert!(stderr.contains("certificate verify failed"), "{stderr}");
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_sasl_mechanism_managed_kafka_uses_is_built_in() {
    use rdkafka::producer::BaseProducer;
    for (protocol, mechanism, extra) in [
        ("SASL_SSL", "PLAIN", None),
        ("SASL_SSL", "SCRAM-SHA-256", None),
        ("SASL_SSL", "SCRAM-SHA-512", None),
        ("SASL_PLAINTEXT", "SCRAM-SHA-512", None),
        (
            "SASL_SSL",
            "OAUTHBEARER",
            Some(("sasl.oauthbearer.config", "principal=tickflow")),
        ),
    ] {
        let mut config = rdkafka::ClientConfig::new();
        for (k, v) in tickflow::kafka::producer_properties(&Default::default()) {
            config.set(k, v);
        }
        config
            .set("bootstrap.servers", "127.0.0.1:9")
            .set("security.protocol", protocol)
            .set("sasl.mechanism", mechanism)
            .set("sasl.username", "user")
            .set("sasl.password", "secret");
        if let Some((k, v)) = extra {
            config.set(k, v);
        }
        let created: Result<BaseProducer, _> = config.create();
        assert!(
            created.is_ok(),
            "{protocol} {mechanism}: {:?}",
            created.err()
        );
    }
    // An unknown mechanism is still refused, so the check above can fail.
    let refused: Result<BaseProducer, _> = rdkafka::ClientConfig::new()
        .set("security.protocol", "SASL_SSL")
        .set("sasl.mechanism", "KERBEROS-NOPE")
        .create();
    assert!(refused.is_err());
}
