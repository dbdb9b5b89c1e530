//! The Schema Registry end to end: gather's schema id (refuse to start, auto-register, the
//! registry's id in every header, the registry down, basic auth, subject strategies), the
//! cache reading v1 and v2 writers through the registry and dead-lettering unknown and
//! incompatible ids, and stock Python deserializers reading the topic.
//!
//! Against the in-process registry of `tests/common/registry.rs`, or a real one when
//! `TICKFLOW_TEST_SCHEMA_REGISTRY_URL` is set (stub-only checks then print SKIP).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::cache::{cache, config_with};
use common::registry::{Options, Registry};
use common::run::{acked, app_with, connectors, gather, get, setup, wait_for};
use common::stack::{Broker, RedisServer, consume_all, free_port, header};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use redis::AsyncCommands;
use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};
use tickflow::codec::{Encoder, Format, avro, confluent};
use tickflow::config::AppConfig;
use tickflow::model::{EventKind, Exchange, Instrument, MarketState, StreamType, Tick};
use tickflow::registry::{Registry as Client, RegistryError, StartError, producer_schema_id};
use tickflow::schemas::Kind;

const BIN: &str = env!("CARGO_BIN_EXE_tickflow");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// `ticks.v1` on the stub (a fresh registry per test); a unique topic on a real registry, so
/// that tests do not share subjects.
fn topic(reg: &Registry, test: &str) -> String {
    if reg.stub {
        "ticks.v1".into()
    } else {
        format!("ticks.v1.{test}.{}", std::process::id())
    }
}

fn app(bootstrap: &str, reg_url: &str, topic: &str, extra: &[(&str, &str)]) -> AppConfig {
    let mut env = vec![
        ("TICKFLOW_SCHEMA_REGISTRY__URL", reg_url),
        ("TICKFLOW_TOPICS__TICKS", topic),
        ("TICKFLOW_SCHEMA_REGISTRY__TIMEOUT_MS", "3000"),
    ];
    env.extend_from_slice(extra);
    app_with(bootstrap, &env)
}

fn client(app: &AppConfig) -> Client {
    Client::new(app.schema_registry.as_ref().unwrap()).unwrap()
}

/// A plain HTTP client (reqwest is built without a default TLS provider).
fn http() -> reqwest::Client {
    let tls = (*tickflow::ws::tls::client_config().unwrap()).clone();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .unwrap()
}

fn v1_avsc() -> String {
    std::fs::read_to_string(format!("{ROOT}/schemas/avro/tick.v1.avsc")).unwrap()
}

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
        "{ROOT}/tests/fixtures/schemas/broken/avro/tick.v3.avsc"
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

/// A tick of instrument `n`, with the fields v2 added set.
fn v2_tick(n: u64, price: u64) -> Tick {
    let base = format!("V{n}");
    let mut t = Tick::new(
        Exchange::Upbit,
        Instrument::new(&base, "KRW").unwrap(),
        &format!("KRW-{base}"),
        EventKind::Ticker,
        price.into(),
        // Later prices are later ticks (the compare-and-set orders by time).
        1_764_000_000_000_000 + price as i64,
    );
    t.event_ts_us = Some(t.received_ts_us);
    t.stream_type = Some(StreamType::Realtime);
    t.market_state = Some(MarketState::Active);
    t.delisting_date = Some(20_818);
    t
}

/// What tickflow v1 wrote: the v1 schema's record, through apache-avro, framed with `id`.
fn v1_message(tick: &Tick, id: u32) -> Vec<u8> {
    let v1 = apache_avro::Schema::parse_str(&v1_avsc()).unwrap();
    let apache_avro::types::Value::Record(mut fields) = avro::to_value(tick).unwrap() else {
        panic!()
    };
    fields
        .retain(|(n, _)| !["stream_type", "market_state", "delisting_date"].contains(&n.as_str()));
    #[allow(deprecated)]
    let body = apache_avro::to_avro_datum(&v1, apache_avro::types::Value::Record(fields)).unwrap();
    let mut out = Vec::new();
    confluent::write_header(&mut out, id);
    out.extend_from_slice(&body);
    out
}

fn produce(bootstrap: &str, topic: &str, messages: &[(String, Vec<u8>)]) {
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    for (key, payload) in messages {
        producer
            .send(BaseRecord::to(topic).key(key).payload(payload))
            .unwrap();
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(10)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_reads_v1_and_v2_writers_and_dead_letters_unknown_and_incompatible_ids() {
    let test = "the_cache_reads_v1_and_v2_writers";
    let (Some(broker), Some(redis)) = (Broker::start(test), RedisServer::start(test)) else {
        return;
    };
    let reg = Registry::start(Options::default());
    let topic = topic(&reg, "cache_v1_v2");
    let subject = format!("{topic}-value");
    let app = config_with(
        &broker,
        &redis,
        "cache-registry",
        &[
            ("TICKFLOW_SCHEMA_REGISTRY__URL", &reg.url),
            ("TICKFLOW_TOPICS__TICKS", &topic),
        ],
    );
    let sr = client(&app);
    let v1_id = sr.register(&subject, Kind::Avro, &v1_avsc()).await.unwrap();
    let v2_id = sr
        .register(&subject, Kind::Avro, avro::TICK_AVSC)
        .await
        .unwrap();
    // A schema of the same name whose last_price is a long: the cache cannot read it.
    let incompatible_text = avro::TICK_AVSC.replacen(
        r#"{"name": "last_price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 38, "scale": 18}"#,
        r#"{"name": "last_price", "type": "long""#,
        1,
    );
    assert_ne!(incompatible_text, avro::TICK_AVSC);
    let bad_id = sr
        .register(
            &format!("{topic}-incompatible"),
            Kind::Avro,
            &incompatible_text,
        )
        .await
        .unwrap();
    let unknown_id = 999_999;
    common::fill::create_topics(&app).await;
    let mut messages = Vec::new();
    let mut expected = HashMap::new();
    for n in 0..40 {
        // v1 writers for instruments 0..20, v2 for 20..40; each instrument twice, rising.
        for price in [100 + n, 200 + n] {
            let t = v2_tick(n, price);
            let payload = if n < 20 {
                v1_message(&t, v1_id)
            } else {
                let mut out = Vec::new();
                Encoder {
                    format: Format::Avro,
                    schema_id: v2_id,
                }
                .encode(&t, &mut out)
                .unwrap();
                out
            };
            expected.insert(format!("px:{{{}}}:UPBIT", t.instrument), (price, n >= 20));
            messages.push((t.key(), payload));
        }
    }
    let poison_unknown = v1_message(&v2_tick(90, 1), unknown_id);
    let poison_incompatible = v1_message(&v2_tick(91, 1), bad_id);
    messages.push(("UPBIT:V90-KRW".into(), poison_unknown.clone()));
    messages.push(("UPBIT:V91-KRW".into(), poison_incompatible.clone()));
    produce(&broker.bootstrap, &topic, &messages);

    let c = cache(&app).await;
    wait_for(
        "every message consumed and acknowledged",
        Duration::from_secs(60),
        || get(&c.stats.acknowledged) >= messages.len() as u64,
    )
    .await;
    let stats = c.finish().await;
    assert_eq!(get(&stats.consumed), messages.len() as u64);
    assert_eq!(get(&stats.poison), 2);
    let by_reason: Vec<u64> = stats.poison_by_reason.iter().map(get).collect();
    assert_eq!(
        by_reason,
        [0, 1, 1, 0],
        "undecodable, unknown, incompatible, unavailable"
    );

    let mut r = tickflow::cache::connect(&redis.url(), false).await.unwrap();
    for (key, (price, v2)) in &expected {
        let h: HashMap<String, String> = r.hgetall(key).await.unwrap();
        assert_eq!(h.get("last_price"), Some(&price.to_string()), "{key}");
        if *v2 {
            assert_eq!(
                h.get("stream_type").map(String::as_str),
                Some("REALTIME"),
                "{key}"
            );
            assert_eq!(
                h.get("market_state").map(String::as_str),
                Some("ACTIVE"),
                "{key}"
            );
            assert_eq!(
                h.get("delisting_date").map(String::as_str),
                Some("2026-12-31"),
                "{key}"
            );
        } else {
            // A v1 writer has no such fields: absent, never invented.
            assert!(
                !h.contains_key("stream_type") && !h.contains_key("delisting_date"),
                "{key}"
            );
        }
    }
    let dead = consume_all(
        &broker.bootstrap,
        "ticks.dlq.v1",
        2,
        Duration::from_secs(30),
    );
    assert_eq!(dead.len(), 2);
    let mut reasons: Vec<(String, Vec<u8>)> = dead
        .iter()
        .map(|m| {
            assert_eq!(header(m, "stage").as_deref(), Some("decode"));
            assert_eq!(header(m, "source_topic").as_deref(), Some(topic.as_str()));
            (header(m, "reason").unwrap(), m.payload().unwrap().to_vec())
        })
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            ("incompatible_schema".to_owned(), poison_incompatible),
            ("unknown_schema_id".to_owned(), poison_unknown)
        ]
    );
    let error = dead
        .iter()
        .find(|m| header(m, "reason").as_deref() == Some("incompatible_schema"))
        .and_then(|m| header(m, "error"))
        .unwrap();
    assert!(error.contains("last_price"), "{error}");
    if reg.stub {
        // Each id was resolved once.
        let log = reg.log();
        for id in [v1_id, v2_id, bad_id, unknown_id] {
            let asked = log
                .iter()
                .filter(|l| l.starts_with(&format!("GET /schemas/ids/{id}?")))
                .count();
            assert_eq!(asked, 1, "id {id}: {log:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_reads_protobuf_writers_by_message_index() {
    let test = "the_cache_reads_protobuf_writers";
    let (Some(broker), Some(redis)) = (Broker::start(test), RedisServer::start(test)) else {
        return;
    };
    let reg = Registry::start(Options::default());
    let topic = topic(&reg, "cache_proto");
    let subject = format!("{topic}-value");
    let app = config_with(
        &broker,
        &redis,
        "cache-registry-proto",
        &[
            ("TICKFLOW_SCHEMA_REGISTRY__URL", &reg.url),
            ("TICKFLOW_TOPICS__TICKS", &topic),
            ("TICKFLOW_OUTPUT__FORMAT", "proto"),
        ],
    );
    let sr = client(&app);
    let v1_text = std::fs::read_to_string(format!("{ROOT}/schemas/proto/tick.v1.proto")).unwrap();
    let v1_id = sr
        .register(&subject, Kind::Protobuf, &v1_text)
        .await
        .unwrap();
    let v2_id = sr
        .register(&subject, Kind::Protobuf, tickflow::codec::proto::TICK_PROTO)
        .await
        .unwrap();
    common::fill::create_topics(&app).await;
    let mut messages = Vec::new();
    for n in 0..10 {
        let mut t = v2_tick(n, 500 + n);
        let id = if n < 5 {
            // v1 wrote no v2 fields.
            (t.stream_type, t.market_state, t.delisting_date) = (None, None, None);
            v1_id
        } else {
            v2_id
        };
        let mut out = Vec::new();
        Encoder {
            format: Format::Proto,
            schema_id: id,
        }
        .encode(&t, &mut out)
        .unwrap();
        messages.push((t.key(), out));
    }
    // Message index [1]: no second message in the schema.
    let mut wrong_index = Vec::new();
    confluent::write_proto_header(&mut wrong_index, v2_id, &[1]);
    tickflow::codec::proto::encode(&v2_tick(99, 1), &mut wrong_index).unwrap();
    messages.push(("UPBIT:V99-KRW".into(), wrong_index));
    produce(&broker.bootstrap, &topic, &messages);
    let c = cache(&app).await;
    wait_for(
        "every message acknowledged",
        Duration::from_secs(60),
        || get(&c.stats.acknowledged) >= messages.len() as u64,
    )
    .await;
    let stats = c.finish().await;
    let by_reason: Vec<u64> = stats.poison_by_reason.iter().map(get).collect();
    assert_eq!(by_reason, [0, 0, 1, 0]);
    let mut r = tickflow::cache::connect(&redis.url(), false).await.unwrap();
    for n in 0..10u64 {
        let h: HashMap<String, String> = r.hgetall(format!("px:{{V{n}-KRW}}:UPBIT")).await.unwrap();
        assert_eq!(h.get("last_price"), Some(&(500 + n).to_string()));
        assert_eq!(h.contains_key("stream_type"), n >= 5, "V{n}");
    }
}

/// Python with the pinned stock clients, or `None` (SKIP) when they are missing and not
/// required (`TICKFLOW_REQUIRE_PYTHON_CLIENTS=1`, set by scripts/test.sh).
fn stock_python(test: &str) -> Option<String> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python)
        .args([
            "-c",
            "import confluent_kafka.schema_registry.avro, confluent_kafka.schema_registry.protobuf",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    assert!(
        std::env::var("TICKFLOW_REQUIRE_PYTHON_CLIENTS").as_deref() != Ok("1"),
        "confluent-kafka is required but not importable"
    );
    eprintln!("SKIP {test}: python confluent-kafka[avro,protobuf,schemaregistry] not installed");
    None
}

/// Runs tests/stock_consumer.py; its records by (partition, offset).
fn stock_read(
    python: &str,
    args: &[&str],
) -> Result<HashMap<(i64, i64), serde_json::Value>, String> {
    let out = Command::new(python)
        .arg(format!("{ROOT}/tests/stock_consumer.py"))
        .args(args)
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                (
                    v["partition"].as_i64().unwrap(),
                    v["offset"].as_i64().unwrap(),
                ),
                v["value"].clone(),
            )
        })
        .collect())
}

/// Every message of `topic` as tickflow decodes it, by (partition, offset), as JSON.
fn ours(
    bootstrap: &str,
    topic: &str,
    count: usize,
    format: Format,
) -> HashMap<(i64, i64), serde_json::Value> {
    consume_all(bootstrap, topic, count, Duration::from_secs(30))
        .iter()
        .map(|m| {
            let (_, tick) = Encoder::decode(format, m.payload().unwrap()).unwrap();
            (
                (i64::from(m.partition()), m.offset()),
                serde_json::to_value(&tick).unwrap(),
            )
        })
        .collect()
}

async fn gather_some(app: &AppConfig, at_least: u64) -> u64 {
    let (base, _sim) = common::start_simulator(200, Duration::from_secs(1), None).await;
    let run = gather(setup(
        app.clone(),
        connectors(&base, &[("upbit", ""), ("binance", ""), ("bithumb", "")]),
    ))
    .await;
    wait_for("acked ticks", Duration::from_secs(30), || {
        acked(&run.state) >= at_least
    })
    .await;
    run.finish().await.0.ticks_acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_python_deserializers_read_the_topic_exactly() {
    let test = "stock_python_deserializers_read_the_topic_exactly";
    let Some(python) = stock_python(test) else {
        return;
    };
    let Some(broker) = Broker::start(test) else {
        return;
    };
    let reg = Registry::start(Options::default());
    let topic = topic(&reg, "stock_avro");
    let auto = ("TICKFLOW_SCHEMA_REGISTRY__AUTO_REGISTER", "true");
    let app = app(&broker.bootstrap, &reg.url, &topic, &[auto]);
    let total = gather_some(&app, 600).await;
    let ours = ours(&broker.bootstrap, &topic, total as usize, Format::Avro);
    assert_eq!(ours.len() as u64, total);
    let count = total.to_string();
    // The writer's schema (v2), fetched by the id in each header.
    let theirs = stock_read(
        &python,
        &[&broker.bootstrap, &reg.url, &topic, "avro", &count],
    )
    .unwrap();
    assert_eq!(theirs, ours, "AvroDeserializer and tickflow disagree");
    assert!(
        theirs
            .values()
            .any(|v| v["stream_type"] == "SNAPSHOT" || v["stream_type"] == "REALTIME"),
        "v2 fields reach stock consumers"
    );
    // An old consumer with the v1 schema as its reader schema: the same values, no v2 fields.
    let v1 = format!("{ROOT}/schemas/avro/tick.v1.avsc");
    let old = stock_read(
        &python,
        &[
            &broker.bootstrap,
            &reg.url,
            &topic,
            "avro",
            &count,
            "--reader-schema",
            &v1,
        ],
    )
    .unwrap();
    assert_eq!(old.len(), ours.len());
    for (at, v) in &old {
        let mut want = ours[at].clone();
        for f in ["stream_type", "market_state", "delisting_date"] {
            want.as_object_mut().unwrap().remove(f);
        }
        assert_eq!(v, &want, "v1 reader at {at:?}");
    }
}

/// The compiled Protobuf schema as a FileDescriptorSet file (the Python consumer builds its
/// message class from it, as generated code would).
fn descriptor_set(dir: &std::path::Path, file: &str) -> String {
    let fds = protox::compile([file], [format!("{ROOT}/schemas/proto")]).unwrap();
    let path = dir.join(format!("{file}.fds"));
    std::fs::write(&path, prost::Message::encode_to_vec(&fds)).unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_python_protobuf_reads_whether_or_not_the_registry_keeps_synthetic_oneofs() {
    let test = "stock_python_protobuf";
    let Some(python) = stock_python(test) else {
        return;
    };
    let Some(broker) = Broker::start(test) else {
        return;
    };
    let tmp = std::env::temp_dir().join(format!("tickflow-fds-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let v2_fds = descriptor_set(&tmp, "tick.v2.proto");
    let auto = ("TICKFLOW_SCHEMA_REGISTRY__AUTO_REGISTER", "true");
    let proto = ("TICKFLOW_OUTPUT__FORMAT", "proto");
    for karapace in [false, true] {
        if !karapace && std::env::var_os("TICKFLOW_TEST_SCHEMA_REGISTRY_URL").is_some() {
            continue;
        }
        // Karapace's serialization only exists in the stub; a real registry runs the first.
        let reg = if karapace {
            Registry::stub(Options {
                karapace: true,
                ..Options::default()
            })
        } else {
            Registry::start(Options::default())
        };
        let topic = format!("ticks.proto.{karapace}");
        let app = app(&broker.bootstrap, &reg.url, &topic, &[auto, proto]);
        let total = gather_some(&app, 300).await;
        let ours = ours(&broker.bootstrap, &topic, total as usize, Format::Proto);
        let count = total.to_string();
        let theirs = stock_read(
            &python,
            &[
                &broker.bootstrap,
                &reg.url,
                &topic,
                "proto",
                &count,
                "--descriptor-set",
                &v2_fds,
            ],
        )
        .unwrap_or_else(|e| panic!("karapace={karapace}: {e}"));
        assert_eq!(theirs, ours, "ProtobufDeserializer (karapace={karapace})");
        if karapace {
            // The v1 schema's proto3 `optional` fields, served without their synthetic oneofs,
            // are what fails every stock read: the reason v2 declares explicit oneofs.
            let v1_topic = "ticks.proto.v1";
            let v1_text =
                std::fs::read_to_string(format!("{ROOT}/schemas/proto/tick.v1.proto")).unwrap();
            let v1_id = client(&app)
                .register(&format!("{v1_topic}-value"), Kind::Protobuf, &v1_text)
                .await
                .unwrap();
            common::fill::create_topics(&app_with(
                &broker.bootstrap,
                &[("TICKFLOW_TOPICS__TICKS", v1_topic)],
            ))
            .await;
            let mut out = Vec::new();
            Encoder {
                format: Format::Proto,
                schema_id: v1_id,
            }
            .encode(&v2_tick(1, 1), &mut out)
            .unwrap();
            produce(&broker.bootstrap, v1_topic, &[("UPBIT:V1-KRW".into(), out)]);
            let v1_fds = descriptor_set(&tmp, "tick.v1.proto");
            let err = stock_read(
                &python,
                &[
                    &broker.bootstrap,
                    &reg.url,
                    v1_topic,
                    "proto",
                    "1",
                    "--descriptor-set",
                    &v1_fds,
                    "--timeout",
                    "20",
                ],
            )
            .unwrap_err();
            assert!(err.contains("proto3_optional"), "{err}");
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
