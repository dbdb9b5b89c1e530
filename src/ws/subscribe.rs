//! What to send after connecting: the connector's instruments split across connections where
//! the venue caps streams (instrument × channel) per connection, each connection's subscribe
//! messages from the venue's builder ([`crate::exchange::profile::Profile::subscribe`]), and the
//! pacing that keeps them under its request rate. Nothing here knows a venue.

use crate::config::ConnectorConfig;
use crate::exchange::SymbolTable;
use crate::exchange::profile::{SubscribeError, SubscribeRequest};
use crate::model::Instrument;
use std::time::Duration;

/// One connection to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionPlan {
    /// Where to connect.
    pub url: String,
    /// Messages to send once connected, in order.
    pub messages: Vec<String>,
    /// Minimum time between two of those messages (the exchange's request rate).
    pub min_gap: Duration,
    /// Instruments this connection carries.
    pub instruments: Vec<Instrument>,
}

/// Why a plan cannot be made.
pub type PlanError = SubscribeError;

/// The connections and messages for `config`. `ticket` names the client to venues that ask
/// (one per process is enough; each connection appends its index).
pub fn plan(
    config: &ConnectorConfig,
    symbols: &SymbolTable,
    ticket: &str,
) -> Result<Vec<ConnectionPlan>, PlanError> {
    let channels: Vec<&'static str> = config.channels.iter().map(|c| c.name).collect();
    let per_connection = (config.limits.max_streams_per_connection / channels.len().max(1)).max(1);
    let min_gap = Duration::from_secs(1) / config.limits.subscribe_requests_per_sec.max(1);
    let mut plans = Vec::new();
    for (index, chunk) in config.instruments.chunks(per_connection).enumerate() {
        let ticket = format!("{ticket}-{index}");
        let request = SubscribeRequest {
            instruments: chunk,
            channels: &channels,
            ticket: &ticket,
            option: config.option.as_deref(),
            symbols,
        };
        plans.push(ConnectionPlan {
            url: config.url.clone(),
            messages: (config.profile.subscribe)(&request)?,
            min_gap,
            instruments: chunk.to_vec(),
        });
    }
    Ok(plans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_connector;

    fn config(text: &str) -> ConnectorConfig {
        load_connector("t.toml", text, &SymbolTable::bundled_binance().unwrap()).unwrap()
    }

    #[test]
    fn upbit_one_array_per_connection() {
        let c = config(
            "exchange=\"upbit\"\nurl=\"wss://x\"\nchannel=\"ticker\"\ninstruments=[\"BTC-KRW\",\"ETH-KRW\"]\n",
        );
        let p = plan(&c, &SymbolTable::default(), "tf").unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(
            p[0].messages,
            [
                r#"[{"ticket":"tf-0"},{"type":"ticker","codes":["KRW-BTC","KRW-ETH"]},{"format":"DEFAULT"}]"#
            ]
        );
        assert_eq!(p[0].min_gap, Duration::from_millis(200));
    }

    #[test]
    fn binance_splits_connections_and_messages() {
        let many: Vec<String> = ["BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT", "BNB-USDT"]
            .iter()
            .map(|s| format!("\"{s}\""))
            .collect();
        let c = config(&format!(
            "exchange=\"binance\"\nurl=\"wss://x/stream\"\nchannel=\"miniTicker\"\ninstruments=[{}]\n\
             [limits]\nmax_streams_per_connection=2\nsubscribe_requests_per_sec=4\n",
            many.join(",")
        ));
        let p = plan(&c, &SymbolTable::bundled_binance().unwrap(), "tf").unwrap();
        assert_eq!(p.len(), 3, "5 streams at 2 per connection");
        assert_eq!(
            p[0].messages,
            [
                r#"{"method":"SUBSCRIBE","params":["btcusdt@miniTicker","ethusdt@miniTicker"],"id":1}"#
            ]
        );
        assert_eq!(p[2].instruments, [Instrument::parse("BNB-USDT").unwrap()]);
        assert_eq!(p[0].min_gap, Duration::from_millis(250));
    }

    #[test]
    fn several_channels_share_the_connections() {
        let c = config(
            "exchange=\"upbit\"\nurl=\"wss://x\"\nchannels=[\"trade\",\"orderbook\"]\ninstruments=[\"BTC-KRW\"]\n",
        );
        let p = plan(&c, &SymbolTable::default(), "tf").unwrap();
        assert_eq!(
            p[0].messages,
            [
                r#"[{"ticket":"tf-0"},{"type":"trade","codes":["KRW-BTC"]},{"type":"orderbook","codes":["KRW-BTC"]},{"format":"DEFAULT"}]"#
            ]
        );
        // Binance: a stream per instrument and channel, the cap counting streams.
        let c = config(
            "exchange=\"binance\"\nurl=\"wss://x/stream\"\nchannels=[\"bookTicker\",\"trade\"]\n\
             instruments=[\"BTC-USDT\",\"ETH-USDT\",\"SOL-USDT\"]\n[limits]\nmax_streams_per_connection=4\n",
        );
        let p = plan(&c, &SymbolTable::bundled_binance().unwrap(), "tf").unwrap();
        assert_eq!(
            p.len(),
            2,
            "3 instruments x 2 channels at 4 streams per connection"
        );
        assert_eq!(
            p[0].messages,
            [
                r#"{"method":"SUBSCRIBE","params":["btcusdt@bookTicker","btcusdt@trade","ethusdt@bookTicker","ethusdt@trade"],"id":1}"#
            ]
        );
        // Bithumb legacy: one message per channel.
        let c = config(
            "exchange=\"bithumb\"\napi=\"legacy\"\nurl=\"wss://x\"\nchannels=[\"ticker\",\"transaction\"]\ninstruments=[\"BTC-KRW\"]\n",
        );
        let p = plan(&c, &SymbolTable::default(), "tf").unwrap();
        assert_eq!(
            p[0].messages,
            [
                r#"{"type":"ticker","symbols":["BTC_KRW"],"tickTypes":["24H"]}"#,
                r#"{"type":"transaction","symbols":["BTC_KRW"]}"#
            ]
        );
    }

    #[test]
    fn bithumb_legacy_uses_its_own_names_and_tick_type() {
        let c = config(
            "exchange=\"bithumb\"\napi=\"legacy\"\nurl=\"wss://x\"\nchannel=\"ticker\"\ntick_type=\"MID\"\ninstruments=[\"BTC-KRW\"]\n",
        );
        let p = plan(&c, &SymbolTable::default(), "tf").unwrap();
        assert_eq!(
            p[0].messages,
            [r#"{"type":"ticker","symbols":["BTC_KRW"],"tickTypes":["MID"]}"#]
        );
    }
}
