//! What to send after connecting, per protocol: the subscribe messages for a connector's
//! instruments, split across connections where an exchange caps streams per connection, and
//! paced to stay under its request rate.
//!
//! - Upbit / Bithumb v1: one `[{ticket},{type,codes},{format}]` array per connection; a new
//!   request replaces the subscription, so everything goes in one message.
//! - Binance: `{"method":"SUBSCRIBE","params":[...],"id":N}` messages of at most
//!   [`BINANCE_PARAMS_PER_MESSAGE`] streams, at most 1024 streams per connection.
//! - Bithumb legacy: `{"type":"ticker","symbols":[...],"tickTypes":[...]}`.

use crate::config::{Api, Channel, ConnectorConfig};
use crate::exchange::SymbolTable;
use crate::model::Instrument;
use std::time::Duration;

/// Streams per Binance SUBSCRIBE message (keeps each request small).
pub const BINANCE_PARAMS_PER_MESSAGE: usize = 200;

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
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A Binance instrument has no symbol in the table (the config loader checks this too).
    #[error("instrument {0} has no binance symbol")]
    NoSymbol(Instrument),
}

fn json_list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = items.map(|s| format!("\"{s}\"")).collect();
    format!("[{}]", quoted.join(","))
}

/// The connections and messages for `config`. `ticket` names the client to Upbit and Bithumb
/// (one per process is enough; each connection appends its index).
pub fn plan(
    config: &ConnectorConfig,
    symbols: &SymbolTable,
    ticket: &str,
) -> Result<Vec<ConnectionPlan>, PlanError> {
    let per_connection = config.limits.max_streams_per_connection.max(1);
    let min_gap = Duration::from_secs(1) / config.limits.subscribe_requests_per_sec.max(1);
    let mut plans = Vec::new();
    for (index, chunk) in config.instruments.chunks(per_connection).enumerate() {
        let messages = match config.api {
            Api::UpbitV1 => {
                let kind = if config.channel == Channel::Trade {
                    "trade"
                } else {
                    "ticker"
                };
                let codes: Vec<String> = chunk
                    .iter()
                    .map(crate::exchange::upbit::market_code)
                    .collect();
                vec![format!(
                    "[{{\"ticket\":\"{ticket}-{index}\"}},{{\"type\":\"{kind}\",\"codes\":{}}},\
                     {{\"format\":\"DEFAULT\"}}]",
                    json_list(codes.iter().map(String::as_str))
                )]
            }
            Api::BinanceSpot => {
                let suffix = if config.channel == Channel::MiniTicker {
                    "miniTicker"
                } else {
                    "ticker"
                };
                let streams = chunk
                    .iter()
                    .map(|i| {
                        let symbol = symbols
                            .symbol_of(i)
                            .ok_or_else(|| PlanError::NoSymbol(i.clone()))?;
                        Ok(format!("{}@{suffix}", symbol.to_ascii_lowercase()))
                    })
                    .collect::<Result<Vec<_>, PlanError>>()?;
                streams
                    .chunks(BINANCE_PARAMS_PER_MESSAGE)
                    .enumerate()
                    .map(|(n, params)| {
                        format!(
                            "{{\"method\":\"SUBSCRIBE\",\"params\":{},\"id\":{}}}",
                            json_list(params.iter().map(String::as_str)),
                            n + 1
                        )
                    })
                    .collect()
            }
            Api::BithumbLegacy => {
                let names: Vec<String> = chunk
                    .iter()
                    .map(crate::exchange::bithumb::legacy_symbol)
                    .collect();
                let tick_type = config.tick_type.as_deref().unwrap_or("24H");
                vec![format!(
                    "{{\"type\":\"ticker\",\"symbols\":{},\"tickTypes\":[\"{tick_type}\"]}}",
                    json_list(names.iter().map(String::as_str))
                )]
            }
        };
        plans.push(ConnectionPlan {
            url: config.url.clone(),
            messages,
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
