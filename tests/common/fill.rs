//! Filling `ticks.v1` directly with canonical ticks (tests and benches that start the cache on
//! a known topic, without a gatherer).

use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use std::time::Duration;
use tickflow::codec::Encoder;
use tickflow::config::AppConfig;
use tickflow::model::{EventKind, Exchange, Instrument, Tick};

/// Creates the topics of `app` (as `tickflow gather` does at start).
pub async fn create_topics(app: &AppConfig) {
    tickflow::kafka::ensure_topics(
        &tickflow::kafka::producer_properties(&app.kafka),
        &[&app.topics.ticks, &app.topics.dlq],
        app.topics.partitions,
        1,
    )
    .await
    .unwrap();
}

/// The `i`-th tick of a fill over `instruments` Binance instruments `C{n}-USDT`: event and
/// receive time grow with `i`, so the last tick of each instrument is its newest.
pub fn tick(i: u64, instruments: u64) -> Tick {
    let base = format!("C{}", i % instruments);
    let mut t = Tick::new(
        Exchange::Binance,
        Instrument::new(&base, "USDT").unwrap(),
        &format!("{base}USDT"),
        EventKind::Ticker,
        (1000 + i % 97).into(),
        1_700_000_000_000_000 + i as i64,
    );
    t.event_ts_us = Some(t.received_ts_us);
    t
}

/// Produces the ticks `range` ([`tick`]) to `app`'s ticks topic in `app`'s format (`[output]
/// format`), keyed like the gatherer's, in record batches of up to `per_batch` messages.
///
/// tansu 0.6.0 answers a fetch that starts inside a record batch with nothing (Kafka returns
/// the batch and the client skips to the offset), so a consumer that resumes mid-batch (after
/// a pause, or from a commit) stalls there. Tests that resume at arbitrary offsets fill with
/// `per_batch` 1.
pub fn fill(app: &AppConfig, range: std::ops::Range<u64>, instruments: u64, per_batch: u32) {
    let producer: ThreadedProducer<DefaultProducerContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &app.kafka["bootstrap.servers"])
        .set("linger.ms", "20")
        .set("batch.num.messages", per_batch.to_string())
        .set("compression.type", "lz4")
        .set("partitioner", "murmur2_random")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .unwrap();
    let encoder = Encoder {
        format: app.format,
        schema_id: 1,
    };
    let mut value = Vec::new();
    for i in range {
        let t = tick(i, instruments);
        value.clear();
        encoder.encode(&t, &mut value).unwrap();
        let key = t.key();
        let mut record = BaseRecord::to(&app.topics.ticks).key(&key).payload(&value);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, r)) => {
                    record = r;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(120)).unwrap();
}
