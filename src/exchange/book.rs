//! The canonical best bid/offer, shared by every venue's book decoder.

use crate::model::{EventKind, Exchange, Instrument, Rejection, Tick};
use rust_decimal::Decimal;

/// Both sides of the top of a book, as the venue sent them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Top {
    pub bid: Decimal,
    pub bid_qty: Decimal,
    pub ask: Decimal,
    pub ask_qty: Decimal,
}

/// A `BEST_BID_OFFER` tick. Its `last_price` is the mid price, exactly `(bid + ask) / 2`: the
/// field is required since schema v1 and this event carries no trade. Prices of zero (an empty
/// side) or a crossed book are refused by validation, never turned into null or a guess.
pub(crate) fn tick(
    exchange: Exchange,
    instrument: Instrument,
    native_symbol: &str,
    top: Top,
    received_ts_us: i64,
) -> Result<Tick, Rejection> {
    let mid = top
        .bid
        .checked_add(top.ask)
        .and_then(|sum| sum.checked_div(Decimal::TWO))
        .ok_or_else(|| {
            Rejection::new(
                crate::model::Reason::UnrepresentableValue,
                format!("mid price of {} and {} overflows", top.bid, top.ask),
            )
        })?;
    let mut tick = Tick::new(
        exchange,
        instrument,
        native_symbol,
        EventKind::BestBidOffer,
        mid.normalize(),
        received_ts_us,
    );
    tick.bid_price = Some(top.bid);
    tick.bid_qty = Some(top.bid_qty);
    tick.ask_price = Some(top.ask);
    tick.ask_qty = Some(top.ask_qty);
    Ok(tick)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn mid_is_exact() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        let t = tick(
            Exchange::Binance,
            Instrument::parse("BTC-USDT").unwrap(),
            "BTCUSDT",
            Top {
                bid: d("61837.63"),
                bid_qty: d("3.78826"),
                ask: d("61837.64"),
                ask_qty: d("1.54698"),
            },
            1,
        )
        .unwrap();
        assert_eq!(t.last_price, d("61837.635"));
        assert_eq!(t.kind, EventKind::BestBidOffer);
    }
}
