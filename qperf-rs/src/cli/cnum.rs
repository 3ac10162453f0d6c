//! The C number conversions stock qperf's argument parser is built on,
//! reproduced exactly: `strtol` (base 10), `strtold` (x86 80-bit long
//! double, 64-bit significand, correctly rounded) and the long-double
//! product-then-truncate that turns `1.001k` into 1001 (an `f64` would give
//! 1000) and `1e-3k` into 0 (an `f64` would give 1).
//!
//! Everything here is pure and total: no input panics.

use std::cmp::Ordering;

/// `isspace` in the C locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Skips C white space and one sign, as `strtol` and `strtold` do: the
/// index after them and whether the sign was `-`.
fn space_and_sign(b: &[u8]) -> (usize, bool) {
    let mut i = 0;
    while i < b.len() && is_c_space(b[i]) {
        i += 1;
    }
    let neg = i < b.len() && b[i] == b'-';
    if i < b.len() && (b[i] == b'+' || neg) {
        i += 1;
    }
    (i, neg)
}

/// C `strtol(s, &end, 10)`: returns the value and the unparsed rest.
/// Overflow clamps to `i64::MAX`/`i64::MIN`; no digits means value 0 and
/// the whole input as rest.
pub fn strtol(s: &str) -> (i64, &str) {
    let b = s.as_bytes();
    let (mut i, neg) = space_and_sign(b);
    let start = i;
    // Accumulate as a negative number so that i64::MIN is reachable.
    let mut acc: i64 = 0;
    let mut overflow = false;
    while i < b.len() && b[i].is_ascii_digit() {
        let d = i64::from(b[i] - b'0');
        match acc.checked_mul(10).and_then(|v| v.checked_sub(d)) {
            Some(v) => acc = v,
            None => overflow = true,
        }
        i += 1;
    }
    if i == start {
        return (0, s);
    }
    let v = if overflow {
        if neg {
            i64::MIN
        } else {
            i64::MAX
        }
    } else if neg {
        acc
    } else {
        acc.checked_neg().unwrap_or(i64::MAX)
    };
    (v, &s[i..])
}

/// An x86 80-bit extended value as `strtold` produces it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LongDouble {
    Zero {
        neg: bool,
    },
    /// `mant × 2^exp` with `mant` normalised to 64 significant bits.
    Finite {
        neg: bool,
        mant: u64,
        exp: i32,
    },
    Inf {
        neg: bool,
    },
    NaN,
}

impl LongDouble {
    /// `value < 0` as C evaluates it (NaN and -0 are not negative).
    pub fn is_negative(self) -> bool {
        matches!(
            self,
            Self::Finite { neg: true, .. } | Self::Inf { neg: true }
        )
    }

    /// C `(long)(value * m)` computed in long double: the product is
    /// rounded to 64 significant bits (half to even), then truncated toward
    /// zero; NaN, infinities and out-of-range results give `i64::MIN`, the
    /// x86 "integer indefinite" value.
    pub fn mul_trunc(self, m: u64) -> i64 {
        match self {
            Self::Zero { .. } => 0,
            Self::Inf { .. } | Self::NaN => i64::MIN,
            Self::Finite { .. } if m == 0 => 0,
            Self::Finite { neg, mant, exp } => {
                let p = u128::from(mant) * u128::from(m);
                let (mant, exp) = round_u128(p, false, exp);
                let mag = trunc_to_int(mant, exp);
                match mag {
                    None => i64::MIN,
                    Some(v) if neg => -(v as i64),
                    Some(v) => v as i64,
                }
            }
        }
    }
}

/// `mant × 2^exp` truncated to an integer below 2^63, or `None` if too big.
fn trunc_to_int(mant: u64, exp: i32) -> Option<u64> {
    if exp >= 0 {
        let bits = 64 - mant.leading_zeros() as i32;
        if bits + exp > 63 {
            None
        } else {
            Some(mant << exp)
        }
    } else if exp <= -64 {
        Some(0)
    } else {
        Some(mant >> (-exp))
    }
}

/// Rounds `p × 2^exp` (plus a sticky "a bit more" flag) to 64 significant
/// bits, half to even.
fn round_u128(p: u128, sticky: bool, exp: i32) -> (u64, i32) {
    let bits = 128 - p.leading_zeros() as i32;
    if bits <= 64 {
        // Exact; normalise so that the top bit is set.
        let shift = 64 - bits;
        return ((p as u64) << shift, exp - shift);
    }
    let s = bits - 64;
    let mut mant = (p >> s) as u64;
    let rem = p & ((1u128 << s) - 1);
    let half = 1u128 << (s - 1);
    let round_up = rem > half || (rem == half && (sticky || mant & 1 == 1));
    let mut exp = exp + s;
    if round_up {
        match mant.checked_add(1) {
            Some(v) => mant = v,
            None => {
                mant = 1 << 63;
                exp += 1;
            }
        }
    }
    (mant, exp)
}

/// Largest and smallest binary exponents of the 80-bit format (for a value
/// `mant × 2^exp` with a 64-bit `mant`).
const MAX_EXP: i32 = 16384 - 64;
const MIN_EXP: i32 = -16446 - 64;
/// Significant decimal digits kept; later non-zero digits become a sticky
/// bit, which is enough for correct rounding of any realistic input.
const MAX_DIGITS: usize = 1200;

/// C `strtold(s, &end)` in the C locale: the value and the unparsed rest.
/// No conversion gives zero and the whole input as rest.
pub fn strtold(s: &str) -> (LongDouble, &str) {
    let b = s.as_bytes();
    let (i, neg) = space_and_sign(b);
    let rest = &b[i..];
    if starts_with_ci(rest, b"inf") {
        let n = if starts_with_ci(rest, b"infinity") {
            8
        } else {
            3
        };
        return (LongDouble::Inf { neg }, &s[i + n..]);
    }
    if starts_with_ci(rest, b"nan") {
        let mut j = i + 3;
        if j < b.len() && b[j] == b'(' {
            let mut k = j + 1;
            while k < b.len() && (b[k].is_ascii_alphanumeric() || b[k] == b'_') {
                k += 1;
            }
            if k < b.len() && b[k] == b')' {
                j = k + 1;
            }
        }
        return (LongDouble::NaN, &s[j..]);
    }
    if rest.len() >= 2 && rest[0] == b'0' && (rest[1] | 0x20) == b'x' {
        if let Some((v, end)) = parse_hex(b, i + 2, neg) {
            return (v, &s[end..]);
        }
        // "0x" without hex digits: only the "0" converts.
        return (LongDouble::Zero { neg }, &s[i + 1..]);
    }
    match parse_dec(b, i, neg) {
        Some((v, end)) => (v, &s[end..]),
        None => (LongDouble::Zero { neg: false }, s),
    }
}

fn starts_with_ci(b: &[u8], pat: &[u8]) -> bool {
    b.len() >= pat.len() && b[..pat.len()].eq_ignore_ascii_case(pat)
}

/// Digits of a mantissa: the significant digits (leading zeros dropped),
/// the power of ten of the last kept digit, and whether non-zero digits
/// were dropped.
struct Digits {
    kept: Vec<u8>,
    sticky: bool,
}

/// Optional exponent `e[+-]digits` / `p[+-]digits` at `i`; returns the
/// value (saturated) and the end index, or `(0, i)` when absent.
fn parse_exponent(b: &[u8], i: usize, marker: u8) -> (i64, usize) {
    if i >= b.len() || (b[i] | 0x20) != marker {
        return (0, i);
    }
    let mut j = i + 1;
    let mut neg = false;
    if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
        neg = b[j] == b'-';
        j += 1;
    }
    if j >= b.len() || !b[j].is_ascii_digit() {
        return (0, i);
    }
    let mut v: i64 = 0;
    while j < b.len() && b[j].is_ascii_digit() {
        v = (v * 10 + i64::from(b[j] - b'0')).min(1_000_000_000);
        j += 1;
    }
    (if neg { -v } else { v }, j)
}

/// Reads the digits (in `radix`) and at most one `.` from `start`, handing
/// each digit to `digit` with whether the dot came before it. The index
/// after them, or `None` when there is no digit.
fn scan_mantissa(
    b: &[u8],
    start: usize,
    radix: u32,
    mut digit: impl FnMut(u32, bool),
) -> Option<usize> {
    let mut i = start;
    let mut any = false;
    let mut seen_dot = false;
    while i < b.len() {
        let c = b[i];
        if let Some(d) = (c as char).to_digit(radix) {
            any = true;
            digit(d, seen_dot);
        } else if c == b'.' && !seen_dot {
            seen_dot = true;
        } else {
            break;
        }
        i += 1;
    }
    any.then_some(i)
}

fn parse_dec(b: &[u8], start: usize, neg: bool) -> Option<(LongDouble, usize)> {
    let mut digits = Digits {
        kept: Vec::new(),
        sticky: false,
    };
    // Power of ten applied to the kept digits read as an integer.
    let mut exp10: i64 = 0;
    let i = scan_mantissa(b, start, 10, |d, seen_dot| {
        let d = d as u8;
        if digits.kept.is_empty() && d == 0 {
            if seen_dot {
                exp10 -= 1;
            }
        } else if digits.kept.len() < MAX_DIGITS {
            digits.kept.push(d);
            if seen_dot {
                exp10 -= 1;
            }
        } else {
            digits.sticky |= d != 0;
            if !seen_dot {
                exp10 += 1;
            }
        }
    })?;
    let (e, end) = parse_exponent(b, i, b'e');
    exp10 = exp10.saturating_add(e);
    Some((decimal_value(neg, &digits, exp10), end))
}

fn parse_hex(b: &[u8], start: usize, neg: bool) -> Option<(LongDouble, usize)> {
    let mut big = Big::zero();
    let mut exp2: i64 = 0;
    let mut sticky = false;
    let i = scan_mantissa(b, start, 16, |d, seen_dot| {
        if big.bits() < 200 {
            big.mul_small(16);
            big.add_small(d);
            if seen_dot {
                exp2 -= 4;
            }
        } else {
            sticky |= d != 0;
            if !seen_dot {
                exp2 += 4;
            }
        }
    })?;
    let (e, end) = parse_exponent(b, i, b'p');
    exp2 = exp2.saturating_add(e);
    if big.is_zero() {
        return Some((LongDouble::Zero { neg }, end));
    }
    let exp2 = exp2.clamp(-100_000, 100_000) as i32;
    Some((ratio_value(neg, big, Big::one(), sticky, exp2), end))
}

/// The value `digits × 10^exp10`, correctly rounded.
fn decimal_value(neg: bool, d: &Digits, exp10: i64) -> LongDouble {
    if d.kept.is_empty() {
        return LongDouble::Zero { neg };
    }
    // Decimal magnitude of the leading digit.
    let lead = exp10 + d.kept.len() as i64 - 1;
    if lead > 4933 {
        return LongDouble::Inf { neg };
    }
    if lead < -4952 {
        return LongDouble::Zero { neg };
    }
    let mut a = Big::zero();
    for &x in &d.kept {
        a.mul_small(10);
        a.add_small(u32::from(x));
    }
    let mut bden = Big::one();
    if exp10 >= 0 {
        for _ in 0..exp10 {
            a.mul_small(10);
        }
    } else {
        for _ in 0..(-exp10) {
            bden.mul_small(10);
        }
    }
    ratio_value(neg, a, bden, d.sticky, 0)
}

/// Rounds `a / b × 2^exp2` (a, b > 0; `sticky` = a is really a bit more)
/// to the 80-bit format.
fn ratio_value(neg: bool, a: Big, b: Big, sticky: bool, exp2: i32) -> LongDouble {
    // Choose k with 2^64 <= a·2^k / b < 2^65, so the quotient has 65 bits:
    // 64 for the significand and one rounding bit.
    let mut k = 64 - (a.bits() as i64 - b.bits() as i64);
    let quotient = |k: i64| -> (u128, bool) {
        let (num, den) = if k >= 0 {
            (a.shl(k as usize), b.clone())
        } else {
            (a.clone(), b.shl((-k) as usize))
        };
        num.div_small_quotient(&den)
    };
    let (mut q, mut rem) = quotient(k);
    while q >= 1u128 << 65 {
        k -= 1;
        (q, rem) = quotient(k);
    }
    while q < 1u128 << 64 {
        k += 1;
        (q, rem) = quotient(k);
    }
    let (mant, e) = round_u128(q, rem || sticky, exp2 - k as i32);
    if e > MAX_EXP {
        LongDouble::Inf { neg }
    } else if e < MIN_EXP {
        LongDouble::Zero { neg }
    } else {
        LongDouble::Finite { neg, mant, exp: e }
    }
}

/// A minimal unsigned big integer (little-endian 32-bit limbs), just enough
/// for correctly rounded decimal conversion.
#[derive(Clone, Debug)]
struct Big(Vec<u32>);

impl Big {
    fn zero() -> Big {
        Big(Vec::new())
    }

    fn one() -> Big {
        Big(vec![1])
    }

    fn is_zero(&self) -> bool {
        self.0.iter().all(|&x| x == 0)
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn bits(&self) -> usize {
        match self.0.iter().rposition(|&x| x != 0) {
            None => 0,
            Some(i) => i * 32 + (32 - self.0[i].leading_zeros() as usize),
        }
    }

    fn mul_small(&mut self, m: u32) {
        let mut carry = 0u64;
        for x in &mut self.0 {
            let v = u64::from(*x) * u64::from(m) + carry;
            *x = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }

    fn add_small(&mut self, v: u32) {
        let mut carry = u64::from(v);
        for x in &mut self.0 {
            if carry == 0 {
                break;
            }
            let s = u64::from(*x) + carry;
            *x = s as u32;
            carry = s >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }

    fn shl(&self, n: usize) -> Big {
        let limbs = n / 32;
        let bits = n % 32;
        let mut out = vec![0u32; limbs];
        let mut carry = 0u32;
        for &x in &self.0 {
            if bits == 0 {
                out.push(x);
            } else {
                out.push((x << bits) | carry);
                carry = x >> (32 - bits);
            }
        }
        if carry != 0 {
            out.push(carry);
        }
        let mut b = Big(out);
        b.trim();
        b
    }

    fn cmp(&self, o: &Big) -> Ordering {
        let (a, b) = (self.bits(), o.bits());
        if a != b {
            return a.cmp(&b);
        }
        for i in (0..self.0.len().max(o.0.len())).rev() {
            let x = self.0.get(i).copied().unwrap_or(0);
            let y = o.0.get(i).copied().unwrap_or(0);
            if x != y {
                return x.cmp(&y);
            }
        }
        Ordering::Equal
    }

    fn sub_assign(&mut self, o: &Big) {
        let mut borrow = 0i64;
        for i in 0..self.0.len() {
            let y = i64::from(o.0.get(i).copied().unwrap_or(0));
            let mut v = i64::from(self.0[i]) - y - borrow;
            borrow = 0;
            if v < 0 {
                v += 1 << 32;
                borrow = 1;
            }
            self.0[i] = v as u32;
        }
        self.trim();
    }

    /// `(self / den, self % den != 0)` for a quotient known to be below
    /// 2^66 (larger quotients saturate, which callers detect).
    fn div_small_quotient(&self, den: &Big) -> (u128, bool) {
        if self.bits() > den.bits() + 66 {
            return (u128::MAX, true);
        }
        let mut rem = self.clone();
        let mut q: u128 = 0;
        for bit in (0..=66).rev() {
            let t = den.shl(bit);
            if rem.cmp(&t) != Ordering::Less {
                rem.sub_assign(&t);
                q |= 1u128 << bit;
            }
        }
        (q, !rem.is_zero())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(s: &str, m: u64) -> (i64, String) {
        let (v, rest) = strtold(s);
        (v.mul_trunc(m), rest.to_string())
    }

    #[test]
    fn strtol_like_c() {
        assert_eq!(strtol("42"), (42, ""));
        assert_eq!(strtol("  +7x"), (7, "x"));
        assert_eq!(strtol("-5"), (-5, ""));
        assert_eq!(strtol(""), (0, ""));
        assert_eq!(strtol(" "), (0, " "));
        assert_eq!(strtol("abc"), (0, "abc"));
        assert_eq!(strtol("-"), (0, "-"));
        assert_eq!(strtol("99999999999999999999"), (i64::MAX, ""));
        assert_eq!(strtol("-99999999999999999999"), (i64::MIN, ""));
        assert_eq!(strtol("-9223372036854775808"), (i64::MIN, ""));
        assert_eq!(strtol("0x10"), (0, "x10"));
    }

    #[test]
    fn long_double_products_match_glibc_x87() {
        // Figures from a C program using strtold and (long)(d * m) on x86-64.
        assert_eq!(size("1e-3", 1000).0, 0);
        assert_eq!(size("0.001", 1000).0, 0);
        assert_eq!(size("0.0001e1", 1000).0, 0);
        assert_eq!(size("1.001", 1000).0, 1001);
        assert_eq!(size("0.29", 1000).0, 290);
        assert_eq!(size("0.57", 1000).0, 570);
        assert_eq!(size("0.07", 1000).0, 70);
        assert_eq!(size("0.009", 1000).0, 9);
        assert_eq!(size("2.675", 1000).0, 2675);
        assert_eq!(size("4.35", 1000).0, 4350);
        assert_eq!(size("0.033", 1000).0, 33);
        assert_eq!(size("1.5", 1000).0, 1500);
        assert_eq!(size("2.5", 1).0, 2);
        assert_eq!(size("64", 1024).0, 65536);
    }

    #[test]
    fn strtold_syntax() {
        assert_eq!(size("0x10", 1), (16, String::new()));
        assert_eq!(size("0x1p4", 1), (16, String::new()));
        assert_eq!(size("0x", 1), (0, "x".into()));
        assert_eq!(size("1e3", 1), (1000, String::new()));
        assert_eq!(size("1e", 1), (1, "e".into()));
        assert_eq!(size("1e+", 1), (1, "e+".into()));
        assert_eq!(size(" +12kb", 1), (12, "kb".into()));
        assert_eq!(size(".5", 2), (1, String::new()));
        assert_eq!(size(".", 1), (0, ".".into()));
        assert_eq!(size("k", 1), (0, "k".into()));
        assert_eq!(size("", 1), (0, String::new()));
        assert_eq!(size("-3", 1), (-3, String::new()));
        assert_eq!(size("5x", 1), (5, "x".into()));
        assert_eq!(size("64KiB", 1), (64, "KiB".into()));
        assert_eq!(size("1.2.3", 10), (12, ".3".into()));
    }

    #[test]
    fn specials_give_integer_indefinite() {
        assert_eq!(size("nan", 1).0, i64::MIN);
        assert_eq!(size("NaN(123)x", 1), (i64::MIN, "x".into()));
        assert_eq!(size("inf", 1).0, i64::MIN);
        assert_eq!(size("-Infinity", 1).0, i64::MIN);
        assert_eq!(size("1e30", 1).0, i64::MIN);
        assert_eq!(size("9223372036854775807", 1).0, i64::MAX); // 63 bits: exact
        assert_eq!(size("9223372036854775808", 1).0, i64::MIN);
        assert_eq!(size("1e99999", 1).0, i64::MIN);
        assert_eq!(size("1e-99999", 1).0, 0);
        assert!(!strtold("nan").0.is_negative());
        assert!(!strtold("-0").0.is_negative());
        assert!(strtold("-1e-300").0.is_negative());
        assert!(!strtold("-1e-99999").0.is_negative());
    }

    #[test]
    fn long_inputs_do_not_hang() {
        let long = format!("0.{}1", "0".repeat(5000));
        assert_eq!(size(&long, 1000).0, 0);
        let many = "9".repeat(3000);
        assert_eq!(size(&many, 1).0, i64::MIN);
        let exact = format!("1{}", "0".repeat(18));
        assert_eq!(size(&exact, 1).0, 1_000_000_000_000_000_000);
    }
}
