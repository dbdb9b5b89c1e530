//! `orderbook` in the Upbit format (Upbit, and Bithumb's v1 API): the top of the book, level 0
//! of `orderbook_units`, as a best bid/offer. Deeper levels are skipped unread.
//!
//! ```json
//! {"ty":"orderbook","cd":"KRW-LAMB","tms":1618678262640,"tas":25752275.55420627,
//!  "tbs":14407925.20098682,"obu":[{"ap":127.0,"bp":126.0,"as":280460.37885666,
//!  "bs":688682.44561413},{"ap":128.0,"bp":125.0,"as":502824.98156754,"bs":1924299.53689703}],
//!  "st":"REALTIME"}
//! ```
//! (SIMPLE keys; DEFAULT spells them `type`, `code`, `timestamp`, `orderbook_units`,
//! `ask_price`, `bid_price`, `ask_size`, `bid_size`, `stream_type`.) Bithumb sends the
//! timestamp in microseconds, as a string: a timestamp of 10^14 or more (year 5138 in ms) is
//! read as microseconds.

use crate::exchange::json::{Fields, Parser, Raw, integer, micros, millis_to_micros, store};
use crate::model::Rejection;

/// Level 0 of `orderbook_units`.
#[derive(Debug, Default)]
pub(crate) struct Unit<'a> {
    pub duplicate: Option<&'static str>,
    pub ask_price: Option<Raw<'a>>,
    pub bid_price: Option<Raw<'a>>,
    pub ask_size: Option<Raw<'a>>,
    pub bid_size: Option<Raw<'a>>,
}

impl<'a> Fields<'a> for Unit<'a> {
    fn field(&mut self, key: &'a str, p: &mut Parser<'a>) -> Result<(), Rejection> {
        let dup = &mut self.duplicate;
        match key {
            "ask_price" | "ap" => store(&mut self.ask_price, dup, "ask_price", p),
            "bid_price" | "bp" => store(&mut self.bid_price, dup, "bid_price", p),
            "ask_size" | "as" => store(&mut self.ask_size, dup, "ask_size", p),
            "bid_size" | "bs" => store(&mut self.bid_size, dup, "bid_size", p),
            _ => p.skip(),
        }
    }
}

/// `orderbook_units`: parses level 0 in place and skips the rest; `None` when empty.
pub(crate) fn top_level<'a>(p: &mut Parser<'a>) -> Result<Option<Unit<'a>>, Rejection> {
    let mut top = None;
    p.array(|p, index| {
        if index == 0 {
            top = Some(p.object::<Unit<'a>>()?);
            Ok(())
        } else {
            p.skip()
        }
    })?;
    Ok(top)
}

/// The book's time: epoch ms (Upbit), or µs (Bithumb, told apart by magnitude).
pub(crate) fn book_time_us(raw: Option<Raw<'_>>) -> Result<Option<i64>, Rejection> {
    const MICROS_FROM: i64 = 100_000_000_000_000;
    match integer("timestamp", raw)? {
        Some(t) if t >= MICROS_FROM => micros("timestamp", Some(t)),
        ms => millis_to_micros("timestamp", ms),
    }
}
