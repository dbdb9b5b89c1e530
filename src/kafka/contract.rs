//! The Kafka contract in one place, as [`crate::cache::contract`] is Redis's: the topics
//! tickflow writes and their default names, their keys, every header name, the one builder of
//! dead-letter headers, the settings the contract fixes on every client, and the one
//! librdkafka configuration of each client role. (The record values are in [`crate::codec`];
//! why a dead letter is one, its `stage` and `reason`, in [`super::dlq`].)
//!
//! | topic (`[topics]`) | key | value | headers |
//! |---|---|---|---|
//! | `ticks` ([`DEFAULT_TICKS_TOPIC`]) | `EXCHANGE:BASE-QUOTE` | canonical tick, Confluent-framed | [`SIMULATED_HEADER`] for synthetic feeds |
//! | `dlq` ([`DEFAULT_DLQ_TOPIC`]) | [`dead_letter_key`] for a frame; the source message's key for the cache's | the raw frame, or the consumed message | [`dead_letter_headers`] |
//! | `instruments` ([`DEFAULT_INSTRUMENTS_TOPIC`], compacted) | `EXCHANGE:BASE-QUOTE` | instrument reference record, Confluent-framed (subject `instruments.v1-value` under TopicNameStrategy) | [`SIMULATED_HEADER`] for synthetic feeds |
//! | `status` ([`DEFAULT_STATUS_TOPIC`]) | `EXCHANGE:connector` | feed status record, Confluent-framed (subject `feed.status.v1-value`) | [`SIMULATED_HEADER`] for synthetic feeds |
//!
//! **Keys.** `EXCHANGE:BASE-QUOTE` (`UPBIT:BTC-KRW`) is written by
//! [`Tick::write_key`](crate::model::Tick::write_key) for ticks and by
//! [`InstrumentRecord::key`](crate::codec::instrument::InstrumentRecord::key) for instrument
//! records: they live beside the records, below this layer, and a test here holds both to
//! the rule. A feed status record's key is `EXCHANGE:connector` (`BINANCE:binance`), written
//! by [`crate::codec::status::key`]: one connector's records keep their order. Every such key is partitioned with the Java-compatible `murmur2_random`
//! ([`PRODUCER_DEFAULTS`]), so each instrument's records stay in order on one partition. The
//! instruments topic is a table: its newest record per key is the instrument's state, which
//! compaction keeps.
//!
//! **Clients.** Every client starts from [`producer_properties`] (`[kafka]` over tickflow's
//! defaults); then each role keeps or sets what it needs: [`producer_config`] (gather's ticks and dead letters, its
//! instrument publisher, the cache's dead letters), [`admin_config`] (topic creation),
//! [`cache_consumer_config`] (the cache's consumer group), [`gather_reference_reader_config`]
//! and [`cache_reference_reader_config`] (the instruments topic read whole),
//! [`cache_status_reader_config`] (the feed status topic read whole).
//!
//! **A new topic** is one default name here, a row in the
//! table above, its key, its creation settings in [`creation_config`] when it needs any, and
//! its `[topics]` key in `config/app/topics.rs`.
//!
//! `config` reads this module to check `[kafka]` against [`PRODUCER_FIXED`] and
//! [`CACHE_CONSUMER_FIXED`], so it takes nothing from `config` (configured topic names and
//! groups arrive as arguments).

use super::dlq::{DeadLetter, MAX_ERROR_TEXT, cap_text, rfc3339_micros};
use crate::exchange::FrameType;
use crate::model::Exchange;
use rdkafka::ClientConfig;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::message::{Headers, Message};
use std::collections::BTreeMap;

// ---- Topics ----------------------------------------------------------------------------

/// Topic of canonical ticks (`[topics] ticks`): `ticks.v1`.
pub const DEFAULT_TICKS_TOPIC: &str = "ticks.v1";
/// Topic of dead letters (`[topics] dlq`): `ticks.dlq.v1`.
pub const DEFAULT_DLQ_TOPIC: &str = "ticks.dlq.v1";
/// Compacted topic of the instrument reference (`[topics] instruments`): `instruments.v1`.
pub const DEFAULT_INSTRUMENTS_TOPIC: &str = "instruments.v1";

/// Topic of feed status records (`[topics] status`): `feed.status.v1`. Not compacted: its
/// records are history (every gap is one), kept for the broker's retention.
pub const DEFAULT_STATUS_TOPIC: &str = "feed.status.v1";

/// Settings the instruments topic is created with: compacted, so the newest record of each
/// instrument stays for good (a consumer reads the whole reference from the beginning).
pub const INSTRUMENTS_TOPIC_CONFIG: [(&str, &str); 1] = [("cleanup.policy", "compact")];

/// The settings `topic` is created with, given the configured instruments topic (none beyond
/// the broker's defaults but for that one).
pub fn creation_config(
    instruments_topic: &str,
    topic: &str,
) -> &'static [(&'static str, &'static str)] {
    if topic == instruments_topic {
        &INSTRUMENTS_TOPIC_CONFIG
    } else {
        &[]
    }
}

// ---- Keys ------------------------------------------------------------------------------

/// The key of a frame's dead letter: its exchange (`UPBIT`), so one exchange's dead letters
/// stay in order. (The cache's dead letters keep the key of the message they are.)
pub fn dead_letter_key(exchange: Exchange) -> &'static [u8] {
    exchange.as_str().as_bytes()
}

// ---- Headers ---------------------------------------------------------------------------

/// Every header name tickflow writes (all values UTF-8).
pub mod header {
    /// Synthetic data (`tickflow simulate`): ticks, instrument records and frames' dead
    /// letters; value `true` ([`super::SIMULATED_HEADER`]).
    pub const SIMULATED: &str = "simulated";
    /// Dead letters: the exchange (`UPBIT`).
    pub const EXCHANGE: &str = "exchange";
    /// Frames' dead letters: the connector (`upbit`).
    pub const CONNECTOR: &str = "connector";
    /// Dead letters: the stage that refused it (`parse`, `normalize`, `validate`,
    /// `exchange`, `route`, `encode`; the cache's `decode` and `cache`).
    pub const STAGE: &str = "stage";
    /// Dead letters: the stable reason code (`malformed_json`, `unknown_schema_id`, ...).
    pub const REASON: &str = "reason";
    /// Dead letters: detail for humans.
    pub const ERROR: &str = "error";
    /// Dead letters: when it was received, RFC 3339 UTC with µs (`2026-11-22T01:02:03.456789Z`).
    pub const RECEIVED_AT: &str = "received_at";
    /// Frames' dead letters: `text` or `binary`.
    pub const FRAME_TYPE: &str = "frame_type";
    /// Dead letters of frames cut at `max_frame_bytes`: the whole frame's size in bytes.
    pub const ORIGINAL_SIZE: &str = "original_size";
    /// Dead letters of frames cut at `max_frame_bytes`: the whole frame's SHA-256, hex.
    pub const SHA256: &str = "sha256";
    /// The cache's dead letters: the topic of the message it is.
    pub const SOURCE_TOPIC: &str = "source_topic";
    /// The cache's dead letters: its partition.
    pub const SOURCE_PARTITION: &str = "source_partition";
    /// The cache's dead letters: its offset.
    pub const SOURCE_OFFSET: &str = "source_offset";
}

/// The header that marks synthetic data, with its value.
pub const SIMULATED_HEADER: (&str, &str) = (header::SIMULATED, "true");

/// The message carries [`SIMULATED_HEADER`] (synthetic data).
pub fn is_simulated(m: &impl Message) -> bool {
    let (key, value) = SIMULATED_HEADER;
    m.headers().is_some_and(|h| {
        h.iter()
            .any(|x| x.key == key && x.value == Some(value.as_bytes()))
    })
}

/// Where a dead letter came from: what its headers say besides why it is one.
#[derive(Debug, Clone, Copy)]
pub enum Origin<'a> {
    /// A frame gather could not turn into ticks (the value is the frame's bytes).
    Frame {
        /// Its exchange.
        exchange: Exchange,
        /// Its connector.
        connector: &'a str,
        /// Text or binary.
        frame_type: FrameType,
        /// From a simulated feed: marked with [`SIMULATED_HEADER`].
        simulated: bool,
        /// The whole frame's size and SHA-256 (hex) when it was cut at `max_frame_bytes`.
        cut: Option<(usize, &'a str)>,
    },
    /// A message the cache could not decode (the value is the message as consumed).
    Undecodable(Source<'a>),
    /// A tick Redis refused for its key alone (the value is its message as consumed).
    Refused(Exchange, Source<'a>),
}

/// The consumed message a cache dead letter is.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    /// Its topic.
    pub topic: &'a str,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
}

/// The headers of a dead letter, in a fixed order per origin (every producer of dead letters
/// builds them here):
///
/// - a frame: `exchange`, `connector`, `stage`, `reason`, `error` (capped at
///   [`MAX_ERROR_TEXT`] bytes: it must fit beside a frame of up to `max_frame_bytes`),
///   `received_at`, `frame_type`, then `simulated` for a simulated feed and `original_size`,
///   `sha256` for a cut frame;
/// - an undecodable message: `stage`, `reason`, `error` (the decoder's text, not capped),
///   `received_at`, `source_topic`, `source_partition`, `source_offset`;
/// - a refused tick: `stage`, `reason`, `error` (Redis's text, not capped), `received_at`,
///   `exchange`, `source_topic`, `source_partition`, `source_offset`.
///
/// `received_at` is `received_ts_us`: the frame's receive time, or when the cache made the
/// dead letter.
pub fn dead_letter_headers(
    why: &DeadLetter,
    origin: &Origin<'_>,
    received_ts_us: i64,
) -> Vec<(&'static str, String)> {
    let mut h = Vec::with_capacity(10);
    let why_and_when = |h: &mut Vec<(&'static str, String)>, error: String| {
        h.push((header::STAGE, why.stage.to_owned()));
        h.push((header::REASON, why.reason.to_owned()));
        h.push((header::ERROR, error));
        h.push((header::RECEIVED_AT, rfc3339_micros(received_ts_us)));
    };
    let source = |h: &mut Vec<(&'static str, String)>, s: &Source<'_>| {
        h.push((header::SOURCE_TOPIC, s.topic.to_owned()));
        h.push((header::SOURCE_PARTITION, s.partition.to_string()));
        h.push((header::SOURCE_OFFSET, s.offset.to_string()));
    };
    match origin {
        Origin::Frame {
            exchange,
            connector,
            frame_type,
            simulated,
            cut,
        } => {
            h.push((header::EXCHANGE, exchange.as_str().to_owned()));
            h.push((header::CONNECTOR, (*connector).to_owned()));
            why_and_when(&mut h, cap_text(&why.error, MAX_ERROR_TEXT));
            let frame_type = match frame_type {
                FrameType::Text => "text",
                FrameType::Binary => "binary",
            };
            h.push((header::FRAME_TYPE, frame_type.to_owned()));
            if *simulated {
                h.push((SIMULATED_HEADER.0, SIMULATED_HEADER.1.to_owned()));
            }
            if let Some((size, sha256)) = cut {
                h.push((header::ORIGINAL_SIZE, size.to_string()));
                h.push((header::SHA256, (*sha256).to_owned()));
            }
        }
        Origin::Undecodable(s) => {
            why_and_when(&mut h, why.error.clone());
            source(&mut h, s);
        }
        Origin::Refused(exchange, s) => {
            why_and_when(&mut h, why.error.clone());
            h.push((header::EXCHANGE, exchange.as_str().to_owned()));
            source(&mut h, s);
        }
    }
    h
}

// ---- Client settings -------------------------------------------------------------------

/// What the contract fixes on every producer: (property, value, other spellings `[kafka]` may
/// use). The producer is idempotent with `acks=all`; `[kafka]` may not weaken either.
pub const PRODUCER_FIXED: [(&str, &str, &[&str]); 2] = [
    ("enable.idempotence", "true", &[]),
    ("acks", "all", &["-1"]),
];

/// `client.id` of gather's clients and the cache's dead-letter producer, unless `[kafka]`
/// names one.
pub const DEFAULT_CLIENT_ID: &str = "tickflow-gather";

/// tickflow's client defaults, which `[kafka]` may override (the producer-only ones reach
/// only producers).
pub const PRODUCER_DEFAULTS: [(&str, &str); 5] = [
    ("compression.type", "lz4"),
    // librdkafka's default is 5, most of gather's receive -> ack p50 (6 ms). 2 halves that and
    // held gather's ceiling (150,000-180,000 ticks/s, five rounds each, p99 no worse); 1 made
    // p99 collapse there in some runs (BENCHMARKS.md, issue 21).
    ("linger.ms", "2"),
    // Java-compatible key hashing, so every client partitions keys alike.
    ("partitioner", "murmur2_random"),
    ("client.id", DEFAULT_CLIENT_ID),
    ("bootstrap.servers", "127.0.0.1:9092"),
];

/// [`PRODUCER_FIXED`] and [`PRODUCER_DEFAULTS`] overlaid with the configured `[kafka]`
/// properties: what every client starts from.
pub fn producer_properties(configured: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let fixed = PRODUCER_FIXED.iter().map(|(k, v, _)| (*k, *v));
    let mut all: BTreeMap<String, String> = fixed
        .chain(PRODUCER_DEFAULTS)
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    all.extend(configured.iter().map(|(k, v)| (k.clone(), v.clone())));
    all
}

/// Properties only a producer understands (left out of admin and consumer clients).
pub fn is_producer_only(key: &str) -> bool {
    matches!(
        key,
        "enable.idempotence"
            | "acks"
            | "request.required.acks"
            | "compression.type"
            | "compression.codec"
            | "linger.ms"
            | "queue.buffering.max.ms"
            | "queue.buffering.max.messages"
            | "queue.buffering.max.kbytes"
            | "batch.num.messages"
            | "batch.size"
            | "partitioner"
            | "message.timeout.ms"
            | "delivery.timeout.ms"
            | "retries"
            | "message.send.max.retries"
            | "retry.backoff.ms"
            | "max.in.flight.requests.per.connection"
            | "max.in.flight"
    )
}

/// `client.id` of the cache's consumer, whatever `[kafka]` says.
pub const CACHE_CLIENT_ID: &str = "tickflow-cache";

/// Where the cache's consumer starts, before `[kafka]` (which may override them).
pub const CACHE_CONSUMER_DEFAULTS: [(&str, &str); 3] = [
    // How long a broker may park a fetch that found no data. Apache Kafka answers it as soon
    // as data arrives, so there this bounds only an idle consumer's requests (at most 500
    // fetches/s per broker); brokers that do not (tansu 0.6.0 holds every fetch this long,
    // librdkafka's mock cluster an empty one) add up to this to every price (BENCHMARKS.md).
    ("fetch.wait.max.ms", "2"),
    // librdkafka stops fetching for fetch.queue.backoff.ms (default 1 s) whenever its local
    // queue is above queued.min.messages, which a catching-up consumer hits all the time: the
    // 1 s pauses cut consumption to a third here (librdkafka #2879).
    ("fetch.queue.backoff.ms", "10"),
    // Consumer lag per partition for /metrics comes from librdkafka's statistics.
    ("statistics.interval.ms", "5000"),
];

/// Properties the cache's consumer sets after `[kafka]`: (key, value, why). `[kafka]` may not
/// set them: its value would be replaced without a word.
pub const CACHE_CONSUMER_FIXED: [(&str, &str, &str); 4] = [
    (
        "enable.auto.commit",
        "true",
        "it commits the offsets it stored, and only those",
    ),
    (
        "auto.commit.interval.ms",
        "1000",
        "it commits what it stored every second",
    ),
    (
        "enable.auto.offset.store",
        "false",
        "it stores an offset only after Redis acknowledged the batch (at least once)",
    ),
    (
        "auto.offset.reset",
        "earliest",
        "a group without committed offsets reads the topic from its start, so every instrument gets a price",
    ),
];

/// What a reader of a whole topic sets after `[kafka]`: it reads by assignment from the
/// beginning, commits nothing, and learns where each partition ends.
const WHOLE_TOPIC_READER: [(&str, &str); 4] = [
    ("enable.auto.commit", "false"),
    ("enable.auto.offset.store", "false"),
    ("enable.partition.eof", "true"),
    ("fetch.wait.max.ms", "100"),
];

/// `client.id` and `group.id` of gather's reader of the instruments topic.
pub const GATHER_REFERENCE_READER_ID: &str = "tickflow-gather-reference";
/// `client.id` of the cache's reader of the instruments topic.
pub const CACHE_REFERENCE_READER_ID: &str = "tickflow-cache-reference";
/// `client.id` of the cache's reader of the feed status topic.
pub const CACHE_STATUS_READER_ID: &str = "tickflow-cache-status";

/// Adds the connection settings of `properties` (see [`producer_properties`]) to `config`:
/// all but the producer-only ones, and but `client.id` when `but_client_id`.
fn connection_settings(
    config: &mut ClientConfig,
    properties: &BTreeMap<String, String>,
    but_client_id: bool,
) {
    for (k, v) in properties {
        let left_out = is_producer_only(k) || (but_client_id && k == "client.id");
        if !left_out {
            config.set(k, v);
        }
    }
}

/// librdkafka's own log at debug level when `[kafka] debug` is set (e.g.
/// `TICKFLOW_KAFKA__DEBUG=broker,eos,msg`).
fn debug_log(config: &mut ClientConfig, properties: &BTreeMap<String, String>) {
    if properties.contains_key("debug") {
        config.set_log_level(RDKafkaLogLevel::Debug);
    }
}

/// Every producer (gather's ticks and dead letters, its instrument publisher, the cache's dead
/// letters): all of `properties` ([`producer_properties`]).
pub fn producer_config(properties: &BTreeMap<String, String>) -> ClientConfig {
    let mut config = ClientConfig::new();
    for (k, v) in properties {
        config.set(k, v);
    }
    debug_log(&mut config, properties);
    config
}

/// The admin client that creates topics: the connection settings of `properties`
/// ([`producer_properties`]), not the producer-only ones (the admin client complains of them).
pub fn admin_config(properties: &BTreeMap<String, String>) -> ClientConfig {
    let mut config = ClientConfig::new();
    connection_settings(&mut config, properties, false);
    config
}

/// The cache's consumer in group `group_id`: [`CACHE_CONSUMER_DEFAULTS`], then the connection
/// settings of `properties` ([`producer_properties`]) but `client.id`, then
/// [`CACHE_CLIENT_ID`], the group and [`CACHE_CONSUMER_FIXED`] (offsets stored by tickflow
/// after Redis acknowledged the batch, never before).
pub fn cache_consumer_config(
    properties: &BTreeMap<String, String>,
    group_id: &str,
) -> ClientConfig {
    let mut config = ClientConfig::new();
    for (k, v) in CACHE_CONSUMER_DEFAULTS {
        config.set(k, v);
    }
    connection_settings(&mut config, properties, true);
    config
        .set("client.id", CACHE_CLIENT_ID)
        .set("group.id", group_id);
    for (k, v, _) in CACHE_CONSUMER_FIXED {
        config.set(k, v);
    }
    debug_log(&mut config, properties);
    config
}

/// A consumer reading a whole topic by assignment (never subscribes, commits nothing;
/// `group_id` is only librdkafka's requirement).
fn whole_topic_reader(
    properties: &BTreeMap<String, String>,
    client_id: &str,
    group_id: &str,
) -> ClientConfig {
    let mut config = ClientConfig::new();
    connection_settings(&mut config, properties, true);
    config.set("client.id", client_id).set("group.id", group_id);
    for (k, v) in WHOLE_TOPIC_READER {
        config.set(k, v);
    }
    config
}

/// Gather's reader of the instruments topic (what an earlier run left live): a whole-topic
/// reader named [`GATHER_REFERENCE_READER_ID`].
pub fn gather_reference_reader_config(properties: &BTreeMap<String, String>) -> ClientConfig {
    whole_topic_reader(
        properties,
        GATHER_REFERENCE_READER_ID,
        GATHER_REFERENCE_READER_ID,
    )
}

/// The cache's reader of the instruments topic: a whole-topic reader named
/// [`CACHE_REFERENCE_READER_ID`], in group `<[cache] group_id>-reference`.
pub fn cache_reference_reader_config(
    properties: &BTreeMap<String, String>,
    cache_group_id: &str,
) -> ClientConfig {
    whole_topic_reader(
        properties,
        CACHE_REFERENCE_READER_ID,
        &format!("{cache_group_id}-reference"),
    )
}

/// The cache's reader of the feed status topic: a whole-topic reader named
/// [`CACHE_STATUS_READER_ID`], in group `<[cache] group_id>-status`.
pub fn cache_status_reader_config(
    properties: &BTreeMap<String, String>,
    cache_group_id: &str,
) -> ClientConfig {
    whole_topic_reader(
        properties,
        CACHE_STATUS_READER_ID,
        &format!("{cache_group_id}-status"),
    )
}

#[cfg(test)]
mod tests;
