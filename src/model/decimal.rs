//! Exact decimal parsing from JSON number tokens (and numeric strings) into `rust_decimal`.
//!
//! Why our own parser: `serde_json` would route numbers through `f64`, and
//! `Decimal::from_str` does not accept exponent forms such as `6E-8` or `9.9E-7`, which real
//! Upbit frames contain. This parser follows the JSON number grammar exactly, never rounds,
//! and strips insignificant trailing zeros so every value has one canonical form.

use rust_decimal::Decimal;

/// Largest number of significant digits `rust_decimal` can carry (its mantissa is 96 bits).
const MAX_SIGNIFICANT_DIGITS: u32 = 29;
/// Largest scale `rust_decimal` supports.
const MAX_SCALE: i64 = 28;
/// 2^96: the mantissa of a `Decimal` must stay below this.
const MANTISSA_LIMIT: u128 = 1 << 96;

/// Why a token is not an exact decimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// The token does not follow the JSON number grammar (NaN, Infinity, `1.`, `+1`, ...).
    #[error("not a decimal number")]
    Syntax,
    /// More significant digits, or a smaller or larger magnitude, than can be carried exactly.
    #[error("cannot be carried exactly (more than 28 significant digits or out of range)")]
    Inexact,
}

/// Parses a JSON number token, e.g. `123.00000000`, `-0.0082`, `6E-8`, exactly.
///
/// The result is normalized: `123.000` and `1.23E2` both give `123`.
pub fn parse_decimal(token: &[u8]) -> Result<Decimal, DecimalError> {
    match parse_short(token) {
        Some(d) => Ok(d),
        None => parse_general(token),
    }
}

/// Fast path for the common shape: at most 19 digits, no exponent (every Binance and Bithumb
/// price). Accepts exactly the tokens the general parser accepts with the same result, and
/// returns `None` for everything else, including every invalid token.
#[inline]
fn parse_short(token: &[u8]) -> Option<Decimal> {
    let (negative, body) = match token.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, token),
    };
    let mut mantissa: u64 = 0;
    let mut i = 0;
    digit_run(body, &mut i, &mut mantissa);
    let int_len = i;
    // JSON: `0` or a non-zero-led integer part.
    if int_len == 0 || (int_len > 1 && body[0] == b'0') {
        return None;
    }
    let mut scale = 0;
    let mut zeros = 0;
    if body.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        digit_run(body, &mut i, &mut mantissa);
        if i == start {
            return None;
        }
        // Trailing zeros are not significant: counted from the text (Binance pads every
        // value to 8 places) and removed from the mantissa below.
        zeros = trailing_zero_digits(&body[start..i]);
        scale = i - start - zeros;
    }
    // Exponents, trailing bytes and long digit runs (which could wrap) take the general path.
    // `i` counts the digits plus the point, so at most 19 digits means `i` <= 20 with a point.
    let digits = if scale + zeros > 0 { i - 1 } else { i };
    if i != body.len() || digits > 19 {
        return None;
    }
    let mantissa = without_trailing_zeros(mantissa, zeros);
    if mantissa == 0 {
        return Some(Decimal::ZERO);
    }
    // At most 19 digits: the mantissa fits 64 bits and the scale is at most 18.
    if scale > 18 {
        return None;
    }
    Some(Decimal::from_parts(
        mantissa as u32,
        (mantissa >> 32) as u32,
        0,
        negative,
        scale as u32,
    ))
}

/// How many `0` digits end `digits` (ASCII digits), eight at a time from the end.
#[inline(always)]
fn trailing_zero_digits(digits: &[u8]) -> usize {
    let mut end = digits.len();
    let mut zeros = 0;
    while end >= 8 {
        let mut word = [0u8; 8];
        word.copy_from_slice(&digits[end - 8..end]);
        // Little-endian: the last digit is the highest byte, so trailing `0` digits are the
        // leading zero bytes once `0` is cleared from each byte.
        let x = u64::from_le_bytes(word) ^ 0x3030_3030_3030_3030;
        if x != 0 {
            return zeros + (x.leading_zeros() / 8) as usize;
        }
        zeros += 8;
        end -= 8;
    }
    while end > 0 && digits[end - 1] == b'0' {
        zeros += 1;
        end -= 1;
    }
    zeros
}

/// `mantissa / 10^zeros` for the zeros [`trailing_zero_digits`] counted (at most 18 here):
/// one arm per count so each divisor is a constant, which compiles to a multiply and a shift
/// instead of a 64-bit division (tens of cycles).
#[inline(always)]
fn without_trailing_zeros(mantissa: u64, zeros: usize) -> u64 {
    macro_rules! by_count {
        ($($n:literal)*) => {
            match zeros {
                0 => mantissa,
                $($n => mantissa / POW10_U64[$n],)*
                _ => mantissa / POW10_U64[zeros.min(19)],
            }
        };
    }
    by_count!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18)
}

/// Accumulates the run of ASCII digits at `*i` into `mantissa` (wrapping: callers reject runs
/// longer than 19 digits), eight digits per step where it can (SWAR).
#[inline(always)]
fn digit_run(bytes: &[u8], i: &mut usize, mantissa: &mut u64) {
    while let Some(chunk) = bytes.get(*i..*i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_le_bytes(word);
        // All eight bytes are '0'..='9' iff each high nibble is 3 and adding 6 keeps it 3.
        let all_digits = (v & 0xf0f0_f0f0_f0f0_f0f0) == 0x3030_3030_3030_3030
            && (v.wrapping_add(0x0606_0606_0606_0606) & 0xf0f0_f0f0_f0f0_f0f0)
                == 0x3030_3030_3030_3030;
        if !all_digits {
            break;
        }
        // Little-endian: the first digit is the lowest byte. Combine pairs, quads, octets.
        let v = v - 0x3030_3030_3030_3030;
        let v = (v.wrapping_mul(10) + (v >> 8)) & 0x00ff_00ff_00ff_00ff;
        let v = (v.wrapping_mul(100) + (v >> 16)) & 0x0000_ffff_0000_ffff;
        let v = (v.wrapping_mul(10_000) + (v >> 32)) & 0x0000_0000_ffff_ffff;
        *mantissa = mantissa.wrapping_mul(100_000_000).wrapping_add(v);
        *i += 8;
    }
    while let Some(&d @ b'0'..=b'9') = bytes.get(*i) {
        *mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
        *i += 1;
    }
}

/// The general parser: any JSON number, exponents and up to 29 significant digits.
fn parse_general(token: &[u8]) -> Result<Decimal, DecimalError> {
    let mut i = 0;
    let negative = token.first() == Some(&b'-');
    if negative {
        i += 1;
    }
    let mut acc = Accumulator::default();
    // Integer part: `0` or a non-zero digit followed by digits.
    match token.get(i) {
        Some(b'0') => {
            i += 1;
        }
        Some(b'1'..=b'9') => {
            while let Some(&d @ b'0'..=b'9') = token.get(i) {
                acc.push(d - b'0', false)?;
                i += 1;
            }
        }
        _ => return Err(DecimalError::Syntax),
    }
    if token.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while let Some(&d @ b'0'..=b'9') = token.get(i) {
            acc.push(d - b'0', true)?;
            i += 1;
        }
        if i == start {
            return Err(DecimalError::Syntax);
        }
    }
    if matches!(token.get(i), Some(b'e' | b'E')) {
        i += 1;
        let exp_negative = match token.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        let mut exp: i64 = 0;
        while let Some(&d @ b'0'..=b'9') = token.get(i) {
            // Anything beyond a few digits is out of range for a Decimal anyway.
            exp = (exp * 10 + i64::from(d - b'0')).min(1_000_000);
            i += 1;
        }
        if i == start {
            return Err(DecimalError::Syntax);
        }
        acc.exponent += if exp_negative { -exp } else { exp };
    }
    if i != token.len() {
        return Err(DecimalError::Syntax);
    }
    acc.finish(negative)
}

/// Parses the text of a JSON string that holds a number (Binance and Bithumb send prices as
/// strings). The same strict grammar applies: no spaces, no `+`, no `NaN`.
pub fn parse_decimal_str(text: &str) -> Result<Decimal, DecimalError> {
    parse_decimal(text.as_bytes())
}

/// 10^n for n in 0..=38: every power of ten an `i128`/`u128` holds.
pub(crate) const POW10_U128: [u128; 39] = {
    let mut table = [1u128; 39];
    let mut i = 1;
    while i < 39 {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
};

/// The powers of ten that fit a `u64` (10^0 ..= 10^19), taken from [`POW10_U128`].
const POW10_U64: [u64; 20] = {
    let mut table = [0u64; 20];
    let mut i = 0;
    while i < 20 {
        table[i] = POW10_U128[i] as u64;
        i += 1;
    }
    table
};

/// Digits seen so far: `value = mantissa * 10^(exponent + pending_zeros)`.
///
/// The mantissa lives in a `u64` while it has at most 19 digits (every price seen so far) and
/// moves to `u128` only beyond that: 128-bit multiplies per digit were the parser's main cost.
#[derive(Default)]
struct Accumulator {
    small: u64,
    wide: Option<u128>,
    digits: u32,
    /// Zeros seen after the last non-zero digit, folded in only if another non-zero follows,
    /// so trailing zeros never count against the digit limit.
    pending_zeros: u32,
    exponent: i64,
}

impl Accumulator {
    #[inline]
    fn push(&mut self, digit: u8, fractional: bool) -> Result<(), DecimalError> {
        if fractional {
            self.exponent -= 1;
        }
        if digit == 0 {
            if self.digits > 0 {
                self.pending_zeros += 1;
            }
            return Ok(());
        }
        let needed = self.digits + self.pending_zeros + 1;
        if needed > MAX_SIGNIFICANT_DIGITS {
            return Err(DecimalError::Inexact);
        }
        let shift = self.pending_zeros + 1;
        match self.wide {
            None if needed <= 19 => {
                self.small = self.small * POW10_U64[shift as usize] + u64::from(digit);
            }
            _ => {
                let m = self.wide.unwrap_or(u128::from(self.small));
                self.wide = Some(m * 10u128.pow(shift) + u128::from(digit));
            }
        }
        self.digits = needed;
        self.pending_zeros = 0;
        Ok(())
    }

    fn finish(self, negative: bool) -> Result<Decimal, DecimalError> {
        let mut mantissa = self.wide.unwrap_or(u128::from(self.small));
        if mantissa == 0 {
            return Ok(Decimal::ZERO);
        }
        let mut exponent = self.exponent + i64::from(self.pending_zeros);
        if exponent > 0 {
            // A whole number with trailing zeros: scale up, staying within the mantissa.
            if exponent > i64::from(MAX_SIGNIFICANT_DIGITS) {
                return Err(DecimalError::Inexact);
            }
            mantissa = mantissa
                .checked_mul(10u128.pow(exponent as u32))
                .ok_or(DecimalError::Inexact)?;
            exponent = 0;
        }
        let scale = -exponent;
        if scale > MAX_SCALE || mantissa >= MANTISSA_LIMIT {
            return Err(DecimalError::Inexact);
        }
        let signed = if negative {
            -(mantissa as i128)
        } else {
            mantissa as i128
        };
        Decimal::try_from_i128_with_scale(signed, scale as u32).map_err(|_| DecimalError::Inexact)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn parses_exact_values_table() {
        let cases = [
            ("0", "0"),
            ("-0", "0"),
            ("0.0", "0"),
            ("123.00000000", "123"),
            ("94160.02000000", "94160.02"),
            ("-0.0082180744", "-0.0082180744"),
            ("6E-8", "0.00000006"),
            ("9.9E-7", "0.00000099"),
            ("8.428e-05", "0.00008428"),
            ("1.23E2", "123"),
            ("1e+3", "1000"),
            ("1000", "1000"),
            ("199349146.64212320", "199349146.6421232"),
            ("0.000000000000000001", "0.000000000000000001"),
            ("1.000000000000000000000000000000000000", "1"),
            (
                "79228162514264337593543950335",
                "79228162514264337593543950335",
            ),
        ];
        for (input, want) in cases {
            let got = parse_decimal(input.as_bytes()).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(got, d(want), "{input}");
            assert_eq!(got.to_string(), want, "{input} must be normalized");
        }
    }

    #[test]
    fn rejects_non_json_numbers() {
        for bad in [
            "",
            "-",
            "NaN",
            "nan",
            "Infinity",
            "-Infinity",
            "+1",
            "1.",
            ".5",
            "01",
            "1e",
            "1e+",
            "1.5.2",
            " 1",
            "1 ",
            "0x10",
            "1_000",
            "١",
            "1,5",
            "--1",
            "1e5e5",
        ] {
            assert_eq!(
                parse_decimal(bad.as_bytes()),
                Err(DecimalError::Syntax),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn rejects_values_that_cannot_be_carried_exactly() {
        for bad in [
            "123456789012345678901234567890",  // 30 significant digits
            "1.23456789012345678901234567891", // 30 significant digits
            "1e-29",                           // scale beyond 28
            "1e30",                            // magnitude beyond 96 bits
            "79228162514264337593543950336",   // 2^96
            "1e999999999999999999999999",      // absurd exponent
        ] {
            assert_eq!(
                parse_decimal(bad.as_bytes()),
                Err(DecimalError::Inexact),
                "{bad}"
            );
        }
    }

    proptest::proptest! {
        /// The fast path and the general parser agree on every token (valid or not).
        #[test]
        fn fast_path_agrees_with_general_parser(token in "-?[0-9]{0,22}(\\.[0-9]{0,22})?([eE][-+]?[0-9]{0,3})?[x:/]?") {
            if let Some(fast) = parse_short(token.as_bytes()) {
                proptest::prop_assert_eq!(Ok(fast), parse_general(token.as_bytes()));
                proptest::prop_assert_eq!(fast.to_string(), parse_general(token.as_bytes()).unwrap().to_string());
            }
        }
    }

    #[test]
    fn trailing_zeros_do_not_count_as_significant() {
        let long = format!("1.{}", "0".repeat(200));
        assert_eq!(parse_decimal(long.as_bytes()), Ok(Decimal::ONE));
        let leading = format!("0.{}1", "0".repeat(20));
        assert_eq!(
            parse_decimal(leading.as_bytes()),
            Ok(d("0.000000000000000000001"))
        );
    }
}
