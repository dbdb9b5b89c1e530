//! Frames as each exchange writes them, built from a [`Quote`]. Field sets follow the
//! documented formats (see `../shared/EXCHANGES.md`), so the real adapters decode them
//! unchanged.

use super::market::Quote;
use crate::model::time::CivilTime;
use rust_decimal::Decimal;
use std::fmt::Write as _;

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

/// Upbit-format (`type: ticker`) message, DEFAULT or SIMPLE keys; `code` is `QUOTE-BASE`.
pub fn upbit_ticker(q: &Quote, now_ms: i64, simple: bool) -> String {
    let code = crate::exchange::upbit::market_code(&q.instrument);
    let (change, rate) = (q.change(), q.change_rate());
    let k = |default: &'static str, short: &'static str| if simple { short } else { default };
    let mut s = String::with_capacity(640);
    let _ = write!(
        s,
        "{{\"{}\":\"ticker\",\"{}\":\"{code}\",\"{}\":{},\"{}\":{},\"{}\":{},\"{}\":{},\"{}\":{},\
         \"{}\":\"{}\",\"{}\":{},\"{}\":{},\"{}\":{},\"{}\":{},\"{}\":{},\"{}\":{},\"{}\":{},\
         \"{}\":{},\"{}\":{now_ms},\"{}\":\"REALTIME\"}}",
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

/// Upbit-format `trade` message (DEFAULT keys). `id_as_string` matches Bithumb v1.
pub fn upbit_trade(q: &Quote, now_ms: i64, id_as_string: bool) -> String {
    let code = crate::exchange::upbit::market_code(&q.instrument);
    let change = q.change();
    let id = if id_as_string {
        format!("\"{}\"", q.trade_id)
    } else {
        q.trade_id.to_string()
    };
    format!(
        "{{\"type\":\"trade\",\"code\":\"{code}\",\"timestamp\":{now_ms},\"trade_timestamp\":{now_ms},\
         \"trade_price\":{},\"trade_volume\":{},\"ask_bid\":\"BID\",\"prev_closing_price\":{},\
         \"change\":\"{}\",\"change_price\":{},\"sequential_id\":{id},\"stream_type\":\"REALTIME\"}}",
        q.last,
        q.last_qty,
        q.prev_close,
        change_word(change),
        change.abs(),
    )
}

/// Binance `24hrTicker` (or `24hrMiniTicker`) payload; strings with 8 decimals as Binance does.
pub fn binance_ticker(q: &Quote, symbol: &str, now_ms: i64, mini: bool) -> String {
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

/// Bithumb legacy `ticker`: every value a string, date and time as KST wall clock.
pub fn bithumb_legacy_ticker(q: &Quote, now_ms: i64, tick_type: &str) -> String {
    let (date, time) = kst_date_time(now_ms);
    let change = q.last - q.open;
    let rate = if q.open.is_zero() {
        Decimal::ZERO
    } else {
        (change / q.open * Decimal::ONE_HUNDRED).round_dp(2)
    };
    let symbol = crate::exchange::bithumb::legacy_symbol(&q.instrument);
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

/// `yyyyMMdd` and `HHmmss` in KST (UTC+9) for an epoch time in ms.
fn kst_date_time(now_ms: i64) -> (String, String) {
    let t = CivilTime::from_unix_micros(now_ms * 1000, 9 * 3600);
    (
        format!("{:04}{:02}{:02}", t.year, t.month, t.day),
        format!("{:02}{:02}{:02}", t.hour, t.minute, t.second),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::time::{MICROS_PER_SEC, parse_compact_date_time};

    #[test]
    fn kst_round_trips_through_the_adapter_calendar() {
        for ms in [
            0i64,
            1_580_267_924_000,
            1_709_218_800_000,
            1_763_615_720_176,
        ] {
            let (d, t) = kst_date_time(ms);
            let back = parse_compact_date_time(&d, &t)
                .unwrap()
                .to_unix_micros(9 * 3600)
                .unwrap();
            assert_eq!(back, ms / 1000 * MICROS_PER_SEC, "{ms}: {d} {t}");
        }
    }
}
