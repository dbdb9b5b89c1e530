//! `[topics]`: the Kafka topics tickflow writes and reads (their default names are the
//! contract's, [`crate::kafka::contract`]), and how missing ones are created.

use super::Problems;
use crate::kafka::contract::{
    DEFAULT_DLQ_TOPIC, DEFAULT_INSTRUMENTS_TOPIC, DEFAULT_STATUS_TOPIC, DEFAULT_TICKS_TOPIC,
};
use serde::{Deserialize, Serialize};

/// Create missing topics at start: yes.
pub const DEFAULT_CREATE: bool = true;
/// Partitions of created topics: 6.
pub const DEFAULT_PARTITIONS: i32 = 6;
/// Replication factor of created topics: 1 (use 3 in production).
pub const DEFAULT_REPLICATION_FACTOR: i32 = 1;

/// `[topics]` as written.
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TopicsFile {
    /// Canonical ticks (default [`DEFAULT_TICKS_TOPIC`]).
    ticks: Option<String>,
    /// Dead letters (default [`DEFAULT_DLQ_TOPIC`]).
    dlq: Option<String>,
    /// The instrument reference, compacted (default [`DEFAULT_INSTRUMENTS_TOPIC`]).
    instruments: Option<String>,
    /// Feed status records (default [`DEFAULT_STATUS_TOPIC`]).
    status: Option<String>,
    /// Create missing topics at start (default [`DEFAULT_CREATE`]).
    #[serde(default, deserialize_with = "crate::config::lenient::opt")]
    create: Option<bool>,
    /// Partitions of created topics (default [`DEFAULT_PARTITIONS`]).
    #[serde(default, deserialize_with = "crate::config::lenient::opt")]
    partitions: Option<i32>,
    /// Replication factor of created topics (default [`DEFAULT_REPLICATION_FACTOR`]; use 3 in
    /// production).
    #[serde(default, deserialize_with = "crate::config::lenient::opt")]
    replication_factor: Option<i32>,
}

/// Topic settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    /// Canonical ticks.
    pub ticks: String,
    /// Dead letters.
    pub dlq: String,
    /// The instrument reference (created compacted: `cleanup.policy=compact`).
    pub instruments: String,
    /// Feed status records.
    pub status: String,
    /// Create missing topics at start.
    pub create: bool,
    /// Partitions of created topics.
    pub partitions: i32,
    /// Replication factor of created topics.
    pub replication_factor: i32,
}

/// Kafka's longest topic name.
const MAX_TOPIC_NAME: usize = 249;

impl TopicsFile {
    /// The settings, defaults filled in; every problem goes to `p`.
    pub(super) fn validate(self, p: &mut Problems<'_>) -> Topics {
        let topics = Topics {
            ticks: self.ticks.unwrap_or_else(|| DEFAULT_TICKS_TOPIC.into()),
            dlq: self.dlq.unwrap_or_else(|| DEFAULT_DLQ_TOPIC.into()),
            instruments: self
                .instruments
                .unwrap_or_else(|| DEFAULT_INSTRUMENTS_TOPIC.into()),
            status: self.status.unwrap_or_else(|| DEFAULT_STATUS_TOPIC.into()),
            create: self.create.unwrap_or(DEFAULT_CREATE),
            partitions: self.partitions.unwrap_or(DEFAULT_PARTITIONS),
            replication_factor: self
                .replication_factor
                .unwrap_or(DEFAULT_REPLICATION_FACTOR),
        };
        for (field, name) in [
            ("topics.ticks", &topics.ticks),
            ("topics.dlq", &topics.dlq),
            ("topics.instruments", &topics.instruments),
            ("topics.status", &topics.status),
        ] {
            let ok = !name.is_empty()
                && name.len() <= MAX_TOPIC_NAME
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !ok {
                p.add(field, format!("`{name}` is not a valid Kafka topic name"));
            }
        }
        if topics.ticks == topics.dlq {
            p.add("topics.dlq", "must differ from topics.ticks");
        }
        if topics.instruments == topics.ticks || topics.instruments == topics.dlq {
            p.add(
                "topics.instruments",
                "must differ from topics.ticks and topics.dlq (it is compacted)",
            );
        }
        if [&topics.ticks, &topics.dlq, &topics.instruments].contains(&&topics.status) {
            p.add(
                "topics.status",
                "must differ from topics.ticks, topics.dlq and topics.instruments",
            );
        }
        if topics.partitions < 1 {
            p.add("topics.partitions", "must be at least 1");
        }
        if topics.replication_factor < 1 {
            p.add("topics.replication_factor", "must be at least 1");
        }
        topics
    }
}
