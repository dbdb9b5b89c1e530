//! `<symbol>@bookTicker`: the best bid and ask, pushed on every change.
//!
//! ```json
//! {"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000",
//!  "a":"61837.64000000","A":"1.54698000"}
//! ```
//! Spot sends no event type and **no event time**: the tick's `event_ts_us` is null (only the
//! receive time is known), and `u`, the book update id, is its sequence.

use super::event::EventFields;
use crate::exchange::book::{self, Top};
use crate::exchange::json::{integer, required_decimal};
use crate::model::{Rejection, Tick};

/// Fills a best bid/offer.
#[inline]
pub(super) fn fill(tick: &mut Tick, ev: &EventFields<'_>) -> Result<(), Rejection> {
    let top = Top {
        bid: required_decimal("b", ev.b)?,
        bid_qty: required_decimal("B", ev.big_b)?,
        ask: required_decimal("a", ev.a)?,
        ask_qty: required_decimal("A", ev.big_a)?,
    };
    book::fill(tick, top)?;
    tick.sequence = Some(integer("u", ev.u)?.ok_or_else(|| Rejection::missing("u"))?);
    Ok(())
}
