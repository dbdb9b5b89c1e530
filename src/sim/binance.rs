//! Binance spot at `/binance/ws` and `/binance/stream`: streams named in the URL
//! (`?streams=btcusdt@ticker/ethbtc@trade`) or changed on the open socket with
//! `{"method":"SUBSCRIBE"|"UNSUBSCRIBE","params":[..],"id":N}` (acked `{"result":null,"id":N}`;
//! a symbol not in the listing is refused with `{"error":{"code":2,"msg":"Invalid symbol: .."}}`:
//! the whole request, naming the first stream it could not take)
//! and `LIST_SUBSCRIPTIONS`; combined-stream envelopes, server pings, strings with 8 decimals
//! as Binance writes them; `fault=shutdown` announces `serverShutdown`. Channels: ticker, miniTicker, bookTicker (no event time), trade,
//! aggTrade. Its listing is `GET /binance/api/v3/exchangeInfo`.

use super::listings::{Listings, SimMarket, VenueListing};
use super::market::{Quote, price_step};
use super::{Context, Feed, Protocol, SimConfig, SimVenue, now_ms};
use crate::exchange::binance::listing::status_name;
use crate::exchange::reference::Reference;
use crate::model::listing::ListingStatus;
use crate::model::{Exchange, Instrument};
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
        streams: Vec::new(),
        combined: path == "/binance/stream",
    }))
}

/// Binance spot as the simulator serves it.
pub(super) const VENUE: SimVenue = SimVenue {
    route,
    rest,
    listing: LISTING,
    status_name: Some(status_name),
    table_markets: Some(table_markets),
    help: "Binance: /binance/stream?streams=... (subscribed by the URL), or /binance/ws and \
/binance/stream with SUBSCRIBE; the server pings (--server-ping-secs); ticker, miniTicker, \
bookTicker, trade, aggTrade; SUBSCRIBE adds streams, UNSUBSCRIBE removes them (both acked), \
LIST_SUBSCRIPTIONS lists them, a symbol not listed is refused ({\"error\":{\"code\":2,\"msg\":\
\"Invalid symbol: ...\"}}); the shutdown fault announces serverShutdown. Listing: GET \
/binance/api/v3/exchangeInfo (status, assets, PRICE_FILTER and LOT_SIZE), with the symbol \
table's markets too (--reference binance=FILE); only TRADING, CANCEL_ONLY and AUCTION_MATCH markets \
stream.",
    endpoints: &[
        ("binance", "/binance/stream?streams=btcusdt@ticker"),
        ("listing", "/binance/api/v3/exchangeInfo"),
    ],
};

/// Binance's listing: 1,300 trading symbols by default (like the venue in 2025) over USDT,
/// BTC, FDUSD, USDC, TRY and EUR, and 65 more lingering as `BREAK`.
const LISTING: VenueListing = VenueListing {
    exchange: Exchange::Binance,
    default_markets: 1300,
    named: &[
        "BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT", "BNB-USDT", "ETH-BTC", "BNB-BTC",
    ],
    quotes: &[
        ("USDT", 50),
        ("BTC", 20),
        ("FDUSD", 10),
        ("USDC", 10),
        ("TRY", 5),
        ("EUR", 5),
    ],
    statuses: true,
    broken_per_100: 5,
    notices: |_| Vec::new(),
    native: symbol,
};

/// Binance's symbol: `BTCUSDT`.
fn symbol(i: &Instrument) -> String {
    format!("{}{}", i.base(), i.quote())
}

/// The markets of a symbol table (`--reference binance=FILE`, the bundled one), with their statuses
/// (an unknown status is read as trading).
fn table_markets(data: &Reference) -> Vec<SimMarket> {
    let table = crate::exchange::binance::symbols::of(data);
    // The table has no iterator; its CSV form is its stable public shape.
    table
        .to_csv()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|line| {
            let mut cols = line.split(',');
            let (native, base, quote, status) =
                (cols.next()?, cols.next()?, cols.next()?, cols.next()?);
            let instrument = Instrument::new(base, quote)?;
            let status = ListingStatus::ALL
                .into_iter()
                .find(|s| status_name(*s) == status)
                .unwrap_or(ListingStatus::Trading);
            Some(SimMarket {
                exchange: Exchange::Binance,
                native: native.to_owned(),
                instrument,
                status,
                notices: Vec::new(),
                hot: false,
            })
        })
        .collect()
}

pub(super) fn rest(path: &str, _query: &str, listings: &Listings) -> Option<String> {
    (path == "/binance/api/v3/exchangeInfo")
        .then(|| exchange_info(&listings.markets(Exchange::Binance), now_ms()))
}

/// `{"timezone":"UTC","serverTime":..,"rateLimits":[..],"exchangeFilters":[],"symbols":[..]}`
/// with each symbol's status, assets, `PRICE_FILTER.tickSize` (the walk's price step) and
/// `LOT_SIZE.stepSize` (the simulated sizes' 8 decimals).
fn exchange_info(markets: &[SimMarket], now_ms: i64) -> String {
    let symbols: Vec<serde_json::Value> = markets
        .iter()
        .map(|m| {
            let tick = format!("{:.8}", price_step(&m.instrument));
            serde_json::json!({
                "symbol": m.native,
                "status": status_name(m.status),
                "baseAsset": m.instrument.base(),
                "baseAssetPrecision": 8,
                "quoteAsset": m.instrument.quote(),
                "quotePrecision": 8,
                "quoteAssetPrecision": 8,
                "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
                "icebergAllowed": true,
                "ocoAllowed": true,
                "isSpotTradingAllowed": true,
                "isMarginTradingAllowed": false,
                "filters": [
                    {"filterType": "PRICE_FILTER", "minPrice": tick,
                     "maxPrice": "1000000.00000000", "tickSize": tick},
                    {"filterType": "LOT_SIZE", "minQty": "0.00000001",
                     "maxQty": "9000000.00000000", "stepSize": "0.00000001"},
                ],
                "permissions": [],
                "permissionSets": [["SPOT"]],
            })
        })
        .collect();
    serde_json::json!({
        "timezone": "UTC",
        "serverTime": now_ms,
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
             "limit": 6000},
            {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5,
             "limit": 61000},
        ],
        "exchangeFilters": [],
        "symbols": symbols,
    })
    .to_string()
}

struct Binance {
    url_streams: Option<String>,
    /// The connection's streams, in subscription order, as the client named them.
    streams: Vec<String>,
    /// A combined-stream connection (`/stream`): events come in envelopes.
    combined: bool,
}

impl Protocol for Binance {
    fn exchange(&self) -> Exchange {
        Exchange::Binance
    }

    fn error_frame(&self) -> &'static str {
        "{\"code\":-1,\"msg\":\"simulated fault\"}"
    }

    fn server_ping(&self, config: &SimConfig) -> Option<Duration> {
        Some(config.server_ping)
    }

    fn closing_frame(&self) -> Option<String> {
        let event = format!("{{\"e\":\"serverShutdown\",\"E\":{}}}", now_ms());
        Some(if self.combined {
            format!("{{\"stream\":\"!serverShutdown\",\"data\":{event}}}")
        } else {
            event
        })
    }

    fn url_feed(&mut self, cx: &Context) -> Option<Feed> {
        let streams = self.url_streams.take()?;
        self.streams = streams.split('/').map(str::to_owned).collect();
        Some(feed(&cx.listings, &self.streams))
    }

    fn on_text(&mut self, text: &str, cx: &Context) -> (Vec<Message>, Option<Feed>) {
        let reply = |v: serde_json::Value| vec![Message::text(v.to_string())];
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
        let params: Option<Vec<String>> =
            request.get("params").and_then(|p| p.as_array()).map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            });
        let ack = serde_json::json!({"result": null, "id": id});
        match (request.get("method").and_then(|m| m.as_str()), params) {
            (Some("SUBSCRIBE"), Some(params)) => {
                // The whole request is refused for one symbol the venue does not list.
                if let Some(bad) = params.iter().find(|s| !listed(&cx.listings, s)) {
                    let msg = format!("Invalid symbol: {bad}");
                    let err = serde_json::json!({"error": {"code": 2, "msg": msg}, "id": id});
                    return (reply(err), None);
                }
                for s in params {
                    if !self.streams.contains(&s) {
                        self.streams.push(s);
                    }
                }
                (reply(ack), Some(feed(&cx.listings, &self.streams)))
            }
            (Some("UNSUBSCRIBE"), Some(params)) => {
                self.streams.retain(|s| !params.contains(s));
                (reply(ack), Some(feed(&cx.listings, &self.streams)))
            }
            (Some("LIST_SUBSCRIPTIONS"), _) => (
                reply(serde_json::json!({"result": self.streams, "id": id})),
                None,
            ),
            _ => {
                let err = serde_json::json!({"code": 2, "msg": "Invalid request", "id": id});
                (reply(err), None)
            }
        }
    }
}

/// The channels the simulator streams.
const CHANNELS: [&str; 5] = ["ticker", "miniTicker", "bookTicker", "trade", "aggTrade"];

/// Whether a stream's symbol is in the listing (any status); a name without `@` names no
/// symbol and is taken as it is.
fn listed(listings: &Listings, stream: &str) -> bool {
    stream.split_once('@').is_none_or(|(symbol, _)| {
        listings
            .by_native(Exchange::Binance, &symbol.to_ascii_uppercase())
            .is_some()
    })
}

/// Streams like `btcusdt@ticker`; symbols not listed and channels not simulated are left out,
/// as Binance sends nothing for them.
fn feed(listings: &Listings, streams: &[String]) -> Feed {
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
        if let Some(m) = listings.by_native(Exchange::Binance, &upper) {
            routes.push((m.instrument, upper, stream.clone(), channel));
        }
    }
    let streams = routes
        .iter()
        .enumerate()
        .map(|(n, r)| (r.0.clone(), n))
        .collect();
    let build = Box::new(move |n: usize, q: &mut Quote, now: i64| {
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

/// `trade`, or `aggTrade` (one trade per aggregate here). Their ids are consecutive per
/// symbol, as Binance's are ([`Quote::next_stream_trade_id`]).
fn trade(q: &mut Quote, symbol: &str, now_ms: i64, aggregate: bool) -> String {
    let id = q.next_stream_trade_id();
    let maker = id % 2 == 0;
    if aggregate {
        return format!(
            "{{\"e\":\"aggTrade\",\"E\":{now_ms},\"s\":\"{symbol}\",\"a\":{id},\"p\":\"{:.8}\",\
             \"q\":\"{:.8}\",\"f\":{id},\"l\":{id},\"T\":{now_ms},\"m\":{maker},\"M\":true}}",
            q.last, q.last_qty,
        );
    }
    format!(
        "{{\"e\":\"trade\",\"E\":{now_ms},\"s\":\"{symbol}\",\"t\":{id},\"p\":\"{:.8}\",\
         \"q\":\"{:.8}\",\"T\":{now_ms},\"m\":{maker},\"M\":true}}",
        q.last, q.last_qty,
    )
}
