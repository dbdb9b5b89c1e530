//! Bithumb: the v1 API at `/bithumb/websocket/v1` (the Upbit format, [`super::upbit`], in
//! Bithumb's dialect) and the legacy API at `/bithumb/pub/ws`: a connect notice, one
//! `{"type":"ticker"|"transaction","symbols":[..]}` subscribe per channel with its ack, every
//! value a string, times as KST wall clock. Its listing is the v1 API's Upbit-shaped
//! `GET /bithumb/v1/market/all` (`?isDetails=true` adds `market_warning`), one for both APIs.

use super::listings::{Listings, VenueListing};
use super::market::Quote;
use super::upbit::{Details, Quotation, details, market_all};
use super::{Context, Feed, Protocol, SimVenue};
use crate::exchange::bithumb::{KST_OFFSET_SECS, legacy_symbol, parse_legacy_symbol};
use crate::exchange::upbit::market_code;
use crate::model::listing::Notice;
use crate::model::time::CivilTime;
use crate::model::{Exchange, Instrument};
use rust_decimal::Decimal;
use tokio_tungstenite::tungstenite::Message;

pub(super) fn route(path: &str, _query: &str) -> Option<Box<dyn Protocol>> {
    match path {
        "/bithumb/websocket/v1" => Some(Box::new(Quotation { bithumb: true })),
        "/bithumb/pub/ws" => Some(Box::new(Legacy::default())),
        _ => None,
    }
}

/// Bithumb's two APIs as the simulator serves them.
pub(super) const VENUE: SimVenue = SimVenue {
    route,
    rest,
    listing: LISTING,
    status_name: None,
    table_markets: None,
    help: "Bithumb v1: /bithumb/websocket/v1, Upbit's protocol in text frames (string trade ids, \
orderbook times in µs strings); the same channels. Bithumb legacy: /bithumb/pub/ws; a connect \
notice, then ticker and transaction, each request acked, all-string values with KST times. \
Listing (both APIs): GET /bithumb/v1/market/all (?isDetails=true adds market_warning).",
    endpoints: &[
        ("bithumb (v1)", "/bithumb/websocket/v1"),
        ("bithumb legacy", "/bithumb/pub/ws"),
        ("listing", "/bithumb/v1/market/all"),
    ],
};

/// Bithumb's listing: 450 KRW markets by default (like the venue in 2025), one generated
/// market in 20 under `CAUTION`.
const LISTING: VenueListing = VenueListing {
    exchange: Exchange::Bithumb,
    default_markets: 450,
    named: &[
        "BTC-KRW", "ETH-KRW", "XRP-KRW", "SOL-KRW", "DOGE-KRW", "ADA-KRW", "DOT-KRW", "LINK-KRW",
        "TRX-KRW", "AVAX-KRW",
    ],
    quotes: &[("KRW", 1)],
    statuses: false,
    broken_per_100: 0,
    notices: |n| {
        if n % 20 == 7 {
            vec![Notice::Caution]
        } else {
            Vec::new()
        }
    },
    native: market_code,
};

pub(super) fn rest(path: &str, query: &str, listings: &Listings) -> Option<String> {
    (path == "/bithumb/v1/market/all").then(|| {
        market_all(
            &listings.markets(Exchange::Bithumb),
            details(query),
            Details::MarketWarning,
        )
    })
}

/// The legacy API: filters add up, one channel per subscribe message.
#[derive(Default)]
struct Legacy {
    instruments: Vec<Instrument>,
    /// (channel, ticker tick type) in subscription order.
    channels: Vec<(&'static str, String)>,
}

impl Protocol for Legacy {
    fn exchange(&self) -> Exchange {
        Exchange::Bithumb
    }

    fn greeting(&self) -> Option<Message> {
        Some(Message::text(
            "{\"status\":\"0000\",\"resmsg\":\"Connected Successfully\"}",
        ))
    }

    fn error_frame(&self) -> &'static str {
        "{\"status\":\"5300\",\"resmsg\":\"simulated fault\"}"
    }

    fn on_text(&mut self, text: &str, _cx: &Context) -> (Vec<Message>, Option<Feed>) {
        let Some((instruments, channel, tick_type)) = parse_request(text) else {
            let refused = "{\"status\":\"5100\",\"resmsg\":\"Invalid Filter Syntax\"}";
            return (vec![Message::text(refused)], None);
        };
        self.instruments = instruments;
        self.channels.retain(|(c, _)| *c != channel);
        self.channels.push((channel, tick_type));
        let channels = self.channels.clone();
        let build = Box::new(move |c: usize, q: &mut Quote, now: i64| {
            let (channel, tick_type) = &channels[c];
            Message::text(match *channel {
                "transaction" => transaction(q, now),
                _ => ticker(q, now, tick_type),
            })
        });
        let ack = "{\"status\":\"0000\",\"resmsg\":\"Filter Registered Successfully\"}";
        (
            vec![Message::text(ack)],
            Some(Feed::every(&self.instruments, self.channels.len(), build)),
        )
    }
}

/// `{"type":"ticker","symbols":["BTC_KRW"],"tickTypes":["24H"]}` or
/// `{"type":"transaction","symbols":["BTC_KRW"]}`.
fn parse_request(text: &str) -> Option<(Vec<Instrument>, &'static str, String)> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let channel = match v.get("type")?.as_str()? {
        "ticker" => "ticker",
        "transaction" => "transaction",
        _ => return None,
    };
    let instruments = v
        .get("symbols")?
        .as_array()?
        .iter()
        .map(|s| parse_legacy_symbol(s.as_str()?))
        .collect::<Option<Vec<_>>>()?;
    let tick_type = v
        .get("tickTypes")
        .and_then(|t| t.as_array())
        .and_then(|t| t.first())
        .and_then(|t| t.as_str())
        .unwrap_or("24H")
        .to_owned();
    Some((instruments, channel, tick_type))
}

/// The KST wall clock at epoch ms.
fn kst(now_ms: i64) -> CivilTime {
    CivilTime::from_unix_micros(now_ms * 1000, KST_OFFSET_SECS)
}

/// Legacy `ticker`: every value a string, date and time as KST wall clock.
fn ticker(q: &Quote, now_ms: i64, tick_type: &str) -> String {
    let t = kst(now_ms);
    let date = format!("{:04}{:02}{:02}", t.year, t.month, t.day);
    let time = format!("{:02}{:02}{:02}", t.hour, t.minute, t.second);
    let change = q.last - q.open;
    let rate = if q.open.is_zero() {
        Decimal::ZERO
    } else {
        (change / q.open * Decimal::ONE_HUNDRED).round_dp(2)
    };
    let symbol = legacy_symbol(&q.instrument);
    format!(
        "{{\"type\":\"ticker\",\"content\":{{\"symbol\":\"{symbol}\",\"tickType\":\"{tick_type}\",\
         \"date\":\"{date}\",\"time\":\"{time}\",\"openPrice\":\"{}\",\"closePrice\":\"{}\",\
         \"lowPrice\":\"{}\",\"highPrice\":\"{}\",\"value\":\"{}\",\"volume\":\"{}\",\
         \"sellVolume\":\"0\",\"buyVolume\":\"{}\",\"prevClosePrice\":\"{}\",\"chgRate\":\"{rate}\",\
         \"chgAmt\":\"{change}\",\"volumePower\":\"100.00\"}}}}",
        q.open,
        q.last,
        q.low,
        q.high,
        q.quote_volume.round_dp(8),
        q.volume,
        q.volume,
        q.prev_close,
    )
}

/// Legacy `transaction`: a list of one trade, `contDtm` in KST with microseconds.
fn transaction(q: &Quote, now_ms: i64) -> String {
    let t = kst(now_ms);
    let side = if q.trade_id % 2 == 0 { "2" } else { "1" };
    format!(
        "{{\"type\":\"transaction\",\"content\":{{\"list\":[{{\"buySellGb\":\"{side}\",\
         \"contPrice\":\"{}\",\"contQty\":\"{}\",\"contAmt\":\"{}\",\
         \"contDtm\":\"{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}\",\"updn\":\"up\",\
         \"symbol\":\"{}\"}}]}}}}",
        q.last,
        q.last_qty,
        (q.last * q.last_qty).round_dp(8),
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        t.micros,
        legacy_symbol(&q.instrument),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::time::{MICROS_PER_SEC, parse_compact_date_time};

    #[test]
    fn kst_round_trips_through_the_adapter_calendar() {
        let q = super::super::market::Market::new(&[Instrument::parse("BTC-KRW").unwrap()], 1)
            .step(&Instrument::parse("BTC-KRW").unwrap())
            .cloned()
            .unwrap();
        for ms in [
            0i64,
            1_580_267_924_000,
            1_709_218_800_000,
            1_763_615_720_176,
        ] {
            let frame = ticker(&q, ms, "24H");
            let v: serde_json::Value = serde_json::from_str(&frame).unwrap();
            let (d, t) = (
                v["content"]["date"].as_str().unwrap(),
                v["content"]["time"].as_str().unwrap(),
            );
            let back = parse_compact_date_time(d, t)
                .unwrap()
                .to_unix_micros(KST_OFFSET_SECS)
                .unwrap();
            assert_eq!(back, ms / 1000 * MICROS_PER_SEC, "{ms}: {d} {t}");
        }
    }
}
