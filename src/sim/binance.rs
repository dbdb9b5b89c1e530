//! Binance spot at `/binance/ws` and `/binance/stream`: streams named in the URL
//! (`?streams=btcusdt@ticker/ethbtc@trade`) or subscribed with `{"method":"SUBSCRIBE"}`
//! (acked), combined-stream envelopes, server pings, strings with 8 decimals as Binance writes
//! them. Channels: ticker, miniTicker, bookTicker (no event time), trade, aggTrade.

use super::market::Quote;
use super::{Feed, Protocol, SimConfig};
use crate::exchange::SymbolTable;
use crate::model::Instrument;
use rust_decimal::Decimal;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

pub(super) fn route(path: &str, query: &str) -> Option<Box<dyn Protocol>> {
    if !matches!(path, "/binance/ws" | "/binance/stream") {
        return None;
    }
    let streams = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("streams="))
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    Some(Box::new(Binance {
        url_streams: streams,
    }))
}

struct Binance {
    url_streams: Option<String>,
}

impl Protocol for Binance {
    fn error_frame(&self) -> &'static str {
        "{\"code\":-1,\"msg\":\"simulated fault\"}"
    }

    fn server_ping(&self, config: &SimConfig) -> Option<Duration> {
        Some(config.binance_ping)
    }

    fn url_feed(&mut self, config: &SimConfig) -> Option<Feed> {
        let streams = self.url_streams.take()?;
        Some(feed(
            &config.binance_symbols,
            streams.split('/').map(str::to_owned).collect(),
        ))
    }

    fn on_text(&mut self, text: &str, config: &SimConfig) -> (Vec<Message>, Option<Feed>) {
        let request: serde_json::Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(_) => {
                return (
                    vec![Message::text("{\"code\":2,\"msg\":\"Invalid JSON\"}")],
                    None,
                );
            }
        };
        let id = request
            .get("id")
            .cloned()
            .unwrap_or(serde_json::Value::Null);
        let streams: Option<Vec<String>> =
            request.get("params").and_then(|p| p.as_array()).map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            });
        match (request.get("method").and_then(|m| m.as_str()), streams) {
            (Some("SUBSCRIBE"), Some(streams)) => {
                let ack = serde_json::json!({"result": null, "id": id});
                (
                    vec![Message::text(ack.to_string())],
                    Some(feed(&config.binance_symbols, streams)),
                )
            }
            _ => {
                let err = serde_json::json!({"code": 2, "msg": "Invalid request", "id": id});
                (vec![Message::text(err.to_string())], None)
            }
        }
    }
}

/// The channels the simulator streams.
const CHANNELS: [&str; 5] = ["ticker", "miniTicker", "bookTicker", "trade", "aggTrade"];

/// Streams like `btcusdt@ticker`; unknown symbols and channels are ignored, as Binance sends
/// nothing for them.
fn feed(symbols: &SymbolTable, streams: Vec<String>) -> Feed {
    // (instrument, symbol, stream name, channel) per stream, in request order.
    let mut routes: Vec<(Instrument, String, String, &'static str)> = Vec::new();
    for stream in streams {
        let Some((symbol, channel)) = stream.split_once('@') else {
            continue;
        };
        let Some(channel) = CHANNELS.into_iter().find(|c| *c == channel) else {
            continue;
        };
        let upper = symbol.to_ascii_uppercase();
        if let Some(entry) = symbols.get(&upper) {
            routes.push((entry.instrument.clone(), upper, stream.clone(), channel));
        }
    }
    let streams = routes
        .iter()
        .enumerate()
        .map(|(n, r)| (r.0.clone(), n))
        .collect();
    let build = Box::new(move |n: usize, q: &Quote, now: i64| {
        let (_, symbol, stream, channel) = &routes[n];
        let data = match *channel {
            "bookTicker" => book_ticker(q, symbol),
            "trade" => trade(q, symbol, now, false),
            "aggTrade" => trade(q, symbol, now, true),
            c => ticker(q, symbol, now, c == "miniTicker"),
        };
        Message::text(format!("{{\"stream\":\"{stream}\",\"data\":{data}}}"))
    });
    Feed { streams, build }
}

/// `24hrTicker` (or `24hrMiniTicker`) payload.
fn ticker(q: &Quote, symbol: &str, now_ms: i64, mini: bool) -> String {
    if mini {
        return format!(
            "{{\"e\":\"24hrMiniTicker\",\"E\":{now_ms},\"s\":\"{symbol}\",\"c\":\"{:.8}\",\
             \"o\":\"{:.8}\",\"h\":\"{:.8}\",\"l\":\"{:.8}\",\"v\":\"{:.8}\",\"q\":\"{:.8}\"}}",
            q.last,
            q.open,
            q.high,
            q.low,
            q.volume,
            q.quote_volume.round_dp(8),
        );
    }
    let pct = (q.change_rate() * Decimal::ONE_HUNDRED).round_dp(3);
    format!(
        "{{\"e\":\"24hrTicker\",\"E\":{now_ms},\"s\":\"{symbol}\",\"p\":\"{:.8}\",\"P\":\"{pct:.3}\",\
         \"w\":\"{:.8}\",\"x\":\"{:.8}\",\"c\":\"{:.8}\",\"Q\":\"{:.8}\",\"b\":\"{:.8}\",\"B\":\"{:.8}\",\
         \"a\":\"{:.8}\",\"A\":\"{:.8}\",\"o\":\"{:.8}\",\"h\":\"{:.8}\",\"l\":\"{:.8}\",\"v\":\"{:.8}\",\
         \"q\":\"{:.8}\",\"O\":{},\"C\":{now_ms},\"F\":{},\"L\":{},\"n\":{}}}",
        q.change(),
        q.last,
        q.prev_close,
        q.last,
        q.last_qty,
        q.bid,
        q.bid_qty,
        q.ask,
        q.ask_qty,
        q.open,
        q.high,
        q.low,
        q.volume,
        q.quote_volume.round_dp(8),
        now_ms - 86_400_000,
        q.trade_id - 1000,
        q.trade_id,
        1001,
    )
}

/// `bookTicker`: no event type and no event time on spot.
fn book_ticker(q: &Quote, symbol: &str) -> String {
    format!(
        "{{\"u\":{},\"s\":\"{symbol}\",\"b\":\"{:.8}\",\"B\":\"{:.8}\",\"a\":\"{:.8}\",\"A\":\"{:.8}\"}}",
        q.trade_id, q.bid, q.bid_qty, q.ask, q.ask_qty,
    )
}

/// `trade`, or `aggTrade` (one trade per aggregate here).
fn trade(q: &Quote, symbol: &str, now_ms: i64, aggregate: bool) -> String {
    let maker = q.trade_id % 2 == 0;
    if aggregate {
        return format!(
            "{{\"e\":\"aggTrade\",\"E\":{now_ms},\"s\":\"{symbol}\",\"a\":{},\"p\":\"{:.8}\",\
             \"q\":\"{:.8}\",\"f\":{},\"l\":{},\"T\":{now_ms},\"m\":{maker},\"M\":true}}",
            q.trade_id, q.last, q.last_qty, q.trade_id, q.trade_id,
        );
    }
    format!(
        "{{\"e\":\"trade\",\"E\":{now_ms},\"s\":\"{symbol}\",\"t\":{},\"p\":\"{:.8}\",\
         \"q\":\"{:.8}\",\"T\":{now_ms},\"m\":{maker},\"M\":true}}",
        q.trade_id, q.last, q.last_qty,
    )
}
