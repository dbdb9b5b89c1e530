//! The contract's rules, each stated as the bytes and settings it must produce.

use super::*;
use crate::codec::instrument::{InstrumentRecord, State};
use crate::model::{EventKind, Instrument, Tick};
use crate::registry::{DecodeFailure, DecodeReason};

fn properties(configured: &[(&str, &str)]) -> BTreeMap<String, String> {
    let configured = configured
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    producer_properties(&configured)
}

#[test]
fn keys_follow_the_contract() {
    let instrument = Instrument::parse("BTC-KRW").unwrap();
    for exchange in Exchange::ALL {
        let want = format!("{}:BTC-KRW", exchange.as_str());
        let tick = Tick::new(
            exchange,
            instrument.clone(),
            "X",
            EventKind::Ticker,
            1.into(),
            0,
        );
        assert_eq!(tick.key(), want);
        let record = InstrumentRecord {
            exchange,
            instrument: instrument.clone(),
            native_symbol: "X".into(),
            state: State::Live,
            status: None,
            tick_size: None,
            lot_size: None,
            notices: Vec::new(),
            first_seen_ts_us: 0,
            last_seen_ts_us: 0,
            as_of_ts_us: 0,
        };
        assert_eq!(record.key(), want);
        assert_eq!(dead_letter_key(exchange), exchange.as_str().as_bytes());
    }
    assert_eq!(
        creation_config("instruments.v1", "instruments.v1"),
        [("cleanup.policy", "compact")]
    );
    assert!(creation_config("instruments.v1", "ticks.v1").is_empty());
}

#[test]
fn a_frame_dead_letter_names_everything() {
    let r = crate::model::Rejection::new(
        crate::model::Reason::FrameTooLarge,
        "x".repeat(MAX_ERROR_TEXT + 10),
    );
    let sha = "ab".repeat(32);
    let frame = |simulated, cut| Origin::Frame {
        exchange: Exchange::Upbit,
        connector: "upbit",
        frame_type: FrameType::Binary,
        simulated,
        cut,
    };
    let h = dead_letter_headers(
        &DeadLetter::rejected(&r),
        &frame(true, Some((70_000, sha.as_str()))),
        1_763_769_600_123_456,
    );
    let names: Vec<&str> = h.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "exchange",
            "connector",
            "stage",
            "reason",
            "error",
            "received_at",
            "frame_type",
            "simulated",
            "original_size",
            "sha256"
        ]
    );
    let values: Vec<&str> = h.iter().map(|(_, v)| v.as_str()).collect();
    assert_eq!(values[..4], ["UPBIT", "upbit", "parse", "frame_too_large"]);
    assert_eq!(values[4].len(), MAX_ERROR_TEXT, "the error text is capped");
    assert_eq!(
        values[5..],
        [
            "2025-11-22T00:00:00.123456Z",
            "binary",
            "true",
            "70000",
            sha.as_str()
        ]
    );
    let plain = dead_letter_headers(
        &DeadLetter::unsupported("orderbook"),
        &frame(false, None),
        0,
    );
    assert_eq!(plain.len(), 7, "{plain:?}");
    assert_eq!(plain[3], ("reason", "unsupported_message".to_owned()));
}

#[test]
fn the_cache_dead_letters_name_their_source() {
    let source = Source {
        topic: "ticks.v1",
        partition: 3,
        offset: 42,
    };
    let failure = DecodeFailure::new(DecodeReason::UnknownSchemaId, "schema id 9");
    let h = dead_letter_headers(
        &DeadLetter::undecodable(&failure),
        &Origin::Undecodable(source),
        1_763_769_600_000_000,
    );
    let at = "2025-11-22T00:00:00.000000Z";
    let want = |pairs: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
        pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
    };
    assert_eq!(
        h,
        want(&[
            ("stage", "decode"),
            ("reason", "unknown_schema_id"),
            ("error", "schema id 9"),
            ("received_at", at),
            ("source_topic", "ticks.v1"),
            ("source_partition", "3"),
            ("source_offset", "42"),
        ])
    );
    let h = dead_letter_headers(
        &DeadLetter::refused("redis_wrong_type", "WRONGTYPE Operation"),
        &Origin::Refused(Exchange::Bithumb, source),
        1_763_769_600_000_000,
    );
    assert_eq!(
        h,
        want(&[
            ("stage", "cache"),
            ("reason", "redis_wrong_type"),
            ("error", "WRONGTYPE Operation"),
            ("received_at", at),
            ("exchange", "BITHUMB"),
            ("source_topic", "ticks.v1"),
            ("source_partition", "3"),
            ("source_offset", "42"),
        ])
    );
}

#[test]
fn each_client_role_gets_its_settings() {
    let map = |c: &ClientConfig| -> Vec<(String, String)> {
        c.config_map()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    };
    let pairs = |p: &[(&str, &str)]| -> Vec<(String, String)> {
        let mut v: Vec<_> = p
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        v.sort();
        v
    };
    let defaults = properties(&[]);
    assert_eq!(
        map(&producer_config(&defaults)),
        pairs(&[
            ("acks", "all"),
            ("bootstrap.servers", "127.0.0.1:9092"),
            ("client.id", "tickflow-gather"),
            ("compression.type", "lz4"),
            ("enable.idempotence", "true"),
            ("linger.ms", "2"),
            ("partitioner", "murmur2_random"),
        ])
    );
    assert_eq!(
        map(&admin_config(&defaults)),
        pairs(&[
            ("bootstrap.servers", "127.0.0.1:9092"),
            ("client.id", "tickflow-gather"),
        ])
    );
    // [kafka] overrides the consumer's starting points, never its name, group or the
    // fixed settings (those are refused at load).
    let configured = properties(&[
        ("client.id", "mine"),
        ("fetch.wait.max.ms", "50"),
        ("security.protocol", "SSL"),
        ("acks", "-1"),
        ("debug", "consumer"),
    ]);
    let consumer = cache_consumer_config(&configured, "g");
    assert_eq!(
        map(&consumer),
        pairs(&[
            ("auto.commit.interval.ms", "1000"),
            ("auto.offset.reset", "earliest"),
            ("bootstrap.servers", "127.0.0.1:9092"),
            ("client.id", "tickflow-cache"),
            ("debug", "consumer"),
            ("enable.auto.commit", "true"),
            ("enable.auto.offset.store", "false"),
            ("fetch.queue.backoff.ms", "10"),
            ("fetch.wait.max.ms", "50"),
            ("group.id", "g"),
            ("security.protocol", "SSL"),
            ("statistics.interval.ms", "5000"),
        ])
    );
    assert!(matches!(consumer.log_level, RDKafkaLogLevel::Debug));
    assert_eq!(producer_config(&configured).get("acks"), Some("-1"));
    assert_eq!(producer_config(&configured).get("client.id"), Some("mine"));
    let reader = |c: &ClientConfig| {
        let mut m = map(c);
        m.retain(|(k, _)| k != "debug" && k != "security.protocol");
        m
    };
    let whole = |id: &str, group: &str| {
        pairs(&[
            ("bootstrap.servers", "127.0.0.1:9092"),
            ("client.id", id),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("enable.partition.eof", "true"),
            ("fetch.wait.max.ms", "100"),
            ("group.id", group),
        ])
    };
    assert_eq!(
        reader(&gather_reference_reader_config(&configured)),
        whole("tickflow-gather-reference", "tickflow-gather-reference")
    );
    assert_eq!(
        reader(&cache_reference_reader_config(
            &configured,
            "tickflow-cache"
        )),
        whole("tickflow-cache-reference", "tickflow-cache-reference")
    );
    assert_eq!(
        reader(&cache_status_reader_config(&configured, "tickflow-cache")),
        whole("tickflow-cache-status", "tickflow-cache-status")
    );
}
