//! What to send after connecting: the connector's instruments split across connections where
//! the venue caps streams (instrument × channel) per connection, each connection's subscribe
//! messages from the venue's builder ([`crate::exchange::profile::Profile::subscribe`]), and the
//! pacing that keeps them under its request rate. Nothing here knows a venue.

use crate::config::ConnectorConfig;
use crate::exchange::profile::{Resubscribe, SubscribeError, SubscribeFn, SubscribeRequest};
use crate::exchange::reference::Reference;
use crate::model::Instrument;
use std::collections::HashSet;
use std::time::Duration;

/// One connection to open, as first planned (the initial messages of [`plan`]).
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

/// What one running connection should carry; a new value on its watch channel changes the
/// subscription in place ([`change_requests`]).
#[derive(Debug, Clone)]
pub struct Wanted {
    /// Instruments, each on every channel of the connector.
    pub instruments: Vec<Instrument>,
    /// The venue's reference data their symbols come from (live when listings are).
    pub reference: Reference,
}

/// How many instruments one connection of `config` carries: the venue's (or the file's)
/// stream cap over the number of channels.
pub fn instruments_per_connection(config: &ConnectorConfig) -> usize {
    (config.limits.max_streams_per_connection / config.channels.len().max(1)).max(1)
}

/// The minimum time between two subscribe requests on one connection.
pub fn min_gap(config: &ConnectorConfig) -> Duration {
    Duration::from_secs(1) / config.limits.subscribe_requests_per_sec.max(1)
}

fn request(
    config: &ConnectorConfig,
    instruments: &[Instrument],
    reference: &Reference,
    ticket: &str,
    first_id: u64,
    build: SubscribeFn,
) -> Result<Vec<String>, PlanError> {
    let channels: Vec<&'static str> = config.channels.iter().map(|c| c.name).collect();
    build(&SubscribeRequest {
        instruments,
        channels: &channels,
        ticket,
        options: &config.options,
        reference,
        first_id,
    })
}

/// The messages that subscribe a fresh connection to `instruments`; request ids (where the
/// venue echoes them) start at `first_id`.
pub fn requests(
    config: &ConnectorConfig,
    instruments: &[Instrument],
    reference: &Reference,
    ticket: &str,
    first_id: u64,
) -> Result<Vec<String>, PlanError> {
    request(
        config,
        instruments,
        reference,
        ticket,
        first_id,
        config.profile.subscribe,
    )
}

/// How a running connection moves from one set of instruments to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Nothing to send: the sets are equal.
    None,
    /// Send these, paced, in order.
    Send(Vec<String>),
    /// The venue cannot change a running subscription: renew the connection.
    Renew,
}

/// The requests that take a running connection from `old` (subscribed with its symbol
/// table) to `new` (with the newer table) under its venue's [`Resubscribe`] rule; `new` is
/// never empty (a connection left with nothing is retired). Removals go first, so a full
/// connection never asks for more than the venue's stream cap.
pub fn change_requests(
    config: &ConnectorConfig,
    (old, old_reference): (&[Instrument], &Reference),
    (new, reference): (&[Instrument], &Reference),
    ticket: &str,
    first_id: u64,
) -> Result<Change, PlanError> {
    let kept: HashSet<&Instrument> = old.iter().collect();
    let wanted: HashSet<&Instrument> = new.iter().collect();
    let added: Vec<Instrument> = new.iter().filter(|i| !kept.contains(i)).cloned().collect();
    let removed: Vec<Instrument> = old
        .iter()
        .filter(|i| !wanted.contains(i))
        .cloned()
        .collect();
    if added.is_empty() && removed.is_empty() {
        return Ok(Change::None);
    }
    match config.profile.resubscribe {
        Resubscribe::Replace => {
            requests(config, new, reference, ticket, first_id).map(Change::Send)
        }
        Resubscribe::Reconnect => Ok(Change::Renew),
        Resubscribe::Incremental(unsubscribe) => {
            let mut out = Vec::new();
            if !removed.is_empty() {
                out = request(
                    config,
                    &removed,
                    old_reference,
                    ticket,
                    first_id,
                    unsubscribe,
                )?;
            }
            if !added.is_empty() {
                let next = first_id + out.len() as u64;
                out.extend(requests(config, &added, reference, ticket, next)?);
            }
            Ok(Change::Send(out))
        }
    }
}

/// The connections and messages for `config`'s listed instruments. `ticket` names the client
/// to venues that ask (one per process is enough; each connection appends its index).
pub fn plan(
    config: &ConnectorConfig,
    reference: &Reference,
    ticket: &str,
) -> Result<Vec<ConnectionPlan>, PlanError> {
    let mut plans = Vec::new();
    for (index, chunk) in config
        .instruments
        .chunks(instruments_per_connection(config))
        .enumerate()
    {
        plans.push(ConnectionPlan {
            url: config.url.clone(),
            messages: requests(config, chunk, reference, &format!("{ticket}-{index}"), 1)?,
            min_gap: min_gap(config),
            instruments: chunk.to_vec(),
        });
    }
    Ok(plans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_connector;
    use crate::exchange::reference::References;
    use crate::model::Exchange;

    /// Binance's shipped symbol table, as generic code carries it.
    fn binance() -> Reference {
        References::bundled()
            .unwrap()
            .get(Exchange::Binance)
            .clone()
    }

    fn config(text: &str) -> ConnectorConfig {
        load_connector("t.toml", text, &References::bundled().unwrap()).unwrap()
    }

    #[test]
    fn upbit_one_array_per_connection() {
        let c = config(
            "exchange=\"upbit\"\nurl=\"wss://x\"\nchannel=\"ticker\"\ninstruments=[\"BTC-KRW\",\"ETH-KRW\"]\n",
        );
        let p = plan(&c, &Reference::default(), "tf").unwrap();
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
        let p = plan(&c, &binance(), "tf").unwrap();
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
        let p = plan(&c, &Reference::default(), "tf").unwrap();
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
        let p = plan(&c, &binance(), "tf").unwrap();
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
        let p = plan(&c, &Reference::default(), "tf").unwrap();
        assert_eq!(
            p[0].messages,
            [
                r#"{"type":"ticker","symbols":["BTC_KRW"],"tickTypes":["24H"]}"#,
                r#"{"type":"transaction","symbols":["BTC_KRW"]}"#
            ]
        );
    }

    #[test]
    fn binance_changes_unsubscribe_first_by_the_old_names() {
        let c = config(
            "exchange=\"binance\"\nurl=\"wss://x/stream\"\nchannel=\"trade\"\ninstruments=[\"BTC-USDT\"]\n",
        );
        let old_table = binance();
        // ETH-USDT is gone from the newer table altogether: unsubscribed by its old name.
        let mut newer = References::default();
        newer
            .load(
                Exchange::Binance,
                "t.csv",
                "BTCUSDT,BTC,USDT,TRADING\nSOLUSDT,SOL,USDT,TRADING\n",
            )
            .unwrap();
        let new_table = newer.get(Exchange::Binance).clone();
        let ins = |s: &[&str]| -> Vec<Instrument> {
            s.iter().map(|i| Instrument::parse(i).unwrap()).collect()
        };
        let change = change_requests(
            &c,
            (&ins(&["BTC-USDT", "ETH-USDT"]), &old_table),
            (&ins(&["BTC-USDT", "SOL-USDT"]), &new_table),
            "tf",
            7,
        )
        .unwrap();
        assert_eq!(
            change,
            Change::Send(vec![
                r#"{"method":"UNSUBSCRIBE","params":["ethusdt@trade"],"id":7}"#.into(),
                r#"{"method":"SUBSCRIBE","params":["solusdt@trade"],"id":8}"#.into(),
            ])
        );
    }

    #[test]
    fn bithumb_legacy_uses_its_own_names_and_tick_type() {
        let c = config(
            "exchange=\"bithumb\"\napi=\"legacy\"\nurl=\"wss://x\"\nchannel=\"ticker\"\ninstruments=[\"BTC-KRW\"]\n[options]\ntick_type=\"MID\"\n",
        );
        let p = plan(&c, &Reference::default(), "tf").unwrap();
        assert_eq!(
            p[0].messages,
            [r#"{"type":"ticker","symbols":["BTC_KRW"],"tickTypes":["MID"]}"#]
        );
    }
}
