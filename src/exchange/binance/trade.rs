//! `<symbol>@trade` and `<symbol>@aggTrade`: one trade each, with the aggressor side.
//!
//! ```json
//! {"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000",
//!  "q":"0.02000000","T":1723161255342,"m":true,"M":true}
//! {"e":"aggTrade","E":1633998523963,"s":"NKNUSDT","a":15683430,"p":"0.35280000",
//!  "q":"58.00000000","f":19862790,"l":19862790,"T":1633998523963,"m":false,"M":true}
//! ```
//! `m` says the buyer is the maker, so the taker sold: `m: true` is a `SELL`. The trade id (`t`,
//! or the aggregate id `a`) is the tick's sequence; an aggregate whose first trade id `f` is
//! above its last `l` is refused (seen in testnet data).

use super::event::EventFields;
use crate::exchange::json::{boolean, integer, millis_to_micros, required_decimal};
use crate::model::{Reason, Rejection, Tick, TradeSide};

/// Fills a trade; `aggregate` for `aggTrade`.
#[inline]
pub(super) fn fill(
    tick: &mut Tick,
    ev: &EventFields<'_>,
    aggregate: bool,
) -> Result<(), Rejection> {
    tick.last_price = required_decimal("p", ev.p)?;
    tick.last_qty = Some(required_decimal("q", ev.q)?);
    let (id_key, id) = if aggregate { ("a", ev.a) } else { ("t", ev.t) };
    tick.sequence = Some(integer(id_key, id)?.ok_or_else(|| Rejection::missing(id_key))?);
    if aggregate {
        let first = integer("f", ev.f)?.ok_or_else(|| Rejection::missing("f"))?;
        let last = integer("l", ev.l)?.ok_or_else(|| Rejection::missing("l"))?;
        if first > last {
            return Err(Rejection::new(
                Reason::InvalidSequence,
                format!("aggregate trade's first trade id {first} is above its last {last}"),
            ));
        }
    }
    let trade_ms = integer("T", ev.big_t)?.ok_or_else(|| Rejection::missing("T"))?;
    tick.trade_ts_us = millis_to_micros("T", Some(trade_ms))?;
    let event_ms = integer("E", ev.event_time)?.ok_or_else(|| Rejection::missing("E"))?;
    tick.event_ts_us = millis_to_micros("E", Some(event_ms))?;
    let buyer_is_maker = boolean("m", ev.m)?.ok_or_else(|| Rejection::missing("m"))?;
    tick.trade_side = Some(if buyer_is_maker {
        TradeSide::Sell
    } else {
        TradeSide::Buy
    });
    Ok(())
}
