//! `<symbol>@ticker` (`24hrTicker`) and `<symbol>@miniTicker` (`24hrMiniTicker`).
//!
//! ```json
//! {"e":"24hrTicker","E":1516135684559,"s":"ETHBTC","p":"-0.00271700","P":"-2.875",
//!  "x":"0.09448900","c":"0.09177200","Q":"0.06100000","b":"0.09155300","B":"1.75300000",
//!  "a":"0.09177200","A":"1.83900000","o":"0.09448900","h":"0.09575800","l":"0.08100000",
//!  "v":"287542.79200000","q":"26334.24227973","L":22120714}
//! ```
//! `P` is a percentage (converted to a fraction exactly); `L` is -1 when the window holds no
//! trade.

use super::event::EventFields;
use crate::exchange::json::{
    Raw, decimal, integer, millis_to_micros, percent_to_fraction, required_decimal,
};
use crate::model::{Rejection, Tick};
use rust_decimal::Decimal;

/// Fills a ticker; `mini` for the mini ticker's smaller field set.
#[inline]
pub(super) fn fill(tick: &mut Tick, ev: &EventFields<'_>, mini: bool) -> Result<(), Rejection> {
    tick.last_price = required_decimal("c", ev.c)?;
    tick.open_price = decimal("o", ev.o)?;
    tick.high_price = decimal("h", ev.h)?;
    tick.low_price = decimal("l", ev.l)?;
    tick.volume_24h_base = decimal("v", ev.v)?;
    tick.volume_24h_quote = decimal("q", ev.q)?;
    let event_ms = integer("E", ev.event_time)?.ok_or_else(|| Rejection::missing("E"))?;
    tick.event_ts_us = millis_to_micros("E", Some(event_ms))?;
    if !mini {
        tick.last_qty = decimal("Q", ev.big_q)?;
        tick.prev_close_price = decimal("x", ev.x)?;
        tick.change = decimal("p", ev.p)?;
        tick.change_rate = percent_to_fraction("P", decimal("P", ev.big_p)?)?;
        (tick.bid_price, tick.bid_qty) = book_side(("b", ev.b), ("B", ev.big_b))?;
        (tick.ask_price, tick.ask_qty) = book_side(("a", ev.a), ("A", ev.big_a))?;
        tick.sequence = integer("L", ev.big_l)?.filter(|id| *id >= 0);
    }
    Ok(())
}

type Side<'a> = (&'static str, Option<Raw<'a>>);

/// One side of a ticker's best bid/offer. Binance sends `"0.00000000"` for an empty side: that
/// is "no quote" (null), not a price of zero.
fn book_side(
    price: Side<'_>,
    qty: Side<'_>,
) -> Result<(Option<Decimal>, Option<Decimal>), Rejection> {
    let p = decimal(price.0, price.1)?;
    let q = decimal(qty.0, qty.1)?;
    Ok(match p {
        Some(p) if p.is_zero() => (None, None),
        p => (p, q),
    })
}
