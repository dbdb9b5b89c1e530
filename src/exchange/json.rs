//! Shared wire helpers: exact numbers from raw JSON tokens, single-pass object visitors and
//! mapping of parser errors to typed rejections.

use crate::model::decimal::{DecimalError, parse_decimal};
use crate::model::{Reason, Rejection, reject::clip};
use rust_decimal::Decimal;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;

/// A raw JSON value, kept as its token text so numbers never pass through `f64`.
pub(crate) type Raw<'a> = &'a RawValue;

/// Size and UTF-8 checks done before any parsing.
pub(crate) fn frame_text(bytes: &[u8], max_frame_bytes: usize) -> Result<&str, Rejection> {
    if bytes.len() > max_frame_bytes {
        return Err(Rejection::new(
            Reason::FrameTooLarge,
            format!(
                "frame of {} bytes exceeds the {max_frame_bytes}-byte limit",
                bytes.len()
            ),
        ));
    }
    std::str::from_utf8(bytes).map_err(|e| {
        Rejection::new(
            Reason::InvalidUtf8,
            format!("invalid utf-8 at byte {}", e.valid_up_to()),
        )
    })
}

/// Maps a `serde_json` error to a rejection (syntax vs. shape).
pub(crate) fn json_error(e: &serde_json::Error) -> Rejection {
    use serde_json::error::Category;
    let reason = match e.classify() {
        Category::Data => Reason::WrongType,
        Category::Syntax | Category::Eof | Category::Io => Reason::MalformedJson,
    };
    Rejection::new(reason, clip(&e.to_string(), 160))
}

/// A JSON object decoded in one pass by a [`Fields`] implementation.
pub(crate) struct Object<F>(pub F);

/// Receives an object's fields one at a time; unknown keys must be skipped by the implementor.
pub(crate) trait Fields<'de>: Default {
    /// Handles `key`; must consume exactly one value from `map`.
    fn field<A: MapAccess<'de>>(&mut self, key: &'de str, map: &mut A) -> Result<(), A::Error>;
}

/// Parses `text` as one JSON object into `F`.
pub(crate) fn parse_object<'de, F: Fields<'de>>(text: &'de str) -> Result<F, Rejection> {
    serde_json::from_str::<Object<F>>(text)
        .map(|o| o.0)
        .map_err(|e| json_error(&e))
}

impl<'de, F: Fields<'de>> Deserialize<'de> for Object<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<F>(std::marker::PhantomData<F>);
        impl<'de, F: Fields<'de>> Visitor<'de> for V<F> {
            type Value = Object<F>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = F::default();
                while let Some(key) = map.next_key::<&'de str>()? {
                    fields.field(key, &mut map)?;
                }
                Ok(Object(fields))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// Skips a value the canonical model does not need.
pub(crate) fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<IgnoredAny>().map(|_| ())
}

/// Stores the next value in `slot`, remembering the first repeated key.
pub(crate) fn store<'de, A, T>(
    slot: &mut Option<T>,
    duplicate: &mut Option<&'static str>,
    name: &'static str,
    map: &mut A,
) -> Result<(), A::Error>
where
    A: MapAccess<'de>,
    T: Deserialize<'de>,
{
    let value: Option<T> = map.next_value()?;
    if slot.is_some() && duplicate.is_none() {
        *duplicate = Some(name);
    }
    if value.is_some() {
        *slot = value;
    }
    Ok(())
}

/// Rejects an object that repeated a key: which value is real would be a guess.
pub(crate) fn no_duplicate(duplicate: Option<&'static str>) -> Result<(), Rejection> {
    match duplicate {
        Some(name) => Err(Rejection::new(
            Reason::MalformedJson,
            format!("duplicate field `{name}`"),
        )),
        None => Ok(()),
    }
}

/// The text of a numeric token: a JSON number, or a JSON string holding one (Binance and
/// Bithumb quote numbers). `Ok(None)` for an empty string, which exchanges send for "absent".
fn numeric_text<'a>(field: &str, raw: Raw<'a>) -> Result<Option<&'a str>, Rejection> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'"') => {
            let inner = &text[1..text.len() - 1];
            if inner.contains('\\') {
                return Err(Rejection::new(
                    Reason::InvalidDecimal,
                    format!("`{field}` holds an escaped string, not a number"),
                ));
            }
            Ok((!inner.is_empty()).then_some(inner))
        }
        Some(b'-' | b'0'..=b'9') => Ok(Some(text)),
        _ => Err(Rejection::new(
            Reason::WrongType,
            format!("`{field}` must be a number, got {}", clip(text, 24)),
        )),
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
    use std::str::FromStr;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap()
    }

    #[test]
    fn numbers_and_numeric_strings() {
        let d = |t: &str| decimal("x", Some(&raw(t)));
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
        let i = |t: &str| integer("sid", Some(&raw(t)));
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

    #[test]
    fn percent_is_exact() {
        let p = percent_to_fraction("P", Some(Decimal::from_str("-2.875").unwrap())).unwrap();
        assert_eq!(p, Some(Decimal::from_str("-0.02875").unwrap()));
    }
}
