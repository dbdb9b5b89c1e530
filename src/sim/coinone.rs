//! Coinone's public WebSocket at `/coinone` (the venue serves every pair at its root): a
//! `CONNECTED` greeting on open; one `{"request_type":"SUBSCRIBE"|"UNSUBSCRIBE","channel":..,
//! "topic":{"quote_currency":..,"target_currency":..},"format":..}` per stream, each answered
//! `SUBSCRIBED`/`UNSUBSCRIBED` echoing the topic as sent (lower case accepted, as the venue
//! does); a pair not listed is acknowledged and then refused with a `160012` error that names
//! nothing, like the venue; `{"request_type":"PING"}` answered `PONG`; wrong case or unknown
//! values `160011` with the field, non-JSON `160010`. `DATA` frames of `TICKER`, `TRADE` and
//! `ORDERBOOK` (16 levels a side, asks worst first; the first book of each subscription
//! stamped 10 s behind its id, as the probe saw) in `DEFAULT` or `SHORT` keys, prices and
//! sizes as strings, ids `<ms><3-digit counter>` strictly increasing per connection. Its
//! listing is `GET /coinone/public/v2/markets/KRW` (any other quote: `"markets":[]`).

use super::listings::{Listings, SimMarket, VenueListing};
use super::market::{Quote, price_step};
use super::{Context, Feed, Protocol, SimVenue, now_ms};
use crate::exchange::coinone::{native_symbol, topic};
use crate::model::{Exchange, Instrument};
use rust_decimal::Decimal;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio_tungstenite::tungstenite::Message;

pub(super) fn route(path: &str, _query: &str) -> Option<Box<dyn Protocol>> {
    matches!(path, "/coinone" | "/coinone/").then(|| Box::new(Coinone::default()) as _)
}

/// Coinone as the simulator serves it.
pub(super) const VENUE: SimVenue = SimVenue {
    route,
    rest,
    listing: LISTING,
    status_name: None,
    table_markets: None,
    help: "Coinone: /coinone (the venue serves every pair at its root); a CONNECTED greeting, \
then one {\"request_type\":\"SUBSCRIBE\",\"channel\":..,\"topic\":{..}} per stream (TICKER, \
TRADE, ORDERBOOK; DEFAULT or SHORT keys), each acked SUBSCRIBED; a pair not listed is acked and \
then refused with ERROR 160012 naming nothing, as the venue does; {\"request_type\":\"PING\"} \
is answered PONG; every book is 16 levels a side, asks worst first, the first one of a \
subscription stamped 10 s behind its id. Listing: GET /coinone/public/v2/markets/KRW.",
    endpoints: &[
        ("coinone", "/coinone"),
        ("listing", "/coinone/public/v2/markets/KRW"),
    ],
};

/// Coinone's listing: 363 KRW pairs by default (the probe's count, 2026-09-23).
const LISTING: VenueListing = VenueListing {
    exchange: Exchange::Coinone,
    default_markets: 363,
    named: &["BTC-KRW", "ETH-KRW", "XRP-KRW", "SOL-KRW", "DOGE-KRW"],
    quotes: &[("KRW", 1)],
    statuses: false,
    broken_per_100: 0,
    notices: |_| Vec::new(),
    native: native_symbol,
};

pub(super) fn rest(path: &str, _query: &str, listings: &Listings) -> Option<String> {
    let quote = path.strip_prefix("/coinone/public/v2/markets/")?;
    let markets = if quote == "KRW" {
        listings.markets(Exchange::Coinone)
    } else {
        Vec::new()
    };
    Some(markets_body(&markets, now_ms()))
}

/// `{"result":"success","error_code":"0","server_time":..,"markets":[..]}`, every market
/// trading (`trade_status` 1) and out of maintenance.
fn markets_body(markets: &[SimMarket], now_ms: i64) -> String {
    let rows: Vec<serde_json::Value> = markets
        .iter()
        .map(|m| {
            serde_json::json!({
                "quote_currency": m.instrument.quote(),
                "target_currency": m.instrument.base(),
                "price_unit": price_step(&m.instrument).normalize().to_string(),
                "qty_unit": "0.0001",
                "max_order_amount": "1000000000",
                "max_price": "100000000000",
                "max_qty": "1000000000",
                "min_order_amount": "5000",
                "min_price": "1",
                "min_qty": "0.0001",
                "order_book_units": ["0.0", "1.0", "10.0"],
                "maintenance_status": 0,
                "trade_status": 1,
                "order_types": ["limit", "market", "stop_limit"],
            })
        })
        .collect();
    serde_json::json!({
        "result": "success",
        "error_code": "0",
        "server_time": now_ms,
        "markets": rows,
    })
    .to_string()
}

/// The channels the simulator streams; a stream's index is the channel's plus
/// [`CHANNELS`]`.len()` for `SHORT` keys.
const CHANNELS: [&str; 3] = ["TICKER", "TRADE", "ORDERBOOK"];

#[derive(Default)]
struct Coinone {
    /// The connection's streams in subscription order: instrument, channel index (see
    /// [`CHANNELS`]).
    streams: Vec<(Instrument, usize)>,
    /// The last id given on this connection (shared with the feed's frame builder).
    last_id: Arc<AtomicI64>,
    /// Instruments whose book was sent since they were subscribed (the first one is stamped
    /// behind its id, as the venue's first book after a subscribe is); kept across the feeds
    /// of one connection, so a new subscription restates only its own pair.
    booked: Arc<Mutex<HashSet<Instrument>>>,
}

/// An `ERROR` frame in the venue's key order (`field` only for 160011).
fn error(code: u32, message: &str, field: Option<&str>) -> Message {
    let field = field.map_or_else(String::new, |f| format!(",\"field\":\"{f}\""));
    Message::text(format!(
        "{{\"response_type\":\"ERROR\",\"error_code\":{code},\"message\":\"{message}\"{field}}}"
    ))
}

/// Connections opened, for their session ids.
static SESSIONS: AtomicU64 = AtomicU64::new(0);

impl Protocol for Coinone {
    fn exchange(&self) -> Exchange {
        Exchange::Coinone
    }

    fn greeting(&self) -> Option<Message> {
        let n = SESSIONS.fetch_add(1, Ordering::Relaxed);
        let id = format!("00000000-0000-4000-8000-{n:012x}");
        Some(Message::text(format!(
            "{{\"response_type\":\"CONNECTED\",\"data\":{{\"session_id\":\"{id}\"}}}}"
        )))
    }

    fn error_frame(&self) -> &'static str {
        "{\"response_type\":\"ERROR\",\"error_code\":160010,\"message\":\"Invalid Request\"}"
    }

    fn on_text(&mut self, text: &str, cx: &Context) -> (Vec<Message>, Option<Feed>) {
        let Ok(request) = serde_json::from_str::<serde_json::Value>(text) else {
            return (vec![error(160_010, "Invalid Request", None)], None);
        };
        let field = |name: &str| request.get(name).and_then(|v| v.as_str());
        let subscribe = match field("request_type") {
            Some("PING") => return (vec![Message::text("{\"response_type\":\"PONG\"}")], None),
            Some("SUBSCRIBE") => true,
            Some("UNSUBSCRIBE") => false,
            _ => {
                return (
                    vec![error(160_011, "Invalid Type", Some("request_type"))],
                    None,
                );
            }
        };
        let Some(channel) = CHANNELS.iter().position(|c| Some(*c) == field("channel")) else {
            return (vec![error(160_011, "Invalid Type", Some("channel"))], None);
        };
        let short = match field("format") {
            None | Some("DEFAULT") => false,
            Some("SHORT") => true,
            Some(_) => return (vec![error(160_011, "Invalid Type", Some("format"))], None),
        };
        let Some(topic) = request.get("topic").filter(|t| t.is_object()) else {
            return (vec![error(160_011, "Invalid Type", Some("topic"))], None);
        };
        let currency = |key: &str| {
            topic
                .get(key)
                .and_then(|v| v.as_str())
                .map(str::to_ascii_uppercase)
        };
        let instrument = currency("target_currency")
            .zip(currency("quote_currency"))
            .and_then(|(target, quote)| Instrument::new(&target, &quote));
        // The ack echoes the topic as sent, lower case included.
        let ack = format!(
            "{{\"response_type\":\"{}\",\"channel\":\"{}\",\"data\":{topic}}}",
            if subscribe {
                "SUBSCRIBED"
            } else {
                "UNSUBSCRIBED"
            },
            CHANNELS[channel],
        );
        let mut replies = vec![Message::text(ack)];
        let listed = instrument.as_ref().filter(|i| {
            cx.listings
                .by_native(Exchange::Coinone, &native_symbol(i))
                .is_some()
        });
        let Some(instrument) = listed else {
            // Acknowledged first, then refused without naming the topic.
            if subscribe {
                replies.push(error(160_012, "Invalid Topic", None));
            }
            return (replies, None);
        };
        let stream = (
            instrument.clone(),
            channel + if short { CHANNELS.len() } else { 0 },
        );
        self.streams
            .retain(|(i, c)| !(i == instrument && c % CHANNELS.len() == channel));
        if subscribe {
            self.streams.push(stream);
        } else {
            // Subscribed again later, its first book is the venue's restatement again.
            self.booked
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(instrument);
        }
        (replies, Some(self.feed()))
    }
}

impl Coinone {
    /// A feed of the connection's streams; each stream's first book is stamped behind its id.
    fn feed(&self) -> Feed {
        let last_id = Arc::clone(&self.last_id);
        let restated = Arc::clone(&self.booked);
        let build = Box::new(move |c: usize, q: &mut Quote, now: i64| {
            // `<ms><3-digit counter>`, strictly increasing on the connection.
            let id = last_id
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
                    Some((now * 1000).max(last + 1))
                })
                .map_or(now * 1000, |last| (now * 1000).max(last + 1));
            let short = c >= CHANNELS.len();
            let json = match CHANNELS[c % CHANNELS.len()] {
                "TICKER" => ticker(q, now, id, short),
                "TRADE" => trade(q, now, id, short),
                _ => {
                    let first = restated
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(q.instrument.clone());
                    let stamped = if first { id / 1000 - 10_000 } else { id / 1000 };
                    orderbook(q, stamped, id, short)
                }
            };
            Message::text(json)
        });
        Feed {
            streams: self.streams.clone(),
            build,
        }
    }
}

/// Keys of the two formats: (DEFAULT, SHORT).
fn k(short: bool, default: &'static str, short_key: &'static str) -> &'static str {
    if short { short_key } else { default }
}

/// The envelope around a channel's `data` object (its fields without braces).
fn envelope(channel: &str, short: bool, instrument: &Instrument, fields: &str) -> String {
    let topic = topic(instrument);
    let data = if short {
        topic
            .replace("\"quote_currency\"", "\"qc\"")
            .replace("\"target_currency\"", "\"tc\"")
    } else {
        topic
    };
    format!(
        "{{\"{}\":\"DATA\",\"{}\":\"{channel}\",\"{}\":{},{fields}}}}}",
        k(short, "response_type", "r"),
        k(short, "channel", "c"),
        k(short, "data", "d"),
        data.trim_end_matches('}'),
    )
}

/// `TICKER`: the walk's window, volumes and best quotes; every number a string.
fn ticker(q: &Quote, now_ms: i64, id: i64, short: bool) -> String {
    let mut f = String::with_capacity(480);
    let _ = write!(
        f,
        "\"{}\":{now_ms},\"{}\":\"{}\",\"{}\":\"{}\",\"{}\":\"{}\",\"{}\":\"{}\",\"{}\":\"{}\",\
         \"{}\":\"{}\",\"{}\":\"0\",\"{}\":\"{}\",\"{}\":\"{}\",\"{}\":\"{}\",\"{}\":\"{}\",\
         \"{}\":\"{id}\",\"{}\":\"{}\"",
        k(short, "timestamp", "t"),
        k(short, "quote_volume", "qv"),
        q.quote_volume,
        k(short, "target_volume", "tv"),
        q.volume,
        k(short, "high", "hi"),
        q.high,
        k(short, "low", "lo"),
        q.low,
        k(short, "first", "fi"),
        q.open,
        k(short, "last", "la"),
        q.last,
        k(short, "volume_power", "vp"),
        k(short, "ask_best_price", "abp"),
        q.ask,
        k(short, "ask_best_qty", "abq"),
        q.ask_qty,
        k(short, "bid_best_price", "bbp"),
        q.bid,
        k(short, "bid_best_qty", "bbq"),
        q.bid_qty,
        k(short, "id", "i"),
        k(short, "yesterday_last", "yla"),
        q.prev_close,
    );
    envelope("TICKER", short, &q.instrument, &f)
}

/// `TRADE`: the walk's last trade; even trade ids are taker buys (the seller was the maker).
fn trade(q: &Quote, now_ms: i64, id: i64, short: bool) -> String {
    let f = format!(
        "\"{}\":\"{id}\",\"{}\":{now_ms},\"{}\":\"{}\",\"{}\":\"{}\",\"{}\":{}",
        k(short, "id", "i"),
        k(short, "timestamp", "t"),
        k(short, "price", "p"),
        q.last,
        k(short, "qty", "q"),
        q.last_qty,
        k(short, "is_seller_maker", "sm"),
        q.trade_id % 2 == 0,
    );
    envelope("TRADE", short, &q.instrument, &f)
}

/// Levels a side, as the venue sends.
const LEVELS: i64 = 16;

/// `ORDERBOOK`: 16 levels a side one spread apart, asks worst first, bids best first (fewer
/// bids when the walk's price is too low for 16).
fn orderbook(q: &Quote, stamped_ms: i64, id: i64, short: bool) -> String {
    let step = (q.ask - q.bid).max(Decimal::new(1, 8));
    let (p, s) = (k(short, "price", "p"), k(short, "qty", "q"));
    let level = |price: Decimal, qty: Decimal| format!("{{\"{p}\":\"{price}\",\"{s}\":\"{qty}\"}}");
    let asks: Vec<String> = (0..LEVELS)
        .rev()
        .map(|n| {
            let qty = if n == 0 { q.ask_qty } else { Decimal::ONE };
            level(q.ask + step * Decimal::from(n), qty)
        })
        .collect();
    let bids: Vec<String> = (0..LEVELS)
        .map(|n| (n, q.bid - step * Decimal::from(n)))
        .take_while(|(_, price)| *price > Decimal::ZERO)
        .map(|(n, price)| level(price, if n == 0 { q.bid_qty } else { Decimal::ONE }))
        .collect();
    let f = format!(
        "\"{}\":{stamped_ms},\"{}\":\"{id}\",\"{}\":[{}],\"{}\":[{}]",
        k(short, "timestamp", "t"),
        k(short, "id", "i"),
        k(short, "asks", "a"),
        asks.join(","),
        k(short, "bids", "b"),
        bids.join(","),
    );
    envelope("ORDERBOOK", short, &q.instrument, &f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::coinone::CoinoneAdapter;
    use crate::exchange::{Adapter, AdapterConfig, Decoded, Frame};
    use crate::model::EventKind;
    use crate::sim::listings::ListingSizes;
    use crate::sim::market::Market;

    fn cx() -> Context {
        let config = crate::sim::SimConfig {
            rate: 1,
            seed: 1,
            server_ping: std::time::Duration::from_secs(1),
            references: crate::exchange::reference::References::default(),
            default_fault: None,
        };
        let listings = Arc::new(Listings::new(&ListingSizes::all(0), &[]));
        Context { config, listings }
    }

    fn texts(messages: &[Message]) -> Vec<String> {
        messages
            .iter()
            .map(|m| m.to_text().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn requests_are_answered_as_the_venue_does() {
        let cx = cx();
        let mut p = Coinone::default();
        let (r, feed) = p.on_text(r#"{"request_type":"PING"}"#, &cx);
        assert_eq!(
            (texts(&r), feed.is_none()),
            (vec![r#"{"response_type":"PONG"}"#.to_owned()], true)
        );
        let sub = r#"{"request_type":"SUBSCRIBE","channel":"ORDERBOOK","topic":{"quote_currency":"krw","target_currency":"btc"}}"#;
        let (r, feed) = p.on_text(sub, &cx);
        let r = texts(&r);
        assert_eq!(r.len(), 1);
        assert!(
            r[0].contains("\"SUBSCRIBED\"") && r[0].contains("\"btc\""),
            "{r:?}"
        );
        assert_eq!(feed.unwrap().streams.len(), 1);
        // Not listed: acknowledged, then refused without a name.
        let nope = r#"{"request_type":"SUBSCRIBE","channel":"TICKER","topic":{"quote_currency":"KRW","target_currency":"NOPE"}}"#;
        let (r, feed) = p.on_text(nope, &cx);
        let r = texts(&r);
        assert!(feed.is_none());
        assert!(r[0].contains("SUBSCRIBED"));
        assert_eq!(
            r[1],
            r#"{"response_type":"ERROR","error_code":160012,"message":"Invalid Topic"}"#
        );
        for (bad, field) in [
            (
                r#"{"request_type":"subscribe","channel":"TICKER"}"#,
                "request_type",
            ),
            (
                r#"{"request_type":"SUBSCRIBE","channel":"NOPE"}"#,
                "channel",
            ),
            (
                r#"{"request_type":"SUBSCRIBE","channel":"TICKER","format":"short","topic":{}}"#,
                "format",
            ),
        ] {
            let r = texts(&p.on_text(bad, &cx).0);
            assert!(r[0].contains("160011") && r[0].contains(field), "{r:?}");
        }
        assert!(texts(&p.on_text("nope", &cx).0)[0].contains("160010"));
        let unsub = sub.replace("\"SUBSCRIBE\"", "\"UNSUBSCRIBE\"");
        let (r, feed) = p.on_text(&unsub, &cx);
        assert!(texts(&r)[0].contains("UNSUBSCRIBED"));
        assert!(feed.unwrap().streams.is_empty());
    }

    /// Every frame the simulator builds decodes with the real adapter, in both formats; ids
    /// increase and only each stream's first book is restated.
    #[test]
    fn frames_decode_with_the_adapter() {
        let cx = cx();
        let mut p = Coinone::default();
        for (channel, format) in [
            ("TICKER", "DEFAULT"),
            ("TRADE", "SHORT"),
            ("ORDERBOOK", "SHORT"),
        ] {
            for target in ["BTC", "DOGE"] {
                let req = format!(
                    "{{\"request_type\":\"SUBSCRIBE\",\"channel\":\"{channel}\",\"format\":\"{format}\",\"topic\":{{\"quote_currency\":\"KRW\",\"target_currency\":\"{target}\"}}}}"
                );
                p.on_text(&req, &cx);
            }
        }
        let feed = p.feed();
        assert_eq!(feed.streams.len(), 6);
        let adapter = CoinoneAdapter::new(AdapterConfig::default());
        let instruments: Vec<Instrument> = feed.streams.iter().map(|(i, _)| i.clone()).collect();
        let mut market = Market::new(&instruments, 7);
        let mut last_seq = 0;
        let mut books = 0;
        for round in 0..3 {
            for (instrument, c) in &feed.streams {
                let q = market.step(instrument).unwrap();
                let now = now_ms();
                let frame = (feed.build)(*c, q, now);
                let t = match adapter
                    .decode(Frame::text(frame.to_text().unwrap().as_bytes()), now * 1000)
                {
                    Ok(Decoded::Tick(t)) => t,
                    other => panic!("{other:?}: {frame}"),
                };
                let seq = t.sequence.unwrap();
                assert!(seq > last_seq);
                last_seq = seq;
                if t.kind == EventKind::BestBidOffer {
                    assert_eq!(t.snapshot, round == 0, "{frame}");
                    books += 1;
                }
            }
        }
        assert_eq!(books, 6);
    }

    #[test]
    fn listing_decodes_with_the_real_decoder() {
        let cx = cx();
        let body = rest("/coinone/public/v2/markets/KRW", "", &cx.listings).unwrap();
        let listing = crate::exchange::coinone::listing::decode(body.as_bytes(), 1).unwrap();
        assert_eq!(listing.records.len(), LISTING.named.len());
        assert!(listing.rejected.is_empty());
        let usdt = rest("/coinone/public/v2/markets/USDT", "", &cx.listings).unwrap();
        assert!(crate::exchange::coinone::listing::decode(usdt.as_bytes(), 1).is_err());
        assert!(rest("/upbit/v1/market/all", "", &cx.listings).is_none());
    }
}
