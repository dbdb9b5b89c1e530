//! The cache reads the schema id in every header through the registry: v1, v2 and current (v4) Avro
//! writers, Protobuf writers by message index; unknown and incompatible ids are dead-lettered
//! with their reasons and the partition moves on.
//!
//! Against the in-process registry of `tests/common/registry.rs`, or a real one when
//! `TICKFLOW_TEST_SCHEMA_REGISTRY_URL` is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::cache::{cache, config_with};
use common::registry::{Options, Registry};
use common::run::{get, wait_for};
use common::sr::{ROOT, avsc, client, older_message, produce, topic, v1_avsc, v1_message, v2_tick};
use common::stack::{Broker, RedisServer, consume_all, header};
use rdkafka::message::Message;
use redis::AsyncCommands;
use std::collections::HashMap;
use std::time::Duration;
use tickflow::codec::{Encoder, Format, avro, confluent};
use tickflow::schemas::Kind;

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
    let v2_id = sr.register(&subject, Kind::Avro, &avsc(2)).await.unwrap();
    let current_id = sr
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
        // v1 writers for instruments 0..20, v2 for 20..30, this build (v4) for 30..40; each
        // instrument twice, rising.
        for price in [100 + n, 200 + n] {
            let mut t = v2_tick(n, price);
            let payload = if n < 20 {
                v1_message(&t, v1_id)
            } else if n < 30 {
                older_message(&t, v2_id, 2)
            } else {
                t.trade_side = Some(tickflow::model::TradeSide::Buy);
                let mut out = Vec::new();
                Encoder {
                    format: Format::Avro,
                    schema_id: current_id,
                }
                .encode(&t, &mut out)
                .unwrap();
                out
            };
            expected.insert(format!("px:{{{}}}:UPBIT", t.instrument), (price, n));
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
    for (key, (price, n)) in &expected {
        let h: HashMap<String, String> = r.hgetall(key).await.unwrap();
        assert_eq!(h.get("last_price"), Some(&price.to_string()), "{key}");
        let side = h.get("trade_side").map(String::as_str);
        assert_eq!(
            side,
            (*n >= 30).then_some("BUY"),
            "{key}: v3 fields from v3 on"
        );
        if *n >= 20 {
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
