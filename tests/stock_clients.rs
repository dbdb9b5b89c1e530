//! Stock Confluent clients read what gather writes: Python `confluent-kafka`'s
//! DeserializingConsumer with AvroDeserializer (the current writer schema, and an old consumer
//! pinned to v1 as its reader schema) and ProtobufDeserializer (whether or not the registry
//! serializes proto3 `optional` with its synthetic oneofs), values exact.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::registry::{Options, Registry};
use common::run::{acked, app_with, gather, setup, wait_for};
use common::sr::{ROOT, app, client, produce, topic, v2_tick};
use common::stack::{Broker, consume_all};
use rdkafka::message::Message;
use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;
use tickflow::codec::{Encoder, Format};
use tickflow::config::AppConfig;
use tickflow::model::Exchange;
use tickflow::schemas::Kind;

/// Python with the pinned stock clients (see [`common::python_with`]).
fn stock_python(test: &str) -> Option<String> {
    common::python_with(
        test,
        "confluent_kafka.schema_registry.avro, confluent_kafka.schema_registry.protobuf",
        "confluent-kafka[avro,protobuf,schemaregistry]",
    )
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
    let run = gather(setup(app.clone(), common::run::every_venue(&base))).await;
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
    // The writer's schema (v4), fetched by the id in each header.
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
    // v4's flags too: each instrument's first tick is flagged, Upbit's snapshots are.
    for flag in ["first_after_connect", "snapshot"] {
        assert!(
            theirs.values().any(|v| v[flag] == true),
            "{flag} reaches stock consumers"
        );
    }
    // Feed status records, registered and read like ticks: each connection's UP and
    // SUBSCRIBED at least, the same as tickflow decodes them.
    let statuses: HashMap<(i64, i64), tickflow::model::status::FeedStatus> = consume_all(
        &broker.bootstrap,
        &app.topics.status,
        6,
        Duration::from_secs(30),
    )
    .iter()
    .map(|m| {
        let (_, s) = tickflow::codec::status::decode(Format::Avro, m.payload().unwrap()).unwrap();
        ((i64::from(m.partition()), m.offset()), s)
    })
    .collect();
    assert!(statuses.len() >= 6, "{statuses:?}");
    let n = statuses.len().to_string();
    let theirs_status = stock_read(
        &python,
        &[&broker.bootstrap, &reg.url, &app.topics.status, "avro", &n],
    )
    .unwrap();
    assert_eq!(theirs_status.len(), statuses.len());
    for (at, v) in &theirs_status {
        let s = &statuses[at];
        assert_eq!(v["state"], s.state.as_str(), "{v}");
        assert_eq!(v["exchange"], s.exchange.as_str(), "{v}");
        assert_eq!(v["connector"], s.connector.as_str(), "{v}");
        assert_eq!(v["ts_us"], s.ts_us, "{v}");
    }
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
    // The venues v1 names: a venue added since reads as the enum default, `UNKNOWN`.
    let v1_schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&v1).unwrap()).unwrap();
    let v1_venues: Vec<serde_json::Value> = v1_schema["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "exchange")
        .and_then(|f| f["type"]["symbols"].as_array())
        .unwrap()
        .clone();
    let mut unknown_venue = 0;
    for (at, v) in &old {
        let mut want = ours[at].clone();
        for f in [
            "stream_type",
            "market_state",
            "delisting_date",
            "trade_side",
            "first_after_connect",
            "snapshot",
            "sequence_gap",
        ] {
            want.as_object_mut().unwrap().remove(f);
        }
        // v1 has no BEST_BID_OFFER symbol: an old reader sees its enum default.
        if want["kind"] == "BEST_BID_OFFER" {
            want["kind"] = "UNKNOWN".into();
        }
        if !v1_venues.contains(&want["exchange"]) {
            want["exchange"] = "UNKNOWN".into();
            unknown_venue += 1;
        }
        assert_eq!(v, &want, "v1 reader at {at:?}");
    }
    // Every venue since v1 (Coinone) was read, as UNKNOWN, not refused.
    let newer = Exchange::ALL.len() + 1 - v1_venues.len();
    assert_eq!(
        unknown_venue > 0,
        newer > 0,
        "{unknown_venue} ticks of newer venues"
    );
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
    let current = format!("tick.v{}.proto", tickflow::codec::proto::SCHEMA_VERSION);
    let current_fds = descriptor_set(&tmp, &current);
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
                &current_fds,
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
