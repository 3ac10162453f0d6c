//! Just enough x87 `long double` to print wrk's unit-scaled numbers exactly.
//!
//! wrk and wrk2 scale values in `long double` (`amt /= 1000`) and print them
//! with `%.2Lf`. Integer inputs such as 2995 µs land on decimal ties
//! (2.995 ms): the 64-bit-mantissa quotient is just below the tie and glibc
//! prints `2.99`, while the `f64` quotient is just above it and Rust prints
//! `3.00` (golden wrk2-04, the 99.990% line). This module keeps the scaled
//! value as a correctly rounded 64-bit-mantissa binary number and prints
//! its exact decimal expansion rounded like glibc (to nearest, ties to even).

use std::cmp::Ordering;

/// A finite, non-negative binary number `mant · 2^exp` with a 64-bit
/// mantissa (top bit set unless zero), like an x87 extended value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ext {
    mant: u64,
    exp: i32,
}

impl Ext {
    /// Exact conversion of a finite, non-negative `f64` (sign is the
    /// caller's business; NaN/inf are handled before reaching here).
    pub fn from_f64(x: f64) -> Ext {
        let x = x.abs();
        if x == 0.0 || !x.is_finite() {
            return Ext { mant: 0, exp: 0 };
        }
        let bits = x.to_bits();
        let biased = ((bits >> 52) & 0x7ff) as i32;
        let frac = bits & ((1u64 << 52) - 1);
        let (m, e) = if biased == 0 {
            (frac, -1074)
        } else {
            (frac | (1u64 << 52), biased - 1075)
        };
        let shift = m.leading_zeros() as i32;
        Ext {
            mant: m << shift,
            exp: e - shift,
        }
    }

    fn is_zero(self) -> bool {
        self.mant == 0
    }

    /// `self / d`, rounded to 64 bits (to nearest, ties to even) like x87.
    pub fn div(self, d: u64) -> Ext {
        if self.is_zero() || d == 0 {
            return self;
        }
        let n = (self.mant as u128) << 64;
        let q = n / d as u128;
        let sticky = !n.is_multiple_of(d as u128);
        let bits = 128 - q.leading_zeros() as i32;
        let shift = bits - 64;
        let (mut mant, low) = if shift > 0 {
            ((q >> shift) as u64, q & ((1u128 << shift) - 1))
        } else {
            ((q << -shift) as u64, 0)
        };
        let mut exp = self.exp - 64 + shift;
        if shift > 0 {
            let half = 1u128 << (shift - 1);
            let up = low > half || (low == half && (sticky || mant & 1 == 1));
            if up {
                mant = mant.wrapping_add(1);
                if mant == 0 {
                    mant = 1 << 63;
                    exp += 1;
                }
            }
        }
        Ext { mant, exp }
    }

    /// Ordering against a finite non-negative `f64`.
    pub fn cmp_f64(self, x: f64) -> Ordering {
        let o = Ext::from_f64(x);
        match (self.is_zero(), o.is_zero()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            _ => self.exp.cmp(&o.exp).then(self.mant.cmp(&o.mant)),
        }
    }

    /// `%.{decimals}Lf` of the exact value (decimals ≤ 6); `None` when the
    /// value is too large for exact integer arithmetic here.
    pub fn fixed(self, decimals: usize) -> Option<String> {
        let decimals = decimals.min(6);
        let pow = 10u128.pow(decimals as u32);
        let n = self.mant as u128 * pow; // < 2^84
        let q = if self.exp >= 0 {
            if self.exp > 40 {
                return None;
            }
            n << self.exp
        } else {
            let s = (-self.exp) as u32;
            if s >= 127 {
                0 // below 2^-43 · 10^6: prints as zero
            } else {
                let q = n >> s;
                let low = n & ((1u128 << s) - 1);
                let half = 1u128 << (s - 1);
                if low > half || (low == half && q & 1 == 1) {
                    q + 1
                } else {
                    q
                }
            }
        };
        let int = q / pow;
        let frac = q % pow;
        Some(if decimals == 0 {
            format!("{int}")
        } else {
            format!("{int}.{frac:0decimals$}")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scaled(n: f64, d: u64, decimals: usize) -> String {
        Ext::from_f64(n).div(d).fixed(decimals).unwrap()
    }

    #[test]
    fn extended_ties_differ_from_f64() {
        // glibc/x87: 2995/1000 → "2.99" (golden wrk2-04); f64 gives 3.00.
        assert_eq!(scaled(2995.0, 1000, 2), "2.99");
        assert_eq!(format!("{:.2}", 2995.0f64 / 1000.0), "3.00");
        assert_eq!(crate::wrk::units::format_time_us(2995.0), "2.99ms");
        // Checked against glibc `%.2Lf` of `(long double)i / 1000` for every
        // i below 3,000,000 (f64 differs on 144,000 of them, this on none).
        for (us, want) in [(1065.0, "1.07ms"), (1075.0, "1.08ms"), (1115.0, "1.12ms")] {
            assert_eq!(crate::wrk::units::format_time_us(us), want);
        }
        assert_eq!(crate::wrk::units::format_time_us(3_005_000.0), "3.01s");
    }

    #[test]
    fn plain_values_match_f64_formatting() {
        for n in [
            0.0, 1.0, 849.99, 1234.0, 1960.0, 146.0, 123456.0, 1e12, 0.001,
        ] {
            for d in [1u64, 60, 1000, 1024, 1_000_000] {
                let want = format!("{:.2}", n / d as f64);
                let got = scaled(n, d, 2);
                // Only ties may differ; these inputs have none.
                assert_eq!(got, want, "{n}/{d}");
            }
        }
    }

    #[test]
    fn exact_ties_round_to_even() {
        assert_eq!(Ext::from_f64(0.125).fixed(2).unwrap(), "0.12");
        assert_eq!(Ext::from_f64(0.375).fixed(2).unwrap(), "0.38");
        assert_eq!(Ext::from_f64(2.5).fixed(0).unwrap(), "2");
        assert_eq!(Ext::from_f64(3.5).fixed(0).unwrap(), "4");
    }

    #[test]
    fn compare_with_threshold() {
        assert_eq!(Ext::from_f64(850.0).cmp_f64(850.0), Ordering::Equal);
        assert_eq!(Ext::from_f64(849.0).cmp_f64(850.0), Ordering::Less);
        assert_eq!(Ext::from_f64(0.0).cmp_f64(850.0), Ordering::Less);
        assert_eq!(
            Ext::from_f64(1e6).div(1000).cmp_f64(870.4),
            Ordering::Greater
        );
    }

    #[test]
    fn huge_and_tiny_values() {
        assert_eq!(Ext::from_f64(1e300).fixed(2), None);
        assert_eq!(Ext::from_f64(1e-300).fixed(2).unwrap(), "0.00");
        assert_eq!(
            Ext::from_f64(f64::MIN_POSITIVE / 4.0)
                .div(3)
                .fixed(2)
                .unwrap(),
            "0.00"
        );
        assert_eq!(
            Ext::from_f64(u64::MAX as f64).fixed(0).unwrap(),
            "18446744073709551616"
        );
    }
}
