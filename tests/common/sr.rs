//! How the registry tests use a registry: per-test topics (unique on a real registry), the
//! app config pointed at it, a client, and messages as tickflow v1 and v2 wrote them.

use super::registry::Registry;
use super::run::app_with;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use std::time::Duration;
use tickflow::codec::{avro, confluent};
use tickflow::config::AppConfig;
use tickflow::model::{EventKind, Exchange, Instrument, MarketState, StreamType, Tick};
use tickflow::registry::Registry as Client;

pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// `ticks.v1` on the stub (a fresh registry per test); a unique topic on a real registry, so
/// that tests do not share subjects.
pub fn topic(reg: &Registry, test: &str) -> String {
    if reg.stub {
        "ticks.v1".into()
    } else {
        format!("ticks.v1.{test}.{}", std::process::id())
    }
}

pub fn app(bootstrap: &str, reg_url: &str, topic: &str, extra: &[(&str, &str)]) -> AppConfig {
    let mut env = vec![
        ("TICKFLOW_SCHEMA_REGISTRY__URL", reg_url),
        ("TICKFLOW_TOPICS__TICKS", topic),
        ("TICKFLOW_SCHEMA_REGISTRY__TIMEOUT_MS", "3000"),
    ];
    env.extend_from_slice(extra);
    app_with(bootstrap, &env)
}

pub fn client(app: &AppConfig) -> Client {
    Client::new(app.schema_registry.as_ref().unwrap()).unwrap()
}

/// A plain HTTP client (reqwest is built without a default TLS provider).
pub fn http() -> reqwest::Client {
    let tls = (*tickflow::ws::tls::client_config().unwrap()).clone();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .unwrap()
}

pub fn v1_avsc() -> String {
    std::fs::read_to_string(format!("{ROOT}/schemas/avro/tick.v1.avsc")).unwrap()
}

/// A tick of instrument `n`, with the fields v2 added set.
pub fn v2_tick(n: u64, price: u64) -> Tick {
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

/// A released schema's text, `schemas/avro/tick.v{version}.avsc`.
pub fn avsc(version: u32) -> String {
    std::fs::read_to_string(format!("{ROOT}/schemas/avro/tick.v{version}.avsc")).unwrap()
}

/// What tickflow v1 wrote: the v1 schema's record, through apache-avro, framed with `id`.
pub fn v1_message(tick: &Tick, id: u32) -> Vec<u8> {
    older_message(tick, id, 1)
}

/// What a tickflow writing schema `version` (1, 2 or 3) wrote, through apache-avro.
pub fn older_message(tick: &Tick, id: u32, version: u32) -> Vec<u8> {
    let schema = apache_avro::Schema::parse_str(&avsc(version)).unwrap();
    let apache_avro::types::Value::Record(mut fields) = avro::to_value(tick).unwrap() else {
        panic!()
    };
    let mut later = vec!["first_after_connect", "snapshot", "sequence_gap"];
    if version < 3 {
        later.push("trade_side");
    }
    if version < 2 {
        later.extend(["stream_type", "market_state", "delisting_date"]);
    }
    fields.retain(|(n, _)| !later.contains(&n.as_str()));
    #[allow(deprecated)]
    let body =
        apache_avro::to_avro_datum(&schema, apache_avro::types::Value::Record(fields)).unwrap();
    let mut out = Vec::new();
    confluent::write_header(&mut out, id);
    out.extend_from_slice(&body);
    out
}

pub fn produce(bootstrap: &str, topic: &str, messages: &[(String, Vec<u8>)]) {
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
