//! The Schema Registry from gather's side and the client's: refuse to start, auto-register
//! and subject strategies, the registry down, basic auth, verified TLS, no registry, the
//! registry's refusals, and the registry's id in every header on the topic.
//!
//! Against the in-process registry of `tests/common/registry.rs`, or a real one when
//! `TICKFLOW_TEST_SCHEMA_REGISTRY_URL` is set (stub-only checks then print SKIP).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::registry::{Options, Registry};
use common::run::{acked, app_with, connectors, gather, setup, wait_for};
use common::sr::{ROOT, app, client, http, topic, v1_avsc};
use common::stack::{Broker, consume_all, free_port};
use rdkafka::message::Message;
use std::process::Command;
use std::time::{Duration, Instant};
use tickflow::codec::{avro, confluent};
use tickflow::registry::{RegistryError, StartError, producer_schema_id};
use tickflow::schemas::Kind;

const BIN: &str = env!("CARGO_BIN_EXE_tickflow");

#[tokio::test]
async fn gather_refuses_to_start_when_the_schema_is_not_registered() {
    let reg = Registry::start(Options::default());
    let topic = topic(&reg, "refuse");
    let app = app("127.0.0.1:9", &reg.url, &topic, &[]);
    let err = producer_schema_id(&app).await.unwrap_err();
    assert!(matches!(err, StartError::NotRegistered { .. }), "{err}");
    let text = err.to_string();
    for needle in [
        format!("subject `{topic}-value`"),
        reg.url.clone(),
        "tickflow schemas register".into(),
    ] {
        assert!(text.contains(&needle), "`{needle}` missing in: {text}");
    }
    if reg.stub {
        // One look-up, nothing registered.
        assert_eq!(
            reg.log(),
            [format!("POST /subjects/{topic}-value?deleted=false")]
        );
        assert!(reg.versions(&format!("{topic}-value")).is_empty());
    }
    // The command refuses too, with exit code 2 and the same message.
    let out = Command::new(BIN)
        .args(["gather", "--duration", "5"])
        .current_dir(ROOT)
        .env("TICKFLOW_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:9")
        .env("TICKFLOW_SCHEMA_REGISTRY__URL", &reg.url)
        .env("TICKFLOW_TOPICS__TICKS", &topic)
        .env("TICKFLOW_HTTP__BIND", "127.0.0.1:0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("subject `{topic}-value`")),
        "{stderr}"
    );
}

#[tokio::test]
async fn auto_register_and_subject_strategies() {
    let reg = Registry::start(Options::default());
    let topic = topic(&reg, "strategies");
    for (strategy, subject) in [
        ("TopicNameStrategy", format!("{topic}-value")),
        ("RecordNameStrategy", "io.tickflow.v1.Tick".to_owned()),
        (
            "TopicRecordNameStrategy",
            format!("{topic}-io.tickflow.v1.Tick"),
        ),
    ] {
        let app = app(
            "127.0.0.1:9",
            &reg.url,
            &topic,
            &[
                ("TICKFLOW_SCHEMA_REGISTRY__AUTO_REGISTER", "true"),
                ("TICKFLOW_SCHEMA_REGISTRY__SUBJECT_NAME_STRATEGY", strategy),
            ],
        );
        let id = producer_schema_id(&app).await.unwrap();
        let found = client(&app)
            .lookup(&subject, Kind::Avro, avro::TICK_AVSC)
            .await
            .unwrap();
        assert_eq!(found, Some(id), "{strategy}: registered under `{subject}`");
        // Started again: the same id, nothing new registered.
        assert_eq!(producer_schema_id(&app).await.unwrap(), id);
        if reg.stub {
            assert_eq!(reg.versions(&subject), [id], "{strategy}");
        }
    }
}

#[tokio::test]
async fn the_registry_down_at_start_fails_after_bounded_attempts() {
    let url = format!("http://127.0.0.1:{}", free_port());
    let app = app(
        "127.0.0.1:9",
        &url,
        "ticks.v1",
        &[("TICKFLOW_SCHEMA_REGISTRY__ATTEMPTS", "3")],
    );
    let started = Instant::now();
    let err = producer_schema_id(&app).await.unwrap_err();
    let took = started.elapsed();
    let StartError::Registry { error, .. } = &err else {
        panic!("{err}")
    };
    assert!(matches!(error, RegistryError::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains(&url), "{err}");
    // Three attempts: 0.2 s and 0.4 s of backoff between them, then the error.
    assert!(took >= Duration::from_millis(600), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    let out = Command::new(BIN)
        .args(["gather", "--duration", "5"])
        .current_dir(ROOT)
        .env("TICKFLOW_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:9")
        .env("TICKFLOW_SCHEMA_REGISTRY__URL", &url)
        .env("TICKFLOW_SCHEMA_REGISTRY__ATTEMPTS", "2")
        .env("TICKFLOW_HTTP__BIND", "127.0.0.1:0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("unreachable") && stderr.contains(&url),
        "{stderr}"
    );
    assert_eq!(stderr.matches("retrying in").count(), 1, "{stderr}");
}

#[tokio::test]
async fn basic_auth_is_sent_and_never_printed() {
    if std::env::var_os("TICKFLOW_TEST_SCHEMA_REGISTRY_URL").is_some() {
        eprintln!("SKIP basic_auth_is_sent_and_never_printed: needs the stub's auth");
        return;
    }
    let password = "s3cr3t-Pa55";
    let reg = Registry::stub(Options {
        user_info: Some(format!("tick:{password}")),
        ..Options::default()
    });
    let auto = ("TICKFLOW_SCHEMA_REGISTRY__AUTO_REGISTER", "true");
    let none = app("127.0.0.1:9", &reg.url, "ticks.v1", &[auto]);
    let err = producer_schema_id(&none).await.unwrap_err().to_string();
    assert!(err.contains("40101"), "{err}");
    let wrong_info = format!("tick:not-{password}");
    let wrong = app(
        "127.0.0.1:9",
        &reg.url,
        "ticks.v1",
        &[
            auto,
            (
                "TICKFLOW_SCHEMA_REGISTRY__BASIC_AUTH_USER_INFO",
                &wrong_info,
            ),
        ],
    );
    let err = producer_schema_id(&wrong).await.unwrap_err().to_string();
    assert!(err.contains("40101") && !err.contains(password), "{err}");
    assert!(!format!("{wrong:?}").contains(password));
    let info = format!("tick:{password}");
    let right = app(
        "127.0.0.1:9",
        &reg.url,
        "ticks.v1",
        &[
            auto,
            ("TICKFLOW_SCHEMA_REGISTRY__BASIC_AUTH_USER_INFO", &info),
        ],
    );
    let id = producer_schema_id(&right).await.unwrap();
    assert_eq!(reg.versions("ticks.v1-value"), [id]);
    // The CLI with a wrong password: refused, exit 2, the password nowhere in the output.
    let out = Command::new(BIN)
        .args(["schemas", "register", "--registry", &reg.url])
        .current_dir(ROOT)
        .env(
            "TICKFLOW_SCHEMA_REGISTRY__BASIC_AUTH_USER_INFO",
            &wrong_info,
        )
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains("40101") && !all.contains(password), "{all}");
}

#[tokio::test]
async fn tls_is_verified_against_the_bundled_roots_and_the_configured_ca() {
    if std::env::var_os("TICKFLOW_TEST_SCHEMA_REGISTRY_URL").is_some() {
        eprintln!("SKIP tls_is_verified: needs the stub's TLS");
        return;
    }
    let reg = Registry::stub(Options {
        tls: true,
        ..Options::default()
    });
    let auto = ("TICKFLOW_SCHEMA_REGISTRY__AUTO_REGISTER", "true");
    let one = ("TICKFLOW_SCHEMA_REGISTRY__ATTEMPTS", "1");
    // A certificate no bundled root vouches for: refused, and said why.
    let untrusted = app("127.0.0.1:9", &reg.url, "ticks.v1", &[auto, one]);
    let err = producer_schema_id(&untrusted)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unreachable") && err.contains(&reg.url) && err.contains("certificate"),
        "{err}"
    );
    assert!(reg.versions("ticks.v1-value").is_empty());
    let dir = std::env::temp_dir().join(format!("tickflow-sr-ca-{}", free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, reg.ca_pem.as_ref().unwrap()).unwrap();
    let ca_text = ca.display().to_string();
    let trusted = app(
        "127.0.0.1:9",
        &reg.url,
        "ticks.v1",
        &[auto, one, ("TICKFLOW_SCHEMA_REGISTRY__CA_FILE", &ca_text)],
    );
    let id = producer_schema_id(&trusted).await.unwrap();
    assert_eq!(reg.versions("ticks.v1-value"), [id]);
    // A CA file without a certificate is a setup error, not a silent fallback.
    std::fs::write(&ca, "not a certificate\n").unwrap();
    let err = producer_schema_id(&trusted).await.unwrap_err().to_string();
    assert!(err.contains("no certificate"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn no_registry_keeps_the_fixed_id() {
    let app = app_with("127.0.0.1:9", &[("TICKFLOW_OUTPUT__SCHEMA_ID", "42")]);
    assert!(app.schema_registry.is_none());
    assert_eq!(producer_schema_id(&app).await.unwrap(), 42);
}

#[tokio::test]
async fn the_registry_refuses_invalid_and_incompatible_schemas() {
    let reg = Registry::start(Options::default());
    let topic = topic(&reg, "refusals");
    let subject = format!("{topic}-value");
    let app = app("127.0.0.1:9", &reg.url, &topic, &[]);
    let sr = client(&app);
    let invalid = sr
        .register(&subject, Kind::Avro, "{\"type\": \"record\"")
        .await
        .unwrap_err();
    assert_eq!(invalid.code(), Some(42201), "{invalid}");
    // FULL_TRANSITIVE on the subject, as deployments gate it.
    let level = http()
        .put(format!("{}/config/{subject}", reg.url))
        .header("Content-Type", "application/vnd.schemaregistry.v1+json")
        .body(r#"{"compatibility": "FULL_TRANSITIVE"}"#)
        .send()
        .await
        .unwrap();
    assert!(level.status().is_success());
    let got: serde_json::Value = http()
        .get(format!("{}/config/{subject}", reg.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["compatibilityLevel"], "FULL_TRANSITIVE");
    let v1 = sr.register(&subject, Kind::Avro, &v1_avsc()).await.unwrap();
    let v2 = sr
        .register(&subject, Kind::Avro, avro::TICK_AVSC)
        .await
        .unwrap();
    assert_ne!(v1, v2);
    let broken = std::fs::read_to_string(format!(
        "{ROOT}/tests/fixtures/schemas/broken/avro/tick.v5.avsc"
    ))
    .unwrap();
    let refused = sr
        .register(&subject, Kind::Avro, &broken)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some(409), "{refused}");
    // Protobuf on a subject that holds Avro: refused too.
    let other = sr
        .register(&subject, Kind::Protobuf, tickflow::codec::proto::TICK_PROTO)
        .await
        .unwrap_err();
    assert_eq!(other.code(), Some(409), "{other}");
    assert_eq!(
        sr.lookup(&subject, Kind::Avro, &broken).await.unwrap(),
        None
    );
    assert_eq!(
        sr.lookup("no-such-subject", Kind::Avro, &v1_avsc())
            .await
            .unwrap(),
        None
    );
    assert_eq!(sr.schema_by_id(987_654).await.unwrap(), None);
    let (kind, text) = sr.schema_by_id(v1).await.unwrap().unwrap();
    assert_eq!(kind, Kind::Avro);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&text).unwrap(),
        serde_json::from_str::<serde_json::Value>(&v1_avsc()).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_header_carries_the_registry_id() {
    let test = "every_header_carries_the_registry_id";
    let Some(broker) = Broker::start(test) else {
        return;
    };
    let reg = Registry::start(Options::default());
    let topic = topic(&reg, "header");
    // Another subject first, so that the registry's id of tick v2 is not 1, and a fixed id
    // that differs from both.
    let other = app(&broker.bootstrap, &reg.url, "other", &[]);
    client(&other)
        .register("other-value", Kind::Avro, &v1_avsc())
        .await
        .unwrap();
    let registered = Command::new(BIN)
        .args(["schemas", "register", "--registry", &reg.url])
        .current_dir(ROOT)
        .env("TICKFLOW_TOPICS__TICKS", &topic)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&registered.stdout).into_owned();
    assert!(
        registered.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&registered.stderr)
    );
    let app = app(
        &broker.bootstrap,
        &reg.url,
        &topic,
        &[("TICKFLOW_OUTPUT__SCHEMA_ID", "77")],
    );
    let id = client(&app)
        .lookup(&format!("{topic}-value"), Kind::Avro, avro::TICK_AVSC)
        .await
        .unwrap()
        .unwrap();
    assert!(stdout.contains(&format!("id {id}")), "{stdout}");
    assert_ne!(id, 77);
    if reg.stub {
        assert_ne!(id, 1);
    }
    let (base, _sim) = common::start_simulator(200, Duration::from_secs(1), None).await;
    let run = gather(setup(
        app.clone(),
        connectors(&base, &[("upbit", ""), ("binance", "")]),
    ))
    .await;
    wait_for("300 acked ticks", Duration::from_secs(30), || {
        acked(&run.state) >= 300
    })
    .await;
    let (outcome, _) = run.finish().await;
    let messages = consume_all(
        &broker.bootstrap,
        &topic,
        outcome.ticks_acked as usize,
        Duration::from_secs(30),
    );
    assert_eq!(messages.len() as u64, outcome.ticks_acked);
    for m in &messages {
        let (header_id, _) = confluent::split(m.payload().unwrap()).unwrap();
        assert_eq!(header_id, id);
    }
    // Registering again: the same id, exit 0.
    let again = Command::new(BIN)
        .args(["schemas", "register", "--registry", &reg.url])
        .current_dir(ROOT)
        .env("TICKFLOW_TOPICS__TICKS", &topic)
        .output()
        .unwrap();
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains(&format!("id {id}")));
}
