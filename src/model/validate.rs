//! Fail-fast validation of a canonical tick. Each rule has its own [`Reason`] code.

use super::decimal::POW10_U128;
use super::{Rejection, Tick, reject::Reason};
use rust_decimal::Decimal;

/// Largest scale the wire carries: Avro `decimal(38,18)`.
pub const WIRE_SCALE: u32 = 18;
/// Largest number of integer digits the wire carries (38 - 18).
pub const WIRE_INTEGER_DIGITS: u32 = 20;

/// Validation knobs. Defaults suit live feeds; backfills widen the time window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidationConfig {
    /// How far an exchange event time may lag our receive time.
    pub max_event_lag_ms: i64,
    /// How far an exchange event time may lead our receive time (clock skew).
    pub max_event_lead_ms: i64,
    /// Turns the time-window rule off (for replaying old captures).
    pub check_time_window: bool,
}

impl ValidationConfig {
    /// Default lag: five minutes.
    pub const fn default_max_event_lag_ms() -> i64 {
        300_000
    }
    /// Default lead: one minute.
    pub const fn default_max_event_lead_ms() -> i64 {
        60_000
    }
}

impl Default for ValidationConfig {
    fn default() -> Self {
        Self {
            max_event_lag_ms: Self::default_max_event_lag_ms(),
            max_event_lead_ms: Self::default_max_event_lead_ms(),
            check_time_window: true,
        }
    }
}

/// The value as an integer count of 10^-18 (the Avro wire's unscaled value) when it fits
/// `decimal(38,18)` exactly: at most 18 significant fractional digits and at most 20 integer
/// digits; `None` otherwise. Works on mantissa and scale (no `Decimal` comparisons, which
/// dominated validation cost); comparing these values is exact.
#[inline(always)]
pub fn wire_unscaled(value: Decimal) -> Option<i128> {
    let value = if value.scale() > WIRE_SCALE {
        value.normalize()
    } else {
        value
    };
    let (mantissa, scale) = (value.mantissa(), value.scale());
    // |mantissa| / 10^scale < 10^20  <=>  |mantissa| < 10^(20 + scale), with scale <= 18,
    // so the product stays below 10^38.
    (scale <= WIRE_SCALE
        && mantissa.unsigned_abs() < POW10_U128[(WIRE_INTEGER_DIGITS + scale) as usize])
        .then(|| mantissa * POW10_U128[(WIRE_SCALE - scale) as usize] as i128)
}

/// Whether `value` fits Avro `decimal(38,18)` exactly (see [`wire_unscaled`]).
#[inline(always)]
pub fn fits_wire(value: Decimal) -> bool {
    wire_unscaled(value).is_some()
}

/// What a decimal field may hold.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sign {
    /// Prices: strictly positive.
    Positive,
    /// Quantities and volumes: zero or more.
    NonNegative,
    /// Changes: any sign.
    Any,
}

/// The sign rule of each field of [`Tick::DECIMAL_FIELDS`], in the same order.
const SIGN_RULES: [Sign; 14] = [
    Sign::Positive,    // last_price
    Sign::NonNegative, // last_qty
    Sign::Positive,    // open_price
    Sign::Positive,    // high_price
    Sign::Positive,    // low_price
    Sign::Positive,    // prev_close_price
    Sign::Any,         // change
    Sign::Any,         // change_rate
    Sign::NonNegative, // volume_24h_base
    Sign::NonNegative, // volume_24h_quote
    Sign::Positive,    // bid_price
    Sign::NonNegative, // bid_qty
    Sign::Positive,    // ask_price
    Sign::NonNegative, // ask_qty
];

/// The wire and sign rules of decimal field `i` of [`Tick::DECIMAL_FIELDS`]. Inlined with a
/// constant `i`, the name and rule fold away and a present value costs a few comparisons.
#[inline(always)]
fn check_decimal(i: usize, value: Option<Decimal>) -> Result<(), Rejection> {
    let Some(v) = value else { return Ok(()) };
    let broken = !fits_wire(v)
        || match SIGN_RULES[i] {
            Sign::Positive => v.is_sign_negative() || v.is_zero(),
            Sign::NonNegative => v.is_sign_negative() && !v.is_zero(),
            Sign::Any => false,
        };
    if broken {
        return Err(decimal_rejection(Tick::DECIMAL_FIELDS[i], v, SIGN_RULES[i]));
    }
    Ok(())
}

/// Why a value broke its field's rules (the wire rule first, as the checks run).
#[cold]
#[inline(never)]
fn decimal_rejection(name: &str, v: Decimal, rule: Sign) -> Rejection {
    if !fits_wire(v) {
        return Rejection::new(
            Reason::UnrepresentableValue,
            format!("`{name}` = {v} does not fit decimal(38,18)"),
        );
    }
    match rule {
        Sign::Positive => Rejection::new(
            Reason::NonPositivePrice,
            format!("`{name}` must be > 0, got {v}"),
        ),
        _ => Rejection::new(
            Reason::NegativeQuantity,
            format!("`{name}` must be >= 0, got {v}"),
        ),
    }
}

/// Checks every rule, failing on the first broken one. Every value passes the wire check
/// before the comparisons after the decimals, so those can use exact integer arithmetic.
pub fn validate(tick: &Tick, config: &ValidationConfig) -> Result<(), Rejection> {
    // Each present value must fit the wire, then obey its sign rule, in schema order. Field
    // by field: iterating over `Tick::decimals()` copied all 14 first (a third of the cost).
    check_decimal(0, Some(tick.last_price))?;
    check_decimal(1, tick.last_qty)?;
    check_decimal(2, tick.open_price)?;
    check_decimal(3, tick.high_price)?;
    check_decimal(4, tick.low_price)?;
    check_decimal(5, tick.prev_close_price)?;
    check_decimal(6, tick.change)?;
    check_decimal(7, tick.change_rate)?;
    check_decimal(8, tick.volume_24h_base)?;
    check_decimal(9, tick.volume_24h_quote)?;
    check_decimal(10, tick.bid_price)?;
    check_decimal(11, tick.bid_qty)?;
    check_decimal(12, tick.ask_price)?;
    check_decimal(13, tick.ask_qty)?;
    if let (Some(high), Some(low)) = (tick.high_price, tick.low_price)
        && wire_unscaled(high) < wire_unscaled(low)
    {
        return Err(Rejection::new(
            Reason::HighBelowLow,
            format!("high_price {high} < low_price {low}"),
        ));
    }
    if let (Some(bid), Some(ask)) = (tick.bid_price, tick.ask_price)
        && wire_unscaled(bid) > wire_unscaled(ask)
    {
        return Err(Rejection::new(
            Reason::CrossedBook,
            format!("bid_price {bid} > ask_price {ask}"),
        ));
    }
    if config.check_time_window
        && let Some(event) = tick.event_ts_us
    {
        let lag_ms = (tick.received_ts_us - event) / 1000;
        if lag_ms > config.max_event_lag_ms || -lag_ms > config.max_event_lead_ms {
            return Err(Rejection::new(
                Reason::TimestampOutOfWindow,
                format!(
                    "event time {event} µs is {lag_ms} ms from receive time {} µs \
                     (allowed: {} ms behind, {} ms ahead)",
                    tick.received_ts_us, config.max_event_lag_ms, config.max_event_lead_ms
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EventKind, Exchange, Instrument};
    use std::str::FromStr;

    const NOW_US: i64 = 1_700_000_000_000_000;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn base() -> Tick {
        let mut t = Tick::new(
            Exchange::Upbit,
            Instrument::parse("BTC-KRW").unwrap(),
            "KRW-BTC",
            EventKind::Ticker,
            d("100"),
            NOW_US,
        );
        t.high_price = Some(d("110"));
        t.low_price = Some(d("90"));
        t.bid_price = Some(d("99"));
        t.ask_price = Some(d("101"));
        t.event_ts_us = Some(NOW_US - 5_000);
        t
    }

    #[test]
    fn each_rule_has_its_reason() {
        type Edit = fn(&mut Tick);
        let cases: [(Edit, Option<Reason>); 14] = [
            (|_| {}, None),
            (
                |t| t.last_price = Decimal::ZERO,
                Some(Reason::NonPositivePrice),
            ),
            (|t| t.last_price = d("-1"), Some(Reason::NonPositivePrice)),
            (
                |t| t.open_price = Some(Decimal::ZERO),
                Some(Reason::NonPositivePrice),
            ),
            (
                |t| t.volume_24h_base = Some(d("-0.1")),
                Some(Reason::NegativeQuantity),
            ),
            (|t| t.volume_24h_base = Some(Decimal::ZERO), None),
            (|t| t.high_price = Some(d("80")), Some(Reason::HighBelowLow)),
            (|t| t.bid_price = Some(d("102")), Some(Reason::CrossedBook)),
            (|t| t.bid_price = Some(d("101")), None), // locked book is allowed
            (
                |t| t.event_ts_us = Some(NOW_US - 301_000_000),
                Some(Reason::TimestampOutOfWindow),
            ),
            (
                |t| t.event_ts_us = Some(NOW_US + 61_000_000),
                Some(Reason::TimestampOutOfWindow),
            ),
            (|t| t.event_ts_us = None, None),
            (
                |t| t.change = Some(d("0.0000000000000000001")),
                Some(Reason::UnrepresentableValue),
            ),
            (
                |t| t.volume_24h_quote = Some(d("100000000000000000000")),
                Some(Reason::UnrepresentableValue),
            ),
        ];
        for (i, (edit, want)) in cases.into_iter().enumerate() {
            let mut t = base();
            edit(&mut t);
            let got = validate(&t, &ValidationConfig::default())
                .err()
                .map(|r| r.reason);
            assert_eq!(got, want, "case {i}");
        }
    }

    #[test]
    fn sign_rules_follow_field_names() {
        for (name, rule) in Tick::DECIMAL_FIELDS.iter().zip(SIGN_RULES) {
            let want = if name.ends_with("_price") {
                Sign::Positive
            } else if name.starts_with("change") {
                Sign::Any
            } else {
                Sign::NonNegative
            };
            assert!(rule == want, "{name}");
        }
    }

    #[test]
    fn time_window_is_configurable() {
        let mut t = base();
        t.event_ts_us = Some(123_456_789_000);
        let strict = ValidationConfig::default();
        assert!(validate(&t, &strict).is_err());
        let off = ValidationConfig {
            check_time_window: false,
            ..strict
        };
        assert!(validate(&t, &off).is_ok());
    }

    #[test]
    fn wire_bounds() {
        assert!(fits_wire(d("99999999999999999999.99999999")));
        assert!(fits_wire(d("9999999999.999999999999999999")));
        assert!(fits_wire(d("-0.000000000000000001")));
        assert!(!fits_wire(d("0.0000000000000000001")));
        assert!(!fits_wire(d("100000000000000000000")));
        assert!(fits_wire(d("1.000000000000000000000000")));
    }
}
