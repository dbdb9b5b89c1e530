//! Kafka's side of the contract, in one place: the topics tickflow writes, their keys, and
//! how they are created. (The tick and dead-letter records themselves are in
//! [`crate::codec`] and [`super::dlq`].)
//!
//! | topic (`[topics]`) | key | value |
//! |---|---|---|
//! | `ticks` (`ticks.v1`) | `EXCHANGE:BASE-QUOTE` | canonical tick, Confluent-framed |
//! | `dlq` (`ticks.dlq.v1`) | `EXCHANGE` (or the source message's key) | the raw frame, reason headers |
//! | `instruments` (`instruments.v1`, compacted) | `EXCHANGE:BASE-QUOTE` | instrument reference record, Confluent-framed (subject `instruments.v1-value` under TopicNameStrategy) |
//!
//! Every key `EXCHANGE:BASE-QUOTE` is partitioned with the Java-compatible `murmur2_random`,
//! so each instrument's records stay in order on one partition. The instruments topic is a
//! table: its newest record per key is the instrument's state, which compaction keeps.

use crate::config::AppConfig;
use crate::model::{Exchange, Instrument};

/// Settings the instruments topic is created with: compacted, so the newest record of each
/// instrument stays for good (a consumer reads the whole reference from the beginning).
pub const INSTRUMENTS_TOPIC_CONFIG: [(&str, &str); 1] = [("cleanup.policy", "compact")];

/// `EXCHANGE:BASE-QUOTE` (`UPBIT:BTC-KRW`): the key of ticks and instrument records alike.
pub fn instrument_key(exchange: Exchange, instrument: &Instrument) -> String {
    format!("{}:{}", exchange.as_str(), instrument.as_str())
}

/// The settings `topic` is created with (none beyond the broker's defaults but for the
/// instruments topic).
pub fn creation_config<'a>(app: &AppConfig, topic: &str) -> &'a [(&'a str, &'a str)] {
    if topic == app.topics.instruments {
        &INSTRUMENTS_TOPIC_CONFIG
    } else {
        &[]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_creation_follow_the_contract() {
        let i = Instrument::parse("BTC-KRW").unwrap();
        assert_eq!(instrument_key(Exchange::Upbit, &i), "UPBIT:BTC-KRW");
        let app = crate::config::load_app_config(
            std::path::Path::new("no-such-tickflow.toml"),
            true,
            Vec::<(String, String)>::new(),
        )
        .unwrap();
        assert_eq!(
            creation_config(&app, "instruments.v1"),
            [("cleanup.policy", "compact")]
        );
        assert!(creation_config(&app, "ticks.v1").is_empty());
    }
}
