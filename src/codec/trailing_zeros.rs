//! Stripping a decimal's trailing zeros without dividing.
//!
//! Every decimal on the wire is an integer at scale 18 (`decimal(38,18)`), so a price such as
//! `95000000` arrives as `95000000 × 10^18` and must lose up to 18 trailing zeros to become the
//! canonical (normalized) `Decimal`. `Decimal::normalize` does that one digit at a time, each
//! a division of its 96-bit mantissa by ten (three hardware divisions); with a dozen decimals a
//! tick that was most of the cache's decode time (`cargo bench --bench pipeline --
//! cache_decode_one_message`, BENCHMARKS.md). Here the test and the division by a power of five
//! are multiplications by its inverse modulo 2^128 (Granlund and Montgomery's exact-division
//! trick), and the power of two is a shift. Hand-written because no well-kept crate offers it
//! for `u128`; the tests hold it to `normalize` and to plain division.

/// The inverse of odd `d` modulo 2^128 (Newton's iteration doubles the correct bits each step:
/// 7 steps from the 3 that `d` itself gives, past 128).
const fn inverse(d: u128) -> u128 {
    let mut x = d;
    let mut i = 0;
    while i < 7 {
        x = x.wrapping_mul(2u128.wrapping_sub(d.wrapping_mul(x)));
        i += 1;
    }
    x
}

/// `(5^k, its inverse, u128::MAX / 5^k)` for k = 16, 8, 4, 2, 1: a greedy pass over them
/// finds any count of factors of five up to 31.
const POWERS: [(u32, u128, u128); 5] = {
    let mut out = [(0, 0, 0); 5];
    let mut i = 0;
    while i < 5 {
        let k = 16 >> i;
        let d = 5u128.pow(k);
        out[i] = (k, inverse(d), u128::MAX / d);
        i += 1;
    }
    out
};

/// `m` without its trailing decimal zeros, at most `max` of them (`max` ≤ 31): `(m / 10^k, k)`.
/// Zero keeps `max` zeros off: `(0, max)`.
#[inline]
pub(crate) fn strip(m: u128, max: u32) -> (u128, u32) {
    debug_assert!(max <= 31);
    // 10^k divides m only if 2^k does.
    let limit = max.min(m.trailing_zeros());
    let (mut fives, mut k) = (m, 0);
    for (p, inverse, bound) in POWERS {
        if k + p <= limit {
            // m · 5^-p mod 2^128 is m / 5^p when 5^p divides m, and above MAX / 5^p when not.
            let q = fives.wrapping_mul(inverse);
            if q <= bound {
                fives = q;
                k += p;
            }
        }
    }
    (fives >> k, k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    /// The plain way: divide by ten while it divides.
    fn by_division(mut m: u128, max: u32) -> (u128, u32) {
        let mut k = 0;
        while k < max && m.is_multiple_of(10) {
            m /= 10;
            k += 1;
        }
        (m, k)
    }

    #[test]
    fn inverses_are_inverses() {
        for (k, inverse, bound) in POWERS {
            let d = 5u128.pow(k);
            assert_eq!(d.wrapping_mul(inverse), 1, "5^{k}");
            assert_eq!(bound, u128::MAX / d);
        }
    }

    #[test]
    fn edges() {
        assert_eq!(strip(0, 18), (0, 18));
        assert_eq!(strip(1, 18), (1, 0));
        assert_eq!(strip(10, 0), (10, 0));
        assert_eq!(strip(95_000_000 * 10u128.pow(18), 18), (95_000_000, 18));
        assert_eq!(strip(95_000_000 * 10u128.pow(18), 31), (95, 24));
        assert_eq!(strip(10u128.pow(38), 31), (10u128.pow(7), 31));
        assert_eq!(strip(u128::MAX, 18), by_division(u128::MAX, 18));
        // Divisible by 5^k but not by 2^k, and the other way round.
        assert_eq!(strip(5u128.pow(20), 18), (5u128.pow(20), 0));
        assert_eq!(strip(1 << 100, 18), (1 << 100, 0));
        assert_eq!(strip(3 * 10u128.pow(5) * (1 << 7), 18), (3 << 7, 5));
    }

    proptest! {
        #[test]
        fn agrees_with_division(m in any::<u128>(), zeros in 0u32..=38, max in 0u32..=31) {
            let m = m.checked_mul(10u128.pow(zeros)).unwrap_or(m);
            prop_assert_eq!(strip(m, max), by_division(m, max));
        }

        #[test]
        fn agrees_with_normalize(m in -10_000_000_000i64..=10_000_000_000, zeros in 0u32..=18) {
            // Within a Decimal's 96 bits at scale 18 (|v| ≤ 10^28).
            let v = i128::from(m) * 10i128.pow(zeros);
            let (stripped, k) = strip(v.unsigned_abs(), 18);
            let signed = if v < 0 { -(stripped as i128) } else { stripped as i128 };
            let ours = Decimal::from_i128_with_scale(signed, 18 - k);
            let theirs = Decimal::from_i128_with_scale(v, 18).normalize();
            prop_assert_eq!(ours.mantissa(), theirs.mantissa());
            prop_assert_eq!(ours.scale(), theirs.scale());
        }
    }
}
