//! The canonical best bid/offer, shared by every venue's book decoder.

use crate::model::{EventKind, Rejection, Tick};
use rust_decimal::Decimal;

/// Both sides of the top of a book, as the venue sent them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Top {
    pub bid: Decimal,
    pub bid_qty: Decimal,
    pub ask: Decimal,
    pub ask_qty: Decimal,
}

/// Fills a `BEST_BID_OFFER` tick (its kind already set): both sides, and as `last_price` the
/// mid price, exactly `(bid + ask) / 2`: the field is required since schema v1 and this event
/// carries no trade. Prices of zero (an empty side) or a crossed book are refused by
/// validation, never turned into null or a guess.
#[inline]
pub(crate) fn fill(tick: &mut Tick, top: Top) -> Result<(), Rejection> {
    debug_assert_eq!(tick.kind, EventKind::BestBidOffer);
    tick.last_price = mid(top.bid, top.ask).ok_or_else(|| {
        Rejection::new(
            crate::model::Reason::UnrepresentableValue,
            format!(
                "mid price of {} and {} cannot be carried exactly",
                top.bid, top.ask
            ),
        )
    })?;
    tick.bid_price = Some(top.bid);
    tick.bid_qty = Some(top.bid_qty);
    tick.ask_price = Some(top.ask);
    tick.ask_qty = Some(top.ask_qty);
    Ok(())
}

/// `(a + b) / 2` exactly and normalized, on the mantissas: `(a + b) * 5` one decimal place
/// further, or `(a + b) / 2` at the same scale when the sum is even (rust_decimal's general
/// division costs more than the rest of a best bid/offer). `None` past 28 digits.
fn mid(a: Decimal, b: Decimal) -> Option<Decimal> {
    mid_u64(a, b).or_else(|| mid_i128(a, b))
}

/// [`mid`] for any inputs.
fn mid_i128(a: Decimal, b: Decimal) -> Option<Decimal> {
    let scale = a.scale().max(b.scale());
    let widen = |d: Decimal| -> Option<i128> {
        let up = crate::model::decimal::POW10_U128.get((scale - d.scale()) as usize)?;
        d.mantissa().checked_mul(*up as i128)
    };
    let sum = widen(a)?.checked_add(widen(b)?)?;
    let (mantissa, scale) = if sum % 2 == 0 {
        (sum / 2, scale)
    } else {
        (sum.checked_mul(5)?, scale + 1)
    };
    let d = Decimal::try_from_i128_with_scale(mantissa, scale).ok()?;
    // Inputs are normalized, so only an even sum can leave a trailing zero.
    Some(if mantissa % 10 == 0 { d.normalize() } else { d })
}

/// [`mid`] for the usual quotes: both non-negative with 64-bit mantissas, and no 64-bit
/// overflow on the way, where the remainders are cheap (`i128` `%` is a library call).
/// `None` sends the rest to the general version.
#[inline(always)]
fn mid_u64(a: Decimal, b: Decimal) -> Option<Decimal> {
    let scale = a.scale().max(b.scale());
    let widen = |d: Decimal| -> Option<u64> {
        let m = u64::try_from(d.mantissa()).ok()?;
        m.checked_mul(*crate::model::decimal::POW10_U128.get((scale - d.scale()) as usize)? as u64)
    };
    let sum = widen(a)?.checked_add(widen(b)?)?;
    let (mantissa, scale) = if sum % 2 == 0 {
        (sum / 2, scale)
    } else {
        (sum.checked_mul(5)?, scale + 1)
    };
    if scale > Decimal::MAX_SCALE {
        return None;
    }
    let d = Decimal::from_parts(mantissa as u32, (mantissa >> 32) as u32, 0, false, scale);
    // Inputs are normalized, so only an even sum can leave a trailing zero.
    Some(if mantissa % 10 == 0 { d.normalize() } else { d })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Exchange, Instrument};
    use std::str::FromStr;

    #[test]
    fn mid_is_exact() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        let mut t = Tick::new(
            Exchange::Binance,
            Instrument::parse("BTC-USDT").unwrap(),
            "BTCUSDT",
            EventKind::BestBidOffer,
            Decimal::ZERO,
            1,
        );
        fill(
            &mut t,
            Top {
                bid: d("61837.63"),
                bid_qty: d("3.78826"),
                ask: d("61837.64"),
                ask_qty: d("1.54698"),
            },
        )
        .unwrap();
        assert_eq!(t.last_price, d("61837.635"));
        assert_eq!(t.kind, EventKind::BestBidOffer);
    }

    #[test]
    fn mid_agrees_with_rust_decimal() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        for (a, b) in [
            ("1", "2"),
            ("1.5", "2.5"),
            ("100", "101"),
            ("0.35210000", "0.35260000"),
            ("143880000", "143890000"),
            ("0.000000000000000001", "0.000000000000000002"),
            ("99999999999999999999.5", "99999999999999999999.5"),
            ("7", "7"),
        ] {
            let (a, b) = (d(a).normalize(), d(b).normalize());
            let want = ((a + b) / Decimal::TWO).normalize();
            let got = mid(a, b).unwrap();
            assert_eq!((got, got.scale()), (want, want.scale()), "{a} {b}");
        }
        // Past 64 bits and negative: the general version.
        for (a, b) in [("18446744073709551615", "1"), ("-1.5", "2.5"), ("-3", "-4")] {
            let (a, b) = (d(a), d(b));
            assert_eq!(mid(a, b).unwrap(), ((a + b) / Decimal::TWO).normalize());
        }
        // 28 significant digits at scale 28 plus one more place: not representable.
        let tiny = Decimal::from_i128_with_scale(1, 28);
        assert_eq!(mid(tiny, Decimal::ZERO), None);
    }

    proptest::proptest! {
        #[test]
        fn mid_is_the_exact_mean(a in -10i128.pow(15)..10i128.pow(15), b in -10i128.pow(15)..10i128.pow(15),
                                 sa in 0u32..=12, sb in 0u32..=12) {
            let a = Decimal::from_i128_with_scale(a, sa).normalize();
            let b = Decimal::from_i128_with_scale(b, sb).normalize();
            let want = ((a + b) / Decimal::TWO).normalize();
            let got = mid(a, b).unwrap();
            proptest::prop_assert_eq!((got, got.scale()), (want, want.scale()));
        }

        #[test]
        fn both_versions_agree(a in 0i128..10i128.pow(20), b in 0i128..10i128.pow(20),
                               sa in 0u32..=18, sb in 0u32..=18) {
            let a = Decimal::from_i128_with_scale(a, sa).normalize();
            let b = Decimal::from_i128_with_scale(b, sb).normalize();
            if let Some(fast) = mid_u64(a, b) {
                let general = mid_i128(a, b).unwrap();
                proptest::prop_assert_eq!((fast, fast.scale()), (general, general.scale()));
            }
        }
    }
}
