//! The Upbit-format protocol (Upbit at `/upbit/websocket/v1`; Bithumb's v1 API reuses it from
//! [`super::bithumb`]): `[{ticket},{type,codes}...,{format}]` subscribes, `PING` answered with
//! `{"status":"UP"}`, frames per the documented formats (`../shared/EXCHANGES.md`); a new
//! request replaces the connection's set. Also Upbit's listing, `GET /upbit/v1/market/all`
//! (`?is_details=true` adds `market_event`), and the Upbit-shaped `market/all` Bithumb reuses.

use super::listings::{Listings, SimMarket, VenueListing};
use super::market::Quote;
use super::{Context, Feed, Protocol, SimVenue};
use crate::exchange::upbit::{market_code, parse_market_code};
use crate::model::listing::Notice;
use crate::model::{Exchange, Instrument};
use rust_decimal::Decimal;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};
use tokio_tungstenite::tungstenite::Message;

pub(super) fn route(path: &str, _query: &str) -> Option<Box<dyn Protocol>> {
    (path == "/upbit/websocket/v1").then(|| Box::new(Quotation { bithumb: false }) as _)
}

/// Upbit as the simulator serves it.
pub(super) const VENUE: SimVenue = SimVenue {
    route,
    rest,
    listing: LISTING,
    status_name: None,
    table_markets: None,
    help: "Upbit: /upbit/websocket/v1, binary frames; ticker, trade, orderbook; a new subscribe \
request replaces the connection's set; PING is answered {\"status\":\"UP\"}. Listing: GET \
/upbit/v1/market/all (?is_details=true adds market_event warnings and cautions).",
    endpoints: &[
        ("upbit", "/upbit/websocket/v1"),
        ("listing", "/upbit/v1/market/all?is_details=true"),
    ],
};

/// Upbit's listing: 530 markets by default (180 KRW, 240 BTC, 110 USDT, like the venue in
/// 2025), a few warned and about a fifth cautioned.
const LISTING: VenueListing = VenueListing {
    exchange: Exchange::Upbit,
    default_markets: 530,
    named: &[
        "BTC-KRW", "ETH-KRW", "XRP-KRW", "SOL-KRW", "DOGE-KRW", "ADA-KRW", "DOT-KRW", "LINK-KRW",
        "TRX-KRW", "AVAX-KRW", "ETH-BTC", "XRP-BTC", "SOL-BTC", "ADA-BTC", "DOGE-BTC", "BTC-USDT",
        "ETH-USDT", "XRP-USDT", "SOL-USDT",
    ],
    quotes: &[("KRW", 18), ("BTC", 24), ("USDT", 11)],
    statuses: false,
    broken_per_100: 0,
    notices,
    native: market_code,
};

/// The caution flags of `market_event`, in Upbit's order.
const CAUTIONS: [(&str, Notice); 5] = [
    ("PRICE_FLUCTUATIONS", Notice::PriceFluctuations),
    ("TRADING_VOLUME_SOARING", Notice::TradingVolumeSoaring),
    ("DEPOSIT_AMOUNT_SOARING", Notice::DepositAmountSoaring),
    ("GLOBAL_PRICE_DIFFERENCES", Notice::GlobalPriceDifferences),
    (
        "CONCENTRATION_OF_SMALL_ACCOUNTS",
        Notice::ConcentrationOfSmallAccounts,
    ),
];

/// One generated market in 100 warned, one in 5 cautioned (the real listing: 5 warned and 112
/// cautioned of 536), the caution's cause cycling.
fn notices(n: usize) -> Vec<Notice> {
    if n % 100 == 50 {
        vec![Notice::Warning]
    } else if n % 5 == 2 {
        vec![CAUTIONS[(n / 5) % CAUTIONS.len()].1]
    } else {
        Vec::new()
    }
}

pub(super) fn rest(path: &str, query: &str, listings: &Listings) -> Option<String> {
    (path == "/upbit/v1/market/all").then(|| {
        market_all(
            &listings.markets(Exchange::Upbit),
            details(query),
            Details::MarketEvent,
        )
    })
}

/// Whether a `market/all` query asks for details (`is_details=true`; older clients and
/// Bithumb's docs spell it `isDetails`).
pub(super) fn details(query: &str) -> bool {
    query
        .split('&')
        .any(|kv| matches!(kv, "is_details=true" | "isDetails=true"))
}

/// What a detailed `market/all` row carries.
#[derive(Debug, Clone, Copy)]
pub(super) enum Details {
    /// Upbit: `market_event` {warning, caution flags}.
    MarketEvent,
    /// Bithumb (and Upbit's older form): `market_warning` NONE | CAUTION.
    MarketWarning,
}

/// `[{"market":"KRW-BTC","korean_name":..,"english_name":..,"market_event":{..}}]`.
pub(super) fn market_all(markets: &[SimMarket], details: bool, form: Details) -> String {
    let rows: Vec<serde_json::Value> = markets
        .iter()
        .map(|m| {
            let base = m.instrument.base();
            let mut row = serde_json::json!({
                "market": m.native,
                "korean_name": format!("모의 {base}"),
                "english_name": format!("Simulated {base}"),
            });
            if details {
                let extra = match form {
                    Details::MarketEvent => {
                        let caution: serde_json::Map<String, serde_json::Value> = CAUTIONS
                            .iter()
                            .map(|(name, n)| ((*name).to_owned(), m.notices.contains(n).into()))
                            .collect();
                        serde_json::json!({"market_event": {
                            "warning": m.notices.contains(&Notice::Warning),
                            "caution": caution,
                        }})
                    }
                    Details::MarketWarning => serde_json::json!({"market_warning":
                        if m.notices.is_empty() { "NONE" } else { "CAUTION" }}),
                };
                if let (Some(row), serde_json::Value::Object(extra)) = (row.as_object_mut(), extra)
                {
                    row.extend(extra);
                }
            }
            row
        })
        .collect();
    serde_json::Value::Array(rows).to_string()
}

/// The Upbit format; `bithumb`: Bithumb v1's dialect (text frames, string trade ids, orderbook
/// times in µs strings).
pub(super) struct Quotation {
    pub bithumb: bool,
}

/// Channels the simulator streams.
const CHANNELS: [&str; 3] = ["ticker", "trade", "orderbook"];

impl Protocol for Quotation {
    fn exchange(&self) -> Exchange {
        if self.bithumb {
            Exchange::Bithumb
        } else {
            Exchange::Upbit
        }
    }

    fn error_frame(&self) -> &'static str {
        "{\"error\":{\"name\":\"INVALID_PARAM\",\"message\":\"simulated fault\"}}"
    }

    /// A request replaces the connection's set; codes the venue does not list stay in it but
    /// send nothing (as Upbit does) until they are listed.
    fn on_text(&mut self, text: &str, _cx: &Context) -> (Vec<Message>, Option<Feed>) {
        if text == "PING" {
            return (vec![Message::text("{\"status\":\"UP\"}")], None);
        }
        match parse_request(text) {
            Ok((instruments, channels, simple)) => {
                let bithumb = self.bithumb;
                let n = channels.len();
                // Like the venue, each request's first frame of every code and type is its
                // current state (`SNAPSHOT`), the rest are live (`REALTIME`).
                let snapshotted = Mutex::new(HashSet::new());
                let build = Box::new(move |c: usize, q: &mut Quote, now: i64| {
                    let first = snapshotted
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert((q.instrument.clone(), c));
                    let stream = if first { "SNAPSHOT" } else { "REALTIME" };
                    let json = match channels[c] {
                        "trade" => trade(q, now, bithumb, stream),
                        "orderbook" => orderbook(q, now, simple, bithumb, stream),
                        _ => ticker(q, now, simple, stream),
                    };
                    if bithumb {
                        Message::text(json)
                    } else {
                        Message::binary(json.into_bytes())
                    }
                });
                (vec![], Some(Feed::every(&instruments, n, build)))
            }
            Err(why) => {
                let err = serde_json::json!({"error": {"name": "WRONG_FORMAT", "message": why}});
                (vec![Message::text(err.to_string())], None)
            }
        }
    }
}

/// `[{"ticket":..},{"type":"ticker","codes":["KRW-BTC"]},{"format":"SIMPLE"}]`: the
/// instruments (of the first type's codes), the channels in request order, SIMPLE or not.
pub(super) fn parse_request(
    text: &str,
) -> Result<(Vec<Instrument>, Vec<&'static str>, bool), String> {
    let parts: Vec<serde_json::Value> =
        serde_json::from_str(text).map_err(|_| "request must be a JSON array".to_owned())?;
    if !parts.iter().any(|p| p.get("ticket").is_some()) {
        return Err("missing ticket".into());
    }
    let mut channels = Vec::new();
    let mut codes = None;
    for part in &parts {
        let Some(ty) = part.get("type").and_then(|t| t.as_str()) else {
            continue;
        };
        let channel = CHANNELS
            .into_iter()
            .find(|c| *c == ty)
            .ok_or_else(|| format!("type {ty} is not simulated"))?;
        channels.push(channel);
        codes = codes.or_else(|| part.get("codes").and_then(|c| c.as_array()));
    }
    if channels.is_empty() {
        return Err("missing type".into());
    }
    let codes = codes.ok_or_else(|| "missing codes".to_owned())?;
    let instruments = codes
        .iter()
        .map(|c| {
            c.as_str()
                .and_then(parse_market_code)
                .ok_or_else(|| format!("invalid code {c}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let simple = parts
        .iter()
        .find_map(|p| p.get("format").and_then(|f| f.as_str()))
        .is_some_and(|f| f == "SIMPLE");
    Ok((instruments, channels, simple))
}

/// Upbit's `change` word for a signed change.
fn change_word(change: Decimal) -> &'static str {
    if change.is_sign_positive() && !change.is_zero() {
        "RISE"
    } else if change.is_zero() {
        "EVEN"
    } else {
        "FALL"
    }
}

/// `type: ticker`, DEFAULT or SIMPLE keys; `code` is `QUOTE-BASE`; `stream` is its
/// `stream_type`.
pub(super) fn ticker(q: &Quote, now_ms: i64, simple: bool, stream: &str) -> String {
    let code = market_code(&q.instrument);
    let (change, rate) = (q.change(), q.change_rate());
    let k = |default: &'static str, short: &'static str| if simple { short } else { default };
    let mut s = String::with_capacity(640);
    let _ = write!(
        s,
        "{{\"{}\":\"ticker\",\"{}\":\"{code}\",\"{}\":{},\"{}\":{},\"{}\":{},\"{}\":{},\"{}\":{},\
         \"{}\":\"{}\",\"{}\":{},\"{}\":{},\"{}\":{},\"{}\":{},\"{}\":{},\"{}\":{},\"{}\":{},\
         \"{}\":{},\"{}\":{now_ms},\"{}\":\"{stream}\"}}",
        k("type", "ty"),
        k("code", "cd"),
        k("opening_price", "op"),
        q.open,
        k("high_price", "hp"),
        q.high,
        k("low_price", "lp"),
        q.low,
        k("trade_price", "tp"),
        q.last,
        k("prev_closing_price", "pcp"),
        q.prev_close,
        k("change", "c"),
        change_word(change),
        k("change_price", "cp"),
        change.abs(),
        k("signed_change_price", "scp"),
        change,
        k("change_rate", "cr"),
        rate.abs(),
        k("signed_change_rate", "scr"),
        rate,
        k("trade_volume", "tv"),
        q.last_qty,
        k("acc_trade_volume_24h", "atv24h"),
        q.volume,
        k("acc_trade_price_24h", "atp24h"),
        q.quote_volume,
        k("trade_timestamp", "ttms"),
        now_ms,
        k("timestamp", "tms"),
        k("stream_type", "st"),
    );
    s
}

/// `type: trade` (DEFAULT keys); `id_as_string` is Bithumb v1's dialect; `stream` is its
/// `stream_type`.
pub(super) fn trade(q: &Quote, now_ms: i64, id_as_string: bool, stream: &str) -> String {
    let code = market_code(&q.instrument);
    let change = q.change();
    let id = if id_as_string {
        format!("\"{}\"", q.trade_id)
    } else {
        q.trade_id.to_string()
    };
    let side = if q.trade_id % 2 == 0 { "BID" } else { "ASK" };
    format!(
        "{{\"type\":\"trade\",\"code\":\"{code}\",\"timestamp\":{now_ms},\"trade_timestamp\":{now_ms},\
         \"trade_price\":{},\"trade_volume\":{},\"ask_bid\":\"{side}\",\"prev_closing_price\":{},\
         \"change\":\"{}\",\"change_price\":{},\"sequential_id\":{id},\"stream_type\":\"{stream}\"}}",
        q.last,
        q.last_qty,
        q.prev_close,
        change_word(change),
        change.abs(),
    )
}

/// `type: orderbook` with its top level (and one level below it), DEFAULT or SIMPLE keys;
/// `micros` writes the timestamp as Bithumb v1 does, µs in a string; `stream` is its
/// `stream_type`.
pub(super) fn orderbook(
    q: &Quote,
    now_ms: i64,
    simple: bool,
    micros: bool,
    stream: &str,
) -> String {
    let code = market_code(&q.instrument);
    let k = |default: &'static str, short: &'static str| if simple { short } else { default };
    let time = if micros {
        format!("\"{}\"", now_ms * 1000)
    } else {
        now_ms.to_string()
    };
    let deeper = (
        q.ask + (q.ask - q.bid),
        q.bid - (q.ask - q.bid).min(q.bid / Decimal::TWO),
    );
    format!(
        "{{\"{}\":\"orderbook\",\"{}\":\"{code}\",\"{}\":{time},\"{}\":{},\"{}\":{},\"{}\":[\
         {{\"{ap}\":{},\"{bp}\":{},\"{as_}\":{},\"{bs}\":{}}},\
         {{\"{ap}\":{},\"{bp}\":{},\"{as_}\":1,\"{bs}\":1}}],\"{}\":\"{stream}\",\"{}\":0}}",
        k("type", "ty"),
        k("code", "cd"),
        k("timestamp", "tms"),
        k("total_ask_size", "tas"),
        q.ask_qty + Decimal::ONE,
        k("total_bid_size", "tbs"),
        q.bid_qty + Decimal::ONE,
        k("orderbook_units", "obu"),
        q.ask,
        q.bid,
        q.ask_qty,
        q.bid_qty,
        deeper.0,
        deeper.1,
        k("stream_type", "st"),
        k("level", "lv"),
        ap = k("ask_price", "ap"),
        bp = k("bid_price", "bp"),
        as_ = k("ask_size", "as"),
        bs = k("bid_size", "bs"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        let ok = r#"[{"ticket":"t"},{"type":"ticker","codes":["KRW-BTC","KRW-ETH"]},{"type":"orderbook","codes":["KRW-BTC","KRW-ETH"]},{"format":"SIMPLE"}]"#;
        let (instruments, channels, simple) = parse_request(ok).unwrap();
        assert_eq!(
            (instruments[1].as_str(), channels, simple),
            ("ETH-KRW", vec!["ticker", "orderbook"], true)
        );
        assert!(parse_request(r#"[{"type":"ticker","codes":["KRW-BTC"]}]"#).is_err());
        assert!(
            parse_request(r#"[{"ticket":"t"},{"type":"ticker","codes":["krw btc"]}]"#).is_err()
        );
        assert!(
            parse_request(r#"[{"ticket":"t"},{"type":"candle","codes":["KRW-BTC"]}]"#).is_err()
        );
    }
}
