//! The Redis contract (version 1): what API servers read.
//!
//! - Hash `px:{BASE-QUOTE}:EXCHANGE` (e.g. `px:{BTC-KRW}:UPBIT`; the braces are the Redis
//!   Cluster hash tag, so every exchange's price of one instrument shares a slot). Fields, all
//!   strings: `contract_version`, `exchange`, `instrument`, `native_symbol`, `kind`, every
//!   decimal of the canonical tick that is present (exact, e.g. `last_price`), `event_ts`,
//!   `trade_ts`, `received_ts`, `updated_ts` (UTC epoch µs), `seq` when the exchange sends one,
//!   and `ver`, the ordering version the compare-and-set uses: (event time, sequence, receive
//!   time), with the event time counting at most 1 s ahead of the receive time, so that a tick
//!   from a skewed exchange clock cannot hold a key against the live feed ([`order`]). Since schema v2 also
//!   `stream_type` (`SNAPSHOT`/`REALTIME`), `market_state` and `delisting_date` (`yyyy-MM-dd`)
//!   where the exchange sends them (an additive change: contract version stays 1). Absent data
//!   is an absent field.
//!   `simulated` = `true` marks synthetic data (from `tickflow simulate`, Kafka header
//!   `simulated: true`); real ticks have no such field.
//! - The same hash is PUBLISHed, as compact JSON, on a channel named like the key.
//! - Sorted set `px:index:EXCHANGE`: known instruments, scored by the last update (epoch ms).
//! - Keys expire after the configured TTL without updates (dead markets retire themselves).
//!
//! The prefix (`px`) is configurable.

use crate::model::{Exchange, Tick};
use std::fmt::Write as _;

/// Version of this contract, stored in every hash.
pub const CONTRACT_VERSION: &str = "1";

/// `PREFIX:{INSTRUMENT}:EXCHANGE`.
pub fn price_key(prefix: &str, instrument: &str, exchange: Exchange) -> String {
    format!("{prefix}:{{{instrument}}}:{}", exchange.as_str())
}

/// `PREFIX:index:EXCHANGE`.
pub fn index_key(prefix: &str, exchange: Exchange) -> String {
    format!("{prefix}:index:{}", exchange.as_str())
}

/// A signed 64-bit value as 20 digits that sort like the numbers (offset by 2^63).
#[cfg(test)]
fn sortable(v: i64) -> String {
    let mut s = String::new();
    push_sortable(&mut s, v);
    s
}

fn push_sortable(out: &mut String, v: i64) {
    let _ = write!(out, "{:020}", (v as u64) ^ (1 << 63));
}

/// How far ahead of its receive time a tick's event time counts for ordering. Validation
/// admits ticks dated up to a minute ahead (exchange clocks drift); ordering by such a date
/// would let one skewed tick hold its key against the live feed for that minute. Capped, a
/// tick dated ahead orders as if stamped `received + FUTURE_ORDERING_US`, and the next tick
/// received after that supersedes it.
pub const FUTURE_ORDERING_US: i64 = 1_000_000;

/// The ordering of ticks of one key: (event time, sequence, receive time). Event time falls
/// back to trade time, then receive time, and counts at most [`FUTURE_ORDERING_US`] ahead of
/// the receive time; a missing sequence counts as the smallest. Receive time breaks ties
/// between two distinct ticks of the same millisecond without a sequence, while a replay of
/// the same tick (same receive time) stays a duplicate.
pub fn order(tick: &Tick) -> (i64, i64, i64) {
    let event = tick
        .event_ts_us
        .or(tick.trade_ts_us)
        .unwrap_or(tick.received_ts_us)
        .min(tick.received_ts_us.saturating_add(FUTURE_ORDERING_US));
    (
        event,
        tick.sequence.unwrap_or(i64::MIN),
        tick.received_ts_us,
    )
}

/// The ordering version stored in Redis: [`order`] as one fixed-width string of digits that
/// sorts like the tuple, so the Lua script compares exactly with a string comparison (Lua
/// numbers are doubles; sequence ids exceed 2^53).
pub fn version(tick: &Tick) -> String {
    let (event, sequence, received) = order(tick);
    let mut v = String::with_capacity(60);
    push_sortable(&mut v, event);
    push_sortable(&mut v, sequence);
    push_sortable(&mut v, received);
    v
}

/// The hash fields of `tick`, in a fixed order, with `updated_ts` (µs) of the write.
pub fn fields(tick: &Tick, updated_ts_us: i64) -> Vec<(&'static str, String)> {
    let mut f = Vec::with_capacity(28);
    f.push(("contract_version", CONTRACT_VERSION.to_owned()));
    f.push(("exchange", tick.exchange.as_str().to_owned()));
    f.push(("instrument", tick.instrument.to_string()));
    f.push(("native_symbol", tick.native_symbol.to_string()));
    f.push(("kind", tick.kind.as_str().to_owned()));
    for (name, value) in Tick::DECIMAL_FIELDS.iter().zip(tick.decimals()) {
        if let Some(d) = value {
            f.push((name, d.to_string()));
        }
    }
    if let Some(t) = tick.event_ts_us {
        f.push(("event_ts", t.to_string()));
    }
    if let Some(t) = tick.trade_ts_us {
        f.push(("trade_ts", t.to_string()));
    }
    if let Some(s) = tick.sequence {
        f.push(("seq", s.to_string()));
    }
    // Since schema v2; absent when the exchange does not send them.
    if let Some(t) = tick.stream_type {
        f.push(("stream_type", t.as_str().to_owned()));
    }
    if let Some(m) = tick.market_state {
        f.push(("market_state", m.as_str().to_owned()));
    }
    if let Some(d) = tick.delisting_date {
        f.push(("delisting_date", crate::model::time::format_date_days(d)));
    }
    if tick.simulated {
        f.push(("simulated", "true".to_owned()));
    }
    f.push(("received_ts", tick.received_ts_us.to_string()));
    f.push(("updated_ts", updated_ts_us.to_string()));
    f.push(("ver", version(tick)));
    f
}

/// The PUBLISH payload: the hash as compact JSON (all values strings, like the hash).
pub fn json(fields: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(512);
    out.push('{');
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // Keys are fixed identifiers; values are digits, symbols and upper-case names, but
        // escape anyway so the payload is always valid JSON.
        let _ = write!(out, "\"{k}\":{}", serde_json::Value::String(v.clone()));
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EventKind, Instrument};

    #[test]
    fn keys_follow_the_contract() {
        assert_eq!(
            price_key("px", "BTC-KRW", Exchange::Upbit),
            "px:{BTC-KRW}:UPBIT"
        );
        assert_eq!(index_key("px", Exchange::Binance), "px:index:BINANCE");
    }

    #[test]
    fn versions_sort_like_the_numbers() {
        let cases = [
            i64::MIN,
            -5,
            -1,
            0,
            1,
            9,
            10,
            1 << 53,
            (1 << 53) + 1,
            i64::MAX,
        ];
        for w in cases.windows(2) {
            assert!(sortable(w[0]) < sortable(w[1]), "{} vs {}", w[0], w[1]);
            assert_eq!(sortable(w[0]).len(), 20);
        }
    }

    #[test]
    fn version_orders_event_then_sequence_then_receive() {
        let btc = Instrument::new("BTC", "KRW").unwrap();
        let mut a = Tick::new(
            Exchange::Upbit,
            btc,
            "KRW-BTC",
            EventKind::Ticker,
            1.into(),
            10,
        );
        a.event_ts_us = Some(1_000);
        a.sequence = Some(17_000_000_000_000_001);
        let mut b = a.clone();
        b.sequence = Some(17_000_000_000_000_002); // above 2^53, one apart
        assert!(version(&a) < version(&b));
        let mut c = b.clone();
        c.event_ts_us = Some(999);
        assert!(version(&c) < version(&a), "event time first");
        let mut d = a.clone();
        d.received_ts_us = 11;
        assert!(version(&a) < version(&d));
        assert_eq!(version(&a), version(&a.clone()));
        // The tuple Rust coalesces with orders exactly like the string Redis compares.
        let mut e = a.clone();
        e.sequence = None;
        let mut f = a.clone();
        f.event_ts_us = None;
        f.trade_ts_us = Some(-3);
        let all = [&a, &b, &c, &d, &e, &f];
        for x in all {
            for y in all {
                assert_eq!(order(x).cmp(&order(y)), version(x).cmp(&version(y)));
            }
        }
    }
}
