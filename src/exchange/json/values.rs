//! Exact values from tokens: decimals (numbers or numeric strings), int64 ids, epoch times,
//! percentages as fractions.

use super::scanner::{Raw, Token};
use crate::model::decimal::{DecimalError, parse_decimal};
use crate::model::{Reason, Rejection, reject::clip};
use rust_decimal::Decimal;

#[cold]
#[inline(never)]
fn wrong_number_type(field: &str, token: &Token<'_>) -> Rejection {
    Rejection::new(
        Reason::WrongType,
        format!("`{field}` must be a number, found {}", token.kind()),
    )
}

/// The text of a numeric token: a JSON number, or a JSON string holding one (Binance and
/// Bithumb quote numbers). `Ok(None)` for an empty string, which exchanges send for "absent".
fn numeric_text<'a>(field: &str, raw: Raw<'a>) -> Result<Option<&'a str>, Rejection> {
    match raw {
        Token::Num(text) => Ok(Some(text)),
        Token::EscapedStr(_) => Err(Rejection::new(
            Reason::InvalidDecimal,
            format!("`{field}` holds an escaped string, not a number"),
        )),
        Token::Str(text) => Ok((!text.is_empty()).then_some(text)),
        Token::Null => Ok(None),
        other => Err(wrong_number_type(field, &other)),
    }
}

/// An optional exact decimal.
pub(crate) fn decimal(field: &str, raw: Option<Raw<'_>>) -> Result<Option<Decimal>, Rejection> {
    let Some(raw) = raw else { return Ok(None) };
    let Some(text) = numeric_text(field, raw)? else {
        return Ok(None);
    };
    parse_decimal(text.as_bytes()).map(Some).map_err(|e| {
        let why = match e {
            DecimalError::Syntax => "is not a decimal number",
            DecimalError::Inexact => "cannot be carried exactly",
        };
        Rejection::new(
            Reason::InvalidDecimal,
            format!("`{field}` = {} {why}", clip(text, 40)),
        )
    })
}

/// A required exact decimal.
pub(crate) fn required_decimal(field: &str, raw: Option<Raw<'_>>) -> Result<Decimal, Rejection> {
    decimal(field, raw)?.ok_or_else(|| Rejection::missing(field))
}

/// An optional integer (number or numeric string), e.g. ids above 2^53 that must stay exact.
pub(crate) fn integer(field: &str, raw: Option<Raw<'_>>) -> Result<Option<i64>, Rejection> {
    let Some(raw) = raw else { return Ok(None) };
    let Some(text) = numeric_text(field, raw)? else {
        return Ok(None);
    };
    if let Some(n) = short_integer(text.as_bytes()) {
        return Ok(Some(n));
    }
    text.parse::<i64>().map(Some).map_err(|_| {
        let reason = if text.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
            Reason::UnrepresentableValue
        } else {
            Reason::InvalidDecimal
        };
        Rejection::new(
            reason,
            format!("`{field}` = {} is not an int64", clip(text, 40)),
        )
    })
}

/// `-?[0-9]{1,18}`, which cannot overflow an `i64`, with `str::parse`'s value; `None` for
/// anything else (which `str::parse` then decides). Ids and times are 10 to 19 digits: the
/// standard parser's checked multiply per digit cost more than the rest of the id's handling.
#[inline(always)]
fn short_integer(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut value: i64 = 0;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        value = value * 10 + i64::from(d);
    }
    Some(if negative { -value } else { value })
}

/// An optional JSON boolean (Binance `m`: the buyer is the maker).
pub(crate) fn boolean(field: &str, raw: Option<Raw<'_>>) -> Result<Option<bool>, Rejection> {
    match raw {
        None | Some(Token::Null) => Ok(None),
        Some(Token::True) => Ok(Some(true)),
        Some(Token::False) => Ok(Some(false)),
        Some(other) => Err(Rejection::new(
            Reason::WrongType,
            format!("`{field}` must be a boolean, found {}", other.kind()),
        )),
    }
}

/// Epoch microseconds, checked like [`millis_to_micros`] (Bithumb sends some times in µs).
pub(crate) fn micros(field: &str, us: Option<i64>) -> Result<Option<i64>, Rejection> {
    const MAX_US: i64 = 253_402_300_800_000_000; // 10000-01-01
    match us {
        None => Ok(None),
        Some(us) if (0..MAX_US).contains(&us) => Ok(Some(us)),
        Some(us) => Err(Rejection::new(
            Reason::InvalidTimestamp,
            format!("`{field}` = {us} is not an epoch time in microseconds"),
        )),
    }
}

/// Epoch milliseconds to microseconds; times before 1970 or past year 9999 are rejected.
pub(crate) fn millis_to_micros(field: &str, ms: Option<i64>) -> Result<Option<i64>, Rejection> {
    const MAX_MS: i64 = 253_402_300_800_000; // 10000-01-01
    match ms {
        None => Ok(None),
        Some(ms) if (0..MAX_MS).contains(&ms) => Ok(Some(ms * 1000)),
        Some(ms) => Err(Rejection::new(
            Reason::InvalidTimestamp,
            format!("`{field}` = {ms} is not an epoch time in milliseconds"),
        )),
    }
}

/// A percentage (`-2.875`) as a fraction (`-0.02875`), exactly.
pub(crate) fn percent_to_fraction(
    field: &str,
    pct: Option<Decimal>,
) -> Result<Option<Decimal>, Rejection> {
    let Some(mut value) = pct else {
        return Ok(None);
    };
    value.set_scale(value.scale() + 2).map_err(|_| {
        Rejection::new(
            Reason::InvalidDecimal,
            format!("`{field}` = {pct:?} has too many digits"),
        )
    })?;
    Ok(Some(value.normalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::json::scanner::Parser;
    use std::str::FromStr;

    fn tok(text: &str) -> Token<'_> {
        Parser::new(text).token().unwrap()
    }

    #[test]
    fn numbers_and_numeric_strings() {
        let d = |t: &str| decimal("x", Some(tok(t)));
        assert_eq!(
            d("6E-8").unwrap(),
            Some(Decimal::from_str("0.00000006").unwrap())
        );
        assert_eq!(
            d("\"0.0015\"").unwrap(),
            Some(Decimal::from_str("0.0015").unwrap())
        );
        assert_eq!(d("\"\"").unwrap(), None);
        assert_eq!(d("\"NaN\"").unwrap_err().reason, Reason::InvalidDecimal);
        assert_eq!(
            d("\"1\\u0030\"").unwrap_err().reason,
            Reason::InvalidDecimal
        );
        assert_eq!(d("true").unwrap_err().reason, Reason::WrongType);
        assert_eq!(d("{\"a\":1}").unwrap_err().reason, Reason::WrongType);
        assert_eq!(d("[1]").unwrap_err().reason, Reason::WrongType);
    }

    #[test]
    fn integers_stay_exact_above_2_pow_53() {
        let i = |t: &str| integer("sid", Some(tok(t)));
        assert_eq!(
            i("16185678262000003").unwrap(),
            Some(16_185_678_262_000_003)
        );
        assert_eq!(
            i("\"17000000000000001\"").unwrap(),
            Some(17_000_000_000_000_001)
        );
        assert_eq!(
            i("99999999999999999999").unwrap_err().reason,
            Reason::UnrepresentableValue
        );
        assert_eq!(i("1.5").unwrap_err().reason, Reason::InvalidDecimal);
    }

    proptest::proptest! {
        #[test]
        fn short_integers_agree_with_str_parse(text in "[-+]?[0-9a]{0,20}") {
            if let Some(n) = short_integer(text.as_bytes()) {
                proptest::prop_assert_eq!(Ok(n), text.parse::<i64>());
            } else {
                proptest::prop_assert!(text.trim_start_matches(['-', '+']).len() > 18
                    || text.parse::<i64>().is_err() || text.starts_with('+'));
            }
        }
    }

    #[test]
    fn percent_is_exact() {
        let p = percent_to_fraction("P", Some(Decimal::from_str("-2.875").unwrap())).unwrap();
        assert_eq!(p, Some(Decimal::from_str("-0.02875").unwrap()));
    }
}
